// SPDX-License-Identifier: GPL-2.0-or-later
// Command lines are untrusted input: every line of the fuzzer's input goes through the
// shell's pipe parser and then qorgand's command language (operational and configuration
// mode) over a real store in a temp folder and a fake dataplane. Commands that touch files
// or commit (commit, save, load) are left out so a run stays in memory and bounded.
#include "config/config.h"
#include "control/cli/pipes.h"
#include "control/commands.h"

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

using namespace qorgan;
using namespace qorgan::control;

namespace {

class NullDataplane : public DataplaneLink {
public:
    Result<DataplaneState> apply(const std::string &, uint32_t revision,
                                 const std::string &sha) override {
        st.epoch++;
        st.revision = revision;
        st.sha256 = sha;
        return st;
    }
    Result<DataplaneState> state() override { return st; }
    DataplaneState st;
};

struct World {
    std::filesystem::path dir;
    std::unique_ptr<Store> store;
    NullDataplane dp;
    std::unique_ptr<Transactions> tx;
    std::unique_ptr<Commands> cmds;

    World() {
        dir = std::filesystem::temp_directory_path() /
              ("qorgan-fuzz-cli-" + std::to_string(getpid()));
        std::filesystem::remove_all(dir);
        store = std::make_unique<Store>(std::move(Store::open(dir.string()).value()));
        tx = std::make_unique<Transactions>(*store, dp, std::string(config::default_config_text()));
        (void)tx->recover();
        cmds = std::make_unique<Commands>(*tx, [](const Json &) -> Result<Json> {
            return Json{{"ok", true},
                        {"interfaces", Json::array()},
                        {"sessions", Json::array()},
                        {"rules", Json::array()},
                        {"routes", Json::array()},
                        {"neighbors", Json::array()},
                        {"total", 0},
                        {"cleared", 0}};
        });
    }
    ~World() { std::filesystem::remove_all(dir); }
};

bool skipped(const std::string &line) {
    auto words = split_words(line);
    if (!words || words.value().empty())
        return false;
    for (const char *w : {"commit", "save", "load", "com", "sav", "loa"}) {
        const std::string &first = words.value()[0];
        if (!first.empty() && std::string(w).rfind(first, 0) == 0)
            return true;
        if (words.value().size() > 1 && (first == "run" || first == "r") &&
            std::string(w).rfind(words.value()[1], 0) == 0)
            return true;
    }
    return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static World world;
    // Every class, so that the fuzzer reaches every command (no real level has them all).
    Session s;
    s.user = "fuzz";
    s.level = 15;
    s.classes = ~config::ClassMask(0);
    std::string text(reinterpret_cast<const char *>(data), size);
    size_t start = 0;
    int lines = 0;
    while (start <= text.size() && lines++ < 64) {
        size_t end = text.find('\n', start);
        std::string line =
            text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        start = end == std::string::npos ? text.size() + 1 : end + 1;
        auto piped = cli::parse_pipes(line);
        if (!piped)
            continue;
        const std::string &cmd = piped.value().command;
        if (skipped(cmd))
            continue;
        (void)world.cmds->complete(s, cmd);
        Reply r = world.cmds->exec(s, cmd, 1'800'000'000);
        if (r.exit)
            break;
    }
    return 0;
}

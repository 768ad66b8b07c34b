// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: any bytes through the config loader; whenever the tree parses,
// printing it and parsing again must give the same tree (abort otherwise).
#include "config/config.h"
#include "config/tree.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view text(reinterpret_cast<const char *>(data), size);
    auto config = qorgan::config::load_text(text, "fuzz.conf");
    (void)config.ok();

    auto tree = qorgan::config::parse_tree(text, "fuzz.conf");
    if (!tree)
        return 0;
    std::string printed = qorgan::config::print_tree(*tree);
    auto again = qorgan::config::parse_tree(printed, "printed.conf");
    if (!again) {
        std::fprintf(stderr, "printed tree does not parse: %s\n%s\n",
                     again.error().to_string().c_str(), printed.c_str());
        std::abort();
    }
    if (!qorgan::config::same_tree(*tree, *again)) {
        std::fprintf(stderr, "round trip changed the tree:\n%s\n", printed.c_str());
        std::abort();
    }
    // A config that loads must load the same from its printed form.
    auto config_again = qorgan::config::load_text(printed, "printed.conf");
    if (config.ok() != config_again.ok()) {
        std::fprintf(stderr, "printed config loads differently:\n%s\n", printed.c_str());
        std::abort();
    }
    return 0;
}

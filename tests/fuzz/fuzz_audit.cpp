// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the audit store's readers (R38-6): every line of the input goes to parse_line(),
// and the whole input is verified as the one record file of a store (an archive when it
// starts with the gzip magic). A parsed line must print back to the same bytes, and a
// report is ok exactly when it names nothing broken.
#include "control/audit/files.h"
#include "control/audit/record.h"
#include "control/audit/store.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace {

using namespace qorgan::audit;

const std::array<uint8_t, 32> key0{}; // the seeds were sealed with the all-zero key

// Created on first use and removed at exit; never destroyed, so the exit handler can use it.
const std::string &fuzz_dir() {
    static const std::string *dir = [] {
        auto *d = new std::string("/tmp/fuzz-audit-" + std::to_string(::getpid()));
        std::filesystem::create_directories(*d);
        (void)write_seal_key(*d, SealKey{0, key0, 0});
        return d;
    }();
    static const bool cleanup = [] {
        return std::atexit([] {
                   std::error_code ec;
                   std::filesystem::remove_all(*dir, ec);
               }) == 0;
    }();
    (void)cleanup;
    return *dir;
}

void write_file(const std::string &path, const std::string &data) {
    FILE *f = std::fopen(path.c_str(), "wb");
    if (f == nullptr)
        std::abort();
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    for (size_t start = 0; start <= text.size();) {
        size_t nl = text.find('\n', start);
        std::string line = text.substr(start, nl == std::string::npos ? nl : nl - start);
        auto r = parse_line(line);
        if (r && (to_line(*r) != line || r->line != line))
            std::abort();
        if (nl == std::string::npos)
            break;
        start = nl + 1;
    }

    const std::string &dir = fuzz_dir();
    bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    std::string plain = dir + "/" + file_name(1, false), archive = dir + "/" + file_name(1, true);
    ::unlink((gz ? plain : archive).c_str());
    write_file(gz ? archive : plain, text);
    VerifyReport rep = verify_dir(dir, key0);
    if (rep.ok != rep.first_broken.empty() || rep.files != 1)
        std::abort();
    return 0;
}

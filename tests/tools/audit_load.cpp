// SPDX-License-Identifier: GPL-2.0-or-later
// audit-load: appends COUNT "command" events by user "loadtest" (detail "load <i>") to an
// audit store, optionally paced, and prints the seq of the last one. Fills a store for the
// forwarding lab test (tests/lab/test_syslog.py).
#include "control/audit/store.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

int usage() {
    std::fprintf(stderr, "usage: audit-load DIR COUNT [--rate PER_SECOND]\n");
    return 2;
}

bool parse_count(const char *text, unsigned long long &out) {
    char *end = nullptr;
    out = std::strtoull(text, &end, 10);
    return end != text && *end == '\0' && text[0] != '-';
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 3 && argc != 5)
        return usage();
    unsigned long long count = 0, rate = 0;
    if (!parse_count(argv[2], count))
        return usage();
    if (argc == 5 && (std::string(argv[3]) != "--rate" || !parse_count(argv[4], rate) || !rate))
        return usage();

    auto store = qorgan::audit::Store::open(argv[1]);
    if (!store) {
        std::fprintf(stderr, "audit-load: %s\n", store.error().to_string().c_str());
        return 1;
    }
    auto start = std::chrono::steady_clock::now();
    uint64_t last = (*store)->last_seq();
    for (unsigned long long i = 1; i <= count; ++i) {
        if (rate) // paced from the start so a slow append does not lower the rate
            std::this_thread::sleep_until(start +
                                          std::chrono::microseconds(1000000 * (i - 1) / rate));
        qorgan::audit::Event e;
        e.user = "loadtest";
        e.level = 15;
        e.session = "load";
        e.source = "local";
        e.action = "command";
        e.detail = "load " + std::to_string(i);
        e.result = "ok";
        auto seq = (*store)->append(e);
        if (!seq) {
            std::fprintf(stderr, "audit-load: event %llu: %s\n", i,
                         seq.error().to_string().c_str());
            return 1;
        }
        last = *seq;
    }
    std::printf("%llu\n", static_cast<unsigned long long>(last));
    return 0;
}

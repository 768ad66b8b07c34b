// SPDX-License-Identifier: GPL-2.0-or-later
// GoogleTest main for tests that need EAL: starts it without hugepages or PCI, in
// memory only, so tests run anywhere (as root or not) and leave nothing behind.
#include <gtest/gtest.h>

#include <rte_eal.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

int main(int argc, char **argv) {
    testing::InitGoogleTest(&argc, argv);
    std::string prefix = "qorgan-unit-" + std::to_string(getpid());
    const char *eal_argv[] = {
        "unit",          "--no-huge",    "-m",          "512",       "--no-pci", "--no-shconf",
        "--file-prefix", prefix.c_str(), "--log-level", "*:warning", "-l",       "0",
        "--no-telemetry"};
    int eal_argc = sizeof(eal_argv) / sizeof(eal_argv[0]);
    if (rte_eal_init(eal_argc, const_cast<char **>(eal_argv)) < 0) {
        std::fprintf(stderr, "rte_eal_init failed\n");
        return 1;
    }
    std::string runtime_dir = rte_eal_get_runtime_dir();
    int rc = RUN_ALL_TESTS();
    rte_eal_cleanup();
    std::error_code ec; // best effort: leave no per-test runtime folder behind
    std::filesystem::remove_all(runtime_dir, ec);
    return rc;
}

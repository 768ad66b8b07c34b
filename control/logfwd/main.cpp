// SPDX-License-Identifier: GPL-2.0-or-later
// qorgan-logfwd: sends the audit store to a TLS syslog server (R90-1-7, R38-6) until SIGTERM
// or SIGINT. One line per connect, disconnect and error goes to stdout, with its UTC time.
#include "control/audit/store.h"
#include "control/logfwd/forwarder.h"
#include "control/logfwd/syslog.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::atomic<bool> stop_requested{false};

void on_stop(int) {
    stop_requested.store(true);
}

void log_line(const std::string &line) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    std::printf("%s qorgan-logfwd: %s\n", qorgan::logfwd::timestamp_of(us).c_str(), line.c_str());
    std::fflush(stdout);
}

int usage(const char *error) {
    if (error)
        std::fprintf(stderr, "qorgan-logfwd: %s\n", error);
    std::fprintf(stderr,
                 "usage: qorgan-logfwd --audit-dir DIR --state FILE --status FILE --server S\n"
                 "         [--port P] --ca FILE [--cert FILE --key FILE] [--server-name N]\n"
                 "         [--hostname H] [--poll-ms 200]\n");
    return 2;
}

bool parse_number(const char *text, long min, long max, long &out) {
    char *end = nullptr;
    errno = 0;
    long v = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return false;
    out = v;
    return true;
}

} // namespace

int main(int argc, char **argv) {
    qorgan::logfwd::Settings s;
    std::string audit_dir;
    long poll_ms = 200;
    for (int i = 1; i < argc; ++i) {
        std::string opt = argv[i];
        if (opt == "--help" || opt == "-h") {
            usage(nullptr);
            return 0;
        }
        if (i + 1 >= argc)
            return usage(("missing value for " + opt).c_str());
        const char *val = argv[++i];
        long n = 0;
        if (opt == "--audit-dir")
            audit_dir = val;
        else if (opt == "--state")
            s.state_file = val;
        else if (opt == "--status")
            s.status_file = val;
        else if (opt == "--server")
            s.server = val;
        else if (opt == "--port" && parse_number(val, 1, 65535, n))
            s.port = static_cast<uint16_t>(n);
        else if (opt == "--ca")
            s.ca_file = val;
        else if (opt == "--cert")
            s.cert_file = val;
        else if (opt == "--key")
            s.key_file = val;
        else if (opt == "--server-name")
            s.server_name = val;
        else if (opt == "--hostname")
            s.hostname = val;
        else if (opt == "--poll-ms" && parse_number(val, 10, 60000, n))
            poll_ms = n;
        else
            return usage(("bad option or value: " + opt + " " + val).c_str());
    }
    if (audit_dir.empty() || s.status_file.empty())
        return usage("--audit-dir and --status are required");

    // A server closing under a write must be an error return, not a killed process.
    std::signal(SIGPIPE, SIG_IGN);
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    auto source = [audit_dir](uint64_t after, size_t max) {
        return qorgan::audit::read_after(audit_dir, after, max);
    };
    auto fwd = qorgan::logfwd::Forwarder::create(s, source, log_line);
    if (!fwd) {
        std::fprintf(stderr, "qorgan-logfwd: %s\n", fwd.error().to_string().c_str());
        return 1;
    }
    log_line("forwarding " + audit_dir + " to " + (*fwd)->status().server + " after seq " +
             std::to_string((*fwd)->cursor()));
    (*fwd)->run(stop_requested, static_cast<int>(poll_ms));
    log_line("stopping at seq " + std::to_string((*fwd)->cursor()));
    return 0;
}

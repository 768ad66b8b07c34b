// SPDX-License-Identifier: GPL-2.0-or-later
// Rates, table and terminal loop of `monitor interface`; see monitor.h.
#include "control/cli/monitor.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace qorgan::cli {

namespace {

Error monitor_error(std::string message) {
    return Error{{}, std::move(message)};
}

bool read_u64(const Json &port, const char *key, uint64_t &out) {
    auto it = port.find(key);
    if (it == port.end() || !it->is_number_integer() || it->get<int64_t>() < 0)
        return false;
    out = it->get<uint64_t>();
    return true;
}

double per_second(uint64_t before, uint64_t after, uint64_t ms) {
    uint64_t delta = after >= before ? after - before : after;
    return ms == 0 ? 0.0 : static_cast<double>(delta) * 1000.0 / static_cast<double>(ms);
}

volatile sig_atomic_t monitor_interrupted = 0;
void on_sigint(int) {
    monitor_interrupted = 1;
}

} // namespace

RawTerminal::RawTerminal(int fd) : _fd(fd) {
    if (tcgetattr(fd, &_saved) != 0)
        return;
    termios raw = _saved;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    _active = tcsetattr(fd, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
    if (_active)
        tcsetattr(_fd, TCSANOW, &_saved);
}

Result<CounterSample> parse_counters(const Json &reply, std::string_view only) {
    if (!reply.is_object())
        return monitor_error("malformed counters reply from qorgand");
    if (!reply.value("ok", false))
        return monitor_error(reply.value("error", std::string("qorgand refused the counters")));
    auto ports = reply.find("interfaces");
    CounterSample sample;
    if (!read_u64(reply, "time_ms", sample.time_ms) || ports == reply.end() || !ports->is_array())
        return monitor_error("malformed counters reply from qorgand: no time_ms or interfaces");
    std::string known;
    for (const auto &p : *ports) {
        PortCounters c;
        if (!p.is_object() || !p.contains("name") || !p["name"].is_string())
            return monitor_error("malformed counters reply from qorgand: a port without a name");
        c.name = p["name"].get<std::string>();
        auto link = p.find("link");
        if (link != p.end() && link->is_boolean())
            c.link = link->get<bool>() ? "up" : "down";
        else if (link != p.end() && link->is_string())
            c.link = link->get<std::string>();
        else
            c.link = "?";
        if (!read_u64(p, "rx_packets", c.rx_packets) || !read_u64(p, "rx_bytes", c.rx_bytes) ||
            !read_u64(p, "tx_packets", c.tx_packets) || !read_u64(p, "tx_bytes", c.tx_bytes) ||
            !read_u64(p, "rx_errors", c.rx_errors) || !read_u64(p, "tx_errors", c.tx_errors) ||
            !read_u64(p, "rx_missed", c.rx_missed))
            return monitor_error("malformed counters reply from qorgand: port " + c.name +
                                 " lacks a counter");
        known += (known.empty() ? "" : ", ") + c.name;
        if (only.empty() || c.name == only)
            sample.ports.push_back(std::move(c));
    }
    if (!only.empty() && sample.ports.empty())
        return monitor_error("no interface '" + std::string(only) + "' (known: " + known + ")");
    return sample;
}

std::vector<PortRate> compute_rates(const CounterSample &before, const CounterSample &after) {
    uint64_t ms = after.time_ms > before.time_ms ? after.time_ms - before.time_ms : 0;
    std::vector<PortRate> rates;
    for (const auto &a : after.ports) {
        PortCounters zero;
        const PortCounters *b = &zero;
        for (const auto &p : before.ports)
            if (p.name == a.name)
                b = &p;
        PortRate r;
        r.name = a.name;
        r.link = a.link;
        r.rx_pps = per_second(b->rx_packets, a.rx_packets, ms);
        r.tx_pps = per_second(b->tx_packets, a.tx_packets, ms);
        r.rx_mbps = per_second(b->rx_bytes, a.rx_bytes, ms) * 8.0 / 1e6;
        r.tx_mbps = per_second(b->tx_bytes, a.tx_bytes, ms) * 8.0 / 1e6;
        r.rx_errors = a.rx_errors;
        r.tx_errors = a.tx_errors;
        r.rx_missed = a.rx_missed;
        rates.push_back(std::move(r));
    }
    return rates;
}

std::string render_rates(const std::vector<PortRate> &rates) {
    char line[200];
    std::snprintf(line, sizeof line, "%-12s %-5s %12s %10s %12s %10s %10s %10s %10s\n", "Interface",
                  "Link", "Rx pps", "Rx Mbit/s", "Tx pps", "Tx Mbit/s", "Rx errors", "Tx errors",
                  "Rx missed");
    std::string out = line;
    for (const auto &r : rates) {
        std::snprintf(line, sizeof line,
                      "%-12s %-5s %12.0f %10.3f %12.0f %10.3f %10llu %10llu %10llu\n",
                      r.name.c_str(), r.link.c_str(), r.rx_pps, r.rx_mbps, r.tx_pps, r.tx_mbps,
                      static_cast<unsigned long long>(r.rx_errors),
                      static_cast<unsigned long long>(r.tx_errors),
                      static_cast<unsigned long long>(r.rx_missed));
        out += line;
    }
    return out;
}

Status run_monitor(const std::function<Result<Json>()> &fetch, std::string_view only, int in_fd) {
    auto first = fetch();
    if (!first)
        return first.error();
    auto before = parse_counters(*first, only);
    if (!before)
        return before.error();
    bool interactive = isatty(in_fd) != 0;
    if (!interactive) {
        sleep(1);
        auto reply = fetch();
        if (!reply)
            return reply.error();
        auto after = parse_counters(*reply, only);
        if (!after)
            return after.error();
        std::fputs(render_rates(compute_rates(*before, *after)).c_str(), stdout);
        return Ok{};
    }
    RawTerminal raw(in_fd);
    struct sigaction act {};
    struct sigaction old {};
    act.sa_handler = on_sigint;
    sigemptyset(&act.sa_mask);
    sigaction(SIGINT, &act, &old);
    monitor_interrupted = 0;
    Status status = Ok{};
    CounterSample previous = std::move(*before);
    for (;;) {
        pollfd p{in_fd, POLLIN, 0};
        int rc = poll(&p, 1, 1000);
        if (monitor_interrupted || rc > 0) {
            if (rc > 0) {
                char key;
                (void)!read(in_fd, &key, 1);
            }
            break;
        }
        if (rc < 0 && errno != EINTR) {
            status = monitor_error("monitor: cannot read the terminal");
            break;
        }
        auto reply = fetch();
        if (!reply) {
            status = reply.error();
            break;
        }
        auto now = parse_counters(*reply, only);
        if (!now) {
            status = now.error();
            break;
        }
        std::string screen = "\033[H\033[2J";
        screen += "monitor interface" + (only.empty() ? "" : " " + std::string(only)) +
                  "    (press any key to stop)\n\n";
        screen += render_rates(compute_rates(previous, *now));
        std::fputs(screen.c_str(), stdout);
        std::fflush(stdout);
        previous = std::move(*now);
    }
    sigaction(SIGINT, &old, nullptr);
    return status;
}

} // namespace qorgan::cli

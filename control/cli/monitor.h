// SPDX-License-Identifier: GPL-2.0-or-later
// `monitor interface [name]`: per-port packet and bit rates from qorgand's counters,
// redrawn each second until a key is pressed.
#pragma once

#include "common/framing.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <termios.h>
#include <vector>

namespace qorgan::cli {

// Puts a terminal in non-canonical, no-echo mode (signals still on) and restores it on
// destruction. Used by the monitor and the pager.
class RawTerminal {
public:
    explicit RawTerminal(int fd);
    ~RawTerminal();
    RawTerminal(const RawTerminal &) = delete;
    RawTerminal &operator=(const RawTerminal &) = delete;

private:
    int _fd;
    termios _saved{};
    bool _active = false;
};

struct PortCounters {
    std::string name;
    std::string link; // "up" or "down"
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
    uint64_t rx_errors = 0, tx_errors = 0, rx_missed = 0;
};

struct CounterSample {
    uint64_t time_ms = 0;
    std::vector<PortCounters> ports;
};

struct PortRate {
    std::string name;
    std::string link;
    double rx_pps = 0, rx_mbps = 0, tx_pps = 0, tx_mbps = 0;
    uint64_t rx_errors = 0, tx_errors = 0, rx_missed = 0; // totals
};

// Reads a {"op":"counters"} reply, keeping only the port `only` when it is not empty.
// Errors: a refused request, a malformed reply, or an unknown port (naming the known ones).
Result<CounterSample> parse_counters(const Json &reply, std::string_view only = {});

// Rates between two samples; a counter that went backwards (a port restart) counts from 0.
std::vector<PortRate> compute_rates(const CounterSample &before, const CounterSample &after);

// The table the monitor draws.
std::string render_rates(const std::vector<PortRate> &rates);

// Polls `fetch` each second and redraws until a key arrives on in_fd (raw mode, restored on
// return and on SIGINT). When in_fd is not a terminal, prints one table after one second.
Status run_monitor(const std::function<Result<Json>()> &fetch, std::string_view only, int in_fd);

} // namespace qorgan::cli

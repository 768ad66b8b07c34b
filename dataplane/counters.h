// SPDX-License-Identifier: GPL-2.0-or-later
// Per-worker counters: written by their worker only (no atomic read-modify-write on the
// hot path), read relaxed by telemetry and summed across workers.
#pragma once

#include "dataplane/drop_reason.h"

#include <atomic>
#include <cstdint>

namespace qorgan::dp {

class Counter {
public:
    void add(uint64_t n = 1) {
        _v.store(_v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    uint64_t get() const { return _v.load(std::memory_order_relaxed); }
    // Gauges (a flow table's occupancy) also go down; still one writer only.
    void sub(uint64_t n = 1) {
        _v.store(_v.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    operator uint64_t() const { return get(); }

private:
    std::atomic<uint64_t> _v{0};
};

struct RuleCounter {
    Counter hits;
    Counter bytes;
};

struct alignas(64) WorkerCounters {
    Counter drops[drop_reason_count];
    Counter rx_packets;    // frames taken from the ports
    Counter forwarded;     // frames sent on
    Counter local_replies; // ARP/ND/echo answered, errors and resets generated
    Counter related_icmp;  // ICMP errors admitted because their flow is tracked
    Counter flow_rechecks; // flows re-evaluated after a policy change
    Counter slowpath_sent; // frames handed to the main lcore
    Counter log_dropped;   // rule-log records lost because the log ring was full

    void drop(DropReason r) { drops[static_cast<unsigned>(r)].add(); }
};

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// Per-worker counters: written by their worker only (no atomic read-modify-write on the
// hot path), read relaxed by telemetry and summed across workers.
#pragma once

#include "config/model.h"
#include "dataplane/defence.h"
#include "dataplane/drop_reason.h"

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

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

// Per defence, per worker: what was detected, what it dropped, the events sent and those
// the event rate limit held back.
struct DefenceCounters {
    Counter detected;
    Counter dropped;
    Counter events;
    Counter suppressed;
};

struct alignas(64) ScreenCounters {
    DefenceCounters defence[defence_count];
    Counter cookies_sent;     // SYN-ACKs with a cookie
    Counter cookies_verified; // RSTs that carried a valid cookie: sources proven real
    Counter sources_blocked;  // sources put on the block list
    Counter guard_table_full; // sources the per-source table had no room for (not limited)
    Counter scan_table_full;  // sources the scan detector had no room for (not watched)
    Counter reassembled;      // datagrams reassembled from fragments
    Counter refragmented;     // reassembled datagrams fragmented again on the way out
    Counter half_open_max;    // gauge: highest half-open count of a destination bucket

    DefenceCounters &operator[](Defence d) { return defence[static_cast<unsigned>(d)]; }
    const DefenceCounters &operator[](Defence d) const { return defence[static_cast<unsigned>(d)]; }
};

// The counters of every defence, and the screen's totals, by the names telemetry and the
// control socket show them under (one list for both).
inline constexpr std::pair<const char *, Counter DefenceCounters::*> defence_counter_fields[] = {
    {"detected", &DefenceCounters::detected},
    {"dropped", &DefenceCounters::dropped},
    {"events", &DefenceCounters::events},
    {"suppressed", &DefenceCounters::suppressed},
};
inline constexpr std::pair<const char *, Counter ScreenCounters::*> screen_total_fields[] = {
    {"cookies_sent", &ScreenCounters::cookies_sent},
    {"cookies_verified", &ScreenCounters::cookies_verified},
    {"sources_blocked", &ScreenCounters::sources_blocked},
    {"guard_table_full", &ScreenCounters::guard_table_full},
    {"scan_table_full", &ScreenCounters::scan_table_full},
    {"reassembled", &ScreenCounters::reassembled},
    {"refragmented", &ScreenCounters::refragmented},
};

// Category blocking (R134-1): flows and bytes per regulation category and per nDPI
// application. Slot category_count of `category` is "other" (none of the six).
struct FlowCounters {
    Counter flows;   // flows decided into it
    Counter blocked; // of which blocked
    Counter bytes;   // IP bytes of its flows that passed, from the verdict on
};
inline constexpr unsigned dpi_app_slots = 512; // nDPI 4.2 has 282 protocols; more go to 0

struct alignas(64) DpiCounters {
    FlowCounters category[config::category_count + 1];
    FlowCounters app[dpi_app_slots];
    Counter inspected;     // flows whose inspection started
    Counter classified;    // decided with a protocol nDPI recognised
    Counter unknown;       // decided unknown (budget spent or the flow ended)
    Counter blocked;       // flows blocked (every rule)
    Counter exempt;        // agreed VPN channels, passed without inspection
    Counter excepted;      // passed by an exception (R134-2)
    Counter refused;       // not inspected: the inspection table was full (blocked)
    Counter evicted;       // undecided after Inspector::stale_ms, given up for a new flow (unknown)
    Counter resets;        // RSTs sent for blocked TCP flows
    Counter arena_refused; // nDPI allocations the worker's arena could not serve
    // The category (config::Category + 1, 0: other) of each application's last decided flow.
    std::atomic<uint8_t> app_category[dpi_app_slots] = {};
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
    // The exception path (docs/IPSEC.md): IKE for the gateway handed to the main lcore (a
    // worker's); written to the TUN, read from it, and of those handed to a worker to send
    // (the main lcore's).
    Counter exception_sent;
    Counter exception_to_tun;
    Counter exception_from_tun;
    Counter exception_out;
    ScreenCounters screen; // the attack-protection screen (docs/SCREEN.md)
    DpiCounters dpi;       // category blocking (docs/CATEGORIES.md)

    void drop(DropReason r) { drops[static_cast<unsigned>(r)].add(); }
};

inline constexpr std::pair<const char *, Counter DpiCounters::*> dpi_total_fields[] = {
    {"inspected", &DpiCounters::inspected}, {"classified", &DpiCounters::classified},
    {"unknown", &DpiCounters::unknown},     {"blocked", &DpiCounters::blocked},
    {"exempt", &DpiCounters::exempt},       {"excepted", &DpiCounters::excepted},
    {"refused", &DpiCounters::refused},     {"evicted", &DpiCounters::evicted},
    {"resets", &DpiCounters::resets},       {"arena_refused", &DpiCounters::arena_refused},
};

// The word for a flow's stored category (config::Category + 1; 0: none of the six).
inline const char *flow_category_name(uint8_t stored) {
    return stored ? config::category_name(static_cast<config::Category>(stored - 1)) : "other";
}

// Sums over workers (read relaxed: a figure may be one update behind).
inline uint64_t screen_sum(const std::vector<const WorkerCounters *> &cs, unsigned defence,
                           Counter DefenceCounters::*field) {
    uint64_t n = 0;
    for (const WorkerCounters *c : cs)
        n += (c->screen.defence[defence].*field).get();
    return n;
}
inline uint64_t screen_sum(const std::vector<const WorkerCounters *> &cs,
                           Counter ScreenCounters::*field) {
    uint64_t n = 0;
    for (const WorkerCounters *c : cs)
        n += (c->screen.*field).get();
    return n;
}

inline uint64_t dpi_sum(const std::vector<const WorkerCounters *> &cs,
                        Counter DpiCounters::*field) {
    uint64_t n = 0;
    for (const WorkerCounters *c : cs)
        n += (c->dpi.*field).get();
    return n;
}

// One category's (index category_count: "other") or one application's flow counters.
struct FlowSums {
    uint64_t flows = 0, blocked = 0, bytes = 0;
};
inline FlowSums dpi_flow_sum(const std::vector<const WorkerCounters *> &cs, bool app, unsigned i) {
    FlowSums sum;
    for (const WorkerCounters *c : cs) {
        const FlowCounters &f = app ? c->dpi.app[i] : c->dpi.category[i];
        sum.flows += f.flows.get();
        sum.blocked += f.blocked.get();
        sum.bytes += f.bytes.get();
    }
    return sum;
}

} // namespace qorgan::dp

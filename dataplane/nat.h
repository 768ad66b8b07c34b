// SPDX-License-Identifier: GPL-2.0-or-later
// NAT44 compiled for the workers (R128-d static 1:1, R90-1-6 NAPT, R139-10-1 destination NAT
// to the shielded subnet): the immutable lookup tables of one snapshot, plus the per-worker
// port pools, which outlive a snapshot when their source rule did not change (a commit that
// leaves NAT alone keeps every translation). Lookups are binary searches over sorted arrays
// built at compile time: no allocation, no locks, no system calls on the hot path.
#pragma once

#include "common/result.h"
#include "config/model.h"
#include "dataplane/counters.h"
#include "dataplane/nat_ports.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace qorgan::dp {

// Flow::nat_kind bits.
inline constexpr uint8_t nat_snat = 1;    // forward packets get nat_src/nat_sport as source
inline constexpr uint8_t nat_dnat = 2;    // forward packets get nat_dst/nat_dport as destination
inline constexpr uint8_t nat_dynamic = 4; // the SNAT port came from a pool (released at the end)
inline constexpr uint8_t nat_hairpin = 8; // SNAT to the interface address of a hairpinned flow

struct NatStaticEntry {
    uint32_t inside = 0;  // network order
    uint32_t outside = 0; // network order
    uint16_t port = 0;    // DPDK port of the outside interface
    uint16_t index = 0;   // in conf.nat.statics
    bool hairpin = false;
};

struct NatDnatEntry {
    uint16_t port = 0; // DPDK port of the arrival interface
    uint8_t proto = 0;
    uint32_t addr = 0;  // network order
    uint16_t dport = 0; // network order
    uint32_t to = 0;    // network order
    uint16_t to_port = 0;
    uint16_t index = 0; // in conf.nat.destinations
    bool hairpin = false;
};

// A source rule with one port pool per worker.
struct NatSourceRule {
    uint16_t port = 0;                               // DPDK port of the outside interface
    std::vector<std::pair<uint32_t, uint32_t>> from; // (network, mask), host order; empty: any
    PortPoolConfig pool;                             // workers/worker of pool 0
    std::vector<std::shared_ptr<PortPool>> pools;    // one per worker
    uint32_t generation = 0;                         // unique per pool set
    uint16_t index = 0;                              // in conf.nat.sources
};

// Per-worker NAT counters, summed on read (telemetry /qorgan/nat).
struct alignas(64) NatCounters {
    Counter translated_new;    // flows created with a translation
    Counter static_new;        // of which by a static entry
    Counter dnat_new;          // of which by a destination rule
    Counter snat_new;          // of which by a source rule (a pool port)
    Counter refused_pool;      // no free port (pool exhausted)
    Counter refused_source;    // max-per-source reached
    Counter refused_sources;   // per-source table full
    Counter refused_protocol;  // neither TCP, UDP nor ICMP echo under a source rule
    Counter refused_collision; // every port tried was taken towards that destination
    Counter icmp_errors;       // ICMP errors translated (RFC 5508)
    Counter mss_clamped;       // TCP SYNs whose MSS was lowered
    Counter handoffs;          // packets handed to the worker owning their translation
    Counter handoff_full;      // hand-offs refused: the owner's ring was full
    Counter no_mapping;        // packets for a NAT address that belong to no translation
};

// The counters by the names telemetry (/qorgan/nat) and the control socket (`nat`) give them.
struct NatCounterField {
    const char *name;
    Counter NatCounters::*field;
};
inline constexpr NatCounterField nat_counter_fields[] = {
    {"translated", &NatCounters::translated_new},
    {"static", &NatCounters::static_new},
    {"destination", &NatCounters::dnat_new},
    {"source", &NatCounters::snat_new},
    {"refused_pool_exhausted", &NatCounters::refused_pool},
    {"refused_source_limit", &NatCounters::refused_source},
    {"refused_source_table", &NatCounters::refused_sources},
    {"refused_protocol", &NatCounters::refused_protocol},
    {"refused_collision", &NatCounters::refused_collision},
    {"icmp_errors", &NatCounters::icmp_errors},
    {"mss_clamped", &NatCounters::mss_clamped},
    {"handoffs", &NatCounters::handoffs},
    {"handoff_full", &NatCounters::handoff_full},
    {"no_mapping", &NatCounters::no_mapping},
};

class NatTable {
public:
    // Compiles conf.nat. Pools whose rule did not change are taken from `previous` (the
    // running snapshot's table) so that live translations keep their ports.
    static Result<std::unique_ptr<NatTable>>
    build(const config::Config &conf, const std::vector<std::pair<std::string, uint16_t>> &ports,
          unsigned workers, const NatTable *previous);

    bool empty() const { return _statics_by_inside.empty() && _dnat.empty() && _sources.empty(); }
    unsigned workers() const { return _workers; }

    // Static entry whose outside address is `addr` on arrival port `port`.
    const NatStaticEntry *static_by_outside(uint16_t port, uint32_t addr) const;
    // Hairpin (inside hosts using the published address): a static entry with `hairpin`
    // whose outside address is addr, or a destination rule with `hairpin` for
    // (proto, addr, dport), whatever the arrival interface.
    const NatStaticEntry *static_hairpin(uint32_t addr) const;
    const NatDnatEntry *dnat_hairpin(uint8_t proto, uint32_t addr, uint16_t dport) const;
    // Static entry whose inside address is `addr` leaving by `port`.
    const NatStaticEntry *static_by_inside(uint16_t port, uint32_t addr) const;
    // Static entry whose inside address is `addr`, whatever its interface (hand-off).
    const NatStaticEntry *static_inside_any(uint32_t addr) const;
    // Destination rule for (arrival port, proto, addr, dport).
    const NatDnatEntry *dnat(uint16_t port, uint8_t proto, uint32_t addr, uint16_t dport) const;
    // Destination rule whose target is (proto, to, to_port) (hand-off of replies).
    const NatDnatEntry *dnat_by_target(uint8_t proto, uint32_t to, uint16_t to_port) const;
    // First source rule for a flow leaving by `port` from `src` (network order).
    const NatSourceRule *source_rule(uint16_t port, uint32_t src) const;
    // The source rule holding pool address `addr` on `port`, or nullptr.
    const NatSourceRule *pool_rule(uint16_t port, uint32_t addr) const;
    const std::vector<NatSourceRule> &sources() const { return _sources; }
    // A source rule by its pool generation (port release), or nullptr.
    const NatSourceRule *rule_by_generation(uint32_t gen) const;

    // Whether the gateway answers ARP for addr on port (static outside or pool address).
    bool proxy_arp(uint16_t port, uint32_t addr) const;

    uint16_t mss_clamp() const { return _mss_clamp; }

    // Per-worker counters (index = worker id), and one summed over the workers.
    NatCounters &counters(unsigned worker) const { return _counters[worker]; }
    uint64_t total(Counter NatCounters::*field) const {
        uint64_t n = 0;
        for (unsigned w = 0; w < _workers; w++)
            n += (_counters[w].*field).get();
        return n;
    }

private:
    NatTable() = default;

    unsigned _workers = 1;
    std::vector<NatStaticEntry> _statics_by_outside;        // sorted by (port, outside)
    std::vector<NatStaticEntry> _statics_by_inside;         // sorted by (port, inside)
    std::vector<NatDnatEntry> _dnat;                        // sorted by (port, proto, addr, dport)
    std::vector<NatDnatEntry> _dnat_targets;                // sorted by (proto, to, to_port)
    std::vector<NatStaticEntry> _hairpin_statics;           // sorted by outside
    std::vector<NatDnatEntry> _hairpin_dnat;                // sorted by (proto, addr, dport)
    std::vector<NatSourceRule> _sources;                    // config order
    std::vector<std::pair<uint64_t, uint16_t>> _pool_addrs; // (port << 32 | addr), rule index
    std::vector<uint64_t> _arp;                             // sorted (port << 32 | addr)
    uint16_t _mss_clamp = 0;
    std::shared_ptr<NatCounters[]> _counters; // shared with the next snapshot's table
};

// The worker that owns the translation of an IPv4 packet when workers > 1, or -1 when the
// packet involves no translation (the flow's own worker, by symmetric RSS, owns it).
// Replies to a pool address belong to the worker whose port slice holds the port; packets
// to or from a static or destination-NAT server belong to the worker chosen by a hash of
// the far end's port, the same in both directions (also when a hairpinned client is seen
// as the gateway's address on the way back).
int nat_owner(const NatTable &nat, uint16_t in_port, uint8_t proto, uint32_t src, uint16_t sport,
              uint32_t dst, uint16_t dport);

} // namespace qorgan::dp

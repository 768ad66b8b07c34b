// SPDX-License-Identifier: GPL-2.0-or-later
// The policy snapshot: everything the workers consult, compiled from one configuration
// and never changed afterwards. Published by an atomic pointer swap and reclaimed after
// an RCU grace period (rte_rcu_qsbr), so no packet ever sees half a policy.
#pragma once

#include "classifiers/module.h"
#include "classifiers/policy.h"
#include "common/result.h"
#include "config/model.h"
#include "dataplane/acl.h"
#include "dataplane/counters.h"
#include "dataplane/nat.h"
#include "dataplane/pkt_build.h"
#include "dataplane/routes.h"
#include "dataplane/src_guard.h"

#include <rte_config.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qorgan::dp {

enum class Direction : uint8_t { ingress = 0, egress = 1 };

// How configuration interfaces map onto started DPDK ports (from Ports, or from a test).
struct PortBinding {
    std::string name; // interface name
    uint16_t port = 0;
    Mac mac{};
};

struct IfaceState {
    const config::Interface *conf = nullptr;
    uint16_t port = 0;
    Mac mac{};
    bool has4 = false;
    bool has6 = false;
    uint32_t addr4 = 0;  // first IPv4 address, network order: source of our ICMP errors
    uint8_t addr6[16]{}; // first IPv6 address
    std::unique_ptr<RuleSet> rules[2]; // by Direction
    uint32_t rule_base[2] = {0, 0};    // offset of this list in the rule counters
    // The screen of the interface's zone (points into Snapshot::conf, or the defaults).
    const config::Screen *screen = nullptr;
    GuardLimits limits{};        // the screen's per-source limits, as SourceGuard takes them
    uint32_t broadcast4[4] = {}; // directed broadcasts of its IPv4 subnets (0: none)
    config::Loop loop = config::Loop::inner; // its zone's loop (R133-1)
};

struct Snapshot {
    uint32_t epoch = 0;
    config::Config conf;
    std::vector<IfaceState> ifaces;                      // same order as conf.interfaces
    std::array<int16_t, RTE_MAX_ETHPORTS> iface_of_port; // -1: not ours
    std::unique_ptr<RouteTable> routes;
    std::unique_ptr<NatTable> nat; // always set (empty without a nat section)
    // Category blocking (classifiers/): one nDPI module per worker, shared with the previous
    // snapshot while the malicious lists are the same, and the compiled category policy.
    std::shared_ptr<dpi::ModuleSet> dpi;
    std::unique_ptr<dpi::CategoryPolicy> categories;
    uint32_t rule_count = 0;
    // Every address of the gateway's own (network order): no packet from outside may carry
    // one as its source (screen: own-address-source).
    std::vector<uint32_t> own4;
    std::vector<std::array<uint32_t, 4>> own6;
    // Whether addr (m's family) is one of them.
    bool owns(const PacketMeta &m, const uint32_t addr[4]) const;
    bool owns_source(const PacketMeta &m) const { return owns(m, m.src); }
    // The gateway's address on the interface this snapshot's routes reach `dst` by (the first
    // address of dst's family), if there is one: the source its own packets to dst take.
    std::optional<config::Address> source_towards(const config::Prefix &dst) const;
    std::vector<std::unique_ptr<RuleCounter[]>> rule_counters; // one array per worker

    const IfaceState *iface_by_port(uint16_t port) const {
        if (port >= iface_of_port.size() || iface_of_port[port] < 0)
            return nullptr;
        return &ifaces[static_cast<size_t>(iface_of_port[port])];
    }
    // Sum over workers of one rule's counters.
    uint64_t rule_hits(uint32_t slot) const;
    uint64_t rule_bytes(uint32_t slot) const;
};

// Compiles conf into a snapshot. Every interface must have a binding (disabled ones too).
// `previous` (the running snapshot, if any) lends its NAT port pools to unchanged rules.
Result<std::unique_ptr<Snapshot>> build_snapshot(const config::Config &conf,
                                                 const std::vector<PortBinding> &ports,
                                                 unsigned workers, uint32_t epoch, int socket_id,
                                                 const Snapshot *previous = nullptr);

} // namespace qorgan::dp

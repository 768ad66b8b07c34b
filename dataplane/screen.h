// SPDX-License-Identifier: GPL-2.0-or-later
// The attack-protection screen (R128-e, R90-1-3, R139-10-1; docs/SCREEN.md): the defences,
// their per-worker counters, the event record a worker sends to the main lcore, and the
// pure address checks (martian sources, bogon lists). The worker (worker.cpp) applies the
// screen of the zone a packet arrives from; the per-source state lives in src_guard.h and
// scan_detect.h, the SYN cookies in syncookie.h, the reassembly in reasm.h.
#pragma once

#include "config/model.h"
#include "dataplane/counters.h"
#include "dataplane/defence.h"

#include <cstdint>
#include <string_view>

namespace qorgan::dp {

// One screen event, worker -> main lcore by value through the event ring (64 bytes).
struct ScreenEvent {
    uint8_t defence; // Defence
    uint8_t action;  // config::ScreenAction
    uint8_t family;  // 4 or 6
    uint8_t proto;
    uint16_t iface; // index into the snapshot's interfaces
    uint16_t sport; // network order
    uint16_t dport;
    uint16_t pad;
    uint32_t src[4];
    uint32_t dst[4];
    uint32_t epoch;
    uint32_t suppressed; // events of this defence the rate limit held back before this one
    uint32_t value;      // what tripped it: a count or a threshold (0: none)
    uint32_t block_s;    // block action: seconds the source is blocked
    uint32_t pad2;
};
static_assert(sizeof(ScreenEvent) == 64);

// Sources no packet may carry (RFC 6890, RFC 1812 5.3.7, RFC 4291): IPv4 "this network"
// 0/8, loopback 127/8, multicast 224/4 and reserved 240/4 (with the limited broadcast);
// IPv6 unspecified, loopback, multicast, IPv4-mapped. Addresses in network order.
bool martian_source4(uint32_t src);
bool martian_source6(const uint32_t src[4]);

// Whether an address (network order, family 4 or 6) lies in one of the prefixes.
bool in_prefixes(const std::vector<config::Prefix> &list, uint8_t family, const uint32_t addr[4]);

} // namespace qorgan::dp

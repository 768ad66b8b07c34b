// SPDX-License-Identifier: GPL-2.0-or-later
// The 5-tuple a flow table is keyed by: one key per direction of a flow.
#pragma once

#include "dataplane/packet_meta.h"

#include <cstdint>
#include <cstring>

namespace qorgan::dp {

// 40 bytes, no padding holes: hashed and compared as raw bytes.
struct FlowKey {
    uint32_t src[4]; // network order; IPv4 uses [0], the rest zero
    uint32_t dst[4];
    uint16_t sport; // network order; ICMP echo: identifier in both
    uint16_t dport;
    uint8_t proto;
    uint8_t family; // 4 or 6
    uint16_t zero;  // always 0

    bool operator==(const FlowKey &o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }

    FlowKey reversed() const {
        FlowKey r = *this;
        std::memcpy(r.src, dst, sizeof(src));
        std::memcpy(r.dst, src, sizeof(dst));
        r.sport = dport;
        r.dport = sport;
        return r;
    }
};
static_assert(sizeof(FlowKey) == 40);

inline FlowKey flow_key_of(const PacketMeta &m) {
    FlowKey k{};
    std::memcpy(k.src, m.src, sizeof(k.src));
    std::memcpy(k.dst, m.dst, sizeof(k.dst));
    k.sport = m.sport;
    k.dport = m.dport;
    k.proto = m.proto;
    k.family = m.l3 == L3Kind::ipv6 ? 6 : 4;
    k.zero = 0;
    return k;
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// The private area of every mbuf in the dataplane's pool: the parsed metadata and what
// the slow path needs to know about a frame handed to it.
#pragma once

#include "dataplane/packet_meta.h"

#include <rte_mbuf.h>

namespace qorgan::dp {

enum class SlowKind : uint8_t {
    arp,       // worker -> main: an ARP frame for one of our interfaces
    nd,        // worker -> main: an IPv6 NS/NA for us
    resolve,   // worker -> main: a forwarded frame whose next hop has no MAC yet
    transmit,  // main -> worker: send as is on out_port
    exception, // worker -> main: IKE for the gateway, to the host kernel through the TUN
};

struct MbufPriv {
    PacketMeta meta;
    uint16_t out_port;
    SlowKind kind;
    uint8_t nh_family;
    uint8_t nh_ip[16];   // next hop to resolve (network order; IPv4 in [0..3])
    uint8_t reassembled; // a datagram reassembled from fragments: fragmented again if too big
    uint8_t ipsec;       // IpsecMark: what ESP did to the packet (docs/IPSEC.md)
};

// MbufPriv::ipsec.
enum IpsecMark : uint8_t {
    ipsec_none = 0,
    ipsec_decrypted = 1, // arrived inside ESP: never decrypted again, policy-checked already
    ipsec_sealed = 2,    // an ESP packet the gateway built: routed, never encrypted again
};

inline constexpr uint16_t mbuf_priv_size = (sizeof(MbufPriv) + 7) & ~7u;

inline MbufPriv *priv_of(rte_mbuf *m) {
    return static_cast<MbufPriv *>(rte_mbuf_to_priv(m));
}

} // namespace qorgan::dp

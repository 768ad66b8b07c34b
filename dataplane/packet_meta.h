// SPDX-License-Identifier: GPL-2.0-or-later
// What the parser learned about one frame; lives in the mbuf's private area so
// later stages never parse twice. Offsets count from the start of the frame.
#pragma once

#include <cstdint>
#include <cstring>

namespace qorgan::dp {

enum class L3Kind : uint8_t { none = 0, arp, ipv4, ipv6 };

// Parser flags.
inline constexpr uint8_t meta_fragment = 0x01;       // any fragment (IPv4 MF/offset, IPv6 frag hdr)
inline constexpr uint8_t meta_later_fragment = 0x02; // not the first fragment: no L4 header
inline constexpr uint8_t meta_ip_options = 0x04;     // IPv4 options or IPv6 extension headers seen
inline constexpr uint8_t meta_vlan = 0x08;           // an 802.1Q tag was present
// IPv4 options a zone policy may refuse (RFC 7126): the parser only reports them,
// the worker decides (DropReason::ip_source_route / ip_record_route).
inline constexpr uint8_t meta_source_route = 0x10; // LSRR (131) or SSRR (137) option
inline constexpr uint8_t meta_record_route = 0x20; // Record Route (7) option

struct PacketMeta {
    uint16_t l3_offset = 0;  // Ethernet (+802.1Q) header length
    uint16_t l4_offset = 0;  // start of TCP/UDP/ICMP header (after options / ext headers)
    uint16_t l3_end = 0;     // end of the IP packet per its length field (<= frame length)
    uint16_t vlan_tci = 0;   // host order, 0 when untagged
    uint16_t ether_type = 0; // host order, after VLAN tags
    L3Kind l3 = L3Kind::none;
    uint8_t proto = 0;     // final L4 protocol (after IPv6 extension headers)
    uint8_t ttl = 0;       // IPv4 TTL or IPv6 hop limit
    uint8_t flags = 0;     // meta_* bits
    uint8_t tcp_flags = 0; // TCP only
    uint8_t icmp_type = 0; // ICMP/ICMPv6 only
    uint8_t icmp_code = 0;
    uint8_t in_port = 0; // DPDK port id the frame arrived on
    uint16_t sport = 0;  // network order; TCP/UDP ports, ICMP echo identifier in both
    uint16_t dport = 0;
    uint32_t src[4] = {}; // network order; IPv4 uses src[0]
    uint32_t dst[4] = {};
};

// 4 or 6: the address family of an IPv4 or IPv6 packet's metadata.
inline uint8_t family_of(const PacketMeta &m) {
    return m.l3 == L3Kind::ipv6 ? 6 : 4;
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// Bounds-checked frame parser (Ethernet/VLAN, ARP, IPv4, IPv6 + extension headers, L4) and
// the Internet checksum helpers. Every read is preceded by a length check against len.
#include "dataplane/parse.h"

#include <cstring>

namespace qorgan::dp {

namespace {

constexpr uint16_t ethertype_ipv4 = 0x0800;
constexpr uint16_t ethertype_arp = 0x0806;
constexpr uint16_t ethertype_vlan = 0x8100;
constexpr uint16_t ethertype_qinq = 0x88a8;
constexpr uint16_t ethertype_ipv6 = 0x86dd;

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint8_t proto_icmpv6 = 58;

constexpr uint32_t eth_hdr_len = 14;
constexpr uint32_t vlan_tag_len = 4;
constexpr uint32_t max_vlan_tags = 2;
constexpr uint32_t arp_len = 28;
constexpr uint32_t ipv4_min_hdr = 20;
constexpr uint32_t ipv6_hdr_len = 40;
// Bounds the quoted chain icmp_error_inner_key walks; parse_frame's chains are bounded by
// the RFC 8200 order (at most six extension headers).
constexpr uint32_t max_ipv6_ext_headers = 8;
constexpr uint32_t tcp_min_hdr = 20;

constexpr uint8_t ipopt_eol = 0;
constexpr uint8_t ipopt_nop = 1;
constexpr uint8_t ipopt_rr = 7;
constexpr uint8_t ipopt_lsrr = 131;
constexpr uint8_t ipopt_ssrr = 137;
// PacketMeta offsets are 16-bit: bytes beyond this are never looked at.
constexpr uint32_t max_frame_len = 0xffff;

uint16_t rd16(const uint8_t *p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

// Copies a field that PacketMeta keeps in network order (no byte swap, unaligned safe).
uint16_t raw16(const uint8_t *p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

bool is_echo(L3Kind l3, uint8_t type) {
    if (l3 == L3Kind::ipv4) {
        return type == 8 || type == 0;
    }
    return type == 128 || type == 129;
}

std::optional<DropReason> parse_arp(const uint8_t *frame, uint32_t len, PacketMeta &meta) {
    const uint32_t off = meta.l3_offset;
    if (len - off < arp_len) {
        return DropReason::arp_malformed;
    }
    const uint8_t *a = frame + off;
    const uint16_t op = rd16(a + 6);
    if (rd16(a) != 1 || rd16(a + 2) != ethertype_ipv4 || a[4] != 6 || a[5] != 4 ||
        (op != 1 && op != 2)) {
        return DropReason::arp_malformed;
    }
    meta.l3 = L3Kind::arp;
    meta.l3_end = static_cast<uint16_t>(off + arp_len);
    return std::nullopt;
}

// Why an upper-layer header too short for its kind is dropped. In a first fragment (the
// only fragments parse_l4 sees) it is an attack on filters rather than a cut frame:
// RFC 7112 (IPv6: the whole header chain must be in the first fragment) and RFC 1858
// (IPv4 tiny TCP fragment).
DropReason truncated(const PacketMeta &meta, DropReason plain) {
    if ((meta.flags & meta_fragment) != 0) {
        if (meta.l3 == L3Kind::ipv6) {
            return DropReason::ipv6_frag_chain_incomplete;
        }
        if (meta.proto == proto_tcp) {
            return DropReason::frag_tiny;
        }
    }
    return plain;
}

// L4 header at meta.l4_offset, bounded by meta.l3_end. The UDP length check is skipped
// for a first fragment: its UDP length covers the whole datagram, not this fragment.
// A TCP first fragment must hold the full 20-byte header, not only the bytes up to the
// flags that RFC 1858 asks for: no sender fragments inside a TCP header, and the
// stricter rule needs no second minimum.
std::optional<DropReason> parse_l4(const uint8_t *frame, PacketMeta &meta) {
    const uint8_t *l4 = frame + meta.l4_offset;
    const uint32_t avail = meta.l3_end - meta.l4_offset;
    switch (meta.proto) {
    case proto_tcp: {
        if (avail < tcp_min_hdr) {
            return truncated(meta, DropReason::tcp_truncated);
        }
        const uint32_t doff = (l4[12] >> 4) * 4u;
        if (doff < 20 || doff > avail) {
            return DropReason::tcp_bad_data_offset;
        }
        meta.sport = raw16(l4);
        meta.dport = raw16(l4 + 2);
        meta.tcp_flags = l4[13];
        return std::nullopt;
    }
    case proto_udp: {
        if (avail < 8) {
            return truncated(meta, DropReason::udp_truncated);
        }
        const uint32_t ulen = rd16(l4 + 4);
        if ((meta.flags & meta_fragment) == 0 && (ulen < 8 || ulen > avail)) {
            return DropReason::udp_bad_length;
        }
        meta.sport = raw16(l4);
        meta.dport = raw16(l4 + 2);
        return std::nullopt;
    }
    default:
        break;
    }
    const bool icmp = (meta.l3 == L3Kind::ipv4 && meta.proto == proto_icmp) ||
                      (meta.l3 == L3Kind::ipv6 && meta.proto == proto_icmpv6);
    if (!icmp) {
        return std::nullopt; // other protocols: proto only, ports stay 0
    }
    // ICMPv6's fixed header is 4 bytes, but every message we act on (echo, errors, ND)
    // has at least 8, so both families require 8.
    if (avail < 8) {
        return truncated(meta, meta.l3 == L3Kind::ipv4 ? DropReason::icmp_truncated
                                                       : DropReason::icmpv6_truncated);
    }
    meta.icmp_type = l4[0];
    meta.icmp_code = l4[1];
    if (is_echo(meta.l3, l4[0])) {
        meta.sport = raw16(l4 + 4);
        meta.dport = meta.sport;
    }
    return std::nullopt;
}

// Walks IPv4 options in [p, end): EOL ends the list, NOP is one byte, others are TLVs.
// Adds meta_source_route / meta_record_route to flags for the options policy may refuse.
bool ipv4_options_valid(const uint8_t *p, const uint8_t *end, uint8_t &flags) {
    while (p < end) {
        if (p[0] == ipopt_eol) {
            return true;
        }
        if (p[0] == ipopt_nop) {
            ++p;
            continue;
        }
        if (end - p < 2 || p[1] < 2 || p[1] > end - p) {
            return false;
        }
        if (p[0] == ipopt_lsrr || p[0] == ipopt_ssrr) {
            flags |= meta_source_route;
        } else if (p[0] == ipopt_rr) {
            flags |= meta_record_route;
        }
        p += p[1];
    }
    return true;
}

std::optional<DropReason> parse_ipv4(const uint8_t *frame, uint32_t len, PacketMeta &meta) {
    const uint32_t off = meta.l3_offset;
    if (len - off < ipv4_min_hdr) {
        return DropReason::ipv4_truncated;
    }
    const uint8_t *ip = frame + off;
    if ((ip[0] >> 4) != 4) {
        return DropReason::ipv4_bad_version;
    }
    const uint32_t ihl = (ip[0] & 0x0f) * 4u;
    if (ihl < ipv4_min_hdr) {
        return DropReason::ipv4_bad_ihl;
    }
    const uint32_t total = rd16(ip + 2);
    if (total < ihl) {
        return DropReason::ipv4_bad_total_length;
    }
    if (total > len - off) { // the length field claims bytes the frame does not have
        return DropReason::ipv4_bad_total_length;
    }
    if (csum_fold(csum_partial(ip, ihl, 0)) != 0) {
        return DropReason::ipv4_bad_checksum;
    }
    if (ihl > ipv4_min_hdr) {
        if (!ipv4_options_valid(ip + ipv4_min_hdr, ip + ihl, meta.flags)) {
            return DropReason::ipv4_bad_options;
        }
        meta.flags |= meta_ip_options;
    }
    meta.l3 = L3Kind::ipv4;
    meta.l3_end = static_cast<uint16_t>(off + total);
    meta.l4_offset = static_cast<uint16_t>(off + ihl);
    meta.ttl = ip[8];
    meta.proto = ip[9];
    std::memcpy(&meta.src[0], ip + 12, 4);
    std::memcpy(&meta.dst[0], ip + 16, 4);
    const uint16_t frag = rd16(ip + 6);
    const bool more = (frag & 0x2000) != 0;
    const uint16_t frag_off = frag & 0x1fff;
    if (more || frag_off != 0) {
        meta.flags |= meta_fragment;
    }
    if (frag_off != 0) {
        meta.flags |= meta_later_fragment;
        // RFC 1858 3.2: a TCP fragment at offset 8 can only serve to rewrite the first
        // fragment's ports and flags after a filter has judged them.
        if (frag_off == 1 && meta.proto == proto_tcp) {
            return DropReason::frag_tiny;
        }
        return std::nullopt;
    }
    return parse_l4(frame, meta);
}

// RFC 8200 4.1 order of extension headers. A chain must follow it, each header at most
// once; Destination Options has two places (before Routing, and last). ESP ends what
// can be read.
enum ExtRank : int {
    rank_none = -1,
    rank_hop_by_hop,
    rank_dest_first,
    rank_routing,
    rank_fragment,
    rank_ah,
    rank_dest_last,
};

std::optional<DropReason> parse_ipv6(const uint8_t *frame, uint32_t len, PacketMeta &meta) {
    const uint32_t off = meta.l3_offset;
    if (len - off < ipv6_hdr_len) {
        return DropReason::ipv6_truncated;
    }
    const uint8_t *ip = frame + off;
    if ((ip[0] >> 4) != 6) {
        return DropReason::ipv6_bad_version;
    }
    // A jumbogram has payload length 0 and a Hop-by-Hop option: unsupported, and its
    // Hop-by-Hop header then does not fit in the (empty) payload -> bad ext header.
    const uint32_t end = off + ipv6_hdr_len + rd16(ip + 4);
    if (end > len) {
        return DropReason::ipv6_bad_payload_length;
    }
    meta.l3 = L3Kind::ipv6;
    meta.l3_end = static_cast<uint16_t>(end);
    meta.ttl = ip[7];
    std::memcpy(meta.src, ip + 8, 16);
    std::memcpy(meta.dst, ip + 24, 16);

    uint8_t next = ip[6];
    uint32_t pos = off + ipv6_hdr_len;
    int last = rank_none;
    // Once a first fragment's header is passed, the chain and upper-layer header must
    // all be in this fragment (RFC 7112): running out of bytes is that, not a cut frame.
    DropReason cut = DropReason::ipv6_bad_ext_header;
    for (;;) {
        int rank = rank_none;
        switch (next) {
        case 0: // Hop-by-Hop: only directly after the fixed header
            if (last != rank_none) {
                return DropReason::ipv6_bad_ext_header;
            }
            rank = rank_hop_by_hop;
            break;
        case 60: // Destination Options: the earliest place still free
            rank = last < rank_dest_first ? rank_dest_first : rank_dest_last;
            break;
        case 43:
            rank = rank_routing;
            break;
        case 44:
            rank = rank_fragment;
            break;
        case 51:
            rank = rank_ah;
            break;
        default: // upper layer, ESP (50) or No Next Header (59): the chain ends here
            meta.proto = next;
            meta.l4_offset = static_cast<uint16_t>(pos);
            if (last != rank_none) {
                meta.flags |= meta_ip_options;
            }
            if (next == 50 || next == 59) {
                return std::nullopt;
            }
            return parse_l4(frame, meta);
        }
        if (rank <= last) {
            return DropReason::ipv6_ext_order;
        }
        last = rank;
        uint32_t hdr_len = 8; // Fragment
        if (next != 44) {
            if (end - pos < 2) {
                return cut;
            }
            // AH counts 4-byte units minus 2, the others 8-byte units minus 1.
            hdr_len = next == 51 ? (frame[pos + 1] + 2u) * 4u : (frame[pos + 1] + 1u) * 8u;
        }
        if (hdr_len > end - pos) {
            return cut;
        }
        if (next == 44) {
            const uint16_t frag = rd16(frame + pos + 2);
            meta.flags |= meta_fragment | meta_ip_options;
            if ((frag & 0xfff8) != 0) {
                // Later fragment: what follows is payload, not the next header.
                meta.flags |= meta_later_fragment;
                meta.proto = frame[pos];
                meta.l4_offset = static_cast<uint16_t>(pos + hdr_len);
                return std::nullopt;
            }
            cut = DropReason::ipv6_frag_chain_incomplete;
        }
        next = frame[pos];
        pos += hdr_len;
    }
}

} // namespace

uint32_t csum_partial(const uint8_t *data, uint32_t len, uint32_t sum) {
    // Words are summed in native byte order (RFC 1071 2(B)); the folded result is then
    // already in the order the bytes are stored. Chained calls need even lengths except
    // the last one.
    // Four bytes at a time into 64 bits: a one's complement sum does not depend on how the
    // words are grouped once the carries are folded back (RFC 1071 2(A)).
    uint64_t acc = sum;
    uint32_t i = 0;
    for (; i + 3 < len; i += 4) {
        uint32_t w;
        std::memcpy(&w, data + i, sizeof(w));
        acc += w;
    }
    for (; i + 1 < len; i += 2) {
        uint16_t w;
        std::memcpy(&w, data + i, sizeof(w));
        acc += w;
    }
    if (i < len) {
        const uint8_t last[2] = {data[i], 0};
        uint16_t w;
        std::memcpy(&w, last, sizeof(w));
        acc += w;
    }
    while ((acc >> 32) != 0) {
        acc = (acc & 0xffffffffu) + (acc >> 32);
    }
    return static_cast<uint32_t>(acc);
}

uint16_t csum_fold(uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

std::optional<DropReason> parse_frame(const uint8_t *frame, uint32_t len, PacketMeta &meta) {
    const uint8_t in_port = meta.in_port;
    meta = PacketMeta{};
    meta.in_port = in_port;
    if (len > max_frame_len) {
        len = max_frame_len;
    }
    if (len < eth_hdr_len) {
        return DropReason::eth_truncated;
    }
    uint32_t off = 12;
    uint16_t type = rd16(frame + off);
    // Up to two tags (802.1ad outer, 802.1Q inner). vlan_tci keeps the INNERMOST TCI:
    // the customer VLAN, which is what interfaces are configured on.
    for (uint32_t tags = 0; tags < max_vlan_tags; ++tags) {
        if (type != ethertype_vlan && type != ethertype_qinq) {
            break;
        }
        if (len - off < 2 + vlan_tag_len) {
            return DropReason::vlan_truncated;
        }
        meta.vlan_tci = rd16(frame + off + 2);
        meta.flags |= meta_vlan;
        off += vlan_tag_len;
        type = rd16(frame + off);
    }
    off += 2;
    meta.ether_type = type;
    meta.l3_offset = static_cast<uint16_t>(off);
    switch (type) {
    case ethertype_arp:
        return parse_arp(frame, len, meta);
    case ethertype_ipv4:
        return parse_ipv4(frame, len, meta);
    case ethertype_ipv6:
        return parse_ipv6(frame, len, meta);
    default:
        return DropReason::unsupported_ethertype; // also a third VLAN tag
    }
}

bool is_icmp_error(const PacketMeta &meta) {
    if (meta.l3 == L3Kind::ipv4 && meta.proto == proto_icmp) {
        return meta.icmp_type == 3 || meta.icmp_type == 11 || meta.icmp_type == 12;
    }
    if (meta.l3 == L3Kind::ipv6 && meta.proto == proto_icmpv6) {
        return meta.icmp_type >= 1 && meta.icmp_type <= 4;
    }
    return false;
}

namespace {

// Ports of the quoted L4 header at p (avail bytes), as the original sender wrote them.
bool inner_ports(const uint8_t *p, uint32_t avail, uint8_t proto, L3Kind l3, FlowKey &k) {
    const bool icmp = (l3 == L3Kind::ipv4 && proto == proto_icmp) ||
                      (l3 == L3Kind::ipv6 && proto == proto_icmpv6);
    if (proto == proto_tcp || proto == proto_udp) {
        if (avail < 4) {
            return false;
        }
        k.sport = raw16(p);
        k.dport = raw16(p + 2);
    } else if (icmp) {
        if (avail < 8) {
            return false;
        }
        if (is_echo(l3, p[0])) {
            k.sport = raw16(p + 4);
            k.dport = k.sport;
        }
    }
    return true;
}

} // namespace

bool icmp_error_inner_key(const uint8_t *frame, uint32_t len, const PacketMeta &meta,
                          FlowKey &inner) {
    if (!is_icmp_error(meta) || meta.l3_end > len || meta.l4_offset + 8u > meta.l3_end) {
        return false;
    }
    const uint8_t *q = frame + meta.l4_offset + 8;
    const uint32_t qlen = meta.l3_end - meta.l4_offset - 8u;
    inner = FlowKey{};
    if (meta.l3 == L3Kind::ipv4) {
        if (qlen < ipv4_min_hdr || (q[0] >> 4) != 4) {
            return false;
        }
        const uint32_t ihl = (q[0] & 0x0f) * 4u;
        if (ihl < ipv4_min_hdr || ihl > qlen) {
            return false;
        }
        inner.family = 4;
        inner.proto = q[9];
        std::memcpy(&inner.src[0], q + 12, 4);
        std::memcpy(&inner.dst[0], q + 16, 4);
        if ((rd16(q + 6) & 0x1fff) != 0) {
            return true; // quoted a later fragment: no ports, as parse_frame would
        }
        return inner_ports(q + ihl, qlen - ihl, inner.proto, L3Kind::ipv4, inner);
    }
    if (qlen < ipv6_hdr_len || (q[0] >> 4) != 6) {
        return false;
    }
    inner.family = 6;
    std::memcpy(inner.src, q + 8, 16);
    std::memcpy(inner.dst, q + 24, 16);
    uint8_t next = q[6];
    uint32_t pos = ipv6_hdr_len;
    for (uint32_t count = 0; count <= max_ipv6_ext_headers; ++count) {
        uint32_t hdr_len = 0;
        if (next == 0 || next == 43 || next == 60 || next == 51) {
            if (qlen - pos < 2) {
                return false;
            }
            hdr_len = next == 51 ? (q[pos + 1] + 2u) * 4u : (q[pos + 1] + 1u) * 8u;
        } else if (next == 44) {
            hdr_len = 8;
        } else {
            inner.proto = next;
            return inner_ports(q + pos, qlen - pos, next, L3Kind::ipv6, inner);
        }
        if (hdr_len > qlen - pos) {
            return false;
        }
        if (next == 44 && (rd16(q + pos + 2) & 0xfff8) != 0) {
            inner.proto = q[pos];
            return true; // later fragment: no ports
        }
        next = q[pos];
        pos += hdr_len;
    }
    return false; // chain longer than parse_frame accepts
}

} // namespace qorgan::dp

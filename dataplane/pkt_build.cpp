// SPDX-License-Identifier: GPL-2.0-or-later
// Builders for the gateway's own packets (ARP, ND, echo replies, ICMP errors, TCP RSTs)
// and the TTL rewrite. Built frames are untagged Ethernet II: VLAN tagging is left to TX.
#include "dataplane/pkt_build.h"

#include "dataplane/parse.h"

#include <algorithm>
#include <cstring>

namespace qorgan::dp {

namespace {

constexpr uint16_t ethertype_ipv4 = 0x0800;
constexpr uint16_t ethertype_arp = 0x0806;
constexpr uint16_t ethertype_ipv6 = 0x86dd;
constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_icmpv6 = 58;

constexpr uint32_t eth_len = 14;
constexpr uint32_t arp_len = 28;
constexpr uint32_t ipv4_len = 20;
constexpr uint32_t ipv6_len = 40;
constexpr uint32_t icmp_hdr_len = 8;
constexpr uint32_t tcp_len = 20;
constexpr uint32_t nd_len = 24; // NS/NA: type, code, csum, flags/reserved, target
constexpr uint32_t lladdr_opt_len = 8;
constexpr uint32_t icmpv4_max_total = 576;  // RFC 1812 4.3.2.3
constexpr uint32_t icmpv6_max_total = 1280; // RFC 4443 2.4(c)
constexpr uint8_t reply_ttl = 64;
constexpr uint8_t nd_hop_limit = 255;
constexpr uint8_t nd_opt_src_lladdr = 1;
constexpr uint8_t nd_opt_tgt_lladdr = 2;
constexpr uint32_t na_flag_router = 0x80000000u;
constexpr uint32_t na_flag_solicited = 0x40000000u;
constexpr uint32_t na_flag_override = 0x20000000u;

uint16_t rd16(const uint8_t *p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t rd32(const uint8_t *p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void wr16(uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void wr32(uint8_t *p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}
// Stores a checksum as returned by csum_fold (already in wire byte order).
void put_csum(uint8_t *p, uint16_t c) {
    std::memcpy(p, &c, sizeof(c));
}

uint8_t *put_eth(uint8_t *p, const uint8_t *dst, const uint8_t *src, uint16_t type) {
    std::memcpy(p, dst, 6);
    std::memcpy(p + 6, src, 6);
    wr16(p + 12, type);
    return p + eth_len;
}

uint8_t *put_ipv4(uint8_t *p, uint16_t total, uint8_t tos, bool df, uint8_t proto,
                  const uint8_t *src, const uint8_t *dst) {
    p[0] = 0x45;
    p[1] = tos;
    wr16(p + 2, total);
    wr16(p + 4, 0); // ID 0: atomic or never fragmented by us (RFC 6864)
    wr16(p + 6, df ? 0x4000 : 0);
    p[8] = reply_ttl;
    p[9] = proto;
    wr16(p + 10, 0);
    std::memcpy(p + 12, src, 4);
    std::memcpy(p + 16, dst, 4);
    put_csum(p + 10, csum_fold(csum_partial(p, ipv4_len, 0)));
    return p + ipv4_len;
}

uint8_t *put_ipv6(uint8_t *p, uint16_t payload, uint8_t next, uint8_t hop_limit, const uint8_t *src,
                  const uint8_t *dst) {
    wr32(p, 0x60000000u);
    wr16(p + 4, payload);
    p[6] = next;
    p[7] = hop_limit;
    std::memcpy(p + 8, src, 16);
    std::memcpy(p + 24, dst, 16);
    return p + ipv6_len;
}

// Sum of the IPv4 or IPv6 pseudo-header of an upper-layer message of ulen bytes.
uint32_t pseudo_sum(bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto, uint32_t ulen) {
    uint8_t tail[8] = {};
    wr32(tail, ulen);
    tail[7] = proto;
    const uint32_t alen = v6 ? 16 : 4;
    uint32_t sum = csum_partial(src, alen, 0);
    sum = csum_partial(dst, alen, sum);
    // IPv4's pseudo-header has a 16-bit length: the zero high word adds nothing.
    return csum_partial(tail, sizeof(tail), sum);
}

// Checksum of an upper-layer message at l4 (ulen bytes, its checksum field zeroed).
uint16_t l4_csum(const uint8_t *ip, bool v6, uint8_t proto, const uint8_t *l4, uint32_t ulen) {
    const uint8_t *src = ip + (v6 ? 8 : 12);
    const uint8_t *dst = ip + (v6 ? 24 : 16);
    uint32_t sum = 0;
    if (v6 || proto != proto_icmp) {
        sum = pseudo_sum(v6, src, dst, proto, ulen);
    }
    return csum_fold(csum_partial(l4, ulen, sum));
}

bool ipv4_is_multicast_or_bcast(const uint8_t *a) {
    return (a[0] & 0xf0) == 0xe0 || rd32(a) == 0xffffffffu;
}

// RFC 1812 4.3.2.7: the source must name a unique host.
bool ipv4_src_unusable(const uint8_t *a) {
    return rd32(a) == 0 || a[0] == 127 || a[0] >= 0xe0;
}

bool ipv6_is_unspecified(const uint8_t *a) {
    static constexpr uint8_t zero[16] = {};
    return std::memcmp(a, zero, 16) == 0;
}

bool ipv6_is_multicast(const uint8_t *a) {
    return a[0] == 0xff;
}

// ICMP messages about which no error may be sent: v4 errors incl. source quench and
// redirect (RFC 1122 3.2.2), all ICMPv6 errors (types < 128, RFC 4443 2.4(e)).
bool icmp_is_error_message(const PacketMeta &meta) {
    if (meta.l3 == L3Kind::ipv4 && meta.proto == proto_icmp) {
        return is_icmp_error(meta) || meta.icmp_type == 4 || meta.icmp_type == 5;
    }
    return meta.l3 == L3Kind::ipv6 && meta.proto == proto_icmpv6 && meta.icmp_type < 128;
}

// Reports whether the frame and meta agree on where the IP packet lies.
bool ip_in_bounds(uint32_t len, const PacketMeta &meta, uint32_t l4_need) {
    const uint32_t l3_need = meta.l3 == L3Kind::ipv6 ? ipv6_len : ipv4_len;
    return (meta.l3 == L3Kind::ipv4 || meta.l3 == L3Kind::ipv6) && meta.l3_end <= len &&
           meta.l3_offset + l3_need <= meta.l3_end && meta.l4_offset >= meta.l3_offset + l3_need &&
           meta.l4_offset + l4_need <= meta.l3_end;
}

uint32_t nd_build(uint8_t *buf, uint32_t cap, uint8_t type, const uint8_t *dst_mac,
                  const Mac &our_mac, const uint8_t *src_ip, const uint8_t *dst_ip, uint32_t flags,
                  const uint8_t *target, bool with_lladdr) {
    const uint32_t icmp_len = nd_len + (with_lladdr ? lladdr_opt_len : 0);
    const uint32_t total = eth_len + ipv6_len + icmp_len;
    if (cap < total) {
        return 0;
    }
    uint8_t *p = put_eth(buf, dst_mac, our_mac.data(), ethertype_ipv6);
    uint8_t *ip = p;
    uint8_t *m =
        put_ipv6(p, static_cast<uint16_t>(icmp_len), proto_icmpv6, nd_hop_limit, src_ip, dst_ip);
    m[0] = type;
    m[1] = 0;
    wr16(m + 2, 0);
    wr32(m + 4, flags);
    std::memcpy(m + 8, target, 16);
    if (with_lladdr) {
        m[24] = type == 135 ? nd_opt_src_lladdr : nd_opt_tgt_lladdr;
        m[25] = 1;
        std::memcpy(m + 26, our_mac.data(), 6);
    }
    put_csum(m + 2, l4_csum(ip, true, proto_icmpv6, m, icmp_len));
    return total;
}

} // namespace

bool arp_read(const uint8_t *frame, uint32_t len, const PacketMeta &meta, ArpInfo &out) {
    if (meta.l3 != L3Kind::arp || meta.l3_offset + arp_len > len) {
        return false;
    }
    const uint8_t *a = frame + meta.l3_offset;
    const uint16_t op = rd16(a + 6);
    if (rd16(a) != 1 || rd16(a + 2) != ethertype_ipv4 || a[4] != 6 || a[5] != 4 ||
        (op != 1 && op != 2)) {
        return false;
    }
    out.op = op;
    std::memcpy(out.sender_mac.data(), a + 8, 6);
    std::memcpy(&out.sender_ip, a + 14, 4);
    std::memcpy(out.target_mac.data(), a + 18, 6);
    std::memcpy(&out.target_ip, a + 24, 4);
    return true;
}

uint32_t arp_build(uint8_t *buf, uint32_t cap, uint16_t op, const Mac &src_mac, uint32_t src_ip,
                   const Mac &dst_mac, uint32_t dst_ip) {
    // 42 bytes: the PMD pads to the 60-byte Ethernet minimum on transmit.
    if ((op != 1 && op != 2) || cap < eth_len + arp_len) {
        return 0;
    }
    static constexpr Mac broadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static constexpr Mac zero = {};
    const Mac &eth_dst = op == 1 ? broadcast : dst_mac;
    const Mac &target_mac = op == 1 ? zero : dst_mac;
    uint8_t *a = put_eth(buf, eth_dst.data(), src_mac.data(), ethertype_arp);
    wr16(a, 1);
    wr16(a + 2, ethertype_ipv4);
    a[4] = 6;
    a[5] = 4;
    wr16(a + 6, op);
    std::memcpy(a + 8, src_mac.data(), 6);
    std::memcpy(a + 14, &src_ip, 4);
    std::memcpy(a + 18, target_mac.data(), 6);
    std::memcpy(a + 24, &dst_ip, 4);
    return eth_len + arp_len;
}

bool nd_read(const uint8_t *frame, uint32_t len, const PacketMeta &meta, NdInfo &out) {
    if (meta.l3 != L3Kind::ipv6 || meta.proto != proto_icmpv6 ||
        (meta.icmp_type != 135 && meta.icmp_type != 136) || !ip_in_bounds(len, meta, nd_len)) {
        return false;
    }
    // RFC 4861 7.1: hop limit 255 (not forwarded), code 0; RFC 6980: never fragmented.
    const uint8_t *ip = frame + meta.l3_offset;
    const uint8_t *m = frame + meta.l4_offset;
    const uint32_t mlen = meta.l3_end - meta.l4_offset;
    if (ip[7] != nd_hop_limit || m[1] != 0 || (meta.flags & meta_fragment) != 0 ||
        l4_csum(ip, true, proto_icmpv6, m, mlen) != 0 || ipv6_is_multicast(m + 8)) {
        return false;
    }
    const bool ns = m[0] == 135;
    const uint32_t flags = rd32(m + 4);
    const bool dst_multicast = ipv6_is_multicast(ip + 24);
    if (!ns && dst_multicast && (flags & na_flag_solicited) != 0) {
        return false;
    }
    out = NdInfo{};
    out.type = m[0];
    std::memcpy(out.target, m + 8, 16);
    std::memcpy(out.src, ip + 8, 16);
    out.na_flags = ns ? 0 : flags;
    const uint8_t wanted = ns ? nd_opt_src_lladdr : nd_opt_tgt_lladdr;
    for (uint32_t pos = nd_len; pos < mlen;) {
        if (mlen - pos < 2 || m[pos + 1] == 0 || m[pos + 1] * 8u > mlen - pos) {
            return false;
        }
        if (m[pos] == wanted) {
            out.has_lladdr = true;
            std::memcpy(out.lladdr.data(), m + pos + 2, 6);
        }
        pos += m[pos + 1] * 8u;
    }
    // RFC 4861 7.1.1: a DAD probe (unspecified source) carries no source lladdr.
    if (ns && out.has_lladdr && ipv6_is_unspecified(ip + 8)) {
        return false;
    }
    return true;
}

uint32_t nd_build_na(uint8_t *buf, uint32_t cap, const Mac &our_mac, const uint8_t our_ip[16],
                     const Mac &dst_mac, const uint8_t dst_ip[16], bool solicited) {
    // RFC 4861 4.4: S must be clear when the destination is multicast.
    uint32_t flags = na_flag_router | na_flag_override;
    if (solicited && !ipv6_is_multicast(dst_ip)) {
        flags |= na_flag_solicited;
    }
    return nd_build(buf, cap, 136, dst_mac.data(), our_mac, our_ip, dst_ip, flags, our_ip, true);
}

uint32_t nd_build_ns(uint8_t *buf, uint32_t cap, const Mac &our_mac, const uint8_t our_ip[16],
                     const uint8_t target[16]) {
    uint8_t dst_ip[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
    std::memcpy(dst_ip + 13, target + 13, 3);
    const uint8_t dst_mac[6] = {0x33, 0x33, 0xff, target[13], target[14], target[15]};
    // RFC 4861 7.2.2: no source lladdr option when the source is unspecified (DAD).
    return nd_build(buf, cap, 135, dst_mac, our_mac, our_ip, dst_ip, 0, target,
                    !ipv6_is_unspecified(our_ip));
}

bool echo_reply_in_place(uint8_t *frame, uint32_t len, const PacketMeta &meta) {
    const bool v6 = meta.l3 == L3Kind::ipv6;
    const uint8_t proto = v6 ? proto_icmpv6 : proto_icmp;
    const uint8_t request = v6 ? 128 : 8;
    if (meta.proto != proto || meta.icmp_type != request || meta.icmp_code != 0 ||
        !ip_in_bounds(len, meta, icmp_hdr_len)) {
        return false;
    }
    // Not answered inline: fragments (defrag comes first), options / extension headers (a
    // reply would send source routes back), and requests to multicast or broadcast.
    if ((meta.flags & (meta_fragment | meta_ip_options)) != 0) {
        return false;
    }
    uint8_t *ip = frame + meta.l3_offset;
    uint8_t *m = frame + meta.l4_offset;
    const uint32_t mlen = meta.l3_end - meta.l4_offset;
    if (v6 ? ipv6_is_multicast(ip + 24) : ipv4_is_multicast_or_bcast(ip + 16)) {
        return false;
    }
    if (l4_csum(ip, v6, proto, m, mlen) != 0) {
        return false; // a corrupt request gets no reply, as from any host stack
    }
    uint8_t tmp[16];
    std::memcpy(tmp, frame, 6);
    std::memcpy(frame, frame + 6, 6);
    std::memcpy(frame + 6, tmp, 6);
    const uint32_t alen = v6 ? 16 : 4;
    uint8_t *src = ip + (v6 ? 8 : 12);
    uint8_t *dst = src + alen;
    std::memcpy(tmp, src, alen);
    std::memcpy(src, dst, alen);
    std::memcpy(dst, tmp, alen);
    if (v6) {
        ip[7] = reply_ttl;
    } else {
        ip[8] = reply_ttl;
        wr16(ip + 10, 0);
        put_csum(ip + 10, csum_fold(csum_partial(ip, ipv4_len, 0)));
    }
    m[0] = v6 ? 129 : 0;
    wr16(m + 2, 0);
    put_csum(m + 2, l4_csum(ip, v6, proto, m, mlen));
    return true;
}

uint32_t icmp_error_build(uint8_t *buf, uint32_t cap, const uint8_t *frame, uint32_t len,
                          const PacketMeta &meta, uint8_t type, uint8_t code, const Mac &our_mac,
                          const uint8_t *src_ip) {
    if (!ip_in_bounds(len, meta, 0) || (meta.flags & meta_later_fragment) != 0 ||
        icmp_is_error_message(meta)) {
        return 0;
    }
    const bool v6 = meta.l3 == L3Kind::ipv6;
    const uint8_t *ip = frame + meta.l3_offset;
    const uint8_t *off_src = ip + (v6 ? 8 : 12);
    const uint8_t *off_dst = ip + (v6 ? 24 : 16);
    const bool l2_multicast = (frame[0] & 0x01) != 0; // includes broadcast
    if (v6) {
        // RFC 4443 2.4(e): multicast is allowed only for Packet Too Big and for
        // Parameter Problem code 2 (unrecognized option).
        const bool mcast_ok = type == 2 || (type == 4 && code == 2);
        if (ipv6_is_unspecified(off_src) || ipv6_is_multicast(off_src) ||
            (!mcast_ok && (l2_multicast || ipv6_is_multicast(off_dst)))) {
            return 0;
        }
    } else if (l2_multicast || ipv4_is_multicast_or_bcast(off_dst) || ipv4_src_unusable(off_src)) {
        return 0;
    }
    const uint32_t hdr = (v6 ? ipv6_len : ipv4_len) + icmp_hdr_len;
    const uint32_t max_total = v6 ? icmpv6_max_total : icmpv4_max_total;
    const uint32_t quote = std::min<uint32_t>(meta.l3_end - meta.l3_offset, max_total - hdr);
    const uint32_t total = eth_len + hdr + quote;
    if (cap < total) {
        return 0;
    }
    uint8_t *p = put_eth(buf, frame + 6, our_mac.data(), v6 ? ethertype_ipv6 : ethertype_ipv4);
    uint8_t *nip = p;
    const uint32_t mlen = icmp_hdr_len + quote;
    uint8_t *m =
        v6 ? put_ipv6(p, static_cast<uint16_t>(mlen), proto_icmpv6, reply_ttl, src_ip, off_src)
           : put_ipv4(p, static_cast<uint16_t>(ipv4_len + mlen), 0xc0, false, proto_icmp, src_ip,
                      off_src); // RFC 1812 4.3.2.5 precedence 6
    m[0] = type;
    m[1] = code;
    wr16(m + 2, 0);
    wr32(m + 4, 0); // unused / MTU / pointer: the caller does not supply one
    std::memcpy(m + icmp_hdr_len, ip, quote);
    put_csum(m + 2, l4_csum(nip, v6, v6 ? proto_icmpv6 : proto_icmp, m, mlen));
    return total;
}

namespace {

// The answer to a TCP segment from the address and port it targeted, back to its sender's
// MAC: Ethernet, IP and a 20-byte TCP header with the ports swapped. Returns where the TCP
// header starts (the caller fills seq, ack, flags and window, then calls tcp_reply_finish),
// or nullptr when the frame must not be answered: not TCP, a fragment (the segment length is
// unknown), a group address at either end (RFC 1122 4.2.3.10) or too small a buffer.
struct TcpReply {
    uint8_t *ip = nullptr;  // the reply's IP header
    uint8_t *tcp = nullptr; // its TCP header
    bool v6 = false;
    uint32_t total = 0;
};

TcpReply tcp_reply_start(uint8_t *buf, uint32_t cap, const uint8_t *frame, uint32_t len,
                         const PacketMeta &meta, const Mac &our_mac) {
    if (meta.proto != proto_tcp || !ip_in_bounds(len, meta, tcp_len) ||
        (meta.flags & meta_fragment) != 0) {
        return {};
    }
    const bool v6 = meta.l3 == L3Kind::ipv6;
    const uint8_t *ip = frame + meta.l3_offset;
    const uint8_t *t = frame + meta.l4_offset;
    const uint8_t *off_src = ip + (v6 ? 8 : 12);
    const uint8_t *off_dst = ip + (v6 ? 24 : 16);
    if (v6 ? (ipv6_is_multicast(off_dst) || ipv6_is_multicast(off_src))
           : (ipv4_is_multicast_or_bcast(off_dst) || ipv4_is_multicast_or_bcast(off_src))) {
        return {};
    }
    const uint32_t total = eth_len + (v6 ? ipv6_len : ipv4_len) + tcp_len;
    if (cap < total) {
        return {};
    }
    TcpReply r;
    r.v6 = v6;
    r.total = total;
    r.ip = put_eth(buf, frame + 6, our_mac.data(), v6 ? ethertype_ipv6 : ethertype_ipv4);
    r.tcp = v6 ? put_ipv6(r.ip, tcp_len, proto_tcp, reply_ttl, off_dst, off_src)
               : put_ipv4(r.ip, ipv4_len + tcp_len, 0, true, proto_tcp, off_dst, off_src);
    std::memcpy(r.tcp, t + 2, 2); // ports swapped
    std::memcpy(r.tcp + 2, t, 2);
    return r;
}

uint32_t tcp_reply_finish(const TcpReply &r, uint8_t flags, uint16_t window) {
    r.tcp[12] = 0x50;
    r.tcp[13] = flags;
    wr16(r.tcp + 14, window);
    wr16(r.tcp + 16, 0); // checksum
    wr16(r.tcp + 18, 0); // urgent
    put_csum(r.tcp + 16, l4_csum(r.ip, r.v6, proto_tcp, r.tcp, tcp_len));
    return r.total;
}

} // namespace

uint32_t tcp_rst_build(uint8_t *buf, uint32_t cap, const uint8_t *frame, uint32_t len,
                       const PacketMeta &meta, const Mac &our_mac) {
    if (meta.proto != proto_tcp || !ip_in_bounds(len, meta, tcp_len)) {
        return 0;
    }
    const uint8_t *t = frame + meta.l4_offset;
    const uint8_t flags = t[13];
    const uint32_t doff = (t[12] >> 4) * 4u;
    const uint32_t seg_bytes = meta.l3_end - meta.l4_offset;
    if ((flags & 0x04) != 0 || doff < tcp_len || doff > seg_bytes) {
        return 0;
    }
    TcpReply r = tcp_reply_start(buf, cap, frame, len, meta, our_mac);
    if (!r.tcp) {
        return 0;
    }
    if ((flags & 0x10) != 0) { // ACK: <SEQ=SEG.ACK><CTL=RST>
        std::memcpy(r.tcp + 4, t + 8, 4);
        wr32(r.tcp + 8, 0);
        return tcp_reply_finish(r, 0x04, 0);
    }
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    uint32_t seg_len = seg_bytes - doff;
    seg_len += (flags & 0x02) != 0 ? 1 : 0; // SYN
    seg_len += (flags & 0x01) != 0 ? 1 : 0; // FIN
    wr32(r.tcp + 4, 0);
    wr32(r.tcp + 8, rd32(t + 4) + seg_len);
    return tcp_reply_finish(r, 0x14, 0);
}

uint32_t tcp_synack_cookie_build(uint8_t *buf, uint32_t cap, const uint8_t *frame, uint32_t len,
                                 const PacketMeta &meta, const Mac &our_mac, uint32_t cookie) {
    if ((meta.tcp_flags & 0x17) != 0x02) {
        return 0; // a SYN without ACK, RST or FIN only
    }
    TcpReply r = tcp_reply_start(buf, cap, frame, len, meta, our_mac);
    if (!r.tcp) {
        return 0;
    }
    wr32(r.tcp + 4, cookie ^ 0x5bd1e995u); // our sequence number: never used, the client resets
    wr32(r.tcp + 8, cookie);
    return tcp_reply_finish(r, 0x12, 1024); // SYN, ACK
}

uint32_t tcp_to_rst_in_place(uint8_t *frame, uint32_t len, PacketMeta &meta) {
    if (meta.proto != proto_tcp || !ip_in_bounds(len, meta, tcp_len) ||
        (meta.flags & meta_fragment) != 0) {
        return 0;
    }
    const bool v6 = meta.l3 == L3Kind::ipv6;
    uint8_t *ip = frame + meta.l3_offset;
    uint8_t *t = frame + meta.l4_offset;
    const uint32_t end = meta.l4_offset + tcp_len;
    if (v6) {
        wr16(ip + 4, static_cast<uint16_t>(end - meta.l3_offset - ipv6_len));
    } else {
        wr16(ip + 2, static_cast<uint16_t>(end - meta.l3_offset));
        wr16(ip + 10, 0);
        put_csum(ip + 10, csum_fold(csum_partial(ip, (ip[0] & 0x0f) * 4u, 0)));
    }
    t[12] = 0x50;
    t[13] = 0x14; // RST, ACK
    wr16(t + 14, 0);
    wr16(t + 16, 0);
    wr16(t + 18, 0);
    put_csum(t + 16, l4_csum(ip, v6, proto_tcp, t, tcp_len));
    meta.l3_end = static_cast<uint16_t>(end);
    meta.tcp_flags = 0x14;
    return end;
}

void ip_decrement_ttl(uint8_t *frame, const PacketMeta &meta) {
    uint8_t *ip = frame + meta.l3_offset;
    if (meta.l3 == L3Kind::ipv6) {
        --ip[7];
        return;
    }
    if (meta.l3 != L3Kind::ipv4) {
        return;
    }
    // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') over the TTL/protocol word.
    uint16_t old_word;
    std::memcpy(&old_word, ip + 8, 2);
    --ip[8];
    uint16_t new_word;
    std::memcpy(&new_word, ip + 8, 2);
    uint16_t hc;
    std::memcpy(&hc, ip + 10, 2);
    const uint32_t sum = static_cast<uint16_t>(~hc) + static_cast<uint16_t>(~old_word) + new_word;
    put_csum(ip + 10, csum_fold(sum));
}

} // namespace qorgan::dp

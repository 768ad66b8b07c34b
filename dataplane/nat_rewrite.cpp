// SPDX-License-Identifier: GPL-2.0-or-later
// NAT44 rewriting: every field is validated against the frame's bounds before the first
// write, then changed words are folded into the checksums with RFC 1624 eqn. 3. The one's
// complement sum does not depend on byte order (RFC 1071 2(B)), so words are used as stored.
#include "dataplane/nat_rewrite.h"

#include "dataplane/parse.h"

#include <cstring>

namespace qorgan::dp {

namespace {

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint32_t ipv4_min_hdr = 20;
constexpr uint32_t tcp_min_hdr = 20;
constexpr uint32_t l4_quoted_min = 8; // RFC 792: the ICMP error quotes at least 8 bytes
constexpr uint8_t tcp_syn = 0x02;
constexpr uint8_t tcp_opt_eol = 0;
constexpr uint8_t tcp_opt_nop = 1;
constexpr uint8_t tcp_opt_mss = 2;
constexpr uint8_t tcp_opt_mss_len = 4;

uint16_t load16(const uint8_t *p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

uint32_t load32(const uint8_t *p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

void store16(uint8_t *p, uint16_t v) {
    std::memcpy(p, &v, sizeof(v));
}

void store32(uint8_t *p, uint32_t v) {
    std::memcpy(p, &v, sizeof(v));
}

uint16_t rd16(const uint8_t *p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

bool is_echo(uint8_t icmp_type) {
    return icmp_type == 0 || icmp_type == 8;
}

// Accumulates the ~m + m' terms of several changed words, so a checksum that covers all of
// them is updated with one fold. Fits in 32 bits for far more words than are ever added.
class CsumDelta {
public:
    void add16(uint16_t old_v, uint16_t new_v) {
        _sum += static_cast<uint16_t>(~old_v);
        _sum += new_v;
    }
    void add32(uint32_t old_v, uint32_t new_v) {
        add16(static_cast<uint16_t>(old_v >> 16), static_cast<uint16_t>(new_v >> 16));
        add16(static_cast<uint16_t>(old_v), static_cast<uint16_t>(new_v));
    }
    // HC' = ~(~HC + sum of (~m + m')).
    uint16_t apply(uint16_t csum) const { return csum_fold(static_cast<uint16_t>(~csum) + _sum); }

private:
    uint32_t _sum = 0;
};

// The L4 fields of one end of a packet that a translation changes; null when absent.
struct L4Fields {
    uint8_t *port = nullptr; // TCP/UDP port of that end, or the ICMP echo identifier
    uint8_t *csum = nullptr; // the L4 checksum, when present (in the quoted bytes)
    bool pseudo = false;     // the checksum covers the IPv4 addresses (TCP, UDP)
    bool udp = false;        // 0 means "no checksum" and must stay 0
    bool echo = false;       // identifier stands for both ports in PacketMeta
    bool truncated = false;  // a header we must change is not all there
    // The whole ICMP echo message, when this packet carries all of it (not a fragment,
    // not a quote): the checksum's two zeros are told apart by looking at it.
    const uint8_t *message = nullptr;
    uint32_t message_len = 0;
};

// Whether every byte of an ICMP message but its checksum (bytes 2-3) is 0.
bool zero_but_checksum(const uint8_t *m, uint32_t len) {
    for (uint32_t i = 0; i < len; i++)
        if (m[i] != 0 && i != 2 && i != 3)
            return false;
    return true;
}

// Finds the fields of one end at l4 (avail bytes of it present). quoted: the header is
// the embedded one of an ICMP error, which may stop after 8 bytes.
L4Fields locate_l4(uint8_t *l4, uint32_t avail, uint8_t proto, bool source, bool quoted) {
    L4Fields f;
    switch (proto) {
    case proto_tcp:
        // A packet on the wire needs its whole fixed header; a quote needs only the ports
        // (RFC 792: 8 bytes), and its checksum at 16 may lie beyond the quote.
        if (avail < (quoted ? l4_quoted_min : tcp_min_hdr)) {
            f.truncated = true;
            return f;
        }
        f.port = l4 + (source ? 0 : 2);
        f.csum = avail >= 18 ? l4 + 16 : nullptr;
        f.pseudo = true;
        return f;
    case proto_udp:
        if (avail < 8) {
            f.truncated = true;
            return f;
        }
        f.port = l4 + (source ? 0 : 2);
        f.csum = l4 + 6;
        f.pseudo = true;
        f.udp = true;
        return f;
    case proto_icmp:
        if (avail < 8) {
            f.truncated = true;
            return f;
        }
        if (is_echo(l4[0])) {
            f.port = l4 + 4;
            f.csum = l4 + 2;
            f.echo = true;
        }
        return f;
    default:
        return f; // no ports, no checksum over the addresses we know of
    }
}

// Writes the new port and folds the address (pseudo-header) and port changes into the L4
// checksum. Records every changed word in outer, for a checksum that covers these bytes
// (the ICMP checksum of an error quoting them). f.port must be set.
void rewrite_l4(const L4Fields &f, uint32_t old_addr, uint32_t new_addr, uint16_t new_port,
                CsumDelta *outer) {
    const uint16_t old_port = load16(f.port);
    store16(f.port, new_port);
    if (outer != nullptr) {
        outer->add16(old_port, new_port);
    }
    if (f.csum == nullptr) {
        return;
    }
    const uint16_t old_csum = load16(f.csum);
    if (f.udp && old_csum == 0) {
        return; // RFC 768: the sender computed no checksum; one must not appear
    }
    CsumDelta d;
    if (f.pseudo) {
        d.add32(old_addr, new_addr);
    }
    d.add16(old_port, new_port);
    uint16_t new_csum = d.apply(old_csum);
    if (f.udp && new_csum == 0) {
        new_csum = 0xffff; // RFC 768: a computed 0 is sent as all ones
    }
    // One's complement has two zeros. An echo message whose other bytes are all 0 sums to
    // +0 and its checksum must be 0xffff; the incremental update cannot tell it from one
    // summing to -0 and gives 0 (found by fuzz_nat). Only a 0 result is looked at.
    if (f.echo && new_csum == 0 && f.message != nullptr &&
        zero_but_checksum(f.message, f.message_len)) {
        new_csum = 0xffff;
    }
    store16(f.csum, new_csum);
    if (outer != nullptr) {
        outer->add16(old_csum, new_csum);
    }
}

} // namespace

uint16_t csum_replace16(uint16_t csum, uint16_t old_v, uint16_t new_v) {
    CsumDelta d;
    d.add16(old_v, new_v);
    return d.apply(csum);
}

uint16_t csum_replace32(uint16_t csum, uint32_t old_v, uint32_t new_v) {
    CsumDelta d;
    d.add32(old_v, new_v);
    return d.apply(csum);
}

NatRewrite nat_rewrite_ipv4(uint8_t *frame, uint32_t len, PacketMeta &meta, bool source,
                            uint32_t new_addr, uint16_t new_port) {
    if (meta.l3 != L3Kind::ipv4) {
        return NatRewrite::not_ipv4;
    }
    const uint32_t l3 = meta.l3_offset;
    if (l3 > len || len - l3 < ipv4_min_hdr) {
        return NatRewrite::truncated;
    }
    uint8_t *ip = frame + l3;
    if ((ip[0] >> 4) != 4) {
        return NatRewrite::not_ipv4;
    }
    const uint32_t ihl = (ip[0] & 0x0f) * 4u;
    const uint32_t total = rd16(ip + 2);
    if (ihl < ipv4_min_hdr || total < ihl || total > len - l3) {
        return NatRewrite::truncated;
    }
    const bool later_fragment = (rd16(ip + 6) & 0x1fff) != 0;
    L4Fields l4;
    if (!later_fragment) {
        l4 = locate_l4(ip + ihl, total - ihl, ip[9], source, false);
        if (l4.truncated) {
            return NatRewrite::truncated;
        }
        if (l4.echo && (rd16(ip + 6) & 0x2000) == 0) { // not a first fragment: all of it
            l4.message = ip + ihl;
            l4.message_len = total - ihl;
        }
    }

    uint8_t *addr = ip + (source ? 12 : 16);
    const uint32_t old_addr = load32(addr);
    store16(ip + 10, csum_replace32(load16(ip + 10), old_addr, new_addr));
    store32(addr, new_addr);
    (source ? meta.src[0] : meta.dst[0]) = new_addr;
    if (l4.port == nullptr) {
        return NatRewrite::ok;
    }
    rewrite_l4(l4, old_addr, new_addr, new_port, nullptr);
    if (l4.echo) {
        meta.sport = new_port;
        meta.dport = new_port;
    } else {
        (source ? meta.sport : meta.dport) = new_port;
    }
    return NatRewrite::ok;
}

NatRewrite nat_rewrite_icmp_error_inner(uint8_t *frame, uint32_t len, const PacketMeta &meta,
                                        bool inner_source, uint32_t new_addr, uint16_t new_port) {
    if (meta.l3 != L3Kind::ipv4) {
        return NatRewrite::not_ipv4;
    }
    if (!is_icmp_error(meta)) {
        return NatRewrite::bad_inner;
    }
    const uint32_t l4_off = meta.l4_offset;
    const uint32_t end = meta.l3_end;
    if (end > len || l4_off > end || end - l4_off < 8u + ipv4_min_hdr) {
        return NatRewrite::truncated;
    }
    uint8_t *icmp = frame + l4_off;
    uint8_t *q = icmp + 8;
    const uint32_t qlen = end - l4_off - 8u;
    if ((q[0] >> 4) != 4) {
        return NatRewrite::bad_inner;
    }
    const uint32_t ihl = (q[0] & 0x0f) * 4u;
    if (ihl < ipv4_min_hdr) {
        return NatRewrite::bad_inner;
    }
    if (ihl > qlen) {
        return NatRewrite::truncated;
    }
    // RFC 5508: an error whose embedded IP checksum is bad is dropped, not translated.
    if (csum_fold(csum_partial(q, ihl, 0)) != 0) {
        return NatRewrite::bad_inner_checksum;
    }
    const bool later_fragment = (rd16(q + 6) & 0x1fff) != 0;
    L4Fields l4;
    if (!later_fragment) {
        l4 = locate_l4(q + ihl, qlen - ihl, q[9], inner_source, true);
        if (l4.truncated) {
            return NatRewrite::truncated;
        }
    }

    CsumDelta icmp_delta;
    uint8_t *addr = q + (inner_source ? 12 : 16);
    const uint32_t old_addr = load32(addr);
    const uint16_t old_ip_csum = load16(q + 10);
    const uint16_t new_ip_csum = csum_replace32(old_ip_csum, old_addr, new_addr);
    store32(addr, new_addr);
    store16(q + 10, new_ip_csum);
    icmp_delta.add32(old_addr, new_addr);
    icmp_delta.add16(old_ip_csum, new_ip_csum);
    if (l4.port != nullptr) {
        rewrite_l4(l4, old_addr, new_addr, new_port, &icmp_delta);
    }
    // Every changed word lies at an even offset from the ICMP header (ihl is a multiple
    // of 4), so the words line up with the ICMP checksum's words.
    store16(icmp + 2, icmp_delta.apply(load16(icmp + 2)));
    return NatRewrite::ok;
}

bool tcp_clamp_mss(uint8_t *frame, uint32_t len, const PacketMeta &meta, uint16_t max_mss) {
    if ((meta.l3 != L3Kind::ipv4 && meta.l3 != L3Kind::ipv6) || meta.proto != proto_tcp ||
        (meta.flags & meta_later_fragment) != 0) {
        return false;
    }
    const uint32_t l4_off = meta.l4_offset;
    const uint32_t end = meta.l3_end;
    if (end > len || l4_off > end || end - l4_off < tcp_min_hdr) {
        return false;
    }
    uint8_t *tcp = frame + l4_off;
    const uint32_t doff = (tcp[12] >> 4) * 4u;
    if ((tcp[13] & tcp_syn) == 0 || doff < tcp_min_hdr || doff > end - l4_off) {
        return false;
    }
    // Walk the whole list first: a malformed list is left alone even past the MSS option.
    uint32_t mss_at = 0;
    uint32_t pos = tcp_min_hdr;
    while (pos < doff) {
        const uint8_t kind = tcp[pos];
        if (kind == tcp_opt_eol) {
            break;
        }
        if (kind == tcp_opt_nop) {
            ++pos;
            continue;
        }
        if (doff - pos < 2) {
            return false;
        }
        const uint32_t opt_len = tcp[pos + 1];
        if (opt_len < 2 || opt_len > doff - pos) {
            return false;
        }
        if (kind == tcp_opt_mss) {
            if (opt_len != tcp_opt_mss_len) {
                return false;
            }
            if (mss_at == 0) {
                mss_at = pos + 2;
            }
        }
        pos += opt_len;
    }
    if (mss_at == 0 || rd16(tcp + mss_at) <= max_mss) {
        return false;
    }
    const uint16_t old_v = load16(tcp + mss_at);
    tcp[mss_at] = static_cast<uint8_t>(max_mss >> 8);
    tcp[mss_at + 1] = static_cast<uint8_t>(max_mss);
    const uint16_t new_v = load16(tcp + mss_at);
    // At an odd offset the value's bytes fall in two checksum words, high byte low: its
    // contribution is the byte-swapped value (on either host byte order).
    const bool odd = (mss_at & 1u) != 0;
    const auto swap = [](uint16_t v) { return static_cast<uint16_t>((v << 8) | (v >> 8)); };
    store16(tcp + 16,
            csum_replace16(load16(tcp + 16), odd ? swap(old_v) : old_v, odd ? swap(new_v) : new_v));
    return true;
}

} // namespace qorgan::dp

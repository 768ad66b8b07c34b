// SPDX-License-Identifier: GPL-2.0-or-later
// Unit tests of NAT44 rewriting (R128-d, R90-1-6, R139-10-1): RFC 1624 vectors, random
// packets whose checksums after every rewrite must equal freshly computed ones, fragments,
// ICMP error translation (RFC 5508) including a bad embedded checksum, MSS clamping, and
// every error branch leaving the frame unchanged.
#include "dataplane/nat_rewrite.h"
#include "dataplane/parse.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <random>
#include <vector>

using namespace qorgan::dp;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t tcp = 6;
constexpr uint8_t udp = 17;
constexpr uint8_t icmp = 1;

void put16(uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

uint16_t get16(const uint8_t *p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

// A stored (network order) 16-bit field as it is in memory.
uint16_t raw16(const uint8_t *p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

uint32_t ip4(const char *text) {
    in_addr a{};
    inet_pton(AF_INET, text, &a);
    return a.s_addr;
}

// A packet description; addresses in network order, ports/ids in host order.
struct Pkt {
    uint32_t src = ip4("10.0.0.5");
    uint32_t dst = ip4("198.51.100.7");
    uint8_t proto = udp;
    uint16_t sport = 40000; // ICMP echo: the identifier
    uint16_t dport = 53;
    uint8_t icmp_type = 8;
    uint8_t tcp_flags = 0x18;
    Bytes ip_options;  // a multiple of 4 bytes
    Bytes tcp_options; // a multiple of 4 bytes
    Bytes payload;
    bool udp_no_csum = false;
    uint8_t ttl = 64;
};

// Fresh L4 checksum (field zeroed) of seg, with the IPv4 pseudo-header when pseudo.
uint16_t fresh_l4(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *seg, size_t n,
                  size_t csum_off) {
    Bytes copy(seg, seg + n);
    copy[csum_off] = 0;
    copy[csum_off + 1] = 0;
    uint32_t sum = 0;
    if (proto != icmp) {
        uint8_t ph[12] = {};
        std::memcpy(ph, &src, 4);
        std::memcpy(ph + 4, &dst, 4);
        ph[9] = proto;
        put16(ph + 10, static_cast<uint16_t>(n));
        sum = csum_partial(ph, 12, 0);
    }
    const uint16_t c = csum_fold(csum_partial(copy.data(), static_cast<uint32_t>(n), sum));
    return proto == udp && c == 0 ? 0xffff : c;
}

size_t csum_offset(uint8_t proto) {
    return proto == tcp ? 16 : proto == udp ? 6 : 2;
}

uint16_t fresh_ip(const uint8_t *ip) {
    const size_t ihl = (ip[0] & 0x0f) * 4u;
    Bytes copy(ip, ip + ihl);
    copy[10] = 0;
    copy[11] = 0;
    return csum_fold(csum_partial(copy.data(), static_cast<uint32_t>(ihl), 0));
}

// The L4 segment (header + payload) with a correct checksum.
Bytes l4_segment(const Pkt &p) {
    Bytes s;
    if (p.proto == tcp) {
        s.assign(20 + p.tcp_options.size(), 0);
        put16(&s[0], p.sport);
        put16(&s[2], p.dport);
        put16(&s[4], 0x1234);
        s[12] = static_cast<uint8_t>(((20 + p.tcp_options.size()) / 4) << 4);
        s[13] = p.tcp_flags;
        put16(&s[14], 29200);
        std::copy(p.tcp_options.begin(), p.tcp_options.end(), s.begin() + 20);
    } else if (p.proto == udp) {
        s.assign(8, 0);
        put16(&s[0], p.sport);
        put16(&s[2], p.dport);
        put16(&s[4], static_cast<uint16_t>(8 + p.payload.size()));
    } else {
        s.assign(8, 0);
        s[0] = p.icmp_type;
        put16(&s[4], p.sport);
        put16(&s[6], 1);
    }
    s.insert(s.end(), p.payload.begin(), p.payload.end());
    if (!(p.proto == udp && p.udp_no_csum)) {
        const uint16_t c =
            fresh_l4(p.src, p.dst, p.proto, s.data(), s.size(), csum_offset(p.proto));
        std::memcpy(&s[csum_offset(p.proto)], &c, 2);
    }
    return s;
}

// An IPv4 header for body_len bytes after it; frag is the flags/offset field.
Bytes ipv4_header(const Pkt &p, size_t body_len, uint16_t frag = 0) {
    Bytes h(20, 0);
    h[0] = static_cast<uint8_t>(0x40 | ((20 + p.ip_options.size()) / 4));
    h.insert(h.end(), p.ip_options.begin(), p.ip_options.end());
    put16(&h[2], static_cast<uint16_t>(h.size() + body_len));
    put16(&h[4], 0x4242);
    put16(&h[6], frag);
    h[8] = p.ttl;
    h[9] = p.proto;
    std::memcpy(&h[12], &p.src, 4);
    std::memcpy(&h[16], &p.dst, 4);
    const uint16_t c = fresh_ip(h.data());
    std::memcpy(&h[10], &c, 2);
    return h;
}

Bytes ip_packet(const Pkt &p) {
    Bytes seg = l4_segment(p);
    Bytes b = ipv4_header(p, seg.size());
    b.insert(b.end(), seg.begin(), seg.end());
    return b;
}

// Ethernet (optionally one 802.1Q tag) around an IPv4 packet.
Bytes framed(const Bytes &ip, bool vlan = false) {
    Bytes f = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x11};
    if (vlan) {
        f.insert(f.end(), {0x81, 0x00, 0x00, 0x64});
    }
    f.insert(f.end(), {0x08, 0x00});
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
}

// An ICMP error from src to dst quoting the first quote bytes of the offending packet.
Bytes icmp_error(uint8_t type, uint8_t code, uint32_t src, uint32_t dst, const Bytes &offending,
                 size_t quote) {
    Bytes msg = {type, code, 0, 0, 0, 0, 0, 0};
    msg.insert(msg.end(), offending.begin(),
               offending.begin() + static_cast<std::ptrdiff_t>(quote));
    const uint16_t c = csum_fold(csum_partial(msg.data(), static_cast<uint32_t>(msg.size()), 0));
    std::memcpy(&msg[2], &c, 2);
    Pkt outer;
    outer.src = src;
    outer.dst = dst;
    outer.proto = icmp;
    Bytes ip = ipv4_header(outer, msg.size());
    ip.insert(ip.end(), msg.begin(), msg.end());
    return framed(ip);
}

PacketMeta parsed(const Bytes &f) {
    PacketMeta m;
    auto r = parse_frame(f.data(), static_cast<uint32_t>(f.size()), m);
    EXPECT_FALSE(r.has_value()) << "drop reason " << static_cast<int>(*r);
    return m;
}

// IP and (non-fragment) L4 checksums of a frame equal freshly computed ones.
::testing::AssertionResult checksums_fresh(const Bytes &f, const PacketMeta &m) {
    const uint8_t *ip = &f[m.l3_offset];
    if (raw16(ip + 10) != fresh_ip(ip)) {
        return ::testing::AssertionFailure() << "IPv4 header checksum differs from a fresh one";
    }
    if ((m.flags & meta_fragment) != 0 || (m.proto != tcp && m.proto != udp && m.proto != icmp)) {
        return ::testing::AssertionSuccess();
    }
    const uint8_t *seg = &f[m.l4_offset];
    const size_t n = m.l3_end - m.l4_offset;
    const size_t off = csum_offset(m.proto);
    const uint16_t stored = raw16(seg + off);
    if (m.proto == udp && stored == 0) {
        return ::testing::AssertionSuccess(); // checked separately: zero must stay zero
    }
    uint32_t src;
    uint32_t dst;
    std::memcpy(&src, ip + 12, 4);
    std::memcpy(&dst, ip + 16, 4);
    const uint16_t fresh = fresh_l4(src, dst, m.proto, seg, n, off);
    if (stored != fresh) {
        return ::testing::AssertionFailure()
               << "L4 checksum 0x" << std::hex << stored << " fresh 0x" << fresh;
    }
    return ::testing::AssertionSuccess();
}

Bytes random_bytes(std::mt19937 &rng, size_t n) {
    Bytes b(n);
    for (auto &x : b) {
        x = static_cast<uint8_t>(rng());
    }
    return b;
}

// Valid IPv4 options: NOP words and router alerts (RFC 2113), words of 4.
Bytes random_ip_options(std::mt19937 &rng) {
    Bytes o;
    const size_t words = rng() % 11;
    for (size_t i = 0; i < words; ++i) {
        if (rng() % 2 == 0) {
            o.insert(o.end(), {1, 1, 1, 1});
        } else {
            o.insert(o.end(), {0x94, 4, 0, 0});
        }
    }
    return o;
}

Pkt random_pkt(std::mt19937 &rng) {
    Pkt p;
    p.src = static_cast<uint32_t>(rng());
    p.dst = static_cast<uint32_t>(rng());
    p.sport = static_cast<uint16_t>(rng());
    p.dport = static_cast<uint16_t>(rng());
    switch (rng() % 4) {
    case 0:
        p.proto = tcp;
        p.tcp_flags = static_cast<uint8_t>(rng());
        p.tcp_options.assign((rng() % 11) * 4, 1);
        break;
    case 1:
        p.proto = udp;
        break;
    case 2:
        p.proto = udp;
        p.udp_no_csum = true;
        break;
    default:
        p.proto = icmp;
        p.icmp_type = rng() % 2 == 0 ? 8 : 0;
        break;
    }
    p.ip_options = random_ip_options(rng);
    p.payload = random_bytes(rng, rng() % 1400);
    return p;
}

} // namespace

// --- RFC 1624 incremental update ------------------------------------------------------------

TEST(CsumReplace, Rfc1624Example) {
    // RFC 1624 section 4: eqn. 3 gives 0x0000 where the old eqn. 2 gave 0xFFFF.
    EXPECT_EQ(csum_replace16(0xDD2F, 0x5555, 0x3285), 0x0000);
    EXPECT_EQ(csum_replace16(0x0000, 0x3285, 0x5555), 0xDD2F);
    // Values as stored: byte order does not matter to the one's complement sum.
    EXPECT_EQ(csum_replace16(htons(0xDD2F), htons(0x5555), htons(0x3285)), htons(0x0000));
    EXPECT_EQ(csum_replace32(0xDD2F, 0x55550000, 0x32850000), 0x0000);
    EXPECT_EQ(csum_replace32(0xDD2F, 0x00005555, 0x00003285), 0x0000);
}

TEST(CsumReplace, ZeroAndAllOnesAreTheSameNumber) {
    // 0x0000 and 0xFFFF are +0 and -0: changing a word between them changes nothing, and
    // an unchanged word maps a stored 0xFFFF to the 0x0000 a fresh computation would give.
    EXPECT_EQ(csum_replace16(0x1234, 0xFFFF, 0x0000), 0x1234);
    EXPECT_EQ(csum_replace16(0x1234, 0x0000, 0xFFFF), 0x1234);
    EXPECT_EQ(csum_replace16(0xFFFF, 0xABCD, 0xABCD), 0x0000);
    EXPECT_EQ(csum_replace16(0x1234, 0xABCD, 0xABCD), 0x1234);
    EXPECT_EQ(csum_replace32(0x1234, 0xFFFFFFFF, 0x00000000), 0x1234);
}

TEST(CsumReplace, MatchesFreshChecksumOfRandomHeaders) {
    std::mt19937 rng(1624);
    for (int i = 0; i < 2000; ++i) {
        Bytes h = random_bytes(rng, 20);
        h[0] = 0x45; // fresh_ip reads the header length from here
        h[10] = h[11] = 0;
        const uint16_t c = csum_fold(csum_partial(h.data(), 20, 0));
        std::memcpy(&h[10], &c, 2);
        uint32_t old32;
        std::memcpy(&old32, &h[12], 4);
        const uint32_t new32 = static_cast<uint32_t>(rng());
        std::memcpy(&h[12], &new32, 4);
        uint16_t old16;
        std::memcpy(&old16, &h[4], 2);
        const uint16_t new16 = static_cast<uint16_t>(rng());
        std::memcpy(&h[4], &new16, 2);
        const uint16_t inc = csum_replace16(csum_replace32(c, old32, new32), old16, new16);
        ASSERT_EQ(inc, fresh_ip(h.data())) << "iteration " << i;
    }
}

// --- nat_rewrite_ipv4 -----------------------------------------------------------------------

TEST(NatRewriteIpv4, RandomPacketsChecksumsEqualFreshOnes_R128d_R90_1_6) {
    std::mt19937 rng(128);
    int rewrites = 0;
    for (int i = 0; i < 12000; ++i) {
        const Pkt p = random_pkt(rng);
        Bytes f = framed(ip_packet(p), rng() % 2 == 0);
        PacketMeta m = parsed(f);
        ASSERT_EQ(m.l3, L3Kind::ipv4);
        const bool source_first = rng() % 2 == 0;
        for (bool source : {source_first, !source_first}) {
            const uint32_t addr = static_cast<uint32_t>(rng());
            const uint16_t port = static_cast<uint16_t>(rng());
            const PacketMeta before = m;
            ASSERT_EQ(
                nat_rewrite_ipv4(f.data(), static_cast<uint32_t>(f.size()), m, source, addr, port),
                NatRewrite::ok)
                << "iteration " << i;
            ++rewrites;
            ASSERT_TRUE(checksums_fresh(f, m)) << "iteration " << i << " proto " << int(p.proto);
            if (p.udp_no_csum) {
                ASSERT_EQ(get16(&f[m.l4_offset + 6]), 0) << "a zero UDP checksum stays 0";
            }
            const PacketMeta re = parsed(f);
            ASSERT_EQ(re.src[0], source ? addr : before.src[0]);
            ASSERT_EQ(re.dst[0], source ? before.dst[0] : addr);
            if (p.proto == icmp) {
                ASSERT_EQ(re.sport, port); // the echo identifier stands for both ports
                ASSERT_EQ(re.dport, port);
            } else {
                ASSERT_EQ(re.sport, source ? port : before.sport);
                ASSERT_EQ(re.dport, source ? before.dport : port);
            }
            // The updated meta agrees with a fresh parse.
            ASSERT_EQ(m.src[0], re.src[0]);
            ASSERT_EQ(m.dst[0], re.dst[0]);
            ASSERT_EQ(m.sport, re.sport);
            ASSERT_EQ(m.dport, re.dport);
        }
    }
    EXPECT_EQ(rewrites, 24000);
}

TEST(NatRewriteIpv4, UdpZeroChecksumStaysZero) {
    Pkt p;
    p.udp_no_csum = true;
    p.payload = Bytes(33, 0x5a);
    Bytes f = framed(ip_packet(p));
    PacketMeta m = parsed(f);
    ASSERT_EQ(get16(&f[m.l4_offset + 6]), 0);
    ASSERT_EQ(nat_rewrite_ipv4(f.data(), static_cast<uint32_t>(f.size()), m, true,
                               ip4("203.0.113.9"), htons(61000)),
              NatRewrite::ok);
    EXPECT_EQ(get16(&f[m.l4_offset + 6]), 0);
    EXPECT_EQ(get16(&f[m.l4_offset]), 61000);
    EXPECT_TRUE(checksums_fresh(f, m));
}

TEST(NatRewriteIpv4, UdpChecksumThatBecomesZeroIsSentAsAllOnes) {
    // Search a port whose rewrite makes the computed UDP checksum 0: it must be sent as
    // 0xFFFF (RFC 768), never as 0 ("no checksum").
    Pkt p;
    p.payload = Bytes(10, 0x11);
    bool seen = false;
    for (uint32_t port = 1; port < 0x10000 && !seen; ++port) {
        Pkt q = p;
        q.sport = static_cast<uint16_t>(port);
        const Bytes seg = l4_segment(q);
        if (get16(&seg[6]) != 0xffff) {
            continue;
        }
        seen = true;
        Bytes f = framed(ip_packet(p));
        PacketMeta m = parsed(f);
        ASSERT_EQ(nat_rewrite_ipv4(f.data(), static_cast<uint32_t>(f.size()), m, true, p.src,
                                   htons(static_cast<uint16_t>(port))),
                  NatRewrite::ok);
        EXPECT_EQ(get16(&f[m.l4_offset + 6]), 0xffff);
        EXPECT_TRUE(checksums_fresh(f, m));
    }
    EXPECT_TRUE(seen);
}

TEST(NatRewriteIpv4, EchoOfZerosTranslatedToIdentifierZeroChecksAsAllOnes) {
    // An echo reply whose every byte but the checksum becomes 0 sums to +0: its checksum
    // must be 0xFFFF. The incremental update alone gives 0x0000 (fuzz_nat's crash input).
    Pkt p;
    p.proto = icmp;
    p.icmp_type = 0;
    p.sport = 0x0bff;
    p.payload = Bytes(30, 0);
    Bytes f = framed(ip_packet(p));
    PacketMeta m = parsed(f);
    uint8_t *msg = &f[m.l4_offset];
    put16(msg + 6, 0); // sequence 0
    const uint16_t c = fresh_l4(p.src, p.dst, icmp, msg, m.l3_end - m.l4_offset, 2);
    std::memcpy(msg + 2, &c, 2);
    ASSERT_TRUE(checksums_fresh(f, m));
    ASSERT_EQ(nat_rewrite_ipv4(f.data(), static_cast<uint32_t>(f.size()), m, false,
                               ip4("192.0.2.1"), htons(0)),
              NatRewrite::ok);
    EXPECT_EQ(get16(&f[m.l4_offset + 2]), 0xffff);
    EXPECT_TRUE(checksums_fresh(f, m));
}

TEST(NatRewriteIpv4, FirstAndLaterFragmentsOfATranslatedDatagram) {
    std::mt19937 rng(5508);
    for (int i = 0; i < 2000; ++i) {
        Pkt p = random_pkt(rng);
        if (p.proto == icmp) {
            p.proto = tcp;
        }
        p.payload = random_bytes(rng, 64 + rng() % 1200);
        const Bytes seg = l4_segment(p);
        const size_t hdr = p.proto == tcp ? 20 + p.tcp_options.size() : 8;
        const size_t cut = ((hdr + 7) / 8 + rng() % ((seg.size() - hdr) / 8)) * 8;
        ASSERT_GT(cut, 0u);
        ASSERT_LT(cut, seg.size());
        Bytes first = ipv4_header(p, cut, 0x2000); // MF
        first.insert(first.end(), seg.begin(), seg.begin() + static_cast<std::ptrdiff_t>(cut));
        Bytes later = ipv4_header(p, seg.size() - cut, static_cast<uint16_t>(cut / 8));
        later.insert(later.end(), seg.begin() + static_cast<std::ptrdiff_t>(cut), seg.end());
        Bytes f1 = framed(first);
        Bytes f2 = framed(later);
        PacketMeta m1 = parsed(f1);
        PacketMeta m2 = parsed(f2);
        ASSERT_EQ(m1.flags & (meta_fragment | meta_later_fragment), meta_fragment);
        ASSERT_EQ(m2.flags & meta_later_fragment, meta_later_fragment);

        const uint32_t saddr = static_cast<uint32_t>(rng());
        const uint32_t daddr = static_cast<uint32_t>(rng());
        const uint16_t sport = static_cast<uint16_t>(rng());
        const uint16_t dport = static_cast<uint16_t>(rng());
        for (auto [f, m] : {std::pair<Bytes *, PacketMeta *>{&f1, &m1}, {&f2, &m2}}) {
            const auto n = static_cast<uint32_t>(f->size());
            ASSERT_EQ(nat_rewrite_ipv4(f->data(), n, *m, true, saddr, sport), NatRewrite::ok);
            ASSERT_EQ(nat_rewrite_ipv4(f->data(), n, *m, false, daddr, dport), NatRewrite::ok);
            ASSERT_EQ(raw16(&(*f)[m->l3_offset + 10]), fresh_ip(&(*f)[m->l3_offset]));
        }
        // The later fragment's payload is untouched and its meta has no ports.
        ASSERT_EQ(0, std::memcmp(&f2[m2.l4_offset], &seg[cut], seg.size() - cut));
        EXPECT_EQ(m2.sport, 0);
        EXPECT_EQ(m2.dport, 0);
        EXPECT_EQ(parsed(f2).src[0], saddr);
        // Reassembled, the datagram's checksum equals a fresh one over the new addresses.
        Bytes whole(f1.begin() + m1.l4_offset, f1.begin() + m1.l3_end);
        whole.insert(whole.end(), f2.begin() + m2.l4_offset, f2.begin() + m2.l3_end);
        const size_t off = csum_offset(p.proto);
        if (p.proto == udp && p.udp_no_csum) {
            ASSERT_EQ(get16(&whole[off]), 0);
        } else {
            ASSERT_EQ(raw16(&whole[off]),
                      fresh_l4(saddr, daddr, p.proto, whole.data(), whole.size(), off))
                << "iteration " << i;
        }
        const PacketMeta re = parsed(f1);
        EXPECT_EQ(re.sport, sport);
        EXPECT_EQ(re.dport, dport);
    }
}

TEST(NatRewriteIpv4, OtherProtocolsAndIcmpErrorsChangeOnlyTheAddress) {
    Pkt p;
    p.proto = 47; // GRE
    p.payload = Bytes(20, 0x33);
    Bytes ip = ipv4_header(p, p.payload.size());
    ip.insert(ip.end(), p.payload.begin(), p.payload.end());
    Bytes f = framed(ip);
    PacketMeta m = parsed(f);
    ASSERT_EQ(nat_rewrite_ipv4(f.data(), static_cast<uint32_t>(f.size()), m, true,
                               ip4("203.0.113.9"), htons(1)),
              NatRewrite::ok);
    EXPECT_TRUE(checksums_fresh(f, m));
    EXPECT_EQ(m.sport, 0);
    EXPECT_EQ(0, std::memcmp(&f[m.l4_offset], p.payload.data(), p.payload.size()));

    Bytes e = icmp_error(3, 3, ip4("192.0.2.1"), ip4("203.0.113.9"), ip_packet(Pkt{}), 28);
    PacketMeta me = parsed(e);
    const Bytes icmp_before(e.begin() + me.l4_offset, e.end());
    ASSERT_EQ(nat_rewrite_ipv4(e.data(), static_cast<uint32_t>(e.size()), me, false,
                               ip4("10.0.0.5"), htons(7)),
              NatRewrite::ok);
    EXPECT_TRUE(checksums_fresh(e, me));
    EXPECT_EQ(parsed(e).dst[0], ip4("10.0.0.5"));
    EXPECT_EQ(Bytes(e.begin() + me.l4_offset, e.end()), icmp_before); // ICMP untouched
}

TEST(NatRewriteIpv4, ErrorsLeaveTheFrameUnchanged) {
    Pkt tp;
    tp.proto = tcp;
    const Bytes good = framed(ip_packet(tp));
    const PacketMeta gm = parsed(good);
    const auto n = static_cast<uint32_t>(good.size());
    const uint32_t a = ip4("203.0.113.9");
    auto expect = [&](Bytes f, PacketMeta m, uint32_t len, NatRewrite want, const char *what) {
        const Bytes before = f;
        EXPECT_EQ(nat_rewrite_ipv4(f.data(), len, m, true, a, 1), want) << what;
        EXPECT_EQ(f, before) << what;
    };
    PacketMeta v6 = gm;
    v6.l3 = L3Kind::ipv6;
    expect(good, v6, n, NatRewrite::not_ipv4, "IPv6 meta");
    PacketMeta arp = gm;
    arp.l3 = L3Kind::arp;
    expect(good, arp, n, NatRewrite::not_ipv4, "ARP meta");
    Bytes wrong_version = good;
    wrong_version[gm.l3_offset] = 0x65;
    expect(wrong_version, gm, n, NatRewrite::not_ipv4, "stale meta: version 6 in the frame");
    expect(good, gm, gm.l3_offset + 19u, NatRewrite::truncated, "IPv4 header cut");
    PacketMeta far = gm;
    far.l3_offset = 0xfff0;
    expect(good, far, n, NatRewrite::truncated, "l3_offset past the frame");
    expect(good, gm, n - 1, NatRewrite::truncated, "total length past len");
    Bytes small_ihl = good;
    small_ihl[gm.l3_offset] = 0x44;
    expect(small_ihl, gm, n, NatRewrite::truncated, "IHL below 5");
    Bytes below_ihl = good;
    put16(&below_ihl[gm.l3_offset + 2], 19);
    expect(below_ihl, gm, n, NatRewrite::truncated, "total length below the header length");
    Bytes short_total = good;
    put16(&short_total[gm.l3_offset + 2], 20 + 19);
    expect(short_total, gm, n, NatRewrite::truncated, "TCP header cut by total length");

    Pkt up;
    Bytes uf = framed(ip_packet(up));
    const PacketMeta um = parsed(uf);
    put16(&uf[um.l3_offset + 2], 20 + 7);
    expect(uf, um, static_cast<uint32_t>(uf.size()), NatRewrite::truncated, "UDP header cut");
    Pkt ip;
    ip.proto = icmp;
    Bytes icf = framed(ip_packet(ip));
    const PacketMeta icm = parsed(icf);
    put16(&icf[icm.l3_offset + 2], 20 + 7);
    expect(icf, icm, static_cast<uint32_t>(icf.size()), NatRewrite::truncated, "ICMP header cut");
}

// --- ICMP error translation (RFC 5508) -------------------------------------------------------

namespace {

const uint32_t host_private = ip4("10.0.0.5");
const uint32_t host_public = ip4("203.0.113.9");
const uint32_t server = ip4("198.51.100.7");
const uint32_t router = ip4("192.0.2.1");

struct ErrorCase {
    uint8_t type;
    uint8_t code;
    uint8_t proto;
    bool whole; // the whole offending packet quoted, or its IP header + 8 bytes
};

// The offending packet as the private host sent it and as it left the NAT (source-NATed).
Pkt original_of(uint8_t proto) {
    Pkt p;
    p.src = host_private;
    p.dst = server;
    p.proto = proto;
    p.sport = proto == icmp ? 77 : 40000;
    p.dport = proto == tcp ? 443 : proto == udp ? 53 : 77;
    p.tcp_flags = 0x02;
    p.payload = Bytes(45, 0xc3);
    p.ttl = 1;
    return p;
}

Pkt translated_of(uint8_t proto) {
    Pkt p = original_of(proto);
    p.src = host_public;
    p.sport = proto == icmp ? 5000 : 61000;
    return p;
}

} // namespace

TEST(NatIcmpError, TranslatesEmbeddedPacketAllChecksumsFresh_R128d) {
    const ErrorCase cases[] = {
        {3, 3, udp, false},   {3, 3, udp, true},   {3, 3, tcp, false},  {3, 3, tcp, true},
        {11, 0, udp, false},  {11, 0, udp, true},  {11, 0, tcp, false}, {11, 0, tcp, true},
        {11, 0, icmp, false}, {11, 0, icmp, true},
    };
    for (const ErrorCase &c : cases) {
        SCOPED_TRACE(::testing::Message() << "type " << int(c.type) << " proto " << int(c.proto)
                                          << (c.whole ? " whole" : " 8 bytes"));
        const Bytes orig = ip_packet(original_of(c.proto));
        const Bytes sent = ip_packet(translated_of(c.proto));
        const size_t quote = c.whole ? sent.size() : 28;
        Bytes f = icmp_error(c.type, c.code, router, host_public, sent, quote);
        PacketMeta m = parsed(f);
        ASSERT_TRUE(is_icmp_error(m));
        const auto n = static_cast<uint32_t>(f.size());
        const uint16_t port = htons(original_of(c.proto).sport);
        ASSERT_EQ(nat_rewrite_icmp_error_inner(f.data(), n, m, true, host_private, port),
                  NatRewrite::ok);
        ASSERT_EQ(nat_rewrite_ipv4(f.data(), n, m, false, host_private, 0), NatRewrite::ok);

        const uint8_t *q = &f[m.l4_offset + 8];
        // Outer IPv4 and ICMP (over the whole message) checksums.
        EXPECT_EQ(raw16(&f[m.l3_offset + 10]), fresh_ip(&f[m.l3_offset]));
        EXPECT_EQ(raw16(&f[m.l4_offset + 2]),
                  fresh_l4(0, 0, icmp, &f[m.l4_offset], m.l3_end - m.l4_offset, 2));
        // Embedded IPv4 checksum, and the quote is byte for byte what the host sent.
        EXPECT_EQ(raw16(q + 10), fresh_ip(q));
        EXPECT_EQ(0, std::memcmp(q, orig.data(), quote));
        if (c.whole || c.proto != tcp) {
            // The embedded L4 checksum is quoted (UDP at 6, ICMP at 2, TCP when whole).
            const size_t off = csum_offset(c.proto);
            EXPECT_EQ(raw16(q + 20 + off), raw16(&orig[20 + off]));
        }
        if (c.whole) {
            const size_t off = csum_offset(c.proto);
            EXPECT_EQ(raw16(q + 20 + off),
                      fresh_l4(host_private, server, c.proto, q + 20, orig.size() - 20, off));
        }
        FlowKey k{};
        ASSERT_TRUE(icmp_error_inner_key(f.data(), n, m, k));
        EXPECT_EQ(k.src[0], host_private);
        EXPECT_EQ(k.dst[0], server);
        EXPECT_EQ(k.sport, port);
        EXPECT_EQ(k.proto, c.proto);
        const PacketMeta re = parsed(f);
        EXPECT_EQ(re.dst[0], host_private);
        EXPECT_EQ(re.src[0], router);
    }
}

TEST(NatIcmpError, TcpChecksumTranslatedWhenJustQuoted) {
    // 18 bytes of TCP reach its checksum: it is updated; 17 do not: it is left.
    const Bytes orig = ip_packet(original_of(tcp));
    const Bytes sent = ip_packet(translated_of(tcp));
    for (size_t l4_quote : {17u, 18u}) {
        Bytes f = icmp_error(3, 1, router, host_public, sent, 20 + l4_quote);
        PacketMeta m = parsed(f);
        ASSERT_EQ(nat_rewrite_icmp_error_inner(f.data(), static_cast<uint32_t>(f.size()), m, true,
                                               host_private, htons(40000)),
                  NatRewrite::ok);
        const uint8_t *q = &f[m.l4_offset + 8];
        EXPECT_EQ(0, std::memcmp(q, orig.data(), 36)) << l4_quote; // up to the checksum
        if (l4_quote == 18) {
            EXPECT_EQ(raw16(q + 36), raw16(&orig[36]));
        } else {
            EXPECT_EQ(q[36], sent[36]); // the half checksum byte is left as it was
        }
        EXPECT_EQ(raw16(&f[m.l4_offset + 2]),
                  fresh_l4(0, 0, icmp, &f[m.l4_offset], m.l3_end - m.l4_offset, 2));
    }
}

TEST(NatIcmpError, EmbeddedDestinationOfAStaticNat_R128d) {
    // Static NAT: a client reached public 203.0.113.20, translated to 10.0.0.20; an inner
    // router's error quotes the translated packet and goes back out to the client.
    Pkt outside;
    outside.src = ip4("192.0.2.77");
    outside.dst = ip4("203.0.113.20");
    outside.dport = 8080;
    outside.payload = Bytes(12, 0x01);
    Pkt inside = outside;
    inside.dst = ip4("10.0.0.20");
    inside.dport = 80;
    const Bytes sent = ip_packet(inside);
    const Bytes orig = ip_packet(outside);
    Bytes f = icmp_error(3, 1, ip4("10.0.0.1"), outside.src, sent, sent.size());
    PacketMeta m = parsed(f);
    const auto n = static_cast<uint32_t>(f.size());
    ASSERT_EQ(nat_rewrite_icmp_error_inner(f.data(), n, m, false, outside.dst, htons(8080)),
              NatRewrite::ok);
    ASSERT_EQ(nat_rewrite_ipv4(f.data(), n, m, true, outside.dst, 0), NatRewrite::ok);
    EXPECT_EQ(0, std::memcmp(&f[m.l4_offset + 8], orig.data(), orig.size()));
    EXPECT_EQ(raw16(&f[m.l4_offset + 2]),
              fresh_l4(0, 0, icmp, &f[m.l4_offset], m.l3_end - m.l4_offset, 2));
    EXPECT_TRUE(checksums_fresh(f, m));
}

TEST(NatIcmpError, EmbeddedZeroUdpChecksumStaysZero) {
    Pkt o = original_of(udp);
    o.udp_no_csum = true;
    Pkt t = translated_of(udp);
    t.udp_no_csum = true;
    Bytes f = icmp_error(3, 3, router, host_public, ip_packet(t), 28);
    PacketMeta m = parsed(f);
    ASSERT_EQ(nat_rewrite_icmp_error_inner(f.data(), static_cast<uint32_t>(f.size()), m, true,
                                           host_private, htons(40000)),
              NatRewrite::ok);
    EXPECT_EQ(get16(&f[m.l4_offset + 8 + 26]), 0);
    EXPECT_EQ(0, std::memcmp(&f[m.l4_offset + 8], ip_packet(o).data(), 28));
    EXPECT_EQ(raw16(&f[m.l4_offset + 2]),
              fresh_l4(0, 0, icmp, &f[m.l4_offset], m.l3_end - m.l4_offset, 2));
}

TEST(NatIcmpError, QuotedLaterFragmentChangesOnlyTheAddress) {
    Pkt t = translated_of(udp);
    Bytes later = ipv4_header(t, 16, 0x0003);
    later.insert(later.end(), 16, 0x77);
    Pkt o = original_of(udp);
    Bytes want = ipv4_header(o, 16, 0x0003);
    want.insert(want.end(), 16, 0x77);
    Bytes f = icmp_error(11, 1, router, host_public, later, 28);
    PacketMeta m = parsed(f);
    ASSERT_EQ(nat_rewrite_icmp_error_inner(f.data(), static_cast<uint32_t>(f.size()), m, true,
                                           host_private, htons(40000)),
              NatRewrite::ok);
    EXPECT_EQ(0, std::memcmp(&f[m.l4_offset + 8], want.data(), 28));
    EXPECT_EQ(raw16(&f[m.l4_offset + 2]),
              fresh_l4(0, 0, icmp, &f[m.l4_offset], m.l3_end - m.l4_offset, 2));
}

TEST(NatIcmpError, BadEmbeddedChecksumIsRefusedUnchanged_R128e) {
    Bytes sent = ip_packet(translated_of(udp));
    sent[8] = 9; // TTL changed without the checksum: the quote is corrupt
    Bytes f = icmp_error(11, 0, router, host_public, sent, sent.size());
    const Bytes before = f;
    PacketMeta m = parsed(f);
    EXPECT_EQ(nat_rewrite_icmp_error_inner(f.data(), static_cast<uint32_t>(f.size()), m, true,
                                           host_private, htons(40000)),
              NatRewrite::bad_inner_checksum);
    EXPECT_EQ(0, std::memcmp(f.data(), before.data(), f.size()));
}

TEST(NatIcmpError, MalformedOrShortQuotesAreRefusedUnchanged) {
    const Bytes sent = ip_packet(translated_of(udp));
    auto run = [](Bytes f, const PacketMeta &m, uint32_t len) {
        const Bytes before = f;
        const NatRewrite r =
            nat_rewrite_icmp_error_inner(f.data(), len, m, true, host_private, htons(40000));
        EXPECT_EQ(f, before) << "changed although refused";
        return r;
    };
    auto error_with = [&](const Bytes &quote) {
        Bytes f = icmp_error(3, 3, router, host_public, quote, quote.size());
        return std::pair{f, parsed(f)};
    };
    {
        auto [f, m] = error_with(Bytes(sent.begin(), sent.begin() + 12));
        EXPECT_EQ(run(f, m, static_cast<uint32_t>(f.size())), NatRewrite::truncated)
            << "12 bytes of the embedded IP header";
    }
    for (uint8_t proto : {udp, tcp, icmp}) {
        const Bytes p = ip_packet(translated_of(proto));
        for (size_t l4 : {0u, 4u, 7u}) {
            auto [f, m] = error_with(Bytes(p.begin(), p.begin() + 20 + static_cast<long>(l4)));
            EXPECT_EQ(run(f, m, static_cast<uint32_t>(f.size())), NatRewrite::truncated)
                << l4 << " bytes quoted of protocol " << int(proto);
        }
    }
    {
        Pkt t = translated_of(udp);
        t.ip_options = {1, 1, 1, 0};
        const Bytes with_opts = ip_packet(t);
        auto [f, m] = error_with(Bytes(with_opts.begin(), with_opts.begin() + 20));
        EXPECT_EQ(run(f, m, static_cast<uint32_t>(f.size())), NatRewrite::truncated)
            << "IHL 6 with 20 bytes quoted";
    }
    {
        Bytes v6 = sent;
        v6[0] = 0x65;
        auto [f, m] = error_with(v6);
        EXPECT_EQ(run(f, m, static_cast<uint32_t>(f.size())), NatRewrite::bad_inner);
    }
    {
        Bytes small = sent;
        small[0] = 0x44;
        auto [f, m] = error_with(small);
        EXPECT_EQ(run(f, m, static_cast<uint32_t>(f.size())), NatRewrite::bad_inner);
    }
    {
        auto [f, m] = error_with(sent);
        EXPECT_EQ(run(f, m, m.l3_end - 1u), NatRewrite::truncated) << "len below l3_end";
        PacketMeta inverted = m;
        inverted.l4_offset = static_cast<uint16_t>(m.l3_end + 1);
        EXPECT_EQ(run(f, inverted, static_cast<uint32_t>(f.size())), NatRewrite::truncated)
            << "l4_offset past l3_end";
        PacketMeta v6m = m;
        v6m.l3 = L3Kind::ipv6;
        EXPECT_EQ(run(f, v6m, static_cast<uint32_t>(f.size())), NatRewrite::not_ipv4);
    }
    {
        Pkt echo;
        echo.proto = icmp;
        const Bytes f = framed(ip_packet(echo));
        EXPECT_EQ(run(f, parsed(f), static_cast<uint32_t>(f.size())), NatRewrite::bad_inner)
            << "an echo request is not an ICMP error";
    }
}

// --- TCP MSS clamping -----------------------------------------------------------------------

namespace {

Bytes syn_with_options(const Bytes &options, uint8_t flags = 0x02, uint16_t sport = 40000) {
    Pkt p;
    p.proto = tcp;
    p.tcp_flags = flags;
    p.tcp_options = options;
    p.sport = sport;
    return framed(ip_packet(p));
}

uint16_t tcp_csum_fresh(const Bytes &f, const PacketMeta &m) {
    uint32_t s;
    uint32_t d;
    std::memcpy(&s, &f[m.l3_offset + 12], 4);
    std::memcpy(&d, &f[m.l3_offset + 16], 4);
    return fresh_l4(s, d, tcp, &f[m.l4_offset], m.l3_end - m.l4_offset, 16);
}

} // namespace

TEST(TcpClampMss, LowersMssWithFreshChecksum) {
    // Even (MSS first) and odd (after one NOP) positions of the MSS value.
    const Bytes layouts[] = {
        {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0},
        {1, 2, 4, 0x05, 0xb4, 1, 1, 0},
        {1, 1, 1, 2, 4, 0x05, 0xb4, 0},
    };
    for (const Bytes &opts : layouts) {
        for (uint8_t flags : {uint8_t{0x02}, uint8_t{0x12}}) {
            Bytes f = syn_with_options(opts, flags);
            const PacketMeta m = parsed(f);
            ASSERT_TRUE(tcp_clamp_mss(f.data(), static_cast<uint32_t>(f.size()), m, 1400));
            size_t at = m.l4_offset + 20;
            while (f[at] != 2) {
                ++at;
            }
            EXPECT_EQ(get16(&f[at + 2]), 1400);
            EXPECT_EQ(raw16(&f[m.l4_offset + 16]), tcp_csum_fresh(f, m));
            PacketMeta re;
            EXPECT_FALSE(parse_frame(f.data(), static_cast<uint32_t>(f.size()), re).has_value());
        }
    }
}

TEST(TcpClampMss, RandomLayoutsAndValues) {
    std::mt19937 rng(1460);
    int changed = 0;
    for (int i = 0; i < 2000; ++i) {
        const size_t nops = rng() % 8; // odd and even positions of the MSS value
        Bytes opts(nops, 1);
        const uint16_t mss = static_cast<uint16_t>(rng());
        opts.insert(opts.end(), {2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)});
        while (opts.size() % 4 != 0) {
            opts.push_back(0);
        }
        // A random source port varies the checksum the update starts from.
        Bytes f = syn_with_options(opts, 0x02, static_cast<uint16_t>(rng()));
        const PacketMeta m = parsed(f);
        const uint16_t max = static_cast<uint16_t>(rng());
        const Bytes before = f;
        const bool did = tcp_clamp_mss(f.data(), static_cast<uint32_t>(f.size()), m, max);
        ASSERT_EQ(did, mss > max) << i;
        if (did) {
            ++changed;
            ASSERT_EQ(get16(&f[m.l4_offset + 20 + nops + 2]), max) << i;
            ASSERT_EQ(raw16(&f[m.l4_offset + 16]), tcp_csum_fresh(f, m)) << i;
        } else {
            ASSERT_EQ(f, before) << i;
        }
    }
    EXPECT_GT(changed, 500);
}

TEST(TcpClampMss, NoChangeCases) {
    auto unchanged = [](Bytes f, uint16_t max, const char *what, PacketMeta *override = nullptr) {
        PacketMeta m = override != nullptr ? *override : parsed(f);
        const Bytes before = f;
        EXPECT_FALSE(tcp_clamp_mss(f.data(), static_cast<uint32_t>(f.size()), m, max)) << what;
        EXPECT_EQ(f, before) << what;
    };
    const Bytes mss1460 = {2, 4, 0x05, 0xb4};
    unchanged(syn_with_options({}), 1400, "no options");
    unchanged(syn_with_options({1, 3, 3, 7}), 1400, "no MSS option");
    unchanged(syn_with_options({2, 4, 0x05, 0x14}), 1400, "MSS 1300 already lower");
    unchanged(syn_with_options({2, 4, 0x05, 0x78}), 1400, "MSS equal");
    unchanged(syn_with_options(mss1460, 0x10), 1400, "not a SYN");
    unchanged(syn_with_options({0, 0, 0, 0, 2, 4, 0x05, 0xb4}), 1400, "MSS after EOL");
    unchanged(syn_with_options({1, 3, 0, 0, 2, 4, 0x05, 0xb4}), 1400, "option length 0");
    unchanged(syn_with_options({1, 3, 1, 0, 2, 4, 0x05, 0xb4}), 1400, "option length 1");
    unchanged(syn_with_options({2, 4, 0x05, 0xb4, 1, 1, 8, 10}), 1400, "length past the header");
    unchanged(syn_with_options({1, 1, 1, 2}), 1400, "kind without a length byte");
    unchanged(syn_with_options({2, 3, 0x05, 0xb4}), 1400, "MSS option of length 3");

    Bytes f = syn_with_options(mss1460);
    PacketMeta m = parsed(f);
    PacketMeta later = m;
    later.flags |= meta_later_fragment;
    unchanged(f, 1400, "later fragment", &later);
    PacketMeta not_tcp = m;
    not_tcp.proto = udp;
    unchanged(f, 1400, "not TCP", &not_tcp);
    PacketMeta arp = m;
    arp.l3 = L3Kind::arp;
    unchanged(f, 1400, "not IP", &arp);
    PacketMeta cut = m;
    cut.l3_end = static_cast<uint16_t>(m.l4_offset + 19);
    unchanged(f, 1400, "TCP header cut", &cut);
    PacketMeta past = m;
    past.l3_end = static_cast<uint16_t>(f.size() + 1);
    unchanged(f, 1400, "l3_end past len", &past);
    Bytes bad_doff = f;
    bad_doff[m.l4_offset + 12] = 0x40;
    unchanged(bad_doff, 1400, "data offset below 5", &m);
    Bytes big_doff = f;
    big_doff[m.l4_offset + 12] = 0xf0;
    unchanged(big_doff, 1400, "data offset past the segment", &m);
}

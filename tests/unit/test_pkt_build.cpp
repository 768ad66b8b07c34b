// SPDX-License-Identifier: GPL-2.0-or-later
// Unit tests of the packet builders: every built frame re-parses, its fields are right and
// its checksums verify against an independent computation; "must not send" cases give 0.
#include "dataplane/parse.h"
#include "dataplane/pkt_build.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <initializer_list>
#include <random>
#include <vector>

using namespace qorgan::dp;

namespace {

using Bytes = std::vector<uint8_t>;

const Mac our_mac = {0x02, 0xaa, 0, 0, 0, 0x01};
const Mac peer_mac = {0x02, 0xbb, 0, 0, 0, 0x02};
const uint8_t our_v4[4] = {203, 0, 113, 1};
const uint8_t peer_v4[4] = {192, 0, 2, 10};
const uint8_t far_v4[4] = {198, 51, 100, 7};
const uint8_t our_v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t peer_v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,
                             0,    0,    0,    0,    0x12, 0x34, 0x56, 0x78};
const uint8_t far_v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};

uint16_t rd16(const uint8_t *p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t rd32(const uint8_t *p) {
    return (uint32_t(rd16(p)) << 16) | rd16(p + 2);
}
void put16(uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t *p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes &p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

// Independent reference: one's complement sum of big-endian words (RFC 1071), not folded.
uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t sum = 0) {
    for (size_t i = 0; i < len; i += 2) {
        sum += (p[i] << 8) | (i + 1 < len ? p[i + 1] : 0);
    }
    return sum;
}
uint16_t ref_fold(uint32_t sum) {
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(~sum);
}

// Verifies the L4 checksum of a parsed frame from scratch (0 = correct).
uint16_t l4_check(const Bytes &f, const PacketMeta &m) {
    const uint8_t *ip = f.data() + m.l3_offset;
    const uint32_t ulen = m.l3_end - m.l4_offset;
    uint32_t sum = 0;
    if (m.l3 == L3Kind::ipv6) {
        sum = ref_sum(ip + 8, 32) + (ulen >> 16) + (ulen & 0xffff) + m.proto;
    } else if (m.proto != 1) {
        sum = ref_sum(ip + 12, 8) + ulen + m.proto;
    }
    return ref_fold(ref_sum(f.data() + m.l4_offset, ulen, sum));
}

void fix_ipv4_csum(Bytes &f, size_t l3) {
    put16(&f[l3 + 10], 0);
    put16(&f[l3 + 10], ref_fold(ref_sum(&f[l3], (f[l3] & 0x0f) * 4u)));
}

Bytes eth(const Mac &dst, const Mac &src, uint16_t type) {
    Bytes b(dst.begin(), dst.end());
    b.insert(b.end(), src.begin(), src.end());
    b.push_back(static_cast<uint8_t>(type >> 8));
    b.push_back(static_cast<uint8_t>(type));
    return b;
}

Bytes ipv4(uint8_t proto, const Bytes &payload, const uint8_t *src, const uint8_t *dst,
           uint16_t frag = 0, const Bytes &options = {}) {
    Bytes h = {0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 57, proto, 0, 0};
    h[0] = static_cast<uint8_t>(0x40 | ((20 + options.size()) / 4));
    h.insert(h.end(), src, src + 4);
    h.insert(h.end(), dst, dst + 4);
    h.insert(h.end(), options.begin(), options.end());
    put16(&h[2], static_cast<uint16_t>(h.size() + payload.size()));
    put16(&h[6], frag);
    put16(&h[10], ref_fold(ref_sum(h.data(), h.size())));
    h.insert(h.end(), payload.begin(), payload.end());
    return h;
}

Bytes ipv6(uint8_t next, const Bytes &payload, const uint8_t *src, const uint8_t *dst,
           uint8_t hop_limit = 57) {
    Bytes h = {0x60, 0, 0, 0, 0, 0, next, hop_limit};
    put16(&h[4], static_cast<uint16_t>(payload.size()));
    h.insert(h.end(), src, src + 16);
    h.insert(h.end(), dst, dst + 16);
    h.insert(h.end(), payload.begin(), payload.end());
    return h;
}

Bytes tcp(uint8_t flags, uint32_t seq, uint32_t ack, const Bytes &payload = {}) {
    Bytes t(20, 0);
    put16(&t[0], 40000);
    put16(&t[2], 443);
    put32(&t[4], seq);
    put32(&t[8], ack);
    t[12] = 0x50;
    t[13] = flags;
    put16(&t[14], 1024);
    t.insert(t.end(), payload.begin(), payload.end());
    return t;
}

// ICMP / ICMPv6 message with a correct checksum (v6 pseudo-header over src/dst).
Bytes icmp(uint8_t type, uint8_t code, uint16_t id, const Bytes &payload,
           const uint8_t *v6_src = nullptr, const uint8_t *v6_dst = nullptr) {
    Bytes m = {type, code, 0, 0, 0, 0, 0, 7};
    put16(&m[4], id);
    m.insert(m.end(), payload.begin(), payload.end());
    uint32_t sum = 0;
    if (v6_src != nullptr) {
        sum = ref_sum(v6_src, 16) + ref_sum(v6_dst, 16) + static_cast<uint32_t>(m.size()) + 58;
    }
    put16(&m[2], ref_fold(ref_sum(m.data(), m.size(), sum)));
    return m;
}

PacketMeta parsed(const Bytes &f) {
    PacketMeta m;
    auto r = parse_frame(f.data(), static_cast<uint32_t>(f.size()), m);
    EXPECT_FALSE(r.has_value()) << drop_reason_name(*r);
    return m;
}

Bytes built(const uint8_t *buf, uint32_t n) {
    return Bytes(buf, buf + n);
}

} // namespace

// --- ARP ------------------------------------------------------------------------------

TEST(ArpBuild, RequestIsBroadcastWithZeroTarget) {
    uint8_t buf[64];
    uint32_t ip_s, ip_t;
    std::memcpy(&ip_s, our_v4, 4);
    std::memcpy(&ip_t, peer_v4, 4);
    const uint32_t n = arp_build(buf, sizeof(buf), 1, our_mac, ip_s, peer_mac, ip_t);
    ASSERT_EQ(n, 42u);
    Bytes f = built(buf, n);
    PacketMeta m = parsed(f);
    EXPECT_EQ(m.l3, L3Kind::arp);
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(f[i], 0xff);
    }
    ArpInfo a{};
    ASSERT_TRUE(arp_read(f.data(), n, m, a));
    EXPECT_EQ(a.op, 1);
    EXPECT_EQ(a.sender_mac, our_mac);
    EXPECT_EQ(a.sender_ip, ip_s);
    EXPECT_EQ(a.target_mac, Mac{});
    EXPECT_EQ(a.target_ip, ip_t);
}

TEST(ArpBuild, ReplyGoesToTheAsker) {
    uint8_t buf[64];
    const uint32_t n = arp_build(buf, sizeof(buf), 2, our_mac, 0x01020304, peer_mac, 0x05060708);
    ASSERT_EQ(n, 42u);
    Bytes f = built(buf, n);
    PacketMeta m = parsed(f);
    EXPECT_TRUE(std::equal(peer_mac.begin(), peer_mac.end(), f.begin()));
    EXPECT_TRUE(std::equal(our_mac.begin(), our_mac.end(), f.begin() + 6));
    ArpInfo a{};
    ASSERT_TRUE(arp_read(f.data(), n, m, a));
    EXPECT_EQ(a.op, 2);
    EXPECT_EQ(a.target_mac, peer_mac);
    EXPECT_EQ(a.target_ip, 0x05060708u);
}

TEST(ArpBuild, RejectsBadOpAndSmallBuffer) {
    uint8_t buf[64];
    EXPECT_EQ(arp_build(buf, sizeof(buf), 3, our_mac, 1, peer_mac, 2), 0u);
    EXPECT_EQ(arp_build(buf, 41, 1, our_mac, 1, peer_mac, 2), 0u);
}

TEST(ArpRead, RejectsNonArpShortAndMalformed) {
    uint8_t buf[64];
    const uint32_t n = arp_build(buf, sizeof(buf), 1, our_mac, 1, peer_mac, 2);
    Bytes f = built(buf, n);
    PacketMeta m = parsed(f);
    ArpInfo a{};
    EXPECT_FALSE(arp_read(f.data(), n - 1, m, a)); // shorter than the meta says
    PacketMeta not_arp = m;
    not_arp.l3 = L3Kind::ipv4;
    EXPECT_FALSE(arp_read(f.data(), n, not_arp, a));
    for (size_t at : {15u, 16u, 18u, 19u, 21u}) { // htype, ptype, hlen, plen, op
        Bytes bad = f;
        bad[at] ^= 0x40;
        EXPECT_FALSE(arp_read(bad.data(), n, m, a)) << at;
    }
}

// --- neighbour discovery ----------------------------------------------------------------

TEST(NdBuild, SolicitationToSolicitedNodeMulticast) {
    uint8_t buf[128];
    const uint32_t n = nd_build_ns(buf, sizeof(buf), our_mac, our_v6, peer_v6);
    ASSERT_EQ(n, 14u + 40 + 24 + 8);
    Bytes f = built(buf, n);
    PacketMeta m = parsed(f);
    const Bytes want_mac = {0x33, 0x33, 0xff, 0x34, 0x56, 0x78};
    EXPECT_TRUE(std::equal(want_mac.begin(), want_mac.end(), f.begin()));
    const uint8_t want_dst[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0x34, 0x56, 0x78};
    EXPECT_EQ(std::memcmp(m.dst, want_dst, 16), 0);
    EXPECT_EQ(std::memcmp(m.src, our_v6, 16), 0);
    EXPECT_EQ(m.ttl, 255);
    EXPECT_EQ(m.icmp_type, 135);
    EXPECT_EQ(l4_check(f, m), 0);
    NdInfo nd{};
    ASSERT_TRUE(nd_read(f.data(), n, m, nd));
    EXPECT_EQ(nd.type, 135);
    EXPECT_EQ(std::memcmp(nd.target, peer_v6, 16), 0);
    EXPECT_EQ(std::memcmp(nd.src, our_v6, 16), 0);
    EXPECT_TRUE(nd.has_lladdr);
    EXPECT_EQ(nd.lladdr, our_mac);
    EXPECT_EQ(nd.na_flags, 0u);
    EXPECT_EQ(nd_build_ns(buf, n - 1, our_mac, our_v6, peer_v6), 0u);
}

TEST(NdBuild, DadSolicitationHasNoLinkLayerOption) {
    uint8_t buf[128];
    const uint8_t unspecified[16] = {};
    const uint32_t n = nd_build_ns(buf, sizeof(buf), our_mac, unspecified, our_v6);
    ASSERT_EQ(n, 14u + 40 + 24);
    Bytes f = built(buf, n);
    PacketMeta m = parsed(f);
    EXPECT_EQ(l4_check(f, m), 0);
    NdInfo nd{};
    ASSERT_TRUE(nd_read(f.data(), n, m, nd));
    EXPECT_FALSE(nd.has_lladdr);
}

TEST(NdBuild, AdvertisementFlags) {
    uint8_t buf[128];
    uint32_t n = nd_build_na(buf, sizeof(buf), our_mac, our_v6, peer_mac, peer_v6, true);
    ASSERT_EQ(n, 14u + 40 + 24 + 8);
    Bytes f = built(buf, n);
    PacketMeta m = parsed(f);
    EXPECT_EQ(m.ttl, 255);
    EXPECT_EQ(l4_check(f, m), 0);
    EXPECT_TRUE(std::equal(peer_mac.begin(), peer_mac.end(), f.begin()));
    NdInfo nd{};
    ASSERT_TRUE(nd_read(f.data(), n, m, nd));
    EXPECT_EQ(nd.type, 136);
    EXPECT_EQ(nd.na_flags, 0xe0000000u); // R|S|O
    EXPECT_EQ(std::memcmp(nd.target, our_v6, 16), 0);
    EXPECT_TRUE(nd.has_lladdr);
    EXPECT_EQ(nd.lladdr, our_mac);

    n = nd_build_na(buf, sizeof(buf), our_mac, our_v6, peer_mac, peer_v6, false);
    f = built(buf, n);
    m = parsed(f);
    ASSERT_TRUE(nd_read(f.data(), n, m, nd));
    EXPECT_EQ(nd.na_flags, 0xa0000000u); // R|O

    // RFC 4861 4.4: solicited flag is never set towards a multicast destination.
    const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const Mac all_nodes_mac = {0x33, 0x33, 0, 0, 0, 1};
    n = nd_build_na(buf, sizeof(buf), our_mac, our_v6, all_nodes_mac, all_nodes, true);
    f = built(buf, n);
    m = parsed(f);
    ASSERT_TRUE(nd_read(f.data(), n, m, nd));
    EXPECT_EQ(nd.na_flags, 0xa0000000u);
    EXPECT_EQ(nd_build_na(buf, 85, our_mac, our_v6, peer_mac, peer_v6, true), 0u);
}

namespace {
// NS from peer_v6 for our_v6 with the given options; checksum fixed unless told otherwise.
Bytes ns_frame(const Bytes &options, uint8_t hop_limit = 255, uint8_t code = 0,
               const uint8_t *src = peer_v6, const uint8_t *target = our_v6) {
    Bytes body(target, target + 16); // follows the reserved word icmp() writes
    body.insert(body.end(), options.begin(), options.end());
    return cat({eth(our_mac, peer_mac, 0x86dd),
                ipv6(58, icmp(135, code, 0, body, src, our_v6), src, our_v6, hop_limit)});
}
bool nd_ok(const Bytes &f) {
    PacketMeta m = parsed(f);
    NdInfo nd{};
    return nd_read(f.data(), static_cast<uint32_t>(f.size()), m, nd);
}
} // namespace

TEST(NdRead, AcceptsNsWithUnknownOptionAndIgnoresWrongLladdrKind) {
    Bytes f = ns_frame({14, 1, 1, 2, 3, 4, 5, 6, 2, 1, 9, 9, 9, 9, 9, 9}); // nonce, TLLA
    PacketMeta m = parsed(f);
    NdInfo nd{};
    ASSERT_TRUE(nd_read(f.data(), static_cast<uint32_t>(f.size()), m, nd));
    EXPECT_FALSE(nd.has_lladdr); // a target lladdr option means nothing in an NS
}

TEST(NdRead, RejectsInvalidMessages) {
    EXPECT_TRUE(nd_ok(ns_frame({1, 1, 2, 2, 2, 2, 2, 2})));
    EXPECT_FALSE(nd_ok(ns_frame({}, 254)));                  // forwarded: hop limit
    EXPECT_FALSE(nd_ok(ns_frame({}, 255, 1)));               // code 1
    EXPECT_FALSE(nd_ok(ns_frame({1, 0, 2, 2, 2, 2, 2, 2}))); // option length 0
    EXPECT_FALSE(nd_ok(ns_frame({1, 2, 2, 2, 2, 2, 2, 2}))); // option overruns
    EXPECT_FALSE(nd_ok(ns_frame({1})));                      // no room for length
    const uint8_t mcast[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_FALSE(nd_ok(ns_frame({}, 255, 0, peer_v6, mcast))); // multicast target
    const uint8_t unspecified[16] = {};
    EXPECT_TRUE(nd_ok(ns_frame({}, 255, 0, unspecified)));                        // DAD probe
    EXPECT_FALSE(nd_ok(ns_frame({1, 1, 2, 2, 2, 2, 2, 2}, 255, 0, unspecified))); // DAD + SLLA
    Bytes bad_sum = ns_frame({});
    bad_sum.back() ^= 1;
    EXPECT_FALSE(nd_ok(bad_sum));
    // NA with S set to a multicast destination.
    Bytes na_body(peer_v6, peer_v6 + 16);
    Bytes na = cat({eth(our_mac, peer_mac, 0x86dd),
                    ipv6(58, icmp(136, 0, 0x6000, na_body, peer_v6, mcast), peer_v6, mcast, 255)});
    EXPECT_FALSE(nd_ok(na));
    Bytes na_o =
        cat({eth(our_mac, peer_mac, 0x86dd),
             ipv6(58, icmp(136, 0, 0x2000, na_body, peer_v6, mcast), peer_v6, mcast, 255)});
    EXPECT_TRUE(nd_ok(na_o)); // the same without S is fine
    // Too short for an NS (parses as ICMPv6, but no room for the target).
    Bytes tiny =
        cat({eth(our_mac, peer_mac, 0x86dd),
             ipv6(58, icmp(135, 0, 0, Bytes(8, 0), peer_v6, our_v6), peer_v6, our_v6, 255)});
    EXPECT_FALSE(nd_ok(tiny));
    // Not ND at all.
    Bytes echo = cat({eth(our_mac, peer_mac, 0x86dd),
                      ipv6(58, icmp(128, 0, 1, {}, peer_v6, our_v6), peer_v6, our_v6, 255)});
    EXPECT_FALSE(nd_ok(echo));
    // Fragmented ND is never accepted (RFC 6980).
    Bytes f = ns_frame({});
    PacketMeta m = parsed(f);
    m.flags |= meta_fragment;
    NdInfo nd{};
    EXPECT_FALSE(nd_read(f.data(), static_cast<uint32_t>(f.size()), m, nd));
}

// --- echo replies -----------------------------------------------------------------------

TEST(EchoReply, Ipv4InPlace) {
    Bytes payload(56);
    for (size_t i = 0; i < payload.size(); ++i) {
        payload[i] = static_cast<uint8_t>(i);
    }
    Bytes f = cat(
        {eth(our_mac, peer_mac, 0x0800), ipv4(1, icmp(8, 0, 0x1234, payload), peer_v4, our_v4)});
    const Bytes before = f;
    PacketMeta m = parsed(f);
    ASSERT_TRUE(echo_reply_in_place(f.data(), static_cast<uint32_t>(f.size()), m));
    ASSERT_EQ(f.size(), before.size());
    PacketMeta r = parsed(f); // also verifies the IPv4 header checksum
    EXPECT_EQ(r.icmp_type, 0);
    EXPECT_EQ(r.sport, htons(0x1234));
    EXPECT_EQ(r.ttl, 64);
    EXPECT_EQ(std::memcmp(&r.src[0], our_v4, 4), 0);
    EXPECT_EQ(std::memcmp(&r.dst[0], peer_v4, 4), 0);
    EXPECT_TRUE(std::equal(peer_mac.begin(), peer_mac.end(), f.begin()));
    EXPECT_TRUE(std::equal(our_mac.begin(), our_mac.end(), f.begin() + 6));
    EXPECT_EQ(l4_check(f, r), 0);
    EXPECT_TRUE(std::equal(f.end() - 56, f.end(), payload.begin()));
}

TEST(EchoReply, Ipv6InPlaceWithPseudoHeaderChecksum) {
    Bytes f =
        cat({eth(our_mac, peer_mac, 0x86dd),
             ipv6(58, icmp(128, 0, 0x4321, Bytes(33, 0x5a), peer_v6, our_v6), peer_v6, our_v6)});
    PacketMeta m = parsed(f);
    ASSERT_EQ(l4_check(f, m), 0);
    ASSERT_TRUE(echo_reply_in_place(f.data(), static_cast<uint32_t>(f.size()), m));
    PacketMeta r = parsed(f);
    EXPECT_EQ(r.icmp_type, 129);
    EXPECT_EQ(r.ttl, 64);
    EXPECT_EQ(std::memcmp(r.src, our_v6, 16), 0);
    EXPECT_EQ(std::memcmp(r.dst, peer_v6, 16), 0);
    EXPECT_EQ(l4_check(f, r), 0);
}

TEST(EchoReply, RefusesWhatIsNotAPlainUnicastRequest) {
    auto try_v4 = [](const Bytes &frame) {
        Bytes f = frame;
        PacketMeta m = parsed(f);
        return echo_reply_in_place(f.data(), static_cast<uint32_t>(f.size()), m);
    };
    const Bytes req = icmp(8, 0, 1, {1, 2, 3});
    EXPECT_TRUE(try_v4(cat({eth(our_mac, peer_mac, 0x0800), ipv4(1, req, peer_v4, our_v4)})));
    EXPECT_FALSE(try_v4(cat(
        {eth(our_mac, peer_mac, 0x0800), ipv4(1, icmp(0, 0, 1, {}), peer_v4, our_v4)}))); // a reply
    EXPECT_FALSE(try_v4(cat(
        {eth(our_mac, peer_mac, 0x0800), ipv4(1, icmp(8, 1, 1, {}), peer_v4, our_v4)}))); // code 1
    EXPECT_FALSE(try_v4(
        cat({eth(our_mac, peer_mac, 0x0800), ipv4(1, req, peer_v4, our_v4, 0x2000)}))); // fragment
    EXPECT_FALSE(try_v4(cat({eth(our_mac, peer_mac, 0x0800),
                             ipv4(1, req, peer_v4, our_v4, 0, {1, 1, 1, 0})}))); // options
    const uint8_t mcast[4] = {224, 0, 0, 1};
    const uint8_t bcast[4] = {255, 255, 255, 255};
    EXPECT_FALSE(try_v4(cat({eth(our_mac, peer_mac, 0x0800), ipv4(1, req, peer_v4, mcast)})));
    EXPECT_FALSE(try_v4(cat({eth(our_mac, peer_mac, 0x0800), ipv4(1, req, peer_v4, bcast)})));
    Bytes bad = req;
    bad[2] ^= 1; // wrong ICMP checksum
    EXPECT_FALSE(try_v4(cat({eth(our_mac, peer_mac, 0x0800), ipv4(1, bad, peer_v4, our_v4)})));
    const uint8_t mcast6[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_FALSE(try_v4(cat({eth(our_mac, peer_mac, 0x86dd),
                             ipv6(58, icmp(128, 0, 1, {}, peer_v6, mcast6), peer_v6, mcast6)})));
    // Meta that does not fit the frame.
    Bytes f = cat({eth(our_mac, peer_mac, 0x0800), ipv4(1, req, peer_v4, our_v4)});
    PacketMeta m = parsed(f);
    EXPECT_FALSE(echo_reply_in_place(f.data(), m.l3_end - 1u, m));
    PacketMeta shifted = m;
    shifted.l4_offset = 20; // inside the IPv4 header
    EXPECT_FALSE(echo_reply_in_place(f.data(), static_cast<uint32_t>(f.size()), shifted));
}

// --- ICMP errors ------------------------------------------------------------------------

namespace {
uint32_t build_error(const Bytes &f, uint8_t type, uint8_t code, Bytes &out, uint32_t cap = 2048) {
    PacketMeta m = parsed(f);
    out.assign(cap, 0);
    const uint8_t *src = m.l3 == L3Kind::ipv6 ? our_v6 : our_v4;
    const uint32_t n = icmp_error_build(out.data(), cap, f.data(), static_cast<uint32_t>(f.size()),
                                        m, type, code, our_mac, src);
    out.resize(n);
    return n;
}
Bytes tcp4(const uint8_t *src, const uint8_t *dst, size_t payload = 0, uint16_t frag = 0,
           const Mac &dst_mac = our_mac) {
    return cat({eth(dst_mac, peer_mac, 0x0800),
                ipv4(6, tcp(0x02, 1, 0, Bytes(payload, 0x11)), src, dst, frag)});
}
Bytes tcp6(const uint8_t *src, const uint8_t *dst, size_t payload = 0,
           const Mac &dst_mac = our_mac) {
    return cat(
        {eth(dst_mac, peer_mac, 0x86dd), ipv6(6, tcp(0x02, 1, 0, Bytes(payload, 0x11)), src, dst)});
}
} // namespace

TEST(IcmpErrorBuild, Ipv4QuotesUpTo576Bytes) {
    Bytes f = tcp4(peer_v4, far_v4, 1000);
    Bytes out;
    ASSERT_EQ(build_error(f, 3, 13, out), 14u + 576);
    PacketMeta e = parsed(out);
    const uint8_t *ip = out.data() + 14;
    EXPECT_EQ(rd16(ip + 2), 576);
    EXPECT_EQ(ip[1], 0xc0);              // precedence 6 (RFC 1812 4.3.2.5)
    EXPECT_EQ(rd16(ip + 6) & 0x4000, 0); // DF clear
    EXPECT_EQ(e.ttl, 64);
    EXPECT_EQ(e.proto, 1);
    EXPECT_EQ(e.icmp_type, 3);
    EXPECT_EQ(e.icmp_code, 13);
    EXPECT_EQ(std::memcmp(&e.src[0], our_v4, 4), 0);
    EXPECT_EQ(std::memcmp(&e.dst[0], peer_v4, 4), 0);
    EXPECT_TRUE(std::equal(peer_mac.begin(), peer_mac.end(), out.begin()));
    EXPECT_TRUE(std::equal(our_mac.begin(), our_mac.end(), out.begin() + 6));
    EXPECT_EQ(l4_check(out, e), 0);
    EXPECT_TRUE(std::equal(out.begin() + 42, out.end(), f.begin() + 14)); // the quote
    FlowKey inner;
    ASSERT_TRUE(icmp_error_inner_key(out.data(), static_cast<uint32_t>(out.size()), e, inner));
    EXPECT_EQ(inner, flow_key_of(parsed(f)));
    EXPECT_EQ(build_error(f, 3, 13, out, 589), 0u); // one byte short
}

TEST(IcmpErrorBuild, Ipv4SmallPacketQuotedWhole) {
    Bytes f = cat({tcp4(peer_v4, far_v4, 4), Bytes(6, 0)}); // with Ethernet padding
    Bytes out;
    ASSERT_EQ(build_error(f, 11, 0, out), 14u + 28 + 20 + 24);
    PacketMeta e = parsed(out);
    EXPECT_EQ(e.icmp_type, 11);
    EXPECT_EQ(l4_check(out, e), 0);
}

TEST(IcmpErrorBuild, Ipv6QuotesUpTo1280Bytes) {
    Bytes f = tcp6(peer_v6, far_v6, 1400);
    Bytes out;
    ASSERT_EQ(build_error(f, 1, 1, out), 14u + 1280);
    PacketMeta e = parsed(out);
    EXPECT_EQ(e.ttl, 64);
    EXPECT_EQ(e.proto, 58);
    EXPECT_EQ(e.icmp_type, 1);
    EXPECT_EQ(e.icmp_code, 1);
    EXPECT_EQ(std::memcmp(e.src, our_v6, 16), 0);
    EXPECT_EQ(std::memcmp(e.dst, peer_v6, 16), 0);
    EXPECT_EQ(l4_check(out, e), 0);
    FlowKey inner;
    ASSERT_TRUE(icmp_error_inner_key(out.data(), static_cast<uint32_t>(out.size()), e, inner));
    EXPECT_EQ(inner, flow_key_of(parsed(f)));
    Bytes small = tcp6(peer_v6, far_v6, 0);
    ASSERT_EQ(build_error(small, 3, 0, out), 14u + 48 + 60);
    EXPECT_EQ(l4_check(out, parsed(out)), 0);
    EXPECT_EQ(build_error(small, 3, 0, out, 14 + 48 + 59), 0u);
}

TEST(IcmpErrorBuild, Ipv4MustNotSend) {
    Bytes out;
    const uint8_t mcast[4] = {224, 0, 0, 5}, bcast[4] = {255, 255, 255, 255};
    const uint8_t zero[4] = {0, 0, 0, 0}, loop[4] = {127, 0, 0, 1}, class_e[4] = {240, 0, 0, 1};
    EXPECT_EQ(build_error(tcp4(peer_v4, mcast), 3, 13, out), 0u);
    EXPECT_EQ(build_error(tcp4(peer_v4, bcast), 3, 13, out), 0u);
    EXPECT_EQ(build_error(tcp4(zero, far_v4), 3, 13, out), 0u);
    EXPECT_EQ(build_error(tcp4(loop, far_v4), 3, 13, out), 0u);
    EXPECT_EQ(build_error(tcp4(mcast, far_v4), 3, 13, out), 0u);
    EXPECT_EQ(build_error(tcp4(class_e, far_v4), 3, 13, out), 0u);
    const Mac l2_bcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(build_error(tcp4(peer_v4, far_v4, 0, 0, l2_bcast), 3, 13, out), 0u);
    EXPECT_EQ(build_error(tcp4(peer_v4, far_v4, 0, 0x0008), 11, 0, out), 0u); // later frag
    EXPECT_GT(build_error(tcp4(peer_v4, far_v4, 0, 0x2000), 11, 0, out), 0u); // first frag
    for (uint8_t t : {3, 4, 5, 11, 12}) { // errors, source quench and redirect draw nothing
        Bytes e = cat({eth(our_mac, peer_mac, 0x0800),
                       ipv4(1, icmp(t, 0, 0, Bytes(28, 0)), peer_v4, far_v4)});
        EXPECT_EQ(build_error(e, 3, 13, out), 0u) << int(t);
    }
    Bytes echo = cat({eth(our_mac, peer_mac, 0x0800), ipv4(1, icmp(8, 0, 0, {}), peer_v4, far_v4)});
    EXPECT_GT(build_error(echo, 3, 13, out), 0u);
    // ARP is not IP.
    uint8_t arp[64];
    const uint32_t n = arp_build(arp, sizeof(arp), 1, peer_mac, 1, our_mac, 2);
    EXPECT_EQ(build_error(built(arp, n), 3, 13, out), 0u);
}

TEST(IcmpErrorBuild, Ipv6MustNotSendWithRfc4443Exceptions) {
    Bytes out;
    const uint8_t unspecified[16] = {};
    const uint8_t mcast[16] = {0xff, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
    EXPECT_EQ(build_error(tcp6(unspecified, far_v6), 1, 1, out), 0u);
    EXPECT_EQ(build_error(tcp6(mcast, far_v6), 1, 1, out), 0u);
    EXPECT_EQ(build_error(tcp6(peer_v6, mcast), 1, 1, out), 0u);
    const Mac l2_mcast = {0x33, 0x33, 0, 0, 0, 0x42};
    EXPECT_EQ(build_error(tcp6(peer_v6, far_v6, 0, l2_mcast), 3, 0, out), 0u);
    // Packet Too Big and Parameter Problem code 2 may answer multicast (2.4(e) 3, 4).
    EXPECT_GT(build_error(tcp6(peer_v6, mcast, 0, l2_mcast), 2, 0, out), 0u);
    EXPECT_GT(build_error(tcp6(peer_v6, mcast), 4, 2, out), 0u);
    EXPECT_EQ(build_error(tcp6(peer_v6, mcast), 4, 1, out), 0u);
    Bytes err = cat({eth(our_mac, peer_mac, 0x86dd),
                     ipv6(58, icmp(3, 0, 0, Bytes(40, 0), peer_v6, far_v6), peer_v6, far_v6)});
    EXPECT_EQ(build_error(err, 1, 1, out), 0u);
    Bytes echo = cat({eth(our_mac, peer_mac, 0x86dd),
                      ipv6(58, icmp(128, 0, 0, {}, peer_v6, far_v6), peer_v6, far_v6)});
    EXPECT_GT(build_error(echo, 1, 1, out), 0u);
}

// --- TCP RST ----------------------------------------------------------------------------

namespace {
Bytes rst_for(const Bytes &f, uint32_t cap = 256) {
    PacketMeta m = parsed(f);
    Bytes out(cap);
    const uint32_t n =
        tcp_rst_build(out.data(), cap, f.data(), static_cast<uint32_t>(f.size()), m, our_mac);
    out.resize(n);
    return out;
}
Bytes seg4(uint8_t flags, uint32_t seq, uint32_t ack, size_t payload = 0,
           const uint8_t *src = peer_v4, const uint8_t *dst = far_v4) {
    return cat({eth(our_mac, peer_mac, 0x0800),
                ipv4(6, tcp(flags, seq, ack, Bytes(payload, 1)), src, dst)});
}
Bytes seg6(uint8_t flags, uint32_t seq, uint32_t ack, size_t payload = 0,
           const uint8_t *src = peer_v6, const uint8_t *dst = far_v6) {
    return cat({eth(our_mac, peer_mac, 0x86dd),
                ipv6(6, tcp(flags, seq, ack, Bytes(payload, 1)), src, dst)});
}
} // namespace

TEST(TcpRst, AnswersSynWithRstAck_Rfc9293) {
    Bytes r = rst_for(seg4(0x02, 1000, 0));
    ASSERT_EQ(r.size(), 54u);
    PacketMeta m = parsed(r);
    const uint8_t *t = r.data() + m.l4_offset;
    EXPECT_EQ(m.tcp_flags, 0x14);
    EXPECT_EQ(rd32(t + 4), 0u);
    EXPECT_EQ(rd32(t + 8), 1001u);
    EXPECT_EQ(m.sport, htons(443));
    EXPECT_EQ(m.dport, htons(40000));
    EXPECT_EQ(std::memcmp(&m.src[0], far_v4, 4), 0);
    EXPECT_EQ(std::memcmp(&m.dst[0], peer_v4, 4), 0);
    EXPECT_EQ(m.ttl, 64);
    EXPECT_TRUE(std::equal(peer_mac.begin(), peer_mac.end(), r.begin()));
    EXPECT_TRUE(std::equal(our_mac.begin(), our_mac.end(), r.begin() + 6));
    EXPECT_EQ(l4_check(r, m), 0);
}

TEST(TcpRst, CountsPayloadAndFin) {
    Bytes r = rst_for(seg4(0x01, 0xfffffff0u, 0, 30)); // FIN without ACK, wraps around
    PacketMeta m = parsed(r);
    EXPECT_EQ(rd32(r.data() + m.l4_offset + 8), 0xfffffff0u + 31u);
    EXPECT_EQ(l4_check(r, m), 0);
}

TEST(TcpRst, AckedSegmentGetsSeqFromItsAck) {
    Bytes r = rst_for(seg4(0x18, 5, 777777, 10));
    PacketMeta m = parsed(r);
    EXPECT_EQ(m.tcp_flags, 0x04);
    EXPECT_EQ(rd32(r.data() + m.l4_offset + 4), 777777u);
    EXPECT_EQ(rd32(r.data() + m.l4_offset + 8), 0u);
    EXPECT_EQ(l4_check(r, m), 0);
}

TEST(TcpRst, Ipv6) {
    Bytes r = rst_for(seg6(0x02, 42, 0));
    ASSERT_EQ(r.size(), 74u);
    PacketMeta m = parsed(r);
    EXPECT_EQ(m.tcp_flags, 0x14);
    EXPECT_EQ(rd32(r.data() + m.l4_offset + 8), 43u);
    EXPECT_EQ(std::memcmp(m.src, far_v6, 16), 0);
    EXPECT_EQ(std::memcmp(m.dst, peer_v6, 16), 0);
    EXPECT_EQ(l4_check(r, m), 0);
    r = rst_for(seg6(0x10, 42, 99));
    m = parsed(r);
    EXPECT_EQ(rd32(r.data() + m.l4_offset + 4), 99u);
    EXPECT_EQ(l4_check(r, m), 0);
}

TEST(TcpRst, MustNotSend) {
    EXPECT_TRUE(rst_for(seg4(0x04, 1, 0)).empty()); // never answer a RST
    EXPECT_TRUE(rst_for(seg4(0x14, 1, 1)).empty());
    EXPECT_TRUE(rst_for(seg4(0x02, 1, 0), 53).empty()); // buffer too small
    EXPECT_TRUE(rst_for(seg6(0x02, 1, 0), 73).empty());
    const uint8_t mcast[4] = {239, 1, 1, 1}, bcast[4] = {255, 255, 255, 255};
    EXPECT_TRUE(rst_for(seg4(0x02, 1, 0, 0, peer_v4, mcast)).empty());
    EXPECT_TRUE(rst_for(seg4(0x02, 1, 0, 0, peer_v4, bcast)).empty());
    EXPECT_TRUE(rst_for(seg4(0x02, 1, 0, 0, mcast, far_v4)).empty());
    const uint8_t mcast6[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_TRUE(rst_for(seg6(0x02, 1, 0, 0, peer_v6, mcast6)).empty());
    EXPECT_TRUE(rst_for(seg6(0x02, 1, 0, 0, mcast6, far_v6)).empty());
    // Fragments: the segment length is not known.
    Bytes frag =
        cat({eth(our_mac, peer_mac, 0x0800), ipv4(6, tcp(0x02, 1, 0), peer_v4, far_v4, 0x2000)});
    EXPECT_TRUE(rst_for(frag).empty());
    // Not TCP.
    Bytes echo = cat({eth(our_mac, peer_mac, 0x0800), ipv4(1, icmp(8, 0, 0, {}), peer_v4, far_v4)});
    EXPECT_TRUE(rst_for(echo).empty());
}

TEST(TcpRst, DataOffsetRecheckedAgainstTheFrame) {
    Bytes f = seg4(0x02, 1, 0, 8);
    PacketMeta m = parsed(f);
    uint8_t out[128];
    f[m.l4_offset + 12] = 0x40; // 16 bytes: below the minimum
    EXPECT_EQ(
        tcp_rst_build(out, sizeof(out), f.data(), static_cast<uint32_t>(f.size()), m, our_mac), 0u);
    f[m.l4_offset + 12] = 0x80; // 32 bytes: past the segment's 28
    EXPECT_EQ(
        tcp_rst_build(out, sizeof(out), f.data(), static_cast<uint32_t>(f.size()), m, our_mac), 0u);
}

// --- TTL decrement ----------------------------------------------------------------------

TEST(DecrementTtl, IncrementalChecksumEqualsFreshOverRandomHeaders_Rfc1624) {
    std::mt19937 rng(1624);
    for (int i = 0; i < 20000; ++i) {
        const size_t opt_words = rng() % 3;
        Bytes f(14 + 20 + opt_words * 4);
        for (auto &b : f) {
            b = static_cast<uint8_t>(rng());
        }
        if (i % 7 == 0) { // also headers full of zeros and ones around the TTL
            std::fill(f.begin() + 14, f.end(), i % 2 ? 0xff : 0x00);
        }
        f[14] = static_cast<uint8_t>(0x45 + opt_words);
        f[14 + 8] = static_cast<uint8_t>(2 + rng() % 254);
        fix_ipv4_csum(f, 14);
        PacketMeta m;
        m.l3 = L3Kind::ipv4;
        m.l3_offset = 14;
        const uint8_t ttl = f[14 + 8];
        ip_decrement_ttl(f.data(), m);
        ASSERT_EQ(f[14 + 8], ttl - 1);
        const uint16_t got = rd16(&f[14 + 10]);
        fix_ipv4_csum(f, 14);
        ASSERT_EQ(got, rd16(&f[14 + 10])) << "iteration " << i;
    }
}

TEST(DecrementTtl, Ipv6HopLimitAndNonIp) {
    Bytes f = seg6(0x02, 1, 0);
    PacketMeta m = parsed(f);
    ip_decrement_ttl(f.data(), m);
    EXPECT_EQ(parsed(f).ttl, 56);
    Bytes g = f;
    PacketMeta none;
    ip_decrement_ttl(g.data(), none);
    EXPECT_EQ(g, f);
    // And a real IPv4 frame still parses (checksum valid) after the rewrite.
    Bytes v4 = seg4(0x02, 1, 0);
    ip_decrement_ttl(v4.data(), parsed(v4));
    EXPECT_EQ(parsed(v4).ttl, 56);
}

// --- SYN-ACK with a cookie (SYN-flood defence) -----------------------------------------------

namespace {
Bytes synack_for(const Bytes &f, uint32_t cookie, uint32_t cap = 256) {
    PacketMeta m = parsed(f);
    Bytes out(cap);
    const uint32_t n = tcp_synack_cookie_build(out.data(), cap, f.data(),
                                               static_cast<uint32_t>(f.size()), m, our_mac, cookie);
    out.resize(n);
    return out;
}
} // namespace

TEST(SynAckCookie, AnswersSynWithTheCookieAsAck) {
    Bytes r = synack_for(seg4(0x02, 1000, 0), 0xdeadbeef);
    ASSERT_EQ(r.size(), 54u);
    PacketMeta m = parsed(r);
    const uint8_t *t = r.data() + m.l4_offset;
    EXPECT_EQ(m.tcp_flags, 0x12);
    EXPECT_EQ(rd32(t + 8), 0xdeadbeefu); // the cookie, not 1001
    EXPECT_EQ(m.sport, htons(443));
    EXPECT_EQ(m.dport, htons(40000));
    EXPECT_EQ(std::memcmp(&m.src[0], far_v4, 4), 0);
    EXPECT_EQ(std::memcmp(&m.dst[0], peer_v4, 4), 0);
    EXPECT_TRUE(std::equal(peer_mac.begin(), peer_mac.end(), r.begin()));
    EXPECT_TRUE(std::equal(our_mac.begin(), our_mac.end(), r.begin() + 6));
    EXPECT_EQ(l4_check(r, m), 0);
    Bytes r6 = synack_for(seg6(0x02, 7, 0), 12345);
    ASSERT_EQ(r6.size(), 74u);
    m = parsed(r6);
    EXPECT_EQ(rd32(r6.data() + m.l4_offset + 8), 12345u);
    EXPECT_EQ(std::memcmp(m.src, far_v6, 16), 0);
    EXPECT_EQ(l4_check(r6, m), 0);
}

TEST(SynAckCookie, OnlyForAPlainSyn) {
    EXPECT_TRUE(synack_for(seg4(0x12, 1, 1), 5).empty()); // SYN+ACK
    EXPECT_TRUE(synack_for(seg4(0x03, 1, 0), 5).empty()); // SYN+FIN
    EXPECT_TRUE(synack_for(seg4(0x06, 1, 0), 5).empty()); // SYN+RST
    EXPECT_TRUE(synack_for(seg4(0x10, 1, 1), 5).empty()); // ACK
    EXPECT_TRUE(synack_for(seg4(0x02, 1, 0), 5, 53).empty());
    const uint8_t bcast[4] = {255, 255, 255, 255};
    EXPECT_TRUE(synack_for(seg4(0x02, 1, 0, 0, bcast, far_v4), 5).empty());
    Bytes frag =
        cat({eth(our_mac, peer_mac, 0x0800), ipv4(6, tcp(0x02, 1, 0), peer_v4, far_v4, 0x2000)});
    EXPECT_TRUE(synack_for(frag, 5).empty());
}

// SPDX-License-Identifier: GPL-2.0-or-later
// Unit tests of parse_frame, the ICMP error helpers and the checksum helpers: well-formed
// frames of every kind, one crafted frame per drop reason (R128-g, R128-e), truncation.
#include "dataplane/parse.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <initializer_list>
#include <vector>

using namespace qorgan::dp;

namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes &b, size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes &p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

// Reference checksum, written independently of csum_partial: big-endian words.
uint16_t ref_csum(const Bytes &b, size_t from, size_t len) {
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i += 2) {
        sum += (b[from + i] << 8) | (i + 1 < len ? b[from + i + 1] : 0);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(~sum);
}

// Ethernet header; tags is a list of (TPID, TCI) pairs, outermost first.
Bytes eth(uint16_t type, std::initializer_list<std::pair<uint16_t, uint16_t>> tags = {}) {
    Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    for (auto [tpid, tci] : tags) {
        b.push_back(static_cast<uint8_t>(tpid >> 8));
        b.push_back(static_cast<uint8_t>(tpid));
        b.push_back(static_cast<uint8_t>(tci >> 8));
        b.push_back(static_cast<uint8_t>(tci));
    }
    b.push_back(static_cast<uint8_t>(type >> 8));
    b.push_back(static_cast<uint8_t>(type));
    return b;
}

Bytes ipv4(uint8_t proto, const Bytes &payload, const Bytes &options = {}, uint16_t frag = 0) {
    Bytes h = {0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 63, proto, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7};
    h[0] = static_cast<uint8_t>(0x40 | ((20 + options.size()) / 4));
    h.insert(h.end(), options.begin(), options.end());
    put16(h, 2, static_cast<uint16_t>(h.size() + payload.size()));
    put16(h, 6, frag);
    put16(h, 10, ref_csum(h, 0, h.size()));
    h.insert(h.end(), payload.begin(), payload.end());
    return h;
}

// Re-computes the IPv4 header checksum of a frame after a test edited the header.
void fix_ipv4_csum(Bytes &f, size_t l3) {
    const size_t ihl = (f[l3] & 0x0f) * 4u;
    put16(f, l3 + 10, 0);
    put16(f, l3 + 10, ref_csum(f, l3, ihl));
}

const uint8_t v6_src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t v6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

Bytes ipv6(uint8_t next, const Bytes &payload) {
    Bytes h = {0x60, 0, 0, 0, 0, 0, next, 62};
    put16(h, 4, static_cast<uint16_t>(payload.size()));
    h.insert(h.end(), v6_src, v6_src + 16);
    h.insert(h.end(), v6_dst, v6_dst + 16);
    h.insert(h.end(), payload.begin(), payload.end());
    return h;
}

// Extension header of the given next-header value and total length (multiple of 8).
Bytes ext(uint8_t next, size_t len) {
    Bytes e(len, 0);
    e[0] = next;
    e[1] = static_cast<uint8_t>(len / 8 - 1);
    return e;
}

Bytes frag6(uint8_t next, uint16_t offset_units, bool more) {
    Bytes e = {next, 0, 0, 0, 0, 0, 0, 42};
    put16(e, 2, static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0)));
    return e;
}

Bytes tcp(uint8_t flags, const Bytes &payload = {}, const Bytes &options = {}) {
    Bytes t = {0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 100, 0, 0, 0, 200, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
    t[12] = static_cast<uint8_t>(((20 + options.size()) / 4) << 4);
    t[13] = flags;
    t.insert(t.end(), options.begin(), options.end());
    t.insert(t.end(), payload.begin(), payload.end());
    return t;
}

Bytes udp(const Bytes &payload = {}) {
    Bytes u = {0x30, 0x39, 0x00, 0x35, 0, 0, 0, 0};
    put16(u, 4, static_cast<uint16_t>(8 + payload.size()));
    u.insert(u.end(), payload.begin(), payload.end());
    return u;
}

Bytes icmp(uint8_t type, uint8_t code, uint16_t id, const Bytes &payload = {}) {
    Bytes m = {type, code, 0, 0, 0, 0, 0, 1};
    put16(m, 4, id);
    m.insert(m.end(), payload.begin(), payload.end());
    return m;
}

std::optional<DropReason> parse(const Bytes &f, PacketMeta &m) {
    return parse_frame(f.data(), static_cast<uint32_t>(f.size()), m);
}

DropReason reason_of(const Bytes &f) {
    PacketMeta m;
    auto r = parse(f, m);
    EXPECT_TRUE(r.has_value());
    return r.value_or(DropReason::count);
}

Bytes tcp4_frame() {
    return cat({eth(0x0800), ipv4(6, tcp(0x18, Bytes(10, 0xaa)))});
}
Bytes tcp6_frame() {
    return cat({eth(0x86dd), ipv6(6, tcp(0x18, Bytes(10, 0xaa)))});
}

} // namespace

// --- well-formed frames ------------------------------------------------------------

TEST(ParseOk, TcpOverIpv4) {
    PacketMeta m;
    m.in_port = 3;
    Bytes f = tcp4_frame();
    ASSERT_FALSE(parse(f, m).has_value());
    EXPECT_EQ(m.in_port, 3); // kept across parsing
    EXPECT_EQ(m.l3, L3Kind::ipv4);
    EXPECT_EQ(m.ether_type, 0x0800);
    EXPECT_EQ(m.l3_offset, 14);
    EXPECT_EQ(m.l4_offset, 34);
    EXPECT_EQ(m.l3_end, f.size());
    EXPECT_EQ(m.proto, 6);
    EXPECT_EQ(m.ttl, 63);
    EXPECT_EQ(m.tcp_flags, 0x18);
    EXPECT_EQ(m.sport, htons(1234));
    EXPECT_EQ(m.dport, htons(80));
    EXPECT_EQ(m.src[0], htonl(0xc0000201));
    EXPECT_EQ(m.dst[0], htonl(0xc6336407));
    EXPECT_EQ(m.flags, 0);
    EXPECT_EQ(m.vlan_tci, 0);
}

TEST(ParseOk, UdpOverIpv4WithEthernetPadding) {
    Bytes f = cat({eth(0x0800), ipv4(17, udp({1, 2})), Bytes(16, 0)});
    PacketMeta m;
    ASSERT_FALSE(parse(f, m).has_value());
    EXPECT_EQ(m.l3_end, 14 + 20 + 10); // padding is not part of the IP packet
    EXPECT_EQ(m.proto, 17);
    EXPECT_EQ(m.sport, htons(12345));
    EXPECT_EQ(m.dport, htons(53));
}

TEST(ParseOk, IcmpEchoOverIpv4UsesIdentifierAsBothPorts) {
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(1, icmp(8, 0, 0x4242))}), m).has_value());
    EXPECT_EQ(m.proto, 1);
    EXPECT_EQ(m.icmp_type, 8);
    EXPECT_EQ(m.icmp_code, 0);
    EXPECT_EQ(m.sport, htons(0x4242));
    EXPECT_EQ(m.dport, htons(0x4242));
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(1, icmp(0, 0, 0x77))}), m).has_value());
    EXPECT_EQ(m.sport, htons(0x77));
}

TEST(ParseOk, IcmpNonEchoHasNoPorts) {
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(1, icmp(3, 13, 0x4242))}), m).has_value());
    EXPECT_EQ(m.icmp_type, 3);
    EXPECT_EQ(m.icmp_code, 13);
    EXPECT_EQ(m.sport, 0);
    EXPECT_EQ(m.dport, 0);
}

TEST(ParseOk, OtherProtocolHasNoPorts) {
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(47, Bytes(12, 1))}), m).has_value());
    EXPECT_EQ(m.proto, 47);
    EXPECT_EQ(m.sport, 0);
    EXPECT_EQ(m.dport, 0);
    // ICMPv4 numbers inside IPv6 are just another protocol.
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(1, Bytes(2, 0))}), m).has_value());
    EXPECT_EQ(m.proto, 1);
    EXPECT_EQ(m.icmp_type, 0);
}

TEST(ParseOk, TcpOverIpv6) {
    PacketMeta m;
    Bytes f = tcp6_frame();
    ASSERT_FALSE(parse(f, m).has_value());
    EXPECT_EQ(m.l3, L3Kind::ipv6);
    EXPECT_EQ(m.l4_offset, 54);
    EXPECT_EQ(m.l3_end, f.size());
    EXPECT_EQ(m.ttl, 62);
    EXPECT_EQ(m.proto, 6);
    EXPECT_EQ(m.sport, htons(1234));
    EXPECT_EQ(std::memcmp(m.src, v6_src, 16), 0);
    EXPECT_EQ(std::memcmp(m.dst, v6_dst, 16), 0);
    EXPECT_EQ(m.flags, 0);
}

TEST(ParseOk, TcpWithOptions) {
    PacketMeta m;
    Bytes opts = {2, 4, 0x05, 0xb4}; // MSS
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(6, tcp(0x02, {}, opts))}), m).has_value());
    EXPECT_EQ(m.tcp_flags, 0x02);
}

TEST(ParseOk, UdpAndIcmpv6OverIpv6) {
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(17, udp({9}))}), m).has_value());
    EXPECT_EQ(m.proto, 17);
    EXPECT_EQ(m.dport, htons(53));
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(58, icmp(128, 0, 0x99))}), m).has_value());
    EXPECT_EQ(m.icmp_type, 128);
    EXPECT_EQ(m.sport, htons(0x99));
    EXPECT_EQ(m.dport, htons(0x99));
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(58, icmp(129, 0, 0x98))}), m).has_value());
    EXPECT_EQ(m.sport, htons(0x98));
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(58, icmp(1, 4, 0x98))}), m).has_value());
    EXPECT_EQ(m.sport, 0);
    EXPECT_EQ(m.icmp_code, 4);
}

TEST(ParseOk, SingleVlanTag) {
    PacketMeta m;
    Bytes f = cat({eth(0x0800, {{0x8100, 0x2064}}), ipv4(17, udp())});
    ASSERT_FALSE(parse(f, m).has_value());
    EXPECT_EQ(m.vlan_tci, 0x2064);
    EXPECT_TRUE(m.flags & meta_vlan);
    EXPECT_EQ(m.l3_offset, 18);
    EXPECT_EQ(m.l4_offset, 38);
}

TEST(ParseOk, QinQKeepsInnermostTci) {
    PacketMeta m;
    Bytes f = cat({eth(0x86dd, {{0x88a8, 0x0010}, {0x8100, 0x0020}}), ipv6(6, tcp(0x10))});
    ASSERT_FALSE(parse(f, m).has_value());
    EXPECT_EQ(m.vlan_tci, 0x0020);
    EXPECT_EQ(m.l3_offset, 22);
    EXPECT_EQ(m.ether_type, 0x86dd);
    EXPECT_EQ(m.proto, 6);
}

TEST(ParseOk, Ipv4Options) {
    // NOP, Record Route (7 bytes, one slot), EOL, pad: 12 bytes of options.
    Bytes opts = {1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0, 0};
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(6, tcp(0x02), opts)}), m).has_value());
    EXPECT_TRUE(m.flags & meta_ip_options);
    EXPECT_EQ(m.flags & (meta_record_route | meta_source_route), meta_record_route);
    EXPECT_EQ(m.l4_offset, 14 + 32);
    EXPECT_EQ(m.sport, htons(1234));
    // Options filling the header exactly, without EOL.
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(6, tcp(0x02), {1, 1, 1, 1})}), m).has_value());
    EXPECT_EQ(m.l4_offset, 14 + 24);
}

TEST(ParseOk, Ipv6ExtensionChain) {
    // Hop-by-Hop, Destination Options, Routing, AH (16 bytes: length field 2), TCP.
    Bytes ah = {6, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    Bytes chain = cat({ext(60, 8), ext(43, 24), ext(51, 8), ah, tcp(0x02)});
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(0, chain)}), m).has_value());
    EXPECT_TRUE(m.flags & meta_ip_options);
    EXPECT_EQ(m.proto, 6);
    EXPECT_EQ(m.l4_offset, 14 + 40 + 8 + 24 + 8 + 16);
    EXPECT_EQ(m.dport, htons(80));
}

TEST(ParseOk, Ipv6LongestChainInRfc8200Order) {
    // Hop-by-Hop, Destination Options, Routing, Fragment (first), AH, Destination Options,
    // UDP: every header in its place, Destination Options twice.
    Bytes ah = {60, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    Bytes chain =
        cat({ext(60, 8), ext(43, 8), ext(44, 8), frag6(51, 0, true), ah, ext(17, 8), udp()});
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(0, chain)}), m).has_value());
    EXPECT_EQ(m.proto, 17);
    EXPECT_EQ(m.l4_offset, 14 + 40 + 8 + 8 + 8 + 8 + 16 + 8);
    EXPECT_EQ(m.flags & (meta_fragment | meta_later_fragment), meta_fragment);
    // Each place may be skipped: Hop-by-Hop, Destination Options, Fragment; and two
    // Destination Options with nothing between them (before Routing, and last).
    ASSERT_FALSE(parse(cat({eth(0x86dd),
                            ipv6(0, cat({ext(60, 8), ext(44, 8), frag6(6, 0, true), tcp(0x02)}))}),
                       m)
                     .has_value());
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(60, cat({ext(60, 8), ext(17, 8), udp()}))}), m));
    EXPECT_EQ(m.proto, 17);
}

TEST(ParseOk, Ipv6EspAndNoNextHeaderStopTheChain) {
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(50, Bytes(3, 0xee))}), m).has_value());
    EXPECT_EQ(m.proto, 50);
    EXPECT_EQ(m.l4_offset, 54);
    EXPECT_EQ(m.flags, 0);
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(60, cat({ext(59, 8), Bytes(5, 1)}))}), m));
    EXPECT_EQ(m.proto, 59);
    EXPECT_EQ(m.l4_offset, 62);
    EXPECT_TRUE(m.flags & meta_ip_options);
}

TEST(ParseOk, Ipv4FirstAndLaterFragments) {
    PacketMeta m;
    // First fragment (MF, offset 0): ports parsed, UDP length may exceed this fragment.
    Bytes u = udp(Bytes(8, 0));
    put16(u, 4, 1000);
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(17, u, {}, 0x2000)}), m).has_value());
    EXPECT_EQ(m.flags & (meta_fragment | meta_later_fragment), meta_fragment);
    EXPECT_EQ(m.dport, htons(53));
    // Later fragment: no L4 parsing even though the bytes look like a header.
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(17, udp(), {}, 0x0010)}), m).has_value());
    EXPECT_EQ(m.flags & (meta_fragment | meta_later_fragment), meta_fragment | meta_later_fragment);
    EXPECT_EQ(m.proto, 17);
    EXPECT_EQ(m.sport, 0);
    EXPECT_EQ(m.dport, 0);
    // A later fragment of a few bytes is fine: no L4 header is expected in it.
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(6, {1, 2}, {}, 0x0020)}), m).has_value());
}

TEST(ParseOk, Ipv4SourceRouteAndRecordRouteAreReportedNotDropped) {
    const uint8_t route_flags = meta_source_route | meta_record_route;
    PacketMeta m;
    // LSRR and SSRR (one address each, pointer 4), then EOL.
    for (uint8_t type : {131, 137}) {
        Bytes opts = {type, 7, 4, 198, 51, 100, 9, 0};
        ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(17, udp(), opts)}), m).has_value()) << int(type);
        EXPECT_EQ(m.flags & route_flags, meta_source_route) << int(type);
        EXPECT_TRUE(m.flags & meta_ip_options);
    }
    // Both at once, behind a NOP.
    Bytes both = {1, 131, 7, 4, 198, 51, 100, 9, 7, 7, 4, 0, 0, 0, 0, 0};
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(6, tcp(0x02), both)}), m).has_value());
    EXPECT_EQ(m.flags & route_flags, route_flags);
    // Bytes after EOL are padding, not options.
    Bytes after_eol = {0, 131, 7, 4, 0, 0, 0, 0};
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(17, udp(), after_eol)}), m).has_value());
    EXPECT_EQ(m.flags & route_flags, 0);
    // Other options (Router Alert) set neither.
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(17, udp(), {148, 4, 0, 0})}), m).has_value());
    EXPECT_EQ(m.flags & route_flags, 0);
}

TEST(ParseOk, Ipv6FirstAndLaterFragments) {
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(44, cat({frag6(6, 0, true), tcp(0x02)}))}), m));
    EXPECT_EQ(m.flags & (meta_fragment | meta_later_fragment | meta_ip_options),
              meta_fragment | meta_ip_options);
    EXPECT_EQ(m.proto, 6);
    EXPECT_EQ(m.sport, htons(1234));
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(44, cat({frag6(6, 100, false), {1, 2, 3}}))}), m));
    EXPECT_TRUE(m.flags & meta_later_fragment);
    EXPECT_EQ(m.proto, 6);
    EXPECT_EQ(m.l4_offset, 14 + 40 + 8);
    EXPECT_EQ(m.sport, 0);
}

TEST(ParseOk, Arp) {
    Bytes arp = {0,   1, 8, 0, 6, 4, 0, 1, 2, 0, 0,   0, 0, 1,
                 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 254};
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x0806), arp, Bytes(18, 0)}), m).has_value());
    EXPECT_EQ(m.l3, L3Kind::arp);
    EXPECT_EQ(m.l3_end, 14 + 28);
    arp[7] = 2;
    ASSERT_FALSE(parse(cat({eth(0x0806, {{0x8100, 5}}), arp}), m).has_value());
    EXPECT_EQ(m.l3_offset, 18);
}

TEST(ParseOk, FrameLongerThan64KiBIsReadOnlyToItsFirst65535Bytes) {
    // A 65535-byte IPv4 packet behind Ethernet would end past offset 0xffff, so its length
    // field claims bytes beyond what is read.
    Bytes f = cat({eth(0x0800), ipv4(17, udp(Bytes(65535 - 28, 0))), Bytes(100, 0)});
    EXPECT_EQ(reason_of(f), DropReason::ipv4_bad_total_length);
}

// --- one frame per drop reason (R128-g: malformed input is a counted drop; R128-e) -------

TEST(ParseDrop, EthTruncated_R128g) {
    EXPECT_EQ(reason_of(Bytes(13, 0)), DropReason::eth_truncated);
    EXPECT_EQ(reason_of(Bytes{}), DropReason::eth_truncated);
}

TEST(ParseDrop, VlanTruncated_R128g) {
    Bytes f = eth(0x0800, {{0x8100, 1}});
    f.resize(16); // the tag's TCI is there, the inner EtherType is not
    EXPECT_EQ(reason_of(f), DropReason::vlan_truncated);
    Bytes g = eth(0x0800, {{0x88a8, 1}, {0x8100, 2}});
    g.resize(20);
    EXPECT_EQ(reason_of(g), DropReason::vlan_truncated);
}

TEST(ParseDrop, UnsupportedEthertype_R128g) {
    EXPECT_EQ(reason_of(cat({eth(0x88cc), Bytes(40, 0)})), DropReason::unsupported_ethertype);
    // A third tag is not accepted.
    EXPECT_EQ(
        reason_of(cat({eth(0x0800, {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}}), ipv4(17, udp())})),
        DropReason::unsupported_ethertype);
}

TEST(ParseDrop, ArpMalformed_R128g) {
    const Bytes arp = {0,   1, 8, 0, 6, 4, 0, 1, 2, 0, 0,   0, 0, 1,
                       192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 254};
    EXPECT_EQ(reason_of(cat({eth(0x0806), Bytes(arp.begin(), arp.end() - 1)})),
              DropReason::arp_malformed);
    for (auto [at, value] : {std::pair{1, 6}, {2, 0x86}, {4, 8}, {5, 16}, {7, 3}, {7, 0}}) {
        Bytes bad = arp;
        bad[at] = static_cast<uint8_t>(value);
        EXPECT_EQ(reason_of(cat({eth(0x0806), bad})), DropReason::arp_malformed) << at;
    }
}

TEST(ParseDrop, Ipv4Truncated_R128g) {
    Bytes f = cat({eth(0x0800), ipv4(17, udp())});
    f.resize(14 + 19);
    EXPECT_EQ(reason_of(f), DropReason::ipv4_truncated);
    Bytes g = cat({eth(0x0800), ipv4(17, udp({1, 2, 3}))});
    g.pop_back(); // total length says one byte more than is present: a length that lies
    EXPECT_EQ(reason_of(g), DropReason::ipv4_bad_total_length);
}

TEST(ParseDrop, Ipv4BadVersion_R128g) {
    Bytes f = cat({eth(0x0800), ipv4(17, udp())});
    f[14] = 0x65;
    EXPECT_EQ(reason_of(f), DropReason::ipv4_bad_version);
}

TEST(ParseDrop, Ipv4BadIhl_R128g) {
    Bytes f = cat({eth(0x0800), ipv4(17, udp())});
    f[14] = 0x44;
    fix_ipv4_csum(f, 14);
    EXPECT_EQ(reason_of(f), DropReason::ipv4_bad_ihl);
}

TEST(ParseDrop, Ipv4BadTotalLength_R128g) {
    Bytes f = cat({eth(0x0800), ipv4(17, udp(), {1, 1, 1, 0})});
    put16(f, 16, 20); // shorter than the 24-byte header
    fix_ipv4_csum(f, 14);
    EXPECT_EQ(reason_of(f), DropReason::ipv4_bad_total_length);
}

TEST(ParseDrop, Ipv4BadChecksum_R128g) {
    Bytes f = cat({eth(0x0800), ipv4(17, udp())});
    f[14 + 8] ^= 1; // TTL changed without a checksum update
    EXPECT_EQ(reason_of(f), DropReason::ipv4_bad_checksum);
}

TEST(ParseDrop, Ipv4BadOptions_R128g) {
    const Bytes cases[] = {
        {1, 1, 1, 7},               // TLV without room for its length byte
        {7, 1, 0, 0},               // length 1 < 2
        {7, 0, 0, 0},               // length 0
        {1, 7, 8, 0},               // length runs past the header
        {130, 4, 0, 0, 7, 5, 0, 0}, // second TLV overruns
    };
    for (const Bytes &opts : cases) {
        EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(17, udp(), opts)})),
                  DropReason::ipv4_bad_options);
    }
}

TEST(ParseDrop, Ipv6Truncated_R128g) {
    Bytes f = cat({eth(0x86dd), ipv6(59, {})});
    f.pop_back();
    EXPECT_EQ(reason_of(f), DropReason::ipv6_truncated);
}

TEST(ParseDrop, Ipv6BadVersion_R128g) {
    Bytes f = cat({eth(0x86dd), ipv6(59, {})});
    f[14] = 0x40;
    EXPECT_EQ(reason_of(f), DropReason::ipv6_bad_version);
}

TEST(ParseDrop, Ipv6BadPayloadLength_R128g) {
    Bytes f = cat({eth(0x86dd), ipv6(17, udp())});
    put16(f, 18, 9); // one byte more than present
    EXPECT_EQ(reason_of(f), DropReason::ipv6_bad_payload_length);
}

TEST(ParseDrop, Ipv6BadExtHeader_R128g) {
    // Hop-by-Hop not directly after the fixed header.
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(60, cat({ext(0, 8), ext(17, 8), udp()}))})),
              DropReason::ipv6_bad_ext_header);
    // Header length runs past the payload.
    Bytes longer = ext(17, 8);
    longer[1] = 1; // claims 16 bytes, 8 present
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(43, longer)})), DropReason::ipv6_bad_ext_header);
    // Only one byte left: no room for the length field.
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(60, {17})})), DropReason::ipv6_bad_ext_header);
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(51, {17})})), DropReason::ipv6_bad_ext_header);
    // AH claiming (4 + 2) * 4 = 24 bytes with 16 present.
    Bytes ah(16, 0);
    ah[0] = 17;
    ah[1] = 4;
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(51, ah)})), DropReason::ipv6_bad_ext_header);
    // Fragment header cut short.
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(44, Bytes(7, 0))})),
              DropReason::ipv6_bad_ext_header);
    // Jumbogram: payload length 0 with a Hop-by-Hop header in the bytes that follow.
    Bytes jumbo = cat({eth(0x86dd), ipv6(0, cat({ext(17, 8), udp()}))});
    put16(jumbo, 18, 0);
    EXPECT_EQ(reason_of(jumbo), DropReason::ipv6_bad_ext_header);
}

// ipv6_ext_chain_too_long is no longer reachable from parse_frame: the RFC 8200 order
// admits at most six extension headers, and a longer chain repeats one of them.
TEST(ParseDrop, Ipv6ExtOrder) {
    const auto v6 = [](uint8_t first, const Bytes &chain) {
        return reason_of(cat({eth(0x86dd), ipv6(first, cat({chain, udp()}))}));
    };
    // Nine Destination Options headers (the old chain-length test): the third is out of place.
    Bytes dests;
    for (int i = 0; i < 9; ++i) {
        dests = cat({dests, ext(i == 8 ? 17 : 60, 8)});
    }
    EXPECT_EQ(v6(60, dests), DropReason::ipv6_ext_order);
    EXPECT_EQ(v6(60, cat({ext(60, 8), ext(60, 8), ext(17, 8)})), DropReason::ipv6_ext_order);
    // Routing twice; Fragment twice; AH twice.
    EXPECT_EQ(v6(43, cat({ext(43, 8), ext(17, 8)})), DropReason::ipv6_ext_order);
    EXPECT_EQ(v6(44, cat({frag6(44, 0, true), frag6(17, 0, true)})), DropReason::ipv6_ext_order);
    Bytes ah = {51, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    Bytes ah_udp = ah;
    ah_udp[0] = 17;
    EXPECT_EQ(v6(51, cat({ah, ah_udp})), DropReason::ipv6_ext_order);
    // Backwards: Routing after Fragment, Fragment after AH, Routing after the last
    // Destination Options.
    EXPECT_EQ(v6(44, cat({frag6(43, 0, true), ext(17, 8)})), DropReason::ipv6_ext_order);
    Bytes ah_frag = ah;
    ah_frag[0] = 44;
    EXPECT_EQ(v6(51, cat({ah_frag, frag6(17, 0, true)})), DropReason::ipv6_ext_order);
    EXPECT_EQ(v6(43, cat({ext(60, 8), ext(43, 8), ext(17, 8)})), DropReason::ipv6_ext_order);
    // Destination Options between Routing and AH (it belongs before Routing or after AH).
    Bytes ah_tcp = ah;
    ah_tcp[0] = 17;
    EXPECT_EQ(v6(0, cat({ext(43, 8), ext(60, 8), ext(51, 8), ah_tcp})), DropReason::ipv6_ext_order);
    // The same checks hold before the Fragment header of a later fragment.
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(43, cat({ext(43, 8), ext(44, 8), frag6(17, 5, false),
                                                        Bytes(8, 0)}))})),
              DropReason::ipv6_ext_order);
}

TEST(ParseDrop, Ipv6FirstFragmentWithoutTheWholeChain_Rfc7112) {
    const auto first = [](const Bytes &after_frag, uint8_t next) {
        return reason_of(cat({eth(0x86dd), ipv6(44, cat({frag6(next, 0, true), after_frag}))}));
    };
    Bytes t = tcp(0x02);
    t.resize(19);
    EXPECT_EQ(first(t, 6), DropReason::ipv6_frag_chain_incomplete);
    EXPECT_EQ(first(Bytes(7, 0), 17), DropReason::ipv6_frag_chain_incomplete);
    EXPECT_EQ(first(Bytes(7, 0), 58), DropReason::ipv6_frag_chain_incomplete);
    EXPECT_EQ(first({}, 6), DropReason::ipv6_frag_chain_incomplete);
    // The chain itself runs past the fragment: a Destination Options header cut short, one
    // with no room for its length, an AH cut short.
    Bytes dest = ext(17, 16);
    dest.resize(8);
    EXPECT_EQ(first(dest, 60), DropReason::ipv6_frag_chain_incomplete);
    EXPECT_EQ(first({17}, 60), DropReason::ipv6_frag_chain_incomplete);
    Bytes ah = {17, 2, 0, 0, 0, 0, 0, 1}; // claims (2 + 2) * 4 = 16 bytes
    EXPECT_EQ(first(ah, 51), DropReason::ipv6_frag_chain_incomplete);
    // Behind Hop-by-Hop, and for an atomic fragment (offset 0, M clear) too.
    EXPECT_EQ(
        reason_of(cat({eth(0x86dd), ipv6(0, cat({ext(44, 8), frag6(17, 0, true), Bytes(4, 0)}))})),
        DropReason::ipv6_frag_chain_incomplete);
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(44, cat({frag6(6, 0, false), t}))})),
              DropReason::ipv6_frag_chain_incomplete);
    // Whole headers are fine, and an upper layer with no known header has nothing to check.
    PacketMeta m;
    ASSERT_FALSE(
        parse(cat({eth(0x86dd), ipv6(44, cat({frag6(60, 0, true), ext(17, 8), udp()}))}), m));
    EXPECT_EQ(m.proto, 17);
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(44, frag6(47, 0, true))}), m).has_value());
    EXPECT_EQ(m.proto, 47);
    // A later fragment carries no header to check.
    ASSERT_FALSE(parse(cat({eth(0x86dd), ipv6(44, cat({frag6(6, 1, true), {1}}))}), m));
    // Without a Fragment header a cut chain is just malformed.
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(60, {17})})), DropReason::ipv6_bad_ext_header);
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(6, t)})), DropReason::tcp_truncated);
}

TEST(ParseDrop, Ipv4TinyTcpFragments_Rfc1858) {
    // First fragment (MF, offset 0) shorter than the 20-byte TCP header.
    Bytes t = tcp(0x02);
    t.resize(16); // up to the flags and the window: still too short (see parse.cpp)
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(6, t, {}, 0x2000)})), DropReason::frag_tiny);
    t.resize(8);
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(6, t, {}, 0x2000)})), DropReason::frag_tiny);
    PacketMeta m;
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(6, tcp(0x02), {}, 0x2000)}), m).has_value());
    EXPECT_EQ(m.tcp_flags, 0x02);
    // The same length without fragmentation is a cut segment, not an attack.
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(6, t)})), DropReason::tcp_truncated);
    // A later TCP fragment at offset 8 (offset field 1), with or without MF.
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(6, Bytes(16, 0), {}, 0x2001)})),
              DropReason::frag_tiny);
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(6, Bytes(16, 0), {}, 0x0001)})),
              DropReason::frag_tiny);
    // Offset 16 for TCP, and offset 8 for other protocols, are ordinary later fragments.
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(6, Bytes(16, 0), {}, 0x0002)}), m).has_value());
    ASSERT_FALSE(parse(cat({eth(0x0800), ipv4(17, Bytes(16, 0), {}, 0x0001)}), m).has_value());
    // UDP and ICMP first fragments keep their own truncation reasons.
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(17, Bytes(7, 0), {}, 0x2000)})),
              DropReason::udp_truncated);
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(1, Bytes(7, 0), {}, 0x2000)})),
              DropReason::icmp_truncated);
}

TEST(ParseDrop, TcpTruncated_R128g) {
    Bytes t = tcp(0x02);
    t.resize(19);
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(6, t)})), DropReason::tcp_truncated);
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(6, t)})), DropReason::tcp_truncated);
}

TEST(ParseDrop, TcpBadDataOffset_R128g) {
    Bytes t = tcp(0x02, Bytes(4, 0));
    t[12] = 0x40; // 16 bytes
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(6, t)})), DropReason::tcp_bad_data_offset);
    t[12] = 0x60; // 24 bytes: fits
    PacketMeta m;
    EXPECT_FALSE(parse(cat({eth(0x0800), ipv4(6, t)}), m).has_value());
    t[12] = 0x70; // 28 bytes: past the segment
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(6, t)})), DropReason::tcp_bad_data_offset);
}

TEST(ParseDrop, UdpTruncated_R128g) {
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(17, Bytes(7, 0))})), DropReason::udp_truncated);
}

TEST(ParseDrop, UdpBadLength_R128g) {
    Bytes u = udp({1, 2});
    put16(u, 4, 7);
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(17, u)})), DropReason::udp_bad_length);
    put16(u, 4, 11);
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(17, u)})), DropReason::udp_bad_length);
    // UDP length is checked against the IP payload, not the Ethernet padding.
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(17, u), Bytes(10, 0)})), DropReason::udp_bad_length);
}

TEST(ParseDrop, IcmpTruncated_R128g) {
    EXPECT_EQ(reason_of(cat({eth(0x0800), ipv4(1, Bytes(7, 0))})), DropReason::icmp_truncated);
}

TEST(ParseDrop, Icmpv6Truncated_R128g) {
    // 4 bytes is ICMPv6's fixed header; 8 are required (see parse.cpp).
    EXPECT_EQ(reason_of(cat({eth(0x86dd), ipv6(58, Bytes(4, 0))})), DropReason::icmpv6_truncated);
}

// --- truncation: every cut of a valid frame (R128-g) --------------------------------------

namespace {
void check_every_cut(const Bytes &full, uint32_t header_end) {
    PacketMeta m;
    ASSERT_FALSE(parse(full, m).has_value());
    ASSERT_EQ(m.l4_offset + 20u, header_end);
    for (size_t cut = 0; cut < full.size(); ++cut) {
        // Exactly sized: an over-read is a heap overflow under ASan.
        Bytes part(full.begin(), full.begin() + static_cast<long>(cut));
        PacketMeta pm;
        auto r = parse_frame(part.data(), static_cast<uint32_t>(part.size()), pm);
        EXPECT_TRUE(r.has_value()) << "cut " << cut; // length fields then lie
    }
}
} // namespace

TEST(ParseTruncation, EveryCutOfTcpIpv4IsDropped_R128g) {
    check_every_cut(tcp4_frame(), 54);
}

TEST(ParseTruncation, EveryCutOfTcpIpv6IsDropped_R128g) {
    check_every_cut(tcp6_frame(), 74);
}

TEST(ParseTruncation, EveryCutOfIpv6ChainIsDropped_R128g) {
    Bytes f =
        cat({eth(0x86dd, {{0x8100, 7}}), ipv6(0, cat({ext(44, 8), frag6(6, 0, true), tcp(0x02)}))});
    check_every_cut(f, 18 + 40 + 16 + 20);
}

// --- ICMP errors ---------------------------------------------------------------------

TEST(IcmpError, Classification) {
    PacketMeta m;
    m.l3 = L3Kind::ipv4;
    m.proto = 1;
    for (uint8_t t : {3, 11, 12}) {
        m.icmp_type = t;
        EXPECT_TRUE(is_icmp_error(m)) << int(t);
    }
    for (uint8_t t : {0, 4, 5, 8}) {
        m.icmp_type = t;
        EXPECT_FALSE(is_icmp_error(m)) << int(t);
    }
    m.l3 = L3Kind::ipv6;
    m.proto = 58;
    for (uint8_t t : {1, 2, 3, 4}) {
        m.icmp_type = t;
        EXPECT_TRUE(is_icmp_error(m)) << int(t);
    }
    for (uint8_t t : {0, 128, 135, 137}) {
        m.icmp_type = t;
        EXPECT_FALSE(is_icmp_error(m)) << int(t);
    }
    m.proto = 1; // ICMPv4 numbers over IPv6
    m.icmp_type = 3;
    EXPECT_FALSE(is_icmp_error(m));
}

namespace {
// The packet 192.0.2.1:1234 -> 198.51.100.7:80 that a router answered with an error;
// the error itself travels from 203.0.113.1 to 192.0.2.1.
Bytes v4_error_with_quote(const Bytes &quote) {
    Bytes outer = ipv4(1, cat({icmp(3, 1, 0), quote}));
    outer[12] = 203;
    outer[13] = 0;
    outer[14] = 113;
    outer[15] = 1;
    outer[16] = 192;
    outer[17] = 0;
    outer[18] = 2;
    outer[19] = 1;
    Bytes f = cat({eth(0x0800), outer});
    fix_ipv4_csum(f, 14);
    return f;
}

bool inner_key(const Bytes &f, FlowKey &k) {
    PacketMeta m;
    EXPECT_FALSE(parse(f, m).has_value());
    return icmp_error_inner_key(f.data(), static_cast<uint32_t>(f.size()), m, k);
}
} // namespace

TEST(IcmpError, InnerKeyV4Tcp) {
    Bytes inner = ipv4(6, tcp(0x02));
    inner.resize(28); // RFC 792: header plus 8 bytes
    FlowKey k;
    ASSERT_TRUE(inner_key(v4_error_with_quote(inner), k));
    EXPECT_EQ(k.family, 4);
    EXPECT_EQ(k.proto, 6);
    EXPECT_EQ(k.src[0], htonl(0xc0000201));
    EXPECT_EQ(k.dst[0], htonl(0xc6336407));
    EXPECT_EQ(k.sport, htons(1234));
    EXPECT_EQ(k.dport, htons(80));
    EXPECT_EQ(k.zero, 0);
}

TEST(IcmpError, InnerKeyV4EchoAndOtherProto) {
    FlowKey k;
    ASSERT_TRUE(inner_key(v4_error_with_quote(ipv4(1, icmp(8, 0, 0x1234))), k));
    EXPECT_EQ(k.proto, 1);
    EXPECT_EQ(k.sport, htons(0x1234));
    EXPECT_EQ(k.dport, htons(0x1234));
    ASSERT_TRUE(inner_key(v4_error_with_quote(ipv4(1, icmp(13, 0, 0x1234))), k));
    EXPECT_EQ(k.sport, 0); // timestamp request: no identifier used as a port
    ASSERT_TRUE(inner_key(v4_error_with_quote(ipv4(47, {})), k));
    EXPECT_EQ(k.proto, 47);
    EXPECT_EQ(k.sport, 0);
    // Quoted later fragment: addresses and proto, no ports.
    ASSERT_TRUE(inner_key(v4_error_with_quote(ipv4(17, udp(), {}, 0x0008)), k));
    EXPECT_EQ(k.proto, 17);
    EXPECT_EQ(k.sport, 0);
}

TEST(IcmpError, InnerKeyV4TooShortOrMalformed) {
    FlowKey k;
    Bytes inner = ipv4(6, tcp(0x02));
    inner.resize(19);
    EXPECT_FALSE(inner_key(v4_error_with_quote(inner), k)); // inner IP header cut
    inner = ipv4(6, tcp(0x02));
    inner.resize(23);
    EXPECT_FALSE(inner_key(v4_error_with_quote(inner), k)); // ports cut
    inner = ipv4(1, icmp(8, 0, 1));
    inner.resize(27);
    EXPECT_FALSE(inner_key(v4_error_with_quote(inner), k)); // echo identifier cut
    inner = ipv4(6, tcp(0x02));
    inner[0] = 0x65;
    EXPECT_FALSE(inner_key(v4_error_with_quote(inner), k)); // not IPv4 inside ICMPv4
    inner[0] = 0x44;
    EXPECT_FALSE(inner_key(v4_error_with_quote(inner), k)); // IHL < 5
    inner = ipv4(6, {}, {1, 1, 1, 1});
    inner[0] = 0x4f; // 60-byte header, 24 quoted
    EXPECT_FALSE(inner_key(v4_error_with_quote(inner), k));
}

TEST(IcmpError, InnerKeyRejectsNonErrorsAndBadMeta) {
    Bytes f = cat({eth(0x0800), ipv4(1, icmp(8, 0, 1, ipv4(6, tcp(0))))});
    FlowKey k;
    EXPECT_FALSE(inner_key(f, k)); // an echo request is not an error
    Bytes e = v4_error_with_quote(ipv4(6, tcp(0x02)));
    PacketMeta m;
    ASSERT_FALSE(parse(e, m).has_value());
    EXPECT_FALSE(icmp_error_inner_key(e.data(), m.l3_end - 1, m, k)); // meta beyond len
    m.l4_offset = static_cast<uint16_t>(m.l3_end - 7);
    EXPECT_FALSE(icmp_error_inner_key(e.data(), static_cast<uint32_t>(e.size()), m, k));
}

namespace {
Bytes v6_error_with_quote(const Bytes &quote) {
    return cat({eth(0x86dd), ipv6(58, cat({icmp(1, 1, 0), quote}))});
}
} // namespace

TEST(IcmpError, InnerKeyV6UdpThroughExtensionHeaders) {
    FlowKey k;
    ASSERT_TRUE(inner_key(v6_error_with_quote(ipv6(60, cat({ext(17, 8), udp({1})}))), k));
    EXPECT_EQ(k.family, 6);
    EXPECT_EQ(k.proto, 17);
    EXPECT_EQ(std::memcmp(k.src, v6_src, 16), 0);
    EXPECT_EQ(std::memcmp(k.dst, v6_dst, 16), 0);
    EXPECT_EQ(k.sport, htons(12345));
    EXPECT_EQ(k.dport, htons(53));
    Bytes ah = {6, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    ASSERT_TRUE(
        inner_key(v6_error_with_quote(ipv6(44, cat({frag6(51, 0, true), ah, tcp(0x02)}))), k));
    EXPECT_EQ(k.proto, 6);
    EXPECT_EQ(k.dport, htons(80));
    ASSERT_TRUE(inner_key(v6_error_with_quote(ipv6(58, icmp(128, 0, 0x55))), k));
    EXPECT_EQ(k.sport, htons(0x55));
    // Quoted later fragment: proto from the fragment header, no ports.
    ASSERT_TRUE(inner_key(v6_error_with_quote(ipv6(44, cat({frag6(17, 3, false), udp()}))), k));
    EXPECT_EQ(k.proto, 17);
    EXPECT_EQ(k.sport, 0);
}

TEST(IcmpError, InnerKeyV6TooShortOrMalformed) {
    FlowKey k;
    Bytes inner = ipv6(17, udp());
    inner.resize(39);
    EXPECT_FALSE(inner_key(v6_error_with_quote(inner), k)); // fixed header cut
    EXPECT_FALSE(inner_key(v6_error_with_quote(ipv4(17, cat({udp(), Bytes(20, 0)}))), k));
    inner = ipv6(60, cat({ext(17, 16), udp()}));
    inner.resize(40 + 8);
    EXPECT_FALSE(inner_key(v6_error_with_quote(inner), k)); // ext header cut
    inner.resize(41);
    EXPECT_FALSE(inner_key(v6_error_with_quote(inner), k)); // no room for ext length
    inner = ipv6(17, udp());
    inner.resize(42);
    EXPECT_FALSE(inner_key(v6_error_with_quote(inner), k)); // ports cut
    Bytes chain;
    for (int i = 0; i < 9; ++i) {
        chain = cat({chain, ext(i == 8 ? 17 : 60, 8)});
    }
    EXPECT_FALSE(inner_key(v6_error_with_quote(ipv6(60, cat({chain, udp()}))), k));
}

// --- checksum helpers ----------------------------------------------------------------

TEST(Checksum, Rfc1071Example) {
    // RFC 1071 section 3 example: the sum of these words is ddf2, so the checksum is 220d.
    const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    const uint16_t c = csum_fold(csum_partial(data, sizeof(data), 0));
    uint8_t wire[2];
    std::memcpy(wire, &c, 2);
    EXPECT_EQ(wire[0], 0x22);
    EXPECT_EQ(wire[1], 0x0d);
}

TEST(Checksum, OddLengthAndChainingMatchReference) {
    Bytes b(1001);
    for (size_t i = 0; i < b.size(); ++i) {
        b[i] = static_cast<uint8_t>(i * 37 + 11);
    }
    const uint16_t ref = ref_csum(b, 0, b.size());
    const uint16_t one = csum_fold(csum_partial(b.data(), 1001, 0));
    const uint16_t two =
        csum_fold(csum_partial(b.data() + 500, 501, csum_partial(b.data(), 500, 0)));
    uint8_t wire[2];
    std::memcpy(wire, &one, 2);
    EXPECT_EQ((wire[0] << 8) | wire[1], ref);
    EXPECT_EQ(one, two);
    // A large running sum stays correct (the 64-bit accumulator folds back to 32 bits).
    Bytes ff(200000, 0xff);
    const uint16_t big = csum_fold(csum_partial(ff.data(), 200000, 0xffffffffu));
    EXPECT_EQ(big, 0);
}

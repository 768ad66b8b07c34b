// SPDX-License-Identifier: GPL-2.0-or-later
// Unit tests of the per-interface rule lists compiled into rte_acl (R128-g: filtering
// per interface and direction, first match wins, default deny).
#include "dataplane/acl.h"

#include <rte_acl.h>
#include <rte_malloc.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using qorgan::Location;
using qorgan::config::PortRange;
using qorgan::config::Prefix;
using qorgan::config::Rule;
using qorgan::dp::acl_key_of;
using qorgan::dp::AclKey4;
using qorgan::dp::AclKey6;
using qorgan::dp::AclMatch;
using qorgan::dp::L3Kind;
using qorgan::dp::PacketMeta;
using qorgan::dp::RuleSet;

constexpr uint8_t tcp = qorgan::config::proto_tcp;
constexpr uint8_t udp = qorgan::config::proto_udp;
constexpr uint8_t icmp = qorgan::config::proto_icmp;
constexpr uint8_t icmp6 = qorgan::config::proto_icmpv6;

Prefix v4(const char *text, uint8_t length = 32) {
    Prefix p;
    p.family = 4;
    p.length = length;
    EXPECT_EQ(inet_pton(AF_INET, text, p.bytes.data()), 1) << text;
    return p;
}

Prefix v6(const char *text, uint8_t length = 128) {
    Prefix p;
    p.family = 6;
    p.length = length;
    EXPECT_EQ(inet_pton(AF_INET6, text, p.bytes.data()), 1) << text;
    return p;
}

Rule rule(uint32_t id, uint8_t family = 0) {
    Rule r;
    r.id = id;
    r.family = family;
    r.where = Location{"acl.conf", static_cast<int>(id), 3};
    return r;
}

// A packet as the parser describes it; ports in host order here.
PacketMeta meta(uint8_t proto, const Prefix &src, const Prefix &dst, uint16_t sport = 0,
                uint16_t dport = 0) {
    PacketMeta m;
    m.l3 = src.family == 4 ? L3Kind::ipv4 : L3Kind::ipv6;
    m.proto = proto;
    std::memcpy(m.src, src.bytes.data(), 16);
    std::memcpy(m.dst, dst.bytes.data(), 16);
    m.sport = htons(sport);
    m.dport = htons(dport);
    return m;
}

PacketMeta icmp_meta(uint8_t proto, const Prefix &src, const Prefix &dst, uint8_t type,
                     uint8_t code) {
    PacketMeta m = meta(proto, src, dst, 0x1234, 0x1234); // echo id in both, as the parser does
    m.icmp_type = type;
    m.icmp_code = code;
    return m;
}

AclMatch classify(const RuleSet &set, const PacketMeta &m) {
    AclMatch result = 0xdeadbeef;
    if (m.l3 == L3Kind::ipv4) {
        AclKey4 key;
        acl_key_of(m, key);
        const AclKey4 *keys[] = {&key};
        set.classify4(keys, &result, 1);
    } else {
        AclKey6 key;
        acl_key_of(m, key);
        const AclKey6 *keys[] = {&key};
        set.classify6(keys, &result, 1);
    }
    return result;
}

std::unique_ptr<RuleSet> compile(const std::vector<Rule> &rules, uint32_t max_entries = 65536) {
    auto r = RuleSet::compile(rules, 0, max_entries);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
    return r.ok() ? std::move(r.value()) : nullptr;
}

const Prefix any4 = v4("0.0.0.0", 0);
const Prefix any6 = v6("::", 0);

// --- keys -------------------------------------------------------------------------

TEST(AclKey, Ipv4CopiesNetworkOrderFieldsAndZeroesPadding) {
    PacketMeta m = meta(tcp, v4("10.1.2.3"), v4("192.168.0.9"), 1234, 80);
    AclKey4 key;
    std::memset(&key, 0xff, sizeof(key));
    acl_key_of(m, key);
    EXPECT_EQ(key.proto, tcp);
    EXPECT_EQ(key.pad[0] | key.pad[1] | key.pad[2], 0);
    EXPECT_EQ(key.src, htonl(0x0a010203));
    EXPECT_EQ(key.dst, htonl(0xc0a80009));
    EXPECT_EQ(key.sport, htons(1234));
    EXPECT_EQ(key.dport, htons(80));
}

TEST(AclKey, IcmpTypeAndCodeReplaceThePorts) {
    AclKey4 k4;
    acl_key_of(icmp_meta(icmp, v4("1.1.1.1"), v4("2.2.2.2"), 8, 0), k4);
    EXPECT_EQ(k4.sport, htons(8));
    EXPECT_EQ(k4.dport, htons(0));
    acl_key_of(icmp_meta(icmp, v4("1.1.1.1"), v4("2.2.2.2"), 3, 13), k4);
    EXPECT_EQ(k4.sport, htons(3));
    EXPECT_EQ(k4.dport, htons(13));

    AclKey6 k6;
    std::memset(&k6, 0xff, sizeof(k6));
    acl_key_of(icmp_meta(icmp6, v6("2001:db8::1"), v6("2001:db8::2"), 128, 7), k6);
    EXPECT_EQ(k6.proto, icmp6);
    EXPECT_EQ(k6.pad[0] | k6.pad[1] | k6.pad[2], 0);
    EXPECT_EQ(k6.sport, htons(128));
    EXPECT_EQ(k6.dport, htons(7));
    EXPECT_EQ(k6.src[3], htonl(1));
    EXPECT_EQ(k6.dst[0], htonl(0x20010db8));
    EXPECT_EQ(k6.dst[3], htonl(2));
}

TEST(AclKey, IcmpOfTheOtherFamilyKeepsThePorts) {
    // Protocol 58 in IPv4 and protocol 1 in IPv6 are not ICMP of that family.
    AclKey4 k4;
    acl_key_of(icmp_meta(icmp6, v4("1.1.1.1"), v4("2.2.2.2"), 8, 0), k4);
    EXPECT_EQ(k4.sport, htons(0x1234));
    AclKey6 k6;
    acl_key_of(icmp_meta(icmp, v6("::1"), v6("::2"), 8, 0), k6);
    EXPECT_EQ(k6.sport, htons(0x1234));
    acl_key_of(meta(udp, v6("::1"), v6("::2"), 53, 5353), k6);
    EXPECT_EQ(k6.sport, htons(53));
    EXPECT_EQ(k6.dport, htons(5353));
}

// --- order and default deny ---------------------------------------------------------

TEST(RuleSet, R128g_FirstMatchInListOrderWins) {
    Rule web = rule(10);
    web.protocol = tcp;
    web.destinations = {v4("10.0.0.0", 8)};
    web.destination_ports = {{80, 80}};
    Rule all = rule(20);
    auto set = compile({web, all});
    ASSERT_TRUE(set);
    EXPECT_EQ(classify(*set, meta(tcp, v4("1.2.3.4"), v4("10.9.9.9"), 5000, 80)), 1u);
    EXPECT_EQ(classify(*set, meta(tcp, v4("1.2.3.4"), v4("10.9.9.9"), 5000, 81)), 2u);
    EXPECT_EQ(classify(*set, meta(udp, v6("::1"), v6("::2"), 1, 80)), 2u);

    // The same two rules the other way round: the broad one shadows the narrow one.
    auto reversed = compile({all, web});
    ASSERT_TRUE(reversed);
    EXPECT_EQ(classify(*reversed, meta(tcp, v4("1.2.3.4"), v4("10.9.9.9"), 5000, 80)), 1u);
    EXPECT_EQ(reversed->rules()[0].id, 20u);
}

TEST(RuleSet, R128g_OverlappingRulesMatchTheEarliest) {
    std::vector<Rule> rules;
    for (uint8_t len : {32, 24, 16, 8}) {
        Rule r = rule(len);
        r.sources = {v4("172.16.5.5", len)};
        rules.push_back(r);
    }
    auto set = compile(rules);
    ASSERT_TRUE(set);
    EXPECT_EQ(classify(*set, meta(udp, v4("172.16.5.5"), v4("1.1.1.1"))), 1u);
    EXPECT_EQ(classify(*set, meta(udp, v4("172.16.5.6"), v4("1.1.1.1"))), 2u);
    EXPECT_EQ(classify(*set, meta(udp, v4("172.16.6.5"), v4("1.1.1.1"))), 3u);
    EXPECT_EQ(classify(*set, meta(udp, v4("172.17.5.5"), v4("1.1.1.1"))), 4u);
    EXPECT_EQ(classify(*set, meta(udp, v4("173.16.5.5"), v4("1.1.1.1"))), 0u);
}

TEST(RuleSet, R128g_DefaultDenyWhenNothingMatches) {
    Rule r = rule(1);
    r.protocol = udp;
    r.sources = {v4("192.0.2.0", 24), v6("2001:db8::", 32)};
    auto set = compile({r});
    ASSERT_TRUE(set);
    EXPECT_EQ(classify(*set, meta(udp, v4("192.0.2.7"), v4("8.8.8.8"))), 1u);
    EXPECT_EQ(classify(*set, meta(tcp, v4("192.0.2.7"), v4("8.8.8.8"))), 0u);
    EXPECT_EQ(classify(*set, meta(udp, v4("192.0.3.7"), v4("8.8.8.8"))), 0u);
    EXPECT_EQ(classify(*set, meta(udp, v6("2001:db9::1"), v6("::1"))), 0u);
}

TEST(RuleSet, R128g_EmptyListDeniesEverything) {
    auto set = compile({});
    ASSERT_TRUE(set);
    EXPECT_EQ(set->entries4(), 0u);
    EXPECT_EQ(set->entries6(), 0u);
    EXPECT_TRUE(set->rules().empty());
    EXPECT_EQ(classify(*set, meta(tcp, v4("1.1.1.1"), v4("2.2.2.2"), 1, 2)), 0u);
    EXPECT_EQ(classify(*set, meta(tcp, v6("::1"), v6("::2"), 1, 2)), 0u);
}

// --- each field alone ---------------------------------------------------------------

TEST(RuleSet, Ipv4PrefixesOfSeveralLengths) {
    struct Case {
        uint8_t length;
        const char *inside;
        const char *outside; // nullptr: /0 has no outside
    };
    const Case cases[] = {{0, "255.255.255.255", nullptr},
                          {8, "10.255.255.255", "11.0.0.0"},
                          {24, "10.20.30.255", "10.20.31.0"},
                          {32, "10.20.30.40", "10.20.30.41"}};
    for (const auto &c : cases) {
        SCOPED_TRACE(int(c.length));
        for (bool as_source : {true, false}) {
            Rule r = rule(1);
            (as_source ? r.sources : r.destinations) = {v4("10.20.30.40", c.length)};
            auto set = compile({r});
            ASSERT_TRUE(set);
            auto probe = [&](const char *addr) {
                return as_source ? meta(tcp, v4(addr), v4("9.9.9.9"), 1, 1)
                                 : meta(tcp, v4("9.9.9.9"), v4(addr), 1, 1);
            };
            EXPECT_EQ(classify(*set, probe("10.20.30.40")), 1u);
            EXPECT_EQ(classify(*set, probe(c.inside)), 1u);
            if (c.outside) {
                EXPECT_EQ(classify(*set, probe(c.outside)), 0u);
            }
        }
    }
}

TEST(RuleSet, Ipv6PrefixesOfSeveralLengthsIncludingASplitWord) {
    struct Case {
        uint8_t length;
        const char *inside;
        const char *outside;
    };
    // Base 2001:db8:1:2:8000::1; /65 keeps the top bit of the third 32-bit word.
    const Case cases[] = {
        {0, "ffff::", nullptr},
        {8, "20ff::", "2101::"},
        {64, "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:3::"},
        {65, "2001:db8:1:2:ffff::", "2001:db8:1:2:7fff:ffff:ffff:ffff"},
        {128, "2001:db8:1:2:8000::1", "2001:db8:1:2:8000::2"},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(int(c.length));
        for (bool as_source : {true, false}) {
            Rule r = rule(1);
            (as_source ? r.sources : r.destinations) = {v6("2001:db8:1:2:8000::1", c.length)};
            auto set = compile({r});
            ASSERT_TRUE(set);
            EXPECT_EQ(set->entries6(), 1u);
            auto probe = [&](const char *addr) {
                return as_source ? meta(udp, v6(addr), v6("::9"), 1, 1)
                                 : meta(udp, v6("::9"), v6(addr), 1, 1);
            };
            EXPECT_EQ(classify(*set, probe("2001:db8:1:2:8000::1")), 1u);
            EXPECT_EQ(classify(*set, probe(c.inside)), 1u);
            if (c.outside) {
                EXPECT_EQ(classify(*set, probe(c.outside)), 0u);
            }
        }
    }
}

TEST(RuleSet, PortRangeEdges) {
    for (bool source : {true, false}) {
        SCOPED_TRACE(source ? "sport" : "dport");
        Rule r = rule(1);
        r.protocol = tcp;
        (source ? r.source_ports : r.destination_ports) = {{1000, 2000}};
        Rule low = rule(2);
        low.protocol = udp;
        (source ? low.source_ports : low.destination_ports) = {{0, 0}};
        Rule high = rule(3);
        high.protocol = udp;
        (source ? high.source_ports : high.destination_ports) = {{65535, 65535}};
        auto set = compile({r, low, high});
        ASSERT_TRUE(set);
        auto probe = [&](uint8_t proto, uint16_t port) {
            return source ? meta(proto, v4("1.1.1.1"), v4("2.2.2.2"), port, 7)
                          : meta(proto, v4("1.1.1.1"), v4("2.2.2.2"), 7, port);
        };
        EXPECT_EQ(classify(*set, probe(tcp, 999)), 0u);
        EXPECT_EQ(classify(*set, probe(tcp, 1000)), 1u);
        EXPECT_EQ(classify(*set, probe(tcp, 1500)), 1u);
        EXPECT_EQ(classify(*set, probe(tcp, 2000)), 1u);
        EXPECT_EQ(classify(*set, probe(tcp, 2001)), 0u);
        EXPECT_EQ(classify(*set, probe(udp, 0)), 2u);
        EXPECT_EQ(classify(*set, probe(udp, 1)), 0u);
        EXPECT_EQ(classify(*set, probe(udp, 65534)), 0u);
        EXPECT_EQ(classify(*set, probe(udp, 65535)), 3u);
        // The same ranges in IPv6 (port bytes sit at another offset there).
        auto probe6 = [&](uint16_t port) {
            return source ? meta(tcp, v6("::1"), v6("::2"), port, 7)
                          : meta(tcp, v6("::1"), v6("::2"), 7, port);
        };
        EXPECT_EQ(classify(*set, probe6(999)), 0u);
        EXPECT_EQ(classify(*set, probe6(1000)), 1u);
        EXPECT_EQ(classify(*set, probe6(2000)), 1u);
        EXPECT_EQ(classify(*set, probe6(2001)), 0u);
    }
}

TEST(RuleSet, ProtocolAnyVersusSpecific) {
    Rule gre = rule(1);
    gre.protocol = 47;
    Rule any = rule(2);
    any.sources = {v4("10.0.0.0", 8), v6("fd00::", 8)};
    auto set = compile({gre, any});
    ASSERT_TRUE(set);
    EXPECT_EQ(classify(*set, meta(47, v4("1.1.1.1"), v4("2.2.2.2"))), 1u);
    EXPECT_EQ(classify(*set, meta(47, v6("::1"), v6("::2"))), 1u);
    EXPECT_EQ(classify(*set, meta(46, v4("1.1.1.1"), v4("2.2.2.2"))), 0u);
    EXPECT_EQ(classify(*set, meta(48, v4("1.1.1.1"), v4("2.2.2.2"))), 0u);
    EXPECT_EQ(classify(*set, meta(47 | 0x80, v4("1.1.1.1"), v4("2.2.2.2"))),
              0u); // all 8 bits count
    EXPECT_EQ(classify(*set, meta(47 | 0x80, v6("::1"), v6("::2"))), 0u);
    for (uint8_t proto : {0, 1, 6, 17, 46, 48, 58, 255}) {
        EXPECT_EQ(classify(*set, meta(proto, v4("10.1.1.1"), v4("2.2.2.2"))), 2u) << int(proto);
        EXPECT_EQ(classify(*set, meta(proto, v6("fd12::1"), v6("::2"))), 2u) << int(proto);
    }
}

TEST(RuleSet, IcmpTypeOnlyAndTypeWithCode) {
    Rule unreachable_port = rule(1, 4);
    unreachable_port.protocol = icmp;
    unreachable_port.icmp_type = 3;
    unreachable_port.icmp_code = 3;
    Rule echo = rule(2, 4);
    echo.protocol = icmp;
    echo.icmp_type = 8;
    Rule echo6 = rule(3, 6);
    echo6.protocol = icmp6;
    echo6.icmp_type = 128;
    Rule too_big6 = rule(4, 6);
    too_big6.protocol = icmp6;
    too_big6.icmp_type = 2;
    too_big6.icmp_code = 0;
    auto set = compile({unreachable_port, echo, echo6, too_big6});
    ASSERT_TRUE(set);
    auto a = v4("1.1.1.1"), b = v4("2.2.2.2");
    EXPECT_EQ(classify(*set, icmp_meta(icmp, a, b, 3, 3)), 1u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp, a, b, 3, 2)), 0u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp, a, b, 3, 4)), 0u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp, a, b, 8, 0)), 2u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp, a, b, 8, 255)), 2u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp, a, b, 7, 0)), 0u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp, a, b, 9, 0)), 0u);
    EXPECT_EQ(classify(*set, meta(tcp, a, b, 8, 0)), 0u); // same port bytes, other protocol
    auto c = v6("2001:db8::1"), d = v6("2001:db8::2");
    EXPECT_EQ(classify(*set, icmp_meta(icmp6, c, d, 128, 0)), 3u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp6, c, d, 128, 200)), 3u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp6, c, d, 129, 0)), 0u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp6, c, d, 2, 0)), 4u);
    EXPECT_EQ(classify(*set, icmp_meta(icmp6, c, d, 2, 1)), 0u);
}

TEST(RuleSet, R128g_FamiliesStaySeparate) {
    Rule only4 = rule(1, 4);
    only4.protocol = tcp;
    Rule only6 = rule(2, 6);
    only6.protocol = udp;
    Rule both = rule(3, 0);
    both.protocol = 47;
    Rule mixed = rule(4, 0); // prefixes of both families: each goes to its own context
    mixed.sources = {v4("10.0.0.0", 8), v6("fd00::", 8)};
    auto set = compile({only4, only6, both, mixed});
    ASSERT_TRUE(set);
    EXPECT_EQ(set->entries4(), 3u);
    EXPECT_EQ(set->entries6(), 3u);
    EXPECT_EQ(classify(*set, meta(tcp, v4("1.1.1.1"), v4("2.2.2.2"))), 1u);
    EXPECT_EQ(classify(*set, meta(tcp, v6("::1"), v6("::2"))), 0u);
    EXPECT_EQ(classify(*set, meta(udp, v6("::1"), v6("::2"))), 2u);
    EXPECT_EQ(classify(*set, meta(udp, v4("1.1.1.1"), v4("2.2.2.2"))), 0u);
    EXPECT_EQ(classify(*set, meta(47, v4("1.1.1.1"), v4("2.2.2.2"))), 3u);
    EXPECT_EQ(classify(*set, meta(47, v6("::1"), v6("::2"))), 3u);
    EXPECT_EQ(classify(*set, meta(50, v4("10.0.0.1"), v4("2.2.2.2"))), 4u);
    EXPECT_EQ(classify(*set, meta(50, v6("fd00::1"), v6("::2"))), 4u);
    // 10.0.0.1 as the top of an IPv6 address is not 10.0.0.0/8.
    EXPECT_EQ(classify(*set, meta(50, v6("a00:1::"), v6("::2"))), 0u);

    // A list with IPv6 rules only leaves the IPv4 context empty, and the other way round.
    auto six = compile({only6});
    ASSERT_TRUE(six);
    EXPECT_EQ(six->entries4(), 0u);
    EXPECT_EQ(classify(*six, meta(udp, v4("1.1.1.1"), v4("2.2.2.2"))), 0u);
    EXPECT_EQ(classify(*six, meta(udp, v6("::1"), v6("::2"))), 1u);
    auto four = compile({only4});
    ASSERT_TRUE(four);
    EXPECT_EQ(four->entries6(), 0u);
    EXPECT_EQ(classify(*four, meta(tcp, v6("::1"), v6("::2"))), 0u);
    EXPECT_EQ(classify(*four, meta(tcp, v4("1.1.1.1"), v4("2.2.2.2"))), 1u);
}

TEST(RuleSet, SourcesTimesPortsExpansion) {
    Rule r = rule(7, 4);
    r.protocol = udp;
    r.sources = {v4("10.0.0.0", 8), v4("192.168.1.0", 24)};
    r.destinations = {v4("8.8.8.8"), v4("8.8.4.4"), v6("2001:4860::8888")};
    r.source_ports = {{1024, 65535}};
    r.destination_ports = {{53, 53}, {123, 123}, {5000, 5010}};
    auto set = compile({r});
    ASSERT_TRUE(set);
    EXPECT_EQ(set->entries4(), 2u * 2 * 1 * 3);
    EXPECT_EQ(set->entries6(), 0u); // no IPv6 source: the v6 destination has no partner
    for (const char *src : {"10.1.1.1", "192.168.1.200"})
        for (const char *dst : {"8.8.8.8", "8.8.4.4"})
            for (uint16_t dport : {53, 123, 5000, 5010}) {
                EXPECT_EQ(classify(*set, meta(udp, v4(src), v4(dst), 40000, dport)), 1u)
                    << src << " " << dst << " " << dport;
                EXPECT_EQ(classify(*set, meta(udp, v4(src), v4(dst), 1023, dport)), 0u);
            }
    EXPECT_EQ(classify(*set, meta(udp, v4("10.1.1.1"), v4("8.8.8.8"), 40000, 54)), 0u);
    EXPECT_EQ(classify(*set, meta(udp, v4("10.1.1.1"), v4("8.8.8.8"), 40000, 5011)), 0u);
    EXPECT_EQ(classify(*set, meta(udp, v4("192.168.2.1"), v4("8.8.8.8"), 40000, 53)), 0u);
    EXPECT_EQ(classify(*set, meta(udp, v4("10.1.1.1"), v4("8.8.8.9"), 40000, 53)), 0u);
}

TEST(RuleSet, ClassifiesABurstInOneCall) {
    Rule a = rule(1);
    a.destination_ports = {{1, 1}};
    Rule b = rule(2);
    b.destination_ports = {{2, 2}};
    auto set = compile({a, b});
    ASSERT_TRUE(set);
    std::vector<AclKey4> keys4(64);
    std::vector<AclKey6> keys6(64);
    std::vector<const AclKey4 *> p4;
    std::vector<const AclKey6 *> p6;
    for (unsigned i = 0; i < 64; i++) {
        acl_key_of(meta(tcp, v4("1.1.1.1"), v4("2.2.2.2"), 9, uint16_t(i % 3)), keys4[i]);
        acl_key_of(meta(tcp, v6("::1"), v6("::2"), 9, uint16_t(i % 3)), keys6[i]);
        p4.push_back(&keys4[i]);
        p6.push_back(&keys6[i]);
    }
    std::vector<AclMatch> r4(64, 99), r6(64, 99);
    set->classify4(p4.data(), r4.data(), 64);
    set->classify6(p6.data(), r6.data(), 64);
    for (unsigned i = 0; i < 64; i++) {
        EXPECT_EQ(r4[i], i % 3) << i;
        EXPECT_EQ(r6[i], i % 3) << i;
    }
}

TEST(RuleSet, ConcurrentReadersAgree) {
    Rule r = rule(1);
    r.sources = {v4("10.0.0.0", 8)};
    auto set = compile({r});
    ASSERT_TRUE(set);
    std::vector<unsigned> matched(4, 0);
    std::vector<std::thread> readers;
    for (unsigned t = 0; t < 4; t++)
        readers.emplace_back([&, t] {
            AclKey4 in, out;
            acl_key_of(meta(tcp, v4("10.2.3.4"), v4("1.1.1.1")), in);
            acl_key_of(meta(tcp, v4("11.2.3.4"), v4("1.1.1.1")), out);
            const AclKey4 *keys[] = {&in, &out};
            for (unsigned i = 0; i < 20000; i++) {
                AclMatch res[2];
                set->classify4(keys, res, 2);
                matched[t] += (res[0] == 1 && res[1] == 0);
            }
        });
    for (auto &th : readers)
        th.join();
    for (unsigned t = 0; t < 4; t++)
        EXPECT_EQ(matched[t], 20000u);
}

TEST(RuleSet, ContextsOfTwoLiveSetsAreDistinct) {
    // rte_acl_create hands back an existing context of the same name: names must differ.
    Rule a = rule(1);
    a.protocol = tcp;
    Rule b = rule(1);
    b.protocol = udp;
    auto first = compile({a});
    auto second = compile({b});
    ASSERT_TRUE(first && second);
    EXPECT_EQ(classify(*first, meta(tcp, v4("1.1.1.1"), v4("2.2.2.2"))), 1u);
    EXPECT_EQ(classify(*first, meta(udp, v4("1.1.1.1"), v4("2.2.2.2"))), 0u);
    EXPECT_EQ(classify(*second, meta(tcp, v4("1.1.1.1"), v4("2.2.2.2"))), 0u);
    EXPECT_EQ(classify(*second, meta(udp, v6("::1"), v6("::2"))), 1u);
}

// --- errors ---------------------------------------------------------------------------

TEST(RuleSet, ExpansionBeyondTheLimitNamesTheRule) {
    Rule small = rule(5);
    small.where = {"policy.conf", 12, 5};
    small.destination_ports = {{1, 1}, {2, 2}};
    Rule big = rule(10);
    big.where = {"policy.conf", 40, 9};
    big.sources = {v4("10.0.0.0", 8), v4("11.0.0.0", 8), v4("12.0.0.0", 8)};
    big.destination_ports = {{1, 1}, {2, 2}, {3, 3}};

    auto alone = RuleSet::compile({big}, 0, 8);
    ASSERT_FALSE(alone.ok());
    EXPECT_EQ(alone.error().to_string(),
              "policy.conf:40:9: rule 10 expands to 9 entries; the limit is 8");

    // Within the limit on its own, over it with the rules before it.
    auto cumulative = RuleSet::compile({small, big}, 0, 10);
    ASSERT_FALSE(cumulative.ok());
    EXPECT_EQ(cumulative.error().to_string(),
              "policy.conf:40:9: rule 10 expands to 9 entries, 11 with the rules before it; the "
              "limit is 10");

    // Exactly at the limit is fine; IPv6 entries are counted in their own context.
    auto exact = RuleSet::compile({small, big}, 0, 11);
    ASSERT_TRUE(exact.ok()) << exact.error().to_string();
    EXPECT_EQ((*exact)->entries4(), 11u);
    EXPECT_EQ((*exact)->entries6(), 2u);

    // The IPv6 side alone can overflow too.
    Rule wide6 = rule(11, 6);
    wide6.where = {"policy.conf", 41, 1};
    wide6.sources = {v6("fd00::", 8), v6("fe80::", 10)};
    auto six = RuleSet::compile({wide6}, 0, 1);
    ASSERT_FALSE(six.ok());
    EXPECT_EQ(six.error().to_string(),
              "policy.conf:41:1: rule 11 expands to 2 entries; the limit is 1");
}

TEST(RuleSet, ListLongerThanTheLimitNamesTheFirstRuleBeyondIt) {
    std::vector<Rule> rules;
    for (uint32_t id = 1; id <= 3; id++)
        rules.push_back(rule(id, 6));
    rules[2].where = {"p.conf", 7, 2};
    // The IPv4 context stays empty, so only the list length can refuse it.
    auto r = RuleSet::compile(rules, 0, 2);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().to_string(), "p.conf:7:2: rule 3: the list has 3 rules; the limit is 2");
}

size_t heap_allocated() {
    rte_malloc_socket_stats st{};
    EXPECT_EQ(rte_malloc_get_socket_stats(0, &st), 0);
    return st.heap_allocsz_bytes;
}

// Takes every byte of the EAL heap except one free hole of the given size, so that the
// next allocations beyond the hole fail; gives it all back when destroyed.
class HeapHog {
public:
    explicit HeapHog(size_t hole) {
        void *reserved = hole ? rte_malloc(nullptr, hole, 64) : nullptr;
        EXPECT_TRUE(hole == 0 || reserved != nullptr);
        for (size_t chunk = size_t{64} << 20; chunk >= 64; chunk /= 2)
            while (_chunks.size() < 100000) {
                void *p = rte_malloc(nullptr, chunk, 0);
                if (p == nullptr)
                    break;
                _chunks.push_back(p);
            }
        EXPECT_LT(_chunks.size(), 100000u);
        rte_free(reserved);
    }
    ~HeapHog() {
        for (void *p : _chunks)
            rte_free(p);
    }
    HeapHog(const HeapHog &) = delete;
    HeapHog &operator=(const HeapHog &) = delete;

private:
    std::vector<void *> _chunks;
};

TEST(RuleSet, ContextCreationFailureIsAnErrorAndLeaksNothing) {
    size_t base = heap_allocated();
    Rule r = rule(1);
    {
        HeapHog hog(0);
        size_t before = heap_allocated();
        auto set = RuleSet::compile({r}, 0, 100);
        ASSERT_FALSE(set.ok());
        EXPECT_EQ(set.error().to_string(), "IPv4 rules: cannot create an ACL context of 1 entries "
                                           "on socket 0 (no memory there, or no such socket)");
        EXPECT_EQ(heap_allocated(), before);
    }
    EXPECT_EQ(heap_allocated(), base);
    auto set = compile({r});
    ASSERT_TRUE(set);
    EXPECT_EQ(classify(*set, meta(tcp, v6("::1"), v6("::2"))), 1u);
}

// Random IPv6 host rules: their compiled trie is far larger than the context holding
// the rules, which lets a test starve the build and not the creation.
std::vector<Rule> many_v6_hosts(unsigned n, uint32_t first_id) {
    std::mt19937 rng(42);
    std::vector<Rule> rules;
    for (unsigned i = 0; i < n; i++) {
        Rule r = rule(first_id + i, 6);
        Prefix p;
        p.family = 6;
        p.length = 128;
        for (auto &b : p.bytes)
            b = static_cast<uint8_t>(rng());
        r.sources = {p};
        rules.push_back(r);
    }
    return rules;
}

TEST(RuleSet, BuildFailureIsAnErrorAndLeaksNothing) {
    Rule first = rule(1, 4);
    std::vector<Rule> v6_rules = many_v6_hosts(300, 2);
    std::vector<Rule> rules = {first};
    rules.insert(rules.end(), v6_rules.begin(), v6_rules.end());

    // Measure what each half needs from the heap.
    size_t base = heap_allocated();
    size_t need4, need6;
    {
        auto s4 = compile({first});
        ASSERT_TRUE(s4);
        need4 = heap_allocated() - base;
    }
    {
        auto s6 = compile(v6_rules);
        ASSERT_TRUE(s6);
        need6 = heap_allocated() - base;
    }
    ASSERT_EQ(heap_allocated(), base);
    size_t rules6 = v6_rules.size() * (sizeof(rte_acl_rule) + 11 * sizeof(rte_acl_field));

    // Leave one free hole: room for the IPv4 context and the IPv6 rules, not the IPv6 trie.
    const size_t hole = need4 + rules6 + 32768;
    ASSERT_GT(need6, hole + 65536) << need4 << " " << need6;
    qorgan::Result<std::unique_ptr<RuleSet>> set = qorgan::Error{};
    size_t before, after;
    {
        HeapHog hog(hole);
        before = heap_allocated();
        set = RuleSet::compile(rules, 0, 1000);
        after = heap_allocated();
    }

    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.error().to_string(),
              "IPv6 rules: cannot build 300 ACL entries: Cannot allocate memory");
    EXPECT_EQ(after, before); // the IPv4 context built first was freed as well
    EXPECT_EQ(heap_allocated(), base);

    // With the memory back, the same list compiles.
    auto again = compile(rules, 1000);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->entries4(), 1u);
    EXPECT_EQ(again->entries6(), 300u);
}

// --- random rules against a reference matcher ------------------------------------------

struct RefKey {
    uint8_t family;
    uint8_t proto;
    std::array<uint8_t, 16> src{};
    std::array<uint8_t, 16> dst{};
    uint16_t sport; // host order; ICMP type
    uint16_t dport; // ICMP code
};

bool contains(const Prefix &p, uint8_t family, const std::array<uint8_t, 16> &addr) {
    if (p.family != family)
        return false;
    for (unsigned bit = 0; bit < p.length; bit++) {
        unsigned byte = bit / 8, shift = 7 - bit % 8;
        if (((p.bytes[byte] >> shift) & 1) != ((addr[byte] >> shift) & 1))
            return false;
    }
    return true;
}

bool any_contains(const std::vector<Prefix> &list, uint8_t family,
                  const std::array<uint8_t, 16> &addr) {
    if (list.empty())
        return true;
    return std::any_of(list.begin(), list.end(),
                       [&](const Prefix &p) { return contains(p, family, addr); });
}

bool in_ranges(const std::vector<PortRange> &list, uint16_t port) {
    if (list.empty())
        return true;
    return std::any_of(list.begin(), list.end(),
                       [&](const PortRange &r) { return r.low <= port && port <= r.high; });
}

AclMatch reference(const std::vector<Rule> &rules, const RefKey &k) {
    for (size_t i = 0; i < rules.size(); i++) {
        const Rule &r = rules[i];
        if (r.family != 0 && r.family != k.family)
            continue;
        if (r.protocol && *r.protocol != k.proto)
            continue;
        if (!any_contains(r.sources, k.family, k.src) ||
            !any_contains(r.destinations, k.family, k.dst))
            continue;
        if (r.icmp_type) {
            if (k.sport != *r.icmp_type || k.dport > 255 ||
                (r.icmp_code && k.dport != *r.icmp_code))
                continue;
        } else if (!in_ranges(r.source_ports, k.sport) ||
                   !in_ranges(r.destination_ports, k.dport)) {
            continue;
        }
        return static_cast<AclMatch>(i + 1);
    }
    return 0;
}

class RandomRules {
public:
    explicit RandomRules(uint32_t seed) : _rng(seed) {}

    unsigned below(unsigned n) { return std::uniform_int_distribution<unsigned>(0, n - 1)(_rng); }

    // Addresses come from a few bases so that rules overlap and keys hit them.
    std::array<uint8_t, 16> address(uint8_t family) {
        std::array<uint8_t, 16> a{};
        unsigned base = below(4);
        unsigned width = family == 4 ? 4 : 16;
        for (unsigned i = 0; i < width; i++)
            a[i] = static_cast<uint8_t>(i < width / 2 ? 10 + base + i : below(4) * 64 + below(3));
        return a;
    }

    Prefix prefix(uint8_t family) {
        Prefix p;
        p.family = family;
        p.bytes = address(family);
        unsigned max = family == 4 ? 32 : 128;
        p.length = static_cast<uint8_t>(below(10) == 0 ? below(max + 1) : max - below(max / 4 + 1));
        return p;
    }

    PortRange ports() {
        switch (below(4)) {
        case 0:
            return {0, 65535};
        case 1: {
            uint16_t p = static_cast<uint16_t>(below(64));
            return {p, p};
        }
        default: {
            uint16_t a = static_cast<uint16_t>(below(64)), b = static_cast<uint16_t>(below(64));
            return {std::min(a, b), std::max(a, b)};
        }
        }
    }

    // Mostly narrow rules (an unconstrained rule early in the list would shadow the rest).
    Rule rule(uint32_t id) {
        Rule r = ::rule(id, static_cast<uint8_t>(below(3) == 0 ? 0 : (below(2) ? 4 : 6)));
        switch (below(8)) {
        case 0:
            break;
        case 1:
        case 2:
        case 3:
            r.protocol = tcp;
            break;
        case 4:
        case 5:
            r.protocol = udp;
            break;
        default:
            if (r.family == 0) {
                r.protocol = udp;
                break;
            }
            r.protocol = r.family == 4 ? icmp : icmp6;
            r.icmp_type = static_cast<uint8_t>(below(4));
            if (below(2))
                r.icmp_code = static_cast<uint8_t>(below(3));
        }
        auto family = [&] { return r.family ? r.family : static_cast<uint8_t>(below(2) ? 4 : 6); };
        for (unsigned n = below(8) == 0 ? 0 : 1 + below(2); n > 0; n--)
            r.sources.push_back(prefix(family()));
        for (unsigned n = below(8) == 0 ? 0 : 1 + below(2); n > 0; n--)
            r.destinations.push_back(prefix(family()));
        if (!r.icmp_type) {
            for (unsigned n = below(3); n > 0; n--)
                r.source_ports.push_back(ports());
            for (unsigned n = below(3); n > 0; n--)
                r.destination_ports.push_back(ports());
        }
        return r;
    }

    // Half the keys are random, half are aimed at one random rule (which an earlier
    // rule may still shadow), so that specific rules get hit too.
    RefKey key(const std::vector<Rule> &rules) {
        RefKey k;
        k.family = below(2) ? 4 : 6;
        const uint8_t protos[] = {tcp, udp, uint8_t(k.family == 4 ? icmp : icmp6), 47};
        k.proto = protos[below(4)];
        k.src = address(k.family);
        k.dst = address(k.family);
        bool is_icmp = k.proto == icmp || k.proto == icmp6;
        k.sport = static_cast<uint16_t>(is_icmp ? below(5) : below(70));
        k.dport = static_cast<uint16_t>(is_icmp ? below(4) : below(70));
        if (below(2))
            return k;

        const Rule &r = rules[below(static_cast<unsigned>(rules.size()))];
        if (r.family)
            k.family = r.family;
        if (r.protocol)
            k.proto = *r.protocol;
        auto aim = [&](const std::vector<Prefix> &list, std::array<uint8_t, 16> &addr) {
            for (const auto &p : list)
                if (p.family == k.family) {
                    addr = p.bytes;
                    addr[15 - below(4)] ^= static_cast<uint8_t>(below(2)); // maybe just outside
                    return;
                }
            addr = address(k.family);
        };
        aim(r.sources, k.src);
        aim(r.destinations, k.dst);
        if (k.family == 4) { // keep IPv4 addresses in their 4 bytes
            std::fill(k.src.begin() + 4, k.src.end(), 0);
            std::fill(k.dst.begin() + 4, k.dst.end(), 0);
            k.src[3] ^= static_cast<uint8_t>(below(2));
        }
        if (r.icmp_type) {
            k.sport = *r.icmp_type;
            k.dport = r.icmp_code ? *r.icmp_code : static_cast<uint16_t>(below(5));
        } else {
            if (!r.source_ports.empty())
                k.sport = static_cast<uint16_t>(r.source_ports[0].low + below(2));
            if (!r.destination_ports.empty())
                k.dport = static_cast<uint16_t>(r.destination_ports[0].high - below(2));
        }
        if (k.proto == (k.family == 4 ? icmp : icmp6)) { // type and code are one byte each
            k.sport &= 0xff;
            k.dport &= 0xff;
        }
        return k;
    }

private:
    std::mt19937 _rng;
};

PacketMeta meta_of(const RefKey &k) {
    PacketMeta m;
    m.l3 = k.family == 4 ? L3Kind::ipv4 : L3Kind::ipv6;
    m.proto = k.proto;
    std::memcpy(m.src, k.src.data(), 16);
    std::memcpy(m.dst, k.dst.data(), 16);
    if (k.proto == (k.family == 4 ? icmp : icmp6)) {
        m.icmp_type = static_cast<uint8_t>(k.sport);
        m.icmp_code = static_cast<uint8_t>(k.dport);
        m.sport = m.dport = htons(777);
    } else {
        m.sport = htons(k.sport);
        m.dport = htons(k.dport);
    }
    return m;
}

TEST(RuleSet, R128g_ThousandRandomRulesAgreeWithALinearMatcher) {
    RandomRules gen(20240611);
    std::vector<Rule> rules;
    for (uint32_t i = 0; i < 1000; i++)
        rules.push_back(gen.rule(i + 1));
    auto set = compile(rules);
    ASSERT_TRUE(set);
    EXPECT_GT(set->entries4(), 500u);
    EXPECT_GT(set->entries6(), 500u);

    constexpr unsigned n = 10000;
    std::vector<RefKey> keys;
    std::vector<AclKey4> k4;
    std::vector<AclKey6> k6;
    k4.reserve(n);
    k6.reserve(n);
    std::vector<const AclKey4 *> p4;
    std::vector<const AclKey6 *> p6;
    std::vector<AclMatch> want4, want6;
    for (unsigned i = 0; i < n; i++) {
        RefKey k = gen.key(rules);
        keys.push_back(k);
        if (k.family == 4) {
            acl_key_of(meta_of(k), k4.emplace_back());
            p4.push_back(&k4.back());
            want4.push_back(reference(rules, k));
        } else {
            acl_key_of(meta_of(k), k6.emplace_back());
            p6.push_back(&k6.back());
            want6.push_back(reference(rules, k));
        }
    }
    std::vector<AclMatch> got4(p4.size()), got6(p6.size());
    set->classify4(p4.data(), got4.data(), static_cast<unsigned>(p4.size()));
    set->classify6(p6.data(), got6.data(), static_cast<unsigned>(p6.size()));

    unsigned mismatches = 0;
    for (size_t i = 0; i < got4.size(); i++)
        if (got4[i] != want4[i] && mismatches++ < 10)
            ADD_FAILURE() << "IPv4 key " << i << ": acl " << got4[i] << " reference " << want4[i];
    for (size_t i = 0; i < got6.size(); i++)
        if (got6[i] != want6[i] && mismatches++ < 10)
            ADD_FAILURE() << "IPv6 key " << i << ": acl " << got6[i] << " reference " << want6[i];
    EXPECT_EQ(mismatches, 0u);

    // Not vacuous: many distinct rules win, some keys fall through to default deny.
    std::set<AclMatch> winners(want4.begin(), want4.end());
    winners.insert(want6.begin(), want6.end());
    size_t denied =
        std::count(want4.begin(), want4.end(), 0u) + std::count(want6.begin(), want6.end(), 0u);
    std::printf("random: %zu distinct winners, %zu of %u keys denied, %u+%u entries\n",
                winners.size(), denied, n, set->entries4(), set->entries6());
    EXPECT_GT(winners.size(), 100u);
    EXPECT_GT(denied, n / 50);
    EXPECT_LT(denied, n - n / 5);
}

} // namespace

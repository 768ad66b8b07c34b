// SPDX-License-Identifier: GPL-2.0-or-later
// NAPT port pools (R90-1-6): config errors, exhaustion per address and protocol, per-worker
// slices and owner(), per-source limits, EIM reuse, paired addresses, port randomness and
// releases of mappings the pool never handed out.
#include "dataplane/nat_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

using qorgan::dp::PortMapping;
using qorgan::dp::PortPool;
using qorgan::dp::PortPoolConfig;
using qorgan::dp::PortRefusal;

namespace {

uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d) {
    return htonl((a << 24) | (b << 16) | (c << 8) | d);
}

// Distinct inside hosts 10.x.y.z for i < 2^24.
uint32_t host(uint32_t i) {
    return ip(10, (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

PortPool make(const PortPoolConfig &c) {
    auto p = PortPool::create(c);
    EXPECT_TRUE(p.ok()) << (p ? "" : p.error().to_string());
    return std::move(p.value());
}

PortPoolConfig one_address(uint16_t low, uint16_t high) {
    PortPoolConfig c;
    c.addresses = {ip(192, 0, 2, 1)};
    c.low = low;
    c.high = high;
    return c;
}

std::string create_error(const PortPoolConfig &c) {
    auto p = PortPool::create(c);
    return p ? std::string("(created)") : p.error().message;
}

} // namespace

TEST(NatPorts, R90_1_6_CreateErrorsNameTheField) {
    PortPoolConfig c = one_address(1024, 65535);
    EXPECT_TRUE(PortPool::create(c).ok());

    PortPoolConfig none = c;
    none.addresses.clear();
    EXPECT_NE(create_error(none).find("addresses: at least one"), std::string::npos)
        << create_error(none);

    PortPoolConfig many = c;
    many.addresses.clear();
    for (unsigned i = 1; i <= 65; i++)
        many.addresses.push_back(ip(198, 51, 100, i));
    EXPECT_NE(create_error(many).find("addresses: at most 64"), std::string::npos)
        << create_error(many);
    many.addresses.pop_back();
    EXPECT_TRUE(PortPool::create(many).ok()) << create_error(many); // 64 is allowed

    PortPoolConfig dup = c;
    dup.addresses = {ip(192, 0, 2, 1), ip(192, 0, 2, 2), ip(192, 0, 2, 1)};
    EXPECT_EQ(create_error(dup), "nat port pool: addresses[2]: 192.0.2.1 duplicates addresses[0]");

    PortPoolConfig zero = c;
    zero.addresses = {0};
    EXPECT_NE(create_error(zero).find("addresses[0]: 0.0.0.0"), std::string::npos);

    PortPoolConfig inverted = one_address(2000, 1999);
    EXPECT_EQ(create_error(inverted), "nat port pool: low: 2000 is above high 1999");

    PortPoolConfig port0 = one_address(0, 100);
    EXPECT_NE(create_error(port0).find("low: port 0"), std::string::npos);

    PortPoolConfig no_workers = c;
    no_workers.workers = 0;
    EXPECT_NE(create_error(no_workers).find("workers: at least one"), std::string::npos);

    PortPoolConfig bad_worker = c;
    bad_worker.workers = 4;
    bad_worker.worker = 4;
    EXPECT_EQ(create_error(bad_worker), "nat port pool: worker: 4 is not below workers 4");

    // Three ports over four workers: worker 0's slice is empty.
    PortPoolConfig thin = one_address(5000, 5002);
    thin.workers = 4;
    thin.worker = 0;
    EXPECT_NE(create_error(thin).find("workers: 4 workers leave worker 0 an empty slice"),
              std::string::npos)
        << create_error(thin);
    thin.worker = 3;
    EXPECT_TRUE(PortPool::create(thin).ok()) << create_error(thin);

    PortPoolConfig no_sources = c;
    no_sources.max_per_source = 8;
    no_sources.max_sources = 0;
    EXPECT_NE(create_error(no_sources).find("max_sources: must be at least 1"), std::string::npos);

    PortPoolConfig huge_sources = c;
    huge_sources.max_sources = qorgan::dp::port_pool_max_sources + 1;
    EXPECT_NE(create_error(huge_sources).find("max_sources: at most"), std::string::npos);
}

TEST(NatPorts, R90_1_6_ExhaustionIsExactPerAddressAndProtocol) {
    PortPoolConfig c;
    c.addresses = {ip(192, 0, 2, 1), ip(192, 0, 2, 2), ip(192, 0, 2, 3)};
    c.low = 10000;
    c.high = 10999;
    c.workers = 4;
    c.worker = 1;
    PortPool p = make(c);
    ASSERT_EQ(p.slice_size(), 250u);
    ASSERT_EQ(p.slice_low(), 10250);
    ASSERT_EQ(p.slice_high(), 10499);
    const uint64_t total = 3 * 250;

    uint64_t refused = 0;
    for (uint8_t proto : {uint8_t(IPPROTO_TCP), uint8_t(IPPROTO_UDP), uint8_t(IPPROTO_ICMP)}) {
        std::map<uint32_t, std::set<uint16_t>> ports; // pool address -> ports handed out
        uint64_t ok = 0;
        // Distinct hosts until every address is full, then 30 more that must all be refused.
        uint32_t extra = 0;
        for (uint32_t i = 0; i < 20000 && extra < 30; i++) {
            if (ok == total)
                extra++;
            PortRefusal why = PortRefusal::none;
            auto m = p.allocate(proto, host(i), 40000, why);
            if (!m) {
                EXPECT_EQ(why, PortRefusal::pool_exhausted);
                refused++;
                continue;
            }
            EXPECT_EQ(why, PortRefusal::none);
            ok++;
            uint16_t port = ntohs(m->port);
            EXPECT_GE(port, 10250);
            EXPECT_LE(port, 10499);
            EXPECT_TRUE(ports[m->addr].insert(port).second) << "port handed out twice";
        }
        EXPECT_EQ(extra, 30u);
        EXPECT_EQ(ok, total) << "protocol " << int(proto);
        ASSERT_EQ(ports.size(), 3u);
        for (auto &[addr, set] : ports)
            EXPECT_EQ(set.size(), 250u);
        EXPECT_EQ(p.stats().refused_pool, refused);
        EXPECT_GT(refused, 0u);
        // The next protocol, after this one is exhausted, again gets exactly the slice
        // size per address: the identifier spaces are separate.
    }
    EXPECT_EQ(p.stats().allocated, 3 * total);
    EXPECT_EQ(p.stats().in_use, 3 * total);
    EXPECT_EQ(p.stats().released, 0u);
}

TEST(NatPorts, R90_1_6_TcpExhaustionDoesNotAffectUdp) {
    PortPool p = make(one_address(2000, 2099));
    PortRefusal why;
    for (int i = 0; i < 100; i++)
        ASSERT_TRUE(p.allocate(IPPROTO_TCP, host(1), uint16_t(i), why));
    EXPECT_FALSE(p.allocate(IPPROTO_TCP, host(1), 7, why));
    EXPECT_EQ(why, PortRefusal::pool_exhausted);
    EXPECT_EQ(p.stats().refused_pool, 1u);
    auto udp = p.allocate(IPPROTO_UDP, host(1), 7, why);
    ASSERT_TRUE(udp);
    EXPECT_EQ(why, PortRefusal::none);
    auto icmp = p.allocate(IPPROTO_ICMP, host(1), 7, why);
    ASSERT_TRUE(icmp);
    EXPECT_EQ(p.stats().refused_pool, 1u);
}

TEST(NatPorts, R90_1_6_ReleaseMakesThePortReusable) {
    PortPool p = make(one_address(3000, 3063));
    PortRefusal why;
    std::vector<PortMapping> held;
    for (int i = 0; i < 64; i++) {
        auto m = p.allocate(IPPROTO_UDP, host(5), uint16_t(1000 + i), why);
        ASSERT_TRUE(m);
        held.push_back(*m);
    }
    EXPECT_FALSE(p.allocate(IPPROTO_UDP, host(5), 999, why));
    EXPECT_EQ(why, PortRefusal::pool_exhausted);

    p.release(IPPROTO_UDP, held[17], host(5), 1017);
    EXPECT_EQ(p.stats().released, 1u);
    EXPECT_EQ(p.stats().in_use, 63u);
    auto again = p.allocate(IPPROTO_UDP, host(5), 999, why);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, held[17]); // the only free port
    EXPECT_EQ(p.stats().in_use, 64u);

    // Everything back: the whole slice is free again.
    p.release(IPPROTO_UDP, *again, host(5), 999);
    for (int i = 0; i < 64; i++)
        if (i != 17)
            p.release(IPPROTO_UDP, held[i], host(5), uint16_t(1000 + i));
    EXPECT_EQ(p.stats().in_use, 0u);
    EXPECT_EQ(p.stats().release_unknown, 0u);
    for (int i = 0; i < 64; i++)
        ASSERT_TRUE(p.allocate(IPPROTO_UDP, host(6), uint16_t(i), why));
}

TEST(NatPorts, R90_1_6_WorkerSlicesAreDisjointCoverTheRangeAndMatchOwner) {
    struct Case {
        uint16_t low, high;
        unsigned workers;
    };
    for (Case k : {Case{1024, 65535, 4}, Case{1000, 1009, 3}, Case{1, 65535, 7}}) {
        PortPoolConfig c = one_address(k.low, k.high);
        c.workers = k.workers;
        uint32_t next = k.low;
        for (unsigned w = 0; w < k.workers; w++) {
            c.worker = w;
            PortPool p = make(c);
            EXPECT_EQ(p.slice_low(), next) << "worker " << w;
            ASSERT_GE(p.slice_high(), p.slice_low());
            next = uint32_t(p.slice_high()) + 1;
            for (uint32_t port = p.slice_low(); port <= p.slice_high(); port++)
                ASSERT_EQ(PortPool::owner(c, uint16_t(port)), w) << "port " << port;
            // Where allocate() puts ports agrees with owner().
            PortRefusal why;
            for (int i = 0; i < 200; i++) {
                auto m = p.allocate(IPPROTO_TCP, host(uint32_t(i)), 1234, why);
                if (!m) {
                    EXPECT_EQ(why, PortRefusal::pool_exhausted);
                    continue;
                }
                ASSERT_EQ(PortPool::owner(c, ntohs(m->port)), w);
            }
        }
        EXPECT_EQ(next, uint32_t(k.high) + 1) << "slices must cover the range";
    }
    PortPoolConfig c = one_address(1024, 2047);
    c.workers = 2;
    EXPECT_EQ(PortPool::owner(c, 1023), UINT_MAX);
    EXPECT_EQ(PortPool::owner(c, 2048), UINT_MAX);
    EXPECT_EQ(PortPool::owner(c, 1024), 0u);
    EXPECT_EQ(PortPool::owner(c, 2047), 1u);
    c.workers = 0;
    EXPECT_EQ(PortPool::owner(c, 1500), UINT_MAX);
}

TEST(NatPorts, R90_1_3_PerSourceLimitRefusesWhileOthersStillGetPorts) {
    PortPoolConfig c = one_address(1024, 65535);
    c.max_per_source = 3;
    PortPool p = make(c);
    PortRefusal why;
    std::vector<PortMapping> a;
    for (int i = 0; i < 3; i++) {
        auto m = p.allocate(IPPROTO_TCP, host(1), uint16_t(100 + i), why);
        ASSERT_TRUE(m);
        a.push_back(*m);
    }
    EXPECT_FALSE(p.allocate(IPPROTO_TCP, host(1), 200, why));
    EXPECT_EQ(why, PortRefusal::source_limit);
    // The limit counts mappings of every protocol.
    EXPECT_FALSE(p.allocate(IPPROTO_UDP, host(1), 200, why));
    EXPECT_EQ(why, PortRefusal::source_limit);
    EXPECT_EQ(p.stats().refused_source, 2u);

    EXPECT_TRUE(p.allocate(IPPROTO_TCP, host(2), 200, why));
    EXPECT_EQ(why, PortRefusal::none);

    p.release(IPPROTO_TCP, a[1], host(1), 101);
    EXPECT_TRUE(p.allocate(IPPROTO_TCP, host(1), 201, why));
    EXPECT_FALSE(p.allocate(IPPROTO_TCP, host(1), 202, why));
    EXPECT_EQ(p.stats().refused_source, 3u);
}

TEST(NatPorts, R90_1_3_SourceTableFullIsCounted) {
    PortPoolConfig c = one_address(1024, 65535);
    c.max_per_source = 10;
    c.max_sources = 2;
    PortPool p = make(c);
    PortRefusal why;
    auto a = p.allocate(IPPROTO_TCP, host(1), 1, why);
    auto b = p.allocate(IPPROTO_TCP, host(2), 1, why);
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(p.allocate(IPPROTO_TCP, host(3), 1, why));
    EXPECT_EQ(why, PortRefusal::source_table_full);
    EXPECT_EQ(p.stats().refused_source_table, 1u);
    // Known sources still get ports.
    EXPECT_TRUE(p.allocate(IPPROTO_TCP, host(1), 2, why));
    // B's last mapping frees its entry, so a new source fits.
    p.release(IPPROTO_TCP, *b, host(2), 1);
    EXPECT_TRUE(p.allocate(IPPROTO_TCP, host(3), 1, why));
    EXPECT_FALSE(p.allocate(IPPROTO_TCP, host(4), 1, why));
    EXPECT_EQ(p.stats().refused_source_table, 2u);
}

TEST(NatPorts, R90_1_3_SourceCountsSurviveTableDeletions) {
    PortPoolConfig c = one_address(1024, 65535);
    c.max_per_source = 2;
    c.max_sources = 400;
    PortPool p = make(c);
    PortRefusal why;
    std::vector<std::vector<PortMapping>> held(400);
    for (uint32_t s = 0; s < 400; s++)
        for (uint16_t k = 0; k < 2; k++) {
            auto m = p.allocate(IPPROTO_UDP, host(s), k, why);
            ASSERT_TRUE(m) << "source " << s;
            held[s].push_back(*m);
        }
    // Odd sources leave the table entirely (backward-shift deletions in probe runs).
    for (uint32_t s = 1; s < 400; s += 2)
        for (uint16_t k = 0; k < 2; k++)
            p.release(IPPROTO_UDP, held[s][k], host(s), k);
    for (uint32_t s = 0; s < 400; s++) {
        if (s % 2 == 0) {
            EXPECT_FALSE(p.allocate(IPPROTO_UDP, host(s), 9, why)) << "source " << s;
            EXPECT_EQ(why, PortRefusal::source_limit);
        } else {
            EXPECT_TRUE(p.allocate(IPPROTO_UDP, host(s), 9, why)) << "source " << s;
        }
    }
    EXPECT_EQ(p.stats().refused_source, 200u);
    EXPECT_EQ(p.stats().refused_source_table, 0u);
}

TEST(NatPorts, R90_1_6_EndpointIndependentMappingIsReusedUntilTheLastRelease) {
    PortPoolConfig c = one_address(1024, 65535);
    c.endpoint_independent = true;
    c.max_per_source = 4;
    PortPool p = make(c);
    PortRefusal why;
    auto first = p.allocate(IPPROTO_UDP, host(1), 5000, why);
    ASSERT_TRUE(first);
    auto second = p.allocate(IPPROTO_UDP, host(1), 5000, why);
    ASSERT_TRUE(second);
    EXPECT_EQ(why, PortRefusal::none);
    EXPECT_EQ(*first, *second);
    EXPECT_EQ(p.stats().eim_reused, 1u);
    EXPECT_EQ(p.stats().allocated, 1u);
    EXPECT_EQ(p.stats().in_use, 1u);

    // Another source port, or another protocol, is another mapping.
    auto other_port = p.allocate(IPPROTO_UDP, host(1), 5001, why);
    ASSERT_TRUE(other_port);
    EXPECT_NE(*other_port, *first);
    ASSERT_TRUE(p.allocate(IPPROTO_TCP, host(1), 5000, why));
    EXPECT_EQ(p.stats().allocated, 3u);
    EXPECT_EQ(p.stats().eim_reused, 1u);

    // A reuse takes no new port, so it is not held against the per-source limit.
    ASSERT_TRUE(p.allocate(IPPROTO_ICMP, host(1), 77, why)); // 4th mapping
    EXPECT_FALSE(p.allocate(IPPROTO_ICMP, host(1), 78, why));
    EXPECT_EQ(why, PortRefusal::source_limit);
    EXPECT_TRUE(p.allocate(IPPROTO_UDP, host(1), 5000, why));
    EXPECT_EQ(p.stats().eim_reused, 2u);

    // Three sessions use the mapping: it stays until the third release.
    p.release(IPPROTO_UDP, *first, host(1), 5000);
    p.release(IPPROTO_UDP, *first, host(1), 5000);
    EXPECT_EQ(p.stats().released, 0u);
    EXPECT_EQ(p.stats().in_use, 4u);
    auto still = p.allocate(IPPROTO_UDP, host(1), 5000, why);
    ASSERT_TRUE(still);
    EXPECT_EQ(*still, *first);
    EXPECT_EQ(p.stats().eim_reused, 3u);
    p.release(IPPROTO_UDP, *first, host(1), 5000);
    p.release(IPPROTO_UDP, *first, host(1), 5000);
    EXPECT_EQ(p.stats().released, 1u);
    EXPECT_EQ(p.stats().in_use, 3u);
    // Gone: one more release is unknown, and the next allocate makes a new mapping.
    p.release(IPPROTO_UDP, *first, host(1), 5000);
    EXPECT_EQ(p.stats().release_unknown, 1u);
    ASSERT_TRUE(p.allocate(IPPROTO_UDP, host(1), 5000, why));
    EXPECT_EQ(p.stats().allocated, 5u);
    EXPECT_EQ(p.stats().eim_reused, 3u);

    // The whole key is checked: the right port under another source port is refused.
    p.release(IPPROTO_UDP, *other_port, host(1), 5999);
    EXPECT_EQ(p.stats().release_unknown, 2u);
    EXPECT_EQ(p.stats().in_use, 4u);
}

TEST(NatPorts, R90_1_6_EimEntriesSurviveTableDeletions) {
    PortPoolConfig c = one_address(20000, 20999);
    c.endpoint_independent = true;
    PortPool p = make(c);
    PortRefusal why;
    std::vector<PortMapping> m(900);
    for (uint32_t i = 0; i < 900; i++) {
        auto a = p.allocate(IPPROTO_TCP, host(i / 30), uint16_t(i), why);
        ASSERT_TRUE(a) << i;
        m[i] = *a;
    }
    for (uint32_t i = 0; i < 900; i += 3)
        p.release(IPPROTO_TCP, m[i], host(i / 30), uint16_t(i));
    EXPECT_EQ(p.stats().in_use, 600u);
    for (uint32_t i = 0; i < 900; i++) {
        if (i % 3 == 0)
            continue;
        auto a = p.allocate(IPPROTO_TCP, host(i / 30), uint16_t(i), why);
        ASSERT_TRUE(a) << i;
        EXPECT_EQ(*a, m[i]) << i;
    }
    EXPECT_EQ(p.stats().eim_reused, 600u);
    EXPECT_EQ(p.stats().in_use, 600u);
    EXPECT_EQ(p.stats().release_unknown, 0u);
}

TEST(NatPorts, R90_1_6_OneInsideHostKeepsOnePoolAddressOnEveryWorker) {
    PortPoolConfig c;
    for (unsigned i = 1; i <= 8; i++)
        c.addresses.push_back(ip(203, 0, 113, i));
    c.workers = 2;
    c.worker = 0;
    PortPool w0 = make(c);
    c.worker = 1;
    PortPool w1 = make(c);
    PortRefusal why;
    std::set<uint32_t> used;
    for (uint32_t h = 0; h < 200; h++) {
        std::set<uint32_t> addrs;
        for (uint16_t k = 0; k < 6; k++) {
            uint8_t proto = k % 3 == 0 ? IPPROTO_TCP : k % 3 == 1 ? IPPROTO_UDP : IPPROTO_ICMP;
            auto a = w0.allocate(proto, host(h * 7919), uint16_t(k + 1000), why);
            auto b = w1.allocate(proto, host(h * 7919), uint16_t(k + 2000), why);
            ASSERT_TRUE(a && b);
            addrs.insert(a->addr);
            addrs.insert(b->addr);
        }
        EXPECT_EQ(addrs.size(), 1u) << "host " << h;
        used.insert(*addrs.begin());
    }
    EXPECT_EQ(used.size(), 8u) << "200 hosts should spread over all 8 addresses";
}

TEST(NatPorts, R90_1_6_PortsAreNotHandedOutSequentially) {
    PortPool p = make(one_address(1024, 65535));
    PortRefusal why;
    std::vector<uint16_t> ports;
    for (int i = 0; i < 2000; i++) {
        auto m = p.allocate(IPPROTO_TCP, host(1), uint16_t(i), why);
        ASSERT_TRUE(m);
        ports.push_back(ntohs(m->port));
    }
    int steps_of_one = 0;
    for (size_t i = 1; i < ports.size(); i++)
        if (ports[i] == ports[i - 1] + 1)
            steps_of_one++;
    EXPECT_LT(steps_of_one, 200) << "more than 10% of consecutive ports differ by exactly 1";
    // Two pools seeded independently do not start with the same ports.
    PortPool q = make(one_address(1024, 65535));
    int same = 0;
    for (int i = 0; i < 20; i++) {
        auto m = q.allocate(IPPROTO_TCP, host(1), uint16_t(i), why);
        ASSERT_TRUE(m);
        same += ntohs(m->port) == ports[size_t(i)];
    }
    EXPECT_LT(same, 5);
}

TEST(NatPorts, R90_1_6_ReleaseOfAMappingNeverAllocatedIsHarmless) {
    PortPoolConfig c = one_address(4000, 4099);
    c.max_per_source = 100;
    PortPool p = make(c);
    uint32_t pool = c.addresses[0];
    // In the slice but never handed out; outside the slice; another address; a bad protocol.
    p.release(IPPROTO_TCP, PortMapping{pool, htons(4050)}, host(1), 1);
    p.release(IPPROTO_TCP, PortMapping{pool, htons(5000)}, host(1), 1);
    p.release(IPPROTO_TCP, PortMapping{ip(192, 0, 2, 99), htons(4050)}, host(1), 1);
    p.release(IPPROTO_GRE, PortMapping{pool, htons(4050)}, host(1), 1);
    EXPECT_EQ(p.stats().release_unknown, 4u);
    EXPECT_EQ(p.stats().released, 0u);
    EXPECT_EQ(p.stats().in_use, 0u);

    // A double release counts once, and neither the pool nor the source count underflow:
    // the pool still has exactly 100 ports and the source exactly 100 mappings.
    PortRefusal why;
    auto m = p.allocate(IPPROTO_TCP, host(1), 1, why);
    ASSERT_TRUE(m);
    p.release(IPPROTO_TCP, *m, host(1), 1);
    p.release(IPPROTO_TCP, *m, host(1), 1);
    EXPECT_EQ(p.stats().released, 1u);
    EXPECT_EQ(p.stats().release_unknown, 5u);
    EXPECT_EQ(p.stats().in_use, 0u);
    int got = 0;
    while (p.allocate(IPPROTO_TCP, host(1), uint16_t(got + 10), why))
        got++;
    EXPECT_EQ(got, 100);
    EXPECT_EQ(why, PortRefusal::pool_exhausted);
}

TEST(NatPorts, UnsupportedProtocolIsRefusedAndCounted) {
    PortPool p = make(one_address(1024, 65535));
    PortRefusal why = PortRefusal::none;
    EXPECT_FALSE(p.allocate(IPPROTO_GRE, host(1), 0, why));
    EXPECT_EQ(why, PortRefusal::unsupported_protocol);
    EXPECT_EQ(p.stats().refused_protocol, 1u);
    EXPECT_STREQ(qorgan::dp::port_refusal_name(why), "unsupported-protocol");
    EXPECT_STREQ(qorgan::dp::port_refusal_name(PortRefusal::pool_exhausted), "pool-exhausted");
}

TEST(NatPorts, BytesCountTheTablesSizedAtCreate) {
    PortPoolConfig c = one_address(1024, 65535);
    PortPool plain = make(c);
    // Three protocols, one bitmap of 64512 bits each.
    EXPECT_GE(plain.bytes(), 3u * 64512 / 8);
    c.endpoint_independent = true;
    PortPool eim = make(c);
    EXPECT_GT(eim.bytes(), plain.bytes() + 3u * 64512 * 8); // an EIM slot per port at least
    // Nothing grows with traffic.
    size_t before = eim.bytes();
    PortRefusal why;
    for (int i = 0; i < 1000; i++)
        ASSERT_TRUE(eim.allocate(IPPROTO_UDP, host(uint32_t(i)), 1, why));
    EXPECT_EQ(eim.bytes(), before);
}

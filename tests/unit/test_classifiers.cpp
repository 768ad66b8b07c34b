// SPDX-License-Identifier: GPL-2.0-or-later
// The classifier of paragraph 134-1: real protocol openings through nDPI 4.2 as the worker
// feeds them (whole and cut into 1-byte segments), the category map, the malicious lists,
// the policy (R134-1, R134-2, R133-1, R133-4) and the arena nDPI allocates from.
#include "classifiers/category_map.h"
#include "classifiers/dpi_arena.h"
#include "classifiers/inspector.h"
#include "classifiers/lists.h"
#include "classifiers/module.h"
#include "classifiers/policy.h"
#include "config/schema.h"
#include "tests/unit/dpi_kit.h"

#include <gtest/gtest.h>
#include <ndpi/ndpi_api.h>
#include <thread>

using namespace qorgan;
using namespace qorgan::dpi;
using namespace qorgan::dpi::kit;
using config::Category;

namespace {

const ModuleSet &modules() {
    static std::shared_ptr<ModuleSet> set = [] {
        MaliciousList l;
        l.domains = {"evil.example", "miner.example.net"};
        auto s = ModuleSet::create(l, 1);
        EXPECT_TRUE(s) << s.error().to_string();
        return s.value();
    }();
    return *set;
}

const Module &mod() {
    return modules().module(0);
}

std::string name_of(const Detection &d) {
    return modules().name_of(d.protocol());
}

const std::vector<uint8_t> ssh_server = bytes("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
const std::vector<uint8_t> ssh_client = bytes("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");

// The SSH banner exchange, each banner cut into `chunk`-byte segments (0: whole).
std::optional<Detection> ssh(Inspector &in, size_t chunk) {
    Conversation c(in, mod(), 6, 40000, 22);
    c.handshake();
    c.send(true, ssh_server, chunk);
    c.send(false, ssh_client, chunk);
    c.send(true, noise(300, 1));
    return c.verdict;
}

std::optional<Detection> tls(Inspector &in, const std::string &sni, size_t chunk) {
    Conversation c(in, mod(), 6, 40001, 443);
    c.handshake();
    c.send(false, client_hello(sni), chunk);
    c.send(true, noise(200, 2));
    return c.verdict;
}

} // namespace

TEST(Classifier, SshBannersAreRemoteAccessWholeOrInOneByteSegments) {
    Inspector in(16);
    for (size_t chunk : {size_t(0), size_t(1), size_t(7)}) {
        auto d = ssh(in, chunk);
        ASSERT_TRUE(d) << "chunk " << chunk;
        EXPECT_EQ(name_of(*d), "SSH") << "chunk " << chunk;
        EXPECT_EQ(category_of(*d), Category::remote_access) << "chunk " << chunk;
    }
    EXPECT_EQ(in.in_use(), 0u);
}

TEST(Classifier, TlsWithAGameServiceSniIsGamesWholeOrInOneByteSegments) {
    Inspector in(16);
    for (size_t chunk : {size_t(0), size_t(1)}) {
        auto d = tls(in, "store.steampowered.com", chunk);
        ASSERT_TRUE(d) << "chunk " << chunk;
        EXPECT_EQ(name_of(*d), "Steam") << "chunk " << chunk;
        EXPECT_EQ(category_of(*d), Category::games);
    }
}

TEST(Classifier, TlsToAnOrdinaryNameIsNoneOfTheSix) {
    Inspector in(16);
    auto d = tls(in, "www.example.org", 0);
    ASSERT_TRUE(d);
    EXPECT_EQ(modules().name_of(d->master ? d->master : d->app), "TLS");
    EXPECT_EQ(category_of(*d), std::nullopt);
}

TEST(Classifier, MaliciousDomainInSniDnsAndHttpHost) {
    Inspector in(16);
    auto d = tls(in, "www.evil.example", 0);
    ASSERT_TRUE(d);
    EXPECT_EQ(category_of(*d), Category::malicious) << name_of(*d) << " cat " << d->category;

    Conversation q(in, mod(), 17, 40002, 53);
    auto dq = q.send(false, dns_query("evil.example"));
    ASSERT_TRUE(dq);
    EXPECT_EQ(category_of(*dq), Category::malicious) << name_of(*dq);

    Conversation h(in, mod(), 6, 40003, 80);
    h.handshake();
    h.send(false, bytes("GET / HTTP/1.1\r\nHost: miner.example.net\r\nUser-Agent: curl/7.88\r\n"
                        "Accept: */*\r\n\r\n"));
    h.send(true, bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    ASSERT_TRUE(h.verdict);
    EXPECT_EQ(category_of(*h.verdict), Category::malicious) << name_of(*h.verdict);

    Conversation ok(in, mod(), 17, 40004, 53);
    auto dok = ok.send(false, dns_query("www.example.org"));
    ASSERT_TRUE(dok);
    EXPECT_EQ(name_of(*dok), "DNS");
    EXPECT_EQ(category_of(*dok), std::nullopt);
}

TEST(Classifier, BitTorrentHandshakeIsP2p) {
    Inspector in(16);
    for (size_t chunk : {size_t(0), size_t(1)}) {
        Conversation c(in, mod(), 6, 40005, 6881);
        c.handshake();
        c.send(false, bittorrent_handshake(), chunk);
        c.send(true, bittorrent_handshake(), chunk);
        ASSERT_TRUE(c.verdict) << "chunk " << chunk;
        EXPECT_EQ(name_of(*c.verdict), "BitTorrent");
        EXPECT_EQ(category_of(*c.verdict), Category::p2p);
    }
}

TEST(Classifier, RdpConnectionRequestIsRemoteAccess) {
    Inspector in(4);
    Conversation c(in, mod(), 6, 40006, 3389);
    c.handshake();
    // TPKT + X.224 Connection Request with an RDP negotiation request.
    std::vector<uint8_t> cr{0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00,
                            0x00, 0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00};
    c.send(false, cr);
    c.send(true, std::vector<uint8_t>{0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
                                      0x00, 0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00});
    ASSERT_TRUE(c.verdict);
    EXPECT_EQ(name_of(*c.verdict), "RDP");
    EXPECT_EQ(category_of(*c.verdict), Category::remote_access);
}

// OpenVPN 2.6 in TLS mode without tls-auth: nDPI 4.2 misses it (it wants an HMAC), the
// inspector's own check does not.
std::vector<uint8_t> ovpn_client_reset(const uint8_t sid[8]) {
    std::vector<uint8_t> v{0x38};
    v.insert(v.end(), sid, sid + 8);
    v.push_back(0);                         // no acks
    v.insert(v.end(), {0, 0, 0, 0});        // packet id 0
    v.insert(v.end(), {0, 15, 0, 2, 0, 0}); // early negotiation TLV
    return v;
}

std::vector<uint8_t> ovpn_server_reset(const uint8_t client_sid[8]) {
    std::vector<uint8_t> v{0x40, 9, 8, 7, 6, 5, 4, 3, 2};
    v.push_back(1);                  // one ack
    v.insert(v.end(), {0, 0, 0, 0}); // of packet id 0
    v.insert(v.end(), client_sid, client_sid + 8);
    v.insert(v.end(), {0, 0, 0, 0});
    return v;
}

TEST(Classifier, OpenVpnWithoutTlsAuthOverUdpAndTcpIsVpn) {
    Inspector in(4);
    const uint8_t sid[8] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
    Conversation u(in, mod(), 17, 40020, 1194);
    EXPECT_FALSE(u.send(false, ovpn_client_reset(sid)));
    auto d = u.send(true, ovpn_server_reset(sid));
    ASSERT_TRUE(d);
    EXPECT_EQ(name_of(*d), "OpenVPN");
    EXPECT_EQ(category_of(*d), Category::vpn);

    Conversation t(in, mod(), 6, 40021, 443);
    t.handshake();
    auto framed = [](std::vector<uint8_t> p) {
        p.insert(p.begin(), {uint8_t(p.size() >> 8), uint8_t(p.size())});
        return p;
    };
    t.send(false, framed(ovpn_client_reset(sid)), 1);
    t.send(true, framed(ovpn_server_reset(sid)));
    t.send(false, noise(40, 5));
    ASSERT_TRUE(t.verdict);
    EXPECT_EQ(name_of(*t.verdict), "OpenVPN");

    // A reply that does not quote the client's session id is not OpenVPN's.
    const uint8_t other[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    Conversation n(in, mod(), 17, 40022, 7000, 2);
    n.send(false, ovpn_client_reset(sid));
    auto dn = n.send(true, ovpn_server_reset(other));
    ASSERT_TRUE(dn);
    EXPECT_NE(name_of(*dn), "OpenVPN");
}

TEST(Classifier, RandomBytesAreUnknownOnlyOnceTheBudgetIsSpent) {
    // The budget counts turns handed to nDPI, both directions together: a direction's turn
    // goes to nDPI when the other direction speaks.
    Inspector in(4);
    Conversation t(in, mod(), 6, 40007, 7777, 4);
    t.handshake();
    EXPECT_FALSE(t.send(false, noise(100, 10)));
    EXPECT_FALSE(t.send(true, noise(100, 11)));  // unit 1: the client's turn
    EXPECT_FALSE(t.send(false, noise(100, 12))); // unit 2
    EXPECT_FALSE(t.send(true, noise(100, 13)));  // unit 3
    auto d = t.send(false, noise(100, 14));      // unit 4: the budget
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->unknown()) << name_of(*d);
    EXPECT_EQ(category_of(*d), Category::unknown);

    Conversation u(in, mod(), 17, 40008, 7777, 4);
    for (int i = 0; i < 3; i++)
        EXPECT_FALSE(u.send(i % 2, noise(60, 40 + i)));
    ASSERT_TRUE(u.send(false, noise(60, 50)));
    EXPECT_EQ(category_of(*u.verdict), Category::unknown) << name_of(*u.verdict);
}

TEST(Classifier, OneByteSegmentsCannotOutlastTheBudgetUndecided) {
    Inspector in(4);
    Conversation t(in, mod(), 6, 40009, 7777, 2);
    t.handshake();
    // A one-way stream of 1-byte segments: given up after budget x turn_bytes bytes.
    std::vector<uint8_t> stream = noise(Inspector::turn_bytes * 2 + 5, 3);
    t.send(false, stream, 1);
    ASSERT_TRUE(t.verdict);
    EXPECT_EQ(category_of(*t.verdict), Category::unknown);
}

TEST(Classifier, FinDecidesAtOnce) {
    Inspector in(4);
    Conversation t(in, mod(), 6, 40010, 7777, 8);
    t.handshake();
    EXPECT_FALSE(t.send(false, noise(50, 4)));
    auto d = t.tcp(false, 0x11, nullptr, 0);
    ASSERT_TRUE(d);
    EXPECT_EQ(category_of(*d), Category::unknown);
}

TEST(Classifier, RetransmissionsAreFedOnce) {
    Inspector in(4);
    Conversation c(in, mod(), 6, 40011, 22);
    c.handshake();
    uint32_t start = c.seq[1];
    c.send(true, ssh_server, 5);
    uint64_t fed = in.stats().fed;
    // The whole banner again with its first sequence number: nothing new for nDPI.
    c.tcp(true, 0x18, ssh_server.data(), ssh_server.size(), start, true);
    EXPECT_EQ(in.stats().fed, fed);
    c.send(false, ssh_client);
    ASSERT_TRUE(c.verdict);
    EXPECT_EQ(name_of(*c.verdict), "SSH");
}

TEST(Classifier, Ipv6FlowsAreClassifiedToo) {
    Inspector in(4);
    Conversation c(in, mod(), 6, 40012, 22, 8, 6);
    c.handshake();
    c.send(true, ssh_server);
    c.send(false, ssh_client);
    ASSERT_TRUE(c.verdict);
    EXPECT_EQ(name_of(*c.verdict), "SSH");
}

TEST(Classifier, TheTableRefusesBeyondItsCapacityAndCounts) {
    Inspector in(2);
    uint32_t a = in.open(), b = in.open();
    EXPECT_NE(a, 0u);
    EXPECT_NE(b, 0u);
    EXPECT_EQ(in.open(), 0u);
    EXPECT_EQ(in.stats().refused, 1u);
    in.close(a);
    EXPECT_NE(in.open(), 0u);
    in.close(b);
}

TEST(Classifier, AFullTableGivesUpOnAStaleFlowForANewOne) {
    Inspector in(2);
    int a = 0, b = 0, c = 0;
    void *evicted = &c;
    uint32_t ha = in.open(1000, &a, &evicted);
    EXPECT_EQ(evicted, nullptr);
    uint32_t hb = in.open(1500, &b, &evicted);
    ASSERT_NE(ha, 0u);
    ASSERT_NE(hb, 0u);
    // Full, and nobody has waited stale_ms yet: refused.
    EXPECT_EQ(in.open(1000 + Inspector::stale_ms - 1, &c, &evicted), 0u);
    EXPECT_EQ(evicted, nullptr);
    EXPECT_EQ(in.stats().refused, 1u);
    // a has: its slot goes to c, and a is handed back to be decided.
    uint32_t hc = in.open(1000 + Inspector::stale_ms, &c, &evicted);
    EXPECT_EQ(hc, ha);
    EXPECT_EQ(evicted, &a);
    EXPECT_EQ(in.stats().evicted, 1u);
    EXPECT_EQ(in.in_use(), 2u);
    in.close(hb);
    in.close(hc);
    EXPECT_EQ(in.in_use(), 0u);
}

TEST(CategoryMap, NdpiCategoriesApplicationsAndRisks) {
    EXPECT_EQ(category_of({NDPI_PROTOCOL_BITTORRENT, 0, NDPI_PROTOCOL_CATEGORY_DOWNLOAD_FT, 0}),
              Category::p2p);
    EXPECT_EQ(category_of({NDPI_PROTOCOL_FTP_CONTROL, 0, NDPI_PROTOCOL_CATEGORY_DOWNLOAD_FT, 0}),
              std::nullopt);
    EXPECT_EQ(category_of({NDPI_PROTOCOL_OPENVPN, 0, NDPI_PROTOCOL_CATEGORY_VPN, 0}),
              Category::vpn);
    EXPECT_EQ(category_of({NDPI_PROTOCOL_TLS, 0, NDPI_PROTOCOL_CATEGORY_WEB,
                           uint64_t(1) << NDPI_SUSPICIOUS_DGA_DOMAIN}),
              Category::malicious);
    EXPECT_EQ(category_of({0, 0, CUSTOM_CATEGORY_MALWARE, 0}), Category::malicious);
    EXPECT_EQ(category_of({0, 0, 0, 0}), Category::unknown);
    EXPECT_EQ(category_of({NDPI_PROTOCOL_HTTP, 0, NDPI_PROTOCOL_CATEGORY_WEB, 0}), std::nullopt);
}

TEST(Lists, FileEntriesAndErrorsWithTheirLine) {
    auto l =
        parse_list("# bad hosts\nEvil.Example\n\n198.51.100.0/24  # a net\n2001:db8:bad::/48\n",
                   "/etc/q/list");
    ASSERT_TRUE(l) << l.error().to_string();
    EXPECT_EQ(l.value().domains, std::vector<std::string>{"evil.example"});
    ASSERT_EQ(l.value().addresses.size(), 2u);
    auto bad = parse_list("ok.example\nnot a name\n", "/etc/q/list");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().to_string().find("/etc/q/list:2:"), std::string::npos)
        << bad.error().to_string();
    auto badp = parse_list("198.51.100.0/33\n", "f");
    ASSERT_FALSE(badp);
    EXPECT_NE(badp.error().to_string().find("f:1:"), std::string::npos);
}

TEST(Lists, AddressSetMatchesLongestAndShortestPrefixes) {
    auto l = parse_list("198.51.100.0/24\n203.0.113.77\n2001:db8:bad::/48\n", "f");
    ASSERT_TRUE(l);
    AddressSet set(l.value().addresses);
    EXPECT_EQ(set.size(), 3u);
    uint32_t a[4] = {};
    inet_pton(AF_INET, "198.51.100.200", a);
    EXPECT_TRUE(set.contains(4, a));
    inet_pton(AF_INET, "198.51.101.1", a);
    EXPECT_FALSE(set.contains(4, a));
    inet_pton(AF_INET, "203.0.113.77", a);
    EXPECT_TRUE(set.contains(4, a));
    inet_pton(AF_INET, "203.0.113.78", a);
    EXPECT_FALSE(set.contains(4, a));
    inet_pton(AF_INET6, "2001:db8:bad:1::5", a);
    EXPECT_TRUE(set.contains(6, a));
    inet_pton(AF_INET6, "2001:db8:bae::5", a);
    EXPECT_FALSE(set.contains(6, a));
}

namespace {

config::Categories categories_with_exceptions() {
    config::Categories c;
    config::CategoryException e;
    e.name = "lab-p2p";
    e.sources = {*config::parse_prefix("198.18.1.0/25")};
    e.categories = config::category_bit(Category::p2p);
    e.reference = "KZ-2026-001";
    c.exceptions.push_back(e);
    config::CategoryException ssh;
    ssh.name = "admins-ssh";
    ssh.applications = {"ssh"};
    ssh.reference = "KZ-2026-002";
    c.exceptions.push_back(ssh);
    config::VpnChannel v;
    v.name = "agreed";
    v.protocol = config::proto_udp;
    v.source = *config::parse_prefix("198.18.1.10");
    v.destination = *config::parse_prefix("203.0.113.10");
    v.destination_port = 1194;
    c.vpn_channels.push_back(v);
    return c;
}

} // namespace

TEST(Policy, SixCategoriesBlockedExceptionsBySourceCategoryAndApplication) {
    config::Categories c = categories_with_exceptions();
    auto p = CategoryPolicy::compile(c, modules());
    ASSERT_TRUE(p) << p.error().to_string();
    uint32_t inside[4] = {}, other[4] = {};
    inet_pton(AF_INET, "198.18.1.10", inside);
    inet_pton(AF_INET, "198.18.1.200", other);
    for (unsigned i = 0; i < config::category_count; i++) {
        Decision d = p.value().decide(Category(i), 0, 0, 4, other, false);
        EXPECT_TRUE(d.block) << config::category_name(Category(i));
        EXPECT_EQ(d.rule, Rule::category);
    }
    EXPECT_FALSE(p.value().decide(std::nullopt, NDPI_PROTOCOL_HTTP, 0, 4, other, false).block);
    Decision ex = p.value().decide(Category::p2p, NDPI_PROTOCOL_BITTORRENT, 0, 4, inside, false);
    EXPECT_FALSE(ex.block);
    EXPECT_EQ(ex.rule, Rule::exception);
    EXPECT_EQ(ex.index, 0);
    EXPECT_TRUE(
        p.value().decide(Category::p2p, NDPI_PROTOCOL_BITTORRENT, 0, 4, other, false).block);
    Decision app = p.value().decide(Category::remote_access, NDPI_PROTOCOL_SSH, 0, 4, other, false);
    EXPECT_FALSE(app.block);
    EXPECT_EQ(app.index, 1);
    EXPECT_TRUE(
        p.value().decide(Category::remote_access, NDPI_PROTOCOL_RDP, 0, 4, other, false).block);
    // R133-1: remote access from outside the outer loop, whatever the exceptions say.
    Decision outer =
        p.value().decide(Category::remote_access, NDPI_PROTOCOL_SSH, 0, 4, other, true);
    EXPECT_TRUE(outer.block);
    EXPECT_EQ(outer.rule, Rule::outer_loop);
}

TEST(Policy, AgreedVpnChannelIsTheExactTuple) {
    config::Categories c = categories_with_exceptions();
    auto p = CategoryPolicy::compile(c, modules());
    ASSERT_TRUE(p);
    uint32_t s[4] = {}, d[4] = {};
    inet_pton(AF_INET, "198.18.1.10", s);
    inet_pton(AF_INET, "203.0.113.10", d);
    EXPECT_EQ(p.value().channel(4, config::proto_udp, s, d, htons(50000), htons(1194)), 0);
    EXPECT_FALSE(p.value().channel(4, config::proto_udp, s, d, htons(50000), htons(1195)));
    EXPECT_FALSE(p.value().channel(4, config::proto_tcp, s, d, htons(50000), htons(1194)));
    EXPECT_FALSE(p.value().channel(4, config::proto_udp, d, s, htons(50000), htons(1194)));
}

TEST(Policy, UnknownApplicationNameIsAnErrorNamingIt) {
    config::Categories c;
    config::CategoryException e;
    e.name = "x";
    e.applications = {"NoSuchApp"};
    e.reference = "r";
    c.exceptions.push_back(e);
    auto p = CategoryPolicy::compile(c, modules());
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().to_string().find("NoSuchApp"), std::string::npos);
}

TEST(Arena, ServesFreesReusesAndRefusesWhenExhausted) {
    Arena a(4096);
    void *p = a.allocate(100);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(a.owns(p));
    a.release(p);
    void *q = a.allocate(120); // the same size class: the freed block again
    EXPECT_EQ(p, q);
    EXPECT_EQ(a.allocate(100000), nullptr);
    EXPECT_EQ(a.refused(), 1u);
    std::vector<void *> held;
    while (void *r = a.allocate(500))
        held.push_back(r);
    EXPECT_GE(a.refused(), 2u);
    EXPECT_FALSE(held.empty());
}

TEST(Arena, TheModulesCachesAreMadeWithItNotOnAWorker) {
    EXPECT_TRUE(mod().caches_ready());
    // A BitTorrent flow would make nDPI's peer cache (32768 entries, more than the arena's
    // largest block) on first use: with the cache made ahead, the arena refuses nothing.
    Arena a(1 << 20);
    Arena::bind_thread(&a);
    {
        Inspector in(2);
        Conversation c(in, mod(), 6, 40040, 6881);
        c.handshake();
        c.send(false, bittorrent_handshake());
        c.send(true, bittorrent_handshake());
        EXPECT_TRUE(c.verdict);
    }
    Arena::bind_thread(nullptr);
    EXPECT_EQ(a.refused(), 0u);
}

TEST(Arena, ABlockFreedByAnotherThreadComesBackThroughTheRemoteList) {
    Arena a(4096);
    Arena::bind_thread(&a);
    void *p = a.allocate(100);
    Arena::bind_thread(nullptr);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(a.in_use(), 128u);
    std::thread([&] { a.release_remote(p); }).join();
    EXPECT_EQ(a.in_use(), 128u); // not yet: the owner takes it back when it next allocates
    void *q = a.allocate(100);
    EXPECT_EQ(q, p);
    a.release(q);
    EXPECT_EQ(a.in_use(), 0u);
}

TEST(Arena, NdpiAllocationsOnABoundThreadComeFromItsArena) {
    Arena a(1 << 20);
    Arena::bind_thread(&a);
    Inspector in(2);
    tls(in, "store.steampowered.com", 0);
    Arena::bind_thread(nullptr);
    EXPECT_GT(a.allocations(), 0u);
    EXPECT_EQ(a.in_use(), 0u); // all given back with the flow
}

// A datagram longer than one packet to nDPI (a reassembled one) is judged by what fits.
TEST(Classifier, ADnsQueryLongerThanAPacketIsJudgedByItsQuestion) {
    Inspector in(4);
    Conversation q(in, mod(), 17, 40030, 53);
    auto query = dns_query("www.evil.example", 0x4242);
    query[11] = 1; // one additional record
    std::vector<uint8_t> opt{0,
                             0,
                             41,
                             0x10,
                             0,
                             0,
                             0,
                             0,
                             0,
                             uint8_t(3004 >> 8),
                             uint8_t(3004 & 0xff),
                             0,
                             12,
                             uint8_t(3000 >> 8),
                             uint8_t(3000 & 0xff)}; // EDNS padding
    query.insert(query.end(), opt.begin(), opt.end());
    query.insert(query.end(), 3000, 0);
    auto d = q.send(false, query);
    ASSERT_TRUE(d);
    EXPECT_EQ(category_of(*d), Category::malicious) << name_of(*d);
}

TEST(Classifier, WireGuardHandshakeIsVpn) {
    Inspector in(4);
    Conversation c(in, mod(), 17, 40031, 51820);
    std::vector<uint8_t> init{1, 0, 0, 0, 0x11, 0x22, 0x33, 0x44};
    auto rest = noise(140, 9);
    init.insert(init.end(), rest.begin(), rest.end());
    std::vector<uint8_t> resp{2, 0, 0, 0, 0x55, 0x66, 0x77, 0x88, 0x11, 0x22, 0x33, 0x44};
    auto r2 = noise(80, 10);
    resp.insert(resp.end(), r2.begin(), r2.end());
    std::vector<uint8_t> data{4, 0, 0, 0, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 0};
    auto r3 = noise(48, 11);
    data.insert(data.end(), r3.begin(), r3.end());
    c.send(false, init);
    c.send(true, resp);
    c.send(false, data);
    ASSERT_TRUE(c.verdict);
    EXPECT_EQ(name_of(*c.verdict), "WireGuard");
    EXPECT_EQ(category_of(*c.verdict), Category::vpn);
}

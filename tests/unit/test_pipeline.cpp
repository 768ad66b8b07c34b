// SPDX-License-Identifier: GPL-2.0-or-later
// The worker pipeline end to end on net_ring ports: frames go in as mbufs, and what the
// ports transmit is read back from their TX rings. Covers R128-g (stateful filtering per
// interface and direction, default deny), routing, ARP/ND, rejects and TTL handling.
#include "config/config.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/pkt_build.h"
#include "dataplane/ports.h"
#include "dataplane/slowpath.h"
#include "dataplane/worker.h"
#include "frames.h"
#include "pipeline_kit.h"
#include "ring_ports.h"

#include <gtest/gtest.h>

#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <arpa/inet.h>

#include <set>

using namespace qorgan;
using namespace qorgan::dp;
using namespace qorgan::test;

namespace {

constexpr const char *interfaces_text = R"(
interfaces {
    inner0 { device "net_ring_inner"; address 198.18.1.1/24; address 2001:db8:1::1/64; zone inner; }
    dmz0 { device "net_ring_dmz"; address 198.18.3.1/24; address 2001:db8:3::1/64; zone dmz; }
    inet0 { device "net_ring_inet"; address 203.0.113.1/24; address 2001:db8:100::1/64; zone internet; }
}
zones { inner { loop inner; } dmz { loop shielded; } internet { loop internet; } }
dataplane { max-flows 1024; }
)";

constexpr const char *policy_text = R"(
policy {
    inner0 {
        ingress {
            rule 10 { protocol tcp; destination 198.18.3.0/24; destination-port 80; action accept; }
            rule 11 { protocol tcp; destination 2001:db8:3::/64; destination-port 80; action accept; }
            rule 12 { protocol udp; destination 198.18.3.10; destination-port 53; action accept; }
            rule 20 { protocol tcp; destination-port 8080; action reject; }
            rule 21 { protocol udp; destination-port 9; action reject; }
            rule 30 { protocol icmp; icmp-type echo-request; action accept; }
            rule 31 { protocol icmpv6; icmp-type echo-request; action accept; }
            rule 40 { protocol tcp; destination-port 23; action drop; log; }
        }
        egress { rule 1000 { action accept; } }
    }
    dmz0 { egress { rule 1000 { action accept; } } }
    inet0 { egress { rule 1000 { action accept; } } }
}
)";

const Mac host_mac{0x02, 0, 0, 0, 0, 0x11};
const Mac server_mac{0x02, 0, 0, 0, 0, 0x33};

// Ports and pool live for the whole suite: a started ethdev cannot be re-created cheaply.
qorgan::test::RingPorts suite;
rte_mempool *&pool = suite.pool;
qorgan::test::RingPort (&rings)[3] = suite.ring;
Ports *&ports = suite.ports;

config::Config load(const std::string &policy) {
    auto c = config::load_text(std::string(interfaces_text) + policy, "pipeline.conf");
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().to_string());
    return c.value();
}

class Pipeline : public qorgan::test::PipelineTest {
protected:
    Pipeline() : PipelineTest(suite) {}

    static void SetUpTestSuite() {
        if (suite.pool) // opened once for every suite derived from this one
            return;
        qorgan::test::open_ring_ports(suite, "pl", std::string(interfaces_text));
    }

    void SetUp() override { install(policy_text, 1); }

    void install(const std::string &policy, uint32_t epoch) {
        conf = load(policy);
        ASSERT_NO_FATAL_FAILURE(build_snap(epoch));
        if (flows)
            return;
        ASSERT_NO_FATAL_FAILURE(open_worker_rings("pl", conf));
        active.store(snap.get());
        make_worker(worker_env(suite));
    }

    // Rule counter slot of (interface index, direction, rule id).
    uint64_t hits(size_t iface, Direction d, uint32_t id) const {
        const IfaceState &st = snap->ifaces[iface];
        const auto &rules = st.rules[static_cast<int>(d)]->rules();
        for (size_t i = 0; i < rules.size(); i++)
            if (rules[i].id == id)
                return snap->rule_hits(st.rule_base[static_cast<int>(d)] +
                                       static_cast<uint32_t>(i));
        ADD_FAILURE() << "no rule " << id;
        return 0;
    }

    // The dmz server's answer to the inner host's SYN (seq 1000) of the default FrameSpec.
    FrameSpec synack_from_server() const {
        FrameSpec f;
        f.src_mac = server_mac;
        f.dst_mac = port_mac(1);
        f.src = "198.18.3.10";
        f.dst = "198.18.1.11";
        f.sport = 80;
        f.dport = 40000;
        f.tcp_flags = 0x12;
        f.seq = 5000;
        f.ack = 1001;
        return f;
    }
};

FrameSpec to_dmz() {
    FrameSpec f;
    f.dst_mac = {}; // set by the caller to the gateway's MAC
    return f;
}

} // namespace

TEST_F(Pipeline, ArpRequestForGatewayIsAnsweredAndSenderLearned) {
    uint8_t buf[64];
    uint32_t gw = addr(4, "198.18.1.1")[0] | 0, host = 0;
    std::memcpy(&gw, addr(4, "198.18.1.1").data(), 4);
    std::memcpy(&host, addr(4, "198.18.1.11").data(), 4);
    uint32_t n = arp_build(buf, sizeof(buf), 1, host_mac, host, Mac{}, gw);
    ASSERT_GT(n, 0u);
    send(0, std::vector<uint8_t>(buf, buf + n));
    auto out = sent(0);
    ASSERT_EQ(out.size(), 1u);
    PacketMeta m{};
    ASSERT_FALSE(parse_frame(out[0].data(), static_cast<uint32_t>(out[0].size()), m));
    ArpInfo a{};
    ASSERT_TRUE(arp_read(out[0].data(), static_cast<uint32_t>(out[0].size()), m, a));
    EXPECT_EQ(a.op, 2);
    EXPECT_EQ(a.sender_ip, gw);
    EXPECT_EQ(a.sender_mac, port_mac(0));
    EXPECT_EQ(a.target_mac, host_mac);
    Mac learned;
    EXPECT_TRUE(neighbors.lookup(rings[0].port, 4, addr(4, "198.18.1.11").data(), learned));
    EXPECT_EQ(learned, host_mac);
}

TEST_F(Pipeline, ArpForSomeoneElseIsNotAnswered) {
    uint8_t buf[64];
    uint32_t other, host;
    std::memcpy(&other, addr(4, "198.18.1.99").data(), 4);
    std::memcpy(&host, addr(4, "198.18.1.11").data(), 4);
    uint32_t n = arp_build(buf, sizeof(buf), 1, host_mac, host, Mac{}, other);
    send(0, std::vector<uint8_t>(buf, buf + n));
    EXPECT_TRUE(sent(0).empty());
}

TEST_F(Pipeline, NeighborSolicitationForGatewayIsAnswered) {
    uint8_t buf[128];
    auto host = addr(6, "2001:db8:1::11");
    auto gw = addr(6, "2001:db8:1::1");
    uint32_t n = nd_build_ns(buf, sizeof(buf), host_mac, host.data(), gw.data());
    ASSERT_GT(n, 0u);
    send(0, std::vector<uint8_t>(buf, buf + n));
    auto out = sent(0);
    ASSERT_EQ(out.size(), 1u);
    PacketMeta m = parsed(out[0]);
    NdInfo nd{};
    ASSERT_TRUE(nd_read(out[0].data(), static_cast<uint32_t>(out[0].size()), m, nd));
    EXPECT_EQ(nd.type, 136);
    EXPECT_EQ(std::memcmp(nd.target, gw.data(), 16), 0);
    EXPECT_TRUE(nd.has_lladdr);
    EXPECT_EQ(nd.lladdr, port_mac(0));
}

TEST_F(Pipeline, AllowedFlowIsRoutedRewrittenAndRepliesPassWithoutARule) {
    learn(1, 4, "198.18.3.10", server_mac);
    learn(0, 4, "198.18.1.11", host_mac);
    FrameSpec syn = to_dmz();
    syn.dst_mac = port_mac(0);
    send(0, build_frame(syn));
    auto out = sent(1);
    ASSERT_EQ(out.size(), 1u);
    PacketMeta m = parsed(out[0]);
    EXPECT_EQ(m.ttl, 63);
    EXPECT_EQ(std::memcmp(out[0].data(), server_mac.data(), 6), 0);
    EXPECT_EQ(std::memcmp(out[0].data() + 6, port_mac(1).data(), 6), 0);
    EXPECT_EQ(hits(0, Direction::ingress, 10), 1u);
    EXPECT_EQ(flows->stats().active, 1u);

    // The SYN+ACK from the server: no rule on dmz0 ingress, passes as the flow's reply.
    FrameSpec synack = synack_from_server();
    send(1, build_frame(synack));
    auto back = sent(0);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(std::memcmp(back[0].data(), host_mac.data(), 6), 0);

    // The handshake's ACK and data go through without touching rule 10 again.
    FrameSpec ack = syn;
    ack.tcp_flags = 0x10;
    ack.seq = 1001;
    ack.ack = 5001;
    ack.payload = 100;
    send(0, build_frame(ack));
    EXPECT_EQ(sent(1).size(), 1u);
    EXPECT_EQ(hits(0, Direction::ingress, 10), 1u);
    EXPECT_EQ(drops(DropReason::default_deny), 0u);
}

TEST_F(Pipeline, UnsolicitedInboundIsDroppedByDefault) {
    learn(0, 4, "198.18.1.11", host_mac);
    FrameSpec f;
    f.src_mac = server_mac;
    f.dst_mac = port_mac(2);
    f.src = "203.0.113.10";
    f.dst = "198.18.1.11";
    f.dport = 22;
    send(2, build_frame(f));
    EXPECT_TRUE(sent(0).empty());
    EXPECT_EQ(drops(DropReason::default_deny), 1u);
    EXPECT_EQ(flows->stats().active, 0u);
}

TEST_F(Pipeline, StrayAckWithoutSessionIsDroppedEvenIfARuleAccepts) {
    learn(1, 4, "198.18.3.10", server_mac);
    FrameSpec f;
    f.dst_mac = port_mac(0);
    f.tcp_flags = 0x10;
    send(0, build_frame(f));
    EXPECT_TRUE(sent(1).empty());
    EXPECT_EQ(drops(DropReason::tcp_no_session), 1u);
}

// The screen's tcp-flags defence (default drop, R128-e) catches them before the rules.
TEST_F(Pipeline, SynWithFinOrRstOpensNothingAndIsNotCountedAsAFullTable) {
    learn(1, 4, "198.18.3.10", server_mac);
    for (uint8_t flags : {uint8_t(0x03), uint8_t(0x06)}) { // SYN+FIN, SYN+RST
        FrameSpec f;
        f.dst_mac = port_mac(0);
        f.tcp_flags = flags;
        send(0, build_frame(f));
        EXPECT_TRUE(sent(1).empty()) << int(flags);
    }
    EXPECT_EQ(drops(DropReason::tcp_bad_flags), 2u);
    EXPECT_EQ(drops(DropReason::flow_table_full), 0u);
    EXPECT_EQ(flows->stats().active, 0u);
}

TEST_F(Pipeline, OutOfWindowSegmentGoesBackThroughTheRules) {
    learn(1, 4, "198.18.3.10", server_mac);
    learn(0, 4, "198.18.1.11", host_mac);
    FrameSpec syn;
    syn.dst_mac = port_mac(0);
    send(0, build_frame(syn));
    FrameSpec synack = synack_from_server();
    synack.window = 1000;
    send(1, build_frame(synack));
    sent(0);
    sent(1);
    FrameSpec wild = syn;
    wild.tcp_flags = 0x10;
    wild.seq = 1001 + 0x40000000u; // far beyond the window the server offered
    wild.ack = 5001;
    send(0, build_frame(wild));
    EXPECT_TRUE(sent(1).empty());
    EXPECT_EQ(drops(DropReason::tcp_out_of_window), 1u);
    EXPECT_EQ(hits(0, Direction::ingress, 10), 2u); // re-evaluated by the rules
}

TEST_F(Pipeline, RejectAnswersTcpWithRstAndUdpWithUnreachable) {
    FrameSpec f;
    f.dst_mac = port_mac(0);
    f.dst = "203.0.113.10";
    f.dport = 8080;
    send(0, build_frame(f));
    auto out = sent(0);
    ASSERT_EQ(out.size(), 1u);
    PacketMeta m = parsed(out[0]);
    EXPECT_EQ(m.proto, 6);
    EXPECT_TRUE(m.tcp_flags & 0x04); // RST
    EXPECT_EQ(m.dst[0], parsed(build_frame(f)).src[0]);
    EXPECT_TRUE(sent(2).empty());
    EXPECT_EQ(drops(DropReason::rule_reject), 1u);

    FrameSpec u;
    u.dst_mac = port_mac(0);
    u.dst = "203.0.113.10";
    u.proto = 17;
    u.dport = 9;
    send(0, build_frame(u));
    out = sent(0);
    ASSERT_EQ(out.size(), 1u);
    m = parsed(out[0]);
    EXPECT_EQ(m.proto, 1);
    EXPECT_EQ(m.icmp_type, 3);
    EXPECT_EQ(m.icmp_code, 13); // communication administratively prohibited
}

TEST_F(Pipeline, DropRuleCountsEveryPacketAndLogs) {
    FrameSpec f;
    f.dst_mac = port_mac(0);
    f.dst = "203.0.113.10";
    f.dport = 23;
    for (int i = 0; i < 5; i++) {
        f.sport = static_cast<uint16_t>(30000 + i);
        send(0, build_frame(f));
    }
    EXPECT_EQ(hits(0, Direction::ingress, 40), 5u);
    EXPECT_EQ(drops(DropReason::rule_drop), 5u);
    std::fflush(log_file);
    std::rewind(log_file);
    char line[256];
    int lines = 0;
    while (std::fgets(line, sizeof(line), log_file))
        if (std::strstr(line, "rule-log iface=inner0 dir=ingress rule=40 action=drop proto=6 "
                              "src=198.18.1.11"))
            lines++;
    EXPECT_EQ(lines, 5);
}

TEST_F(Pipeline, TtlOneDrawsTimeExceeded) {
    learn(1, 4, "198.18.3.10", server_mac);
    FrameSpec f;
    f.dst_mac = port_mac(0);
    f.ttl = 1;
    send(0, build_frame(f));
    EXPECT_TRUE(sent(1).empty());
    auto out = sent(0);
    ASSERT_EQ(out.size(), 1u);
    PacketMeta m = parsed(out[0]);
    EXPECT_EQ(m.icmp_type, 11);
    EXPECT_EQ(drops(DropReason::ttl_exceeded), 1u);

    FrameSpec f6;
    f6.family = 6;
    f6.src = "2001:db8:1::11";
    f6.dst = "2001:db8:3::10";
    f6.dst_mac = port_mac(0);
    f6.ttl = 1;
    send(0, build_frame(f6));
    out = sent(0);
    ASSERT_EQ(out.size(), 1u);
    m = parsed(out[0]);
    EXPECT_EQ(m.proto, 58);
    EXPECT_EQ(m.icmp_type, 3);
}

TEST_F(Pipeline, EchoToGatewayIsAnsweredOnlyWhenRulesAllow) {
    FrameSpec p;
    p.dst_mac = port_mac(0);
    p.proto = 1;
    p.dst = "198.18.1.1";
    send(0, build_frame(p));
    auto out = sent(0);
    ASSERT_EQ(out.size(), 1u);
    PacketMeta m = parsed(out[0]);
    EXPECT_EQ(m.icmp_type, 0);

    // From the Internet side no rule admits ping to the gateway: default deny.
    FrameSpec q = p;
    q.dst_mac = port_mac(2);
    q.src = "203.0.113.10";
    q.dst = "203.0.113.1";
    send(2, build_frame(q));
    EXPECT_TRUE(sent(2).empty());
    EXPECT_EQ(drops(DropReason::default_deny), 1u);
}

TEST_F(Pipeline, UnknownNextHopIsResolvedAndTheHeldPacketReleased) {
    FrameSpec f;
    f.dst_mac = port_mac(0);
    f.dst = "198.18.3.20";
    send(0, build_frame(f));
    // The gateway asks who has 198.18.3.20 on dmz0 and holds the SYN.
    auto out = sent(1);
    ASSERT_EQ(out.size(), 1u);
    PacketMeta m = parsed(out[0]);
    ArpInfo a{};
    ASSERT_TRUE(arp_read(out[0].data(), static_cast<uint32_t>(out[0].size()), m, a));
    EXPECT_EQ(a.op, 1);
    EXPECT_EQ(slow->held(), 1u);
    // The answer releases it.
    uint8_t buf[64];
    uint32_t n = arp_build(buf, sizeof(buf), 2, server_mac, a.target_ip, port_mac(1), a.sender_ip);
    send(1, std::vector<uint8_t>(buf, buf + n));
    out = sent(1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::memcmp(out[0].data(), server_mac.data(), 6), 0);
    EXPECT_EQ(parsed(out[0]).proto, 6);
    EXPECT_EQ(slow->held(), 0u);
}

TEST_F(Pipeline, UnansweredResolutionGivesUpAndCounts) {
    FrameSpec f;
    f.dst_mac = port_mac(0);
    f.dst = "198.18.3.21";
    send(0, build_frame(f));
    for (int i = 0; i < 5; i++) {
        now += 1100;
        settle();
    }
    auto out = sent(1);
    EXPECT_EQ(out.size(), 3u); // three ARP requests, no data
    EXPECT_EQ(drops(DropReason::neighbor_unresolved), 1u);
    EXPECT_EQ(slow->held(), 0u);
}

TEST_F(Pipeline, MalformedFramesAreCountedByReason) {
    FrameSpec f;
    f.dst_mac = port_mac(0);
    auto frame = build_frame(f);
    frame.resize(14 + 12); // cut inside the IPv4 header
    send(0, frame);
    auto bad_ihl = build_frame(f);
    bad_ihl[14] = 0x44;
    send(0, bad_ihl);
    EXPECT_EQ(drops(DropReason::ipv4_truncated), 1u);
    EXPECT_EQ(drops(DropReason::ipv4_bad_ihl), 1u);
    EXPECT_TRUE(sent(1).empty());
}

TEST_F(Pipeline, PolicyChangeRechecksExistingFlows) {
    learn(1, 4, "198.18.3.10", server_mac);
    learn(0, 4, "198.18.1.11", host_mac);
    FrameSpec u;
    u.dst_mac = port_mac(0);
    u.proto = 17;
    u.dport = 53;
    send(0, build_frame(u));
    ASSERT_EQ(sent(1).size(), 1u);
    ASSERT_EQ(flows->stats().active, 1u);
    // A new policy without rule 12: the flow's next packet is re-checked and refused.
    std::string without = policy_text;
    without.erase(without.find("rule 12"), without.find("rule 20") - without.find("rule 12"));
    auto old = std::move(snap);
    install(without, 2);
    active.store(snap.get());
    send(0, build_frame(u));
    EXPECT_TRUE(sent(1).empty());
    EXPECT_EQ(drops(DropReason::default_deny), 1u);
    EXPECT_EQ(counters.flow_rechecks.get(), 1u);
    EXPECT_EQ(flows->stats().active, 0u);
}

// A burst's flows are looked up together before its packets are handled (process_burst):
// what an earlier packet of the burst did to the table must count for the later ones.
TEST_F(Pipeline, AFlowCreatedEarlierInABurstCarriesItsLaterPackets) {
    learn(1, 4, "198.18.3.10", server_mac);
    FrameSpec u;
    u.dst_mac = port_mac(0);
    u.proto = 17;
    u.dport = 53;
    FrameSpec other = u;
    other.sport = 40001;
    send_burst(0, {build_frame(u), build_frame(u), build_frame(other), build_frame(u)});
    EXPECT_EQ(sent(1).size(), 4u);
    EXPECT_EQ(flows->stats().created, 2u);
    EXPECT_EQ(flows->stats().refused_full, 0u);
    EXPECT_EQ(hits(0, Direction::ingress, 12), 2u); // the rules saw each flow once
    EXPECT_EQ(counters.drops[static_cast<unsigned>(DropReason::flow_table_full)].get(), 0u);
}

TEST_F(Pipeline, AFlowRemovedEarlierInABurstIsNotUsedByItsLaterPackets) {
    learn(1, 4, "198.18.3.10", server_mac);
    learn(0, 4, "198.18.1.11", host_mac);
    FrameSpec u;
    u.dst_mac = port_mac(0);
    u.proto = 17;
    u.dport = 53;
    send(0, build_frame(u));
    ASSERT_EQ(sent(1).size(), 1u);
    // Without rule 12 the flow's next packet removes it; a SYN of another flow then takes
    // the freed slot; the datagram after it must not be taken for that flow's packet.
    std::string without = policy_text;
    without.erase(without.find("rule 12"), without.find("rule 20") - without.find("rule 12"));
    auto old = std::move(snap);
    install(without, 2);
    active.store(snap.get());
    FrameSpec syn = to_dmz();
    syn.dst_mac = port_mac(0);
    send_burst(0, {build_frame(u), build_frame(syn), build_frame(u)});
    auto out = sent(1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(parsed(out[0]).proto, 6);
    EXPECT_EQ(drops(DropReason::default_deny), 2u);
    EXPECT_EQ(counters.flow_rechecks.get(), 1u);
    EXPECT_EQ(flows->stats().active, 1u);
    EXPECT_EQ(flows->stats().created, 2u);
}

TEST_F(Pipeline, Ipv6FlowIsForwarded) {
    learn(1, 6, "2001:db8:3::10", server_mac);
    FrameSpec f;
    f.family = 6;
    f.src = "2001:db8:1::11";
    f.dst = "2001:db8:3::10";
    f.dst_mac = port_mac(0);
    send(0, build_frame(f));
    auto out = sent(1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(parsed(out[0]).ttl, 63);
    EXPECT_EQ(hits(0, Direction::ingress, 11), 1u);
}

// ------------------------------------------------------------------ NAT44 (R128-d, R90-1-6)

namespace {

constexpr const char *nat_policy_text = R"(
policy {
    inner0 {
        ingress {
            rule 10 { protocol tcp; destination 203.0.113.0/24; action accept; }
            rule 11 { protocol udp; destination 203.0.113.0/24; action accept; }
            rule 12 { protocol icmp; icmp-type echo-request; action accept; }
        }
        egress { rule 1000 { action accept; } }
    }
    dmz0 {
        ingress { rule 10 { protocol udp; destination-port 53; action accept; } }
        egress { rule 1000 { action accept; } }
    }
    inet0 {
        ingress {
            rule 10 { protocol tcp; destination 198.18.3.10; destination-port 80; action accept; }
            rule 11 { protocol udp; destination 198.18.3.10; destination-port 53; action accept; }
        }
        egress { rule 1000 { action accept; } }
    }
}
)";

constexpr const char *nat_text = R"(
nat {
    source hide { interface inet0; from 198.18.1.0/24; }
    static web { interface inet0; inside 198.18.3.10; outside 203.0.113.50; }
    destination dns { interface inet0; protocol udp; address 203.0.113.1; port 5353; to 198.18.3.10; to-port 53; }
}
)";

const Mac inet_mac{0x02, 0, 0, 0, 0, 0x44};

// The IPv4 header and L4 checksums of a frame, recomputed from scratch, equal the stored ones.
::testing::AssertionResult checksums_ok(const std::vector<uint8_t> &f) {
    PacketMeta m{};
    if (auto r = parse_frame(f.data(), static_cast<uint32_t>(f.size()), m))
        return ::testing::AssertionFailure() << "does not parse: " << drop_reason_name(*r);
    const uint8_t *ip = f.data() + m.l3_offset;
    uint32_t ihl = (ip[0] & 0xf) * 4u;
    if (csum_fold(csum_partial(ip, ihl, 0)) != 0)
        return ::testing::AssertionFailure() << "IPv4 header checksum";
    const uint8_t *l4 = f.data() + m.l4_offset;
    uint32_t l4_len = m.l3_end - m.l4_offset;
    uint32_t sum = 0;
    if (m.proto == 6 || m.proto == 17) {
        if (m.proto == 17 && l4[6] == 0 && l4[7] == 0)
            return ::testing::AssertionSuccess();
        sum = csum_partial(ip + 12, 8, 0);
        sum += htons(m.proto) + htons(static_cast<uint16_t>(l4_len));
    }
    if (csum_fold(csum_partial(l4, l4_len, sum)) != 0)
        return ::testing::AssertionFailure() << "L4 checksum (proto " << int(m.proto) << ")";
    return ::testing::AssertionSuccess();
}

} // namespace

class Nat : public Pipeline {
protected:
    void SetUp() override {
        install(std::string(nat_policy_text) + nat_text, 1);
        learn(0, 4, "198.18.1.11", host_mac);
        learn(1, 4, "198.18.3.10", server_mac);
        learn(2, 4, "203.0.113.10", inet_mac);
    }
    NatCounters &nat() { return snap->nat->counters(0); }

    // A frame from the Internet host 203.0.113.10, and one from the shielded server
    // 198.18.3.10, each arriving at the gateway's port on its LAN.
    FrameSpec from_inet(const char *dst, uint8_t proto, uint16_t sport, uint16_t dport) {
        return frame_between(inet_mac, port_mac(2), "203.0.113.10", dst, proto, sport, dport);
    }
    FrameSpec from_server(const char *dst, uint8_t proto, uint16_t sport, uint16_t dport) {
        return frame_between(server_mac, port_mac(1), "198.18.3.10", dst, proto, sport, dport);
    }

    FrameSpec inner_to_inet(uint8_t proto, uint16_t sport, uint16_t dport) {
        FrameSpec f;
        f.dst_mac = port_mac(0);
        f.dst = "203.0.113.10";
        f.proto = proto;
        f.sport = sport;
        f.dport = dport;
        return f;
    }
};

TEST_F(Nat, SourceNaptHidesTheInsideAddressBothWaysWithRightChecksums) {
    for (uint8_t proto : {uint8_t(6), uint8_t(17)}) {
        SCOPED_TRACE(int(proto));
        FrameSpec out = inner_to_inet(proto, 40000, proto == 6 ? 80 : 53);
        out.payload = 33;
        send(0, build_frame(out));
        auto tx = sent(2);
        ASSERT_EQ(tx.size(), 1u);
        PacketMeta m = parsed(tx[0]);
        EXPECT_EQ(m.src[0], v4("203.0.113.1")) << "the inside address left the gateway";
        EXPECT_GE(ntohs(m.sport), 1024);
        EXPECT_EQ(m.dst[0], v4("203.0.113.10"));
        EXPECT_TRUE(checksums_ok(tx[0]));

        FrameSpec back;
        back.src_mac = inet_mac;
        back.dst_mac = port_mac(2);
        back.src = "203.0.113.10";
        back.dst = "203.0.113.1";
        back.proto = proto;
        back.sport = out.dport;
        back.dport = ntohs(m.sport);
        back.tcp_flags = 0x12;
        back.seq = 9000;
        back.ack = 1001;
        back.payload = 17;
        send(2, build_frame(back));
        auto rx = sent(0);
        ASSERT_EQ(rx.size(), 1u);
        PacketMeta r = parsed(rx[0]);
        EXPECT_EQ(r.dst[0], v4("198.18.1.11"));
        EXPECT_EQ(ntohs(r.dport), 40000);
        EXPECT_EQ(r.src[0], v4("203.0.113.10"));
        EXPECT_TRUE(checksums_ok(rx[0]));
    }
    EXPECT_EQ(nat().snat_new.get(), 2u);
    EXPECT_EQ(flows->stats().active, 2u);
}

TEST_F(Nat, EchoIdentifierIsTranslatedAndTheReplyFindsItsWayBack) {
    FrameSpec ping = inner_to_inet(1, 0, 0);
    ping.icmp_id = 4242;
    ping.payload = 8;
    send(0, build_frame(ping));
    auto tx = sent(2);
    ASSERT_EQ(tx.size(), 1u);
    PacketMeta m = parsed(tx[0]);
    EXPECT_EQ(m.src[0], v4("203.0.113.1"));
    EXPECT_TRUE(checksums_ok(tx[0]));
    FrameSpec pong;
    pong.src_mac = inet_mac;
    pong.dst_mac = port_mac(2);
    pong.src = "203.0.113.10";
    pong.dst = "203.0.113.1";
    pong.proto = 1;
    pong.icmp_type = 0;
    pong.icmp_id = ntohs(m.sport);
    pong.payload = 8;
    send(2, build_frame(pong));
    auto rx = sent(0);
    ASSERT_EQ(rx.size(), 1u);
    PacketMeta r = parsed(rx[0]);
    EXPECT_EQ(r.dst[0], v4("198.18.1.11"));
    EXPECT_EQ(ntohs(r.sport), 4242);
    EXPECT_TRUE(checksums_ok(rx[0]));
}

TEST_F(Nat, StaticNatPublishesTheShieldedServerAndHidesItOnTheWayOut) {
    FrameSpec syn = from_inet("203.0.113.50", 6, 5555, 80);
    send(2, build_frame(syn));
    auto tx = sent(1);
    ASSERT_EQ(tx.size(), 1u) << "drops: default_deny " << drops(DropReason::default_deny);
    PacketMeta m = parsed(tx[0]);
    EXPECT_EQ(m.dst[0], v4("198.18.3.10"));
    EXPECT_EQ(ntohs(m.dport), 80);
    EXPECT_TRUE(checksums_ok(tx[0]));
    FrameSpec synack = from_server("203.0.113.10", 6, 80, 5555);
    synack.tcp_flags = 0x12;
    synack.ack = 1001;
    send(1, build_frame(synack));
    auto rx = sent(2);
    ASSERT_EQ(rx.size(), 1u);
    PacketMeta r = parsed(rx[0]);
    EXPECT_EQ(r.src[0], v4("203.0.113.50"));
    EXPECT_TRUE(checksums_ok(rx[0]));
    // The server's own query to the Internet leaves as its public address too.
    FrameSpec q = from_server("203.0.113.10", 17, 33000, 53);
    send(1, build_frame(q));
    auto qx = sent(2);
    ASSERT_EQ(qx.size(), 1u);
    EXPECT_EQ(parsed(qx[0]).src[0], v4("203.0.113.50"));
    EXPECT_EQ(ntohs(parsed(qx[0]).sport), 33000);
    EXPECT_EQ(nat().static_new.get(), 2u);
}

TEST_F(Nat, DestinationNatForwardsAPortOfTheInterfaceAddress) {
    FrameSpec q = from_inet("203.0.113.1", 17, 34000, 5353);
    send(2, build_frame(q));
    auto tx = sent(1);
    ASSERT_EQ(tx.size(), 1u);
    PacketMeta m = parsed(tx[0]);
    EXPECT_EQ(m.dst[0], v4("198.18.3.10"));
    EXPECT_EQ(ntohs(m.dport), 53);
    EXPECT_TRUE(checksums_ok(tx[0]));
    FrameSpec a = from_server("203.0.113.10", 17, 53, 34000);
    send(1, build_frame(a));
    auto rx = sent(2);
    ASSERT_EQ(rx.size(), 1u);
    PacketMeta r = parsed(rx[0]);
    EXPECT_EQ(r.src[0], v4("203.0.113.1"));
    EXPECT_EQ(ntohs(r.sport), 5353);
    EXPECT_EQ(nat().dnat_new.get(), 1u);
}

TEST_F(Nat, IcmpErrorFromOutsideIsTranslatedBackAndABadInnerChecksumIsDropped) {
    FrameSpec out = inner_to_inet(17, 40001, 53);
    send(0, build_frame(out));
    auto tx = sent(2);
    ASSERT_EQ(tx.size(), 1u);
    PacketMeta m = parsed(tx[0]);
    // inet1 answers "port unreachable" quoting the translated datagram.
    uint8_t buf[256];
    uint32_t inet1 = v4("203.0.113.10");
    uint32_t n = icmp_error_build(buf, sizeof(buf), tx[0].data(), uint32_t(tx[0].size()), m, 3, 3,
                                  inet_mac, reinterpret_cast<const uint8_t *>(&inet1));
    ASSERT_GT(n, 0u);
    std::vector<uint8_t> err(buf, buf + n);
    std::memcpy(err.data(), port_mac(2).data(), 6); // to the gateway
    std::vector<uint8_t> bad = err;
    send(2, err);
    auto rx = sent(0);
    ASSERT_EQ(rx.size(), 1u);
    PacketMeta r = parsed(rx[0]);
    EXPECT_EQ(r.dst[0], v4("198.18.1.11"));
    EXPECT_TRUE(checksums_ok(rx[0])) << "ICMP checksum after translation";
    // The quoted packet is the inside host's own datagram again.
    const uint8_t *q = rx[0].data() + r.l4_offset + 8;
    uint32_t qsrc;
    std::memcpy(&qsrc, q + 12, 4);
    EXPECT_EQ(qsrc, v4("198.18.1.11"));
    EXPECT_EQ(q[20] << 8 | q[21], 40001);
    EXPECT_EQ(csum_fold(csum_partial(q, 20, 0)), 0) << "quoted IPv4 header checksum";
    EXPECT_EQ(nat().icmp_errors.get(), 1u);

    // RFC 5508: the same error with a corrupt quoted header checksum is dropped.
    PacketMeta bm{};
    ASSERT_FALSE(parse_frame(bad.data(), uint32_t(bad.size()), bm));
    bad[bm.l4_offset + 8 + 10] ^= 0x55;
    // keep the outer ICMP checksum right so that only the quoted header is wrong
    bad[bm.l4_offset + 2] = bad[bm.l4_offset + 3] = 0;
    uint16_t c = csum_fold(csum_partial(bad.data() + bm.l4_offset, bm.l3_end - bm.l4_offset, 0));
    std::memcpy(bad.data() + bm.l4_offset + 2, &c, 2);
    send(2, bad);
    EXPECT_TRUE(sent(0).empty());
    EXPECT_EQ(drops(DropReason::nat_bad_inner_checksum), 1u);
}

TEST_F(Nat, ExhaustedPoolRefusesNewFlowsCountsAndKeepsTheOldOnes) {
    install(std::string(nat_policy_text) +
                "nat { source small { interface inet0; from 198.18.1.0/24; pool 203.0.113.60; "
                "ports 40000-40063; } }\n",
            2);
    std::vector<uint16_t> given;
    for (uint16_t i = 0; i < 64; i++) {
        send(0, build_frame(inner_to_inet(17, uint16_t(20000 + i), 53)));
        auto tx = sent(2);
        ASSERT_EQ(tx.size(), 1u) << "flow " << i;
        PacketMeta m = parsed(tx[0]);
        EXPECT_EQ(m.src[0], v4("203.0.113.60"));
        given.push_back(ntohs(m.sport));
    }
    std::sort(given.begin(), given.end());
    EXPECT_EQ(std::unique(given.begin(), given.end()) - given.begin(), 64);
    EXPECT_EQ(given.front(), 40000);
    EXPECT_EQ(given.back(), 40063);
    send(0, build_frame(inner_to_inet(17, 30000, 53)));
    EXPECT_TRUE(sent(2).empty());
    EXPECT_EQ(nat().refused_pool.get(), 1u);
    EXPECT_EQ(drops(DropReason::nat_pool_exhausted), 1u);
    // An existing flow still passes.
    send(0, build_frame(inner_to_inet(17, 20005, 53)));
    EXPECT_EQ(sent(2).size(), 1u);
    // Idle flows expire and give their ports back.
    now += 3600 * 1000;
    while (flows->expire(now, 1024) > 0) {
    }
    EXPECT_EQ(snap->nat->sources()[0].pools[0]->stats().in_use, 0u);
    send(0, build_frame(inner_to_inet(17, 30000, 53)));
    EXPECT_EQ(sent(2).size(), 1u);
}

TEST_F(Nat, PoolAddressAnswersArpButUnsolicitedPacketsToItAreDropped) {
    install(std::string(nat_policy_text) +
                "nat { source small { interface inet0; pool 203.0.113.60; } }\n",
            2);
    uint8_t buf[64];
    uint32_t n =
        arp_build(buf, sizeof(buf), 1, inet_mac, v4("203.0.113.10"), Mac{}, v4("203.0.113.60"));
    send(2, std::vector<uint8_t>(buf, buf + n));
    EXPECT_EQ(sent(2).size(), 1u) << "proxy ARP for the pool address";
    n = arp_build(buf, sizeof(buf), 1, inet_mac, v4("203.0.113.10"), Mac{}, v4("203.0.113.61"));
    send(2, std::vector<uint8_t>(buf, buf + n));
    EXPECT_TRUE(sent(2).empty());
    FrameSpec probe = from_inet("203.0.113.60", 6, 4444, 22);
    send(2, build_frame(probe));
    EXPECT_TRUE(sent(0).empty());
    EXPECT_TRUE(sent(1).empty());
    EXPECT_EQ(drops(DropReason::nat_no_mapping), 1u);
}

TEST_F(Nat, CommitKeepsTranslationsOfUnchangedRulesAndDropsChangedOnes) {
    FrameSpec out = inner_to_inet(17, 40002, 53);
    send(0, build_frame(out));
    auto tx = sent(2);
    ASSERT_EQ(tx.size(), 1u);
    uint16_t port = ntohs(parsed(tx[0]).sport);
    FrameSpec back = from_inet("203.0.113.1", 17, 53, port);
    // Same NAT, one more rule elsewhere: the translation lives on.
    std::string more = std::string(nat_policy_text);
    more.insert(more.find("rule 12"),
                "rule 13 { protocol tcp; destination-port 22; action drop; }\n");
    install(more + nat_text, 2);
    active.store(snap.get());
    send(2, build_frame(back));
    EXPECT_EQ(sent(0).size(), 1u) << "reply after a commit that left NAT alone";
    // Another pool: the old translation cannot stand; its next packet finds no flow.
    install(more +
                "nat { source hide { interface inet0; from 198.18.1.0/24; pool 203.0.113.70; } }\n",
            3);
    active.store(snap.get());
    send(2, build_frame(back));
    EXPECT_TRUE(sent(0).empty());
    EXPECT_EQ(flows->stats().active, 0u);
}

namespace {

// Splits an untagged IPv4 frame into a first fragment holding `first` bytes of its IP
// payload (a multiple of 8) and a later fragment with the rest.
std::pair<std::vector<uint8_t>, std::vector<uint8_t>> fragment(const std::vector<uint8_t> &f,
                                                               size_t first, uint16_t id) {
    const size_t l3 = 14, ihl = 20;
    std::vector<uint8_t> a(f.begin(), f.begin() + long(l3 + ihl + first));
    std::vector<uint8_t> b(f.begin(), f.begin() + long(l3 + ihl));
    b.insert(b.end(), f.begin() + long(l3 + ihl + first), f.end());
    auto fix = [&](std::vector<uint8_t> &x, uint16_t frag) {
        uint8_t *ip = x.data() + l3;
        uint16_t total = htons(uint16_t(x.size() - l3));
        std::memcpy(ip + 2, &total, 2);
        uint16_t nid = htons(id);
        std::memcpy(ip + 4, &nid, 2);
        uint16_t fr = htons(frag);
        std::memcpy(ip + 6, &fr, 2);
        ip[10] = ip[11] = 0;
        uint16_t c = csum_fold(csum_partial(ip, ihl, 0));
        std::memcpy(ip + 10, &c, 2);
    };
    fix(a, 0x2000);              // MF, offset 0
    fix(b, uint16_t(first / 8)); // last fragment
    return {a, b};
}

} // namespace

TEST_F(Nat, LaterFragmentsOfATranslatedDatagramAreTranslatedLikeTheFirst) {
    FrameSpec big = inner_to_inet(17, 40003, 53);
    big.payload = 64;
    auto [first, later] = fragment(build_frame(big), 24, 0x4242);
    send(0, first);
    auto tx = sent(2);
    ASSERT_EQ(tx.size(), 1u);
    PacketMeta m = parsed(tx[0]);
    EXPECT_EQ(m.src[0], v4("203.0.113.1"));
    send(0, later);
    auto tx2 = sent(2);
    ASSERT_EQ(tx2.size(), 1u) << "later fragment: nat_fragment_unknown "
                              << drops(DropReason::nat_fragment_unknown);
    PacketMeta m2 = parsed(tx2[0]);
    EXPECT_EQ(m2.src[0], v4("203.0.113.1"));
    EXPECT_EQ(csum_fold(csum_partial(tx2[0].data() + 14, 20, 0)), 0);
    // A later fragment of a datagram whose first fragment never came is not let out
    // with the inside address.
    auto [f2, orphan] = fragment(build_frame(big), 24, 0x4343);
    (void)f2;
    send(0, orphan);
    EXPECT_TRUE(sent(2).empty());
    EXPECT_EQ(drops(DropReason::nat_fragment_unknown), 1u);
}

// With two workers, both directions of a translated flow must be owned by one worker
// (DESIGN.md: hand-off as in VPP's nat44-ed).
TEST_F(Nat, HairpinLetsInsideHostsUseThePublishedAddress) {
    std::string policy = nat_policy_text;
    policy.insert(policy.find("rule 12"),
                  "rule 13 { protocol tcp; destination 198.18.3.10; destination-port 80; "
                  "action accept; }\n");
    policy.insert(policy.find("rule 10 { protocol udp; destination-port 53"),
                  "rule 5 { protocol tcp; destination 198.18.3.10; destination-port 80; "
                  "action accept; }\n");
    install(policy + "nat { static web { interface inet0; inside 198.18.3.10; outside "
                     "203.0.113.50; hairpin; } }\n",
            2);
    // An inner host asks for the published address: it reaches the server, as itself.
    FrameSpec syn;
    syn.dst_mac = port_mac(0);
    syn.dst = "203.0.113.50";
    syn.sport = 41000;
    send(0, build_frame(syn));
    auto tx = sent(1);
    ASSERT_EQ(tx.size(), 1u) << "default_deny " << drops(DropReason::default_deny);
    PacketMeta m = parsed(tx[0]);
    EXPECT_EQ(m.dst[0], v4("198.18.3.10"));
    EXPECT_EQ(m.src[0], v4("198.18.1.11"));
    FrameSpec synack = synack_from_server();
    synack.dport = 41000;
    send(1, build_frame(synack));
    auto back = sent(0);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(parsed(back[0]).src[0], v4("203.0.113.50"))
        << "the answer comes from the address asked";
    EXPECT_TRUE(checksums_ok(back[0]));
    // A host on the server's own LAN: the server must answer through the gateway, so the
    // client is seen as the gateway's dmz0 address.
    learn(1, 4, "198.18.3.20", host_mac);
    FrameSpec near;
    near.src_mac = host_mac;
    near.dst_mac = port_mac(1);
    near.src = "198.18.3.20";
    near.dst = "203.0.113.50";
    near.sport = 42000;
    send(1, build_frame(near));
    auto tx2 = sent(1);
    ASSERT_EQ(tx2.size(), 1u);
    PacketMeta n = parsed(tx2[0]);
    EXPECT_EQ(n.dst[0], v4("198.18.3.10"));
    EXPECT_EQ(n.src[0], v4("198.18.3.1"));
    EXPECT_TRUE(checksums_ok(tx2[0]));
    FrameSpec reply = synack_from_server();
    reply.dst = "198.18.3.1";
    reply.dport = 42000;
    send(1, build_frame(reply));
    auto tx3 = sent(1);
    ASSERT_EQ(tx3.size(), 1u);
    PacketMeta r = parsed(tx3[0]);
    EXPECT_EQ(r.dst[0], v4("198.18.3.20"));
    EXPECT_EQ(r.src[0], v4("203.0.113.50"));
    EXPECT_TRUE(checksums_ok(tx3[0]));
}

TEST_F(Nat, EndpointIndependentMappingKeepsOnePublicPortPerInsideSocket) {
    install(std::string(nat_policy_text) +
                "nat { source eim { interface inet0; from 198.18.1.0/24; "
                "mapping endpoint-independent; } }\n",
            2);
    learn(2, 4, "203.0.113.20", inet_mac);
    uint16_t port[2];
    const char *far[2] = {"203.0.113.10", "203.0.113.20"};
    for (int i = 0; i < 2; i++) {
        FrameSpec f = inner_to_inet(17, 40010, 53);
        f.dst = far[i];
        send(0, build_frame(f));
        auto tx = sent(2);
        ASSERT_EQ(tx.size(), 1u);
        port[i] = parsed(tx[0]).sport;
    }
    EXPECT_EQ(port[0], port[1]) << "RFC 4787 EIM: one mapping for one inside address and port";
    EXPECT_EQ(snap->nat->sources()[0].pools[0]->stats().eim_reused, 1u);
    // Another inside port gets another mapping.
    send(0, build_frame(inner_to_inet(17, 40011, 53)));
    auto tx = sent(2);
    ASSERT_EQ(tx.size(), 1u);
    EXPECT_NE(parsed(tx[0]).sport, port[0]);
}

TEST_F(Nat, MssClampLowersTheMssOfForwardedSyns) {
    install(std::string(nat_policy_text) + "nat { mss-clamp 1200; }\n", 2);
    // A SYN with an MSS option of 1460 (kind 2, length 4), checksums made right.
    FrameSpec syn = inner_to_inet(6, 40020, 80);
    std::vector<uint8_t> f = build_frame(syn);
    const size_t ip = 14, tcp = ip + 20;
    const uint8_t opt[4] = {2, 4, 0x05, 0xb4};
    f.insert(f.begin() + long(tcp + 20), opt, opt + 4);
    f[tcp + 12] = 6 << 4; // data offset: 24 bytes
    uint16_t total = htons(uint16_t(f.size() - ip));
    std::memcpy(&f[ip + 2], &total, 2);
    f[ip + 10] = f[ip + 11] = 0;
    uint16_t c = csum_fold(csum_partial(&f[ip], 20, 0));
    std::memcpy(&f[ip + 10], &c, 2);
    f[tcp + 16] = f[tcp + 17] = 0;
    uint32_t sum = csum_partial(&f[ip + 12], 8, 0) + htons(6) + htons(uint16_t(f.size() - tcp));
    c = csum_fold(csum_partial(&f[tcp], uint32_t(f.size() - tcp), sum));
    std::memcpy(&f[tcp + 16], &c, 2);
    ASSERT_TRUE(checksums_ok(f));
    send(0, f);
    auto tx = sent(2);
    ASSERT_EQ(tx.size(), 1u);
    PacketMeta m = parsed(tx[0]);
    const uint8_t *o = tx[0].data() + m.l4_offset + 20;
    EXPECT_EQ(o[0], 2);
    EXPECT_EQ(o[2] << 8 | o[3], 1200);
    EXPECT_TRUE(checksums_ok(tx[0]));
    EXPECT_EQ(nat().mss_clamped.get(), 1u);
}

// Two workers, each with its own flow table: what the kernel's fan-out gives the wrong one
// is handed to the owner through its ring, first fragments and the later ones after them.
TEST_F(Nat, TwoWorkersHandRepliesAndFragmentsToTheOwner) {
    auto c = config::load_text(std::string(interfaces_text) + nat_policy_text + nat_text, "two");
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    auto s2 = build_snapshot(c.value(), ports->bindings(), 2, 9, 0);
    ASSERT_TRUE(s2.ok()) << s2.error().to_string();
    Snapshot &s = *s2.value();
    std::unique_ptr<FlowTable> ft[2];
    rte_ring *handoff[2];
    std::unique_ptr<Worker> w[2];
    WorkerCounters wc[2];
    for (unsigned i = 0; i < 2; i++) {
        auto f = FlowTable::create(("two_flows_" + std::to_string(serial++)).c_str(), 1024, 0,
                                   c.value().dataplane.timeouts);
        ASSERT_TRUE(f.ok());
        ft[i] = std::move(f.value());
        handoff[i] =
            rte_ring_create(("two_ho_" + std::to_string(serial++)).c_str(), 64, 0, RING_F_SC_DEQ);
        ASSERT_NE(handoff[i], nullptr);
    }
    for (unsigned i = 0; i < 2; i++) {
        WorkerEnv env = worker_env(suite);
        env.id = i;
        env.counters = &wc[i];
        env.flows = ft[i].get();
        env.handoff = {handoff[0], handoff[1]};
        w[i] = std::make_unique<Worker>(env);
    }
    auto feed = [&](unsigned wi, int port_index, const std::vector<uint8_t> &frame) {
        rte_mbuf *m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, uint16_t(frame.size())), frame.data(), frame.size());
        w[wi]->process(s, rings[port_index].port, &m, 1, now);
        w[wi]->flush();
        for (unsigned k = 0; k < 2; k++) {
            w[k]->drain_handoff(s, now);
            w[k]->flush();
        }
    };
    const NatCounters &n1 = s.nat->counters(1);

    // Worker 0 translates the inside host's datagram, from its slice of the ports.
    feed(0, 0, build_frame(inner_to_inet(17, 40100, 53)));
    auto tx = sent(2);
    ASSERT_EQ(tx.size(), 1u);
    PacketMeta m = parsed(tx[0]);
    EXPECT_EQ(PortPool::owner(s.nat->sources()[0].pool, ntohs(m.sport)), 0u);
    // The answer reaches worker 1, which hands it over: it comes out translated back.
    FrameSpec back = from_inet("203.0.113.1", 17, 53, ntohs(m.sport));
    feed(1, 2, build_frame(back));
    auto rx = sent(0);
    ASSERT_EQ(rx.size(), 1u);
    EXPECT_EQ(parsed(rx[0]).dst[0], v4("198.18.1.11"));
    EXPECT_EQ(n1.handoffs.get(), 1u);
    EXPECT_EQ(ft[1]->stats().active, 0u) << "worker 1 holds no state for it";

    // A fragmented datagram to the published server, received by the worker that does not
    // own it: the first fragment and then the later one are handed over and translated.
    // (Worker 1 only receives here: the ring ports have one TX queue, worker 0's.)
    uint16_t sport = 5000;
    int owner = -1;
    for (; sport < 5100; sport++) {
        owner = nat_owner(*s.nat, rings[2].port, 17, v4("203.0.113.10"), htons(sport),
                          v4("203.0.113.50"), htons(53));
        if (owner == 0)
            break;
    }
    ASSERT_EQ(owner, 0);
    FrameSpec big = from_inet("203.0.113.50", 17, sport, 53);
    big.payload = 64;
    auto [first, later] = fragment(build_frame(big), 24, 0x5151);
    feed(1, 2, first);
    feed(1, 2, later);
    auto out = sent(1);
    ASSERT_EQ(out.size(), 2u) << "nat_fragment_unknown on worker 0: "
                              << wc[0].drops[unsigned(DropReason::nat_fragment_unknown)].get();
    for (const auto &f : out)
        EXPECT_EQ(parsed(f).dst[0], v4("198.18.3.10"));
    EXPECT_EQ(n1.handoffs.get(), 3u);
    EXPECT_EQ(ft[0]->stats().active, 2u);
    EXPECT_EQ(ft[1]->stats().active, 0u) << "worker 1 holds no state at all";
    w[0].reset();
    w[1].reset();
    for (auto *r : handoff)
        rte_ring_free(r);
}

TEST(NatOwner, BothDirectionsOfEveryTranslationHaveOneOwner) {
    auto c =
        config::load_text(std::string(interfaces_text) + nat_policy_text + nat_text, "owner.conf");
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    auto nat = NatTable::build(c.value(), {{"inner0", 0}, {"dmz0", 1}, {"inet0", 2}}, 2, nullptr);
    ASSERT_TRUE(nat.ok()) << nat.error().to_string();
    const NatTable &t = *nat.value();
    const uint16_t inner = 0, dmz = 1, inet = 2;
    const uint8_t tcp = 6, udp = 17;
    uint32_t remote = v4("203.0.113.10"), pub = v4("203.0.113.50"), srv = v4("198.18.3.10");
    uint32_t gw = v4("203.0.113.1"), host = v4("198.18.1.11");
    std::set<int> owners;
    for (uint16_t rp = 1000; rp < 1064; rp++) {
        uint16_t rport = htons(rp);
        // Static: the Internet to the published server, and the server's answer.
        int in = nat_owner(t, inet, tcp, remote, rport, pub, htons(80));
        int back = nat_owner(t, dmz, tcp, srv, htons(80), remote, rport);
        ASSERT_GE(in, 0);
        EXPECT_EQ(in, back) << rp;
        owners.insert(in);
        // Destination NAT of port 5353 on the interface address.
        EXPECT_EQ(nat_owner(t, inet, udp, remote, rport, gw, htons(5353)),
                  nat_owner(t, dmz, udp, srv, htons(53), remote, rport));
    }
    EXPECT_EQ(owners.size(), 2u) << "the far-end hash spreads flows over both workers";
    // Source NAPT: a reply to the pool belongs to the worker whose slice holds the port.
    const NatSourceRule &r = t.sources()[0];
    PortRefusal why;
    for (unsigned w = 0; w < 2; w++) {
        auto m = r.pools[w]->allocate(udp, host, htons(40000), why);
        ASSERT_TRUE(m.has_value());
        EXPECT_EQ(nat_owner(t, inet, udp, remote, htons(53), m->addr, m->port), int(w));
    }
    // Plain traffic is nobody's business: the receiving worker keeps it.
    EXPECT_EQ(nat_owner(t, inner, tcp, host, htons(40000), v4("198.18.3.20"), htons(80)), -1);
}

TEST_F(Nat, TtlExpiringAtTheGatewayIsAnsweredUntranslatedAndMakesNoTranslation) {
    FrameSpec probe = inner_to_inet(17, 33434, 53);
    probe.ttl = 1;
    send(0, build_frame(probe));
    EXPECT_TRUE(sent(2).empty());
    auto back = sent(0);
    ASSERT_EQ(back.size(), 1u);
    PacketMeta m = parsed(back[0]);
    EXPECT_EQ(m.icmp_type, 11);
    EXPECT_EQ(m.dst[0], v4("198.18.1.11")) << "the error went to a translated address";
    EXPECT_EQ(flows->stats().active, 0u);
    EXPECT_EQ(nat().translated_new.get(), 0u);
}

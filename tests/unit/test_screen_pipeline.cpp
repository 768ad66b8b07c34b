// SPDX-License-Identifier: GPL-2.0-or-later
// The attack-protection screen (docs/SCREEN.md) on the real worker pipeline: frames go in on
// net_ring ports with a configuration that carries `security { screen <zone> { ... } }`, and
// the tests read what came out of which port, the drops by reason, the screen's counters, its
// events and the flow table. Covers R128-e, R90-1-3 and the IPS half of R139-10-1.
#include "config/config.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/pkt_build.h"
#include "dataplane/ports.h"
#include "dataplane/screen.h"
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
#include <rte_ring_elem.h>

#include <arpa/inet.h>

#include <map>

using namespace qorgan;
using namespace qorgan::dp;
using namespace qorgan::test;

namespace {

// Port indices: the three interfaces, in configuration order.
constexpr int inner = 0, dmz = 1, inet = 2;

const Mac server_mac{0x02, 0, 0, 0, 0, 0x33};
const Mac inet_mac{0x02, 0, 0, 0, 0, 0x44};

// What varies between the tests' interfaces: the dmz MTU (re-fragmentation) and the uRPF
// mode of the Internet side.
struct Topology {
    uint16_t dmz_mtu = 1500;
    const char *inet_urpf = "off";
};

std::string interfaces_text(const Topology &t) {
    // An interface with an IPv6 address needs an MTU of at least 1280.
    std::string dmz6 = t.dmz_mtu >= 1280 ? " address 2001:db8:3::1/64;" : "";
    return "interfaces {\n"
           "    inner0 { device \"net_ring_scr_inner\"; address 198.18.1.1/24; address "
           "2001:db8:1::1/64; zone inner; }\n"
           "    dmz0 { device \"net_ring_scr_dmz\"; address 198.18.3.1/24;" +
           dmz6 + " zone dmz; mtu " + std::to_string(t.dmz_mtu) +
           "; }\n"
           "    inet0 { device \"net_ring_scr_inet\"; address 203.0.113.1/24; address "
           "2001:db8:100::1/64; zone internet; urpf " +
           t.inet_urpf +
           "; }\n"
           "}\n"
           "zones { inner { loop inner; } dmz { loop shielded; } internet { loop internet; } }\n"
           "dataplane { max-flows 1024; }\n";
}

constexpr const char *policy_text = R"(
policy {
    inet0 {
        ingress {
            rule 10 { protocol tcp; destination 198.18.3.0/24; action accept; }
            rule 11 { protocol udp; destination 198.18.3.0/24; action accept; }
            rule 12 { protocol icmp; icmp-type echo-request; action accept; }
            rule 13 { protocol tcp; destination 2001:db8:3::/64; action accept; }
        }
        egress { rule 1000 { action accept; } }
    }
    dmz0 { egress { rule 1000 { action accept; } } }
    inner0 { egress { rule 1000 { action accept; } } }
}
routes {
    route 192.0.2.0/24 { via 198.18.1.254; }
    route 198.51.100.0/24 { via 203.0.113.254; }
}
)";

// Ports and pools live for the whole suite (a started ethdev cannot be re-created cheaply).
// The devices have their own names so that they do not collide with test_pipeline.cpp's.
qorgan::test::RingPorts suite;
rte_mempool *jumbo_pool = nullptr;
rte_mempool *indirect_pool = nullptr;

uint32_t rd32(const uint8_t *p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

uint16_t rd16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// Inserts IPv4 options (a multiple of 4 bytes) after the 20-byte header of a frame made by
// build_frame, with the header length, total length and header checksum made right again.
std::vector<uint8_t> with_ip_options(std::vector<uint8_t> f, const std::vector<uint8_t> &opts) {
    f.insert(f.begin() + 34, opts.begin(), opts.end());
    uint8_t *ip = &f[14];
    size_t ihl = 20 + opts.size();
    ip[0] = static_cast<uint8_t>(0x40 | ihl / 4);
    qorgan::test::put16(ip + 2, static_cast<uint16_t>(rd16(ip + 2) + opts.size()));
    qorgan::test::put16(ip + 10, 0);
    qorgan::test::put16(ip + 10, qorgan::test::fold(qorgan::test::sum16(ip, ihl)));
    return f;
}

class ScreenPipeline : public qorgan::test::PipelineTest {
protected:
    ScreenPipeline() : PipelineTest(suite) {}

    static void SetUpTestSuite() {
        if (suite.pool)
            return;
        qorgan::test::open_ring_ports(suite, "scr", interfaces_text(Topology{}), "scr_");
        jumbo_pool = rte_pktmbuf_pool_create("scr_jumbo", 63, 0, mbuf_priv_size,
                                             16384 + RTE_PKTMBUF_HEADROOM, 0);
        ASSERT_NE(jumbo_pool, nullptr);
        indirect_pool = rte_pktmbuf_pool_create("scr_indirect", 1023, 0, 0, 0, 0);
        ASSERT_NE(indirect_pool, nullptr);
    }

    // Installs the test policy with `security` (the whole `security { ... }` text, or empty
    // for the defaults) on the given interfaces; the worker is made at the first install.
    void install(const std::string &security, Topology t = {}) {
        ASSERT_NO_FATAL_FAILURE(
            publish(interfaces_text(t) + policy_text + security, "screen_pipeline.conf", ++epoch));
        if (worker)
            return;
        ASSERT_NO_FATAL_FAILURE(open_worker_rings("scr", conf));
        event_ring =
            rte_ring_create_elem(("scr_ev" + std::to_string(serial++)).c_str(), sizeof(ScreenEvent),
                                 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        ASSERT_NE(event_ring, nullptr);
        WorkerEnv env = worker_env(suite);
        env.event_ring = event_ring;
        env.sessions = &requests;
        env.jumbo_pool = jumbo_pool;
        env.indirect_pool = indirect_pool;
        for (uint8_t i = 0; i < 16; i++)
            env.cookie_key[i] = static_cast<uint8_t>(i * 17 + 3);
        make_worker(env);
        // Every host the tests talk to is known: frames go out at once.
        learn(dmz, 4, "198.18.3.10", server_mac);
        for (int h = 20; h < 40; h++)
            learn(dmz, 4, ("198.18.3." + std::to_string(h)).c_str(), server_mac);
        learn(dmz, 6, "2001:db8:3::10", server_mac);
        for (int h = 10; h < 40; h++)
            learn(inet, 4, ("203.0.113." + std::to_string(h)).c_str(), inet_mac);
        learn(inet, 4, "203.0.113.254", inet_mac);
    }

    void TearDown() override {
        PipelineTest::TearDown();
        rte_ring_free(event_ring);
    }

    // How many frames port `out` sent since the last call (and forgets them).
    size_t count(int out) { return sent(out).size(); }

    std::vector<ScreenEvent> events() {
        std::vector<ScreenEvent> v;
        ScreenEvent e;
        while (rte_ring_sc_dequeue_elem(event_ring, &e, sizeof(e)) == 0)
            v.push_back(e);
        return v;
    }

    const DefenceCounters &def(Defence d) const { return counters.screen[d]; }
    uint32_t active_flows() const { return flows->stats().active; }

    // A frame from an Internet host, arriving on inet0.
    FrameSpec from_inet(const char *src, const char *dst, uint8_t proto, uint16_t sport,
                        uint16_t dport) {
        return qorgan::test::frame_between(inet_mac, port_mac(inet), src, dst, proto, sport, dport);
    }
    FrameSpec syn(const char *src, uint16_t sport, const char *dst = "198.18.3.10",
                  uint16_t dport = 80) {
        return from_inet(src, dst, 6, sport, dport);
    }

    rte_ring *event_ring = nullptr;
    SessionSlot requests{16}; // what the main lcore asks of the worker (block list)
    uint32_t epoch = 0;
};

} // namespace

// --- SYN flood ------------------------------------------------------------------------------

TEST_F(ScreenPipeline, SynFloodAboveThresholdIsAnsweredWithACookieAndTheRstProvesTheSource) {
    install("security { screen internet { syn-flood { threshold 2; action cookie; } } }");
    send(inet, build_frame(syn("203.0.113.10", 40000)));
    send(inet, build_frame(syn("203.0.113.11", 40001)));
    EXPECT_EQ(count(dmz), 2u);
    EXPECT_EQ(active_flows(), 2u);

    // Third half-open connection to the server: a cookie, no flow, nothing forwarded.
    FrameSpec s3 = syn("203.0.113.12", 40002);
    s3.seq = 777000;
    send(inet, build_frame(s3));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(active_flows(), 2u);
    EXPECT_EQ(drops(DropReason::syn_cookie_sent), 1u);
    EXPECT_EQ(counters.screen.cookies_sent.get(), 1u);
    EXPECT_EQ(def(Defence::syn_flood).detected.get(), 1u);
    auto back = sent(inet);
    ASSERT_EQ(back.size(), 1u);
    const auto &sa = back[0];
    PacketMeta m = parsed(sa);
    EXPECT_EQ(std::memcmp(sa.data(), inet_mac.data(), 6), 0);
    EXPECT_EQ(std::memcmp(sa.data() + 6, port_mac(inet).data(), 6), 0);
    EXPECT_EQ(m.src[0], v4("198.18.3.10"));
    EXPECT_EQ(m.dst[0], v4("203.0.113.12"));
    EXPECT_EQ(ntohs(m.sport), 80);
    EXPECT_EQ(ntohs(m.dport), 40002);
    EXPECT_EQ(m.tcp_flags, 0x12);
    uint32_t cookie = rd32(sa.data() + m.l4_offset + 8);
    EXPECT_NE(cookie, 777001u);

    // The client's stack resets with seq = the acknowledgment: the source is proven.
    FrameSpec rst = syn("203.0.113.12", 40002);
    rst.tcp_flags = 0x04;
    rst.seq = cookie;
    send(inet, build_frame(rst));
    EXPECT_EQ(drops(DropReason::syn_cookie_verified), 1u);
    EXPECT_EQ(counters.screen.cookies_verified.get(), 1u);
    EXPECT_EQ(count(dmz), 0u);

    // Its retransmitted SYN opens the connection end to end.
    send(inet, build_frame(s3));
    auto fwd = sent(dmz);
    ASSERT_EQ(fwd.size(), 1u);
    EXPECT_EQ(rd32(fwd[0].data() + parsed(fwd[0]).l4_offset + 4), 777000u);
    EXPECT_EQ(active_flows(), 3u);
    EXPECT_EQ(counters.screen.cookies_sent.get(), 1u);

    // A RST with a wrong sequence number proves nothing: the next SYN gets a cookie again.
    FrameSpec s4 = syn("203.0.113.13", 40003);
    send(inet, build_frame(s4));
    auto back4 = sent(inet);
    ASSERT_EQ(back4.size(), 1u);
    uint32_t cookie4 = rd32(back4[0].data() + parsed(back4[0]).l4_offset + 8);
    FrameSpec bad = s4;
    bad.tcp_flags = 0x04;
    bad.seq = cookie4 + 0x10000; // (check() also takes cookie ^ 1: make() may give that)
    send(inet, build_frame(bad));
    EXPECT_EQ(counters.screen.cookies_verified.get(), 1u);
    send(inet, build_frame(s4));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(count(inet), 1u);
    EXPECT_EQ(counters.screen.cookies_sent.get(), 3u);
    EXPECT_EQ(active_flows(), 3u);
}

TEST_F(ScreenPipeline, SynFloodDropAndAlarm) {
    install("security { screen internet { syn-flood { threshold 2; action drop; } } }");
    send(inet, build_frame(syn("203.0.113.10", 40000)));
    send(inet, build_frame(syn("203.0.113.11", 40001)));
    send(inet, build_frame(syn("203.0.113.12", 40002)));
    EXPECT_EQ(count(dmz), 2u);
    EXPECT_EQ(count(inet), 0u);
    EXPECT_EQ(drops(DropReason::syn_flood), 1u);
    EXPECT_EQ(def(Defence::syn_flood).detected.get(), 1u);
    EXPECT_EQ(def(Defence::syn_flood).dropped.get(), 1u);
    EXPECT_EQ(def(Defence::syn_flood).events.get(), 1u);
    EXPECT_EQ(active_flows(), 2u);

    install("security { screen internet { syn-flood { threshold 2; action alarm; } } }");
    send(inet, build_frame(syn("203.0.113.13", 40003)));
    EXPECT_EQ(count(dmz), 1u);
    EXPECT_EQ(drops(DropReason::syn_flood), 1u);
    EXPECT_EQ(def(Defence::syn_flood).detected.get(), 2u);
    EXPECT_EQ(def(Defence::syn_flood).dropped.get(), 1u);
    EXPECT_EQ(def(Defence::syn_flood).events.get(), 2u);
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[1].defence, static_cast<uint8_t>(Defence::syn_flood));
    EXPECT_EQ(ev[1].action, static_cast<uint8_t>(config::ScreenAction::alarm));
    EXPECT_EQ(ev[1].value, 2u);
    EXPECT_EQ(active_flows(), 3u);
}

// With `drop`, a SYN towards a destination under attack is turned away before the route and
// the rules (they count nothing for it); towards one of the gateway's own addresses (a port
// it forwards) it takes the way through the rules and is dropped after them, as before.
TEST_F(ScreenPipeline, SynFloodDropTurnsSynsAwayBeforeTheRulesExceptTheGatewaysOwn) {
    install("nat { destination web { interface inet0; protocol tcp; port 80; to 198.18.3.10; } }\n"
            "security { screen internet { syn-flood { threshold 2; action drop; } } }");
    auto rule10 = [&] { return snap->rule_hits(snap->ifaces[inet].rule_base[0]); };
    send(inet, build_frame(syn("203.0.113.10", 40000)));
    send(inet, build_frame(syn("203.0.113.11", 40001)));
    ASSERT_EQ(count(dmz), 2u);
    ASSERT_EQ(rule10(), 2u);
    send(inet, build_frame(syn("203.0.113.12", 40002)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::syn_flood), 1u);
    EXPECT_EQ(rule10(), 2u) << "turned away before the rules";

    // The published address, the gateway's own, under attack.
    send(inet, build_frame(syn("203.0.113.20", 41000, "203.0.113.1")));
    send(inet, build_frame(syn("203.0.113.21", 41001, "203.0.113.1")));
    ASSERT_EQ(count(dmz), 2u);
    send(inet, build_frame(syn("203.0.113.22", 41002, "203.0.113.1")));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::syn_flood), 2u);
    EXPECT_EQ(rule10(), 5u) << "the gateway's own address goes through the rules first";
}

TEST_F(ScreenPipeline, HalfOpenCountFallsWhenHandshakesCompleteAndWhenFlowsGo) {
    install("security { screen internet { syn-flood { threshold 2; action drop; } } }");
    FrameSpec a = syn("203.0.113.10", 40000);
    send(inet, build_frame(a));
    send(inet, build_frame(syn("203.0.113.11", 40001)));
    send(inet, build_frame(syn("203.0.113.12", 40002)));
    EXPECT_EQ(count(dmz), 2u);
    EXPECT_EQ(drops(DropReason::syn_flood), 1u);

    // The handshake of the first completes through the pipeline.
    FrameSpec sa;
    sa.src_mac = server_mac;
    sa.dst_mac = port_mac(dmz);
    sa.src = "198.18.3.10";
    sa.dst = "203.0.113.10";
    sa.sport = 80;
    sa.dport = 40000;
    sa.tcp_flags = 0x12;
    sa.seq = 5000;
    sa.ack = a.seq + 1;
    send(dmz, build_frame(sa));
    EXPECT_EQ(count(inet), 1u);
    FrameSpec ack = a;
    ack.tcp_flags = 0x10;
    ack.seq = a.seq + 1;
    ack.ack = 5001;
    send(inet, build_frame(ack));
    EXPECT_EQ(count(dmz), 1u);
    send(inet, build_frame(syn("203.0.113.12", 40002)));
    EXPECT_EQ(count(dmz), 1u) << "a completed handshake still counts as half-open";
    EXPECT_EQ(drops(DropReason::syn_flood), 1u);
    send(inet, build_frame(syn("203.0.113.13", 40003)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::syn_flood), 2u);

    // A half-open flow removed from the table gives its place back.
    FlowKey k{};
    k.src[0] = v4("203.0.113.11");
    k.dst[0] = v4("198.18.3.10");
    k.sport = htons(40001);
    k.dport = htons(80);
    k.proto = 6;
    k.family = 4;
    Dir dir;
    Flow *f = flows->lookup(k, &dir);
    ASSERT_NE(f, nullptr);
    flows->remove(*f);
    send(inet, build_frame(syn("203.0.113.13", 40003)));
    EXPECT_EQ(count(dmz), 1u);
    send(inet, build_frame(syn("203.0.113.14", 40004)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::syn_flood), 3u);

    // Clearing the sessions (as `clear sessions` does) gives every place back.
    SessionSlot slot(16);
    ASSERT_TRUE(slot.submit(SessionSlot::Op::clear, SessionFilter{}, 16));
    slot.serve(*flows);
    ASSERT_TRUE(slot.done());
    EXPECT_EQ(active_flows(), 0u);
    send(inet, build_frame(syn("203.0.113.14", 40004)));
    send(inet, build_frame(syn("203.0.113.15", 40005)));
    send(inet, build_frame(syn("203.0.113.16", 40006)));
    EXPECT_EQ(count(dmz), 2u);
    EXPECT_EQ(drops(DropReason::syn_flood), 4u);
}

// --- Per-source limits ----------------------------------------------------------------------

TEST_F(ScreenPipeline, SourceConcurrentAndRateLimits) {
    install("security { screen internet { source-rate { new-per-second 5; burst 5; "
            "concurrent 3; action drop; } } }");
    for (uint16_t p = 0; p < 3; p++)
        send(inet, build_frame(syn("203.0.113.10", static_cast<uint16_t>(41000 + p))));
    EXPECT_EQ(count(dmz), 3u);
    send(inet, build_frame(syn("203.0.113.10", 41003)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::source_concurrent), 1u);
    EXPECT_EQ(def(Defence::source_concurrent).dropped.get(), 1u);
    EXPECT_EQ(active_flows(), 3u);

    // Another source: five new flows in one millisecond, each closed again (so that the
    // concurrent limit stays out of the way); the sixth is over the rate.
    for (uint16_t p = 0; p < 5; p++) {
        send(inet, build_frame(syn("203.0.113.11", static_cast<uint16_t>(42000 + p))));
        FlowKey k{};
        k.src[0] = v4("203.0.113.11");
        k.dst[0] = v4("198.18.3.10");
        k.sport = htons(static_cast<uint16_t>(42000 + p));
        k.dport = htons(80);
        k.proto = 6;
        k.family = 4;
        Dir dir;
        Flow *f = flows->lookup(k, &dir);
        ASSERT_NE(f, nullptr) << p;
        flows->remove(*f);
    }
    EXPECT_EQ(count(dmz), 5u);
    send(inet, build_frame(syn("203.0.113.11", 42005)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::source_rate), 1u);
    EXPECT_EQ(def(Defence::source_rate).dropped.get(), 1u);
    // A second later the bucket has refilled.
    now += 1000;
    send(inet, build_frame(syn("203.0.113.11", 42006)));
    EXPECT_EQ(count(dmz), 1u);
}

TEST_F(ScreenPipeline, SourceRateBlockPutsTheSourceOnTheBlockList) {
    install("security { screen internet { block-time 10; source-rate { new-per-second 5; "
            "burst 5; concurrent 3; action block; } } }");
    for (uint16_t p = 0; p < 3; p++)
        send(inet, build_frame(syn("203.0.113.10", static_cast<uint16_t>(41000 + p))));
    EXPECT_EQ(count(dmz), 3u);
    send(inet, build_frame(syn("203.0.113.10", 41003)));
    EXPECT_EQ(drops(DropReason::source_concurrent), 1u);
    EXPECT_EQ(counters.screen.sources_blocked.get(), 1u);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].defence, static_cast<uint8_t>(Defence::source_concurrent));
    EXPECT_EQ(ev[0].action, static_cast<uint8_t>(config::ScreenAction::block));
    EXPECT_EQ(ev[0].block_s, 10u);
    EXPECT_EQ(ev[0].src[0], v4("203.0.113.10"));
    // Even a packet of an existing flow is refused now.
    FrameSpec again = syn("203.0.113.10", 41000);
    again.tcp_flags = 0x10;
    again.seq = 1001;
    send(inet, build_frame(again));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::source_blocked), 1u);
    EXPECT_EQ(def(Defence::blocked).dropped.get(), 1u);
    // Others are not.
    send(inet, build_frame(syn("203.0.113.11", 41000)));
    EXPECT_EQ(count(dmz), 1u);
    // Until block-time is over.
    now += 10000;
    send(inet, build_frame(syn("203.0.113.10", 41000)));
    EXPECT_EQ(count(dmz), 1u);
    EXPECT_EQ(drops(DropReason::source_blocked), 1u);
}

// `show security screen blocked` and `clear security screen blocked`: the worker answers
// from its own table when it serves the main lcore's request.
TEST_F(ScreenPipeline, BlockListIsListedAndClearedThroughTheWorkersRequestSlot) {
    install("security { screen internet { block-time 10; source-rate { new-per-second 5; "
            "burst 5; concurrent 1; action block; } } }");
    send(inet, build_frame(syn("203.0.113.10", 41000)));
    send(inet, build_frame(syn("203.0.113.10", 41001))); // the second: blocked
    EXPECT_EQ(counters.screen.sources_blocked.get(), 1u);
    now += 4000;
    ASSERT_TRUE(requests.submit(SessionSlot::Op::blocked, SessionFilter{}, 0));
    worker->serve_requests(now);
    ASSERT_TRUE(requests.done());
    ASSERT_EQ(requests.copied(), 1u);
    EXPECT_EQ(requests.matched(), 1u);
    EXPECT_EQ(requests.blocked()[0].family, 4);
    EXPECT_EQ(requests.blocked()[0].addr[0], v4("203.0.113.10"));
    EXPECT_EQ(requests.blocked()[0].remaining_ms, 6000u);
    send(inet, build_frame(syn("203.0.113.10", 41002)));
    EXPECT_EQ(drops(DropReason::source_blocked), 1u);
    ASSERT_TRUE(requests.submit(SessionSlot::Op::unblock, SessionFilter{}, 0));
    worker->serve_requests(now);
    ASSERT_TRUE(requests.done());
    EXPECT_EQ(requests.matched(), 1u);
    // Let in at once, long before block-time is over (its flow ends first: concurrent 1).
    ASSERT_TRUE(requests.submit(SessionSlot::Op::clear, SessionFilter{}, 16));
    worker->serve_requests(now);
    EXPECT_EQ(active_flows(), 0u);
    send(inet, build_frame(syn("203.0.113.10", 41003)));
    EXPECT_EQ(drops(DropReason::source_blocked), 1u);
    EXPECT_EQ(count(dmz), 2u);
    ASSERT_TRUE(requests.submit(SessionSlot::Op::blocked, SessionFilter{}, 0));
    worker->serve_requests(now);
    EXPECT_EQ(requests.matched(), 0u);
}

TEST_F(ScreenPipeline, IcmpAndUdpFloodsPerSource) {
    install("security { screen internet { icmp-flood { per-second 5; burst 5; action drop; } "
            "udp-flood { per-second 5; burst 5; action drop; } } }");
    FrameSpec ping = from_inet("203.0.113.10", "198.18.3.10", 1, 0, 0);
    for (int i = 0; i < 6; i++)
        send(inet, build_frame(ping));
    EXPECT_EQ(count(dmz), 5u);
    EXPECT_EQ(drops(DropReason::icmp_flood), 1u);
    EXPECT_EQ(def(Defence::icmp_flood).dropped.get(), 1u);
    // Another source has its own bucket.
    send(inet, build_frame(from_inet("203.0.113.11", "198.18.3.10", 1, 0, 0)));
    EXPECT_EQ(count(dmz), 1u);
    now += 200; // one token
    send(inet, build_frame(ping));
    send(inet, build_frame(ping));
    EXPECT_EQ(count(dmz), 1u);
    EXPECT_EQ(drops(DropReason::icmp_flood), 2u);

    FrameSpec dgram = from_inet("203.0.113.12", "198.18.3.10", 17, 5000, 53);
    for (int i = 0; i < 6; i++)
        send(inet, build_frame(dgram));
    EXPECT_EQ(count(dmz), 5u);
    EXPECT_EQ(drops(DropReason::udp_flood), 1u);
    EXPECT_EQ(def(Defence::udp_flood).dropped.get(), 1u);
    now += 1000;
    send(inet, build_frame(dgram));
    EXPECT_EQ(count(dmz), 1u);
}

// --- Stateless checks -----------------------------------------------------------------------

TEST_F(ScreenPipeline, TcpFlagCombinationsNoStateAdmits) {
    const uint8_t bad[] = {0x00, 0x01, 0x29, 0x03, 0x06};
    auto probe = [&](uint8_t flags, uint16_t sport) {
        FrameSpec f = syn("203.0.113.10", sport);
        f.tcp_flags = flags;
        send(inet, build_frame(f));
    };
    install("security { screen internet { tcp-flags { action drop; } } }");
    uint16_t sport = 43000;
    for (uint8_t fl : bad)
        probe(fl, sport++);
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::tcp_bad_flags), 5u);
    EXPECT_EQ(def(Defence::tcp_flags).detected.get(), 5u);
    EXPECT_EQ(def(Defence::tcp_flags).dropped.get(), 5u);
    EXPECT_EQ(drops(DropReason::tcp_no_session), 0u);
    EXPECT_EQ(active_flows(), 0u);

    install("security { screen internet { tcp-flags { action alarm; } } }");
    for (uint8_t fl : bad)
        probe(fl, sport++);
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::tcp_bad_flags), 5u);
    EXPECT_EQ(def(Defence::tcp_flags).detected.get(), 10u);
    EXPECT_EQ(def(Defence::tcp_flags).dropped.get(), 5u);
    EXPECT_EQ(drops(DropReason::tcp_no_session), 5u); // the rules accept, no session fits
    EXPECT_EQ(active_flows(), 0u);

    install("security { screen internet { tcp-flags { action off; } } }");
    for (uint8_t fl : bad)
        probe(fl, sport++);
    EXPECT_EQ(def(Defence::tcp_flags).detected.get(), 10u);
    EXPECT_EQ(drops(DropReason::tcp_bad_flags), 5u);
    EXPECT_EQ(drops(DropReason::tcp_no_session), 10u);
    EXPECT_EQ(active_flows(), 0u);
}

TEST_F(ScreenPipeline, SpoofedSourcesAreDroppedEachByItsReason) {
    struct Case {
        const char *src;
        const char *dst;
        DropReason why;
        Defence d;
    };
    const Case cases[] = {
        {"127.0.0.1", "198.18.3.10", DropReason::martian_source, Defence::martian},
        {"0.0.0.1", "198.18.3.10", DropReason::martian_source, Defence::martian},
        {"224.0.0.5", "198.18.3.10", DropReason::martian_source, Defence::martian},
        {"255.255.255.255", "198.18.3.10", DropReason::martian_source, Defence::martian},
        {"203.0.113.255", "198.18.3.10", DropReason::martian_source, Defence::martian},
        {"::1", "2001:db8:3::10", DropReason::martian_source, Defence::martian},
        {"ff02::1", "2001:db8:3::10", DropReason::martian_source, Defence::martian},
        {"::ffff:1.2.3.4", "2001:db8:3::10", DropReason::martian_source, Defence::martian},
        {"198.18.3.10", "198.18.3.10", DropReason::land, Defence::land},
        {"198.18.1.1", "198.18.3.10", DropReason::spoofed_own_address, Defence::own_address},
        {"203.0.113.1", "198.18.3.10", DropReason::spoofed_own_address, Defence::own_address},
        {"100.64.1.1", "198.18.3.10", DropReason::bogon_source, Defence::bogon},
    };
    const std::string screen = "security { screen internet { spoofing { action ";
    const std::string bogons = "; bogons 100.64.0.0/10; } } }";
    install(screen + "drop" + bogons);
    uint16_t sport = 44000;
    for (const Case &c : cases) {
        uint64_t before = drops(c.why), det = def(c.d).detected.get();
        send(inet, build_frame(syn(c.src, sport++, c.dst)));
        EXPECT_EQ(count(dmz), 0u) << c.src;
        EXPECT_EQ(drops(c.why), before + 1) << c.src << ": " << drop_reason_name(c.why);
        EXPECT_EQ(def(c.d).detected.get(), det + 1) << c.src;
    }
    EXPECT_EQ(active_flows(), 0u);

    install(screen + "alarm" + bogons);
    for (const Case &c : cases) {
        uint64_t before = drops(c.why), det = def(c.d).detected.get();
        send(inet, build_frame(syn(c.src, sport++, c.dst)));
        EXPECT_EQ(count(dmz), 1u) << c.src << " with alarm";
        EXPECT_EQ(drops(c.why), before) << c.src;
        EXPECT_EQ(def(c.d).detected.get(), det + 1) << c.src;
    }

    install(screen + "off" + bogons);
    for (const Case &c : cases) {
        uint64_t det = def(c.d).detected.get();
        send(inet, build_frame(syn(c.src, sport++, c.dst)));
        EXPECT_EQ(count(dmz), 1u) << c.src << " with off";
        EXPECT_EQ(def(c.d).detected.get(), det) << c.src;
    }
}

TEST_F(ScreenPipeline, UrpfStrictAndLoose) {
    Topology strict;
    strict.inet_urpf = "strict";
    install("", strict);
    send(inet, build_frame(syn("198.51.100.7", 45000))); // routed back by inet0
    EXPECT_EQ(count(dmz), 1u);
    send(inet, build_frame(syn("203.0.113.10", 45001))); // inet0's own subnet
    EXPECT_EQ(count(dmz), 1u);
    send(inet, build_frame(syn("192.0.2.7", 45002))); // routed back by inner0
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::urpf_fail), 1u);
    EXPECT_EQ(def(Defence::urpf).dropped.get(), 1u);

    Topology loose;
    loose.inet_urpf = "loose";
    install("", loose);
    send(inet, build_frame(syn("192.0.2.7", 45003)));
    EXPECT_EQ(count(dmz), 1u);
    send(inet, build_frame(syn("10.9.9.9", 45004))); // no route at all
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::urpf_fail), 2u);

    install(""); // off
    send(inet, build_frame(syn("10.9.9.9", 45005)));
    EXPECT_EQ(count(dmz), 1u);
}

TEST_F(ScreenPipeline, IpOptionsSourceAndRecordRoute) {
    // NOP then the option, 8 bytes each: LSRR (131), SSRR (137), RR (7) with one slot.
    const std::vector<uint8_t> lsrr{1, 131, 7, 4, 198, 18, 3, 10};
    const std::vector<uint8_t> ssrr{1, 137, 7, 4, 198, 18, 3, 10};
    const std::vector<uint8_t> rr{1, 7, 7, 4, 0, 0, 0, 0};
    install("security { screen internet { ip-options { action drop; } } }");
    uint16_t sport = 46000;
    send(inet, with_ip_options(build_frame(syn("203.0.113.10", sport++)), lsrr));
    send(inet, with_ip_options(build_frame(syn("203.0.113.10", sport++)), ssrr));
    EXPECT_EQ(drops(DropReason::ip_source_route), 2u);
    send(inet, with_ip_options(build_frame(syn("203.0.113.10", sport++)), rr));
    EXPECT_EQ(drops(DropReason::ip_record_route), 1u);
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(def(Defence::ip_options).dropped.get(), 3u);

    install("security { screen internet { ip-options { action alarm; } } }");
    send(inet, with_ip_options(build_frame(syn("203.0.113.10", sport++)), lsrr));
    send(inet, with_ip_options(build_frame(syn("203.0.113.10", sport++)), rr));
    EXPECT_EQ(count(dmz), 2u);
    EXPECT_EQ(def(Defence::ip_options).detected.get(), 5u);
    EXPECT_EQ(def(Defence::ip_options).dropped.get(), 3u);
}

// --- Scans ----------------------------------------------------------------------------------

TEST_F(ScreenPipeline, VerticalScanBlocksTheSourceForBlockTime) {
    install("security { screen internet { scan { ports 10; window 5; action block; } "
            "block-time 30; } }");
    for (uint16_t p = 0; p < 9; p++)
        send(inet, build_frame(
                       syn("203.0.113.20", 47000, "198.18.3.10", static_cast<uint16_t>(1000 + p))));
    EXPECT_EQ(count(dmz), 9u);
    EXPECT_EQ(def(Defence::scan_vertical).detected.get(), 0u);
    send(inet, build_frame(syn("203.0.113.20", 47000, "198.18.3.10", 1009)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::source_blocked), 1u);
    EXPECT_EQ(def(Defence::scan_vertical).detected.get(), 1u);
    EXPECT_EQ(def(Defence::scan_vertical).dropped.get(), 1u);
    EXPECT_EQ(def(Defence::scan_vertical).events.get(), 1u);
    EXPECT_EQ(counters.screen.sources_blocked.get(), 1u);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].defence, static_cast<uint8_t>(Defence::scan_vertical));
    EXPECT_EQ(ev[0].action, static_cast<uint8_t>(config::ScreenAction::block));
    EXPECT_EQ(ev[0].src[0], v4("203.0.113.20"));
    EXPECT_EQ(ev[0].dst[0], v4("198.18.3.10"));
    EXPECT_EQ(ev[0].dport, htons(1009));
    EXPECT_EQ(ev[0].value, 10u);
    EXPECT_EQ(ev[0].block_s, 30u);

    // Everything from it is refused, flows it opened before too.
    send(inet, build_frame(syn("203.0.113.20", 47001, "198.18.3.10", 80)));
    send(inet, build_frame(syn("203.0.113.20", 47000, "198.18.3.10", 1000)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::source_blocked), 3u);
    now += 29999;
    send(inet, build_frame(syn("203.0.113.20", 47002, "198.18.3.10", 80)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::source_blocked), 4u);
    now += 1;
    send(inet, build_frame(syn("203.0.113.20", 47003, "198.18.3.10", 80)));
    EXPECT_EQ(count(dmz), 1u);
    EXPECT_EQ(drops(DropReason::source_blocked), 4u);
}

TEST_F(ScreenPipeline, HorizontalScanBlocksTheSource) {
    install("security { screen internet { scan { hosts 10; window 5; action block; } } }");
    for (int h = 20; h < 29; h++)
        send(inet, build_frame(
                       syn("203.0.113.21", 47000, ("198.18.3." + std::to_string(h)).c_str(), 80)));
    EXPECT_EQ(count(dmz), 9u);
    send(inet, build_frame(syn("203.0.113.21", 47000, "198.18.3.29", 80)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(def(Defence::scan_horizontal).detected.get(), 1u);
    EXPECT_EQ(drops(DropReason::source_blocked), 1u);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].defence, static_cast<uint8_t>(Defence::scan_horizontal));
    EXPECT_EQ(ev[0].block_s, 60u); // the default block-time
    send(inet, build_frame(syn("203.0.113.21", 47001, "198.18.3.20", 80)));
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::source_blocked), 2u);
    now += 60000;
    send(inet, build_frame(syn("203.0.113.21", 47002, "198.18.3.20", 80)));
    EXPECT_EQ(count(dmz), 1u);
}

TEST_F(ScreenPipeline, ScanAlarmOnlyCounts) {
    install("security { screen internet { scan { ports 10; window 5; action alarm; } } }");
    for (uint16_t p = 0; p < 12; p++)
        send(inet, build_frame(
                       syn("203.0.113.22", 47000, "198.18.3.10", static_cast<uint16_t>(1000 + p))));
    EXPECT_EQ(count(dmz), 12u);
    EXPECT_EQ(def(Defence::scan_vertical).detected.get(), 1u);
    EXPECT_EQ(def(Defence::scan_vertical).events.get(), 1u);
    EXPECT_EQ(counters.screen.sources_blocked.get(), 0u);
}

// --- Fragments ------------------------------------------------------------------------------

namespace {

// The datagram the fragments of the tests make: UDP from the Internet to the dmz server.
FrameSpec big_datagram() {
    FrameSpec f;
    f.src_mac = inet_mac;
    f.src = "203.0.113.10";
    f.dst = "198.18.3.10";
    f.proto = 17;
    f.sport = 5000;
    f.dport = 53;
    f.payload = 1400;
    return f;
}

// Reassembles IPv4 fragments by hand: their payloads by offset, checking each header's
// checksum, identification and that exactly one fragment ends the datagram.
::testing::AssertionResult reassemble_by_hand(const std::vector<std::vector<uint8_t>> &frags,
                                              size_t max_ip, std::vector<uint8_t> &payload) {
    std::map<size_t, std::vector<uint8_t>> parts;
    size_t end = 0;
    int lasts = 0;
    uint16_t id = 0;
    for (size_t i = 0; i < frags.size(); i++) {
        const auto &f = frags[i];
        if (f.size() < 34 || rd16(&f[12]) != 0x0800)
            return ::testing::AssertionFailure() << "fragment " << i << " is not IPv4";
        const uint8_t *ip = &f[14];
        size_t ihl = (ip[0] & 0xf) * 4u, total = rd16(ip + 2);
        if (qorgan::test::fold(qorgan::test::sum16(ip, ihl)) != 0)
            return ::testing::AssertionFailure() << "fragment " << i << ": header checksum";
        if (total > max_ip)
            return ::testing::AssertionFailure() << "fragment " << i << ": " << total << " bytes";
        if (i == 0)
            id = rd16(ip + 4);
        else if (rd16(ip + 4) != id)
            return ::testing::AssertionFailure() << "fragment " << i << ": identification";
        uint16_t field = rd16(ip + 6);
        size_t off = (field & 0x1fff) * 8u;
        if (!(field & 0x2000)) {
            lasts++;
            end = off + total - ihl;
        }
        parts[off] = std::vector<uint8_t>(ip + ihl, ip + total);
    }
    if (lasts != 1)
        return ::testing::AssertionFailure() << lasts << " last fragments";
    payload.clear();
    for (const auto &[off, bytes] : parts) {
        if (off != payload.size())
            return ::testing::AssertionFailure() << "hole or overlap at " << off;
        payload.insert(payload.end(), bytes.begin(), bytes.end());
    }
    if (payload.size() != end)
        return ::testing::AssertionFailure() << "ends at " << payload.size() << ", not " << end;
    return ::testing::AssertionSuccess();
}

} // namespace

TEST_F(ScreenPipeline, FragmentsAreReassembledAndGoOnWhole) {
    install("");
    FrameSpec spec = big_datagram();
    spec.dst_mac = port_mac(inet);
    auto whole = build_frame(spec);
    auto frags = fragment(whole, {480, 480, 0}, 0x1234);
    ASSERT_EQ(frags.size(), 3u);
    send(inet, frags[2]);
    send(inet, frags[1]);
    EXPECT_EQ(count(dmz), 0u);
    send(inet, frags[0]);
    auto out = sent(dmz);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].size(), whole.size());
    PacketMeta m = parsed(out[0]);
    EXPECT_FALSE(m.flags & meta_fragment);
    EXPECT_EQ(m.ttl, 63);
    EXPECT_EQ(std::memcmp(out[0].data() + 34, whole.data() + 34, whole.size() - 34), 0);
    EXPECT_EQ(counters.screen.reassembled.get(), 1u);
    EXPECT_EQ(counters.screen.refragmented.get(), 0u);
    EXPECT_EQ(active_flows(), 1u);
}

TEST_F(ScreenPipeline, ReassembledDatagramIsFragmentedAgainToTheExitMtu) {
    Topology small;
    small.dmz_mtu = 576;
    install("", small);
    FrameSpec spec = big_datagram();
    spec.dst_mac = port_mac(inet);
    auto whole = build_frame(spec);
    auto frags = fragment(whole, {480, 480, 0}, 0x2345);
    send(inet, frags[2]);
    send(inet, frags[1]);
    send(inet, frags[0]);
    auto out = sent(dmz);
    ASSERT_GE(out.size(), 3u);
    for (const auto &f : out) {
        EXPECT_EQ(std::memcmp(f.data(), server_mac.data(), 6), 0);
        EXPECT_EQ(std::memcmp(f.data() + 6, port_mac(dmz).data(), 6), 0);
        EXPECT_EQ(f[14 + 8], 63) << "TTL";
    }
    std::vector<uint8_t> payload;
    ASSERT_TRUE(reassemble_by_hand(out, 576, payload));
    EXPECT_EQ(payload, std::vector<uint8_t>(whole.begin() + 34, whole.end()));
    EXPECT_EQ(counters.screen.reassembled.get(), 1u);
    EXPECT_EQ(counters.screen.refragmented.get(), 1u);
}

TEST_F(ScreenPipeline, OverlappingFragmentsAreDroppedAndNothingIsForwarded) {
    install("");
    FrameSpec spec = big_datagram();
    spec.dst_mac = port_mac(inet);
    auto whole = build_frame(spec);
    auto frags = fragment(whole, {480, 480, 0}, 0x3456);
    // A fragment rewriting bytes 240..720 of the first two.
    auto over = fragment(whole, {240, 480, 0}, 0x3456)[1];
    send(inet, frags[0]);
    send(inet, over);
    send(inet, frags[1]);
    send(inet, frags[2]);
    EXPECT_EQ(count(dmz), 0u);
    EXPECT_EQ(drops(DropReason::frag_overlap), 3u); // the overlap, and the two after it
    EXPECT_EQ(def(Defence::fragments).dropped.get(), 3u);
    EXPECT_EQ(counters.screen.reassembled.get(), 0u);
    EXPECT_EQ(active_flows(), 0u);
}

TEST_F(ScreenPipeline, FragmentsOffPassesFragmentsAsTheyAre) {
    install("security { screen internet { fragments { action off; } } }");
    FrameSpec spec = big_datagram();
    spec.dst_mac = port_mac(inet);
    auto whole = build_frame(spec);
    auto frags = fragment(whole, {480, 480, 0}, 0x4567);
    for (const auto &f : frags)
        send(inet, f);
    auto out = sent(dmz);
    ASSERT_EQ(out.size(), 3u);
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ(out[i].size(), frags[i].size());
        EXPECT_EQ(std::memcmp(out[i].data() + 34, frags[i].data() + 34, frags[i].size() - 34), 0);
    }
    EXPECT_EQ(counters.screen.reassembled.get(), 0u);
}

// --- Events ---------------------------------------------------------------------------------

TEST_F(ScreenPipeline, EventsCarryTheirPacketAndAreRateLimited) {
    install("security { screen internet { tcp-flags { action drop; } } }");
    FrameSpec null_probe = syn("203.0.113.10", 48000, "198.18.3.10", 22);
    null_probe.tcp_flags = 0;
    for (int i = 0; i < 25; i++)
        send(inet, build_frame(null_probe));
    EXPECT_EQ(drops(DropReason::tcp_bad_flags), 25u);
    EXPECT_EQ(def(Defence::tcp_flags).events.get(), 20u);
    EXPECT_EQ(def(Defence::tcp_flags).suppressed.get(), 5u);
    auto ev = events();
    ASSERT_EQ(ev.size(), 20u);
    const ScreenEvent &e = ev[0];
    EXPECT_EQ(e.defence, static_cast<uint8_t>(Defence::tcp_flags));
    EXPECT_EQ(e.action, static_cast<uint8_t>(config::ScreenAction::drop));
    EXPECT_EQ(e.family, 4);
    EXPECT_EQ(e.proto, 6);
    EXPECT_EQ(e.iface, 2);
    EXPECT_EQ(e.src[0], v4("203.0.113.10"));
    EXPECT_EQ(e.dst[0], v4("198.18.3.10"));
    EXPECT_EQ(e.sport, htons(48000));
    EXPECT_EQ(e.dport, htons(22));
    EXPECT_EQ(e.epoch, snap->epoch);
    EXPECT_EQ(e.suppressed, 0u);
    EXPECT_EQ(e.block_s, 0u);
    // 100 ms later one token: the event tells how many were held back.
    now += 100;
    send(inet, build_frame(null_probe));
    ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].suppressed, 5u);
    send(inet, build_frame(null_probe));
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(def(Defence::tcp_flags).suppressed.get(), 6u);
}

TEST_F(ScreenPipeline, ReassembledDatagramWaitingForItsNeighbourIsFragmentedToo) {
    Topology small;
    small.dmz_mtu = 576;
    install("", small);
    FrameSpec spec = big_datagram();
    spec.dst_mac = port_mac(inet);
    spec.dst = "198.18.3.50"; // no neighbour entry yet
    auto whole = build_frame(spec);
    auto frags = fragment(whole, {480, 480, 0}, 0x5678);
    send(inet, frags[2]);
    send(inet, frags[1]);
    send(inet, frags[0]);
    auto arp = sent(dmz);
    ASSERT_EQ(arp.size(), 1u);
    EXPECT_EQ(rd16(&arp[0][12]), 0x0806);
    uint8_t buf[64];
    uint32_t n = arp_build(buf, sizeof(buf), 2, server_mac, v4("198.18.3.50"), port_mac(dmz),
                           v4("198.18.3.1"));
    ASSERT_GT(n, 0u);
    send(dmz, std::vector<uint8_t>(buf, buf + n));
    auto out = sent(dmz);
    ASSERT_FALSE(out.empty());
    std::vector<uint8_t> payload;
    EXPECT_TRUE(reassemble_by_hand(out, 576, payload));
    EXPECT_EQ(payload, std::vector<uint8_t>(whole.begin() + 34, whole.end()));
    EXPECT_EQ(counters.screen.refragmented.get(), 1u);
}

// SPDX-License-Identifier: GPL-2.0-or-later
// Category blocking (docs/CATEGORIES.md) on the real worker pipeline: frames with real
// protocol openings go in on net_ring ports, and the tests read what came out of which port,
// the drops, the category counters, the category-log records and the sessions. Covers R134-1
// (block and RST each way, unknown after the budget, malicious names and addresses, fail
// closed when the inspection table is full), R134-2 (exceptions), R133-1 and R133-4.
#include "config/config.h"
#include "dataplane/worker.h"
#include "frames.h"
#include "pipeline_kit.h"
#include "ring_ports.h"
#include "tests/unit/dpi_kit.h"

#include <gtest/gtest.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

using namespace qorgan;
using namespace qorgan::dp;
using namespace qorgan::test;

namespace {

// Port indices, in configuration order (ring_ports.h names the ring devices inner, dmz and
// inet: the first serves as the outer LAN here).
constexpr int outer = 0, inet = 2;

const Mac client_mac{0x02, 0, 0, 0, 0, 0x21};
const Mac server_mac{0x02, 0, 0, 0, 0, 0x44};

constexpr const char *interfaces_text =
    "interfaces {\n"
    "    outer0 { device \"net_ring_cat_inner\"; address 198.18.2.1/24; zone outer; }\n"
    "    dmz0 { device \"net_ring_cat_dmz\"; address 198.18.3.1/24; zone dmz; }\n"
    "    inet0 { device \"net_ring_cat_inet\"; address 203.0.113.1/24; zone internet; }\n"
    "}\n"
    "zones { outer { loop outer; } dmz { loop shielded; } internet { loop internet; } }\n"
    "dataplane { max-flows 1024; }\n";

constexpr const char *policy_text = R"(
policy {
    outer0 {
        ingress { rule 10 { action accept; } }
        egress { rule 1000 { action accept; } }
    }
    inet0 {
        ingress { rule 10 { protocol tcp; destination 198.18.2.0/24; destination-port 22; action accept; } }
        egress { rule 1000 { action accept; } }
    }
}
routes { route 198.51.100.0/24 { via 203.0.113.254; } }
)";

qorgan::test::RingPorts suite;

uint32_t rd32(const uint8_t *p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

class CategoryPipeline : public qorgan::test::PipelineTest {
protected:
    CategoryPipeline() : PipelineTest(suite) {}

    static void SetUpTestSuite() {
        if (!suite.pool)
            qorgan::test::open_ring_ports(suite, "cat", interfaces_text, "cat_");
    }

    // The test policy with `categories` (the body of `security { categories { ... } }`).
    void install(const std::string &categories, uint32_t inspected_flows = 64,
                 const std::string &extra = "") {
        std::string text = std::string(interfaces_text) + policy_text + "security { categories { " +
                           categories + " } }\n" + extra;
        ASSERT_NO_FATAL_FAILURE(publish(text, "category_pipeline.conf", ++epoch));
        if (worker)
            return;
        ASSERT_NO_FATAL_FAILURE(open_worker_rings("cat", conf));
        cat_ring =
            rte_ring_create_elem(("cat_ev" + std::to_string(serial++)).c_str(),
                                 sizeof(CategoryEvent), 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        ASSERT_NE(cat_ring, nullptr);
        WorkerEnv env = worker_env(suite);
        env.category_ring = cat_ring;
        env.sessions = &requests;
        env.inspected_flows = inspected_flows;
        env.dpi_arena_bytes = 4u << 20;
        make_worker(env);
        learn(outer, 4, "198.18.2.11", client_mac);
        learn(outer, 4, "198.18.2.12", client_mac);
        learn(inet, 4, "203.0.113.10", server_mac);
        learn(inet, 4, "203.0.113.254", server_mac);
    }

    void TearDown() override {
        PipelineTest::TearDown();
        rte_ring_free(cat_ring);
    }

    std::vector<CategoryEvent> events() {
        std::vector<CategoryEvent> v;
        CategoryEvent e;
        while (rte_ring_sc_dequeue_elem(cat_ring, &e, sizeof(e)) == 0)
            v.push_back(e);
        return v;
    }

    // One TCP conversation between a client on outer0 and a server on inet0 (or the other
    // way round with `inbound`), with sequence numbers kept.
    struct Tcp {
        CategoryPipeline &t;
        std::string client, server;
        uint16_t sport, dport;
        bool inbound = false;
        uint32_t seq[2] = {1000, 50000};

        FrameSpec spec(bool reply, uint8_t flags, const std::vector<uint8_t> &data) {
            bool from_outer = reply == inbound;
            const std::string &src = reply ? server : client;
            const std::string &dst = reply ? client : server;
            FrameSpec f = frame_between(from_outer ? client_mac : server_mac,
                                        t.port_mac(from_outer ? outer : inet), src, dst, 6,
                                        reply ? dport : sport, reply ? sport : dport);
            unsigned d = reply ? 1 : 0;
            f.tcp_flags = flags;
            f.seq = seq[d];
            f.ack = (flags & 0x10) ? seq[d ^ 1] : 0;
            f.data = data;
            seq[d] += uint32_t(data.size()) + ((flags & 0x02) ? 1 : 0);
            return f;
        }
        void send(bool reply, uint8_t flags, const std::vector<uint8_t> &data = {}) {
            bool from_outer = reply == inbound;
            t.send(from_outer ? outer : inet, build_frame(spec(reply, flags, data)));
        }
        void handshake() {
            send(false, 0x02);
            send(true, 0x12);
            send(false, 0x10);
        }
    };

    Tcp tcp(const char *client, const char *server, uint16_t sport, uint16_t dport,
            bool inbound = false) {
        return Tcp{*this, client, server, sport, dport, inbound};
    }

    void udp(const char *src, const char *dst, uint16_t sport, uint16_t dport,
             const std::vector<uint8_t> &data, bool reply = false) {
        FrameSpec f = reply
                          ? frame_between(server_mac, port_mac(inet), dst, src, 17, dport, sport)
                          : frame_between(client_mac, port_mac(outer), src, dst, 17, sport, dport);
        f.data = data;
        send(reply ? inet : outer, build_frame(f));
    }

    uint64_t dpi(Counter DpiCounters::*c) const { return (counters.dpi.*c).get(); }

    rte_ring *cat_ring = nullptr;
    SessionSlot requests{16};
    uint32_t epoch = 0;
};

const std::vector<uint8_t> ssh_server = dpi::kit::bytes("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
const std::vector<uint8_t> ssh_client = dpi::kit::bytes("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");

} // namespace

TEST_F(CategoryPipeline, RemoteAccessIsBlockedAndResetAtBothEnds_R134_1) {
    ASSERT_NO_FATAL_FAILURE(install(""));
    Tcp c = tcp("198.18.2.11", "203.0.113.10", 40000, 22);
    c.handshake();
    EXPECT_EQ(sent(inet).size(), 2u); // SYN and ACK went through
    sent(outer);
    c.send(true, 0x18, ssh_server); // passes: the verdict waits for the client's turn
    EXPECT_EQ(sent(outer).size(), 1u);
    uint32_t client_seq = c.seq[0], server_seq = c.seq[1];
    c.send(false, 0x18, ssh_client); // the server's turn goes to nDPI: SSH, blocked
    // The client gets a RST answering its segment; the server gets that segment made a RST.
    auto to_client = sent(outer);
    ASSERT_EQ(to_client.size(), 1u);
    PacketMeta cm = parsed(to_client[0]);
    EXPECT_EQ(cm.tcp_flags & 0x04, 0x04);
    EXPECT_EQ(rd32(&to_client[0][cm.l4_offset + 4]), server_seq);
    auto to_server = sent(inet);
    ASSERT_EQ(to_server.size(), 1u);
    PacketMeta sm = parsed(to_server[0]);
    EXPECT_EQ(sm.tcp_flags, 0x14);
    EXPECT_EQ(sm.l3_end - sm.l4_offset, 20); // no payload left
    EXPECT_EQ(rd32(&to_server[0][sm.l4_offset + 4]), client_seq);
    EXPECT_EQ(dpi(&DpiCounters::resets), 2u);
    // Everything after is dropped, counted.
    c.send(true, 0x18, dpi::kit::noise(30, 2));
    EXPECT_TRUE(sent(outer).empty());
    EXPECT_EQ(drops(DropReason::category_blocked), 1u);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_TRUE(ev[0].blocked);
    EXPECT_EQ(ev[0].category, uint8_t(config::Category::remote_access) + 1);
    EXPECT_EQ(snap->dpi->name_of(ev[0].app), "SSH");
    EXPECT_EQ(dpi::Rule(ev[0].rule), dpi::Rule::category);
    const auto &cat = counters.dpi.category[unsigned(config::Category::remote_access)];
    EXPECT_EQ(cat.flows.get(), 1u);
    EXPECT_EQ(cat.blocked.get(), 1u);
}

TEST_F(CategoryPipeline, AnExceptionPassesItsSourceOnly_R134_2) {
    ASSERT_NO_FATAL_FAILURE(
        install("exception ops { source 198.18.2.11/32; application SSH; reference \"KZ-1\"; }"));
    for (const char *client : {"198.18.2.11", "198.18.2.12"}) {
        Tcp c = tcp(client, "203.0.113.10", 40001, 22);
        c.handshake();
        c.send(true, 0x18, ssh_server);
        c.send(false, 0x18, ssh_client);
        c.send(true, 0x18, dpi::kit::noise(40, 1));
        c.send(false, 0x18, dpi::kit::noise(40, 2));
    }
    EXPECT_EQ(dpi(&DpiCounters::excepted), 1u);
    EXPECT_EQ(dpi(&DpiCounters::blocked), 1u);
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_FALSE(ev[0].blocked);
    EXPECT_EQ(dpi::Rule(ev[0].rule), dpi::Rule::exception);
    EXPECT_TRUE(ev[1].blocked);
    EXPECT_EQ(ev[1].src[0], v4("198.18.2.12"));
}

TEST_F(CategoryPipeline, RemoteAccessIntoTheOuterLoopIsBlockedWhateverTheExceptions_R133_1) {
    ASSERT_NO_FATAL_FAILURE(install("exception all-ssh { application SSH; reference \"KZ-2\"; }"));
    Tcp c = tcp("203.0.113.10", "198.18.2.11", 40002, 22, true);
    c.handshake();
    c.send(true, 0x18, ssh_server);
    c.send(false, 0x18, ssh_client);
    c.send(true, 0x18, dpi::kit::noise(40, 1));
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_TRUE(ev[0].blocked);
    EXPECT_EQ(dpi::Rule(ev[0].rule), dpi::Rule::outer_loop);
    // The same exception passes SSH that leaves the outer loop.
    Tcp out = tcp("198.18.2.11", "203.0.113.10", 40003, 22);
    out.handshake();
    out.send(true, 0x18, ssh_server);
    out.send(false, 0x18, ssh_client);
    out.send(true, 0x18, dpi::kit::noise(40, 1));
    ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_FALSE(ev[0].blocked);
}

TEST_F(CategoryPipeline, MaliciousNameInDnsDropsTheQuery_R134_1) {
    ASSERT_NO_FATAL_FAILURE(install("malicious { domain evil.example; }"));
    udp("198.18.2.11", "203.0.113.10", 40004, 53, dpi::kit::dns_query("www.evil.example"));
    EXPECT_TRUE(sent(inet).empty());
    EXPECT_EQ(drops(DropReason::category_blocked), 1u);
    udp("198.18.2.11", "203.0.113.10", 40005, 53, dpi::kit::dns_query("web.lab.example"));
    EXPECT_EQ(sent(inet).size(), 1u);
    EXPECT_EQ(counters.dpi.category[unsigned(config::Category::malicious)].blocked.get(), 1u);
    EXPECT_EQ(counters.dpi.category[config::category_count].flows.get(), 1u); // DNS: other
}

TEST_F(CategoryPipeline, MaliciousAddressStopsTheSynWithARst_R134_1) {
    ASSERT_NO_FATAL_FAILURE(install("malicious { address 198.51.100.0/24; }"));
    Tcp c = tcp("198.18.2.11", "198.51.100.66", 40006, 80);
    c.send(false, 0x02);
    EXPECT_TRUE(sent(inet).empty());
    auto back = sent(outer);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(parsed(back[0]).tcp_flags & 0x04, 0x04);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(dpi::Rule(ev[0].rule), dpi::Rule::address);
    EXPECT_EQ(dpi(&DpiCounters::inspected), 0u);
}

TEST_F(CategoryPipeline, AgreedChannelIsNotInspectedAndAnotherPortIs_R133_4) {
    ASSERT_NO_FATAL_FAILURE(install("inspect-packets 2; vpn-channel agreed { protocol udp; "
                                    "source 198.18.2.11; destination 203.0.113.10; "
                                    "destination-port 1194; }"));
    for (int i = 0; i < 10; i++)
        udp("198.18.2.11", "203.0.113.10", 40007, 1194, dpi::kit::noise(80, uint32_t(i)));
    EXPECT_EQ(sent(inet).size(), 10u);
    EXPECT_EQ(dpi(&DpiCounters::exempt), 1u);
    // Another port: random bytes are unknown once the budget (2) is spent.
    for (int i = 0; i < 10; i++)
        udp("198.18.2.11", "203.0.113.10", 40007, 1195, dpi::kit::noise(80, uint32_t(i + 20)));
    EXPECT_EQ(sent(inet).size(), 1u);
    EXPECT_EQ(drops(DropReason::category_blocked), 9u);
    EXPECT_EQ(counters.dpi.category[unsigned(config::Category::unknown)].blocked.get(), 1u);
}

TEST_F(CategoryPipeline, FullInspectionTableFailsClosedAndCounts_R134_1) {
    ASSERT_NO_FATAL_FAILURE(install("", 1));
    Tcp a = tcp("198.18.2.11", "203.0.113.10", 40008, 7000);
    a.send(false, 0x02);
    EXPECT_EQ(sent(inet).size(), 1u);
    Tcp b = tcp("198.18.2.11", "203.0.113.10", 40009, 7000);
    b.send(false, 0x02);
    EXPECT_TRUE(sent(inet).empty());
    EXPECT_EQ(dpi(&DpiCounters::refused), 1u);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(dpi::Rule(ev[0].rule), dpi::Rule::overload);
    // Once the first flow has been inspected for stale_ms without a verdict, a new flow takes
    // its room: the first is decided unknown and its next packet dropped.
    sent(outer); // b's RST
    now += dpi::Inspector::stale_ms;
    Tcp c = tcp("198.18.2.11", "203.0.113.10", 40014, 7000);
    c.send(false, 0x02);
    EXPECT_EQ(sent(inet).size(), 1u);
    EXPECT_EQ(dpi(&DpiCounters::evicted), 1u);
    ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].category, uint8_t(config::Category::unknown) + 1);
    EXPECT_EQ(rte_be_to_cpu_16(ev[0].sport), 40008);
    a.send(true, 0x12);
    EXPECT_TRUE(sent(outer).empty());
    EXPECT_EQ(drops(DropReason::category_blocked), 2u); // b's SYN, then a's SYN-ACK
}

TEST_F(CategoryPipeline, SessionsCarryTheVerdictAndApplication) {
    ASSERT_NO_FATAL_FAILURE(install("malicious { domain evil.example; }"));
    udp("198.18.2.11", "203.0.113.10", 40010, 53, dpi::kit::dns_query("web.lab.example"));
    ASSERT_TRUE(requests.submit(SessionSlot::Op::dump, SessionFilter{}, 16));
    worker->serve_requests(now);
    ASSERT_TRUE(requests.done());
    ASSERT_EQ(requests.copied(), 1u);
    const SessionRecord &r = requests.records()[0];
    EXPECT_EQ(r.verdict, FlowVerdict::pass);
    EXPECT_EQ(r.category, 0);
    EXPECT_EQ(snap->dpi->name_of(r.app), "DNS");
}

TEST_F(CategoryPipeline, AnUnchangedListKeepsTheModulesAChangedOneBuildsNewOnes) {
    ASSERT_NO_FATAL_FAILURE(install("malicious { domain evil.example; }"));
    auto first = snap->dpi;
    ASSERT_NO_FATAL_FAILURE(install("inspect-packets 4; malicious { domain evil.example; }"));
    EXPECT_EQ(snap->dpi, first);
    ASSERT_NO_FATAL_FAILURE(install("malicious { domain evil.example; domain worse.example; }"));
    EXPECT_NE(snap->dpi, first);
    udp("198.18.2.11", "203.0.113.10", 40011, 53, dpi::kit::dns_query("worse.example"));
    EXPECT_TRUE(sent(inet).empty());
}

TEST_F(CategoryPipeline, BehindNatTheResetsReachTheRealClientAndTheTranslatedOne) {
    ASSERT_NO_FATAL_FAILURE(
        install("malicious { address 198.51.100.0/24; }", 64,
                "nat { source hide { interface inet0; from 198.18.2.0/24; } }\n"));
    Tcp bad = tcp("198.18.2.11", "198.51.100.66", 40012, 80);
    bad.send(false, 0x02);
    auto back = sent(outer);
    ASSERT_EQ(back.size(), 1u);
    PacketMeta bm = parsed(back[0]);
    EXPECT_EQ(bm.dst[0], v4("198.18.2.11")); // not the pool address
    EXPECT_EQ(bm.src[0], v4("198.51.100.66"));

    Tcp c = tcp("198.18.2.11", "203.0.113.10", 40013, 22);
    c.send(false, 0x02);
    auto syn = sent(inet);
    ASSERT_EQ(syn.size(), 1u);
    PacketMeta sm = parsed(syn[0]);
    EXPECT_EQ(sm.src[0], v4("203.0.113.1")); // translated
    uint16_t nat_port = uint16_t(syn[0][sm.l4_offset] << 8 | syn[0][sm.l4_offset + 1]);
    // The server answers the translated address and port.
    FrameSpec synack =
        frame_between(server_mac, port_mac(inet), "203.0.113.10", "203.0.113.1", 6, 22, nat_port);
    synack.tcp_flags = 0x12;
    synack.seq = c.seq[1]++;
    synack.ack = c.seq[0] + 1;
    c.seq[0]++;
    send(inet, build_frame(synack));
    c.send(false, 0x10);
    FrameSpec banner =
        frame_between(server_mac, port_mac(inet), "203.0.113.10", "203.0.113.1", 6, 22, nat_port);
    banner.tcp_flags = 0x18;
    banner.seq = c.seq[1];
    banner.ack = c.seq[0];
    banner.data = ssh_server;
    c.seq[1] += uint32_t(ssh_server.size());
    send(inet, build_frame(banner));
    sent(outer);
    sent(inet);
    c.send(false, 0x18, ssh_client); // blocked here
    auto to_client = sent(outer);
    ASSERT_EQ(to_client.size(), 1u);
    EXPECT_EQ(parsed(to_client[0]).dst[0], v4("198.18.2.11"));
    auto to_server = sent(inet);
    ASSERT_EQ(to_server.size(), 1u);
    PacketMeta rm = parsed(to_server[0]);
    EXPECT_EQ(rm.tcp_flags, 0x14);
    EXPECT_EQ(rm.src[0], v4("203.0.113.1")); // the RST goes through the translation too
    EXPECT_EQ(uint16_t(to_server[0][rm.l4_offset] << 8 | to_server[0][rm.l4_offset + 1]), nat_port);
}

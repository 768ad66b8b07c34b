// SPDX-License-Identifier: GPL-2.0-or-later
// The exception path (docs/IPSEC.md) on the real worker pipeline and slow path: IKE for the
// gateway that the ingress rules accept goes to the main lcore marked for the TUN, and the
// slow path writes its IP bytes to the TUN (here one end of a datagram socket pair); what the
// "kernel" writes back is sent on only from the gateway's own addresses, routed and framed.
// Covers R139-4 (nothing reaches the gateway's host unless a rule allows it) and the
// transport of IKE for R128-h.
#include "config/config.h"
#include "dataplane/exception_tun.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/slowpath.h"
#include "dataplane/worker.h"
#include "frames.h"
#include "pipeline_kit.h"
#include "ring_ports.h"

#include <gtest/gtest.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <unistd.h>

using namespace qorgan;
using namespace qorgan::dp;
using namespace qorgan::test;

namespace {

constexpr int inner = 0, inet = 2; // port indices, in configuration order

constexpr const char *config_text = R"(
interfaces {
    inner0 { device "net_ring_exc_inner"; address 198.18.1.1/24; address 2001:db8:1::1/64; zone inner; }
    dmz0 { device "net_ring_exc_dmz"; address 198.18.3.1/24; zone dmz; }
    inet0 { device "net_ring_exc_inet"; address 203.0.113.1/24; address 2001:db8:100::1/64; zone internet; }
}
zones { inner { loop inner; } dmz { loop shielded; } internet { loop internet; } }
dataplane { max-flows 1024; }
policy {
    inet0 {
        ingress {
            rule 10 { protocol udp; source 203.0.113.0/24; destination 203.0.113.1; destination-port 500; action accept; }
            rule 11 { protocol udp; source 203.0.113.0/24; destination 203.0.113.1; destination-port 4500; action accept; }
            rule 12 { protocol udp; source 203.0.113.0/24; destination 203.0.113.1; destination-port 5000; action accept; }
            rule 13 { protocol udp; destination 2001:db8:100::1; destination-port 500; action accept; }
        }
        egress { rule 1000 { action accept; } }
    }
    inner0 { egress { rule 1000 { action accept; } } }
    dmz0 { egress { rule 1000 { action accept; } } }
}
routes {
    route 198.51.100.0/24 { via 203.0.113.254; }
}
)";

const Mac peer_mac{0x02, 0, 0, 0, 0, 0x55};
const Mac router_mac{0x02, 0, 0, 0, 0, 0x66};

qorgan::test::RingPorts suite;
rte_mempool *jumbo_pool = nullptr;

// An IKE-like datagram from the peer: `first` are the first payload bytes, then filler.
FrameSpec udp_to_gateway(const MacBytes &gw_mac, const std::string &src, const std::string &dst,
                         uint16_t dport, std::vector<uint8_t> first, size_t size = 64) {
    FrameSpec f = frame_between(peer_mac, gw_mac, src, dst, 17, 500, dport);
    f.data = std::move(first);
    while (f.data.size() < size)
        f.data.push_back(static_cast<uint8_t>(f.data.size()));
    return f;
}

// The IP packet of a frame (what the TUN carries).
std::vector<uint8_t> ip_of(const std::vector<uint8_t> &frame) {
    return {frame.begin() + 14, frame.end()};
}

class ExceptionPath : public PipelineTest {
protected:
    ExceptionPath() : PipelineTest(suite) {}

    static void SetUpTestSuite() {
        if (suite.pool)
            return;
        open_ring_ports(suite, "exc", config_text, "exc_");
        jumbo_pool = rte_pktmbuf_pool_create("exc_jumbo", 63, 0, mbuf_priv_size,
                                             16384 + RTE_PKTMBUF_HEADROOM, 0);
        ASSERT_NE(jumbo_pool, nullptr);
    }

    void SetUp() override {
        // The TUN's stand-in: the slow path holds one end, the test plays the kernel.
        int fds[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        tun = ExceptionTun::adopt(fds[0], "exc-test");
        kernel = fds[1];
        ASSERT_NO_FATAL_FAILURE(publish(config_text, "exception.conf", 1));
        ASSERT_NO_FATAL_FAILURE(open_worker_rings("exc", conf));
        WorkerEnv env = worker_env(suite);
        env.exception_path = true;
        env.jumbo_pool = jumbo_pool;
        make_worker(env, tun.get());
    }

    void TearDown() override {
        PipelineTest::TearDown();
        tun.reset();
        close(kernel);
    }

    MacBytes gw_mac(int port) const { return port_mac(port); }

    // Runs frames through the worker alone; returns what it handed to the main lcore.
    std::vector<rte_mbuf *> to_main_of(int in, const std::vector<std::vector<uint8_t>> &frames) {
        for (const auto &frame : frames) {
            rte_mbuf *m = rte_pktmbuf_alloc(suite.pool);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                        frame.size());
            worker->process(*snap, suite.ring[in].port, &m, 1, now);
        }
        worker->flush();
        std::vector<rte_mbuf *> v;
        void *p;
        while (rte_ring_dequeue(to_main, &p) == 0)
            v.push_back(static_cast<rte_mbuf *>(p));
        return v;
    }

    // The packets the slow path wrote to the TUN.
    std::vector<std::vector<uint8_t>> written() {
        std::vector<std::vector<uint8_t>> v;
        uint8_t buf[20000];
        ssize_t n;
        while ((n = recv(kernel, buf, sizeof(buf), 0)) > 0)
            v.emplace_back(buf, buf + n);
        return v;
    }

    // The kernel sends an IP packet through the TUN; the slow path and the worker run.
    void from_kernel(const std::vector<uint8_t> &ip) {
        ASSERT_EQ(::send(kernel, ip.data(), ip.size(), 0), static_cast<ssize_t>(ip.size()));
        settle();
    }

    std::unique_ptr<ExceptionTun> tun;
    int kernel = -1;
};

} // namespace

TEST_F(ExceptionPath, Ike500AcceptedByARuleGoesToTheMainLcoreMarkedForTheTun) {
    auto frame = build_frame(
        udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 500, {0x11, 0x22, 0x33, 0x44}));
    auto handed = to_main_of(inet, {frame});
    ASSERT_EQ(handed.size(), 1u);
    EXPECT_EQ(priv_of(handed[0])->kind, SlowKind::exception);
    EXPECT_EQ(counters.exception_sent.get(), 1u);
    // The slow path writes exactly the IP packet to the TUN.
    slow->handle(*snap, handed[0], now);
    auto w = written();
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0], ip_of(frame));
    EXPECT_EQ(main_counters.exception_to_tun.get(), 1u);
}

TEST_F(ExceptionPath, Ike4500WithTheZeroMarkerGoesToTheTunAndEspInUdpDoesNot) {
    auto ike = build_frame(
        udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 4500, {0, 0, 0, 0, 0xaa}));
    auto esp = build_frame(
        udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 4500, {0, 0, 0x10, 1}));
    auto keepalive =
        build_frame(udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 4500, {0xff}, 1));
    send_burst(inet, {ike, esp, keepalive});
    auto w = written();
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0], ip_of(ike));
    EXPECT_EQ(drops(DropReason::local_unhandled), 2u); // ESP in UDP waits for the ESP engine
    EXPECT_EQ(counters.exception_sent.get(), 1u);
}

TEST_F(ExceptionPath, Ike4500ToAnAddressThatIsAlsoANatPoolGoesToTheTun) {
    // The interface address translates the inner LAN (its ports 1024-65535 are a pool): IKE
    // still reaches the gateway; other traffic to a pool port belongs to no translation.
    ASSERT_NO_FATAL_FAILURE(publish(
        std::string(config_text) + "nat { source lan { interface inet0; from 198.18.1.0/24; } }",
        "exception.conf", 2));
    auto ike = build_frame(
        udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 4500, {0, 0, 0, 0, 0xaa}));
    auto esp = build_frame(
        udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 4500, {0, 0, 0x10, 1}));
    send_burst(inet, {ike, esp});
    auto w = written();
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0], ip_of(ike));
    EXPECT_EQ(drops(DropReason::nat_no_mapping), 1u);
}

TEST_F(ExceptionPath, IkeOverIpv6GoesToTheTun) {
    auto frame = build_frame(
        udp_to_gateway(gw_mac(inet), "2001:db8:100::10", "2001:db8:100::1", 500, {1, 2, 3, 4}));
    send(inet, frame);
    auto w = written();
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0], ip_of(frame));
}

TEST_F(ExceptionPath, OtherLocalUdpStaysLocal) {
    send(inet, build_frame(udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 5000,
                                          {0, 0, 0, 0})));
    EXPECT_TRUE(written().empty());
    EXPECT_EQ(drops(DropReason::local_unhandled), 1u);
}

TEST_F(ExceptionPath, IkeNoRuleAcceptsIsDroppedAsBefore_R139_4) {
    // From outside the rule's sources, and on an interface with no rule for it at all.
    send(inet, build_frame(
                   udp_to_gateway(gw_mac(inet), "198.51.100.7", "203.0.113.1", 500, {1, 2, 3, 4})));
    FrameSpec f = udp_to_gateway(gw_mac(inner), "198.18.1.11", "198.18.1.1", 500, {1, 2, 3, 4});
    send(inner, build_frame(f));
    EXPECT_TRUE(written().empty());
    EXPECT_EQ(drops(DropReason::default_deny), 2u);
    EXPECT_EQ(counters.exception_sent.get(), 0u);
}

TEST_F(ExceptionPath, IkeFromAConfiguredPeerNeedsNoRuleAndFromAnyoneElseStillDoes) {
    // The peer 198.51.100.7 is outside every rule's sources: its configuration admits it.
    ASSERT_NO_FATAL_FAILURE(publish(std::string(config_text) +
                                        "ipsec { peer far { address 198.51.100.7; "
                                        "pre-shared-key \"0123456789abcdefghij\"; local-subnet "
                                        "198.18.1.0/24; remote-subnet 192.0.2.0/24; } }\n",
                                    "exception.conf", 2));
    auto from = [&](const char *src) {
        return build_frame(udp_to_gateway(gw_mac(inet), src, "203.0.113.1", 500, {1, 2, 3, 4}));
    };
    send(inet, from("198.51.100.7"));
    auto w = written();
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0], ip_of(from("198.51.100.7")));
    send(inet, from("198.51.100.8"));
    EXPECT_TRUE(written().empty());
    EXPECT_EQ(drops(DropReason::default_deny), 1u);
}

TEST_F(ExceptionPath, FragmentedIkeIsReassembledFirst) {
    auto whole = build_frame(udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 500,
                                            {0x21, 0x20, 0x22, 0x08}, 1400));
    send_burst(inet, fragment(whole, {480, 480, 0}, 0x4242));
    auto w = written();
    ASSERT_EQ(w.size(), 1u);
    // The datagram as it was sent, but the fragments' identification and header checksum.
    auto ip = ip_of(whole);
    ASSERT_EQ(w[0].size(), ip.size());
    EXPECT_EQ(w[0][4], 0x42);
    EXPECT_EQ(w[0][5], 0x42);
    EXPECT_TRUE(std::equal(ip.begin() + 12, ip.end(), w[0].begin() + 12));
    EXPECT_EQ(counters.screen.reassembled.get(), 1u);
}

TEST_F(ExceptionPath, ATunThatTakesNoMoreIsADropCounted) {
    // A datagram socket with the smallest send buffer holds a few packets: the rest find it
    // full.
    int one = 1;
    ASSERT_EQ(setsockopt(tun->fd(), SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)), 0);
    std::vector<std::vector<uint8_t>> frames;
    for (int i = 0; i < 32; i++)
        frames.push_back(build_frame(udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1",
                                                    500, {static_cast<uint8_t>(i), 0, 0, 1})));
    send_burst(inet, frames);
    uint64_t full = drops(DropReason::exception_tun_full);
    EXPECT_GT(full, 0u);
    EXPECT_EQ(main_counters.exception_to_tun.get() + full, 32u);
    EXPECT_EQ(written().size(), main_counters.exception_to_tun.get());
}

TEST_F(ExceptionPath, WithoutATunIkeIsDroppedCounted) {
    slow.reset();
    fclose(log_file);
    make_worker(worker->env()); // the same worker rings, a slow path without a TUN
    send(inet, build_frame(
                   udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 500, {1, 2, 3, 4})));
    EXPECT_EQ(drops(DropReason::exception_no_tun), 1u);
}

TEST_F(ExceptionPath, ATunThatFailsIsADropCounted) {
    // A pipe's read end takes no writes; its write end gives no reads.
    int p[2];
    ASSERT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    auto read_end = ExceptionTun::adopt(p[0], "exc-read-end");
    auto write_end = ExceptionTun::adopt(p[1], "exc-write-end");
    slow.reset();
    fclose(log_file);
    make_worker(worker->env(), read_end.get());
    send(inet, build_frame(
                   udp_to_gateway(gw_mac(inet), "203.0.113.10", "203.0.113.1", 500, {1, 2, 3, 4})));
    EXPECT_EQ(drops(DropReason::exception_tun_error), 1u);
    EXPECT_EQ(main_counters.exception_to_tun.get(), 0u);
    slow.reset();
    fclose(log_file);
    make_worker(worker->env(), write_end.get());
    settle();
    EXPECT_EQ(drops(DropReason::exception_tun_error), 2u);
    EXPECT_EQ(main_counters.exception_from_tun.get(), 0u);
}

TEST_F(ExceptionPath, AReplyFromTheGatewaysAddressIsRoutedAndFramed) {
    learn(inet, 4, "203.0.113.10", peer_mac);
    FrameSpec f =
        frame_between(gw_mac(inet), peer_mac, "203.0.113.1", "203.0.113.10", 17, 500, 500);
    f.payload = 200;
    auto ip = ip_of(build_frame(f));
    from_kernel(ip);
    auto out = sent(inet);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::memcmp(out[0].data(), peer_mac.data(), 6), 0);
    EXPECT_EQ(std::memcmp(out[0].data() + 6, port_mac(inet).data(), 6), 0);
    EXPECT_EQ(out[0][12], 0x08);
    EXPECT_EQ(out[0][13], 0x00);
    EXPECT_EQ(ip_of(out[0]), ip); // as the kernel wrote it: the gateway originates it
    EXPECT_EQ(main_counters.exception_from_tun.get(), 1u);
    EXPECT_EQ(main_counters.exception_out.get(), 1u);
}

TEST_F(ExceptionPath, AReplyWaitsForItsNextHopAndIpv6IsFramedToo) {
    // 198.51.100.0/24 is behind 203.0.113.254, whose MAC is not known yet.
    FrameSpec f =
        frame_between(gw_mac(inet), router_mac, "203.0.113.1", "198.51.100.9", 17, 4500, 4500);
    f.data = {0, 0, 0, 0, 1, 2, 3};
    auto ip = ip_of(build_frame(f));
    from_kernel(ip);
    auto asked = sent(inet);
    ASSERT_EQ(asked.size(), 1u);
    PacketMeta m = parsed(asked[0]);
    EXPECT_EQ(m.l3, L3Kind::arp); // who has 203.0.113.254
    EXPECT_EQ(slow->held(), 1u);
    // The router answers; the held packet leaves to it.
    uint8_t buf[64];
    uint32_t n = arp_build(buf, sizeof(buf), 2, router_mac, v4("203.0.113.254"), port_mac(inet),
                           v4("203.0.113.1"));
    send(inet, std::vector<uint8_t>(buf, buf + n));
    auto out = sent(inet);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::memcmp(out[0].data(), router_mac.data(), 6), 0);
    EXPECT_EQ(ip_of(out[0]), ip);

    learn(inet, 6, "2001:db8:100::10", peer_mac);
    FrameSpec f6 =
        frame_between(gw_mac(inet), peer_mac, "2001:db8:100::1", "2001:db8:100::10", 17, 500, 500);
    f6.payload = 100;
    auto ip6 = ip_of(build_frame(f6));
    from_kernel(ip6);
    out = sent(inet);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0][12], 0x86);
    EXPECT_EQ(out[0][13], 0xdd);
    EXPECT_EQ(std::memcmp(out[0].data(), peer_mac.data(), 6), 0);
    EXPECT_EQ(ip_of(out[0]), ip6);
}

TEST_F(ExceptionPath, APacketFromAnAddressNotTheGatewaysIsDroppedCounted) {
    learn(inet, 4, "203.0.113.10", peer_mac);
    FrameSpec f =
        frame_between(gw_mac(inet), peer_mac, "198.51.100.9", "203.0.113.10", 17, 500, 500);
    from_kernel(ip_of(build_frame(f)));
    FrameSpec f6 =
        frame_between(gw_mac(inet), peer_mac, "fe80::1", "2001:db8:100::10", 17, 500, 500);
    from_kernel(ip_of(build_frame(f6)));
    EXPECT_TRUE(sent(inet).empty());
    EXPECT_EQ(drops(DropReason::exception_foreign_source), 2u);
    EXPECT_EQ(main_counters.exception_from_tun.get(), 2u);
    EXPECT_EQ(main_counters.exception_out.get(), 0u);
}

TEST_F(ExceptionPath, WhatCannotBeSentIsDroppedByItsReason) {
    std::vector<uint8_t> junk = {0x10, 1,  2,  3,  4,  5,  6,  7,  8,  9,
                                 10,   11, 12, 13, 14, 15, 16, 17, 18, 19};
    from_kernel(junk);
    FrameSpec f = frame_between(gw_mac(inet), peer_mac, "203.0.113.1", "192.0.2.1", 17, 500, 500);
    from_kernel(ip_of(build_frame(f))); // no route to 192.0.2.0/24
    EXPECT_EQ(drops(DropReason::exception_malformed), 1u);
    EXPECT_EQ(drops(DropReason::exception_no_route), 1u);
    for (int p = 0; p < 3; p++)
        EXPECT_TRUE(sent(p).empty());
}

TEST(ExceptionTunDevice, TheKernelInterfaceOfAnAfPacketDevice) {
    EXPECT_EQ(af_packet_iface("net_af_packet0,iface=dp-inet"), "dp-inet");
    EXPECT_EQ(af_packet_iface("net_af_packet1,iface=dp-outer,framesz=2048"), "dp-outer");
    EXPECT_EQ(af_packet_iface("net_ring_x"), std::nullopt);
    EXPECT_EQ(af_packet_iface("0000:00:04.0"), std::nullopt);
    EXPECT_EQ(af_packet_iface("net_af_packet0,iface=../all"), std::nullopt);
}

// SPDX-License-Identifier: GPL-2.0-or-later
// IPsec on the real worker pipeline (docs/IPSEC.md; R128-h, R139-3): frames go in on
// net_ring ports while the IPsec state holds a tunnel 198.18.1.0/24 <-> 192.0.2.0/24 between
// the gateway (203.0.113.1) and a peer (203.0.113.10). The peer's side is played by the same
// ESP engine with the mirrored SAs: what the gateway sends must open with the peer's keys,
// and what the peer seals must come out of the inner port in the clear.
#include "config/config.h"
#include "config/schema.h"
#include "dataplane/esp.h"
#include "dataplane/esp_backend.h"
#include "dataplane/ipsec_state.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/worker.h"
#include "frames.h"
#include "pipeline_kit.h"
#include "ring_ports.h"

#include <gtest/gtest.h>

#include <rte_mbuf.h>

using namespace qorgan;
using namespace qorgan::dp;
using namespace qorgan::test;

namespace {

constexpr int inner = 0, inet = 2; // ring_ports.h's rings: inner, dmz (unused here), inet
constexpr int inet_iface = 1;      // inet0 among the configured interfaces (port_mac)
const MacBytes host_mac{0x02, 0, 0, 0, 0, 0x11};
const Mac host_dp_mac{0x02, 0, 0, 0, 0, 0x11};
const MacBytes peer_mac{0x02, 0, 0, 0, 0, 0x44};
const Mac peer_dp_mac{0x02, 0, 0, 0, 0, 0x44};

constexpr const char *config_text = R"(
interfaces {
    inner0 { device "net_ring_ips_inner"; address 198.18.1.1/24; zone inner; }
    inet0 { device "net_ring_ips_inet"; address 203.0.113.1/24; zone internet; }
}
zones { inner { loop inner; } internet { loop internet; } }
policy {
    inner0 {
        ingress { rule 10 { protocol udp; action accept; } }
        egress { rule 10 { action accept; } }
    }
    inet0 {
        ingress { rule 10 { protocol udp; destination 198.18.1.0/24; action accept; } }
        egress { rule 10 { action accept; } }
    }
}
)";

RingPorts suite;
std::unique_ptr<esp::Engine> engine;
rte_mempool *jumbo_pool = nullptr; // reassembled datagrams

// The two keys of the tunnel: peer -> gateway (SPI 0x1001) and gateway -> peer (0x2001).
void fill_key(uint8_t *k, uint8_t seed) {
    for (int i = 0; i < 36; i++)
        k[i] = static_cast<uint8_t>(seed + i * 7);
}

SaSpec gateway_sa(uint32_t spi, bool inbound, uint8_t seed, uint32_t reqid = 1) {
    SaSpec s;
    s.spi = spi;
    s.inbound = inbound;
    s.src = *config::parse_prefix(inbound ? "203.0.113.10" : "203.0.113.1");
    s.dst = *config::parse_prefix(inbound ? "203.0.113.1" : "203.0.113.10");
    s.reqid = reqid;
    s.cipher = EspCipher::aes256_gcm16;
    fill_key(s.enc_key.data(), seed);
    s.enc_key_len = 36;
    s.replay_window = inbound ? 64 : 0;
    s.peer = "site1";
    return s;
}

// The peer's mirror of a gateway SA: same SPI and keys, the other direction.
int peer_sa(const SaSpec &g) {
    esp::SaConfig c;
    c.spi = g.spi;
    c.inbound = !g.inbound;
    c.family = 4;
    std::memcpy(c.src, g.src.bytes.data(), 16);
    std::memcpy(c.dst, g.dst.bytes.data(), 16);
    std::memcpy(c.enc_key, g.enc_key.data(), 36);
    c.enc_key_len = 36;
    c.replay_window = c.inbound ? 64 : 0;
    std::string error;
    int i = engine->add(c, error);
    EXPECT_GE(i, 0) << error;
    return i;
}

PolicySpec policy(PolicyDir dir, const char *src, const char *dst, uint32_t reqid = 1) {
    PolicySpec p;
    p.dir = dir;
    p.src = *config::parse_prefix(src);
    p.dst = *config::parse_prefix(dst);
    p.reqid = reqid;
    bool out = dir == PolicyDir::out;
    p.tunnel_src = *config::parse_prefix(out ? "203.0.113.1" : "203.0.113.10");
    p.tunnel_dst = *config::parse_prefix(out ? "203.0.113.10" : "203.0.113.1");
    return p;
}

class IpsecPipeline : public PipelineTest {
protected:
    IpsecPipeline() : PipelineTest(suite) {}

    static void SetUpTestSuite() {
        if (!suite.pool)
            open_ring_ports(suite, "ips", config_text, "ips_");
        if (!jumbo_pool)
            jumbo_pool = rte_pktmbuf_pool_create("ips_jumbo", 63, 0, mbuf_priv_size,
                                                 16384 + RTE_PKTMBUF_HEADROOM, 0);
        ASSERT_NE(jumbo_pool, nullptr);
        std::string error;
        engine = esp::Engine::create(2, 32, error);
        ASSERT_NE(engine, nullptr) << error;
    }
    // The cryptodev goes before the EAL does.
    static void TearDownTestSuite() { engine.reset(); }

    void SetUp() override {
        ASSERT_NO_FATAL_FAILURE(publish(config_text, "ipsec_pipeline.conf", 1));
        ASSERT_NO_FATAL_FAILURE(open_worker_rings("ips", conf));
        backend = std::make_unique<EspBackend>(*engine);
        state = std::make_unique<IpsecState>(*backend, 16, table, [] {});
        WorkerEnv env = worker_env(suite);
        env.ipsec = &table;
        env.esp = engine.get();
        env.jumbo_pool = jumbo_pool;
        make_worker(env);
        learn(inner, 4, "198.18.1.11", host_dp_mac);
        learn(inet, 4, "203.0.113.10", peer_dp_mac);
        learn(inet, 4, "203.0.113.11", peer_dp_mac);
    }

    void TearDown() override {
        state.reset();
        for (int i : peer_sas)
            engine->remove(i);
        PipelineTest::TearDown();
    }

    // The tunnel as qorgan-ike would install it, and the peer's mirror of its SAs.
    void tunnel() {
        SaSpec in = gateway_sa(0x1001, true, 1), out = gateway_sa(0x2001, false, 2);
        ASSERT_TRUE(state->add_sa(in, now).ok());
        ASSERT_TRUE(state->add_sa(out, now).ok());
        ASSERT_TRUE(
            state->add_policy(policy(PolicyDir::out, "198.18.1.0/24", "192.0.2.0/24")).ok());
        ASSERT_TRUE(state->add_policy(policy(PolicyDir::in, "192.0.2.0/24", "198.18.1.0/24")).ok());
        peer_seal = peer_sa(in);
        peer_open = peer_sa(out);
        peer_sas = {peer_seal, peer_open};
    }

    static std::vector<uint8_t> udp(const char *src, const char *dst, uint16_t sport,
                                    uint16_t dport, const MacBytes &from, const MacBytes &to) {
        FrameSpec f = frame_between(from, to, src, dst, 17, sport, dport);
        f.data.assign(100, 0x5a);
        f.data[0] = 0x01;
        return build_frame(f);
    }

    // The peer seals the IP packet of `frame` with SA `sa` into a frame for the gateway.
    std::vector<uint8_t> seal(const std::vector<uint8_t> &frame, int sa,
                              const char *outer_src = nullptr) {
        rte_mbuf *m = rte_pktmbuf_alloc(suite.pool);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size() - 14)), &frame[14],
                    frame.size() - 14);
        EXPECT_EQ(engine->process(1, sa, &m, 1, now), 1u);
        std::vector<uint8_t> out(14 + rte_pktmbuf_pkt_len(m));
        std::memcpy(out.data(), port_mac(inet_iface).data(), 6);
        std::memcpy(out.data() + 6, peer_mac.data(), 6);
        out[12] = 0x08;
        std::memcpy(out.data() + 14, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_pkt_len(m));
        rte_pktmbuf_free(m);
        if (outer_src) { // as if another host had sent it (header checksum redone)
            auto a = addr(4, outer_src);
            std::memcpy(&out[14 + 12], a.data(), 4);
            put16(&out[14 + 10], 0);
            put16(&out[14 + 10], fold(sum16(&out[14], 20)));
        }
        return out;
    }

    // The peer opens an ESP frame the gateway sent; empty when it does not open.
    std::vector<uint8_t> open(const std::vector<uint8_t> &frame) {
        rte_mbuf *m = rte_pktmbuf_alloc(suite.pool);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size() - 14)), &frame[14],
                    frame.size() - 14);
        if (engine->process(1, peer_open, &m, 1, now) != 1)
            return {};
        std::vector<uint8_t> out(rte_pktmbuf_pkt_len(m));
        std::memcpy(out.data(), rte_pktmbuf_mtod(m, uint8_t *), out.size());
        rte_pktmbuf_free(m);
        return out;
    }

    std::string nonzero_drops() const {
        std::string out;
        for (unsigned r = 0; r < drop_reason_count; r++)
            if (drops(static_cast<DropReason>(r)))
                out += std::string(drop_reason_name(static_cast<DropReason>(r))) + "=" +
                       std::to_string(drops(static_cast<DropReason>(r))) + " ";
        return out;
    }

    SaStats stats_of(uint32_t spi) {
        for (const SaView &v : state->sas())
            if (v.spec->spi == spi)
                return v.stats;
        ADD_FAILURE() << "no SA " << spi;
        return {};
    }

    std::atomic<const IpsecTable *> table{nullptr};
    std::unique_ptr<EspBackend> backend;
    std::unique_ptr<IpsecState> state;
    int peer_seal = -1, peer_open = -1;
    std::vector<int> peer_sas;
};

TEST_F(IpsecPipeline, TunnelTrafficLeavesAsEspThatThePeerOpens) {
    ASSERT_NO_FATAL_FAILURE(tunnel());
    // No route to 192.0.2.0/24: the policy sends it towards its peer.
    auto frame = udp("198.18.1.11", "192.0.2.10", 5000, 7, host_mac, MacBytes{});
    std::memcpy(frame.data(), port_mac(inner).data(), 6);
    send(inner, frame);
    auto out = sent(inet);
    ASSERT_EQ(out.size(), 1u) << nonzero_drops();
    PacketMeta m = parsed(out[0]);
    EXPECT_EQ(m.proto, config::proto_esp);
    EXPECT_EQ(m.src[0], v4("203.0.113.1"));
    EXPECT_EQ(m.dst[0], v4("203.0.113.10"));
    EXPECT_EQ(std::memcmp(out[0].data(), peer_mac.data(), 6), 0);
    EXPECT_EQ(std::memcmp(out[0].data() + 6, port_mac(inet_iface).data(), 6), 0);
    uint32_t spi = 0;
    bool udp_encap = false;
    ASSERT_TRUE(
        esp::esp_spi(&out[0][14], static_cast<uint32_t>(out[0].size() - 14), spi, udp_encap));
    EXPECT_EQ(spi, 0x2001u);
    std::vector<uint8_t> opened = open(out[0]);
    ASSERT_EQ(opened.size(), frame.size() - 14);
    EXPECT_EQ(opened[8], 63) << "one hop: the gateway's";
    // Everything but the TTL and header checksum is the inner host's packet.
    EXPECT_EQ(std::vector<uint8_t>(opened.begin() + 12, opened.end()),
              std::vector<uint8_t>(frame.begin() + 26, frame.end()));
    EXPECT_EQ(stats_of(0x2001).packets, 1u);
    EXPECT_EQ(sent(inner).size(), 0u);
}

TEST_F(IpsecPipeline, ThePeersEspComesOutOfTheInnerPortInTheClear) {
    ASSERT_NO_FATAL_FAILURE(tunnel());
    auto inner_frame = udp("192.0.2.10", "198.18.1.11", 7, 5000, peer_mac, MacBytes{});
    send(inet, seal(inner_frame, peer_seal));
    auto out = sent(inner);
    ASSERT_EQ(out.size(), 1u);
    PacketMeta m = parsed(out[0]);
    EXPECT_EQ(m.proto, 17);
    EXPECT_EQ(m.src[0], v4("192.0.2.10"));
    EXPECT_EQ(m.dst[0], v4("198.18.1.11"));
    EXPECT_EQ(m.ttl, 63);
    EXPECT_EQ(std::memcmp(out[0].data(), host_mac.data(), 6), 0);
    EXPECT_EQ(std::vector<uint8_t>(out[0].begin() + 34, out[0].end()),
              std::vector<uint8_t>(inner_frame.begin() + 34, inner_frame.end()));
    EXPECT_EQ(stats_of(0x1001).packets, 1u);
    // The reply goes back inside the tunnel.
    auto reply = udp("198.18.1.11", "192.0.2.10", 5000, 7, host_mac, MacBytes{});
    std::memcpy(reply.data(), port_mac(inner).data(), 6);
    send(inner, reply);
    auto back = sent(inet);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(parsed(back[0]).proto, config::proto_esp);
    EXPECT_FALSE(open(back[0]).empty());
}

TEST_F(IpsecPipeline, AReplayedAndAForgedPacketAreDroppedAndCounted) {
    ASSERT_NO_FATAL_FAILURE(tunnel());
    auto esp_frame =
        seal(udp("192.0.2.10", "198.18.1.11", 7, 5000, peer_mac, MacBytes{}), peer_seal);
    send(inet, esp_frame);
    send(inet, esp_frame); // replayed
    EXPECT_EQ(sent(inner).size(), 1u);
    EXPECT_EQ(stats_of(0x1001).replay_drops, 1u);
    EXPECT_EQ(drops(DropReason::ipsec_inbound), 1u);

    auto forged = seal(udp("192.0.2.10", "198.18.1.11", 7, 5001, peer_mac, MacBytes{}), peer_seal);
    forged.back() ^= 0x01; // the last byte of the ICV
    send(inet, forged);
    EXPECT_EQ(sent(inner).size(), 0u);
    EXPECT_EQ(stats_of(0x1001).auth_failures, 1u);
    EXPECT_EQ(drops(DropReason::ipsec_inbound), 2u);
}

TEST_F(IpsecPipeline, ATunnelWithoutAnSaCarriesNothingInTheClear) {
    // R139-3: the policy is there, its SA is not (yet): the traffic is discarded.
    ASSERT_TRUE(state->add_policy(policy(PolicyDir::out, "198.18.1.0/24", "192.0.2.0/24")).ok());
    auto frame = udp("198.18.1.11", "192.0.2.10", 5000, 7, host_mac, MacBytes{});
    std::memcpy(frame.data(), port_mac(inner).data(), 6);
    send(inner, frame);
    EXPECT_EQ(sent(inet).size(), 0u);
    EXPECT_EQ(drops(DropReason::ipsec_no_sa), 1u);
}

TEST_F(IpsecPipeline, WhatATunnelCarriesIsRefusedInTheClear) {
    ASSERT_NO_FATAL_FAILURE(tunnel());
    auto frame = udp("192.0.2.10", "198.18.1.11", 7, 5000, peer_mac, MacBytes{});
    std::memcpy(frame.data(), port_mac(inet_iface).data(), 6);
    send(inet, frame);
    EXPECT_EQ(sent(inner).size(), 0u);
    EXPECT_EQ(drops(DropReason::ipsec_clear_text), 1u);
}

TEST_F(IpsecPipeline, InnerPacketsOutsideTheSasPolicyAreDropped) {
    ASSERT_NO_FATAL_FAILURE(tunnel());
    // The peer puts a source its policy does not cover inside the tunnel.
    send(inet, seal(udp("198.51.100.5", "198.18.1.11", 7, 5000, peer_mac, MacBytes{}), peer_seal));
    EXPECT_EQ(sent(inner).size(), 0u);
    EXPECT_EQ(drops(DropReason::ipsec_policy_mismatch), 1u);
}

TEST_F(IpsecPipeline, EspForNoSaOrFromAnotherHostIsDropped) {
    ASSERT_NO_FATAL_FAILURE(tunnel());
    auto inner_frame = udp("192.0.2.10", "198.18.1.11", 7, 5000, peer_mac, MacBytes{});
    auto esp_frame = seal(inner_frame, peer_seal);
    auto unknown = esp_frame;
    unknown[14 + 20 + 3] ^= 0x40; // another SPI
    send(inet, unknown);
    EXPECT_EQ(drops(DropReason::ipsec_unknown_spi), 1u);
    send(inet, seal(inner_frame, peer_seal, "203.0.113.11"));
    EXPECT_EQ(drops(DropReason::ipsec_wrong_peer), 1u);
    EXPECT_EQ(sent(inner).size(), 0u);
    EXPECT_EQ(stats_of(0x1001).packets, 0u);
}

TEST_F(IpsecPipeline, AConfiguredTunnelCarriesNothingInTheClearBeforeItsSaExists) {
    // R139-3: a peer is configured, a route to its subnet exists, qorgan-ike has installed
    // nothing yet (or is not running): the tunnel's traffic is discarded both ways.
    const std::string route = "routes { route 192.0.2.0/24 { via 203.0.113.10; } }\n";
    const std::string peer = "ipsec { peer site1 { address 203.0.113.10; pre-shared-key "
                             "\"0123456789abcdefghij\"; local-subnet 198.18.1.0/24; "
                             "remote-subnet 192.0.2.0/24; } }\n";
    auto out = udp("198.18.1.11", "192.0.2.10", 5000, 7, host_mac, port_mac(inner));
    auto in = udp("192.0.2.10", "198.18.1.11", 7, 5000, peer_mac, port_mac(inet_iface));
    // Without the peer the route carries it in the clear (the control).
    ASSERT_NO_FATAL_FAILURE(publish(std::string(config_text) + route, "ipsec_pipeline.conf", 2));
    send(inner, out);
    EXPECT_EQ(sent(inet).size(), 1u);
    ASSERT_NO_FATAL_FAILURE(
        publish(std::string(config_text) + route + peer, "ipsec_pipeline.conf", 3));
    send(inner, udp("198.18.1.11", "192.0.2.10", 5001, 7, host_mac, port_mac(inner)));
    EXPECT_EQ(sent(inet).size(), 0u);
    EXPECT_EQ(drops(DropReason::ipsec_no_sa), 1u);
    send(inner, out); // the flow made before the peer was configured
    EXPECT_EQ(sent(inet).size(), 0u);
    EXPECT_EQ(drops(DropReason::ipsec_no_sa), 2u);
    send(inet, in);
    EXPECT_EQ(sent(inner).size(), 0u);
    EXPECT_EQ(drops(DropReason::ipsec_clear_text), 1u);
}

TEST_F(IpsecPipeline, FragmentedEspIsReassembledThenOpenedAndFragmentedClearTextRefused) {
    // An ESP datagram in two fragments is reassembled before it is decrypted; a clear-text
    // datagram from the tunnel's remote subnet in two fragments is still refused (R139-3).
    ASSERT_NO_FATAL_FAILURE(tunnel());
    auto esp_frame =
        seal(udp("192.0.2.10", "198.18.1.11", 7, 5000, peer_mac, MacBytes{}), peer_seal);
    for (const auto &f : fragment(esp_frame, {64}, 77))
        send(inet, f);
    ASSERT_EQ(sent(inner).size(), 1u) << nonzero_drops();
    auto clear = udp("192.0.2.10", "198.18.1.11", 7, 5001, peer_mac, port_mac(inet_iface));
    for (const auto &f : fragment(clear, {64}, 78))
        send(inet, f);
    EXPECT_EQ(sent(inner).size(), 0u);
    EXPECT_EQ(drops(DropReason::ipsec_clear_text), 1u) << nonzero_drops();
}

TEST_F(IpsecPipeline, WithoutSasNothingChanges) {
    // No IPsec state: a UDP to 192.0.2.10 has no route, as before IPsec existed.
    auto frame = udp("198.18.1.11", "192.0.2.10", 5000, 7, host_mac, MacBytes{});
    std::memcpy(frame.data(), port_mac(inner).data(), 6);
    send(inner, frame);
    EXPECT_EQ(drops(DropReason::no_route), 1u);
    EXPECT_EQ(sent(inet).size(), 0u);
}

} // namespace

// SPDX-License-Identifier: GPL-2.0-or-later
// The dataplane's IPsec SAs and policies as qorgan-ike installs them through the control
// socket (docs/IPSEC.md, R128-h, R139-3): request checks, the workers' table, rekeying,
// retirement after the workers' quiescent state, and the JSON the ops answer.
#include "config/config.h"
#include "config/schema.h"
#include "dataplane/control_request.h"
#include "dataplane/ipsec_control.h"
#include "dataplane/ipsec_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

// Records what the state asks of the crypto side, and in which order relative to the
// workers' quiescent state.
struct FakeBackend : SaBackend {
    std::vector<std::string> events;
    std::vector<SaSpec> installed;
    std::map<int, SaStats> stats_of;
    int next = 0;
    bool refuse = false;

    int install(const SaSpec &sa, std::string &error) override {
        if (refuse) {
            error = "no crypto session left";
            return -1;
        }
        installed.push_back(sa);
        events.push_back("install " + std::to_string(next));
        return next++;
    }
    void remove(int handle) override { events.push_back("remove " + std::to_string(handle)); }
    SaStats stats(int handle) const override {
        auto it = stats_of.find(handle);
        return it == stats_of.end() ? SaStats{} : it->second;
    }
};

struct Rig {
    FakeBackend backend;
    std::atomic<const IpsecTable *> active{nullptr};
    IpsecState state{backend, 8, active, [this] { backend.events.push_back("quiesce"); }};
    const IpsecTable &table() const { return *active.load(); }
};

Request req(const std::string &json) {
    auto r = parse_request(std::string_view(json));
    EXPECT_TRUE(r.ok()) << (r ? "" : r.error().to_string()) << "\n" << json;
    return r ? r.value() : Request{};
}

std::string req_error(const std::string &json) {
    auto r = parse_request(std::string_view(json));
    return r ? "parsed" : r.error().to_string();
}

const std::string gcm_key(72, 'a'); // 36 bytes: key + salt

std::string add_sa(uint32_t spi, const std::string &dir, const std::string &src,
                   const std::string &dst, uint32_t reqid) {
    return R"({"op":"ipsec-add-sa","spi":)" + std::to_string(spi) + R"(,"dir":")" + dir +
           R"(","src":")" + src + R"(","dst":")" + dst + R"(","reqid":)" + std::to_string(reqid) +
           R"(,"cipher":"aes256gcm16","enc_key":")" + gcm_key +
           R"(","esn":true,"replay_window":64,"encap":null,"hard_bytes":0,"hard_packets":0,"peer":"site1"})";
}

std::string add_policy(const std::string &dir, const std::string &src, const std::string &dst,
                       uint32_t reqid, const std::string &tsrc, const std::string &tdst) {
    return R"({"op":"ipsec-add-policy","dir":")" + dir + R"(","src":")" + src + R"(","dst":")" +
           dst + R"(","proto":0,"reqid":)" + std::to_string(reqid) + R"(,"tunnel":{"src":")" +
           tsrc + R"(","dst":")" + tdst + R"("}})";
}

const config::Config &no_config() {
    static const config::Config c;
    return c;
}

Json run(Rig &rig, const std::string &json, uint64_t now_ms = 1000) {
    return ipsec_handle(req(json), &rig.state, no_config(), 7, now_ms);
}

std::array<uint8_t, 16> ip(const char *text) {
    auto p = config::parse_prefix(text);
    EXPECT_TRUE(p) << text;
    return p ? p->bytes : std::array<uint8_t, 16>{};
}

// A tunnel 198.18.1.0/24 <-> 192.0.2.0/24 between 203.0.113.1 and 203.0.113.10, reqid 1.
void tunnel(Rig &rig, uint32_t in_spi, uint32_t out_spi) {
    ASSERT_EQ(run(rig, add_sa(in_spi, "in", "203.0.113.10", "203.0.113.1", 1))["ok"], true);
    ASSERT_EQ(run(rig, add_sa(out_spi, "out", "203.0.113.1", "203.0.113.10", 1))["ok"], true);
    for (const char *dir : {"in", "fwd"})
        ASSERT_EQ(run(rig, add_policy(dir, "192.0.2.0/24", "198.18.1.0/24", 1, "203.0.113.10",
                                      "203.0.113.1"))["ok"],
                  true);
    ASSERT_EQ(run(rig, add_policy("out", "198.18.1.0/24", "192.0.2.0/24", 1, "203.0.113.1",
                                  "203.0.113.10"))["ok"],
              true);
}

TEST(IpsecRequest, AnAddSaCarriesItsKeysAndSettings) {
    Request r = req(add_sa(0xc0ffee01, "in", "203.0.113.10", "203.0.113.1", 5));
    ASSERT_EQ(r.op, ControlOp::ipsec_add_sa);
    const SaSpec &sa = r.ipsec.sa;
    EXPECT_EQ(sa.spi, 0xc0ffee01u);
    EXPECT_TRUE(sa.inbound);
    EXPECT_EQ(config::format_address(sa.src), "203.0.113.10");
    EXPECT_EQ(sa.reqid, 5u);
    EXPECT_EQ(sa.cipher, EspCipher::aes256_gcm16);
    EXPECT_EQ(sa.enc_key_len, 36);
    EXPECT_EQ(sa.enc_key[0], 0xaa);
    EXPECT_EQ(sa.enc_key[35], 0xaa);
    EXPECT_TRUE(sa.esn);
    EXPECT_EQ(sa.replay_window, 64u);
    EXPECT_FALSE(sa.encap);
    EXPECT_EQ(sa.peer, "site1");
    // qorgan-ike sends an empty integrity key with GCM; a real one is refused.
    std::string json = add_sa(0xc0ffee01, "in", "203.0.113.10", "203.0.113.1", 5);
    json.insert(json.size() - 1, R"(,"integ_key":"")");
    EXPECT_EQ(req(json).ipsec.sa.integ_key_len, 0);
    std::string with_key = json;
    with_key.replace(with_key.find(R"("integ_key":"")"), 14, R"("integ_key":"00")");
    EXPECT_EQ(req_error(with_key), "ipsec-add-sa: aes256gcm16 takes no \"integ_key\": its ICV "
                                   "is part of GCM");

    Request cbc = req(R"({"op":"ipsec-add-sa","spi":4096,"dir":"out","src":"2001:db8::1",)"
                      R"("dst":"2001:db8::2","reqid":1,"cipher":"aes256-sha256","enc_key":")" +
                      std::string(64, '0') + R"(","integ_key":")" + std::string(64, 'F') +
                      R"(","encap":{"sport":4500,"dport":4500}})");
    EXPECT_EQ(cbc.ipsec.sa.cipher, EspCipher::aes256_cbc_sha256);
    EXPECT_EQ(cbc.ipsec.sa.integ_key_len, 32);
    EXPECT_EQ(cbc.ipsec.sa.integ_key[31], 0xff);
    EXPECT_TRUE(cbc.ipsec.sa.encap);
    EXPECT_EQ(cbc.ipsec.sa.encap_dport, 4500);
}

TEST(IpsecRequest, BadRequestsSayWhatIsWrong) {
    std::string good = add_sa(4096, "in", "203.0.113.10", "203.0.113.1", 1);
    auto with = [&](const std::string &from, const std::string &to) {
        std::string s = good;
        s.replace(s.find(from), from.size(), to);
        return s;
    };
    EXPECT_EQ(req_error(with("\"spi\":4096", "\"spi\":255")),
              "ipsec-add-sa: \"spi\" 255 is reserved; expected 256-4294967295");
    EXPECT_EQ(req_error(with("\"dir\":\"in\"", "\"dir\":\"fwd\"")),
              "ipsec-add-sa: \"dir\" 'fwd' is not \"in\" or \"out\"");
    EXPECT_EQ(req_error(with("\"dst\":\"203.0.113.1\"", "\"dst\":\"2001:db8::1\"")),
              "ipsec-add-sa: \"src\" and \"dst\" are of different address families");
    EXPECT_EQ(req_error(with("\"src\":\"203.0.113.10\"", "\"src\":\"203.0.113.0/24\"")),
              "ipsec-add-sa: \"src\" '203.0.113.0/24' is not an IPv4 or IPv6 address");
    EXPECT_EQ(req_error(with(gcm_key, gcm_key.substr(2))),
              "ipsec-add-sa: \"enc_key\" must be 36 bytes in hex (72 digits)");
    EXPECT_EQ(req_error(with(gcm_key, "z" + gcm_key.substr(1))),
              "ipsec-add-sa: \"enc_key\" must be 36 bytes in hex (72 digits)");
    EXPECT_EQ(req_error(with("aes256gcm16", "3des")),
              "ipsec-add-sa: \"cipher\" '3des' is not one the dataplane runs; expected "
              "\"aes256gcm16\" or \"aes256-sha256\"");
    EXPECT_EQ(req_error(with("\"esn\":true", "\"esn\":1")),
              "ipsec-add-sa: \"esn\" must be true or false");
    EXPECT_EQ(req_error(with("\"encap\":null", "\"encap\":{\"sport\":4500}")),
              "ipsec-add-sa: encap needs \"dport\", an integer 0-65535");
    EXPECT_EQ(req_error(with("\"peer\":\"site1\"", "\"peer\":\"site1\",\"mode\":\"transport\"")),
              "unknown field 'mode' for op 'ipsec-add-sa'");
    EXPECT_EQ(req_error(R"({"op":"ipsec-add-policy","dir":"out","src":"198.18.1.1/24",)"
                        R"("dst":"192.0.2.0/24","reqid":1,"tunnel":{"src":"203.0.113.1",)"
                        R"("dst":"203.0.113.10"}})"),
              "ipsec-add-policy: \"src\" '198.18.1.1/24' has host bits set");
    EXPECT_EQ(req_error(R"({"op":"ipsec-add-policy","dir":"out","src":"198.18.1.0/24",)"
                        R"("dst":"192.0.2.0/24","reqid":1})"),
              "ipsec-add-policy: needs \"tunnel\", {\"src\":A,\"dst\":B}: the SA's outer "
              "addresses (tunnel mode only)");
    EXPECT_EQ(req_error(R"({"op":"ipsec-del-sa","spi":4096})"),
              "ipsec-del-sa: needs \"dst\", an IPv4 or IPv6 address");
}

TEST(IpsecRequest, KeysAreWipedWithTheSpec) {
    Request r = req(add_sa(4096, "in", "203.0.113.10", "203.0.113.1", 1));
    SaSpec sa = r.ipsec.sa;
    ASSERT_EQ(sa.enc_key[0], 0xaa);
    sa.wipe();
    for (uint8_t b : sa.enc_key)
        EXPECT_EQ(b, 0);
}

TEST(IpsecState, ATunnelGivesTheWorkersItsSaAndPolicies) {
    Rig rig;
    tunnel(rig, 0x1001, 0x2001);
    const IpsecTable &t = rig.table();
    auto gw = ip("203.0.113.1"), inner = ip("198.18.1.11"), remote = ip("192.0.2.10");
    const IpsecTable::InSa *in = t.find_sa(0x1001, 4, gw.data());
    ASSERT_NE(in, nullptr);
    EXPECT_EQ(in->handle, 0);
    EXPECT_EQ(in->reqid, 1u);
    EXPECT_EQ(t.find_sa(0x2001, 4, gw.data()), nullptr) << "outbound SAs are not looked up by SPI";
    auto other = ip("203.0.113.2");
    EXPECT_EQ(t.find_sa(0x1001, 4, other.data()), nullptr);

    const IpsecTable::OutPolicy *out = t.match_out(4, inner.data(), remote.data(), 6);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->handle, 1);
    EXPECT_EQ(config::format_address(out->tunnel_dst), "203.0.113.10");
    EXPECT_EQ(t.match_out(4, remote.data(), inner.data(), 6), nullptr);
    auto elsewhere = ip("198.51.100.7");
    EXPECT_EQ(t.match_out(4, inner.data(), elsewhere.data(), 6), nullptr);

    EXPECT_TRUE(t.allowed_in(1, 4, remote.data(), inner.data(), 17));
    EXPECT_FALSE(t.allowed_in(1, 4, elsewhere.data(), inner.data(), 17)) << "outside the TS";
    EXPECT_FALSE(t.allowed_in(2, 4, remote.data(), inner.data(), 17)) << "another SA's traffic";
    ASSERT_EQ(t.peers.size(), 1u);
    EXPECT_EQ(config::format_address(t.peers[0]), "203.0.113.10");
}

TEST(IpsecState, APolicyWithoutAnSaStillCoversItsTraffic) {
    // R139-3: traffic a tunnel should carry never leaves in the clear; the worker discards it.
    Rig rig;
    ASSERT_EQ(run(rig, add_policy("out", "198.18.1.0/24", "192.0.2.0/24", 1, "203.0.113.1",
                                  "203.0.113.10"))["ok"],
              true);
    auto inner = ip("198.18.1.11"), remote = ip("192.0.2.10");
    const IpsecTable::OutPolicy *out = rig.table().match_out(4, inner.data(), remote.data(), 6);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->handle, -1);
}

TEST(IpsecState, ARekeyMovesTrafficToTheNewSaAndRetiresTheOldAfterTheWorkers) {
    Rig rig;
    tunnel(rig, 0x1001, 0x2001);
    ASSERT_EQ(run(rig, add_sa(0x1002, "in", "203.0.113.10", "203.0.113.1", 1))["ok"], true);
    ASSERT_EQ(run(rig, add_sa(0x2002, "out", "203.0.113.1", "203.0.113.10", 1))["ok"], true);
    auto inner = ip("198.18.1.11"), remote = ip("192.0.2.10"), gw = ip("203.0.113.1");
    EXPECT_EQ(rig.table().match_out(4, inner.data(), remote.data(), 6)->handle, 3);
    // Both inbound SAs decrypt during the rekey.
    EXPECT_NE(rig.table().find_sa(0x1001, 4, gw.data()), nullptr);
    EXPECT_NE(rig.table().find_sa(0x1002, 4, gw.data()), nullptr);

    rig.backend.events.clear();
    ASSERT_EQ(run(rig, R"({"op":"ipsec-del-sa","spi":8193,"dst":"203.0.113.10"})")["ok"], true);
    EXPECT_EQ(rig.backend.events, (std::vector<std::string>{"quiesce", "remove 1"}));
    EXPECT_EQ(rig.table().match_out(4, inner.data(), remote.data(), 6)->handle, 3);
    Json gone = run(rig, R"({"op":"ipsec-del-sa","spi":8193,"dst":"203.0.113.10"})");
    EXPECT_EQ(gone["error"], "no SA with spi 0x00002001 to 203.0.113.10");
}

TEST(IpsecState, RefusalsAreCountedAndChangeNothing) {
    Rig rig;
    tunnel(rig, 0x1001, 0x2001);
    Json dup = run(rig, add_sa(0x1001, "in", "203.0.113.10", "203.0.113.1", 1));
    EXPECT_EQ(dup["error"], "an SA with spi 0x00001001 to 203.0.113.1 is already installed");
    for (uint32_t spi = 0x3000; spi < 0x3006; spi++)
        ASSERT_EQ(run(rig, add_sa(spi, "in", "203.0.113.10", "203.0.113.1", 2))["ok"], true);
    Json full = run(rig, add_sa(0x4000, "in", "203.0.113.10", "203.0.113.1", 2));
    EXPECT_EQ(full["error"], "the SA table is full (8 SAs; raise 'ipsec max-sas')");
    EXPECT_EQ(rig.state.counters().refused_full, 1u);
    run(rig, R"({"op":"ipsec-del-sa","spi":12288,"dst":"203.0.113.1"})");
    rig.backend.refuse = true;
    Json refused = run(rig, add_sa(0x4000, "in", "203.0.113.10", "203.0.113.1", 2));
    EXPECT_EQ(refused["error"], "SA spi 0x00004000 to 203.0.113.1 refused: no crypto session left");
    EXPECT_EQ(rig.state.counters().refused_backend, 1u);
    EXPECT_EQ(rig.state.sas().size(), 7u);
}

TEST(IpsecState, FlushRemovesEverythingAfterTheWorkers) {
    Rig rig;
    tunnel(rig, 0x1001, 0x2001);
    rig.backend.events.clear();
    Json r = run(rig, R"({"op":"ipsec-flush"})");
    EXPECT_EQ(r["sas"], 2);
    EXPECT_EQ(r["policies"], 3);
    EXPECT_EQ(rig.backend.events, (std::vector<std::string>{"quiesce", "remove 0", "remove 1"}));
    EXPECT_TRUE(rig.table().empty());
}

TEST(IpsecState, AnUpdateMovesTheSaToNewAddresses) {
    Rig rig;
    tunnel(rig, 0x1001, 0x2001);
    Json r = run(rig, R"({"op":"ipsec-update-sa","spi":4097,"src":"203.0.113.10",)"
                      R"("dst":"203.0.113.1","new_src":"198.51.100.10","new_dst":"203.0.113.1",)"
                      R"("encap":{"sport":4500,"dport":4500}})");
    ASSERT_EQ(r["ok"], true) << r.dump();
    EXPECT_EQ(rig.backend.installed.back().encap, true);
    EXPECT_EQ(config::format_address(rig.backend.installed.back().src), "198.51.100.10");
    EXPECT_EQ(rig.backend.events.back(), "remove 0");
    Json wrong =
        run(rig, R"({"op":"ipsec-update-sa","spi":4097,"src":"203.0.113.99",)"
                 R"("dst":"203.0.113.1","new_src":"198.51.100.10","new_dst":"203.0.113.1"})");
    EXPECT_EQ(wrong["error"], "no SA with spi 0x00001001 to 203.0.113.1 from 203.0.113.99");
}

TEST(IpsecControl, SasAndStatisticsReportTheBackendsCounters) {
    Rig rig;
    tunnel(rig, 0x1001, 0x2001);
    rig.backend.stats_of[0] = SaStats{10, 14200, 2, 1, 0, 0, 4000};
    Json sas = run(rig, R"({"op":"ipsec-sas"})", 5000);
    ASSERT_EQ(sas["sas"].size(), 2u);
    const Json &in = sas["sas"][0];
    EXPECT_EQ(in["spi_hex"], "0x00001001");
    EXPECT_EQ(in["dir"], "in");
    EXPECT_EQ(in["packets"], 10);
    EXPECT_EQ(in["bytes"], 14200);
    EXPECT_EQ(in["replay_drops"], 2);
    EXPECT_EQ(in["auth_failures"], 1);
    EXPECT_EQ(in["idle_ms"], 1000);
    EXPECT_EQ(in["peer"], "site1");
    Json q = run(rig, R"({"op":"ipsec-query-sa","spi":4097,"dst":"203.0.113.1"})", 5000);
    EXPECT_EQ(q["bytes"], 14200);
    EXPECT_EQ(q["idle_ms"], 1000);
    Json stats = run(rig, R"({"op":"ipsec"})");
    EXPECT_EQ(stats["sas_in"], 1);
    EXPECT_EQ(stats["sas_out"], 1);
    EXPECT_EQ(stats["counters"]["replay_drops"], 2);
    EXPECT_EQ(stats["counters"]["sas_added"], 2);
}

TEST(IpsecControl, PeersComeFromTheRunningConfigWithTheirLocalAddress) {
    // The local address of a peer without one is the running snapshot's route towards it
    // (Snapshot::source_towards; tested on real routes in Control.IpsecPeersTakeTheirLocal...),
    // here a stand-in that knows the first two peers.
    auto conf = config::load_text(
        "interfaces {\n"
        "    inner0 { device \"net_null0\"; address 198.18.1.1/24; zone inner; }\n"
        "    inet0 { device \"net_null1\"; address 203.0.113.1/24; zone inet; }\n"
        "}\n"
        "zones { inner { loop inner; } inet { loop internet; } }\n"
        "routes { route 198.51.100.0/24 { via 203.0.113.254; } }\n"
        "ipsec {\n"
        "    peer near { address 203.0.113.10; pre-shared-key \"0123456789abcdefghij\"; "
        "local-subnet 198.18.1.0/24; remote-subnet 192.0.2.0/24; }\n"
        "    peer far { address 198.51.100.20; pre-shared-key \"0123456789abcdefghij\"; "
        "local-subnet 198.18.1.0/24; remote-subnet 192.0.2.128/25; start-action trap; }\n"
        "    peer lost { address 192.0.2.200; pre-shared-key \"0123456789abcdefghij\"; "
        "local-subnet 198.18.1.0/24; remote-subnet 192.0.2.0/25; }\n"
        "    peer own { address 192.0.2.201; local-address 198.18.1.1; pre-shared-key "
        "\"0123456789abcdefghij\"; local-subnet 198.18.1.0/24; remote-subnet 192.0.2.0/26; }\n"
        "}\n",
        "t.conf");
    ASSERT_TRUE(conf) << conf.error().to_string();
    LocalAddress routes = [](const config::Address &peer) -> std::optional<config::Address> {
        std::string a = config::format_address(peer);
        if (a == "203.0.113.10" || a == "198.51.100.20" || a == "192.0.2.201")
            return config::parse_prefix("203.0.113.1");
        return std::nullopt;
    };
    Json r = ipsec_handle(req(R"({"op":"ipsec-peers"})"), nullptr, *conf, 12, 0, routes);
    EXPECT_EQ(r["revision"], 12);
    ASSERT_EQ(r["peers"].size(), 4u);
    EXPECT_EQ(r["peers"][0]["local_address"], "203.0.113.1") << "connected";
    EXPECT_EQ(r["peers"][1]["local_address"], "203.0.113.1") << "by the static route";
    EXPECT_EQ(r["peers"][2]["local_address"], "") << "no route: charon picks";
    EXPECT_EQ(r["peers"][3]["local_address"], "198.18.1.1") << "configured: not the route's";
    EXPECT_EQ(r["peers"][0]["psk"], "0123456789abcdefghij");
    EXPECT_EQ(r["peers"][1]["start_action"], "trap");
    EXPECT_EQ(r["peers"][0]["esp_proposals"], Json::array({"aes256gcm16"}));
    EXPECT_EQ(r["peers"][0]["remote_subnets"], Json::array({"192.0.2.0/24"}));
    Json none = ipsec_handle(req(R"({"op":"ipsec-sas"})"), nullptr, *conf, 12, 0);
    EXPECT_EQ(none["error"], "IPsec is not available: the dataplane runs without a crypto device");
}

} // namespace

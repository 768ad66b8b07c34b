// SPDX-License-Identifier: GPL-2.0-or-later
// charon's SAs and policies as the dataplane's ipsec-* ops (docs/IPSEC.md, R128-h, R139-7):
// SPIs in host order, keys as hex, the two ciphers, policy reference counts across a rekey,
// volume lifetimes reported once at soft and once at hard.
#include "ike/ipsec_ops.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace qorgan::ike;
using qorgan::Json;

namespace {

uint8_t gcm_key[36];
uint8_t cbc_key[32];
uint8_t hmac_key[32];

qk_sa_t gcm_sa() {
    for (int i = 0; i < 36; i++)
        gcm_key[i] = static_cast<uint8_t>(i);
    qk_sa_t sa{};
    sa.spi = 0xc1234567;
    sa.inbound = 1;
    std::strcpy(sa.src, "203.0.113.10");
    std::strcpy(sa.dst, "203.0.113.1");
    sa.reqid = 1;
    sa.tunnel = 1;
    sa.enc_alg = encr_aes_gcm_16;
    sa.enc_key = gcm_key;
    sa.enc_key_len = 36;
    sa.replay_window = 32;
    sa.hard_bytes = 1000;
    return sa;
}

qk_policy_t policy(int dir) {
    qk_policy_t p{};
    p.dir = dir;
    std::strcpy(p.src, dir == QK_DIR_OUT ? "198.18.1.0/24" : "192.0.2.0/24");
    std::strcpy(p.dst, dir == QK_DIR_OUT ? "192.0.2.0/24" : "198.18.1.0/24");
    p.reqid = 1;
    p.tunnel = 1;
    p.ipsec = 1;
    std::strcpy(p.tunnel_src, dir == QK_DIR_OUT ? "203.0.113.1" : "203.0.113.10");
    std::strcpy(p.tunnel_dst, dir == QK_DIR_OUT ? "203.0.113.10" : "203.0.113.1");
    return p;
}

} // namespace

TEST(IpsecOps, AddSaGcm) {
    auto r = add_sa_request(gcm_sa(), "site1");
    ASSERT_TRUE(r.ok()) << r.error().message;
    Json want = Json::parse(R"({"op":"ipsec-add-sa","spi":3240314215,"dir":"in",
      "src":"203.0.113.10","dst":"203.0.113.1","reqid":1,"cipher":"aes256gcm16",
      "enc_key":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223",
      "integ_key":"","esn":false,"replay_window":32,"encap":null,"hard_bytes":1000,
      "hard_packets":0,"peer":"site1"})");
    EXPECT_EQ(*r, want) << r->dump();
}

TEST(IpsecOps, AddSaCbcHmacOutboundWithEncap) {
    qk_sa_t sa = gcm_sa();
    for (int i = 0; i < 32; i++) {
        cbc_key[i] = 0xaa;
        hmac_key[i] = 0x55;
    }
    sa.inbound = 0;
    sa.enc_alg = encr_aes_cbc;
    sa.enc_key = cbc_key;
    sa.enc_key_len = 32;
    sa.int_alg = auth_hmac_sha2_256_128;
    sa.int_key = hmac_key;
    sa.int_key_len = 32;
    sa.esn = 1;
    sa.encap = 1;
    sa.encap_sport = 4500;
    sa.encap_dport = 4501;
    auto r = add_sa_request(sa, "");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ((*r)["cipher"], "aes256-sha256");
    EXPECT_EQ((*r)["dir"], "out");
    EXPECT_EQ((*r)["enc_key"], std::string(64, 'a'));
    EXPECT_EQ((*r)["integ_key"], std::string(32, '5') + std::string(32, '5'));
    EXPECT_EQ((*r)["esn"], true);
    EXPECT_EQ((*r)["encap"], (Json{{"sport", 4500}, {"dport", 4501}}));
}

TEST(IpsecOps, UnsupportedAlgorithmsAndModesAreRefused) {
    qk_sa_t sa = gcm_sa();
    sa.enc_key_len = 20; // AES-128-GCM
    auto r = add_sa_request(sa, "site1");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("unsupported ESP algorithms: encryption 20 (20-byte key)"),
              std::string::npos)
        << r.error().message;
    sa = gcm_sa();
    sa.enc_alg = encr_aes_cbc; // CBC without integrity
    sa.enc_key_len = 32;
    EXPECT_FALSE(add_sa_request(sa, "site1").ok());
    sa = gcm_sa();
    sa.tunnel = 0;
    auto t = add_sa_request(sa, "site1");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().message, "only tunnel mode SAs are supported");
}

TEST(IpsecOps, OtherRequests) {
    EXPECT_EQ(del_sa_request(0xc1234567, "203.0.113.1"),
              Json::parse(R"({"op":"ipsec-del-sa","spi":3240314215,"dst":"203.0.113.1"})"));
    EXPECT_EQ(query_sa_request(7, "2001:db8::1"),
              Json::parse(R"({"op":"ipsec-query-sa","spi":7,"dst":"2001:db8::1"})"));
    EXPECT_EQ(add_policy_request(policy(QK_DIR_OUT)),
              Json::parse(R"({"op":"ipsec-add-policy","dir":"out","src":"198.18.1.0/24",
                "dst":"192.0.2.0/24","proto":0,"reqid":1,
                "tunnel":{"src":"203.0.113.1","dst":"203.0.113.10"}})"));
    EXPECT_EQ(del_policy_request(policy(QK_DIR_FWD)),
              Json::parse(R"({"op":"ipsec-del-policy","dir":"fwd","src":"192.0.2.0/24",
                "dst":"198.18.1.0/24","proto":0})"));
    qk_sa_update_t u{};
    u.spi = 9;
    std::strcpy(u.src, "203.0.113.10");
    std::strcpy(u.dst, "203.0.113.1");
    std::strcpy(u.new_src, "198.51.100.7");
    std::strcpy(u.new_dst, "203.0.113.1");
    u.new_encap = 1;
    u.encap_sport = 4500;
    u.encap_dport = 4500;
    EXPECT_EQ(update_sa_request(u),
              Json::parse(R"({"op":"ipsec-update-sa","spi":9,"src":"203.0.113.10",
                "dst":"203.0.113.1","new_src":"198.51.100.7","new_dst":"203.0.113.1",
                "encap":{"sport":4500,"dport":4500}})"));
}

TEST(IpsecOps, WipeClearsEveryString) {
    auto r = add_sa_request(gcm_sa(), "site1");
    ASSERT_TRUE(r.ok());
    Json req = *r;
    wipe(req);
    auto key = req["enc_key"].get<std::string>();
    EXPECT_EQ(key, std::string(72, '\0'));
    EXPECT_EQ(to_hex(gcm_key, 2), "0001");
}

TEST(IpsecOps, PolicyCountsSurviveARekey) {
    PolicyCounts c;
    c.add(policy(QK_DIR_OUT)); // first CHILD_SA
    c.add(policy(QK_DIR_OUT)); // the rekeyed one, same selectors
    EXPECT_EQ(c.size(), 1u);
    EXPECT_FALSE(c.remove(policy(QK_DIR_OUT))) << "the old CHILD_SA's delete must not go out";
    EXPECT_TRUE(c.remove(policy(QK_DIR_OUT))) << "the last holder's delete goes out";
    EXPECT_FALSE(c.remove(policy(QK_DIR_OUT))) << "unknown policy";
    c.add(policy(QK_DIR_IN));
    c.add(policy(QK_DIR_FWD));
    EXPECT_EQ(c.size(), 2u) << "in and fwd are different policies";
    c.clear();
    EXPECT_EQ(c.size(), 0u);
}

TEST(IpsecOps, VolumeExpiryOnceAtSoftOnceAtHard) {
    VolumeWatch w;
    qk_sa_t sa = gcm_sa();
    sa.soft_bytes = 900;
    sa.hard_bytes = 1000;
    w.add(sa);
    qk_sa_t unlimited = gcm_sa();
    unlimited.spi = 1234;
    unlimited.hard_bytes = 0;
    w.add(unlimited);
    EXPECT_EQ(w.size(), 1u) << "an SA without volume limits is not watched";
    auto reply = [](uint64_t bytes) {
        return Json{
            {"ok", true},
            {"sas",
             Json::array({Json{{"spi", 0xc1234567u},
                               {"dst", "203.0.113.1"},
                               {"bytes", bytes},
                               {"packets", 1}},
                          Json{{"spi", 1234}, {"dst", "203.0.113.1"}, {"bytes", 1u << 30}}})}};
    };
    EXPECT_TRUE(w.check(reply(100)).empty());
    auto soft = w.check(reply(950));
    ASSERT_EQ(soft.size(), 1u);
    EXPECT_EQ(soft[0].spi, 0xc1234567u);
    EXPECT_EQ(soft[0].dst, "203.0.113.1");
    EXPECT_FALSE(soft[0].hard);
    EXPECT_TRUE(w.check(reply(960)).empty()) << "soft is reported once";
    auto hard = w.check(reply(1000));
    ASSERT_EQ(hard.size(), 1u);
    EXPECT_TRUE(hard[0].hard);
    EXPECT_TRUE(w.check(reply(5000)).empty()) << "hard is reported once";
    w.remove(0xc1234567u, "203.0.113.1");
    EXPECT_EQ(w.size(), 0u);
    EXPECT_TRUE(w.check(Json{{"ok", true}}).empty());
}

TEST(IpsecOps, VolumeExpiryByPacketsStraightToHard) {
    VolumeWatch w;
    qk_sa_t sa = gcm_sa();
    sa.hard_bytes = 0;
    sa.soft_packets = 90;
    sa.hard_packets = 100;
    w.add(sa);
    auto e = w.check(Json{
        {"sas",
         Json::array({Json{
             {"spi", 0xc1234567u}, {"dst", "203.0.113.1"}, {"bytes", 0}, {"packets", 150}}})}});
    ASSERT_EQ(e.size(), 1u);
    EXPECT_TRUE(e[0].hard) << "past hard at the first look: hard only, no soft";
}

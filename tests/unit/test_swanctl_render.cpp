// SPDX-License-Identifier: GPL-2.0-or-later
// qorgan-ike's swanctl.conf from the dataplane's `ipsec-peers` (docs/IPSEC.md, R128-h,
// R139-7): PSK and certificate peers, lifetimes, and the values that could inject swanctl
// syntax, which are refused.
#include "ike/swanctl_render.h"

#include <gtest/gtest.h>

using namespace qorgan::ike;
using qorgan::Json;

namespace {

Json psk_peer() {
    return Json::parse(R"({"name":"site1","address":"203.0.113.10","local_address":"203.0.113.1",
 "local_id":"","remote_id":"","auth":"psk","psk":"secret-of-site1","certificate":"",
 "private_key":"","ca":"","ike_proposals":["aes256-sha256-modp3072"],
 "esp_proposals":["aes256gcm16","aes256-sha256"],"local_subnets":["198.18.1.0/24"],
 "remote_subnets":["192.0.2.0/24"],"ike_lifetime_s":14400,"lifetime_s":3600,"lifetime_bytes":0,
 "lifetime_packets":0,"dpd_s":30,"start_action":"start","encap":false})");
}

Json cert_peer() {
    Json p = psk_peer();
    p["name"] = "site2";
    p["auth"] = "certificate";
    p["psk"] = "";
    p["certificate"] = "/etc/qorgan/ipsec/gw.pem";
    p["private_key"] = "/etc/qorgan/ipsec/gw.key";
    p["ca"] = "/etc/qorgan/ipsec/ca.pem";
    p["local_id"] = "C=KZ, O=Qorgan, CN=gw.lab.example";
    p["remote_id"] = "CN=peer.lab.example";
    return p;
}

std::string rendered(const Json &peer) {
    auto p = parse_peers(Json{{"ok", true}, {"revision", 3}, {"peers", Json::array({peer})}});
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return p.ok() ? render_swanctl(*p).text : "";
}

std::string refused(Json peer) {
    auto p = parse_peers(Json{{"ok", true}, {"revision", 3}, {"peers", Json::array({peer})}});
    EXPECT_FALSE(p.ok()) << "accepted: " << peer.dump();
    return p.ok() ? "" : p.error().message;
}

bool has(const std::string &text, const std::string &what) {
    return text.find(what) != std::string::npos;
}

} // namespace

TEST(SwanctlRender, PskPeerIsAConnectionWithChildAndSecret) {
    std::string t = rendered(psk_peer());
    EXPECT_TRUE(has(t, "    site1 {\n        version = 2\n")) << t;
    EXPECT_TRUE(has(t, "local_addrs = 203.0.113.1\n")) << t;
    EXPECT_TRUE(has(t, "remote_addrs = 203.0.113.10\n")) << t;
    EXPECT_TRUE(has(t, "proposals = aes256-sha256-modp3072\n")) << t;
    EXPECT_TRUE(has(t, "esp_proposals = aes256gcm16,aes256-sha256\n")) << t;
    EXPECT_TRUE(has(t, "local_ts = 198.18.1.0/24\n")) << t;
    EXPECT_TRUE(has(t, "remote_ts = 192.0.2.0/24\n")) << t;
    EXPECT_TRUE(has(t, "auth = psk\n")) << t;
    EXPECT_TRUE(has(t, "id = \"203.0.113.1\"\n")) << t;
    EXPECT_TRUE(has(t, "id = \"203.0.113.10\"\n")) << t;
    // IKE SA: rekey at 90%, the rest as over_time; CHILD_SA life_time is the lifetime
    EXPECT_TRUE(has(t, "rekey_time = 12960s\n        over_time = 1440s\n")) << t;
    EXPECT_TRUE(has(t, "rekey_time = 3240s\n                life_time = 3600s\n")) << t;
    EXPECT_FALSE(has(t, "rekey_bytes")) << t;
    EXPECT_TRUE(has(t, "dpd_delay = 30s\n")) << t;
    EXPECT_TRUE(has(t, "start_action = start\n")) << t;
    EXPECT_TRUE(has(t, "dpd_action = restart\n")) << t;
    EXPECT_TRUE(has(t, "encap = no\n")) << t;
    // the secret is hex: no character of it can end the value
    EXPECT_TRUE(has(t, "secret = 0x7365637265742d6f662d7369746531\n")) << t;
    EXPECT_FALSE(has(t, "secret-of-site1")) << t;
    EXPECT_TRUE(has(t, "id-local = \"203.0.113.1\"\n")) << t;
    EXPECT_TRUE(has(t, "id-remote = \"203.0.113.10\"\n")) << t;
}

TEST(SwanctlRender, CertificatePeerCopiesItsFiles) {
    auto p = parse_peers(Json{{"peers", Json::array({cert_peer()})}});
    ASSERT_TRUE(p.ok()) << p.error().message;
    auto conf = render_swanctl(*p);
    EXPECT_TRUE(has(conf.text, "auth = pubkey\n")) << conf.text;
    EXPECT_TRUE(has(conf.text, "certs = site2.pem\n")) << conf.text;
    EXPECT_TRUE(has(conf.text, "cacerts = site2.pem\n")) << conf.text;
    EXPECT_TRUE(has(conf.text, "id = \"C=KZ, O=Qorgan, CN=gw.lab.example\"\n")) << conf.text;
    EXPECT_TRUE(has(conf.text, "id = \"CN=peer.lab.example\"\n")) << conf.text;
    EXPECT_FALSE(has(conf.text, "ike-site2")) << "no PSK secret for a certificate peer";
    ASSERT_EQ(conf.files.size(), 3u);
    EXPECT_EQ(conf.files[0].from, "/etc/qorgan/ipsec/gw.pem");
    EXPECT_EQ(conf.files[0].to, "x509/site2.pem");
    EXPECT_EQ(conf.files[1].to, "x509ca/site2.pem");
    EXPECT_EQ(conf.files[2].to, "private/site2.key");
    EXPECT_TRUE(conf.files[2].secret);
    EXPECT_FALSE(conf.files[0].secret);
}

TEST(SwanctlRender, LifetimesByVolumeAndTrap) {
    Json p = psk_peer();
    p["lifetime_bytes"] = 1000000;
    p["lifetime_packets"] = 1000;
    p["start_action"] = "trap";
    p["encap"] = true;
    p["lifetime_s"] = 10;
    std::string t = rendered(p);
    EXPECT_TRUE(has(t, "rekey_bytes = 900000\n                life_bytes = 1000000\n")) << t;
    EXPECT_TRUE(has(t, "rekey_packets = 900\n                life_packets = 1000\n")) << t;
    EXPECT_TRUE(has(t, "rekey_time = 9s\n                life_time = 10s\n")) << t;
    EXPECT_TRUE(has(t, "start_action = trap\n")) << t;
    EXPECT_TRUE(has(t, "dpd_action = trap\n")) << t;
    EXPECT_TRUE(has(t, "encap = yes\n")) << t;
}

TEST(SwanctlRender, NoPeersUnloadsEverything) {
    auto p = parse_peers(Json{{"peers", Json::array()}});
    ASSERT_TRUE(p.ok());
    auto conf = render_swanctl(*p);
    EXPECT_TRUE(has(conf.text, "connections {\n}\nsecrets {\n}\n")) << conf.text;
}

TEST(SwanctlRender, InjectionIsRefused) {
    struct Case {
        const char *field;
        Json value;
        const char *error;
    } cases[] = {
        {"name", "site1 { }", "only letters, digits"},
        {"name", "a\"b", "only letters, digits"},
        {"name", "", "only letters, digits"},
        {"name", std::string(65, 'a'), "only letters, digits"},
        {"local_id", "CN=x\" }\nconnections { evil { ", "quotes, backslashes"},
        {"remote_id", "CN=x}", "quotes, backslashes"},
        {"remote_id", "CN=x\nsecrets", "quotes, backslashes"},
        {"remote_id", "CN=x\\", "quotes, backslashes"},
        {"address", "203.0.113.10\n}", "not an IP address"},
        {"local_address", "%any", "not an IP address"},
        {"ike_proposals", Json::array({"aes256-sha256}"}), "not a proposal"},
        {"esp_proposals", Json::array({"aes256gcm16,3des"}), "not a proposal"},
        {"esp_proposals", Json::array(), "a non-empty list"},
        {"local_subnets", Json::array({"198.18.1.0/33"}), "not a subnet"},
        {"remote_subnets", Json::array({"192.0.2.0/24 }"}), "not a subnet"},
        {"remote_subnets", Json::array({"192.0.2.0"}), "not a subnet"},
        {"auth", "eap", "expected psk or certificate"},
        {"psk", "short", "at least 8"},
        {"start_action", "start\n}", "expected start, trap or none"},
        {"lifetime_s", -5, "not a non-negative integer"},
        {"lifetime_s", 1, "at least 2 seconds"},
        {"encap", "yes", "not a boolean"},
    };
    for (const auto &c : cases) {
        Json p = psk_peer();
        p[c.field] = c.value;
        std::string e = refused(p);
        EXPECT_TRUE(has(e, c.error)) << c.field << "=" << c.value.dump() << ": " << e;
        EXPECT_TRUE(has(e, "ipsec peer")) << e;
    }
    Json cert = cert_peer();
    cert["private_key"] = "relative/gw.key";
    EXPECT_TRUE(has(refused(cert), "private_key: an absolute file path is required"));
    cert = cert_peer();
    cert["ca"] = "/etc/ca.pem\n";
    EXPECT_TRUE(has(refused(cert), "ca: an absolute file path is required"));
}

TEST(SwanctlRender, PskWithSyntaxCharactersIsHex) {
    Json p = psk_peer();
    p["psk"] = "a\"}\n{b\\c d#e";
    std::string t = rendered(p);
    EXPECT_TRUE(has(t, "secret = 0x61227d0a7b625c6320642365\n")) << t;
}

TEST(SwanctlRender, DuplicateNamesAndBadReplies) {
    auto dup = parse_peers(Json{{"peers", Json::array({psk_peer(), psk_peer()})}});
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().message, "ipsec peer 'site1' is named twice");
    auto none = parse_peers(Json{{"ok", true}});
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().message, "ipsec-peers reply without a \"peers\" list");
    auto notobj = parse_peers(Json{{"peers", Json::array({1})}});
    ASSERT_FALSE(notobj.ok());
    Json missing = psk_peer();
    missing.erase("address");
    EXPECT_EQ(refused(missing), "ipsec peer 'site1': address: missing");
    Json wrong = psk_peer();
    wrong["address"] = 5;
    EXPECT_EQ(refused(wrong), "ipsec peer 'site1': address: not a string");
}

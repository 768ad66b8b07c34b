// SPDX-License-Identifier: GPL-2.0-or-later
// The ipsec section of the config (docs/IPSEC.md, R128-h): peers, their defaults, and every
// refusal with its path, line and what would be right.
#include "config/config.h"
#include "config/schema.h"

#include <gtest/gtest.h>

#include <string>

using namespace qorgan;
using namespace qorgan::config;

namespace {

// Two interfaces (inner0 198.18.1.1, inet0 203.0.113.1) and an ipsec section holding
// `peer_body` as peer site1's statements from line 9.
std::string with_peer(const std::string &peer_body, const std::string &extra = "") {
    return "interfaces {\n"
           "    inner0 { device \"net_null0\"; address 198.18.1.1/24; zone inner; }\n"
           "    inet0 { device \"net_null1\"; address 203.0.113.1/24; zone inet; }\n"
           "}\n"
           "zones { inner { loop inner; } inet { loop internet; } }\n"
           "ipsec {\n" +
           extra +
           "    peer site1 {\n"
           "        " +
           peer_body + "\n    }\n}\n";
}

const std::string psk_peer = "address 203.0.113.10; pre-shared-key \"0123456789abcdefghij\"; "
                             "local-subnet 198.18.1.0/24; remote-subnet 192.0.2.0/24;";

std::string error_of(const std::string &text) {
    auto r = load_text(text, "lab.conf");
    return r ? "loaded" : r.error().to_string();
}

TEST(ConfigIpsec, APskPeerGetsTheDefaults) {
    auto c = load_text(with_peer(psk_peer), "lab.conf");
    ASSERT_TRUE(c) << c.error().to_string();
    ASSERT_EQ(c->ipsec.peers.size(), 1u);
    const IpsecPeer &p = c->ipsec.peers[0];
    EXPECT_EQ(p.name, "site1");
    EXPECT_EQ(format_address(p.address), "203.0.113.10");
    EXPECT_EQ(p.local_address.family, 0);
    EXPECT_EQ(p.auth, IpsecAuth::psk);
    EXPECT_EQ(p.psk, "0123456789abcdefghij");
    EXPECT_EQ(p.ike_proposals, std::vector<std::string>{"aes256-sha256-modp3072"});
    EXPECT_EQ(p.esp_proposals, std::vector<std::string>{"aes256gcm16"});
    ASSERT_EQ(p.local_subnets.size(), 1u);
    EXPECT_EQ(format_prefix(p.local_subnets[0]), "198.18.1.0/24");
    EXPECT_EQ(format_prefix(p.remote_subnets[0]), "192.0.2.0/24");
    EXPECT_EQ(p.ike_lifetime_s, 14400u);
    EXPECT_EQ(p.lifetime_s, 3600u);
    EXPECT_EQ(p.dpd_s, 30u);
    EXPECT_EQ(p.start, IpsecStart::start);
    EXPECT_FALSE(p.encap);
    EXPECT_EQ(c->ipsec.max_sas, 1024u);
}

TEST(ConfigIpsec, ACertificatePeerWithEverySetting) {
    auto c = load_text(
        with_peer("address 203.0.113.10; local-address 203.0.113.1; local-id \"C=KZ, O=Org, "
                  "CN=gw1\"; remote-id \"CN=site1\"; certificate \"/etc/q/gw.pem\"; "
                  "private-key \"/etc/q/gw.key\"; ca \"/etc/q/ca.pem\"; ike-proposal [ "
                  "aes256gcm16-prfsha384-ecp384 aes256-sha512-modp4096 ]; esp-proposal [ "
                  "aes256-sha256-modp3072 aes256gcm16 ]; local-subnet [ 198.18.1.0/24 "
                  "2001:db8:1::/64 ]; remote-subnet 192.0.2.0/24; remote-subnet 198.51.100.0/24; "
                  "ike-lifetime 7200; lifetime 600; lifetime-bytes 1000000; lifetime-packets "
                  "5000; dpd 0; start-action trap; encapsulation;",
                  "    max-sas 64;\n"),
        "lab.conf");
    ASSERT_TRUE(c) << c.error().to_string();
    const IpsecPeer &p = c->ipsec.peers.at(0);
    EXPECT_EQ(p.auth, IpsecAuth::certificate);
    EXPECT_EQ(p.local_id, "C=KZ, O=Org, CN=gw1");
    EXPECT_EQ(p.certificate, "/etc/q/gw.pem");
    EXPECT_EQ(p.ike_proposals.size(), 2u);
    EXPECT_EQ(p.esp_proposals[0], "aes256-sha256-modp3072");
    EXPECT_EQ(p.local_subnets.size(), 2u);
    EXPECT_EQ(p.remote_subnets.size(), 2u);
    EXPECT_EQ(p.lifetime_bytes, 1000000u);
    EXPECT_EQ(p.lifetime_packets, 5000u);
    EXPECT_EQ(p.dpd_s, 0u);
    EXPECT_EQ(p.start, IpsecStart::trap);
    EXPECT_TRUE(p.encap);
    EXPECT_EQ(c->ipsec.max_sas, 64u);
}

TEST(ConfigIpsec, RefusalsSayWhereAndWhatWouldBeRight) {
    struct Case {
        std::string body, error;
    };
    const Case cases[] = {
        {"pre-shared-key \"0123456789abcdefghij\"; local-subnet 198.18.1.0/24; "
         "remote-subnet 192.0.2.0/24;",
         "lab.conf:7:5: ipsec peer site1: missing 'address'; expected 'address <address>;' of "
         "the peer"},
        {"address 203.0.113.10; pre-shared-key \"short\"; local-subnet 198.18.1.0/24; "
         "remote-subnet 192.0.2.0/24;",
         "lab.conf:8:46: ipsec peer site1 pre-shared-key: the key is 5 characters long; expected "
         "at least 20 characters (R128-h: a guessable key protects nothing)"},
        {"address 203.0.113.10; local-subnet 198.18.1.0/24; remote-subnet 192.0.2.0/24;",
         "lab.conf:7:5: ipsec peer site1: no authentication; expected 'pre-shared-key "
         "\"<secret>\";' or 'certificate', 'private-key' and 'ca' (X.509)"},
        {psk_peer + " certificate \"/c\";",
         "lab.conf:7:5: ipsec peer site1: both a pre-shared key and certificates; expected "
         "'pre-shared-key \"<secret>\";' or 'certificate', 'private-key' and 'ca' (X.509)"},
        {"address 203.0.113.10; certificate \"/c\"; ca \"/a\"; local-subnet 198.18.1.0/24; "
         "remote-subnet 192.0.2.0/24;",
         "lab.conf:7:5: ipsec peer site1: missing 'private-key'; expected 'certificate', "
         "'private-key' and 'ca' together"},
        {"address 203.0.113.10; certificate \"gw.pem\"; private-key \"/k\"; ca \"/a\";",
         "lab.conf:8:43: ipsec peer site1 certificate: 'gw.pem' is not an absolute path; "
         "expected a path from /, e.g. /etc/qorgan/ipsec/gw.pem"},
        {"address 203.0.113.10; pre-shared-key \"0123456789abcdefghij\"; local-subnet "
         "198.18.1.0/24;",
         "lab.conf:7:5: ipsec peer site1: missing 'remote-subnet'; expected 'local-subnet "
         "<prefix>;' and 'remote-subnet <prefix>;': what the tunnel carries"},
        {psk_peer + " esp-proposal aes128-sha1;",
         "lab.conf:8:139: ipsec peer site1 esp-proposal: 'aes128-sha1' is refused; expected "
         "the dataplane's ESP runs aes256gcm16 or aes256-sha256, e.g. aes256gcm16 or "
         "aes256-sha256-modp3072"},
        {psk_peer + " ike-proposal aes256-sha256-modp1024;",
         "lab.conf:8:139: ipsec peer site1 ike-proposal: 'aes256-sha256-modp1024' is refused; "
         "expected 'modp1024' is not an algorithm the gateway accepts, e.g. "
         "aes256-sha256-modp3072"},
        {psk_peer + " ike-proposal aes256-modp3072;",
         "lab.conf:8:139: ipsec peer site1 ike-proposal: 'aes256-modp3072' is refused; "
         "expected an integrity algorithm (sha256, sha384 or sha512) with a non-AEAD cipher, "
         "e.g. aes256-sha256-modp3072"},
        {psk_peer + " remote-id \"CN=x\\\"; }\";",
         "lab.conf:8:136: ipsec peer site1 remote-id: '\"' is not allowed here; expected "
         "letters, digits, spaces and . , : = @ _ * / + -"},
        {psk_peer + " lifetime 14400;",
         "lab.conf:7:5: ipsec peer site1: lifetime 14400 s is not shorter than ike-lifetime "
         "14400 s; expected a CHILD_SA lifetime below the IKE SA's"},
        {psk_peer + " start-action route;",
         "lab.conf:8:139: ipsec peer site1 start-action: 'route' is not a start action; "
         "expected start (negotiate at once), trap (when traffic needs the tunnel) or none (the "
         "peer starts it)"},
        {"address 203.0.113.1; pre-shared-key \"0123456789abcdefghij\"; local-subnet "
         "198.18.1.0/24; remote-subnet 192.0.2.0/24;",
         "lab.conf:7:5: ipsec peer site1 address: 203.0.113.1 is the gateway's own address; "
         "expected the remote gateway's address"},
        {psk_peer + " local-address 203.0.113.2;",
         "lab.conf:7:5: ipsec peer site1 local-address: 203.0.113.2 is not an address of any "
         "interface; expected one of the gateway's interface addresses"},
        {psk_peer + " local-address 2001:db8::1;",
         "lab.conf:7:5: ipsec peer site1 local-address: 2001:db8::1 and the peer's "
         "203.0.113.10 are of different families; expected a local address of the peer's "
         "family"},
        {psk_peer + " local-subnet 198.18.1.1/24;",
         "lab.conf:8:139: ipsec peer site1 local-subnet: 198.18.1.1/24 has host bits set; did "
         "you mean 198.18.1.0/24?"},
    };
    for (const Case &c : cases)
        EXPECT_EQ(error_of(with_peer(c.body)), c.error) << c.body;
}

TEST(ConfigIpsec, PeersHaveNamesAndAddressesOfTheirOwn) {
    // A second peer with the first one's name, then one with its address.
    std::string text = with_peer(psk_peer, "    peer site1 { " + psk_peer + " }\n");
    EXPECT_EQ(error_of(text), "lab.conf:8:5: ipsec peer site1: duplicate peer site1 (first at "
                              "lab.conf:7:5); expected a name of its own for each peer");
    text = with_peer(psk_peer, "    peer site0 { " + psk_peer + " }\n");
    EXPECT_EQ(error_of(text), "lab.conf:8:5: ipsec peer site1 address: 203.0.113.10 is already "
                              "peer site0 (at lab.conf:7:5); expected one peer per remote "
                              "gateway; a peer may carry several subnets");
}

TEST(ConfigIpsec, PeersAreBounded) {
    std::string many;
    for (std::size_t i = 0; i < max_ipsec_peers; i++)
        many += "    peer p" + std::to_string(i) + " { address 198.51.100." +
                std::to_string(i + 1) +
                "; pre-shared-key \"0123456789abcdefghij\"; local-subnet 198.18.1.0/24; "
                "remote-subnet 192.0.2.0/24; }\n";
    EXPECT_EQ(error_of(with_peer(psk_peer, many)),
              "lab.conf:71:5: ipsec peer site1: more than 64 peers; expected at most 64; one "
              "peer may carry several subnets");
}

} // namespace

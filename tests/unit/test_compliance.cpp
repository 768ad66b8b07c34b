// SPDX-License-Identifier: GPL-2.0-or-later
// Loop separation (R139-7, R139-8) found by witness packets, and the compliance report.
#include "config/compliance.h"
#include "config/config.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace qorgan::config {
namespace {

using Lists = std::map<std::string, std::string>; // interface -> its rules

const Lists open_egress = {{"inner0", "rule 1000 { action accept; }"},
                           {"outer0", "rule 1000 { action accept; }"},
                           {"dmz0", "rule 1000 { action accept; }"},
                           {"inet0", "rule 1000 { action accept; }"}};

// The lab's interfaces and zones with the given rule lists, routes, NAT rules and screens.
Config lab(const Lists &ingress, const Lists &egress = open_egress, const std::string &routes = "",
           const std::string &nat = "", const std::string &security = "",
           const std::string &ipsec = "") {
    std::string policy;
    for (const char *i : {"inner0", "outer0", "dmz0", "inet0"}) {
        policy += std::string(i) + " { ";
        if (ingress.count(i))
            policy += "ingress { " + ingress.at(i) + " } ";
        if (egress.count(i))
            policy += "egress { " + egress.at(i) + " } ";
        policy += "}\n";
    }
    std::string text = R"(
interfaces {
    inner0 { device "net_af_packet0"; address 198.18.1.1/24; zone inner; }
    outer0 { device "net_af_packet1"; address 198.18.2.1/24; zone outer; }
    dmz0 { device "net_af_packet2"; address 198.18.3.1/24; zone dmz; }
    inet0 { device "net_af_packet3"; address 203.0.113.1/24; zone internet; }
}
zones { inner { loop inner; } outer { loop outer; } dmz { loop shielded; }
        internet { loop internet; } }
policy { )" + policy + R"( }
routes { )" + routes + " }\nnat { " +
                       nat + " }\nsecurity { " + security + " }\n" +
                       (ipsec.empty() ? "" : "ipsec { " + ipsec + " }\n");
    auto c = load_text(text, "lab");
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().to_string());
    return c.ok() ? *c : Config{};
}

TEST(Compliance, DefaultConfigHasNoViolation) {
    auto c = load_text(default_config_text(), "default");
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(check_loops(*c).empty());
    EXPECT_TRUE(check_compliance(*c).ok());
}

TEST(Compliance, R139_7_InnerToOuterIsRefusedWithItsParagraph) {
    Config c = lab({{"inner0", "rule 21 { protocol tcp; destination 198.18.2.0/24; "
                               "destination-port 22; action accept; }"}});
    auto v = check_loops(c);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].requirement, "R139-7");
    EXPECT_EQ(v[0].path, "policy inner0 ingress rule 21");
    EXPECT_EQ(v[0].message,
              "policy inner0 ingress rule 21 accepts 198.18.1.0/24 -> 198.18.2.0/24 (outer0, "
              "loop outer): R139-7 forbids traffic between the inner and outer loops except "
              "through an IPsec channel or the shielded subnet");
    EXPECT_EQ(v[0].where.file, "lab");
    EXPECT_GT(v[0].where.line, 0);
    auto s = check_compliance(c);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, v[0].message);
    EXPECT_EQ(s.error().where.line, v[0].where.line);
}

TEST(Compliance, R139_7_OuterToInnerToo) {
    auto v = check_loops(lab({{"outer0", "rule 3 { action accept; }"}}));
    ASSERT_EQ(v.size(), 1u); // outer -> internet and outer -> dmz are allowed
    EXPECT_EQ(v[0].message,
              "policy outer0 ingress rule 3 accepts 198.18.2.0/24 -> 198.18.1.0/24 (inner0, "
              "loop inner): R139-7 forbids traffic between the inner and outer loops except "
              "through an IPsec channel or the shielded subnet");
}

const Lists inner_udp_to_internet = {
    {"inner0", "rule 21 { protocol udp; destination 203.0.113.0/24; action accept; }"}};

TEST(Compliance, R139_8_InnerToInternetIsRefusedWithItsParagraph) {
    auto v = check_loops(lab(inner_udp_to_internet));
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].requirement, "R139-8");
    EXPECT_EQ(v[0].message,
              "policy inner0 ingress rule 21 accepts 198.18.1.0/24 -> 203.0.113.0/24 (inet0, "
              "loop internet): R139-8 forbids any path from the inner loop to the Internet");
}

TEST(Compliance, R139_8_InternetToInnerToo) {
    auto v = check_loops(lab({{"inet0", "rule 9 { destination 198.18.1.0/25; action accept; }"}}));
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].message,
              "policy inet0 ingress rule 9 accepts 203.0.113.0/24 -> 198.18.1.0/25 (inner0, "
              "loop inner): R139-8 forbids any path from the Internet to the inner loop");
}

const std::string accept_all = "rule 100 { action accept; }";

TEST(Compliance, DropRuleBeforeTheAcceptHidesIt) {
    auto v = check_loops(lab({{"inner0", accept_all}}));
    std::set<std::string> ids;
    for (const Violation &x : v)
        ids.insert(x.requirement);
    EXPECT_EQ(ids, (std::set<std::string>{"R139-7", "R139-8"}));

    Config hidden = lab({{"inner0", "rule 1 { destination 198.18.2.0/24; action drop; } rule 2 { "
                                    "destination 203.0.113.0/24; action reject; } " +
                                        accept_all}});
    EXPECT_TRUE(check_loops(hidden).empty());

    // A drop that only covers some ports does not hide the rest.
    Config partial = lab({{"inner0", "rule 1 { protocol tcp; destination 198.18.2.0/24; "
                                     "destination-port 1-1000; action drop; } rule 2 { "
                                     "destination 203.0.113.0/24; action drop; } " +
                                         accept_all}});
    auto p = check_loops(partial);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].path, "policy inner0 ingress rule 100");
    EXPECT_EQ(p[0].requirement, "R139-7");
}

TEST(Compliance, EgressDropOnTheExitInterfaceHidesIt) {
    Lists drop_inner = open_egress;
    for (const char *i : {"outer0", "inet0"})
        drop_inner[i] = "rule 1 { source 198.18.1.0/24; action drop; } rule 2 { action accept; }";
    EXPECT_TRUE(check_loops(lab({{"inner0", accept_all}}, drop_inner)).empty());
    // No egress list at all is default deny too.
    EXPECT_TRUE(check_loops(lab({{"inner0", accept_all}}, {})).empty());
}

TEST(Compliance, ShieldedSubnetIsAllowed) {
    Config c = lab({{"inner0", "rule 1 { destination 198.18.3.0/24; action accept; }"},
                    {"dmz0", "rule 1 { destination 198.18.2.0/24; action accept; } rule 2 { "
                             "destination 198.18.1.0/24; action accept; }"},
                    {"outer0", "rule 1 { destination 198.18.3.0/24; action accept; }"}});
    EXPECT_TRUE(check_loops(c).empty());
}

TEST(Compliance, DefaultRouteViaTheInternetMakesAnyReachIt) {
    Lists policy = {{"inner0", "rule 1 { destination 198.18.2.0/24; action drop; } rule 7 { "
                               "protocol icmp; icmp-type echo-request; destination 8.8.8.0/24; "
                               "action accept; }"}};
    EXPECT_TRUE(check_loops(lab(policy)).empty()) << "no route: 8.8.8.0/24 goes nowhere";
    auto v = check_loops(lab(policy, open_egress, "route 0.0.0.0/0 { via 203.0.113.254; }"));
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].message,
              "policy inner0 ingress rule 7 accepts 198.18.1.0/24 -> 8.8.8.0/24 (inet0, loop "
              "internet): R139-8 forbids any path from the inner loop to the Internet");

    Lists any = {{"inner0", "rule 1 { destination 198.18.2.0/24; action drop; } rule 8 { "
                            "destination 198.18.3.0/24; action accept; } rule 9 { source "
                            "198.18.1.0/24; destination 100.64.0.0/10; action accept; }"}};
    EXPECT_TRUE(check_loops(lab(any)).empty());
    auto d = check_loops(lab(any, open_egress, "route 100.64.0.0/10 { interface inet0; }"));
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].requirement, "R139-8");
}

TEST(Compliance, TrafficToTheGatewayItselfAndDisabledPortsDoNotCount) {
    Config c = lab({{"inner0", "rule 1 { destination 198.18.2.1; action accept; }"}});
    EXPECT_TRUE(check_loops(c).empty()) << "the gateway's own address is delivered locally";
    Config d = lab({{"inner0", accept_all}});
    ASSERT_FALSE(check_loops(d).empty());
    for (Interface &i : d.interfaces)
        if (i.name != "inner0" && i.name != "dmz0")
            i.disabled = true;
    EXPECT_TRUE(check_loops(d).empty());
}

// Tunnels from the inner LAN: to branch1's 192.0.2.0/24 and to branch2's two subnets
// 100.64.0.0/24 and 100.64.3.0/24, both through the Internet; and to a site in the outer
// loop, 10.20.0.0/16 behind 198.18.2.50 on outer0.
const std::string peers =
    "peer branch1 { address 203.0.113.10; pre-shared-key \"0123456789abcdefghij\"; "
    "local-subnet 198.18.1.0/24; remote-subnet 192.0.2.0/24; } "
    "peer branch2 { address 203.0.113.20; pre-shared-key \"0123456789abcdefghij\"; "
    "local-subnet 198.18.1.0/25; remote-subnet 100.64.0.0/24; remote-subnet 100.64.3.0/24; } "
    "peer site3 { address 198.18.2.50; pre-shared-key \"0123456789abcdefghij\"; "
    "esp-proposal aes256-sha256; local-subnet 198.18.1.0/24; remote-subnet 10.20.0.0/16; }";
const std::string tunnel_routes =
    "route 0.0.0.0/0 { via 203.0.113.254; } route 10.20.0.0/16 { via 198.18.2.254; }";

std::vector<Violation> with_tunnels(const Lists &ingress, const std::string &ipsec = peers) {
    return check_loops(lab(ingress, open_egress, tunnel_routes, "", "", ipsec));
}

TEST(Compliance, R139_7_R139_8_RulesAdmittingExactlyAPeersSubnetPairsPass) {
    const Lists rules = {
        // branch1 both ways: out from the inner LAN, and in (decrypted ESP runs the ingress
        // rules of the interface it arrived on).
        {"inner0", "rule 10 { source 198.18.1.0/24; destination 192.0.2.0/24; action accept; } "
                   "rule 11 { protocol tcp; source 198.18.1.0/25; destination 100.64.3.0/24; "
                   "destination-port 443; action accept; } "
                   "rule 12 { source 198.18.1.0/24; destination 10.20.0.0/16; action accept; }"},
        {"inet0", "rule 10 { source 192.0.2.0/24; destination 198.18.1.0/24; action accept; }"},
        {"outer0", "rule 12 { source 10.20.0.0/16; destination 198.18.1.0/24; action accept; }"}};
    EXPECT_TRUE(with_tunnels(rules).empty());
    // Without the peers the same rules break both paragraphs.
    std::set<std::string> ids;
    for (const Violation &v : check_loops(lab(rules, open_egress, tunnel_routes)))
        ids.insert(v.requirement + " " + v.path);
    EXPECT_EQ(ids, (std::set<std::string>{"R139-8 policy inner0 ingress rule 10",
                                          "R139-8 policy inner0 ingress rule 11",
                                          "R139-7 policy inner0 ingress rule 12",
                                          "R139-8 policy inet0 ingress rule 10",
                                          "R139-7 policy outer0 ingress rule 12"}));
}

// "accepted", or the first violation's paragraph and text.
std::string verdict(const std::vector<Violation> &v) {
    return v.empty() ? std::string("accepted") : v[0].requirement + ": " + v[0].message;
}

TEST(Compliance, R139_7_R139_8_ARuleAdmittingMoreThanThePairsIsStillRefused) {
    // A wider destination than the tunnel's.
    EXPECT_EQ(verdict(with_tunnels({{"inner0", "rule 20 { source 198.18.1.0/24; destination "
                                               "192.0.2.0/23; action accept; }"}})),
              "R139-8: policy inner0 ingress rule 20 accepts 198.18.1.0/24 -> 192.0.2.0/23 "
              "(inet0, loop internet): R139-8 forbids any path from the inner loop to the "
              "Internet; only traffic between an IPsec peer's local-subnet and remote-subnet "
              "may pass, through its tunnel");
    // A wider source: 198.18.1.128/25 is no local-subnet of branch2.
    EXPECT_EQ(verdict(with_tunnels({{"inner0", "rule 21 { source 198.18.1.0/24; destination "
                                               "100.64.0.0/24; action accept; }"}}))
                  .substr(0, 45),
              "R139-8: policy inner0 ingress rule 21 accepts");
    // Any destination; the tunnel's destination from any source of the Internet.
    EXPECT_NE(verdict(with_tunnels({{"inner0", "rule 22 { source 198.18.1.0/24; action accept; "
                                               "}"}})),
              "accepted");
    EXPECT_NE(verdict(with_tunnels({{"inet0", "rule 23 { destination 198.18.1.0/24; action "
                                              "accept; }"}})),
              "accepted");
    // One peer's remote subnet with another address family or the outer loop's own LAN:
    // the outer LAN 198.18.2.0/24 is no subnet of site3.
    EXPECT_EQ(verdict(with_tunnels({{"inner0", "rule 24 { source 198.18.1.0/24; destination "
                                               "198.18.2.0/24; action accept; }"}}))
                  .substr(0, 7),
              "R139-7:");
}

TEST(Compliance, R139_8_TheGapBetweenTwoTunnelSubnetsInsideOneRuleIsFound) {
    // 100.64.0.0/22 begins in branch2's 100.64.0.0/24 and ends in its 100.64.3.0/24: its
    // first and last addresses are tunnelled, 100.64.1.0-100.64.2.255 are not. The
    // witnesses beside each tunnel subnet find them.
    auto v = with_tunnels({{"inner0", "rule 30 { source 198.18.1.0/25; destination "
                                      "100.64.0.0/22; action accept; }"}});
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].requirement, "R139-8");
    EXPECT_EQ(v[0].path, "policy inner0 ingress rule 30");
    // The same range as exactly the two subnets passes.
    EXPECT_TRUE(with_tunnels({{"inner0", "rule 31 { source 198.18.1.0/25; destination "
                                         "100.64.0.0/24; destination 100.64.3.0/24; action "
                                         "accept; }"}})
                    .empty());
    // Any source from inner0 is its LAN, 198.18.1.0/24: branch1's local subnet. A second
    // inner network routed behind inner0 is not.
    const Lists any_source = {{"inner0", "rule 32 { destination 192.0.2.0/24; action accept; }"}};
    EXPECT_TRUE(with_tunnels(any_source).empty());
    auto behind = check_loops(lab(any_source, open_egress,
                                  tunnel_routes + " route 10.99.0.0/16 { via 198.18.1.254; }", "",
                                  "", peers));
    ASSERT_EQ(behind.size(), 1u);
    EXPECT_EQ(behind[0].message.substr(0, 76),
              "policy inner0 ingress rule 32 accepts 10.99.0.0/16 -> 192.0.2.0/24 (inet0, l");
}

ComplianceFacts healthy() {
    ComplianceFacts f;
    f.dataplane_connected = true;
    f.ports_total = 4;
    f.ports_up = 4;
    f.ports_disabled = 0;
    f.running_config_intact = true;
    f.revisions = 3;
    return f;
}

const ComplianceRow *row(const std::vector<ComplianceRow> &rows, const std::string &id) {
    for (const ComplianceRow &r : rows)
        if (r.id == id)
            return &r;
    return nullptr;
}

TEST(ComplianceReport, OneRowPerRequirementInOrder) {
    auto c = load_text(default_config_text(), "default");
    ASSERT_TRUE(c.ok());
    auto rows = compliance_report(*c, healthy());
    std::vector<std::string> ids;
    for (const ComplianceRow &r : rows) {
        ids.push_back(r.id);
        EXPECT_FALSE(r.summary.empty()) << r.id;
        EXPECT_FALSE(r.evidence.empty()) << r.id;
        EXPECT_TRUE(r.status == "met" || r.status == "not met" || r.status == "partly met" ||
                    r.status == "not implemented yet")
            << r.id;
        if (r.status == "not implemented yet") {
            EXPECT_TRUE(r.evidence.find("issue") != std::string::npos) << r.id;
        }
    }
    EXPECT_EQ(ids, (std::vector<std::string>{
                       "R128-a",  "R128-b", "R128-c", "R128-d", "R128-e",    "R128-f",  "R128-g",
                       "R128-h",  "R134-1", "R134-2", "R133-3", "R133-4",    "R133-1",  "R139-3",
                       "R139-4",  "R139-7", "R139-8", "R139-9", "R139-10-1", "R139-12", "R139-13",
                       "R38-3",   "R38-4",  "R38-6",  "R52",    "R47",       "R90-1-3", "R90-1-6",
                       "R90-1-7", "R102-2", "R118"}));
    EXPECT_EQ(row(rows, "R128-g")->status, "met");
    EXPECT_NE(row(rows, "R128-g")->evidence.find("default deny"), std::string::npos);
    EXPECT_EQ(row(rows, "R128-f")->status, "met");
    EXPECT_EQ(row(rows, "R128-f")->evidence.substr(0, 27), "4 ports, 4 up, 0 disabled (");
    EXPECT_EQ(row(rows, "R139-4")->status, "partly met");
    EXPECT_NE(row(rows, "R139-4")->evidence.find("SHA-256 of 3 revisions"), std::string::npos);
    EXPECT_EQ(row(rows, "R139-7")->status, "met");
    EXPECT_EQ(row(rows, "R139-8")->status, "met");
    EXPECT_EQ(row(rows, "R139-13")->status, "met");
    // The default configuration publishes the shielded web server and hides the LANs.
    EXPECT_EQ(row(rows, "R128-d")->status, "met");
    EXPECT_EQ(row(rows, "R128-d")->evidence, "1 static 1:1 translations (nat static): web");
    EXPECT_EQ(row(rows, "R90-1-6")->status, "met");
    EXPECT_EQ(row(rows, "R90-1-6")->evidence,
              "source NAT (NAPT) on every internet-loop interface: inet0 by lan-internet");
    // ...and, with the default screen on every zone, protects against attacks.
    EXPECT_EQ(row(rows, "R139-10-1")->status, "met");
    EXPECT_EQ(row(rows, "R139-10-1")->evidence,
              "IPS: all screen defences on in dmz (defaults); address translation: 0 destination "
              "rules and 1 static translations (web)");
    EXPECT_EQ(row(rows, "R128-e")->status, "met");
    EXPECT_EQ(row(rows, "R90-1-3")->status, "partly met") << "the lockout is qorgand's to show";
    // Without its nat section the same configuration meets neither.
    std::string text(default_config_text());
    size_t n0 = text.find("\nnat {");
    ASSERT_NE(n0, std::string::npos);
    size_t n1 = text.find("\n}\n", n0);
    auto bare = load_text(text.substr(0, n0) + text.substr(n1 + 2), "default-without-nat");
    ASSERT_TRUE(bare.ok()) << bare.error().to_string();
    auto bare_rows = compliance_report(*bare, healthy());
    EXPECT_EQ(row(bare_rows, "R128-d")->status, "not met");
    EXPECT_EQ(row(bare_rows, "R128-d")->evidence, "no 'nat static' configured");
    EXPECT_EQ(row(bare_rows, "R90-1-6")->status, "not met");
    EXPECT_EQ(row(bare_rows, "R90-1-6")->evidence,
              "interface inet0 (loop internet) has no 'nat source' rule: inside addresses leave "
              "it untranslated");
    // Category blocking needs no configuration: the six categories are always blocked.
    EXPECT_EQ(row(rows, "R134-1")->status, "met");
    EXPECT_EQ(row(rows, "R134-1")->evidence,
              "the six categories (vpn, remote-access, p2p, games, unknown, malicious) are "
              "blocked on every forwarded flow; 1 exception");
    EXPECT_EQ(row(rows, "R134-2")->status, "met");
    EXPECT_EQ(row(rows, "R133-3")->status, "met");
    EXPECT_EQ(row(rows, "R133-4")->status, "partly met");
    EXPECT_EQ(row(rows, "R133-1")->status, "met");
}

TEST(ComplianceReport, NatRowsFollowTheConfiguration_R128d_R90_1_6_R139_10_1) {
    Config c = lab({}, open_egress, "",
                   "static web { interface inet0; inside 198.18.3.10; outside 203.0.113.10; }"
                   "static mail { interface inet0; inside 198.18.3.25; outside 203.0.113.25; }"
                   "source lan { interface inet0; from 198.18.1.0/24; }"
                   "source dmz { interface inet0; from 198.18.3.0/24; }"
                   "destination ssh { interface inet0; protocol tcp; port 2222; "
                   "to 198.18.3.22; to-port 22; }");
    auto rows = compliance_report(c, healthy());
    EXPECT_EQ(row(rows, "R128-d")->status, "met");
    EXPECT_EQ(row(rows, "R128-d")->evidence, "2 static 1:1 translations (nat static): web, mail");
    EXPECT_EQ(row(rows, "R90-1-6")->status, "met");
    EXPECT_EQ(row(rows, "R90-1-6")->evidence,
              "source NAT (NAPT) on every internet-loop interface: inet0 by lan, dmz");
    EXPECT_EQ(row(rows, "R139-10-1")->status, "met");
    EXPECT_EQ(row(rows, "R139-10-1")->evidence,
              "IPS: all screen defences on in dmz (defaults); address translation: 1 destination "
              "rules (ssh) and 2 static translations (web, mail)");

    // A source rule on another interface does not conceal what leaves by inet0.
    c = lab({}, open_egress, "", "source lan { interface outer0; }");
    rows = compliance_report(c, healthy());
    EXPECT_EQ(row(rows, "R90-1-6")->status, "not met");
    EXPECT_NE(row(rows, "R90-1-6")->evidence.find("interface inet0 (loop internet)"),
              std::string::npos);
    // Nothing published from the shielded subnet: the translation half is missing.
    EXPECT_EQ(row(rows, "R139-10-1")->status, "not met");
    EXPECT_EQ(row(rows, "R139-10-1")->evidence,
              "IPS: all screen defences on in dmz (defaults); address translation: no 'nat "
              "destination' or 'nat static' rule");

    // No interface in the internet loop: nothing shows LAN addresses concealed.
    c = lab({});
    c.zones.back().loop = Loop::outer;
    EXPECT_EQ(row(compliance_report(c, healthy()), "R90-1-6")->evidence,
              "no interface is in the internet loop: no 'nat source' rule to show");
}

TEST(ComplianceReport, R128e_MetByTheScreensOfTheInternetAndOuterZones) {
    auto rows = compliance_report(lab({}), healthy());
    EXPECT_EQ(row(rows, "R128-e")->status, "met");
    EXPECT_EQ(row(rows, "R128-e")->evidence,
              "screen on every internet and outer zone: outer (defaults): syn-flood cookie, "
              "spoofing drop, tcp-flags drop, fragments drop; internet (defaults): syn-flood "
              "cookie, spoofing drop, tcp-flags drop, fragments drop");
    // alarm still checks; a defence switched off in the inner zone does not count.
    Config c = lab({}, open_egress, "", "",
                   "screen internet { syn-flood { action alarm; } tcp-flags { action alarm; } }"
                   "screen inner { syn-flood { action off; } fragments { action off; } }");
    rows = compliance_report(c, healthy());
    EXPECT_EQ(row(rows, "R128-e")->status, "met");
    EXPECT_EQ(row(rows, "R128-e")->evidence,
              "screen on every internet and outer zone: outer (defaults): syn-flood cookie, "
              "spoofing drop, tcp-flags drop, fragments drop; internet: syn-flood alarm, "
              "spoofing drop, tcp-flags alarm, fragments drop");
}

TEST(ComplianceReport, R128e_NotMetWhenADefenceIsOffOnAFacingZone) {
    for (const char *defence : {"syn-flood", "spoofing", "tcp-flags", "fragments"}) {
        Config c = lab({}, open_egress, "", "",
                       "screen outer { " + std::string(defence) + " { action off; } }");
        auto rows = compliance_report(c, healthy());
        EXPECT_EQ(row(rows, "R128-e")->status, "not met") << defence;
        EXPECT_EQ(row(rows, "R128-e")->evidence,
                  "zone outer (loop outer): " + std::string(defence) +
                      " is off in 'security screen outer': those attacks reach the zone "
                      "unchecked");
    }
    // The other defences are not part of R128-e.
    Config scan_off = lab({}, open_egress, "", "", "screen internet { scan { action off; } }");
    EXPECT_EQ(row(compliance_report(scan_off, healthy()), "R128-e")->status, "met");
    // Nothing faces the outside: nothing to show.
    Config inside = lab({});
    for (Zone &z : inside.zones)
        z.loop = Loop::inner;
    EXPECT_EQ(row(compliance_report(inside, healthy()), "R128-e")->evidence,
              "no zone is in the internet or outer loop: no screen to show");
    EXPECT_EQ(row(compliance_report(inside, healthy()), "R128-e")->status, "not met");
}

TEST(ComplianceReport, R90_1_3_RequestRateFromTheSourceRateScreen) {
    ComplianceFacts f = healthy();
    f.audit_known = true;
    auto rows = compliance_report(lab({}), f);
    EXPECT_EQ(row(rows, "R90-1-3")->status, "met");
    EXPECT_EQ(row(rows, "R90-1-3")->evidence,
              "account and source lockout after 5 failures for 900 s; source-rate outer "
              "(defaults) drop above 1000 new flows/s, burst 2000, internet (defaults) drop "
              "above 1000 new flows/s, burst 2000");
    Config block = lab({}, open_egress, "", "",
                       "screen internet { source-rate { new-per-second 50; burst 80; "
                       "action block; } }");
    EXPECT_EQ(row(compliance_report(block, f), "R90-1-3")->status, "met");
    EXPECT_NE(row(compliance_report(block, f), "R90-1-3")
                  ->evidence.find("internet block above 50 new flows/s, burst 80"),
              std::string::npos);

    Config alarm =
        lab({}, open_egress, "", "", "screen internet { source-rate { action alarm; } }");
    rows = compliance_report(alarm, f);
    EXPECT_EQ(row(rows, "R90-1-3")->status, "not met");
    EXPECT_EQ(row(rows, "R90-1-3")->evidence,
              "account and source lockout after 5 failures for 900 s; zone internet (loop "
              "internet): source-rate action alarm lets a source exceed 1000 new flows/s, "
              "burst 2000");
    // Without qorgand's facts the rate half is still shown.
    rows = compliance_report(alarm, healthy());
    EXPECT_EQ(row(rows, "R90-1-3")->status, "not met");
    EXPECT_EQ(row(rows, "R90-1-3")->evidence,
              "zone internet (loop internet): source-rate action alarm lets a source exceed "
              "1000 new flows/s, burst 2000; the login lockout is known to qorgand only (built "
              "in issue 4): run show compliance in the shell");
    Config off = lab({}, open_egress, "", "", "screen outer { source-rate { action off; } }");
    EXPECT_EQ(row(compliance_report(off, f), "R90-1-3")->status, "not met");
}

TEST(ComplianceReport, R139_10_1_NeedsEveryDefenceOnInTheShieldedZones) {
    const std::string nat =
        "static web { interface inet0; inside 198.18.3.10; outside 203.0.113.10; }";
    // A screen of its own for dmz, with every defence on: met, and named without (defaults).
    Config own = lab({}, open_egress, "", nat, "screen dmz { scan { action block; } }");
    auto rows = compliance_report(own, healthy());
    EXPECT_EQ(row(rows, "R139-10-1")->status, "met");
    EXPECT_EQ(row(rows, "R139-10-1")->evidence,
              "IPS: all screen defences on in dmz; address translation: 0 destination rules and "
              "1 static translations (web)");
    for (const char *defence : {"syn-flood", "source-rate", "icmp-flood", "udp-flood", "scan",
                                "tcp-flags", "spoofing", "ip-options", "fragments"}) {
        Config c = lab({}, open_egress, "", nat,
                       "screen dmz { " + std::string(defence) + " { action off; } }");
        rows = compliance_report(c, healthy());
        EXPECT_EQ(row(rows, "R139-10-1")->status, "not met") << defence;
        EXPECT_EQ(row(rows, "R139-10-1")->evidence,
                  "IPS: zone dmz (loop shielded): " + std::string(defence) +
                      " is off in 'security screen dmz'; address translation: 0 destination "
                      "rules and 1 static translations (web)");
    }
    Config none = lab({}, open_egress, "", nat);
    none.zones[2].loop = Loop::outer;
    rows = compliance_report(none, healthy());
    EXPECT_EQ(row(rows, "R139-10-1")->status, "not met");
    EXPECT_EQ(row(rows, "R139-10-1")->evidence,
              "IPS: no zone is in the shielded loop; address translation: 0 destination rules "
              "and 1 static translations (web)");
}

TEST(ComplianceReport, CategoryRowsWithoutExceptions_R134_R133) {
    auto rows = compliance_report(lab({}), healthy());
    EXPECT_EQ(row(rows, "R134-1")->summary,
              "block VPN, remote access, p2p, games, unknown, malicious");
    EXPECT_EQ(row(rows, "R134-2")->status, "met");
    EXPECT_EQ(row(rows, "R134-2")->evidence,
              "0 exceptions: unblocking only by an exception carrying its official request");
    EXPECT_EQ(row(rows, "R133-3")->status, "met");
    EXPECT_EQ(row(rows, "R133-3")->evidence,
              "0 exceptions allow 0 categories and 0 applications to 0 source networks (0 "
              "exceptions for any source) of 0 organizations");
    EXPECT_EQ(row(rows, "R133-4")->status, "partly met");
    EXPECT_EQ(row(rows, "R133-4")->evidence,
              "0 agreed VPN channels pass despite the vpn block; IPsec channels wait for issue 8");
    EXPECT_EQ(row(rows, "R133-1")->status, "met");
    EXPECT_EQ(row(rows, "R133-1")->evidence,
              "remote access arriving from a zone outside the outer loop towards an outer-loop "
              "zone is blocked whatever the exceptions say; outer-loop zones: outer");
    // No outer loop at all: nothing to remote-control, and the row says so.
    Config c = lab({});
    c.zones[1].loop = Loop::inner;
    EXPECT_EQ(row(compliance_report(c, healthy()), "R133-1")->evidence,
              "remote access arriving from a zone outside the outer loop towards an outer-loop "
              "zone is blocked whatever the exceptions say; no zone is in the outer loop");
}

TEST(ComplianceReport, CategoryRowsFollowTheExceptionsAndChannels_R134_R133) {
    const std::string categories =
        "categories {"
        " exception torrents { source [ 198.18.1.0/24 198.18.2.0/24 ]; organization \"Ministry "
        "of Science\"; category [ p2p games ]; application BitTorrent; reference \"MS-117\"; }"
        " exception admins { application [ SSH RDP ]; reference \"IT-9\"; }"
        " exception lab { source 198.18.3.0/24; organization \"Ministry of Science\"; "
        "category unknown; reference \"MS-118\"; }"
        " vpn-channel hq { protocol udp; source 198.18.2.10; destination 192.0.2.1; "
        "destination-port 1194; }"
        " vpn-channel branch { protocol tcp; source 198.18.2.11; destination 192.0.2.2; "
        "destination-port 443; }"
        " }";
    Config c = lab({}, open_egress, "", "", categories);
    auto rows = compliance_report(c, healthy());
    EXPECT_EQ(row(rows, "R134-1")->status, "met");
    EXPECT_EQ(row(rows, "R134-1")->evidence,
              "the six categories (vpn, remote-access, p2p, games, unknown, malicious) are "
              "blocked on every forwarded flow; 3 exceptions");
    EXPECT_EQ(row(rows, "R134-2")->status, "met");
    EXPECT_EQ(row(rows, "R134-2")->evidence,
              "3 exceptions, each with its official request: torrents (MS-117), admins (IT-9), "
              "lab (MS-118)");
    EXPECT_EQ(row(rows, "R133-3")->status, "met");
    EXPECT_EQ(row(rows, "R133-3")->evidence,
              "3 exceptions allow 3 categories and 3 applications to 3 source networks (1 "
              "exception for any source) of 1 organization (Ministry of Science)");
    EXPECT_EQ(row(rows, "R133-4")->status, "partly met");
    EXPECT_EQ(row(rows, "R133-4")->evidence,
              "2 agreed VPN channels (hq, branch) pass despite the vpn block; IPsec channels "
              "wait for issue 8");
    EXPECT_EQ(row(rows, "R133-1")->status, "met") << "exceptions never open remote control";

    // Nothing is classified while the dataplane is away; the configured rows still stand.
    ComplianceFacts away;
    rows = compliance_report(c, away);
    EXPECT_EQ(row(rows, "R134-1")->status, "not met");
    EXPECT_EQ(row(rows, "R134-1")->evidence,
              "dataplane not connected: no flow is classified (nothing forwards)");
    EXPECT_EQ(row(rows, "R134-2")->status, "met");
    EXPECT_EQ(row(rows, "R133-4")->status, "partly met");
}

TEST(ComplianceReport, DisconnectedTamperedAndViolatingAreNotMet) {
    Config c = lab(inner_udp_to_internet);
    ComplianceFacts f;
    f.running_config_intact = false;
    auto rows = compliance_report(c, f);
    EXPECT_EQ(row(rows, "R128-g")->status, "not met");
    EXPECT_EQ(row(rows, "R128-f")->status, "not met");
    EXPECT_EQ(row(rows, "R139-13")->status, "not met");
    EXPECT_EQ(row(rows, "R139-13")->evidence, "dataplane not connected: port state unknown");
    EXPECT_EQ(row(rows, "R139-4")->status, "not met");
    EXPECT_NE(row(rows, "R139-4")->evidence.find("tampered"), std::string::npos);
    EXPECT_EQ(row(rows, "R139-7")->status, "met");
    EXPECT_EQ(row(rows, "R139-8")->status, "not met");
    EXPECT_EQ(row(rows, "R139-8")->evidence,
              "policy inner0 ingress rule 21 accepts 198.18.1.0/24 -> 203.0.113.0/24 (inet0, "
              "loop internet): R139-8 forbids any path from the inner loop to the Internet");
}

TEST(ComplianceReport, IpsecRowsFollowThePeers_R128h_R139_3_R139_7) {
    const Lists tunnel_rules = {
        {"inner0", "rule 10 { source 198.18.1.0/24; destination 192.0.2.0/24; action accept; }"},
        {"inet0", "rule 10 { source 192.0.2.0/24; destination 198.18.1.0/24; action accept; }"}};
    auto rows =
        compliance_report(lab(tunnel_rules, open_egress, tunnel_routes, "", "", peers), healthy());
    EXPECT_EQ(row(rows, "R128-h")->status, "partly met");
    EXPECT_EQ(row(rows, "R128-h")->evidence,
              "3 IPsec peers (branch1, branch2, site3): IKEv2, ESP aes256-sha256, aes256gcm16 "
              "(AES-256-GCM / AES-256-CBC + HMAC-SHA-256), 3 pre-shared keys, 0 X.509 "
              "certificates; no certified national algorithm (MCIP) can be chosen yet");
    EXPECT_EQ(row(rows, "R139-3")->status, "met");
    EXPECT_EQ(row(rows, "R139-3")->evidence,
              "between sites only through IPsec: 198.18.1.0/24 <-> 192.0.2.0/24 (branch1); "
              "198.18.1.0/25 <-> 100.64.0.0/24, 100.64.3.0/24 (branch2); 198.18.1.0/24 <-> "
              "10.20.0.0/16 (site3); no other path leaves the inner loop for the outer loop or "
              "the Internet (R139-7, R139-8, checked at every commit); what a tunnel covers is "
              "dropped when no SA carries it (ipsec_no_sa). Which traffic is confidential is "
              "the operator's choice of local-subnet and remote-subnet");
    EXPECT_EQ(row(rows, "R139-7")->status, "met");
    EXPECT_EQ(row(rows, "R139-7")->evidence,
              "no accepted path between the inner and outer loops other than the IPsec peers' "
              "subnet pairs, through their tunnels (branch1, branch2, site3) (checked at every "
              "commit)");
    EXPECT_EQ(row(rows, "R139-8")->status, "met");

    // qorgand adds charon's live view (show compliance).
    ComplianceFacts live = healthy();
    live.ike_known = true;
    live.ike_up = {"site3", "branch1", "site3"};
    auto live_rows =
        compliance_report(lab(tunnel_rules, open_egress, tunnel_routes, "", "", peers), live);
    EXPECT_EQ(row(live_rows, "R128-h")->evidence.substr(row(rows, "R128-h")->evidence.size()),
              "; IKE established: branch1, site3 (2 of 3 peers)");
    live.ike_error = "qorgan-ike is not running: nothing answers on unix:///x";
    live_rows =
        compliance_report(lab(tunnel_rules, open_egress, tunnel_routes, "", "", peers), live);
    EXPECT_EQ(row(live_rows, "R128-h")->evidence.substr(row(rows, "R128-h")->evidence.size()),
              "; IKE: qorgan-ike is not running: nothing answers on unix:///x");
    EXPECT_EQ(row(live_rows, "R128-h")->status, "partly met");

    // A rule past the tunnels: R139-3 is not met either, with the rule that opens the way.
    auto open_rows =
        compliance_report(lab({{"inner0", "rule 40 { destination 192.0.2.0/23; action accept; }"}},
                              open_egress, tunnel_routes, "", "", peers),
                          healthy());
    EXPECT_EQ(row(open_rows, "R139-8")->status, "not met");
    EXPECT_EQ(row(open_rows, "R139-3")->status, "not met");
    EXPECT_EQ(row(open_rows, "R139-3")->evidence.substr(0, 79),
              "policy inner0 ingress rule 40 accepts 198.18.1.0/24 -> 192.0.2.0/23 (inet0, loo");
    EXPECT_NE(row(open_rows, "R139-3")
                  ->evidence.find(": traffic can leave the inner loop outside the tunnels"),
              std::string::npos);

    // No peer: nothing is protected.
    auto bare = compliance_report(lab({}), healthy());
    EXPECT_EQ(row(bare, "R128-h")->status, "not met");
    EXPECT_EQ(row(bare, "R128-h")->evidence,
              "no 'ipsec peer' configured: no traffic is protected cryptographically "
              "(IKEv2/ESP channels are available, docs/IPSEC.md)");
    EXPECT_EQ(row(bare, "R139-3")->status, "not met");
    EXPECT_EQ(row(bare, "R139-3")->evidence,
              "no 'ipsec peer' configured: traffic between sites has no protected channel");
    EXPECT_EQ(row(bare, "R139-7")->evidence,
              "no accepted path between the inner and outer loops; no IPsec channel configured "
              "(checked at every commit)");
}

TEST(ComplianceReport, R139_13_NeedsDisabledPortsDown) {
    Config c = lab({});
    c.interfaces[1].disabled = true;
    ComplianceFacts f = healthy();
    f.ports_up = 4;
    f.ports_disabled = 0; // the dataplane still has it up
    EXPECT_EQ(row(compliance_report(c, f), "R139-13")->status, "not met");
    EXPECT_EQ(row(compliance_report(c, f), "R139-13")->evidence,
              "1 interfaces disabled in the configuration but the dataplane reports 4 ports, "
              "4 up, 0 disabled");
    f.ports_up = 3;
    f.ports_disabled = 1;
    EXPECT_EQ(row(compliance_report(c, f), "R139-13")->status, "met");
}

TEST(ComplianceReport, AdministratorRowsFollowTheLiveFacts_R47_R90_1_7) {
    auto c = load_text(default_config_text(), "default");
    ASSERT_TRUE(c.ok());
    ComplianceFacts f = healthy();
    f.audit_known = true;
    f.users = 3;
    f.privileged_users = 2;
    f.privileged_with_totp = 2;
    f.audit_intact = true;
    f.audit_summary = "1 files, 10 records, 1 seals: intact";
    f.audit_storage = "ok";
    auto rows = compliance_report(*c, f);
    auto get = [&](const char *id) {
        for (const auto &r : rows)
            if (r.id == id)
                return r;
        return ComplianceRow{};
    };
    EXPECT_EQ(get("R47").status, "met");
    EXPECT_EQ(get("R38-6").status, "met");
    EXPECT_EQ(get("R128-b").status, "met");
    // No remote log server configured: R90-1-7 is not met.
    EXPECT_EQ(get("R90-1-7").status, "not met");
    EXPECT_NE(get("R90-1-7").evidence.find("no 'system audit syslog'"), std::string::npos);
    // A privileged user without a second factor, a broken chain, full storage.
    f.privileged_with_totp = 1;
    f.audit_intact = false;
    f.audit_summary = "broken: audit-1.jsonl line 3 (seq 3): prev hash does not match";
    rows = compliance_report(*c, f);
    EXPECT_EQ(get("R47").status, "not met");
    EXPECT_EQ(get("R38-6").status, "not met");
    EXPECT_NE(get("R38-6").evidence.find("seq 3"), std::string::npos);
    EXPECT_EQ(get("R128-c").status, "not met");
}

} // namespace
} // namespace qorgan::config

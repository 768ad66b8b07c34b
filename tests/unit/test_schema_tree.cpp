// SPDX-License-Identifier: GPL-2.0-or-later
// The schema tree describes exactly what config/schema.cpp accepts, and completion offers
// keywords, closed choices, hints and the names that exist (issue 3).
#include "config/config.h"
#include "config/schema.h"
#include "config/schema_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace qorgan::config {
namespace {

// Every statement of the config tree must have a schema node of the right shape.
void expect_described(const Node &block, const SchemaNode &schema, const std::string &path,
                      std::set<std::string> &used) {
    for (const Node &n : block.children) {
        std::string where = path + " " + describe_statement(n);
        const SchemaNode *s = nullptr;
        for (const SchemaNode &c : schema.children)
            if (c.kind == SchemaKind::named || c.keyword == n.keyword())
                s = &c;
        ASSERT_NE(s, nullptr) << where << " is not described";
        used.insert(path + "/" + (s->kind == SchemaKind::named ? s->value_hint : s->keyword));
        switch (s->kind) {
        case SchemaKind::container:
        case SchemaKind::named:
            EXPECT_TRUE(n.has_block && n.words.size() == 1 && !n.list) << where;
            break;
        case SchemaKind::keyed:
            EXPECT_TRUE(n.has_block && n.words.size() == 2 && !n.list) << where;
            break;
        case SchemaKind::leaf:
            ASSERT_TRUE(!n.has_block && n.words.size() == 2 && !n.list) << where;
            if (s->value_hint.empty()) {
                EXPECT_NE(std::find(s->choices.begin(), s->choices.end(), n.words[1].text),
                          s->choices.end())
                    << where;
            }
            break;
        case SchemaKind::leaf_list:
            EXPECT_TRUE(!n.has_block && (n.words.size() == 2) != n.list.has_value()) << where;
            break;
        case SchemaKind::flag:
            EXPECT_TRUE(!n.has_block && n.words.size() == 1 && !n.list) << where;
            break;
        }
        EXPECT_FALSE(s->help.empty()) << where;
        if (n.has_block)
            expect_described(n, *s, path + "/" + std::string(n.keyword()), used);
    }
}

// Every statement schema.cpp accepts, once each.
constexpr std::string_view every_statement = R"(
interfaces { a0 { device "0000:00:04.0"; address 10.0.0.1/24; zone z; mtu 1500; urpf strict;
                  disable; } }
zones { z { loop outer; } }
policy { a0 {
    ingress { rule 1 { description "d"; protocol tcp; source 10.0.0.0/24; destination 1.2.3.0/24;
                       source-port 1; destination-port 2; log; action accept; }
              rule 2 { protocol icmp; icmp-type echo-request; icmp-code 0; action drop; } }
    egress { rule 1 { description "d"; protocol tcp; source 10.0.0.0/24; destination 1.2.3.0/24;
                      source-port 1; destination-port 2; log; action accept; }
             rule 2 { protocol icmp; icmp-type echo-request; icmp-code 0; action drop; } }
} }
routes { route 0.0.0.0/0 { via 10.0.0.254; interface a0; } }
dataplane { workers 1; max-flows 2048; idle-sleep 0; timeouts { tcp-syn 1; tcp-established 1;
    tcp-closing 1; tcp-closed 1; udp 1; udp-stream 1; icmp 1; other 1; } }
nat { static s { interface a0; inside 10.0.0.10; outside 1.2.3.10; hairpin; }
      source l { interface a0; from 10.0.0.0/24; pool 1.2.3.4; ports 1024-2047;
                 mapping endpoint-independent; max-per-source 10; }
      destination d { interface a0; protocol tcp; address 1.2.3.5; port 80; to 10.0.0.2;
                      to-port 8080; hairpin; }
      mss-clamp 1400; }
security {
    categories { inspect-packets 8; inspected-flows 16384; reset on;
        exception e { source 10.0.0.0/24; organization "o"; category p2p; application SSH;
                      reference "r"; }
        vpn-channel v { protocol udp; source 10.0.0.2; destination 1.2.3.4;
                        destination-port 1194; source-port 1194; }
        malicious { domain bad.example; address 192.0.2.0/24; file "/etc/qorgan/bad"; } }
    screen z { block-time 60; syn-flood { threshold 128; action cookie; }
    source-rate { new-per-second 1000; burst 2000; concurrent 10000; action drop; }
    icmp-flood { per-second 200; burst 400; action drop; }
    udp-flood { per-second 20000; burst 40000; action drop; }
    scan { hosts 32; ports 64; window 10; action alarm; }
    tcp-flags { action drop; } spoofing { action drop; bogons 100.64.0.0/10; }
    ip-options { action drop; } fragments { action drop; } } }
system { host-name gw1;
    login { idle-timeout 1; session-lifetime 60; lockout-failures 1; lockout-time 1;
            alert-failures 1; alert-refusals 1;
            password { min-length 8; min-classes 1; history 0; max-age 0; }
            level 7 { class [ view clear ]; } }
    audit { retention 1095; warn-percent 50;
            syslog { server 192.0.2.10; port 6514; ca-file "/x"; certificate "/c"; key "/k";
                     server-name n; } } }
ipsec { max-sas 1024;
    peer p { address 1.2.3.100; local-address 10.0.0.1; local-id "CN=gw1"; remote-id "CN=p";
             certificate "/c"; private-key "/k"; ca "/ca"; ike-proposal aes256-sha256-modp3072;
             esp-proposal [ aes256gcm16 aes256-sha256 ]; local-subnet 10.0.0.0/24;
             remote-subnet 192.0.2.0/24; ike-lifetime 3600; lifetime 600; lifetime-bytes 0;
             lifetime-packets 0; dpd 30; start-action trap; encapsulation; }
    peer q { address 1.2.3.101; pre-shared-key "0123456789abcdefghij"; local-subnet 10.0.0.0/24;
             remote-subnet 192.0.2.0/24; } }
)";

TEST(SchemaTree, DescribesEveryStatementOfTheDefaultConfig) {
    auto t = parse_tree(default_config_text(), "default");
    ASSERT_TRUE(t.ok());
    std::set<std::string> used;
    expect_described(*t, schema_root(), "", used);
    EXPECT_GT(used.size(), 20u);
}

TEST(SchemaTree, DescribesExactlyWhatTheSchemaAccepts) {
    auto t = parse_tree(every_statement, "all");
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(build_config(*t).ok()) << build_config(*t).error().to_string();
    std::set<std::string> used;
    expect_described(*t, schema_root(), "", used);
    // ...and nothing more: every schema node is used by the text above.
    std::set<std::string> described;
    std::vector<std::pair<const SchemaNode *, std::string>> todo{{&schema_root(), ""}};
    while (!todo.empty()) {
        auto [s, path] = todo.back();
        todo.pop_back();
        for (const SchemaNode &c : s->children) {
            std::string name = c.kind == SchemaKind::named ? c.value_hint : c.keyword;
            described.insert(path + "/" + name);
            // The text's block names stand in for the `named` hint in paths.
            std::string step = c.kind == SchemaKind::named ? (path == "/interfaces" ? "a0"
                                                              : path == "/zones"    ? "z"
                                                                                    : "a0")
                                                           : c.keyword;
            todo.push_back({&c, path + "/" + step});
        }
    }
    EXPECT_EQ(used, described);
}

TEST(SchemaTree, ClosedChoicesMatchTheSchema) {
    // Each choice is accepted by schema.cpp; a word outside them is refused.
    auto rule_with = [](const std::string &stmt) {
        return "interfaces { a { device \"0000:00:04.0\"; zone z; } } zones { z { loop inner; } }"
               " policy { a { ingress { rule 1 { " +
               stmt + " } } } }";
    };
    const SchemaNode *rule =
        &schema_root().children.at(2).children.at(0).children.at(0).children.at(0);
    ASSERT_EQ(rule->keyword, "rule");
    for (const SchemaNode &leaf : rule->children) {
        for (const std::string &c : leaf.choices) {
            std::string stmt = leaf.keyword + " " + c + ";";
            if (leaf.keyword == "icmp-type") {
                bool v4 =
                    load_text(rule_with("protocol icmp; " + stmt + " action drop;"), "t").ok();
                bool v6 =
                    load_text(rule_with("protocol icmpv6; " + stmt + " action drop;"), "t").ok();
                EXPECT_TRUE(v4 || v6) << c;
            } else if (leaf.keyword == "action") {
                EXPECT_TRUE(load_text(rule_with(stmt), "t").ok()) << c;
            } else {
                EXPECT_TRUE(load_text(rule_with(stmt + " action drop;"), "t").ok()) << c;
            }
        }
    }
    EXPECT_FALSE(load_text(rule_with("action permit;"), "t").ok());
}

TEST(SchemaTree, NatChoicesMatchTheSchema) {
    const SchemaNode *nat = nullptr;
    for (const SchemaNode &c : schema_root().children)
        if (c.keyword == "nat")
            nat = &c;
    ASSERT_NE(nat, nullptr);
    // `stmt` in a rule of `kind` that is otherwise complete.
    auto with = [](const std::string &kind, const std::string &stmt) {
        std::string rule = kind == "source" ? "source s { interface a; "
                                            : "destination d { interface a; port 1; to 10.0.0.1; ";
        if (kind == "nat")
            rule = "";
        return "interfaces { a { device \"0000:00:04.0\"; address 1.2.3.1/24; zone z; } } "
               "zones { z { loop internet; } } nat { " +
               rule + stmt + (rule.empty() ? " }" : " } }");
    };
    for (const SchemaNode &kind : nat->children) {
        for (const std::string &c : kind.choices) { // mss-clamp 0: off
            EXPECT_TRUE(load_text(with("nat", kind.keyword + " " + c + ";"), "t").ok()) << c;
        }
        for (const SchemaNode &leaf : kind.children) {
            for (const std::string &c : leaf.choices) {
                EXPECT_TRUE(load_text(with(kind.keyword, leaf.keyword + " " + c + ";"), "t").ok())
                    << kind.keyword << " " << leaf.keyword << " " << c;
            }
        }
    }
    EXPECT_FALSE(load_text(with("destination", "protocol sctp;"), "t").ok());
    EXPECT_FALSE(load_text(with("source", "mapping cone;"), "t").ok());
}

TEST(SchemaTree, ScreenChoicesMatchTheSchema) {
    const SchemaNode *security = nullptr;
    for (const SchemaNode &c : schema_root().children)
        if (c.keyword == "security")
            security = &c;
    ASSERT_NE(security, nullptr);
    const SchemaNode *found = nullptr;
    for (const SchemaNode &c : security->children)
        if (c.keyword == "screen")
            found = &c;
    ASSERT_NE(found, nullptr);
    const SchemaNode &screen = *found;
    auto with = [](const std::string &stmt) {
        return "zones { z { loop internet; } } security { screen z { " + stmt + " } }";
    };
    // Each action the tree offers is accepted by schema.cpp; every other one is refused, so
    // `?` shows exactly the actions a defence allows.
    unsigned offered = 0;
    for (const SchemaNode &defence : screen.children)
        for (const SchemaNode &leaf : defence.children) {
            if (leaf.keyword != "action")
                continue;
            for (const char *a : {"off", "alarm", "drop", "block", "cookie"}) {
                bool listed =
                    std::find(leaf.choices.begin(), leaf.choices.end(), a) != leaf.choices.end();
                std::string stmt = defence.keyword + " { action " + a + "; }";
                EXPECT_EQ(load_text(with(stmt), "t").ok(), listed) << stmt;
                offered += listed ? 1 : 0;
            }
        }
    EXPECT_EQ(offered, 4u + 4 + 4 + 4 + 3 + 3 + 3 + 3 + 2);
    std::vector<std::string> urpf;
    for (const SchemaNode &c : schema_root().children.at(0).children.at(0).children)
        if (c.keyword == "urpf")
            urpf = c.choices;
    ASSERT_EQ(urpf, (std::vector<std::string>{"loose", "off", "strict"}));
    for (const std::string &m : urpf)
        EXPECT_TRUE(load_text("interfaces { a { device \"0000:00:04.0\"; zone z; urpf " + m +
                                  "; } } zones { z { loop inner; } }",
                              "t")
                        .ok())
            << m;
}

const SchemaNode *child(const SchemaNode &s, const std::string &keyword) {
    for (const SchemaNode &c : s.children)
        if (c.keyword == keyword)
            return &c;
    return nullptr;
}

TEST(SchemaTree, CategoriesChoicesMatchTheSchema) {
    const SchemaNode *security = child(schema_root(), "security");
    ASSERT_NE(security, nullptr);
    const SchemaNode *categories = child(*security, "categories");
    ASSERT_NE(categories, nullptr);
    auto with = [](const std::string &stmt) { return "security { categories { " + stmt + " } }"; };
    const SchemaNode *reset = child(*categories, "reset");
    ASSERT_NE(reset, nullptr);
    EXPECT_EQ(reset->choices, (std::vector<std::string>{"off", "on"}));
    for (const std::string &c : reset->choices)
        EXPECT_TRUE(load_text(with("reset " + c + ";"), "t").ok()) << c;
    EXPECT_FALSE(load_text(with("reset yes;"), "t").ok());

    // Every category the tree offers is one the schema takes, and all six are offered.
    const SchemaNode *exception = child(*categories, "exception");
    ASSERT_NE(exception, nullptr);
    const SchemaNode *category = child(*exception, "category");
    ASSERT_NE(category, nullptr);
    EXPECT_EQ(category->choices, (std::vector<std::string>{"games", "malicious", "p2p",
                                                           "remote-access", "unknown", "vpn"}));
    for (const std::string &c : category->choices)
        EXPECT_TRUE(
            load_text(with("exception e { category " + c + "; reference \"r\"; }"), "t").ok())
            << c;
    EXPECT_FALSE(load_text(with("exception e { category ftp; reference \"r\"; }"), "t").ok());

    const SchemaNode *channel = child(*categories, "vpn-channel");
    ASSERT_NE(channel, nullptr);
    const SchemaNode *protocol = child(*channel, "protocol");
    ASSERT_NE(protocol, nullptr);
    EXPECT_EQ(protocol->choices, (std::vector<std::string>{"tcp", "udp"}));
    for (const std::string &c : protocol->choices)
        EXPECT_TRUE(load_text(with("vpn-channel v { protocol " + c +
                                   "; source 10.0.0.1; destination 10.0.0.2; "
                                   "destination-port 1; }"),
                              "t")
                        .ok())
            << c;
}

std::vector<std::string> words_of(const std::vector<Candidate> &cs) {
    std::vector<std::string> out;
    for (const Candidate &c : cs)
        out.push_back(c.word);
    return out;
}

TEST(SchemaTree, CompletesTopLevelKeywords) {
    auto c = complete_path(nullptr, {}, "");
    EXPECT_EQ(words_of(c),
              (std::vector<std::string>{"dataplane", "interfaces", "ipsec", "nat", "policy",
                                        "routes", "security", "system", "zones"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {}, "in")), (std::vector<std::string>{"interfaces"}));
    for (const Candidate &x : c)
        EXPECT_FALSE(x.help.empty()) << x.word;
}

TEST(SchemaTree, CompletesExistingNamesAndHints) {
    auto t = parse_tree(default_config_text(), "default");
    ASSERT_TRUE(t.ok());
    auto c = complete_path(&*t, {"interfaces"}, "in");
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c[0].word, "");
    EXPECT_EQ(c[0].help, "<name>: an interface");
    EXPECT_EQ(c[1].word, "inet0");
    EXPECT_EQ(c[2].word, "inner0");

    auto rules = complete_path(&*t, {"policy", "inner0", "ingress", "rule"}, "1");
    EXPECT_EQ(words_of(rules), (std::vector<std::string>{"", "10", "11"}));
    EXPECT_EQ(rules[0].help, "<1..4294967295>: a rule; first match wins in list order");
}

TEST(SchemaTree, CompletesChoicesAndStatements) {
    EXPECT_EQ(
        words_of(complete_path(nullptr, {"policy", "x", "ingress", "rule", "1", "action"}, "")),
        (std::vector<std::string>{"accept", "drop", "reject"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"zones", "z", "loop"}, "in")),
              (std::vector<std::string>{"inner", "internet"}));
    EXPECT_EQ(
        words_of(complete_path(nullptr, {"policy", "x", "egress", "rule", "1", "protocol"}, "ic")),
        (std::vector<std::string>{"", "icmp", "icmpv6"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"policy", "x", "ingress", "rule", "1"}, "de")),
              (std::vector<std::string>{"description", "destination", "destination-port"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"dataplane", "timeouts"}, "tcp-c")),
              (std::vector<std::string>{"tcp-closed", "tcp-closing"}));
    EXPECT_EQ(
        words_of(complete_path(nullptr, {"security", "screen", "z", "syn-flood", "action"}, "")),
        (std::vector<std::string>{"alarm", "cookie", "drop", "off"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"security", "screen", "z"}, "s")),
              (std::vector<std::string>{"scan", "source-rate", "spoofing", "syn-flood"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"interfaces", "a", "urpf"}, "")),
              (std::vector<std::string>{"loose", "off", "strict"}));
    auto mtu = complete_path(nullptr, {"interfaces", "a", "mtu"}, "");
    ASSERT_EQ(mtu.size(), 1u);
    EXPECT_EQ(mtu[0].help, "<576..9000>: maximum transmission unit");
}

TEST(SchemaTree, CompletesExistingScreens) {
    auto t = parse_tree("zones { dmz { loop shielded; } internet { loop internet; } }\n"
                        "security { screen dmz { } screen internet { } }\n",
                        "t");
    ASSERT_TRUE(t.ok());
    auto c = complete_path(&*t, {"security", "screen"}, "");
    EXPECT_EQ(words_of(c), (std::vector<std::string>{"", "dmz", "internet"}));
    EXPECT_EQ(c[0].help, "<zone>: attack protection for packets arriving in a zone (R128-e)");
}

TEST(SchemaTree, CompletesTheCategoriesBlock) {
    EXPECT_EQ(words_of(complete_path(nullptr, {"security"}, "")),
              (std::vector<std::string>{"categories", "screen"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"security", "categories"}, "")),
              (std::vector<std::string>{"exception", "inspect-packets", "inspected-flows",
                                        "malicious", "reset", "vpn-channel"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"security", "categories", "reset"}, "")),
              (std::vector<std::string>{"off", "on"}));
    EXPECT_EQ(
        words_of(
            complete_path(nullptr, {"security", "categories", "exception", "e1", "category"}, "")),
        (std::vector<std::string>{"games", "malicious", "p2p", "remote-access", "unknown", "vpn"}));
    EXPECT_EQ(words_of(complete_path(
                  nullptr, {"security", "categories", "exception", "e1", "category"}, "r")),
              (std::vector<std::string>{"remote-access"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"security", "categories", "exception", "e1"}, "")),
              (std::vector<std::string>{"application", "category", "organization", "reference",
                                        "source"}));
    EXPECT_EQ(words_of(complete_path(
                  nullptr, {"security", "categories", "vpn-channel", "hq", "protocol"}, "")),
              (std::vector<std::string>{"tcp", "udp"}));
    EXPECT_EQ(
        words_of(complete_path(nullptr, {"security", "categories", "vpn-channel", "hq"}, "de")),
        (std::vector<std::string>{"destination", "destination-port"}));
    EXPECT_EQ(words_of(complete_path(nullptr, {"security", "categories", "malicious"}, "")),
              (std::vector<std::string>{"address", "domain", "file"}));
    auto app =
        complete_path(nullptr, {"security", "categories", "exception", "e1", "application"}, "");
    ASSERT_EQ(app.size(), 1u);
    EXPECT_EQ(app[0].help, "<application>: nDPI application let through (BitTorrent, SSH)");
    // The exceptions and channels that exist are offered by name.
    auto t = parse_tree("security { categories {\n"
                        "    exception torrents { category p2p; reference \"A-1\"; }\n"
                        "    exception games { category games; reference \"A-2\"; }\n"
                        "    vpn-channel hq { protocol udp; }\n"
                        "} }\n",
                        "t");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(words_of(complete_path(&*t, {"security", "categories", "exception"}, "")),
              (std::vector<std::string>{"", "games", "torrents"}));
    EXPECT_EQ(words_of(complete_path(&*t, {"security", "categories", "vpn-channel"}, "")),
              (std::vector<std::string>{"", "hq"}));
}

TEST(SchemaTree, NothingAfterACompleteStatementOrAnUnknownWord) {
    EXPECT_TRUE(complete_path(nullptr, {"interfaces", "a", "mtu", "1500"}, "").empty());
    EXPECT_TRUE(complete_path(nullptr, {"interfaces", "a", "disable"}, "").empty());
    EXPECT_TRUE(complete_path(nullptr, {"bogus"}, "").empty());
    EXPECT_TRUE(complete_path(nullptr, {"zones", "z", "loop", "inner", "x"}, "").empty());
}

} // namespace
} // namespace qorgan::config

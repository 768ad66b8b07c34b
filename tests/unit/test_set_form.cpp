// SPDX-License-Identifier: GPL-2.0-or-later
// The set form: printing every leaf as a `set` line, the round trip through apply_set, and
// set/delete/edit errors that name the wrong word and what was expected (issue 3).
#include "config/config.h"
#include "config/schema.h"
#include "config/set_form.h"

#include <gtest/gtest.h>

namespace qorgan::config {
namespace {

Node parse(std::string_view text) {
    auto t = parse_tree(text, "t");
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().to_string());
    return t.ok() ? *t : Node{};
}

// A set line cut into words the way the shell does (quotes honoured).
std::vector<std::string> words_of(const std::string &line) {
    Node n = parse(line + ";");
    std::vector<std::string> out;
    for (const Word &w : n.children.at(0).words)
        out.push_back(w.text);
    out.erase(out.begin()); // "set"
    return out;
}

bool same_rule(const Rule &a, const Rule &b) {
    return a.id == b.id && a.action == b.action && a.log == b.log && a.protocol == b.protocol &&
           a.sources == b.sources && a.destinations == b.destinations &&
           a.source_ports == b.source_ports && a.destination_ports == b.destination_ports &&
           a.icmp_type == b.icmp_type && a.icmp_code == b.icmp_code && a.family == b.family &&
           a.description == b.description;
}

bool same_rules(const std::vector<Rule> &a, const std::vector<Rule> &b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!same_rule(a[i], b[i]))
            return false;
    return true;
}

void expect_same_config(const Config &a, const Config &b) {
    ASSERT_EQ(a.interfaces.size(), b.interfaces.size());
    for (std::size_t i = 0; i < a.interfaces.size(); ++i) {
        const Interface &x = a.interfaces[i], &y = b.interfaces[i];
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.device, y.device);
        EXPECT_EQ(x.addresses, y.addresses);
        EXPECT_EQ(x.zone, y.zone);
        EXPECT_EQ(x.disabled, y.disabled);
        EXPECT_EQ(x.mtu, y.mtu);
        EXPECT_EQ(x.urpf, y.urpf);
    }
    ASSERT_EQ(a.zones.size(), b.zones.size());
    for (std::size_t i = 0; i < a.zones.size(); ++i) {
        EXPECT_EQ(a.zones[i].name, b.zones[i].name);
        EXPECT_EQ(a.zones[i].loop, b.zones[i].loop);
    }
    ASSERT_EQ(a.policies.size(), b.policies.size());
    for (std::size_t i = 0; i < a.policies.size(); ++i) {
        EXPECT_EQ(a.policies[i].interface, b.policies[i].interface);
        EXPECT_TRUE(same_rules(a.policies[i].ingress, b.policies[i].ingress)) << i;
        EXPECT_TRUE(same_rules(a.policies[i].egress, b.policies[i].egress)) << i;
    }
    ASSERT_EQ(a.routes.size(), b.routes.size());
    for (std::size_t i = 0; i < a.routes.size(); ++i) {
        EXPECT_EQ(a.routes[i].prefix, b.routes[i].prefix);
        EXPECT_EQ(a.routes[i].via, b.routes[i].via);
        EXPECT_EQ(a.routes[i].interface, b.routes[i].interface);
    }
    ASSERT_EQ(a.nat.statics.size(), b.nat.statics.size());
    for (std::size_t i = 0; i < a.nat.statics.size(); ++i) {
        const NatStatic &x = a.nat.statics[i], &y = b.nat.statics[i];
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.interface, y.interface);
        EXPECT_EQ(x.inside, y.inside);
        EXPECT_EQ(x.outside, y.outside);
    }
    ASSERT_EQ(a.nat.sources.size(), b.nat.sources.size());
    for (std::size_t i = 0; i < a.nat.sources.size(); ++i) {
        const NatSource &x = a.nat.sources[i], &y = b.nat.sources[i];
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.interface, y.interface);
        EXPECT_EQ(x.from, y.from);
        EXPECT_EQ(x.pool, y.pool);
        EXPECT_EQ(x.ports, y.ports);
        EXPECT_EQ(x.endpoint_independent, y.endpoint_independent);
        EXPECT_EQ(x.max_per_source, y.max_per_source);
    }
    ASSERT_EQ(a.nat.destinations.size(), b.nat.destinations.size());
    for (std::size_t i = 0; i < a.nat.destinations.size(); ++i) {
        const NatDestination &x = a.nat.destinations[i], &y = b.nat.destinations[i];
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.interface, y.interface);
        EXPECT_EQ(x.protocol, y.protocol);
        EXPECT_EQ(x.address, y.address);
        EXPECT_EQ(x.port, y.port);
        EXPECT_EQ(x.to, y.to);
        EXPECT_EQ(x.to_port, y.to_port);
    }
    EXPECT_EQ(a.nat.mss_clamp, b.nat.mss_clamp);
    ASSERT_EQ(a.security.screens.size(), b.security.screens.size());
    for (std::size_t i = 0; i < a.security.screens.size(); ++i) {
        const Screen &x = a.security.screens[i], &y = b.security.screens[i];
        EXPECT_EQ(x.zone, y.zone);
        EXPECT_EQ(x.block_time, y.block_time);
        EXPECT_EQ(x.syn_threshold, y.syn_threshold);
        EXPECT_EQ(x.syn_action, y.syn_action);
        EXPECT_EQ(x.source_rate, y.source_rate);
        EXPECT_EQ(x.concurrent, y.concurrent);
        EXPECT_EQ(x.icmp_flood, y.icmp_flood);
        EXPECT_EQ(x.udp_flood, y.udp_flood);
        EXPECT_EQ(x.scan_hosts, y.scan_hosts);
        EXPECT_EQ(x.scan_ports, y.scan_ports);
        EXPECT_EQ(x.scan_window, y.scan_window);
        EXPECT_EQ(x.scan_action, y.scan_action);
        EXPECT_EQ(x.tcp_flags, y.tcp_flags);
        EXPECT_EQ(x.spoofing, y.spoofing);
        EXPECT_EQ(x.bogons, y.bogons);
        EXPECT_EQ(x.ip_options, y.ip_options);
        EXPECT_EQ(x.fragments, y.fragments);
    }
    const Categories &ca = a.security.categories, &cb = b.security.categories;
    EXPECT_EQ(ca.inspect_packets, cb.inspect_packets);
    EXPECT_EQ(ca.inspected_flows, cb.inspected_flows);
    EXPECT_EQ(ca.reset, cb.reset);
    ASSERT_EQ(ca.exceptions.size(), cb.exceptions.size());
    for (std::size_t i = 0; i < ca.exceptions.size(); ++i) {
        const CategoryException &x = ca.exceptions[i], &y = cb.exceptions[i];
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.sources, y.sources);
        EXPECT_EQ(x.organization, y.organization);
        EXPECT_EQ(x.categories, y.categories);
        EXPECT_EQ(x.applications, y.applications);
        EXPECT_EQ(x.reference, y.reference);
    }
    ASSERT_EQ(ca.vpn_channels.size(), cb.vpn_channels.size());
    for (std::size_t i = 0; i < ca.vpn_channels.size(); ++i) {
        const VpnChannel &x = ca.vpn_channels[i], &y = cb.vpn_channels[i];
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.protocol, y.protocol);
        EXPECT_EQ(x.source, y.source);
        EXPECT_EQ(x.destination, y.destination);
        EXPECT_EQ(x.source_port, y.source_port);
        EXPECT_EQ(x.destination_port, y.destination_port);
    }
    EXPECT_EQ(ca.malicious_domains, cb.malicious_domains);
    EXPECT_EQ(ca.malicious_addresses, cb.malicious_addresses);
    EXPECT_EQ(ca.malicious_files, cb.malicious_files);
    EXPECT_EQ(a.dataplane.workers, b.dataplane.workers);
    EXPECT_EQ(a.dataplane.max_flows, b.dataplane.max_flows);
    const Timeouts &s = a.dataplane.timeouts, &t = b.dataplane.timeouts;
    EXPECT_EQ(s.tcp_syn, t.tcp_syn);
    EXPECT_EQ(s.tcp_established, t.tcp_established);
    EXPECT_EQ(s.tcp_closing, t.tcp_closing);
    EXPECT_EQ(s.tcp_closed, t.tcp_closed);
    EXPECT_EQ(s.udp, t.udp);
    EXPECT_EQ(s.udp_stream, t.udp_stream);
    EXPECT_EQ(s.icmp, t.icmp);
    EXPECT_EQ(s.other, t.other);
}

void expect_round_trip(std::string_view text) {
    Node original = parse(text);
    auto want = build_config(original);
    ASSERT_TRUE(want.ok()) << want.error().to_string();
    Node rebuilt;
    auto lines = to_set_lines(original);
    ASSERT_FALSE(lines.empty());
    for (const std::string &line : lines) {
        ASSERT_EQ(line.rfind("set ", 0), 0u) << line;
        auto s = apply_set(rebuilt, words_of(line));
        ASSERT_TRUE(s.ok()) << line << ": " << s.error().to_string();
    }
    auto got = load_text(print_tree(rebuilt), "rebuilt");
    ASSERT_TRUE(got.ok()) << got.error().to_string() << "\n" << print_tree(rebuilt);
    expect_same_config(*want, *got);
    EXPECT_EQ(to_set_lines(rebuilt), lines); // merging into lists keeps the set form
}

TEST(SetForm, DefaultConfigRoundTrips) {
    expect_round_trip(default_config_text());
}

TEST(SetForm, EveryStatementRoundTrips) {
    expect_round_trip(R"(
interfaces { a0 { device "0000:00:04.0"; address [ 10.0.0.1/24 10.0.1.1/24 ]; zone z;
                  mtu 9000; disable; } }
zones { z { loop outer; } }
policy { a0 {
    ingress { rule 7 { description "two words"; protocol tcp; source [ 10.0.0.0/24 ];
                       source-port 1000-2000; destination-port [ 22 80 ]; log; action reject; }
              rule 3 { protocol icmp; icmp-type echo-request; icmp-code 0; action accept; } }
    egress { }
} }
routes { route 0.0.0.0/0 { via 10.0.0.254; interface a0; } }
dataplane { workers 2; max-flows 2048; timeouts { tcp-syn 5; other 9; } }
)");
}

TEST(SetForm, LinesHaveFullPaths) {
    Node t = parse("policy { inner0 { ingress { rule 10 { destination-port [ 80 443 ]; "
                   "description \"a b\"; log; } } egress { } } }");
    std::vector<std::string> want = {
        "set policy inner0 ingress rule 10 destination-port 80",
        "set policy inner0 ingress rule 10 destination-port 443",
        "set policy inner0 ingress rule 10 description \"a b\"",
        "set policy inner0 ingress rule 10 log",
        "set policy inner0 egress",
    };
    EXPECT_EQ(to_set_lines(t), want);
}

TEST(SetForm, SetReplacesSingleAndAppendsRepeatable) {
    Node t;
    ASSERT_TRUE(apply_set(t, {"interfaces", "x", "mtu", "1500"}).ok());
    ASSERT_TRUE(apply_set(t, {"interfaces", "x", "mtu", "9000"}).ok());
    ASSERT_TRUE(apply_set(t, {"interfaces", "x", "address", "10.0.0.1/24"}).ok());
    ASSERT_TRUE(apply_set(t, {"interfaces", "x", "address", "10.0.1.1/24"}).ok());
    ASSERT_TRUE(apply_set(t, {"interfaces", "x", "address", "10.0.1.1/24"}).ok()); // no dup
    ASSERT_TRUE(apply_set(t, {"interfaces", "x", "disable"}).ok());
    ASSERT_TRUE(apply_set(t, {"interfaces", "x", "disable"}).ok());
    EXPECT_EQ(print_tree(t), "interfaces {\n    x {\n        mtu 9000;\n        address [ "
                             "10.0.0.1/24 10.0.1.1/24 ];\n        disable;\n    }\n}\n");
}

TEST(SetForm, SetReplacesEveryCopyOfASingleLeaf) {
    Node t = parse("dataplane { workers 1; workers 2; }");
    ASSERT_TRUE(apply_set(t, {"dataplane", "workers", "4"}).ok());
    EXPECT_EQ(print_tree(t), "dataplane {\n    workers 4;\n}\n");
}

void expect_set_error(const std::vector<std::string> &words, const std::string &message) {
    Node t = parse(default_config_text());
    Node before = t;
    auto s = apply_set(t, words);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, message);
    EXPECT_TRUE(same_tree(t, before)) << "nothing changes on error";
}

TEST(SetForm, UnknownKeywordListsWhatWasExpected) {
    expect_set_error({"policy", "inner0", "ingress", "rule", "10", "actoin", "accept"},
                     "set policy inner0 ingress rule 10 actoin: unknown 'actoin'; expected one "
                     "of: action, description, destination, destination-port, icmp-code, "
                     "icmp-type, log, protocol, source, source-port");
    expect_set_error({"interfaces", "inner0", "speed", "10"},
                     "set interfaces inner0 speed: unknown 'speed'; expected one of: address, "
                     "device, disable, mtu, urpf, zone");
    expect_set_error({"firewall"},
                     "set firewall: unknown 'firewall'; expected one of: "
                     "dataplane, interfaces, ipsec, nat, policy, routes, security, system, zones");
}

TEST(SetForm, BadValuesNameTheWord) {
    expect_set_error({"policy", "inner0", "ingress", "rule", "10", "action", "permit"},
                     "set policy inner0 ingress rule 10 action permit: 'permit' is not valid; "
                     "expected one of: accept, drop, reject");
    expect_set_error({"zones", "inner", "loop", "dmz"},
                     "set zones inner loop dmz: 'dmz' is not valid; expected one of: inner, "
                     "internet, outer, shielded");
    expect_set_error({"interfaces", "inner0", "mtu", "99999"},
                     "set interfaces inner0 mtu 99999: 99999 is out of range; expected "
                     "<576..9000>");
    expect_set_error({"interfaces", "inner0", "mtu", "big"},
                     "set interfaces inner0 mtu big: 'big' is not a number; expected <576..9000>");
    expect_set_error({"policy", "inner0", "ingress", "rule", "x1"},
                     "set policy inner0 ingress rule x1: 'x1' is not a number; expected "
                     "<1..4294967295>");
    expect_set_error({"policy", "inner0", "ingress", "rule", "10", "protocol", "sctpx"},
                     "set policy inner0 ingress rule 10 protocol sctpx: 'sctpx' is not valid; "
                     "expected one of: icmp, icmpv6, tcp, udp, <0..255>");
    expect_set_error({"policy", "inner0", "ingress", "rule", "10", "destination", "10.0.0.1/8"},
                     "set policy inner0 ingress rule 10 destination 10.0.0.1/8: 10.0.0.1/8 has "
                     "host bits set (did you mean 10.0.0.0/8?); expected <prefix>");
    expect_set_error({"policy", "inner0", "ingress", "rule", "10", "source", "bogus"},
                     "set policy inner0 ingress rule 10 source bogus: 'bogus' is not an IPv4 or "
                     "IPv6 prefix; expected <prefix>");
    expect_set_error({"interfaces", "inner0", "address", "10.0.0.1"},
                     "set interfaces inner0 address 10.0.0.1: '10.0.0.1' has no prefix length; "
                     "expected <address>/<length>");
    expect_set_error({"routes", "route", "0.0.0.0/0", "via", "10.0.0.1/32"},
                     "set routes route 0.0.0.0/0 via 10.0.0.1/32: '10.0.0.1/32' has a prefix "
                     "length; expected <address>");
    expect_set_error({"policy", "inner0", "ingress", "rule", "10", "destination-port", "9-1"},
                     "set policy inner0 ingress rule 10 destination-port 9-1: '9-1' is not a "
                     "port or port range; expected <N|N-M>");
    expect_set_error({"interfaces", "9bad", "mtu", "1500"},
                     "set interfaces 9bad: '9bad' is not a valid name; expected <name>: a "
                     "letter, then letters, digits, '_' or '-' (at most 31)");
    expect_set_error({"interfaces", "inner0", "zone", "no way"},
                     "set interfaces inner0 zone \"no way\": 'no way' is not a valid name; "
                     "expected <zone>");
    expect_set_error({"interfaces", "inner0", "device", ""},
                     "set interfaces inner0 device \"\": an empty value; expected "
                     "<pci-or-vdev>");
}

TEST(SetForm, MissingAndExtraWords) {
    expect_set_error({},
                     "set: incomplete; expected one of: dataplane, interfaces, ipsec, nat, policy, "
                     "routes, security, system, zones");
    expect_set_error({"interfaces", "inner0", "mtu"},
                     "set interfaces inner0 mtu: missing value; expected <576..9000>");
    expect_set_error({"routes", "route"}, "set routes route: missing <prefix>; expected <prefix>");
    expect_set_error({"interfaces", "inner0", "mtu", "1500", "1600"},
                     "set interfaces inner0 mtu 1500 1600: unexpected '1600'; expected end of "
                     "line after '1500'");
    expect_set_error({"interfaces", "inner0", "disable", "now"},
                     "set interfaces inner0 disable now: unexpected 'now'; expected end of line "
                     "after 'disable'");
}

TEST(SetForm, SetCreatesBlocks) {
    Node t = parse(default_config_text());
    ASSERT_TRUE(apply_set(t, {"policy", "inner0", "ingress", "rule", "99", "action", "drop"}).ok());
    const Node *r = find_path(t, {"policy", "inner0", "ingress", "rule", "99", "action"});
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->words.at(1).text, "drop");
    // It went last in the list: list order is the admin's.
    const Node *ingress = find_path(t, {"policy", "inner0", "ingress"});
    ASSERT_NE(ingress, nullptr);
    EXPECT_EQ(ingress->children.back().words.at(1).text, "99");
    EXPECT_TRUE(load_text(print_tree(t), "t").ok());
}

void expect_delete(const std::string &text, const std::vector<std::string> &words,
                   const std::string &after) {
    Node t = parse(text);
    auto s = apply_delete(t, words);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(print_tree(t), after);
}

TEST(SetForm, DeleteBlocksLeavesAndValues) {
    const std::string text = "interfaces { x { address [ 10.0.0.1/24 10.0.1.1/24 ]; mtu 1500; "
                             "disable; } y { mtu 1500; } }";
    expect_delete(text, {"interfaces", "y"},
                  "interfaces {\n    x {\n        address [ 10.0.0.1/24 10.0.1.1/24 ];\n        "
                  "mtu 1500;\n        disable;\n    }\n}\n");
    expect_delete(text, {"interfaces", "x", "address", "10.0.0.1/24"},
                  "interfaces {\n    x {\n        address 10.0.1.1/24;\n        mtu 1500;\n     "
                  "   disable;\n    }\n    y {\n        mtu 1500;\n    }\n}\n");
    expect_delete(text, {"interfaces", "x", "address"},
                  "interfaces {\n    x {\n        mtu 1500;\n        disable;\n    }\n    y {\n "
                  "       mtu 1500;\n    }\n}\n");
    expect_delete(text, {"interfaces", "x", "disable"},
                  "interfaces {\n    x {\n        address [ 10.0.0.1/24 10.0.1.1/24 ];\n        "
                  "mtu 1500;\n    }\n    y {\n        mtu 1500;\n    }\n}\n");
    expect_delete("interfaces { x { address 10.0.0.1/24; } }",
                  {"interfaces", "x", "address", "10.0.0.1/24"},
                  "interfaces {\n    x {\n    }\n}\n");
    expect_delete("interfaces { x { } }", {"interfaces"}, "");
}

void expect_delete_error(const std::vector<std::string> &words, const std::string &message) {
    Node t = parse(default_config_text());
    Node before = t;
    auto s = apply_delete(t, words);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, message);
    EXPECT_TRUE(same_tree(t, before));
}

TEST(SetForm, DeleteWhatIsNotThereNamesIt) {
    expect_delete_error({"interfaces", "eth9"}, "delete interfaces eth9: 'eth9' is not "
                                                "configured; expected one of: inner0, outer0, "
                                                "dmz0, inet0");
    expect_delete_error({"policy", "inner0", "ingress", "rule", "99"},
                        "delete policy inner0 ingress rule 99: 'rule 99' is not configured; "
                        "expected one of: 5, 6, 10, 11, 20, 21");
    expect_delete_error({"interfaces", "inner0", "mtu"},
                        "delete interfaces inner0 mtu: 'mtu' is not configured; expected a "
                        "statement that exists here");
    expect_delete_error({"interfaces", "inner0", "address", "10.9.9.9/24"},
                        "delete interfaces inner0 address 10.9.9.9/24: '10.9.9.9/24' is not "
                        "configured; expected one of: 198.18.1.1/24, 2001:db8:1::1/64");
    expect_delete_error({"interfaces", "inner0", "zone", "inner", "x"},
                        "delete interfaces inner0 zone inner x: unexpected 'x'; expected end of "
                        "line after 'inner'");
    expect_delete_error({"interfaces", "inner0", "colour"},
                        "delete interfaces inner0 colour: unknown 'colour'; expected one of: "
                        "address, device, disable, mtu, urpf, zone");
    expect_delete_error({},
                        "delete: incomplete; expected one of: dataplane, interfaces, ipsec, nat, "
                        "policy, "
                        "routes, security, system, zones");
    Node empty;
    auto s = apply_delete(empty, {"routes"});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message,
              "delete routes: 'routes' is not configured; expected something that exists");
}

TEST(SetForm, EditPathIsNormalisedAndChecked) {
    Node t = parse(default_config_text());
    auto p = resolve_edit_path(t, {"policy", "inner0", "ingress", "rule", "10"});
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, (std::vector<std::string>{"policy", "inner0", "ingress", "rule", "10"}));
    auto fresh = resolve_edit_path(t, {"interfaces", "new0"});
    ASSERT_TRUE(fresh.ok()); // edit may enter a block `set` will create
    EXPECT_EQ(find_path(t, {"interfaces", "new0"}), nullptr) << "edit creates nothing";
    auto root = resolve_edit_path(t, {});
    ASSERT_TRUE(root.ok());
    EXPECT_TRUE(root->empty());

    auto leaf = resolve_edit_path(t, {"interfaces", "inner0", "mtu"});
    ASSERT_FALSE(leaf.ok());
    EXPECT_EQ(leaf.error().message, "edit interfaces inner0 mtu: 'mtu' is not a block; expected "
                                    "a block (this one holds only statements)");
    auto in_dp = resolve_edit_path(t, {"dataplane", "workers"});
    ASSERT_FALSE(in_dp.ok());
    EXPECT_EQ(in_dp.error().message,
              "edit dataplane workers: 'workers' is not a block; expected one of: timeouts");
    auto typo = resolve_edit_path(t, {"polcy"});
    ASSERT_FALSE(typo.ok());
    EXPECT_EQ(typo.error().message,
              "edit polcy: unknown 'polcy'; expected one of: dataplane, "
              "interfaces, ipsec, nat, policy, routes, security, system, zones");
}

TEST(SetForm, FindPath) {
    Node t = parse(default_config_text());
    EXPECT_EQ(find_path(t, {}), &t);
    const Node *rule = find_path(t, {"policy", "inner0", "ingress", "rule", "10"});
    ASSERT_NE(rule, nullptr);
    EXPECT_EQ(describe_statement(*rule), "rule 10");
    const Node *mtu = find_path(t, {"routes", "route", "198.51.100.0/24", "via"});
    ASSERT_NE(mtu, nullptr);
    EXPECT_EQ(mtu->words.at(1).text, "203.0.113.254");
    EXPECT_EQ(find_path(t, {"policy", "inner0", "ingress", "rule", "99"}), nullptr);
    EXPECT_EQ(find_path(t, {"nothing"}), nullptr);
}

TEST(SetForm, NatRoundTrips) {
    expect_round_trip(R"(
interfaces { inet0 { device "0000:00:04.0"; address 203.0.113.1/24; zone z; } }
zones { z { loop internet; } }
nat {
    static web { interface inet0; inside 198.18.3.10; outside 203.0.113.10; }
    source lan { interface inet0; from [ 198.18.1.0/24 198.18.2.0/24 ];
                 pool [ 203.0.113.20 203.0.113.21 ]; ports 20000-29999;
                 mapping endpoint-independent; max-per-source 100; }
    source rest { interface inet0; }
    destination ssh { interface inet0; protocol tcp; address 203.0.113.1; port 2222;
                      to 198.18.3.22; to-port 22; }
    destination dns { interface inet0; protocol udp; port 53; to 198.18.3.53; }
    mss-clamp 1400;
}
)");
    Node t = parse("nat { source lan { interface inet0; pool [ 203.0.113.20 203.0.113.21 ]; } }");
    std::vector<std::string> want = {
        "set nat source lan interface inet0",
        "set nat source lan pool 203.0.113.20",
        "set nat source lan pool 203.0.113.21",
    };
    EXPECT_EQ(to_set_lines(t), want);
}

TEST(SetForm, NatValuesAreCheckedAsTheyAreSet) {
    expect_set_error({"nat", "static", "web", "inside", "2001:db8::10"},
                     "set nat static web inside 2001:db8::10: '2001:db8::10' is IPv6: NAT44 "
                     "translates IPv4 only; expected <ipv4-address>");
    expect_set_error({"nat", "source", "lan", "from", "198.18.1.1/24"},
                     "set nat source lan from 198.18.1.1/24: 198.18.1.1/24 has host bits set "
                     "(did you mean 198.18.1.0/24?); expected <ipv4-prefix>");
    expect_set_error({"nat", "source", "lan", "pool", "pool1"},
                     "set nat source lan pool pool1: 'pool1' is not an IPv4 address; expected "
                     "<ipv4-address>");
    expect_set_error({"nat", "source", "lan", "ports", "1024-"},
                     "set nat source lan ports 1024-: '1024-' is not a port or port range; "
                     "expected <low>-<high>");
    expect_set_error({"nat", "source", "lan", "mapping", "cone"},
                     "set nat source lan mapping cone: 'cone' is not valid; expected one of: "
                     "endpoint-dependent, endpoint-independent");
    expect_set_error({"nat", "destination", "web", "protocol", "icmp"},
                     "set nat destination web protocol icmp: 'icmp' is not valid; expected one "
                     "of: tcp, udp");
    expect_set_error({"nat", "mss-clamp", "100"},
                     "set nat mss-clamp 100: 100 is out of range; expected one of: 0, "
                     "<536..9000>");
    expect_set_error({"nat", "static", "9web"},
                     "set nat static 9web: '9web' is not a valid name; expected <name>");
    Node t;
    ASSERT_TRUE(apply_set(t, {"nat", "mss-clamp", "0"}).ok());
    ASSERT_TRUE(apply_set(t, {"nat", "destination", "web", "to-port", "8080"}).ok());
    EXPECT_EQ(print_tree(t), "nat {\n    mss-clamp 0;\n    destination web {\n        to-port "
                             "8080;\n    }\n}\n");
}

TEST(SetForm, ScreenAndUrpfRoundTrip) {
    expect_round_trip(R"(
interfaces {
    inet0 { device "0000:00:04.0"; address 203.0.113.1/24; zone internet; urpf strict; }
    dmz0 { device "0000:00:05.0"; address 198.18.3.1/24; zone dmz; urpf loose; }
}
zones { internet { loop internet; } dmz { loop shielded; } }
security {
    screen internet {
        block-time 300;
        syn-flood { threshold 64; action drop; }
        source-rate { new-per-second 500; burst 1000; concurrent 0; action block; }
        icmp-flood { per-second 10; burst 20; action alarm; }
        udp-flood { per-second 1000; burst 1000; action off; }
        scan { hosts 16; ports 128; window 60; action block; }
        tcp-flags { action alarm; }
        spoofing { action drop; bogons [ 100.64.0.0/10 fc00::/7 ]; }
        ip-options { action off; }
        fragments { action off; }
    }
    screen dmz { }
}
)");
}

TEST(SetForm, SetScreenFieldsAndUrpf) {
    Node t;
    ASSERT_TRUE(apply_set(t, {"security", "screen", "dmz", "syn-flood", "threshold", "64"}).ok());
    ASSERT_TRUE(apply_set(t, {"security", "screen", "dmz", "syn-flood", "action", "drop"}).ok());
    ASSERT_TRUE(apply_set(t, {"security", "screen", "dmz", "syn-flood", "action", "cookie"}).ok());
    ASSERT_TRUE(
        apply_set(t, {"security", "screen", "dmz", "spoofing", "bogons", "10.0.0.0/8"}).ok());
    ASSERT_TRUE(
        apply_set(t, {"security", "screen", "dmz", "spoofing", "bogons", "2001:db8::/32"}).ok());
    ASSERT_TRUE(apply_set(t, {"interfaces", "dmz0", "urpf", "loose"}).ok());
    ASSERT_TRUE(apply_set(t, {"interfaces", "dmz0", "urpf", "strict"}).ok());
    EXPECT_EQ(print_tree(t), "security {\n"
                             "    screen dmz {\n"
                             "        syn-flood {\n"
                             "            threshold 64;\n"
                             "            action cookie;\n"
                             "        }\n"
                             "        spoofing {\n"
                             "            bogons [ 10.0.0.0/8 2001:db8::/32 ];\n"
                             "        }\n"
                             "    }\n"
                             "}\n"
                             "interfaces {\n"
                             "    dmz0 {\n"
                             "        urpf strict;\n"
                             "    }\n"
                             "}\n");
    EXPECT_EQ(to_set_lines(t), (std::vector<std::string>{
                                   "set security screen dmz syn-flood threshold 64",
                                   "set security screen dmz syn-flood action cookie",
                                   "set security screen dmz spoofing bogons 10.0.0.0/8",
                                   "set security screen dmz spoofing bogons 2001:db8::/32",
                                   "set interfaces dmz0 urpf strict",
                               }));
    ASSERT_TRUE(
        apply_delete(t, {"security", "screen", "dmz", "spoofing", "bogons", "10.0.0.0/8"}).ok());
    ASSERT_TRUE(apply_delete(t, {"security", "screen", "dmz", "syn-flood"}).ok());
    EXPECT_EQ(to_set_lines(t), (std::vector<std::string>{
                                   "set security screen dmz spoofing bogons 2001:db8::/32",
                                   "set interfaces dmz0 urpf strict",
                               }));
    auto edit = resolve_edit_path(t, {"security", "screen", "dmz", "scan"});
    ASSERT_TRUE(edit.ok());
    EXPECT_EQ(*edit, (std::vector<std::string>{"security", "screen", "dmz", "scan"}));
}

TEST(SetForm, ScreenValuesAreCheckedAsTheyAreSet) {
    expect_set_error({"security", "screen", "dmz", "source-rate", "action", "cookie"},
                     "set security screen dmz source-rate action cookie: 'cookie' is not valid; "
                     "expected one of: alarm, block, drop, off");
    expect_set_error({"security", "screen", "dmz", "fragments", "action", "alarm"},
                     "set security screen dmz fragments action alarm: 'alarm' is not valid; "
                     "expected one of: drop, off");
    expect_set_error({"security", "screen", "dmz", "syn-flood", "threshold", "1000001"},
                     "set security screen dmz syn-flood threshold 1000001: 1000001 is out of "
                     "range; expected <0..1000000>");
    expect_set_error({"security", "screen", "dmz", "scan", "hosts", "1"},
                     "set security screen dmz scan hosts 1: 1 is out of range; expected "
                     "<2..65536>");
    expect_set_error({"security", "screen", "dmz", "block-time", "soon"},
                     "set security screen dmz block-time soon: 'soon' is not a number; expected "
                     "<1..86400>");
    expect_set_error({"security", "screen", "9dmz"},
                     "set security screen 9dmz: '9dmz' is not a valid name; expected <zone>");
    expect_set_error({"security", "screen", "dmz", "spoofing", "bogons", "10.0.0.1/8"},
                     "set security screen dmz spoofing bogons 10.0.0.1/8: 10.0.0.1/8 has host "
                     "bits set (did you mean 10.0.0.0/8?); expected <prefix>");
    expect_set_error({"security", "screen", "dmz", "syn-cookies"},
                     "set security screen dmz syn-cookies: unknown 'syn-cookies'; expected one "
                     "of: block-time, fragments, icmp-flood, ip-options, scan, source-rate, "
                     "spoofing, syn-flood, tcp-flags, udp-flood");
    expect_set_error({"interfaces", "inner0", "urpf", "on"},
                     "set interfaces inner0 urpf on: 'on' is not valid; expected one of: loose, "
                     "off, strict");
}

TEST(SetForm, CategoriesRoundTrip) {
    expect_round_trip(R"(
security {
    categories {
        inspect-packets 4;
        inspected-flows 65536;
        reset off;
        exception torrents {
            source [ 198.18.1.0/24 2001:db8:1::/48 ];
            organization "Ministry of Science";
            category [ p2p games ];
            application [ BitTorrent eDonkey ];
            reference "MS-2024/117";
        }
        exception admins { application SSH; reference "IT 9"; }
        vpn-channel hq { protocol udp; source 198.18.2.10; destination 192.0.2.1/32;
                         destination-port 1194; source-port 1194; }
        vpn-channel hq6 { protocol tcp; source 2001:db8:2::10; destination 2001:db8::1;
                          destination-port 443; }
        malicious {
            domain [ malware.example Phish.Example ];
            address [ 192.0.2.66 2001:db8:bad::/48 ];
            file [ "/etc/qorgan/malicious.list" "/var/lib/qorgan/feed one.list" ];
        }
    }
}
)");
}

TEST(SetForm, SetCategoriesFields) {
    Node t;
    const std::vector<std::string> e1 = {"security", "categories", "exception", "e1"};
    auto with = [](std::vector<std::string> head, std::vector<std::string> tail) {
        head.insert(head.end(), tail.begin(), tail.end());
        return head;
    };
    ASSERT_TRUE(apply_set(t, with(e1, {"category", "p2p"})).ok());
    ASSERT_TRUE(apply_set(t, with(e1, {"category", "games"})).ok());
    ASSERT_TRUE(apply_set(t, with(e1, {"category", "p2p"})).ok()); // no duplicate
    ASSERT_TRUE(apply_set(t, with(e1, {"application", "BitTorrent"})).ok());
    ASSERT_TRUE(apply_set(t, with(e1, {"source", "198.18.1.0/24"})).ok());
    ASSERT_TRUE(apply_set(t, with(e1, {"reference", "A-1"})).ok());
    ASSERT_TRUE(apply_set(t, with(e1, {"reference", "A-2"})).ok()); // replaced
    ASSERT_TRUE(apply_set(t, with(e1, {"organization", "Ministry of Science"})).ok());
    ASSERT_TRUE(apply_set(t, {"security", "categories", "reset", "off"}).ok());
    ASSERT_TRUE(apply_set(t, {"security", "categories", "inspect-packets", "16"}).ok());
    const std::vector<std::string> hq = {"security", "categories", "vpn-channel", "hq"};
    ASSERT_TRUE(apply_set(t, with(hq, {"protocol", "udp"})).ok());
    ASSERT_TRUE(apply_set(t, with(hq, {"source", "198.18.2.10"})).ok());
    ASSERT_TRUE(apply_set(t, with(hq, {"destination", "2001:db8::1/128"})).ok());
    ASSERT_TRUE(apply_set(t, with(hq, {"destination", "192.0.2.1/32"})).ok()); // replaced
    ASSERT_TRUE(apply_set(t, with(hq, {"destination-port", "1194"})).ok());
    ASSERT_TRUE(
        apply_set(t, {"security", "categories", "malicious", "domain", "malware.example"}).ok());
    ASSERT_TRUE(
        apply_set(t, {"security", "categories", "malicious", "file", "/etc/qorgan/a.list"}).ok());
    ASSERT_TRUE(
        apply_set(t, {"security", "categories", "malicious", "file", "/etc/qorgan/b.list"}).ok());
    EXPECT_EQ(print_tree(t), "security {\n"
                             "    categories {\n"
                             "        exception e1 {\n"
                             "            category [ p2p games ];\n"
                             "            application BitTorrent;\n"
                             "            source 198.18.1.0/24;\n"
                             "            reference A-2;\n"
                             "            organization \"Ministry of Science\";\n"
                             "        }\n"
                             "        reset off;\n"
                             "        inspect-packets 16;\n"
                             "        vpn-channel hq {\n"
                             "            protocol udp;\n"
                             "            source 198.18.2.10;\n"
                             "            destination 192.0.2.1/32;\n"
                             "            destination-port 1194;\n"
                             "        }\n"
                             "        malicious {\n"
                             "            domain malware.example;\n"
                             "            file [ /etc/qorgan/a.list /etc/qorgan/b.list ];\n"
                             "        }\n"
                             "    }\n"
                             "}\n");
    auto loaded = load_text(print_tree(t), "t");
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    EXPECT_EQ(loaded->security.categories.exceptions.at(0).reference, "A-2");
    EXPECT_EQ(loaded->security.categories.malicious_files.size(), 2u);
    EXPECT_EQ(to_set_lines(t),
              (std::vector<std::string>{
                  "set security categories exception e1 category p2p",
                  "set security categories exception e1 category games",
                  "set security categories exception e1 application BitTorrent",
                  "set security categories exception e1 source 198.18.1.0/24",
                  "set security categories exception e1 reference A-2",
                  "set security categories exception e1 organization \"Ministry of Science\"",
                  "set security categories reset off",
                  "set security categories inspect-packets 16",
                  "set security categories vpn-channel hq protocol udp",
                  "set security categories vpn-channel hq source 198.18.2.10",
                  "set security categories vpn-channel hq destination 192.0.2.1/32",
                  "set security categories vpn-channel hq destination-port 1194",
                  "set security categories malicious domain malware.example",
                  "set security categories malicious file /etc/qorgan/a.list",
                  "set security categories malicious file /etc/qorgan/b.list",
              }));
    ASSERT_TRUE(apply_delete(t, with(e1, {"category", "p2p"})).ok());
    ASSERT_TRUE(apply_delete(t, {"security", "categories", "vpn-channel", "hq"}).ok());
    ASSERT_TRUE(apply_delete(t, {"security", "categories", "malicious"}).ok());
    EXPECT_EQ(to_set_lines(t),
              (std::vector<std::string>{
                  "set security categories exception e1 category games",
                  "set security categories exception e1 application BitTorrent",
                  "set security categories exception e1 source 198.18.1.0/24",
                  "set security categories exception e1 reference A-2",
                  "set security categories exception e1 organization \"Ministry of Science\"",
                  "set security categories reset off",
                  "set security categories inspect-packets 16",
              }));
    auto edit = resolve_edit_path(t, {"security", "categories", "exception", "e1"});
    ASSERT_TRUE(edit.ok());
    EXPECT_EQ(*edit, (std::vector<std::string>{"security", "categories", "exception", "e1"}));
    auto leaf = resolve_edit_path(t, {"security", "categories", "reset"});
    ASSERT_FALSE(leaf.ok());
    EXPECT_EQ(leaf.error().message, "edit security categories reset: 'reset' is not a block; "
                                    "expected one of: exception, malicious, vpn-channel");
}

TEST(SetForm, CategoriesValuesAreCheckedAsTheyAreSet) {
    expect_set_error({"security", "categories", "exception", "e1", "category", "foo"},
                     "set security categories exception e1 category foo: 'foo' is not valid; "
                     "expected one of: games, malicious, p2p, remote-access, unknown, vpn");
    expect_set_error({"security", "categories", "exception", "e1", "application", "Bit Torrent"},
                     "set security categories exception e1 application \"Bit Torrent\": 'Bit "
                     "Torrent' is not an nDPI application name; expected <application>");
    expect_set_error({"security", "categories", "exception", "e1", "source", "198.18.1.1/24"},
                     "set security categories exception e1 source 198.18.1.1/24: 198.18.1.1/24 "
                     "has host bits set (did you mean 198.18.1.0/24?); expected <prefix>");
    expect_set_error({"security", "categories", "exception", "e1", "reference", ""},
                     "set security categories exception e1 reference \"\": an empty value; "
                     "expected <text>");
    expect_set_error({"security", "categories", "exception", "1e"},
                     "set security categories exception 1e: '1e' is not a valid name; expected "
                     "<name>");
    expect_set_error({"security", "categories", "exception", "e1", "action", "accept"},
                     "set security categories exception e1 action: unknown 'action'; expected "
                     "one of: application, category, organization, reference, source");
    expect_set_error({"security", "categories", "reset", "yes"},
                     "set security categories reset yes: 'yes' is not valid; expected one of: "
                     "off, on");
    expect_set_error({"security", "categories", "inspect-packets", "65"},
                     "set security categories inspect-packets 65: 65 is out of range; expected "
                     "<1..64>");
    expect_set_error({"security", "categories", "inspected-flows", "255"},
                     "set security categories inspected-flows 255: 255 is out of range; expected "
                     "<256..1048576>");
    expect_set_error({"security", "categories", "vpn-channel", "hq", "protocol", "esp"},
                     "set security categories vpn-channel hq protocol esp: 'esp' is not valid; "
                     "expected one of: tcp, udp");
    expect_set_error({"security", "categories", "vpn-channel", "hq", "source", "198.18.2.0/24"},
                     "set security categories vpn-channel hq source 198.18.2.0/24: 198.18.2.0/24 "
                     "is a network, not a single address; expected <host-address>");
    expect_set_error({"security", "categories", "vpn-channel", "hq", "destination", "hq.example"},
                     "set security categories vpn-channel hq destination hq.example: "
                     "'hq.example' is not an IPv4 or IPv6 address; expected <host-address>");
    expect_set_error({"security", "categories", "vpn-channel", "hq", "destination-port", "0"},
                     "set security categories vpn-channel hq destination-port 0: 0 is out of "
                     "range; expected <1..65535>");
    expect_set_error({"security", "categories", "malicious", "domain", "bad..example"},
                     "set security categories malicious domain bad..example: 'bad..example' is "
                     "not a DNS name; expected <domain>");
    expect_set_error({"security", "categories", "malicious", "address", "10.0.0.1/8"},
                     "set security categories malicious address 10.0.0.1/8: 10.0.0.1/8 has host "
                     "bits set (did you mean 10.0.0.0/8?); expected <prefix>");
    expect_set_error({"security", "categories", "malicious", "file", "bad.list"},
                     "set security categories malicious file bad.list: 'bad.list' is not an "
                     "absolute path; expected <absolute-path>");
    expect_set_error({"security", "categories", "block-all"},
                     "set security categories block-all: unknown 'block-all'; expected one of: "
                     "exception, inspect-packets, inspected-flows, malicious, reset, "
                     "vpn-channel");
    expect_set_error({"security", "firewall"},
                     "set security firewall: unknown 'firewall'; expected one of: categories, "
                     "screen");
}

} // namespace
} // namespace qorgan::config

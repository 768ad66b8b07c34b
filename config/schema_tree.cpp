// SPDX-License-Identifier: GPL-2.0-or-later
// The declarative schema tree used by help (`?`), completion and the set form; it mirrors
// what config/schema.cpp accepts (tests/unit/test_schema_tree.cpp keeps the two in step).
#include "config/schema_tree.h"

#include "config/model.h"

#include <algorithm>

namespace qorgan::config {

namespace {

using K = SchemaKind;

SchemaNode node(std::string keyword, K kind, std::string help, std::string hint = {},
                std::vector<std::string> choices = {}, std::vector<SchemaNode> children = {}) {
    return SchemaNode{std::move(keyword), kind,
                      std::move(help),    std::move(hint),
                      std::move(choices), std::move(children)};
}

std::vector<SchemaNode> rule_children() {
    return {
        node("description", K::leaf, "free text shown with the rule", "<text>"),
        node("protocol", K::leaf, "IP protocol; absent: any", "<0..255>",
             {"icmp", "icmpv6", "tcp", "udp"}),
        node("source", K::leaf_list, "source network; absent: any", "<prefix>"),
        node("destination", K::leaf_list, "destination network; absent: any", "<prefix>"),
        node("source-port", K::leaf_list, "TCP/UDP source port or range", "<N|N-M>"),
        node("destination-port", K::leaf_list, "TCP/UDP destination port or range", "<N|N-M>"),
        node("icmp-type", K::leaf, "ICMP or ICMPv6 type (needs protocol icmp or icmpv6)",
             "<0..255>",
             {"dest-unreachable", "echo-reply", "echo-request", "neighbor-advertisement",
              "neighbor-solicitation", "packet-too-big", "parameter-problem", "redirect",
              "router-advertisement", "router-solicitation", "source-quench", "time-exceeded",
              "timestamp-reply", "timestamp-request"}),
        node("icmp-code", K::leaf, "ICMP code (needs icmp-type)", "<0..255>"),
        node("action", K::leaf, "what a matching packet gets", "", {"accept", "drop", "reject"}),
        node("log", K::flag, "log every packet the rule matches"),
    };
}

SchemaNode rule_list(const std::string &keyword, const std::string &help) {
    return node(keyword, K::container, help, {}, {},
                {node("rule", K::keyed, "a rule; first match wins in list order", "<1..4294967295>",
                      {}, rule_children())});
}

std::vector<SchemaNode> ipsec_children() {
    return {
        node("max-sas", K::leaf, "SAs the dataplane holds at once", "<16..65536>"),
        node("peer", K::keyed, "a remote gateway and what the tunnel carries", "<name>", {},
             {node("address", K::leaf, "the peer's address", "<address>"),
              node("local-address", K::leaf, "the gateway's address towards it", "<address>"),
              node("local-id", K::leaf, "the gateway's IKE identity", "<identity>"),
              node("remote-id", K::leaf, "the identity the peer must prove", "<identity>"),
              node("pre-shared-key", K::leaf, "shared secret (at least 20 characters)", "<secret>"),
              node("certificate", K::leaf, "the gateway's X.509 certificate (PEM)", "<path>"),
              node("private-key", K::leaf, "its private key (PEM)", "<path>"),
              node("ca", K::leaf, "the CA that signs the peer's certificate (PEM)", "<path>"),
              node("ike-proposal", K::leaf_list, "IKE algorithms", "<proposal>"),
              node("esp-proposal", K::leaf_list, "ESP algorithms", "<proposal>",
                   {"aes256-sha256", "aes256gcm16"}),
              node("local-subnet", K::leaf_list, "networks behind the gateway", "<prefix>"),
              node("remote-subnet", K::leaf_list, "networks behind the peer", "<prefix>"),
              node("ike-lifetime", K::leaf, "IKE SA lifetime (seconds)", "<300..86400>"),
              node("lifetime", K::leaf, "CHILD SA lifetime (seconds)", "<60..86400>"),
              node("lifetime-bytes", K::leaf, "rekey after this many bytes; 0: never", "<n>"),
              node("lifetime-packets", K::leaf, "rekey after this many packets; 0: never", "<n>"),
              node("dpd", K::leaf, "dead peer detection interval (seconds); 0: off", "<0..3600>"),
              node("start-action", K::leaf, "when the tunnel is negotiated", "",
                   {"none", "start", "trap"}),
              node("encapsulation", K::flag, "always UDP-encapsulate ESP (NAT-T)")}),
    };
}

std::vector<SchemaNode> nat_children() {
    auto interface = [](const char *help) {
        return node("interface", K::leaf, help, "<interface>");
    };
    return {
        node("static", K::keyed, "1:1 translation in both directions (R128-d)", "<name>", {},
             {interface("the outside interface"),
              node("inside", K::leaf, "the inside host's address", "<ipv4-address>"),
              node("outside", K::leaf, "its address on the outside interface", "<ipv4-address>"),
              node("hairpin", K::flag, "inside hosts reach it by its outside address too")}),
        node(
            "source", K::keyed, "NAPT of flows leaving by an interface (R90-1-6)", "<name>", {},
            {interface("flows leaving by this interface"),
             node("from", K::leaf_list, "source network; absent: any IPv4 source", "<ipv4-prefix>"),
             node("pool", K::leaf_list, "translated source, at most 64; absent: the interface's",
                  "<ipv4-address>"),
             node("ports", K::leaf, "translated ports, at least 64; default 1024-65535",
                  "<low>-<high>"),
             node("mapping", K::leaf, "RFC 4787 mapping; default endpoint-dependent", "",
                  {"endpoint-dependent", "endpoint-independent"}),
             node("max-per-source", K::leaf, "translations per inside address; 0: no limit",
                  "<0..1000000>")}),
        node("destination", K::keyed, "port forwarding to a shielded server (R139-10-1)", "<name>",
             {},
             {interface("the arrival interface"),
              node("protocol", K::leaf, "forwarded protocol", "", {"tcp", "udp"}),
              node("address", K::leaf, "address packets arrive for; absent: the interface's",
                   "<ipv4-address>"),
              node("port", K::leaf, "port packets arrive for", "<1..65535>"),
              node("to", K::leaf, "the server's address", "<ipv4-address>"),
              node("to-port", K::leaf, "the server's port; absent: the same", "<1..65535>"),
              node("hairpin", K::flag, "inside hosts reach it by its published address too")}),
        node("mss-clamp", K::leaf, "clamp the MSS of forwarded TCP SYNs; 0: off", "<536..9000>",
             {"0"}),
    };
}

// security { categories { ... } }: category blocking (R134-1) and the ways through it.
SchemaNode categories() {
    std::vector<std::string> names;
    for (unsigned i = 0; i < category_count; i++)
        names.push_back(category_name(static_cast<Category>(i)));
    std::sort(names.begin(), names.end());
    return node(
        "categories", K::container, "block vpn, remote access, p2p, games, unknown, malicious", {},
        {},
        {node("inspect-packets", K::leaf, "payload packets a flow may pass before a verdict",
              "<1..64>"),
         node("inspected-flows", K::leaf, "flows under inspection at once, per worker",
              "<256..1048576>"),
         node("reset", K::leaf, "a blocked TCP flow gets a RST each way; default on", "",
              {"off", "on"}),
         node("exception", K::keyed, "unblocking on official request (R134-2, R133-3)", "<name>",
              {},
              {node("source", K::leaf_list, "source network; absent: any", "<prefix>"),
               node("organization", K::leaf, "who asked, for the logs", "<text>"),
               node("category", K::leaf_list, "category let through", "", names),
               node("application", K::leaf_list, "nDPI application let through (BitTorrent, SSH)",
                    "<application>"),
               node("reference", K::leaf, "the official request (required)", "<text>")}),
         node("vpn-channel", K::keyed, "an agreed VPN channel (R133-4)", "<name>", {},
              {node("protocol", K::leaf, "its protocol", "", {"tcp", "udp"}),
               node("source", K::leaf, "the client's address", "<host-address>"),
               node("destination", K::leaf, "the server's address", "<host-address>"),
               node("destination-port", K::leaf, "the server's port", "<1..65535>"),
               node("source-port", K::leaf, "the client's port; absent: any", "<1..65535>")}),
         node("malicious", K::container, "more malicious hosts, blocked as category malicious", {},
              {},
              {node("domain", K::leaf_list, "matched in DNS, TLS SNI and HTTP Host", "<domain>"),
               node("address", K::leaf_list, "source or destination network", "<prefix>"),
               node("file", K::leaf_list, "a list of domains and prefixes, at most 16",
                    "<absolute-path>")})});
}

// security { screen <zone> { ... } }: each defence block with its closed set of actions.
std::vector<SchemaNode> security_children() {
    auto action = [](std::string help, std::vector<std::string> choices) {
        return node("action", K::leaf, std::move(help), {}, std::move(choices));
    };
    const std::vector<std::string> rate_actions = {"alarm", "block", "drop", "off"};
    const std::vector<std::string> check_actions = {"alarm", "drop", "off"};
    auto rate = [&](const char *key, const char *help, const char *rate_key,
                    const char *rate_help) {
        return node(key, K::container, help, {}, {},
                    {node(rate_key, K::leaf, rate_help, "<1..10000000>"),
                     node("burst", K::leaf, "bucket depth, at least the rate", "<1..10000000>"),
                     action("what a source above the rate gets; default drop", rate_actions)});
    };
    std::vector<SchemaNode> screen = {
        node("block-time", K::leaf, "seconds a blocked source stays blocked; default 60",
             "<1..86400>"),
        node("syn-flood", K::container, "half-open TCP connections per destination", {}, {},
             {node("threshold", K::leaf, "half-open connections before the defence engages",
                   "<0..1000000>"),
              action("above the threshold; default cookie", {"alarm", "cookie", "drop", "off"})}),
        node("source-rate", K::container, "new flows per source (R90-1-3)", {}, {},
             {node("new-per-second", K::leaf, "new flows a source may open per second",
                   "<1..10000000>"),
              node("burst", K::leaf, "bucket depth, at least the rate", "<1..10000000>"),
              node("concurrent", K::leaf, "open flows per source; 0: no limit", "<0..10000000>"),
              action("what a source above the limits gets; default drop", rate_actions)}),
        rate("icmp-flood", "ICMP packets per source", "per-second", "ICMP packets per second"),
        rate("udp-flood", "UDP packets per source", "per-second", "UDP packets per second"),
        node("scan", K::container, "host and port scans by one source", {}, {},
             {node("hosts", K::leaf, "distinct destinations in the window", "<2..65536>"),
              node("ports", K::leaf, "distinct ports of one destination in the window",
                   "<2..65536>"),
              node("window", K::leaf, "seconds", "<1..3600>"),
              action("what a scanning source gets; default alarm", {"alarm", "block", "off"})}),
        node("tcp-flags", K::container, "impossible TCP flag combinations", {}, {},
             {action("default drop", check_actions)}),
        node("spoofing", K::container, "martian, LAND, own and broadcast sources", {}, {},
             {action("default drop", check_actions),
              node("bogons", K::leaf_list, "extra source prefixes refused in this zone",
                   "<prefix>")}),
        node("ip-options", K::container, "IPv4 source route and record route options", {}, {},
             {action("default drop", check_actions)}),
        node("fragments", K::container, "reassembly, overlapping and tiny fragments", {}, {},
             {action("default drop", {"drop", "off"})}),
    };
    return {categories(),
            node("screen", K::keyed, "attack protection for packets arriving in a zone (R128-e)",
                 "<zone>", {}, std::move(screen))};
}

SchemaNode build_root() {
    std::vector<SchemaNode> timeouts;
    const std::pair<const char *, const char *> kinds[] = {
        {"tcp-syn", "TCP handshake not finished"},
        {"tcp-established", "TCP established"},
        {"tcp-closing", "TCP after a FIN"},
        {"tcp-closed", "TCP after RST or both FINs"},
        {"udp", "UDP, one direction seen"},
        {"udp-stream", "UDP, both directions seen"},
        {"icmp", "ICMP"},
        {"other", "other protocols"},
    };
    for (const auto &[kw, help] : kinds)
        timeouts.push_back(node(kw, K::leaf, std::string(help) + " (seconds)", "<1..604800>"));

    return node(
        "", K::container, "configuration", {}, {},
        {
            node("interfaces", K::container, "network interfaces", {}, {},
                 {node("", K::named, "an interface", "<name>", {},
                       {
                           node("device", K::leaf, "PCI address or DPDK vdev", "<pci-or-vdev>"),
                           node("address", K::leaf_list, "the gateway's address and subnet",
                                "<address>/<length>"),
                           node("zone", K::leaf, "zone the interface belongs to", "<zone>"),
                           node("mtu", K::leaf, "maximum transmission unit", "<576..9000>"),
                           node("urpf", K::leaf, "reverse-path check of sources; default off", "",
                                {"loose", "off", "strict"}),
                           node("disable", K::flag, "administratively down (R139-13)"),
                       })}),
            node("zones", K::container, "security zones", {}, {},
                 {node("", K::named, "a zone", "<name>", {},
                       {node("loop", K::leaf, "regulation loop of the zone (R139-7, R139-8)", "",
                             {"inner", "internet", "outer", "shielded"})})}),
            node("policy", K::container, "per-interface packet filters", {}, {},
                 {node("", K::named, "the rules of an interface", "<interface>", {},
                       {rule_list("ingress", "packets arriving on the interface"),
                        rule_list("egress", "packets leaving through the interface")})}),
            node("routes", K::container, "static routes", {}, {},
                 {node("route", K::keyed, "a static route", "<prefix>", {},
                       {node("via", K::leaf, "next hop", "<address>"),
                        node("interface", K::leaf, "exit interface", "<interface>")})}),
            node("dataplane", K::container, "fast path settings", {}, {},
                 {node("workers", K::leaf, "worker lcores", "<1..64>"),
                  node("max-flows", K::leaf, "flow table size per worker", "<1024..16777216>"),
                  node("idle-sleep", K::leaf, "sleep of an idle worker (microseconds, 0 polls)",
                       "<0..1000>"),
                  node("timeouts", K::container, "flow idle timeouts", {}, {}, timeouts)}),
            node("nat", K::container, "NAT44: static, source (NAPT) and destination", {}, {},
                 nat_children()),
            node("security", K::container, "category blocking and attack protection screens", {},
                 {}, security_children()),
            node("system", K::container, "administrators, sessions and the audit log", {}, {},
                 {node("host-name", K::leaf, "name in prompts and syslog", "<name>"),
                  node("login", K::container, "sessions, lockout, passwords, levels (R118)", {}, {},
                       {node("idle-timeout", K::leaf, "end a session idle this long (seconds)",
                             "<1..86400>"),
                        node("session-lifetime", K::leaf, "end any session after (seconds)",
                             "<60..604800>"),
                        node("lockout-failures", K::leaf,
                             "failures that lock the account and the source (R90-1-3)", "<1..100>"),
                        node("lockout-time", K::leaf, "how long a lockout lasts (seconds)",
                             "<1..86400>"),
                        node("alert-failures", K::leaf, "failures that raise an alert (R52)",
                             "<1..100>"),
                        node("alert-refusals", K::leaf,
                             "privilege refusals in a session that raise an alert (R52)",
                             "<1..100>"),
                        node("password", K::container, "password policy (R118)", {}, {},
                             {node("min-length", K::leaf, "shortest password", "<8..128>"),
                              node("min-classes", K::leaf,
                                   "character classes (lower, upper, digit, other)", "<1..4>"),
                              node("history", K::leaf, "previous passwords not reused", "<0..24>"),
                              node("max-age", K::leaf, "days before a change is due (0: never)",
                                   "<0..3650>")}),
                        node("level", K::keyed, "command classes of a privilege level (R128-b)",
                             "<0..15>", {},
                             {node("class", K::leaf_list, "command classes", "",
                                   {"audit-settings", "audit-view", "clear", "network", "security",
                                    "traffic-view", "view"})})}),
                  node("audit", K::container, "the audit log (R38-4, R38-6, R90-1-7)", {}, {},
                       {node("retention", K::leaf, "days kept (never below 1095, R38-4)",
                             "<1095..36500>"),
                        node("warn-percent", K::leaf, "storage use that raises a warning",
                             "<50..99>"),
                        node("syslog", K::container, "remote copy over TLS (RFC 5425)", {}, {},
                             {node("server", K::leaf, "log server", "<address-or-name>"),
                              node("port", K::leaf, "TCP port (6514)", "<1..65535>"),
                              node("ca-file", K::leaf, "CA that signed the server's certificate",
                                   "<path>"),
                              node("certificate", K::leaf, "client certificate (optional)",
                                   "<path>"),
                              node("key", K::leaf, "client key", "<path>"),
                              node("server-name", K::leaf, "name in the server's certificate",
                                   "<name>")})})}),
            node("ipsec", K::container, "IPsec tunnels to peer gateways (R128-h, R139-7)", {}, {},
                 ipsec_children()),
        });
}

// The config block a statement opens, matched by its words (nullptr when absent).
const Node *child_block(const Node *parent, const std::vector<std::string> &words) {
    if (!parent)
        return nullptr;
    for (const Node &c : parent->children) {
        if (!c.has_block || c.words.size() != words.size())
            continue;
        bool same = true;
        for (std::size_t i = 0; i < words.size(); ++i)
            same = same && c.words[i].text == words[i];
        if (same)
            return &c;
    }
    return nullptr;
}

std::string free_help(const SchemaNode &s) {
    return s.value_hint + ": " + s.help;
}

} // namespace

const SchemaNode &schema_root() {
    static const SchemaNode root = build_root();
    return root;
}

std::vector<Candidate> complete_path(const Node *config, const std::vector<std::string> &words,
                                     std::string_view partial) {
    const SchemaNode *s = &schema_root();
    const Node *c = config;
    std::vector<Candidate> out;
    std::size_t i = 0;
    // Walks complete words; `pending` is a keyed/leaf node whose value is the next word.
    const SchemaNode *pending = nullptr;
    while (i < words.size()) {
        const std::string &w = words[i];
        if (pending) {
            if (pending->kind != K::keyed)
                return {}; // a leaf's value was given: the statement is complete
            c = child_block(c, {pending->keyword, w});
            s = pending;
            pending = nullptr;
            ++i;
            continue;
        }
        if (s->kind == K::leaf || s->kind == K::leaf_list || s->kind == K::flag)
            return {};
        const SchemaNode *next = nullptr;
        for (const SchemaNode &ch : s->children)
            if (ch.kind == K::named || ch.keyword == w)
                next = &ch;
        if (!next)
            return {};
        if (next->kind == K::named) {
            c = child_block(c, {w});
            s = next;
        } else if (next->kind == K::container) {
            c = child_block(c, {w});
            s = next;
        } else if (next->kind == K::flag) {
            return {};
        } else {
            pending = next;
        }
        ++i;
    }
    auto add = [&](std::string word, std::string help) {
        if (word.empty() || word.compare(0, partial.size(), partial) == 0)
            out.push_back({std::move(word), std::move(help)});
    };
    if (pending) {
        for (const std::string &ch : pending->choices)
            add(ch, pending->help);
        if (pending->kind == K::keyed && c)
            for (const Node &n : c->children)
                if (n.words.size() == 2 && n.words[0].text == pending->keyword && n.has_block)
                    add(n.words[1].text, pending->help);
        if (!pending->value_hint.empty())
            add("", free_help(*pending));
    } else {
        for (const SchemaNode &ch : s->children) {
            if (ch.kind == K::named) {
                if (c)
                    for (const Node &n : c->children)
                        if (n.words.size() == 1 && n.has_block)
                            add(n.words[0].text, ch.help);
                add("", free_help(ch));
            } else {
                add(ch.keyword, ch.help);
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const Candidate &a, const Candidate &b) {
        return a.word != b.word ? a.word < b.word : a.help < b.help;
    });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const Candidate &a, const Candidate &b) { return a.word == b.word; }),
              out.end());
    return out;
}

} // namespace qorgan::config

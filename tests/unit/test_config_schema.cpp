// SPDX-License-Identifier: GPL-2.0-or-later
// Config schema: the default config, family derivation, and every schema error message
// ("file:line:col: path: what; expected ...") with its location.
#include "config/config.h"
#include "config/schema.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

using namespace qorgan;
using namespace qorgan::config;

namespace {

Prefix P(const char *text) {
    auto p = parse_prefix(text);
    EXPECT_TRUE(p.has_value()) << text;
    return p.value_or(Prefix{});
}

const Interface *find_interface(const Config &c, const std::string &name) {
    for (const Interface &i : c.interfaces)
        if (i.name == name)
            return &i;
    return nullptr;
}

const InterfacePolicy *find_policy(const Config &c, const std::string &name) {
    for (const InterfacePolicy &p : c.policies)
        if (p.interface == name)
            return &p;
    return nullptr;
}

const Rule *find_rule(const std::vector<Rule> &rules, uint32_t id) {
    for (const Rule &r : rules)
        if (r.id == id)
            return &r;
    return nullptr;
}

std::string lines(const std::vector<std::string> &ls, const std::string &indent) {
    std::string out;
    for (const std::string &l : ls)
        out += indent + l + "\n";
    return out;
}

// Interface inner0 holding `ls`, one per line from line 3 at column 9, and zone inner.
std::string iface(const std::vector<std::string> &ls) {
    return "interfaces {\n    inner0 {\n" + lines(ls, "        ") +
           "    }\n}\nzones {\n    inner { loop inner; }\n}\n";
}

const std::string one_interface = "interfaces {\n"
                                  "    inner0 { device \"net_af_packet0\"; zone inner; }\n"
                                  "}\n"
                                  "zones {\n"
                                  "    inner { loop inner; }\n"
                                  "}\n";

// Rule 10 of inner0 ingress holding `ls`, one per line from line 11 at column 17.
std::string rule(const std::vector<std::string> &ls) {
    return one_interface + "policy {\n    inner0 {\n        ingress {\n            rule 10 {\n" +
           lines(ls, "                ") + "            }\n        }\n    }\n}\n";
}

// The body `ls` of `section` after the one-interface config, from line 8 at column 5.
std::string section(const std::string &name, const std::vector<std::string> &ls) {
    return one_interface + name + " {\n" + lines(ls, "    ") + "}\n";
}

// Interfaces inner0 and inet0 with IPv4 addresses and bare0 without, then `nat` holding
// `ls`, one per line from line 11 at column 5.
const std::string nat_interfaces =
    "interfaces {\n"
    "    inner0 { device \"net_af_packet0\"; address 198.18.1.1/24; zone inner; }\n"
    "    inet0 { device \"net_af_packet1\"; address [ 2001:db8:100::1/64 203.0.113.1/24 ]; "
    "zone internet; }\n"
    "    bare0 { device \"net_af_packet2\"; zone inner; }\n"
    "}\n"
    "zones {\n    inner { loop inner; }\n    internet { loop internet; }\n}\n";

std::string nat(const std::vector<std::string> &ls) {
    return nat_interfaces + "nat {\n" + lines(ls, "    ") + "}\n";
}

// `security` holding `screen inner` with `ls`, one per line from line 9 at column 9, after
// the one-interface config (zone inner).
std::string screen(const std::vector<std::string> &ls) {
    return one_interface + "security {\n    screen inner {\n" + lines(ls, "        ") +
           "    }\n}\n";
}

// The body `ls` of `security` after the one-interface config, from line 8 at column 5.
std::string security(const std::vector<std::string> &ls) {
    return section("security", ls);
}

// `security categories` holding `ls`, one per line from line 9 at column 9, after the
// one-interface config.
std::string categories(const std::vector<std::string> &ls) {
    return one_interface + "security {\n    categories {\n" + lines(ls, "        ") + "    }\n}\n";
}

// `head` { `ls` } inside `security categories`, `ls` one per line from line 10 at column 13.
std::string categories_block(const std::string &head, const std::vector<std::string> &ls) {
    std::vector<std::string> body{head + " {"};
    for (const std::string &l : ls)
        body.push_back("    " + l);
    body.push_back("}");
    return categories(body);
}

// `security categories exception e1` holding `ls`, one per line from line 10 at column 13.
std::string exception(const std::vector<std::string> &ls) {
    return categories_block("exception e1", ls);
}

// `security categories vpn-channel c1` holding `ls`, one per line from line 10 at column 13.
std::string channel(const std::vector<std::string> &ls) {
    return categories_block("vpn-channel c1", ls);
}

// A list of `n` pool addresses from 203.0.113.100 up.
std::string pool_of(int n) {
    std::string out = "[";
    for (int i = 0; i < n; ++i)
        out += " 203.0.113." + std::to_string(100 + i);
    return out + " ]";
}

Config load_ok(const std::string &text) {
    auto c = load_text(text, "lab.conf");
    EXPECT_TRUE(c.ok()) << c.error().to_string() << "\n" << text;
    return c ? *c : Config{};
}

struct ErrorCase {
    const char *name;
    std::string text;
    std::string error;
};

// Test names carry the case; print only its name on failure.
void PrintTo(const ErrorCase &c, std::ostream *os) {
    *os << c.name;
}

class ConfigSchemaError : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigSchemaError, Message) {
    auto c = load_text(GetParam().text, "lab.conf");
    ASSERT_FALSE(c.ok()) << GetParam().text;
    EXPECT_EQ(c.error().to_string(), GetParam().error) << GetParam().text;
}

const std::string dev = "device \"net_af_packet0\";";
const std::string zone = "zone inner;";
const std::string accept = "action accept;";

const ErrorCase error_cases[] = {
    // Statement shapes.
    {"ShapeListNotAllowed", iface({dev, zone, "mtu [ 1500 ];"}),
     "lab.conf:5:13: interfaces inner0 mtu: a list is not allowed here; expected 'mtu "
     "<576..9000>;'"},
    {"ShapeExtraValue", iface({dev, zone, "mtu 1500 9000;"}),
     "lab.conf:5:18: interfaces inner0 mtu: unexpected '9000'; expected 'mtu <576..9000>;'"},
    {"ShapeExtraValueBeforeList", rule({"source 198.18.1.0/24 [ 10.0.0.0/8 ];", accept}),
     "lab.conf:11:24: policy inner0 ingress rule 10 source: unexpected '198.18.1.0/24'; "
     "expected 'source <prefix>; or source [ <prefix> ... ];'"},
    {"ShapeMissingValue", iface({dev, zone, "mtu;"}),
     "lab.conf:5:9: interfaces inner0 mtu: missing value; expected 'mtu <576..9000>;'"},
    {"ShapeMissingBlock", "interfaces;\n",
     "lab.conf:1:1: interfaces: missing block; expected 'interfaces { <name> { ... } }'"},
    {"ShapeUnexpectedBlock", iface({dev, zone, "disable { }"}),
     "lab.conf:5:9: interfaces inner0 disable: unexpected block; expected 'disable;'"},
    {"ShapeFlagWithValue", rule({accept, "log yes;"}),
     "lab.conf:12:21: policy inner0 ingress rule 10 log: unexpected 'yes'; expected 'log;'"},
    {"ShapeSectionWithValue", one_interface + "dataplane fast { }\n",
     "lab.conf:7:11: dataplane: unexpected 'fast'; expected 'dataplane { workers <n>; ... }'"},
    {"ShapeInterfaceNoBlock", "interfaces {\n    inner0;\n}\n",
     "lab.conf:2:5: interfaces inner0: missing block; expected '<name> { device "
     "\"<pci-or-vdev>\"; zone <zone>; }'"},
    {"ShapeZoneNoBlock", "zones {\n    inner;\n}\n",
     "lab.conf:2:5: zones inner: missing block; expected '<name> { loop <loop>; }'"},
    {"ShapePolicyNoBlock", one_interface + "policy {\n    inner0;\n}\n",
     "lab.conf:8:5: policy inner0: missing block; expected '<interface> { ingress { ... } "
     "egress { ... } }'"},
    {"ShapeIngressNoBlock", one_interface + "policy {\n    inner0 { ingress; }\n}\n",
     "lab.conf:8:14: policy inner0 ingress: missing block; expected 'ingress { rule <id> { ... "
     "} }'"},
    {"ShapeRuleNoId", one_interface + "policy {\n    inner0 { egress { rule { } } }\n}\n",
     "lab.conf:8:23: policy inner0 egress rule: missing value; expected 'rule <1..4294967295> "
     "{ ...; action accept|drop|reject; }'"},
    {"ShapeRouteNoBlock", section("routes", {"route 0.0.0.0/0;"}),
     "lab.conf:8:5: routes route: missing block; expected 'route <prefix> { via <address>; "
     "interface <name>; }'"},
    {"ShapeTimeoutsNoBlock", section("dataplane", {"timeouts;"}),
     "lab.conf:8:5: dataplane timeouts: missing block; expected 'timeouts { <kind> <seconds>; "
     "... }'"},
    {"ShapeDescription", rule({"description a b;", accept}),
     "lab.conf:11:31: policy inner0 ingress rule 10 description: unexpected 'b'; expected "
     "'description \"<text>\";'"},
    {"ShapeProtocol", rule({"protocol;", accept}),
     "lab.conf:11:17: policy inner0 ingress rule 10 protocol: missing value; expected "
     "'protocol tcp|udp|icmp|icmpv6|<0..255>;'"},
    {"ShapePorts", rule({"protocol tcp;", "destination-port;", accept}),
     "lab.conf:12:17: policy inner0 ingress rule 10 destination-port: missing value; expected "
     "'destination-port <N|N-M>; or destination-port [ <N|N-M> ... ];'"},
    {"ShapeIcmpType", rule({"protocol icmp;", "icmp-type [ 8 ];", accept}),
     "lab.conf:12:27: policy inner0 ingress rule 10 icmp-type: a list is not allowed here; "
     "expected 'icmp-type <name|0..255>;'"},
    {"ShapeIcmpCode", rule({"protocol icmp;", "icmp-type 3;", "icmp-code;", accept}),
     "lab.conf:13:17: policy inner0 ingress rule 10 icmp-code: missing value; expected "
     "'icmp-code <0..255>;'"},
    {"ShapeAction", rule({"action;"}),
     "lab.conf:11:17: policy inner0 ingress rule 10 action: missing value; expected 'action "
     "accept|drop|reject;'"},
    {"ShapeDevice", iface({"device;", zone}),
     "lab.conf:3:9: interfaces inner0 device: missing value; expected 'device "
     "\"<pci-or-vdev>\";'"},
    {"ShapeAddress", iface({dev, zone, "address;"}),
     "lab.conf:5:9: interfaces inner0 address: missing value; expected 'address "
     "<address>/<length>;'"},
    {"ShapeZone", iface({dev, "zone;"}),
     "lab.conf:4:9: interfaces inner0 zone: missing value; expected 'zone <zone>;'"},
    {"ShapeLoop", "zones {\n    inner { loop; }\n}\n",
     "lab.conf:2:13: zones inner loop: missing value; expected 'loop "
     "inner|outer|internet|shielded;'"},
    {"ShapeVia", section("routes", {"route 0.0.0.0/0 { via; }"}),
     "lab.conf:8:23: routes route 0.0.0.0/0 via: missing value; expected 'via <address>;'"},
    {"ShapeWorkers", section("dataplane", {"workers;"}),
     "lab.conf:8:5: dataplane workers: missing value; expected 'workers <1..64>;'"},
    {"ShapeTimeoutValue", section("dataplane", {"timeouts { udp; }"}),
     "lab.conf:8:16: dataplane timeouts udp: missing value; expected 'udp <1..604800>;'"},

    // Unknown statements list what is allowed.
    {"UnknownTopLevel", "interface { }\n",
     "lab.conf:1:1: interface: unknown statement; expected one of interfaces, zones, policy, "
     "routes, dataplane, nat, security, system, ipsec"},
    {"UnknownInInterface", iface({dev, zone, "speed 1000;"}),
     "lab.conf:5:9: interfaces inner0 speed: unknown statement; expected one of device, "
     "address, zone, mtu, urpf, disable"},
    {"UnknownInZone", "zones {\n    inner { loop inner; trust high; }\n}\n",
     "lab.conf:2:25: zones inner trust: unknown statement; expected one of loop"},
    {"UnknownInPolicy", one_interface + "policy {\n    inner0 { forward { } }\n}\n",
     "lab.conf:8:14: policy inner0 forward: unknown statement; expected one of ingress, egress"},
    {"UnknownInRuleList", one_interface + "policy {\n    inner0 { ingress { term 1 { } } }\n}\n",
     "lab.conf:8:24: policy inner0 ingress term: unknown statement; expected one of rule"},
    {"UnknownInRule", rule({"then accept;"}),
     "lab.conf:11:17: policy inner0 ingress rule 10 then: unknown statement; expected one of "
     "description, protocol, source, destination, source-port, destination-port, icmp-type, "
     "icmp-code, action, log"},
    {"UnknownInRoutes", section("routes", {"static 0.0.0.0/0 { }"}),
     "lab.conf:8:5: routes static: unknown statement; expected one of route"},
    {"UnknownInRoute", section("routes", {"route 0.0.0.0/0 { metric 5; }"}),
     "lab.conf:8:23: routes route 0.0.0.0/0 metric: unknown statement; expected one of via, "
     "interface"},
    {"UnknownInDataplane", section("dataplane", {"lcores 2;"}),
     "lab.conf:8:5: dataplane lcores: unknown statement; expected one of workers, max-flows, "
     "idle-sleep, "
     "timeouts"},
    {"UnknownTimeout", section("dataplane", {"timeouts { sctp 5; }"}),
     "lab.conf:8:16: dataplane timeouts sctp: unknown statement; expected one of tcp-syn, "
     "tcp-established, tcp-closing, tcp-closed, udp, udp-stream, icmp, other"},

    // Duplicates.
    {"DuplicateSection", one_interface + "zones { }\n",
     "lab.conf:7:1: zones: duplicate statement (first at lab.conf:4:1); expected 'zones' at "
     "most once here"},
    {"DuplicateInterface",
     "interfaces {\n    inner0 { device \"net_af_packet0\"; zone inner; }\n"
     "    inner0 { device \"net_af_packet1\"; zone inner; }\n}\n",
     "lab.conf:3:5: interfaces inner0: duplicate statement (first at lab.conf:2:5); expected "
     "'inner0' at most once here"},
    {"DuplicateScalar", iface({dev, zone, "mtu 1500;", "mtu 9000;"}),
     "lab.conf:6:9: interfaces inner0 mtu: duplicate statement (first at lab.conf:5:9); "
     "expected 'mtu' at most once here"},
    {"DuplicateZone", "zones {\n    a { loop inner; }\n    a { loop outer; }\n}\n",
     "lab.conf:3:5: zones a: duplicate statement (first at lab.conf:2:5); expected 'a' at most "
     "once here"},
    {"DuplicateLoop", "zones {\n    a { loop inner; loop outer; }\n}\n",
     "lab.conf:2:21: zones a loop: duplicate statement (first at lab.conf:2:9); expected 'loop' "
     "at most once here"},
    {"DuplicatePolicy", one_interface + "policy {\n    inner0 { }\n    inner0 { }\n}\n",
     "lab.conf:9:5: policy inner0: duplicate statement (first at lab.conf:8:5); expected "
     "'inner0' at most once here"},
    {"DuplicateIngress", one_interface + "policy {\n    inner0 { ingress { } ingress { } }\n}\n",
     "lab.conf:8:26: policy inner0 ingress: duplicate statement (first at lab.conf:8:14); "
     "expected 'ingress' at most once here"},
    {"DuplicateAction", rule({accept, "action drop;"}),
     "lab.conf:12:17: policy inner0 ingress rule 10 action: duplicate statement (first at "
     "lab.conf:11:17); expected 'action' at most once here"},
    {"DuplicateRuleId",
     one_interface + "policy {\n    inner0 { egress {\n        rule 10 { action drop; }\n"
                     "        rule 010 { action accept; }\n    } }\n}\n",
     "lab.conf:10:9: policy inner0 egress rule 010: duplicate rule id (first at lab.conf:9:9); "
     "expected ids unique within egress"},
    {"DuplicateVia", section("routes", {"route 0.0.0.0/0 { via 1.1.1.1; via 1.1.1.2; }"}),
     "lab.conf:8:36: routes route 0.0.0.0/0 via: duplicate statement (first at lab.conf:8:23); "
     "expected 'via' at most once here"},
    {"DuplicateRoute",
     section("routes", {"route 10.0.0.0/8 { via 1.1.1.1; }", "route 10.0.0.0/8 { via 1.1.1.2; }"}),
     "lab.conf:9:5: routes route 10.0.0.0/8: duplicate route (first at lab.conf:8:5); expected "
     "one route per prefix"},
    {"DuplicateWorkers", section("dataplane", {"workers 1;", "workers 2;"}),
     "lab.conf:9:5: dataplane workers: duplicate statement (first at lab.conf:8:5); expected "
     "'workers' at most once here"},
    {"DuplicateTimeout", section("dataplane", {"timeouts { udp 5; udp 6; }"}),
     "lab.conf:8:23: dataplane timeouts udp: duplicate statement (first at lab.conf:8:16); "
     "expected 'udp' at most once here"},

    // Numbers.
    {"MtuNotNumber", iface({dev, zone, "mtu jumbo;"}),
     "lab.conf:5:13: interfaces inner0 mtu: 'jumbo' is not a number; expected 576..9000"},
    {"MtuOutOfRange", iface({dev, zone, "mtu 9001;"}),
     "lab.conf:5:13: interfaces inner0 mtu: 9001 is out of range; expected 576..9000"},
    {"MtuHugeNumber", iface({dev, zone, "mtu 123456789012345678901234567890;"}),
     "lab.conf:5:13: interfaces inner0 mtu: 123456789012345678901234567890 is out of range; "
     "expected 576..9000"},
    {"MtuTooSmallForIpv6", iface({dev, zone, "address 2001:db8::1/64;", "mtu 1000;"}),
     "lab.conf:6:13: interfaces inner0 mtu: 1000 is too small for IPv6 address "
     "2001:db8::1/64; expected 1280..9000 on an interface with IPv6"},
    {"RuleIdZero",
     one_interface + "policy {\n    inner0 { egress { rule 0 { action drop; } } }\n}\n",
     "lab.conf:8:28: policy inner0 egress rule: 0 is out of range; expected 1..4294967295"},
    {"RuleIdTooBig",
     one_interface + "policy {\n    inner0 { egress { rule 4294967296 { action drop; } } }\n}\n",
     "lab.conf:8:28: policy inner0 egress rule: 4294967296 is out of range; expected "
     "1..4294967295"},
    {"IcmpCodeOutOfRange", rule({"protocol icmp;", "icmp-type 3;", "icmp-code 256;", accept}),
     "lab.conf:13:27: policy inner0 ingress rule 10 icmp-code: 256 is out of range; expected "
     "0..255"},
    {"WorkersOutOfRange", section("dataplane", {"workers 65;"}),
     "lab.conf:8:13: dataplane workers: 65 is out of range; expected 1..64"},
    {"MaxFlowsOutOfRange", section("dataplane", {"max-flows 1023;"}),
     "lab.conf:8:15: dataplane max-flows: 1023 is out of range; expected 1024..16777216"},
    {"TimeoutZero", section("dataplane", {"timeouts { tcp-syn 0; }"}),
     "lab.conf:8:24: dataplane timeouts tcp-syn: 0 is out of range; expected 1..604800"},

    // Names and devices.
    {"InterfaceBadName", "interfaces {\n    0inner { }\n}\n",
     "lab.conf:2:5: interfaces 0inner: '0inner' is not a valid name; expected a letter, then "
     "letters, digits, '_' or '-' (at most 31)"},
    {"ZoneBadName", "zones {\n    \"in ner\" { loop inner; }\n}\n",
     "lab.conf:2:5: zones in ner: 'in ner' is not a valid name; expected a letter, then letters, "
     "digits, '_' or '-' (at most 31)"},
    {"DeviceNotPciOrVdev", iface({"device eth0;", zone}),
     "lab.conf:3:16: interfaces inner0 device: 'eth0' is not a PCI address or DPDK vdev; "
     "expected e.g. 0000:00:04.0 or \"net_af_packet0,iface=eth1\""},
    {"DeviceBadPciFunction", iface({"device 0000:00:04.8;", zone}),
     "lab.conf:3:16: interfaces inner0 device: '0000:00:04.8' is not a PCI address or DPDK "
     "vdev; expected e.g. 0000:00:04.0 or \"net_af_packet0,iface=eth1\""},
    {"DeviceDuplicateVdev",
     "interfaces {\n    a { device \"net_af_packet0,iface=x\"; zone z; }\n"
     "    b { device \"net_af_packet0,iface=y\"; zone z; }\n}\n",
     "lab.conf:3:16: interfaces b device: 'net_af_packet0' is already used by interface a (at "
     "lab.conf:2:16); expected a device of its own"},
    {"DeviceDuplicatePci",
     "interfaces {\n    a { device 0000:00:0A.0; zone z; }\n"
     "    b { device 00:0a.0; zone z; }\n}\n",
     "lab.conf:3:16: interfaces b device: '0000:00:0a.0' is already used by interface a (at "
     "lab.conf:2:16); expected a device of its own"},
    {"InterfaceMissingDevice", iface({zone}),
     "lab.conf:2:5: interfaces inner0: missing 'device'; expected 'device \"<pci-or-vdev>\";'"},
    {"InterfaceMissingZone", iface({dev}),
     "lab.conf:2:5: interfaces inner0: missing 'zone'; expected 'zone <zone>;'"},
    {"ZoneBadLoop", "zones {\n    inner { loop dmz; }\n}\n",
     "lab.conf:2:18: zones inner loop: 'dmz' is not a loop; expected inner, outer, internet or "
     "shielded"},
    {"ZoneMissingLoop", "zones {\n    inner { }\n}\n",
     "lab.conf:2:5: zones inner: missing 'loop'; expected 'loop inner, outer, internet or "
     "shielded;'"},

    // References.
    {"ZoneReferenceUnknown", iface({dev, "zone outer;"}),
     "lab.conf:4:14: interfaces inner0 zone: no zone named 'outer'; expected one of inner"},
    {"ZoneReferenceNoZones", "interfaces {\n    inner0 { device net_x0; zone inner; }\n}\n",
     "lab.conf:2:34: interfaces inner0 zone: no zone named 'inner'; expected a zone defined "
     "under 'zones'"},
    {"PolicyInterfaceUnknown", one_interface + "policy {\n    outer0 { }\n}\n",
     "lab.conf:8:5: policy outer0: no interface named 'outer0'; expected one of inner0"},
    {"PolicyNoInterfaces", "policy {\n    outer0 { }\n}\n",
     "lab.conf:2:5: policy outer0: no interface named 'outer0'; expected an interface defined "
     "under 'interfaces'"},
    {"RouteInterfaceUnknown", section("routes", {"route 10.0.0.0/8 { interface eth0; }"}),
     "lab.conf:8:34: routes route 10.0.0.0/8 interface: no interface named 'eth0'; expected "
     "one of inner0"},

    // Addresses and prefixes.
    {"AddressNotAnAddress", iface({dev, zone, "address 198.18.1/24;"}),
     "lab.conf:5:17: interfaces inner0 address: '198.18.1/24' is not an IPv4 or IPv6 address; "
     "expected e.g. 198.18.1.0/24 or 2001:db8::/32"},
    {"AddressBadLength", iface({dev, zone, "address 2001:db8::1/129;"}),
     "lab.conf:5:17: interfaces inner0 address: '2001:db8::1/129' has an invalid prefix length; "
     "expected 0..32 for IPv4 or 0..128 for IPv6"},
    {"AddressNoLength", iface({dev, zone, "address [ 198.18.1.1/24 198.18.9.1 ];"}),
     "lab.conf:5:33: interfaces inner0 address: '198.18.9.1' has no prefix length; expected "
     "the address with its subnet length, e.g. 198.18.1.1/24"},
    {"RuleHostBits", rule({"source 198.18.1.1/24;", accept}),
     "lab.conf:11:24: policy inner0 ingress rule 10 source: 198.18.1.1/24 has host bits set; "
     "did you mean 198.18.1.0/24?"},
    {"RuleHostBitsIpv6", rule({"destination [ 2001:db8::/32 2001:db8:1::1/48 ];", accept}),
     "lab.conf:11:45: policy inner0 ingress rule 10 destination: 2001:db8:1::1/48 has host bits "
     "set; did you mean 2001:db8:1::/48?"},
    {"RouteHostBits", section("routes", {"route 203.0.113.1/24 { via 203.0.113.254; }"}),
     "lab.conf:8:11: routes route: 203.0.113.1/24 has host bits set; did you mean "
     "203.0.113.0/24?"},
    {"RouteBadPrefix", section("routes", {"route default { via 203.0.113.254; }"}),
     "lab.conf:8:11: routes route: 'default' is not an IPv4 or IPv6 address; expected e.g. "
     "198.18.1.0/24 or 2001:db8::/32"},
    {"RouteViaWithLength", section("routes", {"route 0.0.0.0/0 { via 203.0.113.254/24; }"}),
     "lab.conf:8:27: routes route 0.0.0.0/0 via: '203.0.113.254/24' has a prefix length; "
     "expected a bare address, e.g. 203.0.113.254"},
    {"RouteViaBadAddress", section("routes", {"route 0.0.0.0/0 { via gw; }"}),
     "lab.conf:8:27: routes route 0.0.0.0/0 via: 'gw' is not an IPv4 or IPv6 address; expected "
     "e.g. 198.18.1.0/24 or 2001:db8::/32"},
    {"RouteViaWrongFamily", section("routes", {"route ::/0 { via 203.0.113.254; }"}),
     "lab.conf:8:22: routes route ::/0 via: next hop 203.0.113.254 is IPv4 but the route is "
     "IPv6; expected an IPv6 next hop"},
    {"RouteNoViaNoInterface", section("routes", {"route ::/0 { }"}),
     "lab.conf:8:5: routes route ::/0: missing 'via' or 'interface'; expected 'via <address>;' "
     "and/or 'interface <name>;'"},

    // Rules.
    {"RuleMissingAction", rule({"protocol tcp;"}),
     "lab.conf:10:13: policy inner0 ingress rule 10: missing 'action'; expected 'action "
     "accept|drop|reject;'"},
    {"RuleBadAction", rule({"action permit;"}),
     "lab.conf:11:24: policy inner0 ingress rule 10 action: 'permit' is not an action; expected "
     "accept, drop or reject"},
    {"RuleIdNotNumber", one_interface + "policy {\n    inner0 { egress { rule ten { } } }\n}\n",
     "lab.conf:8:28: policy inner0 egress rule: 'ten' is not a number; expected 1..4294967295"},
    {"RuleBadProtocol", rule({"protocol 256;", accept}),
     "lab.conf:11:26: policy inner0 ingress rule 10 protocol: '256' is not a protocol; expected "
     "tcp, udp, icmp, icmpv6 or 0..255"},
    {"RuleMixedFamilies", rule({"source 198.18.1.0/24;", "destination 2001:db8::/32;", accept}),
     "lab.conf:12:29: policy inner0 ingress rule 10 destination: 2001:db8::/32 is IPv6 but "
     "source 198.18.1.0/24 is IPv4; expected one address family per rule"},
    {"RuleIcmpWithIpv6Prefix", rule({"destination 2001:db8::/32;", "protocol icmp;", accept}),
     "lab.conf:12:26: policy inner0 ingress rule 10 protocol: icmp is for IPv4 but destination "
     "2001:db8::/32 is IPv6; expected icmpv6 with IPv6 prefixes"},
    {"RuleIcmpv6WithIpv4Prefix", rule({"protocol 58;", "source 10.0.0.0/8;", accept}),
     "lab.conf:11:26: policy inner0 ingress rule 10 protocol: 58 is for IPv6 but source "
     "10.0.0.0/8 is IPv4; expected icmp with IPv4 prefixes"},
    {"RulePortsWithoutProtocol", rule({"destination-port 80;", accept}),
     "lab.conf:11:17: policy inner0 ingress rule 10 destination-port: ports need protocol tcp "
     "or udp; expected 'protocol tcp;' or 'protocol udp;'"},
    {"RulePortsWithIcmp", rule({"protocol icmp;", "source-port [ 1 2 ];", accept}),
     "lab.conf:12:17: policy inner0 ingress rule 10 source-port: ports need protocol tcp or "
     "udp; expected 'protocol tcp;' or 'protocol udp;'"},
    {"RuleBadPort", rule({"protocol tcp;", "destination-port [ 80 http ];", accept}),
     "lab.conf:12:39: policy inner0 ingress rule 10 destination-port: 'http' is not a port or "
     "port range; expected N or N-M with ports 0..65535"},
    {"RulePortTooBig", rule({"protocol tcp;", "destination-port 1-65536;", accept}),
     "lab.conf:12:34: policy inner0 ingress rule 10 destination-port: '1-65536' is not a port or "
     "port range; expected N or N-M with ports 0..65535"},
    {"RulePortRangeEmpty", rule({"protocol udp;", "source-port 2000-1000;", accept}),
     "lab.conf:12:29: policy inner0 ingress rule 10 source-port: '2000-1000' is an empty range; "
     "expected N-M with N <= M"},
    {"RuleIcmpTypeWithoutIcmp", rule({"protocol tcp;", "icmp-type 8;", accept}),
     "lab.conf:12:17: policy inner0 ingress rule 10 icmp-type: icmp-type needs protocol icmp or "
     "icmpv6; expected 'protocol icmp;' or 'protocol icmpv6;'"},
    {"RuleIcmpTypeUnknown", rule({"protocol icmp;", "icmp-type packet-too-big;", accept}),
     "lab.conf:12:27: policy inner0 ingress rule 10 icmp-type: 'packet-too-big' is not an icmp "
     "type; expected 0..255 or one of echo-reply, dest-unreachable, source-quench, redirect, "
     "echo-request, router-advertisement, router-solicitation, time-exceeded, "
     "parameter-problem, timestamp-request, timestamp-reply"},
    {"RuleIcmpv6TypeUnknown", rule({"protocol icmpv6;", "icmp-type source-quench;", accept}),
     "lab.conf:12:27: policy inner0 ingress rule 10 icmp-type: 'source-quench' is not an icmpv6 "
     "type; expected 0..255 or one of dest-unreachable, packet-too-big, time-exceeded, "
     "parameter-problem, echo-request, echo-reply, router-solicitation, router-advertisement, "
     "neighbor-solicitation, neighbor-advertisement, redirect"},
    {"RuleIcmpCodeWithoutType", rule({"protocol icmp;", "icmp-code 0;", accept}),
     "lab.conf:12:17: policy inner0 ingress rule 10 icmp-code: icmp-code needs an icmp-type; "
     "expected 'icmp-type <name|0..255>;' in this rule"},

    // NAT44: shapes, names and values.
    {"NatShapeNoBlock", nat_interfaces + "nat;\n",
     "lab.conf:10:1: nat: missing block; expected 'nat { static|source|destination <name> { ... "
     "} }'"},
    {"NatUnknownStatement", nat({"masquerade inet0;"}),
     "lab.conf:11:5: nat masquerade: unknown statement; expected one of static, source, "
     "destination, mss-clamp"},
    {"NatStaticNoName", nat({"static { }"}),
     "lab.conf:11:5: nat static: missing value; expected 'static <name> { interface "
     "<interface>; inside <ipv4-address>; outside <ipv4-address>; }'"},
    {"NatSourceNoBlock", nat({"source lan;"}),
     "lab.conf:11:5: nat source: missing block; expected 'source <name> { interface "
     "<interface>; ... }'"},
    {"NatDestinationBadName", nat({"destination 80web { }"}),
     "lab.conf:11:17: nat destination: '80web' is not a valid name; expected a letter, then "
     "letters, digits, '_' or '-' (at most 31)"},
    {"NatDuplicateName",
     nat({"source lan { interface inet0; }", "source lan { interface inet0; from 10.0.0.0/8; }"}),
     "lab.conf:12:5: nat source lan: duplicate statement (first at lab.conf:11:5); expected "
     "'lan' at most once here"},
    {"NatSameNameOtherKind",
     nat({"source web { interface inet0; }", "static web { interface inet0; }"}),
     "lab.conf:12:5: nat static web: missing 'inside'; expected 'inside <ipv4-address>;'"},
    {"NatUnknownInStatic", nat({"static web { interface inet0; ports 80; }"}),
     "lab.conf:11:35: nat static web ports: unknown statement; expected one of interface, "
     "inside, outside, hairpin"},
    {"NatUnknownInSource", nat({"source lan { interface inet0; to 10.0.0.1; }"}),
     "lab.conf:11:35: nat source lan to: unknown statement; expected one of interface, from, "
     "pool, ports, mapping, max-per-source"},
    {"NatUnknownInDestination", nat({"destination web { pool 203.0.113.9; }"}),
     "lab.conf:11:23: nat destination web pool: unknown statement; expected one of interface, "
     "protocol, address, port, to, to-port, hairpin"},
    {"NatDuplicateInterface", nat({"source lan { interface inet0; interface inner0; }"}),
     "lab.conf:11:35: nat source lan interface: duplicate statement (first at lab.conf:11:18); "
     "expected 'interface' at most once here"},
    {"NatDuplicateMssClamp", nat({"mss-clamp 1400;", "mss-clamp 1300;"}),
     "lab.conf:12:5: nat mss-clamp: duplicate statement (first at lab.conf:11:5); expected "
     "'mss-clamp' at most once here"},
    {"NatStaticMissingInterface", nat({"static web { inside 198.18.1.10; outside 203.0.113.10; }"}),
     "lab.conf:11:5: nat static web: missing 'interface'; expected 'interface <interface>;'"},
    {"NatStaticMissingOutside", nat({"static web { interface inet0; inside 198.18.1.10; }"}),
     "lab.conf:11:5: nat static web: missing 'outside'; expected 'outside <ipv4-address>;'"},
    {"NatSourceMissingInterface", nat({"source lan { from 198.18.1.0/24; }"}),
     "lab.conf:11:5: nat source lan: missing 'interface'; expected 'interface <interface>;'"},
    {"NatDestinationMissingInterface",
     nat({"destination web { protocol tcp; port 80; to 198.18.1.10; }"}),
     "lab.conf:11:5: nat destination web: missing 'interface'; expected 'interface "
     "<interface>;'"},
    {"NatDestinationMissingProtocol",
     nat({"destination web { interface inet0; port 80; to 198.18.1.10; }"}),
     "lab.conf:11:5: nat destination web: missing 'protocol'; expected 'protocol tcp|udp;'"},
    {"NatDestinationMissingPort",
     nat({"destination web { interface inet0; protocol tcp; to 198.18.1.10; }"}),
     "lab.conf:11:5: nat destination web: missing 'port'; expected 'port <1..65535>;'"},
    {"NatDestinationMissingTo",
     nat({"destination web { interface inet0; protocol tcp; port 80; }"}),
     "lab.conf:11:5: nat destination web: missing 'to'; expected 'to <ipv4-address>;'"},
    {"NatInterfaceList", nat({"source lan { interface [ inet0 inner0 ]; }"}),
     "lab.conf:11:28: nat source lan interface: a list is not allowed here; expected "
     "'interface <interface>;'"},
    {"NatStaticInsideIpv6",
     nat({"static web { interface inet0; inside 2001:db8:1::10; outside 203.0.113.10; }"}),
     "lab.conf:11:42: nat static web inside: 2001:db8:1::10 is IPv6: NAT44 translates IPv4 "
     "only; IPv6 is routed untranslated; expected an IPv4 address, e.g. 203.0.113.10"},
    {"NatSourceFromIpv6",
     nat({"source lan { interface inet0; from [ 198.18.1.0/24 2001:db8::/32 "
          "]; }"}),
     "lab.conf:11:56: nat source lan from: 2001:db8::/32 is IPv6: NAT44 translates IPv4 only; "
     "IPv6 is routed untranslated; expected an IPv4 prefix, e.g. 198.18.1.0/24"},
    {"NatSourceFromHostBits", nat({"source lan { interface inet0; from 198.18.1.1/24; }"}),
     "lab.conf:11:40: nat source lan from: 198.18.1.1/24 has host bits set; did you mean "
     "198.18.1.0/24?"},
    {"NatStaticOutsideWithLength",
     nat({"static web { interface inet0; inside 198.18.1.10; outside 203.0.113.10/32; }"}),
     "lab.conf:11:63: nat static web outside: '203.0.113.10/32' has a prefix length; expected "
     "a bare address, e.g. 203.0.113.254"},
    {"NatPoolNotUnicast", nat({"source lan { interface inet0; pool 224.0.0.1; }"}),
     "lab.conf:11:40: nat source lan pool: 224.0.0.1 is not a unicast host address; expected "
     "an IPv4 address outside 0.0.0.0/8, 127.0.0.0/8 and 224.0.0.0/3"},
    {"NatDestinationToNotAddress",
     nat({"destination web { interface inet0; protocol tcp; port 80; to server; }"}),
     "lab.conf:11:66: nat destination web to: 'server' is not an IPv4 or IPv6 address; "
     "expected e.g. 198.18.1.0/24 or 2001:db8::/32"},
    {"NatPortsEmptyRange", nat({"source lan { interface inet0; ports 2000-1000; }"}),
     "lab.conf:11:41: nat source lan ports: '2000-1000' is an empty range; expected N-M with N "
     "<= M"},
    {"NatPortsZero", nat({"source lan { interface inet0; ports 0-1023; }"}),
     "lab.conf:11:41: nat source lan ports: '0-1023' includes port 0; expected a range within "
     "1..65535, e.g. 1024-65535"},
    {"NatPortsTooFew", nat({"source lan { interface inet0; ports 1024-1086; }"}),
     "lab.conf:11:41: nat source lan ports: '1024-1086' is 63 ports, fewer than 64; expected a "
     "range of at least 64 ports, e.g. 1024-65535"},
    {"NatPortsOne", nat({"source lan { interface inet0; ports 5000; }"}),
     "lab.conf:11:41: nat source lan ports: '5000' is 1 port, fewer than 64; expected a range "
     "of at least 64 ports, e.g. 1024-65535"},
    {"NatPortsNotRange", nat({"source lan { interface inet0; ports high; }"}),
     "lab.conf:11:41: nat source lan ports: 'high' is not a port or port range; expected N or "
     "N-M with ports 0..65535"},
    {"NatBadMapping", nat({"source lan { interface inet0; mapping full-cone; }"}),
     "lab.conf:11:43: nat source lan mapping: 'full-cone' is not a mapping; expected "
     "endpoint-independent or endpoint-dependent"},
    {"NatMaxPerSourceOutOfRange", nat({"source lan { interface inet0; max-per-source 1000001; }"}),
     "lab.conf:11:50: nat source lan max-per-source: 1000001 is out of range; expected "
     "0..1000000"},
    {"NatPoolTooLong", nat({"source lan { interface inet0; pool " + pool_of(65) + "; }"}),
     "lab.conf:11:938: nat source lan pool: more than 64 pool addresses; expected at most 64 "
     "addresses in the pool of one source rule"},
    {"NatPoolTooLongRepeated",
     nat({"source lan { interface inet0; pool " + pool_of(64) + "; pool 203.0.113.9; }"}),
     "lab.conf:11:946: nat source lan pool: more than 64 pool addresses; expected at most 64 "
     "addresses in the pool of one source rule"},
    {"NatDestinationProtocolIcmp",
     nat({"destination ping { interface inet0; protocol icmp; port 1; to 198.18.1.10; }"}),
     "lab.conf:11:50: nat destination ping protocol: 'icmp' cannot be forwarded: destination "
     "NAT needs ports; expected tcp or udp"},
    {"NatDestinationPortZero",
     nat({"destination web { interface inet0; protocol tcp; port 0; to 198.18.1.10; }"}),
     "lab.conf:11:59: nat destination web port: 0 is out of range; expected 1..65535"},
    {"NatDestinationToPortTooBig",
     nat({"destination web { interface inet0; protocol tcp; port "
          "80; to 198.18.1.10; to-port 65536; }"}),
     "lab.conf:11:87: nat destination web to-port: 65536 is out of range; expected 1..65535"},
    {"NatMssClampTooSmall", nat({"mss-clamp 535;"}),
     "lab.conf:11:15: nat mss-clamp: 535 is out of range; expected 536..9000"},
    {"NatMssClampNotNumber", nat({"mss-clamp auto;"}),
     "lab.conf:11:15: nat mss-clamp: 'auto' is not a number; expected 536..9000"},

    // NAT44: one role per address.
    {"NatDuplicateStaticOutside",
     nat({"static a { interface inet0; inside 198.18.1.10; outside 203.0.113.10; }",
          "static b { interface inet0; inside 198.18.1.11; outside 203.0.113.10; }"}),
     "lab.conf:12:61: nat static b outside: 203.0.113.10 is already the outside address of "
     "static a (at lab.conf:11:61); expected each address in one NAT role: the inside or the "
     "outside of one static, or the pool of one source rule"},
    {"NatDuplicateStaticInside",
     nat({"static a { interface inet0; inside 198.18.1.10; outside 203.0.113.10; }",
          "static b { interface inet0; inside 198.18.1.10; outside 203.0.113.11; }"}),
     "lab.conf:12:40: nat static b inside: 198.18.1.10 is already the inside address of static "
     "a (at lab.conf:11:40); expected each address in one NAT role: the inside or the outside "
     "of one static, or the pool of one source rule"},
    {"NatStaticChain",
     nat({"static a { interface inet0; inside 198.18.1.10; outside 203.0.113.10; }",
          "static b { interface inet0; inside 203.0.113.10; outside 203.0.113.11; }"}),
     "lab.conf:12:40: nat static b inside: 203.0.113.10 is already the outside address of "
     "static a (at lab.conf:11:61); expected each address in one NAT role: the inside or the "
     "outside of one static, or the pool of one source rule"},
    {"NatPoolIsStaticInside",
     nat({"source lan { interface inet0; pool 198.18.1.10; }",
          "static a { interface inet0; inside 198.18.1.10; outside 203.0.113.10; }"}),
     "lab.conf:12:40: nat static a inside: 198.18.1.10 is already in the pool of source lan "
     "(at lab.conf:11:40); expected each address in one NAT role: the inside or the outside of "
     "one static, or the pool of one source rule"},
    {"NatPoolInTwoRules",
     nat({"source a { interface inet0; pool 203.0.113.9; }",
          "source b { interface inet0; pool [ 203.0.113.8 203.0.113.9 ]; }"}),
     "lab.conf:12:52: nat source b pool: 203.0.113.9 is already in the pool of source a (at "
     "lab.conf:11:38); expected each address in one NAT role: the inside or the outside of one "
     "static, or the pool of one source rule"},
    {"NatDestinationOnStaticOutside",
     nat({"static a { interface inet0; inside 198.18.1.10; outside 203.0.113.10; }",
          "destination web { interface inet0; protocol tcp; address 203.0.113.10; port 80; to "
          "198.18.1.20; }"}),
     "lab.conf:12:62: nat destination web address: 203.0.113.10 is already the outside address "
     "of static a (at lab.conf:11:61); expected no destination rule for the outside address of "
     "a static"},

    // NAT44: checks against the interfaces, after the whole file.
    {"NatInterfaceUnknown", nat({"source lan { interface eth9; }"}),
     "lab.conf:11:28: nat source lan interface: no interface named 'eth9'; expected one of "
     "inner0, inet0, bare0"},
    {"NatStaticOutsideIsInterfaceAddress",
     nat({"static a { interface inet0; inside 198.18.1.10; outside 198.18.1.1; }"}),
     "lab.conf:11:61: nat static a outside: 198.18.1.1 is the address of interface inner0; "
     "expected an address of its own (the gateway's own addresses take a source or destination "
     "rule)"},
    {"NatSourceEmptyPoolNoAddress", nat({"source lan { interface bare0; }"}),
     "lab.conf:11:28: nat source lan interface: interface bare0 has no IPv4 address to "
     "translate to; expected an IPv4 address on bare0 or 'pool <ipv4-address>;'"},
    {"NatDestinationNoAddress",
     nat({"destination web { interface bare0; protocol tcp; port 80; to 198.18.1.10; }"}),
     "lab.conf:11:33: nat destination web interface: interface bare0 has no IPv4 address to "
     "forward from; expected an IPv4 address on bare0 or 'address <ipv4-address>;'"},
    {"NatDestinationDuplicate",
     nat({"destination a { interface inet0; protocol tcp; port 80; to 198.18.1.10; }",
          "destination b { interface inet0; protocol tcp; address 203.0.113.1; port 80; to "
          "198.18.1.11; }"}),
     "lab.conf:12:5: nat destination b: tcp 203.0.113.1 port 80 on inet0 is already forwarded "
     "by destination a (at lab.conf:11:5); expected one destination rule per interface, "
     "protocol, address and port"},

    // uRPF.
    {"UrpfUnknownMode", iface({dev, zone, "urpf on;"}),
     "lab.conf:5:14: interfaces inner0 urpf: 'on' is not a uRPF mode; expected strict (the "
     "route back to the source leaves by this interface), loose (some route leads back) or "
     "off"},
    {"UrpfTwice", iface({dev, zone, "urpf strict;", "urpf loose;"}),
     "lab.conf:6:9: interfaces inner0 urpf: duplicate statement (first at lab.conf:5:9); "
     "expected 'urpf' at most once here"},
    {"UrpfMissingMode", iface({dev, zone, "urpf;"}),
     "lab.conf:5:9: interfaces inner0 urpf: missing value; expected 'urpf "
     "strict|loose|off;'"},

    // The screen: its zone, its statements, ranges and actions (R128-e).
    {"SecurityUnknown", security({"firewall { }"}),
     "lab.conf:8:5: security firewall: unknown statement; expected one of categories, screen"},
    {"ScreenNoZone", security({"screen { }"}),
     "lab.conf:8:5: security screen: missing value; expected 'screen <zone> { syn-flood { ... "
     "} source-rate { ... } ... }'"},
    {"ScreenBadZoneName", security({"screen 9dmz { }"}),
     "lab.conf:8:12: security screen: '9dmz' is not a valid name; expected a letter, then "
     "letters, digits, '_' or '-' (at most 31)"},
    {"ScreenUnknownZone", security({"screen dmz { }"}),
     "lab.conf:8:12: security screen dmz: no zone named 'dmz'; expected one of inner"},
    {"ScreenDuplicateZone", security({"screen inner { block-time 5; }", "screen inner { }"}),
     "lab.conf:9:5: security screen inner: duplicate screen for zone inner (first at "
     "lab.conf:8:5); expected one screen per zone"},
    {"ScreenUnknownStatement", screen({"syn-cookies on;"}),
     "lab.conf:9:9: security screen inner syn-cookies: unknown statement; expected one of "
     "block-time, syn-flood, source-rate, icmp-flood, udp-flood, scan, tcp-flags, spoofing, "
     "ip-options, fragments"},
    {"ScreenUnknownInDefence", screen({"syn-flood { rate 5; }"}),
     "lab.conf:9:21: security screen inner syn-flood rate: unknown statement; expected one of "
     "threshold, action"},
    {"ScreenBogonsOutsideSpoofing", screen({"tcp-flags { bogons 10.0.0.0/8; }"}),
     "lab.conf:9:21: security screen inner tcp-flags bogons: unknown statement; expected one of "
     "action"},
    {"ScreenDefenceTwice", screen({"syn-flood { threshold 5; }", "syn-flood { action drop; }"}),
     "lab.conf:10:9: security screen inner syn-flood: duplicate statement (first at "
     "lab.conf:9:9); expected 'syn-flood' at most once here"},
    {"ScreenFieldTwice", screen({"scan { hosts 5; hosts 6; }"}),
     "lab.conf:9:25: security screen inner scan hosts: duplicate statement (first at "
     "lab.conf:9:16); expected 'hosts' at most once here"},
    {"ScreenDefenceNotABlock", screen({"fragments drop;"}),
     "lab.conf:9:19: security screen inner fragments: unexpected 'drop'; expected 'fragments { "
     "action drop|off; }'"},
    {"ScreenBlockTimeZero", screen({"block-time 0;"}),
     "lab.conf:9:20: security screen inner block-time: 0 is out of range; expected 1..86400"},
    {"ScreenBlockTimeTooLong", screen({"block-time 86401;"}),
     "lab.conf:9:20: security screen inner block-time: 86401 is out of range; expected "
     "1..86400"},
    {"ScreenSynThresholdTooBig", screen({"syn-flood { threshold 1000001; }"}),
     "lab.conf:9:31: security screen inner syn-flood threshold: 1000001 is out of range; "
     "expected 0..1000000"},
    {"ScreenNewPerSecondZero", screen({"source-rate { new-per-second 0; }"}),
     "lab.conf:9:38: security screen inner source-rate new-per-second: 0 is out of range; "
     "expected 1..10000000"},
    {"ScreenConcurrentTooBig", screen({"source-rate { concurrent 10000001; }"}),
     "lab.conf:9:34: security screen inner source-rate concurrent: 10000001 is out of range; "
     "expected 0..10000000"},
    {"ScreenBurstNotNumber", screen({"icmp-flood { burst lots; }"}),
     "lab.conf:9:28: security screen inner icmp-flood burst: 'lots' is not a number; expected "
     "1..10000000"},
    {"ScreenUdpRateTooBig", screen({"udp-flood { per-second 10000001; }"}),
     "lab.conf:9:32: security screen inner udp-flood per-second: 10000001 is out of range; "
     "expected 1..10000000"},
    {"ScreenScanOneHost", screen({"scan { hosts 1; }"}),
     "lab.conf:9:22: security screen inner scan hosts: 1 is out of range; expected 2..65536"},
    {"ScreenScanTooManyPorts", screen({"scan { ports 65537; }"}),
     "lab.conf:9:22: security screen inner scan ports: 65537 is out of range; expected "
     "2..65536"},
    {"ScreenScanWindowTooLong", screen({"scan { window 3601; }"}),
     "lab.conf:9:23: security screen inner scan window: 3601 is out of range; expected "
     "1..3600"},
    {"ScreenUnknownAction", screen({"spoofing { action reject; }"}),
     "lab.conf:9:27: security screen inner spoofing action: 'reject' is not an action; "
     "expected drop, alarm or off"},
    {"ScreenSynFloodBlock", screen({"syn-flood { action block; }"}),
     "lab.conf:9:28: security screen inner syn-flood action: 'block' is not an action of "
     "syn-flood; expected cookie, drop, alarm or off"},
    {"ScreenSourceRateCookie", screen({"source-rate { action cookie; }"}),
     "lab.conf:9:30: security screen inner source-rate action: 'cookie' is not an action of "
     "source-rate; expected drop, block, alarm or off"},
    {"ScreenIcmpFloodCookie", screen({"icmp-flood { action cookie; }"}),
     "lab.conf:9:29: security screen inner icmp-flood action: 'cookie' is not an action of "
     "icmp-flood; expected drop, block, alarm or off"},
    {"ScreenScanDrop", screen({"scan { action drop; }"}),
     "lab.conf:9:23: security screen inner scan action: 'drop' is not an action of scan; "
     "expected alarm, block or off"},
    {"ScreenTcpFlagsBlock", screen({"tcp-flags { action block; }"}),
     "lab.conf:9:28: security screen inner tcp-flags action: 'block' is not an action of "
     "tcp-flags; expected drop, alarm or off"},
    {"ScreenIpOptionsCookie", screen({"ip-options { action cookie; }"}),
     "lab.conf:9:29: security screen inner ip-options action: 'cookie' is not an action of "
     "ip-options; expected drop, alarm or off"},
    {"ScreenFragmentsAlarm", screen({"fragments { action alarm; }"}),
     "lab.conf:9:28: security screen inner fragments action: 'alarm' is not an action of "
     "fragments; expected drop or off"},
    {"ScreenBurstBelowRate", screen({"source-rate { new-per-second 500; burst 400; }"}),
     "lab.conf:9:49: security screen inner source-rate burst: 400 is below new-per-second 500: "
     "a source could never send a second's worth at once; expected a burst of at least 500"},
    {"ScreenRateAboveDefaultBurst", screen({"icmp-flood { per-second 500; }"}),
     "lab.conf:9:33: security screen inner icmp-flood per-second: 500 is above the default "
     "burst 400; expected at most 400, or 'burst <500..10000000>;' as well"},
    {"ScreenUdpBurstBelowRate", screen({"udp-flood { burst 10; per-second 11; }"}),
     "lab.conf:9:27: security screen inner udp-flood burst: 10 is below per-second 11: a "
     "source could never send a second's worth at once; expected a burst of at least 11"},
    {"ScreenBogonHostBits", screen({"spoofing { bogons [ 10.0.0.0/8 192.0.2.1/24 ]; }"}),
     "lab.conf:9:40: security screen inner spoofing bogons: 192.0.2.1/24 has host bits set; did "
     "you mean 192.0.2.0/24?"},
    {"ScreenBogonNotAPrefix", screen({"spoofing { bogons martians; }"}),
     "lab.conf:9:27: security screen inner spoofing bogons: 'martians' is not an IPv4 or IPv6 "
     "address; expected e.g. 198.18.1.0/24 or 2001:db8::/32"},

    // Category blocking (R134-1): the block, its settings and the malicious lists.
    {"SecurityNotABlock", one_interface + "security;\n",
     "lab.conf:7:1: security: missing block; expected 'security { categories { ... } screen "
     "<zone> { ... } }'"},
    {"CategoriesTwice", security({"categories { }", "categories { reset off; }"}),
     "lab.conf:9:5: security categories: duplicate statement (first at lab.conf:8:5); expected "
     "'categories' at most once here"},
    {"CategoriesNotABlock", security({"categories;"}),
     "lab.conf:8:5: security categories: missing block; expected 'categories { inspect-packets "
     "<1..64>; exception <name> { ... } vpn-channel <name> { ... } malicious { ... } }'"},
    {"CategoriesWithAName", security({"categories all { }"}),
     "lab.conf:8:16: security categories: unexpected 'all'; expected 'categories { "
     "inspect-packets <1..64>; exception <name> { ... } vpn-channel <name> { ... } malicious { "
     "... } }'"},
    {"CategoriesUnknownStatement", categories({"block-all on;"}),
     "lab.conf:9:9: security categories block-all: unknown statement; expected one of "
     "inspect-packets, inspected-flows, reset, exception, vpn-channel, malicious"},
    {"InspectPacketsZero", categories({"inspect-packets 0;"}),
     "lab.conf:9:25: security categories inspect-packets: 0 is out of range; expected 1..64"},
    {"InspectPacketsTooMany", categories({"inspect-packets 65;"}),
     "lab.conf:9:25: security categories inspect-packets: 65 is out of range; expected 1..64"},
    {"InspectPacketsNotANumber", categories({"inspect-packets few;"}),
     "lab.conf:9:25: security categories inspect-packets: 'few' is not a number; expected "
     "1..64"},
    {"InspectPacketsTwice", categories({"inspect-packets 4;", "inspect-packets 8;"}),
     "lab.conf:10:9: security categories inspect-packets: duplicate statement (first at "
     "lab.conf:9:9); expected 'inspect-packets' at most once here"},
    {"InspectedFlowsTooFew", categories({"inspected-flows 255;"}),
     "lab.conf:9:25: security categories inspected-flows: 255 is out of range; expected "
     "256..1048576"},
    {"InspectedFlowsTooMany", categories({"inspected-flows 1048577;"}),
     "lab.conf:9:25: security categories inspected-flows: 1048577 is out of range; expected "
     "256..1048576"},
    {"InspectedFlowsTwice", categories({"inspected-flows 256;", "inspected-flows 512;"}),
     "lab.conf:10:9: security categories inspected-flows: duplicate statement (first at "
     "lab.conf:9:9); expected 'inspected-flows' at most once here"},
    {"ResetNotOnOrOff", categories({"reset yes;"}),
     "lab.conf:9:15: security categories reset: 'yes' is not on or off; expected on (a blocked "
     "TCP flow gets a RST each way) or off (its packets are dropped silently)"},
    {"ResetMissing", categories({"reset;"}),
     "lab.conf:9:9: security categories reset: missing value; expected 'reset on|off;'"},
    {"ResetList", categories({"reset [ on off ];"}),
     "lab.conf:9:15: security categories reset: a list is not allowed here; expected 'reset "
     "on|off;'"},
    {"ResetTwice", categories({"reset off;", "reset on;"}),
     "lab.conf:10:9: security categories reset: duplicate statement (first at lab.conf:9:9); "
     "expected 'reset' at most once here"},
    {"MaliciousTwice", categories({"malicious { domain a.example; }", "malicious { }"}),
     "lab.conf:10:9: security categories malicious: duplicate statement (first at "
     "lab.conf:9:9); expected 'malicious' at most once here"},
    {"MaliciousNotABlock", categories({"malicious domain a.example;"}),
     "lab.conf:9:19: security categories malicious: unexpected 'domain'; expected 'malicious { "
     "domain <name>; address <prefix>; file \"<path>\"; }'"},
    {"MaliciousUnknownStatement", categories({"malicious { url http://x.example/; }"}),
     "lab.conf:9:21: security categories malicious url: unknown statement; expected one of "
     "domain, address, file"},
    {"MaliciousDomainEmptyLabel", categories({"malicious { domain [ a.example bad..example ]; }"}),
     "lab.conf:9:40: security categories malicious domain: 'bad..example' is not a DNS name; "
     "expected labels of letters, digits, '-' or '_' joined by dots, at most 253 characters, "
     "e.g. malware.example"},
    {"MaliciousDomainTrailingDot", categories({"malicious { domain malware.example.; }"}),
     "lab.conf:9:28: security categories malicious domain: 'malware.example.' is not a DNS "
     "name; expected labels of letters, digits, '-' or '_' joined by dots, at most 253 "
     "characters, e.g. malware.example"},
    {"MaliciousDomainWildcard", categories({"malicious { domain *.example; }"}),
     "lab.conf:9:28: security categories malicious domain: '*.example' is not a DNS name; "
     "expected labels of letters, digits, '-' or '_' joined by dots, at most 253 characters, "
     "e.g. malware.example"},
    {"MaliciousDomainLongLabel",
     categories({"malicious { domain " + std::string(64, 'a') + ".example; }"}),
     "lab.conf:9:28: security categories malicious domain: '" + std::string(64, 'a') +
         ".example' is not a DNS name; expected labels of letters, digits, '-' or '_' joined by "
         "dots, at most 253 characters, e.g. malware.example"},
    {"MaliciousDomainMissing", categories({"malicious { domain; }"}),
     "lab.conf:9:21: security categories malicious domain: missing value; expected 'domain "
     "<name>; or domain [ <name> ... ];'"},
    {"MaliciousAddressHostBits", categories({"malicious { address 192.0.2.1/24; }"}),
     "lab.conf:9:29: security categories malicious address: 192.0.2.1/24 has host bits set; "
     "did you mean 192.0.2.0/24?"},
    {"MaliciousAddressNotAPrefix", categories({"malicious { address evil.example; }"}),
     "lab.conf:9:29: security categories malicious address: 'evil.example' is not an IPv4 or "
     "IPv6 address; expected e.g. 198.18.1.0/24 or 2001:db8::/32"},
    {"MaliciousFileRelative", categories({"malicious { file \"lists/bad.txt\"; }"}),
     "lab.conf:9:26: security categories malicious file: 'lists/bad.txt' is not an absolute "
     "path of at most 255 characters; expected e.g. \"/etc/qorgan/malicious.list\""},
    {"MaliciousFileEmpty", categories({"malicious { file \"\"; }"}),
     "lab.conf:9:26: security categories malicious file: '' is not an absolute path of at most "
     "255 characters; expected e.g. \"/etc/qorgan/malicious.list\""},
    {"MaliciousFileTooLong", categories({"malicious { file \"/" + std::string(255, 'x') + "\"; }"}),
     "lab.conf:9:26: security categories malicious file: '/" + std::string(255, 'x') +
         "' is not an absolute path of at most 255 characters; expected e.g. "
         "\"/etc/qorgan/malicious.list\""},

    // Exceptions on official request (R134-2, R133-3).
    {"ExceptionNoName", categories({"exception { category p2p; }"}),
     "lab.conf:9:9: security categories exception: missing value; expected 'exception <name> { "
     "source <prefix>; category <category>; application <name>; reference \"<text>\"; }'"},
    {"ExceptionNotABlock", categories({"exception e1;"}),
     "lab.conf:9:9: security categories exception: missing block; expected 'exception <name> { "
     "source <prefix>; category <category>; application <name>; reference \"<text>\"; }'"},
    {"ExceptionBadName", categories({"exception 1e { }"}),
     "lab.conf:9:19: security categories exception: '1e' is not a valid name; expected a "
     "letter, then letters, digits, '_' or '-' (at most 31)"},
    {"ExceptionDuplicateName",
     categories({"exception e1 { category p2p; reference \"A-1\"; }",
                 "exception e1 { category games; reference \"A-2\"; }"}),
     "lab.conf:10:9: security categories exception e1: duplicate exception e1 (first at "
     "lab.conf:9:9); expected a name of its own for each exception"},
    {"ExceptionNeedsAReference", exception({"category p2p;"}),
     "lab.conf:9:9: security categories exception e1: exception e1 needs a reference (the "
     "official request, R134-2); expected 'reference \"<text>\";'"},
    {"ExceptionUnblocksNothing", exception({"source 198.18.1.0/24;", "reference \"A-1\";"}),
     "lab.conf:9:9: security categories exception e1: exception e1 unblocks nothing; expected "
     "at least one 'category <category>;' or 'application <name>;'"},
    {"ExceptionUnknownStatement", exception({"action accept;"}),
     "lab.conf:10:13: security categories exception e1 action: unknown statement; expected one "
     "of source, organization, category, application, reference"},
    {"ExceptionUnknownCategory", exception({"category [ p2p foo ];"}),
     "lab.conf:10:28: security categories exception e1 category: unknown category 'foo'; "
     "expected vpn|remote-access|p2p|games|unknown|malicious"},
    {"ExceptionCategoryTwice", exception({"category [ p2p games ];", "category p2p;"}),
     "lab.conf:11:22: security categories exception e1 category: 'p2p' is listed twice (first "
     "at lab.conf:10:24); expected each category once per exception"},
    {"ExceptionCategoryMissing", exception({"category;"}),
     "lab.conf:10:13: security categories exception e1 category: missing value; expected "
     "'category <category>; or category [ <category> ... ];'"},
    {"ExceptionApplicationWithSpace", exception({"application \"Bit Torrent\";"}),
     "lab.conf:10:25: security categories exception e1 application: 'Bit Torrent' is not an "
     "nDPI application name; expected 1..32 letters, digits, '_', '.' or '-', e.g. BitTorrent "
     "or SSH"},
    {"ExceptionApplicationTooLong", exception({"application " + std::string(33, 'A') + ";"}),
     "lab.conf:10:25: security categories exception e1 application: '" + std::string(33, 'A') +
         "' is not an nDPI application name; expected 1..32 letters, digits, '_', '.' or '-', "
         "e.g. BitTorrent or SSH"},
    {"ExceptionApplicationTwice", exception({"application SSH;", "application [ RDP SSH ];"}),
     "lab.conf:11:31: security categories exception e1 application: 'SSH' is listed twice "
     "(first at lab.conf:10:25); expected each application once per exception"},
    {"ExceptionReferenceTwice", exception({"reference \"A-1\";", "reference \"A-2\";"}),
     "lab.conf:11:13: security categories exception e1 reference: duplicate statement (first at "
     "lab.conf:10:13); expected 'reference' at most once here"},
    {"ExceptionReferenceEmpty", exception({"category p2p;", "reference \"\";"}),
     "lab.conf:11:23: security categories exception e1 reference: empty or longer than 255 "
     "characters; expected 'reference \"<text>\";'"},
    {"ExceptionReferenceList", exception({"reference [ A-1 A-2 ];"}),
     "lab.conf:10:23: security categories exception e1 reference: a list is not allowed here; "
     "expected 'reference \"<text>\";'"},
    {"ExceptionOrganizationTwice", exception({"organization \"A\";", "organization \"B\";"}),
     "lab.conf:11:13: security categories exception e1 organization: duplicate statement "
     "(first at lab.conf:10:13); expected 'organization' at most once here"},
    {"ExceptionOrganizationTooLong", exception({"organization \"" + std::string(256, 'o') + "\";"}),
     "lab.conf:10:26: security categories exception e1 organization: empty or longer than 255 "
     "characters; expected 'organization \"<text>\";'"},
    {"ExceptionSourceHostBits", exception({"source [ 198.18.1.0/24 198.18.2.1/24 ];"}),
     "lab.conf:10:36: security categories exception e1 source: 198.18.2.1/24 has host bits set; "
     "did you mean 198.18.2.0/24?"},
    {"ExceptionSourceNotAPrefix", exception({"source ministry;"}),
     "lab.conf:10:20: security categories exception e1 source: 'ministry' is not an IPv4 or "
     "IPv6 address; expected e.g. 198.18.1.0/24 or 2001:db8::/32"},

    // Agreed VPN channels (R133-4).
    {"ChannelNoName", categories({"vpn-channel { protocol udp; }"}),
     "lab.conf:9:9: security categories vpn-channel: missing value; expected 'vpn-channel <name> "
     "{ protocol tcp|udp; source <address>; destination <address>; destination-port "
     "<1..65535>; }'"},
    {"ChannelBadName", categories({"vpn-channel hq.main { }"}),
     "lab.conf:9:21: security categories vpn-channel: 'hq.main' is not a valid name; expected a "
     "letter, then letters, digits, '_' or '-' (at most 31)"},
    {"ChannelDuplicateName",
     categories({"vpn-channel c1 { protocol udp; source 198.18.2.10; destination 192.0.2.1; "
                 "destination-port 1194; }",
                 "vpn-channel c1 { }"}),
     "lab.conf:10:9: security categories vpn-channel c1: duplicate vpn-channel c1 (first at "
     "lab.conf:9:9); expected a name of its own for each vpn-channel"},
    {"ChannelMissingProtocol",
     channel({"source 198.18.2.10;", "destination 192.0.2.1;", "destination-port 1194;"}),
     "lab.conf:9:9: security categories vpn-channel c1: missing 'protocol'; expected 'protocol "
     "tcp|udp;'"},
    {"ChannelMissingSource",
     channel({"protocol udp;", "destination 192.0.2.1;", "destination-port 1194;"}),
     "lab.conf:9:9: security categories vpn-channel c1: missing 'source'; expected 'source "
     "<address>;'"},
    {"ChannelMissingDestination",
     channel({"protocol udp;", "source 198.18.2.10;", "destination-port 1194;"}),
     "lab.conf:9:9: security categories vpn-channel c1: missing 'destination'; expected "
     "'destination <address>;'"},
    {"ChannelMissingDestinationPort",
     channel(
         {"protocol udp;", "source 198.18.2.10;", "destination 192.0.2.1;", "source-port 1194;"}),
     "lab.conf:9:9: security categories vpn-channel c1: missing 'destination-port'; expected "
     "'destination-port <1..65535>;'"},
    {"ChannelProtocolEsp", channel({"protocol esp;"}),
     "lab.conf:10:22: security categories vpn-channel c1 protocol: 'esp' is not a VPN channel "
     "protocol; expected tcp or udp"},
    {"ChannelProtocolTwice", channel({"protocol udp;", "protocol tcp;"}),
     "lab.conf:11:13: security categories vpn-channel c1 protocol: duplicate statement (first "
     "at lab.conf:10:13); expected 'protocol' at most once here"},
    {"ChannelSourceNetwork", channel({"source 198.18.2.0/24;"}),
     "lab.conf:10:20: security categories vpn-channel c1 source: 198.18.2.0/24 is a network, not "
     "a single address; expected a bare address or one with its full length, e.g. 198.18.2.10 "
     "or 2001:db8::10/128"},
    {"ChannelDestinationNetwork6", channel({"destination 2001:db8::/64;"}),
     "lab.conf:10:25: security categories vpn-channel c1 destination: 2001:db8::/64 is a "
     "network, not a single address; expected a bare address or one with its full length, e.g. "
     "198.18.2.10 or 2001:db8::10/128"},
    {"ChannelSourceNotAnAddress", channel({"source hq;"}),
     "lab.conf:10:20: security categories vpn-channel c1 source: 'hq' is not an IPv4 or IPv6 "
     "address; expected e.g. 198.18.1.0/24 or 2001:db8::/32"},
    {"ChannelSourceList", channel({"source [ 198.18.2.10 198.18.2.11 ];"}),
     "lab.conf:10:20: security categories vpn-channel c1 source: a list is not allowed here; "
     "expected 'source <address>;'"},
    {"ChannelFamiliesDiffer",
     channel({"protocol udp;", "source 198.18.2.10;", "destination 2001:db8::1;",
              "destination-port 51820;"}),
     "lab.conf:12:25: security categories vpn-channel c1 destination: 2001:db8::1 is IPv6 but "
     "source 198.18.2.10 is IPv4; expected one address family per channel"},
    {"ChannelFamiliesDifferSourceLast",
     channel({"protocol udp;", "destination 2001:db8::1;", "destination-port 51820;",
              "source 198.18.2.10/32;"}),
     "lab.conf:13:20: security categories vpn-channel c1 source: 198.18.2.10/32 is IPv4 but "
     "destination 2001:db8::1 is IPv6; expected one address family per channel"},
    {"ChannelDestinationPortZero", channel({"destination-port 0;"}),
     "lab.conf:10:30: security categories vpn-channel c1 destination-port: 0 is out of range; "
     "expected 1..65535"},
    {"ChannelSourcePortTooBig", channel({"source-port 65536;"}),
     "lab.conf:10:25: security categories vpn-channel c1 source-port: 65536 is out of range; "
     "expected 1..65535"},
    {"ChannelPortRange", channel({"destination-port 500-501;"}),
     "lab.conf:10:30: security categories vpn-channel c1 destination-port: '500-501' is not a "
     "number; expected 1..65535"},
    {"ChannelUnknownStatement", channel({"action accept;"}),
     "lab.conf:10:13: security categories vpn-channel c1 action: unknown statement; expected one "
     "of protocol, source, destination, destination-port, source-port"},
    {"ChannelSameFlowTwice",
     categories({"vpn-channel a { protocol tcp; source 198.18.2.10; destination 192.0.2.1; "
                 "destination-port 443; }",
                 "vpn-channel b { destination-port 443; protocol tcp; destination 192.0.2.1/32; "
                 "source 198.18.2.10; }"}),
     "lab.conf:10:9: security categories vpn-channel b: tcp 198.18.2.10 -> 192.0.2.1 port 443 "
     "is already agreed by vpn-channel a (at lab.conf:9:9); expected one vpn-channel per "
     "protocol, addresses and ports"},

    // Errors of the tree come through load_text unchanged.
    {"TreeError", "interfaces {\n",
     "lab.conf:2:1: unexpected end of file: 1 block still open "
     "(opened at lab.conf:1:1)"},
};

INSTANTIATE_TEST_SUITE_P(All, ConfigSchemaError, testing::ValuesIn(error_cases),
                         [](const testing::TestParamInfo<ErrorCase> &info) {
                             return std::string(info.param.name);
                         });

} // namespace

TEST(ConfigSchema, DefaultConfigLoads) {
    auto c = load_text(default_config_text(), "default.conf");
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    ASSERT_EQ(c->interfaces.size(), 4u);
    const char *names[] = {"inner0", "outer0", "dmz0", "inet0"};
    const char *devices[] = {"net_af_packet0,iface=dp-inner", "net_af_packet1,iface=dp-outer",
                             "net_af_packet2,iface=dp-dmz", "net_af_packet3,iface=dp-inet"};
    const char *v4[] = {"198.18.1.1/24", "198.18.2.1/24", "198.18.3.1/24", "203.0.113.1/24"};
    const char *v6[] = {"2001:db8:1::1/64", "2001:db8:2::1/64", "2001:db8:3::1/64",
                        "2001:db8:100::1/64"};
    const char *zones[] = {"inner", "outer", "dmz", "internet"};
    for (int i = 0; i < 4; ++i) {
        const Interface &ifc = c->interfaces[std::size_t(i)];
        EXPECT_EQ(ifc.name, names[i]);
        EXPECT_EQ(ifc.device, devices[i]);
        ASSERT_EQ(ifc.addresses.size(), 2u);
        EXPECT_EQ(format_prefix(ifc.addresses[0]), v4[i]);
        EXPECT_EQ(format_prefix(ifc.addresses[1]), v6[i]);
        EXPECT_EQ(ifc.zone, zones[i]);
        EXPECT_EQ(ifc.mtu, 1500);
        EXPECT_FALSE(ifc.disabled);
    }
    ASSERT_EQ(c->zones.size(), 4u);
    EXPECT_EQ(c->zones[0].loop, Loop::inner);
    EXPECT_EQ(c->zones[1].loop, Loop::outer);
    EXPECT_EQ(c->zones[2].name, "dmz");
    EXPECT_EQ(c->zones[2].loop, Loop::shielded);
    EXPECT_EQ(c->zones[3].loop, Loop::internet);
    ASSERT_EQ(c->policies.size(), 4u);
    for (const InterfacePolicy &p : c->policies) {
        ASSERT_FALSE(p.egress.empty()) << p.interface;
        EXPECT_EQ(p.egress.back().id, 1000u);
        EXPECT_EQ(p.egress.back().action, Action::accept);
        for (const Rule &r : p.ingress)
            EXPECT_FALSE(r.description.empty()) << p.interface << " rule " << r.id;
    }
    ASSERT_EQ(c->routes.size(), 1u);
    EXPECT_EQ(format_prefix(c->routes[0].prefix), "198.51.100.0/24");
    ASSERT_TRUE(c->routes[0].via.has_value());
    EXPECT_EQ(format_address(*c->routes[0].via), "203.0.113.254");
    EXPECT_EQ(c->dataplane.workers, 1u);
    EXPECT_EQ(c->dataplane.max_flows, 262144u);
}

TEST(ConfigSchema, DefaultPolicyRules) {
    auto c = load_text(default_config_text(), "default.conf");
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    const InterfacePolicy *inner = find_policy(*c, "inner0");
    ASSERT_NE(inner, nullptr);
    const Rule *web = find_rule(inner->ingress, 10);
    ASSERT_NE(web, nullptr);
    EXPECT_EQ(web->protocol, proto_tcp);
    EXPECT_EQ(web->destinations, std::vector<Prefix>{P("198.18.3.0/24")});
    EXPECT_EQ(web->destination_ports, (std::vector<PortRange>{{80, 80}, {443, 443}}));
    EXPECT_EQ(web->family, 4);
    EXPECT_EQ(web->action, Action::accept);
    const Rule *ping6 = find_rule(inner->ingress, 21);
    ASSERT_NE(ping6, nullptr);
    EXPECT_EQ(ping6->protocol, proto_icmpv6);
    EXPECT_EQ(ping6->icmp_type, 128);
    EXPECT_EQ(ping6->family, 6);
    // R139-7: inner never reaches outer, checked before any accept.
    EXPECT_EQ(inner->ingress.front().destinations, std::vector<Prefix>{P("198.18.2.0/24")});
    EXPECT_EQ(inner->ingress.front().action, Action::drop);

    const InterfacePolicy *outer = find_policy(*c, "outer0");
    ASSERT_NE(outer, nullptr);
    const Rule *rst = find_rule(outer->ingress, 60);
    ASSERT_NE(rst, nullptr);
    EXPECT_EQ(rst->action, Action::reject);
    EXPECT_EQ(rst->destination_ports, (std::vector<PortRange>{{8080, 8080}}));
    EXPECT_EQ(rst->family, 0);
    const Rule *telnet = find_rule(outer->ingress, 70);
    ASSERT_NE(telnet, nullptr);
    EXPECT_EQ(telnet->action, Action::drop);
    EXPECT_TRUE(telnet->log);
    const Rule *iperf6 = find_rule(outer->ingress, 33);
    ASSERT_NE(iperf6, nullptr);
    EXPECT_EQ(iperf6->protocol, proto_udp);
    EXPECT_EQ(iperf6->destinations, std::vector<Prefix>{P("2001:db8:100::10")});
    EXPECT_EQ(iperf6->destinations[0].length, 128);

    const InterfacePolicy *inet = find_policy(*c, "inet0");
    ASSERT_NE(inet, nullptr);
    ASSERT_EQ(inet->egress.size(), 3u);
    EXPECT_EQ(inet->egress[0].sources, std::vector<Prefix>{P("198.18.1.0/24")});
    EXPECT_EQ(inet->egress[0].action, Action::drop);
    EXPECT_TRUE(inet->egress[0].log);
    EXPECT_EQ(inet->egress[1].sources, std::vector<Prefix>{P("2001:db8:1::/64")});
    const Rule *ping = find_rule(inet->ingress, 20);
    ASSERT_NE(ping, nullptr);
    EXPECT_EQ(ping->destinations, std::vector<Prefix>{P("203.0.113.1/32")});
    EXPECT_EQ(ping->icmp_type, 8);
}

TEST(ConfigSchema, FamilyDerivation) {
    Config c = load_ok(one_interface + "policy {\n    inner0 { ingress {\n"
                                       "        rule 1 { action accept; }\n"
                                       "        rule 2 { source 10.0.0.0/8; action accept; }\n"
                                       "        rule 3 { destination ::/0; action accept; }\n"
                                       "        rule 4 { protocol icmp; action accept; }\n"
                                       "        rule 5 { protocol icmpv6; action accept; }\n"
                                       "        rule 6 { protocol tcp; action accept; }\n"
                                       "        rule 7 { protocol 1; source 0.0.0.0/0; action "
                                       "drop; }\n"
                                       "    } }\n}\n");
    const auto &rules = c.policies.at(0).ingress;
    ASSERT_EQ(rules.size(), 7u);
    const uint8_t expected[] = {0, 4, 6, 4, 6, 0, 4};
    for (std::size_t i = 0; i < 7; ++i)
        EXPECT_EQ(rules[i].family, expected[i]) << "rule " << rules[i].id;
}

TEST(ConfigSchema, RuleFieldsAndOrder) {
    Config c = load_ok(rule({"description \"say \\\"hi\\\"\";", "protocol udp;",
                             "source [ 198.18.1.0/24 198.18.9.7 ];", "source 10.0.0.0/8;",
                             "source-port 1024-65535;", "destination-port [ 53 5353-5354 ];",
                             "action reject;", "log;"}) +
                       "");
    const Rule &r = c.policies.at(0).ingress.at(0);
    EXPECT_EQ(r.id, 10u);
    EXPECT_EQ(r.description, "say \"hi\"");
    EXPECT_EQ(r.protocol, proto_udp);
    EXPECT_EQ(r.sources,
              (std::vector<Prefix>{P("198.18.1.0/24"), P("198.18.9.7/32"), P("10.0.0.0/8")}));
    EXPECT_TRUE(r.destinations.empty());
    EXPECT_EQ(r.source_ports, (std::vector<PortRange>{{1024, 65535}}));
    EXPECT_EQ(r.destination_ports, (std::vector<PortRange>{{53, 53}, {5353, 5354}}));
    EXPECT_EQ(r.action, Action::reject);
    EXPECT_TRUE(r.log);
    EXPECT_EQ(r.family, 4);
    EXPECT_EQ(r.where.to_string(), "lab.conf:10:13");
}

TEST(ConfigSchema, RulesKeepListOrder) {
    Config c = load_ok(one_interface + "policy {\n    inner0 { egress {\n"
                                       "        rule 30 { action drop; }\n"
                                       "        rule 4294967295 { action accept; }\n"
                                       "        rule 1 { action reject; }\n    } }\n}\n");
    const auto &rules = c.policies.at(0).egress;
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_EQ(rules[0].id, 30u);
    EXPECT_EQ(rules[1].id, 4294967295u);
    EXPECT_EQ(rules[2].id, 1u);
    EXPECT_TRUE(c.policies.at(0).ingress.empty());
}

TEST(ConfigSchema, IcmpTypesAndCodes) {
    Config c = load_ok(one_interface + "policy {\n    inner0 { ingress {\n"
                                       "        rule 1 { protocol icmp; icmp-type time-exceeded; "
                                       "icmp-code 1; action accept; }\n"
                                       "        rule 2 { protocol icmpv6; icmp-type "
                                       "neighbor-solicitation; action accept; }\n"
                                       "        rule 3 { protocol icmpv6; icmp-type 200; "
                                       "icmp-code 255; action accept; }\n"
                                       "    } }\n}\n");
    const auto &rules = c.policies.at(0).ingress;
    EXPECT_EQ(rules[0].icmp_type, 11);
    EXPECT_EQ(rules[0].icmp_code, 1);
    EXPECT_EQ(rules[1].icmp_type, 135);
    EXPECT_FALSE(rules[1].icmp_code.has_value());
    EXPECT_EQ(rules[2].icmp_type, 200);
    EXPECT_EQ(rules[2].icmp_code, 255);
}

TEST(ConfigSchema, InterfaceAddressKeepsHostBits) {
    Config c = load_ok(iface({dev, zone, "address [ 198.18.1.1/24 2001:db8:1::1/64 ];",
                              "address 10.1.2.3/8;", "mtu 1280;", "disable;"}));
    const Interface *i = find_interface(c, "inner0");
    ASSERT_NE(i, nullptr);
    ASSERT_EQ(i->addresses.size(), 3u);
    EXPECT_EQ(format_prefix(i->addresses[0]), "198.18.1.1/24");
    EXPECT_EQ(format_prefix(i->addresses[1]), "2001:db8:1::1/64");
    EXPECT_EQ(format_prefix(i->addresses[2]), "10.1.2.3/8");
    EXPECT_EQ(i->mtu, 1280);
    EXPECT_TRUE(i->disabled);
    EXPECT_EQ(i->where.to_string(), "lab.conf:2:5");
}

TEST(ConfigSchema, PciDevicesAndReferencesInAnyOrder) {
    // Policies, routes and zones may come before what they name.
    Config c = load_ok("policy { a { } }\nroutes { route 10.0.0.0/8 { interface b; } }\n"
                       "interfaces {\n    a { device 0000:00:04.0; zone z; }\n"
                       "    b { device 00:05.1; zone z; }\n}\nzones { z { loop outer; } }\n");
    EXPECT_EQ(c.interfaces.size(), 2u);
    EXPECT_EQ(c.interfaces[1].device, "00:05.1");
    EXPECT_EQ(c.routes.at(0).interface, "b");
    EXPECT_FALSE(c.routes.at(0).via.has_value());
}

TEST(ConfigSchema, RoutesAndDataplane) {
    Config c = load_ok(one_interface +
                       "routes {\n    route 2001:db8:200::/48 { via 2001:db8:100::2; "
                       "interface inner0; }\n    route 192.0.2.7 { via 10.0.0.1; }\n}\n"
                       "dataplane {\n    workers 64;\n    max-flows 16777216;\n    idle-sleep 0;\n"
                       "    timeouts { tcp-syn 5; tcp-established 7200; tcp-closing "
                       "60; tcp-closed 2; udp 30; udp-stream 90; icmp 10; other "
                       "604800; }\n}\n");
    ASSERT_EQ(c.routes.size(), 2u);
    EXPECT_EQ(format_prefix(c.routes[0].prefix), "2001:db8:200::/48");
    EXPECT_EQ(format_address(*c.routes[0].via), "2001:db8:100::2");
    EXPECT_EQ(c.routes[0].interface, "inner0");
    EXPECT_EQ(format_prefix(c.routes[1].prefix), "192.0.2.7/32");
    EXPECT_EQ(c.dataplane.workers, 64u);
    EXPECT_EQ(c.dataplane.max_flows, 16777216u);
    EXPECT_EQ(c.dataplane.idle_sleep_us, 0u);
    const Timeouts &t = c.dataplane.timeouts;
    EXPECT_EQ(t.tcp_syn, 5u);
    EXPECT_EQ(t.tcp_established, 7200u);
    EXPECT_EQ(t.tcp_closing, 60u);
    EXPECT_EQ(t.tcp_closed, 2u);
    EXPECT_EQ(t.udp, 30u);
    EXPECT_EQ(t.udp_stream, 90u);
    EXPECT_EQ(t.icmp, 10u);
    EXPECT_EQ(t.other, 604800u);
}

TEST(ConfigSchema, NatEveryField) {
    Config c = load_ok(nat({
        "static web { interface inet0; inside 198.18.1.10; outside 203.0.113.10; }",
        "source lan {",
        "    interface inet0;",
        "    from [ 198.18.1.0/24 10.0.0.0/8 ];",
        "    from 172.16.0.0/12;",
        "    pool [ 203.0.113.20 203.0.113.21 ];",
        "    pool 203.0.113.22;",
        "    ports 20000-20063;",
        "    mapping endpoint-independent;",
        "    max-per-source 1000000;",
        "}",
        "destination ssh { interface inet0; protocol udp; address 203.0.113.30; port 2222;",
        "                  to 198.18.1.22; to-port 22; }",
        "mss-clamp 1400;",
    }));
    const Nat &n = c.nat;
    ASSERT_EQ(n.statics.size(), 1u);
    EXPECT_EQ(n.statics[0].name, "web");
    EXPECT_EQ(n.statics[0].interface, "inet0");
    EXPECT_EQ(n.statics[0].inside, P("198.18.1.10"));
    EXPECT_EQ(n.statics[0].outside, P("203.0.113.10"));
    EXPECT_EQ(n.statics[0].where.to_string(), "lab.conf:11:5");
    ASSERT_EQ(n.sources.size(), 1u);
    const NatSource &s = n.sources[0];
    EXPECT_EQ(s.name, "lan");
    EXPECT_EQ(s.interface, "inet0");
    EXPECT_EQ(s.from,
              (std::vector<Prefix>{P("198.18.1.0/24"), P("10.0.0.0/8"), P("172.16.0.0/12")}));
    EXPECT_EQ(s.pool,
              (std::vector<Address>{P("203.0.113.20"), P("203.0.113.21"), P("203.0.113.22")}));
    EXPECT_EQ(s.ports, (PortRange{20000, 20063}));
    EXPECT_TRUE(s.endpoint_independent);
    EXPECT_EQ(s.max_per_source, 1000000u);
    EXPECT_EQ(s.where.to_string(), "lab.conf:12:5");
    ASSERT_EQ(n.destinations.size(), 1u);
    const NatDestination &d = n.destinations[0];
    EXPECT_EQ(d.name, "ssh");
    EXPECT_EQ(d.interface, "inet0");
    EXPECT_EQ(d.protocol, proto_udp);
    EXPECT_EQ(d.address, P("203.0.113.30"));
    EXPECT_EQ(d.port, 2222);
    EXPECT_EQ(d.to, P("198.18.1.22"));
    EXPECT_EQ(d.to_port, 22);
    EXPECT_EQ(n.mss_clamp, 1400);
}

TEST(ConfigSchema, NatDefaultsAndListOrder) {
    // The interfaces may come after the nat section that names them.
    Config c = load_ok("nat {\n"
                       "    source lan { interface inet0; mapping endpoint-dependent; }\n"
                       "    source any { interface inner0; from 198.18.0.0/16; }\n"
                       "    destination web { interface inet0; protocol tcp; port 80; "
                       "to 198.18.1.10; }\n"
                       "    destination web2 { interface inet0; protocol udp; port 80; "
                       "to 198.18.1.10; }\n"
                       "}\n" +
                       nat_interfaces);
    const Nat &n = c.nat;
    EXPECT_TRUE(n.statics.empty());
    ASSERT_EQ(n.sources.size(), 2u);
    EXPECT_EQ(n.sources[0].name, "lan");
    EXPECT_EQ(n.sources[1].name, "any");
    const NatSource &s = n.sources[0];
    EXPECT_TRUE(s.from.empty());
    EXPECT_TRUE(s.pool.empty());
    EXPECT_EQ(s.ports, (PortRange{1024, 65535}));
    EXPECT_FALSE(s.endpoint_independent);
    EXPECT_EQ(s.max_per_source, 0u);
    ASSERT_EQ(n.destinations.size(), 2u);
    EXPECT_EQ(n.destinations[0].protocol, proto_tcp);
    EXPECT_FALSE(n.destinations[0].address.has_value());
    EXPECT_EQ(n.destinations[0].port, 80);
    EXPECT_EQ(n.destinations[0].to_port, 0); // 0: the same port
    EXPECT_FALSE(n.destinations[0].hairpin);
    EXPECT_EQ(n.mss_clamp, 0);
}

TEST(ConfigSchema, NatHairpinFlag) {
    Config c = load_ok(nat({"static web { interface inet0; inside 198.18.1.10; outside "
                            "203.0.113.50; hairpin; }",
                            "destination dns { interface inet0; protocol udp; port 53; to "
                            "198.18.1.10; hairpin; }",
                            "static mail { interface inet0; inside 198.18.1.11; outside "
                            "203.0.113.51; }"}));
    ASSERT_EQ(c.nat.statics.size(), 2u);
    EXPECT_TRUE(c.nat.statics[0].hairpin);
    EXPECT_FALSE(c.nat.statics[1].hairpin);
    EXPECT_TRUE(c.nat.destinations.at(0).hairpin);
    auto bad = load_text(nat({"static web { interface inet0; inside 198.18.1.10; outside "
                              "203.0.113.50; hairpin yes; }"}),
                         "lab.conf");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().to_string().find("hairpin;"), std::string::npos)
        << bad.error().to_string();
}

TEST(ConfigSchema, NatSharedAddressesThatAreAllowed) {
    // A pool may hold the interface's own address; destination rules may share an address
    // with a pool and with each other (other ports); mss-clamp 0 is off; 1..65535 all usable.
    Config c = load_ok(
        nat({"source lan { interface inet0; pool [ 203.0.113.1 203.0.113.2 ]; ports 1-65535; }",
             "destination a { interface inet0; protocol tcp; port 80; to 198.18.1.10; }",
             "destination b { interface inet0; protocol tcp; address 203.0.113.2; port 80; "
             "to 198.18.1.11; }",
             "destination c { interface inet0; protocol tcp; address 203.0.113.1; port 443; "
             "to 198.18.1.10; }",
             "destination d { interface inner0; protocol tcp; port 80; to 198.18.1.12; }",
             "static web { interface inet0; inside 198.18.1.10; outside 203.0.113.10; }",
             "mss-clamp 0;"}));
    EXPECT_EQ(c.nat.sources.at(0).ports, (PortRange{1, 65535}));
    EXPECT_EQ(c.nat.destinations.size(), 4u);
    EXPECT_EQ(c.nat.mss_clamp, 0);
}

TEST(ConfigSchema, EmptyConfigHasDefaults) {
    Config c = load_ok("# nothing\n");
    EXPECT_TRUE(c.interfaces.empty());
    EXPECT_EQ(c.dataplane.workers, 1u);
    EXPECT_EQ(c.dataplane.idle_sleep_us, 50u);
    EXPECT_EQ(c.dataplane.timeouts.tcp_established, 3600u);
    EXPECT_TRUE(c.nat.statics.empty() && c.nat.sources.empty() && c.nat.destinations.empty());
    EXPECT_EQ(c.nat.mss_clamp, 0);
}

// Every default of a screen, as the model and docs/CONFIG.md give them.
void expect_default_screen(const Screen &s) {
    EXPECT_EQ(s.block_time, 60u);
    EXPECT_EQ(s.syn_threshold, 128u);
    EXPECT_EQ(s.syn_action, ScreenAction::cookie);
    EXPECT_EQ(s.source_rate, (ScreenRate{1000, 2000, ScreenAction::drop}));
    EXPECT_EQ(s.concurrent, 10000u);
    EXPECT_EQ(s.icmp_flood, (ScreenRate{200, 400, ScreenAction::drop}));
    EXPECT_EQ(s.udp_flood, (ScreenRate{20000, 40000, ScreenAction::drop}));
    EXPECT_EQ(s.scan_hosts, 32u);
    EXPECT_EQ(s.scan_ports, 64u);
    EXPECT_EQ(s.scan_window, 10u);
    EXPECT_EQ(s.scan_action, ScreenAction::alarm);
    EXPECT_EQ(s.tcp_flags, ScreenAction::drop);
    EXPECT_EQ(s.spoofing, ScreenAction::drop);
    EXPECT_TRUE(s.bogons.empty());
    EXPECT_EQ(s.ip_options, ScreenAction::drop);
    EXPECT_EQ(s.fragments, ScreenAction::drop);
}

TEST(ConfigSchema, ScreenDefaultsWhenAbsent) {
    Config c = load_ok(one_interface);
    EXPECT_TRUE(c.security.screens.empty());
    const Screen &d = c.security.screen_for("inner");
    EXPECT_TRUE(d.zone.empty()) << "the defaults belong to no zone";
    expect_default_screen(d);
    EXPECT_EQ(&c.security.screen_for("anything"), &d) << "one static default";
}

TEST(ConfigSchema, ScreenEmptyBlockTakesEveryDefault) {
    Config c = load_ok(screen({}));
    ASSERT_EQ(c.security.screens.size(), 1u);
    const Screen &s = c.security.screens[0];
    EXPECT_EQ(s.zone, "inner");
    EXPECT_EQ(s.where.to_string(), "lab.conf:8:5");
    expect_default_screen(s);
    EXPECT_EQ(&c.security.screen_for("inner"), &s);
}

TEST(ConfigSchema, ScreenEveryField) {
    Config c = load_ok(screen({
        "block-time 86400;",
        "syn-flood { threshold 0; action drop; }",
        "source-rate { new-per-second 10000000; burst 10000000; concurrent 0; action block; }",
        "icmp-flood { per-second 1; burst 1; action alarm; }",
        "udp-flood { per-second 5; burst 7; action off; }",
        "scan { hosts 2; ports 65536; window 3600; action block; }",
        "tcp-flags { action alarm; }",
        "spoofing { action off; bogons 10.0.0.0/8; }",
        "ip-options { action off; }",
        "fragments { action off; }",
    }));
    const Screen &s = c.security.screens.at(0);
    EXPECT_EQ(s.block_time, 86400u);
    EXPECT_EQ(s.syn_threshold, 0u);
    EXPECT_EQ(s.syn_action, ScreenAction::drop);
    EXPECT_EQ(s.source_rate, (ScreenRate{10000000, 10000000, ScreenAction::block}));
    EXPECT_EQ(s.concurrent, 0u);
    EXPECT_EQ(s.icmp_flood, (ScreenRate{1, 1, ScreenAction::alarm}));
    EXPECT_EQ(s.udp_flood, (ScreenRate{5, 7, ScreenAction::off}));
    EXPECT_EQ(s.scan_hosts, 2u);
    EXPECT_EQ(s.scan_ports, 65536u);
    EXPECT_EQ(s.scan_window, 3600u);
    EXPECT_EQ(s.scan_action, ScreenAction::block);
    EXPECT_EQ(s.tcp_flags, ScreenAction::alarm);
    EXPECT_EQ(s.spoofing, ScreenAction::off);
    EXPECT_EQ(s.bogons, std::vector<Prefix>{P("10.0.0.0/8")});
    EXPECT_EQ(s.ip_options, ScreenAction::off);
    EXPECT_EQ(s.fragments, ScreenAction::off);
}

TEST(ConfigSchema, ScreenPartialBlocksKeepTheirOtherDefaults) {
    Config c = load_ok(screen({"source-rate { action alarm; }", "icmp-flood { burst 401; }",
                               "udp-flood { per-second 40000; }", "scan { ports 100; }",
                               "syn-flood { threshold 64; }"}));
    const Screen &s = c.security.screens.at(0);
    EXPECT_EQ(s.source_rate, (ScreenRate{1000, 2000, ScreenAction::alarm}));
    EXPECT_EQ(s.concurrent, 10000u);
    EXPECT_EQ(s.icmp_flood, (ScreenRate{200, 401, ScreenAction::drop}));
    EXPECT_EQ(s.udp_flood, (ScreenRate{40000, 40000, ScreenAction::drop})) << "burst == rate";
    EXPECT_EQ(s.scan_hosts, 32u);
    EXPECT_EQ(s.scan_ports, 100u);
    EXPECT_EQ(s.scan_action, ScreenAction::alarm);
    EXPECT_EQ(s.syn_threshold, 64u);
    EXPECT_EQ(s.syn_action, ScreenAction::cookie);
    EXPECT_EQ(s.block_time, 60u);
}

TEST(ConfigSchema, ScreenEveryAllowedAction) {
    const std::pair<const char *, std::vector<ScreenAction>> allowed[] = {
        {"syn-flood",
         {ScreenAction::cookie, ScreenAction::drop, ScreenAction::alarm, ScreenAction::off}},
        {"source-rate",
         {ScreenAction::drop, ScreenAction::block, ScreenAction::alarm, ScreenAction::off}},
        {"icmp-flood",
         {ScreenAction::drop, ScreenAction::block, ScreenAction::alarm, ScreenAction::off}},
        {"udp-flood",
         {ScreenAction::drop, ScreenAction::block, ScreenAction::alarm, ScreenAction::off}},
        {"scan", {ScreenAction::alarm, ScreenAction::block, ScreenAction::off}},
        {"tcp-flags", {ScreenAction::drop, ScreenAction::alarm, ScreenAction::off}},
        {"spoofing", {ScreenAction::drop, ScreenAction::alarm, ScreenAction::off}},
        {"ip-options", {ScreenAction::drop, ScreenAction::alarm, ScreenAction::off}},
        {"fragments", {ScreenAction::drop, ScreenAction::off}},
    };
    for (std::size_t k = 0; k < std::size(allowed); ++k) {
        const auto &[key, actions] = allowed[k];
        for (ScreenAction a : actions) {
            std::string stmt = std::string(key) + " { action " + screen_action_name(a) + "; }";
            auto c = load_text(screen({stmt}), "lab.conf");
            ASSERT_TRUE(c.ok()) << stmt << ": " << c.error().to_string();
            const Screen &s = c->security.screens.at(0);
            const ScreenAction got[] = {
                s.syn_action,       s.source_rate.action, s.icmp_flood.action,
                s.udp_flood.action, s.scan_action,        s.tcp_flags,
                s.spoofing,         s.ip_options,         s.fragments};
            EXPECT_EQ(got[k], a) << stmt;
        }
    }
}

TEST(ConfigSchema, ScreenBogonsListsRepeatAndMixFamilies) {
    Config c = load_ok(screen({"spoofing {", "    bogons [ 100.64.0.0/10 2001:db8:dead::/48 ];",
                               "    bogons 192.0.2.7;", "    bogons [ fc00::/7 ];", "}"}));
    const Screen &s = c.security.screens.at(0);
    EXPECT_EQ(s.spoofing, ScreenAction::drop) << "bogons alone keep the default action";
    EXPECT_EQ(s.bogons, (std::vector<Prefix>{P("100.64.0.0/10"), P("2001:db8:dead::/48"),
                                             P("192.0.2.7/32"), P("fc00::/7")}));
}

TEST(ConfigSchema, ScreensPerZoneInTextOrderBeforeTheirZones) {
    // A screen may come before the zone it names; each zone finds its own.
    Config c = load_ok("security {\n"
                       "    screen internet { block-time 300; }\n"
                       "    screen inner { fragments { action off; } }\n"
                       "}\n" +
                       nat_interfaces);
    ASSERT_EQ(c.security.screens.size(), 2u);
    EXPECT_EQ(c.security.screens[0].zone, "internet");
    EXPECT_EQ(c.security.screens[1].zone, "inner");
    EXPECT_EQ(c.security.screen_for("internet").block_time, 300u);
    EXPECT_EQ(c.security.screen_for("internet").fragments, ScreenAction::drop);
    EXPECT_EQ(c.security.screen_for("inner").block_time, 60u);
    EXPECT_EQ(c.security.screen_for("inner").fragments, ScreenAction::off);
    EXPECT_TRUE(c.security.screen_for("dmz").zone.empty());
}

TEST(ConfigSchema, UrpfModes) {
    Config c = load_ok("interfaces {\n"
                       "    a { device \"net_af_packet0\"; zone z; urpf strict; }\n"
                       "    b { device \"net_af_packet1\"; zone z; urpf loose; }\n"
                       "    c { device \"net_af_packet2\"; zone z; urpf off; }\n"
                       "    d { device \"net_af_packet3\"; zone z; }\n"
                       "}\nzones { z { loop outer; } }\n");
    ASSERT_EQ(c.interfaces.size(), 4u);
    EXPECT_EQ(c.interfaces[0].urpf, Urpf::strict);
    EXPECT_EQ(c.interfaces[1].urpf, Urpf::loose);
    EXPECT_EQ(c.interfaces[2].urpf, Urpf::off);
    EXPECT_EQ(c.interfaces[3].urpf, Urpf::off) << "default off";
    EXPECT_STREQ(urpf_name(Urpf::strict), "strict");
    EXPECT_STREQ(urpf_name(Urpf::loose), "loose");
    EXPECT_STREQ(urpf_name(Urpf::off), "off");
}

TEST(ConfigSchema, IdleSleepOutOfRangeNamesLineAndRange) {
    auto r = load_text("dataplane {\n    idle-sleep 5000;\n}\n", "lab.conf");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().to_string().find("lab.conf:2"), std::string::npos) << r.error().to_string();
    EXPECT_NE(r.error().to_string().find("0..1000"), std::string::npos) << r.error().to_string();
}

TEST(ConfigSchema, PrefixHelpers) {
    Prefix p = P("198.18.1.77/23");
    EXPECT_EQ(p.family, 4);
    EXPECT_EQ(p.length, 23);
    EXPECT_EQ(format_prefix(network_of(p)), "198.18.0.0/23");
    EXPECT_EQ(format_address(p), "198.18.1.77");
    Prefix q = P("2001:db8:ffff:ffff::1/35");
    EXPECT_EQ(format_prefix(network_of(q)), "2001:db8:e000::/35");
    EXPECT_EQ(format_prefix(network_of(P("10.1.2.3/0"))), "0.0.0.0/0");
    EXPECT_EQ(format_prefix(P("::1")), "::1/128");
    EXPECT_FALSE(parse_prefix("1.2.3.4/").has_value());
    EXPECT_FALSE(parse_prefix("1.2.3.4/33").has_value());
    EXPECT_FALSE(parse_prefix("01.2.3.4").has_value());
    EXPECT_FALSE(parse_prefix(std::string(50, ':')).has_value());
}

TEST(ConfigSchema, LoadFileReadsAndNamesErrors) {
    std::string path = testing::TempDir() + "qorgan_test_config.conf";
    std::FILE *f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string text(default_config_text());
    ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), f), text.size());
    std::fclose(f);
    auto c = load_file(path);
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    EXPECT_EQ(c->interfaces.size(), 4u);
    EXPECT_EQ(c->interfaces[0].where.file, path);
    std::filesystem::remove(path);
}

TEST(ConfigSchema, LoadFileMissing) {
    auto c = load_file("/nonexistent/qorgan.conf");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().to_string(),
              "/nonexistent/qorgan.conf: cannot open: No such file or directory");
}

TEST(ConfigSchema, LoadFileDirectory) {
    auto c = load_file("/");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().to_string(), "/: cannot read: Is a directory");
}

TEST(ConfigSchema, ScreenBogonsListIsBounded_R128_e) {
    auto list = [](size_t n) {
        std::string out = "spoofing { bogons [";
        for (size_t i = 0; i < n; i++)
            out += " 198.19." + std::to_string(i) + ".0/24";
        return out + " ]; }";
    };
    Config c = load_ok(screen({list(max_bogons)}));
    EXPECT_EQ(c.security.screens[0].bogons.size(), max_bogons);
    auto r = load_text(screen({list(max_bogons + 1)}), "lab.conf");
    ASSERT_FALSE(r);
    const std::string msg = r.error().to_string();
    EXPECT_NE(msg.find("security screen inner spoofing bogons: more than 64 prefixes; expected "
                       "at most 64 (R128-e: the list is checked for every packet)"),
              std::string::npos)
        << msg;
}

// Every default of the categories block, as the model and docs/CONFIG.md give them.
void expect_default_categories(const Categories &c) {
    EXPECT_EQ(c.inspect_packets, 8u);
    EXPECT_EQ(c.inspected_flows, 16384u);
    EXPECT_TRUE(c.reset);
    EXPECT_TRUE(c.exceptions.empty());
    EXPECT_TRUE(c.vpn_channels.empty());
    EXPECT_TRUE(c.malicious_domains.empty());
    EXPECT_TRUE(c.malicious_addresses.empty());
    EXPECT_TRUE(c.malicious_files.empty());
}

TEST(ConfigSchema, CategoriesDefaultsWhenAbsent_R134_1) {
    Config c = load_ok(one_interface);
    expect_default_categories(c.security.categories);
    EXPECT_TRUE(c.security.categories.where.file.empty()) << "no block was written";
    Config empty = load_ok(categories({}));
    expect_default_categories(empty.security.categories);
    EXPECT_EQ(empty.security.categories.where.to_string(), "lab.conf:8:5");
}

TEST(ConfigSchema, CategoriesEveryStatement) {
    Config c = load_ok(categories({
        "inspect-packets 64;",
        "inspected-flows 1048576;",
        "reset off;",
        "exception torrents {",
        "    source [ 198.18.1.0/24 2001:db8:1::/48 ];",
        "    source 198.18.9.7;",
        "    organization \"Ministry of Science\";",
        "    category [ p2p games ];",
        "    category unknown;",
        "    application [ BitTorrent eDonkey ];",
        "    application Steam.Client_2-x;",
        "    reference \"MS-2024/117\";",
        "}",
        "vpn-channel hq {",
        "    protocol tcp;",
        "    source 198.18.2.10/32;",
        "    destination 192.0.2.1;",
        "    destination-port 443;",
        "    source-port 40000;",
        "}",
        "malicious {",
        "    domain [ Malware.EXAMPLE c2_relay.bad-site.example ];",
        "    domain x;",
        "    address [ 192.0.2.66 2001:db8:bad::/48 ];",
        "    file \"/etc/qorgan/malicious.list\";",
        "}",
    }));
    const Categories &cat = c.security.categories;
    EXPECT_EQ(cat.inspect_packets, 64u);
    EXPECT_EQ(cat.inspected_flows, 1048576u);
    EXPECT_FALSE(cat.reset);
    ASSERT_EQ(cat.exceptions.size(), 1u);
    const CategoryException &e = cat.exceptions[0];
    EXPECT_EQ(e.name, "torrents");
    EXPECT_EQ(e.sources,
              (std::vector<Prefix>{P("198.18.1.0/24"), P("2001:db8:1::/48"), P("198.18.9.7")}));
    EXPECT_EQ(e.organization, "Ministry of Science");
    EXPECT_EQ(e.categories, category_bit(Category::p2p) | category_bit(Category::games) |
                                category_bit(Category::unknown));
    EXPECT_EQ(e.applications,
              (std::vector<std::string>{"BitTorrent", "eDonkey", "Steam.Client_2-x"}));
    EXPECT_EQ(e.reference, "MS-2024/117");
    EXPECT_EQ(e.where.to_string(), "lab.conf:12:9");
    ASSERT_EQ(cat.vpn_channels.size(), 1u);
    const VpnChannel &v = cat.vpn_channels[0];
    EXPECT_EQ(v.name, "hq");
    EXPECT_EQ(v.protocol, proto_tcp);
    EXPECT_EQ(v.source, P("198.18.2.10"));
    EXPECT_EQ(v.destination, P("192.0.2.1/32"));
    EXPECT_EQ(v.destination_port, 443);
    EXPECT_EQ(v.source_port, 40000);
    EXPECT_EQ(v.where.to_string(), "lab.conf:22:9");
    EXPECT_EQ(cat.malicious_domains,
              (std::vector<std::string>{"malware.example", "c2_relay.bad-site.example", "x"}))
        << "lower-cased";
    EXPECT_EQ(cat.malicious_addresses,
              (std::vector<Prefix>{P("192.0.2.66"), P("2001:db8:bad::/48")}));
    EXPECT_EQ(cat.malicious_files, std::vector<std::string>{"/etc/qorgan/malicious.list"});
}

TEST(ConfigSchema, CategoriesEveryCategoryWord) {
    for (unsigned i = 0; i < category_count; ++i) {
        Category k = static_cast<Category>(i);
        std::string word = category_name(k);
        Config c = load_ok(exception({"category " + word + ";", "reference \"R-1\";"}));
        ASSERT_EQ(c.security.categories.exceptions.size(), 1u) << word;
        EXPECT_EQ(c.security.categories.exceptions[0].categories, category_bit(k)) << word;
        EXPECT_EQ(category_from_name(word), k);
    }
    EXPECT_FALSE(category_from_name("remote_access").has_value());
    EXPECT_FALSE(category_from_name("VPN").has_value());
    EXPECT_FALSE(category_from_name("").has_value());
}

TEST(ConfigSchema, CategoryExceptionsInTextOrder_R134_2) {
    // An application alone is enough, and no source means any source.
    Config c = load_ok(categories({
        "exception ssh-admins { application SSH; reference \"IT-9\"; }",
        "exception gamers { category games; source 198.18.1.0/25; reference \"HR-3\"; }",
    }));
    const auto &ex = c.security.categories.exceptions;
    ASSERT_EQ(ex.size(), 2u);
    EXPECT_EQ(ex[0].name, "ssh-admins");
    EXPECT_EQ(ex[0].categories, 0);
    EXPECT_TRUE(ex[0].sources.empty());
    EXPECT_TRUE(ex[0].organization.empty());
    EXPECT_EQ(ex[1].name, "gamers");
    EXPECT_EQ(ex[1].sources, std::vector<Prefix>{P("198.18.1.0/25")});
}

TEST(ConfigSchema, VpnChannelsOfEitherFamily_R133_4) {
    Config c = load_ok(categories({
        "vpn-channel v4 { protocol udp; source 198.18.2.10; destination 192.0.2.1; "
        "destination-port 1194; }",
        "vpn-channel v6 { protocol udp; source 2001:db8:2::10/128; destination 2001:db8::1; "
        "destination-port 51820; }",
        // The same addresses on another port, or from another source port, are another channel.
        "vpn-channel v4-tcp { protocol tcp; source 198.18.2.10; destination 192.0.2.1; "
        "destination-port 1194; }",
        "vpn-channel v4-port { protocol udp; source 198.18.2.10; destination 192.0.2.1; "
        "destination-port 1194; source-port 1194; }",
    }));
    const auto &ch = c.security.categories.vpn_channels;
    ASSERT_EQ(ch.size(), 4u);
    EXPECT_EQ(ch[0].protocol, proto_udp);
    EXPECT_EQ(ch[0].source_port, 0) << "any source port";
    EXPECT_EQ(ch[1].source, P("2001:db8:2::10"));
    EXPECT_EQ(ch[1].destination.family, 6);
    EXPECT_EQ(ch[1].destination.length, 128);
    EXPECT_EQ(ch[2].protocol, proto_tcp);
    EXPECT_EQ(ch[3].source_port, 1194);
}

TEST(ConfigSchema, CategoriesMayComeBeforeOrAfterTheScreens) {
    Config c = load_ok(one_interface + "security {\n"
                                       "    screen inner { block-time 5; }\n"
                                       "    categories { reset off; }\n"
                                       "}\n");
    EXPECT_FALSE(c.security.categories.reset);
    ASSERT_EQ(c.security.screens.size(), 1u);
    EXPECT_EQ(c.security.screens[0].block_time, 5u);
}

// `n` exceptions (or VPN channels) named x0, x1, ...
std::vector<std::string> many(const std::string &kind, std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
        std::string name = "x" + std::to_string(i);
        if (kind == "exception")
            out.push_back("exception " + name + " { category p2p; reference \"R-" +
                          std::to_string(i) + "\"; }");
        else
            out.push_back("vpn-channel " + name + " { protocol udp; source 198.18.2.10; " +
                          "destination 192.0.2.1; destination-port " + std::to_string(i + 1) +
                          "; }");
    }
    return out;
}

TEST(ConfigSchema, CategoryExceptionsAreBounded) {
    Config c = load_ok(categories(many("exception", max_category_exceptions)));
    EXPECT_EQ(c.security.categories.exceptions.size(), max_category_exceptions);
    auto r = load_text(categories(many("exception", max_category_exceptions + 1)), "lab.conf");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().to_string(),
              "lab.conf:265:9: security categories exception x256: more than 256 exceptions; "
              "expected at most 256; one exception may hold several sources, categories and "
              "applications");
}

TEST(ConfigSchema, VpnChannelsAreBounded) {
    Config c = load_ok(categories(many("vpn-channel", max_vpn_channels)));
    EXPECT_EQ(c.security.categories.vpn_channels.size(), max_vpn_channels);
    auto r = load_text(categories(many("vpn-channel", max_vpn_channels + 1)), "lab.conf");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().to_string(),
              "lab.conf:265:9: security categories vpn-channel x256: more than 256 VPN channels; "
              "expected at most 256");
}

TEST(ConfigSchema, MaliciousFilesAreBounded) {
    std::vector<std::string> files{"malicious {"};
    for (std::size_t i = 0; i < max_malicious_files; ++i)
        files.push_back("    file \"/etc/qorgan/bad" + std::to_string(i) + ".list\";");
    Config c = load_ok(categories([&] {
        auto closed = files;
        closed.push_back("}");
        return closed;
    }()));
    EXPECT_EQ(c.security.categories.malicious_files.size(), max_malicious_files);
    files.push_back("    file [ \"/etc/qorgan/one-more.list\" ];");
    files.push_back("}");
    auto r = load_text(categories(files), "lab.conf");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().to_string(),
              "lab.conf:26:20: security categories malicious file: more than 16 files; expected "
              "at most 16; merge the lists into fewer files");
}

TEST(ConfigSchema, MaliciousDomainsUpTo253Characters) {
    // Three labels of 63 and one of 61 with their dots: 253 characters; one more is too many.
    std::string label(63, 'a');
    std::string longest = label + "." + label + "." + label + "." + std::string(61, 'b');
    ASSERT_EQ(longest.size(), 253u);
    Config c = load_ok(categories({"malicious { domain " + longest + "; }"}));
    EXPECT_EQ(c.security.categories.malicious_domains, std::vector<std::string>{longest});
    auto r = load_text(categories({"malicious { domain " + longest + "b; }"}), "lab.conf");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().to_string().find("lab.conf:9:28: security categories malicious domain: '" +
                                         longest + "b' is not a DNS name"),
              std::string::npos)
        << r.error().to_string();
    EXPECT_EQ(dns_name("A-b_C.Example"), std::optional<std::string>("a-b_c.example"));
    EXPECT_FALSE(dns_name("").has_value());
    EXPECT_FALSE(dns_name(".example").has_value());
    EXPECT_FALSE(dns_name("ex ample").has_value());
    EXPECT_TRUE(is_application_name("SSH"));
    EXPECT_TRUE(is_application_name(std::string(32, 'a')));
    EXPECT_FALSE(is_application_name(std::string(33, 'a')));
    EXPECT_FALSE(is_application_name(""));
    EXPECT_FALSE(is_application_name("Bit/Torrent"));
}

// SPDX-License-Identifier: GPL-2.0-or-later
// The typed configuration: what the parser and schema produce from the text form
// and what the dataplane compiles into a policy snapshot. Plain data, no DPDK.
#pragma once

#include "common/result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qorgan::config {

// An IPv4 or IPv6 address with a prefix length. Bytes are in network order;
// an IPv4 address uses bytes[0..3] and leaves the rest zero.
struct Prefix {
    uint8_t family = 4; // 4 or 6
    std::array<uint8_t, 16> bytes{};
    uint8_t length = 0; // 0..32 or 0..128

    bool operator==(const Prefix &) const = default;
};

// A bare address: a Prefix whose length is the full width.
using Address = Prefix;

// Whether an address (family 4 or 6; network order, 4 or 16 bytes) lies in the prefix.
inline bool prefix_contains(const Prefix &p, uint8_t family, const uint8_t *addr) {
    if (p.family != family)
        return false;
    unsigned whole = p.length / 8u, rest = p.length % 8u;
    for (unsigned i = 0; i < whole; i++)
        if (addr[i] != p.bytes[i])
            return false;
    if (rest == 0)
        return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (addr[whole] & mask) == (p.bytes[whole] & mask);
}

// Unicast reverse-path forwarding, per interface: what the route back to a packet's source
// must look like for the packet to be accepted.
enum class Urpf : uint8_t {
    off,    // not checked
    loose,  // some route (not none) leads back to the source
    strict, // the route back to the source leaves by the arrival interface
};

// The word the config and the shell use for a uRPF mode.
constexpr const char *urpf_name(Urpf u) {
    switch (u) {
    case Urpf::off:
        return "off";
    case Urpf::loose:
        return "loose";
    case Urpf::strict:
        return "strict";
    }
    return "?";
}

// Regulation loops (R139-7, R139-8): every zone declares one.
enum class Loop : uint8_t { inner, outer, internet, shielded };

struct Zone {
    std::string name;
    Loop loop = Loop::inner;
    Location where;
};

struct Interface {
    std::string name;   // "inner0"; also the rule and route reference
    std::string device; // PCI address ("0000:00:04.0") or vdev ("net_af_packet0,iface=x")
    std::vector<Prefix> addresses; // the gateway's own addresses with their subnet length
    std::string zone;              // name of a zone in Config::zones
    bool disabled = false;         // administratively down (R139-13)
    uint16_t mtu = 1500;
    Urpf urpf = Urpf::off;
    Location where;
};

enum class Action : uint8_t { accept, drop, reject };

// The word the config, logs and the shell use for an action.
constexpr const char *action_name(Action a) {
    switch (a) {
    case Action::accept:
        return "accept";
    case Action::drop:
        return "drop";
    case Action::reject:
        return "reject";
    }
    return "?";
}

struct PortRange {
    uint16_t low = 0;
    uint16_t high = 65535;
    bool operator==(const PortRange &) const = default;
};

// Well-known protocol numbers used by the schema ("tcp" -> 6, ...).
inline constexpr uint8_t proto_icmp = 1;
inline constexpr uint8_t proto_tcp = 6;
inline constexpr uint8_t proto_udp = 17;
inline constexpr uint8_t proto_esp = 50;
inline constexpr uint8_t proto_icmpv6 = 58;

struct Rule {
    uint32_t id = 0; // the number the admin gave; unique within its list
    Action action = Action::drop;
    bool log = false;
    std::optional<uint8_t> protocol;          // empty: any protocol
    std::vector<Prefix> sources;              // empty: any
    std::vector<Prefix> destinations;         // empty: any
    std::vector<PortRange> source_ports;      // TCP/UDP only; empty: any
    std::vector<PortRange> destination_ports; // TCP/UDP only; empty: any
    std::optional<uint8_t> icmp_type;         // ICMP/ICMPv6 only
    std::optional<uint8_t> icmp_code;         // ICMP/ICMPv6 only, needs icmp_type
    uint8_t family = 0;                       // 0: both, 4 or 6 (derived from prefixes/protocol)
    std::string description;
    Location where;
};

// Rules of one interface; evaluated first match in list order, default deny.
struct InterfacePolicy {
    std::string interface;
    std::vector<Rule> ingress; // packets arriving on the interface
    std::vector<Rule> egress;  // packets leaving through the interface
    Location where;
};

struct Route {
    Prefix prefix;              // destination network
    std::optional<Address> via; // next hop; empty for a device route
    std::string interface;      // optional when via is set (resolved by connected routes)
    Location where;
};

struct Timeouts {
    uint32_t tcp_syn = 30; // seconds: handshake not finished
    uint32_t tcp_established = 3600;
    uint32_t tcp_closing = 120; // FIN seen
    uint32_t tcp_closed = 10;   // RST or both FINs acknowledged
    uint32_t udp = 60;          // one direction seen
    uint32_t udp_stream = 180;  // both directions seen
    uint32_t icmp = 30;
    uint32_t other = 60;
};

struct Dataplane {
    unsigned workers = 1;        // worker lcores
    uint32_t max_flows = 262144; // per worker; admission limit of the flow table
    // Microseconds an idle worker sleeps once it has found nothing to do 256 polls running;
    // 0 polls without pause. Traffic never waits behind it: a worker that receives stays
    // awake. It keeps a lab or a small appliance from burning every core on empty queues.
    uint32_t idle_sleep_us = 50;
    Timeouts timeouts;
};

// Command classes (R128-b): what a privilege level may do. A level's set is a bit mask.
enum class CommandClass : uint8_t {
    view,           // show state and configuration
    traffic_view,   // show sessions, monitor: what crosses the border
    clear,          // clear sessions
    network,        // configure interfaces, zones, policy, routes, NAT, dataplane
    security,       // users, levels, keys, login settings
    audit_view,     // read and verify the audit log
    audit_settings, // retention, warning threshold, remote syslog
};
inline constexpr unsigned command_class_count = 7;
using ClassMask = uint32_t;
constexpr ClassMask class_bit(CommandClass c) {
    return ClassMask(1) << static_cast<unsigned>(c);
}
// The word the config and the shell use for a class ("traffic-view", ...).
const char *class_name(CommandClass c);
std::optional<CommandClass> class_from_name(std::string_view name);

struct PasswordSettings {
    uint32_t min_length = 12;
    uint32_t min_classes = 3;   // of lower, upper, digit, other
    uint32_t history = 5;       // previous passwords that may not be reused
    uint32_t max_age_days = 90; // 0: never expires
};

struct LoginSettings {
    uint32_t idle_timeout = 900;       // seconds without a command (R118)
    uint32_t session_lifetime = 28800; // seconds from login, whatever happens (R118)
    uint32_t lockout_failures = 5;     // consecutive failures that lock account and source
    uint32_t lockout_time = 900;       // seconds (R90-1-3)
    uint32_t alert_failures = 3;       // consecutive failures that raise an alert (R52)
    uint32_t alert_refusals = 3;       // privilege refusals in a session that raise an alert
    PasswordSettings password;
    // Classes per level 0-15; a level not configured has its built-in set (privilege.h).
    std::array<std::optional<ClassMask>, 16> levels{};
    std::array<Location, 16> level_where{};
};

struct SyslogTarget {
    std::string server; // address or name
    uint16_t port = 6514;
    std::string ca_file;
    std::string certificate; // client certificate (optional)
    std::string key;
    std::string server_name; // for certificate verification; empty: server
};

struct AuditSettings {
    uint32_t retention_days = 1095; // R38-4: never below 3 years
    uint32_t warn_percent = 80;     // storage use that raises a warning
    std::optional<SyslogTarget> syslog;
};

struct System {
    std::string host_name = "qorgan";
    LoginSettings login;
    AuditSettings audit;
};

// NAT44 (R128-d, R90-1-6, R139-10-1). Rules see the real addresses: ingress and egress
// rules match the destination after destination NAT and the source before source NAT.

// Static 1:1 NAT on the outside interface `interface`, both directions: packets arriving
// there for `outside` go to `inside`; packets from `inside` leaving there leave as `outside`
// (ports kept). The gateway answers ARP for `outside` on that interface.
struct NatStatic {
    std::string name;
    std::string interface;
    Address inside;       // IPv4
    Address outside;      // IPv4
    bool hairpin = false; // also for packets arriving on other interfaces (inside hosts)
    Location where;
};

// Source NAPT for flows leaving by `interface` from a `from` prefix: the source becomes a
// pool address (the interface's first IPv4 address when the pool is empty) and a port of
// `ports`. First match in list order; static NAT wins over it.
struct NatSource {
    std::string name;
    std::string interface;
    std::vector<Prefix> from;  // IPv4 prefixes; empty: any IPv4 source
    std::vector<Address> pool; // IPv4, at most 64; empty: the interface's address
    PortRange ports{1024, 65535};
    bool endpoint_independent = false; // RFC 4787 EIM; default endpoint-dependent
    uint32_t max_per_source = 0;       // concurrent translations per inside address; 0: none
    Location where;
};

// Destination NAT (port forwarding): TCP or UDP arriving on `interface` for
// address:port goes to to:to_port.
struct NatDestination {
    std::string name;
    std::string interface;
    uint8_t protocol = proto_tcp;   // tcp or udp
    std::optional<Address> address; // IPv4; empty: the interface's address
    uint16_t port = 0;
    Address to;           // IPv4
    uint16_t to_port = 0; // 0: port
    bool hairpin = false; // also for packets arriving on other interfaces (inside hosts)
    Location where;
};

struct Nat {
    std::vector<NatStatic> statics;
    std::vector<NatSource> sources;
    std::vector<NatDestination> destinations;
    uint16_t mss_clamp = 0; // clamp the MSS of forwarded TCP SYNs to this; 0: off
};

// The attack-protection screen (R128-e, R90-1-3, R139-10-1): defences for packets arriving
// on the interfaces of a zone. Which actions a defence allows is checked by the schema.
enum class ScreenAction : uint8_t {
    off,    // not checked
    alarm,  // counted and reported; the packet passes
    drop,   // counted, reported and dropped
    block,  // dropped, and the source is refused for Screen::block_time seconds
    cookie, // SYN flood only: SYNs above the threshold are answered with a SYN cookie
};

// The word the config, logs and the shell use for a screen action.
constexpr const char *screen_action_name(ScreenAction a) {
    switch (a) {
    case ScreenAction::off:
        return "off";
    case ScreenAction::alarm:
        return "alarm";
    case ScreenAction::drop:
        return "drop";
    case ScreenAction::block:
        return "block";
    case ScreenAction::cookie:
        return "cookie";
    }
    return "?";
}

// A token bucket per source: `per_second` refill, `burst` depth (>= per_second).
struct ScreenRate {
    uint32_t per_second;
    uint32_t burst;
    ScreenAction action;
    bool operator==(const ScreenRate &) const = default;
};

// The longest `bogons` list a screen may have (checked for every packet of the zone).
inline constexpr size_t max_bogons = 64;

struct Screen {
    std::string zone;             // empty for the defaults
    uint32_t block_time = 60;     // seconds a blocked source stays blocked
    uint32_t syn_threshold = 128; // half-open TCP connections per destination
    ScreenAction syn_action = ScreenAction::cookie;
    ScreenRate source_rate{1000, 2000, ScreenAction::drop}; // new flows per source
    uint32_t concurrent = 10000;                            // flows per source; 0: no limit
    ScreenRate icmp_flood{200, 400, ScreenAction::drop};
    ScreenRate udp_flood{20000, 40000, ScreenAction::drop};
    uint32_t scan_hosts = 32;  // distinct destinations one source touches in scan_window
    uint32_t scan_ports = 64;  // distinct ports of one destination one source touches
    uint32_t scan_window = 10; // seconds
    ScreenAction scan_action = ScreenAction::alarm;
    ScreenAction tcp_flags = ScreenAction::drop;  // NULL, XMAS, SYN+FIN, SYN+RST, FIN alone...
    ScreenAction spoofing = ScreenAction::drop;   // martian, LAND, own, broadcast sources
    std::vector<Prefix> bogons;                   // extra sources refused in this zone
    ScreenAction ip_options = ScreenAction::drop; // IPv4 LSRR, SSRR, RR
    ScreenAction fragments = ScreenAction::drop;  // reassembly, overlap and tiny fragments
    Location where;
};

// The regulation's categories of paragraph 134-1, blocked by default (R134-1). The
// classifier maps nDPI's protocols, categories and risks onto them (classifiers/category_map).
enum class Category : uint8_t {
    vpn,           // VPN: OpenVPN, WireGuard, IPsec/IKE, Tor, ...
    remote_access, // SSH, RDP, VNC, TeamViewer, AnyDesk, ...
    p2p,           // BitTorrent, eDonkey, Gnutella, ...
    games,         // game services and resources
    unknown,       // not classified within the inspection budget
    malicious,     // malware, mining, malicious hosts and the configured lists
};
inline constexpr unsigned category_count = 6;

// The word the config, logs and the shell use for a category.
constexpr const char *category_name(Category c) {
    switch (c) {
    case Category::vpn:
        return "vpn";
    case Category::remote_access:
        return "remote-access";
    case Category::p2p:
        return "p2p";
    case Category::games:
        return "games";
    case Category::unknown:
        return "unknown";
    case Category::malicious:
        return "malicious";
    }
    return "?";
}

constexpr uint8_t category_bit(Category c) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(c));
}

// An unblocking on official request (R134-2, R133-3): flows from `sources` (any source when
// empty) of one of `categories` or one of `applications` pass despite the block.
struct CategoryException {
    std::string name;
    std::vector<Prefix> sources;           // source networks; empty: any
    std::string organization;              // who asked, for the logs
    uint8_t categories = 0;                // category_bit()s
    std::vector<std::string> applications; // nDPI application names ("BitTorrent", "SSH")
    std::string reference;                 // the official request's number (required)
    Location where;
};

// An agreed VPN channel (R133-4): exactly this protocol, source, destination and ports pass
// despite the vpn block. Both addresses are single addresses; source_port 0 is any port.
struct VpnChannel {
    std::string name;
    uint8_t protocol = proto_udp; // tcp or udp
    Address source;
    Address destination;
    uint16_t source_port = 0;
    uint16_t destination_port = 0;
    Location where;
};

inline constexpr size_t max_category_exceptions = 256;
inline constexpr size_t max_vpn_channels = 256;
inline constexpr size_t max_malicious_files = 16;

// Category blocking (R134-1): the six categories are always blocked; exceptions and agreed
// channels are the only way through, and remote access from outside the outer loop is
// blocked whatever they say (R133-1).
struct Categories {
    uint32_t inspect_packets = 8;     // payload-bearing packets a flow may pass before a verdict
    uint32_t inspected_flows = 16384; // flows under inspection at once, per worker
    bool reset = true;                // a blocked TCP flow gets a RST each way
    std::vector<CategoryException> exceptions;
    std::vector<VpnChannel> vpn_channels;
    std::vector<std::string> malicious_domains; // matched in DNS, TLS SNI and HTTP Host
    std::vector<Prefix> malicious_addresses;    // source or destination
    std::vector<std::string> malicious_files;   // one domain or prefix a line, '#' comments
    Location where;
};

struct Security {
    Categories categories;
    std::vector<Screen> screens; // at most one per zone, in text order
    // The zone's screen, or the defaults (a static Screen with an empty zone).
    const Screen &screen_for(std::string_view zone) const;
};

// IPsec (docs/IPSEC.md; R128-h, R139-7, R139-3): site-to-site peers negotiated by qorgan-ike
// (IKEv2) and carried by the dataplane's ESP.
enum class IpsecAuth : uint8_t { psk, certificate };
enum class IpsecStart : uint8_t { start, trap, none };

struct IpsecPeer {
    std::string name;
    Address address;          // the remote gateway
    Address local_address{0}; // family 0: the address of the interface towards the peer
    std::string local_id;     // empty: the local address, or the certificate's subject
    std::string remote_id;    // empty: the peer's address (PSK) or any the CA vouches for
    IpsecAuth auth = IpsecAuth::psk;
    std::string psk;                                   // auth psk
    std::string certificate, private_key, ca;          // auth certificate: absolute PEM paths
    std::vector<std::string> ike_proposals;            // strongSwan proposal words
    std::vector<std::string> esp_proposals;            // aes256gcm16 or aes256-sha256 [-<dh>]
    std::vector<Prefix> local_subnets, remote_subnets; // traffic selectors
    uint32_t ike_lifetime_s = 14400;
    uint32_t lifetime_s = 3600;
    uint64_t lifetime_bytes = 0; // 0: no volume limit
    uint64_t lifetime_packets = 0;
    uint32_t dpd_s = 30; // 0: no dead peer detection
    IpsecStart start = IpsecStart::start;
    bool encap = false; // force UDP encapsulation (NAT-T) even without a NAT between
    Location where;
};

inline constexpr size_t max_ipsec_peers = 64;

struct Ipsec {
    std::vector<IpsecPeer> peers;
    uint32_t max_sas = 1024; // SAs the dataplane holds at once (both directions)
};

constexpr const char *ipsec_start_name(IpsecStart s) {
    switch (s) {
    case IpsecStart::start:
        return "start";
    case IpsecStart::trap:
        return "trap";
    case IpsecStart::none:
        return "none";
    }
    return "?";
}

struct Config {
    std::vector<Interface> interfaces;
    std::vector<Zone> zones;
    std::vector<InterfacePolicy> policies;
    std::vector<Route> routes;
    Dataplane dataplane;
    Nat nat;
    Security security;
    System system;
    Ipsec ipsec;
};

} // namespace qorgan::config

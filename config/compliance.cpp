// SPDX-License-Identifier: GPL-2.0-or-later
// Loop separation checks (R139-7, R139-8) by witness packets run through the rule lists
// as the dataplane runs them, and the `show compliance` report.
#include "config/compliance.h"

#include "config/config.h"
#include "config/schema.h"

#include <algorithm>
#include <optional>
#include <set>

namespace qorgan::config {

namespace {

using Bytes = std::array<uint8_t, 16>;

unsigned width(uint8_t family) {
    return family == 6 ? 128 : 32;
}

Prefix any_of(uint8_t family) {
    Prefix p;
    p.family = family;
    return p;
}

bool contains(const Prefix &p, uint8_t family, const Bytes &a) {
    if (p.family != family)
        return false;
    for (unsigned bit = 0; bit < p.length; ++bit) {
        uint8_t m = uint8_t(0x80 >> (bit % 8));
        if ((p.bytes[bit / 8] & m) != (a[bit / 8] & m))
            return false;
    }
    return true;
}

// Prefixes nest or are disjoint: the intersection is the longer one, if any.
std::optional<Prefix> intersect(const Prefix &a, const Prefix &b) {
    if (a.family != b.family)
        return std::nullopt;
    const Prefix &shorter = a.length <= b.length ? a : b;
    const Prefix &longer = a.length <= b.length ? b : a;
    if (!contains(shorter, longer.family, network_of(longer).bytes))
        return std::nullopt;
    return network_of(longer);
}

Bytes last_of(const Prefix &p) {
    Bytes b = network_of(p).bytes;
    for (unsigned bit = p.length; bit < width(p.family); ++bit)
        b[bit / 8] = uint8_t(b[bit / 8] | (0x80 >> (bit % 8)));
    return b;
}

// The address one after (+1) or before (-1) a, if any.
std::optional<Bytes> step(uint8_t family, Bytes a, int by) {
    for (int i = int(width(family) / 8) - 1; i >= 0; --i) {
        uint8_t before = a[i];
        a[i] = uint8_t(before + by);
        if ((by > 0 && before != 0xff) || (by < 0 && before != 0x00))
            return a;
    }
    return std::nullopt; // wrapped round
}

bool in_any(const std::vector<Prefix> &ps, uint8_t family, const Bytes &a) {
    for (const Prefix &p : ps)
        if (contains(p, family, a))
            return true;
    return false;
}

struct Witness {
    uint8_t family = 4;
    uint8_t proto = 0;
    Bytes src{};
    Bytes dst{};
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
};

bool is_ports(uint8_t proto) {
    return proto == proto_tcp || proto == proto_udp;
}

bool is_icmp(uint8_t proto) {
    return proto == proto_icmp || proto == proto_icmpv6;
}

bool in_ranges(const std::vector<PortRange> &ranges, uint16_t port) {
    if (ranges.empty())
        return true;
    for (const PortRange &r : ranges)
        if (port >= r.low && port <= r.high)
            return true;
    return false;
}

bool in_prefixes(const std::vector<Prefix> &ps, uint8_t family, const Bytes &a) {
    if (ps.empty())
        return true;
    for (const Prefix &p : ps)
        if (contains(p, family, a))
            return true;
    return false;
}

bool matches(const Rule &r, const Witness &w) {
    if (r.family != 0 && r.family != w.family)
        return false;
    if (r.protocol && *r.protocol != w.proto)
        return false;
    if (!in_prefixes(r.sources, w.family, w.src) || !in_prefixes(r.destinations, w.family, w.dst))
        return false;
    if (is_ports(w.proto) &&
        (!in_ranges(r.source_ports, w.sport) || !in_ranges(r.destination_ports, w.dport)))
        return false;
    if (r.icmp_type && (!is_icmp(w.proto) || *r.icmp_type != w.icmp_type))
        return false;
    if (r.icmp_code && *r.icmp_code != w.icmp_code)
        return false;
    return true;
}

// First match wins; nothing matched is the default deny.
const Rule *first_match(const std::vector<Rule> &list, const Witness &w) {
    for (const Rule &r : list)
        if (matches(r, w))
            return &r;
    return nullptr;
}

const char *loop_name(Loop l) {
    switch (l) {
    case Loop::inner:
        return "inner";
    case Loop::outer:
        return "outer";
    case Loop::internet:
        return "internet";
    case Loop::shielded:
        return "shielded";
    }
    return "?";
}

// The paragraph a forwarding from one loop to another breaks, and its sentence; empty if none.
std::pair<std::string, std::string> forbidden(Loop from, Loop to) {
    if ((from == Loop::inner && to == Loop::outer) || (from == Loop::outer && to == Loop::inner))
        return {"R139-7", "R139-7 forbids traffic between the inner and outer loops except "
                          "through an IPsec channel or the shielded subnet"};
    if (from == Loop::inner && to == Loop::internet)
        return {"R139-8", "R139-8 forbids any path from the inner loop to the Internet"};
    if (from == Loop::internet && to == Loop::inner)
        return {"R139-8", "R139-8 forbids any path from the Internet to the inner loop"};
    return {};
}

struct RouteEntry {
    Prefix prefix;
    std::string interface;
};

class LoopChecker {
public:
    explicit LoopChecker(const Config &c) : _conf(c) {
        for (const Interface &i : c.interfaces) {
            if (i.disabled)
                continue;
            for (const Zone &z : c.zones)
                if (z.name == i.zone)
                    _loops.emplace_back(i.name, z.loop);
            for (const Prefix &a : i.addresses) {
                _table.push_back({network_of(a), i.name});
                _own.push_back(a);
            }
        }
        std::size_t connected = _table.size();
        for (const Route &r : c.routes) {
            std::string exit = r.interface;
            if (exit.empty() && r.via)
                for (std::size_t k = 0; k < connected; ++k)
                    if (contains(_table[k].prefix, r.via->family, r.via->bytes))
                        exit = _table[k].interface;
            if (loop_of(exit))
                _table.push_back({r.prefix, exit});
        }
        for (const InterfacePolicy &p : c.policies)
            for (const auto *list : {&p.ingress, &p.egress})
                for (const Rule &r : *list) {
                    if (r.protocol)
                        _protos.insert(*r.protocol);
                    for (const PortRange &pr : r.source_ports)
                        add_bounds(_sports, pr);
                    for (const PortRange &pr : r.destination_ports)
                        add_bounds(_dports, pr);
                    if (r.icmp_type)
                        _types.insert(*r.icmp_type);
                    if (r.icmp_code)
                        _codes.insert(*r.icmp_code);
                }
        _protos.insert({proto_tcp, proto_udp, proto_icmp, proto_icmpv6});
        add_unused(_protos);
        add_unused(_types);
        add_unused(_codes);
        _sports.insert({0, 65535});
        _dports.insert({0, 65535});
        for (const IpsecPeer &peer : c.ipsec.peers)
            for (const auto *subnets : {&peer.local_subnets, &peer.remote_subnets})
                _tunnel_edges.insert(_tunnel_edges.end(), subnets->begin(), subnets->end());
    }

    std::vector<Violation> run() {
        for (const InterfacePolicy &p : _conf.policies) {
            auto from = loop_of(p.interface);
            if (!from)
                continue;
            for (const Rule &r : p.ingress)
                if (r.action == Action::accept)
                    check_rule(p, *from, r);
        }
        return std::move(_found);
    }

private:
    static void add_bounds(std::set<uint16_t> &s, const PortRange &r) {
        s.insert({r.low, r.high});
        if (r.low > 0)
            s.insert(uint16_t(r.low - 1));
        if (r.high < 65535)
            s.insert(uint16_t(r.high + 1));
    }

    // One value no rule names stands for all the others.
    static void add_unused(std::set<uint8_t> &s) {
        for (unsigned v = 0; v < 256; ++v)
            if (!s.count(uint8_t(v))) {
                s.insert(uint8_t(v));
                return;
            }
    }

    std::optional<Loop> loop_of(const std::string &ifname) const {
        for (const auto &[name, loop] : _loops)
            if (name == ifname)
                return loop;
        return std::nullopt;
    }

    const RouteEntry *lookup(uint8_t family, const Bytes &a) const {
        const RouteEntry *best = nullptr;
        for (const RouteEntry &e : _table)
            if (contains(e.prefix, family, a) && (!best || e.prefix.length > best->prefix.length))
                best = &e;
        return best;
    }

    bool is_own(uint8_t family, const Bytes &a) const {
        for (const Prefix &p : _own)
            if (p.family == family && p.bytes == a)
                return true;
        return false;
    }

    // Traffic between a peer's local-subnets and remote-subnets (either way) is carried
    // by its tunnel: the dataplane encrypts what an outbound policy covers or drops it
    // (docs/IPSEC.md), so a rule admitting it opens no clear path between the loops.
    bool tunnelled(uint8_t family, const Bytes &src, const Bytes &dst) const {
        for (const IpsecPeer &peer : _conf.ipsec.peers) {
            const auto &l = peer.local_subnets;
            const auto &r = peer.remote_subnets;
            if ((in_any(l, family, src) && in_any(r, family, dst)) ||
                (in_any(r, family, src) && in_any(l, family, dst)))
                return true;
        }
        return false;
    }

    // The witness addresses of a prefix: its first and last, and, where a peer's subnet
    // lies inside it, that subnet's first and last and the addresses just outside it.
    // Whether an address is in a tunnel's subnets changes only at those points, so a
    // rule wider than the tunnels is still caught however the subnets sit.
    std::vector<Bytes> points(const Prefix &x) const {
        std::set<Bytes> out = {network_of(x).bytes, last_of(x)};
        for (const Prefix &p : _tunnel_edges) {
            if (p.family != x.family || p.length <= x.length ||
                !contains(x, p.family, network_of(p).bytes))
                continue;
            out.insert(network_of(p).bytes);
            out.insert(last_of(p));
            for (auto a : {step(x.family, network_of(p).bytes, -1), step(x.family, last_of(p), 1)})
                if (a && contains(x, x.family, *a))
                    out.insert(*a);
        }
        return {out.begin(), out.end()};
    }

    const InterfacePolicy *policy_of(const std::string &ifname) const {
        for (const InterfacePolicy &p : _conf.policies)
            if (p.interface == ifname)
                return &p;
        return nullptr;
    }

    template <typename T>
    static std::vector<T> pick(const std::set<T> &all, const std::optional<T> &fixed) {
        if (fixed)
            return {*fixed};
        return {all.begin(), all.end()};
    }

    static std::vector<uint16_t> ports(const std::vector<PortRange> &own,
                                       const std::set<uint16_t> &all) {
        if (own.empty())
            return {all.begin(), all.end()};
        std::vector<uint16_t> out;
        for (const PortRange &r : own)
            out.insert(out.end(), {r.low, r.high});
        return out;
    }

    void check_rule(const InterfacePolicy &p, Loop from, const Rule &r) {
        for (uint8_t family : {uint8_t(4), uint8_t(6)}) {
            if (r.family != 0 && r.family != family)
                continue;
            std::vector<Prefix> srcs, dsts;
            for (const Prefix &s :
                 r.sources.empty() ? std::vector<Prefix>{any_of(family)} : r.sources)
                for (const RouteEntry &e : _table)
                    if (e.interface == p.interface)
                        if (auto x = intersect(s, e.prefix))
                            srcs.push_back(*x);
            for (const Prefix &d :
                 r.destinations.empty() ? std::vector<Prefix>{any_of(family)} : r.destinations)
                for (const RouteEntry &e : _table) {
                    auto to = loop_of(e.interface);
                    if (e.interface != p.interface && to && !forbidden(from, *to).first.empty())
                        if (auto x = intersect(d, e.prefix))
                            dsts.push_back(*x);
                }
            for (const Prefix &s : srcs)
                for (const Prefix &d : dsts)
                    for (const Bytes &sa : points(s))
                        for (const Bytes &da : points(d))
                            if (!is_own(family, da) && !tunnelled(family, sa, da))
                                try_addresses(p, from, r, family, s, d, sa, da);
        }
    }

    void try_addresses(const InterfacePolicy &p, Loop from, const Rule &r, uint8_t family,
                       const Prefix &s, const Prefix &d, const Bytes &sa, const Bytes &da) {
        const RouteEntry *exit = lookup(family, da);
        if (!exit || exit->interface == p.interface)
            return;
        Loop to = *loop_of(exit->interface);
        auto [id, sentence] = forbidden(from, to);
        if (id.empty())
            return;
        for (const auto &[rule, ifname] : _reported)
            if (rule == &r && ifname == exit->interface)
                return;
        Witness w;
        w.family = family;
        w.src = sa;
        w.dst = da;
        const InterfacePolicy *out = policy_of(exit->interface);
        for (uint8_t proto : pick(_protos, r.protocol)) {
            w.proto = proto;
            std::vector<uint16_t> sports{0}, dports{0};
            std::vector<uint8_t> types{0}, codes{0};
            if (is_ports(proto)) {
                sports = ports(r.source_ports, _sports);
                dports = ports(r.destination_ports, _dports);
            }
            if (is_icmp(proto)) {
                types = pick(_types, r.icmp_type);
                codes = pick(_codes, r.icmp_code);
            }
            for (uint16_t sp : sports)
                for (uint16_t dp : dports)
                    for (uint8_t t : types)
                        for (uint8_t c : codes) {
                            w.sport = sp;
                            w.dport = dp;
                            w.icmp_type = t;
                            w.icmp_code = c;
                            if (first_match(p.ingress, w) != &r)
                                continue;
                            const Rule *e = out ? first_match(out->egress, w) : nullptr;
                            if (!e || e->action != Action::accept)
                                continue;
                            report(p, r, id, sentence, s, *intersect(d, exit->prefix),
                                   exit->interface, to);
                            return;
                        }
        }
    }

    void report(const InterfacePolicy &p, const Rule &r, const std::string &id,
                const std::string &sentence, const Prefix &s, const Prefix &d,
                const std::string &exit, Loop to) {
        _reported.emplace_back(&r, exit);
        Violation v;
        v.requirement = id;
        v.where = r.where;
        v.path = "policy " + p.interface + " ingress rule " + std::to_string(r.id);
        v.message = v.path + " accepts " + format_prefix(s) + " -> " + format_prefix(d) + " (" +
                    exit + ", loop " + loop_name(to) + "): " + sentence;
        if (!_conf.ipsec.peers.empty())
            v.message += "; only traffic between an IPsec peer's local-subnet and "
                         "remote-subnet may pass, through its tunnel";
        _found.push_back(std::move(v));
    }

    const Config &_conf;
    std::vector<std::pair<std::string, Loop>> _loops; // enabled interfaces with a zone
    std::vector<RouteEntry> _table;                   // connected subnets, then static routes
    std::vector<Prefix> _own;                         // the gateway's addresses: delivered locally
    std::set<uint8_t> _protos, _types, _codes;
    std::set<uint16_t> _sports, _dports;
    std::vector<std::pair<const Rule *, std::string>> _reported;
    std::vector<Prefix> _tunnel_edges; // every peer's local and remote subnets
    std::vector<Violation> _found;
};

ComplianceRow later(const char *id, const char *summary, const std::string &waits_for) {
    return {id, "not implemented yet", summary, waits_for};
}

// "a, b, c" of the names of NAT rules (or anything with a `name`).
template <typename T>
std::string names_of(const std::vector<T> &items) {
    std::string out;
    for (const T &x : items)
        out += (out.empty() ? "" : ", ") + x.name;
    return out;
}

// R128-d: static 1:1 translation is configured.
ComplianceRow static_nat_row(const Nat &nat) {
    const char *summary = "static network address translation";
    if (nat.statics.empty())
        return {"R128-d", "not met", summary, "no 'nat static' configured"};
    return {"R128-d", "met", summary,
            std::to_string(nat.statics.size()) +
                " static 1:1 translations (nat static): " + names_of(nat.statics)};
}

// R90-1-6: every interface in the internet loop has a source NAT rule, so LAN addresses
// leave translated. Whether each rule's `from` covers every LAN is not checked.
ComplianceRow source_nat_row(const Config &c) {
    const char *summary = "concealment of internal LAN addressing";
    std::string covered;
    unsigned internet = 0;
    for (const Interface &i : c.interfaces) {
        bool in_internet = false;
        for (const Zone &z : c.zones)
            in_internet = in_internet || (z.name == i.zone && z.loop == Loop::internet);
        if (!in_internet)
            continue;
        ++internet;
        std::string rules;
        for (const NatSource &r : c.nat.sources)
            if (r.interface == i.name)
                rules += (rules.empty() ? "" : ", ") + r.name;
        if (rules.empty())
            return {"R90-1-6", "not met", summary,
                    "interface " + i.name +
                        " (loop internet) has no 'nat source' rule: inside addresses leave it "
                        "untranslated"};
        covered += (covered.empty() ? "" : "; ") + i.name + " by " + rules;
    }
    if (internet == 0)
        return {"R90-1-6", "not met", summary,
                "no interface is in the internet loop: no 'nat source' rule to show"};
    return {"R90-1-6", "met", summary,
            "source NAT (NAPT) on every internet-loop interface: " + covered};
}

// The zones that face attacks from outside: those of loop internet or outer.
std::vector<const Zone *> facing_zones(const Config &c) {
    std::vector<const Zone *> out;
    for (const Zone &z : c.zones)
        if (z.loop == Loop::internet || z.loop == Loop::outer)
            out.push_back(&z);
    return out;
}

std::vector<const Zone *> shielded_zones(const Config &c) {
    std::vector<const Zone *> out;
    for (const Zone &z : c.zones)
        if (z.loop == Loop::shielded)
            out.push_back(&z);
    return out;
}

using Defences = std::vector<std::pair<const char *, ScreenAction>>;

Defences all_defences(const Screen &s) {
    return {{"syn-flood", s.syn_action},
            {"source-rate", s.source_rate.action},
            {"icmp-flood", s.icmp_flood.action},
            {"udp-flood", s.udp_flood.action},
            {"scan", s.scan_action},
            {"tcp-flags", s.tcp_flags},
            {"spoofing", s.spoofing},
            {"ip-options", s.ip_options},
            {"fragments", s.fragments}};
}

// "internet (defaults)" or "internet": whether the zone has a screen of its own.
std::string screened(const Config &c, const Zone &z) {
    return z.name + (c.security.screen_for(z.name).zone.empty() ? " (defaults)" : "");
}

// R128-e: SYN floods, spoofed sources, impossible TCP flags and fragment attacks are
// screened on every zone that faces the outside (loops internet and outer).
ComplianceRow attack_row(const Config &c) {
    const char *summary = "protection against network attacks";
    auto zones = facing_zones(c);
    if (zones.empty())
        return {"R128-e", "not met", summary,
                "no zone is in the internet or outer loop: no screen to show"};
    std::string evidence;
    for (const Zone *z : zones) {
        const Screen &s = c.security.screen_for(z->name);
        const Defences named = {{"syn-flood", s.syn_action},
                                {"spoofing", s.spoofing},
                                {"tcp-flags", s.tcp_flags},
                                {"fragments", s.fragments}};
        std::string actions;
        for (const auto &[name, action] : named) {
            if (action == ScreenAction::off)
                return {"R128-e", "not met", summary,
                        "zone " + z->name + " (loop " + loop_name(z->loop) + "): " + name +
                            " is off in 'security screen " + z->name +
                            "': those attacks reach the zone unchecked"};
            actions += (actions.empty() ? "" : ", ") + std::string(name) + " " +
                       screen_action_name(action);
        }
        evidence += (evidence.empty() ? "" : "; ") + screened(c, *z) + ": " + actions;
    }
    return {"R128-e", "met", summary, "screen on every internet and outer zone: " + evidence};
}

// R90-1-3, the request-rate half: a source opening new flows too fast is dropped or
// blocked in every zone that faces the outside. Whether it is met, and the evidence.
std::pair<bool, std::string> request_rate(const Config &c) {
    auto zones = facing_zones(c);
    if (zones.empty())
        return {false, "no zone is in the internet or outer loop: no source-rate to show"};
    std::string evidence;
    for (const Zone *z : zones) {
        const ScreenRate &r = c.security.screen_for(z->name).source_rate;
        std::string limit =
            std::to_string(r.per_second) + " new flows/s, burst " + std::to_string(r.burst);
        if (r.action != ScreenAction::drop && r.action != ScreenAction::block)
            return {false, "zone " + z->name + " (loop " + loop_name(z->loop) +
                               "): source-rate action " + screen_action_name(r.action) +
                               " lets a source exceed " + limit};
        evidence += (evidence.empty() ? "" : ", ") + screened(c, *z) + " " +
                    screen_action_name(r.action) + " above " + limit;
    }
    return {true, "source-rate " + evidence};
}

// R139-10-1: the shielded zones are screened with every defence on (the IPS half), and
// servers there are published by address translation.
ComplianceRow shielded_row(const Config &c) {
    const char *summary = "shielded subnet with IPS and address translation";
    const Nat &nat = c.nat;
    bool translated = !nat.destinations.empty() || !nat.statics.empty();
    std::string translation =
        !translated
            ? std::string("no 'nat destination' or 'nat static' rule")
            : std::to_string(nat.destinations.size()) + " destination rules" +
                  (nat.destinations.empty() ? "" : " (" + names_of(nat.destinations) + ")") +
                  " and " + std::to_string(nat.statics.size()) + " static translations" +
                  (nat.statics.empty() ? "" : " (" + names_of(nat.statics) + ")");
    auto status = [&](bool ips_ok, const std::string &ips) {
        return ComplianceRow{"R139-10-1", ips_ok && translated ? "met" : "not met", summary,
                             "IPS: " + ips + "; address translation: " + translation};
    };
    auto zones = shielded_zones(c);
    if (zones.empty())
        return status(false, "no zone is in the shielded loop");
    std::string ips;
    for (const Zone *z : zones) {
        for (const auto &[name, action] : all_defences(c.security.screen_for(z->name)))
            if (action == ScreenAction::off)
                return status(false, "zone " + z->name + " (loop shielded): " + name +
                                         " is off in 'security screen " + z->name + "'");
        ips += (ips.empty() ? "" : ", ") + screened(c, *z);
    }
    return status(true, "all screen defences on in " + ips);
}

// "e1 (ref 1), e2 (ref 2)": the exceptions with their official requests.
std::string requests_of(const std::vector<CategoryException> &exceptions) {
    std::string out;
    for (const CategoryException &e : exceptions)
        out += (out.empty() ? "" : ", ") + e.name + " (" + e.reference + ")";
    return out;
}

// "1 exception", "2 exceptions".
std::string counted(std::size_t n, const std::string &noun, const std::string &plural = "") {
    return std::to_string(n) + " " + (n == 1 ? noun : plural.empty() ? noun + "s" : plural);
}

// R134-1: the six categories are blocked on every forwarded flow, which needs a dataplane
// that forwards.
ComplianceRow category_block_row(const Categories &c, bool connected) {
    const char *summary = "block VPN, remote access, p2p, games, unknown, malicious";
    if (!connected)
        return {"R134-1", "not met", summary,
                "dataplane not connected: no flow is classified (nothing forwards)"};
    return {"R134-1", "met", summary,
            "the six categories (vpn, remote-access, p2p, games, unknown, malicious) are "
            "blocked on every forwarded flow; " +
                counted(c.exceptions.size(), "exception")};
}

// R134-2: a category is unblocked only by an exception, and the schema refuses one without
// its official request, so the row is met whatever the count.
ComplianceRow unblocking_row(const Categories &c) {
    const char *summary = "unblocking categories on official request";
    if (c.exceptions.empty())
        return {"R134-2", "met", summary,
                "0 exceptions: unblocking only by an exception carrying its official request"};
    return {"R134-2", "met", summary,
            counted(c.exceptions.size(), "exception") +
                ", each with its official request: " + requests_of(c.exceptions)};
}

// R133-3: what the exceptions allow, to which source networks and organizations.
ComplianceRow allowances_row(const Categories &c) {
    std::size_t categories = 0, applications = 0, networks = 0, any_source = 0;
    std::set<std::string> organizations;
    for (const CategoryException &e : c.exceptions) {
        for (unsigned i = 0; i < category_count; ++i)
            categories += (e.categories & category_bit(static_cast<Category>(i))) ? 1 : 0;
        applications += e.applications.size();
        networks += e.sources.size();
        any_source += e.sources.empty() ? 1 : 0;
        if (!e.organization.empty())
            organizations.insert(e.organization);
    }
    std::string orgs;
    for (const std::string &o : organizations)
        orgs += (orgs.empty() ? "" : ", ") + o;
    return {"R133-3", "met", "allowed categories and organization address lists",
            counted(c.exceptions.size(), "exception") + " allow " +
                counted(categories, "category", "categories") + " and " +
                counted(applications, "application") + " to " +
                counted(networks, "source network") + " (" + counted(any_source, "exception") +
                " for any source) of " + counted(organizations.size(), "organization") +
                (orgs.empty() ? "" : " (" + orgs + ")")};
}

// R133-4: agreed channels pass despite the vpn block; the IPsec half is issue 8's.
ComplianceRow vpn_channel_row(const Categories &c) {
    return {"R133-4", "partly met", "agreed VPN channels",
            counted(c.vpn_channels.size(), "agreed VPN channel") +
                (c.vpn_channels.empty() ? "" : " (" + names_of(c.vpn_channels) + ")") +
                " pass despite the vpn block; IPsec channels wait for issue 8"};
}

// "198.18.1.0/24, 198.18.4.0/24".
std::string prefixes_of(const std::vector<Prefix> &ps) {
    std::string out;
    for (const Prefix &p : ps)
        out += (out.empty() ? "" : ", ") + format_prefix(p);
    return out;
}

// "; IKE established: branch1 (1 of 2 peers)", or why charon could not say.
std::string live_ike(const Ipsec &ipsec, const ComplianceFacts &f) {
    if (!f.ike_known)
        return "";
    if (!f.ike_error.empty())
        return "; IKE: " + f.ike_error;
    std::string up;
    std::size_t n = 0;
    for (const IpsecPeer &p : ipsec.peers)
        if (std::find(f.ike_up.begin(), f.ike_up.end(), p.name) != f.ike_up.end()) {
            up += (up.empty() ? "" : ", ") + p.name;
            ++n;
        }
    return "; IKE established: " + (up.empty() ? std::string("none") : up) + " (" +
           std::to_string(n) + " of " + counted(ipsec.peers.size(), "peer") + ")";
}

// R128-h: IPsec channels (IKEv2 + ESP) are configured. Partly met at best: the ciphers are
// AES-256 (GCM, or CBC with HMAC-SHA-256); no certified national algorithm (MCIP) can be
// chosen yet, and the auditor has to see that.
ComplianceRow ipsec_row(const Ipsec &ipsec, const ComplianceFacts &f) {
    const char *summary = "cryptographic protection of traffic (IPsec)";
    if (ipsec.peers.empty())
        return {"R128-h", "not met", summary,
                "no 'ipsec peer' configured: no traffic is protected cryptographically "
                "(IKEv2/ESP channels are available, docs/IPSEC.md)"};
    std::set<std::string> esp;
    std::size_t psk = 0;
    for (const IpsecPeer &p : ipsec.peers) {
        esp.insert(p.esp_proposals.begin(), p.esp_proposals.end());
        psk += p.auth == IpsecAuth::psk ? 1 : 0;
    }
    std::string proposals;
    for (const std::string &e : esp)
        proposals += (proposals.empty() ? "" : ", ") + e;
    return {"R128-h", "partly met", summary,
            counted(ipsec.peers.size(), "IPsec peer") + " (" + names_of(ipsec.peers) +
                "): IKEv2, ESP " + proposals + " (AES-256-GCM / AES-256-CBC + HMAC-SHA-256), " +
                counted(psk, "pre-shared key") + ", " +
                counted(ipsec.peers.size() - psk, "X.509 certificate") +
                "; no certified national algorithm (MCIP) can be chosen yet" + live_ike(ipsec, f)};
}

// R139-3: what the gateway can vouch for is that traffic between the sites the peers
// name runs only through their tunnels: the commit check admits no other path out of the
// inner loop (R139-7, R139-8), and the dataplane drops what a tunnel covers when no SA
// carries it. Which traffic is confidential is the operator's choice of subnets.
ComplianceRow confidential_row(const Config &c, const std::vector<Violation> &violations) {
    const char *summary = "confidential traffic only inside IPsec channels";
    if (c.ipsec.peers.empty())
        return {"R139-3", "not met", summary,
                "no 'ipsec peer' configured: traffic between sites has no protected channel"};
    if (!violations.empty())
        return {"R139-3", "not met", summary,
                violations.front().message + ": traffic can leave the inner loop outside the "
                                             "tunnels"};
    std::string pairs;
    for (const IpsecPeer &p : c.ipsec.peers)
        pairs += (pairs.empty() ? "" : "; ") + prefixes_of(p.local_subnets) + " <-> " +
                 prefixes_of(p.remote_subnets) + " (" + p.name + ")";
    return {"R139-3", "met", summary,
            "between sites only through IPsec: " + pairs +
                "; no other path leaves the inner loop for the outer loop or the Internet "
                "(R139-7, R139-8, checked at every commit); what a tunnel covers is dropped "
                "when no SA carries it (ipsec_no_sa). Which traffic is confidential is the "
                "operator's choice of local-subnet and remote-subnet"};
}

// R133-1: the dataplane blocks remote access into the outer loop from any other loop before
// it looks at the exceptions.
ComplianceRow remote_control_row(const Config &c) {
    std::string outer;
    for (const Zone &z : c.zones)
        if (z.loop == Loop::outer)
            outer += (outer.empty() ? "" : ", ") + z.name;
    return {"R133-1", "met", "no remote control of outer-loop objects from outside",
            "remote access arriving from a zone outside the outer loop towards an outer-loop "
            "zone is blocked whatever the exceptions say; " +
                (outer.empty() ? std::string("no zone is in the outer loop")
                               : "outer-loop zones: " + outer)};
}

} // namespace

std::vector<Violation> check_loops(const Config &conf) {
    return LoopChecker(conf).run();
}

Status check_compliance(const Config &conf) {
    auto found = check_loops(conf);
    if (found.empty())
        return Ok{};
    return Error{found.front().where, found.front().message};
}

std::vector<ComplianceRow> compliance_report(const Config &running, const ComplianceFacts &f) {
    auto violations = check_loops(running);
    auto loop_row = [&](const char *id, const char *summary, const std::string &clean) {
        for (const Violation &v : violations)
            if (v.requirement == id)
                return ComplianceRow{id, "not met", summary, v.message};
        return ComplianceRow{id, "met", summary, clean};
    };
    std::size_t ingress = 0, egress = 0;
    for (const InterfacePolicy &p : running.policies) {
        ingress += p.ingress.size();
        egress += p.egress.size();
    }
    unsigned disabled = 0;
    for (const Interface &i : running.interfaces)
        disabled += i.disabled ? 1 : 0;
    const std::string ports = std::to_string(f.ports_total) + " ports, " +
                              std::to_string(f.ports_up) + " up, " +
                              std::to_string(f.ports_disabled) + " disabled";
    const std::string none = "not planned in issues 2-9 yet";

    std::vector<ComplianceRow> rows;
    rows.push_back(later("R128-a", "centralized authorization of network nodes",
                         "no authorized-node table yet; " + none));
    const LoginSettings &login = running.system.login;
    const AuditSettings &audit = running.system.audit;
    auto row = [](const char *id, bool ok, const char *summary, const std::string &evidence) {
        return ComplianceRow{id, ok ? "met" : "not met", summary, evidence};
    };
    if (f.audit_known) {
        rows.push_back(row("R128-b", true, "administrator privilege levels",
                           "levels 0-15 with command classes (system login level); built-in "
                           "roles operator, auditor, network-admin, security-admin; " +
                               std::to_string(f.users) + " users (show users)"));
        rows.push_back(row("R128-c", f.audit_intact, "recording administrator actions",
                           "every login, command, commit (with diff), refusal, time change and "
                           "service start is an audit record; " +
                               f.audit_summary));
    } else {
        rows.push_back(
            later("R128-b", "administrator privilege levels",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
        rows.push_back(
            later("R128-c", "recording administrator actions",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
    }
    rows.push_back(static_nat_row(running.nat));
    rows.push_back(attack_row(running));
    if (f.dataplane_connected)
        rows.push_back({"R128-f", "met", "monitoring of physical and logical ports",
                        ports + " (show interfaces: link, speed, counters, errors); logical "
                                "ports (VLAN, tunnel) do not exist yet"});
    else
        rows.push_back({"R128-f", "not met", "monitoring of physical and logical ports",
                        "dataplane not connected: no port status"});
    if (f.dataplane_connected)
        rows.push_back({"R128-g", "met", "filtering on each interface",
                        "stateful rules per interface and direction, default deny: " +
                            std::to_string(running.policies.size()) + " interface policies, " +
                            std::to_string(ingress) + " ingress and " + std::to_string(egress) +
                            " egress rules in the running policy"});
    else
        rows.push_back({"R128-g", "not met", "filtering on each interface",
                        "dataplane not connected: the policy is not enforced (nothing forwards)"});
    rows.push_back(ipsec_row(running.ipsec, f));
    const Categories &categories = running.security.categories;
    rows.push_back(category_block_row(categories, f.dataplane_connected));
    rows.push_back(unblocking_row(categories));
    rows.push_back(allowances_row(categories));
    rows.push_back(vpn_channel_row(categories));
    rows.push_back(remote_control_row(running));
    rows.push_back(confidential_row(running, violations));
    std::string integrity =
        "met: configuration integrity (SHA-256 of " + std::to_string(f.revisions) +
        " revisions, running matches), zones and segments, per-interface firewall, "
        "administrator authentication and the audit log, hiding of inside addresses (NAPT: see "
        "R90-1-6); not yet: monitoring and analysis of traffic (issues 6, 7)";
    if (f.running_config_intact)
        rows.push_back(
            {"R139-4", "partly met", "access control, segmentation, integrity", integrity});
    else
        rows.push_back({"R139-4", "not met", "access control, segmentation, integrity",
                        "the running configuration does not match its recorded SHA-256: "
                        "tampered"});
    const std::string channels =
        running.ipsec.peers.empty()
            ? std::string("; no IPsec channel configured")
            : " other than the IPsec peers' subnet pairs, through their tunnels (" +
                  names_of(running.ipsec.peers) + ")";
    rows.push_back(loop_row("R139-7", "inner and outer loops never interconnect",
                            "no accepted path between the inner and outer loops" + channels +
                                " (checked at every commit)"));
    rows.push_back(loop_row("R139-8", "inner loop never connected to the Internet",
                            "no accepted path between the inner loop and the Internet (checked "
                            "at every commit)"));
    rows.push_back(later("R139-9", "outer loop reaches the Internet only through the UIAG",
                         "no UIAG uplink declaration yet; " + none));
    rows.push_back(shielded_row(running));
    rows.push_back(later("R139-12", "time synchronization with the national time source",
                         "no NTP status yet; " + none));
    bool ports_down = f.dataplane_connected && f.ports_disabled == disabled &&
                      f.ports_up + f.ports_disabled <= f.ports_total;
    if (ports_down)
        rows.push_back({"R139-13", "met", "unused ports disabled",
                        std::to_string(disabled) +
                            " interfaces disabled in the configuration "
                            "and down in the dataplane (" +
                            ports + ")"});
    else
        rows.push_back({"R139-13", "not met", "unused ports disabled",
                        f.dataplane_connected
                            ? std::to_string(disabled) +
                                  " interfaces disabled in the "
                                  "configuration but the dataplane "
                                  "reports " +
                                  ports
                            : std::string("dataplane not connected: port state unknown")});
    rows.push_back(later("R38-3", "event log time synchronized", "no NTP status yet; " + none));
    auto [rate_ok, rate_evidence] = request_rate(running);
    if (f.audit_known) {
        rows.push_back(row("R38-4", audit.retention_days >= 1095,
                           "event logs kept 3 years, 2 months online",
                           "retention " + std::to_string(audit.retention_days) +
                               " days (never below 1095); rotated archives gzip'ed and verified; "
                               "show log audit covers 60 days"));
        rows.push_back(row("R38-6", f.audit_intact && f.audit_storage != "full",
                           "logs protected from interference",
                           "hash chain + forward-sealed HMAC; no command alters records; " +
                               f.audit_summary + "; storage " + f.audit_storage));
        rows.push_back(row("R52", true, "abnormal user activity registered and blocked",
                           "alert records after " + std::to_string(login.alert_failures) +
                               " failed logins or " + std::to_string(login.alert_refusals) +
                               " refusals; lockout after " +
                               std::to_string(login.lockout_failures) + " failures"));
        rows.push_back(row("R47", f.privileged_with_totp == f.privileged_users,
                           "multi-factor authentication for privileged operations",
                           std::to_string(f.privileged_with_totp) + " of " +
                               std::to_string(f.privileged_users) +
                               " users above operator have TOTP (others may only enrol)"));
        rows.push_back(row(
            "R90-1-3", rate_ok, "block on excess request rate or authentication errors",
            "account and source lockout after " + std::to_string(login.lockout_failures) +
                " failures for " + std::to_string(login.lockout_time) + " s; " + rate_evidence));
    } else {
        rows.push_back(
            later("R38-4", "event logs kept 3 years, 2 months online",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
        rows.push_back(
            later("R38-6", "logs protected from interference",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
        rows.push_back(
            later("R52", "abnormal user activity registered and blocked",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
        rows.push_back(
            later("R47", "multi-factor authentication for privileged operations",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
        rows.push_back({"R90-1-3", rate_ok ? "partly met" : "not met",
                        "block on excess request rate or authentication errors",
                        rate_evidence + "; the login lockout is known to qorgand only (built in "
                                        "issue 4): run show compliance in the shell"});
    }
    rows.push_back(source_nat_row(running));
    if (f.audit_known) {
        rows.push_back(row("R90-1-7", audit.syslog.has_value() && f.forwarding_connected,
                           "event logs on a dedicated log server",
                           audit.syslog
                               ? "syslog over TLS to " + audit.syslog->server + ":" +
                                     std::to_string(audit.syslog->port) + ": " + f.forwarding_detail
                               : std::string("no 'system audit syslog' configured")));
        rows.push_back(row("R102-2", true, "role-based access, minimum privilege",
                           "no level may combine network with security or audit-settings; "
                           "the security admin reads no traffic"));
        rows.push_back(row("R118", true, "identification, authentication, session limits",
                           "yescrypt; passwords of " + std::to_string(login.password.min_length) +
                               "+ characters, " + std::to_string(login.password.min_classes) +
                               " classes, history " + std::to_string(login.password.history) +
                               "; idle " + std::to_string(login.idle_timeout) + " s, lifetime " +
                               std::to_string(login.session_lifetime) + " s"));
    } else {
        rows.push_back(
            later("R90-1-7", "event logs on a dedicated log server",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
        rows.push_back(
            later("R102-2", "role-based access, minimum privilege",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
        rows.push_back(
            later("R118", "identification, authentication, session limits",
                  "known to qorgand only (built in issue 4): run show compliance in the shell"));
    }
    return rows;
}

} // namespace qorgan::config

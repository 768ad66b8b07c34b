// SPDX-License-Identifier: GPL-2.0-or-later
// Compiles a configuration into a Snapshot: ACLs per interface and direction, routes,
// rule counters per worker.
#include "dataplane/snapshot.h"

#include <algorithm>

#include <rte_byteorder.h>

#include <cstring>

namespace qorgan::dp {

std::optional<config::Address> Snapshot::source_towards(const config::Prefix &dst) const {
    uint16_t hop = 0;
    if (dst.family == 4) {
        uint32_t a;
        std::memcpy(&a, dst.bytes.data(), 4);
        hop = routes->lookup4(a);
    } else {
        hop = routes->lookup6(dst.bytes.data());
    }
    const NextHop &nh = routes->next_hop(hop);
    if (nh.kind != NextHopKind::connected && nh.kind != NextHopKind::gateway)
        return std::nullopt;
    const IfaceState *out = iface_by_port(nh.port);
    if (!out || (dst.family == 4 ? !out->has4 : !out->has6))
        return std::nullopt;
    config::Address a;
    a.family = dst.family;
    a.length = dst.family == 4 ? 32 : 128;
    std::memcpy(a.bytes.data(),
                dst.family == 4 ? static_cast<const void *>(&out->addr4) : out->addr6,
                dst.family == 4 ? 4 : 16);
    return a;
}

bool Snapshot::owns(const PacketMeta &m, const uint32_t addr[4]) const {
    if (m.l3 == L3Kind::ipv4) {
        for (uint32_t a : own4)
            if (a == addr[0])
                return true;
        return false;
    }
    for (const auto &a : own6)
        if (std::memcmp(a.data(), addr, 16) == 0)
            return true;
    return false;
}

uint64_t Snapshot::rule_hits(uint32_t slot) const {
    uint64_t n = 0;
    for (const auto &w : rule_counters)
        n += w[slot].hits.get();
    return n;
}

uint64_t Snapshot::rule_bytes(uint32_t slot) const {
    uint64_t n = 0;
    for (const auto &w : rule_counters)
        n += w[slot].bytes.get();
    return n;
}

Result<std::unique_ptr<Snapshot>> build_snapshot(const config::Config &conf,
                                                 const std::vector<PortBinding> &ports,
                                                 unsigned workers, uint32_t epoch, int socket_id,
                                                 const Snapshot *previous) {
    auto s = std::make_unique<Snapshot>();
    s->epoch = epoch;
    s->conf = conf;
    s->iface_of_port.fill(-1);
    s->ifaces.resize(s->conf.interfaces.size());

    std::vector<RouteInterface> rifs;
    for (size_t i = 0; i < s->conf.interfaces.size(); i++) {
        const config::Interface &ic = s->conf.interfaces[i];
        IfaceState &st = s->ifaces[i];
        st.conf = &ic;
        const PortBinding *b = nullptr;
        for (const auto &p : ports)
            if (p.name == ic.name)
                b = &p;
        if (!b)
            return Error{ic.where, "interfaces " + ic.name + ": no port is bound to it"};
        if (b->port >= RTE_MAX_ETHPORTS)
            return Error{ic.where, "interfaces " + ic.name + ": port id out of range"};
        st.port = b->port;
        st.mac = b->mac;
        s->iface_of_port[b->port] = static_cast<int16_t>(i);
        st.screen = &s->conf.security.screen_for(ic.zone);
        for (const config::Zone &z : s->conf.zones)
            if (z.name == ic.zone)
                st.loop = z.loop;
        const config::Screen &sc = *st.screen;
        st.limits =
            GuardLimits{sc.source_rate.per_second, sc.source_rate.burst, sc.concurrent,
                        sc.icmp_flood.per_second,  sc.icmp_flood.burst,  sc.udp_flood.per_second,
                        sc.udp_flood.burst};
        unsigned nb = 0;
        for (const auto &a : ic.addresses) {
            if (a.family == 4) {
                uint32_t v;
                std::memcpy(&v, a.bytes.data(), 4);
                s->own4.push_back(v);
                if (a.length < 31 && nb < 4) {
                    uint32_t host_mask = a.length == 0 ? ~0u : (1u << (32 - a.length)) - 1;
                    st.broadcast4[nb++] = v | rte_cpu_to_be_32(host_mask);
                }
            } else {
                std::array<uint32_t, 4> v6;
                std::memcpy(v6.data(), a.bytes.data(), 16);
                s->own6.push_back(v6);
            }
            if (a.family == 4 && !st.has4) {
                std::memcpy(&st.addr4, a.bytes.data(), 4);
                st.has4 = true;
            } else if (a.family == 6 && !st.has6) {
                std::memcpy(st.addr6, a.bytes.data(), 16);
                st.has6 = true;
            }
        }
        rifs.push_back(RouteInterface{&ic, b->port});
    }

    for (const auto &pol : s->conf.policies) {
        IfaceState *st = nullptr;
        for (auto &i : s->ifaces)
            if (i.conf->name == pol.interface)
                st = &i;
        if (!st)
            return Error{pol.where, "policy " + pol.interface + ": no such interface"};
        const std::vector<config::Rule> *lists[2] = {&pol.ingress, &pol.egress};
        for (int d = 0; d < 2; d++) {
            auto rs = RuleSet::compile(*lists[d], socket_id);
            if (!rs)
                return Error{rs.error().where, "policy " + pol.interface +
                                                   (d == 0 ? " ingress: " : " egress: ") +
                                                   rs.error().message};
            st->rules[d] = std::move(rs.value());
        }
    }
    // Interfaces without a policy block still get (empty, default-deny) rule sets.
    for (auto &st : s->ifaces) {
        for (int d = 0; d < 2; d++) {
            if (!st.rules[d]) {
                auto rs = RuleSet::compile({}, socket_id);
                if (!rs)
                    return rs.error();
                st.rules[d] = std::move(rs.value());
            }
            st.rule_base[d] = s->rule_count;
            s->rule_count += static_cast<uint32_t>(st.rules[d]->rules().size());
        }
    }

    auto routes = RouteTable::build(s->conf, rifs, socket_id);
    if (!routes)
        return routes.error();
    s->routes = std::move(routes.value());

    std::vector<std::pair<std::string, uint16_t>> nat_ports;
    for (const auto &b : ports)
        nat_ports.emplace_back(b.name, b.port);
    auto nat = NatTable::build(s->conf, nat_ports, workers,
                               previous && previous->nat ? previous->nat.get() : nullptr);
    if (!nat)
        return nat.error();
    s->nat = std::move(nat.value());

    // nDPI modules cannot take new lists in place: a changed list builds a new set here, off
    // the hot path, and the workers move to it with the snapshot.
    const config::Categories &cat = s->conf.security.categories;
    auto lists = dpi::gather_lists(cat);
    if (!lists)
        return lists.error();
    if (previous && previous->dpi && previous->dpi->workers() == std::max(workers, 1u) &&
        previous->dpi->lists() == lists.value()) {
        s->dpi = previous->dpi;
    } else {
        auto set = dpi::ModuleSet::create(std::move(lists.value()), workers);
        if (!set)
            return set.error();
        s->dpi = std::move(set.value());
    }
    auto policy = dpi::CategoryPolicy::compile(cat, *s->dpi);
    if (!policy)
        return policy.error();
    s->categories = std::make_unique<dpi::CategoryPolicy>(std::move(policy.value()));

    for (unsigned w = 0; w < workers; w++)
        s->rule_counters.emplace_back(new RuleCounter[s->rule_count + 1]);
    return s;
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
#include "dataplane/nat.h"

#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace qorgan::dp {

namespace {

uint32_t v4(const config::Prefix &p) {
    uint32_t a;
    std::memcpy(&a, p.bytes.data(), 4);
    return a;
}

uint64_t port_addr(uint16_t port, uint32_t addr) {
    return uint64_t(port) << 32 | addr;
}

std::atomic<uint32_t> next_generation{1};

bool same_pool(const PortPoolConfig &a, const PortPoolConfig &b) {
    return a.addresses == b.addresses && a.low == b.low && a.high == b.high &&
           a.workers == b.workers && a.max_per_source == b.max_per_source &&
           a.max_sources == b.max_sources && a.endpoint_independent == b.endpoint_independent;
}

} // namespace

Result<std::unique_ptr<NatTable>>
NatTable::build(const config::Config &conf,
                const std::vector<std::pair<std::string, uint16_t>> &ports, unsigned workers,
                const NatTable *previous) {
    auto t = std::unique_ptr<NatTable>(new NatTable());
    t->_workers = std::max(1u, workers);
    t->_mss_clamp = conf.nat.mss_clamp;
    // Counters, like pools, outlive the snapshot: a commit does not reset them.
    if (previous && previous->_workers == t->_workers)
        t->_counters = previous->_counters;
    else
        t->_counters = std::shared_ptr<NatCounters[]>(new NatCounters[t->_workers]);
    auto port_of = [&](const std::string &name) -> int {
        for (const auto &p : ports)
            if (p.first == name)
                return p.second;
        return -1;
    };
    auto iface_addr4 = [&](const std::string &name) -> std::optional<uint32_t> {
        for (const auto &i : conf.interfaces)
            if (i.name == name)
                for (const auto &a : i.addresses)
                    if (a.family == 4)
                        return v4(a);
        return std::nullopt;
    };
    auto own = [&](uint32_t addr) {
        for (const auto &i : conf.interfaces)
            for (const auto &a : i.addresses)
                if (a.family == 4 && v4(a) == addr)
                    return true;
        return false;
    };

    for (size_t i = 0; i < conf.nat.statics.size(); i++) {
        const auto &st = conf.nat.statics[i];
        int port = port_of(st.interface);
        if (port < 0)
            return Error{st.where, "nat static " + st.name + ": no interface " + st.interface};
        NatStaticEntry e{v4(st.inside), v4(st.outside), uint16_t(port), uint16_t(i), st.hairpin};
        t->_statics_by_outside.push_back(e);
        if (e.hairpin)
            t->_hairpin_statics.push_back(e);
        t->_statics_by_inside.push_back(e);
        t->_arp.push_back(port_addr(e.port, e.outside));
    }
    for (size_t i = 0; i < conf.nat.destinations.size(); i++) {
        const auto &d = conf.nat.destinations[i];
        int port = port_of(d.interface);
        if (port < 0)
            return Error{d.where, "nat destination " + d.name + ": no interface " + d.interface};
        std::optional<uint32_t> addr = d.address ? v4(*d.address) : iface_addr4(d.interface);
        if (!addr)
            return Error{d.where, "nat destination " + d.name + ": interface " + d.interface +
                                      " has no IPv4 address; give `address`"};
        NatDnatEntry e;
        e.port = uint16_t(port);
        e.proto = d.protocol;
        e.addr = *addr;
        e.dport = rte_cpu_to_be_16(d.port);
        e.to = v4(d.to);
        e.to_port = rte_cpu_to_be_16(d.to_port ? d.to_port : d.port);
        e.index = uint16_t(i);
        e.hairpin = d.hairpin;
        t->_dnat.push_back(e);
        if (e.hairpin)
            t->_hairpin_dnat.push_back(e);
        if (!own(e.addr))
            t->_arp.push_back(port_addr(e.port, e.addr));
    }
    for (size_t i = 0; i < conf.nat.sources.size(); i++) {
        const auto &sr = conf.nat.sources[i];
        int port = port_of(sr.interface);
        if (port < 0)
            return Error{sr.where, "nat source " + sr.name + ": no interface " + sr.interface};
        NatSourceRule r;
        r.port = uint16_t(port);
        r.index = uint16_t(i);
        for (const auto &f : sr.from) {
            uint32_t mask = f.length == 0 ? 0 : ~uint32_t(0) << (32 - f.length);
            r.from.emplace_back(rte_be_to_cpu_32(v4(f)) & mask, mask);
        }
        for (const auto &a : sr.pool)
            r.pool.addresses.push_back(v4(a));
        if (r.pool.addresses.empty()) {
            auto a = iface_addr4(sr.interface);
            if (!a)
                return Error{sr.where, "nat source " + sr.name + ": interface " + sr.interface +
                                           " has no IPv4 address; give a `pool`"};
            r.pool.addresses.push_back(*a);
        }
        r.pool.low = sr.ports.low;
        r.pool.high = sr.ports.high;
        r.pool.workers = t->_workers;
        r.pool.max_per_source = sr.max_per_source;
        r.pool.endpoint_independent = sr.endpoint_independent;
        const NatSourceRule *old = nullptr;
        if (previous)
            for (const auto &o : previous->_sources)
                if (o.port == r.port && same_pool(o.pool, r.pool))
                    old = &o;
        if (old) {
            r.pools = old->pools;
            r.generation = old->generation;
        } else {
            r.generation = next_generation.fetch_add(1);
            for (unsigned w = 0; w < t->_workers; w++) {
                PortPoolConfig pc = r.pool;
                pc.worker = w;
                auto pool = PortPool::create(pc);
                if (!pool)
                    return Error{sr.where, "nat source " + sr.name + ": " + pool.error().message};
                r.pools.push_back(std::make_shared<PortPool>(std::move(pool.value())));
            }
        }
        for (uint32_t a : r.pool.addresses) {
            t->_pool_addrs.emplace_back(port_addr(r.port, a), uint16_t(i));
            if (!own(a))
                t->_arp.push_back(port_addr(r.port, a));
        }
        t->_sources.push_back(std::move(r));
    }

    std::sort(t->_statics_by_outside.begin(), t->_statics_by_outside.end(),
              [](const auto &a, const auto &b) {
                  return port_addr(a.port, a.outside) < port_addr(b.port, b.outside);
              });
    std::sort(t->_statics_by_inside.begin(), t->_statics_by_inside.end(),
              [](const auto &a, const auto &b) { return a.inside < b.inside; });
    auto dkey = [](const NatDnatEntry &e) { return std::tuple(e.port, e.proto, e.addr, e.dport); };
    std::sort(t->_dnat.begin(), t->_dnat.end(),
              [&](const auto &a, const auto &b) { return dkey(a) < dkey(b); });
    t->_dnat_targets = t->_dnat;
    auto tkey = [](const NatDnatEntry &e) { return std::tuple(e.proto, e.to, e.to_port); };
    std::sort(t->_dnat_targets.begin(), t->_dnat_targets.end(),
              [&](const auto &a, const auto &b) { return tkey(a) < tkey(b); });
    std::sort(t->_hairpin_statics.begin(), t->_hairpin_statics.end(),
              [](const auto &a, const auto &b) { return a.outside < b.outside; });
    auto hkey = [](const NatDnatEntry &e) { return std::tuple(e.proto, e.addr, e.dport); };
    std::sort(t->_hairpin_dnat.begin(), t->_hairpin_dnat.end(),
              [&](const auto &a, const auto &b) { return hkey(a) < hkey(b); });
    std::sort(t->_pool_addrs.begin(), t->_pool_addrs.end());
    std::sort(t->_arp.begin(), t->_arp.end());
    t->_arp.erase(std::unique(t->_arp.begin(), t->_arp.end()), t->_arp.end());
    return t;
}

const NatStaticEntry *NatTable::static_by_outside(uint16_t port, uint32_t addr) const {
    uint64_t k = port_addr(port, addr);
    auto it = std::lower_bound(
        _statics_by_outside.begin(), _statics_by_outside.end(), k,
        [](const NatStaticEntry &e, uint64_t key) { return port_addr(e.port, e.outside) < key; });
    if (it == _statics_by_outside.end() || port_addr(it->port, it->outside) != k)
        return nullptr;
    return &*it;
}

const NatStaticEntry *NatTable::static_inside_any(uint32_t addr) const {
    auto it =
        std::lower_bound(_statics_by_inside.begin(), _statics_by_inside.end(), addr,
                         [](const NatStaticEntry &e, uint32_t key) { return e.inside < key; });
    if (it == _statics_by_inside.end() || it->inside != addr)
        return nullptr;
    return &*it;
}

const NatStaticEntry *NatTable::static_by_inside(uint16_t port, uint32_t addr) const {
    const NatStaticEntry *e = static_inside_any(addr);
    // The config refuses two statics with one inside address, so one entry at most.
    return e && e->port == port ? e : nullptr;
}

const NatStaticEntry *NatTable::static_hairpin(uint32_t addr) const {
    auto it =
        std::lower_bound(_hairpin_statics.begin(), _hairpin_statics.end(), addr,
                         [](const NatStaticEntry &e, uint32_t key) { return e.outside < key; });
    if (it == _hairpin_statics.end() || it->outside != addr)
        return nullptr;
    return &*it;
}

const NatDnatEntry *NatTable::dnat_hairpin(uint8_t proto, uint32_t addr, uint16_t dport) const {
    auto k = std::tuple(proto, addr, dport);
    auto it = std::lower_bound(
        _hairpin_dnat.begin(), _hairpin_dnat.end(), k,
        [](const NatDnatEntry &e, auto key) { return std::tuple(e.proto, e.addr, e.dport) < key; });
    if (it == _hairpin_dnat.end() || std::tuple(it->proto, it->addr, it->dport) != k)
        return nullptr;
    return &*it;
}

const NatDnatEntry *NatTable::dnat(uint16_t port, uint8_t proto, uint32_t addr,
                                   uint16_t dport) const {
    auto k = std::tuple(port, proto, addr, dport);
    auto it = std::lower_bound(_dnat.begin(), _dnat.end(), k, [](const NatDnatEntry &e, auto key) {
        return std::tuple(e.port, e.proto, e.addr, e.dport) < key;
    });
    if (it == _dnat.end() || std::tuple(it->port, it->proto, it->addr, it->dport) != k)
        return nullptr;
    return &*it;
}

const NatDnatEntry *NatTable::dnat_by_target(uint8_t proto, uint32_t to, uint16_t to_port) const {
    auto k = std::tuple(proto, to, to_port);
    auto it = std::lower_bound(
        _dnat_targets.begin(), _dnat_targets.end(), k,
        [](const NatDnatEntry &e, auto key) { return std::tuple(e.proto, e.to, e.to_port) < key; });
    if (it == _dnat_targets.end() || std::tuple(it->proto, it->to, it->to_port) != k)
        return nullptr;
    return &*it;
}

const NatSourceRule *NatTable::source_rule(uint16_t port, uint32_t src) const {
    uint32_t h = rte_be_to_cpu_32(src);
    for (const auto &r : _sources) {
        if (r.port != port)
            continue;
        if (r.from.empty())
            return &r;
        for (const auto &[net, mask] : r.from)
            if ((h & mask) == net)
                return &r;
    }
    return nullptr;
}

const NatSourceRule *NatTable::pool_rule(uint16_t port, uint32_t addr) const {
    uint64_t k = port_addr(port, addr);
    auto it = std::lower_bound(_pool_addrs.begin(), _pool_addrs.end(), k,
                               [](const auto &e, uint64_t key) { return e.first < key; });
    if (it == _pool_addrs.end() || it->first != k)
        return nullptr;
    for (const auto &r : _sources)
        if (r.index == it->second)
            return &r;
    return nullptr;
}

const NatSourceRule *NatTable::rule_by_generation(uint32_t gen) const {
    for (const auto &r : _sources)
        if (r.generation == gen)
            return &r;
    return nullptr;
}

bool NatTable::proxy_arp(uint16_t port, uint32_t addr) const {
    return std::binary_search(_arp.begin(), _arp.end(), port_addr(port, addr));
}

int nat_owner(const NatTable &nat, uint16_t in_port, uint8_t proto, uint32_t src, uint16_t sport,
              uint32_t dst, uint16_t dport) {
    if (nat.workers() < 2 || nat.empty())
        return -1;
    auto far_end = [&](uint32_t, uint16_t port) {
        uint32_t h = rte_hash_crc_4byte(port, 0x51a7u);
        return int(h % nat.workers());
    };
    bool ported = proto == config::proto_tcp || proto == config::proto_udp;
    // Destination rules first: a pool never hands out a port a destination rule publishes
    // on the same address (see Worker::handle_ip), so the two cannot be confused.
    if (ported && (nat.dnat(in_port, proto, dst, dport) || nat.dnat_hairpin(proto, dst, dport)))
        return far_end(src, sport);
    if (ported && nat.dnat_by_target(proto, src, sport))
        return far_end(dst, dport);
    if (const NatSourceRule *r = nat.pool_rule(in_port, dst)) {
        unsigned w = PortPool::owner(r->pool, rte_be_to_cpu_16(dport));
        if (w < nat.workers())
            return int(w);
    }
    if (nat.static_by_outside(in_port, dst) || nat.static_hairpin(dst))
        return far_end(src, sport);
    if (nat.static_inside_any(src))
        return far_end(dst, dport);
    return -1;
}

} // namespace qorgan::dp

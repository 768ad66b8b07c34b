// SPDX-License-Identifier: GPL-2.0-or-later
// IPsec SAs and policies of the dataplane; see ipsec_state.h.
#include "dataplane/ipsec_state.h"

#include "config/config.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace qorgan::dp {

namespace {

bool same_address(const config::Address &a, uint8_t family, const uint8_t *bytes) {
    return a.family == family && std::memcmp(a.bytes.data(), bytes, family == 6 ? 16 : 4) == 0;
}

bool proto_matches(uint8_t want, uint8_t proto) {
    return want == 0 || want == proto;
}

std::string describe(uint32_t spi, const config::Address &dst) {
    return "spi " + format_spi(spi) + " to " + config::format_address(dst);
}

} // namespace

std::string format_spi(uint32_t spi) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "0x%08x", spi);
    return buf;
}

const IpsecTable::InSa *IpsecTable::find_sa(uint32_t spi, uint8_t family,
                                            const uint8_t *dst) const {
    auto it = std::lower_bound(in_sas.begin(), in_sas.end(), spi,
                               [](const InSa &s, uint32_t v) { return s.spi < v; });
    for (; it != in_sas.end() && it->spi == spi; ++it)
        if (same_address(it->dst, family, dst))
            return &*it;
    return nullptr;
}

const IpsecTable::OutPolicy *IpsecTable::match_out(uint8_t family, const uint8_t *src,
                                                   const uint8_t *dst, uint8_t proto) const {
    for (const OutPolicy &p : out)
        if (proto_matches(p.proto, proto) && config::prefix_contains(p.src, family, src) &&
            config::prefix_contains(p.dst, family, dst))
            return &p;
    return nullptr;
}

bool IpsecTable::allowed_in(uint32_t reqid, uint8_t family, const uint8_t *src, const uint8_t *dst,
                            uint8_t proto) const {
    for (const InPolicy &p : in)
        if (p.reqid == reqid && proto_matches(p.proto, proto) &&
            config::prefix_contains(p.src, family, src) &&
            config::prefix_contains(p.dst, family, dst))
            return true;
    return false;
}

bool IpsecTable::covered_in(uint8_t family, const uint8_t *src, const uint8_t *dst,
                            uint8_t proto) const {
    for (const InPolicy &p : in)
        if (proto_matches(p.proto, proto) && config::prefix_contains(p.src, family, src) &&
            config::prefix_contains(p.dst, family, dst))
            return true;
    return false;
}

IpsecState::IpsecState(SaBackend &backend, uint32_t max_sas,
                       std::atomic<const IpsecTable *> &active, std::function<void()> quiesce)
    : _backend(backend), _max_sas(max_sas), _active(active), _quiesce(std::move(quiesce)) {
    publish();
}

IpsecState::~IpsecState() {
    std::vector<int> handles;
    for (const auto &e : _sas)
        handles.push_back(e->handle);
    _sas.clear();
    _policies.clear();
    const IpsecTable *old = _active.exchange(nullptr, std::memory_order_acq_rel);
    _quiesce();
    delete old;
    for (int h : handles)
        _backend.remove(h);
}

IpsecState::Entry *IpsecState::find(uint32_t spi, const config::Address &dst) {
    for (auto &e : _sas)
        if (e->spec.spi == spi && e->spec.dst == dst)
            return e.get();
    return nullptr;
}

const IpsecState::Entry *IpsecState::find(uint32_t spi, const config::Address &dst) const {
    for (const auto &e : _sas)
        if (e->spec.spi == spi && e->spec.dst == dst)
            return e.get();
    return nullptr;
}

Status IpsecState::add_sa(const SaSpec &sa, uint64_t now_ms) {
    if (find(sa.spi, sa.dst))
        return Error{{}, "an SA with " + describe(sa.spi, sa.dst) + " is already installed"};
    if (_sas.size() >= _max_sas) {
        _counters.refused_full++;
        return Error{{},
                     "the SA table is full (" + std::to_string(_max_sas) +
                         " SAs; raise 'ipsec max-sas')"};
    }
    std::string error;
    int handle = _backend.install(sa, error);
    if (handle < 0) {
        _counters.refused_backend++;
        return Error{{}, "SA " + describe(sa.spi, sa.dst) + " refused: " + error};
    }
    _sas.push_back(std::make_unique<Entry>(Entry{sa, handle, now_ms, ++_order}));
    _counters.sas_added++;
    publish();
    return Ok{};
}

Status IpsecState::update_sa(const IpsecRequest &r) {
    Entry *e = find(r.sa.spi, r.sa.dst);
    if (!e || !(e->spec.src == r.sa.src))
        return Error{{},
                     "no SA with " + describe(r.sa.spi, r.sa.dst) + " from " +
                         config::format_address(r.sa.src)};
    // The crypto state is bound to the outer header: install it again with the new
    // addresses, then retire the old handle once the workers have the new table.
    SaSpec moved = e->spec;
    moved.src = r.new_src;
    moved.dst = r.new_dst;
    moved.encap = r.sa.encap;
    moved.encap_sport = r.sa.encap_sport;
    moved.encap_dport = r.sa.encap_dport;
    std::string error;
    int handle = _backend.install(moved, error);
    if (handle < 0) {
        _counters.refused_backend++;
        return Error{{}, "SA " + describe(r.sa.spi, r.sa.dst) + " update refused: " + error};
    }
    int old = e->handle;
    e->spec = moved;
    e->handle = handle;
    publish({old});
    return Ok{};
}

Status IpsecState::del_sa(uint32_t spi, const config::Address &dst) {
    auto it = std::find_if(_sas.begin(), _sas.end(),
                           [&](const auto &e) { return e->spec.spi == spi && e->spec.dst == dst; });
    if (it == _sas.end())
        return Error{{}, "no SA with " + describe(spi, dst)};
    int handle = (*it)->handle;
    _sas.erase(it);
    _counters.sas_removed++;
    publish({handle});
    return Ok{};
}

Result<SaStats> IpsecState::query_sa(uint32_t spi, const config::Address &dst) const {
    const Entry *e = find(spi, dst);
    if (!e)
        return Error{{}, "no SA with " + describe(spi, dst)};
    return _backend.stats(e->handle);
}

Status IpsecState::add_policy(const PolicySpec &p) {
    for (PolicySpec &q : _policies)
        if (q.same_selector(p)) {
            q = p; // charon updates a policy by adding it again
            publish();
            return Ok{};
        }
    // Twice the SAs: in, out and fwd for each CHILD_SA, and a rekey briefly doubles them.
    if (_policies.size() >= 2 * static_cast<std::size_t>(_max_sas)) {
        _counters.refused_full++;
        return Error{{},
                     "the policy table is full (" + std::to_string(2 * _max_sas) +
                         " policies; raise 'ipsec max-sas')"};
    }
    _policies.push_back(p);
    _counters.policies_added++;
    publish();
    return Ok{};
}

Status IpsecState::del_policy(const PolicySpec &p) {
    auto it = std::find_if(_policies.begin(), _policies.end(),
                           [&](const PolicySpec &q) { return q.same_selector(p); });
    if (it == _policies.end())
        return Error{{},
                     std::string("no ") + policy_dir_name(p.dir) + " policy " +
                         config::format_prefix(p.src) + " -> " + config::format_prefix(p.dst)};
    _policies.erase(it);
    _counters.policies_removed++;
    publish();
    return Ok{};
}

std::pair<std::size_t, std::size_t> IpsecState::flush() {
    std::pair<std::size_t, std::size_t> n{_sas.size(), _policies.size()};
    std::vector<int> handles;
    for (const auto &e : _sas)
        handles.push_back(e->handle);
    _counters.sas_removed += _sas.size();
    _counters.policies_removed += _policies.size();
    _counters.flushes++;
    _sas.clear();
    _policies.clear();
    publish(std::move(handles));
    return n;
}

std::vector<SaView> IpsecState::sas() const {
    std::vector<SaView> out;
    for (const auto &e : _sas)
        out.push_back({&e->spec, _backend.stats(e->handle), e->added_ms});
    return out;
}

void IpsecState::publish(std::vector<int> retired) {
    auto t = std::make_unique<IpsecTable>();
    t->generation = ++_generation;
    for (const auto &e : _sas) {
        if (e->spec.inbound)
            t->in_sas.push_back({e->spec.spi, e->spec.src, e->spec.dst, e->handle, e->spec.reqid});
        const config::Address &remote = e->spec.inbound ? e->spec.src : e->spec.dst;
        if (std::find(t->peers.begin(), t->peers.end(), remote) == t->peers.end())
            t->peers.push_back(remote);
    }
    std::sort(t->in_sas.begin(), t->in_sas.end(),
              [](const IpsecTable::InSa &a, const IpsecTable::InSa &b) { return a.spi < b.spi; });
    for (const PolicySpec &p : _policies) {
        if (p.dir != PolicyDir::out) {
            t->in.push_back({p.src, p.dst, p.proto, p.reqid});
            continue;
        }
        IpsecTable::OutPolicy o{p.src,        p.dst, p.proto, p.reqid, p.tunnel_src,
                                p.tunnel_dst, -1,    false,   0,       0};
        const Entry *newest = nullptr;
        for (const auto &e : _sas)
            if (!e->spec.inbound && e->spec.reqid == p.reqid && e->spec.dst == p.tunnel_dst &&
                (!newest || e->order > newest->order))
                newest = e.get();
        if (newest) {
            o.handle = newest->handle;
            o.encap = newest->spec.encap;
            o.encap_sport = newest->spec.encap_sport;
            o.encap_dport = newest->spec.encap_dport;
        }
        t->out.push_back(o);
    }
    // Most specific first: longer destination, then longer source prefixes.
    std::stable_sort(t->out.begin(), t->out.end(),
                     [](const IpsecTable::OutPolicy &a, const IpsecTable::OutPolicy &b) {
                         if (a.dst.length != b.dst.length)
                             return a.dst.length > b.dst.length;
                         return a.src.length > b.src.length;
                     });
    const IpsecTable *old = _active.exchange(t.release(), std::memory_order_acq_rel);
    _quiesce();
    delete old;
    for (int h : retired)
        _backend.remove(h);
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// Category blocking on the worker (R134-1, R134-2, R133-1, R133-4; docs/CATEGORIES.md):
// every new forwarded flow is exempt (an agreed VPN channel), blocked at once (a malicious
// address, or no room to inspect it), or inspected by nDPI while its first packets pass;
// the verdict then holds for the rest of its life.
#include "dataplane/mbuf_priv.h"
#include "dataplane/pkt_build.h"
#include "dataplane/worker.h"

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <algorithm>
#include <cstring>

namespace qorgan::dp {

namespace {

constexpr uint8_t tcp_syn = 0x02;
constexpr uint8_t tcp_rst = 0x04;

} // namespace

FlowCounters &Worker::dpi_category_counters(const Flow &f) {
    return _env.counters->dpi.category[f.category ? f.category - 1u : config::category_count];
}

FlowCounters &Worker::dpi_app_counters(const Flow &f) {
    return _env.counters->dpi.app[f.app < dpi_app_slots ? f.app : 0];
}

bool Worker::dpi_start(const Snapshot &s, const IfaceState &in, const IfaceState &out, Flow &f,
                       rte_mbuf *m, uint64_t now_ms) {
    const dpi::CategoryPolicy &pol = *s.categories;
    const FlowKey &k = f.key[0];
    DpiCounters &c = _env.counters->dpi;
    f.outer_inbound = in.loop != config::Loop::outer && out.loop == config::Loop::outer;
    if (auto ch = pol.channel(k.family, k.proto, k.src, k.dst, k.sport, k.dport)) {
        // An agreed channel (R133-4) is what it is agreed to be: not inspected.
        f.verdict = FlowVerdict::pass;
        f.verdict_rule = uint8_t(dpi::Rule::vpn_channel);
        f.rule_index = *ch;
        c.exempt.add();
        dpi_category_counters(f).flows.add();
        dpi_event(s, in, f, false, now_ms);
        return false;
    }
    const dpi::AddressSet &bad = s.dpi->addresses();
    if (bad.size() && (bad.contains(k.family, k.src) || bad.contains(k.family, k.dst))) {
        f.category = uint8_t(config::Category::malicious) + 1;
        return dpi_verdict(s, in, f, {true, dpi::Rule::address, 0}, m, now_ms);
    }
    void *evicted = nullptr;
    uint32_t h = _inspector->open(now_ms, &f, &evicted);
    if (evicted) {
        // A flow inspected for Inspector::stale_ms without a verdict gave its room: it is an
        // unknown application (R134-1); its next packet is dropped.
        Flow &old = *static_cast<Flow *>(evicted);
        old.dpi_handle = 0;
        old.app = 0;
        old.category = uint8_t(config::Category::unknown) + 1;
        c.evicted.add();
        c.unknown.add();
        dpi_record(s, in, old,
                   s.categories->decide(config::Category::unknown, 0, 0, old.key[0].family,
                                        old.key[0].src, old.outer_inbound),
                   now_ms);
    }
    if (!h) {
        // Fail closed: a flow no one looked at is an unknown application (R134-1).
        c.refused.add();
        f.category = uint8_t(config::Category::unknown) + 1;
        return dpi_verdict(s, in, f, {true, dpi::Rule::overload, 0}, m, now_ms);
    }
    c.inspected.add();
    f.dpi_handle = h;
    f.verdict = FlowVerdict::inspecting;
    return dpi_packet(s, in, f, Dir::forward, m, now_ms);
}

bool Worker::dpi_packet(const Snapshot &s, const IfaceState &in, Flow &f, Dir dir, rte_mbuf *m,
                        uint64_t now_ms) {
    const PacketMeta &meta = priv_of(m)->meta;
    const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
    const FlowKey &k = f.key[0];
    dpi::PacketView v;
    v.family = k.family;
    v.proto = k.proto;
    v.src = k.src;
    v.dst = k.dst;
    v.sport = k.sport;
    v.dport = k.dport;
    v.reply = dir == Dir::reply;
    v.l4 = frame + meta.l4_offset;
    v.l4_len = meta.l3_end > meta.l4_offset ? meta.l3_end - meta.l4_offset : 0;
    v.now_ms = now_ms;
    const dpi::CategoryPolicy &pol = *s.categories;
    unsigned w = _env.id < s.dpi->workers() ? _env.id : 0;
    uint64_t refused = _arena->refused();
    auto d = _inspector->feed(s.dpi->module(w), f.dpi_handle, v, pol.budget());
    if (_arena->refused() != refused)
        _env.counters->dpi.arena_refused.add(_arena->refused() - refused);
    if (!d)
        return false;
    _inspector->close(f.dpi_handle);
    f.dpi_handle = 0;
    auto cat = dpi::category_of(*d);
    f.app = d->protocol();
    f.category = cat ? uint8_t(*cat) + 1 : 0;
    (d->unknown() ? _env.counters->dpi.unknown : _env.counters->dpi.classified).add();
    dpi::Decision dec = pol.decide(cat, d->master, d->app, k.family, k.src, f.outer_inbound);
    return dpi_verdict(s, in, f, dec, m, now_ms);
}

bool Worker::dpi_verdict(const Snapshot &s, const IfaceState &in, Flow &f, dpi::Decision d,
                         rte_mbuf *m, uint64_t now_ms) {
    dpi_record(s, in, f, d, now_ms);
    return d.block && dpi_block(s, in, m, now_ms);
}

// The verdict on a flow: kept in the flow, counted, logged when it blocks or excepts.
void Worker::dpi_record(const Snapshot &s, const IfaceState &in, Flow &f, dpi::Decision d,
                        uint64_t now_ms) {
    DpiCounters &c = _env.counters->dpi;
    FlowCounters &cc = dpi_category_counters(f);
    FlowCounters &ac = dpi_app_counters(f);
    cc.flows.add();
    ac.flows.add();
    c.app_category[f.app < dpi_app_slots ? f.app : 0].store(f.category, std::memory_order_relaxed);
    f.verdict_rule = uint8_t(d.rule);
    f.rule_index = d.index;
    if (!d.block) {
        f.verdict = FlowVerdict::pass;
        uint64_t so_far = f.bytes[0] + f.bytes[1];
        cc.bytes.add(so_far);
        ac.bytes.add(so_far);
        if (d.rule == dpi::Rule::exception) {
            c.excepted.add();
            dpi_event(s, in, f, false, now_ms);
        }
        return;
    }
    f.verdict = FlowVerdict::block;
    cc.blocked.add();
    ac.blocked.add();
    c.blocked.add();
    dpi_event(s, in, f, true, now_ms);
}

// The packet that got a flow blocked: dropped, and with `reset` a TCP connection is reset
// at both ends: a RST back to the sender, and the segment itself, made a RST, goes on to
// the other end (which saw the connection open).
bool Worker::dpi_block(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    PacketMeta &meta = priv_of(m)->meta;
    if (meta.proto != config::proto_tcp || !s.categories->reset() || (meta.tcp_flags & tcp_rst) ||
        !icmp_token(now_ms)) {
        drop(m, DropReason::category_blocked);
        return true;
    }
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    if (rte_mbuf *r = rte_pktmbuf_alloc(_env.pool)) {
        uint32_t n = tcp_rst_build(rte_pktmbuf_mtod(r, uint8_t *), rte_pktmbuf_tailroom(r), frame,
                                   len, meta, in.mac);
        if (n) {
            rte_pktmbuf_append(r, uint16_t(n));
            _env.counters->dpi.resets.add();
            _env.counters->local_replies.add();
            tx(in.port, r);
        } else {
            rte_pktmbuf_free(r);
        }
    }
    if (meta.tcp_flags & tcp_syn) {
        drop(m, DropReason::category_blocked); // the other end has seen nothing yet
        return true;
    }
    uint32_t n = tcp_to_rst_in_place(frame, len, meta);
    if (n == 0) {
        drop(m, DropReason::category_blocked);
        return true;
    }
    rte_pktmbuf_trim(m, uint16_t(len - n));
    _env.counters->dpi.resets.add();
    return false;
}

void Worker::dpi_event(const Snapshot &s, const IfaceState &in, const Flow &f, bool blocked,
                       uint64_t now_ms) {
    if (!_env.category_ring || !_category_events.allow(now_ms))
        return;
    CategoryEvent e{};
    e.blocked = blocked;
    e.category = f.category;
    e.rule = f.verdict_rule;
    e.family = f.key[0].family;
    e.proto = f.key[0].proto;
    // The interface the flow came in by (the deciding packet may be a reply).
    const IfaceState *arrival = s.iface_by_port(f.in_port);
    e.iface = uint16_t((arrival ? arrival : &in) - s.ifaces.data());
    e.app = f.app;
    e.rule_index = f.rule_index;
    e.sport = f.key[0].sport;
    e.dport = f.key[0].dport;
    std::memcpy(e.src, f.key[0].src, sizeof(e.src));
    std::memcpy(e.dst, f.key[0].dst, sizeof(e.dst));
    e.epoch = s.epoch;
    e.suppressed = _category_events.take_suppressed();
    if (rte_ring_sp_enqueue_elem(_env.category_ring, &e, sizeof(e)) != 0)
        _env.counters->log_dropped.add();
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// The per-worker pipeline; see worker.h.
#include "dataplane/worker.h"

#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/pkt_build.h"

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <cstring>

namespace qorgan::dp {

namespace {

constexpr uint64_t icmp_rate_per_s = 1000;
constexpr uint64_t icmp_burst = 200;
constexpr uint8_t tcp_syn = 0x02;
constexpr uint8_t tcp_ack = 0x10;

bool is_multicast(const PacketMeta &m) {
    uint8_t first = reinterpret_cast<const uint8_t *>(m.dst)[0]; // addresses are network order
    if (m.l3 == L3Kind::ipv4)
        return first >= 224; // multicast, reserved and limited broadcast
    return first == 0xff;
}

bool is_echo_request(const PacketMeta &m) {
    return (m.l3 == L3Kind::ipv4 && m.proto == config::proto_icmp && m.icmp_type == 8) ||
           (m.l3 == L3Kind::ipv6 && m.proto == config::proto_icmpv6 && m.icmp_type == 128);
}

} // namespace

bool session_matches(const SessionFilter &f, const Flow &flow) {
    const FlowKey &k = flow.key[0];
    if (f.family != 0 &&
        (k.family != f.family || (std::memcmp(k.src, f.address, sizeof(k.src)) != 0 &&
                                  std::memcmp(k.dst, f.address, sizeof(k.dst)) != 0)))
        return false;
    if (f.has_port && rte_be_to_cpu_16(k.sport) != f.port && rte_be_to_cpu_16(k.dport) != f.port)
        return false;
    if (f.has_iface && flow.in_port != f.iface_port && flow.out_port != f.iface_port)
        return false;
    return true;
}

SessionSlot::SessionSlot(uint32_t capacity)
    : _capacity(capacity), _records(new SessionRecord[capacity]) {}

bool SessionSlot::submit(Op op, const SessionFilter &filter, uint32_t limit) {
    if (_state.load(std::memory_order_acquire) == pending_state)
        return false;
    _op = op;
    _filter = filter;
    _limit = limit < _capacity ? limit : _capacity;
    _copied = 0;
    _matched = 0;
    _state.store(pending_state, std::memory_order_release);
    return true;
}

void SessionSlot::serve(FlowTable &flows) {
    if (_state.load(std::memory_order_acquire) != pending_state)
        return;
    flows.for_each([&](Flow &f) {
        if (!session_matches(_filter, f))
            return;
        _matched++;
        if (_op == Op::clear) {
            flows.remove(f);
            return;
        }
        if (_copied >= _limit)
            return;
        SessionRecord &r = _records[_copied++];
        r.key = f.key[0];
        r.packets[0] = f.packets[0];
        r.packets[1] = f.packets[1];
        r.bytes[0] = f.bytes[0];
        r.bytes[1] = f.bytes[1];
        r.created_ms = f.created_ms;
        r.last_seen_ms = f.last_seen_ms;
        r.rule_id = f.rule_id;
        r.in_port = f.in_port;
        r.out_port = f.out_port;
        r.state = f.state;
    });
    _state.store(done_state, std::memory_order_release);
}

Worker::Worker(WorkerEnv env) : _env(std::move(env)) {
    _icmp_tokens = icmp_burst;
}

void Worker::drop(rte_mbuf *m, DropReason r) {
    _env.counters->drop(r);
    rte_pktmbuf_free(m);
}

void Worker::tx(uint16_t port, rte_mbuf *m) {
    if (port >= max_ports) {
        drop(m, DropReason::port_down);
        return;
    }
    TxQueue &q = _tx[port];
    if (q.n == RTE_DIM(q.pkts)) {
        drop(m, DropReason::tx_full);
        return;
    }
    q.pkts[q.n++] = m;
}

void Worker::flush() {
    for (uint16_t port = 0; port < max_ports; port++) {
        TxQueue &q = _tx[port];
        if (q.n == 0)
            continue;
        uint16_t sent = rte_eth_tx_burst(port, static_cast<uint16_t>(_env.id), q.pkts, q.n);
        _env.counters->forwarded.add(sent);
        for (uint16_t i = sent; i < q.n; i++)
            drop(q.pkts[i], DropReason::tx_full);
        q.n = 0;
    }
}

unsigned Worker::drain_main() {
    rte_mbuf *pkts[burst_size];
    unsigned n = rte_ring_sc_dequeue_burst(_env.from_main, reinterpret_cast<void **>(pkts),
                                           burst_size, nullptr);
    for (unsigned i = 0; i < n; i++)
        tx(priv_of(pkts[i])->out_port, pkts[i]);
    return n;
}

void Worker::to_slowpath(rte_mbuf *m) {
    if (rte_ring_sp_enqueue(_env.to_main, m) != 0) {
        drop(m, DropReason::slowpath_ring_full);
        return;
    }
    _env.counters->slowpath_sent.add();
}

bool Worker::icmp_token(uint64_t now_ms) {
    if (now_ms > _icmp_last_ms) {
        _icmp_tokens += (now_ms - _icmp_last_ms) * icmp_rate_per_s / 1000;
        if (_icmp_tokens > icmp_burst)
            _icmp_tokens = icmp_burst;
        _icmp_last_ms = now_ms;
    }
    if (_icmp_tokens == 0)
        return false;
    _icmp_tokens--;
    return true;
}

int Worker::run(const std::atomic<bool> &stop) {
    rte_rcu_qsbr_thread_register(_env.rcu, _env.id);
    rte_rcu_qsbr_thread_online(_env.rcu, _env.id);
    rte_mbuf *pkts[burst_size];
    uint64_t tsc_per_ms = _env.tsc_hz / 1000;
    // Empty polls in a row; past idle_polls the worker sleeps idle_sleep_us between polls,
    // offline for RCU so that a publish never waits for its sleep.
    constexpr unsigned idle_polls = 256;
    unsigned empty = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        rte_rcu_qsbr_quiescent(_env.rcu, _env.id);
        if (_env.sessions)
            _env.sessions->serve(*_env.flows);
        const Snapshot *s = _env.active->load(std::memory_order_acquire);
        uint64_t now_ms = rte_get_tsc_cycles() / tsc_per_ms;
        unsigned got = 0;
        for (uint16_t port : _env.rx_ports) {
            uint16_t n = rte_eth_rx_burst(port, static_cast<uint16_t>(_env.id), pkts, burst_size);
            if (n > 0)
                process(*s, port, pkts, n, now_ms);
            got += n;
        }
        got += drain_main();
        flush();
        _env.flows->expire(now_ms, 64);
        if (got) {
            empty = 0;
        } else if (_env.idle_sleep_us && ++empty >= idle_polls) {
            rte_rcu_qsbr_thread_offline(_env.rcu, _env.id);
            rte_delay_us_sleep(_env.idle_sleep_us);
            rte_rcu_qsbr_thread_online(_env.rcu, _env.id);
        }
    }
    rte_rcu_qsbr_thread_offline(_env.rcu, _env.id);
    rte_rcu_qsbr_thread_unregister(_env.rcu, _env.id);
    return 0;
}

void Worker::process(const Snapshot &s, uint16_t port, rte_mbuf **pkts, uint16_t n,
                     uint64_t now_ms) {
    _env.counters->rx_packets.add(n);
    for (uint16_t i = 0; i < n; i++) {
        rte_mbuf *m = pkts[i];
        if (i + 1 < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
        if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
            drop(m, DropReason::multi_segment);
            continue;
        }
        MbufPriv *p = priv_of(m);
        p->meta = PacketMeta{};
        const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
        if (auto reason = parse_frame(frame, rte_pktmbuf_data_len(m), p->meta)) {
            drop(m, *reason);
            continue;
        }
        p->meta.in_port = static_cast<uint8_t>(port);
        const IfaceState *in = s.iface_by_port(port);
        if (!in) {
            drop(m, DropReason::port_down);
            continue;
        }
        if (p->meta.l3 == L3Kind::arp) {
            p->kind = SlowKind::arp;
            to_slowpath(m);
            continue;
        }
        handle_ip(s, *in, m, now_ms);
    }
}

uint32_t Worker::classify(const IfaceState &ifc, Direction d, const PacketMeta &meta) const {
    const RuleSet *rs = ifc.rules[static_cast<int>(d)].get();
    AclMatch match = 0;
    if (meta.l3 == L3Kind::ipv4) {
        AclKey4 key;
        acl_key_of(meta, key);
        const AclKey4 *kp = &key;
        rs->classify4(&kp, &match, 1);
    } else {
        AclKey6 key;
        acl_key_of(meta, key);
        const AclKey6 *kp = &key;
        rs->classify6(&kp, &match, 1);
    }
    return match;
}

void Worker::account_rule(const Snapshot &s, const IfaceState &ifc, Direction d, uint32_t match,
                          const PacketMeta &meta, uint32_t bytes) {
    const RuleSet *rs = ifc.rules[static_cast<int>(d)].get();
    const config::Rule &rule = rs->rules()[match - 1];
    RuleCounter &c = s.rule_counters[_env.id][ifc.rule_base[static_cast<int>(d)] + match - 1];
    c.hits.add();
    c.bytes.add(bytes);
    if (!rule.log)
        return;
    RuleLog rec{};
    rec.rule_id = rule.id;
    rec.iface = static_cast<uint16_t>(&ifc - s.ifaces.data());
    rec.dir = static_cast<uint8_t>(d);
    rec.action = static_cast<uint8_t>(rule.action);
    rec.family = meta.l3 == L3Kind::ipv6 ? 6 : 4;
    rec.proto = meta.proto;
    rec.sport = meta.sport;
    rec.dport = meta.dport;
    std::memcpy(rec.src, meta.src, sizeof(rec.src));
    std::memcpy(rec.dst, meta.dst, sizeof(rec.dst));
    rec.epoch = s.epoch;
    if (rte_ring_sp_enqueue_elem(_env.log_ring, &rec, sizeof(rec)) != 0)
        _env.counters->log_dropped.add();
}

void Worker::reject(const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    const PacketMeta &meta = priv_of(m)->meta;
    if (!icmp_token(now_ms)) {
        drop(m, DropReason::icmp_rate_limited);
        return;
    }
    rte_mbuf *r = rte_pktmbuf_alloc(_env.pool);
    if (!r) {
        drop(m, DropReason::mbuf_exhausted);
        return;
    }
    const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    uint8_t *buf = rte_pktmbuf_mtod(r, uint8_t *);
    uint32_t cap = rte_pktmbuf_tailroom(r);
    uint32_t out = 0;
    if (meta.proto == config::proto_tcp && !(meta.flags & meta_later_fragment)) {
        out = tcp_rst_build(buf, cap, frame, len, meta, in.mac);
    } else if (meta.l3 == L3Kind::ipv4 && in.has4) {
        out = icmp_error_build(buf, cap, frame, len, meta, 3, 13, in.mac,
                               reinterpret_cast<const uint8_t *>(&in.addr4));
    } else if (meta.l3 == L3Kind::ipv6 && in.has6) {
        out = icmp_error_build(buf, cap, frame, len, meta, 1, 1, in.mac, in.addr6);
    }
    drop(m, DropReason::rule_reject);
    if (out == 0) {
        rte_pktmbuf_free(r);
        return;
    }
    rte_pktmbuf_append(r, static_cast<uint16_t>(out));
    _env.counters->local_replies.add();
    tx(in.port, r);
}

void Worker::send_time_exceeded(const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    const PacketMeta &meta = priv_of(m)->meta;
    rte_mbuf *r = nullptr;
    if (icmp_token(now_ms))
        r = rte_pktmbuf_alloc(_env.pool);
    if (r) {
        const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
        uint8_t *buf = rte_pktmbuf_mtod(r, uint8_t *);
        uint32_t out = 0;
        if (meta.l3 == L3Kind::ipv4 && in.has4)
            out =
                icmp_error_build(buf, rte_pktmbuf_tailroom(r), frame, rte_pktmbuf_data_len(m), meta,
                                 11, 0, in.mac, reinterpret_cast<const uint8_t *>(&in.addr4));
        else if (meta.l3 == L3Kind::ipv6 && in.has6)
            out = icmp_error_build(buf, rte_pktmbuf_tailroom(r), frame, rte_pktmbuf_data_len(m),
                                   meta, 3, 0, in.mac, in.addr6);
        if (out) {
            rte_pktmbuf_append(r, static_cast<uint16_t>(out));
            _env.counters->local_replies.add();
            tx(in.port, r);
        } else {
            rte_pktmbuf_free(r);
        }
    }
    drop(m, DropReason::ttl_exceeded);
}

void Worker::handle_local(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    const PacketMeta &meta = priv_of(m)->meta;
    // Traffic to the gateway itself passes the ingress rules of its interface too
    // (R139-4: management and diagnostic access closed unless allowed).
    uint32_t match = classify(in, Direction::ingress, meta);
    if (match == 0) {
        drop(m, DropReason::default_deny);
        return;
    }
    account_rule(s, in, Direction::ingress, match, meta, rte_pktmbuf_pkt_len(m));
    config::Action act = in.rules[0]->rules()[match - 1].action;
    if (act == config::Action::drop) {
        drop(m, DropReason::rule_drop);
        return;
    }
    if (act == config::Action::reject) {
        reject(in, m, now_ms);
        return;
    }
    if (is_echo_request(meta) && !(meta.flags & meta_fragment)) {
        uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
        if (echo_reply_in_place(frame, rte_pktmbuf_data_len(m), meta)) {
            _env.counters->local_replies.add();
            tx(in.port, m);
            return;
        }
    }
    drop(m, DropReason::local_unhandled);
}

bool Worker::recheck_flow(const Snapshot &s, Flow &f) {
    _env.counters->flow_rechecks.add();
    const IfaceState *in = s.iface_by_port(f.in_port);
    const IfaceState *out = s.iface_by_port(f.out_port);
    if (!in || !out)
        return false;
    PacketMeta meta{};
    const FlowKey &k = f.key[0];
    meta.l3 = k.family == 6 ? L3Kind::ipv6 : L3Kind::ipv4;
    meta.proto = k.proto;
    std::memcpy(meta.src, k.src, sizeof(meta.src));
    std::memcpy(meta.dst, k.dst, sizeof(meta.dst));
    meta.sport = k.sport;
    meta.dport = k.dport;
    if (k.proto == config::proto_icmp)
        meta.icmp_type = 8;
    else if (k.proto == config::proto_icmpv6)
        meta.icmp_type = 128;
    for (Direction d : {Direction::ingress, Direction::egress}) {
        const IfaceState &ifc = d == Direction::ingress ? *in : *out;
        uint32_t match = classify(ifc, d, meta);
        if (match == 0 ||
            ifc.rules[static_cast<int>(d)]->rules()[match - 1].action != config::Action::accept)
            return false;
    }
    f.policy_epoch = s.epoch;
    return true;
}

void Worker::handle_ip(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    MbufPriv *p = priv_of(m);
    PacketMeta &meta = p->meta;

    if (meta.l3 == L3Kind::ipv6 && meta.proto == config::proto_icmpv6 &&
        (meta.icmp_type == 135 || meta.icmp_type == 136)) {
        p->kind = SlowKind::nd;
        to_slowpath(m);
        return;
    }
    if (is_multicast(meta)) {
        drop(m, DropReason::multicast);
        return;
    }
    uint16_t hop = meta.l3 == L3Kind::ipv4
                       ? s.routes->lookup4(meta.dst[0])
                       : s.routes->lookup6(reinterpret_cast<const uint8_t *>(meta.dst));
    const NextHop &nh = s.routes->next_hop(hop);
    if (nh.kind == NextHopKind::local) {
        handle_local(s, in, m, now_ms);
        return;
    }

    const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    uint32_t ip_bytes = meta.l3_end - meta.l3_offset;
    const uint8_t *l4 = frame + meta.l4_offset;
    uint32_t l4_len = meta.l3_end > meta.l4_offset ? meta.l3_end - meta.l4_offset : 0;
    bool later_fragment = meta.flags & meta_later_fragment;

    // Known flow?
    FlowKey key = flow_key_of(meta);
    Dir dir = Dir::forward;
    Flow *f = later_fragment ? nullptr : _env.flows->lookup(key, &dir);
    bool out_of_window = false;
    if (f && f->policy_epoch != s.epoch && !recheck_flow(s, *f)) {
        _env.flows->remove(*f);
        f = nullptr;
    }
    if (f) {
        Track t = _env.flows->track(*f, dir, meta, l4, l4_len, ip_bytes, now_ms);
        if (t == Track::ok) {
            forward(s, in, m, hop, now_ms);
            return;
        }
        if (t == Track::invalid) {
            drop(m, DropReason::tcp_invalid);
            return;
        }
        out_of_window = true; // goes back through the rules below
    }

    // ICMP errors about a tracked flow pass as related.
    if (!f && is_icmp_error(meta)) {
        FlowKey inner{};
        Dir idir;
        if (icmp_error_inner_key(frame, len, meta, inner) && _env.flows->lookup(inner, &idir)) {
            _env.counters->related_icmp.add();
            forward(s, in, m, hop, now_ms);
            return;
        }
    }

    // New traffic: ingress rules of the arrival interface.
    uint32_t match = classify(in, Direction::ingress, meta);
    if (match == 0) {
        drop(m, DropReason::default_deny);
        return;
    }
    account_rule(s, in, Direction::ingress, match, meta, ip_bytes);
    const config::Rule &rule = in.rules[0]->rules()[match - 1];
    if (rule.action == config::Action::drop) {
        drop(m, DropReason::rule_drop);
        return;
    }
    if (rule.action == config::Action::reject) {
        reject(in, m, now_ms);
        return;
    }
    if (nh.kind == NextHopKind::none) {
        drop(m, DropReason::no_route);
        return;
    }
    const IfaceState *out = s.iface_by_port(nh.port);
    if (!out) {
        drop(m, DropReason::no_route);
        return;
    }
    uint32_t ematch = classify(*out, Direction::egress, meta);
    if (ematch == 0) {
        drop(m, DropReason::default_deny);
        return;
    }
    account_rule(s, *out, Direction::egress, ematch, meta, ip_bytes);
    const config::Rule &erule = out->rules[1]->rules()[ematch - 1];
    if (erule.action == config::Action::drop) {
        drop(m, DropReason::rule_drop);
        return;
    }
    if (erule.action == config::Action::reject) {
        reject(in, m, now_ms);
        return;
    }

    // Accepted: state for what can carry it.
    if (out_of_window) {
        drop(m, DropReason::tcp_out_of_window);
        return;
    }
    if (!later_fragment) {
        bool creates = true;
        if (meta.proto == config::proto_tcp) {
            if ((meta.tcp_flags & (tcp_syn | tcp_ack)) != tcp_syn) {
                drop(m, DropReason::tcp_no_session);
                return;
            }
        } else if (meta.proto == config::proto_icmp || meta.proto == config::proto_icmpv6) {
            creates = is_echo_request(meta); // other ICMP passes by rule, statelessly
        }
        if (creates) {
            Flow *nf = _env.flows->create(meta, l4, l4_len, now_ms);
            if (!nf) {
                drop(m, DropReason::flow_table_full);
                return;
            }
            nf->in_port = in.port;
            nf->out_port = nh.port;
            nf->rule_id = rule.id;
            nf->policy_epoch = s.epoch;
        }
    }
    forward(s, in, m, hop, now_ms);
}

void Worker::forward(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint16_t hop,
                     uint64_t now_ms) {
    MbufPriv *p = priv_of(m);
    PacketMeta &meta = p->meta;
    const NextHop &nh = s.routes->next_hop(hop);
    if (nh.kind == NextHopKind::none || nh.kind == NextHopKind::local) {
        drop(m, DropReason::no_route);
        return;
    }
    const IfaceState *out = s.iface_by_port(nh.port);
    if (!out || nh.port >= max_ports || !_env.port_up[nh.port].load(std::memory_order_relaxed)) {
        drop(m, DropReason::port_down);
        return;
    }
    if (meta.ttl <= 1) {
        send_time_exceeded(in, m, now_ms);
        return;
    }
    if (static_cast<uint32_t>(meta.l3_end - meta.l3_offset) > out->conf->mtu) {
        drop(m, DropReason::mtu_exceeded);
        return;
    }
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    ip_decrement_ttl(frame, meta);
    // Trim Ethernet padding and any bytes beyond the IP packet.
    if (rte_pktmbuf_data_len(m) > meta.l3_end)
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - meta.l3_end));
    // Interfaces are untagged for now: strip 802.1Q tags on the way through.
    if (meta.l3_offset > 14) {
        uint16_t extra = static_cast<uint16_t>(meta.l3_offset - 14);
        std::memmove(frame + extra, frame, 12);
        uint16_t et = rte_cpu_to_be_16(meta.ether_type);
        std::memcpy(frame + extra + 12, &et, 2);
        rte_pktmbuf_adj(m, extra);
        meta.l3_offset = 14;
        meta.l4_offset = static_cast<uint16_t>(meta.l4_offset - extra);
        meta.l3_end = static_cast<uint16_t>(meta.l3_end - extra);
        frame = rte_pktmbuf_mtod(m, uint8_t *);
    }
    std::memcpy(frame + 6, out->mac.data(), 6);
    const uint8_t *target =
        nh.kind == NextHopKind::gateway ? nh.gateway : reinterpret_cast<const uint8_t *>(meta.dst);
    Mac mac;
    if (!_env.neighbors->lookup(nh.port, nh.family, target, mac)) {
        p->kind = SlowKind::resolve;
        p->out_port = nh.port;
        p->nh_family = nh.family;
        std::memset(p->nh_ip, 0, sizeof(p->nh_ip));
        std::memcpy(p->nh_ip, target, nh.family == 4 ? 4 : 16);
        to_slowpath(m);
        return;
    }
    std::memcpy(frame, mac.data(), 6);
    tx(nh.port, m);
}

} // namespace qorgan::dp

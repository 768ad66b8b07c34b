// SPDX-License-Identifier: GPL-2.0-or-later
// The per-worker pipeline; see worker.h.
#include "dataplane/worker.h"

#include "dataplane/mbuf_priv.h"
#include "dataplane/nat_rewrite.h"
#include "dataplane/parse.h"
#include "dataplane/pkt_build.h"

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <cstring>

namespace qorgan::dp {

namespace {

constexpr uint64_t icmp_rate_per_s = 1000;
constexpr uint64_t icmp_burst = 200;
constexpr uint8_t tcp_fin = 0x01;
constexpr uint8_t tcp_syn = 0x02;
constexpr uint8_t tcp_rst = 0x04;
constexpr uint8_t tcp_ack = 0x10;

bool is_multicast(const PacketMeta &m) {
    uint8_t first = reinterpret_cast<const uint8_t *>(m.dst)[0]; // addresses are network order
    if (m.l3 == L3Kind::ipv4)
        return first >= 224; // multicast, reserved and limited broadcast
    return first == 0xff;
}

unsigned half_open_index_of(const uint32_t dst[4], uint8_t family) {
    uint32_t h = dst[0] * 0x9e3779b1u;
    if (family == 6)
        h ^= (dst[1] * 0x85ebca6bu) ^ (dst[2] * 0xc2b2ae35u) ^ (dst[3] * 0x27d4eb2fu);
    return (h ^ h >> 15) % 4096;
}

bool is_echo_request(const PacketMeta &m) {
    return (m.l3 == L3Kind::ipv4 && m.proto == config::proto_icmp && m.icmp_type == 8) ||
           (m.l3 == L3Kind::ipv6 && m.proto == config::proto_icmpv6 && m.icmp_type == 128);
}

// IKE for the host kernel's daemon (RFC 7296 2.23, RFC 3948 2.2): UDP to port 500, or to
// 4500 with the four-byte zero non-ESP marker (a non-zero first word is ESP in UDP, and a
// one-byte 0xff is a NAT keepalive). Whole datagrams only: fragments are reassembled first.
bool is_ike(const PacketMeta &m, const uint8_t *frame) {
    if (m.proto != config::proto_udp || (m.flags & meta_fragment))
        return false;
    uint16_t dport = rte_be_to_cpu_16(m.dport);
    if (dport == 500)
        return true;
    uint32_t marker = m.l4_offset + 8u;
    if (dport != 4500 || marker + 4 > m.l3_end)
        return false;
    static constexpr uint8_t non_esp[4] = {};
    return std::memcmp(frame + marker, non_esp, 4) == 0;
}

// Whether a packet comes from a configured IPsec peer's address.
bool from_ipsec_peer(const config::Config &conf, const PacketMeta &meta) {
    const uint8_t family = family_of(meta);
    for (const config::IpsecPeer &p : conf.ipsec.peers)
        if (p.address.family == family &&
            std::memcmp(p.address.bytes.data(), meta.src, family == 6 ? 16 : 4) == 0)
            return true;
    return false;
}

} // namespace

bool session_matches(const SessionFilter &f, const Flow &flow) {
    const FlowKey &k = flow.key[0];
    if (f.nat_only && !flow.nat_kind)
        return false;
    // A translated flow also matches by its translated addresses and ports.
    bool nat_addr = f.family == 4 && flow.nat_kind &&
                    (((flow.nat_kind & nat_snat) && flow.nat_src == f.address[0]) ||
                     ((flow.nat_kind & nat_dnat) && flow.nat_dst == f.address[0]));
    if (f.family != 0 && !nat_addr &&
        (k.family != f.family || (std::memcmp(k.src, f.address, sizeof(k.src)) != 0 &&
                                  std::memcmp(k.dst, f.address, sizeof(k.dst)) != 0)))
        return false;
    bool nat_port = f.has_port && flow.nat_kind &&
                    (((flow.nat_kind & nat_snat) && rte_be_to_cpu_16(flow.nat_sport) == f.port) ||
                     ((flow.nat_kind & nat_dnat) && rte_be_to_cpu_16(flow.nat_dport) == f.port));
    if (f.has_port && !nat_port && rte_be_to_cpu_16(k.sport) != f.port &&
        rte_be_to_cpu_16(k.dport) != f.port)
        return false;
    auto on = [&](uint16_t port) { return port < 64 && (f.iface_mask >> port & 1); };
    if (f.iface_mask && !on(flow.in_port) && !on(flow.out_port))
        return false;
    return true;
}

SessionSlot::SessionSlot(uint32_t capacity)
    : _capacity(capacity), _records(new SessionRecord[capacity]),
      _blocked(new BlockedSource[blocked_capacity]) {}

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

void SessionSlot::serve(FlowTable &flows, SourceGuard *guard, uint64_t now_ms) {
    if (_state.load(std::memory_order_acquire) != pending_state)
        return;
    if (_op == Op::blocked || _op == Op::unblock) {
        if (guard) {
            _matched = guard->blocked_count(now_ms);
            if (_op == Op::blocked)
                _copied = static_cast<uint32_t>(guard->blocked_sources(
                    now_ms, std::span<BlockedSource>(_blocked.get(), blocked_capacity)));
            else
                guard->clear_blocks();
        }
        _state.store(done_state, std::memory_order_release);
        return;
    }
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
        r.nat_kind = f.nat_kind;
        r.nat_sport = f.nat_sport;
        r.nat_dport = f.nat_dport;
        r.nat_src = f.nat_src;
        r.nat_dst = f.nat_dst;
        r.verdict = f.verdict;
        r.category = f.category;
        r.app = f.app;
    });
    _state.store(done_state, std::memory_order_release);
}

Worker::Worker(WorkerEnv env) : _env(std::move(env)), _cookies(_env.cookie_key) {
    _icmp_tokens = icmp_burst;
    if (_env.flows)
        _env.flows->set_release_hook(&Worker::release_hook, this);
    // Seeded from the secret cookie key, so that no one outside can aim sources at one slot.
    uint64_t seed =
        siphash24(_env.cookie_key, reinterpret_cast<const uint8_t *>(&_env.id), sizeof(_env.id));
    _guard = std::make_unique<SourceGuard>(_env.guard_sources, seed);
    _scan = std::make_unique<ScanDetector>(_env.scan_sources, seed ^ 0x5ca115eedull);
    if (_env.jumbo_pool) {
        auto r = Reassembler::create(_env.reasm_datagrams, _env.reasm_timeout_ms, _env.tsc_hz,
                                     static_cast<int>(rte_socket_id()));
        if (r)
            _reasm = std::move(r.value()); // else fragments pass unreassembled (counted)
    }
    // At most 10 events a second per defence from each worker, bursts of 20; the rest are
    // counted and reported as "suppressed" by the next event.
    _events.assign(defence_count, EventLimiter(10, 20));
    _arena = std::make_unique<dpi::Arena>(_env.dpi_arena_bytes);
    _inspector = std::make_unique<dpi::Inspector>(std::max<uint32_t>(_env.inspected_flows, 1));
}

void Worker::release_hook(void *ctx, const Flow &f) {
    auto *w = static_cast<Worker *>(ctx);
    if (f.dpi_handle)
        w->_inspector->close(f.dpi_handle);
    if (f.screen_flags & flow_guarded)
        w->_guard->connection_closed(f.key[0].src, f.key[0].family);
    if (f.screen_flags & flow_half_open) {
        uint32_t &n = w->_half_open[half_open_index_of(f.key[0].dst, f.key[0].family)];
        if (n)
            n--;
    }
    if (!(f.nat_kind & nat_dynamic) || !w->_snap)
        return;
    // The pool is given back its port only if the running snapshot still holds it: a
    // changed source rule got fresh pools and the old ones go with the old snapshot.
    const NatSourceRule *r = w->_snap->nat->rule_by_generation(f.nat_gen);
    if (!r || w->_env.id >= r->pools.size())
        return;
    const FlowKey &k = f.key[0];
    r->pools[w->_env.id]->release(k.proto, PortMapping{f.nat_src, f.nat_sport}, k.src[0], k.sport);
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

bool Worker::to_slowpath(rte_mbuf *m) {
    if (rte_ring_sp_enqueue(_env.to_main, m) != 0) {
        drop(m, DropReason::slowpath_ring_full);
        return false;
    }
    _env.counters->slowpath_sent.add();
    return true;
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

void Worker::serve_requests(uint64_t now_ms) {
    if (_env.sessions)
        _env.sessions->serve(*_env.flows, _guard.get(), now_ms);
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
        const Snapshot *s = _env.active->load(std::memory_order_acquire);
        _snap = s;
        uint64_t now_ms = rte_get_tsc_cycles() / tsc_per_ms;
        serve_requests(now_ms);
        unsigned got = drain_handoff(*s, now_ms);
        for (uint16_t port : _env.rx_ports) {
            uint16_t n = rte_eth_rx_burst(port, static_cast<uint16_t>(_env.id), pkts, burst_size);
            if (n > 0)
                process(*s, port, pkts, n, now_ms);
            got += n;
        }
        got += drain_main();
        flush();
        _env.flows->expire(now_ms, 64);
        if (_reasm) {
            _reasm->expire(rte_get_tsc_cycles());
            // Fragments freed at expiry are drops too: every mbuf is accounted for.
            const ReasmStats &rs = _reasm->stats();
            uint64_t expired = rs.timeout_fragments.get() + rs.discarded_fragments.get();
            if (expired != _reasm_expired) {
                _env.counters->drops[static_cast<unsigned>(DropReason::frag_timeout)].add(
                    expired - _reasm_expired);
                _reasm_expired = expired;
            }
        }
        _env.counters->screen.guard_table_full.add(_guard->table_full() -
                                                   _env.counters->screen.guard_table_full.get());
        if (got) {
            empty = 0;
        } else if (_env.idle_sleep_us && ++empty >= idle_polls) {
            rte_rcu_qsbr_thread_offline(_env.rcu, _env.id);
            _snap = nullptr;
            rte_delay_us_sleep(_env.idle_sleep_us);
            rte_rcu_qsbr_thread_online(_env.rcu, _env.id);
        }
    }
    _snap = nullptr;
    rte_rcu_qsbr_thread_offline(_env.rcu, _env.id);
    rte_rcu_qsbr_thread_unregister(_env.rcu, _env.id);
    return 0;
}

void Worker::process(const Snapshot &s, uint16_t port, rte_mbuf **pkts, uint16_t n,
                     uint64_t now_ms) {
    _snap = &s;
    dpi::Arena::bind_thread(_arena.get()); // nDPI allocates from it on this thread
    _env.counters->rx_packets.add(n);
    const IfaceState *in = s.iface_by_port(port);
    if (!in) {
        for (uint16_t i = 0; i < n; i++)
            drop(pkts[i], DropReason::port_down);
        return;
    }
    for (uint16_t i = 0; i < n; i += burst_size)
        process_burst(s, *in, pkts + i, std::min<unsigned>(n - i, burst_size), now_ms);
}

// In stages, so that the memory a packet needs is on its way while other packets are
// handled: (1) parse every packet; (2) look all the flows up at once (rte_hash prefetches
// buckets and keys across the burst); (3) handle the packets in arrival order, loading the
// flow and the screen entry of the packet a few places behind.
void Worker::process_burst(const Snapshot &s, const IfaceState &in, rte_mbuf **pkts, unsigned n,
                           uint64_t now_ms) {
    rte_mbuf *ip[burst_size];
    FlowKey keys[burst_size];
    const FlowKey *kp[burst_size];
    unsigned nip = 0;
    for (unsigned i = 0; i < n; i++) {
        rte_mbuf *m = pkts[i];
        if (i + 1 < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
        if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
            drop(m, DropReason::multi_segment);
            continue;
        }
        MbufPriv *p = priv_of(m);
        p->meta = PacketMeta{};
        p->reassembled = 0;
        p->ipsec = ipsec_none;
        const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
        if (auto reason = parse_frame(frame, rte_pktmbuf_data_len(m), p->meta)) {
            drop(m, *reason);
            continue;
        }
        p->meta.in_port = static_cast<uint8_t>(in.port);
        if (p->meta.l3 == L3Kind::arp) {
            p->kind = SlowKind::arp;
            to_slowpath(m);
            continue;
        }
        keys[nip] = flow_key_of(p->meta);
        kp[nip] = &keys[nip];
        ip[nip++] = m;
    }
    if (nip == 0)
        return;
    Flow *flows[burst_size];
    Dir dirs[burst_size];
    _env.flows->lookup_bulk(kp, nip, flows, dirs);
    // A packet's flow and screen entry are loaded a few packets ahead of their use: all 32
    // at once would ask for more lines than the core can have in flight.
    constexpr unsigned ahead = 4;
    auto prefetch = [&](unsigned k) {
        if (k >= nip)
            return;
        const PacketMeta &meta = priv_of(ip[k])->meta;
        _guard->prefetch(meta.src, family_of(meta));
        if (flows[k]) { // every line the flow spans (it is not line-aligned)
            const auto *f = reinterpret_cast<const uint8_t *>(flows[k]);
            for (size_t off = 0; off < sizeof(Flow); off += RTE_CACHE_LINE_SIZE)
                rte_prefetch0(f + off);
            rte_prefetch0(f + sizeof(Flow) - 1);
        }
    };
    for (unsigned k = 0; k < ahead; k++)
        prefetch(k);
    uint64_t created = _env.flows->stats().created.get();
    for (unsigned k = 0; k < nip; k++) {
        prefetch(k + ahead);
        rte_mbuf *m = ip[k];
        const MbufPriv *p = priv_of(m);
        if ((p->meta.flags & meta_fragment) && in.screen->fragments != config::ScreenAction::off) {
            m = reassemble(s, in, m, now_ms);
            if (!m)
                continue;
            p = priv_of(m);
        }
        if (_env.handoff.size() > 1 && p->meta.l3 == L3Kind::ipv4 && handoff(s, m, now_ms))
            continue;
        FlowHint hint{flows[k], dirs[k], created};
        // A reassembled datagram is looked up anew.
        handle_ip(s, in, m, now_ms, m == ip[k] ? &hint : nullptr);
    }
}

// The packet's flow: what the burst's bulk lookup found while it still holds (an earlier
// packet of the burst may have removed that flow, its slot may hold another, or it may have
// created this packet's flow), else a lookup of its own.
Flow *Worker::find_flow(const FlowKey &key, Dir &dir, const FlowHint *h) {
    if (h) {
        Flow *f = h->flow;
        if (f && f->in_use && f->key[static_cast<unsigned>(h->dir)] == key) {
            dir = h->dir;
            return f;
        }
        if (!f && h->created == _env.flows->stats().created.get())
            return nullptr;
    }
    return _env.flows->lookup(key, &dir);
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
    const bool ike = _env.exception_path && is_ike(meta, rte_pktmbuf_mtod(m, const uint8_t *));
    // IKE from a configured IPsec peer is admitted by the peer's configuration itself
    // (docs/IPSEC.md): the administrator who names a peer expects its tunnel to come up.
    if (ike && from_ipsec_peer(s.conf, meta)) {
        priv_of(m)->kind = SlowKind::exception;
        if (to_slowpath(m))
            _env.counters->exception_sent.add();
        return;
    }
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
    if (ike) {
        priv_of(m)->kind = SlowKind::exception;
        if (to_slowpath(m))
            _env.counters->exception_sent.add();
        return;
    }
    if (is_echo_request(meta) && !(meta.flags & meta_fragment)) {
        uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
        if (echo_reply_in_place(frame, rte_pktmbuf_data_len(m), meta)) {
            _env.counters->local_replies.add();
            if (priv_of(m)->reassembled && rte_pktmbuf_data_len(m) > meta.l3_end) // padding
                rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - meta.l3_end));
            if (priv_of(m)->reassembled &&
                static_cast<uint32_t>(meta.l3_end - meta.l3_offset) > in.conf->mtu) {
                Mac to;
                std::memcpy(to.data(), frame, 6); // the asker, now the reply's destination
                if (!fragment_out(in, m, to))
                    drop(m, DropReason::mtu_exceeded);
                return;
            }
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
    if (f.nat_kind & nat_dnat) { // rules see the server, not the published address
        meta.dst[0] = f.nat_dst;
        meta.dport = f.nat_dport;
    }
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

bool Worker::handoff(const Snapshot &s, rte_mbuf *m, uint64_t now_ms) {
    const PacketMeta &meta = priv_of(m)->meta;
    if (s.nat->empty())
        return false;
    uint32_t src = meta.src[0], dst = meta.dst[0];
    uint16_t sport = meta.sport, dport = meta.dport;
    uint8_t proto = meta.proto;
    const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
    uint16_t ip_id = 0;
    if (meta.flags & meta_fragment)
        std::memcpy(&ip_id, frame + meta.l3_offset + 4, 2);
    if (meta.flags & meta_later_fragment) {
        // No ports: it follows its first fragment (all fragments of a datagram reach the
        // same receiving worker, the fan-out hash of a fragment having no ports).
        const FragOwner &o = _frag_owner[frag_index(src, dst, ip_id, proto)];
        if (!o.used || o.expires_ms < now_ms || o.src != src || o.dst != dst || o.id != ip_id ||
            o.proto != proto || o.owner == _env.id)
            return false;
        return enqueue_handoff(s, m, o.owner);
    }
    if (is_icmp_error(meta)) {
        // An error belongs where the flow it quotes lives: the quoted packet reversed.
        FlowKey inner{};
        if (!icmp_error_inner_key(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
                                  meta, inner) ||
            inner.family != 4)
            return false;
        src = inner.dst[0];
        dst = inner.src[0];
        sport = inner.dport;
        dport = inner.sport;
        proto = inner.proto;
    }
    int owner = nat_owner(*s.nat, meta.in_port, proto, src, sport, dst, dport);
    if (owner < 0 || unsigned(owner) >= _env.handoff.size())
        return false;
    if (meta.flags & meta_fragment) // later fragments will follow this one
        _frag_owner[frag_index(meta.src[0], meta.dst[0], ip_id, meta.proto)] = FragOwner{
            meta.src[0], meta.dst[0], ip_id, meta.proto, 1, uint16_t(owner), now_ms + frag_ttl_ms};
    if (unsigned(owner) == _env.id)
        return false;
    return enqueue_handoff(s, m, unsigned(owner));
}

bool Worker::enqueue_handoff(const Snapshot &s, rte_mbuf *m, unsigned owner) {
    NatCounters &c = s.nat->counters(_env.id);
    if (rte_ring_mp_enqueue(_env.handoff[owner], m) != 0) {
        c.handoff_full.add();
        drop(m, DropReason::nat_handoff_full);
        return true;
    }
    c.handoffs.add();
    return true;
}

unsigned Worker::drain_handoff(const Snapshot &s, uint64_t now_ms) {
    if (_env.handoff.size() <= _env.id || !_env.handoff[_env.id])
        return 0;
    rte_mbuf *pkts[burst_size];
    unsigned n = rte_ring_sc_dequeue_burst(_env.handoff[_env.id], reinterpret_cast<void **>(pkts),
                                           burst_size, nullptr);
    for (unsigned i = 0; i < n; i++) {
        const IfaceState *in = s.iface_by_port(priv_of(pkts[i])->meta.in_port);
        if (!in) {
            drop(pkts[i], DropReason::port_down);
            continue;
        }
        handle_ip(s, *in, pkts[i], now_ms);
    }
    return n;
}

bool Worker::apply_nat(const Flow &f, Dir dir, rte_mbuf *m) {
    PacketMeta &meta = priv_of(m)->meta;
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    const FlowKey &k = f.key[0];
    NatRewrite r = NatRewrite::ok;
    if (dir == Dir::forward) {
        if (f.nat_kind & nat_dnat)
            r = nat_rewrite_ipv4(frame, len, meta, false, f.nat_dst, f.nat_dport);
        if (r == NatRewrite::ok && (f.nat_kind & nat_snat))
            r = nat_rewrite_ipv4(frame, len, meta, true, f.nat_src, f.nat_sport);
    } else {
        if (f.nat_kind & nat_snat)
            r = nat_rewrite_ipv4(frame, len, meta, false, k.src[0], k.sport);
        if (r == NatRewrite::ok && (f.nat_kind & nat_dnat))
            r = nat_rewrite_ipv4(frame, len, meta, true, k.dst[0], k.dport);
    }
    return r == NatRewrite::ok;
}

// RFC 5508: an ICMP error about a translated flow is translated in its quoted packet and in
// its outer header, as a packet of that flow travelling the same way. `dir` says which key of
// the flow the quoted packet, reversed, matched: reply means the error travels like a reply
// (it quotes a forward packet as translated), forward means it travels like a forward packet
// (it quotes a reply as translated back).
bool Worker::translate_icmp_error(const Flow &f, Dir dir, rte_mbuf *m) {
    PacketMeta &meta = priv_of(m)->meta;
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    const FlowKey &k = f.key[0];
    NatRewrite r = NatRewrite::ok;
    if (dir == Dir::reply) {
        if (f.nat_kind & nat_snat) {
            r = nat_rewrite_icmp_error_inner(frame, len, meta, true, k.src[0], k.sport);
            if (r == NatRewrite::ok)
                r = nat_rewrite_ipv4(frame, len, meta, false, k.src[0], 0);
        }
        if (r == NatRewrite::ok && (f.nat_kind & nat_dnat)) {
            r = nat_rewrite_icmp_error_inner(frame, len, meta, false, k.dst[0], k.dport);
            if (r == NatRewrite::ok)
                r = nat_rewrite_ipv4(frame, len, meta, true, k.dst[0], 0);
        }
    } else {
        if (f.nat_kind & nat_snat) {
            r = nat_rewrite_icmp_error_inner(frame, len, meta, false, f.nat_src, f.nat_sport);
            if (r == NatRewrite::ok)
                r = nat_rewrite_ipv4(frame, len, meta, true, f.nat_src, 0);
        }
        if (r == NatRewrite::ok && (f.nat_kind & nat_dnat)) {
            r = nat_rewrite_icmp_error_inner(frame, len, meta, true, f.nat_dst, f.nat_dport);
            if (r == NatRewrite::ok)
                r = nat_rewrite_ipv4(frame, len, meta, false, f.nat_dst, 0);
        }
    }
    if (r == NatRewrite::bad_inner_checksum) {
        drop(m, DropReason::nat_bad_inner_checksum);
        return false;
    }
    if (r != NatRewrite::ok) {
        drop(m, DropReason::nat_rewrite_failed);
        return false;
    }
    return true;
}

bool Worker::nat_binding_valid(const Snapshot &s, const Flow &f) const {
    if (!f.nat_kind)
        return true;
    const NatTable &nat = *s.nat;
    const FlowKey &k = f.key[0];
    if (f.nat_kind & nat_dnat) {
        const NatStaticEntry *st = nat.static_by_outside(f.in_port, k.dst[0]);
        const NatDnatEntry *d = nat.dnat(f.in_port, k.proto, k.dst[0], k.dport);
        if (!st && !d) {
            st = nat.static_hairpin(k.dst[0]);
            d = st ? nullptr : nat.dnat_hairpin(k.proto, k.dst[0], k.dport);
        }
        bool ok = (st && st->inside == f.nat_dst && f.nat_dport == k.dport) ||
                  (d && d->to == f.nat_dst && d->to_port == f.nat_dport);
        if (!ok)
            return false;
    }
    if (f.nat_kind & nat_dynamic) {
        const NatSourceRule *r = nat.rule_by_generation(f.nat_gen);
        if (!r || r->port != f.out_port)
            return false;
    } else if (f.nat_kind & nat_hairpin) {
        const IfaceState *out = s.iface_by_port(f.out_port);
        if (!out || !out->has4 || out->addr4 != f.nat_src)
            return false;
    } else if (f.nat_kind & nat_snat) {
        const NatStaticEntry *st = nat.static_by_inside(f.out_port, k.src[0]);
        if (!st || st->outside != f.nat_src)
            return false;
    }
    return true;
}

unsigned Worker::frag_index(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto) {
    uint32_t h = src * 0x9e3779b1u ^ dst * 0x85ebca6bu ^ (uint32_t(id) << 8 | proto) * 0xc2b2ae35u;
    return (h ^ h >> 16) % frag_slots;
}

Worker::FragNote &Worker::frag_slot(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto) {
    return _frags[frag_index(src, dst, id, proto)];
}

void Worker::frag_note(const uint8_t *frame, const PacketMeta &before, const PacketMeta &after,
                       uint64_t now_ms) {
    uint16_t id;
    std::memcpy(&id, frame + before.l3_offset + 4, 2);
    FragNote &n = frag_slot(before.src[0], before.dst[0], id, before.proto);
    n = FragNote{before.src[0], before.dst[0],       id, before.proto, 1, after.src[0],
                 after.dst[0],  now_ms + frag_ttl_ms};
}

bool Worker::frag_translate(rte_mbuf *m, uint64_t now_ms) {
    PacketMeta &meta = priv_of(m)->meta;
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    uint16_t id;
    std::memcpy(&id, frame + meta.l3_offset + 4, 2);
    const FragNote &n = frag_slot(meta.src[0], meta.dst[0], id, meta.proto);
    if (!n.used || n.expires_ms < now_ms || n.src != meta.src[0] || n.dst != meta.dst[0] ||
        n.id != id || n.proto != meta.proto)
        return false;
    uint32_t len = rte_pktmbuf_data_len(m);
    NatRewrite r = NatRewrite::ok;
    if (n.new_src != meta.src[0])
        r = nat_rewrite_ipv4(frame, len, meta, true, n.new_src, 0);
    if (r == NatRewrite::ok && n.new_dst != meta.dst[0])
        r = nat_rewrite_ipv4(frame, len, meta, false, n.new_dst, 0);
    return r == NatRewrite::ok;
}

void Worker::route_and_forward(const Snapshot &s, const IfaceState &in, rte_mbuf *m,
                               uint64_t now_ms) {
    const PacketMeta &meta = priv_of(m)->meta;
    uint16_t hop = meta.l3 == L3Kind::ipv4
                       ? s.routes->lookup4(meta.dst[0])
                       : s.routes->lookup6(reinterpret_cast<const uint8_t *>(meta.dst));
    forward(s, in, m, hop, now_ms);
}

void Worker::handle_ip(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms,
                       const FlowHint *hint) {
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
    if (screen_early(s, in, m, now_ms))
        return;
    if (p->ipsec == ipsec_none) {
        const IpsecTable *t = ipsec_table();
        if (t) {
            // ESP for the gateway is decrypted first: what it carries is the packet.
            bool esp = meta.proto == config::proto_esp ||
                       (meta.proto == config::proto_udp && meta.dport == rte_cpu_to_be_16(4500));
            if (esp && s.owns(meta, meta.dst) && esp_in(s, in, m, now_ms))
                return;
        }
        // R139-3: what a tunnel carries never arrives in the clear (by the installed inbound
        // policies, and by the configured peers before qorgan-ike has installed any).
        if ((t && t->covered_in(family_of(meta), reinterpret_cast<const uint8_t *>(meta.src),
                                reinterpret_cast<const uint8_t *>(meta.dst), meta.proto)) ||
            configured_tunnel(s, meta, false)) {
            drop(m, DropReason::ipsec_clear_text);
            return;
        }
    }

    const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    uint32_t ip_bytes = meta.l3_end - meta.l3_offset;
    const uint8_t *l4 = frame + meta.l4_offset;
    uint32_t l4_len = meta.l3_end > meta.l4_offset ? meta.l3_end - meta.l4_offset : 0;
    bool later_fragment = meta.flags & meta_later_fragment;
    const NatTable &nat = *s.nat;
    bool nat4 = meta.l3 == L3Kind::ipv4 && !nat.empty();

    // Known flow? Looked up before the local check: replies to a source NAT on the
    // gateway's own address belong to flows.
    FlowKey key = flow_key_of(meta);
    Dir dir = Dir::forward;
    Flow *f = later_fragment ? nullptr : find_flow(key, dir, hint);
    bool out_of_window = false;
    if (f && f->policy_epoch != s.epoch && (!nat_binding_valid(s, *f) || !recheck_flow(s, *f))) {
        _env.flows->remove(*f);
        f = nullptr;
    }
    if (f) {
        Track t = _env.flows->track(*f, dir, meta, l4, l4_len, ip_bytes, now_ms);
        if (f->screen_flags & flow_half_open)
            flow_tracked(*f);
        if (t == Track::ok) {
            if (f->verdict == FlowVerdict::block) {
                drop(m, DropReason::category_blocked);
                return;
            }
            if (f->verdict == FlowVerdict::inspecting) {
                if (dpi_packet(s, in, *f, dir, m, now_ms))
                    return;
            } else if (f->verdict == FlowVerdict::pass) {
                dpi_category_counters(*f).bytes.add(ip_bytes);
                dpi_app_counters(*f).bytes.add(ip_bytes);
            }
            if (f->nat_kind && meta.ttl <= 1) {
                // Time exceeded quotes the packet as it arrived: never a translated one.
                send_time_exceeded(in, m, now_ms);
                return;
            }
            if (f->nat_kind) {
                PacketMeta before = meta;
                if (!apply_nat(*f, dir, m)) {
                    drop(m, DropReason::nat_rewrite_failed);
                    return;
                }
                if (meta.flags & meta_fragment)
                    frag_note(frame, before, meta, now_ms);
            }
            if (nat.mss_clamp() && meta.proto == config::proto_tcp && (meta.tcp_flags & tcp_syn) &&
                tcp_clamp_mss(rte_pktmbuf_mtod(m, uint8_t *), len, meta, nat.mss_clamp()))
                nat.counters(_env.id).mss_clamped.add();
            route_and_forward(s, in, m, now_ms);
            return;
        }
        if (t == Track::invalid) {
            drop(m, DropReason::tcp_invalid);
            return;
        }
        out_of_window = true; // goes back through the rules below
    }

    if (!f && !later_fragment && meta.proto == config::proto_tcp) {
        // A RST carrying a SYN cookie proves its source answers (syncookie.h): the source
        // is admitted and its retransmitted SYN opens the connection.
        if ((meta.tcp_flags & tcp_rst) && in.screen->syn_action == config::ScreenAction::cookie &&
            _cookies.check(key, tcp_seq_of(frame, meta), now_ms)) {
            _guard->prove(meta.src, family_of(meta), now_ms, proven_ms);
            _env.counters->screen.cookies_verified.add();
            drop(m, DropReason::syn_cookie_verified);
            return;
        }
    }
    if (!f && !out_of_window && !later_fragment &&
        ((meta.proto == config::proto_tcp &&
          (meta.tcp_flags & (tcp_syn | tcp_ack | tcp_rst)) == tcp_syn) ||
         meta.proto == config::proto_udp || is_echo_request(meta))) {
        bool consumed = false;
        scan_contact(s, in, m, now_ms, consumed);
        if (consumed)
            return;
        // A SYN towards a destination under a SYN flood, with `drop`: turned away before the
        // route and the rules, the cheapest place (docs/SCREEN.md). `cookie` waits for the
        // rules (screen_new), so that no cookie ever answers for a port the policy closes.
        if (syn_flood_early(s, in, m, now_ms))
            return;
    }

    // ICMP errors about a tracked flow pass as related, translated when the flow is.
    if (!f && is_icmp_error(meta)) {
        FlowKey inner{};
        Dir idir;
        Flow *rf = nullptr;
        if (icmp_error_inner_key(frame, len, meta, inner))
            rf = _env.flows->lookup(inner.reversed(), &idir);
        if (rf) {
            if (rf->nat_kind) {
                if (!translate_icmp_error(*rf, idir, m))
                    return;
                nat.counters(_env.id).icmp_errors.add();
            }
            _env.counters->related_icmp.add();
            route_and_forward(s, in, m, now_ms);
            return;
        }
    }

    // A later fragment of a translated datagram: translated as its first fragment was.
    if (later_fragment && nat4 && frag_translate(m, now_ms)) {
        route_and_forward(s, in, m, now_ms);
        return;
    }

    // Destination NAT decided on arrival, so that routing and rules see the real server.
    uint8_t nat_kind = 0;
    uint32_t nat_dst = 0;
    uint16_t nat_dport = 0;
    bool hairpinned = false;
    PacketMeta translated;
    const PacketMeta *cm = &meta;
    bool ported = meta.proto == config::proto_tcp || meta.proto == config::proto_udp;
    if (nat4) {
        const NatStaticEntry *st = nat.static_by_outside(in.port, meta.dst[0]);
        const NatDnatEntry *d = st || !ported || later_fragment
                                    ? nullptr
                                    : nat.dnat(in.port, meta.proto, meta.dst[0], meta.dport);
        if (!st && !d) { // an inside host using the published address (hairpin)
            st = nat.static_hairpin(meta.dst[0]);
            d = st || !ported || later_fragment
                    ? nullptr
                    : nat.dnat_hairpin(meta.proto, meta.dst[0], meta.dport);
            hairpinned = st || d;
        }
        if (st) {
            nat_kind |= nat_dnat;
            nat_dst = st->inside;
            nat_dport = meta.dport;
        } else if (d) {
            nat_kind |= nat_dnat;
            nat_dst = d->to;
            nat_dport = d->to_port;
        } else if (nat.proxy_arp(in.port, meta.dst[0])) {
            // A pool or destination-NAT address that is not the gateway's own: nothing
            // here belongs to a translation.
            nat.counters(_env.id).no_mapping.add();
            drop(m, DropReason::nat_no_mapping);
            return;
        }
        if (nat_kind) {
            translated = meta;
            translated.dst[0] = nat_dst;
            translated.dport = nat_dport;
            cm = &translated;
        }
    }

    uint16_t hop = cm->l3 == L3Kind::ipv4
                       ? s.routes->lookup4(cm->dst[0])
                       : s.routes->lookup6(reinterpret_cast<const uint8_t *>(cm->dst));
    // Traffic an IPsec policy covers leaves towards the policy's peer (docs/IPSEC.md),
    // whatever the routing table says of its destination, and is not source-translated.
    const IpsecTable::OutPolicy *tunnel = ipsec_policy(*cm);
    if (!tunnel && configured_tunnel(s, *cm, true)) {
        // A configured tunnel whose policy qorgan-ike has not installed (yet): discarded.
        drop(m, DropReason::ipsec_no_sa);
        return;
    }
    if (tunnel) {
        uint32_t peer4;
        std::memcpy(&peer4, tunnel->tunnel_dst.bytes.data(), 4);
        hop = tunnel->tunnel_dst.family == 6 ? s.routes->lookup6(tunnel->tunnel_dst.bytes.data())
                                             : s.routes->lookup4(peer4);
    }
    const NextHop &nh = s.routes->next_hop(hop);
    if (nh.kind == NextHopKind::local && !tunnel) {
        if (nat4 && !nat_kind && !later_fragment && ported && nat.pool_rule(in.port, meta.dst[0])) {
            // The interface address doubles as a pool address: a packet to a pool port that
            // matched no flow is no one's (the gateway itself listens on no such port but
            // IKE's 4500, which goes on to the rules and the exception path).
            uint16_t port = rte_be_to_cpu_16(meta.dport);
            const NatSourceRule *r = nat.pool_rule(in.port, meta.dst[0]);
            if (port >= r->pool.low && port <= r->pool.high &&
                !(_env.exception_path && is_ike(meta, rte_pktmbuf_mtod(m, const uint8_t *)))) {
                nat.counters(_env.id).no_mapping.add();
                drop(m, DropReason::nat_no_mapping);
                return;
            }
        }
        handle_local(s, in, m, now_ms);
        return;
    }

    // New traffic: ingress rules of the arrival interface.
    uint32_t match = classify(in, Direction::ingress, *cm);
    if (match == 0) {
        drop(m, DropReason::default_deny);
        return;
    }
    account_rule(s, in, Direction::ingress, match, *cm, ip_bytes);
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
    uint32_t ematch = classify(*out, Direction::egress, *cm);
    if (ematch == 0) {
        drop(m, DropReason::default_deny);
        return;
    }
    account_rule(s, *out, Direction::egress, ematch, *cm, ip_bytes);
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
    bool creates = !later_fragment;
    if (creates) {
        if (meta.proto == config::proto_tcp) {
            // Only a clean SYN opens a session (as FlowTable::create demands): SYN+FIN or
            // SYN+RST fit no session either, and are counted so, not as a full table.
            if ((meta.tcp_flags & (tcp_syn | tcp_ack | tcp_rst | tcp_fin)) != tcp_syn) {
                drop(m, DropReason::tcp_no_session);
                return;
            }
        } else if (meta.proto == config::proto_icmp || meta.proto == config::proto_icmpv6) {
            creates = is_echo_request(meta); // other ICMP passes by rule, statelessly
        }
    }

    if (creates && screen_new(s, in, m, now_ms))
        return;

    // Source NAT decided by the exit interface: static first, then the source rules.
    uint32_t nat_src = 0;
    uint16_t nat_sport = 0;
    const NatSourceRule *srule = nullptr;
    if (nat4 && !tunnel) {
        if (const NatStaticEntry *st = nat.static_by_inside(nh.port, meta.src[0])) {
            nat_kind |= nat_snat;
            nat_src = st->outside;
            nat_sport = meta.sport;
        } else if ((srule = nat.source_rule(nh.port, meta.src[0]))) {
            nat_kind |= nat_snat | nat_dynamic;
        } else if (hairpinned && nh.port == in.port && out->has4) {
            // Client and server share a LAN: without this the server would answer the
            // client directly, from its own address. The client is seen as the gateway.
            nat_kind |= nat_snat | nat_hairpin;
            nat_src = out->addr4;
            nat_sport = meta.sport;
        }
    }
    if (nat_kind && meta.ttl <= 1) {
        // Expires here: answered from the packet as it arrived, no translation made for it.
        send_time_exceeded(in, m, now_ms);
        return;
    }
    if (nat_kind && !creates) {
        // Without a flow only an address-for-address (static) translation can be applied;
        // a pool translation needs the port of a flow (later fragments: see docs/NAT.md).
        if (nat_kind & nat_dynamic) {
            drop(m,
                 later_fragment ? DropReason::nat_fragment_unknown : DropReason::nat_unsupported);
            return;
        }
        uint8_t *wf = rte_pktmbuf_mtod(m, uint8_t *);
        NatRewrite r = NatRewrite::ok;
        if (nat_kind & nat_dnat)
            r = nat_rewrite_ipv4(wf, len, meta, false, nat_dst, nat_dport);
        if (r == NatRewrite::ok && (nat_kind & nat_snat))
            r = nat_rewrite_ipv4(wf, len, meta, true, nat_src, nat_sport);
        if (r != NatRewrite::ok) {
            drop(m, DropReason::nat_rewrite_failed);
            return;
        }
        forward(s, in, m, hop, now_ms);
        return;
    }
    if (creates) {
        Flow *nf = nullptr;
        NatCounters &nc = nat.counters(_env.id);
        if (!nat_kind) {
            nf = _env.flows->create(meta, l4, l4_len, now_ms);
        } else {
            // The reply key: the translated packet reversed.
            FlowKey reply = flow_key_of(*cm).reversed();
            if (nat_kind & nat_dynamic) {
                PortPool &pool = *srule->pools[_env.id];
                // A port whose reply key is still held (an older flow to the same far end)
                // is given back and another tried, a bounded number of times.
                PortRefusal why = PortRefusal::none;
                std::optional<PortMapping> pm;
                for (int tries = 0; tries < 4; tries++) {
                    pm = pool.allocate(meta.proto, meta.src[0], meta.sport, why);
                    if (!pm)
                        break;
                    reply.dst[0] = pm->addr;
                    reply.dport = pm->port;
                    if (meta.proto == config::proto_icmp)
                        reply.sport = pm->port; // the echo identifier stands for both
                    // Not a port still in use towards that far end, nor one a destination
                    // rule publishes on the same address.
                    if (!_env.flows->contains(reply) &&
                        !(meta.proto != config::proto_icmp &&
                          nat.dnat(nh.port, meta.proto, pm->addr, pm->port)))
                        break;
                    pool.release(meta.proto, *pm, meta.src[0], meta.sport);
                    pm.reset();
                    why = PortRefusal::none;
                }
                if (!pm) {
                    switch (why) {
                    case PortRefusal::pool_exhausted:
                        nc.refused_pool.add();
                        drop(m, DropReason::nat_pool_exhausted);
                        break;
                    case PortRefusal::source_limit:
                        nc.refused_source.add();
                        drop(m, DropReason::nat_source_limit);
                        break;
                    case PortRefusal::source_table_full:
                        nc.refused_sources.add();
                        drop(m, DropReason::nat_source_limit);
                        break;
                    case PortRefusal::unsupported_protocol:
                        nc.refused_protocol.add();
                        drop(m, DropReason::nat_unsupported);
                        break;
                    case PortRefusal::none:
                        nc.refused_collision.add();
                        drop(m, DropReason::nat_collision);
                        break;
                    }
                    return;
                }
                nat_src = pm->addr;
                nat_sport = pm->port;
            } else if (nat_kind & nat_snat) {
                reply.dst[0] = nat_src;
            }
            nf = _env.flows->create(meta, reply, l4, l4_len, now_ms);
            if (!nf && (nat_kind & nat_dynamic))
                srule->pools[_env.id]->release(meta.proto, PortMapping{nat_src, nat_sport},
                                               meta.src[0], meta.sport);
        }
        if (!nf) {
            drop(m, nat_kind && !_env.flows->full() ? DropReason::nat_collision
                                                    : DropReason::flow_table_full);
            return;
        }
        flow_created(in, *nf, meta, now_ms);
        nf->in_port = in.port;
        nf->out_port = nh.port;
        nf->rule_id = rule.id;
        nf->policy_epoch = s.epoch;
        if (nat_kind) {
            nf->nat_kind = nat_kind;
            nf->nat_src = nat_src;
            nf->nat_sport = nat_sport;
            nf->nat_dst = nat_dst;
            nf->nat_dport = nat_dport;
            if (nat_kind & nat_dynamic) {
                nf->nat_gen = srule->generation;
                nf->nat_rule = static_cast<uint8_t>(srule->index);
                nc.snat_new.add();
            } else if (nat_kind & nat_snat) {
                nc.static_new.add();
            }
            if (nat_kind & nat_dnat)
                (nat.static_by_outside(in.port, meta.dst[0]) || nat.static_hairpin(meta.dst[0])
                     ? nc.static_new
                     : nc.dnat_new)
                    .add();
            nc.translated_new.add();
        }
        // Category blocking sees the packet as it arrived: a RST it sends back goes to the
        // sender's real address.
        if (dpi_start(s, in, *out, *nf, m, now_ms))
            return;
        if (nat_kind) {
            PacketMeta before = meta;
            if (!apply_nat(*nf, Dir::forward, m)) {
                _env.flows->remove(*nf);
                drop(m, DropReason::nat_rewrite_failed);
                return;
            }
            if (meta.flags & meta_fragment)
                frag_note(frame, before, meta, now_ms);
        }
    }
    if (nat.mss_clamp() && meta.proto == config::proto_tcp && (meta.tcp_flags & tcp_syn) &&
        tcp_clamp_mss(rte_pktmbuf_mtod(m, uint8_t *), len, meta, nat.mss_clamp()))
        nat.counters(_env.id).mss_clamped.add();
    forward(s, in, m, hop, now_ms);
}

// --- Screen (docs/SCREEN.md) -------------------------------------------------------------

unsigned Worker::half_open_index(const PacketMeta &meta) {
    return half_open_index_of(meta.dst, family_of(meta));
}

void Worker::screen_event(const Snapshot &s, const IfaceState &in, Defence d,
                          config::ScreenAction a, const PacketMeta &meta, uint32_t value,
                          uint32_t block_s, uint64_t now_ms) {
    DefenceCounters &dc = _env.counters->screen[d];
    EventLimiter &lim = _events[static_cast<unsigned>(d)];
    if (!_env.event_ring || !lim.allow(now_ms)) {
        dc.suppressed.add();
        return;
    }
    ScreenEvent e{};
    e.defence = static_cast<uint8_t>(d);
    e.action = static_cast<uint8_t>(a);
    e.family = family_of(meta);
    e.proto = meta.proto;
    e.iface = static_cast<uint16_t>(&in - s.ifaces.data());
    e.sport = meta.sport;
    e.dport = meta.dport;
    std::memcpy(e.src, meta.src, sizeof(e.src));
    std::memcpy(e.dst, meta.dst, sizeof(e.dst));
    e.epoch = s.epoch;
    e.suppressed = lim.take_suppressed();
    e.value = value;
    e.block_s = block_s;
    if (rte_ring_sp_enqueue_elem(_env.event_ring, &e, sizeof(e)) != 0) {
        dc.suppressed.add();
        return;
    }
    dc.events.add();
}

bool Worker::screen_hit(const Snapshot &s, const IfaceState &in, Defence d, config::ScreenAction a,
                        rte_mbuf *m, DropReason r, uint64_t now_ms, uint32_t value) {
    using config::ScreenAction;
    if (a == ScreenAction::off)
        return false;
    const PacketMeta &meta = priv_of(m)->meta;
    DefenceCounters &dc = _env.counters->screen[d];
    dc.detected.add();
    if (a == ScreenAction::block) {
        uint32_t block_s = in.screen->block_time;
        if (_guard->block(meta.src, family_of(meta), now_ms, uint64_t(block_s) * 1000)) {
            _env.counters->screen.sources_blocked.add();
            screen_event(s, in, d, a, meta, value, block_s, now_ms);
        }
    } else {
        screen_event(s, in, d, a, meta, value, 0, now_ms);
    }
    if (a == ScreenAction::alarm)
        return false;
    dc.dropped.add();
    drop(m, r);
    return true;
}

// The checks that need no flow: options, spoofed sources, flags no state admits, the block
// list and the per-source ICMP and UDP floods. Run for every IP packet from the zone.
bool Worker::screen_early(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    using config::ScreenAction;
    const config::Screen &sc = *in.screen;
    const PacketMeta &meta = priv_of(m)->meta;
    const uint8_t fam = family_of(meta);
    const bool v4 = meta.l3 == L3Kind::ipv4;
    if (v4 && (meta.flags & meta_source_route) &&
        screen_hit(s, in, Defence::ip_options, sc.ip_options, m, DropReason::ip_source_route,
                   now_ms))
        return true;
    if (v4 && (meta.flags & meta_record_route) &&
        screen_hit(s, in, Defence::ip_options, sc.ip_options, m, DropReason::ip_record_route,
                   now_ms))
        return true;
    if (sc.spoofing != ScreenAction::off) {
        bool martian = v4 ? martian_source4(meta.src[0]) : martian_source6(meta.src);
        if (v4 && !martian)
            for (uint32_t b : in.broadcast4)
                martian |= b != 0 && b == meta.src[0];
        if (martian &&
            screen_hit(s, in, Defence::martian, sc.spoofing, m, DropReason::martian_source, now_ms))
            return true;
        if (std::memcmp(meta.src, meta.dst, v4 ? 4 : 16) == 0 &&
            screen_hit(s, in, Defence::land, sc.spoofing, m, DropReason::land, now_ms))
            return true;
        if (s.owns_source(meta) && screen_hit(s, in, Defence::own_address, sc.spoofing, m,
                                              DropReason::spoofed_own_address, now_ms))
            return true;
        if (!sc.bogons.empty() && in_prefixes(sc.bogons, fam, meta.src) &&
            screen_hit(s, in, Defence::bogon, sc.spoofing, m, DropReason::bogon_source, now_ms))
            return true;
    }
    if (in.conf->urpf != config::Urpf::off) {
        // The route back to the source: strict wants it to leave by this interface, loose
        // wants one. IPv6 link-local sources have no route and are not checked.
        const auto *b = reinterpret_cast<const uint8_t *>(meta.src);
        bool link_local = !v4 && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
        if (!link_local) {
            uint16_t hop = v4 ? s.routes->lookup4(meta.src[0])
                              : s.routes->lookup6(reinterpret_cast<const uint8_t *>(meta.src));
            const NextHop &nh = s.routes->next_hop(hop);
            bool ok = nh.kind != NextHopKind::none &&
                      (in.conf->urpf == config::Urpf::loose || nh.kind == NextHopKind::local ||
                       nh.port == in.port);
            if (!ok && screen_hit(s, in, Defence::urpf, ScreenAction::drop, m,
                                  DropReason::urpf_fail, now_ms))
                return true;
        }
    }
    if (meta.proto == config::proto_tcp && !(meta.flags & meta_later_fragment) &&
        sc.tcp_flags != ScreenAction::off) {
        TcpProbe probe = classify_tcp_flags(meta.tcp_flags);
        if (probe != TcpProbe::normal) {
            if (probe == TcpProbe::null_scan || probe == TcpProbe::fin_scan ||
                probe == TcpProbe::xmas_scan) {
                bool consumed = false;
                scan_contact(s, in, m, now_ms, consumed); // stealth scans are scans too
                if (consumed)
                    return true;
            }
            if (screen_hit(s, in, Defence::tcp_flags, sc.tcp_flags, m, DropReason::tcp_bad_flags,
                           now_ms, meta.tcp_flags))
                return true;
        }
    }
    if (_guard->blocked(meta.src, fam, now_ms) == GuardVerdict::blocked) {
        DefenceCounters &dc = _env.counters->screen[Defence::blocked];
        dc.detected.add();
        dc.dropped.add();
        drop(m, DropReason::source_blocked);
        return true;
    }
    bool icmp = meta.proto == config::proto_icmp || meta.proto == config::proto_icmpv6;
    if (icmp && sc.icmp_flood.action != ScreenAction::off &&
        _guard->icmp(meta.src, fam, in.limits, now_ms) == GuardVerdict::icmp_flood &&
        screen_hit(s, in, Defence::icmp_flood, sc.icmp_flood.action, m, DropReason::icmp_flood,
                   now_ms, sc.icmp_flood.per_second))
        return true;
    if (meta.proto == config::proto_udp && sc.udp_flood.action != ScreenAction::off &&
        _guard->udp(meta.src, fam, in.limits, now_ms) == GuardVerdict::udp_flood &&
        screen_hit(s, in, Defence::udp_flood, sc.udp_flood.action, m, DropReason::udp_flood, now_ms,
                   sc.udp_flood.per_second))
        return true;
    return false;
}

// A new connection attempt (a packet that matched no flow) seen by the scan detector.
void Worker::scan_contact(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms,
                          bool &consumed) {
    const config::Screen &sc = *in.screen;
    consumed = false;
    if (sc.scan_action == config::ScreenAction::off)
        return;
    const PacketMeta &meta = priv_of(m)->meta;
    uint64_t refused = _scan->table_full();
    ScanDetector::Scan r =
        _scan->contact(meta.src, family_of(meta), meta.dst, rte_be_to_cpu_16(meta.dport),
                       sc.scan_hosts, sc.scan_ports, sc.scan_window * 1000, now_ms);
    if (_scan->table_full() != refused)
        _env.counters->screen.scan_table_full.add();
    if (r == ScanDetector::Scan::none)
        return;
    bool horizontal = r == ScanDetector::Scan::horizontal;
    consumed = screen_hit(s, in, horizontal ? Defence::scan_horizontal : Defence::scan_vertical,
                          sc.scan_action, m, DropReason::source_blocked, now_ms,
                          horizontal ? sc.scan_hosts : sc.scan_ports);
}

void Worker::send_syn_cookie(const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    const PacketMeta &meta = priv_of(m)->meta;
    rte_mbuf *r = rte_pktmbuf_alloc(_env.pool);
    if (!r) {
        drop(m, DropReason::mbuf_exhausted);
        return;
    }
    const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t cookie = _cookies.make(flow_key_of(meta), tcp_seq_of(frame, meta), now_ms);
    uint32_t out = tcp_synack_cookie_build(rte_pktmbuf_mtod(r, uint8_t *), rte_pktmbuf_tailroom(r),
                                           frame, rte_pktmbuf_data_len(m), meta, in.mac, cookie);
    drop(m, DropReason::syn_cookie_sent);
    if (out == 0) {
        rte_pktmbuf_free(r);
        return;
    }
    rte_pktmbuf_append(r, static_cast<uint16_t>(out));
    _env.counters->screen.cookies_sent.add();
    tx(in.port, r);
}

// Whether a TCP SYN's destination is under a SYN flood for the zone's screen: at least
// `syn_threshold` half-open connections towards it (*half_open), and the source not proven
// by a cookie.
bool Worker::syn_flooded(const config::Screen &sc, const PacketMeta &meta, uint64_t now_ms,
                         uint32_t &half_open) const {
    half_open = _half_open[half_open_index(meta)];
    return half_open >= sc.syn_threshold && !_guard->proven(meta.src, family_of(meta), now_ms);
}

bool Worker::syn_flood_early(const Snapshot &s, const IfaceState &in, rte_mbuf *m,
                             uint64_t now_ms) {
    const config::Screen &sc = *in.screen;
    const PacketMeta &meta = priv_of(m)->meta;
    if (sc.syn_action != config::ScreenAction::drop || meta.proto != config::proto_tcp ||
        (meta.tcp_flags & (tcp_syn | tcp_ack | tcp_rst | tcp_fin)) != tcp_syn)
        return false;
    // The gateway's own addresses (its services, a port forwarded from one) take the way
    // through the rules: screen_new decides them as before.
    if (s.owns(meta, meta.dst))
        return false;
    uint32_t half_open;
    return syn_flooded(sc, meta, now_ms, half_open) &&
           screen_hit(s, in, Defence::syn_flood, sc.syn_action, m, DropReason::syn_flood, now_ms,
                      half_open);
}

// The checks of a connection about to be admitted (the rules accepted it): the SYN-flood
// defence and the per-source rate and concurrency limits.
bool Worker::screen_new(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    using config::ScreenAction;
    const config::Screen &sc = *in.screen;
    const PacketMeta &meta = priv_of(m)->meta;
    const uint8_t fam = family_of(meta);
    uint32_t half_open = 0;
    if (meta.proto == config::proto_tcp && sc.syn_action != ScreenAction::off &&
        syn_flooded(sc, meta, now_ms, half_open)) {
        DefenceCounters &dc = _env.counters->screen[Defence::syn_flood];
        if (sc.syn_action == ScreenAction::cookie) {
            dc.detected.add();
            dc.dropped.add(); // the SYN goes no further: a cookie answers it
            screen_event(s, in, Defence::syn_flood, sc.syn_action, meta, half_open, 0, now_ms);
            send_syn_cookie(in, m, now_ms);
            return true;
        }
        if (screen_hit(s, in, Defence::syn_flood, sc.syn_action, m, DropReason::syn_flood, now_ms,
                       half_open))
            return true;
    }
    if (sc.source_rate.action != ScreenAction::off) {
        GuardVerdict v = _guard->new_connection(meta.src, fam, in.limits, now_ms);
        if (v == GuardVerdict::over_rate &&
            screen_hit(s, in, Defence::source_rate, sc.source_rate.action, m,
                       DropReason::source_rate, now_ms, sc.source_rate.per_second))
            return true;
        if (v == GuardVerdict::over_concurrent &&
            screen_hit(s, in, Defence::source_concurrent, sc.source_rate.action, m,
                       DropReason::source_concurrent, now_ms, sc.concurrent))
            return true;
    }
    return false;
}

void Worker::flow_created(const IfaceState &in, Flow &f, const PacketMeta &meta, uint64_t now_ms) {
    if (in.screen->source_rate.action != config::ScreenAction::off && in.screen->concurrent) {
        _guard->connection_opened(meta.src, family_of(meta), now_ms);
        f.screen_flags |= flow_guarded;
    }
    if (meta.proto == config::proto_tcp) {
        uint32_t &n = _half_open[half_open_index(meta)];
        n++;
        f.screen_flags |= flow_half_open;
        if (n > _env.counters->screen.half_open_max.get())
            _env.counters->screen.half_open_max.add(n - _env.counters->screen.half_open_max.get());
    }
}

void Worker::flow_tracked(Flow &f) {
    if ((f.screen_flags & flow_half_open) && f.state != FlowState::tcp_syn_sent &&
        f.state != FlowState::tcp_syn_received) {
        f.screen_flags &= static_cast<uint8_t>(~flow_half_open);
        uint32_t &n = _half_open[half_open_index_of(f.key[0].dst, f.key[0].family)];
        if (n)
            n--;
    }
}

// Fragments are held until their datagram is whole (reasm.h); the datagram then goes on as
// one packet in one buffer, parsed afresh. Refused fragments are counted by their reason.
rte_mbuf *Worker::reassemble(const Snapshot &s, const IfaceState &in, rte_mbuf *m,
                             uint64_t now_ms) {
    if (!_reasm) {
        return m; // no table (its creation failed at start): fragments pass as they are
    }
    PacketMeta meta = priv_of(m)->meta; // for the event: m may be freed below
    std::optional<DropReason> why;
    rte_mbuf *d = _reasm->add(m, rte_get_tsc_cycles(), why);
    if (!d) {
        if (why) {
            _env.counters->drop(*why);
            DefenceCounters &dc = _env.counters->screen[Defence::fragments];
            dc.detected.add();
            dc.dropped.add();
            if (*why != DropReason::frag_table_full)
                screen_event(s, in, Defence::fragments, in.screen->fragments, meta, 0, 0, now_ms);
        }
        return nullptr;
    }
    rte_mbuf *one = reasm_linearize(d, _env.jumbo_pool);
    if (!one) {
        drop(d, DropReason::frag_too_big);
        return nullptr;
    }
    MbufPriv *p = priv_of(one);
    uint8_t port = meta.in_port;
    p->meta = PacketMeta{};
    p->meta.in_port = port;
    if (auto reason = parse_frame(rte_pktmbuf_mtod(one, const uint8_t *), rte_pktmbuf_data_len(one),
                                  p->meta)) {
        drop(one, *reason);
        return nullptr;
    }
    p->meta.in_port = port;
    p->reassembled = 1;
    _env.counters->screen.reassembled.add();
    return one;
}

// A reassembled datagram too big for the exit: fragmented again to the exit MTU, each
// fragment sent to dst_mac. The IP packet must start after a 14-byte Ethernet header.
// A zero dst_mac: the neighbour is not resolved yet; m's private area says where the
// fragments go, and each goes to the slow path to wait for the resolution.
bool Worker::fragment_out(const IfaceState &out, rte_mbuf *m, const Mac &dst_mac) {
    const PacketMeta &meta = priv_of(m)->meta;
    if (!_env.indirect_pool || meta.l3_offset != 14)
        return false;
    const bool v6 = meta.l3 == L3Kind::ipv6;
    const bool unresolved = dst_mac == Mac{};
    const MbufPriv resolve = *priv_of(m);
    rte_pktmbuf_adj(m, 14); // rte_ip_frag wants the packet to start at the IP header
    rte_mbuf *frags[RTE_LIBRTE_IP_FRAG_MAX_FRAG * 8];
    int n = v6 ? rte_ipv6_fragment_packet(m, frags, RTE_DIM(frags), out.conf->mtu, _env.pool,
                                          _env.indirect_pool)
               : rte_ipv4_fragment_packet(m, frags, RTE_DIM(frags), out.conf->mtu, _env.pool,
                                          _env.indirect_pool);
    rte_pktmbuf_free(m); // the fragments hold their own references to its payload
    if (n <= 0) {
        _env.counters->drop(DropReason::mtu_exceeded);
        return true;
    }
    const uint16_t et = rte_cpu_to_be_16(v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
    for (int i = 0; i < n; i++) {
        rte_mbuf *f = frags[i];
        auto *ip = rte_pktmbuf_mtod(f, uint8_t *);
        if (!v6) { // rte_ip_frag leaves the header checksum to offload: ours is software
            auto *h = reinterpret_cast<rte_ipv4_hdr *>(ip);
            h->hdr_checksum = 0;
            h->hdr_checksum = rte_ipv4_cksum(h);
        }
        auto *eth = reinterpret_cast<uint8_t *>(rte_pktmbuf_prepend(f, 14));
        if (!eth) {
            drop(f, DropReason::mtu_exceeded);
            continue;
        }
        std::memcpy(eth, dst_mac.data(), 6);
        std::memcpy(eth + 6, out.mac.data(), 6);
        std::memcpy(eth + 12, &et, 2);
        if (unresolved) {
            MbufPriv *fp = priv_of(f);
            fp->kind = SlowKind::resolve;
            fp->out_port = resolve.out_port;
            fp->nh_family = resolve.nh_family;
            std::memcpy(fp->nh_ip, resolve.nh_ip, sizeof(fp->nh_ip));
            to_slowpath(f);
            continue;
        }
        tx(out.port, f);
    }
    _env.counters->screen.refragmented.add();
    return true;
}

void Worker::forward(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint16_t hop,
                     uint64_t now_ms) {
    MbufPriv *p = priv_of(m);
    PacketMeta &meta = p->meta;
    if (p->ipsec != ipsec_sealed) {
        if (const IpsecTable::OutPolicy *tunnel = ipsec_policy(meta)) {
            esp_out(s, in, m, *tunnel, now_ms);
            return;
        }
        if (configured_tunnel(s, meta, true)) { // R139-3, as in handle_ip
            drop(m, DropReason::ipsec_no_sa);
            return;
        }
    }
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
    const bool own = p->ipsec == ipsec_sealed; // built here: no hop has been made yet
    if (meta.ttl <= 1 && !own) {
        send_time_exceeded(in, m, now_ms);
        return;
    }
    const bool too_big = static_cast<uint32_t>(meta.l3_end - meta.l3_offset) > out->conf->mtu;
    if (too_big && !p->reassembled) {
        drop(m, DropReason::mtu_exceeded);
        return;
    }
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    if (!own)
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
        if (too_big) { // fragmented first: each fragment waits for the neighbour
            if (!fragment_out(*out, m, Mac{}))
                drop(m, DropReason::mtu_exceeded);
            return;
        }
        to_slowpath(m);
        return;
    }
    if (too_big) {
        if (!fragment_out(*out, m, mac))
            drop(m, DropReason::mtu_exceeded);
        return;
    }
    std::memcpy(frame, mac.data(), 6);
    tx(nh.port, m);
}

} // namespace qorgan::dp

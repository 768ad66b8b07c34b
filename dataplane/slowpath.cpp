// SPDX-License-Identifier: GPL-2.0-or-later
// ARP/ND answers, neighbour learning and next-hop resolution on the main lcore.
#include "dataplane/slowpath.h"

#include "dataplane/mbuf_priv.h"
#include "dataplane/pkt_build.h"
#include "dataplane/worker.h"

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <arpa/inet.h>
#include <cstring>

namespace qorgan::dp {

namespace {
constexpr size_t max_pending = 256;
constexpr uint8_t max_tries = 3;
constexpr uint64_t retry_ms = 1000;

bool own_address(const IfaceState &ifc, uint8_t family, const void *ip) {
    for (const auto &addr : ifc.conf->addresses)
        if (addr.family == family && std::memcmp(addr.bytes.data(), ip, family == 4 ? 4 : 16) == 0)
            return true;
    return false;
}

// The addresses of a screen event or a rule-log record, as text.
struct AddrText {
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
};

AddrText addr_text(uint8_t family, const uint32_t src[4], const uint32_t dst[4]) {
    AddrText t;
    int af = family == 6 ? AF_INET6 : AF_INET;
    inet_ntop(af, src, t.src, sizeof(t.src));
    inet_ntop(af, dst, t.dst, sizeof(t.dst));
    return t;
}

// The interface a record of a worker names, or nullptr when the record was made under
// another snapshot than s.
const config::Interface *iface_of(const Snapshot &s, uint16_t iface, uint32_t epoch) {
    return iface < s.ifaces.size() && epoch == s.epoch ? s.ifaces[iface].conf : nullptr;
}

// What every record line names: the addresses, the interface and its zone ("?" when the
// record was made under another snapshot).
struct Origin {
    AddrText addr;
    const char *iface;
    const char *zone;
};

template <typename Record>
Origin origin_of(const Snapshot &s, const Record &r) {
    const config::Interface *ifc = iface_of(s, r.iface, r.epoch);
    return {addr_text(r.family, r.src, r.dst), ifc ? ifc->name.c_str() : "?",
            ifc ? ifc->zone.c_str() : "?"};
}
} // namespace

SlowPath::SlowPath(SlowPathEnv env) : _env(std::move(env)), _pending(max_pending) {}

SlowPath::~SlowPath() {
    release();
}

void SlowPath::release() {
    rte_pktmbuf_free(_tun_spare);
    _tun_spare = nullptr;
    for (auto &p : _pending) {
        for (unsigned i = 0; i < p.n; i++)
            rte_pktmbuf_free(p.held[i]);
        p.n = 0;
    }
}

uint64_t SlowPath::held() const {
    uint64_t n = 0;
    for (const auto &p : _pending)
        n += p.n;
    return n;
}

void SlowPath::drop(rte_mbuf *m, DropReason r) {
    _env.counters->drop(r);
    rte_pktmbuf_free(m);
}

bool SlowPath::enqueue_tx(uint16_t port, rte_mbuf *m) {
    MbufPriv *p = priv_of(m);
    p->kind = SlowKind::transmit;
    p->out_port = port;
    if (rte_ring_sp_enqueue(_env.to_worker, m) != 0) {
        drop(m, DropReason::slowpath_ring_full);
        return false;
    }
    return true;
}

void SlowPath::send(uint16_t port, rte_mbuf *m) {
    if (enqueue_tx(port, m))
        _env.counters->local_replies.add();
}

namespace {

// Takes up to a burst of fixed-size records from each ring and hands each to `each`; returns
// how many there were.
template <typename T, typename F>
unsigned drain_records(const std::vector<rte_ring *> &rings, F &&each) {
    T recs[burst_size];
    unsigned total = 0;
    for (rte_ring *r : rings) {
        unsigned n = rte_ring_sc_dequeue_burst_elem(r, recs, sizeof(T), burst_size, nullptr);
        for (unsigned i = 0; i < n; i++)
            each(recs[i]);
        total += n;
    }
    return total;
}

} // namespace

unsigned SlowPath::poll(const Snapshot &s, uint64_t now_ms) {
    unsigned total = 0;
    rte_mbuf *pkts[burst_size];
    for (rte_ring *r : _env.from_workers) {
        unsigned n =
            rte_ring_sc_dequeue_burst(r, reinterpret_cast<void **>(pkts), burst_size, nullptr);
        for (unsigned i = 0; i < n; i++)
            handle(s, pkts[i], now_ms);
        total += n;
    }
    total += poll_tun(s, now_ms);
    total += drain_records<RuleLog>(_env.log_rings, [&](const RuleLog &r) { print_log(s, r); });
    total += drain_records<ScreenEvent>(_env.event_rings,
                                        [&](const ScreenEvent &e) { print_event(s, e); });
    total += drain_records<CategoryEvent>(_env.category_rings,
                                          [&](const CategoryEvent &e) { print_category(s, e); });
    if (total && _env.log)
        std::fflush(_env.log);
    return total;
}

// category-log: a flow blocked by category blocking, or passed by an exception or an agreed
// channel (docs/CATEGORIES.md): what it was, what decided, and which way it went.
void SlowPath::print_category(const Snapshot &s, const CategoryEvent &e) {
    if (!_env.log)
        return;
    Origin o = origin_of(s, e);
    const AddrText &a = o.addr;
    const char *ifname = o.iface, *zone = o.zone;
    const char *category = flow_category_name(e.category);
    const std::string &app = s.dpi ? s.dpi->name_of(e.app) : std::string();
    auto rule = static_cast<dpi::Rule>(e.rule);
    std::string which;
    const config::Categories &c = s.conf.security.categories;
    if (e.epoch == s.epoch && rule == dpi::Rule::exception && e.rule_index < c.exceptions.size())
        which = " exception=" + c.exceptions[e.rule_index].name + " reference=\"" +
                c.exceptions[e.rule_index].reference + "\"";
    else if (e.epoch == s.epoch && rule == dpi::Rule::vpn_channel &&
             e.rule_index < c.vpn_channels.size())
        which = " channel=" + c.vpn_channels[e.rule_index].name;
    const char *regulation = rule == dpi::Rule::outer_loop    ? "R133-1"
                             : rule == dpi::Rule::exception   ? "R134-2"
                             : rule == dpi::Rule::vpn_channel ? "R133-4"
                                                              : "R134-1";
    std::fprintf(_env.log,
                 "category-log action=%s category=%s app=%s rule=%s%s regulation=%s zone=%s "
                 "iface=%s proto=%u src=%s sport=%u dst=%s dport=%u suppressed=%u\n",
                 e.blocked ? "block" : "pass", category, app.c_str(), dpi::rule_name(rule),
                 which.c_str(), regulation, zone, ifname, e.proto, a.src, ntohs(e.sport), a.dst,
                 ntohs(e.dport), e.suppressed);
}

void SlowPath::print_event(const Snapshot &s, const ScreenEvent &e) {
    if (!_env.log)
        return;
    Origin o = origin_of(s, e);
    const AddrText &a = o.addr;
    const char *ifname = o.iface, *zone = o.zone;
    std::string_view defence = defence_name(static_cast<Defence>(e.defence));
    std::fprintf(_env.log,
                 "screen-event defence=%.*s action=%s zone=%s iface=%s proto=%u src=%s sport=%u "
                 "dst=%s dport=%u value=%u block=%u suppressed=%u\n",
                 int(defence.size()), defence.data(),
                 config::screen_action_name(static_cast<config::ScreenAction>(e.action)), zone,
                 ifname, e.proto, a.src, ntohs(e.sport), a.dst, ntohs(e.dport), e.value, e.block_s,
                 e.suppressed);
}

void SlowPath::print_log(const Snapshot &s, const RuleLog &r) {
    if (!_env.log)
        return;
    Origin o = origin_of(s, r);
    const AddrText &a = o.addr;
    const char *ifname = o.iface;
    std::fprintf(_env.log,
                 "rule-log iface=%s dir=%s rule=%u action=%s proto=%u src=%s sport=%u dst=%s "
                 "dport=%u\n",
                 ifname, r.dir == 0 ? "ingress" : "egress", r.rule_id,
                 config::action_name(static_cast<config::Action>(r.action)), r.proto, a.src,
                 ntohs(r.sport), a.dst, ntohs(r.dport));
}

void SlowPath::handle(const Snapshot &s, rte_mbuf *m, uint64_t now_ms) {
    switch (priv_of(m)->kind) {
    case SlowKind::arp:
        handle_arp(s, m);
        return;
    case SlowKind::nd:
        handle_nd(s, m);
        return;
    case SlowKind::resolve:
        handle_resolve(s, m, now_ms);
        return;
    case SlowKind::exception:
        to_tun(m);
        return;
    case SlowKind::transmit:
        break;
    }
    drop(m, DropReason::local_unhandled);
}

void SlowPath::reply_in_place(rte_mbuf *m, uint32_t len, uint16_t port) {
    if (len == 0) {
        drop(m, DropReason::local_unhandled);
        return;
    }
    rte_pktmbuf_reset(m);
    rte_pktmbuf_append(m, static_cast<uint16_t>(len));
    send(port, m);
}

void SlowPath::handle_arp(const Snapshot &s, rte_mbuf *m) {
    const PacketMeta &meta = priv_of(m)->meta;
    const IfaceState *in = s.iface_by_port(meta.in_port);
    ArpInfo a{};
    if (!in || !arp_read(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), meta, a)) {
        drop(m, DropReason::arp_malformed);
        return;
    }
    // Static NAT outside addresses and pool addresses are answered for too (proxy ARP).
    bool ours = own_address(*in, 4, &a.target_ip) || s.nat->proxy_arp(in->port, a.target_ip);
    uint8_t sender[4];
    std::memcpy(sender, &a.sender_ip, 4);
    Mac known;
    bool have = _env.neighbors->lookup(in->port, 4, sender, known);
    // Learn from frames aimed at us, and refresh entries we already hold (RFC 826).
    if ((ours || have) && a.sender_ip != 0) {
        _env.neighbors->learn(in->port, 4, sender, a.sender_mac);
        learned(in->port, 4, sender);
    }
    if (!ours || a.op != 1) {
        drop(m, DropReason::local_unhandled);
        return;
    }
    // Answer in the same mbuf.
    uint8_t *buf = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t cap = rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m);
    uint32_t len = arp_build(buf, cap, 2, in->mac, a.target_ip, a.sender_mac, a.sender_ip);
    reply_in_place(m, len, in->port);
}

void SlowPath::handle_nd(const Snapshot &s, rte_mbuf *m) {
    const PacketMeta &meta = priv_of(m)->meta;
    const IfaceState *in = s.iface_by_port(meta.in_port);
    NdInfo nd{};
    if (!in || !nd_read(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), meta, nd)) {
        drop(m, DropReason::nd_malformed);
        return;
    }
    bool ours = own_address(*in, 6, nd.target);
    static const uint8_t unspecified[16] = {};
    bool from_unspecified = std::memcmp(nd.src, unspecified, 16) == 0;
    if (nd.type == 136) {
        // Advertisement: learn the target's link-layer address.
        if (nd.has_lladdr) {
            Mac known;
            bool have = _env.neighbors->lookup(in->port, 6, nd.target, known);
            bool wanted = false;
            for (const auto &p : _pending)
                if (p.used && p.port == in->port && p.family == 6 &&
                    std::memcmp(p.ip, nd.target, 16) == 0)
                    wanted = true;
            if (have || wanted) {
                _env.neighbors->learn(in->port, 6, nd.target, nd.lladdr);
                learned(in->port, 6, nd.target);
            }
        }
        drop(m, DropReason::local_unhandled);
        return;
    }
    // Solicitation.
    if (!ours || from_unspecified) { // not ours, or duplicate address detection
        drop(m, DropReason::local_unhandled);
        return;
    }
    if (!nd.has_lladdr) {
        drop(m, DropReason::nd_malformed);
        return;
    }
    _env.neighbors->learn(in->port, 6, nd.src, nd.lladdr);
    learned(in->port, 6, nd.src);
    uint8_t *buf = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t cap = rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m);
    uint8_t target[16], src[16];
    Mac dst_mac = nd.lladdr;
    std::memcpy(target, nd.target, 16);
    std::memcpy(src, nd.src, 16);
    uint32_t len = nd_build_na(buf, cap, in->mac, target, dst_mac, src, true);
    reply_in_place(m, len, in->port);
}

void SlowPath::handle_resolve(const Snapshot &s, rte_mbuf *m, uint64_t now_ms) {
    MbufPriv *p = priv_of(m);
    Mac mac;
    if (_env.neighbors->lookup(p->out_port, p->nh_family, p->nh_ip, mac)) {
        std::memcpy(rte_pktmbuf_mtod(m, uint8_t *), mac.data(), 6);
        send(p->out_port, m);
        return;
    }
    unsigned n = p->nh_family == 4 ? 4 : 16;
    Pending *slot = nullptr;
    Pending *free_slot = nullptr;
    for (auto &e : _pending) {
        if (e.used && e.port == p->out_port && e.family == p->nh_family &&
            std::memcmp(e.ip, p->nh_ip, n) == 0)
            slot = &e;
        else if (!e.used && !free_slot)
            free_slot = &e;
    }
    if (!slot) {
        if (!free_slot) {
            drop(m, DropReason::neighbor_unresolved);
            return;
        }
        slot = free_slot;
        *slot = Pending{};
        slot->used = true;
        slot->port = p->out_port;
        slot->family = p->nh_family;
        std::memcpy(slot->ip, p->nh_ip, n);
        slot->next_try_ms = now_ms;
    }
    if (slot->n == RTE_DIM(slot->held)) {
        drop(m, DropReason::neighbor_unresolved);
        return;
    }
    slot->held[slot->n++] = m;
    if (slot->tries == 0) {
        solicit(s, *slot);
        slot->tries = 1;
        slot->next_try_ms = now_ms + retry_ms;
    }
}

void SlowPath::solicit(const Snapshot &s, Pending &p) {
    const IfaceState *out = s.iface_by_port(p.port);
    if (!out)
        return;
    rte_mbuf *m = rte_pktmbuf_alloc(_env.pool);
    if (!m) {
        _env.counters->drop(DropReason::mbuf_exhausted);
        return;
    }
    uint8_t *buf = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t cap = rte_pktmbuf_tailroom(m);
    uint32_t len = 0;
    if (p.family == 4 && out->has4) {
        uint32_t target;
        std::memcpy(&target, p.ip, 4);
        // Source: our address on the subnet that holds the target, else the first one.
        uint32_t src = out->addr4;
        for (const auto &a : out->conf->addresses) {
            if (a.family != 4)
                continue;
            uint32_t mine, mask = a.length ? htonl(~0u << (32 - a.length)) : 0;
            std::memcpy(&mine, a.bytes.data(), 4);
            if ((mine & mask) == (target & mask))
                src = mine;
        }
        len = arp_build(buf, cap, 1, out->mac, src, Mac{}, target);
    } else if (p.family == 6 && out->has6) {
        len = nd_build_ns(buf, cap, out->mac, out->addr6, p.ip);
    }
    if (len == 0) {
        rte_pktmbuf_free(m);
        return;
    }
    rte_pktmbuf_append(m, static_cast<uint16_t>(len));
    send(p.port, m);
}

void SlowPath::learned(uint16_t port, uint8_t family, const uint8_t *ip) {
    unsigned n = family == 4 ? 4 : 16;
    for (auto &p : _pending) {
        if (!p.used || p.port != port || p.family != family || std::memcmp(p.ip, ip, n) != 0)
            continue;
        Mac mac;
        if (!_env.neighbors->lookup(port, family, ip, mac))
            return;
        for (unsigned i = 0; i < p.n; i++) {
            std::memcpy(rte_pktmbuf_mtod(p.held[i], uint8_t *), mac.data(), 6);
            send(port, p.held[i]);
        }
        p = Pending{};
    }
}

void SlowPath::tick(const Snapshot &s, uint64_t now_ms) {
    for (auto &p : _pending) {
        if (!p.used || now_ms < p.next_try_ms)
            continue;
        if (p.tries >= max_tries) {
            for (unsigned i = 0; i < p.n; i++)
                drop(p.held[i], DropReason::neighbor_unresolved);
            p = Pending{};
            continue;
        }
        solicit(s, p);
        p.tries++;
        p.next_try_ms = now_ms + retry_ms;
    }
}

} // namespace qorgan::dp

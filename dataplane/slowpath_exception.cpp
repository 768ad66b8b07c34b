// SPDX-License-Identifier: GPL-2.0-or-later
// The exception path on the main lcore (docs/IPSEC.md): IKE the workers handed over goes to
// the host kernel through the TUN as a bare IP packet; what the kernel writes back is sent
// on only from one of the gateway's own addresses, routed by the snapshot, with the next hop
// resolved like any held frame, and transmitted by a worker.
#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/slowpath.h"

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <cstring>

namespace qorgan::dp {

namespace {
constexpr unsigned tun_burst = 32; // packets read from the TUN per poll at most
constexpr uint16_t eth_len = 14;
} // namespace

void SlowPath::to_tun(rte_mbuf *m) {
    if (!_env.tun) {
        drop(m, DropReason::exception_no_tun);
        return;
    }
    const PacketMeta &meta = priv_of(m)->meta;
    const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *) + meta.l3_offset;
    switch (_env.tun->write_packet(ip, static_cast<size_t>(meta.l3_end - meta.l3_offset))) {
    case ExceptionTun::Written::ok:
        _env.counters->exception_to_tun.add();
        rte_pktmbuf_free(m);
        return;
    case ExceptionTun::Written::full:
        drop(m, DropReason::exception_tun_full);
        return;
    case ExceptionTun::Written::error:
        break;
    }
    drop(m, DropReason::exception_tun_error);
}

unsigned SlowPath::poll_tun(const Snapshot &s, uint64_t now_ms) {
    if (!_env.tun)
        return 0;
    unsigned n = 0;
    for (; n < tun_burst; n++) {
        rte_mbuf *m = _tun_spare ? _tun_spare : rte_pktmbuf_alloc(_env.pool);
        _tun_spare = nullptr;
        if (!m) {
            _env.counters->drop(DropReason::mbuf_exhausted);
            break; // the kernel keeps the packet queued until the next poll
        }
        // The IP packet goes after room for the Ethernet header.
        uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *) + eth_len;
        ssize_t len = _env.tun->read_packet(ip, rte_pktmbuf_tailroom(m) - eth_len);
        if (len <= 0) {
            _tun_spare = m; // most polls find nothing: no allocation for them
            if (len < 0)
                _env.counters->drop(DropReason::exception_tun_error);
            break;
        }
        _env.counters->exception_from_tun.add();
        rte_pktmbuf_append(m, static_cast<uint16_t>(eth_len + len));
        from_tun(s, m, now_ms);
    }
    return n;
}

void SlowPath::from_tun(const Snapshot &s, rte_mbuf *m, uint64_t now_ms) {
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    uint8_t version = frame[eth_len] >> 4;
    if (version != 4 && version != 6) {
        drop(m, DropReason::exception_malformed);
        return;
    }
    std::memset(frame, 0, 12);
    uint16_t type = rte_cpu_to_be_16(version == 4 ? 0x0800 : 0x86dd);
    std::memcpy(frame + 12, &type, 2);
    MbufPriv *p = priv_of(m);
    p->meta = PacketMeta{};
    p->reassembled = 0;
    if (parse_frame(frame, rte_pktmbuf_data_len(m), p->meta)) {
        drop(m, DropReason::exception_malformed);
        return;
    }
    const PacketMeta &meta = p->meta;
    // Nothing but the gateway itself may send through it: the host is no relay.
    if (!s.owns_source(meta)) {
        drop(m, DropReason::exception_foreign_source);
        return;
    }
    uint16_t hop = meta.l3 == L3Kind::ipv4
                       ? s.routes->lookup4(meta.dst[0])
                       : s.routes->lookup6(reinterpret_cast<const uint8_t *>(meta.dst));
    const NextHop &nh = s.routes->next_hop(hop);
    const IfaceState *out = s.iface_by_port(nh.port);
    if ((nh.kind != NextHopKind::connected && nh.kind != NextHopKind::gateway) || !out) {
        drop(m, DropReason::exception_no_route);
        return;
    }
    if (static_cast<uint32_t>(meta.l3_end - meta.l3_offset) > out->conf->mtu) {
        drop(m, DropReason::mtu_exceeded);
        return;
    }
    if (rte_pktmbuf_data_len(m) > meta.l3_end)
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - meta.l3_end));
    std::memcpy(frame + 6, out->mac.data(), 6);
    const uint8_t *target =
        nh.kind == NextHopKind::gateway ? nh.gateway : reinterpret_cast<const uint8_t *>(meta.dst);
    _env.counters->exception_out.add();
    Mac mac;
    if (_env.neighbors->lookup(nh.port, nh.family, target, mac)) {
        std::memcpy(frame, mac.data(), 6);
        enqueue_tx(nh.port, m);
        return;
    }
    p->kind = SlowKind::resolve; // held until the neighbour answers, as the workers' frames
    p->out_port = nh.port;
    p->nh_family = nh.family;
    std::memset(p->nh_ip, 0, sizeof(p->nh_ip));
    std::memcpy(p->nh_ip, target, nh.family == 4 ? 4 : 16);
    handle_resolve(s, m, now_ms);
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// The worker's share of IPsec (docs/IPSEC.md, R128-h, R139-3): ESP for the gateway is
// decrypted (dataplane/esp.h) before the screen, the flows, the rules and NAT see the inner
// packet; a packet an outbound policy covers is encrypted after them and its ESP packet is
// routed to the peer. Traffic a policy covers never passes in the clear either way.
#include "dataplane/esp.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/pkt_build.h"
#include "dataplane/worker.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstring>

namespace qorgan::dp {

namespace {

const uint8_t *bytes_of(const uint32_t a[4]) {
    return reinterpret_cast<const uint8_t *>(a);
}

} // namespace

const IpsecTable *Worker::ipsec_table() const {
    if (!_env.ipsec || !_env.esp)
        return nullptr;
    const IpsecTable *t = _env.ipsec->load(std::memory_order_acquire);
    return t && !t->empty() ? t : nullptr;
}

const IpsecTable::OutPolicy *Worker::ipsec_policy(const PacketMeta &meta) const {
    const IpsecTable *t = ipsec_table();
    if (!t || (meta.l3 != L3Kind::ipv4 && meta.l3 != L3Kind::ipv6))
        return nullptr;
    return t->match_out(family_of(meta), bytes_of(meta.src), bytes_of(meta.dst), meta.proto);
}

bool Worker::configured_tunnel(const Snapshot &s, const PacketMeta &meta, bool outbound) {
    if (s.conf.ipsec.peers.empty() || (meta.l3 != L3Kind::ipv4 && meta.l3 != L3Kind::ipv6))
        return false;
    const uint8_t family = family_of(meta);
    auto any = [&](const std::vector<config::Prefix> &nets, const uint32_t *addr) {
        for (const config::Prefix &p : nets)
            if (config::prefix_contains(p, family, bytes_of(addr)))
                return true;
        return false;
    };
    for (const config::IpsecPeer &p : s.conf.ipsec.peers) {
        const auto &from = outbound ? p.local_subnets : p.remote_subnets;
        const auto &to = outbound ? p.remote_subnets : p.local_subnets;
        if (any(from, meta.src) && any(to, meta.dst))
            return true;
    }
    return false;
}

bool Worker::esp_in(const Snapshot &s, const IfaceState &in, rte_mbuf *m, uint64_t now_ms) {
    const IpsecTable *t = ipsec_table();
    MbufPriv *p = priv_of(m);
    PacketMeta &meta = p->meta;
    const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
    esp::EspPacket e;
    // IKE on UDP 4500 (the non-ESP marker) and NAT keepalives are not ESP: the local path
    // takes them.
    if (!t || !esp::parse_esp(frame + meta.l3_offset, meta.l3_end - meta.l3_offset, e))
        return false;
    const uint8_t family = family_of(meta);
    const IpsecTable::InSa *sa = t->find_sa(e.spi, family, bytes_of(meta.dst));
    if (!sa) {
        drop(m, DropReason::ipsec_unknown_spi);
        return true;
    }
    if (std::memcmp(sa->src.bytes.data(), meta.src, family == 6 ? 16 : 4) != 0) {
        drop(m, DropReason::ipsec_wrong_peer);
        return true;
    }
    uint8_t eth[12]; // the frame's MACs, for the inner packet's frame
    std::memcpy(eth, frame, sizeof(eth));
    if (rte_pktmbuf_data_len(m) > meta.l3_end)
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - meta.l3_end));
    rte_pktmbuf_adj(m, meta.l3_offset);
    if (_env.esp->process(_env.id, sa->handle, &m, 1, now_ms) == 0) {
        // Freed by the engine, counted there by reason (replay, ICV, ...) and here in all.
        _env.counters->drop(DropReason::ipsec_inbound);
        return true;
    }
    const uint8_t version = *rte_pktmbuf_mtod(m, const uint8_t *) >> 4;
    auto *hdr = reinterpret_cast<uint8_t *>(rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN));
    if (!hdr || (version != 4 && version != 6)) {
        drop(m, DropReason::ipsec_inbound);
        return true;
    }
    std::memcpy(hdr, eth, sizeof(eth));
    uint16_t et = rte_cpu_to_be_16(version == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
    std::memcpy(hdr + 12, &et, 2);
    p = priv_of(m);
    p->meta = PacketMeta{};
    p->reassembled = 0;
    if (auto reason = parse_frame(hdr, rte_pktmbuf_data_len(m), p->meta)) {
        drop(m, *reason);
        return true;
    }
    p->meta.in_port = static_cast<uint8_t>(in.port);
    p->ipsec = ipsec_decrypted;
    const PacketMeta &inner = p->meta;
    if (inner.l3 != L3Kind::ipv4 && inner.l3 != L3Kind::ipv6) {
        drop(m, DropReason::ipsec_policy_mismatch);
        return true;
    }
    // The inner packet must be traffic this SA's policy carries (RFC 4301 5.2: the inbound
    // selector check), else a peer could inject anything through its tunnel.
    if (!t->allowed_in(sa->reqid, family_of(inner), bytes_of(inner.src), bytes_of(inner.dst),
                       inner.proto)) {
        drop(m, DropReason::ipsec_policy_mismatch);
        return true;
    }
    handle_ip(s, in, m, now_ms);
    return true;
}

void Worker::esp_out(const Snapshot &s, const IfaceState &in, rte_mbuf *m,
                     const IpsecTable::OutPolicy &policy, uint64_t now_ms) {
    MbufPriv *p = priv_of(m);
    PacketMeta &meta = p->meta;
    if (policy.handle < 0) {
        // R139-3: a tunnel's traffic while the tunnel has no SA is discarded, not sent clear.
        drop(m, DropReason::ipsec_no_sa);
        return;
    }
    if (meta.ttl <= 1) {
        send_time_exceeded(in, m, now_ms);
        return;
    }
    ip_decrement_ttl(rte_pktmbuf_mtod(m, uint8_t *), meta);
    if (rte_pktmbuf_data_len(m) > meta.l3_end)
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - meta.l3_end));
    rte_pktmbuf_adj(m, meta.l3_offset);
    if (_env.esp->process(_env.id, policy.handle, &m, 1, now_ms) == 0) {
        _env.counters->drop(DropReason::ipsec_outbound);
        return;
    }
    const bool v6 = policy.tunnel_dst.family == 6;
    auto *hdr = reinterpret_cast<uint8_t *>(rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN));
    if (!hdr) {
        drop(m, DropReason::ipsec_outbound);
        return;
    }
    std::memset(hdr, 0, 12);
    uint16_t et = rte_cpu_to_be_16(v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
    std::memcpy(hdr + 12, &et, 2);
    p = priv_of(m);
    p->meta = PacketMeta{};
    if (auto reason = parse_frame(hdr, rte_pktmbuf_data_len(m), p->meta)) {
        drop(m, *reason);
        return;
    }
    p->meta.in_port = static_cast<uint8_t>(in.port);
    p->ipsec = ipsec_sealed;
    p->reassembled = 1; // an ESP packet over the MTU leaves in fragments (RFC 4301 8.1)
    uint32_t dst4;
    std::memcpy(&dst4, policy.tunnel_dst.bytes.data(), 4);
    uint16_t hop = v6 ? s.routes->lookup6(policy.tunnel_dst.bytes.data()) : s.routes->lookup4(dst4);
    forward(s, in, m, hop, now_ms);
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
#include "classifiers/inspector.h"

#include <ndpi/ndpi_api.h>

#include <algorithm>
#include <cstring>

namespace qorgan::dpi {

namespace {

constexpr uint8_t tcp_fin = 0x01, tcp_syn = 0x02, tcp_rst = 0x04, tcp_psh = 0x08, tcp_ack = 0x10;
constexpr uint32_t max_fed_payload = 1500 - 20; // what one packet to nDPI carries at most

uint32_t be32(const uint8_t *p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

void put16(uint8_t *p, uint32_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}

void put32(uint8_t *p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}

bool seq_before(uint32_t a, uint32_t b) {
    return int32_t(a - b) < 0;
}

} // namespace

struct Inspector::Slot {
    ndpi_flow_struct flow;
    uint64_t opened_ms;  // when its inspection started
    void *owner;         // the caller's flow, handed back if the slot is taken from it
    uint32_t next[2];    // TCP: the next in-order sequence number of each direction
    uint32_t buf_seq[2]; // sequence number of buf[d][0]
    uint32_t ack[2];     // last acknowledgment each direction sent
    uint16_t len[2];     // bytes in buf[d]
    uint32_t bytes;      // payload bytes seen, retransmissions included
    uint8_t have[2];     // next[d] is known
    uint8_t acked;       // the originator's first ACK was fed
    uint8_t units;       // packets of payload handed to nDPI
    uint8_t ovpn_client; // OpenVPN check: 1 the client's hard reset seen, 2 done
    uint8_t ovpn_sid[8]; // the client's session id
    uint8_t buf[2][turn_bytes];
};

size_t Inspector::bytes_per_flow() {
    return sizeof(Slot) + sizeof(uint32_t);
}

Inspector::Inspector(uint32_t capacity)
    : _capacity(capacity), _slots(new Slot[capacity]), _free(new uint32_t[capacity]) {
    for (uint32_t i = 0; i < capacity; i++)
        _free[_free_top++] = capacity - i; // handles 1..capacity, lowest on top
}

Inspector::~Inspector() {
    // Flows still open give their nDPI allocations back.
    std::unique_ptr<bool[]> idle(new bool[_capacity + 1]());
    for (uint32_t i = 0; i < _free_top; i++)
        idle[_free[i]] = true;
    for (uint32_t h = 1; h <= _capacity; h++)
        if (!idle[h])
            ndpi_free_flow_data(&_slots[h - 1].flow);
}

uint32_t Inspector::open(uint64_t now_ms, void *owner, void **evicted) {
    if (evicted)
        *evicted = nullptr;
    uint32_t h = 0;
    if (_free_top > 0) {
        h = _free[--_free_top];
    } else if (evicted) {
        // Full: the first stale flow among the next few slots gives its room (every slot is
        // in use when the table is full).
        constexpr uint32_t probes = 32;
        for (uint32_t i = 0; i < probes && i < _capacity; i++) {
            uint32_t idx = _cursor;
            _cursor = (_cursor + 1) % _capacity;
            Slot &old = _slots[idx];
            if (old.opened_ms + stale_ms <= now_ms) {
                *evicted = old.owner;
                ndpi_free_flow_data(&old.flow);
                _stats.evicted++;
                h = idx + 1;
                break;
            }
        }
    }
    if (h == 0) {
        _stats.refused++;
        return 0;
    }
    Slot &s = _slots[h - 1];
    s.opened_ms = now_ms;
    s.owner = owner;
    std::memset(&s.flow, 0, sizeof(s.flow));
    s.len[0] = s.len[1] = 0;
    s.have[0] = s.have[1] = 0;
    s.ack[0] = s.ack[1] = 0;
    s.bytes = 0;
    s.acked = 0;
    s.units = 0;
    s.ovpn_client = 0;
    _stats.opened++;
    return h;
}

void Inspector::close(uint32_t handle) {
    if (handle == 0 || handle > _capacity)
        return;
    ndpi_free_flow_data(&_slots[handle - 1].flow);
    _free[_free_top++] = handle;
}

Detection Inspector::result(Slot &s, uint16_t master, uint16_t app, uint32_t category) {
    Detection d;
    d.master = master;
    d.app = app;
    d.category = category;
    d.risk = s.flow.risk;
    return d;
}

Detection Inspector::give_up(const Module &m, Slot &s) {
    uint8_t guessed = 0;
    ndpi_protocol r = ndpi_detection_giveup(m.get(), &s.flow, 0, &guessed);
    _stats.gave_up++;
    // A category from the lists (a malicious domain seen in a name) counts without a protocol.
    uint32_t cat = r.category != NDPI_PROTOCOL_CATEGORY_UNSPECIFIED ? uint32_t(r.category)
                                                                    : uint32_t(s.flow.category);
    return result(s, r.master_protocol, r.app_protocol, cat);
}

// Hands nDPI one packet of direction `dir` carrying the L4 bytes given (a TCP header is
// rebuilt by the caller) under an IP header of the flow's own addresses.
std::optional<Detection> Inspector::call(const Module &m, Slot &s, const PacketView &p,
                                         unsigned dir, const uint8_t *l4, uint32_t l4_len,
                                         uint32_t budget) {
    const uint32_t *src = dir ? p.dst : p.src;
    const uint32_t *dst = dir ? p.src : p.dst;
    l4_len = std::min<uint32_t>(l4_len, sizeof(_pkt) - 40);
    uint32_t ip_len;
    if (p.family == 6) {
        uint8_t *h = _pkt;
        std::memset(h, 0, 40);
        h[0] = 0x60;
        put16(h + 4, l4_len);
        h[6] = p.proto;
        h[7] = 64;
        std::memcpy(h + 8, src, 16);
        std::memcpy(h + 24, dst, 16);
        ip_len = 40;
    } else {
        uint8_t *h = _pkt;
        std::memset(h, 0, 20);
        h[0] = 0x45;
        put16(h + 2, 20 + l4_len);
        h[8] = 64;
        h[9] = p.proto;
        std::memcpy(h + 12, src, 4);
        std::memcpy(h + 16, dst, 4);
        ip_len = 20;
    }
    if (l4_len && l4 != _pkt + ip_len)
        std::memmove(_pkt + ip_len, l4, l4_len);
    if ((p.proto == 6 || p.proto == 17) && l4_len >= 8) {
        // The flow's own ports: the packet may already carry translated ones.
        std::memcpy(_pkt + ip_len, dir ? &p.dport : &p.sport, 2);
        std::memcpy(_pkt + ip_len + 2, dir ? &p.sport : &p.dport, 2);
        if (p.proto == 17)
            put16(_pkt + ip_len + 4, l4_len); // what is left of a datagram cut to fit
    }
    if (auto v = openvpn_check(s, p.proto, dir, _pkt + ip_len, l4_len)) {
        _stats.detected++;
        return v;
    }
    _stats.fed++;
    ndpi_protocol r =
        ndpi_detection_process_packet(m.get(), &s.flow, _pkt, uint16_t(ip_len + l4_len), p.now_ms);
    bool listed = r.category == ndpi_protocol_category_t(CUSTOM_CATEGORY_MALWARE) ||
                  s.flow.category == ndpi_protocol_category_t(CUSTOM_CATEGORY_MALWARE);
    if (r.master_protocol != NDPI_PROTOCOL_UNKNOWN || r.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
        listed) {
        _stats.detected++;
        return result(s, r.master_protocol, r.app_protocol,
                      listed ? uint32_t(CUSTOM_CATEGORY_MALWARE) : uint32_t(r.category));
    }
    if (s.units >= budget)
        return give_up(m, s);
    return std::nullopt;
}

// OpenVPN in TLS mode without tls-auth, which nDPI 4.2 does not recognise (its check wants
// a tls-auth HMAC): the client opens with a hard reset (P_CONTROL_HARD_RESET_CLIENT_V2 or V3,
// key 0) carrying its 8-byte session id, and the server's first packet, a hard reset of its
// own (P_CONTROL_HARD_RESET_SERVER_V2), acknowledges it quoting that session id. TCP frames
// each packet with a 2-byte length.
std::optional<Detection> Inspector::openvpn_check(Slot &s, uint8_t proto, unsigned dir,
                                                  const uint8_t *l4, uint32_t l4_len) {
    uint32_t hdr = proto == 17 ? 8 : proto == 6 ? uint32_t(l4[12] >> 4) * 4 : 0;
    if (hdr == 0 || l4_len <= hdr + 2)
        return std::nullopt;
    const uint8_t *p = l4 + hdr;
    uint32_t n = l4_len - hdr;
    if (proto == 6) {
        p += 2;
        n -= 2;
    }
    if (n < 14)
        return std::nullopt;
    if (dir == 0 && !s.ovpn_client && (p[0] == 0x38 || p[0] == 0x50)) {
        std::memcpy(s.ovpn_sid, p + 1, 8);
        s.ovpn_client = 1;
        return std::nullopt;
    }
    if (dir == 1 && s.ovpn_client == 1 && p[0] == 0x40) {
        s.ovpn_client = 2; // one chance: the server's first packet
        uint32_t end = std::min<uint32_t>(n, 9 + 64);
        for (uint32_t i = 9; i + 8 <= end; i++)
            if (std::memcmp(p + i, s.ovpn_sid, 8) == 0)
                return result(s, NDPI_PROTOCOL_OPENVPN, 0, NDPI_PROTOCOL_CATEGORY_VPN);
    }
    return std::nullopt;
}

// Feeds what direction `dir` has coalesced as one TCP segment.
std::optional<Detection> Inspector::flush(const Module &m, Slot &s, const PacketView &p,
                                          unsigned dir, uint32_t budget) {
    if (s.len[dir] == 0)
        return std::nullopt;
    uint32_t off = p.family == 6 ? 40 : 20;
    uint8_t *th = _pkt + off;
    std::memset(th, 0, 20);
    std::memcpy(th, dir ? &p.dport : &p.sport, 2);
    std::memcpy(th + 2, dir ? &p.sport : &p.dport, 2);
    put32(th + 4, s.buf_seq[dir]);
    put32(th + 8, s.ack[dir]);
    th[12] = 5 << 4;
    th[13] = tcp_ack | tcp_psh;
    put16(th + 14, 65535);
    std::memcpy(th + 20, s.buf[dir], s.len[dir]);
    uint32_t n = 20 + s.len[dir];
    s.buf_seq[dir] += s.len[dir];
    s.len[dir] = 0;
    s.units++;
    return call(m, s, p, dir, th, n, budget);
}

std::optional<Detection> Inspector::feed(const Module &m, uint32_t handle, const PacketView &p,
                                         uint32_t budget) {
    if (handle == 0 || handle > _capacity)
        return std::nullopt;
    Slot &s = _slots[handle - 1];
    unsigned d = p.reply ? 1 : 0;
    if (p.proto != 6) {
        // UDP and the rest: each datagram is a unit of its own.
        uint32_t n = std::min<uint32_t>(p.l4_len, max_fed_payload);
        s.units++;
        return call(m, s, p, d, p.l4, n, budget);
    }
    if (p.l4_len < 20)
        return std::nullopt;
    const uint8_t *th = p.l4;
    uint32_t doff = uint32_t(th[12] >> 4) * 4;
    if (doff < 20 || doff > p.l4_len)
        return std::nullopt;
    uint8_t flags = th[13];
    uint32_t seq = be32(th + 4);
    if (flags & tcp_ack)
        s.ack[d] = be32(th + 8);
    const uint8_t *payload = th + doff;
    uint32_t plen = p.l4_len - doff;

    // The handshake goes to nDPI as it is, without options (its sequence tracking starts
    // there); later empty segments are of no use to it.
    auto header_only = [&] {
        uint8_t *h = _pkt + (p.family == 6 ? 40 : 20);
        std::memcpy(h, th, 20);
        h[12] = 5 << 4;
        return call(m, s, p, d, h, 20, budget);
    };
    if (flags & tcp_syn) {
        s.next[d] = seq + 1;
        s.buf_seq[d] = seq + 1;
        s.have[d] = 1;
        return header_only();
    }
    if (plen == 0 && !(flags & (tcp_fin | tcp_rst))) {
        if (d == 0 && !s.acked && (flags & tcp_ack)) {
            s.acked = 1;
            return header_only();
        }
        return std::nullopt;
    }
    if (plen) {
        s.bytes += plen;
        if (!s.have[d]) {
            s.next[d] = s.buf_seq[d] = seq;
            s.have[d] = 1;
        }
        if (seq_before(seq, s.next[d])) {
            // A retransmission: only what it carries beyond what was seen is new.
            uint32_t seen = s.next[d] - seq;
            if (seen >= plen)
                plen = 0;
            else {
                payload += seen;
                plen -= seen;
                seq = s.next[d];
            }
        } else if (seq != s.next[d]) {
            // A gap (a segment lost or reordered before us): what is held goes to nDPI and
            // the buffer starts again here.
            if (auto v = flush(m, s, p, d, budget))
                return v;
            s.buf_seq[d] = seq;
        }
    }
    if (plen) {
        // The other direction's turn is over: its bytes go to nDPI first.
        if (auto v = flush(m, s, p, d ^ 1, budget))
            return v;
        if (s.len[d] == 0)
            s.buf_seq[d] = seq;
        s.next[d] = seq + plen;
        while (plen) {
            uint32_t n = std::min<uint32_t>(plen, turn_bytes - s.len[d]);
            std::memcpy(s.buf[d] + s.len[d], payload, n);
            s.len[d] = uint16_t(s.len[d] + n);
            payload += n;
            plen -= n;
            if (s.len[d] == turn_bytes)
                if (auto v = flush(m, s, p, d, budget))
                    return v;
        }
    }
    if ((flags & (tcp_fin | tcp_rst)) || s.bytes >= budget * turn_bytes) {
        // The flow ends, or sends more segments than any detection needs: decide now.
        if (auto v = flush(m, s, p, d, budget))
            return v;
        if (auto v = flush(m, s, p, d ^ 1, budget))
            return v;
        return give_up(m, s);
    }
    return std::nullopt;
}

} // namespace qorgan::dpi

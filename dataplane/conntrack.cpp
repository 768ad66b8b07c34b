// SPDX-License-Identifier: GPL-2.0-or-later
// Connection tracking: the per-worker flow table on rte_hash and the TCP window
// tracker (after van Rooij's "Real Stateful TCP Packet Filtering").
#include "dataplane/conntrack.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <algorithm>
#include <cstddef>
#include <new>
#include <string>

// Concurrency: the table has one writer, the worker lcore that owns it, and is created
// without RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY*: the main lcore may read it (for_each,
// lookup) only while the worker is told to stand still, never concurrently.

namespace qorgan::dp {

namespace {

constexpr uint8_t tcp_fin = 0x01;
constexpr uint8_t tcp_syn = 0x02;
constexpr uint8_t tcp_rst = 0x04;
constexpr uint8_t tcp_ack = 0x10;

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;
constexpr uint8_t proto_icmpv6 = 58;

constexpr uint8_t max_wscale = 14;         // RFC 7323 2.3
constexpr uint32_t max_ack_window = 66000; // how far an ACK may lag behind (Rooij)
// An ACK may run one number ahead of what the tracker counted as sent, so an
// off-by-one in how a stack counts SYN/FIN never kills a session.
constexpr uint32_t ack_slack = 1;
// seen_fin values: the FIN was sent; the other side acknowledged it.
constexpr uint8_t fin_sent = 1;
constexpr uint8_t fin_acked = 2;

// Serial-number arithmetic (RFC 1982): sequence numbers wrap at 2^32.
bool seq_lt(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b) < 0;
}
bool seq_leq(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b) <= 0;
}
bool seq_gt(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b) > 0;
}
bool seq_geq(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b) >= 0;
}

uint32_t load_be32(const uint8_t *p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// What the tracker needs of one TCP segment.
struct TcpSeg {
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint32_t win = 0; // as carried, not yet scaled
    uint32_t len = 0; // payload, plus one each for SYN and FIN
    int wscale = -1;  // the window-scale option, -1 when absent
    uint8_t flags = 0;
};

// Reads the window-scale option (kind 3, length 3) from SYN options; a malformed
// option list stops the scan and counts as "no option".
int parse_wscale(const uint8_t *opt, uint32_t n) {
    uint32_t i = 0;
    while (i < n) {
        uint8_t kind = opt[i];
        if (kind == 0) // end of option list
            return -1;
        if (kind == 1) { // no-operation
            i++;
            continue;
        }
        if (i + 1 >= n)
            return -1;
        uint8_t len = opt[i + 1];
        if (len < 2 || i + len > n)
            return -1;
        if (kind == 3 && len == 3)
            return std::min<int>(opt[i + 2], max_wscale);
        i += len;
    }
    return -1;
}

// Bounds-checks the header (the parser did too, but this table trusts nobody).
bool parse_tcp(const uint8_t *l4, uint32_t l4_len, TcpSeg &s) {
    if (l4 == nullptr || l4_len < 20)
        return false;
    uint32_t doff = uint32_t(l4[12] >> 4) * 4;
    if (doff < 20 || doff > l4_len)
        return false;
    s.seq = load_be32(l4 + 4);
    s.ack = load_be32(l4 + 8);
    s.flags = l4[13];
    s.win = uint32_t(l4[14]) << 8 | l4[15];
    s.len = l4_len - doff + ((s.flags & tcp_syn) ? 1 : 0) + ((s.flags & tcp_fin) ? 1 : 0);
    s.wscale = (s.flags & tcp_syn) ? parse_wscale(l4 + 20, doff - 20) : -1;
    return true;
}

// A peer as its SYN (or SYN+ACK) describes it. SYN windows are never scaled.
TcpPeer peer_from_syn(const TcpSeg &s) {
    TcpPeer p;
    p.end = s.seq + s.len;
    p.maxend = p.end;
    p.maxwin = std::max<uint32_t>(s.win, 1);
    if (s.wscale >= 0) {
        p.wscale = static_cast<uint8_t>(s.wscale);
        p.wscale_ok = 1;
    }
    p.seen_syn = 1;
    return p;
}

uint32_t scaled_window(const TcpSeg &s, const TcpPeer &sender) {
    return (s.flags & tcp_syn) ? s.win : s.win << sender.wscale;
}

// Rooij's three checks for a segment from `snd` to `rcv`. Only segments that carry
// ACK get here (a bare SYN or RST takes its own path).
bool in_window(const TcpPeer &snd, const TcpPeer &rcv, const TcpSeg &s) {
    uint32_t end = s.seq + s.len;
    if (seq_gt(end, snd.maxend)) // beyond what the receiver allowed
        return false;
    if (seq_lt(s.seq, snd.end - rcv.maxwin)) // older than any window could hold
        return false;
    if (seq_gt(s.ack, rcv.end + ack_slack)) // acknowledges data never sent
        return false;
    return !seq_lt(s.ack, rcv.end - (max_ack_window << snd.wscale));
}

// Records an accepted segment. The receiver may send up to ack + window; a zero
// window still admits the one-byte probe (RFC 9293 3.8.6.1).
void advance(TcpPeer &snd, TcpPeer &rcv, const TcpSeg &s) {
    uint32_t end = s.seq + s.len;
    uint32_t win = scaled_window(s, snd);
    if (seq_gt(end, snd.end))
        snd.end = end;
    snd.maxwin = std::max(snd.maxwin, win);
    uint32_t allowed = s.ack + std::max<uint32_t>(win, 1);
    if (seq_gt(allowed, rcv.maxend))
        rcv.maxend = allowed;
    if (rcv.seen_fin == fin_sent && seq_geq(s.ack, rcv.fin_seq))
        rcv.seen_fin = fin_acked;
    if ((s.flags & tcp_fin) && !snd.seen_fin) {
        snd.seen_fin = fin_sent;
        snd.fin_seq = end;
    }
}

bool is_tcp_closing_phase(FlowState s) {
    return s == FlowState::tcp_established || s == FlowState::tcp_fin_wait ||
           s == FlowState::tcp_closing;
}

FlowState initial_state(uint8_t proto) {
    switch (proto) {
    case proto_tcp:
        return FlowState::tcp_syn_sent;
    case proto_udp:
        return FlowState::udp_new;
    case proto_icmp:
    case proto_icmpv6:
        return FlowState::icmp;
    default:
        return FlowState::other;
    }
}

uintptr_t hash_data(uint32_t index, Dir dir) {
    return uintptr_t(index) << 1 | static_cast<uintptr_t>(dir);
}

} // namespace

const char *flow_state_name(FlowState s) {
    switch (s) {
    case FlowState::tcp_syn_sent:
        return "tcp_syn_sent";
    case FlowState::tcp_syn_received:
        return "tcp_syn_received";
    case FlowState::tcp_established:
        return "tcp_established";
    case FlowState::tcp_fin_wait:
        return "tcp_fin_wait";
    case FlowState::tcp_closing:
        return "tcp_closing";
    case FlowState::tcp_time_wait:
        return "tcp_time_wait";
    case FlowState::tcp_closed:
        return "tcp_closed";
    case FlowState::udp_new:
        return "udp_new";
    case FlowState::udp_stream:
        return "udp_stream";
    case FlowState::icmp:
        return "icmp";
    case FlowState::other:
        return "other";
    }
    return "unknown";
}

Result<std::unique_ptr<FlowTable>> FlowTable::create(const char *name, uint32_t max_flows,
                                                     int socket_id,
                                                     const config::Timeouts &timeouts) {
    if (name == nullptr || name[0] == '\0')
        return Error{{}, "flow table: a name is required"};
    std::string what = std::string("flow table ") + name + ": ";
    // Two hash entries per flow must fit rte_hash's limit.
    if (max_flows == 0 || max_flows > RTE_HASH_ENTRIES_MAX / 2)
        return Error{{}, what + "max_flows must be 1.." + std::to_string(RTE_HASH_ENTRIES_MAX / 2)};

    std::unique_ptr<FlowTable> t(new FlowTable());
    t->_max_flows = max_flows;
    t->_timeouts = timeouts;

    // The flows and the free-index stack share one allocation.
    size_t bytes = size_t(max_flows) * (sizeof(Flow) + sizeof(uint32_t));
    void *mem = rte_zmalloc_socket(name, bytes, RTE_CACHE_LINE_SIZE, socket_id);
    if (mem == nullptr)
        return Error{{}, what + "cannot allocate " + std::to_string(bytes) + " bytes"};
    t->_flows = static_cast<Flow *>(mem);
    t->_free = reinterpret_cast<uint32_t *>(t->_flows + max_flows);
    for (uint32_t i = 0; i < max_flows; i++) {
        new (&t->_flows[i]) Flow();
        t->_free[i] = max_flows - 1 - i; // pop hands out index 0 first
    }
    t->_free_top = max_flows;

    rte_hash_parameters p{};
    p.name = name;
    // Rte_hash needs at least one bucket; the extendable table lets every key fit
    // however they collide, so admission is bounded by max_flows alone.
    p.entries = std::max<uint32_t>(2 * max_flows, 8);
    p.key_len = sizeof(FlowKey);
    p.hash_func = rte_hash_crc;
    p.hash_func_init_val = 0;
    p.socket_id = socket_id;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    t->_hash = rte_hash_create(&p);
    if (t->_hash == nullptr)
        return Error{{}, what + "cannot create hash: " + rte_strerror(rte_errno)};
    return t;
}

FlowTable::~FlowTable() {
    rte_hash_free(_hash);
    rte_free(_flows);
}

void FlowTable::lookup_bulk(const FlowKey *const *keys, unsigned n, Flow **flows, Dir *dirs) const {
    // Chunks keep the call within RTE_HASH_LOOKUP_BULK_MAX whatever n is.
    for (unsigned base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
        unsigned m = std::min<unsigned>(n - base, RTE_HASH_LOOKUP_BULK_MAX);
        uint64_t hits = 0;
        void *data[RTE_HASH_LOOKUP_BULK_MAX];
        rte_hash_lookup_bulk_data(
            _hash, reinterpret_cast<const void **>(const_cast<const FlowKey **>(keys + base)), m,
            &hits, data);
        for (unsigned i = 0; i < m; i++) {
            if (hits & (uint64_t(1) << i)) {
                auto v = reinterpret_cast<uintptr_t>(data[i]);
                flows[base + i] = &_flows[v >> 1];
                dirs[base + i] = static_cast<Dir>(v & 1);
            } else {
                flows[base + i] = nullptr;
                dirs[base + i] = Dir::forward;
            }
        }
    }
}

Flow *FlowTable::lookup(const FlowKey &key, Dir *dir) const {
    void *data = nullptr;
    if (rte_hash_lookup_data(_hash, &key, &data) < 0)
        return nullptr;
    auto v = reinterpret_cast<uintptr_t>(data);
    if (dir != nullptr)
        *dir = static_cast<Dir>(v & 1);
    return &_flows[v >> 1];
}

Flow *FlowTable::create(const PacketMeta &meta, const uint8_t *l4, uint32_t l4_len,
                        uint64_t now_ms) {
    return create(meta, flow_key_of(meta).reversed(), l4, l4_len, now_ms);
}

bool FlowTable::contains(const FlowKey &key) const {
    return rte_hash_lookup(_hash, &key) >= 0;
}

Flow *FlowTable::create(const PacketMeta &meta, const FlowKey &reply, const uint8_t *l4,
                        uint32_t l4_len, uint64_t now_ms) {
    TcpSeg seg;
    if (meta.proto == proto_tcp) {
        // Only a clean SYN opens a TCP session.
        if (!parse_tcp(l4, l4_len, seg))
            return nullptr;
        if ((seg.flags & (tcp_syn | tcp_ack | tcp_rst | tcp_fin)) != tcp_syn)
            return nullptr;
    }
    if (_free_top == 0) {
        _stats.refused_full.add();
        return nullptr;
    }
    FlowKey fwd = flow_key_of(meta);
    FlowKey rev = reply;
    // A packet to itself (same address and port) would need one key for both
    // directions: refuse it. rte_hash_add_key_data would overwrite an existing key,
    // so presence is checked first.
    if (fwd == rev || rte_hash_lookup(_hash, &fwd) >= 0 || rte_hash_lookup(_hash, &rev) >= 0)
        return nullptr;

    uint32_t idx = _free[_free_top - 1];
    auto *d0 = reinterpret_cast<void *>(hash_data(idx, Dir::forward));
    auto *d1 = reinterpret_cast<void *>(hash_data(idx, Dir::reply));
    if (rte_hash_add_key_data(_hash, &fwd, d0) < 0)
        return nullptr;
    if (rte_hash_add_key_data(_hash, &rev, d1) < 0) {
        rte_hash_del_key(_hash, &fwd);
        return nullptr;
    }
    _free_top--;

    Flow &f = _flows[idx];
    f = Flow{};
    f.key[0] = fwd;
    f.key[1] = rev;
    f.state = initial_state(meta.proto);
    if (meta.proto == proto_tcp)
        f.tcp[0] = peer_from_syn(seg);
    f.packets[0] = 1;
    f.bytes[0] = meta.l3_end > meta.l3_offset ? meta.l3_end - meta.l3_offset : 0;
    f.created_ms = now_ms;
    f.last_seen_ms = now_ms;
    f.in_port = meta.in_port;
    f.in_use = 1;
    _stats.created.add();
    _stats.active.add();
    return &f;
}

namespace {

// The TCP state machine for one segment of a known flow. Works on copies of the
// peers so that a refused segment changes nothing.
Track track_tcp(Flow &flow, Dir dir, const uint8_t *l4, uint32_t l4_len) {
    TcpSeg s;
    if (!parse_tcp(l4, l4_len, s))
        return Track::invalid;
    uint8_t fl = s.flags;
    if ((fl & tcp_syn) && (fl & (tcp_fin | tcp_rst)))
        return Track::invalid;
    // Only a SYN or a RST may come without ACK (this covers NULL, bare FIN, ...).
    if (!(fl & (tcp_ack | tcp_syn | tcp_rst)))
        return Track::invalid;
    if ((fl & tcp_rst) && (fl & tcp_fin))
        return Track::invalid;

    int si = static_cast<int>(dir);
    TcpPeer snd = flow.tcp[si];
    TcpPeer rcv = flow.tcp[1 - si];
    FlowState st = flow.state;

    if ((fl & tcp_syn) && !(fl & tcp_ack)) {
        // Simultaneous open is not supported: only the originator sends a bare SYN.
        if (dir != Dir::forward)
            return Track::invalid;
        if (st == FlowState::tcp_syn_sent || st == FlowState::tcp_syn_received) {
            // A retransmission carries the same ISN, so it ends where the first did.
            return s.seq + s.len == snd.end ? Track::ok : Track::out_of_window;
        }
        if ((st == FlowState::tcp_time_wait || st == FlowState::tcp_closed) &&
            seq_gt(s.seq, snd.end)) {
            // Port reuse (RFC 6191 spirit): a new ISN past the old end starts over.
            flow.tcp[0] = peer_from_syn(s);
            flow.tcp[1] = TcpPeer{};
            flow.state = FlowState::tcp_syn_sent;
            return Track::ok;
        }
        return Track::out_of_window;
    }

    if (fl & tcp_syn) { // SYN+ACK
        if (dir != Dir::reply)
            return Track::invalid;
        if (st == FlowState::tcp_syn_sent) {
            snd = peer_from_syn(s);
            // Until the originator ACKs, the responder may send one window's worth.
            snd.maxend = snd.end + std::max<uint32_t>(rcv.maxwin, 1);
            if (!(snd.wscale_ok && rcv.wscale_ok)) { // scaling needs both SYNs
                snd.wscale = 0;
                rcv.wscale = 0;
            }
        }
        if (!in_window(snd, rcv, s))
            return Track::out_of_window;
        advance(snd, rcv, s);
        if (st == FlowState::tcp_syn_sent)
            flow.state = FlowState::tcp_syn_received;
        flow.tcp[si] = snd;
        flow.tcp[1 - si] = rcv;
        return Track::ok;
    }

    if (fl & tcp_rst) {
        bool ok;
        if (!snd.seen_syn) // the responder refusing the SYN must acknowledge it
            ok = (fl & tcp_ack) && s.ack == rcv.end;
        else // RFC 5961 3.2: the sequence number must fall in the receive window
            ok = seq_geq(s.seq, snd.end - rcv.maxwin) && seq_leq(s.seq, snd.maxend);
        if (!ok)
            return Track::out_of_window;
        flow.state = FlowState::tcp_closed;
        return Track::ok;
    }

    // A plain segment (ACK, data, FIN) needs both sides' SYNs to be judged.
    if (st == FlowState::tcp_syn_sent || !snd.seen_syn)
        return Track::out_of_window;
    if (snd.seen_fin && seq_gt(s.seq + s.len, snd.fin_seq)) // nothing after a FIN
        return Track::out_of_window;
    if (!in_window(snd, rcv, s))
        return Track::out_of_window;
    advance(snd, rcv, s);
    flow.tcp[si] = snd;
    flow.tcp[1 - si] = rcv;

    if (st == FlowState::tcp_syn_received && dir == Dir::forward && seq_geq(s.ack, flow.tcp[1].end))
        flow.state = FlowState::tcp_established;
    if (is_tcp_closing_phase(flow.state)) {
        uint8_t f0 = flow.tcp[0].seen_fin, f1 = flow.tcp[1].seen_fin;
        if (f0 == fin_acked && f1 == fin_acked)
            flow.state = FlowState::tcp_time_wait;
        else if (f0 && f1)
            flow.state = FlowState::tcp_closing;
        else if (f0 || f1)
            flow.state = FlowState::tcp_fin_wait;
    }
    return Track::ok;
}

} // namespace

Track FlowTable::track(Flow &flow, Dir dir, const PacketMeta &meta, const uint8_t *l4,
                       uint32_t l4_len, uint32_t ip_bytes, uint64_t now_ms) {
    (void)meta; // the flow's own key says what protocol it is
    uint8_t proto = flow.key[0].proto;
    if (proto == proto_tcp) {
        Track t = track_tcp(flow, dir, l4, l4_len);
        // A refused packet must not keep a session alive.
        if (t != Track::ok)
            return t;
    } else if (proto == proto_udp && dir == Dir::reply) {
        flow.state = FlowState::udp_stream;
    }
    int d = static_cast<int>(dir);
    flow.packets[d]++;
    flow.bytes[d] += ip_bytes;
    flow.last_seen_ms = now_ms;
    return Track::ok;
}

void FlowTable::release(Flow &flow) {
    if (_hook)
        _hook(_hook_ctx, flow);
    rte_hash_del_key(_hash, &flow.key[0]);
    rte_hash_del_key(_hash, &flow.key[1]);
    flow.in_use = 0;
    _free[_free_top++] = static_cast<uint32_t>(&flow - _flows);
    _stats.active.sub();
}

void FlowTable::remove(Flow &flow) {
    if (!flow.in_use)
        return;
    release(flow);
    _stats.removed.add();
}

unsigned FlowTable::expire(uint64_t now_ms, unsigned budget) {
    unsigned n = std::min(budget, _max_flows);
    unsigned expired = 0;
    for (unsigned i = 0; i < n; i++) {
        Flow &f = _flows[_sweep_pos];
        _sweep_pos = _sweep_pos + 1 == _max_flows ? 0 : _sweep_pos + 1;
        if (!f.in_use || now_ms < f.last_seen_ms)
            continue;
        if (now_ms - f.last_seen_ms > uint64_t(timeout_of(f.state)) * 1000) {
            release(f);
            expired++;
        }
    }
    _stats.expired.add(expired);
    return expired;
}

uint32_t FlowTable::timeout_of(FlowState s) const {
    switch (s) {
    case FlowState::tcp_syn_sent:
    case FlowState::tcp_syn_received:
        return _timeouts.tcp_syn;
    case FlowState::tcp_established:
        return _timeouts.tcp_established;
    case FlowState::tcp_fin_wait:
    case FlowState::tcp_closing:
        return _timeouts.tcp_closing;
    case FlowState::tcp_time_wait:
    case FlowState::tcp_closed:
        return _timeouts.tcp_closed;
    case FlowState::udp_new:
        return _timeouts.udp;
    case FlowState::udp_stream:
        return _timeouts.udp_stream;
    case FlowState::icmp:
        return _timeouts.icmp;
    case FlowState::other:
        return _timeouts.other;
    }
    return _timeouts.other;
}

} // namespace qorgan::dp

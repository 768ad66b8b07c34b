// SPDX-License-Identifier: GPL-2.0-or-later
// Reassembly: rte_ip_frag does the holding and chaining, the side table here decides
// what it is given.
//
// What rte_ip_frag (lib/ip_frag, DPDK 22.11) does with bad fragment sets, and why the
// side table exists: ip_frag_process() adds each fragment's length to frag_size and
// reassembles once frag_size == total_size; a repeated first or last fragment, or more
// than RTE_LIBRTE_IP_FRAG_MAX_FRAG fragments, frees the whole datagram. Overlaps are not
// looked for: they show only as frag_size passing total_size, or as a hole when
// ipv4/ipv6_frag_reassemble() chains fragments by exact offset, and then the datagram is
// freed silently, after the attacker has held its slots as long as it liked, with a
// NULL return that looks like "need more". It does not check the 65535 limit (22.11),
// and for IPv6 it assumes the Fragment header directly follows the fixed header.
//
// Refusing a whole datagram: rte_ip_frag has no call that deletes one entry. Its own
// error paths could be triggered with a forged duplicate, but that relies on internals.
// Instead the datagram's record is marked refused: it is given nothing more (so it can
// never complete), every later fragment of it is dropped with the same reason, and its
// held fragments are freed when it expires, by rte_ip_frag_table_del_expired_entries().
// Memory is no worse than an incomplete datagram, which any sender can leave behind.
//
// The side table mirrors rte_ip_frag's entries: same key, same start time (the tsc given
// with the fragment that creates the entry), same expiry test (start + timeout < tsc),
// and admission here is checked before rte_ip_frag sees the fragment.
#include "dataplane/reasm.h"

#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"

#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

namespace qorgan::dp {

namespace {

constexpr uint32_t none = UINT32_MAX;
// rte_ip_frag gives the first and the last fragment a slot each; the others share the rest.
constexpr uint32_t max_middles = Reassembler::max_fragments - 2;
constexpr uint32_t ipv4_max_len = 0xffff;
constexpr uint32_t ipv6_hdr_len = 40;
constexpr uint32_t ipv6_frag_hdr_len = 8;
constexpr uint8_t ipv6_next_fragment = 44;
// rte_ip_frag's hash: two buckets of this many entries are probed per lookup.
constexpr uint32_t rte_bucket_entries = 4;

uint16_t rd16(const uint8_t *p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

void wr16(uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

// What reassembly needs from one parsed fragment.
struct Fragment {
    uint32_t start = 0; // byte offset in the fragmentable part
    uint32_t end = 0;
    bool more = false;
    uint16_t l2_len = 0;
    uint16_t l3_len = 0; // IPv4 header with options; IPv6 fixed + Fragment header
    uint16_t l3_end = 0; // end of the IP packet in the frame (Ethernet padding after it)
    uint8_t *ip = nullptr;
};

// False when m is not a fragment rte_ip_frag can take: not IP, meta inconsistent with
// the mbuf, or (IPv6) the Fragment header not directly after the fixed header, which
// rte_ip_frag cannot reassemble correctly (it patches the fixed header's next header).
template <typename Key>
bool read_fragment(rte_mbuf *m, const PacketMeta &meta, Fragment &f, Key &key) {
    if ((meta.flags & meta_fragment) == 0 || meta.l4_offset > meta.l3_end ||
        meta.l3_end > rte_pktmbuf_data_len(m) || meta.l3_offset > meta.l4_offset) {
        return false;
    }
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    f.ip = frame + meta.l3_offset;
    f.l2_len = meta.l3_offset;
    f.l3_end = meta.l3_end;
    std::memset(&key, 0, sizeof(key));
    if (meta.l3 == L3Kind::ipv4) {
        const uint16_t field = rd16(f.ip + 6);
        f.start = (field & 0x1fffu) * 8u;
        f.more = (field & 0x2000) != 0;
        f.l3_len = static_cast<uint16_t>(meta.l4_offset - meta.l3_offset);
        f.end = f.start + (meta.l3_end - meta.l4_offset);
        key.family = 4;
        key.proto = f.ip[9];
        std::memcpy(&key.id, f.ip + 4, 2);
        key.src[0] = meta.src[0];
        key.dst[0] = meta.dst[0];
        return true;
    }
    if (meta.l3 != L3Kind::ipv6 || f.ip[6] != ipv6_next_fragment ||
        meta.l3_offset + ipv6_hdr_len + ipv6_frag_hdr_len > meta.l3_end) {
        return false;
    }
    const uint8_t *fh = f.ip + ipv6_hdr_len;
    f.start = rd16(fh + 2) & 0xfff8u;
    f.more = (fh[3] & 1) != 0;
    f.l3_len = ipv6_hdr_len + ipv6_frag_hdr_len;
    f.end = f.start + (meta.l3_end - meta.l3_offset - f.l3_len);
    key.family = 6;
    std::memcpy(&key.id, fh + 4, 4);
    std::memcpy(key.src, meta.src, 16);
    std::memcpy(key.dst, meta.dst, 16);
    return true;
}

// Removes the IPv6 Fragment header directly after the fixed header, in place, as
// rte_ip_frag does for a reassembled datagram.
void strip_ipv6_fragment_header(rte_mbuf *m, uint16_t l2_len) {
    uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
    uint8_t *ip = p + l2_len;
    ip[6] = ip[ipv6_hdr_len]; // the Fragment header's next header
    wr16(ip + 4, static_cast<uint16_t>(rd16(ip + 4) - ipv6_frag_hdr_len));
    std::memmove(p + ipv6_frag_hdr_len, p, l2_len + ipv6_hdr_len);
    rte_pktmbuf_adj(m, ipv6_frag_hdr_len);
}

} // namespace

Result<std::unique_ptr<Reassembler>>
Reassembler::create(uint32_t max_datagrams, uint32_t timeout_ms, uint64_t tsc_hz, int socket_id) {
    if (max_datagrams == 0 || max_datagrams > (1u << 24) || timeout_ms == 0 || tsc_hz == 0) {
        return Error{{}, "reassembly: max datagrams must be 1..16777216 and timeout > 0"};
    }
    std::unique_ptr<Reassembler> r(new Reassembler());
    r->_timeout = tsc_hz / 1000 * timeout_ms + tsc_hz % 1000 * timeout_ms / 1000;
    r->_max = max_datagrams;
    // rte_ip_frag: max_datagrams buckets of 4, probed in two places, so 8 times the
    // entries it may hold; a lookup that finds all 8 taken refuses (counted, table_full).
    r->_tbl = rte_ip_frag_table_create(max_datagrams, rte_bucket_entries, max_datagrams,
                                       r->_timeout, socket_id);
    if (r->_tbl == nullptr) {
        return Error{{},
                     "reassembly: cannot create the fragment table for " +
                         std::to_string(max_datagrams) + " datagrams"};
    }
    r->_seed = static_cast<uint32_t>(rte_rand());
    r->_pool.resize(max_datagrams);
    r->_free.reserve(max_datagrams);
    for (uint32_t i = max_datagrams; i-- > 0;) {
        r->_free.push_back(i);
    }
    uint32_t slots = 1;
    while (slots < 2 * max_datagrams) {
        slots <<= 1;
    }
    r->_index.assign(slots, none);
    r->_mask = slots - 1;
    r->_lru_head = r->_lru_tail = none;
    return r;
}

Reassembler::~Reassembler() {
    if (_tbl == nullptr) {
        return;
    }
    // Everything is expired at the end of time; freed through the death row, which does
    // not depend on what rte_ip_frag_table_destroy() frees in this DPDK version.
    for (;;) {
        rte_ip_frag_table_del_expired_entries(_tbl, &_dr, UINT64_MAX);
        if (_dr.cnt == 0) {
            break;
        }
        rte_ip_frag_free_death_row(&_dr, 0);
    }
    rte_ip_frag_table_destroy(_tbl);
}

void Reassembler::lru_unlink(uint32_t i) {
    Datagram &d = _pool[i];
    if (d.prev != none) {
        _pool[d.prev].next = d.next;
    } else {
        _lru_head = d.next;
    }
    if (d.next != none) {
        _pool[d.next].prev = d.prev;
    } else {
        _lru_tail = d.prev;
    }
}

void Reassembler::lru_push(uint32_t i) {
    Datagram &d = _pool[i];
    d.prev = _lru_tail;
    d.next = none;
    if (_lru_tail != none) {
        _pool[_lru_tail].next = i;
    } else {
        _lru_head = i;
    }
    _lru_tail = i;
}

Reassembler::Datagram *Reassembler::find(const Key &key, uint32_t hash, uint64_t tsc) {
    for (uint32_t s = hash & _mask; _index[s] != none; s = (s + 1) & _mask) {
        Datagram &d = _pool[_index[s]];
        // Up to the protocol: rte_ip_frag (22.11) keys IPv4 by (src, dst, id) alone, and
        // a side record must match its entry. The protocol is the datagram's, see add().
        if (d.hash != hash || std::memcmp(&d.key, &key, offsetof(Key, proto)) != 0) {
            continue;
        }
        if (expired(d, tsc)) {
            // rte_ip_frag reuses its entry the same way: frees the old fragments, restarts.
            count_expiry(d);
            const uint32_t i = _index[s];
            lru_unlink(i); // before the reset below: it reads d.prev and d.next
            d = Datagram{};
            d.key = key;
            d.hash = hash;
            d.start = tsc;
            lru_push(i);
        }
        return &d;
    }
    return nullptr;
}

Reassembler::Datagram *Reassembler::insert(const Key &key, uint32_t hash, uint64_t tsc) {
    const uint32_t i = _free.back();
    _free.pop_back();
    Datagram &d = _pool[i];
    d = Datagram{};
    d.key = key;
    d.hash = hash;
    d.start = tsc;
    uint32_t s = hash & _mask;
    while (_index[s] != none) {
        s = (s + 1) & _mask;
    }
    _index[s] = i;
    lru_push(i);
    ++_count;
    return &d;
}

void Reassembler::remove(Datagram &d) {
    const uint32_t i = static_cast<uint32_t>(&d - _pool.data());
    uint32_t s = d.hash & _mask;
    while (_index[s] != i) {
        s = (s + 1) & _mask;
    }
    // Backward-shift deletion: pull later entries of the probe run into the hole when
    // their home slot allows it, so lookups never stop early.
    for (uint32_t j = s;;) {
        j = (j + 1) & _mask;
        if (_index[j] == none) {
            break;
        }
        const uint32_t home = _pool[_index[j]].hash & _mask;
        const bool stays = s <= j ? (home > s && home <= j) : (home > s || home <= j);
        if (!stays) {
            _index[s] = _index[j];
            s = j;
        }
    }
    _index[s] = none;
    lru_unlink(i);
    _free.push_back(i);
    --_count;
}

void Reassembler::count_expiry(const Datagram &d) {
    if (d.refused) {
        _stats.discarded_fragments.add(d.held);
    } else {
        _stats.timeout.add();
        _stats.timeout_fragments.add(d.held);
    }
}

void Reassembler::reap(uint64_t tsc) {
    // del_expired stops when the death row has no room for the next entry: free and retry.
    for (;;) {
        rte_ip_frag_table_del_expired_entries(_tbl, &_dr, tsc);
        if (_dr.cnt == 0) {
            break;
        }
        rte_ip_frag_free_death_row(&_dr, 0);
    }
    while (_lru_head != none && expired(_pool[_lru_head], tsc)) {
        count_expiry(_pool[_lru_head]);
        remove(_pool[_lru_head]);
    }
}

void Reassembler::expire(uint64_t tsc) {
    reap(tsc);
}

// RFC 5722 for both families: any overlap refuses the datagram. An exact repeat of a
// held fragment (a duplicate the network made) is dropped alone, as RFC 5722 section 4
// allows: the first copy wins, and since the datagram leaves here reassembled, nobody
// downstream sees a different choice.
// hdr: this fragment's IPv4 header length (0 for IPv6). The IPv4 limit counts the first
// fragment's header, which the reassembled datagram keeps.
Reassembler::Verdict Reassembler::check(const Datagram &d, uint32_t start, uint32_t end, bool more,
                                        uint32_t hdr) const {
    for (uint32_t i = 0; i < d.nranges; ++i) {
        const Range &r = d.ranges[i];
        if (r.start == start && r.end == end) {
            const bool r_is_last = d.have_last && r.end == d.total;
            return r_is_last == !more ? Verdict::duplicate : Verdict::malformed;
        }
        if (start < r.end && r.start < end) {
            return Verdict::overlap;
        }
    }
    if (!more) {
        if (d.have_last) {
            return Verdict::malformed; // a second, different end
        }
        for (uint32_t i = 0; i < d.nranges; ++i) {
            if (d.ranges[i].end > end) {
                return Verdict::malformed; // data held beyond the end
            }
        }
    } else if (d.have_last && end > d.total) {
        return Verdict::malformed;
    }
    if (hdr != 0) {
        if (start != 0 && d.first_hdr != 0 && end + d.first_hdr > ipv4_max_len) {
            return Verdict::too_big;
        }
        for (uint32_t i = 0; start == 0 && i < d.nranges; ++i) {
            if (d.ranges[i].end + hdr > ipv4_max_len) {
                return Verdict::too_big;
            }
        }
    }
    if (more && start != 0 && d.middles == max_middles) {
        return Verdict::too_many;
    }
    return Verdict::accept;
}

// The counter of a fragment refused because its datagram was, by the datagram's reason.
Counter &Reassembler::refused_counter(DropReason reason) {
    switch (reason) {
    case DropReason::frag_overlap:
        return _stats.overlap;
    case DropReason::frag_table_full:
        return _stats.too_many;
    case DropReason::frag_too_big:
        return _stats.too_big;
    default:
        return _stats.malformed;
    }
}

rte_mbuf *Reassembler::refuse(rte_mbuf *m, DropReason reason, Counter &counter,
                              std::optional<DropReason> &why) {
    counter.add();
    why = reason;
    rte_pktmbuf_free(m);
    return nullptr;
}

rte_mbuf *Reassembler::add(rte_mbuf *m, uint64_t tsc, std::optional<DropReason> &why) {
    why.reset();
    Fragment f;
    Key key;
    if (!read_fragment(m, priv_of(m)->meta, f, key)) {
        return refuse(m, DropReason::frag_malformed, _stats.malformed, why);
    }
    if (f.end == f.start || (f.more && (f.end - f.start) % 8 != 0)) {
        return refuse(m, DropReason::frag_malformed, _stats.malformed, why);
    }
    // IPv4: the reassembled datagram, header included, within 65535 (RFC 791); IPv6: the
    // reassembled payload (RFC 8200 4.5; nothing precedes the Fragment header here).
    // check() redoes the IPv4 test with the first fragment's header once it is known.
    const uint32_t hdr = key.family == 4 ? f.l3_len : 0u;
    if (f.end + hdr > ipv4_max_len) {
        return refuse(m, DropReason::frag_too_big, _stats.too_big, why);
    }
    if (f.start == 0 && !f.more) {
        if (key.family == 4) { // not a fragment: parse_frame would not have said so
            return refuse(m, DropReason::frag_malformed, _stats.malformed, why);
        }
        // IPv6 atomic fragment (RFC 6946): a whole datagram, kept apart from the table.
        if (rte_pktmbuf_pkt_len(m) > f.l3_end) {
            rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - f.l3_end));
        }
        strip_ipv6_fragment_header(m, f.l2_len);
        m->l2_len = f.l2_len;
        m->l3_len = ipv6_hdr_len;
        _stats.atomic.add();
        return m;
    }

    const uint32_t hash = rte_hash_crc(&key, offsetof(Key, proto), _seed);
    Datagram *d = find(key, hash, tsc);
    const bool fresh = d == nullptr;
    if (fresh) {
        if (_count == _max) {
            reap(tsc);
        }
        if (_count == _max) {
            return refuse(m, DropReason::frag_table_full, _stats.table_full, why);
        }
        d = insert(key, hash, tsc);
    }
    if (d->refused) {
        return refuse(m, *d->refused, refused_counter(*d->refused), why);
    }
    if (d->key.proto != key.proto) {
        // IPv4, same (src, dst, id), another protocol: RFC 791 makes it another datagram,
        // but rte_ip_frag would add it to this one. The datagram in flight keeps the key.
        return refuse(m, DropReason::frag_malformed, _stats.malformed, why);
    }
    switch (check(*d, f.start, f.end, f.more, hdr)) {
    case Verdict::accept:
        break;
    case Verdict::duplicate:
        return refuse(m, DropReason::frag_overlap, _stats.duplicate, why);
    case Verdict::overlap:
        d->refused = DropReason::frag_overlap;
        return refuse(m, DropReason::frag_overlap, _stats.overlap, why);
    case Verdict::malformed:
        d->refused = DropReason::frag_malformed;
        return refuse(m, DropReason::frag_malformed, _stats.malformed, why);
    case Verdict::too_many:
        d->refused = DropReason::frag_table_full;
        return refuse(m, DropReason::frag_table_full, _stats.too_many, why);
    case Verdict::too_big:
        d->refused = DropReason::frag_too_big;
        return refuse(m, DropReason::frag_too_big, _stats.too_big, why);
    }

    d->ranges[d->nranges++] = Range{static_cast<uint16_t>(f.start), static_cast<uint16_t>(f.end)};
    if (!f.more) {
        d->have_last = true;
        d->total = static_cast<uint16_t>(f.end);
    } else if (f.start != 0) {
        ++d->middles;
    }
    if (f.start == 0) {
        d->first_hdr = static_cast<uint16_t>(hdr);
    }
    m->l2_len = f.l2_len;
    m->l3_len = f.l3_len;
    const uint32_t dr_before = _dr.cnt;
    rte_mbuf *out = key.family == 4
                        ? rte_ipv4_frag_reassemble_packet(_tbl, &_dr, m, tsc,
                                                          reinterpret_cast<rte_ipv4_hdr *>(f.ip))
                        : rte_ipv6_frag_reassemble_packet(
                              _tbl, &_dr, m, tsc, reinterpret_cast<rte_ipv6_hdr *>(f.ip),
                              reinterpret_cast<rte_ipv6_fragment_ext *>(f.ip + ipv6_hdr_len));
    // A fragment rte_ip_frag would not keep lands on the death row: no room in its
    // hash buckets for a new datagram, or one of its own checks.
    const bool dropped = std::find(_dr.row + dr_before, _dr.row + _dr.cnt, m) != _dr.row + _dr.cnt;
    rte_ip_frag_free_death_row(&_dr, 0);
    if (out != nullptr) {
        _stats.fragments.add();
        _stats.reassembled.add();
        remove(*d);
        return out;
    }
    if (dropped) {
        why = fresh ? DropReason::frag_table_full : DropReason::frag_malformed;
        (fresh ? _stats.table_full : _stats.malformed).add();
        if (fresh) {
            remove(*d);
        } else {
            // Its own error paths free the whole datagram: nothing is held any more.
            d->refused = DropReason::frag_malformed;
            d->held = 0;
        }
        return nullptr;
    }
    _stats.fragments.add();
    ++d->held;
    return nullptr;
}

rte_mbuf *reasm_linearize(rte_mbuf *chain, rte_mempool *pool) {
    const uint32_t len = rte_pktmbuf_pkt_len(chain);
    rte_mbuf *m = chain;
    if (chain->nb_segs > 1) {
        const uint32_t room = rte_pktmbuf_data_room_size(pool);
        if (room < RTE_PKTMBUF_HEADROOM || len > room - RTE_PKTMBUF_HEADROOM) {
            return nullptr;
        }
        m = rte_pktmbuf_alloc(pool);
        if (m == nullptr) {
            return nullptr;
        }
        auto *dst = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, static_cast<uint16_t>(len)));
        if (dst == nullptr) {
            rte_pktmbuf_free(m);
            return nullptr;
        }
        const void *src = rte_pktmbuf_read(chain, 0, len, dst);
        if (src != dst) {
            std::memcpy(dst, src, len);
        }
        const uint16_t priv =
            std::min(rte_pktmbuf_priv_size(pool), rte_pktmbuf_priv_size(chain->pool));
        std::memcpy(rte_mbuf_to_priv(m), rte_mbuf_to_priv(chain), priv);
        m->port = chain->port;
        m->l2_len = chain->l2_len;
        m->l3_len = chain->l3_len;
        rte_pktmbuf_free(chain);
    }
    // rte_ip_frag sets the IPv4 total length and fragment field but leaves the checksum
    // 0, and sets the IPv6 payload length; all are (re)written here from the length.
    const uint32_t l2 = m->l2_len;
    uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *) + l2;
    if (len >= l2 + 20 && (ip[0] >> 4) == 4) {
        const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
        if (ihl >= 20 && len >= l2 + ihl) {
            wr16(ip + 2, static_cast<uint16_t>(len - l2));
            ip[6] &= 0x40; // DF stays; MF and the offset go
            ip[7] = 0;
            ip[10] = 0;
            ip[11] = 0;
            const uint16_t sum = csum_fold(csum_partial(ip, ihl, 0));
            std::memcpy(ip + 10, &sum, 2);
        }
    } else if (len >= l2 + ipv6_hdr_len && (ip[0] >> 4) == 6) {
        wr16(ip + 4, static_cast<uint16_t>(len - l2 - ipv6_hdr_len));
    }
    return m;
}

} // namespace qorgan::dp

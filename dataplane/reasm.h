// SPDX-License-Identifier: GPL-2.0-or-later
// IPv4/IPv6 fragment reassembly owned by one worker. DPDK's rte_ip_frag table holds and
// chains the fragments; a side table of the byte ranges received per datagram adds what
// rte_ip_frag does not check: overlaps (RFC 5722; RFC 1858 for IPv4), fragments ending
// past 65535, an inconsistent last fragment, and a counter for every outcome.
// Bounded: max_datagrams in flight, max_fragments per datagram, timeout_ms each.
#pragma once

#include "common/result.h"
#include "dataplane/counters.h"
#include "dataplane/drop_reason.h"

#include <rte_ip_frag.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

struct rte_mbuf;
struct rte_mempool;

namespace qorgan::dp {

// Written by the owning worker, read relaxed by telemetry. Every fragment handed to
// add() ends in exactly one of: a reassembled datagram, a refusal (the counters below
// fragments, each with its DropReason), or an expiry (timeout_fragments or
// discarded_fragments).
struct ReasmStats {
    Counter fragments;   // fragments held in the table
    Counter reassembled; // datagrams handed back whole
    Counter atomic;      // IPv6 atomic fragments (RFC 6946) handed back alone
    // Refused fragments, each freed at once:
    Counter duplicate;  // exact repeat of a held fragment (frag_overlap); the datagram lives on
    Counter overlap;    // overlaps a held fragment, or its datagram was refused for that
    Counter too_big;    // the datagram would pass 65535 bytes (frag_too_big)
    Counter malformed;  // empty, not a multiple of 8 with MF, inconsistent end, unsupported
    Counter table_full; // max_datagrams in flight (frag_table_full)
    Counter too_many;   // the datagram needs more than max_fragments (frag_table_full)
    // Expiry:
    Counter timeout;             // datagrams expired incomplete (frag_timeout)
    Counter timeout_fragments;   // the fragments they held
    Counter discarded_fragments; // held fragments of refused datagrams, freed at their expiry
};

class Reassembler {
public:
    // rte_ip_frag keeps at most this many fragments of one datagram (Debian's DPDK 22.11
    // is built with RTE_LIBRTE_IP_FRAG_MAX_FRAG = 8): a datagram cut into more is refused.
    static constexpr uint32_t max_fragments = RTE_LIBRTE_IP_FRAG_MAX_FRAG;

    // tsc_hz converts timeout_ms to the unit of the tsc arguments below.
    static Result<std::unique_ptr<Reassembler>> create(uint32_t max_datagrams, uint32_t timeout_ms,
                                                       uint64_t tsc_hz, int socket_id);
    ~Reassembler();
    Reassembler(const Reassembler &) = delete;
    Reassembler &operator=(const Reassembler &) = delete;

    // Takes a fragment: an mbuf whose PacketMeta (mbuf private area) came from parse_frame
    // and has meta_fragment, headers in its first segment. The reassembler owns it from
    // then on. Returns the whole datagram once its last missing fragment arrives: a chain
    // of segments, the first fragment's L2 and IP headers first, the IPv6 fragment header
    // removed, the IPv4 header checksum NOT yet valid (see reasm_linearize); its
    // PacketMeta is still the first fragment's, so parse it again. Otherwise nullptr, with
    // why set when this fragment was refused (and freed), empty when it is held.
    rte_mbuf *add(rte_mbuf *m, uint64_t tsc, std::optional<DropReason> &why);

    // Frees the datagrams whose first fragment came more than timeout_ms before tsc.
    // Call periodically (each loop iteration is fine: it stops at the first live one).
    void expire(uint64_t tsc);

    const ReasmStats &stats() const { return _stats; }
    uint32_t in_flight() const { return _count; }
    uint32_t capacity() const { return _max; }

private:
    // Matched on the bytes up to proto, as rte_ip_frag keys a datagram: IPv4 (src, dst, id),
    // IPv6 (src, dst, id). proto is kept: an IPv4 fragment of another protocol is refused.
    struct Key {
        uint32_t src[4];
        uint32_t dst[4];
        uint32_t id;
        uint8_t family;
        uint8_t proto;
        uint16_t zero;
    };
    struct Range {
        uint16_t start; // byte offset in the fragmentable part
        uint16_t end;   // exclusive; <= 65535 by the too-big check
    };
    struct Datagram {
        Key key;
        uint64_t start = 0; // tsc of the first fragment, as rte_ip_frag's entry has it
        uint32_t hash = 0;
        uint32_t prev = 0, next = 0; // creation order (= expiry order), pool indices
        uint16_t total = 0;          // end of the last fragment, when have_last
        uint16_t first_hdr = 0;      // IPv4: header length of the first fragment, once in
        bool have_last = false;
        uint8_t nranges = 0;
        uint8_t middles = 0;               // fragments neither first nor last
        uint8_t held = 0;                  // mbufs rte_ip_frag holds for it
        std::optional<DropReason> refused; // set: the datagram is discarded (see reasm.cpp)
        Range ranges[max_fragments];
    };
    enum class Verdict : uint8_t { accept, duplicate, overlap, malformed, too_many, too_big };

    Reassembler() = default;
    Datagram *find(const Key &key, uint32_t hash, uint64_t tsc);
    Datagram *insert(const Key &key, uint32_t hash, uint64_t tsc);
    void remove(Datagram &d);
    void lru_unlink(uint32_t i);
    void lru_push(uint32_t i);
    void count_expiry(const Datagram &d);
    bool expired(const Datagram &d, uint64_t tsc) const { return d.start + _timeout < tsc; }
    void reap(uint64_t tsc);
    Verdict check(const Datagram &d, uint32_t start, uint32_t end, bool more, uint32_t hdr) const;
    Counter &refused_counter(DropReason reason);
    rte_mbuf *refuse(rte_mbuf *m, DropReason reason, Counter &counter,
                     std::optional<DropReason> &why);

    rte_ip_frag_tbl *_tbl = nullptr;
    rte_ip_frag_death_row _dr{};
    uint64_t _timeout = 0; // in tsc units
    uint32_t _max = 0;
    uint32_t _count = 0;
    uint32_t _seed = 0;
    std::vector<Datagram> _pool;
    std::vector<uint32_t> _free;  // unused pool indices
    std::vector<uint32_t> _index; // open addressing (linear probing) into _pool
    uint32_t _mask = 0;
    uint32_t _lru_head = 0, _lru_tail = 0; // oldest, newest (none when empty)
    ReasmStats _stats;
};

// Makes a reassembled datagram one contiguous mbuf from pool (a chain already in one
// segment is kept) and makes its IP header whole: IPv4 total length, fragment field
// (DF kept) and header checksum; IPv6 payload length. Frees the chain and returns the
// copy, or returns nullptr and leaves the chain alone when it does not fit in pool's
// data room or no mbuf is free. The private area (PacketMeta) is copied: re-parse.
rte_mbuf *reasm_linearize(rte_mbuf *chain, rte_mempool *pool);

} // namespace qorgan::dp

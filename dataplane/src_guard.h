// SPDX-License-Identifier: GPL-2.0-or-later
// Per-source attack protection for one worker: new-connection, ICMP and UDP token buckets, a
// concurrent-connection count and a timed block list, per IPv4 or IPv6 source address. The
// table is sized at construction with an admission limit; a source that finds no room is not
// tracked, counted as a refusal and passed (fail open). The per-packet calls never allocate,
// throw, log, read a clock or make a system call: the caller passes the time in.
#pragma once

#include "dataplane/source_table.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace qorgan::dp {

// Rates are per second; a rate of 0 turns its bucket off, a concurrent limit of 0 too. A burst
// of 0 with a rate set is taken as 1 (a bucket that can never hold a token would refuse all).
struct GuardLimits {
    uint32_t new_per_s = 0, new_burst = 0;
    uint32_t concurrent = 0;
    uint32_t icmp_per_s = 0, icmp_burst = 0;
    uint32_t udp_per_s = 0, udp_burst = 0;
};

enum class GuardVerdict : uint8_t {
    pass,
    over_rate,
    over_concurrent,
    icmp_flood,
    udp_flood,
    blocked
};

const char *guard_verdict_name(GuardVerdict v);

// A token bucket in millitokens: a rate of r per second refills exactly r millitokens per
// millisecond, so no rounding is lost and rates and bursts up to UINT32_MAX fit in 64 bits.
// A bucket never used starts full.
struct TokenBucket {
    static constexpr uint64_t never = UINT64_MAX;

    uint64_t millitokens = 0;
    uint64_t last_ms = never;

    // Refills for the time since the last call, then takes one token; false when empty.
    // per_s must not be 0 (the caller skips buckets that are off).
    bool take(uint32_t per_s, uint32_t burst, uint64_t now_ms);
    // The first millisecond at which the bucket is full again.
    uint64_t full_at_ms(uint32_t per_s, uint32_t burst) const;
};

// One blocked source, for `show`.
struct BlockedSource {
    uint32_t addr[4]; // network order; IPv4 uses [0], the rest zero
    uint8_t family;   // 4 or 6
    uint64_t remaining_ms;
};

// Owned and used by one worker. Addresses are uint32_t[4] in network order as in FlowKey;
// family is 4 or 6 (anything but 6 is taken as 4, and an IPv4 source uses src[0] only).
class SourceGuard {
public:
    static constexpr uint32_t max_capacity = 1u << 24;
    static constexpr uint32_t probe_limit = 8; // slots looked at per source

    // capacity is rounded up to a power of two (1 .. max_capacity). The seed keeps the slot
    // of a source unpredictable from outside, so that crafted sources cannot crowd out one
    // probe window on purpose; pass a random value.
    explicit SourceGuard(uint32_t capacity, uint64_t seed = 0);

    // Starts loading the source's slot into the cache, ahead of the calls below.
    void prefetch(const uint32_t src[4], uint8_t family) const {
        _table.prefetch(key_of(src, family));
    }
    // pass or blocked; does not create an entry.
    GuardVerdict blocked(const uint32_t src[4], uint8_t family, uint64_t now_ms) const;
    // For a new connection attempt: blocked, over_concurrent (no token is taken then),
    // over_rate or pass. The caller calls connection_opened() once the flow exists.
    GuardVerdict new_connection(const uint32_t src[4], uint8_t family, const GuardLimits &l,
                                uint64_t now_ms);
    // For every ICMP / UDP packet of the source: blocked, icmp_flood / udp_flood or pass.
    GuardVerdict icmp(const uint32_t src[4], uint8_t family, const GuardLimits &l, uint64_t now_ms);
    GuardVerdict udp(const uint32_t src[4], uint8_t family, const GuardLimits &l, uint64_t now_ms);

    // The concurrent count. An open entry stays in the table until its count is back at 0,
    // so a caller without a concurrent limit should not call these.
    void connection_opened(const uint32_t src[4], uint8_t family, uint64_t now_ms);
    void connection_closed(const uint32_t src[4], uint8_t family); // never goes below 0

    // Blocks the source until now_ms + ms (a block already running is extended, never
    // shortened). True if the source was not blocked already: the caller raises an event only
    // then. With no free or idle slot, a block takes the slot of a source that is not blocked
    // (counted in evicted()); false if all of them are blocked (counted in table_full()).
    bool block(const uint32_t src[4], uint8_t family, uint64_t now_ms, uint64_t ms);
    void clear_blocks();

    // Sources proven real by a SYN cookie (syncookie.h) until now_ms + ms: the SYN-flood
    // defence lets their SYNs through. A source without a slot stays unproven (counted).
    void prove(const uint32_t src[4], uint8_t family, uint64_t now_ms, uint64_t ms);
    bool proven(const uint32_t src[4], uint8_t family, uint64_t now_ms) const;

    // Control-plane walks (not for the hot path).
    uint32_t blocked_count(uint64_t now_ms) const;
    // Writes up to out.size() blocked sources; returns how many.
    size_t blocked_sources(uint64_t now_ms, std::span<BlockedSource> out) const;
    uint32_t in_use(uint64_t now_ms) const; // entries holding any state at now_ms

    // Sources refused for want of a slot, and entries taken over by block().
    uint64_t table_full() const { return _table.table_full(); }
    uint64_t evicted() const { return _table.evicted(); }
    uint32_t capacity() const { return _table.capacity(); }

private:
    enum Bucket : uint8_t { bucket_new, bucket_icmp, bucket_udp, bucket_count };

    // family 0 marks a slot never used (see BoundedTable); a slot is taken over when idle.
    struct Entry {
        uint32_t addr[4];
        uint8_t family;
        uint32_t concurrent;
        uint64_t blocked_until_ms; // blocked while now < this
        uint64_t proven_until_ms;  // proven by a SYN cookie while now < this
        uint64_t quiet_at_ms;      // every bucket is full again from then on
        TokenBucket buckets[bucket_count];
    };

    static bool idle(const Entry &e, uint64_t now_ms) {
        return e.concurrent == 0 && e.blocked_until_ms <= now_ms && e.quiet_at_ms <= now_ms &&
               e.proven_until_ms <= now_ms;
    }
    // evict: with no free or idle slot, take over one whose source is not blocked.
    Entry *find_or_insert(const AddrKey &k, uint64_t now_ms, bool evict);
    GuardVerdict rate(const uint32_t src[4], uint8_t family, Bucket b, uint32_t per_s,
                      uint32_t burst, GuardVerdict refusal, uint64_t now_ms);
    // Takes a token from bucket b of e (per_s not 0); false when empty.
    static bool take(Entry &e, Bucket b, uint32_t per_s, uint32_t burst, uint64_t now_ms);

    BoundedTable<Entry> _table;
    // The latest end of any block: before it nothing is blocked and blocked() looks nothing up
    // (the per-packet check costs a compare while the list is empty).
    uint64_t _blocks_end_ms = 0;
};

// Rate limit for the events a worker raises (a flood must not become an event flood). The
// caller reports take_suppressed() as "suppressed=N" in the next event it emits.
class EventLimiter {
public:
    EventLimiter(uint32_t per_s, uint32_t burst); // per_s 0: no limit
    bool allow(uint64_t now_ms);                  // false: suppressed and counted
    uint32_t take_suppressed();                   // the count since the last take; resets it

private:
    uint32_t _per_s, _burst;
    TokenBucket _bucket;
    uint32_t _suppressed = 0;
};

} // namespace qorgan::dp

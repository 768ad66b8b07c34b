// SPDX-License-Identifier: GPL-2.0-or-later
// Per-source guard table: open addressing with a bounded probe window; slots are taken over
// once idle (no flows, no block, every bucket full again), so a finished source costs nothing.
#include "dataplane/src_guard.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace qorgan::dp {

namespace {

constexpr uint64_t milli = 1000; // millitokens per token

// murmur3 finalizer: cheap, and every input bit reaches every output bit.
uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

uint64_t capacity_of(uint32_t burst) {
    return uint64_t(std::max(burst, 1u)) * milli;
}

} // namespace

const char *guard_verdict_name(GuardVerdict v) {
    switch (v) {
    case GuardVerdict::pass:
        return "pass";
    case GuardVerdict::over_rate:
        return "over-rate";
    case GuardVerdict::over_concurrent:
        return "over-concurrent";
    case GuardVerdict::icmp_flood:
        return "icmp-flood";
    case GuardVerdict::udp_flood:
        return "udp-flood";
    case GuardVerdict::blocked:
        return "blocked";
    }
    return "unknown";
}

bool TokenBucket::take(uint32_t per_s, uint32_t burst, uint64_t now_ms) {
    uint64_t cap = capacity_of(burst);
    if (last_ms == never) {
        millitokens = cap;
        last_ms = now_ms;
    } else if (now_ms > last_ms) {
        // Also clamps a bucket filled under a larger burst than the one now configured.
        uint64_t have = std::min(millitokens, cap);
        uint64_t add;
        if (__builtin_mul_overflow(now_ms - last_ms, uint64_t(per_s), &add) || add >= cap - have)
            millitokens = cap;
        else
            millitokens = have + add;
        last_ms = now_ms;
    } // a clock going backwards refills nothing and keeps last_ms
    millitokens = std::min(millitokens, cap);
    if (millitokens < milli)
        return false;
    millitokens -= milli;
    return true;
}

uint64_t TokenBucket::full_at_ms(uint32_t per_s, uint32_t burst) const {
    uint64_t cap = capacity_of(burst);
    if (last_ms == never || millitokens >= cap || per_s == 0)
        return 0;
    return last_ms + (cap - millitokens + per_s - 1) / per_s;
}

SourceGuard::SourceGuard(uint32_t capacity, uint64_t seed) : _seed(seed) {
    uint32_t n = std::bit_ceil(std::clamp(capacity, 1u, max_capacity));
    _slots.assign(n, Entry{});
    _mask = n - 1;
    _probe = std::min(probe_limit, n);
}

SourceGuard::Key SourceGuard::key_of(const uint32_t src[4], uint8_t family) {
    Key k{};
    if (family == 6) {
        std::memcpy(k.addr, src, sizeof k.addr);
        k.family = 6;
    } else {
        k.addr[0] = src[0];
        k.family = 4;
    }
    return k;
}

uint32_t SourceGuard::home(const Key &k) const {
    uint64_t lo = k.addr[0] | (uint64_t(k.addr[1]) << 32);
    uint64_t hi = k.addr[2] | (uint64_t(k.addr[3]) << 32);
    uint64_t h = fmix64(lo ^ _seed);
    h = fmix64(h ^ hi ^ (uint64_t(k.family) << 56));
    return uint32_t(h) & _mask;
}

namespace {
template <typename E, typename K>
bool same(const E &e, const K &k) {
    return e.family == k.family && std::memcmp(e.addr, k.addr, sizeof e.addr) == 0;
}
} // namespace

const SourceGuard::Entry *SourceGuard::find(const Key &k) const {
    uint32_t i = home(k);
    for (uint32_t n = 0; n < _probe; n++, i = (i + 1) & _mask) {
        const Entry &e = _slots[i];
        if (e.family == 0)
            return nullptr;
        if (same(e, k))
            return &e;
    }
    return nullptr;
}

SourceGuard::Entry *SourceGuard::find_or_insert(const Key &k, uint64_t now_ms, bool evict) {
    Entry *take = nullptr, *victim = nullptr;
    uint32_t i = home(k);
    for (uint32_t n = 0; n < _probe; n++, i = (i + 1) & _mask) {
        Entry &e = _slots[i];
        if (e.family == 0) {
            if (take == nullptr)
                take = &e;
            break;
        }
        if (same(e, k))
            return &e;
        if (take == nullptr && idle(e, now_ms))
            take = &e;
        if (victim == nullptr && e.blocked_until_ms <= now_ms)
            victim = &e;
    }
    if (take == nullptr && evict && victim != nullptr) {
        take = victim;
        _evicted++;
    }
    if (take == nullptr) {
        _table_full++;
        return nullptr;
    }
    *take = Entry{};
    std::memcpy(take->addr, k.addr, sizeof k.addr);
    take->family = k.family;
    return take;
}

GuardVerdict SourceGuard::blocked(const uint32_t src[4], uint8_t family, uint64_t now_ms) const {
    const Entry *e = find(key_of(src, family));
    return e != nullptr && e->blocked_until_ms > now_ms ? GuardVerdict::blocked
                                                        : GuardVerdict::pass;
}

GuardVerdict SourceGuard::rate(const uint32_t src[4], uint8_t family, Bucket b, uint32_t per_s,
                               uint32_t burst, GuardVerdict refusal, uint64_t now_ms) {
    if (per_s == 0)
        return blocked(src, family, now_ms);
    Entry *e = find_or_insert(key_of(src, family), now_ms, false);
    if (e == nullptr)
        return GuardVerdict::pass; // fail open, counted in table_full
    if (e->blocked_until_ms > now_ms)
        return GuardVerdict::blocked;
    TokenBucket &bucket = e->buckets[b];
    if (!bucket.take(per_s, burst, now_ms))
        return refusal;
    e->quiet_at_ms = std::max(e->quiet_at_ms, bucket.full_at_ms(per_s, burst));
    return GuardVerdict::pass;
}

GuardVerdict SourceGuard::new_connection(const uint32_t src[4], uint8_t family,
                                         const GuardLimits &l, uint64_t now_ms) {
    if (l.new_per_s == 0) {
        // Only the count to check: a source without an entry has no flows.
        const Entry *e = find(key_of(src, family));
        if (e == nullptr)
            return GuardVerdict::pass;
        if (e->blocked_until_ms > now_ms)
            return GuardVerdict::blocked;
        if (l.concurrent != 0 && e->concurrent >= l.concurrent)
            return GuardVerdict::over_concurrent;
        return GuardVerdict::pass;
    }
    Entry *e = find_or_insert(key_of(src, family), now_ms, false);
    if (e == nullptr)
        return GuardVerdict::pass;
    if (e->blocked_until_ms > now_ms)
        return GuardVerdict::blocked;
    if (l.concurrent != 0 && e->concurrent >= l.concurrent)
        return GuardVerdict::over_concurrent;
    TokenBucket &bucket = e->buckets[bucket_new];
    if (!bucket.take(l.new_per_s, l.new_burst, now_ms))
        return GuardVerdict::over_rate;
    e->quiet_at_ms = std::max(e->quiet_at_ms, bucket.full_at_ms(l.new_per_s, l.new_burst));
    return GuardVerdict::pass;
}

GuardVerdict SourceGuard::icmp(const uint32_t src[4], uint8_t family, const GuardLimits &l,
                               uint64_t now_ms) {
    return rate(src, family, bucket_icmp, l.icmp_per_s, l.icmp_burst, GuardVerdict::icmp_flood,
                now_ms);
}

GuardVerdict SourceGuard::udp(const uint32_t src[4], uint8_t family, const GuardLimits &l,
                              uint64_t now_ms) {
    return rate(src, family, bucket_udp, l.udp_per_s, l.udp_burst, GuardVerdict::udp_flood, now_ms);
}

void SourceGuard::connection_opened(const uint32_t src[4], uint8_t family, uint64_t now_ms) {
    Entry *e = find_or_insert(key_of(src, family), now_ms, false);
    if (e != nullptr && e->concurrent != UINT32_MAX)
        e->concurrent++;
}

void SourceGuard::connection_closed(const uint32_t src[4], uint8_t family) {
    // A flow opened while the table was full was never counted: nothing to take back then.
    Entry *e = find(key_of(src, family));
    if (e != nullptr && e->concurrent != 0)
        e->concurrent--;
}

bool SourceGuard::block(const uint32_t src[4], uint8_t family, uint64_t now_ms, uint64_t ms) {
    Entry *e = find_or_insert(key_of(src, family), now_ms, true);
    if (e == nullptr)
        return false;
    bool was_blocked = e->blocked_until_ms > now_ms;
    uint64_t until = ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ms;
    e->blocked_until_ms = std::max(e->blocked_until_ms, until);
    return !was_blocked && until > now_ms;
}

void SourceGuard::prove(const uint32_t src[4], uint8_t family, uint64_t now_ms, uint64_t ms) {
    Entry *e = find_or_insert(key_of(src, family), now_ms, false);
    if (e == nullptr)
        return; // counted in table_full
    uint64_t until = ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ms;
    e->proven_until_ms = std::max(e->proven_until_ms, until);
}

bool SourceGuard::proven(const uint32_t src[4], uint8_t family, uint64_t now_ms) const {
    const Entry *e = find(key_of(src, family));
    return e != nullptr && e->proven_until_ms > now_ms;
}

void SourceGuard::clear_blocks() {
    for (Entry &e : _slots)
        e.blocked_until_ms = 0;
}

uint32_t SourceGuard::blocked_count(uint64_t now_ms) const {
    uint32_t n = 0;
    for (const Entry &e : _slots)
        n += e.family != 0 && e.blocked_until_ms > now_ms;
    return n;
}

size_t SourceGuard::blocked_sources(uint64_t now_ms, std::span<BlockedSource> out) const {
    size_t n = 0;
    for (const Entry &e : _slots) {
        if (n == out.size())
            break;
        if (e.family == 0 || e.blocked_until_ms <= now_ms)
            continue;
        BlockedSource &b = out[n++];
        std::memcpy(b.addr, e.addr, sizeof b.addr);
        b.family = e.family;
        b.remaining_ms = e.blocked_until_ms - now_ms;
    }
    return n;
}

uint32_t SourceGuard::in_use(uint64_t now_ms) const {
    uint32_t n = 0;
    for (const Entry &e : _slots)
        n += e.family != 0 && !idle(e, now_ms);
    return n;
}

EventLimiter::EventLimiter(uint32_t per_s, uint32_t burst) : _per_s(per_s), _burst(burst) {}

bool EventLimiter::allow(uint64_t now_ms) {
    if (_per_s == 0 || _bucket.take(_per_s, _burst, now_ms))
        return true;
    if (_suppressed != UINT32_MAX)
        _suppressed++;
    return false;
}

uint32_t EventLimiter::take_suppressed() {
    return std::exchange(_suppressed, 0);
}

} // namespace qorgan::dp

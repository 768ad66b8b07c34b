// SPDX-License-Identifier: GPL-2.0-or-later
// Per-source guard table (a BoundedTable): slots are taken over once idle (no flows, no block,
// every bucket full again), so a finished source costs nothing.
#include "dataplane/src_guard.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace qorgan::dp {

namespace {

constexpr uint64_t milli = 1000; // millitokens per token

uint64_t capacity_of(uint32_t burst) {
    return uint64_t(std::max(burst, 1u)) * milli;
}

// now_ms + ms, saturating.
uint64_t until_ms(uint64_t now_ms, uint64_t ms) {
    return ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ms;
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

SourceGuard::SourceGuard(uint32_t capacity, uint64_t seed)
    : _table(capacity, max_capacity, probe_limit, seed) {}

SourceGuard::Entry *SourceGuard::find_or_insert(const AddrKey &k, uint64_t now_ms, bool evict) {
    auto idle_now = [now_ms](const Entry &e) { return idle(e, now_ms); };
    if (!evict)
        return _table.find_or_insert(k, idle_now);
    return _table.find_or_insert(k, idle_now,
                                 [now_ms](const Entry &e) { return e.blocked_until_ms <= now_ms; });
}

GuardVerdict SourceGuard::blocked(const uint32_t src[4], uint8_t family, uint64_t now_ms) const {
    if (now_ms >= _blocks_end_ms)
        return GuardVerdict::pass;
    const Entry *e = _table.find(key_of(src, family));
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
    return take(*e, b, per_s, burst, now_ms) ? GuardVerdict::pass : refusal;
}

bool SourceGuard::take(Entry &e, Bucket b, uint32_t per_s, uint32_t burst, uint64_t now_ms) {
    TokenBucket &bucket = e.buckets[b];
    if (!bucket.take(per_s, burst, now_ms))
        return false;
    e.quiet_at_ms = std::max(e.quiet_at_ms, bucket.full_at_ms(per_s, burst));
    return true;
}

GuardVerdict SourceGuard::new_connection(const uint32_t src[4], uint8_t family,
                                         const GuardLimits &l, uint64_t now_ms) {
    // Without a rate only the count is checked: a source without an entry has no flows.
    Entry *e = l.new_per_s == 0 ? _table.find(key_of(src, family))
                                : find_or_insert(key_of(src, family), now_ms, false);
    if (e == nullptr)
        return GuardVerdict::pass; // with a rate: fail open, counted in table_full
    if (e->blocked_until_ms > now_ms)
        return GuardVerdict::blocked;
    if (l.concurrent != 0 && e->concurrent >= l.concurrent)
        return GuardVerdict::over_concurrent;
    if (l.new_per_s != 0 && !take(*e, bucket_new, l.new_per_s, l.new_burst, now_ms))
        return GuardVerdict::over_rate;
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
    Entry *e = _table.find(key_of(src, family));
    if (e != nullptr && e->concurrent != 0)
        e->concurrent--;
}

bool SourceGuard::block(const uint32_t src[4], uint8_t family, uint64_t now_ms, uint64_t ms) {
    Entry *e = find_or_insert(key_of(src, family), now_ms, true);
    if (e == nullptr)
        return false;
    bool was_blocked = e->blocked_until_ms > now_ms;
    uint64_t until = until_ms(now_ms, ms);
    e->blocked_until_ms = std::max(e->blocked_until_ms, until);
    _blocks_end_ms = std::max(_blocks_end_ms, e->blocked_until_ms);
    return !was_blocked && until > now_ms;
}

void SourceGuard::prove(const uint32_t src[4], uint8_t family, uint64_t now_ms, uint64_t ms) {
    Entry *e = find_or_insert(key_of(src, family), now_ms, false);
    if (e == nullptr)
        return; // counted in table_full
    e->proven_until_ms = std::max(e->proven_until_ms, until_ms(now_ms, ms));
}

bool SourceGuard::proven(const uint32_t src[4], uint8_t family, uint64_t now_ms) const {
    const Entry *e = _table.find(key_of(src, family));
    return e != nullptr && e->proven_until_ms > now_ms;
}

void SourceGuard::clear_blocks() {
    for (Entry &e : _table.slots())
        e.blocked_until_ms = 0;
    _blocks_end_ms = 0;
}

uint32_t SourceGuard::blocked_count(uint64_t now_ms) const {
    uint32_t n = 0;
    for (const Entry &e : _table.slots())
        n += e.family != 0 && e.blocked_until_ms > now_ms;
    return n;
}

size_t SourceGuard::blocked_sources(uint64_t now_ms, std::span<BlockedSource> out) const {
    size_t n = 0;
    for (const Entry &e : _table.slots()) {
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
    for (const Entry &e : _table.slots())
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

// SPDX-License-Identifier: GPL-2.0-or-later
// A table of per-source entries keyed by an IPv4 or IPv6 address, as SourceGuard and
// ScanDetector keep them: open addressing over a power-of-two number of slots, sized at
// construction, with a bounded probe window and a seeded hash so that crafted sources cannot
// crowd out one window on purpose. A source that finds no room is refused and counted (the
// callers fail open). Lookups never allocate, throw or make a system call.
#pragma once

#include "common/huge_pages.h"
#include "dataplane/fmix.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace qorgan::dp {

// An address as uint32_t[4] in network order, family 4 or 6; an IPv4 address uses addr[0]
// only, the rest zero.
struct AddrKey {
    uint32_t addr[4];
    uint8_t family;
};

// family: anything but 6 is taken as 4 (and then only a[0] is read).
inline AddrKey key_of(const uint32_t a[4], uint8_t family) {
    AddrKey k{};
    if (family == 6) {
        std::memcpy(k.addr, a, sizeof k.addr);
        k.family = 6;
    } else {
        k.addr[0] = a[0];
        k.family = 4;
    }
    return k;
}

// A seeded 64-bit hash of the key.
inline uint64_t addr_hash(const AddrKey &k, uint64_t seed) {
    uint64_t lo = k.addr[0] | (uint64_t(k.addr[1]) << 32);
    uint64_t hi = k.addr[2] | (uint64_t(k.addr[3]) << 32);
    uint64_t h = fmix64(lo ^ seed);
    return fmix64(h ^ hi ^ (uint64_t(k.family) << 56));
}

// Entry has `uint32_t addr[4]` and `uint8_t family`, and value-initialises to family 0, which
// marks a slot never used. Slots are never emptied again, only taken over once the caller's
// predicate finds their entry idle, so a lookup may stop at the first slot never used.
template <typename Entry>
class BoundedTable {
public:
    // capacity is rounded up to a power of two (1 .. max_capacity); probe_limit slots are
    // looked at per key (fewer in a smaller table).
    BoundedTable(uint32_t capacity, uint32_t max_capacity, uint32_t probe_limit, uint64_t seed)
        : _seed(seed) {
        uint32_t n = std::bit_ceil(std::clamp(capacity, 1u, max_capacity));
        _slots.assign(n, Entry{});
        _mask = n - 1;
        _probe = std::min(probe_limit, n);
    }

    const Entry *find(const AddrKey &k) const {
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
    Entry *find(const AddrKey &k) {
        return const_cast<Entry *>(static_cast<const BoundedTable &>(*this).find(k));
    }
    // Starts loading k's first slot into the cache (a burst looks its sources up ahead).
    void prefetch(const AddrKey &k) const {
        const Entry *e = &_slots[home(k)];
        asm volatile("prefetcht0 %0" : : "m"(*reinterpret_cast<const char *>(e)));
    }

    // A predicate that holds for no entry: nothing is evicted.
    struct Never {
        bool operator()(const Entry &) const { return false; }
    };

    // The entry of k, or a slot taken for it: the first never used or idle(entry) in its
    // window, else the first evictable(entry) (counted in evicted()). A slot taken is reset
    // to Entry{} holding k, and *taken (if given) set. nullptr, counted in table_full(), when
    // there is none.
    template <typename Idle, typename Evictable = Never>
    Entry *find_or_insert(const AddrKey &k, Idle idle, Evictable evictable = {},
                          bool *taken = nullptr) {
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
            if (take == nullptr && idle(e))
                take = &e;
            if (victim == nullptr && evictable(e))
                victim = &e;
        }
        if (take == nullptr && victim != nullptr) {
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
        if (taken != nullptr)
            *taken = true;
        return take;
    }

    // Every slot, used or not (family 0), for the control-plane walks.
    std::span<Entry> slots() { return _slots; }
    std::span<const Entry> slots() const { return _slots; }

    uint32_t capacity() const { return uint32_t(_slots.size()); }
    uint64_t table_full() const { return _table_full; } // keys refused for want of a slot
    uint64_t evicted() const { return _evicted; }       // entries taken over as evictable

private:
    uint32_t home(const AddrKey &k) const { return uint32_t(addr_hash(k, _seed)) & _mask; }
    static bool same(const Entry &e, const AddrKey &k) {
        return e.family == k.family && std::memcmp(e.addr, k.addr, sizeof e.addr) == 0;
    }

    std::vector<Entry, HugePageAllocator<Entry>> _slots; // read at random: on huge pages
    uint32_t _mask = 0;
    uint32_t _probe = 0;
    uint64_t _seed = 0;
    uint64_t _table_full = 0;
    uint64_t _evicted = 0;
};

} // namespace qorgan::dp

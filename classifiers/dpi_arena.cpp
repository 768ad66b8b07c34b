// SPDX-License-Identifier: GPL-2.0-or-later
#include "classifiers/dpi_arena.h"

#include <ndpi/ndpi_api.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace qorgan::dpi {

namespace {

thread_local Arena *tls_arena = nullptr;

// The address range of every arena, live or dead. A block freed by a thread other than its
// arena's (an nDPI module, built on the main thread and freed there after an RCU grace
// period, may hold something a worker allocated) is handed to the arena's owner through its
// remote list; a block of an arena already gone (leaked on purpose, see ~Arena) is left.
struct Range {
    std::atomic<bool> used{false};
    std::atomic<uintptr_t> begin{0}, end{0}; // end is set last and cleared first
    std::atomic<Arena *> live{nullptr};
};
constexpr unsigned max_ranges = 1024;
Range ranges[max_ranges];
// Entries from here on were never taken: a free looks at the few below it, not at all 1024
// (a module's teardown frees hundreds of thousands of blocks).
std::atomic<unsigned> ranges_taken{0};

Range *range_of(const void *p) {
    auto a = reinterpret_cast<uintptr_t>(p);
    unsigned taken = ranges_taken.load(std::memory_order_acquire);
    for (unsigned i = 0; i < taken; i++) {
        Range &r = ranges[i];
        uintptr_t end = r.end.load(std::memory_order_acquire);
        if (end && a < end && a >= r.begin.load(std::memory_order_relaxed))
            return &r;
    }
    return nullptr;
}

void *hook_malloc(size_t n) {
    if (tls_arena)
        return tls_arena->allocate(n);
    return std::malloc(n);
}

void hook_free(void *p) {
    if (!p)
        return;
    if (tls_arena && tls_arena->owns(p)) {
        tls_arena->release(p);
        return;
    }
    if (Range *r = range_of(p)) {
        if (Arena *a = r->live.load(std::memory_order_acquire))
            a->release_remote(p);
        return; // a dead arena's memory stays as it is
    }
    std::free(p);
}

} // namespace

Arena::Arena(size_t bytes) : _base(new std::byte[bytes]), _size(bytes) {
    auto b = reinterpret_cast<uintptr_t>(_base.get());
    for (unsigned i = 0; i < max_ranges; i++) {
        Range &r = ranges[i];
        bool free_entry = false;
        if (r.used.compare_exchange_strong(free_entry, true)) {
            r.begin.store(b, std::memory_order_relaxed);
            r.live.store(this, std::memory_order_relaxed);
            r.end.store(b + bytes, std::memory_order_release);
            unsigned taken = ranges_taken.load(std::memory_order_relaxed);
            while (taken < i + 1 &&
                   !ranges_taken.compare_exchange_weak(taken, i + 1, std::memory_order_release,
                                                       std::memory_order_relaxed)) {
            }
            _range = &r;
            return;
        }
    }
    // No entry left: this arena serves nothing, and nDPI allocates from malloc instead.
    _size = 0;
}

Arena::~Arena() {
    if (tls_arena == this)
        tls_arena = nullptr;
    take_remote();
    auto *r = static_cast<Range *>(_range);
    if (!r)
        return;
    r->live.store(nullptr, std::memory_order_release);
    if (_in_use > 0) {
        // Something outside (an nDPI module) still holds blocks of this arena: its memory is
        // kept, and freeing those blocks later does nothing.
        (void)_base.release();
        return;
    }
    r->end.store(0, std::memory_order_release);
    r->begin.store(0, std::memory_order_relaxed);
    r->used.store(false, std::memory_order_release);
}

void Arena::release_remote(void *p) {
    void *head = _remote.load(std::memory_order_relaxed);
    do
        std::memcpy(p, &head, sizeof(void *));
    while (!_remote.compare_exchange_weak(head, p, std::memory_order_release,
                                          std::memory_order_relaxed));
}

void Arena::take_remote() {
    void *p = _remote.exchange(nullptr, std::memory_order_acquire);
    while (p) {
        void *next;
        std::memcpy(&next, p, sizeof(void *));
        release(p);
        p = next;
    }
}

void *Arena::allocate(size_t n) {
    if (_remote.load(std::memory_order_relaxed))
        take_remote();
    unsigned c = 0;
    while (c < classes && (size_t(32) << c) < n)
        c++;
    if (c == classes) {
        _refused++;
        return nullptr;
    }
    size_t block = size_t(32) << c;
    std::byte *b;
    if (_free[c]) {
        b = static_cast<std::byte *>(_free[c]) - header;
        std::memcpy(&_free[c], b + header, sizeof(void *));
    } else {
        if (_used + header + block > _size) {
            _refused++;
            return nullptr;
        }
        b = _base.get() + _used;
        _used += header + block;
    }
    std::memcpy(b, &c, sizeof(c));
    _allocations++;
    _in_use += block;
    return b + header;
}

void Arena::release(void *p) {
    std::byte *b = static_cast<std::byte *>(p) - header;
    unsigned c;
    std::memcpy(&c, b, sizeof(c));
    std::memcpy(p, &_free[c], sizeof(void *));
    _free[c] = p;
    _in_use -= size_t(32) << c;
}

void Arena::bind_thread(Arena *a) {
    tls_arena = a;
}

Arena *Arena::bound() {
    return tls_arena;
}

void Arena::install_hooks() {
    static std::once_flag once;
    std::call_once(once, [] {
        set_ndpi_malloc(hook_malloc);
        set_ndpi_free(hook_free);
    });
}

} // namespace qorgan::dpi

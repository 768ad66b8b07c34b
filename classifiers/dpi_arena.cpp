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

// Every live arena: a block freed by a thread other than its arena's (a worker's flows freed
// at shutdown by the main thread, once the workers have stopped) still goes back to it.
constexpr unsigned max_arenas = 128;
std::atomic<Arena *> arenas[max_arenas];

Arena *owner_of(const void *p) {
    for (auto &slot : arenas)
        if (Arena *a = slot.load(std::memory_order_acquire); a && a->owns(p))
            return a;
    return nullptr;
}

// Which arena a block came from: the thread's own, or (a flow freed by another thread, which
// does not happen in the dataplane but may in tests) none, and then malloc's.
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
    if (Arena *a = owner_of(p)) {
        a->release(p);
        return;
    }
    std::free(p);
}

} // namespace

Arena::Arena(size_t bytes) : _base(new std::byte[bytes]), _size(bytes) {
    for (auto &slot : arenas) {
        Arena *none = nullptr;
        if (slot.compare_exchange_strong(none, this))
            return;
    }
}

Arena::~Arena() {
    for (auto &slot : arenas) {
        Arena *self = this;
        if (slot.compare_exchange_strong(self, nullptr))
            break;
    }
    if (tls_arena == this)
        tls_arena = nullptr;
}

void *Arena::allocate(size_t n) {
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

// SPDX-License-Identifier: GPL-2.0-or-later
// Open-addressing neighbour cache with bounded probing; see neighbors.h.
#include "dataplane/neighbors.h"

namespace qorgan::dp {

namespace {
constexpr uint32_t max_probe = 32;
}

NeighborTable::NeighborTable(uint32_t capacity)
    : _capacity(capacity), _entries(new Entry[capacity]) {
    _mask = (capacity & (capacity - 1)) == 0 ? capacity - 1 : 0;
}

uint64_t NeighborTable::pack(const Mac &m) {
    uint64_t w = 0;
    for (int i = 0; i < 6; i++)
        w = (w << 8) | m[i];
    return w;
}

Mac NeighborTable::unpack(uint64_t w) {
    Mac m;
    for (int i = 5; i >= 0; i--) {
        m[i] = static_cast<uint8_t>(w & 0xff);
        w >>= 8;
    }
    return m;
}

uint32_t NeighborTable::slot_of(uint16_t port, uint8_t family, const uint8_t *ip) const {
    // The key's 32-bit words mixed (fmix32), no byte loop: every forwarded packet looks up.
    uint32_t h = fmix32(uint32_t(port) << 8 | family);
    unsigned words = family == 4 ? 1 : 4;
    for (unsigned i = 0; i < words; i++) {
        uint32_t w;
        std::memcpy(&w, ip + 4 * i, sizeof(w));
        h = fmix32(h ^ w);
    }
    return next(h, 0);
}

bool NeighborTable::lookup(uint16_t port, uint8_t family, const uint8_t *ip, Mac &mac) const {
    unsigned n = family == 4 ? 4 : 16;
    uint32_t s = slot_of(port, family, ip);
    for (uint32_t i = 0; i < max_probe; i++, s = next(s, 1)) {
        const Entry &e = _entries[s];
        if (!e.used.load(std::memory_order_acquire))
            return false;
        if (e.port == port && e.family == family && std::memcmp(e.ip, ip, n) == 0) {
            mac = unpack(e.mac.load(std::memory_order_relaxed));
            return true;
        }
    }
    return false;
}

bool NeighborTable::learn(uint16_t port, uint8_t family, const uint8_t *ip, const Mac &mac) {
    unsigned n = family == 4 ? 4 : 16;
    uint32_t s = slot_of(port, family, ip);
    for (uint32_t i = 0; i < max_probe; i++, s = next(s, 1)) {
        Entry &e = _entries[s];
        if (!e.used.load(std::memory_order_relaxed)) {
            e.port = port;
            e.family = family;
            std::memset(e.ip, 0, sizeof(e.ip));
            std::memcpy(e.ip, ip, n);
            e.mac.store(pack(mac), std::memory_order_relaxed);
            e.used.store(1, std::memory_order_release);
            _used.fetch_add(1, std::memory_order_relaxed);
            return true;
        }
        if (e.port == port && e.family == family && std::memcmp(e.ip, ip, n) == 0) {
            e.mac.store(pack(mac), std::memory_order_relaxed);
            return true;
        }
    }
    _refused.fetch_add(1, std::memory_order_relaxed);
    return false;
}

} // namespace qorgan::dp

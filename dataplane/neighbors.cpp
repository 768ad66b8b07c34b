// SPDX-License-Identifier: GPL-2.0-or-later
// Open-addressing neighbour cache with bounded probing; see neighbors.h.
#include "dataplane/neighbors.h"

namespace qorgan::dp {

namespace {
constexpr uint32_t max_probe = 32;
}

NeighborTable::NeighborTable(uint32_t capacity)
    : _capacity(capacity), _entries(new Entry[capacity]) {}

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
    // FNV-1a over the key; the table is small and the key short.
    uint32_t h = 2166136261u;
    auto mix = [&h](uint8_t b) { h = (h ^ b) * 16777619u; };
    mix(static_cast<uint8_t>(port));
    mix(static_cast<uint8_t>(port >> 8));
    mix(family);
    unsigned n = family == 4 ? 4 : 16;
    for (unsigned i = 0; i < n; i++)
        mix(ip[i]);
    return h % _capacity;
}

bool NeighborTable::lookup(uint16_t port, uint8_t family, const uint8_t *ip, Mac &mac) const {
    unsigned n = family == 4 ? 4 : 16;
    uint32_t s = slot_of(port, family, ip);
    for (uint32_t i = 0; i < max_probe; i++, s = (s + 1) % _capacity) {
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
    for (uint32_t i = 0; i < max_probe; i++, s = (s + 1) % _capacity) {
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

// SPDX-License-Identifier: GPL-2.0-or-later
// ARP and IPv6 neighbour cache: written by the main lcore only, read lock-free by the
// workers. Entries are never removed (their keys are immutable once published); the
// MAC is one atomic word. A full table refuses new entries and counts the refusal.
#pragma once

#include "dataplane/fmix.h"
#include "dataplane/pkt_build.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace qorgan::dp {

class NeighborTable {
public:
    explicit NeighborTable(uint32_t capacity = 4096);

    // Worker side: the MAC of (port, ip) if known. ip is 4 or 16 bytes per family.
    bool lookup(uint16_t port, uint8_t family, const uint8_t *ip, Mac &mac) const;

    // Main lcore only. Returns false when the table is full (refusal counted).
    bool learn(uint16_t port, uint8_t family, const uint8_t *ip, const Mac &mac);

    uint64_t refused() const { return _refused.load(std::memory_order_relaxed); }
    uint32_t size() const { return _used.load(std::memory_order_relaxed); }
    uint32_t capacity() const { return _capacity; }

    template <typename F>
    void for_each(F &&f) const {
        for (uint32_t i = 0; i < _capacity; i++) {
            const Entry &e = _entries[i];
            if (!e.used.load(std::memory_order_acquire))
                continue;
            uint64_t w = e.mac.load(std::memory_order_relaxed);
            f(e.port, e.family, e.ip, unpack(w));
        }
    }

private:
    struct Entry {
        std::atomic<uint8_t> used{0}; // published after the key fields are written
        uint8_t family = 0;
        uint16_t port = 0;
        uint8_t ip[16]{};
        std::atomic<uint64_t> mac{0}; // 48-bit MAC
    };
    static uint64_t pack(const Mac &m);
    static Mac unpack(uint64_t w);
    uint32_t slot_of(uint16_t port, uint8_t family, const uint8_t *ip) const;
    // Slot h + step, wrapped: a mask when the capacity is a power of two (no division).
    uint32_t next(uint32_t h, uint32_t step) const {
        return _mask ? (h + step) & _mask : (h + step) % _capacity;
    }

    uint32_t _capacity;
    uint32_t _mask = 0; // capacity - 1 when it is a power of two
    std::unique_ptr<Entry[]> _entries;
    std::atomic<uint32_t> _used{0};
    std::atomic<uint64_t> _refused{0};
};

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// NAPT port pools: per-worker slices, bitmaps per (protocol, address), the per-source table
// and the EIM table, all sized in create() so the hot path never allocates.
#include "dataplane/nat_ports.h"

#include "dataplane/fmix.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <algorithm>
#include <bit>
#include <new>
#include <string>

namespace qorgan::dp {

namespace {

constexpr unsigned proto_count = 3; // TCP, UDP, ICMP: one identifier space each
constexpr unsigned no_proto = ~0u;

unsigned proto_index(uint8_t proto) {
    switch (proto) {
    case IPPROTO_TCP:
        return 0;
    case IPPROTO_UDP:
        return 1;
    case IPPROTO_ICMP:
        return 2;
    default:
        return no_proto;
    }
}

// Maps a 32-bit value onto [0, n) without a division.
uint32_t reduce(uint32_t x, uint32_t n) {
    return uint32_t((uint64_t(x) * n) >> 32);
}

// Slice w of W over a range of n ports starts at floor(w * n / W): slices differ in size by
// at most one and together cover the range exactly.
uint32_t slice_start(uint32_t n, unsigned w, unsigned workers) {
    return uint32_t(uint64_t(w) * n / workers);
}

std::string ipv4_text(uint32_t addr_network_order) {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &addr_network_order, buf, sizeof buf);
    return buf;
}

Error config_error(const std::string &msg) {
    return Error{{}, "nat port pool: " + msg};
}

size_t table_capacity(uint64_t entries) {
    // A load factor of at most 3/4 keeps linear-probing chains short.
    return std::bit_ceil(std::max<uint64_t>(8, entries + entries / 3 + 1));
}

} // namespace

const char *port_refusal_name(PortRefusal r) {
    switch (r) {
    case PortRefusal::none:
        return "none";
    case PortRefusal::pool_exhausted:
        return "pool-exhausted";
    case PortRefusal::source_limit:
        return "source-limit";
    case PortRefusal::source_table_full:
        return "source-table-full";
    case PortRefusal::unsupported_protocol:
        return "unsupported-protocol";
    }
    return "unknown";
}

Result<PortPool> PortPool::create(const PortPoolConfig &c) {
    if (c.addresses.empty())
        return config_error("addresses: at least one pool address is required");
    if (c.addresses.size() > port_pool_max_addresses)
        return config_error("addresses: at most " + std::to_string(port_pool_max_addresses) +
                            " pool addresses, got " + std::to_string(c.addresses.size()));
    for (size_t i = 0; i < c.addresses.size(); i++) {
        if (c.addresses[i] == 0)
            return config_error("addresses[" + std::to_string(i) +
                                "]: 0.0.0.0 is not a usable pool address");
        for (size_t j = 0; j < i; j++)
            if (c.addresses[j] == c.addresses[i])
                return config_error("addresses[" + std::to_string(i) +
                                    "]: " + ipv4_text(c.addresses[i]) + " duplicates addresses[" +
                                    std::to_string(j) + "]");
    }
    if (c.low == 0)
        return config_error("low: port 0 cannot be allocated");
    if (c.low > c.high)
        return config_error("low: " + std::to_string(c.low) + " is above high " +
                            std::to_string(c.high));
    if (c.workers == 0)
        return config_error("workers: at least one worker is required");
    if (c.worker >= c.workers)
        return config_error("worker: " + std::to_string(c.worker) + " is not below workers " +
                            std::to_string(c.workers));
    uint32_t range = uint32_t(c.high) - c.low + 1;
    uint32_t start = slice_start(range, c.worker, c.workers);
    uint32_t size = slice_start(range, c.worker + 1, c.workers) - start;
    if (size == 0)
        return config_error("workers: " + std::to_string(c.workers) + " workers leave worker " +
                            std::to_string(c.worker) + " an empty slice of ports " +
                            std::to_string(c.low) + "-" + std::to_string(c.high));
    if (c.max_per_source != 0 && c.max_sources == 0)
        return config_error("max_sources: must be at least 1 when max_per_source is set");
    if (c.max_sources > port_pool_max_sources)
        return config_error("max_sources: at most " + std::to_string(port_pool_max_sources) +
                            ", got " + std::to_string(c.max_sources));

    uint64_t seed[2];
    if (::getrandom(seed, sizeof seed, 0) != ssize_t(sizeof seed))
        return config_error("cannot seed the port randomizer");

    PortPool p;
    p._slice_low = uint16_t(c.low + start);
    p._slice_size = size;
    p._words_per_bitmap = (size + 63) / 64;
    p._max_per_source = c.max_per_source;
    p._max_sources = c.max_sources;
    p._eim = c.endpoint_independent;
    p._rng = seed[0] | 1; // xorshift must not start at 0
    p._hash_seed = seed[1];
    uint64_t slots = uint64_t(proto_count) * c.addresses.size() * size;
    try {
        p._addresses = c.addresses;
        p._bitmaps.assign(size_t(proto_count) * c.addresses.size() * p._words_per_bitmap, 0);
        p._free.assign(size_t(proto_count) * c.addresses.size(), size);
        // The bits past the slice end are marked taken so the scan never returns them.
        if (size % 64 != 0) {
            uint64_t tail = ~uint64_t(0) << (size % 64);
            for (size_t b = 0; b < p._free.size(); b++)
                p._bitmaps[(b + 1) * p._words_per_bitmap - 1] = tail;
        }
        // Without a per-source limit there is nothing to count per source.
        if (c.max_per_source != 0)
            p._source_table.assign(table_capacity(c.max_sources), SourceSlot{0, 0});
        // Each EIM entry holds a distinct port, so room for every port means it never fills.
        if (c.endpoint_independent)
            p._eim_table.assign(table_capacity(slots), EimSlot{});
    } catch (const std::bad_alloc &) {
        return config_error("cannot allocate the tables for " + std::to_string(slots) + " ports");
    }
    return p;
}

unsigned PortPool::owner(const PortPoolConfig &c, uint16_t port_host_order) {
    if (c.workers == 0 || c.low > c.high || port_host_order < c.low || port_host_order > c.high)
        return UINT_MAX;
    uint64_t range = uint64_t(c.high) - c.low + 1;
    uint64_t offset = port_host_order - c.low;
    // The largest w with slice_start(w) <= offset.
    return unsigned(((offset + 1) * c.workers - 1) / range);
}

size_t PortPool::bytes() const {
    return sizeof(*this) + _addresses.capacity() * sizeof(uint32_t) +
           _bitmaps.capacity() * sizeof(uint64_t) + _free.capacity() * sizeof(uint32_t) +
           _source_table.capacity() * sizeof(SourceSlot) + _eim_table.capacity() * sizeof(EimSlot);
}

// Unseeded on purpose: every worker's pool must pick the same address for one inside host.
unsigned PortPool::address_index(uint32_t src_addr) const {
    return reduce(fmix32(src_addr), uint32_t(_addresses.size()));
}

uint64_t PortPool::next_random() {
    _rng ^= _rng << 13;
    _rng ^= _rng >> 7;
    _rng ^= _rng << 17;
    return _rng;
}

std::optional<uint32_t> PortPool::take_port(unsigned proto_index, unsigned addr_index) {
    uint32_t &free = _free[size_t(proto_index) * _addresses.size() + addr_index];
    if (free == 0)
        return std::nullopt;
    uint64_t *bits = &_bitmaps[bitmap_index(proto_index, addr_index)];
    uint32_t start = reduce(uint32_t(next_random() >> 32), _slice_size);
    uint32_t w0 = start / 64;
    // The first word counts the bits below the start as taken; it is visited again at the
    // end of the wrap-around with those bits only.
    uint64_t below = (uint64_t(1) << (start % 64)) - 1;
    uint64_t word = bits[w0] | below;
    uint32_t w = w0;
    for (uint32_t step = 0; step <= _words_per_bitmap; step++) {
        if (~word != 0) {
            uint32_t bit = uint32_t(std::countr_one(word));
            bits[w] |= uint64_t(1) << bit;
            free--;
            return w * 64 + bit;
        }
        w = (w + 1) % _words_per_bitmap;
        word = bits[w];
        if (w == w0)
            word |= ~below;
    }
    return std::nullopt; // unreachable while _free agrees with the bitmap
}

bool PortPool::port_taken(unsigned proto_index, unsigned addr_index, uint32_t port_index) const {
    const uint64_t *bits = &_bitmaps[bitmap_index(proto_index, addr_index)];
    return (bits[port_index / 64] >> (port_index % 64)) & 1;
}

void PortPool::free_port(unsigned proto_index, unsigned addr_index, uint32_t port_index) {
    uint64_t *bits = &_bitmaps[bitmap_index(proto_index, addr_index)];
    bits[port_index / 64] &= ~(uint64_t(1) << (port_index % 64));
    _free[size_t(proto_index) * _addresses.size() + addr_index]++;
}

uint32_t PortPool::source_hash(uint32_t src_addr) const {
    return uint32_t(fmix64(src_addr ^ _hash_seed));
}

// The slot holding src_addr, or the empty slot where it would go. The table always has an
// empty slot: it holds at most max_sources of its more than 4/3 * max_sources slots.
PortPool::SourceSlot *PortPool::source_find(uint32_t src_addr) {
    size_t mask = _source_table.size() - 1;
    for (size_t i = source_hash(src_addr) & mask;; i = (i + 1) & mask) {
        SourceSlot &s = _source_table[i];
        if (s.count == 0 || s.addr == src_addr)
            return &s;
    }
}

// Backward-shift deletion: pull later members of the probe run into the hole.
void PortPool::source_erase(SourceSlot *slot) {
    size_t mask = _source_table.size() - 1;
    size_t i = size_t(slot - _source_table.data());
    for (size_t j = (i + 1) & mask; _source_table[j].count != 0; j = (j + 1) & mask) {
        size_t home = source_hash(_source_table[j].addr) & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            _source_table[i] = _source_table[j];
            i = j;
        }
    }
    _source_table[i] = SourceSlot{0, 0};
    _sources--;
}

namespace {
uint64_t eim_key(unsigned proto_index, uint32_t src_addr, uint16_t src_port) {
    return (uint64_t(src_addr) << 32) | (uint64_t(src_port) << 8) | proto_index;
}
} // namespace

// The index holding the key, or the empty slot where it would go (the table has room for
// every port, so it is never full).
size_t PortPool::eim_find(unsigned proto_index, uint32_t src_addr, uint16_t src_port) const {
    size_t mask = _eim_table.size() - 1;
    for (size_t i = fmix64(eim_key(proto_index, src_addr, src_port) ^ _hash_seed) & mask;;
         i = (i + 1) & mask) {
        const EimSlot &e = _eim_table[i];
        if (e.refs == 0 ||
            (e.src_addr == src_addr && e.src_port == src_port && e.proto_index == proto_index))
            return i;
    }
}

void PortPool::eim_erase(size_t i) {
    size_t mask = _eim_table.size() - 1;
    for (size_t j = (i + 1) & mask; _eim_table[j].refs != 0; j = (j + 1) & mask) {
        const EimSlot &e = _eim_table[j];
        size_t home = fmix64(eim_key(e.proto_index, e.src_addr, e.src_port) ^ _hash_seed) & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            _eim_table[i] = _eim_table[j];
            i = j;
        }
    }
    _eim_table[i] = EimSlot{};
}

std::optional<PortMapping> PortPool::allocate(uint8_t proto, uint32_t src_addr, uint16_t src_port,
                                              PortRefusal &why) {
    unsigned pi = proto_index(proto);
    if (pi == no_proto) {
        why = PortRefusal::unsupported_protocol;
        _stats.refused_protocol++;
        return std::nullopt;
    }
    size_t eim_slot = 0;
    if (_eim) {
        eim_slot = eim_find(pi, src_addr, src_port);
        EimSlot &e = _eim_table[eim_slot];
        // A reuse takes no new port, so neither the pool nor the source limit applies.
        if (e.refs != 0) {
            e.refs++;
            _stats.eim_reused++;
            why = PortRefusal::none;
            return PortMapping{_addresses[e.addr_index],
                               htons(uint16_t(_slice_low + e.port_index))};
        }
    }
    unsigned ai = address_index(src_addr);
    // Paired pooling: a full address refuses rather than moving the host to another one.
    if (_free[size_t(pi) * _addresses.size() + ai] == 0) {
        why = PortRefusal::pool_exhausted;
        _stats.refused_pool++;
        return std::nullopt;
    }
    SourceSlot *src = nullptr;
    if (_max_per_source != 0) {
        src = source_find(src_addr);
        if (src->count == 0 && _sources >= _max_sources) {
            why = PortRefusal::source_table_full;
            _stats.refused_source_table++;
            return std::nullopt;
        }
        if (src->count >= _max_per_source) {
            why = PortRefusal::source_limit;
            _stats.refused_source++;
            return std::nullopt;
        }
    }
    auto port = take_port(pi, ai);
    if (!port) { // cannot happen while _free is right; refuse rather than trust it
        why = PortRefusal::pool_exhausted;
        _stats.refused_pool++;
        return std::nullopt;
    }
    if (src != nullptr) {
        if (src->count == 0) {
            src->addr = src_addr;
            _sources++;
        }
        src->count++;
    }
    if (_eim) {
        // The slot found above is still the right one: nothing was inserted since.
        EimSlot &e = _eim_table[eim_slot];
        if (e.refs == 0) {
            e = EimSlot{src_addr, src_port, uint8_t(pi), uint8_t(ai), 1, uint16_t(*port)};
        }
    }
    _stats.allocated++;
    _stats.in_use++;
    why = PortRefusal::none;
    return PortMapping{_addresses[ai], htons(uint16_t(_slice_low + *port))};
}

void PortPool::release(uint8_t proto, const PortMapping &m, uint32_t src_addr, uint16_t src_port) {
    unsigned pi = proto_index(proto);
    unsigned ai = address_index(src_addr);
    uint16_t port = ntohs(m.port);
    if (pi == no_proto || _addresses[ai] != m.addr || port < _slice_low ||
        uint32_t(port - _slice_low) >= _slice_size) {
        _stats.release_unknown++;
        return;
    }
    uint32_t port_index = uint32_t(port - _slice_low);
    if (_eim) {
        size_t i = eim_find(pi, src_addr, src_port);
        EimSlot &e = _eim_table[i];
        if (e.refs == 0 || e.addr_index != ai || e.port_index != port_index) {
            _stats.release_unknown++;
            return;
        }
        if (--e.refs != 0)
            return; // other sessions still use the mapping
        eim_erase(i);
    } else if (!port_taken(pi, ai, port_index)) {
        _stats.release_unknown++;
        return;
    }
    free_port(pi, ai, port_index);
    if (_max_per_source != 0) {
        SourceSlot *src = source_find(src_addr);
        if (src->count != 0 && --src->count == 0)
            source_erase(src);
    }
    _stats.released++;
    _stats.in_use--;
}

} // namespace qorgan::dp

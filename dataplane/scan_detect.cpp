// SPDX-License-Identifier: GPL-2.0-or-later
// Scan detection table: open addressing with a bounded probe window, two linear-counting
// bitmaps per source, and the estimate per count of clear bits computed once at construction.
#include "dataplane/scan_detect.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace qorgan::dp {

namespace {

// murmur3 finalizer: cheap, and every input bit reaches every output bit.
uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

// Sets bit `bit`; true if it was clear.
bool set_bit(uint64_t *bitmap, uint32_t bit) {
    uint64_t mask = uint64_t(1) << (bit % 64);
    uint64_t &w = bitmap[bit / 64];
    if (w & mask)
        return false;
    w |= mask;
    return true;
}

} // namespace

const char *tcp_probe_name(TcpProbe p) {
    switch (p) {
    case TcpProbe::normal:
        return "normal";
    case TcpProbe::null_scan:
        return "null-scan";
    case TcpProbe::fin_scan:
        return "fin-scan";
    case TcpProbe::xmas_scan:
        return "xmas-scan";
    case TcpProbe::syn_fin:
        return "syn-fin";
    case TcpProbe::syn_rst:
        return "syn-rst";
    case TcpProbe::fin_no_ack:
        return "fin-no-ack";
    case TcpProbe::other_invalid:
        return "other-invalid";
    }
    return "unknown";
}

ScanDetector::ScanDetector(uint32_t capacity, uint64_t seed)
    : _table_seed(seed), _host_seed(fmix64(seed ^ 0x9e3779b97f4a7c15ull)),
      _port_seed(fmix64(seed ^ 0xc2b2ae3d27d4eb4full)) {
    uint32_t n = std::bit_ceil(std::clamp(capacity, 1u, max_capacity));
    _slots.assign(n, Entry{});
    _mask = n - 1;
    _probe = std::min(probe_limit, n);
    _estimate[0] = saturated;
    for (uint32_t z = 1; z <= bitmap_bits; z++)
        _estimate[z] =
            uint32_t(std::lround(-double(bitmap_bits) * std::log(double(z) / double(bitmap_bits))));
}

ScanDetector::Key ScanDetector::key_of(const uint32_t a[4], uint8_t family) {
    Key k{};
    if (family == 6) {
        std::memcpy(k.addr, a, sizeof k.addr);
        k.family = 6;
    } else {
        k.addr[0] = a[0];
        k.family = 4;
    }
    return k;
}

uint64_t ScanDetector::address_hash(const Key &k, uint64_t seed) const {
    uint64_t lo = k.addr[0] | (uint64_t(k.addr[1]) << 32);
    uint64_t hi = k.addr[2] | (uint64_t(k.addr[3]) << 32);
    uint64_t h = fmix64(lo ^ seed);
    return fmix64(h ^ hi ^ (uint64_t(k.family) << 56));
}

void ScanDetector::start_window(Entry &e, uint64_t now_ms) {
    std::memset(e.hosts, 0, sizeof e.hosts);
    std::memset(e.ports, 0, sizeof e.ports);
    e.window_start_ms = now_ms;
    e.host_zeros = e.port_zeros = bitmap_bits;
    e.reported = 0;
}

const ScanDetector::Entry *ScanDetector::find(const Key &k) const {
    uint32_t i = uint32_t(address_hash(k, _table_seed)) & _mask;
    for (uint32_t n = 0; n < _probe; n++, i = (i + 1) & _mask) {
        const Entry &e = _slots[i];
        if (e.family == 0)
            return nullptr;
        if (e.family == k.family && std::memcmp(e.addr, k.addr, sizeof e.addr) == 0)
            return &e;
    }
    return nullptr;
}

ScanDetector::Entry *ScanDetector::find_or_insert(const Key &k, uint32_t window_ms,
                                                  uint64_t now_ms) {
    Entry *take = nullptr;
    uint32_t i = uint32_t(address_hash(k, _table_seed)) & _mask;
    for (uint32_t n = 0; n < _probe; n++, i = (i + 1) & _mask) {
        Entry &e = _slots[i];
        if (e.family == 0) {
            if (take == nullptr)
                take = &e;
            break;
        }
        if (e.family == k.family && std::memcmp(e.addr, k.addr, sizeof e.addr) == 0)
            return &e;
        if (take == nullptr && expired(e, window_ms, now_ms))
            take = &e;
    }
    if (take == nullptr) {
        _table_full++;
        return nullptr;
    }
    std::memcpy(take->addr, k.addr, sizeof k.addr);
    take->family = k.family;
    start_window(*take, now_ms);
    return take;
}

ScanDetector::Scan ScanDetector::contact(const uint32_t src[4], uint8_t family,
                                         const uint32_t dst[4], uint16_t dport_host_order,
                                         uint32_t hosts_threshold, uint32_t ports_threshold,
                                         uint32_t window_ms, uint64_t now_ms) {
    if (hosts_threshold == 0 && ports_threshold == 0)
        return Scan::none;
    Entry *e = find_or_insert(key_of(src, family), window_ms, now_ms);
    if (e == nullptr)
        return Scan::none; // counted in table_full
    if (expired(*e, window_ms, now_ms))
        start_window(*e, now_ms);
    uint32_t host_bit = uint32_t(address_hash(key_of(dst, family), _host_seed)) % bitmap_bits;
    uint32_t port_bit = uint32_t(fmix64(dport_host_order ^ _port_seed)) % bitmap_bits;
    if (set_bit(e->hosts, host_bit))
        e->host_zeros--;
    if (set_bit(e->ports, port_bit))
        e->port_zeros--;
    if (hosts_threshold != 0 && !(e->reported & reported_horizontal) &&
        _estimate[e->host_zeros] >= hosts_threshold) {
        e->reported |= reported_horizontal;
        return Scan::horizontal;
    }
    if (ports_threshold != 0 && !(e->reported & reported_vertical) &&
        _estimate[e->port_zeros] >= ports_threshold) {
        e->reported |= reported_vertical;
        return Scan::vertical;
    }
    return Scan::none;
}

ScanDetector::Estimate ScanDetector::estimate(const uint32_t src[4], uint8_t family,
                                              uint32_t window_ms, uint64_t now_ms) const {
    const Entry *e = find(key_of(src, family));
    if (e == nullptr || expired(*e, window_ms, now_ms))
        return {};
    return {_estimate[e->host_zeros], _estimate[e->port_zeros]};
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// Scan detection table: a BoundedTable of sources with two linear-counting bitmaps each, and the
// estimate per count of clear bits computed once at construction.
#include "dataplane/scan_detect.h"

#include <cmath>
#include <cstring>

namespace qorgan::dp {

namespace {

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
    : _table(capacity, max_capacity, probe_limit, seed),
      _host_seed(fmix64(seed ^ 0x9e3779b97f4a7c15ull)),
      _port_seed(fmix64(seed ^ 0xc2b2ae3d27d4eb4full)) {
    _estimate[0] = saturated;
    for (uint32_t z = 1; z <= bitmap_bits; z++)
        _estimate[z] =
            uint32_t(std::lround(-double(bitmap_bits) * std::log(double(z) / double(bitmap_bits))));
}

void ScanDetector::start_window(Entry &e, uint64_t now_ms) {
    std::memset(e.hosts, 0, sizeof e.hosts);
    std::memset(e.ports, 0, sizeof e.ports);
    e.window_start_ms = now_ms;
    e.host_zeros = e.port_zeros = bitmap_bits;
    e.reported = 0;
}

ScanDetector::Entry *ScanDetector::find_or_insert(const AddrKey &k, uint32_t window_ms,
                                                  uint64_t now_ms) {
    bool taken = false;
    Entry *e = _table.find_or_insert(
        k, [window_ms, now_ms](const Entry &o) { return expired(o, window_ms, now_ms); }, {},
        &taken);
    if (taken)
        start_window(*e, now_ms);
    return e;
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
    uint32_t host_bit = uint32_t(addr_hash(key_of(dst, family), _host_seed)) % bitmap_bits;
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
    const Entry *e = _table.find(key_of(src, family));
    if (e == nullptr || expired(*e, window_ms, now_ms))
        return {};
    return {_estimate[e->host_zeros], _estimate[e->port_zeros]};
}

} // namespace qorgan::dp

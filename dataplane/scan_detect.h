// SPDX-License-Identifier: GPL-2.0-or-later
// Probe and scan detection for one worker: classification of the TCP flag combinations that
// port scanners send instead of a handshake, and per-source counting of the distinct hosts
// and ports a source tries within a window (horizontal and vertical scans). The table is
// sized at construction with an admission limit; contact() never allocates, throws, logs,
// reads a clock or makes a system call.
#pragma once

#include "dataplane/source_table.h"

#include <array>
#include <cstdint>

namespace qorgan::dp {

namespace tcpf {
inline constexpr uint8_t tcp_fin = 0x01;
inline constexpr uint8_t tcp_syn = 0x02;
inline constexpr uint8_t tcp_rst = 0x04;
inline constexpr uint8_t tcp_psh = 0x08;
inline constexpr uint8_t tcp_ack = 0x10;
inline constexpr uint8_t tcp_urg = 0x20;
} // namespace tcpf

// What a TCP segment's flags say about it, before any flow state is consulted. The stealth
// scans of nmap rely on RFC 793 making a closed port answer RST to a segment without SYN, RST
// or ACK while an open port stays silent.
enum class TcpProbe : uint8_t {
    normal,        // SYN (alone or with ACK, PSH, URG), anything with ACK, RST without SYN
    null_scan,     // no flags at all: nmap -sN
    fin_scan,      // FIN alone: nmap -sF
    xmas_scan,     // FIN+PSH+URG without SYN, RST or ACK: nmap -sX
    syn_fin,       // SYN with FIN: never valid, an OS fingerprinting and filter-evasion probe
    syn_rst,       // SYN with RST (no FIN): never valid
    fin_no_ack,    // FIN without ACK with other bits, none of the above (FIN+PSH, FIN+RST, ...)
    other_invalid, // no SYN, RST, FIN or ACK: PSH and/or URG alone
};

const char *tcp_probe_name(TcpProbe p);

// flags: the TCP flags byte. ECE and CWR (0x40, 0x80) are ECN signalling and do not change
// the class: a SYN with ECE+CWR is a normal ECN-setup SYN, and a null scan stays one with them.
constexpr TcpProbe classify_tcp_flags(uint8_t flags) {
    using namespace tcpf;
    uint8_t f = flags & (tcp_fin | tcp_syn | tcp_rst | tcp_psh | tcp_ack | tcp_urg);
    if (f == 0)
        return TcpProbe::null_scan;
    if ((f & (tcp_syn | tcp_fin)) == (tcp_syn | tcp_fin))
        return TcpProbe::syn_fin;
    if ((f & (tcp_syn | tcp_rst)) == (tcp_syn | tcp_rst))
        return TcpProbe::syn_rst;
    if (f & (tcp_syn | tcp_ack))
        return TcpProbe::normal;
    if (f & tcp_fin) {
        if (f == tcp_fin)
            return TcpProbe::fin_scan;
        if (f == (tcp_fin | tcp_psh | tcp_urg))
            return TcpProbe::xmas_scan;
        return TcpProbe::fin_no_ack;
    }
    if (f & tcp_rst)
        return TcpProbe::normal; // a reset need not acknowledge anything
    return TcpProbe::other_invalid;
}

// Counts, per source, the distinct destination hosts and destination ports of its new
// connection attempts in a tumbling window that starts at the first contact. Distinct counts
// are estimated by linear counting over a 512-bit bitmap each (about 4% standard error up to
// 400 distinct values; estimates stay meaningful up to about 2000, beyond which the bitmap
// saturates and reads as "infinitely many").
class ScanDetector {
public:
    static constexpr uint32_t bitmap_bits = 512;
    static constexpr uint32_t max_capacity = 1u << 22;
    static constexpr uint32_t probe_limit = 8; // slots looked at per source
    static constexpr uint32_t saturated = ~0u; // the estimate of a full bitmap

    enum class Scan : uint8_t { none, horizontal, vertical };

    struct Estimate {
        uint32_t hosts = 0, ports = 0;
    };

    // capacity is rounded up to a power of two (1 .. max_capacity). The seed keeps both the
    // table slots and the bitmap bits unpredictable from outside; pass a random value.
    explicit ScanDetector(uint32_t capacity, uint64_t seed = 0);

    // For every new connection attempt of src (a packet that matched no flow). Addresses are
    // uint32_t[4] in network order, family 4 or 6 (anything but 6 is taken as 4; IPv4 uses
    // [0] only). Returns horizontal when the distinct hosts reach hosts_threshold, vertical
    // when the distinct ports reach ports_threshold, each at most once per window (both at
    // once: horizontal now, vertical on the next contact). A threshold of 0 turns its kind
    // off. A source that finds no room is not tracked and counted in table_full().
    Scan contact(const uint32_t src[4], uint8_t family, const uint32_t dst[4],
                 uint16_t dport_host_order, uint32_t hosts_threshold, uint32_t ports_threshold,
                 uint32_t window_ms, uint64_t now_ms);

    // The estimates of the source's running window; zeros when untracked or expired. For the
    // control plane and tests.
    Estimate estimate(const uint32_t src[4], uint8_t family, uint32_t window_ms,
                      uint64_t now_ms) const;

    uint64_t table_full() const { return _table.table_full(); }
    uint32_t capacity() const { return _table.capacity(); }

private:
    static constexpr uint32_t words = bitmap_bits / 64;
    static constexpr uint8_t reported_horizontal = 1, reported_vertical = 2;

    // family 0 marks a slot never used (see BoundedTable); a slot is taken over once its
    // window is over.
    struct Entry {
        uint64_t hosts[words];
        uint64_t ports[words];
        uint64_t window_start_ms;
        uint32_t addr[4];
        uint16_t host_zeros, port_zeros; // clear bits left in each bitmap
        uint8_t family;
        uint8_t reported; // reported_* kinds raised in this window
    };

    static bool expired(const Entry &e, uint32_t window_ms, uint64_t now_ms) {
        return now_ms >= e.window_start_ms && now_ms - e.window_start_ms >= window_ms;
    }
    static void start_window(Entry &e, uint64_t now_ms);
    Entry *find_or_insert(const AddrKey &k, uint32_t window_ms, uint64_t now_ms);

    BoundedTable<Entry> _table;
    uint64_t _host_seed = 0, _port_seed = 0;
    // _estimate[z]: round(-m ln(z / m)) for a bitmap of m bits with z clear; saturated for 0.
    std::array<uint32_t, bitmap_bits + 1> _estimate{};
};

} // namespace qorgan::dp

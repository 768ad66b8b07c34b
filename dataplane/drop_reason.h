// SPDX-License-Identifier: GPL-2.0-or-later
// Every reason the dataplane drops a packet, with the name shown in counters.
// One list (an X-macro) so the enum, the names and the telemetry stay in step.
#pragma once

#include <cstdint>
#include <string_view>

namespace qorgan::dp {

#define QORGAN_DROP_REASONS(X)                                                                     \
    /* parse: L2 */                                                                                \
    X(eth_truncated, "eth-truncated")                                                              \
    X(multi_segment, "multi-segment")                                                              \
    X(vlan_truncated, "vlan-truncated")                                                            \
    X(unsupported_ethertype, "unsupported-ethertype")                                              \
    X(arp_malformed, "arp-malformed")                                                              \
    /* parse: IPv4 */                                                                              \
    X(ipv4_truncated, "ipv4-truncated")                                                            \
    X(ipv4_bad_version, "ipv4-bad-version")                                                        \
    X(ipv4_bad_ihl, "ipv4-bad-ihl")                                                                \
    X(ipv4_bad_total_length, "ipv4-bad-total-length")                                              \
    X(ipv4_bad_checksum, "ipv4-bad-checksum")                                                      \
    X(ipv4_bad_options, "ipv4-bad-options")                                                        \
    /* parse: IPv6 */                                                                              \
    X(ipv6_truncated, "ipv6-truncated")                                                            \
    X(ipv6_bad_version, "ipv6-bad-version")                                                        \
    X(ipv6_bad_payload_length, "ipv6-bad-payload-length")                                          \
    X(ipv6_bad_ext_header, "ipv6-bad-ext-header")                                                  \
    X(ipv6_ext_chain_too_long, "ipv6-ext-chain-too-long")                                          \
    /* parse: L4 */                                                                                \
    X(tcp_truncated, "tcp-truncated")                                                              \
    X(tcp_bad_data_offset, "tcp-bad-data-offset")                                                  \
    X(udp_truncated, "udp-truncated")                                                              \
    X(udp_bad_length, "udp-bad-length")                                                            \
    X(icmp_truncated, "icmp-truncated")                                                            \
    X(icmpv6_truncated, "icmpv6-truncated")                                                        \
    /* local delivery */                                                                           \
    X(local_unhandled, "local-unhandled")                                                          \
    X(nd_malformed, "nd-malformed")                                                                \
    X(slowpath_ring_full, "slowpath-ring-full")                                                    \
    /* policy */                                                                                   \
    X(rule_drop, "rule-drop")                                                                      \
    X(rule_reject, "rule-reject")                                                                  \
    X(default_deny, "default-deny")                                                                \
    X(tcp_no_session, "tcp-no-session")                                                            \
    X(tcp_out_of_window, "tcp-out-of-window")                                                      \
    X(flow_table_full, "flow-table-full")                                                          \
    X(tcp_invalid, "tcp-invalid-state")                                                            \
    /* forwarding */                                                                               \
    X(no_route, "no-route")                                                                        \
    X(ttl_exceeded, "ttl-exceeded")                                                                \
    X(mtu_exceeded, "mtu-exceeded")                                                                \
    X(multicast, "multicast-unhandled")                                                            \
    X(neighbor_unresolved, "neighbor-unresolved")                                                  \
    X(port_down, "port-down")                                                                      \
    X(tx_full, "tx-full")                                                                          \
    X(icmp_rate_limited, "icmp-rate-limited")                                                      \
    X(mbuf_exhausted, "mbuf-exhausted")

enum class DropReason : uint16_t {
#define X(id, name) id,
    QORGAN_DROP_REASONS(X)
#undef X
        count
};

inline constexpr unsigned drop_reason_count = static_cast<unsigned>(DropReason::count);

constexpr std::string_view drop_reason_name(DropReason r) {
    switch (r) {
#define X(id, name)                                                                                \
    case DropReason::id:                                                                           \
        return name;
        QORGAN_DROP_REASONS(X)
#undef X
    case DropReason::count:
        break;
    }
    return "unknown";
}

} // namespace qorgan::dp

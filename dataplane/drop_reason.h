// SPDX-License-Identifier: GPL-2.0-or-later
// Every reason the dataplane drops a packet, with the name shown in counters (telemetry
// keys allow only letters, digits, '_' and '/', so names are the identifiers).
// One list (an X-macro) so the enum, the names and the telemetry stay in step.
#pragma once

#include <cstdint>
#include <string_view>

namespace qorgan::dp {

#define QORGAN_DROP_REASONS(X)                                                                     \
    /* parse: L2 */                                                                                \
    X(eth_truncated, "eth_truncated")                                                              \
    X(multi_segment, "multi_segment")                                                              \
    X(vlan_truncated, "vlan_truncated")                                                            \
    X(unsupported_ethertype, "unsupported_ethertype")                                              \
    X(arp_malformed, "arp_malformed")                                                              \
    /* parse: IPv4 */                                                                              \
    X(ipv4_truncated, "ipv4_truncated")                                                            \
    X(ipv4_bad_version, "ipv4_bad_version")                                                        \
    X(ipv4_bad_ihl, "ipv4_bad_ihl")                                                                \
    X(ipv4_bad_total_length, "ipv4_bad_total_length")                                              \
    X(ipv4_bad_checksum, "ipv4_bad_checksum")                                                      \
    X(ipv4_bad_options, "ipv4_bad_options")                                                        \
    /* parse: IPv6 */                                                                              \
    X(ipv6_truncated, "ipv6_truncated")                                                            \
    X(ipv6_bad_version, "ipv6_bad_version")                                                        \
    X(ipv6_bad_payload_length, "ipv6_bad_payload_length")                                          \
    X(ipv6_bad_ext_header, "ipv6_bad_ext_header")                                                  \
    X(ipv6_ext_chain_too_long, "ipv6_ext_chain_too_long")                                          \
    /* parse: L4 */                                                                                \
    X(tcp_truncated, "tcp_truncated")                                                              \
    X(tcp_bad_data_offset, "tcp_bad_data_offset")                                                  \
    X(udp_truncated, "udp_truncated")                                                              \
    X(udp_bad_length, "udp_bad_length")                                                            \
    X(icmp_truncated, "icmp_truncated")                                                            \
    X(icmpv6_truncated, "icmpv6_truncated")                                                        \
    /* local delivery */                                                                           \
    X(local_unhandled, "local_unhandled")                                                          \
    X(nd_malformed, "nd_malformed")                                                                \
    X(slowpath_ring_full, "slowpath_ring_full")                                                    \
    /* policy */                                                                                   \
    X(rule_drop, "rule_drop")                                                                      \
    X(rule_reject, "rule_reject")                                                                  \
    X(default_deny, "default_deny")                                                                \
    X(tcp_no_session, "tcp_no_session")                                                            \
    X(tcp_out_of_window, "tcp_out_of_window")                                                      \
    X(flow_table_full, "flow_table_full")                                                          \
    X(tcp_invalid, "tcp_invalid")                                                                  \
    /* forwarding */                                                                               \
    X(no_route, "no_route")                                                                        \
    X(ttl_exceeded, "ttl_exceeded")                                                                \
    X(mtu_exceeded, "mtu_exceeded")                                                                \
    X(multicast, "multicast")                                                                      \
    X(neighbor_unresolved, "neighbor_unresolved")                                                  \
    X(port_down, "port_down")                                                                      \
    X(tx_full, "tx_full")                                                                          \
    X(icmp_rate_limited, "icmp_rate_limited")                                                      \
    X(mbuf_exhausted, "mbuf_exhausted")                                                            \
    /* NAT44 */                                                                                    \
    X(nat_no_mapping, "nat_no_mapping")                                                            \
    X(nat_pool_exhausted, "nat_pool_exhausted")                                                    \
    X(nat_source_limit, "nat_source_limit")                                                        \
    X(nat_unsupported, "nat_unsupported")                                                          \
    X(nat_collision, "nat_collision")                                                              \
    X(nat_bad_inner_checksum, "nat_bad_inner_checksum")                                            \
    X(nat_rewrite_failed, "nat_rewrite_failed")                                                    \
    X(nat_handoff_full, "nat_handoff_full")                                                        \
    X(nat_fragment_unknown, "nat_fragment_unknown")                                                \
    /* attack protection (security screen, docs/SCREEN.md) */                                      \
    X(martian_source, "martian_source")                                                            \
    X(bogon_source, "bogon_source")                                                                \
    X(land, "land")                                                                                \
    X(spoofed_own_address, "spoofed_own_address")                                                  \
    X(urpf_fail, "urpf_fail")                                                                      \
    X(tcp_bad_flags, "tcp_bad_flags")                                                              \
    X(ip_source_route, "ip_source_route")                                                          \
    X(ip_record_route, "ip_record_route")                                                          \
    X(syn_flood, "syn_flood")                                                                      \
    X(syn_cookie_sent, "syn_cookie_sent")                                                          \
    X(syn_cookie_verified, "syn_cookie_verified")                                                  \
    X(source_rate, "source_rate")                                                                  \
    X(source_concurrent, "source_concurrent")                                                      \
    X(icmp_flood, "icmp_flood")                                                                    \
    X(udp_flood, "udp_flood")                                                                      \
    X(source_blocked, "source_blocked")                                                            \
    /* fragments (reassembly) and IPv6 extension header chains */                                  \
    X(frag_overlap, "frag_overlap")                                                                \
    X(frag_tiny, "frag_tiny")                                                                      \
    X(frag_table_full, "frag_table_full")                                                          \
    X(frag_too_big, "frag_too_big")                                                                \
    X(frag_timeout, "frag_timeout")                                                                \
    X(frag_malformed, "frag_malformed")                                                            \
    X(ipv6_ext_order, "ipv6_ext_order")                                                            \
    X(ipv6_frag_chain_incomplete, "ipv6_frag_chain_incomplete")                                    \
    /* category blocking (R134-1, R133-1) */                                                       \
    X(category_blocked, "category_blocked")                                                        \
    /* IPsec (docs/IPSEC.md, R128-h, R139-3) */                                                    \
    X(ipsec_no_sa, "ipsec_no_sa")                                                                  \
    X(ipsec_unknown_spi, "ipsec_unknown_spi")                                                      \
    X(ipsec_wrong_peer, "ipsec_wrong_peer")                                                        \
    X(ipsec_inbound, "ipsec_inbound")                                                              \
    X(ipsec_outbound, "ipsec_outbound")                                                            \
    X(ipsec_policy_mismatch, "ipsec_policy_mismatch")                                              \
    X(ipsec_clear_text, "ipsec_clear_text")                                                        \
    /* the exception path (IKE to and from the host kernel, docs/IPSEC.md) */                      \
    X(exception_no_tun, "exception_no_tun")                                                        \
    X(exception_tun_full, "exception_tun_full")                                                    \
    X(exception_tun_error, "exception_tun_error")                                                  \
    X(exception_malformed, "exception_malformed")                                                  \
    X(exception_foreign_source, "exception_foreign_source")                                        \
    X(exception_no_route, "exception_no_route")

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

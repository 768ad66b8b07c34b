// SPDX-License-Identifier: GPL-2.0-or-later
// Bounds-checked parsing of Ethernet, 802.1Q, ARP, IPv4 (with options), IPv6 (with
// extension headers), TCP, UDP, ICMP and ICMPv6 into a PacketMeta. Reads nothing
// outside [frame, frame + len). Pure functions on bytes: no mbuf, no EAL.
#pragma once

#include "dataplane/drop_reason.h"
#include "dataplane/flow_key.h"
#include "dataplane/packet_meta.h"

#include <cstdint>
#include <optional>

namespace qorgan::dp {

// Parses one frame of len bytes (all headers must lie in these bytes).
// Returns nullopt when the frame is well formed, or the reason to drop it. Besides
// malformed headers it refuses: IPv6 extension headers out of RFC 8200 order or repeated
// (ipv6_ext_order); an IPv6 first fragment without the whole header chain and
// upper-layer header (RFC 7112, ipv6_frag_chain_incomplete); IPv4 tiny TCP fragments
// (RFC 1858, frag_tiny). IPv4 source/record route options are only reported in flags.
std::optional<DropReason> parse_frame(const uint8_t *frame, uint32_t len, PacketMeta &meta);

// True for ICMP/ICMPv6 error types (dest unreachable, time exceeded, param problem,
// packet too big, source quench/redirect excluded).
bool is_icmp_error(const PacketMeta &meta);

// For an ICMP/ICMPv6 error whose meta came from parse_frame, extracts the flow key of
// the embedded (offending) packet as its sender originally sent it. Bounds-checked;
// returns false when the embedded header is too short or malformed.
bool icmp_error_inner_key(const uint8_t *frame, uint32_t len, const PacketMeta &meta,
                          FlowKey &inner);

// Internet checksum helpers (RFC 1071); sums are folded and complemented by the caller.
uint32_t csum_partial(const uint8_t *data, uint32_t len, uint32_t sum);
uint16_t csum_fold(uint32_t sum); // returns ~folded, ready to store (network order bytes)

} // namespace qorgan::dp

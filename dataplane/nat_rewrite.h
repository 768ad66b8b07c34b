// SPDX-License-Identifier: GPL-2.0-or-later
// NAT44 packet rewriting (R128-d static NAT, R90-1-6 NAPT, R139-10-1): address/port
// translation with RFC 1624 incremental checksum updates, ICMP error translation of the
// embedded packet (RFC 5508) and TCP MSS clamping. Pure functions on bytes for the hot path:
// no allocation, no exceptions, no system calls, no logging; nothing outside
// [frame, frame + len) is read or written.
#pragma once

#include "dataplane/packet_meta.h"

#include <cstdint>

namespace qorgan::dp {

// RFC 1624 eqn. 3: the checksum field after a 16-bit / 32-bit word of the covered data
// changed from old_v to new_v (all values as stored, network order).
uint16_t csum_replace16(uint16_t csum, uint16_t old_v, uint16_t new_v);
uint16_t csum_replace32(uint16_t csum, uint32_t old_v, uint32_t new_v);

enum class NatRewrite : uint8_t { ok, not_ipv4, truncated, bad_inner_checksum, bad_inner };

// Rewrites one end of an IPv4 packet parsed by parse_frame: the source (source=true) or
// destination address to new_addr and, for TCP/UDP, that end's port (ICMP echo request/reply:
// the identifier) to new_port (both network order). IPv4 header checksum and the L4 checksum
// (TCP, UDP unless its checksum is 0 — a zero UDP checksum stays 0 — , ICMP echo id) are
// updated incrementally; meta is updated too (src/dst, sport/dport). A later fragment
// (meta_later_fragment) has no L4 header: only the IP header changes. A first fragment has the
// L4 header but not the whole payload: the incremental update is still right (it is why
// incremental updates are used). Other protocols (and ICMP other than echo) get only the
// address changed; new_port is ignored for them. The IP header, fragment offset and protocol
// are read from the frame itself (only meta.l3 and meta.l3_offset are trusted), so a stale
// meta cannot make it write out of bounds. Nothing is changed unless ok is returned.
NatRewrite nat_rewrite_ipv4(uint8_t *frame, uint32_t len, PacketMeta &meta, bool source,
                            uint32_t new_addr, uint16_t new_port);

// ICMP errors (RFC 5508): an error about a translated packet carries that packet's IP header
// and at least 8 bytes of its L4 header. Translates, in the embedded packet, the end given
// (inner_source=true: the embedded source, which is the case for an error coming back to a
// source-NATed flow) to new_addr/new_port, fixing the embedded IP header checksum and, where
// the embedded L4 checksum lies within the quoted bytes, the embedded L4 checksum (UDP: at
// offset 6; TCP: offset 16 — often not quoted: then leave it; ICMP echo: id and checksum),
// then the ICMP checksum over the whole ICMP message (incrementally, as it covers the
// embedded bytes). The embedded IP header checksum is VERIFIED first: a bad one returns
// bad_inner_checksum and changes nothing (the caller drops and counts). Other failures
// change nothing either: not_ipv4 (meta is not IPv4), bad_inner (meta is not an ICMP error,
// or the embedded header is not IPv4 / has IHL < 5), truncated (fewer bytes quoted than the
// embedded IP header, or fewer than 8 of a TCP/UDP/ICMP-echo header). The OUTER header is not
// touched here (the caller rewrites the outer destination with
// nat_rewrite_ipv4(source=false, ..., port ignored for ICMP errors)).
NatRewrite nat_rewrite_icmp_error_inner(uint8_t *frame, uint32_t len, const PacketMeta &meta,
                                        bool inner_source, uint32_t new_addr, uint16_t new_port);

// TCP MSS clamping: if the segment is a SYN (or SYN-ACK) with an MSS option larger than
// max_mss (host order), lower it and update the TCP checksum incrementally. Returns true when
// changed. Options are walked bounds-checked (EOL, NOP, lengths; a malformed option list,
// including an MSS option whose length is not 4: no change). IPv4 or IPv6; not for a later
// fragment (no TCP header there).
bool tcp_clamp_mss(uint8_t *frame, uint32_t len, const PacketMeta &meta, uint16_t max_mss);

} // namespace qorgan::dp

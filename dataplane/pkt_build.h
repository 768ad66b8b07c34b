// SPDX-License-Identifier: GPL-2.0-or-later
// Builders for the packets the gateway answers with itself: ARP replies and requests,
// IPv6 neighbour solicitations/advertisements, echo replies, ICMP/ICMPv6 errors and
// TCP RSTs. They write into a caller-provided buffer and return the frame length
// (0 when the buffer is too small or the input is unsuitable). Pure byte functions.
#pragma once

#include "dataplane/packet_meta.h"

#include <array>
#include <cstdint>

namespace qorgan::dp {

using Mac = std::array<uint8_t, 6>;

// ARP ------------------------------------------------------------------------------
struct ArpInfo {
    uint16_t op; // 1 request, 2 reply
    Mac sender_mac;
    uint32_t sender_ip; // network order
    Mac target_mac;
    uint32_t target_ip; // network order
};
// Reads an Ethernet/ARP (IPv4 over Ethernet) frame; false if it is not one.
bool arp_read(const uint8_t *frame, uint32_t len, const PacketMeta &meta, ArpInfo &out);
// Builds an ARP frame (untagged). For a request target_mac is zero and dst is broadcast.
uint32_t arp_build(uint8_t *buf, uint32_t cap, uint16_t op, const Mac &src_mac, uint32_t src_ip,
                   const Mac &dst_mac, uint32_t dst_ip);

// IPv6 neighbour discovery -----------------------------------------------------------
struct NdInfo {
    uint8_t type; // 135 NS, 136 NA
    uint8_t target[16];
    bool has_lladdr; // source (NS) or target (NA) link-layer address option
    Mac lladdr;
    uint8_t src[16];   // IPv6 source of the packet
    uint32_t na_flags; // NA: R/S/O bits as on the wire (host order of the first word)
};
// Validates an NS/NA (hop limit 255, code 0, checksum, length, options) and reads it.
bool nd_read(const uint8_t *frame, uint32_t len, const PacketMeta &meta, NdInfo &out);
// Neighbour advertisement from our_ip/our_mac to dst (solicited, override, router flags set).
uint32_t nd_build_na(uint8_t *buf, uint32_t cap, const Mac &our_mac, const uint8_t our_ip[16],
                     const Mac &dst_mac, const uint8_t dst_ip[16], bool solicited);
// Neighbour solicitation for target, sent to its solicited-node multicast address.
uint32_t nd_build_ns(uint8_t *buf, uint32_t cap, const Mac &our_mac, const uint8_t our_ip[16],
                     const uint8_t target[16]);

// In-place replies (the frame is rewritten and keeps its length) ----------------------
// Turns an ICMP echo request (v4) or ICMPv6 echo request into the reply: swaps MACs and
// addresses, sets the type, fixes checksums, resets TTL/hop limit to 64.
// False if meta is not an echo request.
bool echo_reply_in_place(uint8_t *frame, uint32_t len, const PacketMeta &meta);

// Errors and resets, built into a new buffer from the offending frame -------------------
// ICMP error (v4: type/code, e.g. 3/13 admin prohibited, 11/0 TTL exceeded) or ICMPv6
// error (1/1 admin prohibited, 3/0 hop limit exceeded), from src_ip (our address on the
// interface) back to the offender's source, quoting as much of the offending IP packet as
// RFC 1812 (v4: header + 8 bytes... up to 576 total) or RFC 4443 (up to 1280 total)
// allows. MACs: the frame goes back to the offender's source MAC from our_mac.
// src_ip is 4 or 16 bytes depending on meta.l3. Returns 0 for packets that must not
// draw an error (RFC 1812 4.3.2.7 / RFC 4443 2.4(e)): ICMP errors, multicast or
// broadcast destinations, non-first fragments, unspecified or multicast sources.
uint32_t icmp_error_build(uint8_t *buf, uint32_t cap, const uint8_t *frame, uint32_t len,
                          const PacketMeta &meta, uint8_t type, uint8_t code, const Mac &our_mac,
                          const uint8_t *src_ip);
// TCP RST answering the offending segment (RFC 9293 3.10.7.1): if it had ACK, seq = its
// ack; otherwise seq 0 with ACK of seq + len (+1 for SYN, +1 for FIN). Sent back to the
// offender from the address it targeted. Returns 0 if the segment itself was a RST.
uint32_t tcp_rst_build(uint8_t *buf, uint32_t cap, const uint8_t *frame, uint32_t len,
                       const PacketMeta &meta, const Mac &our_mac);

// The SYN-ACK of the SYN-flood defence (dataplane/syncookie.h) answering a SYN: from the
// address and port the SYN targeted back to its sender's MAC, with `cookie` as its
// acknowledgment number (deliberately not SEG.SEQ + 1) and no options. Returns 0 if the
// segment is not a SYN without ACK, is a fragment, or the buffer is too small.
uint32_t tcp_synack_cookie_build(uint8_t *buf, uint32_t cap, const uint8_t *frame, uint32_t len,
                                 const PacketMeta &meta, const Mac &our_mac, uint32_t cookie);

// Turns a TCP segment into a bare RST+ACK of the same connection, in place: the same
// addresses, ports, sequence and acknowledgment numbers, no options and no payload; the IP
// length, meta.l3_end and both checksums follow. Sent on towards the segment's destination,
// it resets that end (its sequence number is the one the destination expects next). Returns
// the new frame length, or 0 when the frame is not a whole TCP segment.
uint32_t tcp_to_rst_in_place(uint8_t *frame, uint32_t len, PacketMeta &meta);

// Forwarding rewrite ------------------------------------------------------------------
// Decrements TTL (incremental IPv4 header checksum, RFC 1624) or the hop limit.
// Caller has checked ttl > 1.
void ip_decrement_ttl(uint8_t *frame, const PacketMeta &meta);

} // namespace qorgan::dp

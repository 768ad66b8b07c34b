// SPDX-License-Identifier: GPL-2.0-or-later
// SYN cookies for the SYN-flood defence (R128-e, docs/SCREEN.md), stateless as cookies must
// be. When a destination has more half-open connections than its zone allows, a SYN from a
// source not yet proven real is not forwarded and creates no state: the gateway answers it
// with a SYN-ACK whose acknowledgment number is a cookie, a keyed hash (SipHash-2-4) of the
// connection's addresses and ports and a 64-second time slot. That acknowledgment is
// deliberately not the one the client expects, so a real client's stack answers it with a
// RST carrying the cookie as its sequence number (RFC 9293 3.10.7.3, SYN-SENT: "If SEG.ACK
// =< ISS or SEG.ACK > SND.NXT, send a reset <SEQ=SEG.ACK><CTL=RST>") and stays in SYN-SENT:
// it retransmits its SYN (Linux at once, others after their RTO). A RST that carries a valid
// cookie proves the source address answers; the source is then admitted for a while and its
// retransmitted SYN opens the connection end to end, with all its TCP options intact. A
// spoofed source never answers and never costs a table entry.
#pragma once

#include "dataplane/flow_key.h"
#include "dataplane/packet_meta.h"

#include <cstdint>

namespace qorgan::dp {

// SipHash-2-4 (Aumasson and Bernstein) of `len` bytes under a 128-bit key.
uint64_t siphash24(const uint8_t key[16], const uint8_t *data, uint32_t len);

class SynCookies {
public:
    static constexpr uint64_t slot_ms = 64000; // a cookie stays valid for one to two slots

    explicit SynCookies(const uint8_t key[16]);
    // The cookie for a SYN of `syn` (its key as the client sent it, `isn` its sequence
    // number) at now_ms; never isn + 1, the acknowledgment the client would accept.
    uint32_t make(const FlowKey &syn, uint32_t isn, uint64_t now_ms) const;
    // Whether `value` (a RST's sequence number) is the cookie of the connection whose client
    // sent `syn`, made in this slot or the one before.
    bool check(const FlowKey &syn, uint32_t value, uint64_t now_ms) const;

private:
    uint32_t hash(const FlowKey &syn, uint64_t slot) const;
    uint8_t _key[16];
};

// Reads the sequence number of a TCP segment (meta from parse_frame); 0 if not TCP.
uint32_t tcp_seq_of(const uint8_t *frame, const PacketMeta &meta);

} // namespace qorgan::dp

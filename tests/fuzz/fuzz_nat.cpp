// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for NAT44 rewriting: on any frame parse_frame accepts as IPv4, the
// rewrites must stay inside the frame (ASan), keep a valid header valid, and keep a valid
// L4 checksum valid (the incremental update must equal a fresh computation).
#include "dataplane/nat_rewrite.h"
#include "dataplane/parse.h"

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace qorgan::dp;

namespace {

constexpr uint8_t proto_icmp = 1;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t proto_udp = 17;

// Whether the L4 checksum of a whole (unfragmented) TCP/UDP/ICMP packet verifies; a zero
// UDP checksum counts as "not checked".
bool l4_checksum_valid(const uint8_t *frame, const PacketMeta &m) {
    const uint8_t *ip = frame + m.l3_offset;
    const uint8_t *l4 = frame + m.l4_offset;
    const uint32_t n = m.l3_end - m.l4_offset;
    uint32_t sum = 0;
    if (m.proto == proto_tcp || m.proto == proto_udp) {
        uint8_t ph[12] = {};
        std::memcpy(ph, ip + 12, 8);
        ph[9] = m.proto;
        ph[10] = static_cast<uint8_t>(n >> 8);
        ph[11] = static_cast<uint8_t>(n);
        sum = csum_partial(ph, sizeof(ph), 0);
    }
    return csum_fold(csum_partial(l4, n, sum)) == 0;
}

bool checked_l4(const uint8_t *frame, const PacketMeta &m) {
    if ((m.flags & meta_fragment) != 0) {
        return false;
    }
    if (m.proto == proto_udp) {
        return frame[m.l4_offset + 6] != 0 || frame[m.l4_offset + 7] != 0;
    }
    return m.proto == proto_tcp || m.proto == proto_icmp;
}

// Derives the translation from the input so the fuzzer steers it too.
uint32_t pick32(const uint8_t *data, size_t size, size_t at) {
    uint32_t v = 0x0a000005u;
    for (size_t i = 0; i < 4 && at + i < size; ++i) {
        v = (v << 8) ^ data[size - 1 - at - i];
    }
    return v;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 0xffff) {
        return 0;
    }
    // Exactly sized heap copies: a one-byte overrun is an ASan heap-buffer-overflow.
    const std::vector<uint8_t> frame(data, data + size);
    const auto len = static_cast<uint32_t>(size);
    PacketMeta meta;
    if (parse_frame(frame.data(), len, meta).has_value() || meta.l3 != L3Kind::ipv4) {
        return 0;
    }
    const uint32_t new_addr = pick32(data, size, 0);
    const auto new_port = static_cast<uint16_t>(pick32(data, size, 4));
    const bool l4_was_valid =
        checked_l4(frame.data(), meta) && l4_checksum_valid(frame.data(), meta);

    for (bool source : {true, false}) {
        std::vector<uint8_t> copy = frame;
        PacketMeta m = meta;
        if (nat_rewrite_ipv4(copy.data(), len, m, source, new_addr, new_port) != NatRewrite::ok) {
            std::abort(); // parse_frame accepted it: every check must pass
        }
        PacketMeta re;
        if (parse_frame(copy.data(), len, re).has_value() ||
            (source ? re.src[0] : re.dst[0]) != new_addr || re.sport != m.sport ||
            re.dport != m.dport) {
            std::abort(); // the header stays valid and the meta matches a fresh parse
        }
        if (l4_was_valid && !l4_checksum_valid(copy.data(), re)) {
            std::abort(); // incremental update differs from a fresh checksum
        }
    }

    if (is_icmp_error(meta)) {
        std::vector<uint8_t> copy = frame;
        const NatRewrite r =
            nat_rewrite_icmp_error_inner(copy.data(), len, meta, size % 2 == 0, new_addr, new_port);
        const bool icmp_was_valid = l4_checksum_valid(frame.data(), meta);
        if (r != NatRewrite::ok) {
            if (copy != frame) {
                std::abort(); // a refusal changes nothing
            }
        } else {
            FlowKey k;
            if (!icmp_error_inner_key(copy.data(), len, meta, k) ||
                (size % 2 == 0 ? k.src[0] : k.dst[0]) != new_addr) {
                std::abort();
            }
            const uint8_t *q = copy.data() + meta.l4_offset + 8;
            if (csum_fold(csum_partial(q, (q[0] & 0x0f) * 4u, 0)) != 0) {
                std::abort(); // the embedded IP header checksum stays valid
            }
            if (icmp_was_valid && !l4_checksum_valid(copy.data(), meta)) {
                std::abort();
            }
        }
    }

    {
        std::vector<uint8_t> copy = frame;
        const auto max_mss = static_cast<uint16_t>(new_port & 0x7ff);
        if (tcp_clamp_mss(copy.data(), len, meta, max_mss)) {
            PacketMeta re;
            if (parse_frame(copy.data(), len, re).has_value() ||
                (l4_was_valid && !l4_checksum_valid(copy.data(), re))) {
                std::abort();
            }
        } else if (copy != frame) {
            std::abort();
        }
    }
    return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for the parser and the builders: any bytes must parse without reading
// outside the frame, and every frame a builder makes from them must re-parse cleanly.
#include "dataplane/parse.h"
#include "dataplane/pkt_build.h"

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace qorgan::dp;

namespace {

const Mac our_mac = {0x02, 0xaa, 0, 0, 0, 0x01};
const uint8_t our_v4[4] = {203, 0, 113, 1};
const uint8_t our_v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

void must_reparse(const uint8_t *buf, uint32_t n) {
    if (n == 0) {
        return;
    }
    // Exactly sized again, so the re-parse is bounds-checked too.
    std::vector<uint8_t> copy(buf, buf + n);
    PacketMeta m;
    if (parse_frame(copy.data(), n, m).has_value()) {
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 0xffff + 64) {
        return 0;
    }
    // Exactly sized heap copy: a one-byte over-read is an ASan heap-buffer-overflow.
    std::vector<uint8_t> frame(data, data + size);
    const uint32_t len = static_cast<uint32_t>(size);
    PacketMeta meta;
    if (parse_frame(frame.data(), len, meta).has_value()) {
        return 0;
    }
    if (meta.l3_end > len || meta.l4_offset > meta.l3_end) {
        std::abort(); // parse_frame promised a consistent meta
    }
    uint8_t out[1600];
    if (meta.l3 == L3Kind::arp) {
        ArpInfo arp{};
        if (!arp_read(frame.data(), len, meta, arp)) {
            std::abort(); // parse_frame accepted it as ARP
        }
        must_reparse(out, arp_build(out, sizeof(out), 2, our_mac, arp.target_ip, arp.sender_mac,
                                    arp.sender_ip));
        return 0;
    }
    const bool v6 = meta.l3 == L3Kind::ipv6;
    if (is_icmp_error(meta)) {
        FlowKey inner;
        (void)icmp_error_inner_key(frame.data(), len, meta, inner);
    }
    NdInfo nd{};
    if (v6 && nd_read(frame.data(), len, meta, nd)) {
        must_reparse(
            out, nd_build_na(out, sizeof(out), our_mac, our_v6, nd.lladdr, nd.src, nd.type == 135));
        must_reparse(out, nd_build_ns(out, sizeof(out), our_mac, our_v6, nd.target));
    }
    {
        std::vector<uint8_t> copy = frame;
        if (echo_reply_in_place(copy.data(), len, meta)) {
            must_reparse(copy.data(), len);
        }
    }
    const uint8_t code = static_cast<uint8_t>(len & 3);
    must_reparse(out, icmp_error_build(out, sizeof(out), frame.data(), len, meta, v6 ? 1 : 3, code,
                                       our_mac, v6 ? our_v6 : our_v4));
    // A too-small buffer must be refused, not overrun.
    std::vector<uint8_t> tiny(60);
    must_reparse(tiny.data(), icmp_error_build(tiny.data(), 60, frame.data(), len, meta, 11, 0,
                                               our_mac, v6 ? our_v6 : our_v4));
    must_reparse(out, tcp_rst_build(out, sizeof(out), frame.data(), len, meta, our_mac));
    if (meta.ttl > 1) {
        std::vector<uint8_t> copy = frame;
        ip_decrement_ttl(copy.data(), meta);
        PacketMeta after;
        if (parse_frame(copy.data(), len, after).has_value() || after.ttl != meta.ttl - 1) {
            std::abort(); // the incremental checksum must keep the header valid
        }
    }
    return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// Test frame factory: Ethernet + IPv4/IPv6 + TCP/UDP/ICMP frames with correct checksums,
// built from a plain description, for tests that feed whole frames to a stage.
#pragma once

#include <arpa/inet.h>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace qorgan::test {

using MacBytes = std::array<uint8_t, 6>;

struct FrameSpec {
    MacBytes src_mac{0x02, 0, 0, 0, 0, 0x11};
    MacBytes dst_mac{0x02, 0, 0, 0, 0, 0x01};
    int family = 4;
    std::string src = "198.18.1.11";
    std::string dst = "198.18.3.10";
    uint8_t proto = 6;
    uint16_t sport = 40000;
    uint16_t dport = 80;
    uint8_t tcp_flags = 0x02; // SYN
    uint32_t seq = 1000;
    uint32_t ack = 0;
    uint16_t window = 65535;
    uint8_t ttl = 64;
    uint8_t icmp_type = 8;
    uint8_t icmp_code = 0;
    uint16_t icmp_id = 7;
    size_t payload = 0;
    std::vector<uint8_t> data; // the payload itself, when not empty (payload is then ignored)
};

// A frame from src_mac to dst_mac (the gateway's port), from src to dst; the family follows
// the notation of src.
inline FrameSpec frame_between(const MacBytes &src_mac, const MacBytes &dst_mac,
                               const std::string &src, const std::string &dst, uint8_t proto,
                               uint16_t sport, uint16_t dport) {
    FrameSpec f;
    f.src_mac = src_mac;
    f.dst_mac = dst_mac;
    f.family = src.find(':') == std::string::npos ? 4 : 6;
    f.src = src;
    f.dst = dst;
    f.proto = proto;
    f.sport = sport;
    f.dport = dport;
    return f;
}

inline uint32_t sum16(const uint8_t *p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += static_cast<uint32_t>(p[n - 1] << 8);
    return s;
}

inline uint16_t fold(uint32_t s) {
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s & 0xffff);
}

inline void put16(uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

inline std::vector<uint8_t> build_frame(const FrameSpec &f) {
    size_t ip_hdr = f.family == 4 ? 20 : 40;
    size_t l4_hdr = f.proto == 6 ? 20 : 8;
    size_t payload = f.data.empty() ? f.payload : f.data.size();
    size_t l4_len = l4_hdr + payload;
    std::vector<uint8_t> b(14 + ip_hdr + l4_len, 0);
    std::memcpy(&b[0], f.dst_mac.data(), 6);
    std::memcpy(&b[6], f.src_mac.data(), 6);
    put16(&b[12], f.family == 4 ? 0x0800 : 0x86dd);
    uint8_t *ip = &b[14];
    uint8_t src[16]{}, dst[16]{};
    int af = f.family == 4 ? AF_INET : AF_INET6;
    inet_pton(af, f.src.c_str(), src);
    inet_pton(af, f.dst.c_str(), dst);
    size_t alen = f.family == 4 ? 4 : 16;
    if (f.family == 4) {
        ip[0] = 0x45;
        put16(ip + 2, static_cast<uint16_t>(20 + l4_len));
        ip[8] = f.ttl;
        ip[9] = f.proto;
        std::memcpy(ip + 12, src, 4);
        std::memcpy(ip + 16, dst, 4);
        put16(ip + 10, fold(sum16(ip, 20)));
    } else {
        ip[0] = 0x60;
        put16(ip + 4, static_cast<uint16_t>(l4_len));
        ip[6] = f.proto;
        ip[7] = f.ttl;
        std::memcpy(ip + 8, src, 16);
        std::memcpy(ip + 24, dst, 16);
    }
    uint8_t *l4 = ip + ip_hdr;
    for (size_t i = 0; i < payload; i++)
        l4[l4_hdr + i] = f.data.empty() ? static_cast<uint8_t>('a' + i % 26) : f.data[i];
    if (f.proto == 6) {
        put16(l4, f.sport);
        put16(l4 + 2, f.dport);
        uint32_t seq = htonl(f.seq), ack = htonl(f.ack);
        std::memcpy(l4 + 4, &seq, 4);
        std::memcpy(l4 + 8, &ack, 4);
        l4[12] = 5 << 4;
        l4[13] = f.tcp_flags;
        put16(l4 + 14, f.window);
    } else if (f.proto == 17) {
        put16(l4, f.sport);
        put16(l4 + 2, f.dport);
        put16(l4 + 4, static_cast<uint16_t>(l4_len));
    } else {
        l4[0] = f.icmp_type;
        l4[1] = f.icmp_code;
        put16(l4 + 4, f.icmp_id);
        put16(l4 + 6, 1);
    }
    // L4 checksum (ICMPv4 has no pseudo-header).
    uint32_t s = 0;
    if (!(f.family == 4 && f.proto == 1)) {
        s = sum16(src, alen, s);
        s = sum16(dst, alen, s);
        s += f.proto;
        s += static_cast<uint32_t>(l4_len);
    }
    s = sum16(l4, l4_len, s);
    size_t off = f.proto == 6 ? 16 : f.proto == 17 ? 6 : 2;
    uint16_t c = fold(s);
    if (f.proto == 17 && c == 0)
        c = 0xffff;
    put16(l4 + off, c);
    return b;
}

// Cuts the IPv4 datagram of a frame (20-byte header) into fragments whose payloads have the
// given sizes (multiples of 8 but the last; the last takes the rest), IP identification id.
inline std::vector<std::vector<uint8_t>> fragment(const std::vector<uint8_t> &frame,
                                                  const std::vector<size_t> &sizes, uint16_t id) {
    std::vector<std::vector<uint8_t>> out;
    const uint8_t *ip = &frame[14];
    size_t payload = static_cast<size_t>(ip[2] << 8 | ip[3]) - 20u;
    size_t off = 0;
    for (size_t i = 0; i < sizes.size(); i++) {
        bool last = i + 1 == sizes.size();
        size_t n = last ? payload - off : sizes[i];
        std::vector<uint8_t> f(frame.begin(), frame.begin() + 34);
        f.insert(f.end(), frame.begin() + 34 + static_cast<long>(off),
                 frame.begin() + 34 + static_cast<long>(off + n));
        uint8_t *h = &f[14];
        put16(h + 2, static_cast<uint16_t>(20 + n));
        put16(h + 4, id);
        put16(h + 6, static_cast<uint16_t>((last ? 0 : 0x2000) | off / 8));
        put16(h + 10, 0);
        put16(h + 10, fold(sum16(h, 20)));
        out.push_back(std::move(f));
        off += n;
    }
    return out;
}

} // namespace qorgan::test

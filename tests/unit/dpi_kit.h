// SPDX-License-Identifier: GPL-2.0-or-later
// Protocol openings for the classifier tests: the first bytes real clients and servers
// send (SSH banners, a TLS ClientHello with SNI, a BitTorrent handshake, a DNS query, ...),
// and a conversation that hands them to an Inspector as TCP segments or UDP datagrams.
#pragma once

#include "classifiers/inspector.h"

#include <arpa/inet.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace qorgan::dpi::kit {

inline std::vector<uint8_t> bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

inline void put16(std::vector<uint8_t> &v, unsigned x) {
    v.push_back(uint8_t(x >> 8));
    v.push_back(uint8_t(x));
}

// A TLS 1.2 record with a ClientHello carrying SNI `host`.
inline std::vector<uint8_t> client_hello(const std::string &host) {
    std::vector<uint8_t> sni;
    put16(sni, 0x0000);
    put16(sni, unsigned(host.size() + 5));
    put16(sni, unsigned(host.size() + 3));
    sni.push_back(0);
    put16(sni, unsigned(host.size()));
    sni.insert(sni.end(), host.begin(), host.end());
    std::vector<uint8_t> body{0x03, 0x03};
    for (int i = 0; i < 32; i++)
        body.push_back(uint8_t(i * 7));
    body.push_back(0); // session id
    put16(body, 6);
    for (unsigned cs : {0x1301u, 0xc02fu, 0x009cu})
        put16(body, cs);
    body.push_back(1);
    body.push_back(0); // compression: null
    put16(body, unsigned(sni.size()));
    body.insert(body.end(), sni.begin(), sni.end());
    std::vector<uint8_t> hs{0x01, 0, uint8_t(body.size() >> 8), uint8_t(body.size())};
    hs.insert(hs.end(), body.begin(), body.end());
    std::vector<uint8_t> rec{0x16, 0x03, 0x01};
    put16(rec, unsigned(hs.size()));
    rec.insert(rec.end(), hs.begin(), hs.end());
    return rec;
}

// A DNS query for `name` (type A).
inline std::vector<uint8_t> dns_query(const std::string &name, uint16_t id = 0x1234) {
    std::vector<uint8_t> q;
    put16(q, id);
    put16(q, 0x0100);
    put16(q, 1);
    put16(q, 0);
    put16(q, 0);
    put16(q, 0);
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos)
            dot = name.size();
        q.push_back(uint8_t(dot - start));
        q.insert(q.end(), name.begin() + long(start), name.begin() + long(dot));
        start = dot + 1;
    }
    q.push_back(0);
    put16(q, 1);
    put16(q, 1);
    return q;
}

inline std::vector<uint8_t> bittorrent_handshake() {
    std::vector<uint8_t> v{19};
    std::string proto = "BitTorrent protocol";
    v.insert(v.end(), proto.begin(), proto.end());
    v.insert(v.end(), 8, 0);
    for (int i = 0; i < 40; i++)
        v.push_back(uint8_t('a' + i % 20));
    return v;
}

// Bytes no protocol starts with (a fixed pseudo-random sequence).
inline std::vector<uint8_t> noise(size_t n, uint32_t seed) {
    std::vector<uint8_t> v;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v.push_back(uint8_t(seed >> 16));
    }
    return v;
}

// One flow between 198.18.1.10 and 203.0.113.10 (or 2001:db8:: addresses), fed packet by
// packet to an Inspector. Every call returns what feed() returned.
struct Conversation {
    Inspector &in;
    const Module &mod;
    uint32_t budget;
    uint8_t proto;
    uint16_t sport, dport;
    uint8_t family = 4;
    uint32_t handle = 0;
    uint32_t src[4] = {}, dst[4] = {};
    uint32_t seq[2] = {1000, 90000};
    uint64_t now = 1000;
    std::optional<Detection> verdict;

    Conversation(Inspector &i, const Module &m, uint8_t p, uint16_t sp, uint16_t dp, uint32_t b = 8,
                 uint8_t fam = 4)
        : in(i), mod(m), budget(b), proto(p), sport(htons(sp)), dport(htons(dp)), family(fam) {
        handle = in.open();
        // A client address of its own: nDPI remembers peers across flows (its BitTorrent
        // cache files later flows between the same two hosts as BitTorrent).
        static unsigned next_client = 0;
        unsigned n = next_client++ % 250 + 2;
        if (fam == 4) {
            inet_pton(AF_INET, ("198.18.1." + std::to_string(n)).c_str(), src);
            inet_pton(AF_INET, "203.0.113.10", dst);
        } else {
            inet_pton(AF_INET6, ("2001:db8:1::" + std::to_string(n)).c_str(), src);
            inet_pton(AF_INET6, "2001:db8:3::10", dst);
        }
    }
    ~Conversation() { in.close(handle); }

    std::optional<Detection> packet(bool reply, const std::vector<uint8_t> &l4) {
        PacketView v;
        v.family = family;
        v.proto = proto;
        v.src = src;
        v.dst = dst;
        v.sport = sport;
        v.dport = dport;
        v.reply = reply;
        v.l4 = l4.data();
        v.l4_len = uint32_t(l4.size());
        v.now_ms = now++;
        auto r = in.feed(mod, handle, v, budget);
        if (r && !verdict)
            verdict = r;
        return r;
    }

    std::optional<Detection> tcp(bool reply, uint8_t flags, const uint8_t *data, size_t n,
                                 uint32_t seq_override = 0, bool use_override = false) {
        unsigned d = reply ? 1 : 0;
        std::vector<uint8_t> h(20, 0);
        uint16_t sp = reply ? dport : sport, dp = reply ? sport : dport;
        std::memcpy(&h[0], &sp, 2);
        std::memcpy(&h[2], &dp, 2);
        uint32_t s = htonl(use_override ? seq_override : seq[d]);
        uint32_t a = htonl(seq[d ^ 1]);
        std::memcpy(&h[4], &s, 4);
        std::memcpy(&h[8], &a, 4);
        h[12] = 5 << 4;
        h[13] = flags;
        h[14] = 0xff;
        h.insert(h.end(), data, data + n);
        if (!use_override)
            seq[d] += uint32_t(n) + ((flags & 0x03) ? 1 : 0);
        return packet(reply, h);
    }

    void handshake() {
        tcp(false, 0x02, nullptr, 0);
        tcp(true, 0x12, nullptr, 0);
        tcp(false, 0x10, nullptr, 0);
    }

    // Sends data from one side in segments of `chunk` bytes (0: one segment).
    std::optional<Detection> send(bool reply, const std::vector<uint8_t> &data, size_t chunk = 0) {
        if (proto != 6)
            return packet(reply, udp(reply, data));
        if (chunk == 0)
            chunk = data.size();
        std::optional<Detection> r;
        for (size_t off = 0; off < data.size() && !r; off += chunk)
            r = tcp(reply, 0x18, data.data() + off, std::min(chunk, data.size() - off));
        return r;
    }

    std::vector<uint8_t> udp(bool reply, const std::vector<uint8_t> &data) const {
        std::vector<uint8_t> h(8, 0);
        uint16_t sp = reply ? dport : sport, dp = reply ? sport : dport;
        std::memcpy(&h[0], &sp, 2);
        std::memcpy(&h[2], &dp, 2);
        uint16_t len = htons(uint16_t(8 + data.size()));
        std::memcpy(&h[4], &len, 2);
        h.insert(h.end(), data.begin(), data.end());
        return h;
    }
};

} // namespace qorgan::dpi::kit

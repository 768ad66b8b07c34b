// SPDX-License-Identifier: GPL-2.0-or-later
// SYN cookies; see syncookie.h.
#include "dataplane/syncookie.h"

#include <cstring>

namespace qorgan::dp {

namespace {

uint64_t rotl(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

uint64_t load64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i]; // little-endian, as the reference implementation reads
    return v;
}

void sipround(uint64_t &v0, uint64_t &v1, uint64_t &v2, uint64_t &v3) {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
}

} // namespace

uint64_t siphash24(const uint8_t key[16], const uint8_t *data, uint32_t len) {
    const uint64_t k0 = load64(key), k1 = load64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    const uint32_t whole = len - len % 8;
    for (uint32_t i = 0; i < whole; i += 8) {
        uint64_t m = load64(data + i);
        v3 ^= m;
        sipround(v0, v1, v2, v3);
        sipround(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = uint64_t(len) << 56;
    for (uint32_t i = 0; i < len % 8; i++)
        b |= uint64_t(data[whole + i]) << (8 * i);
    v3 ^= b;
    sipround(v0, v1, v2, v3);
    sipround(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        sipround(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

SynCookies::SynCookies(const uint8_t key[16]) {
    std::memcpy(_key, key, sizeof(_key));
}

uint32_t SynCookies::hash(const FlowKey &syn, uint64_t slot) const {
    uint8_t buf[sizeof(FlowKey) + 8];
    std::memcpy(buf, &syn, sizeof(FlowKey));
    std::memcpy(buf + sizeof(FlowKey), &slot, 8);
    return static_cast<uint32_t>(siphash24(_key, buf, sizeof(buf)));
}

uint32_t SynCookies::make(const FlowKey &syn, uint32_t isn, uint64_t now_ms) const {
    uint32_t c = hash(syn, now_ms / slot_ms);
    return c == isn + 1 ? c ^ 1 : c; // the one acknowledgment the client would accept
}

bool SynCookies::check(const FlowKey &syn, uint32_t value, uint64_t now_ms) const {
    uint64_t slot = now_ms / slot_ms;
    for (uint64_t back = 0; back < 2; back++) {
        uint32_t c = hash(syn, slot - back);
        if (value == c || value == (c ^ 1))
            return true;
    }
    return false;
}

uint32_t tcp_seq_of(const uint8_t *frame, const PacketMeta &meta) {
    if (meta.proto != 6 || (meta.flags & meta_later_fragment))
        return 0;
    const uint8_t *t = frame + meta.l4_offset;
    return uint32_t(t[4]) << 24 | uint32_t(t[5]) << 16 | uint32_t(t[6]) << 8 | t[7];
}

} // namespace qorgan::dp

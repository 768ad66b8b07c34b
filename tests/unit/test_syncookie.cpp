// SPDX-License-Identifier: GPL-2.0-or-later
// SYN cookies (R128-e): SipHash-2-4 against the reference vectors, cookies that verify only
// for their own connection and within their time, never the acknowledgment a client accepts.
#include "dataplane/syncookie.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>

using namespace qorgan::dp;

namespace {

const uint8_t key16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

FlowKey syn_key(uint32_t src = 0xc6336407, uint16_t sport = 40000) {
    FlowKey k{};
    k.src[0] = htonl(src);
    k.dst[0] = htonl(0xcb007132); // 203.0.113.50
    k.sport = htons(sport);
    k.dport = htons(80);
    k.proto = 6;
    k.family = 4;
    return k;
}

} // namespace

TEST(SipHash, ReferenceVectors) {
    // From the SipHash paper (Aumasson, Bernstein), appendix A, and its vectors.h.
    uint8_t msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(siphash24(key16, msg, 0), 0x726fdb47dd0e0e31ULL);
    EXPECT_EQ(siphash24(key16, msg, 15), 0xa129ca6149be45e5ULL);
    EXPECT_EQ(siphash24(key16, msg, 1), 0x74f839c593dc67fdULL);
    EXPECT_EQ(siphash24(key16, msg, 8), 0x93f5f5799a932462ULL);
}

TEST(SynCookies, VerifiesOnlyItsOwnConnection) {
    SynCookies c(key16);
    uint64_t now = 1'000'000;
    FlowKey k = syn_key();
    uint32_t cookie = c.make(k, 1000, now);
    EXPECT_TRUE(c.check(k, cookie, now));
    EXPECT_FALSE(c.check(k, cookie + 2, now));
    EXPECT_FALSE(c.check(k, cookie ^ 0x100, now));
    EXPECT_FALSE(c.check(syn_key(0xc6336408), cookie, now));        // another source
    EXPECT_FALSE(c.check(syn_key(0xc6336407, 40001), cookie, now)); // another port
    uint8_t other[16] = {1};
    EXPECT_FALSE(SynCookies(other).check(k, cookie, now)); // another key
}

TEST(SynCookies, ValidForOneToTwoSlots) {
    SynCookies c(key16);
    FlowKey k = syn_key();
    uint64_t t0 = 10 * SynCookies::slot_ms; // start of a slot
    uint32_t cookie = c.make(k, 5, t0);
    EXPECT_TRUE(c.check(k, cookie, t0 + SynCookies::slot_ms - 1));
    EXPECT_TRUE(c.check(k, cookie, t0 + 2 * SynCookies::slot_ms - 1));
    EXPECT_FALSE(c.check(k, cookie, t0 + 2 * SynCookies::slot_ms));
}

TEST(SynCookies, NeverTheAcknowledgmentTheClientWouldAccept) {
    SynCookies c(key16);
    FlowKey k = syn_key();
    uint64_t now = 77;
    uint32_t plain = c.make(k, 0, now);
    uint32_t isn = plain - 1; // a client whose ISN + 1 happens to equal the cookie
    uint32_t cookie = c.make(k, isn, now);
    EXPECT_NE(cookie, isn + 1);
    EXPECT_TRUE(c.check(k, cookie, now));
}

TEST(SynCookies, DistinctConnectionsGetDistinctCookies) {
    SynCookies c(key16);
    uint32_t same = 0;
    uint32_t prev = c.make(syn_key(0xc6336400, 1024), 0, 0);
    for (uint16_t p = 1025; p < 3025; p++) {
        uint32_t v = c.make(syn_key(0xc6336400, p), 0, 0);
        same += v == prev;
        prev = v;
    }
    EXPECT_EQ(same, 0u);
}

// SPDX-License-Identifier: GPL-2.0-or-later
// Per-source guard: token buckets (burst, refill, independence, large rates), the concurrent
// count, the timed block list, the bounded table (refusals fail open, idle slots are reused,
// block() evicts) and the event limiter.
#include "dataplane/src_guard.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

using qorgan::dp::BlockedSource;
using qorgan::dp::EventLimiter;
using qorgan::dp::GuardLimits;
using qorgan::dp::GuardVerdict;
using qorgan::dp::SourceGuard;

namespace {

struct Addr {
    uint32_t w[4];
    uint8_t family;
};

// 10.x.y.z for i < 2^24, as FlowKey holds it (network order in w[0]).
Addr v4(uint32_t i) {
    uint32_t host = (10u << 24) | (i & 0xffffff);
    return Addr{{__builtin_bswap32(host), 0, 0, 0}, 4};
}

Addr v6(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3) {
    return Addr{{w0, w1, w2, w3}, 6};
}

GuardLimits new_rate(uint32_t per_s, uint32_t burst) {
    GuardLimits l;
    l.new_per_s = per_s;
    l.new_burst = burst;
    return l;
}

// How many of `n` attempts at now_ms pass.
int passes(SourceGuard &g, const Addr &a, const GuardLimits &l, uint64_t now_ms, int n) {
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += g.new_connection(a.w, a.family, l, now_ms) == GuardVerdict::pass;
    return ok;
}

} // namespace

TEST(SourceGuard, RateLetsTheBurstThroughThenRefillsAtTheRate) {
    SourceGuard g(1024);
    Addr a = v4(1);
    GuardLimits l = new_rate(1000, 10); // one token per ms
    for (int i = 0; i < 10; i++)
        EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::pass) << i;
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::over_rate);
    EXPECT_EQ(passes(g, a, l, 5, 20), 5); // 5 ms later: exactly 5 more
    EXPECT_EQ(passes(g, a, l, 5, 1), 0);
    EXPECT_EQ(passes(g, a, l, 6, 20), 1);
    // A long pause refills to the burst, never beyond it.
    EXPECT_EQ(passes(g, a, l, 100'000, 50), 10);
}

TEST(SourceGuard, SlowRatesRefillWithoutLosingFractions) {
    SourceGuard g(16);
    Addr a = v4(1);
    // A token every 333.3 ms; a burst of 2 leaves room above one token for the fractions.
    GuardLimits l = new_rate(3, 2);
    EXPECT_EQ(passes(g, a, l, 0, 5), 2);
    EXPECT_EQ(passes(g, a, l, 333, 5), 0); // 999 millitokens
    EXPECT_EQ(passes(g, a, l, 334, 5), 1); // 1002
    // Calls at every ms keep the fractions: three tokens per second exactly.
    int got = 0;
    for (uint64_t t = 335; t < 1335; t++)
        got += passes(g, a, l, t, 1);
    EXPECT_EQ(got, 3);
}

TEST(SourceGuard, BurstZeroIsTakenAsOne) {
    SourceGuard g(16);
    Addr a = v4(1);
    EXPECT_EQ(passes(g, a, new_rate(1000, 0), 0, 5), 1);
    EXPECT_EQ(passes(g, a, new_rate(1000, 0), 10, 5), 1);
}

TEST(SourceGuard, AClockGoingBackwardsRefillsNothing) {
    SourceGuard g(16);
    Addr a = v4(1);
    GuardLimits l = new_rate(1000, 2);
    EXPECT_EQ(passes(g, a, l, 1000, 5), 2);
    EXPECT_EQ(passes(g, a, l, 500, 5), 0);
    EXPECT_EQ(passes(g, a, l, 1001, 5), 1); // one ms after the latest time seen
}

TEST(SourceGuard, ConcurrencyLimitCountsOpensAndCloses) {
    SourceGuard g(64);
    Addr a = v4(7);
    GuardLimits l;
    l.concurrent = 2;
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::pass);
    g.connection_opened(a.w, 4, 0);
    g.connection_opened(a.w, 4, 0);
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::over_concurrent);
    g.connection_closed(a.w, 4);
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::pass);
    // Closing more than was opened stops at 0: two opens reach the limit again.
    for (int i = 0; i < 5; i++)
        g.connection_closed(a.w, 4);
    g.connection_opened(a.w, 4, 0);
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::pass);
    g.connection_opened(a.w, 4, 0);
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::over_concurrent);
    // Another source has its own count.
    Addr b = v4(8);
    EXPECT_EQ(g.new_connection(b.w, 4, l, 0), GuardVerdict::pass);
    // Closing a source never seen changes nothing and creates nothing.
    uint32_t before = g.in_use(0);
    g.connection_closed(v4(9).w, 4);
    EXPECT_EQ(g.in_use(0), before);
}

TEST(SourceGuard, OverConcurrentTakesNoToken) {
    SourceGuard g(64);
    Addr a = v4(7);
    GuardLimits l = new_rate(1, 2); // no refill to speak of within the test
    l.concurrent = 1;
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::pass); // one token left
    g.connection_opened(a.w, 4, 0);
    for (int i = 0; i < 10; i++)
        EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::over_concurrent);
    g.connection_closed(a.w, 4);
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::pass);
    EXPECT_EQ(g.new_connection(a.w, 4, l, 0), GuardVerdict::over_rate);
}

TEST(SourceGuard, IcmpUdpAndNewConnectionBucketsAreIndependent) {
    SourceGuard g(64);
    Addr a = v4(3);
    GuardLimits l;
    l.new_per_s = 1000;
    l.new_burst = 2;
    l.icmp_per_s = 1000;
    l.icmp_burst = 3;
    l.udp_per_s = 1000;
    l.udp_burst = 5;
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(g.icmp(a.w, 4, l, 0), GuardVerdict::pass);
    EXPECT_EQ(g.icmp(a.w, 4, l, 0), GuardVerdict::icmp_flood);
    for (int i = 0; i < 5; i++)
        EXPECT_EQ(g.udp(a.w, 4, l, 0), GuardVerdict::pass);
    EXPECT_EQ(g.udp(a.w, 4, l, 0), GuardVerdict::udp_flood);
    EXPECT_EQ(passes(g, a, l, 0, 10), 2);
    EXPECT_EQ(g.icmp(a.w, 4, l, 0), GuardVerdict::icmp_flood);
    EXPECT_EQ(g.icmp(a.w, 4, l, 1), GuardVerdict::pass);
    EXPECT_EQ(g.icmp(a.w, 4, l, 1), GuardVerdict::icmp_flood);
}

TEST(SourceGuard, RateZeroMeansNoLimitAndCreatesNoEntry) {
    SourceGuard g(64);
    Addr a = v4(3);
    GuardLimits none;
    for (int i = 0; i < 1000; i++) {
        ASSERT_EQ(g.icmp(a.w, 4, none, 0), GuardVerdict::pass);
        ASSERT_EQ(g.udp(a.w, 4, none, 0), GuardVerdict::pass);
        ASSERT_EQ(g.new_connection(a.w, 4, none, 0), GuardVerdict::pass);
    }
    EXPECT_EQ(g.in_use(0), 0u);
    GuardLimits only_concurrent;
    only_concurrent.concurrent = 5;
    EXPECT_EQ(g.new_connection(a.w, 4, only_concurrent, 0), GuardVerdict::pass);
    EXPECT_EQ(g.in_use(0), 0u); // nothing to remember until a flow opens
    // A block still applies with every limit off.
    EXPECT_TRUE(g.block(a.w, 4, 0, 10));
    EXPECT_EQ(g.icmp(a.w, 4, none, 5), GuardVerdict::blocked);
    EXPECT_EQ(g.udp(a.w, 4, none, 5), GuardVerdict::blocked);
    EXPECT_EQ(g.new_connection(a.w, 4, none, 5), GuardVerdict::blocked);
    EXPECT_EQ(g.new_connection(a.w, 4, only_concurrent, 5), GuardVerdict::blocked);
}

TEST(SourceGuard, BlockExpiresExactlyAtItsTime) {
    SourceGuard g(64);
    Addr a = v4(5);
    GuardLimits l = new_rate(1000, 10);
    l.icmp_per_s = l.udp_per_s = 1000;
    l.icmp_burst = l.udp_burst = 10;
    EXPECT_EQ(g.blocked(a.w, 4, 100), GuardVerdict::pass);
    EXPECT_TRUE(g.block(a.w, 4, 100, 50));
    EXPECT_EQ(g.blocked(a.w, 4, 100), GuardVerdict::blocked);
    EXPECT_EQ(g.blocked(a.w, 4, 149), GuardVerdict::blocked);
    EXPECT_EQ(g.new_connection(a.w, 4, l, 149), GuardVerdict::blocked);
    EXPECT_EQ(g.icmp(a.w, 4, l, 149), GuardVerdict::blocked);
    EXPECT_EQ(g.udp(a.w, 4, l, 149), GuardVerdict::blocked);
    EXPECT_EQ(g.blocked_count(149), 1u);
    EXPECT_EQ(g.blocked(a.w, 4, 150), GuardVerdict::pass);
    EXPECT_EQ(g.new_connection(a.w, 4, l, 150), GuardVerdict::pass);
    EXPECT_EQ(g.blocked_count(150), 0u);
    // Blocked traffic took no tokens: the whole burst is there.
    EXPECT_EQ(passes(g, a, l, 150, 20), 9);
}

TEST(SourceGuard, BlockReportsOnlyANewBlockAndExtendsNeverShortens) {
    SourceGuard g(64);
    Addr a = v4(5);
    EXPECT_TRUE(g.block(a.w, 4, 0, 100));
    EXPECT_FALSE(g.block(a.w, 4, 10, 500)); // already blocked: extended to 510
    EXPECT_FALSE(g.block(a.w, 4, 20, 10));  // shorter: stays at 510
    EXPECT_EQ(g.blocked(a.w, 4, 509), GuardVerdict::blocked);
    EXPECT_EQ(g.blocked(a.w, 4, 510), GuardVerdict::pass);
    EXPECT_TRUE(g.block(a.w, 4, 510, 1));    // expired: a new block again
    EXPECT_FALSE(g.block(v4(6).w, 4, 0, 0)); // zero length blocks nothing
    EXPECT_EQ(g.blocked(v4(6).w, 4, 0), GuardVerdict::pass);
    // A length that would pass the end of time blocks until the end of time.
    EXPECT_TRUE(g.block(v4(7).w, 4, 10, UINT64_MAX));
    EXPECT_EQ(g.blocked(v4(7).w, 4, UINT64_MAX - 1), GuardVerdict::blocked);
}

TEST(SourceGuard, BlockedSourcesListsRemainingTimeUpToTheMax) {
    SourceGuard g(64);
    Addr a = v4(1), b = v6(0x20010db8, 0, 0, 0x01000000);
    EXPECT_TRUE(g.block(a.w, 4, 0, 1000));
    EXPECT_TRUE(g.block(b.w, 6, 100, 2000));
    EXPECT_EQ(g.blocked_count(200), 2u);
    std::vector<BlockedSource> out(4);
    ASSERT_EQ(g.blocked_sources(200, out), 2u);
    bool saw_a = false, saw_b = false;
    for (size_t i = 0; i < 2; i++) {
        if (out[i].family == 4) {
            saw_a = true;
            EXPECT_EQ(out[i].addr[0], a.w[0]);
            EXPECT_EQ(out[i].remaining_ms, 800u);
        } else {
            saw_b = true;
            EXPECT_EQ(out[i].family, 6);
            EXPECT_EQ(out[i].addr[0], b.w[0]);
            EXPECT_EQ(out[i].addr[3], b.w[3]);
            EXPECT_EQ(out[i].remaining_ms, 1900u);
        }
    }
    EXPECT_TRUE(saw_a && saw_b);
    EXPECT_EQ(g.blocked_sources(200, std::span(out).first(1)), 1u);
    EXPECT_EQ(g.blocked_sources(1000, out), 1u); // a's block is over
    EXPECT_EQ(out[0].family, 6);
    g.clear_blocks();
    EXPECT_EQ(g.blocked_count(200), 0u);
    EXPECT_EQ(g.blocked_sources(200, out), 0u);
    EXPECT_EQ(g.blocked(b.w, 6, 200), GuardVerdict::pass);
}

TEST(SourceGuard, BlockedDoesNotCreateEntries) {
    SourceGuard g(1);
    for (uint32_t i = 0; i < 100; i++)
        EXPECT_EQ(g.blocked(v4(i).w, 4, 0), GuardVerdict::pass);
    EXPECT_EQ(g.in_use(0), 0u);
    EXPECT_EQ(g.table_full(), 0u);
    // The single slot is still free: a rate-limited source gets it and is limited.
    Addr b = v4(500);
    EXPECT_EQ(passes(g, b, new_rate(1000, 3), 0, 10), 3);
    EXPECT_EQ(g.table_full(), 0u);
    EXPECT_EQ(g.in_use(0), 1u);
}

TEST(SourceGuard, FullTableCountsRefusalsAndFailsOpen) {
    SourceGuard g(4); // 4 slots, all in every probe window
    EXPECT_EQ(g.capacity(), 4u);
    GuardLimits l = new_rate(1, 1);
    for (uint32_t i = 0; i < 4; i++)
        EXPECT_EQ(g.new_connection(v4(i).w, 4, l, 0), GuardVerdict::pass);
    EXPECT_EQ(g.in_use(0), 4u);
    Addr late = v4(100);
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(g.new_connection(late.w, 4, l, 0), GuardVerdict::pass); // untracked: no limit
    EXPECT_EQ(g.table_full(), 3u);
    EXPECT_EQ(g.icmp(late.w, 4, GuardLimits{0, 0, 0, 1, 1, 0, 0}, 0), GuardVerdict::pass);
    EXPECT_EQ(g.table_full(), 4u);
    g.connection_opened(late.w, 4, 0);
    EXPECT_EQ(g.table_full(), 5u);
    g.connection_closed(late.w, 4); // was never counted: nothing to take back
    // The tracked sources are still limited.
    EXPECT_EQ(g.new_connection(v4(0).w, 4, l, 0), GuardVerdict::over_rate);
}

TEST(SourceGuard, CapacityRoundsUpToAPowerOfTwo) {
    EXPECT_EQ(SourceGuard(0).capacity(), 1u);
    EXPECT_EQ(SourceGuard(5).capacity(), 8u);
    EXPECT_EQ(SourceGuard(1000).capacity(), 1024u);
    EXPECT_EQ(SourceGuard(1024).capacity(), 1024u);
}

TEST(SourceGuard, IdleEntriesAreReused) {
    SourceGuard g(4);
    GuardLimits l = new_rate(1000, 10);
    for (uint32_t i = 0; i < 4; i++)
        EXPECT_EQ(g.new_connection(v4(i).w, 4, l, 0), GuardVerdict::pass);
    Addr late = v4(100);
    EXPECT_EQ(passes(g, late, l, 0, 20), 20); // no room: untracked
    EXPECT_EQ(g.table_full(), 20u);
    // 1 ms later every bucket is full again: the slots are idle and free for the newcomer.
    EXPECT_EQ(g.in_use(1), 0u);
    EXPECT_EQ(passes(g, late, l, 1, 20), 10);
    EXPECT_EQ(g.table_full(), 20u);
    EXPECT_EQ(g.in_use(1), 1u);
}

TEST(SourceGuard, OpenFlowsAndBlocksKeepTheirSlot) {
    SourceGuard g(2);
    GuardLimits l = new_rate(1000, 10);
    Addr a = v4(1), b = v4(2), c = v4(3);
    g.connection_opened(a.w, 4, 0);
    EXPECT_TRUE(g.block(b.w, 4, 0, 100));
    EXPECT_EQ(passes(g, c, l, 50, 20), 20); // no idle slot until b's block ends
    EXPECT_EQ(g.table_full(), 20u);
    EXPECT_EQ(passes(g, c, l, 100, 20), 10); // b's slot is free
    // a kept its count all along.
    GuardLimits one;
    one.concurrent = 1;
    EXPECT_EQ(g.new_connection(a.w, 4, one, 100), GuardVerdict::over_concurrent);
    g.connection_closed(a.w, 4);
    EXPECT_EQ(g.new_connection(a.w, 4, one, 100), GuardVerdict::pass);
}

TEST(SourceGuard, BlockEvictsAnUnblockedSourceWhenFull) {
    SourceGuard g(2);
    GuardLimits l = new_rate(1, 1);
    EXPECT_EQ(g.new_connection(v4(1).w, 4, l, 0), GuardVerdict::pass);
    EXPECT_EQ(g.new_connection(v4(2).w, 4, l, 0), GuardVerdict::pass);
    Addr attacker = v4(3);
    EXPECT_TRUE(g.block(attacker.w, 4, 0, 1000));
    EXPECT_EQ(g.evicted(), 1u);
    EXPECT_EQ(g.blocked(attacker.w, 4, 10), GuardVerdict::blocked);
    EXPECT_TRUE(g.block(v4(4).w, 4, 0, 1000)); // evicts the other one
    EXPECT_EQ(g.evicted(), 2u);
    // Every slot blocked: a third block finds no room.
    EXPECT_FALSE(g.block(v4(5).w, 4, 0, 1000));
    EXPECT_EQ(g.table_full(), 1u);
    EXPECT_EQ(g.blocked(v4(5).w, 4, 10), GuardVerdict::pass);
    EXPECT_EQ(g.blocked_count(10), 2u);
}

TEST(SourceGuard, Ipv6AndIpv4WithTheSameFirstWordAreDifferentSources) {
    SourceGuard g(1024);
    GuardLimits l = new_rate(1000, 2);
    Addr a4 = v4(1);
    Addr a6 = v6(a4.w[0], 0, 0, 0);
    EXPECT_EQ(passes(g, a4, l, 0, 5), 2);
    EXPECT_EQ(passes(g, a6, l, 0, 5), 2);
    EXPECT_TRUE(g.block(a6.w, 6, 0, 100));
    EXPECT_EQ(g.blocked(a4.w, 4, 1), GuardVerdict::pass);
    EXPECT_EQ(g.blocked(a6.w, 6, 1), GuardVerdict::blocked);
    // IPv4 uses the first word only: whatever the others hold, it is the same source.
    Addr a4_junk{{a4.w[0], 0xdeadbeef, 1, 2}, 4};
    EXPECT_EQ(g.new_connection(a4_junk.w, 4, l, 0), GuardVerdict::over_rate);
    // IPv6 addresses differing in the last word only are different sources.
    Addr b6 = v6(a4.w[0], 0, 0, 1);
    EXPECT_EQ(passes(g, b6, l, 0, 5), 2);
}

TEST(SourceGuard, LargeRatesAndBurstsDoNotOverflow) {
    SourceGuard g(64);
    Addr a = v4(1);
    GuardLimits l = new_rate(10'000'000, 10'000'000);
    EXPECT_EQ(passes(g, a, l, 0, 10'000'001), 10'000'000);
    EXPECT_EQ(passes(g, a, l, 1, 20'000), 10'000); // 10,000 per ms
    // The largest values, and a very long pause: the bucket is full, not wrapped.
    GuardLimits huge = new_rate(UINT32_MAX, UINT32_MAX);
    Addr b = v4(2);
    EXPECT_EQ(passes(g, b, huge, 0, 1000), 1000);
    EXPECT_EQ(passes(g, b, huge, UINT64_MAX / 2, 1000), 1000);
    // A pause long enough that elapsed ms * rate overflows 64 bits: full, not wrapped.
    GuardLimits fast = new_rate(UINT32_MAX, 5);
    Addr c = v4(3);
    EXPECT_EQ(passes(g, c, fast, 0, 10), 5);
    EXPECT_EQ(passes(g, c, fast, uint64_t(1) << 40, 10), 5);
    // The slowest rate with the largest burst takes 4.3e9 s to fill: no early wrap either.
    GuardLimits slow = new_rate(1, UINT32_MAX);
    Addr d = v4(4);
    EXPECT_EQ(passes(g, d, slow, 0, 100), 100);
    EXPECT_EQ(passes(g, d, slow, 1000, 2), 2); // 1 s later: 1 token refilled, plenty left
}

TEST(SourceGuard, VerdictNames) {
    EXPECT_STREQ(qorgan::dp::guard_verdict_name(GuardVerdict::pass), "pass");
    EXPECT_STREQ(qorgan::dp::guard_verdict_name(GuardVerdict::over_rate), "over-rate");
    EXPECT_STREQ(qorgan::dp::guard_verdict_name(GuardVerdict::over_concurrent), "over-concurrent");
    EXPECT_STREQ(qorgan::dp::guard_verdict_name(GuardVerdict::icmp_flood), "icmp-flood");
    EXPECT_STREQ(qorgan::dp::guard_verdict_name(GuardVerdict::udp_flood), "udp-flood");
    EXPECT_STREQ(qorgan::dp::guard_verdict_name(GuardVerdict::blocked), "blocked");
}

TEST(EventLimiter, CountsWhatItSuppressed) {
    EventLimiter e(10, 3); // one event per 100 ms, 3 at once
    EXPECT_EQ(e.take_suppressed(), 0u);
    int allowed = 0;
    for (int i = 0; i < 10; i++)
        allowed += e.allow(0);
    EXPECT_EQ(allowed, 3);
    EXPECT_EQ(e.take_suppressed(), 7u);
    EXPECT_EQ(e.take_suppressed(), 0u);
    EXPECT_FALSE(e.allow(99));
    EXPECT_TRUE(e.allow(100));
    EXPECT_FALSE(e.allow(100));
    EXPECT_EQ(e.take_suppressed(), 2u);
}

TEST(EventLimiter, RateZeroAllowsEverything) {
    EventLimiter e(0, 0);
    for (int i = 0; i < 1000; i++)
        ASSERT_TRUE(e.allow(0));
    EXPECT_EQ(e.take_suppressed(), 0u);
}

TEST(SourceGuard, ProvenSourcesStayProvenForTheirTimeOnly) {
    SourceGuard g(1024);
    Addr a = v4(7), b = v4(8);
    EXPECT_FALSE(g.proven(a.w, 4, 0));
    g.prove(a.w, 4, 1000, 600'000);
    EXPECT_TRUE(g.proven(a.w, 4, 1000));
    EXPECT_TRUE(g.proven(a.w, 4, 600'999));
    EXPECT_FALSE(g.proven(a.w, 4, 601'000));
    EXPECT_FALSE(g.proven(b.w, 4, 1000)); // another source
    Addr six = v6(a.w[0], 0, 0, 0);
    EXPECT_FALSE(g.proven(six.w, 6, 1000)); // the same first word in IPv6
    // A proven source keeps its slot while proven (it is not idle).
    EXPECT_EQ(g.in_use(2000), 1u);
}

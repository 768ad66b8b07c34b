// SPDX-License-Identifier: GPL-2.0-or-later
// Probe and scan detection: the class of every one of the 256 TCP flag bytes against a rule
// written independently here, vertical and horizontal scans reported once per window, the
// window reset, the accuracy of the distinct-count estimate and the bounded table.
#include "dataplane/scan_detect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>

using qorgan::dp::classify_tcp_flags;
using qorgan::dp::ScanDetector;
using qorgan::dp::TcpProbe;
using Scan = qorgan::dp::ScanDetector::Scan;

namespace {

struct Addr {
    uint32_t w[4];
};

Addr v4(uint32_t i) {
    return Addr{{__builtin_bswap32((10u << 24) | (i & 0xffffff)), 0, 0, 0}};
}

Addr target(uint32_t i) {
    return Addr{{__builtin_bswap32((192u << 24) | (168u << 16) | (i & 0xffff)), 0, 0, 0}};
}

struct Tally {
    int horizontal = 0, vertical = 0;
    int first_horizontal = -1, first_vertical = -1; // index of the contact that reported
    void add(Scan s, int i) {
        if (s == Scan::horizontal) {
            if (horizontal++ == 0)
                first_horizontal = i;
        } else if (s == Scan::vertical) {
            if (vertical++ == 0)
                first_vertical = i;
        }
    }
};

// Nmap's stealth probes and what a well-behaved stack sends, by byte.
constexpr uint8_t F = 0x01, S = 0x02, R = 0x04, P = 0x08, A = 0x10, U = 0x20;
static_assert(classify_tcp_flags(0) == TcpProbe::null_scan);              // nmap -sN
static_assert(classify_tcp_flags(F) == TcpProbe::fin_scan);               // nmap -sF
static_assert(classify_tcp_flags(F | P | U) == TcpProbe::xmas_scan);      // nmap -sX
static_assert(classify_tcp_flags(S) == TcpProbe::normal);                 // nmap -sS, connect
static_assert(classify_tcp_flags(S | A) == TcpProbe::normal);             // SYN+ACK
static_assert(classify_tcp_flags(S | 0x40 | 0x80) == TcpProbe::normal);   // ECN-setup SYN
static_assert(classify_tcp_flags(A) == TcpProbe::normal);                 // nmap -sA, plain ACK
static_assert(classify_tcp_flags(F | A) == TcpProbe::normal);             // a normal close
static_assert(classify_tcp_flags(R) == TcpProbe::normal);                 // RST
static_assert(classify_tcp_flags(S | F) == TcpProbe::syn_fin);            //
static_assert(classify_tcp_flags(S | R) == TcpProbe::syn_rst);            //
static_assert(classify_tcp_flags(F | P) == TcpProbe::fin_no_ack);         //
static_assert(classify_tcp_flags(F | R) == TcpProbe::fin_no_ack);         //
static_assert(classify_tcp_flags(P) == TcpProbe::other_invalid);          //
static_assert(classify_tcp_flags(U | P) == TcpProbe::other_invalid);      //
static_assert(classify_tcp_flags(0x40 | 0x80) == TcpProbe::null_scan);    // ECN bits only
static_assert(classify_tcp_flags(F | P | U | A) == TcpProbe::normal);     // with ACK: no xmas
static_assert(classify_tcp_flags(F | P | U | R) == TcpProbe::fin_no_ack); // with RST: no xmas

} // namespace

// Each class as a predicate of its own, without the order of tests classify_tcp_flags() relies
// on; exactly one must hold for every byte.
TEST(TcpProbe, EveryFlagByteMatchesAnIndependentRule) {
    std::map<TcpProbe, int> count;
    for (unsigned b = 0; b < 256; b++) {
        uint8_t f = uint8_t(b & 0x3f); // ECE, CWR do not count
        bool fin = f & F, syn = f & S, rst = f & R, ack = f & A;
        std::map<TcpProbe, bool> holds = {
            {TcpProbe::null_scan, f == 0},
            {TcpProbe::fin_scan, f == F},
            {TcpProbe::xmas_scan, f == (F | P | U)},
            {TcpProbe::syn_fin, syn && fin},
            {TcpProbe::syn_rst, syn && rst && !fin},
            {TcpProbe::fin_no_ack, fin && !syn && !ack && f != F && f != (F | P | U)},
            {TcpProbe::other_invalid, f != 0 && !fin && !syn && !rst && !ack},
            {TcpProbe::normal, (syn && !fin && !rst) || (ack && !syn) || (rst && !syn && !fin)},
        };
        int n = 0;
        TcpProbe expected = TcpProbe::normal;
        for (auto [probe, yes] : holds)
            if (yes) {
                n++;
                expected = probe;
            }
        ASSERT_EQ(n, 1) << "flags 0x" << std::hex << b << ": the rule is not a partition";
        EXPECT_EQ(classify_tcp_flags(uint8_t(b)), expected)
            << "flags 0x" << std::hex << b << " expected " << tcp_probe_name(expected) << " got "
            << tcp_probe_name(classify_tcp_flags(uint8_t(b)));
        count[expected]++;
    }
    // Counted by hand over the 64 low-bit combinations, times 4 for ECE/CWR.
    EXPECT_EQ(count[TcpProbe::null_scan], 4);
    EXPECT_EQ(count[TcpProbe::fin_scan], 4);
    EXPECT_EQ(count[TcpProbe::xmas_scan], 4);
    EXPECT_EQ(count[TcpProbe::syn_fin], 16 * 4);      // R, P, A, U free
    EXPECT_EQ(count[TcpProbe::syn_rst], 8 * 4);       // P, A, U free
    EXPECT_EQ(count[TcpProbe::fin_no_ack], 6 * 4);    // R, P, U: 8 minus FIN, xmas
    EXPECT_EQ(count[TcpProbe::other_invalid], 3 * 4); // P, U, P+U
    EXPECT_EQ(count[TcpProbe::normal], 256 - 4 * (1 + 1 + 1 + 16 + 8 + 6 + 3));
}

TEST(TcpProbe, Names) {
    EXPECT_STREQ(tcp_probe_name(TcpProbe::null_scan), "null-scan");
    EXPECT_STREQ(tcp_probe_name(TcpProbe::xmas_scan), "xmas-scan");
    EXPECT_STREQ(tcp_probe_name(TcpProbe::other_invalid), "other-invalid");
}

TEST(ScanDetector, HundredPortsOnOneHostIsVerticalOncePerWindow) {
    ScanDetector d(1024);
    Addr src = v4(1), dst = target(1);
    Tally t;
    for (int i = 0; i < 100; i++)
        t.add(d.contact(src.w, 4, dst.w, uint16_t(1000 + i), 64, 64, 10'000, uint64_t(i)), i);
    EXPECT_EQ(t.vertical, 1);
    EXPECT_EQ(t.horizontal, 0);
    EXPECT_GE(t.first_vertical, 55); // about the 64th distinct port
    EXPECT_LE(t.first_vertical, 72);
    // More ports in the same window: nothing more.
    for (int i = 100; i < 1000; i++)
        EXPECT_EQ(d.contact(src.w, 4, dst.w, uint16_t(1000 + i), 64, 64, 10'000, 200), Scan::none);
}

TEST(ScanDetector, HundredHostsOnOnePortIsHorizontalOncePerWindow) {
    ScanDetector d(1024);
    Addr src = v4(1);
    Tally t;
    for (int i = 0; i < 100; i++)
        t.add(d.contact(src.w, 4, target(uint32_t(i)).w, 22, 64, 64, 10'000, uint64_t(i)), i);
    EXPECT_EQ(t.horizontal, 1);
    EXPECT_EQ(t.vertical, 0);
    EXPECT_GE(t.first_horizontal, 55);
    EXPECT_LE(t.first_horizontal, 72);
}

TEST(ScanDetector, BelowTheThresholdReportsNothing) {
    ScanDetector d(1024);
    Addr src = v4(1);
    for (int round = 0; round < 50; round++)
        for (uint32_t i = 0; i < 20; i++)
            EXPECT_EQ(d.contact(src.w, 4, target(i).w, uint16_t(80 + i), 64, 64, 10'000, 0),
                      Scan::none);
    ScanDetector::Estimate e = d.estimate(src.w, 4, 10'000, 0);
    EXPECT_GE(e.hosts, 18u);
    EXPECT_LE(e.hosts, 22u);
    EXPECT_GE(e.ports, 18u);
    EXPECT_LE(e.ports, 22u);
}

TEST(ScanDetector, BothKindsAtOnceReportHorizontalThenVertical) {
    ScanDetector d(1024);
    Addr src = v4(1);
    Tally t;
    // Threshold 1: the first contact crosses both.
    t.add(d.contact(src.w, 4, target(1).w, 80, 1, 1, 10'000, 0), 0);
    EXPECT_EQ(t.horizontal, 1);
    EXPECT_EQ(t.vertical, 0);
    t.add(d.contact(src.w, 4, target(1).w, 80, 1, 1, 10'000, 0), 1);
    EXPECT_EQ(t.vertical, 1);
    EXPECT_EQ(d.contact(src.w, 4, target(1).w, 80, 1, 1, 10'000, 0), Scan::none);
}

TEST(ScanDetector, AThresholdOfZeroTurnsItsKindOff) {
    ScanDetector d(1024);
    Addr src = v4(1);
    Tally t;
    for (int i = 0; i < 200; i++)
        t.add(d.contact(src.w, 4, target(uint32_t(i)).w, uint16_t(i), 0, 64, 10'000, 0), i);
    EXPECT_EQ(t.horizontal, 0);
    EXPECT_EQ(t.vertical, 1);
    // Both off: nothing is tracked at all.
    ScanDetector off(1);
    for (uint32_t i = 0; i < 10; i++)
        EXPECT_EQ(off.contact(v4(i).w, 4, target(i).w, 80, 0, 0, 10'000, 0), Scan::none);
    EXPECT_EQ(off.table_full(), 0u);
    EXPECT_EQ(off.estimate(v4(0).w, 4, 10'000, 0).ports, 0u);
}

TEST(ScanDetector, TheWindowResetsAfterWindowMs) {
    ScanDetector d(1024);
    Addr src = v4(1), dst = target(1);
    Tally first;
    for (int i = 0; i < 100; i++)
        first.add(d.contact(src.w, 4, dst.w, uint16_t(i), 64, 64, 1000, uint64_t(i)), i);
    EXPECT_EQ(first.vertical, 1);
    // The window started at 0: until 999 it is the same one, with nothing more to report.
    for (int i = 0; i < 100; i++)
        EXPECT_EQ(d.contact(src.w, 4, dst.w, uint16_t(5000 + i), 64, 64, 1000, 999), Scan::none);
    EXPECT_GT(d.estimate(src.w, 4, 1000, 999).ports, 150u);
    EXPECT_EQ(d.estimate(src.w, 4, 1000, 1000).ports, 0u); // over
    // At 1000 a new window starts with empty counts: the same 100 ports report again, once.
    Tally second;
    for (int i = 0; i < 100; i++)
        second.add(d.contact(src.w, 4, dst.w, uint16_t(i), 64, 64, 1000, 1000 + uint64_t(i)), i);
    EXPECT_EQ(second.vertical, 1);
    EXPECT_EQ(second.horizontal, 0);
    EXPECT_GE(second.first_vertical, 55);
    // A slow scan, 20 ports per window, never reports.
    ScanDetector slow(1024);
    for (uint64_t w = 0; w < 20; w++)
        for (uint32_t i = 0; i < 20; i++)
            EXPECT_EQ(
                slow.contact(src.w, 4, dst.w, uint16_t(w * 20 + i), 64, 64, 1000, w * 1000 + i),
                Scan::none);
}

TEST(ScanDetector, EstimatesAreWithinTenPercentFrom50To400) {
    for (uint64_t seed : {0ull, 1ull, 0x5eedull, 0xfeedfacecafebeefull}) {
        for (uint32_t n = 50; n <= 400; n += 25) {
            ScanDetector d(16, seed);
            Addr src = v4(n);
            for (uint32_t i = 0; i < n; i++) {
                // Each value twice: repeats must not count.
                d.contact(src.w, 4, target(i * 7).w, uint16_t(i * 131 + 1), 100'000, 100'000,
                          60'000, 0);
                d.contact(src.w, 4, target(i * 7).w, uint16_t(i * 131 + 1), 100'000, 100'000,
                          60'000, 0);
            }
            ScanDetector::Estimate e = d.estimate(src.w, 4, 60'000, 0);
            EXPECT_LE(std::abs(double(e.hosts) - n), 0.1 * n) << "seed " << seed << " n " << n;
            EXPECT_LE(std::abs(double(e.ports) - n), 0.1 * n) << "seed " << seed << " n " << n;
        }
    }
}

TEST(ScanDetector, Ipv6SourcesAndTargetsAreCountedApart) {
    ScanDetector d(1024);
    Addr src4 = v4(1);
    Addr src6{{src4.w[0], 0, 0, 0}};
    for (uint32_t i = 0; i < 30; i++) {
        Addr dst6{{0x20010db8, 0, 0, __builtin_bswap32(i)}}; // differ in the last word only
        d.contact(src6.w, 6, dst6.w, 443, 64, 64, 10'000, 0);
    }
    d.contact(src4.w, 4, target(1).w, 443, 64, 64, 10'000, 0);
    ScanDetector::Estimate e6 = d.estimate(src6.w, 6, 10'000, 0);
    ScanDetector::Estimate e4 = d.estimate(src4.w, 4, 10'000, 0);
    EXPECT_GE(e6.hosts, 27u);
    EXPECT_LE(e6.hosts, 33u);
    EXPECT_EQ(e6.ports, 1u);
    EXPECT_EQ(e4.hosts, 1u);
}

TEST(ScanDetector, AFullTableCountsRefusalsAndReusesExpiredSlots) {
    ScanDetector d(2);
    EXPECT_EQ(d.capacity(), 2u);
    Addr a = v4(1), b = v4(2), c = v4(3);
    d.contact(a.w, 4, target(1).w, 80, 64, 64, 1000, 0);
    d.contact(b.w, 4, target(1).w, 80, 64, 64, 1000, 500);
    for (int i = 0; i < 100; i++) // c is not tracked: even a real scan reports nothing
        EXPECT_EQ(d.contact(c.w, 4, target(1).w, uint16_t(i), 64, 64, 1000, 600), Scan::none);
    EXPECT_EQ(d.table_full(), 100u);
    EXPECT_EQ(d.estimate(c.w, 4, 1000, 600).ports, 0u);
    // a's window is over at 1000: c takes its slot.
    Tally t;
    for (int i = 0; i < 100; i++)
        t.add(d.contact(c.w, 4, target(1).w, uint16_t(i), 64, 64, 1000, 1000), i);
    EXPECT_EQ(t.vertical, 1);
    EXPECT_EQ(d.table_full(), 100u);
    EXPECT_EQ(d.estimate(b.w, 4, 1000, 1000).hosts, 1u); // b kept its slot
}

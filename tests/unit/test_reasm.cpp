// SPDX-License-Identifier: GPL-2.0-or-later
// Unit tests of the Reassembler and reasm_linearize: UDP datagrams cut into IPv4 and IPv6
// fragments by hand, fed in order, reversed and interleaved; every refusal (overlap,
// duplicate, too big, malformed, too many, table full) and expiry, with the mempool's
// in-use count checked back at its baseline. EAL runs without hugepages (eal_main.cpp).
#include "dataplane/reasm.h"

#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "tests/unit/frames.h"

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

using namespace qorgan::dp;
using qorgan::test::build_frame;
using qorgan::test::FrameSpec;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t timeout_ms = 100;
constexpr uint64_t hz = 1000; // tsc counts milliseconds in these tests
constexpr size_t eth_len = 14;

void put16(uint8_t *p, uint32_t v) {
    qorgan::test::put16(p, static_cast<uint16_t>(v));
}

// An unfragmented UDP datagram (correct checksums) of payload bytes; IPv4 id as given.
Bytes datagram(int family, size_t payload, uint16_t id = 0x1234) {
    FrameSpec s;
    s.family = family;
    s.proto = 17;
    s.payload = payload;
    if (family == 6) {
        s.src = "2001:db8::11";
        s.dst = "2001:db8:3::10";
    }
    Bytes f = build_frame(s);
    if (family == 4) {
        uint8_t *ip = &f[eth_len];
        put16(ip + 4, id);
        ip[10] = ip[11] = 0;
        put16(ip + 10, qorgan::test::fold(qorgan::test::sum16(ip, 20)));
    }
    return f;
}

size_t ip_hdr_len(int family) {
    return family == 4 ? 20 : 40;
}

// Bytes [start, start + len) of the datagram's IP payload.
Bytes slice(const Bytes &orig, int family, size_t start, size_t len) {
    const size_t from = eth_len + ip_hdr_len(family) + start;
    return Bytes(orig.begin() + static_cast<long>(from),
                 orig.begin() + static_cast<long>(from + len));
}

// One fragment of orig carrying data at byte offset start. IPv6: Fragment header with
// identification id right after the fixed header (ext, if given, goes before it).
Bytes fragment(const Bytes &orig, int family, size_t start, const Bytes &data, bool more,
               uint32_t id = 0x1234, const Bytes &ext = {}) {
    const size_t hl = ip_hdr_len(family);
    Bytes f(orig.begin(), orig.begin() + static_cast<long>(eth_len + hl));
    uint8_t *ip = &f[eth_len];
    if (family == 4) {
        put16(ip + 2, 20 + data.size());
        put16(ip + 4, id);
        put16(ip + 6, (more ? 0x2000u : 0u) | static_cast<uint32_t>(start / 8));
        ip[10] = ip[11] = 0;
        put16(ip + 10, qorgan::test::fold(qorgan::test::sum16(ip, 20)));
        f.insert(f.end(), data.begin(), data.end());
        return f;
    }
    const uint8_t upper = ip[6];
    Bytes fh = {upper,
                0,
                0,
                0,
                static_cast<uint8_t>(id >> 24),
                static_cast<uint8_t>(id >> 16),
                static_cast<uint8_t>(id >> 8),
                static_cast<uint8_t>(id)};
    put16(&fh[2], static_cast<uint32_t>(start) | (more ? 1u : 0u));
    if (ext.empty()) {
        ip[6] = 44;
    } else {
        ip[6] = 0; // Hop-by-Hop, whose next header is the Fragment header
    }
    put16(ip + 4, ext.size() + fh.size() + data.size());
    f.insert(f.end(), ext.begin(), ext.end());
    f.insert(f.end(), fh.begin(), fh.end());
    f.insert(f.end(), data.begin(), data.end());
    return f;
}

// The datagram cut at the given payload offsets (each but the last a multiple of 8).
std::vector<Bytes> cut(const Bytes &orig, int family, std::vector<size_t> at, uint32_t id) {
    const size_t total = orig.size() - eth_len - ip_hdr_len(family);
    at.push_back(total);
    std::vector<Bytes> out;
    size_t start = 0;
    for (size_t end : at) {
        out.push_back(fragment(orig, family, start, slice(orig, family, start, end - start),
                               end != total, id));
        start = end;
    }
    return out;
}

uint32_t l4_csum_residue(const uint8_t *frame, uint32_t len) {
    PacketMeta m;
    EXPECT_FALSE(parse_frame(frame, len, m).has_value());
    const uint8_t *ip = frame + m.l3_offset;
    const uint32_t l4_len = m.l3_end - m.l4_offset;
    uint32_t s = 0;
    if (m.l3 == L3Kind::ipv4) {
        s = qorgan::test::sum16(ip + 12, 8, s);
    } else {
        s = qorgan::test::sum16(ip + 8, 32, s);
    }
    s += m.proto + l4_len;
    s = qorgan::test::sum16(frame + m.l4_offset, l4_len, s);
    return qorgan::test::fold(s);
}

class Reasm : public testing::Test {
protected:
    void SetUp() override {
        static int n = 0;
        const std::string name = "reasm_pool_" + std::to_string(n++);
        pool = rte_pktmbuf_pool_create(name.c_str(), 1023, 0, mbuf_priv_size,
                                       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
        ASSERT_NE(pool, nullptr);
        baseline = rte_mempool_in_use_count(pool);
        auto r = Reassembler::create(64, timeout_ms, hz, SOCKET_ID_ANY);
        ASSERT_TRUE(r.ok()) << r.error().to_string();
        reasm = std::move(r.value());
    }
    void TearDown() override {
        reasm.reset(); // frees whatever it still holds
        if (pool != nullptr) {
            EXPECT_EQ(rte_mempool_in_use_count(pool), baseline);
            rte_mempool_free(pool);
        }
    }

    rte_mbuf *mbuf_of(const Bytes &f) {
        rte_mbuf *m = rte_pktmbuf_alloc(pool);
        EXPECT_NE(m, nullptr);
        char *p = rte_pktmbuf_append(m, static_cast<uint16_t>(f.size()));
        std::memcpy(p, f.data(), f.size());
        PacketMeta &meta = priv_of(m)->meta;
        meta = PacketMeta{};
        meta.in_port = 1;
        EXPECT_FALSE(parse_frame(f.data(), static_cast<uint32_t>(f.size()), meta).has_value());
        EXPECT_TRUE(meta.flags & meta_fragment);
        return m;
    }

    // Feeds one fragment; expects it held (nullptr, no reason).
    void feed_held(const Bytes &f, uint64_t tsc = 0) {
        std::optional<DropReason> why;
        EXPECT_EQ(reasm->add(mbuf_of(f), tsc, why), nullptr);
        EXPECT_FALSE(why.has_value()) << drop_reason_name(*why);
    }
    // Feeds one fragment; expects it refused for reason.
    void feed_refused(const Bytes &f, DropReason reason, uint64_t tsc = 0) {
        std::optional<DropReason> why;
        EXPECT_EQ(reasm->add(mbuf_of(f), tsc, why), nullptr);
        ASSERT_TRUE(why.has_value());
        EXPECT_EQ(*why, reason) << drop_reason_name(*why);
    }
    // Feeds fragments in order; returns what came out (at most one datagram expected).
    std::vector<rte_mbuf *> feed(const std::vector<Bytes> &frags, uint64_t tsc = 0) {
        std::vector<rte_mbuf *> out;
        for (const Bytes &f : frags) {
            std::optional<DropReason> why;
            rte_mbuf *r = reasm->add(mbuf_of(f), tsc, why);
            EXPECT_FALSE(why.has_value()) << drop_reason_name(*why);
            if (r != nullptr) {
                out.push_back(r);
            }
        }
        return out;
    }

    // Linearizes a reassembled datagram and checks it is exactly expected, with valid
    // IP and UDP checksums; frees it.
    void expect_datagram(rte_mbuf *chain, const Bytes &expected) {
        ASSERT_NE(chain, nullptr);
        EXPECT_EQ(rte_pktmbuf_pkt_len(chain), expected.size());
        rte_mbuf *m = reasm_linearize(chain, pool);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(m->nb_segs, 1);
        ASSERT_EQ(rte_pktmbuf_data_len(m), expected.size());
        const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
        EXPECT_EQ(Bytes(p, p + expected.size()), expected);
        PacketMeta meta;
        EXPECT_FALSE(parse_frame(p, rte_pktmbuf_data_len(m), meta).has_value());
        EXPECT_EQ(meta.flags & meta_fragment, 0);
        EXPECT_EQ(meta.proto, 17);
        EXPECT_EQ(l4_csum_residue(p, rte_pktmbuf_data_len(m)), 0u);
        EXPECT_EQ(priv_of(m)->meta.in_port, 1); // the private area came along
        rte_pktmbuf_free(m);
    }

    rte_mempool *pool = nullptr;
    unsigned baseline = 0;
    std::unique_ptr<Reassembler> reasm;
};

} // namespace

TEST(ReasmLimits, MaxFragmentsIsDpdkBuildValue) {
    EXPECT_EQ(Reassembler::max_fragments, static_cast<uint32_t>(RTE_LIBRTE_IP_FRAG_MAX_FRAG));
    EXPECT_GE(Reassembler::max_fragments, 4u);
}

TEST(ReasmLimits, CreateRejectsNonsense) {
    EXPECT_FALSE(Reassembler::create(0, 100, hz, SOCKET_ID_ANY).ok());
    EXPECT_FALSE(Reassembler::create(16, 0, hz, SOCKET_ID_ANY).ok());
    EXPECT_FALSE(Reassembler::create(16, 100, 0, SOCKET_ID_ANY).ok());
}

TEST_F(Reasm, InOrderReverseAndInterleaved) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const Bytes a = datagram(family, 1000, 0x1111);
        const Bytes b = datagram(family, 700, 0x2222);
        std::vector<Bytes> fa = cut(a, family, {256, 512, 768}, 0x1111);
        std::vector<Bytes> fb = cut(b, family, {400}, 0x2222);

        auto out = feed(fa);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_GT(out[0]->nb_segs, 1);
        expect_datagram(out[0], a);

        out = feed({fa[3], fa[2], fa[1], fa[0]});
        ASSERT_EQ(out.size(), 1u);
        expect_datagram(out[0], a);

        out = feed({fa[1], fb[1], fa[3], fa[0], fb[0], fa[2]});
        ASSERT_EQ(out.size(), 2u);
        expect_datagram(out[0], b);
        expect_datagram(out[1], a);
        EXPECT_EQ(reasm->in_flight(), 0u);
    }
    EXPECT_EQ(reasm->stats().reassembled, 8u);
    EXPECT_EQ(reasm->stats().fragments, 2u * (4 + 4 + 6));
}

TEST_F(Reasm, MaxFragmentsPerDatagram) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        // Exactly max_fragments pieces: reassembled.
        const uint32_t n = Reassembler::max_fragments;
        const Bytes a = datagram(family, 8 * n - 8, 0x0101); // UDP header + payload = 8n bytes
        std::vector<size_t> at;
        for (uint32_t i = 1; i < n; ++i) {
            at.push_back(8 * i);
        }
        auto out = feed(cut(a, family, at, 0x0101));
        ASSERT_EQ(out.size(), 1u);
        expect_datagram(out[0], a);
        // One more: the fragment that needs a slot beyond max_fragments is refused and
        // so is the rest of its datagram.
        const Bytes b = datagram(family, 8 * n, 0x0202);
        at.push_back(8 * n);
        std::vector<Bytes> fb = cut(b, family, at, 0x0202);
        for (uint32_t i = 0; i + 2 < fb.size(); ++i) {
            feed_held(fb[i]);
        }
        feed_refused(fb[fb.size() - 2], DropReason::frag_table_full);
        feed_refused(fb.back(), DropReason::frag_table_full);
    }
    EXPECT_EQ(reasm->stats().too_many, 4u);
    reasm->expire(timeout_ms + 1);
    EXPECT_EQ(reasm->stats().discarded_fragments, 2u * (Reassembler::max_fragments - 1));
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline);
}

TEST_F(Reasm, OverlapDiscardsTheWholeDatagram_Rfc5722) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const Bytes a = datagram(family, 100);
        feed_held(fragment(a, family, 0, slice(a, family, 0, 48), true));
        // [40, 64) overlaps [0, 48): refused, and the datagram with it.
        feed_refused(fragment(a, family, 40, slice(a, family, 40, 24), true),
                     DropReason::frag_overlap);
        // The remaining, perfectly fitting, fragment is refused too: no datagram ever.
        feed_refused(fragment(a, family, 48, slice(a, family, 48, 60), false),
                     DropReason::frag_overlap);
        // An overlap that would rewrite the first fragment's header (offset 8).
        const Bytes b = datagram(family, 100, 0x0b0b);
        feed_held(fragment(b, family, 0, slice(b, family, 0, 16), true, 0x0b0b));
        feed_held(fragment(b, family, 32, slice(b, family, 32, 76), false, 0x0b0b));
        feed_refused(fragment(b, family, 8, Bytes(24, 0xee), true, 0x0b0b),
                     DropReason::frag_overlap);
        EXPECT_GT(rte_mempool_in_use_count(pool), baseline); // held until they expire
    }
    EXPECT_EQ(reasm->stats().overlap, 6u);
    EXPECT_EQ(reasm->stats().reassembled, 0u);
    reasm->expire(timeout_ms);
    EXPECT_EQ(reasm->in_flight(), 4u); // not yet: start + timeout is not before now
    reasm->expire(timeout_ms + 1);
    EXPECT_EQ(reasm->in_flight(), 0u);
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline);
    EXPECT_EQ(reasm->stats().discarded_fragments, 6u);
    EXPECT_EQ(reasm->stats().timeout, 0u); // refused datagrams are not timeouts
}

TEST_F(Reasm, ExactDuplicateIsDroppedAloneAndTheDatagramCompletes) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const Bytes a = datagram(family, 500);
        std::vector<Bytes> fa = cut(a, family, {200}, 0x1234);
        feed_held(fa[0]);
        feed_refused(fa[0], DropReason::frag_overlap);
        std::optional<DropReason> why;
        rte_mbuf *out = reasm->add(mbuf_of(fa[1]), 0, why);
        EXPECT_FALSE(why.has_value());
        expect_datagram(out, a);
        // A repeated last fragment is a duplicate as well.
        feed_held(fa[1]);
        feed_refused(fa[1], DropReason::frag_overlap);
        out = reasm->add(mbuf_of(fa[0]), 0, why);
        expect_datagram(out, a);
    }
    EXPECT_EQ(reasm->stats().duplicate, 4u);
}

TEST_F(Reasm, TimeoutFreesEverything) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const Bytes a = datagram(family, 1000, 0x0a0a);
        std::vector<Bytes> fa = cut(a, family, {256, 512}, 0x0a0a);
        feed_held(fa[0], 10);
        feed_held(fa[2], 50); // the datagram's clock started with its first fragment
    }
    EXPECT_EQ(reasm->in_flight(), 2u);
    reasm->expire(10 + timeout_ms);
    EXPECT_EQ(reasm->in_flight(), 2u);
    reasm->expire(10 + timeout_ms + 1);
    EXPECT_EQ(reasm->in_flight(), 0u);
    EXPECT_EQ(reasm->stats().timeout, 2u);
    EXPECT_EQ(reasm->stats().timeout_fragments, 4u);
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline);
}

TEST_F(Reasm, LateFragmentAfterTimeoutStartsAfresh) {
    const Bytes a = datagram(4, 600);
    std::vector<Bytes> fa = cut(a, 4, {304}, 0x1234);
    feed_held(fa[0], 0);
    // No expire() call in between: the stale datagram is found and restarted.
    feed_held(fa[1], timeout_ms + 5);
    EXPECT_EQ(reasm->stats().timeout, 1u);
    std::optional<DropReason> why;
    rte_mbuf *out = reasm->add(mbuf_of(fa[0]), timeout_ms + 6, why);
    expect_datagram(out, a);
}

TEST_F(Reasm, TableFull) {
    auto r = Reassembler::create(2, timeout_ms, hz, SOCKET_ID_ANY);
    ASSERT_TRUE(r.ok());
    reasm = std::move(r.value());
    std::vector<Bytes> firsts;
    for (uint16_t id = 1; id <= 3; ++id) {
        const Bytes d = datagram(4, 100, id);
        firsts.push_back(cut(d, 4, {48}, id)[0]);
    }
    const Bytes v6 = datagram(6, 100);
    feed_held(firsts[0]);
    feed_held(firsts[1]);
    feed_refused(firsts[2], DropReason::frag_table_full);
    feed_refused(cut(v6, 6, {48}, 9)[0], DropReason::frag_table_full);
    EXPECT_EQ(reasm->stats().table_full, 2u);
    // A fragment of a datagram already held still gets in.
    const Bytes d1 = datagram(4, 100, 1);
    std::optional<DropReason> why;
    rte_mbuf *out = reasm->add(mbuf_of(cut(d1, 4, {48}, 1)[1]), 1, why);
    expect_datagram(out, d1);
    // Once the others time out there is room again (reaped on demand, no expire() call).
    feed_held(firsts[2], 1);
    feed_held(cut(v6, 6, {48}, 9)[0], timeout_ms + 1);
    EXPECT_EQ(reasm->stats().timeout, 1u);
}

TEST_F(Reasm, TooBig) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const Bytes a = datagram(family, 100);
        // Ends at 65528 + 16 > 65535 (IPv4: plus the 20-byte header).
        feed_refused(fragment(a, family, 65528, Bytes(16, 1), false), DropReason::frag_too_big);
        feed_refused(fragment(a, family, 65520, Bytes(16, 1), true), DropReason::frag_too_big);
    }
    // IPv4: 65515 bytes after a 20-byte header is the limit; IPv6: 65535 of payload.
    const Bytes a4 = datagram(4, 100);
    feed_held(fragment(a4, 4, 65512, Bytes(3, 1), false));
    const Bytes a6 = datagram(6, 100);
    feed_refused(fragment(a6, 6, 65512, Bytes(24, 1), false), DropReason::frag_too_big);
    feed_held(fragment(a6, 6, 65512, Bytes(23, 1), false));
    // IPv4 counts the first fragment's header: with 40 bytes of options it leaves 65495
    // bytes of payload, whichever of the two arrives first.
    const Bytes b4 = datagram(4, 100, 0x0b0b);
    const Bytes opts = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    Bytes first = fragment(b4, 4, 0, slice(b4, 4, 0, 64), true, 0x0b0b);
    first.insert(first.begin() + eth_len + 20, opts.begin(), opts.end());
    first[eth_len] = 0x4f;
    put16(&first[eth_len + 2], 60 + 64);
    first[eth_len + 10] = first[eth_len + 11] = 0;
    put16(&first[eth_len + 10], qorgan::test::fold(qorgan::test::sum16(&first[eth_len], 60)));
    feed_held(first);
    feed_refused(fragment(b4, 4, 65480, Bytes(16, 1), false, 0x0b0b), DropReason::frag_too_big);
    feed_refused(fragment(b4, 4, 64, slice(b4, 4, 64, 44), false, 0x0b0b),
                 DropReason::frag_too_big); // the datagram is refused from then on
    const Bytes c4 = datagram(4, 100, 0x0c0c);
    feed_held(fragment(c4, 4, 65480, Bytes(16, 1), false, 0x0c0c));
    Bytes c_first = first;
    put16(&c_first[eth_len + 4], 0x0c0c);
    c_first[eth_len + 10] = c_first[eth_len + 11] = 0;
    put16(&c_first[eth_len + 10], qorgan::test::fold(qorgan::test::sum16(&c_first[eth_len], 60)));
    feed_refused(c_first, DropReason::frag_too_big);
    EXPECT_EQ(reasm->stats().too_big, 8u);
    reasm->expire(timeout_ms + 1);
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline);
}

TEST_F(Reasm, Malformed) {
    for (int family : {4, 6}) {
        SCOPED_TRACE(family);
        const Bytes a = datagram(family, 300, 0x0c0c);
        // A middle fragment whose length is not a multiple of 8.
        feed_refused(fragment(a, family, 0, slice(a, family, 0, 20), true, 0x0c0c),
                     DropReason::frag_malformed);
        // Data held beyond a last fragment that arrives later.
        const Bytes b = datagram(family, 300, 0x0d0d);
        feed_held(fragment(b, family, 64, slice(b, family, 64, 64), true, 0x0d0d));
        feed_refused(fragment(b, family, 16, slice(b, family, 16, 8), false, 0x0d0d),
                     DropReason::frag_malformed);
        feed_refused(fragment(b, family, 0, slice(b, family, 0, 16), true, 0x0d0d),
                     DropReason::frag_malformed); // the datagram is refused from then on
        // Two different last fragments; a fragment past the known end.
        const Bytes c = datagram(family, 300, 0x0e0e);
        feed_held(fragment(c, family, 64, slice(c, family, 64, 64), false, 0x0e0e));
        feed_refused(fragment(c, family, 256, slice(c, family, 256, 8), false, 0x0e0e),
                     DropReason::frag_malformed);
        const Bytes e = datagram(family, 300, 0x0f0f);
        feed_held(fragment(e, family, 64, slice(e, family, 64, 64), false, 0x0f0f));
        feed_refused(fragment(e, family, 128, slice(e, family, 128, 16), true, 0x0f0f),
                     DropReason::frag_malformed);
        // The same range as the held last fragment, but claiming more follow.
        const Bytes g = datagram(family, 300, 0x1010);
        feed_held(fragment(g, family, 64, slice(g, family, 64, 64), false, 0x1010));
        feed_refused(fragment(g, family, 64, slice(g, family, 64, 64), true, 0x1010),
                     DropReason::frag_malformed);
    }
    // IPv6 with a header before the Fragment header: rte_ip_frag cannot rebuild it.
    const Bytes h = datagram(6, 300);
    const Bytes hbh = {44, 0, 1, 4, 0, 0, 0, 0}; // PadN
    feed_refused(fragment(h, 6, 0, slice(h, 6, 0, 64), true, 7, hbh), DropReason::frag_malformed);
    EXPECT_EQ(reasm->stats().malformed, 2u * 6 + 1);
    reasm->expire(timeout_ms + 1);
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline);
}

TEST_F(Reasm, Ipv6AtomicFragmentComesBackAlone) {
    const Bytes a = datagram(6, 50);
    Bytes f = fragment(a, 6, 0, slice(a, 6, 0, 58), false);
    f.insert(f.end(), 6, 0); // Ethernet padding after the IPv6 packet
    std::optional<DropReason> why;
    rte_mbuf *out = reasm->add(mbuf_of(f), 0, why);
    EXPECT_FALSE(why.has_value());
    EXPECT_EQ(reasm->in_flight(), 0u);
    EXPECT_EQ(reasm->stats().atomic, 1u);
    expect_datagram(out, a);
}

TEST_F(Reasm, LinearizeRefusesWhatDoesNotFit) {
    const Bytes a = datagram(4, 3000);
    auto out = feed(cut(a, 4, {1480}, 0x1234));
    ASSERT_EQ(out.size(), 1u);
    rte_mempool *small = rte_pktmbuf_pool_create("reasm_small", 63, 0, mbuf_priv_size,
                                                 RTE_PKTMBUF_HEADROOM + 2048, SOCKET_ID_ANY);
    ASSERT_NE(small, nullptr);
    EXPECT_EQ(reasm_linearize(out[0], small), nullptr); // 3042 bytes > 2048: chain kept
    EXPECT_EQ(rte_pktmbuf_pkt_len(out[0]), a.size());
    EXPECT_EQ(rte_mempool_in_use_count(small), 0u);
    rte_mempool_free(small);
    // A pool with room for it (the default one holds 2048 too, so make one that fits).
    rte_mempool *big = rte_pktmbuf_pool_create("reasm_big", 63, 0, mbuf_priv_size,
                                               RTE_PKTMBUF_HEADROOM + 9216, SOCKET_ID_ANY);
    ASSERT_NE(big, nullptr);
    rte_mbuf *m = reasm_linearize(out[0], big);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->nb_segs, 1);
    const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
    EXPECT_EQ(Bytes(p, p + rte_pktmbuf_data_len(m)), a);
    EXPECT_EQ(l4_csum_residue(p, rte_pktmbuf_data_len(m)), 0u);
    rte_pktmbuf_free(m);
    EXPECT_EQ(rte_mempool_in_use_count(big), 0u);
    rte_mempool_free(big);
}

TEST_F(Reasm, DestroyFreesWhatIsHeld) {
    for (int family : {4, 6}) {
        const Bytes a = datagram(family, 1000);
        std::vector<Bytes> fa = cut(a, family, {256, 512}, 0x1234);
        feed_held(fa[0]);
        feed_held(fa[1]);
    }
    EXPECT_EQ(rte_mempool_in_use_count(pool), baseline + 4);
    // TearDown destroys the reassembler and checks the pool is back to its baseline.
}

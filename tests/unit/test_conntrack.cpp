// SPDX-License-Identifier: GPL-2.0-or-later
// Unit tests of the flow table and TCP tracker (R128-g: stateful filtering) with
// hand-built TCP headers; EAL runs without hugepages (eal_main.cpp).
#include "dataplane/conntrack.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
#include <rte_hash.h>
#pragma GCC diagnostic pop

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <string>
#include <vector>

namespace qorgan::dp {
namespace {

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
constexpr uint8_t TCP = 6, UDP = 17, ICMP = 1, ICMPV6 = 58, GRE = 47;

std::string unique_name() {
    static int n = 0;
    return "ct-test-" + std::to_string(n++);
}

PacketMeta meta(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                uint16_t ip_len = 60) {
    PacketMeta m;
    m.l3 = L3Kind::ipv4;
    m.ether_type = 0x0800;
    m.l3_offset = 14;
    m.l4_offset = 34;
    m.l3_end = static_cast<uint16_t>(14 + ip_len);
    m.proto = proto;
    m.src[0] = htonl(src);
    m.dst[0] = htonl(dst);
    m.sport = htons(sport);
    m.dport = htons(dport);
    m.in_port = 3;
    return m;
}

// A TCP header with options (padded with EOL to a multiple of 4) and a zero payload.
std::vector<uint8_t> segment(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                             uint32_t payload = 0, std::vector<uint8_t> opts = {}) {
    while (opts.size() % 4)
        opts.push_back(0);
    std::vector<uint8_t> b(20 + opts.size() + payload, 0);
    b[0] = 0x30, b[1] = 0x39, b[2] = 0x00, b[3] = 0x50;
    for (int i = 0; i < 4; i++) {
        b[4 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
        b[8 + i] = static_cast<uint8_t>(ack >> (24 - 8 * i));
    }
    b[12] = static_cast<uint8_t>(((20 + opts.size()) / 4) << 4);
    b[13] = flags;
    b[14] = static_cast<uint8_t>(win >> 8);
    b[15] = static_cast<uint8_t>(win);
    std::copy(opts.begin(), opts.end(), b.begin() + 20);
    return b;
}

std::vector<uint8_t> wscale_opt(uint8_t shift) {
    return {1, 3, 3, shift};
}

class ConntrackTest : public testing::Test {
protected:
    void SetUp() override { make_table(1024); }

    void make_table(uint32_t max_flows, config::Timeouts to = {}) {
        table.reset();
        name = unique_name();
        auto r = FlowTable::create(name.c_str(), max_flows, SOCKET_ID_ANY, to);
        ASSERT_TRUE(r.ok()) << r.error().to_string();
        table = std::move(r.value());
    }

    Flow *create_udp(uint16_t sport, uint64_t now = 0) {
        auto m = meta(UDP, 0x0a000001, 0x0a000002, sport, 53);
        return table->create(m, nullptr, 0, now);
    }

    // A TCP connection 10.0.0.1:40000 -> 10.0.0.2:80 driven segment by segment.
    Flow *syn(uint32_t isn, uint16_t win = 65535, std::vector<uint8_t> opts = {}) {
        auto b = segment(isn, 0, SYN, win, 0, std::move(opts));
        flow = table->create(fwd_meta, b.data(), static_cast<uint32_t>(b.size()), now);
        return flow;
    }
    Track send(Dir d, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win = 65535,
               uint32_t payload = 0, std::vector<uint8_t> opts = {}) {
        auto b = segment(seq, ack, flags, win, payload, std::move(opts));
        const PacketMeta &m = d == Dir::forward ? fwd_meta : rev_meta;
        return table->track(*flow, d, m, b.data(), static_cast<uint32_t>(b.size()),
                            static_cast<uint32_t>(b.size() + 20), now);
    }
    Track fwd(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win = 65535,
              uint32_t payload = 0) {
        return send(Dir::forward, seq, ack, flags, win, payload);
    }
    Track rev(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win = 65535,
              uint32_t payload = 0) {
        return send(Dir::reply, seq, ack, flags, win, payload);
    }
    // SYN (c_isn), SYN+ACK (s_isn), ACK: the flow ends up established.
    void handshake(uint32_t c_isn, uint32_t s_isn) {
        ASSERT_NE(syn(c_isn), nullptr);
        ASSERT_EQ(rev(s_isn, c_isn + 1, SYN | ACK), Track::ok);
        ASSERT_EQ(fwd(c_isn + 1, s_isn + 1, ACK), Track::ok);
        ASSERT_EQ(flow->state, FlowState::tcp_established);
    }

    std::string name;
    std::unique_ptr<FlowTable> table;
    PacketMeta fwd_meta = meta(TCP, 0x0a000001, 0x0a000002, 40000, 80);
    PacketMeta rev_meta = meta(TCP, 0x0a000002, 0x0a000001, 80, 40000);
    Flow *flow = nullptr;
    uint64_t now = 1000;
};

// --- creation of the table ---------------------------------------------------------

TEST(FlowTableCreate, RejectsBadArguments) {
    config::Timeouts to;
    auto r1 = FlowTable::create(nullptr, 16, SOCKET_ID_ANY, to);
    ASSERT_FALSE(r1.ok());
    EXPECT_NE(r1.error().message.find("name is required"), std::string::npos);
    EXPECT_FALSE(FlowTable::create("", 16, SOCKET_ID_ANY, to).ok());
    auto r2 = FlowTable::create("ct-zero", 0, SOCKET_ID_ANY, to);
    ASSERT_FALSE(r2.ok());
    EXPECT_NE(r2.error().message.find("flow table ct-zero: max_flows"), std::string::npos);
    EXPECT_FALSE(FlowTable::create("ct-big", RTE_HASH_ENTRIES_MAX / 2 + 1, SOCKET_ID_ANY, to).ok());
}

TEST(FlowTableCreate, ReportsAllocationFailure) {
    // The largest allowed table cannot fit in the 512 MB the tests give EAL.
    auto r = FlowTable::create("ct-huge", RTE_HASH_ENTRIES_MAX / 2, SOCKET_ID_ANY, {});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("cannot allocate"), std::string::npos);
}

TEST(FlowTableCreate, RejectsDuplicateName) {
    auto a = FlowTable::create("ct-same", 16, SOCKET_ID_ANY, {});
    ASSERT_TRUE(a.ok());
    auto b = FlowTable::create("ct-same", 16, SOCKET_ID_ANY, {});
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().message.find("cannot create hash"), std::string::npos);
    EXPECT_EQ((*a)->capacity(), 16u);
}

// --- TCP state machine (R128-g) ----------------------------------------------------

TEST_F(ConntrackTest, R128g_FullHandshakeAndCloseReachTimeWait) {
    ASSERT_NE(syn(1000), nullptr);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_sent);
    EXPECT_EQ(flow->tcp[0].end, 1001u);
    EXPECT_EQ(rev(5000, 1001, SYN | ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_received);
    EXPECT_EQ(fwd(1001, 5001, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_established);
    EXPECT_EQ(fwd(1001, 5001, PSH | ACK, 65535, 100), Track::ok);
    EXPECT_EQ(flow->tcp[0].end, 1101u);
    EXPECT_EQ(rev(5001, 1101, ACK), Track::ok);
    EXPECT_EQ(fwd(1101, 5001, FIN | ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_fin_wait);
    EXPECT_EQ(flow->tcp[0].fin_seq, 1102u);
    EXPECT_EQ(rev(5001, 1102, FIN | ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_closing);
    EXPECT_EQ(fwd(1102, 5002, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_time_wait);
    // The last ACK retransmitted in time_wait is still fine.
    EXPECT_EQ(fwd(1102, 5002, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_time_wait);
    // Port reuse: a new SYN past the old end reopens the session.
    EXPECT_EQ(fwd(1000, 0, SYN), Track::out_of_window);
    EXPECT_EQ(flow->state, FlowState::tcp_time_wait);
    EXPECT_EQ(fwd(90000, 0, SYN), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_sent);
    EXPECT_EQ(flow->tcp[0].end, 90001u);
}

TEST_F(ConntrackTest, R128g_FinAcknowledgedBeforeOtherFinStaysFinWait) {
    handshake(1000, 5000);
    EXPECT_EQ(fwd(1001, 5001, FIN | ACK), Track::ok);
    EXPECT_EQ(rev(5001, 1002, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_fin_wait);
    EXPECT_EQ(flow->tcp[0].seen_fin, 2); // acknowledged
    EXPECT_EQ(rev(5001, 1002, FIN | ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_closing);
    EXPECT_EQ(fwd(1002, 5002, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_time_wait);
}

TEST_F(ConntrackTest, R128g_ResponderClosesFirst) {
    handshake(1000, 5000);
    EXPECT_EQ(rev(5001, 1001, FIN | ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_fin_wait);
    EXPECT_EQ(fwd(1001, 5001, ACK), Track::ok); // does not cover the FIN
    EXPECT_EQ(flow->tcp[1].seen_fin, 1);
    EXPECT_EQ(fwd(1001, 5002, FIN | ACK), Track::ok);
    EXPECT_EQ(flow->tcp[1].seen_fin, 2);
    EXPECT_EQ(flow->state, FlowState::tcp_closing);
    EXPECT_EQ(rev(5002, 1002, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_time_wait);
}

TEST_F(ConntrackTest, R128g_NothingAfterFin) {
    handshake(1000, 5000);
    EXPECT_EQ(fwd(1001, 5001, FIN | ACK), Track::ok);
    EXPECT_EQ(fwd(1002, 5001, PSH | ACK, 65535, 10), Track::out_of_window);
    EXPECT_EQ(fwd(1001, 5001, FIN | ACK), Track::ok); // FIN retransmitted
    EXPECT_EQ(flow->state, FlowState::tcp_fin_wait);
}

TEST_F(ConntrackTest, R128g_RstInWindowCloses) {
    handshake(1000, 5000);
    EXPECT_EQ(rev(5001, 0, RST), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_closed);
}

TEST_F(ConntrackTest, R128g_RstOutsideWindowIsOutOfWindow) {
    handshake(1000, 5000);
    EXPECT_EQ(rev(5001 + 200000, 0, RST), Track::out_of_window); // beyond
    EXPECT_EQ(rev(5001 - 70000, 0, RST), Track::out_of_window);  // too old
    EXPECT_EQ(flow->state, FlowState::tcp_established);
    EXPECT_EQ(flow->packets[1], 1u); // only the SYN+ACK counted
}

TEST_F(ConntrackTest, R128g_ResponderRefusesSynWithRst) {
    ASSERT_NE(syn(1000), nullptr);
    EXPECT_EQ(rev(0, 1000, RST | ACK), Track::out_of_window); // does not ack the SYN
    EXPECT_EQ(rev(0, 1001, RST), Track::out_of_window);       // no ACK at all
    EXPECT_EQ(flow->state, FlowState::tcp_syn_sent);
    EXPECT_EQ(rev(0, 1001, RST | ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_closed);
    // The responder never sent a SYN: its segments cannot be judged.
    EXPECT_EQ(rev(0, 1001, ACK), Track::out_of_window);
}

TEST_F(ConntrackTest, R128g_OriginatorAbortsInSynSent) {
    ASSERT_NE(syn(1000), nullptr);
    EXPECT_EQ(fwd(1001, 0, RST), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_closed);
}

TEST_F(ConntrackTest, R128g_SegmentBeyondWindowAndOldDuplicates) {
    handshake(1000, 5000);
    // The server allowed 1001 + 65535 = 66536.
    EXPECT_EQ(flow->tcp[0].maxend, 66536u);
    EXPECT_EQ(fwd(66000, 5001, ACK, 65535, 1000), Track::out_of_window);
    EXPECT_EQ(flow->tcp[0].end, 1001u);                       // unchanged
    EXPECT_EQ(fwd(65000, 5001, ACK, 65535, 1000), Track::ok); // out of order, in window
    EXPECT_EQ(flow->tcp[0].end, 66000u);
    // Older than the largest window the server advertised: not a retransmission.
    EXPECT_EQ(fwd(66000 - 65535 - 10, 5001, ACK, 65535, 5), Track::out_of_window);
    EXPECT_EQ(fwd(66000 - 60000, 5001, ACK, 65535, 5), Track::ok);
}

TEST_F(ConntrackTest, R128g_AckChecks) {
    handshake(1000, 5000);
    EXPECT_EQ(fwd(1001, 5003, ACK), Track::out_of_window);         // acks unsent data
    EXPECT_EQ(fwd(1001, 5002, ACK), Track::ok);                    // within the slack
    EXPECT_EQ(fwd(1001, 5001 - 66001, ACK), Track::out_of_window); // beyond MAXACKWINDOW
    EXPECT_EQ(fwd(1001, 5001 - 65000, ACK), Track::ok);
}

TEST_F(ConntrackTest, R128g_SequenceWrapAroundStaysInWindow) {
    const uint32_t c = 0xffffff00u, s = 0xfffffff0u;
    handshake(c, s);
    EXPECT_EQ(fwd(c + 1, s + 1, ACK, 65535, 1000), Track::ok);
    uint32_t cend = c + 1 + 1000; // wrapped past 2^32
    EXPECT_LT(cend, 1000u);
    EXPECT_EQ(flow->tcp[0].end, cend);
    EXPECT_EQ(rev(s + 1, cend, ACK, 65535, 100), Track::ok);
    EXPECT_EQ(flow->tcp[1].end, s + 101);
    EXPECT_EQ(fwd(cend, s + 101, ACK, 65535, 100), Track::ok);
    EXPECT_EQ(fwd(c + 1, s + 101, ACK, 65535, 1000), Track::ok); // retransmission
    EXPECT_EQ(fwd(cend + 100 + 70000, s + 101, ACK, 65535, 10), Track::out_of_window);
    EXPECT_EQ(fwd(cend + 100, s + 101, FIN | ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_fin_wait);
}

TEST_F(ConntrackTest, R128g_WindowScalingIsRespected) {
    ASSERT_NE(syn(1000, 65535, wscale_opt(7)), nullptr);
    EXPECT_EQ(flow->tcp[0].wscale, 7);
    EXPECT_EQ(send(Dir::reply, 5000, 1001, SYN | ACK, 65535, 0, wscale_opt(7)), Track::ok);
    EXPECT_EQ(fwd(1001, 5001, ACK, 1000), Track::ok); // 1000 << 7 = 128000
    EXPECT_EQ(flow->tcp[1].maxend, 5001u + 128000u);
    // Valid only because the client's window is scaled.
    EXPECT_EQ(rev(5001 + 100000, 1001, ACK, 512, 100), Track::ok);
}

TEST_F(ConntrackTest, R128g_WindowScalingNeedsBothSyns) {
    ASSERT_NE(syn(1000, 65535, wscale_opt(7)), nullptr);
    EXPECT_EQ(rev(5000, 1001, SYN | ACK), Track::ok); // no option
    EXPECT_EQ(flow->tcp[0].wscale, 0);
    EXPECT_EQ(flow->tcp[1].wscale, 0);
    EXPECT_EQ(fwd(1001, 5001, ACK, 1000), Track::ok);
    EXPECT_EQ(rev(5001 + 100000, 1001, ACK, 512, 100), Track::out_of_window);
    EXPECT_EQ(flow->state, FlowState::tcp_established);
}

TEST_F(ConntrackTest, R128g_WindowScalingNeedsTheOriginatorsSynToo) {
    ASSERT_NE(syn(1000), nullptr); // no option
    EXPECT_EQ(send(Dir::reply, 5000, 1001, SYN | ACK, 65535, 0, wscale_opt(7)), Track::ok);
    EXPECT_EQ(flow->tcp[1].wscale_ok, 1);
    EXPECT_EQ(flow->tcp[1].wscale, 0);
    EXPECT_EQ(fwd(1001, 5001, ACK), Track::ok);
    EXPECT_EQ(rev(5001, 1001, ACK, 1000), Track::ok); // 1000, not 128000
    EXPECT_EQ(flow->tcp[0].maxend, 1001u + 65535u);
}

TEST_F(ConntrackTest, R128g_WindowScaleIsCappedAt14) {
    ASSERT_NE(syn(1000, 65535, wscale_opt(15)), nullptr);
    EXPECT_EQ(flow->tcp[0].wscale, 14);
    EXPECT_EQ(flow->tcp[0].wscale_ok, 1);
}

TEST_F(ConntrackTest, R128g_WindowScaleOptionParsing) {
    struct Case {
        std::vector<uint8_t> opts;
        int expect; // -1: no option
    };
    const Case cases[] = {
        {{2, 4, 5, 0xb4, 1, 3, 3, 9}, 9}, // MSS, NOP, WS
        {{1, 1, 1, 1}, -1},               // only NOPs
        {{0, 3, 3, 7}, -1},               // end of list first
        {{1, 3, 5, 7}, -1},               // length runs past the header
        {{8, 1, 0, 0}, -1},               // length below 2
        {{1, 1, 1, 3}, -1},               // kind without a length byte
        {{3, 4, 7, 0}, -1},               // wscale with a wrong length is skipped
    };
    uint16_t port = 1000;
    for (const auto &c : cases) {
        fwd_meta.sport = htons(port++);
        ASSERT_NE(syn(1000, 65535, c.opts), nullptr);
        EXPECT_EQ(flow->tcp[0].wscale_ok, c.expect >= 0 ? 1 : 0);
        EXPECT_EQ(flow->tcp[0].wscale, c.expect >= 0 ? c.expect : 0);
    }
}

TEST_F(ConntrackTest, R128g_InvalidFlagCombinations) {
    handshake(1000, 5000);
    const uint8_t bad[] = {SYN | FIN, SYN | RST, 0, FIN, PSH, RST | FIN | ACK, SYN | FIN | ACK};
    for (uint8_t f : bad) {
        EXPECT_EQ(fwd(1001, 5001, f), Track::invalid) << int(f);
        EXPECT_EQ(rev(5001, 1001, f), Track::invalid) << int(f);
    }
    EXPECT_EQ(fwd(1001, 5001, SYN | ACK), Track::invalid); // SYN+ACK from the originator
    EXPECT_EQ(rev(5001, 0, SYN), Track::invalid);          // simultaneous open
    EXPECT_EQ(flow->state, FlowState::tcp_established);
    EXPECT_EQ(flow->packets[0], 2u);
}

TEST_F(ConntrackTest, R128g_MalformedTcpHeaderIsInvalid) {
    handshake(1000, 5000);
    auto b = segment(1001, 5001, ACK, 65535);
    EXPECT_EQ(table->track(*flow, Dir::forward, fwd_meta, b.data(), 19, 40, now), Track::invalid);
    EXPECT_EQ(table->track(*flow, Dir::forward, fwd_meta, nullptr, 20, 40, now), Track::invalid);
    b[12] = 4 << 4; // data offset 16
    EXPECT_EQ(table->track(*flow, Dir::forward, fwd_meta, b.data(), 20, 40, now), Track::invalid);
    b[12] = 6 << 4; // data offset 24 > 20
    EXPECT_EQ(table->track(*flow, Dir::forward, fwd_meta, b.data(), 20, 40, now), Track::invalid);
    EXPECT_EQ(flow->packets[0], 2u);
}

TEST_F(ConntrackTest, R128g_RetransmittedSyn) {
    ASSERT_NE(syn(1000), nullptr);
    EXPECT_EQ(fwd(1000, 0, SYN), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_sent);
    EXPECT_EQ(flow->packets[0], 2u);
    EXPECT_EQ(fwd(7777, 0, SYN), Track::out_of_window); // another ISN
    EXPECT_EQ(rev(5000, 1001, SYN | ACK), Track::ok);
    EXPECT_EQ(fwd(1000, 0, SYN), Track::ok);          // SYN+ACK lost on the way back
    EXPECT_EQ(rev(5000, 1001, SYN | ACK), Track::ok); // and retransmitted
    EXPECT_EQ(flow->state, FlowState::tcp_syn_received);
    EXPECT_EQ(fwd(1001, 5001, ACK), Track::ok);
    EXPECT_EQ(fwd(1000, 0, SYN), Track::out_of_window); // no SYN once established
}

TEST_F(ConntrackTest, R128g_SynAckThatDoesNotAckTheSynChangesNothing) {
    ASSERT_NE(syn(1000), nullptr);
    EXPECT_EQ(rev(5000, 999999, SYN | ACK), Track::out_of_window);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_sent);
    EXPECT_EQ(flow->tcp[1].seen_syn, 0);
    EXPECT_EQ(rev(5000, 1001, SYN | ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_received);
}

TEST_F(ConntrackTest, R128g_NoPlainSegmentsBeforeSynAck) {
    ASSERT_NE(syn(1000), nullptr);
    EXPECT_EQ(fwd(1001, 0, ACK), Track::out_of_window);
    EXPECT_EQ(rev(5001, 1001, ACK), Track::out_of_window);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_sent);
}

TEST_F(ConntrackTest, R128g_AckNotCoveringSynAckKeepsSynReceived) {
    ASSERT_NE(syn(1000), nullptr);
    EXPECT_EQ(rev(5000, 1001, SYN | ACK), Track::ok);
    EXPECT_EQ(fwd(1001, 5000, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_received);
    EXPECT_EQ(rev(5001, 1001, ACK), Track::ok); // the responder's ACK completes nothing
    EXPECT_EQ(flow->state, FlowState::tcp_syn_received);
    EXPECT_EQ(fwd(1001, 5001, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_established);
}

TEST_F(ConntrackTest, R128g_NewSynReopensTimeWaitOnlyBeyondOldEnd) {
    handshake(1000, 5000);
    EXPECT_EQ(rev(5001, 1001, RST), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_closed);
    EXPECT_EQ(fwd(900, 0, SYN), Track::out_of_window); // not past the old end
    EXPECT_EQ(rev(9000, 0, SYN), Track::invalid);      // the responder cannot reopen
    EXPECT_EQ(flow->state, FlowState::tcp_closed);
    EXPECT_EQ(fwd(200000, 0, SYN), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_syn_sent);
    EXPECT_EQ(flow->tcp[1].seen_syn, 0);
    EXPECT_EQ(rev(70000, 200001, SYN | ACK), Track::ok);
    EXPECT_EQ(fwd(200001, 70001, ACK), Track::ok);
    EXPECT_EQ(flow->state, FlowState::tcp_established);
}

TEST_F(ConntrackTest, R128g_TrackCountsOnlyAcceptedPackets) {
    handshake(1000, 5000);
    now = 5000;
    EXPECT_EQ(fwd(1001, 5001, ACK, 65535, 100), Track::ok);
    EXPECT_EQ(flow->packets[0], 3u);
    EXPECT_EQ(flow->packets[1], 1u);
    // SYN: 20 + 20; SYN+ACK: 40; ACK: 40; data: 140.
    EXPECT_EQ(flow->bytes[0], 60u /* meta ip_len */ + 40u + 140u);
    EXPECT_EQ(flow->bytes[1], 40u);
    EXPECT_EQ(flow->last_seen_ms, 5000u);
    now = 9000;
    EXPECT_EQ(fwd(900000, 5001, ACK, 65535, 100), Track::out_of_window);
    EXPECT_EQ(flow->packets[0], 3u);
    EXPECT_EQ(flow->last_seen_ms, 5000u);
}

TEST_F(ConntrackTest, R128g_CreateOnlyForCleanSyn) {
    auto synack = segment(1000, 1, SYN | ACK, 1000);
    auto ack = segment(1000, 1, ACK, 1000);
    auto synfin = segment(1000, 0, SYN | FIN, 1000);
    auto l4 = [](const std::vector<uint8_t> &b) { return static_cast<uint32_t>(b.size()); };
    EXPECT_EQ(table->create(fwd_meta, synack.data(), l4(synack), 0), nullptr);
    EXPECT_EQ(table->create(fwd_meta, ack.data(), l4(ack), 0), nullptr);
    EXPECT_EQ(table->create(fwd_meta, synfin.data(), l4(synfin), 0), nullptr);
    EXPECT_EQ(table->create(fwd_meta, nullptr, 20, 0), nullptr);
    EXPECT_EQ(table->create(fwd_meta, ack.data(), 12, 0), nullptr);
    EXPECT_EQ(table->stats().created, 0u);
    EXPECT_EQ(table->stats().refused_full, 0u);
    EXPECT_EQ(table->stats().active, 0u);
}

// --- pseudo-state of other protocols -----------------------------------------------

TEST_F(ConntrackTest, R128g_UdpNewThenStream) {
    Flow *f = create_udp(5353);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->state, FlowState::udp_new);
    EXPECT_EQ(f->packets[0], 1u);
    EXPECT_EQ(f->bytes[0], 60u);
    EXPECT_EQ(f->in_port, 3);
    EXPECT_EQ(f->created_ms, 0u);
    // A meta without a sane IP length counts no bytes rather than a huge number.
    auto odd = meta(UDP, 0x0a000001, 0x0a000002, 5354, 53);
    odd.l3_end = 0;
    Flow *g = table->create(odd, nullptr, 0, 7);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->bytes[0], 0u);
    EXPECT_EQ(g->created_ms, 7u);
    auto m = meta(UDP, 0x0a000001, 0x0a000002, 5353, 53);
    EXPECT_EQ(table->track(*f, Dir::forward, m, nullptr, 0, 100, 10), Track::ok);
    EXPECT_EQ(f->state, FlowState::udp_new);
    EXPECT_EQ(table->track(*f, Dir::reply, m, nullptr, 0, 200, 20), Track::ok);
    EXPECT_EQ(f->state, FlowState::udp_stream);
    EXPECT_EQ(f->packets[0], 2u);
    EXPECT_EQ(f->packets[1], 1u);
    EXPECT_EQ(f->bytes[0], 160u);
    EXPECT_EQ(f->bytes[1], 200u);
    EXPECT_EQ(f->last_seen_ms, 20u);
}

TEST_F(ConntrackTest, R128g_IcmpEchoAndOtherProtocols) {
    auto echo = meta(ICMP, 0x0a000001, 0x0a000002, 77, 77);
    echo.icmp_type = 8;
    Flow *f = table->create(echo, nullptr, 0, 0);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->state, FlowState::icmp);
    EXPECT_EQ(table->track(*f, Dir::reply, echo, nullptr, 0, 84, 1), Track::ok);
    EXPECT_EQ(f->state, FlowState::icmp);

    auto echo6 = meta(ICMPV6, 0, 0, 78, 78);
    echo6.l3 = L3Kind::ipv6;
    echo6.src[3] = htonl(1);
    echo6.dst[3] = htonl(2);
    f = table->create(echo6, nullptr, 0, 0);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->state, FlowState::icmp);
    EXPECT_EQ(f->key[0].family, 6);

    f = table->create(meta(GRE, 0x0a000001, 0x0a000002, 0, 0), nullptr, 0, 0);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->state, FlowState::other);
    EXPECT_EQ(table->track(*f, Dir::reply, echo, nullptr, 0, 84, 1), Track::ok);
    EXPECT_EQ(f->state, FlowState::other);
}

// --- lookups ------------------------------------------------------------------------

TEST_F(ConntrackTest, R128g_LookupBulkFindsBothDirections) {
    Flow *a = create_udp(1);
    Flow *b = create_udp(2);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    FlowKey missing = a->key[0];
    missing.sport = htons(9);
    const FlowKey *keys[] = {&a->key[0], &b->key[1], &missing, &a->key[1], &b->key[0]};
    Flow *flows[5];
    Dir dirs[5];
    table->lookup_bulk(keys, 5, flows, dirs);
    EXPECT_EQ(flows[0], a);
    EXPECT_EQ(dirs[0], Dir::forward);
    EXPECT_EQ(flows[1], b);
    EXPECT_EQ(dirs[1], Dir::reply);
    EXPECT_EQ(flows[2], nullptr);
    EXPECT_EQ(flows[3], a);
    EXPECT_EQ(dirs[3], Dir::reply);
    EXPECT_EQ(flows[4], b);
    EXPECT_EQ(dirs[4], Dir::forward);

    Dir d = Dir::forward;
    EXPECT_EQ(table->lookup(b->key[1], &d), b);
    EXPECT_EQ(d, Dir::reply);
    EXPECT_EQ(table->lookup(a->key[0], nullptr), a);
    EXPECT_EQ(table->lookup(missing, &d), nullptr);
}

TEST_F(ConntrackTest, R128g_LookupBulkBeyondOneHashBurst) {
    std::vector<Flow *> created;
    for (uint16_t p = 0; p < 40; p++)
        created.push_back(create_udp(static_cast<uint16_t>(100 + p)));
    std::vector<const FlowKey *> keys;
    for (Flow *f : created) {
        ASSERT_NE(f, nullptr);
        keys.push_back(&f->key[0]);
        keys.push_back(&f->key[1]);
    }
    std::vector<Flow *> flows(keys.size());
    std::vector<Dir> dirs(keys.size());
    table->lookup_bulk(keys.data(), static_cast<unsigned>(keys.size()), flows.data(), dirs.data());
    for (size_t i = 0; i < keys.size(); i++) {
        EXPECT_EQ(flows[i], created[i / 2]) << i;
        EXPECT_EQ(dirs[i], i % 2 ? Dir::reply : Dir::forward) << i;
    }
}

// --- admission ----------------------------------------------------------------------

TEST_F(ConntrackTest, R128g_AdmissionLimit) {
    for (uint32_t i = 0; i < 1024; i++)
        ASSERT_NE(create_udp(static_cast<uint16_t>(1 + i)), nullptr) << i;
    EXPECT_EQ(table->stats().active, 1024u);
    EXPECT_EQ(create_udp(2000), nullptr);
    EXPECT_EQ(table->stats().refused_full, 1u);
    Flow *victim = table->lookup(flow_key_of(meta(UDP, 0x0a000001, 0x0a000002, 7, 53)), nullptr);
    ASSERT_NE(victim, nullptr);
    table->remove(*victim);
    EXPECT_EQ(table->stats().active, 1023u);
    EXPECT_NE(create_udp(2000), nullptr);
    EXPECT_EQ(table->stats().refused_full, 1u);
    EXPECT_EQ(table->stats().created, 1025u);
}

TEST_F(ConntrackTest, R128g_DuplicateKeysAreRefused) {
    ASSERT_NE(create_udp(5000), nullptr);
    EXPECT_EQ(create_udp(5000), nullptr);
    auto reverse = meta(UDP, 0x0a000002, 0x0a000001, 53, 5000);
    EXPECT_EQ(table->create(reverse, nullptr, 0, 0), nullptr);
    // A packet to itself would need one key for both directions.
    auto self = meta(UDP, 0x0a000001, 0x0a000001, 53, 53);
    EXPECT_EQ(table->create(self, nullptr, 0, 0), nullptr);
    EXPECT_EQ(table->stats().created, 1u);
    EXPECT_EQ(table->stats().active, 1u);
    EXPECT_EQ(table->stats().refused_full, 0u);
}

TEST_F(ConntrackTest, R128g_HashInsertFailureRollsBack) {
    make_table(4); // 8 hash entries
    rte_hash *h = rte_hash_find_existing(name.c_str());
    ASSERT_NE(h, nullptr);
    std::vector<FlowKey> foreign(9);
    for (uint16_t i = 0; i < 9; i++) {
        foreign[i] = flow_key_of(meta(GRE, 0x0b000001, 0x0b000002, i, i));
        int rc = rte_hash_add_key(h, &foreign[i]);
        if (i < 8)
            ASSERT_GE(rc, 0) << i;
        else
            ASSERT_LT(rc, 0); // the hash really is full
    }
    EXPECT_EQ(create_udp(1), nullptr); // the first key does not fit
    ASSERT_GE(rte_hash_del_key(h, &foreign[0]), 0);
    EXPECT_EQ(create_udp(1), nullptr); // the second does not
    EXPECT_EQ(table->lookup(flow_key_of(meta(UDP, 0x0a000001, 0x0a000002, 1, 53)), nullptr),
              nullptr); // the first was taken back
    EXPECT_EQ(table->stats().created, 0u);
    EXPECT_EQ(table->stats().active, 0u);
    for (uint16_t i = 1; i < 8; i++)
        ASSERT_GE(rte_hash_del_key(h, &foreign[i]), 0);
    for (uint16_t p = 1; p <= 4; p++)
        EXPECT_NE(create_udp(p), nullptr) << p;
    EXPECT_EQ(create_udp(5), nullptr);
    EXPECT_EQ(table->stats().refused_full, 1u);
}

TEST_F(ConntrackTest, R128g_RemoveDeletesBothKeysOnce) {
    Flow *f = create_udp(10);
    ASSERT_NE(f, nullptr);
    FlowKey k0 = f->key[0], k1 = f->key[1];
    table->remove(*f);
    EXPECT_EQ(table->lookup(k0, nullptr), nullptr);
    EXPECT_EQ(table->lookup(k1, nullptr), nullptr);
    table->remove(*f); // a second remove is a no-op
    EXPECT_EQ(table->stats().removed, 1u);
    EXPECT_EQ(table->stats().active, 0u);
    int live = 0;
    table->for_each([&](const Flow &) { live++; });
    EXPECT_EQ(live, 0);
}

// --- expiry -------------------------------------------------------------------------

TEST_F(ConntrackTest, R128g_TimeoutPerState) {
    config::Timeouts to{1, 2, 3, 4, 5, 6, 7, 8};
    make_table(16, to);
    EXPECT_EQ(table->timeout_of(FlowState::tcp_syn_sent), 1u);
    EXPECT_EQ(table->timeout_of(FlowState::tcp_syn_received), 1u);
    EXPECT_EQ(table->timeout_of(FlowState::tcp_established), 2u);
    EXPECT_EQ(table->timeout_of(FlowState::tcp_fin_wait), 3u);
    EXPECT_EQ(table->timeout_of(FlowState::tcp_closing), 3u);
    EXPECT_EQ(table->timeout_of(FlowState::tcp_time_wait), 4u);
    EXPECT_EQ(table->timeout_of(FlowState::tcp_closed), 4u);
    EXPECT_EQ(table->timeout_of(FlowState::udp_new), 5u);
    EXPECT_EQ(table->timeout_of(FlowState::udp_stream), 6u);
    EXPECT_EQ(table->timeout_of(FlowState::icmp), 7u);
    EXPECT_EQ(table->timeout_of(FlowState::other), 8u);
    EXPECT_EQ(table->timeout_of(static_cast<FlowState>(200)), 8u);
}

TEST_F(ConntrackTest, R128g_ExpireRemovesExactlyTheIdleFlows) {
    config::Timeouts to;
    to.tcp_syn = 30, to.udp = 60, to.udp_stream = 180, to.icmp = 30, to.other = 60;
    make_table(1024, to);
    now = 0;
    Flow *udp_new = create_udp(1, 0);
    Flow *udp_stream = create_udp(2, 0);
    ASSERT_NE(udp_new, nullptr);
    ASSERT_NE(udp_stream, nullptr);
    auto um = meta(UDP, 0x0a000002, 0x0a000001, 53, 2);
    ASSERT_EQ(table->track(*udp_stream, Dir::reply, um, nullptr, 0, 60, 0), Track::ok);
    ASSERT_NE(table->create(meta(ICMP, 1, 2, 5, 5), nullptr, 0, 0), nullptr);
    ASSERT_NE(table->create(meta(GRE, 1, 2, 0, 0), nullptr, 0, 0), nullptr);
    ASSERT_NE(syn(1000), nullptr);

    EXPECT_EQ(table->expire(30000, 1024), 0u); // exactly the timeout is not "longer"
    EXPECT_EQ(table->stats().active, 5u);
    EXPECT_EQ(table->expire(30001, 1024), 2u); // ICMP, TCP syn_sent
    EXPECT_EQ(table->lookup(flow_key_of(fwd_meta), nullptr), nullptr);
    EXPECT_EQ(table->expire(60001, 1024), 2u); // UDP new, other
    EXPECT_EQ(table->lookup(udp_stream->key[0], nullptr), udp_stream);
    EXPECT_EQ(table->expire(180000, 1024), 0u);
    EXPECT_EQ(table->expire(180001, 1024), 1u);
    EXPECT_EQ(table->stats().expired, 5u);
    EXPECT_EQ(table->stats().active, 0u);
    EXPECT_EQ(table->stats().removed, 0u);
}

TEST_F(ConntrackTest, R128g_ExpireHonoursTheBudget) {
    for (uint16_t p = 0; p < 10; p++)
        ASSERT_NE(create_udp(static_cast<uint16_t>(100 + p), 0), nullptr);
    // Flows occupy slots 0..9; each call looks at the next `budget` slots.
    EXPECT_EQ(table->expire(100000, 4), 4u);
    EXPECT_EQ(table->expire(100000, 4), 4u);
    EXPECT_EQ(table->expire(100000, 4), 2u);
    EXPECT_EQ(table->stats().active, 0u);
    EXPECT_EQ(table->stats().expired, 10u);
    // The sweep wraps around the table. The free stack hands out slot 9 (freed last).
    Flow *f = create_udp(500, 0);
    ASSERT_EQ(f, table->lookup(flow_key_of(meta(UDP, 0x0a000001, 0x0a000002, 500, 53)), nullptr));
    EXPECT_EQ(table->expire(100000, 1012), 0u); // slots 12..1023
    EXPECT_EQ(table->expire(100000, 9), 0u);    // slots 0..8
    EXPECT_EQ(table->expire(100000, 1), 1u);    // slot 9
}

TEST_F(ConntrackTest, R128g_ExpireIgnoresAClockBehindTheFlow) {
    Flow *f = create_udp(1, 500000);
    ASSERT_NE(f, nullptr);
    // A budget above the capacity looks at every slot once.
    EXPECT_EQ(table->expire(1000, 5000), 0u);
    EXPECT_EQ(table->stats().active, 1u);
    EXPECT_EQ(table->expire(500000 + 60001, 5000), 1u);
}

TEST(FlowStateName, NamesEveryState) {
    EXPECT_STREQ(flow_state_name(FlowState::tcp_syn_sent), "tcp_syn_sent");
    EXPECT_STREQ(flow_state_name(FlowState::tcp_syn_received), "tcp_syn_received");
    EXPECT_STREQ(flow_state_name(FlowState::tcp_established), "tcp_established");
    EXPECT_STREQ(flow_state_name(FlowState::tcp_fin_wait), "tcp_fin_wait");
    EXPECT_STREQ(flow_state_name(FlowState::tcp_closing), "tcp_closing");
    EXPECT_STREQ(flow_state_name(FlowState::tcp_time_wait), "tcp_time_wait");
    EXPECT_STREQ(flow_state_name(FlowState::tcp_closed), "tcp_closed");
    EXPECT_STREQ(flow_state_name(FlowState::udp_new), "udp_new");
    EXPECT_STREQ(flow_state_name(FlowState::udp_stream), "udp_stream");
    EXPECT_STREQ(flow_state_name(FlowState::icmp), "icmp");
    EXPECT_STREQ(flow_state_name(FlowState::other), "other");
    EXPECT_STREQ(flow_state_name(static_cast<FlowState>(200)), "unknown");
}

} // namespace
} // namespace qorgan::dp

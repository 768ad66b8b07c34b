// SPDX-License-Identifier: GPL-2.0-or-later
// Established flows (issue 9): cycles per 64-byte packet through the worker pipeline (rx
// burst from a net_ring port, parse, the screen's stateless checks, flow lookup hit, TCP/UDP
// tracking, the flow's category verdict, source NAPT rewrite, route, neighbour, tx burst)
// with 64k, 1M and 16M sessions in the flow table, packets visiting the sessions in a
// scattered order; beside the I/O ceiling measured in the same run on the same vdev (the
// same rx and tx bursts with no processing), and the raw rte_acl classification the rules
// cost per packet (one key at a time as the worker classifies, and 32 at a time). Also the
// bytes per session from the allocator. Frame building and the ring enqueue that stands in
// for the NIC are outside the timed region.
//
// The sessions are UDP DNS queries (the root zone's NS, 17 bytes, so the frame is 60 bytes):
// nDPI names them on the first packet, so every session is decided (passes) before it is
// measured, as an established session is. 16M sessions need 16M NAPT ports: 12 source rules,
// each with 58 pool addresses and its own /22 of inside hosts.
#include "dataplane/acl.h"
#include "tests/bench/bench_kit.h"

#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <rte_ethdev.h>
#include <string>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

constexpr unsigned source_rules = 12;
constexpr unsigned pool_per_rule = 58;
constexpr unsigned hosts_per_rule = 4 * 254; // a /22 without .0 and .255 host bytes
constexpr uint32_t round_packets = 1u << 19;
constexpr unsigned rounds = 7;
constexpr uint32_t measured_packets = (rounds + 1) * round_packets; // with the warm-up
constexpr uint32_t server = (203u << 24) | (113u << 8) | 10;        // host order

std::string config_text() {
    std::string t = bench::two_port_config("net_ring_einner", "net_ring_einet") + "nat {\n";
    // Pool addresses: 203.0.113.64-254, 198.51.100.1-254, 192.0.2.1-254, in turn.
    std::vector<std::string> pool;
    for (unsigned h = 64; h <= 254; h++)
        pool.push_back("203.0.113." + std::to_string(h));
    for (const char *net : {"198.51.100.", "192.0.2."})
        for (unsigned h = 1; h <= 254; h++)
            pool.push_back(net + std::to_string(h));
    for (unsigned r = 0; r < source_rules; r++) {
        t += "    source s" + std::to_string(r) + " { interface inet0; from 198.18." +
             std::to_string(32 + 4 * r) + ".0/22; pool [";
        for (unsigned a = 0; a < pool_per_rule; a++)
            t += " " + pool[r * pool_per_rule + a];
        t += " ]; }\n";
    }
    return t + "}\n";
}

// Session i: inside host and port (host order), spread over the source rules and their hosts.
void session_of(uint32_t i, uint32_t &src, uint16_t &sport) {
    uint32_t r = i % source_rules, j = i / source_rules, h = j % hosts_per_rule;
    src = (198u << 24) | (18u << 16) | ((32 + 4 * r + h / 254) << 8) | (1 + h % 254);
    sport = uint16_t(1024 + j / hosts_per_rule);
}

// A DNS query for the root's NS records from session i to the server: 60 bytes.
void make_frame(uint8_t *p, const uint8_t *dst_mac, uint32_t i) {
    uint32_t src;
    uint16_t sport;
    session_of(i, src, sport);
    bench::udp_frame(p, dst_mac, src, sport, server, 53, bench::dns_root_query,
                     sizeof bench::dns_root_query);
}

// Builds a burst of frames for sessions order(k), k = first..first+n-1, and puts them on the
// port's rx ring as a NIC would.
template <typename Order>
void offer(bench::Rig &rig, uint32_t first, unsigned n, Order order) {
    rte_mbuf *pkts[burst_size];
    if (rte_pktmbuf_alloc_bulk(rig.mp, pkts, n) != 0)
        bench::die("mbufs exhausted");
    for (unsigned k = 0; k < n; k++)
        make_frame(reinterpret_cast<uint8_t *>(rte_pktmbuf_append(pkts[k], 60)), rig.mac(0).data(),
                   order(first + k));
    if (rte_ring_enqueue_bulk(rig.rx[0], reinterpret_cast<void **>(pkts), n, nullptr) != n)
        bench::die("rx ring full");
}

struct Figures {
    uint32_t sessions = 0;
    uint64_t created = 0, forwarded = 0, dropped = 0;
    double fill_s = 0;      // seconds to create the sessions
    double cycles = 0;      // per established packet
    double ceiling = 0;     // per packet, rx + tx with no processing
    double table_bytes = 0; // per session, flow table (flows, both hash keys)
    double pool_bytes = 0;  // NAT port pools, whole
};

uint64_t total_drops(const bench::BenchWorker &bw) {
    uint64_t n = 0;
    for (unsigned r = 0; r < drop_reason_count; r++)
        n += bw.counters.drops[r].get();
    return n;
}

Figures run(bench::Rig &rig, const std::string &text, uint32_t sessions, int serial) {
    Figures fig;
    fig.sessions = sessions;
    bench::BenchWorker bw(text, rig, serial, sessions);
    fig.table_bytes = double(bw.table_bytes) / sessions;
    for (const auto &r : bw.snap->nat->sources())
        for (const auto &p : r.pools)
            fig.pool_bytes += double(p->bytes());
    Mac peer{0x02, 0, 0, 0, 0, 0x44};
    uint32_t next = htonl(server);
    bw.neighbors.learn(rig.port(1), 4, reinterpret_cast<const uint8_t *>(&next), peer);
    uint16_t in = rig.port(0), out = rig.port(1);
    rte_mbuf *pkts[burst_size];

    // Every session's first packet: the sessions are created (and decided) here.
    uint64_t t0 = rte_rdtsc();
    for (uint32_t i = 0; i < sessions; i += burst_size) {
        offer(rig, i, burst_size, [](uint32_t k) { return k; });
        uint16_t n = rte_eth_rx_burst(in, 0, pkts, burst_size);
        bw.worker->process(*bw.snap, in, pkts, n, 1000);
        bw.worker->flush();
        rig.drain(1);
    }
    fig.fill_s = double(rte_rdtsc() - t0) / double(rte_get_tsc_hz());
    fig.created = bw.flows->stats().created.get();
    uint64_t drops_before = total_drops(bw);

    // Established packets, the sessions visited in a scattered order (an odd multiplier
    // modulo a power of two is a permutation), then the same frames with no processing.
    // Established packets, the sessions visited in a scattered order (an odd multiplier
    // modulo a power of two is a permutation). A first round warms the caches and the TLB as
    // traffic would; the figure is the median of the rounds after it. Then the same frames
    // with no processing: the I/O ceiling.
    auto scattered = [sessions](uint32_t k) { return (k * 2654435761u) & (sessions - 1); };
    uint32_t k = 0;
    auto round = [&](bool process) {
        uint64_t cycles = 0;
        for (uint32_t end = k + round_packets; k < end; k += burst_size) {
            offer(rig, k, burst_size, scattered);
            uint64_t a = rte_rdtsc_precise();
            uint16_t n = rte_eth_rx_burst(in, 0, pkts, burst_size);
            if (process) {
                bw.worker->process(*bw.snap, in, pkts, n, 1000);
                bw.worker->flush();
            } else {
                uint16_t sent = rte_eth_tx_burst(out, 0, pkts, n);
                if (sent < n)
                    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
            }
            cycles += rte_rdtsc_precise() - a;
            uint64_t sent = rig.drain(1);
            fig.forwarded += process ? sent : 0;
        }
        return double(cycles) / round_packets;
    };
    round(true);
    fig.cycles = bench::median_of(rounds, [&] { return round(true); });
    fig.ceiling = bench::median_of(rounds, [&] { return round(false); });
    fig.dropped = total_drops(bw) - drops_before;
    return fig;
}

// rte_acl on the rules the packets meet (inner0 ingress, inet0 egress): cycles per key, one
// key per call as the worker classifies and 32 per call.
struct AclFigures {
    double single = 0, burst = 0;
};

AclFigures acl_cost(bench::Rig &rig, const std::string &text) {
    bench::BenchWorker bw(text, rig, 99, 1024);
    const RuleSet &rs = *bw.snap->ifaces[0].rules[0];
    constexpr unsigned keys = 4096, rounds = 256;
    std::vector<AclKey4> key(keys);
    for (uint32_t i = 0; i < keys; i++) {
        uint32_t src;
        uint16_t sport;
        session_of(i * 2654435761u, src, sport);
        key[i] = AclKey4{17, {}, htonl(src), htonl(server), htons(sport), htons(53)};
    }
    std::vector<const AclKey4 *> kp(keys);
    for (unsigned i = 0; i < keys; i++)
        kp[i] = &key[i];
    AclMatch res[burst_size];
    uint64_t matched = 0;
    uint64_t a = rte_rdtsc_precise();
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned i = 0; i < keys; i++) {
            rs.classify4(&kp[i], res, 1);
            matched += res[0] != 0;
        }
    uint64_t b = rte_rdtsc_precise();
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned i = 0; i < keys; i += burst_size) {
            rs.classify4(&kp[i], res, burst_size);
            for (unsigned k = 0; k < burst_size; k++)
                matched += res[k] != 0;
        }
    uint64_t c = rte_rdtsc_precise();
    if (matched != 2ull * keys * rounds)
        bench::die("rte_acl: a key matched no rule");
    return {double(b - a) / (keys * rounds), double(c - b) / (keys * rounds)};
}

} // namespace

// Usage: bench-established [sessions ...]   (powers of two; default 65536 1048576 16777216)
int main(int argc, char **argv) {
    std::vector<uint32_t> sizes;
    for (int i = 1; i < argc; i++) {
        uint32_t n = uint32_t(std::strtoul(argv[i], nullptr, 0));
        if (n < 1024 || n > (1u << 24) || (n & (n - 1)) != 0)
            bench::die(std::string("sessions must be a power of two in 1024..16777216: ") +
                       argv[i]);
        sizes.push_back(n);
    }
    if (sizes.empty())
        sizes = {1u << 16, 1u << 20, 1u << 24};
    std::string text = config_text();
    // 16M sessions: about 6 GB of flow table.
    bench::Rig rig({"einner", "einet"}, text, 8192);
    AclFigures acl = acl_cost(rig, text);
    std::vector<Figures> runs;
    int serial = 0;
    for (uint32_t n : sizes)
        runs.push_back(run(rig, text, n, serial++));

    std::printf("| sessions | cycles per packet | Mpps per core | reference: I/O ceiling, cycles "
                "(rx + tx, no processing) | ratio | bytes per session (flow table) | forwarded "
                "| dropped | time to create the sessions |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    bool ok = true;
    double hz = double(rte_get_tsc_hz());
    for (const Figures &f : runs) {
        std::printf("| %u | %.0f | %.2f | %.0f | %.2f | %.0f | %llu | %llu | %.1f s |\n",
                    f.sessions, f.cycles, hz / f.cycles / 1e6, f.ceiling, f.cycles / f.ceiling,
                    f.table_bytes, (unsigned long long)f.forwarded, (unsigned long long)f.dropped,
                    f.fill_s);
        std::string at = std::to_string(f.sessions >> 10) + "k sessions";
        if (f.sessions >= 1u << 20)
            at = std::to_string(f.sessions >> 20) + "M sessions";
        bench::record({"established", "cycles per packet, " + at, f.cycles, "cycles", f.ceiling,
                       "I/O ceiling (rx + tx, no processing)", f.sessions == 1u << 20 ? 120.0 : NAN,
                       true});
        ok = ok && f.created == f.sessions && f.forwarded == measured_packets && f.dropped == 0;
    }
    const Figures &big = runs.back();
    std::printf("\n| memory | bytes |\n|---|---|\n");
    std::printf("| per session, flow table (Flow %zu B, free-stack index, both keys in the hash) "
                "| %.0f |\n",
                sizeof(Flow), big.table_bytes);
    std::printf("| NAT port pools, whole (%u addresses x 64512 ports x 3 protocols) | %.0f |\n",
                source_rules * pool_per_rule, big.pool_bytes);
    std::printf("| per session at 16M sessions, flow table + NAT pools | %.1f |\n",
                big.table_bytes + big.pool_bytes / big.sessions);
    bench::record({"memory", "bytes per session without DPI state", big.table_bytes, "bytes", NAN,
                   "", 170, true});
    std::printf("\n| rte_acl (the rules of this run) | cycles per key |\n|---|---|\n");
    std::printf("| one key per call (as the worker classifies) | %.1f |\n", acl.single);
    std::printf("| 32 keys per call | %.1f |\n", acl.burst);
    bench::record({"reference", "rte_acl cycles per key, one per call", acl.single, "cycles",
                   acl.burst, "32 keys per call"});
    std::printf("\nTSC %.2f GHz; per size the median of %u rounds of %u packets after a warm-up "
                "round, bursts of %u, one core, %s; each packet meets the rule lists only when it "
                "creates its session.\n",
                hz / 1e9, rounds, round_packets, burst_size, rig.memory());
    return ok ? 0 : 2;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// NAT44 figures for issue 5 (and the start of scripts/bench): new sessions per second
// through the worker pipeline (parse, flow miss, ingress + egress rules, route, source
// NAPT port allocation, flow creation, rewrite, transmit to a net_ring port), beside the
// same pipeline without a nat section measured in the same run; and bytes per session of
// the flow table (flows, both hash keys) and of the NAT port pools. Cycles are TSC over
// whole bursts; building the frames is outside the timed region.
#include "classifiers/inspector.h"
#include "classifiers/module.h"
#include "tests/bench/bench_kit.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <string>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

constexpr uint32_t flows_per_run = 200000;
constexpr uint32_t table_size = 262144;

const std::string base_text = bench::two_port_config("net_ring_binner", "net_ring_binet");

const char *nat_text = R"(
nat { source hide { interface inet0; pool [ 203.0.113.60 203.0.113.61 203.0.113.62 203.0.113.63
                                           203.0.113.64 203.0.113.65 203.0.113.66 203.0.113.67 ]; } }
)";

// A DNS query from 198.18.1.(10 + i % 200):(10000 + i / 200) to 203.0.113.10:53: nDPI names it
// at once, so each session is decided by its first packet and holds no inspection state.
void make_frame(uint8_t *p, const uint8_t *dst_mac, uint32_t i) {
    uint32_t src = (198u << 24) | (18u << 16) | (1u << 8) | (10 + i % 200);
    bench::udp_frame(p, dst_mac, src, uint16_t(10000 + i / 200), (203u << 24) | (113u << 8) | 10,
                     53, bench::dns_root_query, sizeof bench::dns_root_query);
}

struct Figures {
    double cycles_per_flow = 0;
    double flows_per_s = 0;
    uint64_t created = 0;
    size_t table_bytes = 0;
    size_t pool_bytes = 0;
};

Figures run(const std::string &text, bench::Rig &rig, int serial) {
    Figures fig;
    bench::BenchWorker bw(text, rig, serial, table_size);
    fig.table_bytes = bw.table_bytes;
    Mac gw_mac{0x02, 0, 0, 0, 0, 0x44};
    uint32_t next = htonl((203u << 24) | (113u << 8) | 10);
    uint16_t inet_port = rig.port(1), inner_port = rig.port(0);
    bw.neighbors.learn(inet_port, 4, reinterpret_cast<const uint8_t *>(&next), gw_mac);
    Worker &worker = *bw.worker;
    const Mac &in_mac = rig.mac(0);
    rte_mempool *mp = rig.mp;

    uint64_t cycles = 0;
    rte_mbuf *pkts[burst_size];
    for (uint32_t i = 0; i < flows_per_run; i += burst_size) {
        if (rte_pktmbuf_alloc_bulk(mp, pkts, burst_size) != 0) {
            std::fprintf(stderr, "bench: mbufs exhausted\n");
            std::exit(1);
        }
        for (unsigned k = 0; k < burst_size; k++) {
            uint8_t *d = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(pkts[k], 60));
            make_frame(d, in_mac.data(), i + k);
        }
        uint64_t t0 = rte_rdtsc_precise();
        worker.process(*bw.snap, inner_port, pkts, burst_size, 1000);
        worker.flush();
        cycles += rte_rdtsc_precise() - t0;
        rig.drain(1);
    }
    fig.created = bw.flows->stats().created.get();
    fig.cycles_per_flow = double(cycles) / flows_per_run;
    fig.flows_per_s = double(rte_get_tsc_hz()) / fig.cycles_per_flow;
    for (const auto &r : bw.snap->nat->sources())
        for (const auto &p : r.pools)
            fig.pool_bytes += p->bytes();
    return fig;
}

// What nDPI costs of a new session: a bare Inspector opened, fed the same first datagram
// (decided DNS) and closed, for as many sessions, on a module like the workers'.
double inspection_cycles() {
    auto set = dpi::ModuleSet::create({{"evil.example"}, {}}, 1);
    if (!set)
        bench::die(set.error().to_string());
    const dpi::Module &module = set.value()->module(0);
    dpi::Inspector in(64);
    uint8_t frame[60];
    Mac none{};
    uint64_t cycles = 0, decided = 0;
    for (uint32_t i = 0; i < flows_per_run; i++) {
        make_frame(frame, none.data(), i);
        uint32_t src[4] = {}, dst[4] = {};
        std::memcpy(src, frame + 26, 4);
        std::memcpy(dst, frame + 30, 4);
        dpi::PacketView v;
        v.proto = 17;
        v.src = src;
        v.dst = dst;
        std::memcpy(&v.sport, frame + 34, 2);
        std::memcpy(&v.dport, frame + 36, 2);
        v.l4 = frame + 34;
        v.l4_len = 8 + sizeof bench::dns_root_query;
        v.now_ms = 1000;
        uint64_t t0 = rte_rdtsc_precise();
        uint32_t h = in.open();
        decided += in.feed(module, h, v, 8).has_value();
        in.close(h);
        cycles += rte_rdtsc_precise() - t0;
    }
    if (decided != flows_per_run)
        bench::die("nDPI left sessions undecided");
    return double(cycles) / flows_per_run;
}

} // namespace

int main() {
    bench::Rig rig({"binner", "binet"}, base_text);
    // The median of three runs of each (the host's other guests make single runs noisy).
    int serial = 0;
    auto median_run = [&](const std::string &text) {
        std::vector<Figures> runs;
        for (int k = 0; k < 3; k++)
            runs.push_back(run(text, rig, serial++));
        std::sort(runs.begin(), runs.end(), [](const Figures &a, const Figures &b) {
            return a.cycles_per_flow < b.cycles_per_flow;
        });
        return runs[1];
    };
    Figures plain = median_run(base_text);
    Figures nat = median_run(base_text + nat_text);
    double dpi = bench::median_of(3, inspection_cycles);
    std::printf(
        "| figure | NAPT (filter + NAT + route) | reference: same pipeline, no NAT | ratio |\n");
    std::printf("|---|---|---|---|\n");
    std::printf("| new sessions created | %llu | %llu | |\n", (unsigned long long)nat.created,
                (unsigned long long)plain.created);
    std::printf("| cycles per new session | %.0f | %.0f | %.2f |\n", nat.cycles_per_flow,
                plain.cycles_per_flow, nat.cycles_per_flow / plain.cycles_per_flow);
    std::printf("| new sessions per second per core | %.0f | %.0f | %.2f |\n", nat.flows_per_s,
                plain.flows_per_s, nat.flows_per_s / plain.flows_per_s);
    std::printf("| of which nDPI on the first datagram (a bare Inspector, same datagrams) | %.0f | "
                "%.0f | |\n",
                dpi, dpi);
    std::printf(
        "| the rest: parse, screen, rules, NAT, flow creation, route, tx | %.0f | %.0f | %.2f "
        "|\n",
        nat.cycles_per_flow - dpi, plain.cycles_per_flow - dpi,
        (nat.cycles_per_flow - dpi) / (plain.cycles_per_flow - dpi));
    double per = double(nat.table_bytes) / table_size;
    std::printf("| flow table bytes per session (flow + 2 hash keys, %u slots) | %.0f | %.0f | |\n",
                table_size, per, double(plain.table_bytes) / table_size);
    std::printf("| NAT port pool bytes (8 addresses x 64512 ports x 3 protocols) | %zu | 0 | |\n",
                nat.pool_bytes);
    std::printf("| sizeof(Flow) | %zu | | |\n", sizeof(Flow));
    std::printf("\nTSC %.2f GHz; %u new UDP sessions per run (DNS queries, each decided by nDPI at "
                "its first packet), median of 3 runs, bursts of %u, one core, %s.\n",
                double(rte_get_tsc_hz()) / 1e9, flows_per_run, burst_size, rig.memory());
    bench::record({"nat", "new sessions per second per core (filter + NAPT + route)",
                   nat.flows_per_s, "sessions/s", plain.flows_per_s, "same pipeline, no NAT", 1.5e6,
                   false});
    bench::record({"nat", "cycles per new session (filter + NAPT + route)", nat.cycles_per_flow,
                   "cycles", plain.cycles_per_flow, "same pipeline, no NAT"});
    return nat.created == flows_per_run && plain.created == flows_per_run ? 0 : 2;
}

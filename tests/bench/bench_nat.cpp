// SPDX-License-Identifier: GPL-2.0-or-later
// NAT44 figures for issue 5 (and the start of scripts/bench): new sessions per second
// through the worker pipeline (parse, flow miss, ingress + egress rules, route, source
// NAPT port allocation, flow creation, rewrite, transmit to a net_ring port), beside the
// same pipeline without a nat section measured in the same run; and bytes per session of
// the flow table (flows, both hash keys) and of the NAT port pools. Cycles are TSC over
// whole bursts; building the frames is outside the timed region.
#include "config/config.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/ports.h"
#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

constexpr uint32_t flows_per_run = 200000;
constexpr uint32_t table_size = 262144;

const char *base_text = R"(
interfaces {
    inner0 { device "net_ring_binner"; address 198.18.1.1/24; zone inner; }
    inet0 { device "net_ring_binet"; address 203.0.113.1/24; zone internet; }
}
zones { inner { loop outer; } internet { loop internet; } }
policy {
    inner0 { ingress { rule 10 { protocol udp; destination 203.0.113.0/24; action accept; } }
             egress { rule 1000 { action accept; } } }
    inet0 { egress { rule 1000 { action accept; } } }
}
routes { route 198.18.0.0/15 { via 198.18.1.254; } }
)";

const char *nat_text = R"(
nat { source hide { interface inet0; pool [ 203.0.113.60 203.0.113.61 203.0.113.62 203.0.113.63
                                           203.0.113.64 203.0.113.65 203.0.113.66 203.0.113.67 ]; } }
)";

size_t heap_bytes() {
    rte_malloc_socket_stats st{};
    rte_malloc_get_socket_stats(0, &st);
    return st.heap_allocsz_bytes;
}

// One UDP datagram 198.18.x.y:port -> 203.0.113.10:53 with a right IPv4 checksum.
void make_frame(uint8_t *p, const uint8_t *dst_mac, uint32_t i) {
    std::memset(p, 0, 60);
    std::memcpy(p, dst_mac, 6);
    p[6] = 0x02;
    p[11] = 0x11;
    p[12] = 0x08;
    uint8_t *ip = p + 14;
    ip[0] = 0x45;
    ip[3] = 28 + 18;
    ip[8] = 64;
    ip[9] = 17;
    // 200 inside hosts 198.18.1.10-209, 1000 source ports each.
    uint32_t src = htonl((198u << 24) | (18u << 16) | (1u << 8) | (10 + i % 200));
    uint32_t dst = htonl((203u << 24) | (0u << 16) | (113u << 8) | 10);
    std::memcpy(ip + 12, &src, 4);
    std::memcpy(ip + 16, &dst, 4);
    uint16_t c = csum_fold(csum_partial(ip, 20, 0));
    std::memcpy(ip + 10, &c, 2);
    uint8_t *udp = ip + 20;
    uint16_t sport = htons(uint16_t(10000 + i / 200)), dport = htons(53), ulen = htons(26);
    std::memcpy(udp, &sport, 2);
    std::memcpy(udp + 2, &dport, 2);
    std::memcpy(udp + 4, &ulen, 2);
}

struct Figures {
    double cycles_per_flow = 0;
    double flows_per_s = 0;
    uint64_t created = 0;
    size_t table_bytes = 0;
    size_t pool_bytes = 0;
};

Figures run(const std::string &text, rte_mempool *mp, Ports &ports, rte_ring *tx_ring, int serial) {
    Figures fig;
    auto c = config::load_text(text, "bench.conf");
    if (!c) {
        std::fprintf(stderr, "bench: %s\n", c.error().to_string().c_str());
        std::exit(1);
    }
    auto snap = build_snapshot(c.value(), ports.bindings(), 1, 1, 0);
    if (!snap) {
        std::fprintf(stderr, "bench: %s\n", snap.error().to_string().c_str());
        std::exit(1);
    }
    size_t before = heap_bytes();
    auto flows = FlowTable::create(("bench_flows_" + std::to_string(serial)).c_str(), table_size, 0,
                                   c.value().dataplane.timeouts);
    fig.table_bytes = heap_bytes() - before;
    NeighborTable neighbors(64);
    Mac gw_mac{0x02, 0, 0, 0, 0, 0x44};
    uint32_t next = htonl((203u << 24) | (113u << 8) | 10);
    uint16_t inet_port = ports.states()[1].port, inner_port = ports.states()[0].port;
    neighbors.learn(inet_port, 4, reinterpret_cast<const uint8_t *>(&next), gw_mac);
    WorkerCounters counters;
    std::atomic<Snapshot *> active{snap.value().get()};
    auto *rcu = static_cast<rte_rcu_qsbr *>(rte_zmalloc(nullptr, rte_rcu_qsbr_get_memsize(1), 64));
    rte_rcu_qsbr_init(rcu, 1);
    std::string id = std::to_string(serial);
    WorkerEnv env;
    env.active = &active;
    env.rcu = rcu;
    env.neighbors = &neighbors;
    env.to_main = rte_ring_create(("b_tm" + id).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    env.from_main = rte_ring_create(("b_fm" + id).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    env.log_ring = rte_ring_create_elem(("b_lg" + id).c_str(), sizeof(RuleLog), 1024, 0,
                                        RING_F_SP_ENQ | RING_F_SC_DEQ);
    env.counters = &counters;
    env.flows = flows.value().get();
    env.port_up = ports.up();
    env.pool = mp;
    env.tsc_hz = rte_get_tsc_hz();
    Worker worker(env);
    const Mac &in_mac = ports.states()[0].mac;

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
        worker.process(*snap.value(), inner_port, pkts, burst_size, 1000);
        worker.flush();
        cycles += rte_rdtsc_precise() - t0;
        void *out[64];
        unsigned n;
        while ((n = rte_ring_dequeue_burst(tx_ring, out, 64, nullptr)) > 0)
            rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf **>(out), n);
    }
    fig.created = flows.value()->stats().created.get();
    fig.cycles_per_flow = double(cycles) / flows_per_run;
    fig.flows_per_s = double(rte_get_tsc_hz()) / fig.cycles_per_flow;
    for (const auto &r : snap.value()->nat->sources())
        for (const auto &p : r.pools)
            fig.pool_bytes += p->bytes();
    rte_ring_free(env.to_main);
    rte_ring_free(env.from_main);
    rte_ring_free(env.log_ring);
    rte_free(rcu);
    return fig;
}

} // namespace

int main() {
    std::string prefix = "qorgan-bench-" + std::to_string(getpid());
    const char *eal_argv[] = {
        "bench",         "--no-huge",    "-m",          "2048",      "--no-pci", "--no-shconf",
        "--file-prefix", prefix.c_str(), "--log-level", "*:warning", "-l",       "0",
        "--no-telemetry"};
    if (rte_eal_init(int(sizeof(eal_argv) / sizeof(eal_argv[0])), const_cast<char **>(eal_argv)) <
        0) {
        std::fprintf(stderr, "bench: rte_eal_init failed\n");
        return 1;
    }
    rte_mempool *mp = rte_pktmbuf_pool_create("bench_pool", 8191, 256, mbuf_priv_size,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    rte_ring *rx[2], *tx[2];
    const char *names[2] = {"binner", "binet"};
    for (int i = 0; i < 2; i++) {
        rx[i] = rte_ring_create((std::string(names[i]) + "_rx").c_str(), 1024, 0, 0);
        tx[i] = rte_ring_create((std::string(names[i]) + "_tx").c_str(), 4096, 0, 0);
        if (!mp || !rx[i] || !tx[i] || rte_eth_from_rings(names[i], &rx[i], 1, &tx[i], 1, 0) < 0) {
            std::fprintf(stderr, "bench: ring ports\n");
            return 1;
        }
    }
    auto conf = config::load_text(std::string(base_text), "bench.conf");
    auto ports = Ports::open(conf.value(), 1, mp);
    if (!ports) {
        std::fprintf(stderr, "bench: %s\n", ports.error().to_string().c_str());
        return 1;
    }
    Figures plain = run(base_text, mp, ports.value(), tx[1], 0);
    Figures nat = run(std::string(base_text) + nat_text, mp, ports.value(), tx[1], 1);
    std::printf(
        "| figure | NAPT (filter + NAT + route) | reference: same pipeline, no NAT | ratio |\n");
    std::printf("|---|---|---|---|\n");
    std::printf("| new sessions created | %llu | %llu | |\n", (unsigned long long)nat.created,
                (unsigned long long)plain.created);
    std::printf("| cycles per new session | %.0f | %.0f | %.2f |\n", nat.cycles_per_flow,
                plain.cycles_per_flow, nat.cycles_per_flow / plain.cycles_per_flow);
    std::printf("| new sessions per second per core | %.0f | %.0f | %.2f |\n", nat.flows_per_s,
                plain.flows_per_s, nat.flows_per_s / plain.flows_per_s);
    double per = double(nat.table_bytes) / table_size;
    std::printf("| flow table bytes per session (flow + 2 hash keys, %u slots) | %.0f | %.0f | |\n",
                table_size, per, double(plain.table_bytes) / table_size);
    std::printf("| NAT port pool bytes (8 addresses x 64512 ports x 3 protocols) | %zu | 0 | |\n",
                nat.pool_bytes);
    std::printf("| sizeof(Flow) | %zu | | |\n", sizeof(Flow));
    std::printf("\nTSC %.2f GHz; %u new UDP sessions per run, bursts of %u, one core.\n",
                double(rte_get_tsc_hz()) / 1e9, flows_per_run, burst_size);
    rte_eal_cleanup();
    return nat.created == flows_per_run && plain.created == flows_per_run ? 0 : 2;
}

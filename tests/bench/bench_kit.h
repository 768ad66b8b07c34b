// SPDX-License-Identifier: GPL-2.0-or-later
// What every pipeline benchmark needs: EAL on one lcore without hugepages, net_ring ports,
// and a Worker on a snapshot compiled from a config text with its own flow table, exactly as
// the dataplane wires one (WorkerEnv), so that the figures are the product's own pipeline.
#pragma once

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
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace qorgan::bench {

[[noreturn]] inline void die(const std::string &what) {
    std::fprintf(stderr, "bench: %s\n", what.c_str());
    std::exit(1);
}

// One figure for the chart and docs/PERFORMANCE.md. scripts/bench names a file in
// QORGAN_BENCH_JSON and every benchmark appends its figures there, one JSON object a line;
// the markdown tables on stdout are for people. A target (issue 9) is drawn beside the
// figure; `lower` says which side of it is good.
struct Figure {
    std::string bench, figure;
    double value = 0;
    std::string unit;
    double reference = NAN; // measured in the same run
    std::string reference_name;
    double target = NAN;
    bool lower = true; // at most the target (cycles, bytes), or at least (rates)
};

inline void record(const Figure &f) {
    const char *path = std::getenv("QORGAN_BENCH_JSON");
    if (!path || !*path)
        return;
    auto number = [](double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); };
    nlohmann::json j{{"bench", f.bench},
                     {"figure", f.figure},
                     {"value", f.value},
                     {"unit", f.unit},
                     {"reference", number(f.reference)},
                     {"reference_name", f.reference_name},
                     {"target", number(f.target)},
                     {"target_is", f.lower ? "at most" : "at least"}};
    std::ofstream out(path, std::ios::app);
    out << j.dump() << "\n";
    if (!out)
        die(std::string("cannot append to ") + path);
}

// The median of `rounds` measurements (the host's other guests make single runs noisy).
template <typename F>
double median_of(unsigned rounds, F measure) {
    std::vector<double> v;
    for (unsigned i = 0; i < rounds; i++)
        v.push_back(measure());
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

inline size_t heap_bytes() {
    rte_malloc_socket_stats st{};
    rte_malloc_get_socket_stats(0, &st);
    return st.heap_allocsz_bytes;
}

// The forwarding configuration the pipeline benchmarks share: inner0 (198.18.1.1/24, zone
// inner of the outer loop) and inet0 (203.0.113.1/24) on the net_ring devices named, the
// `ingress` rules on inner0 (by default UDP to the Internet side accepted), egress open, the
// inside /15 routed via 198.18.1.254.
inline std::string two_port_config(const std::string &inner_dev, const std::string &inet_dev,
                                   const std::string &ingress =
                                       "rule 10 { protocol udp; destination 203.0.113.0/24; action "
                                       "accept; }") {
    return "interfaces {\n    inner0 { device \"" + inner_dev +
           "\"; address 198.18.1.1/24; zone inner; }\n    inet0 { device \"" + inet_dev +
           "\"; address 203.0.113.1/24; zone internet; }\n}\n"
           "zones { inner { loop outer; } internet { loop internet; } }\n"
           "policy {\n    inner0 { ingress { " +
           ingress +
           " }\n             egress { rule 1000 { action accept; } } }\n"
           "    inet0 { egress { rule 1000 { action accept; } } }\n}\n"
           "routes { route 198.18.0.0/15 { via 198.18.1.254; } }\n";
}

// A DNS query for the root zone's NS records: 17 bytes, so that its frame is 60 bytes. nDPI
// names a flow DNS on it, so a flow opened by it is decided (passes) at its first packet.
inline constexpr uint8_t dns_root_query[17] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0,
                                               0,    0,    0,    0,    0, 2, 0, 1};

// A 60-byte Ethernet frame to dst_mac carrying IPv4 src -> dst (host order) of protocol
// `proto` with l4_len bytes after the header, its checksum right; returns the L4 header.
inline uint8_t *ipv4_frame(uint8_t *p, const uint8_t *dst_mac, uint8_t proto, uint16_t l4_len,
                           uint32_t src, uint32_t dst) {
    std::memset(p, 0, 60);
    std::memcpy(p, dst_mac, 6);
    p[6] = 0x02;
    p[11] = 0x33;
    p[12] = 0x08;
    uint8_t *ip = p + 14;
    ip[0] = 0x45;
    ip[3] = uint8_t(20 + l4_len);
    ip[8] = 64;
    ip[9] = proto;
    uint32_t s = htonl(src), d = htonl(dst);
    std::memcpy(ip + 12, &s, 4);
    std::memcpy(ip + 16, &d, 4);
    uint16_t c = dp::csum_fold(dp::csum_partial(ip, 20, 0));
    std::memcpy(ip + 10, &c, 2);
    return ip + 20;
}

// A 60-byte Ethernet frame: UDP src:sport -> dst:dport (host order) carrying `len` <= 18
// bytes of `payload` (the UDP checksum is left 0).
inline void udp_frame(uint8_t *p, const uint8_t *dst_mac, uint32_t src, uint16_t sport,
                      uint32_t dst, uint16_t dport, const uint8_t *payload, uint16_t len) {
    uint8_t *udp = ipv4_frame(p, dst_mac, 17, uint16_t(8 + len), src, dst);
    uint16_t sp = htons(sport), dp_ = htons(dport), ulen = htons(uint16_t(8 + len));
    std::memcpy(udp, &sp, 2);
    std::memcpy(udp + 2, &dp_, 2);
    std::memcpy(udp + 4, &ulen, 2);
    if (len)
        std::memcpy(udp + 8, payload, len);
}

// EAL (`memory_mb` of heap without hugepages, on `lcores`), an mbuf pool, and one net_ring
// port per name (rx ring 1024, tx ring 4096), opened as the dataplane opens ports from the
// config text `ports_conf` (devices net_ring_<name>).
struct Rig {
    rte_mempool *mp = nullptr;
    std::vector<rte_ring *> rx, tx;
    std::unique_ptr<dp::Ports> ports;

    Rig(const std::vector<std::string> &names, const std::string &ports_conf,
        unsigned memory_mb = 2048, const char *lcores = "0") {
        static std::string prefix = "qorgan-bench-" + std::to_string(getpid());
        std::string mem = std::to_string(memory_mb);
        // Huge pages as a gateway runs on, when enough are free (scripts/bench reserves
        // them); else 4 KiB pages, and the figures say so.
        huge = free_huge_mb() >= memory_mb + 64;
        const char *argv[] = {"bench",
                              huge ? "--huge-unlink" : "--no-huge",
                              "-m",
                              mem.c_str(),
                              "--no-pci",
                              "--no-shconf",
                              "--file-prefix",
                              prefix.c_str(),
                              "--log-level",
                              "*:warning",
                              "-l",
                              lcores,
                              "--no-telemetry"};
        if (rte_eal_init(int(sizeof(argv) / sizeof(argv[0])), const_cast<char **>(argv)) < 0)
            die("rte_eal_init failed");
        mp = rte_pktmbuf_pool_create("bench_pool", 16383, 256, dp::mbuf_priv_size,
                                     RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        if (!mp)
            die("mbuf pool");
        for (const std::string &n : names) {
            rx.push_back(rte_ring_create((n + "_rx").c_str(), 1024, 0, 0));
            tx.push_back(rte_ring_create((n + "_tx").c_str(), 4096, 0, 0));
            if (!rx.back() || !tx.back() ||
                rte_eth_from_rings(n.c_str(), &rx.back(), 1, &tx.back(), 1, 0) < 0)
                die("ring port " + n);
        }
        auto conf = config::load_text(ports_conf, "bench.conf");
        if (!conf)
            die(conf.error().to_string());
        auto p = dp::Ports::open(conf.value(), 1, mp);
        if (!p)
            die(p.error().to_string());
        ports = std::make_unique<dp::Ports>(std::move(p.value()));
    }
    ~Rig() { rte_eal_cleanup(); }

    bool huge = false; // the heap is on huge pages
    const char *memory() const { return huge ? "2 MiB huge pages" : "4 KiB pages (--no-huge)"; }

    static unsigned free_huge_mb() {
        std::ifstream in("/proc/meminfo");
        std::string key;
        unsigned long value = 0, free_pages = 0, page_kb = 0;
        while (in >> key >> value) {
            if (key == "HugePages_Free:")
                free_pages = value;
            else if (key == "Hugepagesize:")
                page_kb = value;
            in.ignore(64, '\n');
        }
        return unsigned(free_pages * page_kb / 1024);
    }

    uint16_t port(size_t i) const { return ports->states()[i].port; }
    const dp::Mac &mac(size_t i) const { return ports->states()[i].mac; }
    // Frees what a port transmitted; returns how many frames that was.
    uint64_t drain(size_t i) {
        uint64_t total = 0;
        void *out[64];
        unsigned n;
        while ((n = rte_ring_dequeue_burst(tx[i], out, 64, nullptr)) > 0) {
            rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf **>(out), n);
            total += n;
        }
        return total;
    }
};

// A worker on the snapshot of `text`, with its own flow table of `table_size` flows.
struct BenchWorker {
    config::Config conf;
    std::unique_ptr<dp::Snapshot> snap;
    std::unique_ptr<dp::FlowTable> flows;
    size_t table_bytes = 0; // what the flow table took from the rte_malloc heap
    dp::NeighborTable neighbors{64};
    dp::WorkerCounters counters;
    std::atomic<dp::Snapshot *> active{nullptr};
    rte_rcu_qsbr *rcu = nullptr;
    dp::WorkerEnv env;
    std::unique_ptr<dp::Worker> worker;

    BenchWorker(const std::string &text, Rig &rig, int serial, uint32_t table_size) {
        auto c = config::load_text(text, "bench.conf");
        if (!c)
            die(c.error().to_string());
        conf = std::move(c.value());
        auto s = dp::build_snapshot(conf, rig.ports->bindings(), 1, 1, 0);
        if (!s)
            die(s.error().to_string());
        snap = std::move(s.value());
        active.store(snap.get());
        size_t before = heap_bytes();
        auto f = dp::FlowTable::create(("bench_flows_" + std::to_string(serial)).c_str(),
                                       table_size, 0, conf.dataplane.timeouts);
        if (!f)
            die(f.error().to_string());
        flows = std::move(f.value());
        table_bytes = heap_bytes() - before;
        rcu = static_cast<rte_rcu_qsbr *>(rte_zmalloc(nullptr, rte_rcu_qsbr_get_memsize(1), 64));
        rte_rcu_qsbr_init(rcu, 1);
        std::string id = std::to_string(serial);
        env.active = &active;
        env.rcu = rcu;
        env.neighbors = &neighbors;
        env.to_main =
            rte_ring_create(("b_tm" + id).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        env.from_main =
            rte_ring_create(("b_fm" + id).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        env.log_ring = rte_ring_create_elem(("b_lg" + id).c_str(), sizeof(dp::RuleLog), 1024, 0,
                                            RING_F_SP_ENQ | RING_F_SC_DEQ);
        env.counters = &counters;
        env.flows = flows.get();
        env.port_up = rig.ports->up();
        env.pool = rig.mp;
        env.tsc_hz = rte_get_tsc_hz();
        worker = std::make_unique<dp::Worker>(env);
    }
    ~BenchWorker() {
        worker.reset();
        rte_ring_free(env.to_main);
        rte_ring_free(env.from_main);
        rte_ring_free(env.log_ring);
        rte_free(rcu);
    }
    uint64_t drops(dp::DropReason r) const {
        return counters.drops[static_cast<unsigned>(r)].get();
    }
};

} // namespace qorgan::bench

// SPDX-License-Identifier: GPL-2.0-or-later
// What every pipeline benchmark needs: EAL on one lcore without hugepages, net_ring ports,
// and a Worker on a snapshot compiled from a config text with its own flow table, exactly as
// the dataplane wires one (WorkerEnv), so that the figures are the product's own pipeline.
#pragma once

#include "config/config.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/ports.h"
#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace qorgan::bench {

[[noreturn]] inline void die(const std::string &what) {
    std::fprintf(stderr, "bench: %s\n", what.c_str());
    std::exit(1);
}

inline size_t heap_bytes() {
    rte_malloc_socket_stats st{};
    rte_malloc_get_socket_stats(0, &st);
    return st.heap_allocsz_bytes;
}

// EAL, an mbuf pool, and one net_ring port per name (rx ring 1024, tx ring 4096), opened
// as the dataplane opens ports from the config text `ports_conf` (devices net_ring_<name>).
struct Rig {
    rte_mempool *mp = nullptr;
    std::vector<rte_ring *> rx, tx;
    std::unique_ptr<dp::Ports> ports;

    Rig(const std::vector<std::string> &names, const std::string &ports_conf) {
        static std::string prefix = "qorgan-bench-" + std::to_string(getpid());
        const char *argv[] = {
            "bench",         "--no-huge",    "-m",          "2048",      "--no-pci", "--no-shconf",
            "--file-prefix", prefix.c_str(), "--log-level", "*:warning", "-l",       "0",
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

// SPDX-License-Identifier: GPL-2.0-or-later
// Policy commit under traffic (issue 9): compile + publish time of a policy with 1k and 10k
// rules through the dataplane's one publish path (ControlService::publish: parse, schema,
// rte_acl and FIB builds, the NAT tables, the category modules, the swap and the RCU grace
// period), while a worker on its own lcore forwards a steady stream of DNS queries of 4096
// sessions through NAPT; then every packet offered is accounted for: forwarded, or dropped
// with a reason. The packets lost during the swaps must be 0. Beside it, the raw rte_acl
// build of the same rule lists measured in the same run.
#include "dataplane/acl.h"
#include "dataplane/control_socket.h"
#include "tests/bench/bench_kit.h"

#include <rte_launch.h>
#include <rte_lcore.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

constexpr uint32_t sessions = 4096;
constexpr uint32_t server = (203u << 24) | (113u << 8) | 10; // host order
constexpr unsigned commits_per_size = 3;

// The forwarding policy with `n` more accept rules before the one the traffic meets, each a
// distinct TCP destination and port (so rte_acl keeps every one).
std::string config_text(unsigned n) {
    std::string rules;
    for (unsigned i = 0; i < n; i++)
        rules += "rule " + std::to_string(100000 + i) + " { protocol tcp; destination 203.0.113." +
                 std::to_string(2 + i % 250) + "; destination-port " +
                 std::to_string(10000 + i / 250) + "; action accept; } ";
    return bench::two_port_config(
               "net_ring_cinner", "net_ring_cinet",
               rules + "rule 999999 { protocol udp; destination 203.0.113.10; action accept; }") +
           "nat { source hide { interface inet0; pool [ 203.0.113.60 203.0.113.61 ]; } }\n";
}

// Offers DNS queries of `sessions` sessions on the inner port's rx ring until `stop`, as a NIC
// would (waiting while the ring is full, so nothing is lost before the worker), and frees
// what the worker transmits. Counts both.
struct Traffic {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> offered{0}, forwarded{0};

    void run(bench::Rig &rig) {
        rte_mbuf *pkts[burst_size];
        uint32_t next = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            if (rte_pktmbuf_alloc_bulk(rig.mp, pkts, burst_size) != 0) {
                forwarded += rig.drain(1);
                continue;
            }
            for (unsigned k = 0; k < burst_size; k++, next++) {
                uint32_t s = next % sessions;
                bench::udp_frame(reinterpret_cast<uint8_t *>(rte_pktmbuf_append(pkts[k], 60)),
                                 rig.mac(0).data(),
                                 (198u << 24) | (18u << 16) | (1u << 8) | (10 + s % 200),
                                 uint16_t(20000 + s / 200), server, 53, bench::dns_root_query,
                                 sizeof bench::dns_root_query);
            }
            unsigned put = 0;
            while (put < burst_size) {
                put += rte_ring_enqueue_burst(rig.rx[0], reinterpret_cast<void **>(pkts + put),
                                              burst_size - put, nullptr);
                forwarded += rig.drain(1);
            }
            offered += burst_size;
        }
    }
};

struct Commit {
    unsigned rules = 0;
    std::vector<double> ms; // each commit's parse + compile + publish
    double acl_ms = 0;      // rte_acl build of the same ingress list alone
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main() {
    std::string base = config_text(0);
    bench::Rig rig({"cinner", "cinet"}, base, 2048, "0,1");
    bench::BenchWorker bw(base, rig, 0, 65536);
    Mac peer{0x02, 0, 0, 0, 0, 0x44};
    uint32_t next = htonl(server);
    bw.neighbors.learn(rig.port(1), 4, reinterpret_cast<const uint8_t *>(&next), peer);
    bw.env.rx_ports = {rig.port(0)};
    bw.worker = std::make_unique<Worker>(bw.env);

    std::mutex snapshot_lock, ports_lock;
    ControlEnv ce;
    ce.active = &bw.active;
    ce.snapshot_lock = &snapshot_lock;
    ce.rcu = bw.rcu;
    ce.ports = rig.ports.get();
    ce.ports_lock = &ports_lock;
    ce.neighbors = &bw.neighbors;
    ce.counters = {&bw.counters};
    ce.workers = 1;
    ControlService control(ce, "<bench>", "");
    bw.snap.release(); // the publish path owns the running snapshot from here

    std::atomic<bool> stop_worker{false};
    unsigned lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
    if (lcore >= RTE_MAX_LCORE)
        bench::die("a second lcore is needed (-l 0,1)");
    struct Launch {
        Worker *w;
        std::atomic<bool> *stop;
    } launch{bw.worker.get(), &stop_worker};
    rte_eal_remote_launch(
        [](void *arg) -> int {
            auto *l = static_cast<Launch *>(arg);
            return l->w->run(*l->stop);
        },
        &launch, lcore);

    Traffic traffic;
    std::thread gen([&] { traffic.run(rig); });
    auto settle = [&](uint64_t packets) {
        uint64_t until = traffic.forwarded.load() + packets;
        for (int i = 0; i < 10000 && traffic.forwarded.load() < until; i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    settle(200000); // every session exists before the first commit

    std::vector<Commit> commits;
    for (unsigned n : {1000u, 10000u}) {
        Commit c;
        c.rules = n;
        std::string text = config_text(n);
        for (unsigned k = 0; k < commits_per_size; k++) {
            // Alternate with the small policy, so that every commit changes the rules.
            for (const std::string *t : {&text, &base}) {
                auto r = control.publish(*t, "bench", 0, "");
                if (!r)
                    bench::die(r.error().to_string());
                if (t == &text)
                    c.ms.push_back(double(r.value().micros) / 1000);
                settle(20000);
            }
        }
        auto conf = config::load_text(text, "bench");
        if (!conf)
            bench::die(conf.error().to_string());
        auto t0 = std::chrono::steady_clock::now();
        auto rs = RuleSet::compile(conf.value().policies[0].ingress, 0);
        if (!rs)
            bench::die(rs.error().to_string());
        c.acl_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count();
        commits.push_back(std::move(c));
    }

    traffic.stop = true;
    gen.join();
    // The worker empties its rx ring; then every offered packet is forwarded or dropped.
    for (int i = 0; i < 5000 && rte_ring_count(rig.rx[0]) > 0; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop_worker = true;
    rte_eal_wait_lcore(lcore);
    uint64_t forwarded = traffic.forwarded.load() + rig.drain(1);
    uint64_t dropped = 0;
    for (unsigned r = 0; r < drop_reason_count; r++)
        dropped += bw.counters.drops[r].get();
    uint64_t offered = traffic.offered.load();
    uint64_t lost = offered - std::min(offered, forwarded + dropped);
    uint64_t created = bw.flows->stats().created.get();
    delete bw.active.load();

    std::printf("| policy commit under traffic | compile + publish, median of %u (ms) | "
                "reference: rte_acl build of the ingress list alone (ms) | ratio |\n",
                commits_per_size);
    std::printf("|---|---|---|---|\n");
    for (const Commit &c : commits) {
        double m = median(c.ms);
        std::printf("| %u rules | %.1f | %.1f | %.2f |\n", c.rules, m, c.acl_ms, m / c.acl_ms);
        bench::record({"commit", "compile + publish, " + std::to_string(c.rules) + " rules", m,
                       "ms", c.acl_ms, "rte_acl build alone"});
    }
    std::printf("\n| packets during %zu commits | count |\n|---|---|\n",
                commits.size() * commits_per_size * 2);
    std::printf("| offered | %llu |\n| forwarded | %llu |\n| dropped (any reason) | %llu |\n"
                "| lost (offered - forwarded - dropped) | %llu |\n| sessions created | %llu |\n",
                (unsigned long long)offered, (unsigned long long)forwarded,
                (unsigned long long)dropped, (unsigned long long)lost, (unsigned long long)created);
    bench::record({"commit", "packets lost or dropped during the swaps", double(lost + dropped),
                   "packets", NAN, "", 0, true});
    std::printf("\nOne worker lcore forwarding DNS queries of %u sessions (NAPT) while the main "
                "lcore commits; the generator waits while the rx ring is full.\n",
                sessions);
    return lost == 0 && dropped == 0 && created == sessions ? 0 : 2;
}

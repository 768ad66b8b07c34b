// SPDX-License-Identifier: GPL-2.0-or-later
// A worker on the net_ring ports of ring_ports.h, with what it needs around it (flow table,
// rings to and from the main lcore, RCU), and a test fixture base that adds the slow path and
// runs frames through both. Shared by the tests that run the worker pipeline on real ports.
#pragma once

#include "config/config.h"
#include "dataplane/parse.h"
#include "dataplane/slowpath.h"
#include "dataplane/worker.h"
#include "ring_ports.h"

#include <gtest/gtest.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <arpa/inet.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace qorgan::test {

inline std::array<uint8_t, 16> addr(int family, const char *s) {
    std::array<uint8_t, 16> a{};
    inet_pton(family == 4 ? AF_INET : AF_INET6, s, a.data());
    return a;
}

// An IPv4 address in network order.
inline uint32_t v4(const char *s) {
    uint32_t a = 0;
    inet_pton(AF_INET, s, &a);
    return a;
}

// The state one worker runs on, besides the ports. The members are named as the tests use
// them: a fixture inherits this.
struct WorkerKit {
    std::atomic<dp::Snapshot *> active{nullptr};
    std::unique_ptr<dp::FlowTable> flows;
    dp::NeighborTable neighbors{256};
    dp::WorkerCounters counters;
    rte_ring *to_main = nullptr, *from_main = nullptr, *log_ring = nullptr;
    rte_rcu_qsbr *rcu = nullptr;
    std::unique_ptr<dp::Worker> worker;
    static inline unsigned serial = 0; // keeps the names of rings and tables unique

    // Makes the flow table (with conf's timeouts), the rings to and from the main lcore, the
    // rule-log ring and the RCU variable; `prefix` starts their names.
    void open_worker_rings(const std::string &prefix, const config::Config &conf) {
        auto f = dp::FlowTable::create((prefix + "_flows_" + std::to_string(serial++)).c_str(),
                                       1024, 0, conf.dataplane.timeouts);
        ASSERT_TRUE(f.ok());
        flows = std::move(f.value());
        std::string id = std::to_string(serial++);
        to_main =
            rte_ring_create((prefix + "_tm" + id).c_str(), 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        from_main =
            rte_ring_create((prefix + "_fm" + id).c_str(), 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        log_ring = rte_ring_create_elem((prefix + "_lg" + id).c_str(), sizeof(dp::RuleLog), 256, 0,
                                        RING_F_SP_ENQ | RING_F_SC_DEQ);
        rcu = static_cast<rte_rcu_qsbr *>(rte_zmalloc(nullptr, rte_rcu_qsbr_get_memsize(1), 64));
        rte_rcu_qsbr_init(rcu, 1);
    }

    // The environment of worker 0 on the ports of rp, over what open_worker_rings() made.
    dp::WorkerEnv worker_env(const RingPorts &rp) {
        dp::WorkerEnv env;
        env.id = 0;
        env.active = &active;
        env.rcu = rcu;
        env.neighbors = &neighbors;
        env.to_main = to_main;
        env.from_main = from_main;
        env.log_ring = log_ring;
        env.counters = &counters;
        env.flows = flows.get();
        env.port_up = rp.ports->up();
        env.pool = rp.pool;
        env.tsc_hz = rte_get_tsc_hz();
        return env;
    }

    // Frees what open_worker_rings() made but the flow table; the worker must be gone.
    void close_worker_rings() {
        rte_ring_free(to_main);
        rte_ring_free(from_main);
        rte_ring_free(log_ring);
        rte_free(rcu);
    }

    static void drain(rte_ring *r) {
        void *m;
        while (rte_ring_dequeue(r, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
    }
};

// A fixture base: a worker and the slow path on the ring ports rp (opened by the fixture's
// SetUpTestSuite). The fixture builds its snapshots and calls make_worker() once.
class PipelineTest : public ::testing::Test, protected WorkerKit {
protected:
    explicit PipelineTest(RingPorts &rp) : _rp(rp) {}

    // Builds the snapshot of conf as `epoch` into snap. The one it replaces is kept in retired,
    // not freed: flows may still point into it, as after RCU.
    void build_snap(uint32_t epoch) {
        auto s = dp::build_snapshot(conf, _rp.ports->bindings(), 1, epoch, 0, snap.get());
        ASSERT_TRUE(s.ok()) << s.error().to_string();
        if (snap)
            retired.push_back(std::move(snap));
        snap = std::move(s.value());
    }

    // Loads `text` as conf, builds its snapshot as `epoch` and makes it the active one.
    void publish(const std::string &text, const std::string &file, uint32_t epoch) {
        auto c = config::load_text(text, file);
        ASSERT_TRUE(c.ok()) << c.error().to_string();
        conf = c.value();
        ASSERT_NO_FATAL_FAILURE(build_snap(epoch));
        active.store(snap.get());
    }

    // The worker on env, and the slow path serving it (with the exception path's TUN, if any).
    void make_worker(const dp::WorkerEnv &env, dp::ExceptionTun *tun = nullptr) {
        worker = std::make_unique<dp::Worker>(env);
        dp::SlowPathEnv se;
        se.neighbors = &neighbors;
        se.from_workers = {to_main};
        se.log_rings = {log_ring};
        se.to_worker = from_main;
        se.pool = _rp.pool;
        se.counters = &main_counters;
        se.log = log_file = tmpfile();
        se.tun = tun;
        slow = std::make_unique<dp::SlowPath>(se);
    }

    void TearDown() override {
        slow.reset();
        worker.reset();
        flows.reset();
        for (auto &r : _rp.ring)
            drain(r.tx);
        close_worker_rings();
        if (log_file)
            fclose(log_file);
    }

    // Feeds one frame arriving on port index `in`, runs the slow path, and flushes.
    void send(int in, const std::vector<uint8_t> &frame) {
        rte_mbuf *m = rte_pktmbuf_alloc(_rp.pool);
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                    frame.size());
        worker->process(*snap, _rp.ring[in].port, &m, 1, now);
        settle();
    }

    // Feeds frames arriving together on port index `in` as one burst (the worker looks their
    // flows up together), runs the slow path, and flushes.
    void send_burst(int in, const std::vector<std::vector<uint8_t>> &frames) {
        std::vector<rte_mbuf *> ms;
        for (const auto &frame : frames) {
            rte_mbuf *m = rte_pktmbuf_alloc(_rp.pool);
            ASSERT_NE(m, nullptr);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                        frame.size());
            ms.push_back(m);
        }
        worker->process(*snap, _rp.ring[in].port, ms.data(), static_cast<uint16_t>(ms.size()), now);
        settle();
    }

    void settle() {
        worker->flush();
        slow->poll(*snap, now);
        slow->tick(*snap, now);
        worker->drain_main();
        worker->flush();
    }

    // Frames transmitted on port index `out` since the last call (segments joined).
    std::vector<std::vector<uint8_t>> sent(int out) {
        std::vector<std::vector<uint8_t>> v;
        void *p;
        while (rte_ring_dequeue(_rp.ring[out].tx, &p) == 0) {
            auto *m = static_cast<rte_mbuf *>(p);
            std::vector<uint8_t> bytes(rte_pktmbuf_pkt_len(m));
            const uint8_t *d = static_cast<const uint8_t *>(
                rte_pktmbuf_read(m, 0, rte_pktmbuf_pkt_len(m), bytes.data()));
            if (d != bytes.data())
                std::memcpy(bytes.data(), d, bytes.size());
            v.push_back(std::move(bytes));
            rte_pktmbuf_free(m);
        }
        return v;
    }

    uint64_t drops(dp::DropReason r) const {
        return counters.drops[static_cast<unsigned>(r)].get() +
               main_counters.drops[static_cast<unsigned>(r)].get();
    }

    void learn(int port_index, int family, const char *ip, const dp::Mac &mac) {
        auto a = addr(family, ip);
        neighbors.learn(_rp.ring[port_index].port, static_cast<uint8_t>(family), a.data(), mac);
    }

    dp::Mac port_mac(int i) const { return _rp.ports->states()[static_cast<size_t>(i)].mac; }

    static dp::PacketMeta parsed(const std::vector<uint8_t> &f) {
        dp::PacketMeta m{};
        auto r = dp::parse_frame(f.data(), static_cast<uint32_t>(f.size()), m);
        EXPECT_FALSE(r.has_value())
            << "transmitted frame does not parse: " << dp::drop_reason_name(*r);
        return m;
    }

    config::Config conf;
    std::unique_ptr<dp::Snapshot> snap;
    std::vector<std::unique_ptr<dp::Snapshot>> retired;
    dp::WorkerCounters main_counters;
    std::unique_ptr<dp::SlowPath> slow;
    FILE *log_file = nullptr;
    uint64_t now = 1000000;

private:
    RingPorts &_rp;
};

} // namespace qorgan::test

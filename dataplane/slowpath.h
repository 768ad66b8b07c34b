// SPDX-License-Identifier: GPL-2.0-or-later
// The main lcore's share of packet work: answers ARP and neighbour solicitations for the
// gateway's addresses, learns neighbours, resolves next hops for frames the workers could
// not send yet (holding a few per neighbour), and prints rule-log records. Runs off the
// hot path; it sends frames through a worker's transmit ring, never on a queue itself.
// It also runs the exception path (docs/IPSEC.md): IKE for the gateway to the host kernel
// through a TUN, and what the kernel sends from the gateway's addresses back out.
#pragma once

#include "dataplane/counters.h"
#include "dataplane/exception_tun.h"
#include "dataplane/neighbors.h"
#include "dataplane/screen.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker.h"

#include <cstdint>
#include <cstdio>
#include <vector>

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace qorgan::dp {

struct SlowPathEnv {
    NeighborTable *neighbors = nullptr;
    std::vector<rte_ring *> from_workers;   // worker -> main frames
    std::vector<rte_ring *> log_rings;      // worker -> main RuleLog records
    std::vector<rte_ring *> event_rings;    // worker -> main ScreenEvent records
    std::vector<rte_ring *> category_rings; // worker -> main CategoryEvent records
    rte_ring *to_worker = nullptr;          // frames to transmit (worker 0's from_main ring)
    rte_mempool *pool = nullptr;
    WorkerCounters *counters = nullptr; // the main lcore's own counters
    FILE *log = nullptr;                // rule-log and event lines
    ExceptionTun *tun = nullptr;        // the exception path to the host kernel (optional)
};

class SlowPath {
public:
    explicit SlowPath(SlowPathEnv env);
    ~SlowPath();

    // Handles what the workers sent; returns the number of items handled.
    unsigned poll(const Snapshot &s, uint64_t now_ms);
    // Retries resolutions and gives up on stale ones; call every few milliseconds.
    void tick(const Snapshot &s, uint64_t now_ms);

    // Handles one frame (exposed for tests).
    void handle(const Snapshot &s, rte_mbuf *m, uint64_t now_ms);
    // Sends on what the host kernel wrote to the exception TUN, a bounded number of packets
    // per call; returns how many it read (poll() calls it).
    unsigned poll_tun(const Snapshot &s, uint64_t now_ms);

    uint64_t held() const;
    // Frees every mbuf it holds (held frames, the TUN's spare): before the EAL goes.
    void release();

    // Writes one screen event as a "screen-event" line (exposed for tests).
    void print_event(const Snapshot &s, const ScreenEvent &e);
    void print_category(const Snapshot &s, const CategoryEvent &e);

private:
    struct Pending {
        bool used = false;
        uint16_t port = 0;
        uint8_t family = 0;
        uint8_t ip[16]{};
        uint8_t tries = 0;
        uint64_t next_try_ms = 0;
        uint8_t n = 0;
        rte_mbuf *held[16]{}; // Linux holds about as many per unresolved neighbour
    };

    void handle_arp(const Snapshot &s, rte_mbuf *m);
    void handle_nd(const Snapshot &s, rte_mbuf *m);
    void handle_resolve(const Snapshot &s, rte_mbuf *m, uint64_t now_ms);
    void learned(uint16_t port, uint8_t family, const uint8_t *ip);
    void solicit(const Snapshot &s, Pending &p);
    void send(uint16_t port, rte_mbuf *m);
    // Hands m to a worker to send on port; false when the ring was full (m dropped, counted).
    bool enqueue_tx(uint16_t port, rte_mbuf *m);
    // The exception path (slowpath_exception.cpp).
    void to_tun(rte_mbuf *m);
    void from_tun(const Snapshot &s, rte_mbuf *m, uint64_t now_ms);
    // m now holds an answer of len bytes built over the request (0: none could be built).
    void reply_in_place(rte_mbuf *m, uint32_t len, uint16_t port);
    void print_log(const Snapshot &s, const struct RuleLog &r);
    void drop(rte_mbuf *m, DropReason r);

    SlowPathEnv _env;
    std::vector<Pending> _pending;  // bounded: the admission limit of held resolutions
    rte_mbuf *_tun_spare = nullptr; // kept for the next read when the TUN had nothing
};

} // namespace qorgan::dp

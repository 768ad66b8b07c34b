// SPDX-License-Identifier: GPL-2.0-or-later
// rte_telemetry commands that expose the dataplane's counters to stock tools
// (dpdk-telemetry.py): /qorgan/ports, /qorgan/drops, /qorgan/rules, /qorgan/flows,
// /qorgan/neighbors. Callbacks run on the telemetry thread and only read.
#pragma once

#include "dataplane/conntrack.h"
#include "dataplane/counters.h"
#include "dataplane/neighbors.h"
#include "dataplane/ports.h"
#include "dataplane/snapshot.h"

#include <atomic>
#include <mutex>
#include <vector>

struct rte_mempool;

namespace qorgan::dp {

struct TelemetrySources {
    std::mutex *snapshot_lock = nullptr; // held while the active snapshot is replaced
    std::atomic<Snapshot *> *active = nullptr;
    std::mutex *ports_lock = nullptr; // held while port states change
    const Ports *ports = nullptr;
    std::vector<const WorkerCounters *> counters; // workers and the main lcore
    std::vector<const FlowTable *> flows;
    const NeighborTable *neighbors = nullptr;
    std::vector<rte_mempool *> pools; // the mbuf pools, for /qorgan/mempools
};

// rte_telemetry callbacks take no context argument, so the sources live in one
// process-wide pointer set here before the commands are registered.
void telemetry_register(const TelemetrySources *sources);

} // namespace qorgan::dp

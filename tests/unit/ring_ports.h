// SPDX-License-Identifier: GPL-2.0-or-later
// Three net_ring ethdevs (inner, dmz, inet) opened as a test configuration's interfaces:
// frames are fed by enqueueing on a port's RX ring and read back from its TX ring. Shared
// by the tests that run the worker pipeline on real ports.
#pragma once

#include "config/config.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/ports.h"

#include <gtest/gtest.h>

#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <string>

namespace qorgan::test {

struct RingPort {
    rte_ring *rx = nullptr;
    rte_ring *tx = nullptr;
    uint16_t port = 0;
};

struct RingPorts {
    rte_mempool *pool = nullptr;
    RingPort ring[3];
    dp::Ports *ports = nullptr;
};

// rte_eth_from_rings names each port "net_ring_" + name: the configuration's devices are
// net_ring_inner, net_ring_dmz and net_ring_inet, or with a device_prefix "p_" net_ring_p_inner
// and so on. `prefix` keeps pool and ring names unique.
inline void open_ring_ports(RingPorts &rp, const std::string &prefix,
                            const std::string &interfaces_text,
                            const std::string &device_prefix = "") {
    rp.pool = rte_pktmbuf_pool_create((prefix + "_pool").c_str(), 4095, 0, dp::mbuf_priv_size,
                                      RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(rp.pool, nullptr);
    const char *names[3] = {"inner", "dmz", "inet"};
    for (int i = 0; i < 3; i++) {
        std::string n = prefix + "_" + names[i];
        rp.ring[i].rx = rte_ring_create((n + "_rx").c_str(), 1024, 0, 0);
        rp.ring[i].tx = rte_ring_create((n + "_tx").c_str(), 1024, 0, 0);
        ASSERT_NE(rp.ring[i].rx, nullptr);
        ASSERT_NE(rp.ring[i].tx, nullptr);
        int id = rte_eth_from_rings((device_prefix + names[i]).c_str(), &rp.ring[i].rx, 1,
                                    &rp.ring[i].tx, 1, 0);
        ASSERT_GE(id, 0);
        rp.ring[i].port = static_cast<uint16_t>(id);
    }
    auto c = config::load_text(interfaces_text, prefix + ".conf");
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    auto p = dp::Ports::open(c.value(), 1, rp.pool);
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    rp.ports = new dp::Ports(std::move(p.value()));
}

} // namespace qorgan::test

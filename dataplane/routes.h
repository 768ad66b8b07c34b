// SPDX-License-Identifier: GPL-2.0-or-later
// The routing table of one policy snapshot: connected, local and static routes in
// rte_fib (IPv4, DIR24_8) and rte_fib6 (trie), resolving to an index into a next-hop array.
#pragma once

#include "common/result.h"
#include "config/model.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct rte_fib;
struct rte_fib6;

namespace qorgan::dp {

enum class NextHopKind : uint8_t {
    none,      // index 0: no route
    local,     // one of the gateway's own addresses
    connected, // destination is on the link: resolve it directly
    gateway,   // resolve the gateway address
};

struct NextHop {
    NextHopKind kind = NextHopKind::none;
    uint8_t family = 4;
    uint16_t port = 0;     // DPDK port id of the interface
    uint16_t iface = 0;    // index into Config::interfaces
    uint8_t gateway[16]{}; // network order; IPv4 in [0..3]
};

// An interface as routing sees it: its config index and DPDK port.
struct RouteInterface {
    const config::Interface *conf;
    uint16_t port;
};

class RouteTable {
public:
    // Builds the FIBs: local /32 and /128 per address, connected subnets, then static
    // routes (a `via` must lie in a connected subnet of an enabled interface, or the
    // route's interface). Disabled interfaces contribute nothing.
    static Result<std::unique_ptr<RouteTable>>
    build(const config::Config &conf, const std::vector<RouteInterface> &ifaces, int socket_id);
    ~RouteTable();
    RouteTable(const RouteTable &) = delete;
    RouteTable &operator=(const RouteTable &) = delete;

    // dst is network order. Returns the next-hop index (0 = no route).
    uint16_t lookup4(uint32_t dst_be) const;
    uint16_t lookup6(const uint8_t dst[16]) const;
    void lookup4_bulk(const uint32_t *dst_host, uint64_t *nh, unsigned n) const;

    const NextHop &next_hop(uint16_t index) const { return _hops[index]; }
    size_t size() const { return _hops.size(); }

private:
    RouteTable() = default;
    uint16_t add_hop(const NextHop &h);

    rte_fib *_fib4 = nullptr;
    rte_fib6 *_fib6 = nullptr;
    std::vector<NextHop> _hops; // [0] is "no route"
};

} // namespace qorgan::dp

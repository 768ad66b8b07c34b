// SPDX-License-Identifier: GPL-2.0-or-later
// The NIC ports named by the configuration: finds them among the probed devices,
// configures one RX/TX queue pair per worker, starts the enabled ones and keeps the
// disabled ones down (R139-13). Tracks link state, speed and link changes (R128-f).
#pragma once

#include "common/result.h"
#include "config/model.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

struct rte_mempool;

namespace qorgan::dp {

struct PortState {
    std::string name;   // interface name
    std::string device; // device string from the config
    uint16_t port = 0;
    Mac mac{};
    bool admin_up = false;
    bool link_up = false;
    uint32_t speed_mbps = 0;
    bool full_duplex = false;
    uint64_t link_changes = 0;
    std::string kernel_iface; // af_packet/af_xdp: the kernel interface whose link we mirror
};

// The kernel interface an af_packet or af_xdp vdev string attaches to ("iface=x"), or "".
std::string kernel_iface_of(const std::string &device);

// The EAL device name in a config device string ("net_af_packet0,iface=x" -> "net_af_packet0").
std::string device_name(const std::string &device);
// True for a DPDK virtual device string (it starts with "net_").
bool is_vdev(const std::string &device);

class Ports {
public:
    // Finds and configures every interface's port; starts the enabled ones.
    static Result<Ports> open(const config::Config &conf, unsigned queues, rte_mempool *pool);

    // Polls link status; prints a line per change to `log`. Updates up[] (admin && link).
    void poll_links(FILE *log);
    void stop_all();

    std::vector<PortBinding> bindings() const;
    const std::vector<PortState> &states() const { return _states; }
    // One flag per port id: forwarding may use it (admin up and link up).
    std::atomic<uint8_t> *up() { return _up.get(); }

private:
    std::vector<PortState> _states;
    std::unique_ptr<std::atomic<uint8_t>[]> _up;
};

} // namespace qorgan::dp

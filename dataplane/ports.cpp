// SPDX-License-Identifier: GPL-2.0-or-later
// Port discovery, queue setup and link monitoring; see ports.h.
#include "dataplane/ports.h"

#include <rte_errno.h>
#include <rte_ethdev.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace qorgan::dp {

std::string device_name(const std::string &device) {
    return device.substr(0, device.find(','));
}

bool is_vdev(const std::string &device) {
    return device.rfind("net_", 0) == 0;
}

std::string kernel_iface_of(const std::string &device) {
    if (device.rfind("net_af_packet", 0) != 0 && device.rfind("net_af_xdp", 0) != 0)
        return {};
    size_t at = device.find(",iface=");
    if (at == std::string::npos)
        return {};
    at += 7;
    return device.substr(at, device.find(',', at) - at);
}

namespace {

// The af_packet and af_xdp PMDs report their link as up from start to stop; the kernel
// interface below them knows better (a veth whose peer went down loses its carrier).
bool read_sysfs(const std::string &iface, const char *attr, std::string &out) {
    std::string path = "/sys/class/net/" + iface + "/" + attr;
    FILE *f = std::fopen(path.c_str(), "r");
    if (!f)
        return false;
    char buf[64] = {};
    bool ok = std::fgets(buf, sizeof(buf), f) != nullptr;
    std::fclose(f);
    out = buf;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
        out.pop_back();
    return ok;
}

void kernel_link(const std::string &iface, bool &up, uint32_t &speed) {
    std::string carrier, oper, sp;
    up = read_sysfs(iface, "carrier", carrier) && carrier == "1" &&
         read_sysfs(iface, "operstate", oper) && (oper == "up" || oper == "unknown");
    speed = 0;
    if (up && read_sysfs(iface, "speed", sp)) {
        long v = std::strtol(sp.c_str(), nullptr, 10);
        speed = v > 0 ? static_cast<uint32_t>(v) : 0;
    }
}

} // namespace

Result<Ports> Ports::open(const config::Config &conf, unsigned queues, rte_mempool *pool) {
    Ports p;
    p._up.reset(new std::atomic<uint8_t>[max_ports]);
    for (unsigned i = 0; i < max_ports; i++)
        p._up[i].store(0);
    for (const auto &ifc : conf.interfaces) {
        PortState st;
        st.name = ifc.name;
        st.device = ifc.device;
        st.kernel_iface = kernel_iface_of(ifc.device);
        std::string dev = device_name(ifc.device);
        uint16_t port;
        if (rte_eth_dev_get_port_by_name(dev.c_str(), &port) != 0)
            return Error{ifc.where, "interfaces " + ifc.name + " device: no DPDK port named '" +
                                        dev + "'; expected a probed PCI address or vdev"};
        if (port >= max_ports)
            return Error{ifc.where, "interfaces " + ifc.name + ": port id " + std::to_string(port) +
                                        " beyond the supported " + std::to_string(max_ports)};
        st.port = port;
        rte_eth_dev_info info{};
        int rc = rte_eth_dev_info_get(port, &info);
        if (rc != 0)
            return Error{ifc.where, "interfaces " + ifc.name + ": " + rte_strerror(-rc)};
        if (info.max_rx_queues < queues || info.max_tx_queues < queues)
            return Error{ifc.where, "interfaces " + ifc.name + ": device has " +
                                        std::to_string(info.max_rx_queues) +
                                        " queues, the workers need " + std::to_string(queues)};
        rte_eth_conf pc{};
        if (queues > 1 && (info.flow_type_rss_offloads & RTE_ETH_RSS_IP)) {
            pc.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            pc.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads & RTE_ETH_RSS_IP;
        }
        rc = rte_eth_dev_configure(port, static_cast<uint16_t>(queues),
                                   static_cast<uint16_t>(queues), &pc);
        if (rc != 0)
            return Error{ifc.where,
                         "interfaces " + ifc.name + ": configure failed: " + rte_strerror(-rc)};
        uint16_t nb_rxd = 1024, nb_txd = 1024;
        rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
        int socket = rte_eth_dev_socket_id(port);
        for (unsigned q = 0; q < queues; q++) {
            rc = rte_eth_rx_queue_setup(port, static_cast<uint16_t>(q), nb_rxd,
                                        static_cast<unsigned>(socket < 0 ? 0 : socket), nullptr,
                                        pool);
            if (rc == 0)
                rc =
                    rte_eth_tx_queue_setup(port, static_cast<uint16_t>(q), nb_txd,
                                           static_cast<unsigned>(socket < 0 ? 0 : socket), nullptr);
            if (rc != 0)
                return Error{ifc.where, "interfaces " + ifc.name +
                                            ": queue setup failed: " + rte_strerror(-rc)};
        }
        rte_ether_addr mac;
        rte_eth_macaddr_get(port, &mac);
        std::memcpy(st.mac.data(), mac.addr_bytes, 6);
        if (!ifc.disabled) {
            rc = rte_eth_dev_start(port);
            if (rc != 0)
                return Error{ifc.where,
                             "interfaces " + ifc.name + ": start failed: " + rte_strerror(-rc)};
            rte_eth_promiscuous_enable(port);
            st.admin_up = true;
        } else {
            rte_eth_dev_set_link_down(port); // best effort: not every driver can
        }
        p._states.push_back(st);
    }
    p.poll_links(nullptr);
    return p;
}

void Ports::poll_links(FILE *log) {
    for (auto &st : _states) {
        rte_eth_link link{};
        bool up = false;
        if (st.admin_up && rte_eth_link_get_nowait(st.port, &link) == 0)
            up = link.link_status == RTE_ETH_LINK_UP;
        if (st.admin_up && up && !st.kernel_iface.empty()) {
            uint32_t speed = 0;
            kernel_link(st.kernel_iface, up, speed);
            link.link_speed = speed;
            link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
        }
        if (up != st.link_up) {
            st.link_changes++;
            if (log) {
                std::fprintf(log, "event link-change iface=%s link=%s speed=%u\n", st.name.c_str(),
                             up ? "up" : "down", up ? link.link_speed : 0);
                std::fflush(log);
            }
        }
        st.link_up = up;
        st.speed_mbps = up ? link.link_speed : 0;
        st.full_duplex = up && link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
        _up[st.port].store(st.admin_up && up ? 1 : 0, std::memory_order_relaxed);
    }
}

void Ports::stop_all() {
    for (auto &st : _states) {
        if (st.admin_up)
            rte_eth_dev_stop(st.port);
        rte_eth_dev_close(st.port);
        st.admin_up = false;
        _up[st.port].store(0);
    }
}

std::vector<PortBinding> Ports::bindings() const {
    std::vector<PortBinding> b;
    for (const auto &st : _states)
        b.push_back(PortBinding{st.name, st.port, st.mac});
    return b;
}

} // namespace qorgan::dp

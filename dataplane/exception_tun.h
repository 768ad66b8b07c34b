// SPDX-License-Identifier: GPL-2.0-or-later
// The exception path's TUN device (docs/IPSEC.md): IKE for the gateway reaches the host
// kernel through it, and what the kernel sends back through it leaves by the dataplane. The
// device holds the gateway's own addresses and the routes the kernel must send through it.
// Main lcore only: reads and writes never block, the netlink changes do (start and apply).
#pragma once

#include "common/result.h"
#include "config/model.h"
#include "dataplane/rtnetlink.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace qorgan::dp {

struct Snapshot;

inline constexpr const char *default_exception_tun = "qorgan-exc";

class ExceptionTun {
public:
    // Creates the TUN (IFF_TUN | IFF_NO_PI, non-blocking) in the current network namespace
    // and sets it up with this MTU and no IPv6 link-local address of its own.
    static Result<std::unique_ptr<ExceptionTun>> open(const std::string &name, uint16_t mtu);
    // Takes an fd that stands for the device (a socket or pipe end in tests): reads and
    // writes go to it, the address and route changes do nothing.
    static std::unique_ptr<ExceptionTun> adopt(int fd, std::string name);
    // Closes the fd: the device (not persistent) goes with it, its addresses and routes too.
    ~ExceptionTun();
    ExceptionTun(const ExceptionTun &) = delete;
    ExceptionTun &operator=(const ExceptionTun &) = delete;

    const std::string &name() const { return _name; }
    int fd() const { return _fd; }

    enum class Written : uint8_t { ok, full, error };
    // One IP packet to the host kernel.
    Written write_packet(const uint8_t *ip, size_t len);
    // One IP packet from the host kernel into buf: its length, 0 when none waits, -1 on error.
    ssize_t read_packet(uint8_t *buf, size_t cap);

    // Gives the device exactly the snapshot's own addresses, as /32 and /128.
    Result<Ok> sync_addresses(const Snapshot &s);
    // Routes exactly `prefixes` through the device (the --exception-route options, later the
    // IPsec peers): call again with the whole list after every apply. Each route prefers as
    // source the gateway's address on the interface the snapshot reaches the prefix by, so
    // that the kernel answers from the address a peer talks to.
    Result<Ok> sync_routes(const Snapshot &s, const std::vector<config::Prefix> &prefixes);

    const std::vector<config::Address> &addresses() const { return _addresses; }

private:
    ExceptionTun(int fd, std::string name, std::optional<Rtnetlink> nl, unsigned ifindex)
        : _fd(fd), _name(std::move(name)), _nl(std::move(nl)), _ifindex(ifindex) {}

    struct Route {
        config::Prefix dst;
        std::optional<config::Address> src;
        bool operator==(const Route &) const = default;
    };

    int _fd;
    std::string _name;
    std::optional<Rtnetlink> _nl; // empty for an adopted fd
    unsigned _ifindex = 0;
    std::vector<config::Address> _addresses; // on the device now
    std::vector<Route> _routes;              // through the device now
};

// Where the dataplane's ports are kernel interfaces (net_af_packet vdevs), the kernel also
// sees their frames: once the TUN gives it the gateway's addresses it would answer ARP for
// them and take packets to them past the rules (R139-4). Each such interface is set to answer
// no ARP (arp_ignore 8), take no IPv4 whose source it would not route back through it
// (rp_filter 1: it routes nothing through them) and run no IPv6.
Result<Ok> seal_kernel_ports(const config::Config &conf);

// The kernel interface a net_af_packet device string names ("...,iface=dp-inet,..."), if any.
std::optional<std::string> af_packet_iface(const std::string &device);

} // namespace qorgan::dp

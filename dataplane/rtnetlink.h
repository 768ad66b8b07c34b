// SPDX-License-Identifier: GPL-2.0-or-later
// A route-netlink socket (libmnl) for the few changes the dataplane makes to its own network
// namespace: a link up, an address, a route. Each request waits for the kernel's answer; the
// error names the request. Main lcore only (it blocks for the answer).
#pragma once

#include "common/result.h"
#include "config/model.h"

#include <cstdint>
#include <optional>
#include <string>

struct mnl_socket;

namespace qorgan::dp {

class Rtnetlink {
public:
    static Result<Rtnetlink> open();
    Rtnetlink(Rtnetlink &&o) noexcept;
    Rtnetlink &operator=(Rtnetlink &&o) noexcept;
    Rtnetlink(const Rtnetlink &) = delete;
    Rtnetlink &operator=(const Rtnetlink &) = delete;
    ~Rtnetlink();

    // Sets the link up with this MTU.
    Result<Ok> link_up(unsigned ifindex, uint16_t mtu);
    // IPv6 makes no address of its own on the link (addr_gen_mode none); before it is up.
    Result<Ok> no_ipv6_autoconf(unsigned ifindex);
    // Adds (replaces) or deletes `addr` with prefix length addr.length on the link; IPv6
    // addresses are added without duplicate address detection.
    Result<Ok> address(bool add, unsigned ifindex, const config::Prefix &addr);
    // Adds (replaces) or deletes a route to `dst` through the link, with a preferred source.
    Result<Ok> route(bool add, unsigned ifindex, const config::Prefix &dst,
                     const std::optional<config::Address> &prefsrc);

private:
    explicit Rtnetlink(mnl_socket *nl, unsigned portid) : _nl(nl), _portid(portid) {}
    mnl_socket *_nl = nullptr;
    unsigned _portid = 0;
    uint32_t _seq = 0;
};

} // namespace qorgan::dp

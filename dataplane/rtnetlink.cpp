// SPDX-License-Identifier: GPL-2.0-or-later
// Route-netlink requests through libmnl; see rtnetlink.h.
#include "dataplane/rtnetlink.h"

#include "config/config.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace qorgan::dp {

namespace {
int af_of(uint8_t family) {
    return family == 6 ? AF_INET6 : AF_INET;
}
unsigned len_of(uint8_t family) {
    return family == 6 ? 16 : 4;
}
} // namespace

Result<Rtnetlink> Rtnetlink::open() {
    mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl)
        return Error{{}, std::string("netlink socket: ") + std::strerror(errno)};
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        mnl_socket_close(nl);
        return Error{{}, std::string("netlink bind: ") + std::strerror(e)};
    }
    return Rtnetlink(nl, mnl_socket_get_portid(nl));
}

Rtnetlink::Rtnetlink(Rtnetlink &&o) noexcept : _nl(o._nl), _portid(o._portid), _seq(o._seq) {
    o._nl = nullptr;
}

Rtnetlink &Rtnetlink::operator=(Rtnetlink &&o) noexcept {
    if (this != &o) {
        if (_nl)
            mnl_socket_close(_nl);
        _nl = o._nl;
        _portid = o._portid;
        _seq = o._seq;
        o._nl = nullptr;
    }
    return *this;
}

Rtnetlink::~Rtnetlink() {
    if (_nl)
        mnl_socket_close(_nl);
}

namespace {
// One request and, after it is sent, its answer (MNL_SOCKET_BUFFER_SIZE: a page, 8 KiB at most).
struct Request {
    std::vector<char> buf = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr *nlh;
    Request(uint16_t type, uint16_t flags, uint32_t seq) {
        nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
        nlh->nlmsg_seq = seq;
    }
};

// Sends the request and reads the kernel's acknowledgement (or its error).
Result<Ok> transact(mnl_socket *nl, unsigned portid, Request &r, const std::string &what) {
    if (mnl_socket_sendto(nl, r.nlh, r.nlh->nlmsg_len) < 0)
        return Error{{}, what + ": " + std::strerror(errno)};
    ssize_t n = mnl_socket_recvfrom(nl, r.buf.data(), r.buf.size());
    if (n < 0)
        return Error{{}, what + ": " + std::strerror(errno)};
    if (mnl_cb_run(r.buf.data(), static_cast<size_t>(n), r.nlh->nlmsg_seq, portid, nullptr,
                   nullptr) < 0)
        return Error{{}, what + ": " + std::strerror(errno)};
    return Ok{};
}
} // namespace

Result<Ok> Rtnetlink::link_up(unsigned ifindex, uint16_t mtu) {
    Request r(RTM_NEWLINK, 0, ++_seq);
    auto *ifi = static_cast<ifinfomsg *>(mnl_nlmsg_put_extra_header(r.nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = static_cast<int>(ifindex);
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    mnl_attr_put_u32(r.nlh, IFLA_MTU, mtu);
    return transact(_nl, _portid, r, "link " + std::to_string(ifindex) + " up");
}

Result<Ok> Rtnetlink::no_ipv6_autoconf(unsigned ifindex) {
    Request r(RTM_NEWLINK, 0, ++_seq);
    auto *ifi = static_cast<ifinfomsg *>(mnl_nlmsg_put_extra_header(r.nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = static_cast<int>(ifindex);
    // The kernel sets a link up before it reads IFLA_AF_SPEC: a separate request, first.
    nlattr *spec = mnl_attr_nest_start(r.nlh, IFLA_AF_SPEC);
    nlattr *inet6 = mnl_attr_nest_start(r.nlh, AF_INET6);
    mnl_attr_put_u8(r.nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
    mnl_attr_nest_end(r.nlh, inet6);
    mnl_attr_nest_end(r.nlh, spec);
    return transact(_nl, _portid, r, "link " + std::to_string(ifindex) + " addr_gen_mode none");
}

Result<Ok> Rtnetlink::address(bool add, unsigned ifindex, const config::Prefix &addr) {
    Request r(add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_REPLACE : 0, ++_seq);
    auto *ifa = static_cast<ifaddrmsg *>(mnl_nlmsg_put_extra_header(r.nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = static_cast<uint8_t>(af_of(addr.family));
    ifa->ifa_prefixlen = addr.length;
    ifa->ifa_flags = addr.family == 6 ? IFA_F_NODAD : 0;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = ifindex;
    mnl_attr_put(r.nlh, IFA_LOCAL, len_of(addr.family), addr.bytes.data());
    mnl_attr_put(r.nlh, IFA_ADDRESS, len_of(addr.family), addr.bytes.data());
    return transact(_nl, _portid, r,
                    std::string(add ? "add" : "delete") + " address " +
                        config::format_prefix(addr));
}

Result<Ok> Rtnetlink::route(bool add, unsigned ifindex, const config::Prefix &dst,
                            const std::optional<config::Address> &prefsrc) {
    Request r(add ? RTM_NEWROUTE : RTM_DELROUTE, add ? NLM_F_CREATE | NLM_F_REPLACE : 0, ++_seq);
    auto *rtm = static_cast<rtmsg *>(mnl_nlmsg_put_extra_header(r.nlh, sizeof(rtmsg)));
    rtm->rtm_family = static_cast<uint8_t>(af_of(dst.family));
    rtm->rtm_dst_len = dst.length;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_scope = dst.family == 6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put(r.nlh, RTA_DST, len_of(dst.family), dst.bytes.data());
    mnl_attr_put_u32(r.nlh, RTA_OIF, ifindex);
    if (add && prefsrc && prefsrc->family == dst.family)
        mnl_attr_put(r.nlh, RTA_PREFSRC, len_of(dst.family), prefsrc->bytes.data());
    return transact(_nl, _portid, r,
                    std::string(add ? "add" : "delete") + " route " + config::format_prefix(dst));
}

} // namespace qorgan::dp

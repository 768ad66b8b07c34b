// SPDX-License-Identifier: GPL-2.0-or-later
// The exception path's TUN device; see exception_tun.h.
#include "dataplane/exception_tun.h"

#include "config/schema.h"
#include "dataplane/snapshot.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace qorgan::dp {

Result<std::unique_ptr<ExceptionTun>> ExceptionTun::open(const std::string &name, uint16_t mtu) {
    if (name.empty() || name.size() >= IFNAMSIZ)
        return Error{{}, "exception TUN name '" + name + "': 1 to 15 characters"};
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return Error{{}, std::string("/dev/net/tun: ") + std::strerror(errno)};
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, name.data(), name.size());
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return Error{{}, "exception TUN " + name + ": " + std::strerror(e)};
    }
    unsigned ifindex = if_nametoindex(ifr.ifr_name);
    auto nl = Rtnetlink::open();
    if (!nl) {
        close(fd);
        return nl.error();
    }
    // Without a link-local address of its own, the kernel sends nothing through the TUN
    // unasked (router and MLD solicitations); a kernel that refuses is still served.
    (void)nl->no_ipv6_autoconf(ifindex);
    auto up = nl->link_up(ifindex, mtu);
    if (!up) {
        close(fd);
        return Error{{}, "exception TUN " + name + ": " + up.error().message};
    }
    return std::unique_ptr<ExceptionTun>(
        new ExceptionTun(fd, ifr.ifr_name, std::move(nl.value()), ifindex));
}

std::unique_ptr<ExceptionTun> ExceptionTun::adopt(int fd, std::string name) {
    return std::unique_ptr<ExceptionTun>(new ExceptionTun(fd, std::move(name), std::nullopt, 0));
}

ExceptionTun::~ExceptionTun() {
    if (_fd >= 0)
        close(_fd);
}

ExceptionTun::Written ExceptionTun::write_packet(const uint8_t *ip, size_t len) {
    ssize_t n = write(_fd, ip, len);
    if (n == static_cast<ssize_t>(len))
        return Written::ok;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
        return Written::full;
    return Written::error;
}

ssize_t ExceptionTun::read_packet(uint8_t *buf, size_t cap) {
    ssize_t n = read(_fd, buf, cap);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return n;
}

namespace {

config::Address host_address(uint8_t family, const void *bytes) {
    config::Address a;
    a.family = family;
    a.length = family == 4 ? 32 : 128;
    std::memcpy(a.bytes.data(), bytes, family == 4 ? 4 : 16);
    return a;
}

template <typename T>
bool contains(const std::vector<T> &v, const T &x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

} // namespace

Result<Ok> ExceptionTun::sync_addresses(const Snapshot &s) {
    std::vector<config::Address> want;
    for (uint32_t a : s.own4)
        if (!contains(want, host_address(4, &a)))
            want.push_back(host_address(4, &a));
    for (const auto &a : s.own6)
        if (!contains(want, host_address(6, a.data())))
            want.push_back(host_address(6, a.data()));
    Result<Ok> result = Ok{};
    std::vector<config::Address> now;
    for (const auto &a : _addresses) {
        if (contains(want, a))
            now.push_back(a);
        else if (_nl)
            if (auto r = _nl->address(false, _ifindex, a); !r && result)
                result = r.error(); // the first error is reported; the rest still go on
    }
    for (const auto &a : want) {
        if (contains(now, a))
            continue;
        if (_nl)
            if (auto r = _nl->address(true, _ifindex, a); !r) {
                if (result)
                    result = r.error();
                continue;
            }
        now.push_back(a);
    }
    _addresses = std::move(now);
    return result;
}

Result<Ok> ExceptionTun::sync_routes(const Snapshot &s,
                                     const std::vector<config::Prefix> &prefixes) {
    std::vector<Route> want;
    for (const auto &given : prefixes) {
        config::Prefix p = config::network_of(given); // the kernel refuses host bits
        Route r{p, s.source_towards(p)};
        if (r.src && !contains(_addresses, *r.src))
            r.src.reset(); // the kernel refuses a source the device does not hold
        bool dup = false;
        for (const auto &w : want)
            dup = dup || w.dst == p;
        if (!dup)
            want.push_back(r);
    }
    Result<Ok> result = Ok{};
    std::vector<Route> now;
    for (const auto &r : _routes) {
        bool kept = false;
        for (const auto &w : want)
            kept = kept || w.dst == r.dst;
        if (!kept && _nl)
            if (auto e = _nl->route(false, _ifindex, r.dst, std::nullopt); !e && result)
                result = e.error();
    }
    // Every wanted route is replaced: an address removed since took its routes with it.
    for (const auto &r : want) {
        if (_nl)
            if (auto e = _nl->route(true, _ifindex, r.dst, r.src); !e) {
                if (result)
                    result = e.error();
                continue;
            }
        now.push_back(r);
    }
    _routes = std::move(now);
    return result;
}

std::optional<std::string> af_packet_iface(const std::string &device) {
    if (device.rfind("net_af_packet", 0) != 0)
        return std::nullopt;
    size_t at = device.find(",iface=");
    if (at == std::string::npos)
        return std::nullopt;
    at += 7;
    std::string name = device.substr(at, device.find(',', at) - at);
    if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos ||
        name == "." || name == "..")
        return std::nullopt;
    return name;
}

Result<Ok> seal_kernel_ports(const config::Config &conf) {
    for (const auto &ifc : conf.interfaces) {
        auto name = af_packet_iface(ifc.device);
        if (!name)
            continue;
        const std::pair<std::string, const char *> settings[] = {
            {"/proc/sys/net/ipv4/conf/" + *name + "/arp_ignore", "8"},
            {"/proc/sys/net/ipv4/conf/" + *name + "/rp_filter", "1"},
            {"/proc/sys/net/ipv6/conf/" + *name + "/disable_ipv6", "1"},
        };
        for (const auto &[path, value] : settings) {
            std::ofstream f(path);
            f << value << "\n";
            f.flush();
            if (!f)
                return Error{{},
                             "cannot set " + path + " to " + value +
                                 " (the kernel would take the gateway's traffic on " + *name + ")"};
        }
    }
    return Ok{};
}

} // namespace qorgan::dp

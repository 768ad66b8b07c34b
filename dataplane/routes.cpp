// SPDX-License-Identifier: GPL-2.0-or-later
// Compiles connected, local and static routes of a configuration into rte_fib/rte_fib6.
#include "dataplane/routes.h"

#include "config/config.h"

#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_fib6.h>

#include <arpa/inet.h>
#include <atomic>
#include <cstring>

namespace qorgan::dp {

namespace {

std::atomic<unsigned> fib_serial{0};

bool prefix_contains(const config::Prefix &net, const uint8_t *addr, uint8_t family) {
    if (net.family != family)
        return false;
    unsigned bits = net.length;
    for (unsigned i = 0; i < 16 && bits > 0; i++) {
        uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
        if ((net.bytes[i] & mask) != (addr[i] & mask))
            return false;
        bits = bits >= 8 ? bits - 8 : 0;
    }
    return true;
}

config::Prefix network_of(const config::Prefix &p) {
    config::Prefix n = p;
    unsigned bits = p.length;
    for (unsigned i = 0; i < 16; i++) {
        uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
        n.bytes[i] &= mask;
        bits = bits >= 8 ? bits - 8 : 0;
    }
    return n;
}

uint32_t v4_host(const config::Prefix &p) {
    uint32_t be;
    std::memcpy(&be, p.bytes.data(), 4);
    return ntohl(be);
}

} // namespace

RouteTable::~RouteTable() {
    rte_fib_free(_fib4);
    rte_fib6_free(_fib6);
}

uint16_t RouteTable::add_hop(const NextHop &h) {
    for (size_t i = 1; i < _hops.size(); i++) {
        const NextHop &o = _hops[i];
        if (o.kind == h.kind && o.family == h.family && o.port == h.port &&
            std::memcmp(o.gateway, h.gateway, 16) == 0)
            return static_cast<uint16_t>(i);
    }
    _hops.push_back(h);
    return static_cast<uint16_t>(_hops.size() - 1);
}

Result<std::unique_ptr<RouteTable>> RouteTable::build(const config::Config &conf,
                                                      const std::vector<RouteInterface> &ifaces,
                                                      int socket_id) {
    std::unique_ptr<RouteTable> t(new RouteTable());
    t->_hops.push_back(NextHop{});
    unsigned serial = fib_serial.fetch_add(1);
    std::string name4 = "qg_fib4_" + std::to_string(serial);
    std::string name6 = "qg_fib6_" + std::to_string(serial);

    rte_fib_conf c4{};
    c4.type = RTE_FIB_DIR24_8;
    c4.default_nh = 0;
    c4.max_routes = 65536;
    c4.rib_ext_sz = 0;
    c4.dir24_8.nh_sz = RTE_FIB_DIR24_8_2B;
    c4.dir24_8.num_tbl8 = 1024;
    t->_fib4 = rte_fib_create(name4.c_str(), socket_id, &c4);
    if (!t->_fib4)
        return Error{{}, "cannot create the IPv4 FIB: " + std::string(rte_strerror(rte_errno))};
    rte_fib6_conf c6{};
    c6.type = RTE_FIB6_TRIE;
    c6.default_nh = 0;
    c6.max_routes = 65536;
    c6.rib_ext_sz = 0;
    c6.trie.nh_sz = RTE_FIB6_TRIE_2B;
    c6.trie.num_tbl8 = 4096;
    t->_fib6 = rte_fib6_create(name6.c_str(), socket_id, &c6);
    if (!t->_fib6)
        return Error{{}, "cannot create the IPv6 FIB: " + std::string(rte_strerror(rte_errno))};

    auto add = [&](const config::Prefix &p, uint16_t hop, const Location &where) -> Status {
        int rc;
        if (p.family == 4)
            rc = rte_fib_add(t->_fib4, v4_host(p), p.length, hop);
        else
            rc = rte_fib6_add(t->_fib6, p.bytes.data(), p.length, hop);
        if (rc < 0)
            return Error{where, "cannot add route " + config::format_prefix(p) + ": " +
                                    std::string(rte_strerror(-rc))};
        return Ok{};
    };

    // Connected subnets first, then local host routes (more specific, so order is moot).
    for (size_t i = 0; i < ifaces.size(); i++) {
        const config::Interface &ifc = *ifaces[i].conf;
        if (ifc.disabled)
            continue;
        for (const auto &a : ifc.addresses) {
            NextHop conn{
                NextHopKind::connected, a.family, ifaces[i].port, static_cast<uint16_t>(i), {}};
            auto st = add(network_of(a), t->add_hop(conn), ifc.where);
            if (!st)
                return st.error();
            NextHop local{
                NextHopKind::local, a.family, ifaces[i].port, static_cast<uint16_t>(i), {}};
            config::Prefix host = a;
            host.length = a.family == 4 ? 32 : 128;
            st = add(host, t->add_hop(local), ifc.where);
            if (!st)
                return st.error();
        }
    }

    for (const auto &r : conf.routes) {
        std::optional<size_t> out;
        if (!r.interface.empty()) {
            for (size_t i = 0; i < ifaces.size(); i++)
                if (ifaces[i].conf->name == r.interface)
                    out = i;
            if (!out)
                return Error{r.where, "routes route " + config::format_prefix(r.prefix) +
                                          ": interface '" + r.interface + "' does not exist"};
            if (ifaces[*out].conf->disabled)
                return Error{r.where, "routes route " + config::format_prefix(r.prefix) +
                                          ": interface '" + r.interface + "' is disabled"};
        }
        NextHop h{};
        h.family = r.prefix.family;
        if (r.via) {
            if (r.via->family != r.prefix.family)
                return Error{r.where, "routes route " + config::format_prefix(r.prefix) +
                                          ": next hop " + config::format_address(*r.via) +
                                          " is of the other address family"};
            if (!out) {
                for (size_t i = 0; i < ifaces.size() && !out; i++) {
                    if (ifaces[i].conf->disabled)
                        continue;
                    for (const auto &a : ifaces[i].conf->addresses)
                        if (prefix_contains(network_of(a), r.via->bytes.data(), r.via->family))
                            out = i;
                }
            }
            if (!out)
                return Error{r.where, "routes route " + config::format_prefix(r.prefix) +
                                          ": next hop " + config::format_address(*r.via) +
                                          " is on no connected subnet; expected an address "
                                          "inside an enabled interface's subnet"};
            h.kind = NextHopKind::gateway;
            std::memcpy(h.gateway, r.via->bytes.data(), 16);
        } else {
            if (!out)
                return Error{r.where, "routes route " + config::format_prefix(r.prefix) +
                                          ": expected 'via <address>' or 'interface <name>'"};
            h.kind = NextHopKind::connected;
        }
        h.port = ifaces[*out].port;
        h.iface = static_cast<uint16_t>(*out);
        auto st = add(r.prefix, t->add_hop(h), r.where);
        if (!st)
            return st.error();
    }
    if (t->_hops.size() > 65535)
        return Error{{}, "too many next hops"};
    return t;
}

uint16_t RouteTable::lookup4(uint32_t dst_be) const {
    uint32_t ip = ntohl(dst_be);
    uint64_t nh = 0;
    rte_fib_lookup_bulk(_fib4, &ip, &nh, 1);
    return static_cast<uint16_t>(nh);
}

void RouteTable::lookup4_bulk(const uint32_t *dst_host, uint64_t *nh, unsigned n) const {
    rte_fib_lookup_bulk(_fib4, const_cast<uint32_t *>(dst_host), nh, n);
}

uint16_t RouteTable::lookup6(const uint8_t dst[16]) const {
    uint8_t ip[1][16];
    std::memcpy(ip[0], dst, 16);
    uint64_t nh = 0;
    rte_fib6_lookup_bulk(_fib6, ip, &nh, 1);
    return static_cast<uint16_t>(nh);
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
#include "classifiers/policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace qorgan::dpi {

const char *rule_name(Rule r) {
    switch (r) {
    case Rule::none:
        return "none";
    case Rule::category:
        return "category";
    case Rule::exception:
        return "exception";
    case Rule::vpn_channel:
        return "vpn-channel";
    case Rule::outer_loop:
        return "outer-loop";
    case Rule::address:
        return "malicious-address";
    case Rule::overload:
        return "overload";
    }
    return "?";
}

Result<CategoryPolicy> CategoryPolicy::compile(const config::Categories &c,
                                               const ModuleSet &modules) {
    CategoryPolicy p;
    p._conf = &c;
    p._budget = std::max<uint32_t>(c.inspect_packets, 1);
    p._reset = c.reset;
    for (const config::CategoryException &e : c.exceptions) {
        Exception x{e.sources, e.categories, {}};
        for (const std::string &name : e.applications) {
            auto id = modules.id_of(name);
            if (!id)
                return Error{e.where, "security categories exception " + e.name +
                                          ": nDPI knows no application '" + name +
                                          "' (names as 'show security application-statistics' "
                                          "prints them, e.g. BitTorrent, SSH, OpenVPN; R134-2)"};
            x.apps.push_back(*id);
        }
        p._exceptions.push_back(std::move(x));
    }
    for (const config::VpnChannel &v : c.vpn_channels) {
        Channel ch{};
        ch.family = v.source.family;
        ch.proto = v.protocol;
        std::memcpy(ch.src, v.source.bytes.data(), 16);
        std::memcpy(ch.dst, v.destination.bytes.data(), 16);
        ch.sport = htons(v.source_port);
        ch.dport = htons(v.destination_port);
        p._channels.push_back(ch);
    }
    return p;
}

std::optional<uint16_t> CategoryPolicy::channel(uint8_t family, uint8_t proto,
                                                const uint32_t src[4], const uint32_t dst[4],
                                                uint16_t sport, uint16_t dport) const {
    size_t n = family == 6 ? 16 : 4;
    for (size_t i = 0; i < _channels.size(); i++) {
        const Channel &c = _channels[i];
        if (c.family == family && c.proto == proto && c.dport == dport &&
            (c.sport == 0 || c.sport == sport) && std::memcmp(c.src, src, n) == 0 &&
            std::memcmp(c.dst, dst, n) == 0)
            return uint16_t(i);
    }
    return std::nullopt;
}

Decision CategoryPolicy::decide(std::optional<config::Category> cat, uint16_t master, uint16_t app,
                                uint8_t family, const uint32_t src[4],
                                bool outer_loop_inbound) const {
    if (!cat)
        return {};
    if (*cat == config::Category::remote_access && outer_loop_inbound)
        return {true, Rule::outer_loop, 0};
    for (size_t i = 0; i < _exceptions.size(); i++) {
        const Exception &e = _exceptions[i];
        bool what = (e.categories & config::category_bit(*cat)) ||
                    std::any_of(e.apps.begin(), e.apps.end(),
                                [&](uint16_t a) { return a && (a == master || a == app); });
        if (!what)
            continue;
        if (!e.sources.empty() &&
            std::none_of(e.sources.begin(), e.sources.end(), [&](const config::Prefix &p) {
                return config::prefix_contains(p, family, reinterpret_cast<const uint8_t *>(src));
            }))
            continue;
        return {false, Rule::exception, uint16_t(i)};
    }
    return {true, Rule::category, 0};
}

} // namespace qorgan::dpi

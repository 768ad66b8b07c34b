// SPDX-License-Identifier: GPL-2.0-or-later
// The category policy of paragraph 134-1, compiled from the configuration: the six
// categories are blocked; exceptions on official request (R134-2, R133-3) and agreed VPN
// channels (R133-4) let flows through; remote access from outside the outer loop towards
// it is blocked whatever they say (R133-1). Read-only once built; part of the snapshot.
#pragma once

#include "classifiers/module.h"
#include "common/result.h"
#include "config/model.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace qorgan::dpi {

// What decided a flow, as logs and counters name it.
enum class Rule : uint8_t {
    none,        // not one of the six: passes
    category,    // blocked by its category (R134-1)
    exception,   // passed by an exception (R134-2)
    vpn_channel, // passed as an agreed VPN channel (R133-4), not inspected
    outer_loop,  // remote access from outside the outer loop (R133-1)
    address,     // a malicious address list entry (R134-1), not inspected
    overload,    // not inspected: the worker's inspection table was full
};

const char *rule_name(Rule r);

struct Decision {
    bool block = false;
    Rule rule = Rule::none;
    uint16_t index = 0; // exception or channel index when rule says so
};

class CategoryPolicy {
public:
    // Resolves application names against nDPI's; an unknown name is an error naming it.
    static Result<CategoryPolicy> compile(const config::Categories &c, const ModuleSet &modules);

    // An agreed VPN channel's index, if the flow's originator 5-tuple is one.
    std::optional<uint16_t> channel(uint8_t family, uint8_t proto, const uint32_t src[4],
                                    const uint32_t dst[4], uint16_t sport,
                                    uint16_t dport) const; // ports in network order

    // The fate of a classified flow. cat: its regulation category (nullopt: none of the six);
    // src: the originator, network order; outer_loop_inbound: it arrives from a zone outside
    // the outer loop and leaves into one.
    Decision decide(std::optional<config::Category> cat, uint16_t master, uint16_t app,
                    uint8_t family, const uint32_t src[4], bool outer_loop_inbound) const;

    uint32_t budget() const { return _budget; }
    bool reset() const { return _reset; }
    const config::Categories &conf() const { return *_conf; }

private:
    struct Exception {
        std::vector<config::Prefix> sources;
        uint8_t categories;
        std::vector<uint16_t> apps;
    };
    struct Channel {
        uint8_t family, proto;
        uint32_t src[4], dst[4];
        uint16_t sport, dport; // network order; sport 0: any
    };
    const config::Categories *_conf = nullptr;
    std::vector<Exception> _exceptions;
    std::vector<Channel> _channels;
    uint32_t _budget = 8;
    bool _reset = true;
};

} // namespace qorgan::dpi

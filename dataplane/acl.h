// SPDX-License-Identifier: GPL-2.0-or-later
// One rule list (one interface, one direction) compiled into rte_acl contexts for
// IPv4 and IPv6. First match in list order wins; no match means default deny.
#pragma once

#include "common/result.h"
#include "config/model.h"
#include "dataplane/packet_meta.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct rte_acl_ctx;

namespace qorgan::dp {

// Classification input, laid out for rte_acl (all fields in network order).
// For ICMP/ICMPv6 the port fields carry the type (sport) and code (dport).
struct AclKey4 {
    uint8_t proto;
    uint8_t pad[3];
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
};
struct AclKey6 {
    uint8_t proto;
    uint8_t pad[3];
    uint32_t src[4];
    uint32_t dst[4];
    uint16_t sport;
    uint16_t dport;
};

void acl_key_of(const PacketMeta &meta, AclKey4 &key);
void acl_key_of(const PacketMeta &meta, AclKey6 &key);

// Result of a classification: 0 = no rule matched, else index into rules() + 1.
using AclMatch = uint32_t;

class RuleSet {
public:
    // Expands each rule into the cartesian product of its prefixes and port ranges.
    // Fails (naming the rule's config location) when the expansion exceeds max_entries.
    static Result<std::unique_ptr<RuleSet>> compile(const std::vector<config::Rule> &rules,
                                                    int socket_id, uint32_t max_entries = 65536);
    ~RuleSet();
    RuleSet(const RuleSet &) = delete;
    RuleSet &operator=(const RuleSet &) = delete;

    // Classifies n keys; results[i] is an AclMatch. Safe to call from many lcores.
    void classify4(const AclKey4 *const *keys, AclMatch *results, unsigned n) const;
    void classify6(const AclKey6 *const *keys, AclMatch *results, unsigned n) const;

    const std::vector<config::Rule> &rules() const { return _rules; }
    uint32_t entries4() const { return _entries4; }
    uint32_t entries6() const { return _entries6; }

private:
    RuleSet() = default;
    std::vector<config::Rule> _rules;
    rte_acl_ctx *_ctx4 = nullptr; // nullptr when no IPv4 entry (classify returns 0)
    rte_acl_ctx *_ctx6 = nullptr;
    uint32_t _entries4 = 0;
    uint32_t _entries6 = 0;
};

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// Compiles one rule list into rte_acl contexts (one per family) and classifies keys
// against them; list order becomes rte_acl priority so the first match wins.
#include "dataplane/acl.h"

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_errno.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>

namespace qorgan::dp {

namespace {

// Field order of both layouts: proto first (rte_acl wants a one-byte first field),
// then the addresses, then sport and dport sharing the last 4-byte input group.
constexpr unsigned fields4 = 5;
constexpr unsigned fields6 = 11;

RTE_ACL_RULE_DEF(AclRule4, fields4);
RTE_ACL_RULE_DEF(AclRule6, fields6);

static_assert(sizeof(AclKey4) == 16 && offsetof(AclKey4, src) == 4 &&
              offsetof(AclKey4, sport) == 12);
static_assert(sizeof(AclKey6) == 40 && offsetof(AclKey6, src) == 4 &&
              offsetof(AclKey6, sport) == 36);

// rte_acl_create returns an existing context of the same name instead of failing.
std::atomic<uint32_t> context_serial{0};

rte_acl_field_def field(uint8_t type, uint8_t size, unsigned index, unsigned input, size_t offset) {
    return rte_acl_field_def{type, size, static_cast<uint8_t>(index), static_cast<uint8_t>(input),
                             static_cast<uint32_t>(offset)};
}

rte_acl_config config4() {
    rte_acl_config cfg{};
    cfg.num_categories = 1;
    cfg.num_fields = fields4;
    cfg.defs[0] = field(RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, offsetof(AclKey4, proto));
    cfg.defs[1] = field(RTE_ACL_FIELD_TYPE_MASK, 4, 1, 1, offsetof(AclKey4, src));
    cfg.defs[2] = field(RTE_ACL_FIELD_TYPE_MASK, 4, 2, 2, offsetof(AclKey4, dst));
    cfg.defs[3] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, 3, 3, offsetof(AclKey4, sport));
    cfg.defs[4] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, 4, 3, offsetof(AclKey4, dport));
    return cfg;
}

rte_acl_config config6() {
    rte_acl_config cfg{};
    cfg.num_categories = 1;
    cfg.num_fields = fields6;
    cfg.defs[0] = field(RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, offsetof(AclKey6, proto));
    for (unsigned w = 0; w < 4; w++) {
        cfg.defs[1 + w] =
            field(RTE_ACL_FIELD_TYPE_MASK, 4, 1 + w, 1 + w, offsetof(AclKey6, src) + 4 * w);
        cfg.defs[5 + w] =
            field(RTE_ACL_FIELD_TYPE_MASK, 4, 5 + w, 5 + w, offsetof(AclKey6, dst) + 4 * w);
    }
    cfg.defs[9] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, 9, 9, offsetof(AclKey6, sport));
    cfg.defs[10] = field(RTE_ACL_FIELD_TYPE_RANGE, 2, 10, 9, offsetof(AclKey6, dport));
    return cfg;
}

// One 32-bit word of a prefix as an rte_acl MASK field (host-order value, bit count).
rte_acl_field prefix_word(const config::Prefix *p, unsigned word) {
    rte_acl_field f{};
    if (p == nullptr)
        return f; // any: 0/0
    int bits = std::clamp(static_cast<int>(p->length) - 32 * static_cast<int>(word), 0, 32);
    uint32_t v = (uint32_t{p->bytes[4 * word]} << 24) | (uint32_t{p->bytes[4 * word + 1]} << 16) |
                 (uint32_t{p->bytes[4 * word + 2]} << 8) | uint32_t{p->bytes[4 * word + 3]};
    uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    f.value.u32 = v & mask;
    f.mask_range.u32 = static_cast<uint32_t>(bits);
    return f;
}

rte_acl_field range(uint16_t low, uint16_t high) {
    rte_acl_field f{};
    f.value.u16 = low;
    f.mask_range.u16 = high;
    return f;
}

rte_acl_field proto_field(const config::Rule &rule) {
    rte_acl_field f{};
    if (rule.protocol) {
        f.value.u8 = *rule.protocol;
        f.mask_range.u8 = 0xff;
    }
    return f;
}

bool applies_to(const config::Rule &rule, uint8_t family) {
    return rule.family == 0 || rule.family == family;
}

// The prefixes of one family; a single nullptr (any) when the rule lists none at all.
std::vector<const config::Prefix *> prefixes_of(const std::vector<config::Prefix> &list,
                                                uint8_t family) {
    std::vector<const config::Prefix *> out;
    if (list.empty()) {
        out.push_back(nullptr);
        return out;
    }
    for (const auto &p : list)
        if (p.family == family)
            out.push_back(&p);
    return out;
}

// The (sport, dport) ranges of a rule; ICMP type and code take over both fields.
struct PortPair {
    config::PortRange sport;
    config::PortRange dport;
};

std::vector<PortPair> port_pairs(const config::Rule &rule) {
    std::vector<PortPair> out;
    if (rule.icmp_type) {
        config::PortRange code{0, 255};
        if (rule.icmp_code)
            code = {*rule.icmp_code, *rule.icmp_code};
        out.push_back({{*rule.icmp_type, *rule.icmp_type}, code});
        return out;
    }
    static const std::vector<config::PortRange> any{config::PortRange{}};
    const auto &sports = rule.source_ports.empty() ? any : rule.source_ports;
    const auto &dports = rule.destination_ports.empty() ? any : rule.destination_ports;
    for (const auto &s : sports)
        for (const auto &d : dports)
            out.push_back({s, d});
    return out;
}

uint64_t saturating_product(std::initializer_list<uint64_t> factors) {
    uint64_t n = 1;
    for (uint64_t f : factors) {
        if (f != 0 && n > std::numeric_limits<uint64_t>::max() / f)
            return std::numeric_limits<uint64_t>::max();
        n *= f;
    }
    return n;
}

Error too_many(const config::Rule &rule, uint64_t own, uint64_t total, uint64_t limit) {
    std::string msg =
        "rule " + std::to_string(rule.id) + " expands to " + std::to_string(own) + " entries";
    if (total != own)
        msg += ", " + std::to_string(total) + " with the rules before it";
    msg += "; the limit is " + std::to_string(limit);
    return Error{rule.where, msg};
}

void fill_entry(AclRule4 &e, const config::Rule &rule, const config::Prefix *src,
                const config::Prefix *dst, const PortPair &ports) {
    e.field[0] = proto_field(rule);
    e.field[1] = prefix_word(src, 0);
    e.field[2] = prefix_word(dst, 0);
    e.field[3] = range(ports.sport.low, ports.sport.high);
    e.field[4] = range(ports.dport.low, ports.dport.high);
}

void fill_entry(AclRule6 &e, const config::Rule &rule, const config::Prefix *src,
                const config::Prefix *dst, const PortPair &ports) {
    e.field[0] = proto_field(rule);
    for (unsigned w = 0; w < 4; w++) {
        e.field[1 + w] = prefix_word(src, w);
        e.field[5 + w] = prefix_word(dst, w);
    }
    e.field[9] = range(ports.sport.low, ports.sport.high);
    e.field[10] = range(ports.dport.low, ports.dport.high);
}

// Expands the rules of one family into rte_acl entries, or names the rule that
// pushes the count over the limit.
template <typename AclRule>
Result<std::vector<AclRule>> expand(const std::vector<config::Rule> &rules, uint8_t family,
                                    uint64_t limit) {
    uint64_t total = 0;
    for (const auto &rule : rules) {
        if (!applies_to(rule, family))
            continue;
        auto srcs = prefixes_of(rule.sources, family);
        auto dsts = prefixes_of(rule.destinations, family);
        uint64_t ports =
            rule.icmp_type
                ? 1
                : saturating_product({std::max<uint64_t>(rule.source_ports.size(), 1),
                                      std::max<uint64_t>(rule.destination_ports.size(), 1)});
        uint64_t own = saturating_product({srcs.size(), dsts.size(), ports});
        total = own > std::numeric_limits<uint64_t>::max() - total
                    ? std::numeric_limits<uint64_t>::max()
                    : total + own;
        if (total > limit)
            return too_many(rule, own, total, limit);
    }

    std::vector<AclRule> out;
    out.reserve(total);
    for (size_t i = 0; i < rules.size(); i++) {
        const auto &rule = rules[i];
        if (!applies_to(rule, family))
            continue;
        auto srcs = prefixes_of(rule.sources, family);
        auto dsts = prefixes_of(rule.destinations, family);
        auto ports = port_pairs(rule);
        for (const auto *s : srcs)
            for (const auto *d : dsts)
                for (const auto &pp : ports) {
                    AclRule e{};
                    e.data.category_mask = 1;
                    e.data.priority = static_cast<int32_t>(rules.size() - i);
                    e.data.userdata = static_cast<uint32_t>(i + 1);
                    fill_entry(e, rule, s, d, pp);
                    out.push_back(e);
                }
    }
    return out;
}

// Creates and builds one context into *ctx (left set even on failure so the owner
// frees it).
template <typename AclRule>
Status build_context(const std::vector<AclRule> &entries, const rte_acl_config &cfg, int socket_id,
                     uint8_t family, rte_acl_ctx **ctx) {
    char name[RTE_ACL_NAMESIZE];
    std::snprintf(name, sizeof(name), "qorgan%u_%u", family, context_serial.fetch_add(1));
    rte_acl_param param{};
    param.name = name;
    param.socket_id = socket_id;
    param.rule_size = RTE_ACL_RULE_SZ(cfg.num_fields);
    param.max_rule_num = static_cast<uint32_t>(entries.size());
    *ctx = rte_acl_create(&param);
    // rte_acl_create only fails here for want of memory on that socket (or no such
    // socket); it leaves rte_errno unset then.
    if (*ctx == nullptr)
        return Error{{},
                     "IPv" + std::to_string(family) + " rules: cannot create an ACL context of " +
                         std::to_string(entries.size()) + " entries on socket " +
                         std::to_string(socket_id) + " (no memory there, or no such socket)"};
    int rc = rte_acl_add_rules(*ctx, reinterpret_cast<const rte_acl_rule *>(entries.data()),
                               static_cast<uint32_t>(entries.size()));
    if (rc == 0)
        rc = rte_acl_build(*ctx, &cfg);
    if (rc != 0)
        return Error{{},
                     std::string("IPv") + std::to_string(family) + " rules: cannot build " +
                         std::to_string(entries.size()) + " ACL entries: " + rte_strerror(-rc)};
    return Ok{};
}

} // namespace

void acl_key_of(const PacketMeta &meta, AclKey4 &key) {
    std::memset(&key, 0, sizeof(key));
    key.proto = meta.proto;
    key.src = meta.src[0];
    key.dst = meta.dst[0];
    if (meta.proto == config::proto_icmp) {
        key.sport = rte_cpu_to_be_16(meta.icmp_type);
        key.dport = rte_cpu_to_be_16(meta.icmp_code);
    } else {
        key.sport = meta.sport;
        key.dport = meta.dport;
    }
}

void acl_key_of(const PacketMeta &meta, AclKey6 &key) {
    std::memset(&key, 0, sizeof(key));
    key.proto = meta.proto;
    std::memcpy(key.src, meta.src, sizeof(key.src));
    std::memcpy(key.dst, meta.dst, sizeof(key.dst));
    if (meta.proto == config::proto_icmpv6) {
        key.sport = rte_cpu_to_be_16(meta.icmp_type);
        key.dport = rte_cpu_to_be_16(meta.icmp_code);
    } else {
        key.sport = meta.sport;
        key.dport = meta.dport;
    }
}

Result<std::unique_ptr<RuleSet>> RuleSet::compile(const std::vector<config::Rule> &rules,
                                                  int socket_id, uint32_t max_entries) {
    // Priorities run from rules.size() down to 1 and must stay below RTE_ACL_MAX_PRIORITY;
    // a list is never longer than the entry limit, which is capped accordingly.
    const uint64_t limit = std::min<uint64_t>(max_entries, RTE_ACL_MAX_PRIORITY - 1);
    if (rules.size() > limit)
        return Error{rules[limit].where, "rule " + std::to_string(rules[limit].id) +
                                             ": the list has " + std::to_string(rules.size()) +
                                             " rules; the limit is " + std::to_string(limit)};
    auto e4 = expand<AclRule4>(rules, 4, limit);
    if (!e4)
        return e4.error();
    auto e6 = expand<AclRule6>(rules, 6, limit);
    if (!e6)
        return e6.error();

    // Owned from here on: any failure below frees what was built through ~RuleSet.
    std::unique_ptr<RuleSet> set(new RuleSet());
    set->_rules = rules;
    if (!e4->empty()) {
        auto st = build_context(*e4, config4(), socket_id, 4, &set->_ctx4);
        if (!st)
            return st.error();
        set->_entries4 = static_cast<uint32_t>(e4->size());
    }
    if (!e6->empty()) {
        auto st = build_context(*e6, config6(), socket_id, 6, &set->_ctx6);
        if (!st)
            return st.error();
        set->_entries6 = static_cast<uint32_t>(e6->size());
    }
    return set;
}

RuleSet::~RuleSet() {
    rte_acl_free(_ctx4);
    rte_acl_free(_ctx6);
}

void RuleSet::classify4(const AclKey4 *const *keys, AclMatch *results, unsigned n) const {
    if (_ctx4 == nullptr) {
        std::fill_n(results, n, AclMatch{0});
        return;
    }
    // Cannot fail on a built context with one category.
    (void)rte_acl_classify(
        _ctx4, const_cast<const uint8_t **>(reinterpret_cast<const uint8_t *const *>(keys)),
        results, n, 1);
}

void RuleSet::classify6(const AclKey6 *const *keys, AclMatch *results, unsigned n) const {
    if (_ctx6 == nullptr) {
        std::fill_n(results, n, AclMatch{0});
        return;
    }
    (void)rte_acl_classify(
        _ctx6, const_cast<const uint8_t **>(reinterpret_cast<const uint8_t *const *>(keys)),
        results, n, 1);
}

} // namespace qorgan::dp

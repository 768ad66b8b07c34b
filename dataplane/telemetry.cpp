// SPDX-License-Identifier: GPL-2.0-or-later
// The /qorgan/* telemetry commands; see telemetry.h.
#include "dataplane/telemetry.h"

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <string>

namespace qorgan::dp {

namespace {

const TelemetrySources *src = nullptr;

int cmd_drops(const char *, const char *, rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    for (unsigned r = 0; r < drop_reason_count; r++) {
        uint64_t n = 0;
        for (const auto *c : src->counters)
            n += c->drops[r].get();
        std::string name(drop_reason_name(static_cast<DropReason>(r)));
        rte_tel_data_add_dict_u64(d, name.c_str(), n);
    }
    return 0;
}

int cmd_ports(const char *, const char *, rte_tel_data *d) {
    std::lock_guard<std::mutex> g(*src->ports_lock);
    rte_tel_data_start_dict(d);
    for (const auto &st : src->ports->states()) {
        rte_tel_data *p = rte_tel_data_alloc();
        if (!p)
            return -ENOMEM;
        rte_tel_data_start_dict(p);
        rte_tel_data_add_dict_u64(p, "port_id", st.port);
        rte_tel_data_add_dict_string(p, "device", device_name(st.device).c_str());
        rte_tel_data_add_dict_string(p, "admin", st.admin_up ? "up" : "down");
        rte_tel_data_add_dict_string(p, "link", st.link_up ? "up" : "down");
        rte_tel_data_add_dict_u64(p, "speed_mbps", st.speed_mbps);
        rte_tel_data_add_dict_string(p, "duplex", st.full_duplex ? "full" : "half");
        rte_tel_data_add_dict_u64(p, "link_changes", st.link_changes);
        rte_eth_stats es{};
        rte_eth_stats_get(st.port, &es);
        rte_tel_data_add_dict_u64(p, "rx_packets", es.ipackets);
        rte_tel_data_add_dict_u64(p, "rx_bytes", es.ibytes);
        rte_tel_data_add_dict_u64(p, "tx_packets", es.opackets);
        rte_tel_data_add_dict_u64(p, "tx_bytes", es.obytes);
        rte_tel_data_add_dict_u64(p, "rx_errors", es.ierrors);
        rte_tel_data_add_dict_u64(p, "tx_errors", es.oerrors);
        rte_tel_data_add_dict_u64(p, "rx_missed", es.imissed);
        rte_tel_data_add_dict_u64(p, "rx_nombuf", es.rx_nombuf);
        char mac[18];
        std::snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", st.mac[0], st.mac[1],
                      st.mac[2], st.mac[3], st.mac[4], st.mac[5]);
        rte_tel_data_add_dict_string(p, "mac", mac);
        rte_tel_data_add_dict_container(d, st.name.c_str(), p, 0);
    }
    return 0;
}

// /qorgan/rules[,<interface>]: hits and bytes per rule, keyed "<iface>/<dir>/<id>".
int cmd_rules(const char *, const char *params, rte_tel_data *d) {
    std::lock_guard<std::mutex> g(*src->snapshot_lock);
    const Snapshot *s = src->active->load(std::memory_order_acquire);
    rte_tel_data_start_dict(d);
    unsigned entries = 0;
    for (const auto &ifc : s->ifaces) {
        if (params && *params && ifc.conf->name != params)
            continue;
        for (int dir = 0; dir < 2; dir++) {
            const auto &rules = ifc.rules[dir]->rules();
            for (size_t i = 0; i < rules.size(); i++) {
                if (++entries > RTE_TEL_MAX_DICT_ENTRIES)
                    return 0; // a long listing is cut; ask per interface
                rte_tel_data *r = rte_tel_data_alloc();
                if (!r)
                    return -ENOMEM;
                uint32_t slot = ifc.rule_base[dir] + static_cast<uint32_t>(i);
                rte_tel_data_start_dict(r);
                rte_tel_data_add_dict_u64(r, "hits", s->rule_hits(slot));
                rte_tel_data_add_dict_u64(r, "bytes", s->rule_bytes(slot));
                std::string key = ifc.conf->name + (dir == 0 ? "/ingress/" : "/egress/") +
                                  std::to_string(rules[i].id);
                rte_tel_data_add_dict_container(d, key.c_str(), r, 0);
            }
        }
    }
    return 0;
}

int cmd_flows(const char *, const char *, rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    uint64_t active = 0, created = 0, refused = 0, expired = 0, capacity = 0, rechecks = 0;
    for (const auto *f : src->flows) {
        const FlowTableStats &st = f->stats();
        active += st.active;
        created += st.created;
        refused += st.refused_full;
        expired += st.expired;
        capacity += f->capacity();
    }
    for (const auto *c : src->counters)
        rechecks += c->flow_rechecks.get();
    rte_tel_data_add_dict_u64(d, "active", active);
    rte_tel_data_add_dict_u64(d, "created", created);
    rte_tel_data_add_dict_u64(d, "refused", refused);
    rte_tel_data_add_dict_u64(d, "expired", expired);
    rte_tel_data_add_dict_u64(d, "capacity", capacity);
    rte_tel_data_add_dict_u64(d, "rechecked", rechecks);
    return 0;
}

int cmd_stats(const char *, const char *, rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    uint64_t rx = 0, fwd = 0, local = 0, related = 0, slow = 0, logd = 0;
    for (const auto *c : src->counters) {
        rx += c->rx_packets.get();
        fwd += c->forwarded.get();
        local += c->local_replies.get();
        related += c->related_icmp.get();
        slow += c->slowpath_sent.get();
        logd += c->log_dropped.get();
    }
    rte_tel_data_add_dict_u64(d, "rx_packets", rx);
    rte_tel_data_add_dict_u64(d, "tx_packets", fwd);
    rte_tel_data_add_dict_u64(d, "local_replies", local);
    rte_tel_data_add_dict_u64(d, "related_icmp", related);
    rte_tel_data_add_dict_u64(d, "slowpath", slow);
    rte_tel_data_add_dict_u64(d, "log_dropped", logd);
    {
        std::lock_guard<std::mutex> g(*src->snapshot_lock);
        rte_tel_data_add_dict_u64(d, "policy_epoch",
                                  src->active->load(std::memory_order_acquire)->epoch);
    }
    rte_tel_data_add_dict_u64(d, "neighbors", src->neighbors->size());
    rte_tel_data_add_dict_u64(d, "neighbors_refused", src->neighbors->refused());
    return 0;
}

// NAT44 counters summed over workers, the ports held per source rule, and the
// translated flows. Read under the snapshot lock: the table belongs to the running policy.
int cmd_nat(const char *, const char *, rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> g(*src->snapshot_lock);
    const Snapshot *s = src->active->load(std::memory_order_acquire);
    const NatTable &nat = *s->nat;
    for (const auto &[name, field] : nat_counter_fields)
        rte_tel_data_add_dict_u64(d, name, nat.total(field));
    // Port pools: written by their workers, read here without a lock (plain words, a read
    // may be one update behind).
    uint64_t in_use = 0, capacity = 0, bytes = 0;
    for (const auto &r : nat.sources())
        for (const auto &p : r.pools) {
            in_use += p->stats().in_use;
            capacity += uint64_t(p->slice_size()) * r.pool.addresses.size();
            bytes += p->bytes();
        }
    rte_tel_data_add_dict_u64(d, "ports_in_use", in_use);
    rte_tel_data_add_dict_u64(d, "ports_per_protocol", capacity);
    rte_tel_data_add_dict_u64(d, "pool_bytes", bytes);
    uint64_t translated_active = 0;
    for (const FlowTable *f : src->flows)
        f->for_each([&](const Flow &fl) { translated_active += fl.nat_kind != 0; });
    rte_tel_data_add_dict_u64(d, "active", translated_active);
    return 0;
}

// /qorgan/screen: per defence "<defence>/detected|dropped|events|suppressed", then the
// SYN cookie, block list, table and reassembly counters, summed over workers.
int cmd_screen(const char *, const char *, rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    for (unsigned i = 0; i < defence_count; i++) {
        std::string name(defence_name(static_cast<Defence>(i)));
        for (auto &ch : name)
            ch = ch == '-' ? '_' : ch; // telemetry keys: letters, digits, '_' and '/'
        for (const auto &[what, field] : defence_counter_fields)
            rte_tel_data_add_dict_u64(d, (name + "/" + what).c_str(),
                                      screen_sum(src->counters, i, field));
    }
    for (const auto &[name, field] : screen_total_fields)
        rte_tel_data_add_dict_u64(d, name, screen_sum(src->counters, field));
    uint64_t half_open_max = 0; // a gauge: the highest of the workers
    for (const auto *c : src->counters)
        half_open_max = std::max<uint64_t>(half_open_max, c->screen.half_open_max.get());
    rte_tel_data_add_dict_u64(d, "half_open_max", half_open_max);
    return 0;
}

// /qorgan/mempools: objects in use per pool (per-lcore caches count as free), so a test can
// see every mbuf come back after an attack.
int cmd_mempools(const char *, const char *, rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    for (rte_mempool *p : src->pools) {
        rte_tel_data *e = rte_tel_data_alloc();
        if (!e)
            return -ENOMEM;
        rte_tel_data_start_dict(e);
        rte_tel_data_add_dict_u64(e, "size", p->size);
        rte_tel_data_add_dict_u64(e, "in_use", rte_mempool_in_use_count(p));
        rte_tel_data_add_dict_container(d, p->name, e, 0);
    }
    return 0;
}

int cmd_neighbors(const char *, const char *, rte_tel_data *d) {
    rte_tel_data_start_dict(d);
    unsigned entries = 0;
    src->neighbors->for_each([&](uint16_t port, uint8_t family, const uint8_t *ip, const Mac &m) {
        if (++entries > RTE_TEL_MAX_DICT_ENTRIES)
            return;
        char addr[INET6_ADDRSTRLEN];
        inet_ntop(family == 6 ? AF_INET6 : AF_INET, ip, addr, sizeof(addr));
        char val[48];
        std::snprintf(val, sizeof(val), "%02x:%02x:%02x:%02x:%02x:%02x port %u", m[0], m[1], m[2],
                      m[3], m[4], m[5], port);
        rte_tel_data_add_dict_string(d, addr, val);
    });
    return 0;
}

} // namespace

void telemetry_register(const TelemetrySources *sources) {
    src = sources;
    rte_telemetry_register_cmd("/qorgan/drops", cmd_drops,
                               "Dropped packets by reason, summed over workers");
    rte_telemetry_register_cmd("/qorgan/ports", cmd_ports,
                               "Per interface: admin and link state, speed, counters");
    rte_telemetry_register_cmd("/qorgan/rules", cmd_rules,
                               "Rule hits and bytes. Parameters: [interface]");
    rte_telemetry_register_cmd("/qorgan/flows", cmd_flows, "Flow table occupancy and refusals");
    rte_telemetry_register_cmd("/qorgan/stats", cmd_stats, "Dataplane packet totals");
    rte_telemetry_register_cmd("/qorgan/neighbors", cmd_neighbors, "ARP and ND cache");
    rte_telemetry_register_cmd("/qorgan/mempools", cmd_mempools, "mbuf pools: size, in use");
    rte_telemetry_register_cmd("/qorgan/screen", cmd_screen,
                               "attack protection: per defence detected, dropped, events");
    rte_telemetry_register_cmd("/qorgan/nat", cmd_nat,
                               "NAT44 translations, refusals by reason, port pool use");
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket's service and server; see control_socket.h and
// docs/CONTROL-PROTOCOL.md. Runs on the main lcore, never on a worker.
#include "dataplane/control_socket.h"

#include "config/config.h"
#include "dataplane/ipsec_control.h"

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_rcu_qsbr.h>

#include <openssl/evp.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace qorgan::dp {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t steady_ms() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
            .count());
}

// The workers' clock (see Worker::run), for session ages.
uint64_t tsc_ms() {
    return rte_get_tsc_cycles() / (rte_get_tsc_hz() / 1000);
}

std::string mac_text(const Mac &m) {
    char s[18];
    std::snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                  m[5]);
    return s;
}

std::string addr_text(uint8_t family, const void *bytes) {
    char s[INET6_ADDRSTRLEN];
    inet_ntop(family == 6 ? AF_INET6 : AF_INET, bytes, s, sizeof(s));
    return s;
}

Json proto_json(uint8_t p) {
    switch (p) {
    case config::proto_tcp:
        return "tcp";
    case config::proto_udp:
        return "udp";
    case config::proto_icmp:
        return "icmp";
    case config::proto_icmpv6:
        return "icmpv6";
    default:
        return p;
    }
}

// The subnet of an interface address: host bits cleared.
config::Prefix network_of(config::Prefix p) {
    unsigned width = p.family == 4 ? 32 : 128;
    for (unsigned bit = p.length; bit < width; bit++)
        p.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return p;
}

config::Prefix host_of(config::Prefix p) {
    p.length = p.family == 4 ? 32 : 128;
    return p;
}

bool same_ports(const config::Config &a, const config::Config &b, Location &where) {
    if (a.interfaces.size() != b.interfaces.size())
        return false;
    for (size_t i = 0; i < a.interfaces.size(); i++) {
        const auto &x = a.interfaces[i], &y = b.interfaces[i];
        if (x.name != y.name || x.device != y.device || x.disabled != y.disabled) {
            where = y.where;
            return false;
        }
    }
    return true;
}

} // namespace

std::string sha256_hex(std::string_view text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; i++) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

// ---------------------------------------------------------------- ControlService

ControlService::ControlService(ControlEnv env, std::string source, std::string sha256)
    : _env(std::move(env)), _source(std::move(source)), _sha256(std::move(sha256)),
      _started_ms(steady_ms()) {}

uint32_t ControlService::epoch() const {
    return snap().epoch;
}

Result<Applied> ControlService::publish(std::string_view text, const std::string &label,
                                        uint32_t revision, const std::string &sha256) {
    auto t0 = Clock::now();
    auto nc = config::load_text(text, label);
    if (!nc)
        return nc.error();
    const Snapshot &cur = snap();
    Location where;
    // Ports are fixed at start: a new policy may change rules and routes, not devices.
    if (!same_ports(cur.conf, nc.value(), where))
        return Error{where, "interfaces changed: restart the dataplane to change ports"};
    auto ns = build_snapshot(nc.value(), _env.ports->bindings(), _env.workers, cur.epoch + 1,
                             _env.socket_id, &cur);
    if (!ns)
        return ns.error();
    Snapshot *old;
    {
        std::lock_guard<std::mutex> g(*_env.snapshot_lock);
        old = _env.active->exchange(ns.value().release(), std::memory_order_acq_rel);
    }
    // Workers drop their references at their next quiescent report.
    uint64_t token = rte_rcu_qsbr_start(_env.rcu);
    rte_rcu_qsbr_check(_env.rcu, token, true);
    if (_env.before_free)
        _env.before_free(*old);
    {
        std::lock_guard<std::mutex> g(*_env.snapshot_lock);
        delete old;
    }
    _source = label;
    _revision = revision;
    _sha256 = sha256;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    return Applied{snap().epoch, static_cast<uint64_t>(us)};
}

Json ControlService::handle(const Json &msg) {
    auto req = parse_request(msg);
    if (!req)
        return error_reply(req.error().to_string());
    return handle(req.value());
}

Json ControlService::handle(const Request &req) {
    switch (req.op) {
    case ControlOp::status:
        return status();
    case ControlOp::apply:
        return apply(req);
    case ControlOp::interfaces:
        return interfaces();
    case ControlOp::rules:
        return rules();
    case ControlOp::sessions:
    case ControlOp::clear_sessions:
        return sessions(req);
    case ControlOp::routes:
        return routes();
    case ControlOp::neighbors:
        return neighbors();
    case ControlOp::drops:
        return drops();
    case ControlOp::nat:
        return nat();
    case ControlOp::screen:
        return screen();
    case ControlOp::screen_blocked:
        return screen_blocked(false);
    case ControlOp::clear_screen_blocked:
        return screen_blocked(true);
    case ControlOp::applications:
        return applications();
    case ControlOp::ipsec_peers:
    case ControlOp::ipsec_flush:
    case ControlOp::ipsec_add_sa:
    case ControlOp::ipsec_update_sa:
    case ControlOp::ipsec_del_sa:
    case ControlOp::ipsec_query_sa:
    case ControlOp::ipsec_add_policy:
    case ControlOp::ipsec_del_policy:
    case ControlOp::ipsec_sas:
    case ControlOp::ipsec:
        return ipsec_handle(
            req, _env.ipsec, snap().conf, _revision, steady_ms(),
            [this](const config::Address &peer) { return snap().source_towards(peer); });
    case ControlOp::exception:
        return exception();
    }
    return error_reply("unhandled op");
}

Json ControlService::status() const {
    return Json{{"ok", true},
                {"epoch", epoch()},
                {"revision", _revision},
                {"sha256", _sha256},
                {"workers", _env.workers},
                {"uptime_s", (steady_ms() - _started_ms) / 1000},
                {"config_source", _source}};
}

Json ControlService::apply(const Request &req) {
    std::string actual = sha256_hex(req.text);
    if (actual != req.sha256)
        return error_reply("sha256 mismatch: the text hashes to " + actual + ", the request says " +
                           req.sha256);
    auto r =
        publish(req.text, "revision " + std::to_string(req.revision), req.revision, req.sha256);
    if (!r) {
        std::printf("event apply-failed epoch=%u revision=%u error=\"%s\"\n", epoch(), req.revision,
                    r.error().to_string().c_str());
        std::fflush(stdout);
        return error_reply(r.error().to_string());
    }
    std::printf("event apply epoch=%u revision=%u us=%llu\n", r->epoch, req.revision,
                static_cast<unsigned long long>(r->micros));
    std::fflush(stdout);
    return Json{{"ok", true},
                {"epoch", r->epoch},
                {"revision", req.revision},
                {"sha256", req.sha256},
                {"apply_us", r->micros}};
}

std::string ControlService::iface_name(uint16_t port) const {
    const IfaceState *ifc = snap().iface_by_port(port);
    return ifc ? ifc->conf->name : "port" + std::to_string(port);
}

Json ControlService::interfaces() const {
    Json list = Json::array();
    const Snapshot &s = snap();
    std::lock_guard<std::mutex> g(*_env.ports_lock);
    for (const auto &st : _env.ports->states()) {
        Json addresses = Json::array();
        std::string zone;
        for (const auto &ifc : s.conf.interfaces)
            if (ifc.name == st.name) {
                zone = ifc.zone;
                for (const auto &a : ifc.addresses)
                    addresses.push_back(config::format_prefix(a));
            }
        rte_eth_stats es{};
        rte_eth_stats_get(st.port, &es);
        list.push_back(Json{{"name", st.name},
                            {"port_id", st.port},
                            {"device", st.device},
                            {"zone", zone},
                            {"mac", mac_text(st.mac)},
                            {"admin", st.admin_up ? "up" : "down"},
                            {"link", st.link_up ? "up" : "down"},
                            {"speed_mbps", st.speed_mbps},
                            {"duplex", st.full_duplex ? "full" : "half"},
                            {"link_changes", st.link_changes},
                            {"rx_packets", es.ipackets},
                            {"rx_bytes", es.ibytes},
                            {"tx_packets", es.opackets},
                            {"tx_bytes", es.obytes},
                            {"rx_errors", es.ierrors},
                            {"tx_errors", es.oerrors},
                            {"rx_missed", es.imissed},
                            {"rx_nombuf", es.rx_nombuf},
                            {"addresses", addresses}});
    }
    return Json{{"ok", true}, {"interfaces", list}};
}

Json ControlService::rules() const {
    Json list = Json::array();
    const Snapshot &s = snap();
    for (const auto &ifc : s.ifaces)
        for (int dir = 0; dir < 2; dir++) {
            const auto &rules = ifc.rules[dir]->rules();
            for (size_t i = 0; i < rules.size(); i++) {
                uint32_t slot = ifc.rule_base[dir] + static_cast<uint32_t>(i);
                list.push_back(Json{{"interface", ifc.conf->name},
                                    {"direction", dir == 0 ? "ingress" : "egress"},
                                    {"id", rules[i].id},
                                    {"action", config::action_name(rules[i].action)},
                                    {"log", rules[i].log},
                                    {"description", rules[i].description},
                                    {"hits", s.rule_hits(slot)},
                                    {"bytes", s.rule_bytes(slot)}});
            }
        }
    return Json{{"ok", true}, {"rules", list}};
}

Result<SessionFilter> ControlService::session_filter(const RequestFilter &f) const {
    SessionFilter sf;
    sf.family = f.family;
    std::memcpy(sf.address, f.address, sizeof(sf.address));
    sf.nat_only = f.nat_only;
    if (f.port) {
        sf.has_port = true;
        sf.port = *f.port;
    }
    std::vector<std::string> names = f.interfaces;
    if (f.interface)
        names.push_back(*f.interface);
    const Snapshot &s = snap();
    for (const std::string &name : names) {
        bool found = false;
        for (const auto &ifc : s.ifaces)
            if (ifc.conf->name == name && ifc.port < 64) {
                sf.iface_mask |= uint64_t(1) << ifc.port;
                found = true;
            }
        if (!found)
            return Error{{}, "unknown interface '" + name + "' in the filter"};
    }
    return sf;
}

Result<uint64_t> ControlService::run_sessions(SessionSlot::Op op, const SessionFilter &f,
                                              uint32_t limit) {
    for (size_t w = 0; w < _env.sessions.size(); w++)
        if (!_env.sessions[w]->submit(op, f, limit))
            return Error{{},
                         "worker " + std::to_string(w) +
                             " is still busy with an earlier session request"};
    auto deadline = Clock::now() + std::chrono::milliseconds(_env.session_timeout_ms);
    for (size_t w = 0; w < _env.sessions.size(); w++)
        while (!_env.sessions[w]->done()) {
            if (Clock::now() > deadline)
                return Error{{},
                             "worker " + std::to_string(w) + " did not answer within " +
                                 std::to_string(_env.session_timeout_ms) + " ms"};
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    uint64_t total = 0;
    for (const auto *slot : _env.sessions)
        total += slot->matched();
    return total;
}

Json ControlService::sessions(const Request &req) {
    auto f = session_filter(req.filter);
    if (!f)
        return error_reply(f.error().to_string());
    bool clear = req.op == ControlOp::clear_sessions;
    auto st = run_sessions(clear ? SessionSlot::Op::clear : SessionSlot::Op::dump, f.value(),
                           req.filter.limit);
    if (!st)
        return error_reply(st.error().to_string());
    uint64_t total = st.value();
    if (clear)
        return Json{{"ok", true}, {"cleared", total}};
    Json list = Json::array();
    uint64_t now = tsc_ms();
    const Snapshot &cur = snap();
    for (size_t w = 0; w < _env.sessions.size(); w++) {
        const SessionSlot &slot = *_env.sessions[w];
        for (uint32_t i = 0; i < slot.copied() && list.size() < req.filter.limit; i++) {
            const SessionRecord &r = slot.records()[i];
            Json rec = Json{{"worker", w},
                            {"family", r.key.family},
                            {"proto", proto_json(r.key.proto)},
                            {"src", addr_text(r.key.family, r.key.src)},
                            {"sport", rte_be_to_cpu_16(r.key.sport)},
                            {"dst", addr_text(r.key.family, r.key.dst)},
                            {"dport", rte_be_to_cpu_16(r.key.dport)},
                            {"state", flow_state_name(r.state)},
                            {"in", iface_name(r.in_port)},
                            {"out", iface_name(r.out_port)},
                            {"rule", r.rule_id},
                            {"packets", {r.packets[0], r.packets[1]}},
                            {"bytes", {r.bytes[0], r.bytes[1]}},
                            {"age_s", now > r.created_ms ? (now - r.created_ms) / 1000 : 0},
                            {"idle_s", now > r.last_seen_ms ? (now - r.last_seen_ms) / 1000 : 0}};
            if (r.nat_kind)
                rec["nat"] = nat_record(r);
            rec["verdict"] = r.verdict == FlowVerdict::inspecting ? "inspecting"
                             : r.verdict == FlowVerdict::block    ? "block"
                                                                  : "pass";
            rec["category"] = r.verdict == FlowVerdict::inspecting ? "inspecting"
                              : r.verdict == FlowVerdict::none     ? "other"
                                                                   : flow_category_name(r.category);
            rec["application"] =
                r.verdict == FlowVerdict::inspecting || r.verdict == FlowVerdict::none || !cur.dpi
                    ? std::string()
                    : cur.dpi->name_of(r.app);
            list.push_back(std::move(rec));
        }
    }
    return Json{
        {"ok", true}, {"sessions", list}, {"total", total}, {"truncated", total > list.size()}};
}

// Category blocking (R134-1): what the workers decided, per category and per application.
Json ControlService::applications() const {
    const Snapshot &s = snap();
    Json dpi = Json::object();
    for (const auto &[name, field] : dpi_total_fields)
        dpi[name] = dpi_sum(_env.counters, field);
    uint64_t decided = dpi_sum(_env.counters, &DpiCounters::classified) +
                       dpi_sum(_env.counters, &DpiCounters::unknown);
    uint64_t inspected = dpi_sum(_env.counters, &DpiCounters::inspected);
    dpi["inspecting"] = inspected > decided ? inspected - decided : 0;
    auto row = [](const char *key, const std::string &name, const FlowSums &f) {
        return Json{{key, name}, {"flows", f.flows}, {"blocked", f.blocked}, {"bytes", f.bytes}};
    };
    Json cats = Json::array();
    for (unsigned i = 0; i <= config::category_count; i++)
        cats.push_back(row("category",
                           flow_category_name(i < config::category_count ? uint8_t(i + 1) : 0),
                           dpi_flow_sum(_env.counters, false, i)));
    std::vector<std::pair<uint64_t, Json>> apps;
    for (unsigned i = 0; i < dpi_app_slots; i++) {
        FlowSums f = dpi_flow_sum(_env.counters, true, i);
        if (f.flows == 0)
            continue;
        uint8_t cat = 0;
        for (const WorkerCounters *c : _env.counters)
            if (uint8_t v = c->dpi.app_category[i].load(std::memory_order_relaxed))
                cat = v;
        Json j = row("application", s.dpi ? s.dpi->name_of(uint16_t(i)) : std::to_string(i), f);
        j["category"] = flow_category_name(cat);
        apps.emplace_back(f.flows, std::move(j));
    }
    std::stable_sort(apps.begin(), apps.end(),
                     [](const auto &a, const auto &b) { return a.first > b.first; });
    Json list = Json::array();
    for (auto &[n, j] : apps)
        list.push_back(std::move(j));
    return Json{{"ok", true}, {"dpi", dpi}, {"categories", cats}, {"applications", list}};
}

Json ControlService::nat_record(const SessionRecord &r) const {
    // The forward packet as it leaves: the translated source for SNAT, the translated
    // destination for DNAT; what the translation leaves alone repeats the original.
    uint32_t src = 0, dst = 0;
    std::memcpy(&src, r.key.src, sizeof(src));
    std::memcpy(&dst, r.key.dst, sizeof(dst));
    uint16_t sport = r.key.sport, dport = r.key.dport;
    // The kind by what made the translation, as the worker counts it: a source rule takes a
    // pool port (dynamic), a DNAT to a static's outside address on the arrival interface is
    // the static's, any other DNAT a destination rule's.
    std::string kind;
    auto add = [&](const char *k) {
        if (kind.find(k) == std::string::npos)
            kind += (kind.empty() ? "" : "+") + std::string(k);
    };
    if (r.nat_kind & nat_dnat) {
        add(snap().nat->static_by_outside(r.in_port, dst) ? "static" : "destination");
        dst = r.nat_dst;
        dport = r.nat_dport;
    }
    if (r.nat_kind & nat_snat) {
        add(r.nat_kind & nat_dynamic ? "source" : "static");
        src = r.nat_src;
        sport = r.nat_sport;
        if (r.key.proto == config::proto_icmp)
            dport = sport; // an echo's identifier stands for both ports
    }
    return Json{{"kind", kind},
                {"src", addr_text(4, &src)},
                {"sport", rte_be_to_cpu_16(sport)},
                {"dst", addr_text(4, &dst)},
                {"dport", rte_be_to_cpu_16(dport)}};
}

// The attack-protection screen (docs/SCREEN.md): counters per defence summed over the
// workers, the SYN cookie and block-list counters, and each zone's screen as configured.
Json ControlService::screen() const {
    const Snapshot &s = snap();
    Json defences = Json::array();
    for (unsigned i = 0; i < defence_count; i++) {
        Json d{{"defence", std::string(defence_name(static_cast<Defence>(i)))}};
        for (const auto &[what, field] : defence_counter_fields)
            d[what] = screen_sum(_env.counters, i, field);
        defences.push_back(std::move(d));
    }
    Json totals = Json::object();
    for (const auto &[name, field] : screen_total_fields)
        totals[name] = screen_sum(_env.counters, field);
    Json zones = Json::array();
    for (const config::Zone &z : s.conf.zones) {
        const config::Screen &sc = s.conf.security.screen_for(z.name);
        auto act = [](config::ScreenAction a) { return config::screen_action_name(a); };
        zones.push_back(Json{
            {"zone", z.name},
            {"configured", !sc.zone.empty()},
            {"block_time", sc.block_time},
            {"syn_flood", {{"threshold", sc.syn_threshold}, {"action", act(sc.syn_action)}}},
            {"source_rate",
             {{"new_per_second", sc.source_rate.per_second},
              {"burst", sc.source_rate.burst},
              {"concurrent", sc.concurrent},
              {"action", act(sc.source_rate.action)}}},
            {"icmp_flood",
             {{"per_second", sc.icmp_flood.per_second}, {"action", act(sc.icmp_flood.action)}}},
            {"udp_flood",
             {{"per_second", sc.udp_flood.per_second}, {"action", act(sc.udp_flood.action)}}},
            {"scan",
             {{"hosts", sc.scan_hosts},
              {"ports", sc.scan_ports},
              {"window", sc.scan_window},
              {"action", act(sc.scan_action)}}},
            {"tcp_flags", act(sc.tcp_flags)},
            {"spoofing", act(sc.spoofing)},
            {"ip_options", act(sc.ip_options)},
            {"fragments", act(sc.fragments)}});
    }
    return Json{{"ok", true}, {"defences", defences}, {"totals", totals}, {"zones", zones}};
}

// The screen's block list, from every worker (each keeps its own), or cleared: the sources
// are let in at once.
Json ControlService::screen_blocked(bool clear) {
    auto st = run_sessions(clear ? SessionSlot::Op::unblock : SessionSlot::Op::blocked,
                           SessionFilter{}, 0);
    if (!st)
        return error_reply(st.error().to_string());
    uint64_t total = st.value();
    if (clear)
        return Json{{"ok", true}, {"cleared", total}};
    Json list = Json::array();
    for (size_t w = 0; w < _env.sessions.size(); w++) {
        const SessionSlot &slot = *_env.sessions[w];
        for (uint32_t i = 0; i < slot.copied(); i++) {
            const BlockedSource &b = slot.blocked()[i];
            list.push_back(Json{{"worker", w},
                                {"family", b.family},
                                {"source", addr_text(b.family, b.addr)},
                                {"remaining_s", (b.remaining_ms + 999) / 1000}});
        }
    }
    return Json{{"ok", true}, {"blocked", list}, {"total", total}};
}

Json ControlService::nat() const {
    const Snapshot &s = snap();
    const NatTable &nat = *s.nat;
    const config::Nat &conf = s.conf.nat;
    Json counters = Json::object();
    for (const auto &[name, field] : nat_counter_fields)
        counters[name] = nat.total(field);
    // Pool statistics are written by their workers and read here without a lock (plain
    // words: a figure may be one update behind).
    Json sources = Json::array();
    for (const NatSourceRule &r : nat.sources()) {
        PortPoolStats sum;
        uint64_t capacity = 0, bytes = 0;
        for (const auto &p : r.pools) {
            const PortPoolStats &st = p->stats();
            sum.in_use += st.in_use;
            sum.allocated += st.allocated;
            sum.released += st.released;
            sum.refused_pool += st.refused_pool;
            sum.refused_source += st.refused_source;
            sum.refused_source_table += st.refused_source_table;
            capacity += uint64_t(p->slice_size()) * r.pool.addresses.size();
            bytes += p->bytes();
        }
        Json pool = Json::array();
        for (uint32_t a : r.pool.addresses)
            pool.push_back(addr_text(4, &a));
        const config::NatSource &c = conf.sources[r.index];
        sources.push_back(Json{{"name", c.name},
                               {"interface", iface_name(r.port)},
                               {"pool", pool},
                               {"ports", {{"low", r.pool.low}, {"high", r.pool.high}}},
                               {"mapping", r.pool.endpoint_independent ? "endpoint-independent"
                                                                       : "endpoint-dependent"},
                               {"max_per_source", r.pool.max_per_source},
                               {"capacity", capacity},
                               {"in_use", sum.in_use},
                               {"allocated", sum.allocated},
                               {"released", sum.released},
                               {"refused_pool", sum.refused_pool},
                               {"refused_source", sum.refused_source},
                               {"refused_source_table", sum.refused_source_table},
                               {"bytes", bytes}});
    }
    Json statics = Json::array();
    for (const auto &st : conf.statics)
        statics.push_back(Json{{"name", st.name},
                               {"interface", st.interface},
                               {"inside", config::format_address(st.inside)},
                               {"outside", config::format_address(st.outside)}});
    Json destinations = Json::array();
    for (const auto &d : conf.destinations) {
        // Without `address` the rule publishes its interface's first IPv4 address.
        Json address = d.address ? Json(config::format_address(*d.address)) : Json();
        for (const auto &ifc : s.ifaces)
            if (!d.address && ifc.conf->name == d.interface && ifc.has4)
                address = addr_text(4, &ifc.addr4);
        destinations.push_back(Json{{"name", d.name},
                                    {"interface", d.interface},
                                    {"protocol", proto_json(d.protocol)},
                                    {"address", address},
                                    {"port", d.port},
                                    {"to", config::format_address(d.to)},
                                    {"to_port", d.to_port ? d.to_port : d.port}});
    }
    return Json{
        {"ok", true},         {"counters", counters},         {"sources", sources},
        {"statics", statics}, {"destinations", destinations}, {"mss_clamp", nat.mss_clamp()}};
}

Json ControlService::routes() const {
    const Snapshot &s = snap();
    Json list = Json::array();
    for (const auto &ifc : s.conf.interfaces) {
        if (ifc.disabled)
            continue;
        for (const auto &a : ifc.addresses) {
            list.push_back(Json{{"prefix", config::format_prefix(network_of(a))},
                                {"kind", "connected"},
                                {"via", nullptr},
                                {"interface", ifc.name}});
            list.push_back(Json{{"prefix", config::format_prefix(host_of(a))},
                                {"kind", "local"},
                                {"via", nullptr},
                                {"interface", ifc.name}});
        }
    }
    for (const auto &r : s.conf.routes) {
        std::string out = r.interface;
        if (out.empty() && r.via) {
            uint32_t via4 = 0; // the bytes of a Prefix are not 4-byte aligned
            std::memcpy(&via4, r.via->bytes.data(), sizeof(via4));
            uint16_t hop = r.via->family == 4 ? s.routes->lookup4(via4)
                                              : s.routes->lookup6(r.via->bytes.data());
            const NextHop &nh = s.routes->next_hop(hop);
            if (nh.kind != NextHopKind::none && nh.iface < s.conf.interfaces.size())
                out = s.conf.interfaces[nh.iface].name;
        }
        list.push_back(Json{{"prefix", config::format_prefix(r.prefix)},
                            {"kind", "static"},
                            {"via", r.via ? Json(config::format_address(*r.via)) : Json()},
                            {"interface", out}});
    }
    return Json{{"ok", true}, {"routes", list}};
}

Json ControlService::neighbors() const {
    Json list = Json::array();
    _env.neighbors->for_each([&](uint16_t port, uint8_t family, const uint8_t *ip, const Mac &m) {
        list.push_back(Json{{"family", family},
                            {"address", addr_text(family, ip)},
                            {"mac", mac_text(m)},
                            {"interface", iface_name(port)}});
    });
    return Json{{"ok", true}, {"neighbors", list}};
}

Json ControlService::drops() const {
    Json d = Json::object();
    for (unsigned r = 0; r < drop_reason_count; r++) {
        uint64_t n = 0;
        for (const auto *c : _env.counters)
            n += c->drops[r].get();
        d[std::string(drop_reason_name(static_cast<DropReason>(r)))] = n;
    }
    return Json{{"ok", true}, {"drops", d}};
}

Json ControlService::exception() const {
    uint64_t handed = 0, to_tun = 0, from_tun = 0, sent = 0;
    for (const auto *c : _env.counters) {
        handed += c->exception_sent.get();
        to_tun += c->exception_to_tun.get();
        from_tun += c->exception_from_tun.get();
        sent += c->exception_out.get();
    }
    Json d = Json::object();
    for (DropReason r : {DropReason::exception_no_tun, DropReason::exception_tun_full,
                         DropReason::exception_tun_error, DropReason::exception_malformed,
                         DropReason::exception_foreign_source, DropReason::exception_no_route}) {
        uint64_t n = 0;
        for (const auto *c : _env.counters)
            n += c->drops[static_cast<unsigned>(r)].get();
        d[std::string(drop_reason_name(r))] = n;
    }
    return Json{{"ok", true},
                {"tun", _env.exception_tun.empty() ? Json(nullptr) : Json(_env.exception_tun)},
                {"handed", handed},
                {"to_tun", to_tun},
                {"from_tun", from_tun},
                {"sent", sent},
                {"drops", d}};
}

// ---------------------------------------------------------------- ControlSocket

Result<std::unique_ptr<ControlSocket>> ControlSocket::open(const std::string &path,
                                                           ControlService &service) {
    auto fd = listen_unix(path);
    if (!fd)
        return fd.error();
    int flags = fcntl(fd.value(), F_GETFL);
    fcntl(fd.value(), F_SETFL, flags | O_NONBLOCK);
    return std::unique_ptr<ControlSocket>(new ControlSocket(path, fd.value(), service));
}

ControlSocket::~ControlSocket() {
    for (int fd : _clients)
        close(fd);
    close(_listen);
    unlink(_path.c_str());
}

unsigned ControlSocket::poll() {
    std::vector<pollfd> fds;
    fds.push_back({_listen, POLLIN, 0});
    for (int fd : _clients)
        fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 0) <= 0)
        return 0;
    unsigned served = 0;
    std::vector<int> keep;
    for (size_t i = 1; i < fds.size(); i++) {
        int fd = fds[i].fd;
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            served++;
            if (!serve(fd)) {
                close(fd);
                continue;
            }
        }
        keep.push_back(fd);
    }
    _clients = std::move(keep);
    if (fds[0].revents & POLLIN) {
        int fd = accept4(_listen, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
            if (_clients.size() >= max_clients) {
                (void)send_message(fd, error_reply("too many control clients"), 100);
                close(fd);
            } else {
                _clients.push_back(fd);
            }
        }
    }
    return served;
}

bool ControlSocket::serve(int fd) {
    auto msg = recv_message(fd, 5000);
    bool keep = true;
    Json reply;
    if (!msg) {
        if (msg.error().message == "closed")
            return false;
        // A malformed body was read whole: the stream is still in step. Anything else
        // (timeout, oversized length, a peer gone mid-message) leaves it out of step.
        keep = msg.error().message == "malformed JSON message";
        reply = error_reply(msg.error().message);
    } else {
        try {
            reply = _service.handle(msg.value());
        } catch (const std::exception &e) {
            reply = error_reply(std::string("internal error: ") + e.what());
        }
    }
    Status sent = Ok{};
    try {
        sent = send_message(fd, reply);
    } catch (const Json::type_error &) {
        // Strings from a config file need not be UTF-8: send them with replacements.
        sent = send_message(
            fd, Json::parse(reply.dump(-1, ' ', false, Json::error_handler_t::replace)));
    }
    return keep && sent.ok();
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// The ipsec-* ops of the control socket; see ipsec_control.h.
#include "dataplane/ipsec_control.h"

#include "config/config.h"

namespace qorgan::dp {

namespace {

Json fail(const std::string &text) {
    return Json{{"ok", false}, {"error", text}};
}

Json ok() {
    return Json{{"ok", true}};
}

std::vector<std::string> prefixes(const std::vector<config::Prefix> &ps) {
    std::vector<std::string> out;
    for (const config::Prefix &p : ps)
        out.push_back(config::format_prefix(p));
    return out;
}

Json sa_json(const SaView &v, uint64_t now_ms) {
    const SaSpec &s = *v.spec;
    Json encap = nullptr;
    if (s.encap)
        encap = Json{{"sport", s.encap_sport}, {"dport", s.encap_dport}};
    uint64_t idle = v.stats.last_used_ms == 0 || v.stats.last_used_ms > now_ms
                        ? (now_ms - v.added_ms)
                        : now_ms - v.stats.last_used_ms;
    return Json{{"spi", s.spi},
                {"spi_hex", format_spi(s.spi)},
                {"dir", s.inbound ? "in" : "out"},
                {"src", config::format_address(s.src)},
                {"dst", config::format_address(s.dst)},
                {"reqid", s.reqid},
                {"peer", s.peer},
                {"cipher", esp_cipher_name(s.cipher)},
                {"esn", s.esn},
                {"replay_window", s.replay_window},
                {"encap", encap},
                {"hard_bytes", s.hard_bytes},
                {"hard_packets", s.hard_packets},
                {"bytes", v.stats.bytes},
                {"packets", v.stats.packets},
                {"replay_drops", v.stats.replay_drops},
                {"auth_failures", v.stats.auth_failures},
                {"hard_limit_drops", v.stats.hard_limit_drops},
                {"other_drops", v.stats.other_drops},
                {"age_s", (now_ms - v.added_ms) / 1000},
                {"idle_ms", idle}};
}

} // namespace

Json ipsec_peers_json(const config::Config &conf, uint32_t revision,
                      const LocalAddress &local_for) {
    Json peers = Json::array();
    for (const config::IpsecPeer &p : conf.ipsec.peers) {
        std::optional<config::Address> local;
        if (p.local_address.family != 0)
            local = p.local_address;
        else if (local_for)
            local = local_for(p.address);
        bool psk = p.auth == config::IpsecAuth::psk;
        peers.push_back(Json{
            {"name", p.name},
            {"address", config::format_address(p.address)},
            {"local_address", local ? config::format_address(*local) : ""},
            {"local_id", p.local_id},
            {"remote_id", p.remote_id},
            {"auth", psk ? "psk" : "certificate"},
            {"psk", p.psk},
            {"certificate", p.certificate},
            {"private_key", p.private_key},
            {"ca", p.ca},
            {"ike_proposals", p.ike_proposals},
            {"esp_proposals", p.esp_proposals},
            {"local_subnets", prefixes(p.local_subnets)},
            {"remote_subnets", prefixes(p.remote_subnets)},
            {"ike_lifetime_s", p.ike_lifetime_s},
            {"lifetime_s", p.lifetime_s},
            {"lifetime_bytes", p.lifetime_bytes},
            {"lifetime_packets", p.lifetime_packets},
            {"dpd_s", p.dpd_s},
            {"start_action", config::ipsec_start_name(p.start)},
            {"encap", p.encap},
        });
    }
    return Json{{"ok", true}, {"revision", revision}, {"peers", peers}};
}

Json ipsec_handle(const Request &req, IpsecState *ipsec, const config::Config &conf,
                  uint32_t revision, uint64_t now_ms, const LocalAddress &local_for) {
    if (req.op == ControlOp::ipsec_peers)
        return ipsec_peers_json(conf, revision, local_for);
    if (!ipsec)
        return fail("IPsec is not available: the dataplane runs without a crypto device");
    const IpsecRequest &r = req.ipsec;
    Status s = Ok{};
    switch (req.op) {
    case ControlOp::ipsec_flush: {
        auto [sas, policies] = ipsec->flush();
        return Json{{"ok", true}, {"sas", sas}, {"policies", policies}};
    }
    case ControlOp::ipsec_add_sa:
        s = ipsec->add_sa(r.sa, now_ms);
        break;
    case ControlOp::ipsec_update_sa:
        s = ipsec->update_sa(r);
        break;
    case ControlOp::ipsec_del_sa:
        s = ipsec->del_sa(r.spi, r.dst);
        break;
    case ControlOp::ipsec_query_sa: {
        auto stats = ipsec->query_sa(r.spi, r.dst);
        if (!stats)
            return fail(stats.error().message);
        uint64_t idle = stats->last_used_ms == 0 || stats->last_used_ms > now_ms
                            ? UINT64_MAX
                            : now_ms - stats->last_used_ms;
        return Json{{"ok", true},
                    {"bytes", stats->bytes},
                    {"packets", stats->packets},
                    {"idle_ms", idle == UINT64_MAX ? Json(nullptr) : Json(idle)}};
    }
    case ControlOp::ipsec_add_policy:
        s = ipsec->add_policy(r.policy);
        break;
    case ControlOp::ipsec_del_policy:
        s = ipsec->del_policy(r.policy);
        break;
    case ControlOp::ipsec_sas: {
        Json sas = Json::array();
        for (const SaView &v : ipsec->sas())
            sas.push_back(sa_json(v, now_ms));
        return Json{{"ok", true}, {"sas", sas}, {"policies", ipsec->policy_count()}};
    }
    case ControlOp::ipsec: {
        const IpsecCounters &c = ipsec->counters();
        uint64_t packets = 0, bytes = 0, replay = 0, auth = 0, hard = 0, other = 0;
        std::size_t in = 0, out = 0;
        for (const SaView &v : ipsec->sas()) {
            (v.spec->inbound ? in : out)++;
            packets += v.stats.packets;
            bytes += v.stats.bytes;
            replay += v.stats.replay_drops;
            auth += v.stats.auth_failures;
            hard += v.stats.hard_limit_drops;
            other += v.stats.other_drops;
        }
        return Json{{"ok", true},
                    {"sas_in", in},
                    {"sas_out", out},
                    {"policies", ipsec->policy_count()},
                    {"max_sas", ipsec->max_sas()},
                    {"counters",
                     {{"sas_added", c.sas_added},
                      {"sas_removed", c.sas_removed},
                      {"policies_added", c.policies_added},
                      {"policies_removed", c.policies_removed},
                      {"refused_full", c.refused_full},
                      {"refused_backend", c.refused_backend},
                      {"flushes", c.flushes},
                      {"packets", packets},
                      {"bytes", bytes},
                      {"replay_drops", replay},
                      {"auth_failures", auth},
                      {"hard_limit_drops", hard},
                      {"other_drops", other}}}};
    }
    default:
        return fail("not an ipsec op");
    }
    if (!s)
        return fail(s.error().message);
    return ok();
}

} // namespace qorgan::dp

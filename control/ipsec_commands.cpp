// SPDX-License-Identifier: GPL-2.0-or-later
// The administrator's side of IPsec (docs/IPSEC.md, docs/CLI.md; R128-h): `show ipsec sa
// [peer NAME]` joins each configured peer with charon's IKE and CHILD SAs (swanctl) and the
// dataplane's ESP SAs (ipsec-sas); `show ipsec statistics` is the dataplane's ipsec op and
// its ipsec_* drop reasons; `clear ipsec sa [peer NAME]` terminates IKE SAs and starts the
// peers whose start-action is start again. Either source may be down: what the other knows
// is still shown.
#include "config/config.h"
#include "config/schema.h"
#include "control/commands.h"
#include "control/table.h"

#include <cstdio>
#include <map>

namespace qorgan::control {

namespace {

constexpr auto fail = &Reply::failure;
constexpr auto say = &Reply::success;

std::string seconds(const std::optional<int64_t> &s) {
    return s ? std::to_string(*s) + " s" : std::string("-");
}

std::string joined(const std::vector<std::string> &v, const char *sep = ", ") {
    std::string out;
    for (const std::string &x : v)
        out += (out.empty() ? "" : sep) + x;
    return out;
}

std::string indent(const std::string &block, const std::string &by) {
    std::string out;
    size_t pos = 0;
    while (pos < block.size()) {
        size_t end = block.find('\n', pos);
        if (end == std::string::npos)
            end = block.size();
        out += by + block.substr(pos, end - pos) + "\n";
        pos = end + 1;
    }
    return out;
}

// "AES_GCM_16-256", "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_3072".
std::string algorithms(const std::string &encr, const std::optional<int64_t> &keysize,
                       const std::vector<std::string> &rest) {
    std::string out = encr.empty() ? "?" : encr;
    if (keysize)
        out += "-" + std::to_string(*keysize);
    for (const std::string &r : rest)
        if (!r.empty())
            out += "/" + r;
    return out;
}

std::string host(const std::string &address, const std::optional<int64_t> &port) {
    std::string a = address.find(':') != std::string::npos ? "[" + address + "]" : address;
    return port ? a + ":" + std::to_string(*port) : a;
}

std::string ike_block(const IkeSaInfo &ike) {
    std::string out = "IKE SA" + (ike.uniqueid ? " #" + std::to_string(*ike.uniqueid) : "") + ": " +
                      (ike.state.empty() ? "?" : ike.state);
    if (ike.established)
        out += ", established " + std::to_string(*ike.established) + " s ago";
    if (ike.rekey_time)
        out += ", rekey in " + seconds(ike.rekey_time);
    if (ike.reauth_time)
        out += ", reauth in " + seconds(ike.reauth_time);
    out += "\n";
    out += "  local  " + host(ike.local_host, ike.local_port) + " id " + ike.local_id + "\n";
    out += "  remote " + host(ike.remote_host, ike.remote_port) + " id " + ike.remote_id + "\n";
    if (!ike.encr_alg.empty())
        out +=
            "  " +
            algorithms(ike.encr_alg, ike.encr_keysize, {ike.integ_alg, ike.prf_alg, ike.dh_group}) +
            (ike.initiator ? ", we initiated" : ", the peer initiated") + "\n";
    for (const ChildSaInfo &c : ike.children) {
        out += "CHILD SA " + (c.name.empty() ? c.section : c.name) +
               (c.uniqueid ? " #" + std::to_string(*c.uniqueid) : "") + ": " +
               (c.state.empty() ? "?" : c.state);
        if (c.reqid)
            out += ", reqid " + std::to_string(*c.reqid);
        out += ", " + (c.protocol.empty() ? std::string("ESP") : c.protocol) + " in 0x" + c.spi_in +
               " out 0x" + c.spi_out + (c.encap ? " (UDP-encapsulated)" : "");
        out += ", " + algorithms(c.encr_alg, c.encr_keysize, {c.integ_alg, c.dh_group});
        if (c.install_time)
            out += ", installed " + std::to_string(*c.install_time) + " s ago";
        if (c.rekey_time)
            out += ", rekey in " + seconds(c.rekey_time);
        out += "\n  " + joined(c.local_ts) + " === " + joined(c.remote_ts) + "\n";
    }
    return out;
}

std::string sa_table(const std::vector<const Json *> &sas) {
    std::vector<std::vector<std::string>> rows;
    for (const Json *sa : sas) {
        std::string spi = text_of(*sa, "spi_hex");
        if (spi.empty() && sa->contains("spi") && (*sa)["spi"].is_number_unsigned()) {
            char buf[16];
            std::snprintf(buf, sizeof(buf), "0x%08x", (*sa)["spi"].get<unsigned>());
            spi = buf;
        }
        std::string idle = "-";
        auto it = sa->find("idle_ms");
        if (it != sa->end() && it->is_number_unsigned())
            idle = std::to_string(it->get<uint64_t>() / 1000);
        rows.push_back({spi, text_of(*sa, "dir"), text_of(*sa, "cipher"), num(*sa, "bytes"),
                        num(*sa, "packets"), num(*sa, "replay_drops"), num(*sa, "auth_failures"),
                        num(*sa, "age_s"), idle});
    }
    return table({"SPI", "Dir", "Cipher", "Bytes", "Packets", "Replay drops", "ICV failures",
                  "Age s", "Idle s"},
                 rows);
}

} // namespace

Result<config::Config> Commands::running_config() const {
    auto text = _tx.store().text(_tx.store().running());
    if (!text)
        return text.error();
    auto conf = config::load_text(text.value(), "running");
    if (!conf)
        return Error{{}, conf.error().to_string()};
    return conf;
}

Result<std::vector<config::IpsecPeer>> Commands::selected_peers(const std::vector<std::string> &w,
                                                                size_t from) const {
    auto conf = running_config();
    if (!conf)
        return conf.error();
    std::vector<config::IpsecPeer> peers = conf.value().ipsec.peers;
    if (w.size() == from)
        return peers;
    if (w.size() != from + 2 || w[from] != "peer")
        return Error{{}, "expected nothing or 'peer <name>' after '" + [&] {
                         std::string s;
                         for (size_t i = 0; i < from; i++)
                             s += (i ? " " : "") + w[i];
                         return s;
                     }() + "'"};
    for (const config::IpsecPeer &p : peers)
        if (p.name == w[from + 1])
            return std::vector<config::IpsecPeer>{p};
    if (peers.empty())
        return Error{{},
                     "no IPsec peer '" + w[from + 1] +
                         "': no peer is configured (ipsec { peer <name> { ... } })"};
    std::vector<std::string> names;
    for (const config::IpsecPeer &p : peers)
        names.push_back(p.name);
    return Error{{}, "no IPsec peer '" + w[from + 1] + "'; configured peers: " + joined(names)};
}

// show ipsec -> sa, statistics; clear ipsec -> sa; ... sa -> peer; ... sa peer -> names.
std::vector<config::Candidate> Commands::complete_ipsec(bool clear,
                                                        const std::vector<std::string> &words,
                                                        const std::string &partial) const {
    std::vector<config::Candidate> out;
    auto offer = [&](const std::string &word, const std::string &help) {
        if (word.rfind(partial, 0) == 0)
            out.push_back({word, help});
    };
    if (words.size() == 2) {
        offer("sa", clear ? "Terminate IKE SAs; start-action start peers are initiated again"
                          : "Each peer's IKE and CHILD SAs and the dataplane's ESP SAs");
        if (!clear)
            offer("statistics", "ESP counters and the ipsec_* drop reasons");
    } else if (words.size() == 3 && words[2] == "sa") {
        offer("peer", "Only this peer");
    } else if (words.size() == 4 && words[2] == "sa" && words[3] == "peer") {
        auto conf = running_config();
        if (conf)
            for (const config::IpsecPeer &p : conf.value().ipsec.peers)
                offer(p.name, "IPsec peer " + config::format_address(p.address));
    }
    return out;
}

Reply Commands::show_ipsec(const std::vector<std::string> &w) {
    const std::string usage = "expected 'show ipsec sa [peer <name>]' or 'show ipsec statistics'";
    if (w.size() < 3 || w[2].empty())
        return fail(usage);
    if (w[2] == "s")
        return fail("'s' is ambiguous: sa, statistics");
    if (std::string("sa").rfind(w[2], 0) == 0)
        return show_ipsec_sa(w);
    if (std::string("statistics").rfind(w[2], 0) == 0) {
        if (w.size() > 3)
            return fail("'show ipsec statistics' takes no arguments");
        return show_ipsec_statistics();
    }
    return fail("unknown show ipsec command '" + w[2] + "'; " + usage);
}

Reply Commands::show_ipsec_sa(const std::vector<std::string> &w) {
    auto peers = selected_peers(w, 3);
    if (!peers)
        return fail(peers.error().message);
    std::string notes;

    // charon's view; qorgan-ike down is a state to show, not a failure of the command.
    std::vector<IkeSaInfo> ikes;
    std::string ike_unknown;
    if (!_services.ike) {
        ike_unknown = "not asked: no IKE control in this process";
    } else {
        IkeControl::Failure why = IkeControl::Failure::none;
        auto sas = _services.ike->list_sas(&why);
        if (sas)
            ikes = std::move(sas.value());
        else
            ike_unknown = sas.error().message;
    }
    if (!ike_unknown.empty())
        notes += "IKE: " + ike_unknown + "\n";

    // The dataplane's view, grouped by the peer name qorgan-ike gave each SA.
    auto dp = _dataplane(Json{{"op", "ipsec-sas"}});
    std::map<std::string, std::vector<const Json *>> sas_of;
    Json sas_reply = dp ? dp.value() : Json::object();
    if (!dp)
        notes += "dataplane: " + dp.error().message + "\n";
    else if (sas_reply.contains("sas") && sas_reply["sas"].is_array())
        for (const Json &sa : sas_reply["sas"])
            if (sa.is_object())
                sas_of[text_of(sa, "peer")].push_back(&sa);
    if (dp && !ike_unknown.empty())
        notes += "the dataplane's SAs below are those it holds now\n";

    std::string out = notes.empty() ? "" : notes + "\n";
    if (peers.value().empty())
        out += "no IPsec peer configured (ipsec { peer <name> { ... } })\n";
    for (const config::IpsecPeer &p : peers.value()) {
        std::vector<std::string> local_nets, remote_nets;
        for (const config::Prefix &x : p.local_subnets)
            local_nets.push_back(config::format_prefix(x));
        for (const config::Prefix &x : p.remote_subnets)
            remote_nets.push_back(config::format_prefix(x));
        out += "Peer " + p.name + ": " + config::format_address(p.address) + ", " +
               (p.auth == config::IpsecAuth::psk ? "pre-shared key" : "X.509") + ", start-action " +
               config::ipsec_start_name(p.start) + ", " + joined(local_nets) + " <-> " +
               joined(remote_nets) + "\n";
        std::string body;
        bool any_ike = false;
        for (const IkeSaInfo &ike : ikes)
            if (ike.name == p.name) {
                body += ike_block(ike);
                any_ike = true;
            }
        if (!any_ike)
            body += ike_unknown.empty() ? "IKE SA: none\n" : "IKE SA: unknown (see above)\n";
        if (!dp)
            body += "dataplane SAs: unknown (see above)\n";
        else if (sas_of.count(p.name))
            body += sa_table(sas_of[p.name]);
        else
            body += "no SA in the dataplane\n";
        out += indent(body, "  ");
        sas_of.erase(p.name);
    }
    // What the dataplane holds for no configured peer (a peer just removed, say).
    if (w.size() == 3 && dp) {
        std::vector<const Json *> stray;
        for (const auto &[name, list] : sas_of)
            stray.insert(stray.end(), list.begin(), list.end());
        if (!stray.empty())
            out += "SAs of no configured peer:\n" + indent(sa_table(stray), "  ");
    }
    return say(out);
}

Reply Commands::show_ipsec_statistics() {
    auto r = _dataplane(Json{{"op", "ipsec"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    const Json &j = r.value();
    std::string out = "SAs: " + num(j, "sas_in") + " inbound, " + num(j, "sas_out") +
                      " outbound, at most " + num(j, "max_sas") + "; " + num(j, "policies") +
                      " policies\n\n";
    static const std::pair<const char *, const char *> counters[] = {
        {"sas_added", "SAs added"},
        {"sas_removed", "SAs removed"},
        {"policies_added", "policies added"},
        {"policies_removed", "policies removed"},
        {"refused_full", "SAs or policies refused: table full"},
        {"refused_backend", "SAs refused by the ESP engine"},
        {"flushes", "flushes (qorgan-ike restarts)"},
        {"packets", "ESP packets"},
        {"bytes", "ESP bytes"},
        {"replay_drops", "replay drops"},
        {"auth_failures", "ICV failures"},
        {"hard_limit_drops", "drops at the hard lifetime"},
        {"other_drops", "other drops"},
    };
    const Json c = j.value("counters", Json::object());
    std::vector<std::vector<std::string>> rows;
    for (const auto &[key, label] : counters)
        rows.push_back({label, num(c, key)});
    out += table({"Counter", "Total"}, rows);
    out += "ESP packets to other drops: summed over the SAs held now.\n\n";

    auto d = _dataplane(Json{{"op", "drops"}});
    if (!d)
        return say(out + "drop reasons: dataplane: " + d.error().message + "\n");
    rows.clear();
    const Json drops = d.value().value("drops", Json::object());
    if (drops.is_object())
        for (const auto &[reason, n] : drops.items())
            if (reason.rfind("ipsec_", 0) == 0)
                rows.push_back({reason, n.is_number() ? n.dump() : "-"});
    if (rows.empty())
        return say(out + "the dataplane counts no ipsec_* drop reason\n");
    return say(out + table({"Drop reason", "Packets"}, rows));
}

Reply Commands::clear_ipsec_sa(const std::vector<std::string> &w) {
    if (w.size() < 3 || w[2].empty() || std::string("sa").rfind(w[2], 0) != 0)
        return fail("expected 'clear ipsec sa [peer <name>]'");
    auto peers = selected_peers(w, 3);
    if (!peers)
        return fail(peers.error().message);
    if (peers.value().empty())
        return fail("no IPsec peer is configured: nothing to clear");
    if (!_services.ike)
        return fail("qorgan-ike cannot be reached from this process: nothing was cleared");
    std::string done, failed;
    for (const config::IpsecPeer &p : peers.value()) {
        IkeControl::Outcome t = _services.ike->terminate_ike(p.name);
        if (t.failure == IkeControl::Failure::not_running)
            return fail(t.message + "; nothing was cleared");
        if (t.failure != IkeControl::Failure::none) {
            failed += "peer " + p.name + ": " + t.message + "\n";
            continue;
        }
        std::string line = "peer " + p.name + ": " +
                           (t.message.empty() ? std::string("IKE SA terminated") : t.message);
        if (p.start == config::IpsecStart::start) {
            IkeControl::Outcome i = _services.ike->initiate_child(p.name);
            if (i.failure != IkeControl::Failure::none) {
                failed += line + "; initiating it again failed: " + i.message + "\n";
                continue;
            }
            line += "; initiated again" + (i.message.empty() ? "" : " (" + i.message + ")");
        } else if (p.start == config::IpsecStart::trap) {
            line += "; start-action trap: it comes up again with traffic or from the peer";
        } else {
            line += "; start-action none: not initiated again";
        }
        done += line + "\n";
    }
    Reply r = say(done);
    if (!failed.empty()) {
        r.ok = false;
        r.error = failed.substr(0, failed.size() - 1);
    }
    r.audit_detail = failed + done;
    if (!r.audit_detail.empty() && r.audit_detail.back() == '\n')
        r.audit_detail.pop_back();
    return r;
}

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's command language; see commands.h.
#include "control/commands.h"

#include "config/compliance.h"
#include "config/config.h"
#include "config/set_form.h"
#include "control/audit/store.h"
#include "control/privilege.h"
#include "control/table.h"

#include <algorithm>
#include <ctime>
#include <sstream>

namespace qorgan::control {

namespace {

struct CommandHelp {
    const char *word;
    const char *help;
};

const CommandHelp operational_commands[] = {
    {"clear", "Clear sessions, blocked sources, IPsec SAs"},
    {"configure", "Enter configuration mode"},
    {"exit", "Leave the shell"},
    {"help", "List the commands"},
    {"monitor", "Watch live interface rates"},
    {"quit", "Leave the shell"},
    {"request", "Users, passwords, second factor, audit verification"},
    {"show", "Show state and configuration"},
};

const CommandHelp show_operational[] = {
    {"arp", "IPv4 neighbours"},
    {"compliance", "Requirements of Decree 832 and their live status"},
    {"configuration", "The running configuration"},
    {"interfaces", "Ports: state, speed, packets, bytes, errors, drops (R128-f)"},
    {"ipsec", "IPsec peers, their IKE and ESP SAs, ESP statistics (R128-h)"},
    {"log", "The audit log and its remote copy (R128-c, R90-1-7)"},
    {"nat", "NAT44 translations and port pool statistics"},
    {"ndp", "IPv6 neighbours"},
    {"route", "Routing table"},
    {"security", "Security policies with hit counts; attack protection (screen); application "
                 "statistics (R134-1)"},
    {"sessions", "Tracked connections (filters: address, port, interface, zone)"},
    {"system", "Commits and configuration integrity"},
    {"users", "Administrators, levels, second factor, lockouts (R128-b)"},
};

const CommandHelp show_nat_commands[] = {
    {"statistics", "Translation counters and port pool use per source rule"},
    {"translations", "Translated connections (filters: address, port, interface, limit)"},
};

const CommandHelp configuration_commands[] = {
    {"commit", "Validate and activate the candidate configuration"},
    {"compare", "Differences between candidate, running and revisions"},
    {"delete", "Delete a statement"},
    {"edit", "Move to a level of the configuration"},
    {"exit", "Go up to the top level, or leave configuration mode"},
    {"load", "Load a file into the candidate (merge or replace)"},
    {"rollback", "Load an earlier revision into the candidate"},
    {"run", "Run an operational command"},
    {"save", "Write the candidate to a file"},
    {"set", "Set a value"},
    {"show", "Show the candidate configuration"},
    {"top", "Go to the top level"},
    {"up", "Go up one level"},
    {"update", "Start again from the running configuration"},
};

size_t edit_distance(const std::string &a, const std::string &b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); j++)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); i++) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); j++)
            cur[j] = std::min(
                {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        prev = cur;
    }
    return prev[b.size()];
}

// Resolves a possibly abbreviated word against a list; error text names what was wrong
// and what would be right.
template <size_t N>
Result<std::string> pick(const std::string &word, const CommandHelp (&list)[N],
                         const std::string &context) {
    std::vector<std::string> matches;
    for (const auto &c : list) {
        if (word == c.word)
            return std::string(c.word);
        if (std::string(c.word).rfind(word, 0) == 0)
            matches.push_back(c.word);
    }
    if (matches.size() == 1)
        return matches[0];
    std::string expected;
    std::string best;
    size_t best_d = 3;
    for (const auto &c : list) {
        expected += (expected.empty() ? "" : ", ") + std::string(c.word);
        size_t d = edit_distance(word, c.word);
        if (d < best_d) {
            best_d = d;
            best = c.word;
        }
    }
    std::string msg = matches.empty()
                          ? "unknown " + context + " '" + word + "'; expected one of: " + expected
                          : "'" + word + "' is ambiguous: " + [&] {
                                std::string m;
                                for (auto &x : matches)
                                    m += (m.empty() ? "" : ", ") + x;
                                return m;
                            }();
    if (matches.empty() && !best.empty())
        msg += " (did you mean '" + best + "'?)";
    return Error{{}, msg};
}

template <size_t N>
std::vector<config::Candidate> candidates_of(const CommandHelp (&list)[N],
                                             const std::string &partial) {
    std::vector<config::Candidate> out;
    for (const auto &c : list)
        if (std::string(c.word).rfind(partial, 0) == 0)
            out.push_back({c.word, c.help});
    return out;
}

// The App column of `show sessions` (R134-1): "application/category", " (blocked)" after a
// block, "-" while DPI is still looking or from a dataplane that does not classify.
std::string application_of(const Json &session) {
    std::string app = text_of(session, "application");
    std::string category = text_of(session, "category");
    std::string verdict = text_of(session, "verdict");
    if (verdict == "inspecting" || category == "inspecting" || (app.empty() && category.empty()))
        return "-";
    std::string out = app.empty() ? category : category.empty() ? app : app + "/" + category;
    return verdict == "block" ? out + " (blocked)" : out;
}

std::string time_text(int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

Reply fail(const std::string &e) {
    return Reply::failure(e);
}

Reply say(const std::string &out) {
    return Reply::success(out);
}

std::string edit_banner(const Session &s) {
    std::string b = "[edit";
    for (const auto &w : s.edit_path)
        b += " " + w;
    return b + "]\n";
}

std::string join(const std::vector<std::string> &w, size_t from = 0) {
    std::string s;
    for (size_t i = from; i < w.size(); i++)
        s += (s.empty() ? "" : " ") + w[i];
    return s;
}

} // namespace

Result<std::vector<std::string>> split_words(const std::string &line) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false, quoted = false;
    for (size_t i = 0; i < line.size(); i++) {
        char c = line[i];
        if (quoted) {
            if (c == '\\' && i + 1 < line.size()) {
                cur += line[++i];
            } else if (c == '"') {
                quoted = false;
            } else {
                cur += c;
            }
        } else if (c == '"') {
            quoted = true;
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word)
                words.push_back(cur);
            cur.clear();
            in_word = false;
        } else {
            cur += c;
            in_word = true;
        }
    }
    if (quoted)
        return Error{{}, "unterminated quote; expected a closing '\"'"};
    if (in_word)
        words.push_back(cur);
    return words;
}

Commands::Commands(Transactions &tx, Query dataplane, Services services)
    : _tx(tx), _dataplane(std::move(dataplane)), _services(services) {
    refresh_system();
}

void Commands::refresh_system() {
    auto text = _tx.store().text(_tx.store().running());
    if (!text)
        return;
    auto conf = config::load_text(text.value(), "running");
    if (conf)
        _system = conf.value().system;
}

config::ClassMask Commands::classes_of(int level) const {
    return level_classes(_system.login, level);
}

std::string Commands::prompt(const Session &s) const {
    return s.user + "@" + _system.host_name + (s.configuring ? "# " : "> ");
}

Result<Json> Commands::counters() {
    auto r = _dataplane(Json{{"op", "interfaces"}});
    if (!r)
        return r.error();
    Json out{{"ok", true}, {"interfaces", Json::array()}};
    for (const auto &i : r.value()["interfaces"])
        out["interfaces"].push_back(Json{{"name", i.value("name", "")},
                                         {"link", i.value("link", "")},
                                         {"rx_packets", i.value("rx_packets", 0)},
                                         {"rx_bytes", i.value("rx_bytes", 0)},
                                         {"tx_packets", i.value("tx_packets", 0)},
                                         {"tx_bytes", i.value("tx_bytes", 0)},
                                         {"rx_errors", i.value("rx_errors", 0)},
                                         {"tx_errors", i.value("tx_errors", 0)},
                                         {"rx_missed", i.value("rx_missed", 0)}});
    return out;
}

Reply Commands::exec(Session &s, const std::string &line, int64_t now) {
    // `| display set` is ours; the shell handles the other pipes.
    std::string body = line;
    bool display_set = false;
    size_t bar = body.find('|');
    if (bar != std::string::npos) {
        auto tail = split_words(body.substr(bar + 1));
        if (tail && tail.value().size() == 2 && tail.value()[0] == "display" &&
            tail.value()[1] == "set") {
            display_set = true;
            body = body.substr(0, bar);
        } else {
            return fail("unknown pipe '|" + body.substr(bar + 1) +
                        "'; expected '| display set' (the shell adds match, except, count, "
                        "no-more)");
        }
    }
    auto words = split_words(body);
    if (!words)
        return fail(words.error().message);
    auto &w = words.value();
    if (w.empty())
        return say("");
    if (s.restriction != Restriction::none)
        return restricted(s, w, now);
    if (config::ClassMask need = required(s, w); need && !(need & s.classes))
        return refuse(s, join(w), need);
    if (display_set) {
        if (w[0] != "show")
            return fail("'| display set' applies to show commands");
        return show(s, w, true);
    }
    return s.configuring ? configuration(s, w, now) : operational(s, w, now);
}

config::ClassMask Commands::required(const Session &s, const std::vector<std::string> &w) const {
    using C = config::CommandClass;
    auto bit = [](C c) { return config::class_bit(c); };
    auto prefix = [](const std::string &word, const char *full) {
        return !word.empty() && std::string(full).rfind(word, 0) == 0;
    };
    const config::ClassMask configure_any =
        bit(C::network) | bit(C::security) | bit(C::audit_settings);
    if (s.configuring) {
        auto c = pick(w[0], configuration_commands, "command");
        if (!c)
            return 0; // the command itself reports the typo
        if (c.value() == "set" || c.value() == "delete") {
            std::vector<std::string> full = s.edit_path;
            full.insert(full.end(), w.begin() + 1, w.end());
            return bit(class_for_config_path(full));
        }
        if (c.value() == "run" && w.size() > 1) {
            Session op = s;
            op.configuring = false;
            return required(op, std::vector<std::string>(w.begin() + 1, w.end()));
        }
        return 0; // being in configuration mode already took a configuring class
    }
    auto c = pick(w[0], operational_commands, "command");
    if (!c)
        return 0;
    const std::string &cmd = c.value();
    if (cmd == "configure")
        return configure_any;
    if (cmd == "clear")
        return bit(C::clear);
    if (cmd == "monitor")
        return bit(C::traffic_view);
    if (cmd == "show") {
        if (w.size() < 2)
            return bit(C::view);
        auto what = pick(w[1], show_operational, "show command");
        if (!what)
            return bit(C::view);
        if (what.value() == "sessions")
            return bit(C::traffic_view);
        if (what.value() == "nat" && w.size() > 2) {
            // Translations tell who talks to whom, like sessions; statistics do not.
            auto sub = pick(w[2], show_nat_commands, "show nat command");
            if (sub && sub.value() == "translations")
                return bit(C::traffic_view);
        }
        if (what.value() == "users")
            return bit(C::security);
        if (what.value() == "log") {
            if (w.size() > 2 && prefix(w[2], "forwarding"))
                return bit(C::audit_view) | bit(C::audit_settings);
            return bit(C::audit_view);
        }
        return bit(C::view);
    }
    if (cmd == "request" && w.size() > 1) {
        if (prefix(w[1], "audit"))
            return bit(C::audit_view);
        if (prefix(w[1], "user"))
            return bit(C::security);
        return 0; // request password / request totp: the session's own account
    }
    return 0;
}

Reply Commands::refuse(Session &s, const std::string &what, config::ClassMask need) {
    s.refusals++;
    Reply r = fail("permission denied (R128-b): '" + what + "' needs the class " +
                   describe_classes(need) + (need & (need - 1) ? " (any of them)" : "") +
                   "; your level " + std::to_string(s.level) + " (" + role_of_level(s.level) +
                   ") grants " + describe_classes(s.classes));
    r.refused = true;
    r.audit_action = "privilege-refused";
    if (s.refusals == _system.login.alert_refusals) {
        r.alert = true;
        r.alert_text = "user " + s.user + " was refused " + std::to_string(s.refusals) +
                       " privileged commands in session " + s.id + " (R52)";
    }
    return r;
}

Reply Commands::operational(Session &s, const std::vector<std::string> &w, int64_t now) {
    auto cmd = pick(w[0], operational_commands, "command");
    if (!cmd)
        return fail(cmd.error().message);
    const std::string &c = cmd.value();
    if (c == "exit" || c == "quit") {
        Reply r;
        r.exit = true;
        return r;
    }
    if (c == "help") {
        std::string out;
        for (const auto &h : operational_commands)
            out += std::string(h.word) + std::string(12 - std::string(h.word).size(), ' ') +
                   h.help + "\n";
        return say(out);
    }
    if (c == "configure") {
        auto cand = _tx.begin();
        if (!cand)
            return fail(cand.error().message);
        s.candidate = std::move(cand.value());
        s.configuring = true;
        s.edit_path.clear();
        return say("Entering configuration mode\n" + edit_banner(s));
    }
    if (c == "show")
        return show(s, w, false);
    if (c == "request")
        return request(s, w, now);
    if (c == "clear") {
        if (w.size() == 4 && std::string("security").rfind(w[1], 0) == 0 &&
            std::string("screen").rfind(w[2], 0) == 0 && std::string("blocked").rfind(w[3], 0) == 0)
            return screen_blocked(true);
        if (w.size() >= 2 && !w[1].empty() && std::string("ipsec").rfind(w[1], 0) == 0)
            return clear_ipsec_sa(w);
        if (w.size() < 2 || std::string("sessions").rfind(w[1], 0) != 0)
            return fail("expected 'clear sessions [address A] [port P] [interface I] [zone Z]', "
                        "'clear security screen blocked' or 'clear ipsec sa [peer NAME]'");
        return show_sessions(w, true);
    }
    if (c == "monitor")
        return fail("'monitor interface' runs in the shell; this client does not support it");
    (void)now;
    return fail("unhandled command '" + c + "'");
}

Reply Commands::show(Session &s, const std::vector<std::string> &w, bool display_set) {
    if (s.configuring) {
        // In configuration mode `show` shows the candidate at the edit level.
        std::vector<std::string> path = s.edit_path;
        path.insert(path.end(), w.begin() + 1, w.end());
        return show_configuration(s.candidate->tree, path, display_set);
    }
    if (w.size() < 2)
        return fail("expected 'show' followed by one of: arp, compliance, configuration, "
                    "interfaces, ipsec, log, nat, ndp, route, security, sessions, system, users");
    auto what = pick(w[1], show_operational, "show command");
    if (!what)
        return fail(what.error().message);
    const std::string &x = what.value();
    if (x == "configuration") {
        auto text = _tx.store().text(_tx.store().running());
        if (!text)
            return fail(text.error().message);
        auto tree = config::parse_tree(text.value(), "running");
        if (!tree)
            return fail(tree.error().to_string());
        std::vector<std::string> path(w.begin() + 2, w.end());
        return show_configuration(tree.value(), path, display_set);
    }
    if (display_set)
        return fail("'| display set' applies to 'show configuration'");
    if (x == "interfaces")
        return show_interfaces(w);
    if (x == "security") {
        if (w.size() >= 3 && std::string("screen").rfind(w[2], 0) == 0)
            return show_screen(w);
        if (w.size() >= 3 && std::string("application-statistics").rfind(w[2], 0) == 0)
            return show_applications(w);
        return show_policies(w);
    }
    if (x == "sessions")
        return show_sessions(w, false);
    if (x == "ipsec")
        return show_ipsec(w);
    if (x == "nat")
        return show_nat(w);
    if (x == "route")
        return show_routes();
    if (x == "arp")
        return show_neighbors(4);
    if (x == "ndp")
        return show_neighbors(6);
    if (x == "compliance")
        return show_compliance();
    if (x == "log")
        return show_log(w, std::time(nullptr));
    if (x == "users")
        return show_users(std::time(nullptr));
    if (x == "system") {
        if (w.size() >= 3 && std::string("integrity").rfind(w[2], 0) == 0)
            return show_integrity();
        if (w.size() >= 3 && std::string("commits").rfind(w[2], 0) == 0)
            return show_commits();
        return fail("expected 'show system commits' or 'show system integrity'");
    }
    return fail("unhandled show command '" + x + "'");
}

Reply Commands::show_configuration(const config::Node &tree, const std::vector<std::string> &path,
                                   bool display_set) {
    const config::Node *n = path.empty() ? &tree : config::find_path(tree, path);
    if (!n)
        return fail("nothing configured at '" + join(path) + "'");
    config::Node root;
    if (n != &tree)
        root.children = n->children;
    const config::Node &shown = n == &tree ? tree : root;
    if (!display_set)
        return say(config::print_tree(shown));
    std::string out;
    for (const auto &l : config::to_set_lines(shown))
        out += l + "\n";
    return say(out);
}

Reply Commands::show_interfaces(const std::vector<std::string> &w) {
    auto r = _dataplane(Json{{"op", "interfaces"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    std::vector<std::vector<std::string>> rows;
    for (const auto &i : r.value()["interfaces"]) {
        std::string name = i.value("name", "");
        if (w.size() >= 3 && name != w[2])
            continue;
        std::string speed = i.value("speed_mbps", 0) ? num(i, "speed_mbps") + "M" : "-";
        rows.push_back({name, i.value("admin", ""), i.value("link", ""), speed, i.value("zone", ""),
                        num(i, "rx_packets"), num(i, "rx_bytes"), num(i, "tx_packets"),
                        num(i, "tx_bytes"), num(i, "rx_errors") + "/" + num(i, "tx_errors"),
                        num(i, "rx_missed")});
    }
    if (w.size() >= 3 && rows.empty())
        return fail("no interface '" + w[2] + "'");
    return say(table({"Interface", "Admin", "Link", "Speed", "Zone", "RX packets", "RX bytes",
                      "TX packets", "TX bytes", "Errors rx/tx", "Drops"},
                     rows));
}

Reply Commands::show_policies(const std::vector<std::string> &w) {
    if (w.size() < 3 || std::string("policies").rfind(w[2], 0) != 0)
        return fail("expected 'show security policies [interface]', "
                    "'show security screen statistics' or "
                    "'show security application-statistics'");
    auto r = _dataplane(Json{{"op", "rules"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    std::vector<std::vector<std::string>> rows;
    for (const auto &x : r.value()["rules"]) {
        if (w.size() >= 4 && x.value("interface", "") != w[3])
            continue;
        rows.push_back({x.value("interface", ""), x.value("direction", ""), num(x, "id"),
                        x.value("action", "") + (x.value("log", false) ? "+log" : ""),
                        num(x, "hits"), num(x, "bytes"), x.value("description", "")});
    }
    return say(
        table({"Interface", "Direction", "Rule", "Action", "Hits", "Bytes", "Description"}, rows) +
        "Anything no rule accepts is denied (default deny, R128-g).\n");
}

// The attack-protection screen (R128-e, docs/SCREEN.md): what each defence caught.
// The sources the screen has blocked (each worker keeps its own list), or the list cleared.
Reply Commands::screen_blocked(bool clear) {
    auto r = _dataplane(Json{{"op", clear ? "clear-screen-blocked" : "screen-blocked"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    const Json &j = r.value();
    if (clear) {
        uint64_t n = j.value("cleared", uint64_t(0));
        return say(std::to_string(n) + (n == 1 ? " source" : " sources") +
                   " let in again (R128-e block list cleared)\n");
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto &x : j.value("blocked", Json::array()))
        rows.push_back({x.value("source", ""), num(x, "remaining_s"), num(x, "worker")});
    uint64_t total = j.value("total", uint64_t(0));
    if (rows.empty())
        return say("no source is blocked\n");
    std::string out = table({"Source", "Blocked for s", "Worker"}, rows);
    out += std::to_string(total) + (total == 1 ? " source blocked" : " sources blocked");
    if (total > rows.size())
        out += " (list cut at " + std::to_string(rows.size()) + ")";
    return say(out + "\n");
}

Reply Commands::show_screen(const std::vector<std::string> &w) {
    if (w.size() == 4 && std::string("blocked").rfind(w[3], 0) == 0)
        return screen_blocked(false);
    if (w.size() != 4 || std::string("statistics").rfind(w[3], 0) != 0)
        return fail("expected 'show security screen statistics' or "
                    "'show security screen blocked'");
    auto r = _dataplane(Json{{"op", "screen"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    const Json &j = r.value();
    std::vector<std::vector<std::string>> rows;
    for (const auto &x : j.value("defences", Json::array()))
        rows.push_back({x.value("defence", ""), num(x, "detected"), num(x, "dropped"),
                        num(x, "events"), num(x, "suppressed")});
    std::string out =
        table({"Defence", "Detected", "Dropped", "Events", "Events suppressed"}, rows) + "\n";
    static const std::pair<const char *, const char *> totals[] = {
        {"cookies_sent", "SYN cookies sent"},
        {"cookies_verified", "sources proven by a cookie"},
        {"sources_blocked", "sources put on the block list"},
        {"guard_table_full", "sources not tracked (table full)"},
        {"scan_table_full", "sources not watched for scans (table full)"},
        {"reassembled", "datagrams reassembled"},
        {"refragmented", "datagrams fragmented again"},
    };
    rows.clear();
    const Json t = j.value("totals", Json::object());
    for (const auto &[key, label] : totals)
        rows.push_back({label, num(t, key)});
    out += table({"Counter", "Total"}, rows) + "\n";
    rows.clear();
    for (const auto &z : j.value("zones", Json::array())) {
        auto act = [&](const char *k) {
            const Json &v = z.value(k, Json());
            return v.is_string() ? v.get<std::string>() : v.value("action", std::string("?"));
        };
        const Json syn = z.value("syn_flood", Json::object());
        const Json rate = z.value("source_rate", Json::object());
        const Json scan = z.value("scan", Json::object());
        rows.push_back({z.value("zone", "") + (z.value("configured", false) ? "" : " (defaults)"),
                        act("syn_flood") + " >" + num(syn, "threshold"),
                        act("source_rate") + " " + num(rate, "new_per_second") + "/s",
                        act("icmp_flood"), act("udp_flood"),
                        act("scan") + " " + num(scan, "hosts") + "h/" + num(scan, "ports") + "p",
                        act("tcp_flags"), act("spoofing"), act("ip_options"), act("fragments")});
    }
    out += table({"Zone", "SYN flood", "Source rate", "ICMP flood", "UDP flood", "Scan",
                  "TCP flags", "Spoofing", "IP options", "Fragments"},
                 rows);
    return say(out);
}

// Category blocking (R134-1, docs/CLI.md): what DPI made of the flows, per category of
// paragraph 134-1 and per application.
Reply Commands::show_applications(const std::vector<std::string> &w) {
    if (w.size() != 3)
        return fail("'show security application-statistics' takes no arguments");
    auto r = _dataplane(Json{{"op", "applications"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    const Json &j = r.value();
    const Json dpi = j.value("dpi", Json::object());
    std::string out = "Flows: " + num(dpi, "inspecting") + " being inspected, " +
                      num(dpi, "classified") + " classified, " + num(dpi, "unknown") +
                      " unknown, " + num(dpi, "blocked") + " blocked, " + num(dpi, "exempt") +
                      " exempt, " + num(dpi, "refused") + " not inspected (table full), " +
                      num(dpi, "evicted") + " given up undecided to make room\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto &c : j.value("categories", Json::array()))
        rows.push_back(
            {text_of(c, "category"), num(c, "flows"), num(c, "blocked"), num(c, "bytes")});
    out += table({"Category", "Flows", "Blocked", "Bytes"}, rows) + "\n";
    rows.clear();
    for (const auto &a : j.value("applications", Json::array()))
        rows.push_back({text_of(a, "application"), text_of(a, "category"), num(a, "flows"),
                        num(a, "blocked"), num(a, "bytes")});
    if (rows.empty())
        return say(out + "no application classified yet\n");
    return say(out + table({"Application", "Category", "Flows", "Blocked", "Bytes"}, rows));
}

Result<Json> Commands::session_filter(const std::vector<std::string> &w, size_t from, bool zone,
                                      bool limit) {
    Json filter = Json::object();
    for (size_t i = from; i < w.size(); i += 2) {
        if (i + 1 >= w.size())
            return Error{{}, "'" + w[i] + "' needs a value"};
        const std::string &k = w[i], &v = w[i + 1];
        if (k == "address") {
            filter["address"] = v;
        } else if (k == "port") {
            char *end = nullptr;
            long p = std::strtol(v.c_str(), &end, 10);
            if (!end || *end || p < 0 || p > 65535)
                return Error{{}, "port '" + v + "' is not a number 0..65535"};
            filter["port"] = p;
        } else if (k == "interface") {
            filter["interface"] = v;
        } else if (k == "zone" && zone) {
            // A zone is the set of its interfaces: expand from the running configuration.
            auto text = _tx.store().text(_tx.store().running());
            if (!text)
                return text.error();
            auto conf = config::load_text(text.value(), "running");
            if (!conf)
                return Error{{}, conf.error().to_string()};
            Json ifs = Json::array();
            for (const auto &ifc : conf.value().interfaces)
                if (ifc.zone == v)
                    ifs.push_back(ifc.name);
            if (ifs.empty())
                return Error{{}, "no zone '" + v + "' with interfaces"};
            filter["interfaces"] = ifs;
        } else if (k == "limit" && limit) {
            char *end = nullptr;
            long n = std::strtol(v.c_str(), &end, 10);
            if (!end || *end || n < 1 || n > 100000)
                return Error{{}, "limit '" + v + "' is not a number 1..100000"};
            filter["limit"] = n;
        } else {
            return Error{{},
                         "unknown filter '" + k +
                             "'; expected address <a>, port <p>, interface <name> or " +
                             (zone ? "zone <name>" : "limit <n>")};
        }
    }
    return filter;
}

Reply Commands::show_sessions(const std::vector<std::string> &w, bool clear) {
    auto f = session_filter(w, 2, true, false);
    if (!f)
        return fail(f.error().message);
    const Json &filter = f.value();
    if (clear) {
        auto r = _dataplane(Json{{"op", "clear-sessions"}, {"filter", filter}});
        if (!r)
            return fail("dataplane: " + r.error().message);
        return say("cleared " + num(r.value(), "cleared") + " sessions\n");
    }
    auto r = _dataplane(Json{{"op", "sessions"}, {"filter", filter}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    std::vector<std::vector<std::string>> rows;
    for (const auto &x : r.value()["sessions"]) {
        auto ep = [&](const char *a, const char *p) {
            std::string addr = x.value(a, "");
            if (addr.find(':') != std::string::npos)
                addr = "[" + addr + "]";
            return addr + ":" + num(x, p);
        };
        std::string pk =
            x.contains("packets") ? x["packets"][0].dump() + "/" + x["packets"][1].dump() : "-";
        std::string by =
            x.contains("bytes") ? x["bytes"][0].dump() + "/" + x["bytes"][1].dump() : "-";
        rows.push_back({num(x, "proto"), ep("src", "sport"), ep("dst", "dport"),
                        x.value("state", ""), x.value("in", "") + "->" + x.value("out", ""),
                        num(x, "rule"), pk, by, num(x, "idle_s"), application_of(x)});
    }
    std::string out = table({"Proto", "Source", "Destination", "State", "Path", "Rule", "Packets",
                             "Bytes", "Idle s", "App"},
                            rows);
    out += num(r.value(), "total") + " sessions";
    if (r.value().value("truncated", false))
        out += " (list cut; narrow it with a filter)";
    return say(out + "\n");
}

Reply Commands::show_nat(const std::vector<std::string> &w) {
    if (w.size() < 3)
        return fail("expected 'show nat translations [address A] [port P] [interface I] "
                    "[limit N]' or 'show nat statistics'");
    auto sub = pick(w[2], show_nat_commands, "show nat command");
    if (!sub)
        return fail(sub.error().message);
    if (sub.value() == "translations")
        return show_nat_translations(w);
    if (w.size() > 3)
        return fail("'show nat statistics' takes no arguments");
    return show_nat_statistics();
}

Reply Commands::show_nat_translations(const std::vector<std::string> &w) {
    auto f = session_filter(w, 3, false, true);
    if (!f)
        return fail(f.error().message);
    Json filter = f.value();
    bool filtered = !filter.empty();
    filter["nat"] = true;
    auto r = _dataplane(Json{{"op", "sessions"}, {"filter", filter}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    uint64_t total = r.value().value("total", uint64_t(0));
    if (total == 0)
        return say(filtered ? "no NAT translations match the filter\n" : "no NAT translations\n");
    // Seen from the inside host, as NAT tables usually are: its own address, what it is
    // translated to, and the far end. A flow opened from outside through destination NAT
    // alone is turned round, so that its inside column is the server.
    std::vector<std::vector<std::string>> rows;
    for (const auto &x : r.value()["sessions"]) {
        if (!x.contains("nat") || !x["nat"].is_object())
            continue;
        const Json &n = x["nat"];
        auto ep = [](const Json &j, const char *a, const char *p) {
            return j.value(a, "") + ":" + num(j, p);
        };
        // An echo's identifier is both of its "ports": only the addresses tell the sides.
        bool icmp = x.value("proto", Json()) == "icmp";
        auto moved = [&](const char *a, const char *p) {
            return x.value(a, "") != n.value(a, "") || (!icmp && num(x, p) != num(n, p));
        };
        bool snat = moved("src", "sport");
        bool dnat = moved("dst", "dport");
        auto count = [&](size_t i) {
            return x.contains("packets") && x["packets"].is_array() && x["packets"].size() == 2
                       ? x["packets"][i].dump()
                       : std::string("-");
        };
        std::string inside, translated, remote, packets;
        if (dnat && !snat) {
            inside = ep(n, "dst", "dport");
            translated = ep(x, "dst", "dport");
            remote = ep(x, "src", "sport");
            packets = count(1) + "/" + count(0);
        } else {
            inside = ep(x, "src", "sport");
            translated = ep(n, "src", "sport");
            remote = ep(x, "dst", "dport") + (dnat ? " -> " + ep(n, "dst", "dport") : "");
            packets = count(0) + "/" + count(1);
        }
        rows.push_back({num(x, "proto"), n.value("kind", ""), inside, translated, remote,
                        x.value("state", ""), num(x, "idle_s"), packets});
    }
    std::string out = table(
        {"Proto", "Kind", "Inside", "Translated", "Remote", "State", "Idle s", "Packets out/in"},
        rows);
    out += std::to_string(total) + (total == 1 ? " translation" : " translations");
    if (r.value().value("truncated", false))
        out += " (list cut; narrow it with a filter or raise the limit)";
    return say(out + "\n");
}

Reply Commands::show_nat_statistics() {
    auto r = _dataplane(Json{{"op", "nat"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    const Json &j = r.value();
    auto empty = [&](const char *k) { return !j.contains(k) || j[k].empty(); };
    if (empty("sources") && empty("statics") && empty("destinations"))
        return say("NAT is not configured\n");
    static const std::pair<const char *, const char *> totals[] = {
        {"translated", "translations created"},
        {"static", "  by a static"},
        {"destination", "  by a destination rule"},
        {"source", "  by a source rule"},
        {"refused_pool_exhausted", "refused: pool exhausted"},
        {"refused_source_limit", "refused: max-per-source reached"},
        {"refused_source_table", "refused: source table full"},
        {"refused_protocol", "refused: protocol not translatable"},
        {"refused_collision", "refused: port collision"},
        {"icmp_errors", "ICMP errors translated"},
        {"mss_clamped", "TCP MSS clamped"},
        {"handoffs", "packets handed to the owning worker"},
        {"handoff_full", "hand-offs refused (ring full)"},
        {"no_mapping", "packets for no translation"},
    };
    const Json counters = j.value("counters", Json::object());
    std::vector<std::vector<std::string>> rows;
    for (const auto &[key, label] : totals)
        rows.push_back({label, num(counters, key)});
    std::string out = table({"Counter", "Total"}, rows) + "\n";
    rows.clear();
    for (const auto &x : j.value("sources", Json::array())) {
        const Json pool = x.value("pool", Json::array());
        std::string addresses = pool.empty()          ? "-"
                                : pool[0].is_string() ? pool[0].get<std::string>()
                                                      : pool[0].dump();
        if (pool.size() > 1)
            addresses += " (+" + std::to_string(pool.size() - 1) + ")";
        const Json ports = x.value("ports", Json::object());
        rows.push_back({x.value("name", ""), x.value("interface", ""), addresses,
                        num(ports, "low") + "-" + num(ports, "high"),
                        num(x, "in_use") + "/" + num(x, "capacity"), num(x, "allocated"),
                        num(x, "released"),
                        num(x, "refused_pool") + "/" + num(x, "refused_source") + "/" +
                            num(x, "refused_source_table")});
    }
    if (rows.empty())
        return say(out + "no source rules\n");
    out += table({"Source rule", "Interface", "Pool", "Ports", "In use/capacity", "Allocated",
                  "Released", "Refused pool/source/table"},
                 rows);
    return say(out + "Capacity is per protocol: TCP, UDP and ICMP each have that many ports.\n");
}

Reply Commands::show_routes() {
    auto r = _dataplane(Json{{"op", "routes"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    std::vector<std::vector<std::string>> rows;
    for (const auto &x : r.value()["routes"])
        rows.push_back(
            {x.value("prefix", ""), x.value("kind", ""),
             x.contains("via") && x["via"].is_string() ? x["via"].get<std::string>() : "-",
             x.value("interface", "")});
    return say(table({"Destination", "Kind", "Via", "Interface"}, rows));
}

Reply Commands::show_neighbors(int family) {
    auto r = _dataplane(Json{{"op", "neighbors"}});
    if (!r)
        return fail("dataplane: " + r.error().message);
    std::vector<std::vector<std::string>> rows;
    for (const auto &x : r.value()["neighbors"])
        if (x.value("family", 0) == family)
            rows.push_back({x.value("address", ""), x.value("mac", ""), x.value("interface", "")});
    return say(table({"Address", "MAC", "Interface"}, rows));
}

Reply Commands::show_compliance() {
    config::ComplianceFacts f;
    auto state = _dataplane(Json{{"op", "interfaces"}});
    if (state) {
        f.dataplane_connected = true;
        for (const auto &i : state.value()["interfaces"]) {
            f.ports_total++;
            if (i.value("link", "") == "up")
                f.ports_up++;
            if (i.value("admin", "") == "down")
                f.ports_disabled++;
        }
    }
    if (_services.ike) {
        // Live evidence for R128-h: which peers have a tunnel now.
        f.ike_known = true;
        auto sas = _services.ike->list_sas();
        if (!sas)
            f.ike_error = sas.error().message;
        else
            for (const IkeSaInfo &ike : sas.value())
                if (ike.state == "ESTABLISHED")
                    f.ike_up.push_back(ike.name);
    }
    f.running_config_intact = static_cast<bool>(_tx.store().verify_running());
    f.revisions = static_cast<unsigned>(_tx.store().list().size());
    fill_admin_facts(f);
    auto text = _tx.store().text(_tx.store().running());
    config::Config conf;
    if (text) {
        auto c = config::load_text(text.value(), "running");
        if (c)
            conf = c.value();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto &row : config::compliance_report(conf, f))
        rows.push_back({row.id, row.status, row.summary, row.evidence});
    return say(table({"ID", "Status", "Requirement", "Evidence"}, rows));
}

Reply Commands::show_commits() {
    std::vector<std::vector<std::string>> rows;
    auto revs = _tx.store().list();
    auto pending = _tx.pending_confirm_deadline();
    for (auto it = revs.rbegin(); it != revs.rend(); ++it) {
        std::string mark = it->number == _tx.store().running() ? "running" : "";
        if (!mark.empty() && pending)
            mark += ", rolls back at " + time_text(*pending) + " unless confirmed";
        rows.push_back({std::to_string(it->number), time_text(it->time), it->author,
                        it->sha256.substr(0, 12), it->comment, mark});
    }
    return say(table({"Revision", "Time", "Author", "SHA-256", "Comment", ""}, rows));
}

Reply Commands::show_integrity() {
    auto st = _tx.store().verify_running();
    if (!st)
        return fail("TAMPERED (R139-4): " + st.error().message);
    auto info = _tx.store().info(_tx.store().running());
    std::string sha = info ? info.value().sha256 : "?";
    std::string out = "running revision " + std::to_string(_tx.store().running()) + ": SHA-256 " +
                      sha + " matches its record\n";
    auto dp = _dataplane(Json{{"op", "status"}});
    if (dp)
        out +=
            "dataplane runs SHA-256 " + dp.value().value("sha256", std::string("?")) +
            (dp.value().value("sha256", std::string()) == sha ? " (the same)\n" : " (DIFFERENT)\n");
    else
        out += "dataplane: " + dp.error().message + "\n";
    return say(out);
}

Reply Commands::exit_config(Session &s, bool discard) {
    if (s.candidate && s.candidate->changed && !discard)
        return fail("the candidate has uncommitted changes; commit them, or leave with "
                    "'exit discard'");
    s.configuring = false;
    s.candidate.reset();
    s.edit_path.clear();
    return say("Exiting configuration mode\n");
}

Reply Commands::commit(Session &s, const std::vector<std::string> &w, int64_t now) {
    CommitOptions opts;
    opts.author = s.user;
    bool check_only = false;
    for (size_t i = 1; i < w.size(); i++) {
        if (w[i] == "check") {
            check_only = true;
        } else if (w[i] == "confirmed") {
            unsigned minutes = 10;
            if (i + 1 < w.size() && std::all_of(w[i + 1].begin(), w[i + 1].end(), ::isdigit)) {
                minutes = static_cast<unsigned>(std::stoul(w[++i]));
                if (minutes < 1 || minutes > 65535)
                    return fail("commit confirmed takes 1..65535 minutes");
            }
            opts.confirm_minutes = minutes;
        } else if (w[i] == "comment" && i + 1 < w.size()) {
            opts.comment = w[++i];
        } else {
            return fail("unknown commit option '" + w[i] +
                        "'; expected check, confirmed [minutes] or comment \"text\"");
        }
    }
    if (check_only) {
        auto st = _tx.check(*s.candidate);
        if (!st)
            return fail(st.error().to_string());
        return say("configuration check succeeds\n");
    }
    if (Reply full = storage_full(); !full.ok)
        return full;
    if (auto running = _tx.revision_tree(0); running) {
        config::ClassMask need = classes_for_change(running.value(), s.candidate->tree);
        if (config::ClassMask missing = need & ~s.classes)
            return refuse(s, "commit", missing);
    }
    std::string diff = _tx.compare(*s.candidate);
    if (!s.candidate->changed && _tx.pending_confirm_deadline() && !opts.confirm_minutes) {
        auto st = _tx.confirm();
        if (!st)
            return fail(st.error().message);
        return say("commit confirmed: the rollback is cancelled\n");
    }
    auto r = _tx.commit(*s.candidate, opts, now);
    if (!r)
        return fail(r.error().to_string());
    if (r.value().no_change)
        return say("no changes to commit\n");
    refresh_system();
    std::string out = "commit complete: revision " + std::to_string(r.value().revision) +
                      ", dataplane epoch " + std::to_string(r.value().epoch) + "\n";
    if (r.value().confirm_deadline)
        out += "rolls back at " + time_text(r.value().confirm_deadline) +
               " unless confirmed with 'commit'\n";
    // Continue editing from what is now running.
    auto next = _tx.begin();
    if (next)
        s.candidate = std::move(next.value());
    Reply done = say(out);
    done.audit_action = "commit";
    done.audit_detail = "revision " + std::to_string(r.value().revision) + "\n" + diff;
    return done;
}

Reply Commands::configuration(Session &s, const std::vector<std::string> &w, int64_t now) {
    auto cmd = pick(w[0], configuration_commands, "configuration command");
    if (!cmd)
        return fail(cmd.error().message);
    const std::string &c = cmd.value();
    Candidate &cand = *s.candidate;
    std::vector<std::string> rest(w.begin() + 1, w.end());
    std::vector<std::string> full = s.edit_path;
    full.insert(full.end(), rest.begin(), rest.end());

    if (c == "set" || c == "delete") {
        if (rest.empty())
            return fail("expected a configuration path after '" + c + "'");
        config::Node next = cand.tree;
        auto st = c == "set" ? config::apply_set(next, full) : config::apply_delete(next, full);
        if (!st)
            return fail(st.error().message);
        cand.tree = std::move(next);
        cand.changed = true;
        return say("");
    }
    if (c == "edit") {
        auto p = config::resolve_edit_path(cand.tree, full);
        if (!p)
            return fail(p.error().message);
        s.edit_path = p.value();
        return say(edit_banner(s));
    }
    if (c == "up") {
        if (s.edit_path.empty())
            return fail("already at the top level");
        // Step back over a whole level: a keyed entry ("rule 10") is two words.
        auto p = s.edit_path;
        p.pop_back();
        while (!p.empty() && !config::resolve_edit_path(cand.tree, p))
            p.pop_back();
        s.edit_path = p;
        return say(edit_banner(s));
    }
    if (c == "top") {
        s.edit_path.clear();
        return say(edit_banner(s));
    }
    if (c == "exit") {
        if (!s.edit_path.empty() && rest.empty()) {
            s.edit_path.clear();
            return say(edit_banner(s));
        }
        if (!rest.empty() && rest[0] != "discard")
            return fail("expected 'exit' or 'exit discard'");
        return exit_config(s, !rest.empty());
    }
    if (c == "show")
        return show(s, w, false);
    if (c == "commit")
        return commit(s, w, now);
    if (c == "rollback") {
        uint32_t n = 0;
        if (!rest.empty()) {
            if (!std::all_of(rest[0].begin(), rest[0].end(), ::isdigit) || rest[0].size() > 6)
                return fail("rollback takes a number: 0 is the running revision, 1 the one "
                            "before, ...");
            n = static_cast<uint32_t>(std::stoul(rest[0]));
        }
        auto t = _tx.revision_tree(n);
        if (!t)
            return fail(t.error().message);
        cand.tree = std::move(t.value());
        cand.base = _tx.store().running();
        cand.changed = n != 0;
        return say("load complete (rollback " + std::to_string(n) + ")\n");
    }
    if (c == "update") {
        auto fresh = _tx.begin();
        if (!fresh)
            return fail(fresh.error().message);
        cand = std::move(fresh.value());
        return say("candidate now starts from revision " + std::to_string(cand.base) + "\n");
    }
    if (c == "compare") {
        if (rest.empty())
            return say(_tx.compare(cand));
        auto number = [](const std::string &x) -> std::optional<uint32_t> {
            if (x.empty() || x.size() > 9 || !std::all_of(x.begin(), x.end(), ::isdigit))
                return std::nullopt;
            return static_cast<uint32_t>(std::stoul(x));
        };
        auto a = number(rest[0]);
        auto b = rest.size() > 1 ? number(rest[1]) : std::optional<uint32_t>(_tx.store().running());
        if (!a || !b)
            return fail("expected 'compare', 'compare <revision>' or 'compare <revision> "
                        "<revision>' with revision numbers from 'run show system commits'");
        auto d = _tx.compare(*a, *b);
        if (!d)
            return fail(d.error().message);
        return say(d.value());
    }
    if (c == "load") {
        if (rest.size() != 2 || (rest[0] != "merge" && rest[0] != "replace"))
            return fail("expected 'load merge <file>' or 'load replace <file>'");
        auto st = _tx.load(cand, rest[1], rest[0] == "merge");
        if (!st)
            return fail(st.error().to_string());
        cand.changed = true;
        return say("load complete\n");
    }
    if (c == "save") {
        if (rest.size() != 1)
            return fail("expected 'save <file>'");
        auto st = _tx.save(cand, rest[0]);
        if (!st)
            return fail(st.error().message);
        return say("wrote " + rest[0] + "\n");
    }
    if (c == "run") {
        if (rest.empty())
            return fail("expected an operational command after 'run'");
        Session op = s;
        op.configuring = false;
        return operational(op, rest, now);
    }
    return fail("unhandled configuration command '" + c + "'");
}

std::vector<config::Candidate> Commands::complete(const Session &s, const std::string &line) const {
    auto words_r = split_words(line);
    std::vector<std::string> words = words_r ? words_r.value() : std::vector<std::string>{};
    std::string partial;
    if (!line.empty() && line.back() != ' ' && !words.empty()) {
        partial = words.back();
        words.pop_back();
    }
    if (words.empty())
        return s.configuring ? candidates_of(configuration_commands, partial)
                             : candidates_of(operational_commands, partial);
    if (!s.configuring) {
        auto c = pick(words[0], operational_commands, "command");
        if (!c)
            return {};
        if (c.value() == "show" && words.size() == 1)
            return candidates_of(show_operational, partial);
        if (c.value() == "show" && words.size() == 2 && words[1] == "system") {
            static const CommandHelp sys[] = {{"commits", "Revisions and who made them"},
                                              {"integrity", "SHA-256 check of the running "
                                                            "configuration (R139-4)"}};
            return candidates_of(sys, partial);
        }
        if (c.value() == "show" && words.size() == 2 && words[1] == "nat")
            return candidates_of(show_nat_commands, partial);
        if (c.value() == "show" && words.size() == 2 && words[1] == "security") {
            static const CommandHelp sec[] = {
                {"application-statistics",
                 "Flows per blocked category and per application seen by DPI (R134-1)"},
                {"policies", "Rules per interface with hits"},
                {"screen", "Attack protection: what each defence caught (R128-e)"}};
            return candidates_of(sec, partial);
        }
        if (c.value() == "show" && words.size() == 3 && words[1] == "security" &&
            words[2] == "screen") {
            static const CommandHelp scr[] = {
                {"blocked", "Sources on the block list and for how long"},
                {"statistics", "Detections, drops and events per defence"}};
            return candidates_of(scr, partial);
        }
        if (c.value() == "clear" && words.size() == 1) {
            static const CommandHelp cl[] = {
                {"ipsec", "ipsec sa [peer NAME]: terminate IKE SAs and start them again"},
                {"security", "security screen blocked: let blocked sources in again"},
                {"sessions", "Remove tracked connections"}};
            return candidates_of(cl, partial);
        }
        if ((c.value() == "show" || c.value() == "clear") && words.size() >= 2 &&
            words[1] == "ipsec")
            return complete_ipsec(c.value() == "clear", words, partial);
        if (c.value() == "monitor" && words.size() == 1) {
            static const CommandHelp mon[] = {{"interface", "Live packet and bit rates"}};
            return candidates_of(mon, partial);
        }
        return {};
    }
    auto c = pick(words[0], configuration_commands, "command");
    if (!c)
        return {};
    if (c.value() == "set" || c.value() == "delete" || c.value() == "edit" || c.value() == "show") {
        std::vector<std::string> path = s.edit_path;
        path.insert(path.end(), words.begin() + 1, words.end());
        return config::complete_path(&s.candidate->tree, path, partial);
    }
    if (c.value() == "commit") {
        static const CommandHelp co[] = {{"check", "Validate only"},
                                         {"comment", "Record a comment with the revision"},
                                         {"confirmed", "Roll back unless confirmed in N minutes "
                                                       "(default 10)"}};
        return candidates_of(co, partial);
    }
    if (c.value() == "load" && words.size() == 1) {
        static const CommandHelp lo[] = {{"merge", "Merge a file into the candidate"},
                                         {"replace", "Replace the candidate with a file"}};
        return candidates_of(lo, partial);
    }
    if (c.value() == "run") {
        Session op = s;
        op.configuring = false;
        std::string sub = line.substr(line.find(words[0]) + words[0].size());
        while (!sub.empty() && sub.front() == ' ')
            sub.erase(0, 1);
        return complete(op, sub);
    }
    return {};
}

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// The administrators' part of qorgand's command language (issue 4): `request user ...`,
// `request password`, `request totp ...`, `request audit verify`, `show users`, `show log
// audit` and `show log forwarding`. Passwords never travel on the command line: the reply
// asks for them (Reply::ask) and the shell sends the line again with the answers.
#include "control/audit/store.h"
#include "control/auth/authenticator.h"
#include "control/commands.h"
#include "control/privilege.h"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

namespace qorgan::control {

namespace {

// The same two helpers as commands.cpp, on Reply itself.
constexpr auto fail = &Reply::failure;
constexpr auto say = &Reply::success;

bool starts(const std::string &word, const char *full) {
    return !word.empty() && std::string(full).rfind(word, 0) == 0;
}

std::string utc(int64_t t) {
    if (t <= 0)
        return "-";
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

// "2026-11-25", "2026-11-25T10:00", "2026-11-25 10:00:00" (UTC) -> unix seconds.
std::optional<int64_t> parse_utc(const std::string &text) {
    std::tm tm{};
    for (const char *form : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                             "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
        tm = {};
        const char *end = strptime(text.c_str(), form, &tm);
        if (end && *end == '\0')
            return static_cast<int64_t>(timegm(&tm));
    }
    return std::nullopt;
}

// Level from `role <name>` or `level <n>` at w[i], w[i+1].
Result<int> level_words(const std::vector<std::string> &w, size_t i) {
    if (i + 1 < w.size() && w[i] == "role") {
        if (auto l = level_of_role(w[i + 1]))
            return *l;
        std::string names;
        for (const Role &r : builtin_roles())
            names += (names.empty() ? "" : ", ") + std::string(r.name);
        return Error{{}, "unknown role '" + w[i + 1] + "'; expected one of: " + names};
    }
    if (i + 1 < w.size() && w[i] == "level") {
        const std::string &v = w[i + 1];
        if (!v.empty() && v.size() <= 2 && std::all_of(v.begin(), v.end(), ::isdigit) &&
            std::stoi(v) <= 15)
            return std::stoi(v);
        return Error{{}, "level '" + v + "' is not 0..15"};
    }
    return Error{{},
                 "expected 'role <operator|auditor|network-admin|security-admin>' or "
                 "'level <0..15>'"};
}

std::string first_line(const std::string &s, size_t max) {
    std::string line = s.substr(0, s.find('\n'));
    if (line.size() > max)
        line = line.substr(0, max - 3) + "...";
    return line;
}

} // namespace

void Commands::fill_admin_facts(config::ComplianceFacts &f) const {
    if (!_services.auth || !_services.audit)
        return;
    f.audit_known = true;
    for (const auto &u : _services.auth->users()) {
        f.users++;
        if (u.level > 1) {
            f.privileged_users++;
            f.privileged_with_totp += u.totp_confirmed;
        }
    }
    audit::VerifyReport v = _services.audit->verify();
    f.audit_intact = v.ok;
    f.audit_summary = v.ok ? v.summary : "broken: " + v.first_broken;
    f.audit_storage = audit::to_string(_services.audit->storage());
    std::ifstream in(_services.forwarding_status_file);
    Json st = in ? Json::parse(in, nullptr, false) : Json();
    if (st.is_object()) {
        f.forwarding_connected = st.value("connected", false);
        f.forwarding_detail = std::string(f.forwarding_connected ? "connected" : "not connected") +
                              ", last sent seq " +
                              std::to_string(st.value("last_sent_seq", uint64_t(0))) +
                              (st.value("last_error", std::string()).empty()
                                   ? ""
                                   : ", " + st.value("last_error", std::string()));
    } else {
        f.forwarding_detail = "forwarder not running";
    }
}

Reply Commands::storage_full() const {
    if (_services.audit && _services.audit->storage() == audit::Storage::full)
        return fail("the audit storage is full: configuration changes are refused until space "
                    "is freed, so that no record is ever dropped (R38-6)");
    return say("");
}

// Before the second factor is enrolled, or while the password must change, a session may
// do only that (R47, R118).
Reply Commands::restricted(Session &s, const std::vector<std::string> &w, int64_t now) {
    auto word = [&](size_t i) { return i < w.size() ? w[i] : std::string(); };
    if (starts(word(0), "exit") || starts(word(0), "quit")) {
        Reply r;
        r.exit = true;
        return r;
    }
    if (s.restriction == Restriction::enroll_otp && starts(word(0), "request") &&
        starts(word(1), "totp"))
        return request_totp(s, w, now);
    if (starts(word(0), "request") && starts(word(1), "password"))
        return request_password(s, now);
    if (s.restriction == Restriction::enroll_otp)
        return fail("level " + std::to_string(s.level) +
                    " needs a second factor before anything else (R47): run 'request totp "
                    "enroll', add the key to an authenticator app, then 'request totp confirm "
                    "<code>'");
    return fail("your password has to be changed before anything else (R118): run 'request "
                "password'");
}

Reply Commands::request(Session &s, const std::vector<std::string> &w, int64_t now) {
    auto word = [&](size_t i) { return i < w.size() ? w[i] : std::string(); };
    if (starts(word(1), "audit")) {
        if (!starts(word(2), "verify") || (!word(3).empty() && word(3) != "key") ||
            (word(3) == "key" && word(4).empty())) {
            Reply r = fail("expected 'request audit verify' or 'request audit verify key <the "
                           "64 hex digits of the initial key kept offline>'");
            r.audit_line = "request audit <arguments not recorded>";
            return r;
        }
        if (!_services.audit)
            return fail("no audit store in this process");
        audit::VerifyReport v;
        // The offline key never goes into the record, typed right or wrong.
        std::string redacted =
            word(3) == "key" ? "request audit verify key <offline key, not recorded>" : "";
        if (word(3) == "key") {
            // The auditor's offline copy of key 0: a re-seal by someone who replaced the
            // stored verify.key does not pass this.
            auto key = audit::key_from_hex(word(4));
            if (!key) {
                Reply r = fail(key.error().message);
                r.audit_line = redacted;
                return r;
            }
            v = audit::verify_dir(_services.audit->dir(), key.value());
        } else {
            v = _services.audit->verify();
        }
        Reply r;
        r.audit_action = "audit-verify";
        r.audit_line = redacted;
        if (v.ok) {
            r.output = v.summary + "\n";
            return r;
        }
        r.ok = false;
        r.error = "the audit log is broken (R38-6): " + v.first_broken + "\n" + v.summary;
        r.alert = true;
        r.alert_text = "audit verification failed: " + v.first_broken;
        return r;
    }
    if (starts(word(1), "user"))
        return request_user(s, w, now);
    if (starts(word(1), "password"))
        return request_password(s, now);
    if (starts(word(1), "totp"))
        return request_totp(s, w, now);
    return fail("expected 'request' followed by one of: audit verify, password, totp enroll, "
                "totp confirm <code>, user add|delete|level|password|unlock|totp-reset <name>");
}

Reply Commands::request_password(Session &s, int64_t now) {
    if (!_services.auth)
        return fail("no user database in this process");
    if (Reply full = storage_full(); !full.ok)
        return full;
    auto a = s.answers;
    if (!a.count("old") || !a.count("new") || !a.count("again")) {
        Reply r;
        r.ask = {{"old", "Current password: "},
                 {"new", "New password: "},
                 {"again", "Retype new password: "}};
        return r;
    }
    if (a["new"] != a["again"])
        return fail("the two new passwords differ; nothing changed");
    auto st = _services.auth->set_password(s.user, a["old"], a["new"], false, now);
    if (!st)
        return fail(st.error().message);
    Reply r = say("password changed\n");
    r.audit_action = "password";
    if (s.restriction == Restriction::change_password) {
        r.output += "log in again with the new password\n";
        r.exit = true;
    }
    return r;
}

Reply Commands::request_totp(Session &s, const std::vector<std::string> &w, int64_t now) {
    if (!_services.auth)
        return fail("no user database in this process");
    auto word = [&](size_t i) { return i < w.size() ? w[i] : std::string(); };
    if (starts(word(2), "enroll")) {
        bool ascii = starts(word(3), "ascii");
        auto e = _services.auth->begin_totp(s.user, ascii);
        if (!e)
            return fail(e.error().message);
        Reply r = say("Add this key to an authenticator app (RFC 6238, SHA-1, 6 digits, 30 s):\n"
                      "  key: " +
                      e.value().secret_b32 + "\n  uri: " + e.value().uri + "\n\n" + e.value().qr +
                      "\nThen confirm with: request totp confirm <code>\n");
        r.audit_action = "totp-enroll";
        return r;
    }
    if (starts(word(2), "confirm")) {
        if (word(3).empty())
            return fail("expected 'request totp confirm <6-digit code>'");
        auto st = _services.auth->confirm_totp(s.user, word(3), now);
        Reply r;
        r.audit_action = "totp-confirm";
        if (!st) {
            r.ok = false;
            r.error = st.error().message;
            return r;
        }
        r.output = "second factor confirmed (R47)\n";
        if (s.restriction == Restriction::enroll_otp) {
            r.output += "log in again with your password and a code\n";
            r.exit = true;
        }
        return r;
    }
    return fail("expected 'request totp enroll [ascii]' or 'request totp confirm <code>'");
}

Reply Commands::request_user(Session &s, const std::vector<std::string> &w, int64_t now) {
    if (!_services.auth)
        return fail("no user database in this process");
    auto &auth = *_services.auth;
    auto word = [&](size_t i) { return i < w.size() ? w[i] : std::string(); };
    const std::string usage =
        "expected 'request user add <name> role <role>|level <n>', 'request user delete <name>', "
        "'request user level <name> role <role>|level <n>', 'request user password <name>', "
        "'request user unlock <name>' or 'request user totp-reset <name>'";
    std::string verb = word(2), name = word(3);
    if (verb.empty() || name.empty())
        return fail(usage);
    if (Reply full = storage_full(); !full.ok)
        return full;
    auto security_admins_left = [&](const std::string &without, int new_level) {
        unsigned n = 0;
        for (const auto &u : auth.users()) {
            int lvl = u.name == without ? new_level : u.level;
            if (level_classes(_system.login, lvl) &
                config::class_bit(config::CommandClass::security))
                n++;
        }
        return n;
    };
    Reply r;
    r.audit_action = "user";
    if (starts(verb, "add")) {
        auto level = level_words(w, 4);
        if (!level)
            return fail(level.error().message);
        if (!s.answers.count("new") || !s.answers.count("again")) {
            r.ask = {{"new", "Password for " + name + ": "}, {"again", "Retype it: "}};
            return r;
        }
        if (s.answers["new"] != s.answers["again"])
            return fail("the two passwords differ; no user added");
        auto st = auth.add_user(name, level.value(), s.answers["new"], now);
        if (!st)
            return fail(st.error().message);
        r.output = "user " + name + " added at level " + std::to_string(level.value()) + " (" +
                   role_of_level(level.value()) + ")";
        if (level.value() > 1)
            r.output += "; a second factor is enrolled at the first login (R47)";
        r.output += "\n";
        return r;
    }
    if (!auth.find(name))
        return fail("no user '" + name + "'; 'show users' lists them");
    if (starts(verb, "delete")) {
        if (name == s.user)
            return fail("you cannot delete your own account");
        if (security_admins_left(name, -1) == 0)
            return fail("refused: it would leave no security administrator");
        auto st = auth.remove_user(name);
        if (!st)
            return fail(st.error().message);
        r.output = "user " + name + " deleted\n";
        return r;
    }
    if (starts(verb, "level")) {
        auto level = level_words(w, 4);
        if (!level)
            return fail(level.error().message);
        if (name == s.user)
            return fail("you cannot change your own level (R102-2)");
        if (security_admins_left(name, level.value()) == 0)
            return fail("refused: it would leave no security administrator");
        auto st = auth.set_level(name, level.value());
        if (!st)
            return fail(st.error().message);
        r.output = "user " + name + " is now at level " + std::to_string(level.value()) + " (" +
                   role_of_level(level.value()) + ")\n";
        return r;
    }
    if (starts(verb, "password")) {
        if (!s.answers.count("new") || !s.answers.count("again")) {
            r.ask = {{"new", "New password for " + name + ": "}, {"again", "Retype it: "}};
            return r;
        }
        if (s.answers["new"] != s.answers["again"])
            return fail("the two passwords differ; nothing changed");
        auto st = auth.set_password(name, "", s.answers["new"], true, now);
        if (!st)
            return fail(st.error().message);
        r.output = "password of " + name + " set\n";
        return r;
    }
    if (starts(verb, "unlock")) {
        auto st = auth.unlock(name);
        if (!st)
            return fail(st.error().message);
        r.output = "user " + name + " unlocked\n";
        return r;
    }
    if (starts(verb, "totp-reset")) {
        auto st = auth.reset_totp(name);
        if (!st)
            return fail(st.error().message);
        r.output = "second factor of " + name + " reset; it is enrolled again at the next login\n";
        return r;
    }
    return fail(usage);
}

Reply Commands::show_users(int64_t now) {
    if (!_services.auth)
        return fail("no user database in this process");
    std::ostringstream o;
    char line[256];
    std::snprintf(line, sizeof(line), "%-16s %-5s %-15s %-10s %-20s %s\n", "User", "Level", "Role",
                  "2nd factor", "Locked until (UTC)", "Password set (UTC)");
    o << line;
    for (const auto &u : _services.auth->users()) {
        std::string otp = u.totp_confirmed ? "totp" : !u.totp_secret.empty() ? "pending" : "none";
        std::snprintf(line, sizeof(line), "%-16s %-5d %-15s %-10s %-20s %s\n", u.name.c_str(),
                      u.level, role_of_level(u.level).c_str(), otp.c_str(),
                      u.locked_until > now ? utc(u.locked_until).c_str() : "-",
                      utc(u.password_changed).c_str());
        o << line;
    }
    return say(o.str());
}

Reply Commands::show_log(const std::vector<std::string> &w, int64_t now) {
    auto word = [&](size_t i) { return i < w.size() ? w[i] : std::string(); };
    if (starts(word(2), "forwarding")) {
        if (!_system.audit.syslog || _services.forwarding_status_file.empty())
            return say("remote copy: not configured (system audit syslog)\n");
        std::ifstream in(_services.forwarding_status_file);
        if (!in)
            return say("remote copy: configured, forwarder not running yet\n");
        Json st = Json::parse(in, nullptr, false);
        if (st.is_discarded() || !st.is_object())
            return fail("the forwarder's status file is unreadable");
        std::ostringstream o;
        for (const auto &[k, v] : st.items())
            o << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
        return say(o.str());
    }
    if (!starts(word(2), "audit"))
        return fail("expected 'show log audit [user U] [action A] [since T] [until T] [last N]' "
                    "or 'show log forwarding'");
    if (!_services.audit)
        return fail("no audit store in this process");
    audit::Filter f;
    f.since_us = (now - int64_t(60) * 86400) * 1000000; // the online window (R38-4)
    f.limit = 100;
    for (size_t i = 3; i < w.size(); i += 2) {
        if (i + 1 >= w.size())
            return fail("'" + w[i] + "' needs a value");
        const std::string &k = w[i], &v = w[i + 1];
        if (k == "user")
            f.user = v;
        else if (k == "action")
            f.action = v;
        else if (k == "since" || k == "until") {
            auto t = parse_utc(v);
            if (!t)
                return fail("'" + v +
                            "' is not a UTC time; expected 2026-11-25 or "
                            "\"2026-11-25 18:40\"");
            (k == "since" ? f.since_us : f.until_us) = *t * 1000000;
        } else if (k == "last") {
            if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), ::isdigit) ||
                std::stoul(v) == 0)
                return fail("'last' takes a number of records, 1..999999");
            f.limit = std::stoul(v);
        } else
            return fail("unknown filter '" + k + "'; expected user, action, since, until or last");
    }
    auto records = _services.audit->query(f);
    if (!records)
        return fail(records.error().message);
    std::ostringstream o;
    char line[512];
    std::snprintf(line, sizeof(line), "%-7s %-27s %-12s %-5s %-9s %-18s %-8s %s\n", "Seq",
                  "Time (UTC)", "User", "Level", "Session", "Action", "Result", "Detail");
    o << line;
    for (const auto &r : records.value()) {
        std::string time = r.time + (r.clock_synced ? "" : "*");
        std::snprintf(line, sizeof(line), "%-7llu %-27s %-12s %-5s %-9s %-18s %-8s %s\n",
                      static_cast<unsigned long long>(r.seq), time.c_str(),
                      r.user.empty() ? "-" : r.user.c_str(),
                      r.level < 0 ? "-" : std::to_string(r.level).c_str(),
                      r.session.empty() ? "-" : r.session.c_str(), r.action.c_str(),
                      first_line(r.result, 8).c_str(), first_line(r.detail, 80).c_str());
        o << line;
    }
    o << records.value().size() << " records";
    if (records.value().size() == f.limit)
        o << " (the newest " << f.limit << "; 'last N' shows more)";
    o << "; * marks a time written while the clock was not synchronized\n";
    return say(o.str());
}

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's service loop; see service.h.
#include "control/service.h"

#include "common/framing.h"
#include "config/config.h"
#include "control/audit/store.h"
#include "control/auth/authenticator.h"
#include "control/commands.h"
#include "control/dataplane_client.h"
#include "control/privilege.h"
#include "control/store.h"
#include "control/transactions.h"

#include <openssl/rand.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fnmatch.h>
#include <map>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace qorgan::control {

namespace {

void log_line(const std::string &s) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::printf("%s qorgand: %s\n", ts, s.c_str());
    std::fflush(stdout);
}

auth::LoginPolicy login_policy(const config::System &sys) {
    auth::LoginPolicy p;
    const auto &l = sys.login;
    p.password.min_length = l.password.min_length;
    p.password.min_classes = l.password.min_classes;
    p.password.history = l.password.history;
    p.password.max_age_days = l.password.max_age_days;
    p.lockout_failures = l.lockout_failures;
    p.lockout_seconds = l.lockout_time;
    p.alert_failures = l.alert_failures;
    p.otp_above_level = 1; // above operator (R47)
    return p;
}

void apply_audit_settings(audit::Store &store, const config::System &sys) {
    audit::Options opts;
    opts.retention_days = sys.audit.retention_days;
    opts.warn_percent = sys.audit.warn_percent;
    auto st = store.set_options(opts);
    if (!st)
        log_line("audit settings: " + st.error().message);
}

bool matches_any(const std::string &globs, const std::string &path) {
    std::stringstream in(globs);
    for (std::string g; std::getline(in, g, ',');)
        if (!g.empty() && fnmatch(g.c_str(), path.c_str(), 0) == 0)
            return true;
    return false;
}

std::string random_id() {
    unsigned char b[4];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return "00000000";
    char out[9];
    std::snprintf(out, sizeof(out), "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    return out;
}

// The terminal on the peer's standard input, read from /proc (so a shell cannot claim to
// be on the console when it is not); "" when /proc does not tell.
std::string peer_tty(pid_t pid) {
    char link[4096];
    std::string path = "/proc/" + std::to_string(pid) + "/fd/0";
    ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
    if (n <= 0)
        return "";
    std::string t(link, size_t(n));
    return t.rfind("/dev/", 0) == 0 ? t : "";
}

int64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

struct Client {
    Session session;
    bool authed = false;
    int64_t started = 0, last = 0;
    unsigned login_failures = 0;
    ucred peer{};
    // A kept session outlives its connection until exit or its time limits, so that a
    // script logs in once (with its second factor) and runs later commands in it.
    std::string token;
};

class Service {
public:
    Service(const ServiceOptions &o, Store &store, DataplaneClient &dataplane, Transactions &tx,
            audit::Store &audit, auth::Authenticator &auth, Commands &commands)
        : _o(o), _store(store), _dataplane(dataplane), _tx(tx), _audit(audit), _auth(auth),
          _commands(commands) {}

    int run(volatile std::sig_atomic_t &stopping);

private:
    // One audit record; false (and a log line) when it could not be written.
    bool record(const Session *s, const std::string &action, const std::string &detail,
                const std::string &result) {
        audit::Event e;
        if (s) {
            e.user = s->user;
            e.level = s->level;
            e.session = s->id;
            e.terminal = s->terminal;
            e.source = s->source;
        }
        e.action = action;
        e.detail = detail;
        e.result = result;
        auto r = _audit.append(e);
        if (!r) {
            log_line("AUDIT WRITE FAILED (" + action + "): " + r.error().message);
            return false;
        }
        return true;
    }
    bool system_record(const std::string &action, const std::string &detail,
                       const std::string &result = "ok") {
        return record(nullptr, action, detail, result);
    }

    Json hello(Client &c, const Json &m);
    Json login(Client &c, const Json &m, int64_t now);
    Json resume(Client &c, const Json &m, int64_t now);
    Json exec(Client &c, const Json &m, int64_t now);
    void end_session(int fd, Client &c, const std::string &why, bool tell);
    void check_sessions(int64_t now);
    void check_dataplane(int64_t now);
    void check_storage();
    void check_clock();
    void arm_clock_watch();
    void manage_logfwd(int64_t now, bool stop);

    const ServiceOptions &_o;
    Store &_store;
    DataplaneClient &_dataplane;
    Transactions &_tx;
    audit::Store &_audit;
    auth::Authenticator &_auth;
    Commands &_commands;
    std::map<int, Client> _clients;
    std::map<std::string, Client> _kept; // by token: kept sessions with no connection now
    int _clock_fd = -1;
    int64_t _wall_minus_mono_ms = 0;
    // dataplane liveness
    int _dp_state = 0; // 0 unknown, 1 up, -1 down
    int64_t _dp_uptime = 0;
    int64_t _next_dp_check = 0;
    audit::Storage _storage = audit::Storage::ok;
    // syslog forwarder child
    pid_t _logfwd = -1;
    std::string _logfwd_args;
    int64_t _logfwd_next_start = 0;
};

Json Service::hello(Client &c, const Json &m) {
    Session &s = c.session;
    std::string claimed = m.value("terminal", std::string());
    std::string seen = peer_tty(c.peer.pid);
    s.terminal = seen.empty() ? claimed : seen;
    // Console only when /proc confirms the terminal, or root says so.
    s.console = !s.terminal.empty() && matches_any(_o.console_ttys, s.terminal) &&
                (!seen.empty() || c.peer.uid == 0);
    std::string source = m.value("source", std::string());
    if (s.console)
        s.source = "console";
    else if (!source.empty() && source.size() <= 64 &&
             source.find_first_not_of("0123456789abcdefABCDEF.:") == std::string::npos)
        s.source = source; // the SSH client's address
    else
        s.source = "local";
    std::string banner = _commands.system().host_name +
                         ": Qorgan border gateway. Authorized use only; every action is "
                         "recorded (R128-c).\n";
    return {{"ok", true}, {"login", true}, {"banner", banner}};
}

Json ask_json(const std::vector<std::pair<std::string, std::string>> &qs, bool secret) {
    Json a = Json::array();
    for (const auto &[k, p] : qs)
        a.push_back({{"key", k}, {"prompt", p}, {"secret", secret}});
    return a;
}

Json Service::login(Client &c, const Json &m, int64_t now) {
    Session &s = c.session;
    if (c.authed)
        return {{"ok", false}, {"error", "already logged in as " + s.user}};
    const Json answers = m.contains("answers") && m["answers"].is_object() ? m["answers"] : Json{};
    auto get = [&](const char *k) -> std::optional<std::string> {
        if (answers.contains(k) && answers[k].is_string())
            return answers[k].get<std::string>();
        return std::nullopt;
    };
    auto user = get("user");
    if (!user || user->empty())
        return {{"ok", true}, {"ask", ask_json({{"user", "login: "}}, false)}};
    Session who = s;
    who.user = *user;
    if (*user == "recovery") { // break-glass (docs/ADMIN-ACCESS.md)
        if (!s.console) {
            record(&who, "break-glass", "refused: not on the local console", "refused");
            return {{"ok", false},
                    {"error", "break-glass works only on the local console; see "
                              "docs/ADMIN-ACCESS.md"},
                    {"restart", true}};
        }
        auto code = get("code"), account = get("account"), pw = get("new"), again = get("again");
        if (!code)
            return {{"ok", true}, {"ask", ask_json({{"code", "Recovery code: "}}, true)}};
        if (!account)
            return {{"ok", true}, {"ask", ask_json({{"account", "Account to recover: "}}, false)}};
        if (!pw || !again)
            return {{"ok", true},
                    {"ask", ask_json({{"new", "New password: "}, {"again", "Retype it: "}}, true)}};
        if (*pw != *again)
            return {{"ok", false}, {"error", "the two passwords differ"}, {"restart", true}};
        auto r = _auth.break_glass(*code, *account, *pw, true, now);
        if (!r) {
            record(&who, "break-glass", "account " + *account, "failed: " + r.error().message);
            return {{"ok", false}, {"error", r.error().message}, {"restart", true}};
        }
        record(&who, "break-glass", "account " + *account + " recovered on the console", "ok");
        system_record("alert",
                      "break-glass used on " + s.terminal + " for account " + *account + " (R52)");
        return {{"ok", false},
                {"error", "account " + *account +
                              " recovered: log in with the new password and enrol a second "
                              "factor. The next recovery code (write it down, it is shown "
                              "once): " +
                              r.value()},
                {"restart", true}};
    }
    auto pw = get("password");
    if (!pw)
        return {{"ok", true}, {"ask", ask_json({{"password", "Password: "}}, true)}};
    auth::LoginAttempt a;
    a.user = *user;
    a.password = *pw;
    a.otp = get("otp").value_or("");
    a.source = s.source;
    a.console = s.console;
    a.now = now;
    auth::LoginOutcome out = _auth.login(a);
    for (const std::string &fact : out.audit) {
        bool alert = fact.rfind("alert:", 0) == 0;
        bool lock = !alert && fact.find("locked until") != std::string::npos;
        record(&who,
               alert  ? "alert"
               : lock ? "lockout"
                      : "auth",
               fact,
               alert  ? "raised"
               : lock ? "locked"
                      : "noted");
    }
    if (out.alert)
        system_record("alert", "repeated authentication failures for '" + *user + "' from " +
                                   s.source + " (R52)");
    switch (out.status) {
    case auth::LoginStatus::need_otp:
        return {{"ok", true}, {"ask", ask_json({{"otp", "Verification code: "}}, true)}};
    case auth::LoginStatus::failed:
    case auth::LoginStatus::locked: {
        bool locked = out.status == auth::LoginStatus::locked;
        record(&who, "login-failed", out.detail.empty() ? out.message : out.detail,
               locked ? "locked" : "failed");
        c.login_failures++;
        return {{"ok", false}, {"error", out.message}, {"restart", true}};
    }
    case auth::LoginStatus::ok:
    case auth::LoginStatus::must_enroll_otp:
    case auth::LoginStatus::must_change_password:
        break;
    }
    c.authed = true;
    c.started = c.last = now;
    s.user = *user;
    s.level = out.level;
    s.classes = _commands.classes_of(out.level);
    s.id = random_id();
    s.refusals = 0;
    s.restriction = out.status == auth::LoginStatus::must_enroll_otp ? Restriction::enroll_otp
                    : out.status == auth::LoginStatus::must_change_password
                        ? Restriction::change_password
                        : Restriction::none;
    std::string how = out.status == auth::LoginStatus::ok        ? "ok"
                      : s.restriction == Restriction::enroll_otp ? "ok, must enrol a second factor"
                                                                 : "ok, must change the password";
    if (m.value("keep", false)) {
        c.token = random_id() + random_id() + random_id() + random_id();
        how += ", kept for scripts";
    }
    record(&s, "login",
           "level " + std::to_string(s.level) + " (" + role_of_level(s.level) + ")" +
               (out.detail.empty() ? "" : "; " + out.detail),
           how);
    std::string message = out.message;
    if (s.restriction == Restriction::enroll_otp)
        message += "\nRun 'request totp enroll', add the key to an authenticator app, then "
                   "'request totp confirm <code>' (R47).";
    if (s.restriction == Restriction::change_password)
        message += "\nRun 'request password' to choose a new one (R118).";
    return {{"ok", true},         {"done", true},
            {"message", message}, {"prompt", _commands.prompt(s)},
            {"level", s.level},   {"session", s.id},
            {"token", c.token}};
}

Json Service::resume(Client &c, const Json &m, int64_t now) {
    std::string token = m.value("token", std::string());
    auto it = token.empty() ? _kept.end() : _kept.find(token);
    if (c.authed || it == _kept.end()) {
        Session who = c.session;
        who.user = "";
        record(&who, "login-failed", "resume of a kept session", "failed");
        return {{"ok", false}, {"error", "no such session: it ended or expired; log in again"}};
    }
    ucred peer = c.peer;
    std::string terminal = c.session.terminal;
    c = std::move(it->second);
    _kept.erase(it);
    c.peer = peer;
    c.last = now;
    record(&c.session, "resume", "from " + (terminal.empty() ? "no terminal" : terminal), "ok");
    return {{"ok", true}, {"prompt", _commands.prompt(c.session)}};
}

Json Service::exec(Client &c, const Json &m, int64_t now) {
    Session &s = c.session;
    std::string line = m["line"].get<std::string>();
    s.answers.clear();
    if (m.contains("answers") && m["answers"].is_object())
        for (const auto &[k, v] : m["answers"].items())
            if (v.is_string())
                s.answers[k] = v.get<std::string>();
    c.last = now;
    Reply r = _commands.exec(s, line, now);
    s.answers.clear();
    if (!r.ask.empty()) {
        Json a = Json::array();
        for (const Ask &q : r.ask)
            a.push_back({{"key", q.key}, {"prompt", q.prompt}, {"secret", true}});
        return {{"ok", true}, {"ask", a}, {"prompt", _commands.prompt(s)}};
    }
    std::string detail = (r.audit_line.empty() ? line : r.audit_line) +
                         (r.audit_detail.empty() ? "" : "\n" + r.audit_detail);
    std::string result = r.refused ? "refused" : r.ok ? "ok" : "error: " + r.error;
    bool written = record(&s, r.audit_action, detail, result);
    if (r.alert)
        record(&s, "alert", r.alert_text, "raised");
    if (r.ok && r.audit_action == "commit")
        log_line(s.user + ": " + r.output.substr(0, r.output.find('\n')));
    if (!written) {
        r.ok = false;
        r.error = "the audit record of this command could not be written; tell the security "
                  "administrator (R38-6)" +
                  (r.error.empty() ? "" : "; the command said: " + r.error);
    }
    return {{"ok", r.ok},
            {"output", r.output},
            {"error", r.error},
            {"prompt", _commands.prompt(s)},
            {"exit", r.exit}};
}

void Service::end_session(int fd, Client &c, const std::string &why, bool tell) {
    if (c.authed && !c.token.empty() && why == "the shell disconnected") {
        close(fd);
        std::string token = c.token;
        _kept[token] = std::move(c);
        return;
    }
    if (c.authed)
        record(&c.session, "logout", why, "ok");
    if (tell)
        (void)send_message(fd, Json{{"op", "bye"}, {"reason", why}}, 500);
    close(fd);
}

void Service::check_sessions(int64_t now) {
    const auto &l = _commands.system().login;
    auth::SessionLimits limits{int64_t(l.idle_timeout), int64_t(l.session_lifetime)};
    for (auto it = _clients.begin(); it != _clients.end();) {
        Client &c = it->second;
        std::string why = c.authed ? auth::session_expiry(limits, c.started, c.last, now) : "";
        // A connection that does not log in gets a grace time, as sshd's LoginGraceTime.
        constexpr int64_t login_grace = 120;
        if (!c.authed && now - c.last > login_grace)
            why = "no login within " + std::to_string(login_grace) + " s (R118)";
        if (why.empty()) {
            ++it;
            continue;
        }
        end_session(it->first, c, "session ended: " + why, true);
        it = _clients.erase(it);
    }
    for (auto it = _kept.begin(); it != _kept.end();) {
        Client &c = it->second;
        std::string why = auth::session_expiry(limits, c.started, c.last, now);
        if (why.empty()) {
            ++it;
            continue;
        }
        record(&c.session, "logout", "kept session ended: " + why, "ok");
        it = _kept.erase(it);
    }
}

void Service::check_dataplane(int64_t now) {
    if (now < _next_dp_check)
        return;
    _next_dp_check = now + 5;
    auto st = _dataplane.request(Json{{"op", "status"}});
    if (!st) {
        if (_dp_state == 1)
            system_record("service",
                          "qorgan-dataplane stopped or unreachable: " + st.error().message, "down");
        _dp_state = -1;
        return;
    }
    int64_t uptime = st.value().value("uptime_s", int64_t(0));
    if (_dp_state != 1 || uptime < _dp_uptime)
        system_record("service",
                      "qorgan-dataplane running (uptime " + std::to_string(uptime) + " s)", "up");
    _dp_state = 1;
    _dp_uptime = uptime;
}

void Service::check_storage() {
    audit::Storage now = _audit.storage();
    if (now == _storage)
        return;
    const char *names[] = {"ok", "warning", "full"};
    std::string text =
        std::string("audit storage ") + names[int(now)] +
        (now == audit::Storage::full ? ": configuration changes are refused until space is freed"
                                     : "");
    system_record("storage", text, names[int(now)]);
    if (now != audit::Storage::ok)
        system_record("alert", text + " (R38-6)", "raised");
    log_line(text);
    _storage = now;
}

void Service::arm_clock_watch() {
    if (_clock_fd < 0)
        _clock_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (_clock_fd < 0)
        return;
    itimerspec far{};
    far.it_value.tv_sec = std::time(nullptr) + 10 * 365 * 86400L;
    timerfd_settime(_clock_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &far, nullptr);
    timespec wall{};
    clock_gettime(CLOCK_REALTIME, &wall);
    _wall_minus_mono_ms = int64_t(wall.tv_sec) * 1000 + wall.tv_nsec / 1000000 - monotonic_ms();
}

// A settimeofday()/clock_settime() on the host cancels the timer: that is a time change.
void Service::check_clock() {
    if (_clock_fd < 0)
        return;
    uint64_t n = 0;
    if (read(_clock_fd, &n, sizeof(n)) < 0 && errno == ECANCELED) {
        int64_t before = _wall_minus_mono_ms;
        arm_clock_watch();
        int64_t jump = _wall_minus_mono_ms - before;
        system_record("time-change",
                      "the system clock was set: it moved by " + std::to_string(jump) + " ms",
                      "ok");
    }
}

void Service::manage_logfwd(int64_t now, bool stop) {
    if (_logfwd > 0) {
        int status = 0;
        pid_t r = waitpid(_logfwd, &status, WNOHANG);
        if (r == _logfwd) {
            system_record("service",
                          "qorgan-logfwd exited (" +
                              (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                                 : "signal " + std::to_string(WTERMSIG(status))) +
                              ")",
                          "down");
            _logfwd = -1;
            _logfwd_next_start = now + 2;
        }
    }
    const auto &target = _commands.system().audit.syslog;
    std::vector<std::string> args;
    if (target && !stop) {
        std::string audit_dir = _o.state_dir + "/audit";
        args = {_o.logfwd_binary,
                "--audit-dir",
                audit_dir,
                "--state",
                _o.state_dir + "/logfwd.cursor",
                "--status",
                _o.state_dir + "/logfwd.status.json",
                "--server",
                target->server,
                "--port",
                std::to_string(target->port),
                "--ca",
                target->ca_file,
                "--hostname",
                _commands.system().host_name};
        if (!target->certificate.empty())
            args.insert(args.end(), {"--cert", target->certificate, "--key", target->key});
        if (!target->server_name.empty())
            args.insert(args.end(), {"--server-name", target->server_name});
    }
    std::string joined;
    for (const auto &a : args)
        joined += a + '\0';
    if (_logfwd > 0 && joined != _logfwd_args) { // settings changed or removed
        kill(_logfwd, SIGTERM);
        for (int i = 0; i < 50 && waitpid(_logfwd, nullptr, WNOHANG) == 0; i++)
            usleep(20000);
        if (waitpid(_logfwd, nullptr, WNOHANG) == 0) {
            kill(_logfwd, SIGKILL);
            waitpid(_logfwd, nullptr, 0);
        }
        system_record("service", "qorgan-logfwd stopped (settings changed)", "down");
        _logfwd = -1;
        _logfwd_next_start = 0;
    }
    if (_logfwd > 0 || args.empty() || now < _logfwd_next_start)
        return;
    std::string log_path = _o.state_dir + "/logfwd.log";
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        std::vector<char *> argv;
        for (auto &a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    if (pid < 0) {
        log_line(std::string("cannot start qorgan-logfwd: ") + std::strerror(errno));
        _logfwd_next_start = now + 5;
        return;
    }
    _logfwd = pid;
    _logfwd_args = joined;
    system_record("service",
                  "qorgan-logfwd started for " + target->server + ":" +
                      std::to_string(target->port) + " (pid " + std::to_string(pid) + ")",
                  "up");
}

int Service::run(volatile std::sig_atomic_t &stopping) {
    auto listen_r = listen_unix(_o.socket);
    if (!listen_r) {
        std::fprintf(stderr, "qorgand: %s\n", listen_r.error().to_string().c_str());
        return 1;
    }
    int lfd = listen_r.value();
    system_record("service", "qorgand started (pid " + std::to_string(getpid()) + ")", "up");
    log_line("listening on " + _o.socket + ", state in " + _o.state_dir);
    arm_clock_watch();
    bool synced = false;
    time_t next_sync = 0, next_tick = 0;

    while (!stopping) {
        time_t now = std::time(nullptr);
        if (!synced && now >= next_sync) {
            auto r = _tx.recover();
            if (r) {
                synced = true;
                log_line(r.value());
                _commands.refresh_system();
            } else {
                log_line("recover: " + r.error().to_string() + " (retrying)");
                next_sync = now + 2;
            }
        }
        if (now >= next_tick) {
            uint32_t before = _store.running();
            auto rolled = _tx.tick(now);
            if (!rolled)
                log_line("commit confirmed rollback failed: " + rolled.error().to_string());
            else if (rolled.value()) {
                std::string text = "commit confirmed was not confirmed: rolled back from "
                                   "revision " +
                                   std::to_string(before) + " to revision " +
                                   std::to_string(_store.running());
                log_line(text);
                system_record("commit", text, "ok");
                _commands.refresh_system();
            }
            _auth.set_policy(login_policy(_commands.system()));
            apply_audit_settings(_audit, _commands.system());
            (void)_audit.seal_if_due();
            check_sessions(now);
            check_storage();
            check_clock();
            if (synced)
                check_dataplane(now);
            manage_logfwd(now, false);
            next_tick = now + 1;
        }
        std::vector<pollfd> fds{{lfd, POLLIN, 0}};
        for (auto &[fd, c] : _clients)
            fds.push_back({fd, POLLIN, 0});
        int n = poll(fds.data(), fds.size(), 500);
        if (n <= 0)
            continue;
        now = std::time(nullptr);
        if (fds[0].revents & POLLIN) {
            int cfd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (cfd >= 0) {
                Client c;
                socklen_t len = sizeof(c.peer);
                getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c.peer, &len);
                c.last = now;
                _clients.emplace(cfd, std::move(c));
            }
        }
        for (size_t i = 1; i < fds.size(); i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int fd = fds[i].fd;
            auto it = _clients.find(fd);
            if (it == _clients.end())
                continue;
            Client &c = it->second;
            Session &s = c.session;
            auto msg = recv_message(fd, 2000);
            if (!msg) {
                end_session(fd, c, "the shell disconnected", false);
                _clients.erase(it);
                continue;
            }
            const Json &m = msg.value();
            Json reply;
            std::string op = m.is_object() ? m.value("op", "") : "";
            bool has_line = m.is_object() && m.contains("line") && m["line"].is_string();
            bool close_after = false;
            if (op == "hello") {
                reply = hello(c, m);
            } else if (op == "login") {
                reply = login(c, m, now);
            } else if (op == "resume") {
                reply = resume(c, m, now);
            } else if (!c.authed && (op == "prompt" || op == "exec" || op == "complete" ||
                                     op == "help" || op == "counters")) {
                reply = {{"ok", false},
                         {"login", true},
                         {"prompt", "login: "},
                         {"error", "log in first (R118)"}};
            } else if (op == "prompt") {
                reply = {{"ok", true}, {"prompt", _commands.prompt(s)}};
            } else if (op == "exec" && has_line) {
                reply = exec(c, m, now);
                close_after = reply.value("exit", false);
            } else if ((op == "complete" || op == "help") && has_line) {
                c.last = now;
                Json a = Json::array();
                if (s.restriction == Restriction::none)
                    for (const auto &cand : _commands.complete(s, m["line"].get<std::string>()))
                        a.push_back(Json{{"word", cand.word}, {"help", cand.help}});
                reply = {{"ok", true}, {"candidates", a}};
            } else if (op == "counters") {
                c.last = now;
                std::string start = m.value("start", std::string());
                bool allowed = s.classes & config::class_bit(config::CommandClass::traffic_view);
                if (!start.empty() || !allowed)
                    record(&s, allowed ? "command" : "privilege-refused",
                           start.empty() ? "monitor interface" : start.substr(0, 80),
                           allowed ? "ok" : "refused");
                if (!allowed) {
                    reply = {{"ok", false},
                             {"error", "permission denied (R128-b): 'monitor interface' needs "
                                       "the class traffic-view"}};
                } else {
                    auto r = _commands.counters();
                    reply = r ? r.value() : Json{{"ok", false}, {"error", r.error().message}};
                    if (r)
                        reply["time_ms"] = monotonic_ms();
                }
            } else {
                reply = {{"ok", false},
                         {"error", "unknown request; expected op hello, login, resume, prompt, "
                                   "exec, complete, help or counters"}};
            }
            if (!send_message(fd, reply)) {
                end_session(fd, c, "the shell disconnected", false);
                _clients.erase(it);
                continue;
            }
            if (close_after) {
                c.token.clear(); // exit ends a kept session too
                end_session(fd, c, "exit", false);
                _clients.erase(it);
            }
        }
    }
    for (auto &[fd, c] : _clients) {
        c.token.clear();
        end_session(fd, c, "qorgand stopped", true);
    }
    _clients.clear();
    for (auto &[token, c] : _kept)
        record(&c.session, "logout", "kept session ended: qorgand stopped", "ok");
    _kept.clear();
    manage_logfwd(std::time(nullptr), true);
    system_record("service", "qorgand stopped", "down");
    (void)_audit.seal();
    close(lfd);
    unlink(_o.socket.c_str());
    log_line("stopped");
    return 0;
}

Result<std::unique_ptr<audit::Store>> open_audit(const std::string &state_dir) {
    return audit::Store::open(state_dir + "/audit");
}

} // namespace

int run_service(const ServiceOptions &o, volatile std::sig_atomic_t &stopping) {
    umask(077);
    auto store_r = Store::open(o.state_dir);
    if (!store_r) {
        std::fprintf(stderr, "qorgand: %s\n", store_r.error().to_string().c_str());
        return 1;
    }
    Store store = std::move(store_r.value());
    auto audit_r = open_audit(o.state_dir);
    if (!audit_r) {
        std::fprintf(stderr, "qorgand: audit store: %s\n", audit_r.error().to_string().c_str());
        return 1;
    }
    auto &audit = *audit_r.value();
    auto auth_r = auth::Authenticator::open(o.state_dir + "/auth", auth::LoginPolicy{});
    if (!auth_r) {
        std::fprintf(stderr, "qorgand: %s\n", auth_r.error().to_string().c_str());
        return 1;
    }
    auto &auth = *auth_r.value();
    DataplaneClient dataplane(o.dataplane_socket);
    Transactions tx(store, dataplane, o.bootstrap_text);
    IkeOptions ike_options;
    ike_options.vici = o.ike_vici;
    ike_options.swanctl = o.swanctl;
    IkeControl ike(ike_options);
    Services services{&auth, &audit, o.state_dir + "/logfwd.status.json", &ike};
    Commands commands(
        tx, [&](const Json &req) { return dataplane.request(req); }, services);
    auth.set_policy(login_policy(commands.system()));
    apply_audit_settings(audit, commands.system());
    if (auth.empty())
        log_line("no administrators yet: add the first with 'qorgand --add-user NAME --role "
                 "security-admin' (see docs/ADMIN-ACCESS.md)");
    Service service(o, store, dataplane, tx, audit, auth, commands);
    return service.run(stopping);
}

Result<std::string> offline_add_user(const ServiceOptions &o, const std::string &name, int level,
                                     const std::string &password) {
    umask(077);
    auto audit = open_audit(o.state_dir);
    if (!audit)
        return audit.error();
    auto auth = auth::Authenticator::open(o.state_dir + "/auth", auth::LoginPolicy{});
    if (!auth)
        return auth.error();
    audit::Event e;
    e.user = "root";
    e.source = "local";
    e.action = "user";
    e.detail = "offline: add user " + name + " at level " + std::to_string(level) + " (" +
               role_of_level(level) + ")";
    auto st = auth.value()->add_user(name, level, password, std::time(nullptr));
    e.result = st ? "ok" : "error: " + st.error().message;
    auto rec = audit.value()->append(e);
    if (!rec)
        return Error{{},
                     "the user was " + std::string(st ? "" : "not ") +
                         "added but the audit record failed: " + rec.error().message};
    if (!st)
        return st.error();
    return "user " + name + " added at level " + std::to_string(level) + " (" +
           role_of_level(level) + ")";
}

Result<std::string> offline_new_recovery_code(const ServiceOptions &o) {
    umask(077);
    auto audit = open_audit(o.state_dir);
    if (!audit)
        return audit.error();
    auto auth = auth::Authenticator::open(o.state_dir + "/auth", auth::LoginPolicy{});
    if (!auth)
        return auth.error();
    auto code = auth.value()->new_recovery_code();
    audit::Event e;
    e.user = "root";
    e.source = "local";
    e.action = "break-glass";
    e.detail = "offline: a new recovery code was made (the old one no longer works)";
    e.result = code ? "ok" : "error: " + code.error().message;
    auto rec = audit.value()->append(e);
    if (!rec)
        return rec.error();
    return code;
}

} // namespace qorgan::control

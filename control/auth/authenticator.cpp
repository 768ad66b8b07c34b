// SPDX-License-Identifier: GPL-2.0-or-later
// Logins, lockout, user management, TOTP enrolment and break-glass over users.json and
// recovery.json. Every change is written before it is kept in memory, except login counters:
// those stay in force even when the disk refuses them (the failure is reported instead).
#include "control/auth/authenticator.h"

#include "control/auth/qr.h"
#include "control/auth/state_file.h"
#include "control/auth/totp.h"

#include <algorithm>
#include <ctime>

namespace qorgan::auth {

namespace {

// Sources and unknown names tracked at once; beyond that the stalest entries are dropped.
constexpr size_t max_tracked = 1024;
constexpr size_t max_key_bytes = 64;
constexpr const char *incorrect = "login incorrect";

std::string users_path(const std::string &dir) {
    return dir + "/users.json";
}
std::string recovery_path(const std::string &dir) {
    return dir + "/recovery.json";
}

// Text from the network as it may appear in an audit line: printable ASCII, bounded.
std::string shown(const std::string &s) {
    std::string out;
    for (char c : s.substr(0, max_key_bytes))
        out += c >= 0x20 && c < 0x7f ? c : '?';
    return out;
}

// The local console is never source-locked, so lockout always leaves a way in.
bool source_lockable(const LoginAttempt &a) {
    return !a.console && a.source != "console";
}

Error user_error(const std::string &message) {
    return Error{{}, message};
}

Error no_user(const std::string &name) {
    return user_error("no user '" + shown(name) + "'");
}

// Frees a slot in `tracked`: first entries whose lock and window are over, then the stalest.
void make_room(std::map<std::string, FailureWindow> &tracked, int64_t window, int64_t now) {
    if (tracked.size() < max_tracked)
        return;
    std::erase_if(tracked, [&](const auto &entry) {
        return !is_locked(entry.second.locked_until, now) &&
               now - entry.second.first_failure >= window;
    });
    auto last_seen = [](const auto &entry) {
        return std::max(entry.second.first_failure, entry.second.locked_until);
    };
    while (tracked.size() >= max_tracked)
        tracked.erase(
            std::min_element(tracked.begin(), tracked.end(), [&](const auto &a, const auto &b) {
                return last_seen(a) < last_seen(b);
            }));
}

std::string locked_message(int64_t until, bool console) {
    std::string m = "too many failed logins: locked until " + utc_time(until);
    if (console)
        m += "; an administrator can unlock the account, or use break-glass on this console "
             "(docs/ADMIN-ACCESS.md)";
    return m;
}

// The current hash first, then the older ones: what check_password compares against.
std::vector<std::string> previous_hashes(const User &u) {
    std::vector<std::string> all{u.hash};
    all.insert(all.end(), u.history.begin(), u.history.end());
    return all;
}

void replace_hash(User &u, std::string hash, uint32_t keep, int64_t now) {
    u.history.insert(u.history.begin(), u.hash);
    if (u.history.size() > keep)
        u.history.resize(keep);
    u.hash = std::move(hash);
    u.password_changed = now;
}

void clear_totp(User &u) {
    u.totp_secret.clear();
    u.totp_confirmed = false;
    u.totp_last_step = -1;
}

Status check_level(int level) {
    if (level < min_level || level > max_level)
        return user_error("level " + std::to_string(level) + " is outside " +
                          std::to_string(min_level) + ".." + std::to_string(max_level));
    return Ok{};
}

} // namespace

std::string utc_time(int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    char buf[64];
    if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%F %T UTC", &tm) == 0)
        return std::to_string(unix_seconds) + " (unix time)";
    return buf;
}

Authenticator::Authenticator(std::string dir, LoginPolicy p, UserDb db, RecoveryState recovery)
    : _dir(std::move(dir)), _policy(p), _db(std::move(db)), _recovery(std::move(recovery)) {}

Result<std::unique_ptr<Authenticator>> Authenticator::open(const std::string &state_dir,
                                                           LoginPolicy p) {
    if (auto made = make_private_dir(state_dir); !made)
        return made.error();
    auto db = load_users(users_path(state_dir));
    if (!db)
        return db.error();
    auto recovery = load_recovery(recovery_path(state_dir));
    if (!recovery)
        return recovery.error();
    return std::unique_ptr<Authenticator>(
        new Authenticator(state_dir, p, std::move(*db), std::move(*recovery)));
}

void Authenticator::set_policy(const LoginPolicy &p) {
    std::lock_guard lock(_mutex);
    _policy = p;
}

User *Authenticator::lookup(const std::string &name) {
    auto it = std::find_if(_db.users.begin(), _db.users.end(),
                           [&](const User &u) { return u.name == name; });
    return it == _db.users.end() ? nullptr : &*it;
}

Status Authenticator::commit(UserDb next) {
    if (auto saved = save_users(users_path(_dir), next); !saved)
        return saved;
    _db = std::move(next);
    return Ok{};
}

const std::string &Authenticator::dummy_hash() {
    // Unknown names still cost one yescrypt run, so timing does not tell who exists.
    if (_dummy_hash.empty()) {
        auto h = hash_password(base32_encode(random_secret(16)));
        if (h)
            _dummy_hash = *h;
    }
    return _dummy_hash;
}

void Authenticator::count_login_failure(const LoginAttempt &a, User *user, LoginOutcome &out) {
    const std::string subject = user ? user->name : "unknown user '" + shown(a.user) + "'";
    const uint32_t limit = _policy.lockout_failures;
    const int64_t lock_for = _policy.lockout_seconds;
    auto alert = [&](const std::string &fact) {
        out.alert = true;
        out.audit.push_back(fact);
    };
    FailureWindow *w = nullptr;
    FailureWindow account;
    if (user) {
        account.failures = user->failures;
        account.locked_until = user->locked_until;
        w = &account;
    } else {
        make_room(_unknown_names, lock_for, a.now);
        w = &_unknown_names[a.user.substr(0, max_key_bytes)];
    }
    // An account's run of failures only ends with a success or the lock, whatever the pace.
    bool locked_now = count_failure(*w, limit, lock_for, 0, a.now);
    if (user) {
        user->failures = account.failures;
        user->locked_until = account.locked_until;
    }
    if (w->failures == _policy.alert_failures)
        alert("alert: " + std::to_string(w->failures) + " consecutive failed logins for " +
              subject + " (R52)");
    if (locked_now)
        alert((user ? "account " : "") + subject + " locked until " + utc_time(w->locked_until) +
              " after " + std::to_string(w->failures) + " failures (R90-1-3)");

    if (!source_lockable(a))
        return;
    make_room(_db.sources, lock_for, a.now);
    const std::string from = a.source.empty() ? "an unnamed source" : shown(a.source);
    FailureWindow &s = _db.sources[a.source.substr(0, max_key_bytes)];
    locked_now = count_failure(s, limit, lock_for, lock_for, a.now);
    if (s.failures == _policy.alert_failures)
        alert("alert: " + std::to_string(s.failures) + " consecutive failed logins from source " +
              from + " (R52)");
    if (locked_now)
        alert("source " + from + " locked until " + utc_time(s.locked_until) + " after " +
              std::to_string(s.failures) + " failures within " + std::to_string(lock_for) +
              " s (R90-1-3)");
}

LoginOutcome Authenticator::login(const LoginAttempt &a) {
    std::lock_guard lock(_mutex);
    LoginOutcome out;
    const std::string source_key = a.source.substr(0, max_key_bytes);
    const std::string from = a.source.empty() ? "an unnamed source" : shown(a.source);
    bool dirty = false;
    auto finish = [&]() -> LoginOutcome {
        if (!dirty)
            return out;
        if (auto saved = save_users(users_path(_dir), _db); !saved) {
            out.alert = true;
            out.audit.push_back("login counters not saved: " + saved.error().to_string());
        }
        return out;
    };
    auto refuse = [&](int64_t until, const std::string &what) {
        out.status = LoginStatus::locked;
        out.message = locked_message(until, a.console);
        out.detail = what + " locked until " + utc_time(until) + " (R90-1-3)";
        return finish();
    };

    if (source_lockable(a)) {
        auto it = _db.sources.find(source_key);
        if (it != _db.sources.end() && is_locked(it->second.locked_until, a.now))
            return refuse(it->second.locked_until, "source " + from);
        if (it != _db.sources.end() &&
            expire_lock(it->second.failures, it->second.locked_until, a.now)) {
            _db.sources.erase(it);
            dirty = true;
        }
    }
    User *user = lookup(a.user);
    if (user) {
        if (is_locked(user->locked_until, a.now))
            return refuse(user->locked_until, "account " + user->name);
        dirty |= expire_lock(user->failures, user->locked_until, a.now);
    } else if (auto it = _unknown_names.find(a.user.substr(0, max_key_bytes));
               it != _unknown_names.end()) {
        if (is_locked(it->second.locked_until, a.now))
            return refuse(it->second.locked_until, "unknown user '" + shown(a.user) + "'");
        expire_lock(it->second.failures, it->second.locked_until, a.now);
    }

    auto fail = [&](const std::string &why) {
        out.status = LoginStatus::failed;
        out.message = incorrect;
        out.detail = why;
        count_login_failure(a, user, out);
        dirty = true;
        return finish();
    };

    const bool password_ok = verify_password(a.password, user ? user->hash : dummy_hash());
    if (!user)
        return fail("no such user");
    if (!password_ok)
        return fail("wrong password");
    if (user->totp_confirmed) {
        if (a.otp.empty()) {
            out.status = LoginStatus::need_otp;
            out.message = "TOTP code from the authenticator app:";
            out.detail = "password accepted, waiting for the TOTP code (R47)";
            return finish();
        }
        auto key = base32_decode(user->totp_secret);
        auto step = key ? totp_verify(*key, a.otp, a.now, user->totp_last_step) : std::nullopt;
        if (!step)
            return fail("wrong or reused TOTP code (R47)");
        user->totp_last_step = *step;
    }

    user->failures = 0;
    user->locked_until = 0;
    if (source_lockable(a))
        _db.sources.erase(source_key);
    dirty = true;
    out.level = user->level;
    if (user->must_change_password ||
        password_expired(_policy.password, user->password_changed, a.now)) {
        out.status = LoginStatus::must_change_password;
        out.message = user->must_change_password
                          ? "you must choose a new password before going on (R118)"
                          : "your password is older than " +
                                std::to_string(_policy.password.max_age_days) +
                                " days: choose a new one (R118)";
    } else if (user->level > _policy.otp_above_level && !user->totp_confirmed) {
        out.status = LoginStatus::must_enroll_otp;
        out.message = "level " + std::to_string(user->level) +
                      " needs a second factor: enrol a TOTP authenticator now (R47)";
    } else {
        out.status = LoginStatus::ok;
        out.message = "welcome, " + user->name;
    }
    out.detail = user->totp_confirmed ? "password and TOTP (R47)" : "password";
    return finish();
}

Status Authenticator::add_user(const std::string &name, int level, const std::string &password,
                               int64_t now) {
    std::lock_guard lock(_mutex);
    if (!valid_user_name(name))
        return user_error("'" + shown(name) +
                          "' is not a user name: use 1-32 of a-z 0-9 _ . - starting with a "
                          "letter or _, e.g. alice");
    if (auto ok = check_level(level); !ok)
        return ok;
    if (lookup(name))
        return user_error("user '" + name + "' already exists");
    if (auto ok = check_password(_policy.password, name, password, {}); !ok)
        return ok;
    auto hash = hash_password(password);
    if (!hash)
        return hash.error();
    User u;
    u.name = name;
    u.level = level;
    u.hash = *hash;
    u.password_changed = now;
    u.must_change_password = !_db.users.empty();
    UserDb next = _db;
    next.users.push_back(std::move(u));
    return commit(std::move(next));
}

Status Authenticator::remove_user(const std::string &name) {
    std::lock_guard lock(_mutex);
    if (!lookup(name))
        return no_user(name);
    UserDb next = _db;
    std::erase_if(next.users, [&](const User &o) { return o.name == name; });
    return commit(std::move(next));
}

Status Authenticator::set_level(const std::string &name, int level) {
    std::lock_guard lock(_mutex);
    if (!lookup(name))
        return no_user(name);
    if (auto ok = check_level(level); !ok)
        return ok;
    UserDb next = _db;
    for (auto &o : next.users)
        if (o.name == name)
            o.level = level;
    return commit(std::move(next));
}

Status Authenticator::set_password(const std::string &name, const std::string &old_password,
                                   const std::string &new_password, bool by_admin, int64_t now) {
    std::lock_guard lock(_mutex);
    const User *u = lookup(name);
    if (!u)
        return no_user(name);
    if (!(by_admin && old_password.empty()) && !verify_password(old_password, u->hash))
        return user_error("the current password of '" + name + "' is wrong");
    if (auto ok = check_password(_policy.password, name, new_password, previous_hashes(*u)); !ok)
        return ok;
    auto hash = hash_password(new_password);
    if (!hash)
        return hash.error();
    UserDb next = _db;
    for (auto &o : next.users) {
        if (o.name != name)
            continue;
        replace_hash(o, *hash, _policy.password.history, now);
        o.must_change_password = by_admin;
    }
    return commit(std::move(next));
}

Result<Enrollment> Authenticator::begin_totp(const std::string &name, bool ascii_qr) {
    std::lock_guard lock(_mutex);
    const User *u = lookup(name);
    if (!u)
        return no_user(name);
    if (u->totp_confirmed)
        return user_error("'" + name +
                          "' already has a confirmed TOTP authenticator; reset it before "
                          "enrolling a new one (R47)");
    Enrollment e;
    e.secret_b32 = base32_encode(random_secret());
    e.uri = otpauth_uri(totp_issuer, name, e.secret_b32);
    auto qr = qr_terminal(e.uri, ascii_qr);
    if (!qr)
        return qr.error();
    e.qr = std::move(*qr);
    UserDb next = _db;
    for (auto &o : next.users) {
        if (o.name != name)
            continue;
        clear_totp(o);
        o.totp_secret = e.secret_b32;
    }
    if (auto ok = commit(std::move(next)); !ok)
        return ok.error();
    return e;
}

Status Authenticator::confirm_totp(const std::string &name, const std::string &code, int64_t now) {
    std::lock_guard lock(_mutex);
    const User *u = lookup(name);
    if (!u)
        return no_user(name);
    if (u->totp_confirmed)
        return user_error("the TOTP authenticator of '" + name + "' is already confirmed");
    if (u->totp_secret.empty())
        return user_error("'" + name + "' has no TOTP enrolment to confirm; begin one first");
    auto key = base32_decode(u->totp_secret);
    if (!key)
        return user_error("the stored TOTP secret of '" + name + "' is damaged (" +
                          key.error().message + "); enrol again");
    auto step = totp_verify(*key, code, now, u->totp_last_step);
    if (!step)
        return user_error("the code does not match: type the 6 digits the app shows now, and "
                          "check that the phone's clock is right (R47)");
    UserDb next = _db;
    for (auto &o : next.users) {
        if (o.name != name)
            continue;
        o.totp_confirmed = true;
        o.totp_last_step = *step;
    }
    return commit(std::move(next));
}

Status Authenticator::reset_totp(const std::string &name) {
    std::lock_guard lock(_mutex);
    if (!lookup(name))
        return no_user(name);
    UserDb next = _db;
    for (auto &o : next.users)
        if (o.name == name)
            clear_totp(o);
    return commit(std::move(next));
}

Status Authenticator::unlock(const std::string &name) {
    std::lock_guard lock(_mutex);
    if (!lookup(name))
        return no_user(name);
    UserDb next = _db;
    for (auto &o : next.users) {
        if (o.name != name)
            continue;
        o.failures = 0;
        o.locked_until = 0;
    }
    return commit(std::move(next));
}

std::optional<User> Authenticator::find(const std::string &name) const {
    std::lock_guard lock(_mutex);
    for (const auto &u : _db.users)
        if (u.name == name)
            return u;
    return std::nullopt;
}

std::vector<User> Authenticator::users() const {
    std::lock_guard lock(_mutex);
    return _db.users;
}

bool Authenticator::empty() const {
    std::lock_guard lock(_mutex);
    return _db.users.empty();
}

Result<std::string> Authenticator::new_recovery_code() {
    std::lock_guard lock(_mutex);
    std::string code = make_recovery_code();
    auto hash = hash_password(normalize_recovery_code(code));
    if (!hash)
        return hash.error();
    RecoveryState next;
    next.hash = *hash;
    if (auto saved = save_recovery(recovery_path(_dir), next); !saved)
        return saved.error();
    _recovery = next;
    return code;
}

Result<std::string> Authenticator::break_glass(const std::string &code, const std::string &user,
                                               const std::string &new_password, bool console,
                                               int64_t now) {
    std::lock_guard lock(_mutex);
    if (!console)
        return user_error("break-glass works only on the local console (R90-1-3)");
    const uint32_t limit = _policy.lockout_failures;
    if (is_locked(_recovery.tries.locked_until, now))
        return user_error("break-glass is locked until " + utc_time(_recovery.tries.locked_until) +
                          " after " + std::to_string(_recovery.tries.failures) +
                          " wrong recovery codes (R90-1-3)");
    if (_recovery.hash.empty())
        return user_error("no recovery code has been made on this system");
    if (!verify_password(normalize_recovery_code(code), _recovery.hash)) {
        // Counted in memory even if the disk refuses, so retries stay limited until restart.
        bool locked_now = count_failure(_recovery.tries, limit, _policy.lockout_seconds,
                                        _policy.lockout_seconds, now);
        auto saved = save_recovery(recovery_path(_dir), _recovery);
        std::string m = "wrong recovery code (" + std::to_string(_recovery.tries.failures) +
                        " of " + std::to_string(limit) + " tries)";
        if (locked_now)
            m += "; break-glass is locked until " + utc_time(_recovery.tries.locked_until);
        if (!saved)
            m += "; the count was not saved: " + saved.error().to_string();
        return user_error(m + " (R90-1-3)");
    }
    if (_recovery.tries.failures != 0) {
        // A right code ends the run of wrong ones; saved with the new code below, or later.
        _recovery.tries = FailureWindow{};
    }
    const User *u = lookup(user);
    if (!u)
        return user_error(no_user(user).message + "; the recovery code was not used");
    if (auto ok = check_password(_policy.password, user, new_password, previous_hashes(*u)); !ok)
        return user_error(ok.error().message + "; the recovery code was not used");
    auto hash = hash_password(new_password);
    if (!hash)
        return hash.error();
    std::string fresh = make_recovery_code();
    auto fresh_hash = hash_password(normalize_recovery_code(fresh));
    if (!fresh_hash)
        return fresh_hash.error();

    UserDb next = _db;
    for (auto &o : next.users) {
        if (o.name != user)
            continue;
        replace_hash(o, *hash, _policy.password.history, now);
        o.must_change_password = false;
        o.failures = 0;
        o.locked_until = 0;
        clear_totp(o);
    }
    // users.json first: a crash between the two writes leaves the old code valid, never none.
    if (auto ok = commit(std::move(next)); !ok)
        return user_error(ok.error().to_string() + "; the recovery code was not used");
    RecoveryState next_recovery;
    next_recovery.hash = *fresh_hash;
    if (auto saved = save_recovery(recovery_path(_dir), next_recovery); !saved)
        return user_error("the password of '" + user +
                          "' is set, but the recovery code could "
                          "not be replaced: " +
                          saved.error().to_string() + "; the old code stays valid");
    _recovery = next_recovery;
    return fresh;
}

} // namespace qorgan::auth

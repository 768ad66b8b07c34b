// SPDX-License-Identifier: GPL-2.0-or-later
// Administrators' logins (R118, R47, R90-1-3, R52): password and TOTP checks, lockout of
// accounts and sources, TOTP enrolment, and the console break-glass path. State lives in
// users.json and recovery.json in the state folder; docs/ADMIN-ACCESS.md tells the story.
#pragma once

#include "common/result.h"
#include "control/auth/password.h"
#include "control/auth/recovery.h"
#include "control/auth/session.h"
#include "control/auth/users.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace qorgan::auth {

struct LoginPolicy {
    PasswordPolicy password;
    uint32_t lockout_failures = 5; // N consecutive failures lock the account and the source
    int64_t lockout_seconds = 900; // T
    int otp_above_level = 1;       // TOTP mandatory for level > this (operator is 1)
    uint32_t alert_failures = 3;   // this many consecutive failures -> an alert
};

struct LoginAttempt {
    std::string user, password, otp; // otp "" when none was typed
    std::string source;              // "console", an IP, "local"
    bool console = false;            // the local console (break-glass allowed; source never locked)
    int64_t now = 0;                 // unix seconds
};

enum class LoginStatus { ok, need_otp, must_enroll_otp, must_change_password, failed, locked };

struct LoginOutcome {
    LoginStatus status = LoginStatus::failed;
    std::string message; // for the person at the terminal; never says whether the user exists
    int level = -1;      // on ok / must_enroll_otp / must_change_password
    // For the audit record of this attempt, never for the terminal: the factors that passed
    // ("password and TOTP (R47)") or why it failed ("wrong password", "no such user", "wrong
    // or reused TOTP code (R47)", "account alice locked until <UTC> (R90-1-3)").
    std::string detail;
    // Further facts to record, beyond the attempt itself: locks ("account alice locked until
    // <UTC> after 5 failures (R90-1-3)", "source 192.0.2.5 locked ..."), alerts ("alert: 3
    // consecutive failed logins for alice (R52)") and a failure to save the counters.
    std::vector<std::string> audit;
    bool alert = false; // the lead writes an alert record (R52)
};

struct Enrollment {
    std::string secret_b32, uri, qr;
};

// The issuer shown in authenticator apps.
inline constexpr const char *totp_issuer = "Qorgan";

// "2024-05-01 12:15:00 UTC"
std::string utc_time(int64_t unix_seconds);

class Authenticator {
public:
    // users.json in state_dir (mode 0600, written atomically: tmp + fsync + rename); a missing
    // file is an empty database; a missing state_dir is created (0700). Errors name the path
    // and what is wrong.
    static Result<std::unique_ptr<Authenticator>> open(const std::string &state_dir, LoginPolicy p);
    void set_policy(const LoginPolicy &p);

    // need_otp when the password is right and the user has a confirmed TOTP and otp is "";
    // must_enroll_otp when level > otp_above_level and TOTP not confirmed (the session may
    // only enroll); must_change_password when expired (max age) or must_change flag (checked
    // before enrolment, so nobody enrols a second factor on a password someone else chose).
    // Wrong password, wrong/replayed OTP, unknown user: failed (same message, "login
    // incorrect"), and they count; unknown names are counted too (in memory) so that their
    // lockout looks the same. A locked account or source: locked (the message says until
    // when, UTC); nothing is checked then. Source lockout: per source string, N consecutive
    // failures within T; "console" is never source-locked. Success resets the account's and
    // the source's failure counts. Counters are persisted.
    LoginOutcome login(const LoginAttempt &a);

    // A user added to an empty database is the first administrator, who chose the password
    // at the console; any later one gets must_change_password, as an admin chose it.
    Status add_user(const std::string &name, int level, const std::string &password, int64_t now);
    Status remove_user(const std::string &name);
    Status set_level(const std::string &name, int level);
    // old_password checked unless empty AND by_admin; policy and history applied. A password
    // set by_admin is temporary: must_change_password is set.
    Status set_password(const std::string &name, const std::string &old_password,
                        const std::string &new_password, bool by_admin, int64_t now);
    // New secret, unconfirmed; refused while a confirmed one exists (reset_totp first), so a
    // working second factor is never replaced by an unconfirmed one.
    Result<Enrollment> begin_totp(const std::string &name, bool ascii_qr);
    Status confirm_totp(const std::string &name, const std::string &code, int64_t now);
    Status reset_totp(const std::string &name);
    Status unlock(const std::string &name); // clears the account lock and count
    std::optional<User> find(const std::string &name) const;
    std::vector<User> users() const;
    bool empty() const;

    // Break-glass (docs/ADMIN-ACCESS.md): a one-time recovery code (4 groups of 5 base32
    // characters) whose yescrypt hash is stored in recovery.json. new_recovery_code() makes
    // one (replacing the old) and returns the plain text, shown once.
    // break_glass(): only when console is true; refused elsewhere; with the right code it
    // unlocks `user`, sets the new password (policy applies), resets its TOTP (must enrol
    // again), consumes the code and returns a new code. Wrong codes count towards a
    // console-only lockout of break-glass itself (N tries within T, locked for T), never of
    // logins. A right code with an unknown user or a refused password is not consumed.
    Result<std::string> new_recovery_code();
    Result<std::string> break_glass(const std::string &code, const std::string &user,
                                    const std::string &new_password, bool console, int64_t now);

private:
    Authenticator(std::string dir, LoginPolicy p, UserDb db, RecoveryState recovery);

    User *lookup(const std::string &name);
    Status commit(UserDb next);
    void count_login_failure(const LoginAttempt &a, User *user, LoginOutcome &out);
    const std::string &dummy_hash();

    mutable std::mutex _mutex;
    const std::string _dir;
    LoginPolicy _policy;
    UserDb _db;
    RecoveryState _recovery;
    std::map<std::string, FailureWindow> _unknown_names; // not persisted; bounded
    std::string _dummy_hash;
};

} // namespace qorgan::auth

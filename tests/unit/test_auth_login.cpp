// SPDX-License-Identifier: GPL-2.0-or-later
// The Authenticator's logins: both factors needed (R47), expiry (R118), lockout of accounts
// and sources just before and at the unlock time (R90-1-3), alerts (R52), persistence of
// users and counters in users.json, and user management with its errors.
#include "control/auth/authenticator.h"
#include "control/auth/totp.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

using namespace qorgan::auth;

namespace {

struct TempDir : qorgan::test::TempDir {
    TempDir() : qorgan::test::TempDir("qorgan-auth") {}
};

constexpr int64_t t0 = 1700000000; // 2023-11-14 22:13:20 UTC, a step boundary + 20 s
const std::string alice_pw = "Wonder-Land-42!";
const std::string bob_pw = "Builder-Pass-42";

std::unique_ptr<Authenticator> open_ok(const std::string &dir, LoginPolicy p = {}) {
    auto a = Authenticator::open(dir, p);
    EXPECT_TRUE(a) << (a ? "" : a.error().to_string());
    return a ? std::move(*a) : nullptr;
}

LoginAttempt attempt(const std::string &user, const std::string &password, int64_t now,
                     const std::string &source = "192.0.2.5", const std::string &otp = "") {
    LoginAttempt a;
    a.user = user;
    a.password = password;
    a.otp = otp;
    a.source = source;
    a.now = now;
    return a;
}

LoginAttempt on_console(LoginAttempt a) {
    a.console = true;
    a.source = "console";
    return a;
}

bool has_line(const LoginOutcome &o, const std::string &text) {
    for (const auto &l : o.audit)
        if (l == text)
            return true;
    return false;
}

std::string all_lines(const LoginOutcome &o) {
    std::string s;
    for (const auto &l : o.audit)
        s += "  " + l + "\n";
    return s;
}

std::string totp_of(const Authenticator &auth, const std::string &name, int64_t when) {
    auto key = base32_decode(auth.find(name)->totp_secret);
    return key ? totp(*key, when) : "";
}

// alice at level 15 with a confirmed TOTP (confirmed with the code of t0's step).
void enrol_alice(Authenticator &auth) {
    ASSERT_TRUE(auth.add_user("alice", 15, alice_pw, t0));
    auto e = auth.begin_totp("alice", true);
    ASSERT_TRUE(e) << e.error().to_string();
    ASSERT_TRUE(auth.confirm_totp("alice", totp_of(auth, "alice", t0), t0));
}

} // namespace

TEST(Login, PasswordOnlyUserLogsIn_R128c) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    EXPECT_TRUE(auth->empty());
    ASSERT_TRUE(auth->add_user("oper", 1, alice_pw, t0));
    EXPECT_FALSE(auth->empty());
    auto o = auth->login(attempt("oper", alice_pw, t0 + 5));
    EXPECT_EQ(o.status, LoginStatus::ok) << o.message;
    EXPECT_EQ(o.level, 1);
    EXPECT_FALSE(o.alert);
    EXPECT_EQ(o.detail, "password");
    EXPECT_TRUE(o.audit.empty()) << all_lines(o);
}

TEST(Login, PasswordAloneAndTotpAloneBothFail_R47) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    enrol_alice(*auth);
    const int64_t now = t0 + 30;
    const std::string code = totp_of(*auth, "alice", now);

    auto password_only = auth->login(attempt("alice", alice_pw, now));
    EXPECT_EQ(password_only.status, LoginStatus::need_otp);
    EXPECT_EQ(password_only.level, -1) << "no level before the second factor";

    auto wrong_otp = auth->login(attempt("alice", alice_pw, now, "192.0.2.5", "000000"));
    EXPECT_EQ(wrong_otp.status, LoginStatus::failed);
    EXPECT_EQ(wrong_otp.message, "login incorrect");
    EXPECT_EQ(wrong_otp.detail, "wrong or reused TOTP code (R47)");

    auto otp_only = auth->login(attempt("alice", "", now, "192.0.2.5", code));
    EXPECT_EQ(otp_only.status, LoginStatus::failed);
    auto otp_wrong_password = auth->login(attempt("alice", "nope", now, "192.0.2.5", code));
    EXPECT_EQ(otp_wrong_password.status, LoginStatus::failed);
    EXPECT_EQ(otp_wrong_password.message, "login incorrect");
    EXPECT_EQ(otp_wrong_password.detail, "wrong password");
    EXPECT_EQ(auth->find("alice")->failures, 3u);

    auto both = auth->login(attempt("alice", alice_pw, now, "192.0.2.5", code));
    EXPECT_EQ(both.status, LoginStatus::ok) << both.message;
    EXPECT_EQ(both.level, 15);
    EXPECT_EQ(both.detail, "password and TOTP (R47)");
    EXPECT_EQ(auth->find("alice")->failures, 0u) << "success resets the count";

    auto replay = auth->login(attempt("alice", alice_pw, now + 1, "192.0.2.5", code));
    EXPECT_EQ(replay.status, LoginStatus::failed) << "a used code is refused";
}

TEST(Login, UnknownUserLooksLikeAWrongPassword) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    auto unknown = auth->login(attempt("mallory", alice_pw, t0));
    auto wrong = auth->login(attempt("alice", "Wrong-Passw0rd!", t0, "192.0.2.6"));
    EXPECT_EQ(unknown.status, LoginStatus::failed);
    EXPECT_EQ(unknown.message, wrong.message);
    EXPECT_EQ(unknown.level, -1);
    EXPECT_EQ(unknown.detail, "no such user");
    EXPECT_EQ(wrong.detail, "wrong password");
    // Names from the network are made printable before they reach a record.
    LoginOutcome odd;
    for (int i = 0; i < 3; i++)
        odd = auth->login(attempt(std::string("x\ny\x01", 4), "p", t0, "198.51.100.1"));
    EXPECT_TRUE(has_line(odd, "alert: 3 consecutive failed logins for unknown user 'x?y?' (R52)"))
        << all_lines(odd);
}

TEST(Login, AboveOperatorMustEnrolTotp_R47) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("root_admin", 15, alice_pw, t0));
    auto o = auth->login(attempt("root_admin", alice_pw, t0));
    EXPECT_EQ(o.status, LoginStatus::must_enroll_otp);
    EXPECT_EQ(o.level, 15);
    EXPECT_EQ(o.message, "level 15 needs a second factor: enrol a TOTP authenticator now (R47)");

    auto e = auth->begin_totp("root_admin", false);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->uri, otpauth_uri("Qorgan", "root_admin", e->secret_b32));
    EXPECT_FALSE(e->qr.empty());
    EXPECT_EQ(auth->login(attempt("root_admin", alice_pw, t0)).status, LoginStatus::must_enroll_otp)
        << "an unconfirmed secret is not a second factor yet";
    auto key = base32_decode(e->secret_b32);
    ASSERT_TRUE(key);
    auto wrong = auth->confirm_totp("root_admin", "000000", t0);
    ASSERT_FALSE(wrong);
    EXPECT_NE(wrong.error().message.find("the code does not match"), std::string::npos);
    ASSERT_TRUE(auth->confirm_totp("root_admin", totp(*key, t0), t0));
    EXPECT_EQ(auth->login(attempt("root_admin", alice_pw, t0 + 30)).status, LoginStatus::need_otp);

    // With the second factor required above level 15, nobody needs it.
    LoginPolicy p;
    p.otp_above_level = 15;
    auth->set_policy(p);
    ASSERT_TRUE(auth->add_user("viewer", 15, bob_pw, t0));
    ASSERT_TRUE(auth->set_password("viewer", bob_pw, "Watch-Only-Pass1", false, t0));
    EXPECT_EQ(auth->login(attempt("viewer", "Watch-Only-Pass1", t0)).status, LoginStatus::ok);
}

TEST(Login, ExpiredPasswordMustBeChanged_R118) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    const int64_t expiry = t0 + 90 * 86400;
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, expiry - 1)).status, LoginStatus::ok);
    auto o = auth->login(attempt("alice", alice_pw, expiry));
    EXPECT_EQ(o.status, LoginStatus::must_change_password);
    EXPECT_EQ(o.level, 1);
    EXPECT_EQ(o.message, "your password is older than 90 days: choose a new one (R118)");
    ASSERT_TRUE(auth->set_password("alice", alice_pw, "Newer-Choice-Pw1", false, expiry));
    EXPECT_EQ(auth->login(attempt("alice", "Newer-Choice-Pw1", expiry + 1)).status,
              LoginStatus::ok);
}

TEST(Login, PasswordChosenByAnAdminIsTemporary_R118) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 15, alice_pw, t0));
    EXPECT_FALSE(auth->find("alice")->must_change_password) << "the first admin chose it";
    ASSERT_TRUE(auth->add_user("bob", 15, bob_pw, t0));
    EXPECT_TRUE(auth->find("bob")->must_change_password);
    auto o = auth->login(attempt("bob", bob_pw, t0));
    EXPECT_EQ(o.status, LoginStatus::must_change_password) << "before enrolling TOTP";
    EXPECT_EQ(o.message, "you must choose a new password before going on (R118)");
    ASSERT_TRUE(auth->set_password("bob", bob_pw, "Own-Choice-Pw-7", false, t0));
    EXPECT_EQ(auth->login(attempt("bob", "Own-Choice-Pw-7", t0)).status,
              LoginStatus::must_enroll_otp);
    ASSERT_TRUE(auth->set_password("bob", "", "Reset-By-Admin-8", true, t0));
    EXPECT_TRUE(auth->find("bob")->must_change_password);
}

TEST(Login, AccountLockedUntilUnlockTime_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    // Each failure from another source, so that only the account locks.
    for (int i = 1; i <= 4; i++) {
        auto o = auth->login(attempt("alice", "wrong", t0 + i, "10.0.0." + std::to_string(i)));
        EXPECT_EQ(o.status, LoginStatus::failed);
    }
    auto fifth = auth->login(attempt("alice", "wrong", t0 + 5, "10.0.0.5"));
    EXPECT_EQ(fifth.status, LoginStatus::failed);
    const int64_t unlock = t0 + 5 + 900;
    EXPECT_TRUE(has_line(fifth, "account alice locked until " + utc_time(unlock) +
                                    " after 5 failures (R90-1-3)"))
        << all_lines(fifth);
    EXPECT_TRUE(fifth.alert);
    EXPECT_EQ(auth->find("alice")->locked_until, unlock);

    auto before = auth->login(attempt("alice", alice_pw, unlock - 1, "10.0.0.9"));
    EXPECT_EQ(before.status, LoginStatus::locked) << "even with the right password";
    EXPECT_EQ(before.message, "too many failed logins: locked until " + utc_time(unlock));
    EXPECT_EQ(before.level, -1);
    EXPECT_EQ(before.detail, "account alice locked until " + utc_time(unlock) + " (R90-1-3)");
    EXPECT_TRUE(before.audit.empty()) << "nothing new happened" << all_lines(before);
    auto at = auth->login(attempt("alice", alice_pw, unlock, "10.0.0.9"));
    EXPECT_EQ(at.status, LoginStatus::ok) << at.message;
    EXPECT_EQ(auth->find("alice")->locked_until, 0);
}

TEST(Login, AccountLockShowsTheBreakGlassHintOnTheConsole_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    for (int i = 0; i < 5; i++)
        auth->login(on_console(attempt("alice", "wrong", t0)));
    auto o = auth->login(on_console(attempt("alice", alice_pw, t0 + 1)));
    EXPECT_EQ(o.status, LoginStatus::locked);
    EXPECT_NE(o.message.find("use break-glass on this console"), std::string::npos) << o.message;
    ASSERT_TRUE(auth->unlock("alice"));
    EXPECT_EQ(auth->login(on_console(attempt("alice", alice_pw, t0 + 2))).status, LoginStatus::ok);
}

TEST(Login, SourceLockedUntilUnlockTime_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    // Five different unknown names from one address: only the source can lock.
    LoginOutcome last;
    for (int i = 1; i <= 5; i++)
        last = auth->login(attempt("guess" + std::to_string(i), "x", t0 + i, "203.0.113.7"));
    const int64_t unlock = t0 + 5 + 900;
    EXPECT_TRUE(has_line(last, "source 203.0.113.7 locked until " + utc_time(unlock) +
                                   " after 5 failures within 900 s (R90-1-3)"))
        << all_lines(last);
    EXPECT_TRUE(last.alert);

    auto before = auth->login(attempt("alice", alice_pw, unlock - 1, "203.0.113.7"));
    EXPECT_EQ(before.status, LoginStatus::locked);
    EXPECT_EQ(before.message, "too many failed logins: locked until " + utc_time(unlock));
    EXPECT_EQ(before.detail, "source 203.0.113.7 locked until " + utc_time(unlock) + " (R90-1-3)");
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, unlock - 1, "203.0.113.8")).status,
              LoginStatus::ok)
        << "other sources and the account are not locked";
    EXPECT_EQ(auth->find("alice")->failures, 0u);
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, unlock, "203.0.113.7")).status,
              LoginStatus::ok);
}

TEST(Login, SourceFailuresAgeOutOfTheWindow_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    for (int i = 1; i <= 4; i++)
        auth->login(attempt("guess" + std::to_string(i), "x", t0, "203.0.113.7"));
    auto late = auth->login(attempt("guess5", "x", t0 + 900, "203.0.113.7"));
    EXPECT_EQ(late.status, LoginStatus::failed);
    EXPECT_FALSE(late.alert);
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, t0 + 901, "203.0.113.7")).status,
              LoginStatus::ok);
}

TEST(Login, ConsoleIsNeverSourceLocked_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    for (int i = 1; i <= 8; i++) {
        auto o = auth->login(on_console(attempt("guess" + std::to_string(i), "x", t0)));
        EXPECT_EQ(o.status, LoginStatus::failed);
    }
    EXPECT_EQ(auth->login(on_console(attempt("alice", alice_pw, t0 + 1))).status, LoginStatus::ok);
    // The source name alone also counts as the console.
    for (int i = 1; i <= 8; i++)
        auth->login(attempt("guess" + std::to_string(i), "x", t0 + 2, "console"));
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, t0 + 3, "console")).status, LoginStatus::ok);
    // So does the console flag, whatever the source is called.
    for (int i = 1; i <= 8; i++) {
        auto a = attempt("guess" + std::to_string(i), "x", t0 + 4, "ttyS0");
        a.console = true;
        auth->login(a);
    }
    auto tty = attempt("alice", alice_pw, t0 + 5, "ttyS0");
    tty.console = true;
    EXPECT_EQ(auth->login(tty).status, LoginStatus::ok);
    EXPECT_TRUE(auth->users().size() == 1);
}

TEST(Login, UnknownNamesLockLikeAccounts_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    for (int i = 1; i <= 5; i++)
        auth->login(on_console(attempt("ghost", "x", t0)));
    auto o = auth->login(on_console(attempt("ghost", "x", t0 + 1)));
    EXPECT_EQ(o.status, LoginStatus::locked) << "looks like a real locked account";
    EXPECT_EQ(auth->login(on_console(attempt("ghost", "x", t0 + 900))).status, LoginStatus::failed);
}

TEST(Login, AlertAtAlertFailures_R52) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    auto one = auth->login(attempt("alice", "w", t0, "10.0.0.1"));
    auto two = auth->login(attempt("alice", "w", t0, "10.0.0.2"));
    auto three = auth->login(attempt("alice", "w", t0, "10.0.0.3"));
    auto four = auth->login(attempt("alice", "w", t0, "10.0.0.4"));
    EXPECT_FALSE(one.alert);
    EXPECT_FALSE(two.alert);
    EXPECT_TRUE(three.alert);
    EXPECT_TRUE(has_line(three, "alert: 3 consecutive failed logins for alice (R52)"))
        << all_lines(three);
    EXPECT_FALSE(four.alert);
    // A success ends the run: four more failures do not lock.
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, t0, "10.0.0.9")).status, LoginStatus::ok);
    for (int i = 0; i < 4; i++)
        auth->login(attempt("alice", "w", t0, "10.0.1." + std::to_string(i)));
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, t0, "10.0.0.9")).status, LoginStatus::ok);

    // Three failures from one source alert for the source too.
    LoginOutcome last;
    for (int i = 0; i < 3; i++)
        last = auth->login(attempt("guess" + std::to_string(i), "x", t0, "198.51.100.3"));
    EXPECT_TRUE(has_line(last, "alert: 3 consecutive failed logins from source 198.51.100.3 (R52)"))
        << all_lines(last);
}

TEST(Persistence, UsersCountersAndLocksSurviveReopen) {
    TempDir tmp;
    {
        auto auth = open_ok(tmp.path());
        enrol_alice(*auth);
        ASSERT_TRUE(auth->add_user("bob", 3, bob_pw, t0));
        for (int i = 0; i < 2; i++)
            auth->login(attempt("alice", "wrong", t0, "10.0.0." + std::to_string(i)));
        for (int i = 0; i < 5; i++)
            auth->login(attempt("bob", "wrong", t0, "10.0.1." + std::to_string(i)));
        for (int i = 0; i < 5; i++)
            auth->login(attempt("guess" + std::to_string(i), "x", t0, "203.0.113.7"));
        auto ok = auth->login(
            attempt("alice", alice_pw, t0 + 30, "10.0.2.1", totp_of(*auth, "alice", t0 + 30)));
        ASSERT_EQ(ok.status, LoginStatus::ok);
    }
    struct stat st {};
    ASSERT_EQ(::stat((tmp.path() + "/users.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    auto auth = open_ok(tmp.path());
    auto users = auth->users();
    ASSERT_EQ(users.size(), 2u);
    auto alice = auth->find("alice");
    auto bob = auth->find("bob");
    ASSERT_TRUE(alice && bob);
    EXPECT_EQ(alice->level, 15);
    EXPECT_TRUE(alice->totp_confirmed);
    EXPECT_EQ(alice->totp_last_step, (t0 + 30) / 30);
    EXPECT_EQ(alice->failures, 0u);
    EXPECT_EQ(bob->level, 3);
    EXPECT_EQ(bob->failures, 5u);
    EXPECT_EQ(bob->locked_until, t0 + 900);
    EXPECT_TRUE(bob->must_change_password);
    EXPECT_EQ(auth->login(attempt("bob", bob_pw, t0 + 899, "10.0.3.1")).status,
              LoginStatus::locked);
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, t0 + 899, "203.0.113.7")).status,
              LoginStatus::locked)
        << "the source lock was kept";
    auto replay = auth->login(
        attempt("alice", alice_pw, t0 + 31, "10.0.2.1", totp_of(*auth, "alice", t0 + 30)));
    EXPECT_EQ(replay.status, LoginStatus::failed) << "the used TOTP step was kept";
}

TEST(Persistence, DamagedUsersFileIsNamed) {
    TempDir tmp;
    const std::string path = tmp.path() + "/users.json";
    std::ofstream(path) << "{not json";
    auto a = Authenticator::open(tmp.path(), {});
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().where.file, path);
    EXPECT_NE(a.error().message.find("not a JSON object"), std::string::npos);

    std::ofstream(path, std::ios::trunc)
        << R"({"format":1,"users":[{"name":"alice","level":16,"hash":"$y$x"}]})";
    a = Authenticator::open(tmp.path(), {});
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().to_string(), path + ": users[0].level: 16 is outside 0..15");

    std::ofstream(path, std::ios::trunc)
        << R"({"format":1,"users":[{"name":"alice"},{"name":"alice"}]})";
    a = Authenticator::open(tmp.path(), {});
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().message, "users[1].name: 'alice' appears twice");

    std::ofstream(path, std::ios::trunc) << R"({"format":1,"users":[{"name":"Alice"}]})";
    a = Authenticator::open(tmp.path(), {});
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().message,
              "users[0].name: 'Alice' is not a user name ([a-z_][a-z0-9_.-]{0,31})");

    std::ofstream(path, std::ios::trunc)
        << R"({"format":1,"sources":{"1.2.3.4":{"failures":"x"}}})";
    a = Authenticator::open(tmp.path(), {});
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().message, "sources.1.2.3.4.failures: expected an integer");

    std::ofstream(path, std::ios::trunc) << R"({"format":2})";
    a = Authenticator::open(tmp.path(), {});
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().message, "users.json.format: 2 is outside 1..1");
}

TEST(Persistence, StateFolderIsCreatedOrRefused) {
    TempDir tmp;
    auto a = Authenticator::open(tmp.path() + "/auth", {});
    ASSERT_TRUE(a);
    struct stat st {};
    ASSERT_EQ(::stat((tmp.path() + "/auth").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    std::ofstream(tmp.path() + "/file") << "x";
    auto b = Authenticator::open(tmp.path() + "/file", {});
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().to_string(), tmp.path() + "/file: the state folder path is not a folder");
}

TEST(Persistence, FailedWriteLeavesMemoryUnchanged) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 15, alice_pw, t0));
    // A folder where the temp file goes: the write fails, whoever runs the test.
    const std::string temp = tmp.path() + "/users.json.tmp";
    ASSERT_EQ(::mkdir(temp.c_str(), 0700), 0);
    auto s = auth->add_user("bob", 1, bob_pw, t0);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().where.file, temp);
    EXPECT_NE(s.error().message.find("cannot create"), std::string::npos);
    EXPECT_FALSE(auth->find("bob"));
    // Login counters stay in force and the failure to save them is reported.
    auto o = auth->login(attempt("alice", "wrong", t0));
    EXPECT_EQ(o.status, LoginStatus::failed);
    EXPECT_TRUE(o.alert);
    EXPECT_EQ(o.audit.back().rfind("login counters not saved: " + temp, 0), 0u) << all_lines(o);
    EXPECT_EQ(auth->find("alice")->failures, 1u);
}

TEST(Users, AddUserErrors) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    auto bad_name = auth->add_user("Alice", 1, alice_pw, t0);
    ASSERT_FALSE(bad_name);
    EXPECT_EQ(bad_name.error().message, "'Alice' is not a user name: use 1-32 of a-z 0-9 _ . - "
                                        "starting with a letter or _, e.g. alice");
    EXPECT_FALSE(auth->add_user(std::string(33, 'a'), 1, alice_pw, t0));
    EXPECT_FALSE(auth->add_user("9lives", 1, alice_pw, t0));
    auto level = auth->add_user("alice", 16, alice_pw, t0);
    ASSERT_FALSE(level);
    EXPECT_EQ(level.error().message, "level 16 is outside 0..15");
    auto weak = auth->add_user("alice", 1, "short", t0);
    ASSERT_FALSE(weak);
    EXPECT_NE(weak.error().message.find("(R118)"), std::string::npos);
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    auto twice = auth->add_user("alice", 1, alice_pw, t0);
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().message, "user 'alice' already exists");
    EXPECT_TRUE(auth->add_user("_svc.backup-1", 0, alice_pw, t0));
}

TEST(Users, SetPasswordChecksOldPasswordAndHistory_R118) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    auto wrong_old = auth->set_password("alice", "nope", "Second-Choice-2!", false, t0);
    ASSERT_FALSE(wrong_old);
    EXPECT_EQ(wrong_old.error().message, "the current password of 'alice' is wrong");
    EXPECT_FALSE(auth->set_password("alice", "", "Second-Choice-2!", false, t0))
        << "only an admin may skip the old password";
    auto same = auth->set_password("alice", alice_pw, alice_pw, false, t0);
    ASSERT_FALSE(same);
    EXPECT_EQ(same.error().message,
              "password was used before; the policy refuses the last 5 passwords (R118)");
    ASSERT_TRUE(auth->set_password("alice", alice_pw, "Second-Choice-2!", false, t0 + 10));
    EXPECT_EQ(auth->find("alice")->password_changed, t0 + 10);
    EXPECT_EQ(auth->find("alice")->history.size(), 1u);
    EXPECT_FALSE(auth->set_password("alice", "Second-Choice-2!", alice_pw, false, t0))
        << "an older password is in the history";
    EXPECT_FALSE(auth->set_password("ghost", "", alice_pw, true, t0));
    EXPECT_EQ(auth->login(attempt("alice", "Second-Choice-2!", t0 + 11)).status, LoginStatus::ok);
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, t0 + 11)).status, LoginStatus::failed);
}

TEST(Users, HistoryIsBoundedByThePolicy_R118) {
    TempDir tmp;
    LoginPolicy p;
    p.password.history = 2;
    auto auth = open_ok(tmp.path(), p);
    ASSERT_TRUE(auth->add_user("alice", 1, "Password-One-1", t0));
    ASSERT_TRUE(auth->set_password("alice", "Password-One-1", "Password-Two-2", false, t0));
    ASSERT_TRUE(auth->set_password("alice", "Password-Two-2", "Password-Three-3", false, t0));
    EXPECT_EQ(auth->find("alice")->history.size(), 2u);
    EXPECT_FALSE(auth->set_password("alice", "Password-Three-3", "Password-Two-2", false, t0));
    EXPECT_TRUE(auth->set_password("alice", "Password-Three-3", "Password-One-1", false, t0))
        << "beyond the last 2";
}

TEST(Users, RemoveAndSetLevel) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 12, alice_pw, t0));
    ASSERT_TRUE(auth->add_user("bob", 1, bob_pw, t0));
    auto bad_level = auth->set_level("bob", 16);
    ASSERT_FALSE(bad_level);
    EXPECT_EQ(bad_level.error().message, "level 16 is outside 0..15");
    EXPECT_FALSE(auth->set_level("bob", -1));
    ASSERT_TRUE(auth->set_level("bob", 10));
    EXPECT_EQ(auth->find("bob")->level, 10);
    ASSERT_TRUE(auth->remove_user("alice"));
    EXPECT_FALSE(auth->find("alice"));
    auto ghost = auth->remove_user("alice");
    ASSERT_FALSE(ghost);
    EXPECT_EQ(ghost.error().message, "no user 'alice'");
    EXPECT_FALSE(auth->set_level("alice", 3));
    auto reopened = open_ok(tmp.path());
    ASSERT_EQ(reopened->users().size(), 1u);
    EXPECT_EQ(reopened->users()[0].name, "bob");
    EXPECT_EQ(reopened->users()[0].level, 10);
}

TEST(Users, TotpEnrolmentRules_R47) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    EXPECT_FALSE(auth->begin_totp("alice", true));
    enrol_alice(*auth);
    auto again = auth->begin_totp("alice", true);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message, "'alice' already has a confirmed TOTP authenticator; reset "
                                     "it before enrolling a new one (R47)");
    auto confirmed = auth->confirm_totp("alice", "123456", t0);
    ASSERT_FALSE(confirmed);
    EXPECT_EQ(confirmed.error().message, "the TOTP authenticator of 'alice' is already confirmed");
    ASSERT_TRUE(auth->reset_totp("alice"));
    EXPECT_EQ(auth->find("alice")->totp_secret, "");
    auto none = auth->confirm_totp("alice", "123456", t0);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().message, "'alice' has no TOTP enrolment to confirm; begin one first");
    EXPECT_EQ(auth->login(attempt("alice", alice_pw, t0)).status, LoginStatus::must_enroll_otp);
    auto first = auth->begin_totp("alice", true);
    auto second = auth->begin_totp("alice", true);
    ASSERT_TRUE(first && second);
    EXPECT_NE(first->secret_b32, second->secret_b32) << "an unconfirmed secret is replaced";
    EXPECT_EQ(auth->find("alice")->totp_secret, second->secret_b32);
    EXPECT_FALSE(auth->reset_totp("ghost"));
    EXPECT_FALSE(auth->unlock("ghost"));
}

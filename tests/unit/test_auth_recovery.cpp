// SPDX-License-Identifier: GPL-2.0-or-later
// Break-glass on the local console: the recovery code works once, only on the console,
// wrong codes lock break-glass itself (never logins), and its state survives a restart.
#include "control/auth/authenticator.h"
#include "control/auth/totp.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sys/stat.h>

using namespace qorgan::auth;

namespace {

struct TempDir : qorgan::test::TempDir {
    TempDir() : qorgan::test::TempDir("qorgan-auth-recovery") {}
};

constexpr int64_t t0 = 1700000000;
const std::string alice_pw = "Wonder-Land-42!";
const std::string fresh_pw = "Fresh-Start-2024";

std::unique_ptr<Authenticator> open_ok(const std::string &dir) {
    auto a = Authenticator::open(dir, {});
    EXPECT_TRUE(a) << (a ? "" : a.error().to_string());
    return a ? std::move(*a) : nullptr;
}

LoginAttempt console_login(const std::string &user, const std::string &password, int64_t now,
                           const std::string &otp = "") {
    LoginAttempt a;
    a.user = user;
    a.password = password;
    a.otp = otp;
    a.source = "console";
    a.console = true;
    a.now = now;
    return a;
}

// alice at level 15 with a confirmed TOTP, locked out after five wrong passwords.
void locked_alice(Authenticator &auth) {
    ASSERT_TRUE(auth.add_user("alice", 15, alice_pw, t0));
    auto e = auth.begin_totp("alice", true);
    ASSERT_TRUE(e);
    auto key = base32_decode(e->secret_b32);
    ASSERT_TRUE(key);
    ASSERT_TRUE(auth.confirm_totp("alice", totp(*key, t0), t0));
    for (int i = 0; i < 5; i++)
        auth.login(console_login("alice", "wrong", t0));
    ASSERT_EQ(auth.login(console_login("alice", alice_pw, t0 + 1)).status, LoginStatus::locked);
}

} // namespace

TEST(BreakGlass, RecoveryCodeFormAndFile) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    auto code = auth->new_recovery_code();
    ASSERT_TRUE(code) << code.error().to_string();
    EXPECT_TRUE(std::regex_match(*code, std::regex("[A-Z2-7]{5}(-[A-Z2-7]{5}){3}"))) << *code;
    auto other = auth->new_recovery_code();
    ASSERT_TRUE(other);
    EXPECT_NE(*other, *code);
    struct stat st {};
    ASSERT_EQ(::stat((tmp.path() + "/recovery.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::ifstream in(tmp.path() + "/recovery.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find(other->substr(0, 5)), std::string::npos) << "only the hash is stored";
    EXPECT_NE(text.find("\"$y$"), std::string::npos);
}

TEST(BreakGlass, RightCodeWorksOnceOnTheConsole_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    locked_alice(*auth);
    auto code = auth->new_recovery_code();
    ASSERT_TRUE(code);

    auto remote = auth->break_glass(*code, "alice", fresh_pw, false, t0 + 2);
    ASSERT_FALSE(remote);
    EXPECT_EQ(remote.error().message, "break-glass works only on the local console (R90-1-3)");

    // Typed in lower case without dashes: still the code.
    std::string typed;
    for (char c : *code)
        if (c != '-')
            typed += static_cast<char>(std::tolower(c));
    auto next = auth->break_glass(typed, "alice", fresh_pw, true, t0 + 3);
    ASSERT_TRUE(next) << next.error().to_string();
    EXPECT_NE(*next, *code);

    auto alice = auth->find("alice");
    ASSERT_TRUE(alice);
    EXPECT_EQ(alice->locked_until, 0);
    EXPECT_EQ(alice->failures, 0u);
    EXPECT_EQ(alice->totp_secret, "");
    EXPECT_FALSE(alice->totp_confirmed);
    EXPECT_FALSE(alice->must_change_password);
    EXPECT_EQ(alice->password_changed, t0 + 3);
    auto o = auth->login(console_login("alice", fresh_pw, t0 + 4));
    EXPECT_EQ(o.status, LoginStatus::must_enroll_otp) << "TOTP must be enrolled again";
    EXPECT_EQ(o.level, 15);

    auto reused = auth->break_glass(*code, "alice", "Another-Start-99", true, t0 + 5);
    ASSERT_FALSE(reused) << "the code was consumed";
    EXPECT_EQ(reused.error().message, "wrong recovery code (1 of 5 tries) (R90-1-3)");
    auto with_new = auth->break_glass(*next, "alice", "Another-Start-99", true, t0 + 6);
    EXPECT_TRUE(with_new) << "the code handed back works";
}

TEST(BreakGlass, CodeIsKeptWhenTheRequestIsRefused_R118) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    locked_alice(*auth);
    auto none = auth->break_glass("AAAAA-AAAAA-AAAAA-AAAAA", "alice", fresh_pw, true, t0);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().message, "no recovery code has been made on this system");
    auto code = auth->new_recovery_code();
    ASSERT_TRUE(code);
    auto weak = auth->break_glass(*code, "alice", "weak", true, t0);
    ASSERT_FALSE(weak);
    EXPECT_NE(weak.error().message.find("password too short"), std::string::npos);
    EXPECT_NE(weak.error().message.find("; the recovery code was not used"), std::string::npos);
    auto reuse = auth->break_glass(*code, "alice", alice_pw, true, t0);
    ASSERT_FALSE(reuse);
    EXPECT_NE(reuse.error().message.find("used before"), std::string::npos);
    auto ghost = auth->break_glass(*code, "ghost", fresh_pw, true, t0);
    ASSERT_FALSE(ghost);
    EXPECT_EQ(ghost.error().message, "no user 'ghost'; the recovery code was not used");
    EXPECT_EQ(auth->find("alice")->locked_until, t0 + 900) << "nothing changed";
    EXPECT_TRUE(auth->break_glass(*code, "alice", fresh_pw, true, t0));
}

TEST(BreakGlass, WrongCodesLockBreakGlassNotLogins_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    auto code = auth->new_recovery_code();
    ASSERT_TRUE(code);
    for (int i = 1; i <= 4; i++) {
        auto wrong = auth->break_glass("AAAAA-AAAAA-AAAAA-AAAAA", "alice", fresh_pw, true, t0);
        ASSERT_FALSE(wrong);
        EXPECT_EQ(wrong.error().message,
                  "wrong recovery code (" + std::to_string(i) + " of 5 tries) (R90-1-3)");
    }
    auto fifth = auth->break_glass("AAAAA-AAAAA-AAAAA-AAAAA", "alice", fresh_pw, true, t0 + 10);
    ASSERT_FALSE(fifth);
    const int64_t unlock = t0 + 10 + 900;
    EXPECT_EQ(fifth.error().message, "wrong recovery code (5 of 5 tries); break-glass is locked "
                                     "until " +
                                         utc_time(unlock) + " (R90-1-3)");
    auto locked = auth->break_glass(*code, "alice", fresh_pw, true, unlock - 1);
    ASSERT_FALSE(locked) << "even the right code waits";
    EXPECT_EQ(locked.error().message, "break-glass is locked until " + utc_time(unlock) +
                                          " after 5 wrong recovery codes (R90-1-3)");
    // Logins are untouched by it.
    EXPECT_EQ(auth->login(console_login("alice", alice_pw, unlock - 1)).status, LoginStatus::ok);
    EXPECT_EQ(auth->find("alice")->failures, 0u);

    // The count and the lock survive a restart.
    auth.reset();
    auth = open_ok(tmp.path());
    EXPECT_FALSE(auth->break_glass(*code, "alice", fresh_pw, true, unlock - 1));
    auto at = auth->break_glass(*code, "alice", fresh_pw, true, unlock);
    EXPECT_TRUE(at) << at.error().to_string();
}

TEST(BreakGlass, RemoteTriesAreNotCounted_R90_1_3) {
    TempDir tmp;
    auto auth = open_ok(tmp.path());
    ASSERT_TRUE(auth->add_user("alice", 1, alice_pw, t0));
    auto code = auth->new_recovery_code();
    ASSERT_TRUE(code);
    for (int i = 0; i < 10; i++)
        EXPECT_FALSE(auth->break_glass("AAAAA", "alice", fresh_pw, false, t0));
    auto first_console_try = auth->break_glass("AAAAA", "alice", fresh_pw, true, t0);
    ASSERT_FALSE(first_console_try);
    EXPECT_EQ(first_console_try.error().message, "wrong recovery code (1 of 5 tries) (R90-1-3)");
}

TEST(BreakGlass, DamagedRecoveryFileIsNamed) {
    TempDir tmp;
    std::ofstream(tmp.path() + "/recovery.json") << R"({"hash": 7})";
    auto a = Authenticator::open(tmp.path(), {});
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().to_string(),
              tmp.path() + "/recovery.json: recovery.json.hash: expected a string");
    std::ofstream(tmp.path() + "/recovery.json", std::ios::trunc) << "[]";
    a = Authenticator::open(tmp.path(), {});
    ASSERT_FALSE(a);
    EXPECT_NE(a.error().message.find("make a new recovery code"), std::string::npos);
}

// SPDX-License-Identifier: GPL-2.0-or-later
// The building blocks of administrators' authentication: yescrypt hashes and the password
// policy (R118), HOTP/TOTP against the RFC vectors and oathtool (R47), base32, the otpauth
// URI, QR codes for the terminal and the session time limits (R118).
#include "control/auth/authenticator.h"
#include "control/auth/password.h"
#include "control/auth/qr.h"
#include "control/auth/session.h"
#include "control/auth/totp.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

using namespace qorgan::auth;

namespace {

const std::vector<uint8_t> rfc_key = {'1', '2', '3', '4', '5', '6', '7', '8', '9', '0',
                                      '1', '2', '3', '4', '5', '6', '7', '8', '9', '0'};

std::vector<uint8_t> bytes_of(const std::string &s) {
    return {s.begin(), s.end()};
}

size_t utf8_length(const std::string &s) {
    size_t n = 0;
    for (char c : s)
        n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    return n;
}

std::vector<std::string> lines_of(const std::string &text) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(text.substr(start, nl - start));
    EXPECT_EQ(start, text.size()) << "the last line has no newline";
    return lines;
}

// oathtool's code for a base32 secret at a unix time, or "" when it could not run.
std::string oathtool(const std::string &secret_b32, int64_t when) {
    std::string cmd = "oathtool --totp -b " + secret_b32 + " --now \"" + utc_time(when) + "\" 2>&1";
    FILE *p = ::popen(cmd.c_str(), "r");
    if (p == nullptr)
        return "";
    char buf[128] = {};
    std::string out = std::fgets(buf, sizeof buf, p) ? buf : "";
    ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
        out.pop_back();
    return out;
}

} // namespace

// ---- passwords -----------------------------------------------------------------------------

TEST(Password, HashIsYescryptAndVerifies_R118) {
    auto h = hash_password("Correct-Horse-42");
    ASSERT_TRUE(h) << h.error().to_string();
    EXPECT_EQ(h->rfind("$y$", 0), 0u) << *h;
    EXPECT_TRUE(verify_password("Correct-Horse-42", *h));
    EXPECT_FALSE(verify_password("Correct-Horse-43", *h));
    EXPECT_FALSE(verify_password("", *h));
    auto again = hash_password("Correct-Horse-42");
    ASSERT_TRUE(again);
    EXPECT_NE(*again, *h) << "each hash has its own salt";
    EXPECT_TRUE(verify_password("Correct-Horse-42", *again));
}

TEST(Password, MalformedHashesAndNulNeverVerify) {
    EXPECT_FALSE(verify_password("x", ""));
    EXPECT_FALSE(verify_password("x", "*"));
    EXPECT_FALSE(verify_password("x", "$y$garbage"));
    EXPECT_FALSE(verify_password("plain", "plain"));
    auto nul = hash_password(std::string("abc\0def", 7));
    ASSERT_FALSE(nul);
    EXPECT_EQ(nul.error().message, "password holds a NUL byte, which cannot be hashed");
    auto h = hash_password("abc");
    ASSERT_TRUE(h);
    EXPECT_FALSE(verify_password(std::string("abc\0def", 7), *h)) << "crypt would cut at NUL";
    EXPECT_FALSE(hash_password(std::string(max_password_bytes + 1, 'a')));
}

TEST(PasswordPolicy, TooShort_R118) {
    auto s = check_password({}, "alice", "Ab1!Ab1!", {});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message,
              "password too short: 8 characters, the policy wants at least 12 (R118)");
    // Characters, not bytes: eleven 2-byte letters are still too short.
    auto utf8 = check_password({}, "alice", "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9A1!x", {});
    ASSERT_FALSE(utf8);
    EXPECT_NE(utf8.error().message.find("11 characters"), std::string::npos)
        << utf8.error().message;
}

TEST(PasswordPolicy, TooFewClasses_R118) {
    auto s = check_password({}, "alice", "abcdefghijkl99", {});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message,
              "password has 2 character classes (lower case, digits), the policy wants at "
              "least 3 of lower case, upper case, digits and other characters (R118)");
    PasswordPolicy two;
    two.min_classes = 2;
    EXPECT_TRUE(check_password(two, "alice", "abcdefghijkl99", {}));
    EXPECT_TRUE(check_password({}, "alice", "abcdefghijkl9!", {})) << "'!' is another class";
}

TEST(PasswordPolicy, UserNameInsidePassword_R118) {
    auto s = check_password({}, "alice", "My-ALICE-pass-1", {});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message,
              "password contains the user name 'alice'; choose one without it (R118)");
    EXPECT_TRUE(check_password({}, "al", "My-al-password-1", {})) << "too short a name to test";
}

TEST(PasswordPolicy, EveryBrokenRuleIsListed_R118) {
    auto s = check_password({}, "bob", "bob", {});
    ASSERT_FALSE(s);
    const auto &m = s.error().message;
    EXPECT_NE(m.find("password too short: 3 characters"), std::string::npos) << m;
    EXPECT_NE(m.find("; password has 1 character classes (lower case)"), std::string::npos) << m;
    EXPECT_NE(m.find("; password contains the user name 'bob'"), std::string::npos) << m;
    EXPECT_EQ(m.substr(m.size() - 7), " (R118)");
}

TEST(PasswordPolicy, HistoryRefusesReuse_R118) {
    auto h1 = hash_password("First-Secret-11");
    auto h2 = hash_password("Second-Secret-22");
    ASSERT_TRUE(h1 && h2);
    std::vector<std::string> previous{*h2, *h1}; // newest first
    auto s = check_password({}, "alice", "First-Secret-11", previous);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message,
              "password was used before; the policy refuses the last 5 passwords (R118)");
    EXPECT_TRUE(check_password({}, "alice", "Third-Secret-33", previous));
    PasswordPolicy short_memory;
    short_memory.history = 1;
    EXPECT_TRUE(check_password(short_memory, "alice", "First-Secret-11", previous))
        << "only the newest hash is remembered";
    EXPECT_FALSE(check_password(short_memory, "alice", "Second-Secret-22", previous));
}

TEST(PasswordPolicy, MaximumAge_R118) {
    PasswordPolicy p; // 90 days
    const int64_t changed = 1700000000;
    EXPECT_FALSE(password_expired(p, changed, changed + 90 * 86400 - 1));
    EXPECT_TRUE(password_expired(p, changed, changed + 90 * 86400));
    p.max_age_days = 0;
    EXPECT_FALSE(password_expired(p, changed, changed + 9000 * 86400LL));
}

// ---- HOTP / TOTP ---------------------------------------------------------------------------

TEST(Totp, Rfc4226HotpVectors) {
    const char *expected[] = {"755224", "287082", "359152", "969429", "338314",
                              "254676", "287922", "162583", "399871", "520489"};
    for (uint64_t i = 0; i < 10; i++)
        EXPECT_EQ(hotp(rfc_key, i), expected[i]) << "counter " << i;
    EXPECT_EQ(hotp(rfc_key, 0, 0), "");
    EXPECT_EQ(hotp(rfc_key, 0, 10), "");
}

TEST(Totp, Rfc6238AppendixBSha1Vectors_R47) {
    const std::pair<int64_t, const char *> vectors[] = {
        {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
        {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
    for (auto [t, code] : vectors)
        EXPECT_EQ(totp(rfc_key, t, 30, 8), code) << "T = " << t;
    EXPECT_EQ(totp(rfc_key, 59), "287082") << "6 digits: the last 6 of the 8";
    EXPECT_EQ(totp(rfc_key, 59, 0), "");
}

TEST(Totp, AgreesWithOathtool_R47) {
    std::mt19937_64 rng(20240501);
    for (int i = 0; i < 5; i++) {
        auto key = random_secret(20);
        auto b32 = base32_encode(key);
        int64_t when = 1000000000 + static_cast<int64_t>(rng() % 1000000000);
        EXPECT_EQ(totp(key, when), oathtool(b32, when)) << b32 << " at " << utc_time(when);
    }
}

TEST(Totp, VerifyAcceptsOneStepEitherSide_R47) {
    auto key = random_secret();
    const int64_t now = 1700000015; // step 56666667
    const int64_t step = now / 30;
    EXPECT_EQ(totp_verify(key, totp(key, now), now, -1), step);
    EXPECT_EQ(totp_verify(key, totp(key, now - 30), now, -1), step - 1);
    EXPECT_EQ(totp_verify(key, totp(key, now + 30), now, -1), step + 1);
    EXPECT_EQ(totp_verify(key, totp(key, now - 60), now, -1), std::nullopt);
    EXPECT_EQ(totp_verify(key, totp(key, now + 60), now, -1), std::nullopt);
    EXPECT_EQ(totp_verify(key, totp(key, now - 60), now, -1, 2), step - 2);
    EXPECT_EQ(totp_verify(key, totp(key, now - 30), now, -1, 0), std::nullopt);
}

TEST(Totp, VerifyRefusesReplayAndJunk_R47) {
    auto key = random_secret();
    const int64_t now = 1700000015;
    const int64_t step = now / 30;
    std::string code = totp(key, now);
    EXPECT_EQ(totp_verify(key, code, now, step), std::nullopt) << "the step was used";
    EXPECT_EQ(totp_verify(key, totp(key, now - 30), now, step), std::nullopt)
        << "an older step after a newer one";
    EXPECT_EQ(totp_verify(key, totp(key, now + 30), now, step), step + 1);
    EXPECT_EQ(totp_verify(key, code.substr(0, 5), now, -1), std::nullopt);
    EXPECT_EQ(totp_verify(key, code + "0", now, -1), std::nullopt);
    EXPECT_EQ(totp_verify(key, "12345a", now, -1), std::nullopt);
    EXPECT_EQ(totp_verify({}, code, now, -1), std::nullopt);
}

TEST(Totp, RandomSecretsDiffer) {
    auto a = random_secret();
    auto b = random_secret();
    EXPECT_EQ(a.size(), 20u);
    EXPECT_NE(a, b);
    EXPECT_EQ(random_secret(32).size(), 32u);
}

// ---- base32 --------------------------------------------------------------------------------

TEST(Base32, Rfc4648Vectors) {
    const std::pair<const char *, const char *> vectors[] = {{"", ""},
                                                             {"f", "MY"},
                                                             {"fo", "MZXQ"},
                                                             {"foo", "MZXW6"},
                                                             {"foob", "MZXW6YQ"},
                                                             {"fooba", "MZXW6YTB"},
                                                             {"foobar", "MZXW6YTBOI"}};
    for (auto [plain, encoded] : vectors) {
        EXPECT_EQ(base32_encode(bytes_of(plain)), encoded);
        auto back = base32_decode(encoded);
        ASSERT_TRUE(back) << encoded;
        EXPECT_EQ(*back, bytes_of(plain));
    }
}

TEST(Base32, RoundTripAndLenientInput) {
    for (size_t n = 0; n < 41; n++) {
        auto bytes = random_secret(n);
        auto back = base32_decode(base32_encode(bytes));
        ASSERT_TRUE(back) << n;
        EXPECT_EQ(*back, bytes);
    }
    auto padded = base32_decode("mzxw6yq=");
    ASSERT_TRUE(padded);
    EXPECT_EQ(*padded, bytes_of("foob"));
    auto spaced = base32_decode("MZXW 6YTB OI");
    ASSERT_TRUE(spaced);
    EXPECT_EQ(*spaced, bytes_of("foobar"));
}

TEST(Base32, BadInputIsNamed) {
    auto bad = base32_decode("MZ1W");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "'1' at position 3 is not base32 (A-Z, 2-7)");
    auto ctrl = base32_decode("MZ\nW");
    ASSERT_FALSE(ctrl);
    EXPECT_EQ(ctrl.error().message, "'\\x0a' at position 3 is not base32 (A-Z, 2-7)");
    auto after_pad = base32_decode("MY=A");
    ASSERT_FALSE(after_pad);
    EXPECT_EQ(after_pad.error().message, "'A' at position 4 follows '=' padding");
    auto length = base32_decode("MZX");
    ASSERT_FALSE(length);
    EXPECT_EQ(length.error().message, "base32 text of 3 symbols cannot encode whole bytes");
}

TEST(Totp, OtpauthUri_R47) {
    EXPECT_EQ(otpauth_uri("Qorgan", "alice", "JBSWY3DPEHPK3PXP"),
              "otpauth://totp/Qorgan:alice?secret=JBSWY3DPEHPK3PXP&issuer=Qorgan"
              "&algorithm=SHA1&digits=6&period=30");
    EXPECT_EQ(otpauth_uri("Border GW", "a:b@c", "MY"),
              "otpauth://totp/Border%20GW:a%3Ab%40c?secret=MY&issuer=Border%20GW"
              "&algorithm=SHA1&digits=6&period=30");
}

// ---- QR codes ------------------------------------------------------------------------------

TEST(Qr, AsciiVersion1IsASquareWithFinderPatterns) {
    auto qr = qr_terminal("hi", true);
    ASSERT_TRUE(qr) << qr.error().to_string();
    auto lines = lines_of(*qr);
    const size_t side = 21 + 2 * qr_quiet_zone; // version 1
    ASSERT_EQ(lines.size(), side);
    for (const auto &l : lines)
        EXPECT_EQ(l.size(), 2 * side);
    EXPECT_EQ(lines[0], std::string(2 * side, '#')) << "quiet zone";
    EXPECT_EQ(lines[side - 1], std::string(2 * side, '#')) << "quiet zone";
    // The top-left finder: a dark 7-module row after the quiet zone, then a light separator.
    EXPECT_EQ(lines[2].substr(0, 4 + 14 + 2), "####" + std::string(14, ' ') + "##");
    // Its second row: dark, five light, dark.
    EXPECT_EQ(lines[3].substr(4, 14), "  ##########  ");
    // The top-right finder mirrors it.
    EXPECT_EQ(lines[2].substr(2 * side - 4 - 14), std::string(14, ' ') + "####");
}

TEST(Qr, UnicodeHalfBlocksPackTwoRowsPerLine) {
    auto qr = qr_terminal("hi", false);
    ASSERT_TRUE(qr);
    auto lines = lines_of(*qr);
    const size_t side = 21 + 2 * qr_quiet_zone;
    ASSERT_EQ(lines.size(), (side + 1) / 2);
    for (const auto &l : lines)
        EXPECT_EQ(utf8_length(l), side);
    std::string full_row;
    for (size_t i = 0; i < side; i++)
        full_row += "\u2588";
    EXPECT_EQ(lines[0], full_row) << "two quiet-zone rows";
    // Line 1 holds module rows 2 and 3: the finder's dark top row over its dark/light row.
    std::string expected = "\u2588\u2588 ";
    for (int i = 0; i < 5; i++)
        expected += "\u2584";
    expected += " \u2588";
    EXPECT_EQ(lines[1].substr(0, expected.size()), expected);
}

TEST(Qr, LongerTextGrowsTheVersion) {
    std::string uri = otpauth_uri("Qorgan", "administrator", base32_encode(random_secret()));
    auto qr = qr_terminal(uri, true);
    ASSERT_TRUE(qr);
    auto lines = lines_of(*qr);
    const size_t width = lines.size() - 2 * qr_quiet_zone;
    EXPECT_GT(width, 21u);
    EXPECT_EQ((width - 17) % 4, 0u) << "a QR symbol is 17 + 4 * version modules wide";
    for (const auto &l : lines)
        EXPECT_EQ(l.size(), 2 * lines.size());
    auto unicode = qr_terminal(uri, false);
    ASSERT_TRUE(unicode);
    EXPECT_EQ(lines_of(*unicode).size(), (lines.size() + 1) / 2);
}

TEST(Qr, EmptyOrHugeTextIsRefused) {
    auto empty = qr_terminal("", true);
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().message, "nothing to draw: the QR code text is empty");
    auto huge = qr_terminal(std::string(8000, 'x'), false);
    ASSERT_FALSE(huge);
    EXPECT_EQ(huge.error().message, "cannot make a QR code of 8000 bytes: too long");
}

// ---- session limits ------------------------------------------------------------------------

TEST(Session, IdleLimitEdge_R118) {
    SessionLimits l; // 15 min idle, 8 h absolute
    const int64_t start = 1700000000;
    EXPECT_EQ(session_expiry(l, start, start + 100, start + 100 + 900), "");
    EXPECT_EQ(session_expiry(l, start, start + 100, start + 100 + 901),
              "idle for more than 15 min (R118)");
}

TEST(Session, AbsoluteLifetimeEdge_R118) {
    SessionLimits l;
    const int64_t start = 1700000000;
    const int64_t end = start + 28800;
    EXPECT_EQ(session_expiry(l, start, end - 10, end), "");
    EXPECT_EQ(session_expiry(l, start, end - 10, end + 1),
              "session older than 8 h, the absolute limit (R118)");
    // Both limits passed: the absolute one is named.
    EXPECT_EQ(session_expiry(l, start, start, end + 1),
              "session older than 8 h, the absolute limit (R118)");
}

TEST(Session, OddLimitsAndNoLimits_R118) {
    SessionLimits l{90, 7200};
    EXPECT_EQ(session_expiry(l, 0, 0, 91), "idle for more than 90 s (R118)");
    EXPECT_EQ(session_expiry(l, 0, 7190, 7201),
              "session older than 2 h, the absolute limit (R118)");
    SessionLimits none{0, 0};
    EXPECT_EQ(session_expiry(none, 0, 0, 1000000000), "");
}

TEST(UtcTime, Format) {
    EXPECT_EQ(utc_time(0), "1970-01-01 00:00:00 UTC");
    EXPECT_EQ(utc_time(1700000000), "2023-11-14 22:13:20 UTC");
}

// SPDX-License-Identifier: GPL-2.0-or-later
// The syslog forwarder without a network: RFC 5424 formatting and escaping, octet-counting
// frames, the backoff, the cursor file and the checks of the settings.
#include "control/logfwd/forwarder.h"
#include "control/logfwd/syslog.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace qorgan::logfwd;

namespace {

struct TempDir : qorgan::test::TempDir {
    TempDir() : qorgan::test::TempDir("qorgan-logfwd") {}
};

void write_file(const std::string &path, const std::string &text) {
    std::ofstream(path, std::ios::trunc) << text;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

Record command_record() {
    Record r;
    r.seq = 42;
    r.time_us = 1764096001123456; // 2025-11-25T18:40:01.123456Z
    r.user = "alice";
    r.level = 15;
    r.session = "s1";
    r.terminal = "/dev/pts/3";
    r.source = "192.0.2.1";
    r.action = "command";
    r.detail = "show running-config";
    r.result = "ok";
    r.prev = "ab12";
    r.clock_synced = true;
    return r;
}

} // namespace

TEST(Rfc5424, CommandRecordHasEveryField_R90_1_7) {
    EXPECT_EQ(format_rfc5424(command_record(), "gw1"),
              "<85>1 2025-11-25T18:40:01.123456Z gw1 qorgan - command [qorgan@32473 seq=\"42\" "
              "user=\"alice\" level=\"15\" session=\"s1\" terminal=\"/dev/pts/3\" "
              "source=\"192.0.2.1\" result=\"ok\" prev=\"ab12\" synced=\"1\"] "
              "show running-config");
}

TEST(Rfc5424, PriIsAuthprivWithSeverityByAction) {
    EXPECT_EQ(pri_of("alert"), "<81>");
    EXPECT_EQ(pri_of("login-failed"), "<84>");
    EXPECT_EQ(pri_of("lockout"), "<84>");
    EXPECT_EQ(pri_of("privilege-refused"), "<84>");
    EXPECT_EQ(pri_of("login"), "<85>");
    EXPECT_EQ(pri_of("command"), "<85>");
    EXPECT_EQ(pri_of(""), "<85>");
    Record r = command_record();
    r.action = "lockout";
    EXPECT_EQ(format_rfc5424(r, "gw1").substr(0, 7), "<84>1 2");
}

TEST(Rfc5424, ParamValuesEscapeQuoteBackslashBracket) {
    EXPECT_EQ(escape_param(R"(a"b\c]d)"), R"(a\"b\\c\]d)");
    EXPECT_EQ(escape_param("plain [x] = y"), R"(plain [x\] = y)");
    EXPECT_EQ(escape_param("line1\nline2\t"), "line1#012line2#011");
    Record r = command_record();
    r.user = "ev\"il] x=\"1";
    r.detail = "a\nb";
    auto m = format_rfc5424(r, "gw1");
    EXPECT_NE(m.find(R"(user="ev\"il\] x=\"1")"), std::string::npos) << m;
    // The free text is not SD-escaped, but a newline must not split the record.
    EXPECT_EQ(m.substr(m.size() - 6), "a#012b") << m;
}

TEST(Rfc5424, NilValuesWhereEmpty) {
    Record r;
    r.seq = 1;
    auto m = format_rfc5424(r, "");
    EXPECT_EQ(m, "<85>1 - - qorgan - - [qorgan@32473 seq=\"1\" user=\"\" level=\"\" session=\"\" "
                 "terminal=\"\" source=\"\" result=\"\" prev=\"\" synced=\"0\"]");
}

TEST(Rfc5424, MsgIdIsAtMost32PrintableChars) {
    Record r = command_record();
    r.action = std::string(40, 'x');
    auto m = format_rfc5424(r, "gw1");
    EXPECT_NE(m.find(" - " + std::string(32, 'x') + " ["), std::string::npos) << m;
    EXPECT_EQ(header_field("time change\x01", 32), "time_change_");
    EXPECT_EQ(header_field("host name", 255), "host_name");
    EXPECT_EQ(header_field(std::string(300, 'h'), 255).size(), 255u);
}

TEST(Rfc5424, TimestampIsUtcWithMicroseconds) {
    EXPECT_EQ(timestamp_of(1764096001123456), "2025-11-25T18:40:01.123456Z");
    EXPECT_EQ(timestamp_of(1000000), "1970-01-01T00:00:01.000000Z");
    EXPECT_EQ(timestamp_of(0), "-");
}

TEST(Rfc5424, SealRecordCarriesEpochAndHmac_R38_6) {
    Record r = command_record();
    r.action = "seal";
    r.detail.clear();
    r.epoch = 3;
    r.hmac = "ff00";
    auto m = format_rfc5424(r, "gw1");
    EXPECT_NE(m.find(" seal [qorgan@32473 "), std::string::npos) << m;
    std::string tail = "synced=\"1\" epoch=\"3\" hmac=\"ff00\"]";
    EXPECT_EQ(m.substr(m.size() - tail.size()), tail) << m;
}

TEST(OctetFraming, LengthCountsBytesNotCharacters) {
    EXPECT_EQ(frame("abc"), "3 abc");
    EXPECT_EQ(frame(""), "0 ");
    EXPECT_EQ(frame("h\xc3\xa9"), "3 h\xc3\xa9"); // "hé" is 3 octets in UTF-8
    auto m = format_rfc5424(command_record(), "gw1");
    EXPECT_EQ(frame(m), std::to_string(m.size()) + " " + m);
}

TEST(Backoff, DoublesFromOneSecondUpToThirty) {
    Backoff b(1000, 30000);
    std::vector<int> seen;
    for (int i = 0; i < 8; ++i)
        seen.push_back(b.next());
    EXPECT_EQ(seen, (std::vector<int>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
    b.reset();
    EXPECT_EQ(b.next(), 1000);
    EXPECT_EQ(b.next(), 2000);
}

TEST(Cursor, MissingFileIsZeroAndSavedValueReadsBack_R38_6) {
    TempDir tmp;
    std::string path = tmp.path() + "/cursor.json";
    auto none = load_cursor(path);
    ASSERT_TRUE(none) << none.error().to_string();
    EXPECT_EQ(*none, 0u);
    ASSERT_TRUE(save_cursor(path, 12345));
    auto back = load_cursor(path);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_EQ(*back, 12345u);
    EXPECT_EQ(read_file(path), "{\"last_sent_seq\":12345}\n");
    EXPECT_FALSE(std::ifstream(path + ".tmp").good()); // renamed, not left behind
}

TEST(Cursor, CorruptFileIsAnErrorNotAResendOfEverything) {
    TempDir tmp;
    std::string path = tmp.path() + "/cursor.json";
    write_file(path, "{\"last_sent_seq\": -4}");
    auto bad = load_cursor(path);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find(path), std::string::npos) << bad.error().message;
    write_file(path, "garbage");
    EXPECT_FALSE(load_cursor(path));
}

TEST(Cursor, UnwritableFolderIsAnError) {
    TempDir tmp;
    auto saved = save_cursor(tmp.path() + "/missing/cursor.json", 1);
    ASSERT_FALSE(saved);
    EXPECT_NE(saved.error().message.find("cannot create"), std::string::npos)
        << saved.error().message;
}

TEST(ForwarderSettings, RequiredSettingsAreChecked_R90_1_7) {
    TempDir tmp;
    Source none = [](uint64_t, size_t) {
        return qorgan::Result<std::vector<Record>>(std::vector<Record>{});
    };
    Settings s;
    s.state_file = tmp.path() + "/state";
    s.ca_file = tmp.path() + "/ca.pem";
    auto no_server = Forwarder::create(s, none);
    ASSERT_FALSE(no_server);
    EXPECT_NE(no_server.error().message.find("R90-1-7"), std::string::npos);

    s.server = "127.0.0.1";
    auto no_ca = Forwarder::create(s, none); // the CA file does not exist
    ASSERT_FALSE(no_ca);
    EXPECT_NE(no_ca.error().message.find("CA file " + s.ca_file), std::string::npos)
        << no_ca.error().message;

    Settings t = s;
    t.ca_file.clear();
    auto empty_ca = Forwarder::create(t, none);
    ASSERT_FALSE(empty_ca);
    EXPECT_NE(empty_ca.error().message.find("R90-1-7: a CA file is required"), std::string::npos);

    t = s;
    t.cert_file = tmp.path() + "/client.pem";
    auto half = Forwarder::create(t, none);
    ASSERT_FALSE(half);
    EXPECT_NE(half.error().message.find("both a certificate file and a key file"),
              std::string::npos);

    t = s;
    t.state_file.clear();
    auto no_state = Forwarder::create(t, none);
    ASSERT_FALSE(no_state);
    EXPECT_NE(no_state.error().message.find("R38-6"), std::string::npos);

    t = s;
    t.backoff_max_ms = 10;
    EXPECT_FALSE(Forwarder::create(t, none));
    EXPECT_FALSE(Forwarder::create(s, Source{}));
}

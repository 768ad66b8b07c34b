// SPDX-License-Identifier: GPL-2.0-or-later
// The audit store's line format and its writing side: the chain, seals and key evolution,
// retention, rotation, queries, read_after, crash leftovers and storage levels.
#include "test_audit_helpers.h"

#include <gtest/gtest.h>

#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>

using namespace qorgan::audit;
using namespace qorgan::audit::test;

namespace {

Record sample() {
    Record r;
    static_cast<Event &>(r) = ev("alice", "command", "show running-config | match \"nat\"\n");
    r.seq = 7;
    r.time_us = 1'800'000'000'123'456;
    r.clock_synced = true;
    r.prev = std::string(64, 'a');
    return r;
}

Record seal_sample() {
    Record r;
    r.action = "seal";
    r.result = "ok";
    r.seq = 8;
    r.time_us = 1'800'000'001'000'000;
    r.prev = std::string(64, 'b');
    r.epoch = 3;
    r.hmac = std::string(64, 'c');
    return r;
}

// The line of `r` with one textual replacement, which must be present.
std::string edited(const Record &r, const std::string &from, const std::string &to) {
    std::string line = to_line(r);
    size_t at = line.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? line : line.replace(at, from.size(), to);
}

} // namespace

TEST(AuditFormat, TimeIsRfc3339Utc) {
    EXPECT_EQ(format_time(0), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_time(-1), "1969-12-31T23:59:59.999999Z");
    EXPECT_EQ(format_time(1'795'632'001'123'456), "2026-11-25T18:40:01.123456Z");
}

TEST(AuditFormat, RoundTripsRecordsAndSeals) {
    for (const Record &r : {sample(), seal_sample()}) {
        std::string line = to_line(r);
        auto p = parse_line(line);
        ASSERT_TRUE(p) << p.error().message << "\n" << line;
        EXPECT_EQ(p->seq, r.seq);
        EXPECT_EQ(p->user, r.user);
        EXPECT_EQ(p->level, r.level);
        EXPECT_EQ(p->session, r.session);
        EXPECT_EQ(p->terminal, r.terminal);
        EXPECT_EQ(p->source, r.source);
        EXPECT_EQ(p->action, r.action);
        EXPECT_EQ(p->detail, r.detail);
        EXPECT_EQ(p->result, r.result);
        EXPECT_EQ(p->time_us, r.time_us);
        EXPECT_EQ(p->time, format_time(r.time_us));
        EXPECT_EQ(p->clock_synced, r.clock_synced);
        EXPECT_EQ(p->prev, r.prev);
        EXPECT_EQ(p->epoch, r.epoch);
        EXPECT_EQ(p->hmac, r.hmac);
        EXPECT_EQ(p->line, line);
        EXPECT_EQ(line.find('\n'), std::string::npos);
    }
    Record first = sample();
    first.seq = 1;
    first.prev = "";
    EXPECT_TRUE(parse_line(to_line(first)));
}

TEST(AuditFormat, EveryMalformationIsAnError) {
    Record r = sample();
    Record s = seal_sample();
    std::string big(max_line_bytes + 1, ' ');
    struct Case {
        std::string line, why;
    } cases[] = {
        {"", "not JSON"},
        {"{\"action\":", "not JSON"},
        {"[1,2]", "not a JSON object"},
        {"\"text\"", "not a JSON object"},
        {big, "longer than"},
        {"{\"a\":{\"b\":1}}", "nested"},
        {"{\"a\":[1]}", "nested"},
        {edited(r, "\"user\"", "\"usr\""), "unknown key \"usr\""},
        {edited(r, ",\"user\":\"alice\"", ""), "missing \"user\""},
        {edited(r, "\"user\":\"alice\"", "\"user\":5"), "\"user\" is not a string"},
        {edited(r, "\"action\":\"command\"", "\"action\":\"\""), "empty \"action\""},
        {edited(r, "\"seq\":7", "\"seq\":0"), "\"seq\" is not a number from 1"},
        {edited(r, "\"seq\":7", "\"seq\":-7"), "\"seq\" is not a number from 1"},
        {edited(r, "\"seq\":7", "\"seq\":7.5"), "\"seq\" is not a number from 1"},
        {edited(r, "\"level\":15", "\"level\":16"), "\"level\" is not a number from -1 to 15"},
        {edited(r, "\"level\":15", "\"level\":-2"), "\"level\" is not a number from -1 to 15"},
        {edited(r, "\"time_us\":1800000000123456", "\"time_us\":18446744073709551615"),
         "\"time_us\" is not a 64-bit number"},
        {edited(r, "\"time_us\":1800000000123456", "\"time_us\":\"x\""),
         "\"time_us\" is not a 64-bit number"},
        {edited(r, "\"time_us\":1800000000123456", "\"time_us\":1800000000123457"),
         "\"time\" does not match"},
        {edited(r, "\"clock_synced\":true", "\"clock_synced\":1"), "\"clock_synced\" is not"},
        {edited(r, std::string(64, 'a'), std::string(63, 'a')), "\"prev\" is not a hex"},
        {edited(r, std::string(64, 'a'), std::string(64, 'A')), "\"prev\" is not a hex"},
        {edited(r, "\"seq\":7", "\"seq\":1"), "\"prev\" of the first record is not empty"},
        {edited(r, "\"action\":\"command\"", "\"action\":\"command\",\"epoch\":1"),
         "\"epoch\" in a record that is not a seal"},
        {edited(r, "\"action\":\"command\"", "\"action\":\"command\",\"hmac\":\"\""),
         "\"hmac\" in a record that is not a seal"},
        {edited(s, "\"epoch\":3,", ""), "seal without a valid \"epoch\""},
        {edited(s, "\"epoch\":3", "\"epoch\":-3"), "seal without a valid \"epoch\""},
        {edited(s, std::string(64, 'c'), "c"), "seal without a valid \"hmac\""},
        {edited(s, "\"user\":\"\"", "\"user\":\"mallory\""), "seal with fields other than"},
        {edited(s, "\"result\":\"ok\"", "\"result\":\"failed\""), "seal with fields other than"},
        {" " + to_line(r), "not in canonical form"},
        {edited(r, "\"user\":\"alice\"", "\"user\":\"\\u0061lice\""), "not in canonical form"},
        {edited(r, "\"user\":\"alice\"", "\"user\":\"alice\",\"user\":\"alice\""),
         "not in canonical form"},
        {to_line(r) + "x", "not JSON"},
        {std::string("{\"user\":\"\xff\"}"), "not JSON"},
    };
    for (const Case &c : cases) {
        auto p = parse_line(c.line);
        ASSERT_FALSE(p) << c.line.substr(0, 200);
        EXPECT_NE(p.error().message.find(c.why), std::string::npos)
            << c.line.substr(0, 200) << "\n got: " << p.error().message;
    }
}

TEST(AuditStore, R128_c_AppendsChainedDurableRecords) {
    TempDir tmp;
    auto clock = std::make_shared<Clock>();
    auto o = options_with(clock);
    bool synced = false;
    o.clock_synced = [&synced] { return synced; };
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    struct stat st {};
    ASSERT_EQ(::stat(tmp.store().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat((tmp.store() + "/verify.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((tmp.store() + "/seal.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    EXPECT_EQ(s->last_seq(), 0u);
    EXPECT_EQ(*s->append(ev("alice", "login", "", "ok")), 1u);
    synced = true;
    EXPECT_EQ(*s->append(ev("alice", "command", "show version")), 2u);
    EXPECT_EQ(*s->append(ev("", "service", "qorgand started")), 3u);
    EXPECT_EQ(s->last_seq(), 3u);

    // On disk before append() returned: the file already holds all three lines.
    auto lines = split(slurp(tmp.store() + "/" + file_name(1, false)));
    ASSERT_EQ(lines.size(), 3u);
    auto all = s->query(Filter{});
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        const Record &r = (*all)[i];
        EXPECT_EQ(r.seq, i + 1);
        EXPECT_EQ(r.line, lines[i]);
        EXPECT_EQ(r.prev, i == 0 ? "" : sha256_hex(lines[i - 1]));
        EXPECT_EQ(r.time_us - (*all)[0].time_us, int64_t(i) * 1'000'000);
        EXPECT_EQ(r.time, format_time(r.time_us));
    }
    EXPECT_FALSE((*all)[0].clock_synced);
    EXPECT_TRUE((*all)[1].clock_synced);
    EXPECT_EQ((*all)[0].user, "alice");
    EXPECT_EQ((*all)[0].level, 15);
    EXPECT_EQ((*all)[0].session, "s-alice");
    EXPECT_EQ((*all)[0].terminal, "/dev/pts/3");
    EXPECT_EQ((*all)[0].source, "192.0.2.10");
    EXPECT_EQ((*all)[1].detail, "show version");
    EXPECT_EQ((*all)[2].user, "");
    EXPECT_EQ((*all)[2].level, -1);

    // The numbering and the chain go on after a reopen.
    s.reset(); // seals
    s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->last_seq(), 4u);
    EXPECT_EQ(*s->append(ev("bob", "login")), 5u);
    auto rep = s->verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken;
    EXPECT_EQ(rep.records, 5u);
    EXPECT_EQ(rep.seals, 1u);
    EXPECT_EQ(rep.unsealed_tail, 1u);
    EXPECT_EQ(rep.summary, "1 files, 5 records, 1 seals: intact, 1 records after the last seal");
}

TEST(AuditStore, RefusesTheSealActionAndEmptyActions) {
    TempDir tmp;
    auto s = open_ok(tmp.store(), options_with(std::make_shared<Clock>()));
    ASSERT_TRUE(s);
    auto a = s->append(ev("mallory", "seal"));
    ASSERT_FALSE(a);
    EXPECT_NE(a.error().message.find("\"seal\""), std::string::npos);
    auto b = s->append(ev("mallory", ""));
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message.find("needs an action"), std::string::npos);
    EXPECT_EQ(s->last_seq(), 0u);
}

TEST(AuditStore, BinaryAndOversizedDetailsAreKeptNotRefused) {
    TempDir tmp;
    auto s = open_ok(tmp.store(), options_with(std::make_shared<Clock>()));
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->append(ev("alice", "command", "echo \xff\xfe\x01 done")));
    std::string diff(max_line_bytes + 1000, 'd');
    ASSERT_TRUE(s->append(ev("alice", "commit", diff)));
    auto all = s->query(Filter{});
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].detail, "echo \xef\xbf\xbd\xef\xbf\xbd\x01 done"); // U+FFFD
    EXPECT_LE((*all)[1].line.size(), max_line_bytes);
    EXPECT_NE((*all)[1].detail.find(" bytes cut]"), std::string::npos);
    EXPECT_GT((*all)[1].detail.size(), max_line_bytes - 4096);
    EXPECT_TRUE(s->verify().ok);
}

// A write cut short (here by RLIMIT_FSIZE, as by a full disk) is not acknowledged and
// leaves no partial line for the next record to follow.
TEST(AuditStore, AShortWriteIsAnErrorAndLeavesNoPartialRecord) {
    TempDir tmp;
    auto s = open_ok(tmp.store(), options_with(std::make_shared<Clock>()));
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->append(ev("alice", "login")));
    std::string cur = tmp.store() + "/" + file_name(1, false);
    std::string before = slurp(cur);
    struct rlimit old {};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old;
    small.rlim_cur = before.size() + 40;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    auto failed = s->append(ev("alice", "command", "show version"));
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().to_string().find(cur + ": cannot write the audit record"),
              std::string::npos)
        << failed.error().to_string();
    EXPECT_EQ(slurp(cur), before);
    EXPECT_EQ(s->last_seq(), 1u);
    auto next = s->append(ev("alice", "command", "show version"));
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, 2u);
    auto rep = s->verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken;
}

TEST(AuditStore, R38_4_RetentionBelowThreeYearsIsRefused) {
    TempDir tmp;
    Options o = options_with(std::make_shared<Clock>());
    o.retention_days = 1094;
    auto bad = Store::open(tmp.store(), o);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("R38-4"), std::string::npos);
    EXPECT_NE(bad.error().to_string().find(tmp.store()), std::string::npos);
    o.retention_days = 1095;
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    o.retention_days = 30;
    auto refused = s->set_options(o);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("R38-4"), std::string::npos);
    o.retention_days = 1095;
    o.warn_percent = 0;
    EXPECT_FALSE(s->set_options(o));
    o.warn_percent = 101;
    EXPECT_FALSE(s->set_options(o));
    o.warn_percent = 90;
    o.retention_days = 3650;
    EXPECT_TRUE(s->set_options(o));
}

TEST(AuditStore, R38_6_SealsEveryNRecordsAndEvolvesTheKeyForward) {
    TempDir tmp;
    auto o = options_with(std::make_shared<Clock>());
    o.seal_every_records = 4;
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    Key key0 = stored_key0(tmp.store());
    for (int i = 0; i < 8; ++i)
        ASSERT_TRUE(s->append(ev("alice", "command", "n" + std::to_string(i))));
    // Records 1-4, seal 5, records 6-9, seal 10.
    EXPECT_EQ(s->last_seq(), 10u);
    auto seals = s->query(by("", "seal"));
    ASSERT_TRUE(seals);
    ASSERT_EQ(seals->size(), 2u);
    EXPECT_EQ((*seals)[0].seq, 5u);
    EXPECT_EQ((*seals)[1].seq, 10u);
    EXPECT_EQ((*seals)[0].epoch, 0);
    EXPECT_EQ((*seals)[1].epoch, 1);

    auto k = read_seal_key(tmp.store());
    ASSERT_TRUE(k);
    EXPECT_EQ(k->epoch, 2);
    EXPECT_EQ(k->seq, 10u);
    Key key1 = evolve(key0), key2 = evolve(key1);
    EXPECT_EQ(k->key, key2);
    EXPECT_NE(key1, key0);

    const Record &second = (*seals)[1];
    std::string msg = seal_message(second.seq, second.prev, second.time_us, second.clock_synced);
    EXPECT_EQ(second.hmac, seal_hmac(key1, msg));
    // A key of another epoch, earlier or later, does not make this seal.
    EXPECT_NE(second.hmac, seal_hmac(key0, msg));
    EXPECT_NE(second.hmac, seal_hmac(key2, msg));
    const Record &first = (*seals)[0];
    EXPECT_EQ(first.hmac,
              seal_hmac(key0, seal_message(first.seq, first.prev, first.time_us, true)));

    // Nothing after the last seal: seal() writes nothing.
    ASSERT_TRUE(s->seal());
    EXPECT_EQ(s->last_seq(), 10u);
    ASSERT_TRUE(s->append(ev("alice", "logout")));
    ASSERT_TRUE(s->seal());
    EXPECT_EQ(s->last_seq(), 12u);
    auto rep = s->verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken;
    EXPECT_EQ(rep.seals, 3u);
    EXPECT_EQ(rep.unsealed_tail, 0u);
}

TEST(AuditStore, SealsByTimeAndOnClose) {
    TempDir tmp;
    auto clock = std::make_shared<Clock>();
    clock->step = 0;
    auto o = options_with(clock);
    o.seal_every_records = 0;
    o.seal_every_seconds = 60;
    {
        auto s = open_ok(tmp.store(), o);
        ASSERT_TRUE(s);
        ASSERT_TRUE(s->append(ev("alice", "login")));
        clock->now += 30'000'000;
        ASSERT_TRUE(s->append(ev("alice", "command")));
        EXPECT_EQ(s->last_seq(), 2u); // no seal yet
        ASSERT_TRUE(s->seal_if_due());
        EXPECT_EQ(s->last_seq(), 2u);
        clock->now += 31'000'000;
        ASSERT_TRUE(s->append(ev("alice", "command")));
        EXPECT_EQ(s->last_seq(), 4u); // record 3 and its seal
        ASSERT_TRUE(s->append(ev("alice", "command")));
        clock->now += 61'000'000;
        ASSERT_TRUE(s->seal_if_due()); // the periodic timer seals the quiet tail
        EXPECT_EQ(s->last_seq(), 6u);
        ASSERT_TRUE(s->seal_if_due());
        EXPECT_EQ(s->last_seq(), 6u);
        ASSERT_TRUE(s->append(ev("alice", "logout")));
    }
    auto lines = split(slurp(tmp.store() + "/" + file_name(1, false)));
    ASSERT_EQ(lines.size(), 8u);
    auto last = parse_line(lines.back());
    ASSERT_TRUE(last);
    EXPECT_EQ(last->action, "seal"); // the destructor sealed record 7
    EXPECT_EQ(last->epoch, 2);
}

TEST(AuditStore, OneStorePerDirectory) {
    TempDir tmp;
    auto o = options_with(std::make_shared<Clock>());
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    auto second = Store::open(tmp.store(), o);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().to_string().find("open elsewhere"), std::string::npos);
    s.reset();
    EXPECT_TRUE(Store::open(tmp.store(), o));
}

TEST(AuditStore, OpenErrorsNameThePath) {
    TempDir tmp;
    auto o = options_with(std::make_shared<Clock>());
    std::string file = tmp.path() + "/plain-file";
    spit(file, "x");
    auto a = Store::open(file, o);
    ASSERT_FALSE(a);
    EXPECT_NE(a.error().to_string().find(file), std::string::npos);
    EXPECT_NE(a.error().message.find("cannot create the audit folder"), std::string::npos);

    // A store with records but no seal.key is not silently given new keys.
    {
        auto s = open_ok(tmp.store(), o);
        ASSERT_TRUE(s);
        ASSERT_TRUE(s->append(ev("alice", "login")));
    }
    fs::remove(tmp.store() + "/seal.key");
    auto b = Store::open(tmp.store(), o);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().to_string().find(tmp.store() + "/seal.key"), std::string::npos);
    spit(tmp.store() + "/seal.key", "{\"epoch\":1}");
    auto c = Store::open(tmp.store(), o);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("needs \"epoch\", \"key\" and \"seq\""), std::string::npos);

    // The chain cannot go on from a broken last record.
    TempDir other;
    {
        auto s = open_ok(other.store(), o);
        ASSERT_TRUE(s);
        ASSERT_TRUE(s->append(ev("alice", "login")));
    }
    std::string cur = other.store() + "/" + file_name(1, false);
    spit(cur, slurp(cur) + "{\"not\":\"a record\"}\n");
    auto d = Store::open(other.store(), o);
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().to_string().find(cur), std::string::npos);
    EXPECT_NE(d.error().message.find("cannot continue the audit chain"), std::string::npos);
}

TEST(AuditStore, R38_4_RotatesIntoGzipAndQueriesAcrossArchives) {
    TempDir tmp;
    auto clock = std::make_shared<Clock>();
    auto o = options_with(clock);
    o.rotate_bytes = 4096;
    o.seal_every_records = 10;
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    const char *users[] = {"alice", "bob", "carol"};
    const char *actions[] = {"login", "command", "commit", "logout"};
    for (int i = 0; i < 150; ++i)
        ASSERT_TRUE(s->append(ev(users[i % 3], actions[i % 4], "n" + std::to_string(i))));

    auto files = files_of(tmp.store());
    ASSERT_GE(files.size(), 4u);
    for (size_t i = 0; i + 1 < files.size(); ++i) {
        ASSERT_TRUE(files[i].gz) << files[i].name;
        EXPECT_FALSE(fs::exists(tmp.store() + "/" + file_name(files[i].first, false)));
        auto lines = lines_of(tmp.store(), files[i]);
        ASSERT_FALSE(lines.empty());
        EXPECT_EQ(parse_line(lines.back())->action, "seal") << "archives end sealed";
        EXPECT_EQ(parse_line(lines.front())->seq, files[i].first);
    }
    EXPECT_FALSE(files.back().gz);

    auto everything = read_after(tmp.store(), 0, 100000);
    ASSERT_TRUE(everything);
    ASSERT_EQ(everything->size(), s->last_seq());
    auto expect = [&](const Filter &f) {
        std::vector<uint64_t> want;
        for (const Record &r : *everything)
            if ((f.user.empty() || r.user == f.user) &&
                (f.action.empty() || r.action == f.action) && r.time_us >= f.since_us &&
                r.time_us <= f.until_us)
                want.push_back(r.seq);
        if (want.size() > f.limit)
            want.erase(want.begin(), want.end() - f.limit);
        auto got = s->query(f);
        EXPECT_TRUE(got);
        std::vector<uint64_t> seqs;
        for (const Record &r : *got)
            seqs.push_back(r.seq);
        EXPECT_EQ(seqs, want) << "user=" << f.user << " action=" << f.action;
        return seqs.size();
    };
    int64_t t0 = 1'800'000'000'000'000;
    EXPECT_EQ(expect(Filter{}), everything->size());
    EXPECT_EQ(expect(by("bob")), 50u);
    EXPECT_GT(expect(by("alice", "commit")), 0u);
    EXPECT_EQ(expect(by("", "commit")), 37u);
    Filter window;
    window.since_us = t0 + 20'000'000;
    window.until_us = t0 + 39'000'000;
    EXPECT_GE(expect(window), 10u);
    Filter newest = by("carol");
    newest.limit = 7;
    EXPECT_EQ(expect(newest), 7u);
    Filter none = by("nobody");
    EXPECT_EQ(expect(none), 0u);
    Filter zero;
    zero.limit = 0;
    EXPECT_EQ(expect(zero), 0u);

    auto rep = s->verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken;
    EXPECT_EQ(rep.files, files.size());
    EXPECT_EQ(rep.records, s->last_seq());
}

TEST(AuditStore, R90_1_7_ReadAfterFollowsArchivesAndSkipsTheTornTail) {
    TempDir tmp;
    auto o = options_with(std::make_shared<Clock>());
    o.rotate_bytes = 2048;
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    for (int i = 0; i < 60; ++i)
        ASSERT_TRUE(s->append(ev("alice", "command", std::to_string(i))));
    uint64_t last = s->last_seq();
    ASSERT_GE(files_of(tmp.store()).size(), 3u);

    auto all = read_after(tmp.store(), 0, 100000);
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), last);
    for (size_t i = 0; i < all->size(); ++i)
        EXPECT_EQ((*all)[i].seq, i + 1);
    auto some = read_after(tmp.store(), 30, 5);
    ASSERT_TRUE(some);
    ASSERT_EQ(some->size(), 5u);
    EXPECT_EQ(some->front().seq, 31u);
    EXPECT_EQ(some->back().seq, 35u);
    EXPECT_TRUE(read_after(tmp.store(), last, 10)->empty());
    EXPECT_TRUE(read_after(tmp.store(), 0, 0)->empty());

    // A record being written (no newline yet) is not handed out.
    auto files = files_of(tmp.store());
    std::string cur = tmp.store() + "/" + files.back().name;
    std::string half = to_line((*all)[0]).substr(0, 40);
    spit(cur, slurp(cur) + half);
    auto tail = read_after(tmp.store(), last - 1, 10);
    ASSERT_TRUE(tail);
    ASSERT_EQ(tail->size(), 1u);
    EXPECT_EQ(tail->front().seq, last);

    auto missing = read_after(tmp.path() + "/nowhere", 0, 10);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().to_string().find("nowhere"), std::string::npos);
}

TEST(AuditStore, TornTailIsCutAndRecorded) {
    TempDir tmp;
    auto o = options_with(std::make_shared<Clock>());
    {
        auto s = open_ok(tmp.store(), o);
        ASSERT_TRUE(s);
        for (int i = 0; i < 5; ++i)
            ASSERT_TRUE(s->append(ev("alice", "command")));
    } // 5 records and a seal
    std::string cur = tmp.store() + "/" + file_name(1, false);
    std::string good = slurp(cur);
    spit(cur, good + "{\"action\":\"comm"); // 15 bytes, never acknowledged
    auto torn = verify_dir(tmp.store(), stored_key0(tmp.store()));
    EXPECT_FALSE(torn.ok);
    EXPECT_EQ(torn.first_broken.rfind(file_name(1, false) + " line 7 (seq 7): torn line (15 "
                                                            "bytes without a newline)",
                                      0),
              0u)
        << torn.first_broken;

    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    auto lines = split(slurp(cur));
    ASSERT_EQ(lines.size(), 7u);
    EXPECT_EQ(join(std::vector<std::string>(lines.begin(), lines.begin() + 6)), good);
    auto rec = parse_line(lines[6]);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->seq, 7u);
    EXPECT_EQ(rec->action, "audit-recovered");
    EXPECT_NE(rec->detail.find("15 bytes"), std::string::npos) << rec->detail;
    EXPECT_EQ(rec->prev, sha256_hex(lines[5]));
    auto rep = s->verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken;
}

TEST(AuditStore, InterruptedRotationAndKeySaveAreFinishedOnOpen) {
    TempDir tmp;
    auto o = options_with(std::make_shared<Clock>());
    o.seal_every_records = 3;
    std::string seal_key_before;
    {
        auto s = open_ok(tmp.store(), o);
        ASSERT_TRUE(s);
        for (int i = 0; i < 5; ++i)
            ASSERT_TRUE(s->append(ev("alice", "command")));
        seal_key_before = slurp(tmp.store() + "/seal.key"); // after seal 1 (seq 4)
        ASSERT_TRUE(s->append(ev("alice", "command")));     // seq 7 and seal seq 8
        ASSERT_EQ(s->last_seq(), 8u);
    }
    // A crash after seal 8 was written but before seal.key moved on to epoch 2.
    spit(tmp.store() + "/seal.key", seal_key_before);
    auto behind = verify_dir(tmp.store(), stored_key0(tmp.store()));
    EXPECT_TRUE(behind.ok) << behind.first_broken; // not tampering, just not yet saved
    // A rotation that stopped after the archive was renamed into place, and temp files.
    std::string plain = tmp.store() + "/" + file_name(1, false);
    std::string text = slurp(plain);
    auto gz = gzip(text);
    ASSERT_TRUE(gz);
    spit(tmp.store() + "/" + file_name(1, true), *gz);
    spit(tmp.store() + "/seal.key.tmp", "partial");
    spit(tmp.store() + "/" + file_name(9, true) + ".tmp", "partial");
    {
        auto s = open_ok(tmp.store(), o);
        ASSERT_TRUE(s);
        EXPECT_FALSE(fs::exists(plain));
        EXPECT_TRUE(fs::exists(tmp.store() + "/" + file_name(1, true)));
        EXPECT_FALSE(fs::exists(tmp.store() + "/seal.key.tmp"));
        EXPECT_FALSE(fs::exists(tmp.store() + "/" + file_name(9, true) + ".tmp"));
        auto k = read_seal_key(tmp.store());
        ASSERT_TRUE(k);
        EXPECT_EQ(k->epoch, 2); // seal 8's key evolution, finished
        EXPECT_EQ(k->seq, 8u);
        EXPECT_EQ(s->last_seq(), 8u);
        ASSERT_TRUE(s->append(ev("bob", "login")));
        ASSERT_TRUE(s->seal());
        auto rep = s->verify();
        EXPECT_TRUE(rep.ok) << rep.first_broken;
        EXPECT_EQ(rep.seals, 3u);
        EXPECT_EQ(rep.files, 2u);
    }
    // An older plain file left unarchived is archived on open.
    auto files = files_of(tmp.store());
    ASSERT_EQ(files.size(), 2u);
    auto old = lines_of(tmp.store(), files[0]);
    fs::remove(tmp.store() + "/" + files[0].name);
    put_lines(tmp.store(), FileEntry{files[0].first, false, file_name(files[0].first, false)}, old);
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    EXPECT_TRUE(fs::exists(tmp.store() + "/" + files[0].name));
    EXPECT_FALSE(fs::exists(tmp.store() + "/" + file_name(files[0].first, false)));
    EXPECT_TRUE(s->verify().ok);
}

TEST(AuditStore, R38_4_ExpiredArchivesLeaveTheChainAnchored) {
    TempDir tmp;
    auto clock = std::make_shared<Clock>();
    auto o = options_with(clock);
    o.rotate_bytes = 2048;
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    for (int i = 0; i < 40; ++i)
        ASSERT_TRUE(s->append(ev("alice", "command", "old " + std::to_string(i))));
    auto old_files = files_of(tmp.store());
    ASSERT_GE(old_files.size(), 3u);
    uint64_t old_last = s->last_seq();

    // 1094 days on: nothing is old enough to go yet.
    clock->now += 1094ll * 86400 * 1000000;
    for (int i = 0; i < 12; ++i)
        ASSERT_TRUE(s->append(ev("bob", "command", "mid " + std::to_string(i))));
    EXPECT_FALSE(fs::exists(tmp.store() + "/expired.json"));
    EXPECT_TRUE(fs::exists(tmp.store() + "/" + old_files[0].name));

    clock->now += 2ll * 86400 * 1000000;
    for (int i = 0; i < 30; ++i)
        ASSERT_TRUE(s->append(ev("carol", "command", "new " + std::to_string(i))));
    ASSERT_TRUE(fs::exists(tmp.store() + "/expired.json"));
    for (const FileEntry &f : old_files) {
        if (f.gz) {
            EXPECT_FALSE(fs::exists(tmp.store() + "/" + f.name)) << f.name;
        }
    }
    auto e = read_expired(tmp.store());
    ASSERT_TRUE(e && e->has_value());
    EXPECT_GE((*e)->seq, old_last - 20);
    EXPECT_LE((*e)->seq, old_last + 1);

    auto rep = s->verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken;
    EXPECT_NE(rep.summary.find("expired under the retention"), std::string::npos);
    auto after = read_after(tmp.store(), 0, 10);
    ASSERT_TRUE(after);
    ASSERT_FALSE(after->empty());
    EXPECT_EQ(after->front().seq, (*e)->seq + 1);
    auto q = s->query(by("alice"));
    ASSERT_TRUE(q);
    for (const Record &r : *q)
        EXPECT_GT(r.seq, (*e)->seq);
    s.reset();
    s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->verify().ok);

    // Without the anchor, the first file no longer starts where the chain does.
    s.reset();
    fs::remove(tmp.store() + "/expired.json");
    auto gone = verify_dir(tmp.store(), stored_key0(tmp.store()));
    EXPECT_FALSE(gone.ok);
    EXPECT_NE(gone.first_broken.find("but seq 1 was expected"), std::string::npos)
        << gone.first_broken;
}

TEST(AuditStore, R38_4_StorageLevelsFromFilesystemSpace) {
    TempDir tmp;
    auto o = options_with(std::make_shared<Clock>());
    auto space = std::make_shared<std::pair<uint64_t, uint64_t>>(1000ull << 20, 500ull << 20);
    o.fs_space = [space] { return *space; };
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->storage(), Storage::ok);
    *space = {1000ull << 20, 201ull << 20}; // 79.9% used
    EXPECT_EQ(s->storage(), Storage::ok);
    *space = {1000ull << 20, 200ull << 20}; // 80%
    EXPECT_EQ(s->storage(), Storage::warning);
    EXPECT_STREQ(to_string(s->storage()), "warning");
    *space = {1000ull << 20, 63ull << 20}; // below the 64 MiB reserve
    EXPECT_EQ(s->storage(), Storage::full);
    EXPECT_STREQ(to_string(Storage::full), "full");
    EXPECT_STREQ(to_string(Storage::ok), "ok");
    // Full is a policy signal for qorgand; records are still written while they fit.
    EXPECT_TRUE(s->append(ev("alice", "commit", "refused: audit storage full", "refused")));
    o.warn_percent = 50;
    *space = {1000ull << 20, 500ull << 20};
    ASSERT_TRUE(s->set_options(o));
    EXPECT_EQ(s->storage(), Storage::warning);

    // Without an injected function the real filesystem answers.
    Options real = options_with(std::make_shared<Clock>());
    real.fs_space = nullptr;
    real.reserve_bytes = 0;
    real.warn_percent = 100;
    TempDir other;
    auto r = open_ok(other.store(), real);
    ASSERT_TRUE(r);
    EXPECT_NE(r->storage(), Storage::full);
    real.reserve_bytes = UINT64_MAX;
    ASSERT_TRUE(r->set_options(real));
    EXPECT_EQ(r->storage(), Storage::full);
}

TEST(AuditStore, DefaultClockAndSyncStateComeFromTheKernel) {
    TempDir tmp;
    Options o;
    o.fs_space = [] { return std::pair<uint64_t, uint64_t>{1ull << 40, 1ull << 39}; };
    auto s = open_ok(tmp.store(), o);
    ASSERT_TRUE(s);
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    ASSERT_TRUE(s->append(ev("alice", "login")));
    auto all = s->query(Filter{});
    ASSERT_TRUE(all && all->size() == 1);
    int64_t before = int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
    EXPECT_GE((*all)[0].time_us, before);
    EXPECT_LT((*all)[0].time_us, before + 10'000'000);
}

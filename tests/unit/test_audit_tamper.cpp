// SPDX-License-Identifier: GPL-2.0-or-later
// R38-6: the audit store against interference. Every tampering the regulation names (a
// flipped bit, a deleted record, reordered records, a truncated file, a deleted archive, a
// re-seal under another key) is detected and the first broken record named; and 100
// SIGKILLs during heavy writing lose no acknowledged record and leave every chain intact.
#include "test_audit_helpers.h"

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace qorgan::audit;
using namespace qorgan::audit::test;

namespace {

// Three or more sealed archives and a current file of eight records with two seals in it.
struct Layout {
    TempDir tmp;
    std::string dir;
    Key key0{};
    std::vector<FileEntry> files;

    Layout() : dir(tmp.store()) {
        auto clock = std::make_shared<Clock>();
        Options o = options_with(clock);
        o.seal_every_records = 4;
        o.rotate_bytes = 1500;
        auto s = open_ok(dir, o);
        if (!s)
            return;
        const char *users[] = {"alice", "bob"};
        for (int i = 0; i < 20; ++i)
            EXPECT_TRUE(s->append(ev(users[i % 2], "command", "set rule " + std::to_string(i))));
        o.rotate_bytes = 1 << 20;
        EXPECT_TRUE(s->set_options(o));
        for (int i = 0; i < 8; ++i)
            EXPECT_TRUE(s->append(ev("carol", "commit", "+ nat rule " + std::to_string(i))));
        s.reset(); // seals the tail
        key0 = stored_key0(dir);
        files = files_of(dir);
    }
    const FileEntry &current() const { return files.back(); }
    const FileEntry &archive(size_t i) const { return files[i]; }
    std::vector<std::string> lines(const FileEntry &f) const { return lines_of(dir, f); }
    VerifyReport verify() const { return verify_dir(dir, key0); }
};

bool starts_with(const std::string &s, const std::string &prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

#define EXPECT_BROKEN_AT(report, prefix)                                                           \
    do {                                                                                           \
        auto rep_ = (report);                                                                      \
        EXPECT_FALSE(rep_.ok);                                                                     \
        EXPECT_TRUE(starts_with(rep_.first_broken, prefix))                                        \
            << "expected: " << (prefix) << "\n     got: " << rep_.first_broken;                    \
        EXPECT_NE(rep_.summary.find("BROKEN at"), std::string::npos);                              \
    } while (0)

std::string at(const FileEntry &f, size_t line, uint64_t seq) {
    return f.name + " line " + std::to_string(line) + " (seq " + std::to_string(seq) + ")";
}

uint64_t seq_of(const std::string &line) {
    auto r = parse_line(line);
    EXPECT_TRUE(r);
    return r ? r->seq : 0;
}

// Rewrites every file as an intruder who knows the format but not key_0 would: one record
// edited, the whole chain rehashed and every seal remade with `key0`.
void reseal_all(const std::string &dir, const Key &key0, uint64_t edit_seq) {
    Key key = key0;
    int64_t epoch = 0;
    std::string prev;
    uint64_t last_seal = 0;
    for (const FileEntry &f : files_of(dir)) {
        std::vector<std::string> out;
        for (const std::string &line : lines_of(dir, f)) {
            auto r = parse_line(line);
            ASSERT_TRUE(r);
            if (r->seq == edit_seq)
                r->detail = "nothing to see here";
            r->prev = prev;
            if (r->action == "seal") {
                r->epoch = epoch++;
                r->hmac =
                    seal_hmac(key, seal_message(r->seq, r->prev, r->time_us, r->clock_synced));
                key = evolve(key);
                last_seal = r->seq;
            }
            out.push_back(to_line(*r));
            prev = sha256_hex(out.back());
        }
        put_lines(dir, f, out);
    }
    ASSERT_TRUE(write_seal_key(dir, SealKey{epoch, key, last_seal}));
}

} // namespace

TEST(AuditTamper, R38_6_AnUntouchedStoreVerifies) {
    Layout l;
    ASSERT_GE(l.files.size(), 4u);
    auto rep = l.verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken;
    EXPECT_EQ(rep.files, l.files.size());
    EXPECT_EQ(rep.records, seq_of(l.lines(l.current()).back()));
    EXPECT_GE(rep.seals, 6u);
    EXPECT_EQ(rep.unsealed_tail, 0u);
    EXPECT_EQ(rep.first_broken, "");
    EXPECT_EQ(rep.summary, std::to_string(rep.files) + " files, " + std::to_string(rep.records) +
                               " records, " + std::to_string(rep.seals) + " seals: intact");
}

// Every single-bit change of a record, and of the final seal, in the current file.
TEST(AuditTamper, R38_6_EveryFlippedBitInTheCurrentFileIsDetected) {
    Layout l;
    auto lines = l.lines(l.current());
    ASSERT_GE(lines.size(), 9u);
    size_t targets[] = {2, lines.size() - 1}; // line 3 (a record) and the last (a seal)
    ASSERT_EQ(parse_line(lines[2])->action, "commit");
    ASSERT_EQ(parse_line(lines.back())->action, "seal");
    size_t flips = 0;
    for (size_t t : targets) {
        std::string prefix = l.current().name + " line " + std::to_string(t + 1) + " ";
        for (size_t byte = 0; byte < lines[t].size(); ++byte) {
            for (int bit = 0; bit < 8; ++bit) {
                auto tampered = lines;
                tampered[t][byte] = static_cast<char>(tampered[t][byte] ^ (1 << bit));
                put_lines(l.dir, l.current(), tampered);
                auto rep = l.verify();
                ++flips;
                ASSERT_FALSE(rep.ok) << "byte " << byte << " bit " << bit;
                ASSERT_TRUE(starts_with(rep.first_broken, prefix))
                    << "byte " << byte << " bit " << bit << ": " << rep.first_broken;
            }
        }
    }
    EXPECT_GT(flips, 4000u);
    put_lines(l.dir, l.current(), lines);
    EXPECT_TRUE(l.verify().ok);
}

// Every single-bit change of a record inside an archive (re-compressed), and every bit of
// the compressed file itself that changes what it holds.
TEST(AuditTamper, R38_6_EveryFlippedBitInAnArchiveIsDetected) {
    Layout l;
    const FileEntry &a = l.archive(1);
    auto lines = l.lines(a);
    ASSERT_GE(lines.size(), 3u);
    std::string prefix = a.name + " line 2 ";
    for (size_t byte = 0; byte < lines[1].size(); ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            auto tampered = lines;
            tampered[1][byte] = static_cast<char>(tampered[1][byte] ^ (1 << bit));
            put_lines(l.dir, a, tampered);
            auto rep = l.verify();
            ASSERT_FALSE(rep.ok);
            ASSERT_TRUE(starts_with(rep.first_broken, prefix))
                << "byte " << byte << " bit " << bit << ": " << rep.first_broken;
        }
    }
    put_lines(l.dir, a, lines);

    std::string path = l.dir + "/" + a.name;
    std::string gz = slurp(path), plain = join(lines);
    size_t changed = 0, detected = 0;
    for (size_t bitpos = 0; bitpos < gz.size() * 8; ++bitpos) {
        std::string t = gz;
        t[bitpos / 8] = static_cast<char>(t[bitpos / 8] ^ (1 << (bitpos % 8)));
        auto inflated = gunzip(t);
        if (inflated && *inflated == plain)
            continue; // the gzip header's time stamp or padding: no record changed
        ++changed;
        spit(path, t);
        auto rep = l.verify();
        if (!rep.ok && rep.first_broken.find(a.name) != std::string::npos)
            ++detected;
    }
    spit(path, gz);
    EXPECT_GT(changed, gz.size() * 6);
    EXPECT_EQ(detected, changed);
    EXPECT_TRUE(l.verify().ok);
}

TEST(AuditTamper, R38_6_ADeletedRecordIsDetected) {
    Layout l;
    auto cur = l.lines(l.current());
    uint64_t s3 = seq_of(cur[2]);
    auto t = cur;
    t.erase(t.begin() + 2);
    put_lines(l.dir, l.current(), t);
    EXPECT_BROKEN_AT(l.verify(), at(l.current(), 3, s3) + ": found seq " + std::to_string(s3 + 1) +
                                     ": records are missing");
    put_lines(l.dir, l.current(), cur);

    // In an archive, the first record.
    const FileEntry &a = l.archive(2);
    auto arch = l.lines(a);
    t = arch;
    t.erase(t.begin());
    put_lines(l.dir, a, t);
    EXPECT_BROKEN_AT(l.verify(), at(a, 1, a.first) + ": found seq " + std::to_string(a.first + 1));
    put_lines(l.dir, a, arch);

    // The final seal: the store sealed once more than the files show.
    t = cur;
    t.pop_back();
    put_lines(l.dir, l.current(), t);
    auto k = read_seal_key(l.dir);
    ASSERT_TRUE(k);
    EXPECT_BROKEN_AT(l.verify(), l.current().name + ": truncated: the store sealed " +
                                     std::to_string(k->epoch) + " times, the files hold " +
                                     std::to_string(k->epoch - 1) + " seals");
}

TEST(AuditTamper, R38_6_ReorderedRecordsAreDetected) {
    Layout l;
    auto cur = l.lines(l.current());
    auto t = cur;
    std::swap(t[2], t[3]);
    put_lines(l.dir, l.current(), t);
    uint64_t s3 = seq_of(cur[2]);
    EXPECT_BROKEN_AT(l.verify(), at(l.current(), 3, s3) + ": found seq " + std::to_string(s3 + 1) +
                                     ": records are missing or out");

    // Renumbered to hide the swap: the chain of hashes still shows it.
    auto r3 = parse_line(cur[3]), r4 = parse_line(cur[2]);
    ASSERT_TRUE(r3 && r4);
    std::swap(r3->seq, r4->seq);
    t = cur;
    t[2] = to_line(*r3);
    t[3] = to_line(*r4);
    put_lines(l.dir, l.current(), t);
    auto rep = l.verify();
    EXPECT_FALSE(rep.ok);
    EXPECT_NE(rep.first_broken.find(l.current().name + " line "), std::string::npos);

    // Two archives swapped by name.
    put_lines(l.dir, l.current(), cur);
    const FileEntry &a = l.archive(1), &b = l.archive(2);
    std::string ta = slurp(l.dir + "/" + a.name), tb = slurp(l.dir + "/" + b.name);
    spit(l.dir + "/" + a.name, tb);
    spit(l.dir + "/" + b.name, ta);
    EXPECT_BROKEN_AT(l.verify(), at(a, 1, a.first) + ": found seq " + std::to_string(b.first));
}

TEST(AuditTamper, R38_6_TruncatedFilesAreDetected) {
    Layout l;
    auto cur = l.lines(l.current());
    auto k = read_seal_key(l.dir);
    ASSERT_TRUE(k);
    // At a record boundary: the seals cut off are missed.
    put_lines(l.dir, l.current(), std::vector<std::string>(cur.begin(), cur.begin() + 4));
    auto rep = l.verify();
    EXPECT_BROKEN_AT(rep, l.current().name + ": truncated: the store sealed " +
                              std::to_string(k->epoch) + " times");
    // To nothing at all.
    put_lines(l.dir, l.current(), {});
    EXPECT_BROKEN_AT(l.verify(), l.current().name + ": truncated: the store sealed");
    // In the middle of a line.
    std::string text = join(cur);
    size_t cut = text.size() - cur.back().size() - cur[cur.size() - 2].size() / 2 - 1;
    spit(l.dir + "/" + l.current().name, text.substr(0, cut));
    EXPECT_BROKEN_AT(l.verify(),
                     at(l.current(), cur.size() - 1, seq_of(cur[cur.size() - 2])) + ": torn line");
    put_lines(l.dir, l.current(), cur);

    // An archive cut at a record boundary: the next file starts past the gap.
    const FileEntry &a = l.archive(1), &next = l.archive(2);
    auto arch = l.lines(a);
    put_lines(l.dir, a, std::vector<std::string>(arch.begin(), arch.end() - 2));
    EXPECT_BROKEN_AT(l.verify(), next.name + ": starts at seq " + std::to_string(next.first) +
                                     " but seq " + std::to_string(next.first - 2) +
                                     " was expected");
    // An archive's compressed bytes cut short.
    put_lines(l.dir, a, arch);
    std::string gz = slurp(l.dir + "/" + a.name);
    spit(l.dir + "/" + a.name, gz.substr(0, gz.size() / 2));
    EXPECT_BROKEN_AT(l.verify(), l.dir + "/" + a.name +
                                     ": cannot inflate: the gzip stream is "
                                     "truncated");
    spit(l.dir + "/" + a.name, gz);
    EXPECT_TRUE(l.verify().ok);
}

TEST(AuditTamper, R38_6_DeletedAndDuplicatedFilesAreDetected) {
    Layout l;
    const FileEntry &first = l.archive(0), &mid = l.archive(2), &after = l.archive(3);
    std::string mid_text = slurp(l.dir + "/" + mid.name);
    fs::remove(l.dir + "/" + mid.name);
    EXPECT_BROKEN_AT(l.verify(), after.name + ": starts at seq " + std::to_string(after.first) +
                                     " but seq " + std::to_string(mid.first) +
                                     " was expected: records " + std::to_string(mid.first) + "-" +
                                     std::to_string(after.first - 1) + " are missing");
    spit(l.dir + "/" + mid.name, mid_text);

    std::string first_text = slurp(l.dir + "/" + first.name);
    fs::remove(l.dir + "/" + first.name);
    EXPECT_BROKEN_AT(l.verify(), l.archive(1).name + ": starts at seq " +
                                     std::to_string(l.archive(1).first) +
                                     " but seq 1 was expected");
    spit(l.dir + "/" + first.name, first_text);

    // A copy of an archive under the next seq's name.
    std::string copy = file_name(mid.first + 1, true);
    spit(l.dir + "/" + copy, mid_text);
    EXPECT_BROKEN_AT(l.verify(), copy + ": starts at seq " + std::to_string(mid.first + 1) +
                                     ", which the files before already hold");
    fs::remove(l.dir + "/" + copy);

    // An archive twin of the current file.
    std::string twin = file_name(l.current().first, true);
    auto gz = gzip(join(l.lines(l.current())));
    ASSERT_TRUE(gz);
    spit(l.dir + "/" + twin, *gz);
    EXPECT_BROKEN_AT(l.verify(), l.current().name + ": starts at seq " +
                                     std::to_string(l.current().first) +
                                     ", which the files before already hold");
    fs::remove(l.dir + "/" + twin);
    EXPECT_TRUE(l.verify().ok);
}

TEST(AuditTamper, R38_6_DamagedFilesAreNamed) {
    Layout l;
    const FileEntry &a = l.archive(1);
    std::string path = l.dir + "/" + a.name, gz = slurp(path);
    spit(path, "this is not gzip");
    EXPECT_BROKEN_AT(l.verify(), path + ": cannot inflate");
    auto empty = gzip("");
    ASSERT_TRUE(empty);
    spit(path, *empty);
    EXPECT_BROKEN_AT(l.verify(), a.name + ": holds no records");
    spit(path, gz + "trailing");
    EXPECT_BROKEN_AT(l.verify(), path + ": cannot inflate: data after the end");
    spit(path, gz);

    // A line cut in half in the middle of a file, the rest following it.
    auto cur = l.lines(l.current());
    auto t = cur;
    t[2] = t[2].substr(0, t[2].size() / 2);
    put_lines(l.dir, l.current(), t);
    EXPECT_BROKEN_AT(l.verify(), at(l.current(), 3, seq_of(cur[2])) + ": not JSON");
    put_lines(l.dir, l.current(), cur);

    spit(l.dir + "/expired.json", "garbage");
    EXPECT_BROKEN_AT(l.verify(), l.dir + "/expired.json: not a JSON object");
    fs::remove(l.dir + "/expired.json");

    std::string seal_key = slurp(l.dir + "/seal.key");
    fs::remove(l.dir + "/seal.key");
    EXPECT_BROKEN_AT(l.verify(), l.dir + "/seal.key: cannot open");
    spit(l.dir + "/seal.key", seal_key);
    EXPECT_TRUE(l.verify().ok);

    std::string verify_key = slurp(l.dir + "/verify.key");
    fs::remove(l.dir + "/verify.key");
    auto s = Store::open(l.dir, options_with(std::make_shared<Clock>()));
    ASSERT_TRUE(s);
    // Key 0 kept offline only (docs/AUDIT.md): the chain is still checked, the seals are not.
    auto rep = (*s)->verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken;
    EXPECT_NE(rep.summary.find("seals not checked"), std::string::npos) << rep.summary;
    {
        // ...and an edited record still breaks the chain.
        auto files = files_of(l.dir);
        ASSERT_FALSE(files.empty());
        auto lines = lines_of(l.dir, files.back());
        ASSERT_GT(lines.size(), 2u);
        std::string saved = lines[1];
        lines[1][lines[1].size() / 2] ^= 0x01;
        put_lines(l.dir, files.back(), lines);
        EXPECT_FALSE((*s)->verify().ok);
        lines[1] = saved;
        put_lines(l.dir, files.back(), lines);
        EXPECT_TRUE((*s)->verify().ok);
    }
    // A malformed verify.key is an error, not a silent chain-only check.
    spit(l.dir + "/verify.key", "not hex\n");
    rep = (*s)->verify();
    EXPECT_FALSE(rep.ok);
    EXPECT_TRUE(starts_with(rep.first_broken, l.dir + "/verify.key")) << rep.first_broken;
    spit(l.dir + "/verify.key", verify_key);
    EXPECT_TRUE((*s)->verify().ok);
}

// An intruder edits a record, rehashes the whole chain and remakes every seal with a key
// of their own (as they must: key_0 is not theirs). The first seal gives it away.
TEST(AuditTamper, R38_6_ResealingWithAnotherKeyIsDetected) {
    Layout l;
    auto wrong = random_key();
    ASSERT_TRUE(wrong);
    auto first_archive = l.lines(l.archive(0));
    uint64_t edit = seq_of(first_archive[1]);
    size_t seal_line = 0;
    for (size_t i = 0; i < first_archive.size() && seal_line == 0; ++i)
        if (parse_line(first_archive[i])->action == "seal")
            seal_line = i + 1;
    ASSERT_GT(seal_line, 2u);
    reseal_all(l.dir, *wrong, edit);

    auto rep = l.verify();
    EXPECT_BROKEN_AT(rep, at(l.archive(0), seal_line, seal_line) +
                              ": seal of epoch 0 does not match: records before it were "
                              "altered or the seal was forged");
    auto s = Store::open(l.dir, options_with(std::make_shared<Clock>()));
    ASSERT_TRUE(s);
    EXPECT_FALSE((*s)->verify().ok);
    s->reset();

    // With verify.key replaced too, the store's own check is fooled: that is why the
    // auditor keeps key_0 offline and checks with verify_dir().
    ASSERT_TRUE(write_atomic(l.dir, "verify.key", to_hex(wrong->data(), 32) + "\n", 0600));
    s = Store::open(l.dir, options_with(std::make_shared<Clock>()));
    ASSERT_TRUE(s);
    EXPECT_TRUE((*s)->verify().ok);
    EXPECT_BROKEN_AT(verify_dir(l.dir, l.key0), at(l.archive(0), seal_line, seal_line));
}

TEST(AuditTamper, R38_6_VerifyDirWithTheRightAndAWrongKey0) {
    Layout l;
    auto hex = slurp(l.dir + "/verify.key");
    auto key0 = key_from_hex(hex.substr(0, 64));
    ASSERT_TRUE(key0);
    EXPECT_TRUE(verify_dir(l.dir, *key0).ok);
    Key wrong = *key0;
    wrong[31] ^= 1;
    auto first = l.lines(l.archive(0));
    size_t seal_line = 0;
    for (size_t i = 0; i < first.size() && seal_line == 0; ++i)
        if (parse_line(first[i])->action == "seal")
            seal_line = i + 1;
    EXPECT_BROKEN_AT(verify_dir(l.dir, wrong),
                     at(l.archive(0), seal_line, seal_line) + ": seal of epoch 0 does not match");
    EXPECT_FALSE(key_from_hex("abc"));
    EXPECT_FALSE(key_from_hex(std::string(64, 'G')));
}

// The forward property: whoever holds seal.key now (epoch n) can seal new records but
// cannot remake an earlier seal, so editing sealed records stays visible.
TEST(AuditTamper, R38_6_AStolenCurrentKeyCannotForgeEarlierSeals) {
    Layout l;
    auto k = read_seal_key(l.dir);
    ASSERT_TRUE(k);
    auto cur = l.lines(l.current());
    // Remake the last seal (epoch n-1) with the stolen epoch-n key after an edit.
    auto t = cur;
    auto rec = parse_line(t[1]);
    ASSERT_TRUE(rec);
    rec->detail = "edited";
    t[1] = to_line(*rec);
    std::string prev = sha256_hex(t[1]);
    for (size_t i = 2; i < t.size(); ++i) {
        auto r = parse_line(t[i]);
        ASSERT_TRUE(r);
        r->prev = prev;
        if (r->action == "seal")
            r->hmac = seal_hmac(k->key, seal_message(r->seq, r->prev, r->time_us, true));
        t[i] = to_line(*r);
        prev = sha256_hex(t[i]);
    }
    put_lines(l.dir, l.current(), t);
    auto rep = l.verify();
    EXPECT_FALSE(rep.ok);
    EXPECT_NE(rep.first_broken.find("does not match"), std::string::npos) << rep.first_broken;
}

// 100 SIGKILLs at random moments (0-30 ms) into a process appending as fast as it can,
// with seals and rotations on the way: every acknowledged record is there, with its
// content, and the chain verifies. Every fourth round counts the moment from the fork, so
// that kills also land inside open() and its recovery; the others from the first append.
TEST(AuditCrash, R38_6_HundredSigkillsLoseNoAcknowledgedRecord) {
    TempDir tmp;
    std::string dir = tmp.store();
    Options o;
    o.rotate_bytes = 16 << 10;
    o.seal_every_records = 16;
    o.clock_synced = [] { return true; };
    std::random_device rd;
    unsigned seed = rd();
    std::mt19937 rng(seed);
    std::map<uint64_t, std::string> acked; // seq -> detail
    constexpr uint64_t ready = UINT64_MAX;
    int killed_in_open = 0;
    for (int round = 0; round < 100; ++round) {
        int p[2];
        ASSERT_EQ(::pipe(p), 0);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(p[0]);
            auto s = Store::open(dir, o);
            if (!s)
                ::_exit(2);
            uint64_t hello[2] = {ready, 0};
            if (::write(p[1], hello, sizeof hello) != sizeof hello)
                ::_exit(4);
            for (uint64_t n = 0;; ++n) {
                Event e = ev("crash", "command",
                             "round " + std::to_string(round) + " n " + std::to_string(n));
                auto seq = (*s)->append(e);
                if (!seq)
                    ::_exit(3);
                uint64_t msg[2] = {*seq, n};
                if (::write(p[1], msg, sizeof msg) != sizeof msg)
                    ::_exit(4);
            }
        }
        ::close(p[1]);
        uint64_t msg[2];
        bool opened = false;
        if (round % 4 != 0) {
            ASSERT_EQ(::read(p[0], msg, sizeof msg), ssize_t(sizeof msg))
                << "the child could not open the store in round " << round;
            opened = true;
        }
        ::usleep(std::uniform_int_distribution<unsigned>(0, 30000)(rng));
        ::kill(pid, SIGKILL);
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status)
                                         << " in round " << round << " (seed " << seed << ")";
        while (::read(p[0], msg, sizeof msg) == sizeof msg) {
            if (msg[0] == ready) {
                opened = true;
                continue;
            }
            acked[msg[0]] = "round " + std::to_string(round) + " n " + std::to_string(msg[1]);
        }
        ::close(p[0]);
        killed_in_open += !opened;
    }
    ASSERT_GT(acked.size(), 50u) << "too few writes to mean anything";

    auto s = open_ok(dir, o);
    ASSERT_TRUE(s);
    auto all = read_after(dir, 0, SIZE_MAX);
    ASSERT_TRUE(all);
    std::map<uint64_t, const Record *> by_seq;
    for (const Record &r : *all)
        by_seq[r.seq] = &r;
    size_t lost = 0;
    for (auto &[seq, detail] : acked) {
        auto it = by_seq.find(seq);
        if (it == by_seq.end() || it->second->detail != detail) {
            ++lost;
            ADD_FAILURE() << "acknowledged seq " << seq << " (" << detail << ") lost, seed "
                          << seed;
        }
    }
    EXPECT_EQ(lost, 0u);
    auto rep = s->verify();
    EXPECT_TRUE(rep.ok) << rep.first_broken << " (seed " << seed << ")";
    EXPECT_GT(rep.files, 3u);
    size_t recovered = 0;
    for (const Record &r : *all)
        recovered += r.action == "audit-recovered";
    std::cout << "[ crash    ] " << acked.size() << " acknowledged records, " << rep.summary << ", "
              << killed_in_open << " kills inside open(), " << recovered
              << " torn tails recovered\n";
}

// SPDX-License-Identifier: GPL-2.0-or-later
// Commit semantics of qorgand against a fake dataplane: bootstrap, commit, check, stale
// candidates, compliance refusals (R139-7/R139-8), commit confirmed, rollback, compare,
// load/save, recovery, and 200+ random kill points during a commit (issue 3).
#include "control/transactions.h"

#include "config/config.h"
#include "config/tree.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace qorgan;
using namespace qorgan::control;

namespace {

// A fresh folder per test, tagged so a leftover is easy to trace.
struct TempDir : qorgan::test::TempDir {
    TempDir() : qorgan::test::TempDir("qorgan-tx") {}
};

// Records what it is asked to run; can fail on demand; optionally keeps its state in a
// file replaced atomically, so that it survives a killed process.
class FakeDataplane : public DataplaneLink {
public:
    explicit FakeDataplane(std::string persist = {}) : _persist(std::move(persist)) {
        if (_persist.empty())
            return;
        std::ifstream in(_persist);
        in >> _state.epoch >> _state.revision >> _state.sha256;
    }

    Result<DataplaneState> apply(const std::string &text, uint32_t revision,
                                 const std::string &sha256) override {
        ++apply_calls;
        if (fail_apply)
            return Error{Location{}, "fake: the snapshot did not compile"};
        EXPECT_EQ(sha256_hex(text), sha256);
        _state = DataplaneState{_state.epoch + 1, revision, sha256};
        last_text = text;
        if (!_persist.empty()) {
            const std::string temp = _persist + ".tmp";
            std::ofstream(temp, std::ios::trunc)
                << _state.epoch << ' ' << _state.revision << ' ' << _state.sha256 << '\n';
            fs::rename(temp, _persist);
        }
        return _state;
    }
    Result<DataplaneState> state() override {
        if (fail_state)
            return Error{Location{}, "fake: control socket closed"};
        return _state;
    }

    void force(DataplaneState s) { _state = std::move(s); }
    const DataplaneState &current() const { return _state; }

    int apply_calls = 0;
    bool fail_apply = false;
    bool fail_state = false;
    std::string last_text;

private:
    std::string _persist;
    DataplaneState _state;
};

constexpr const char *base_text = R"(interfaces {
    inner0 { device "net_null0"; address 198.18.1.1/24; zone inner; }
    inet0 { device "net_null1"; address 203.0.113.1/24; zone internet; }
}
zones { inner { loop inner; } internet { loop internet; } }
policy {
    inner0 { egress { rule 1000 { action accept; } } }
    inet0 { egress { rule 1000 { action accept; } } }
}
)";

// base + an allowed rule: inner hosts ping the gateway.
constexpr const char *ping_text = R"(interfaces {
    inner0 { device "net_null0"; address 198.18.1.1/24; zone inner; }
    inet0 { device "net_null1"; address 203.0.113.1/24; zone internet; }
}
zones { inner { loop inner; } internet { loop internet; } }
policy {
    inner0 {
        ingress { rule 10 { protocol icmp; destination 198.18.1.1; action accept; } }
        egress { rule 1000 { action accept; } }
    }
    inet0 { egress { rule 1000 { action accept; } } }
}
)";

// base with a bigger MTU on inet0.
constexpr const char *mtu_text = R"(interfaces {
    inner0 { device "net_null0"; address 198.18.1.1/24; zone inner; }
    inet0 { device "net_null1"; address 203.0.113.1/24; zone internet; mtu 9000; }
}
zones { inner { loop inner; } internet { loop internet; } }
policy {
    inner0 { egress { rule 1000 { action accept; } } }
    inet0 { egress { rule 1000 { action accept; } } }
}
)";

config::Node tree_of(const std::string &text) {
    auto t = config::parse_tree(text, "test");
    EXPECT_TRUE(t.ok()) << (t ? "" : t.error().to_string());
    return std::move(t.value());
}

std::string canonical(const std::string &text) {
    return config::print_tree(tree_of(text));
}

void write_file(const std::string &path, const std::string &text) {
    std::ofstream(path, std::ios::trunc) << text;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A store with the base configuration committed as revision 1.
struct Fixture {
    TempDir tmp;
    Store store;
    FakeDataplane dp;
    Transactions tx;

    Fixture() : store(open()), tx(store, dp, base_text) {
        auto r = tx.recover();
        EXPECT_TRUE(r.ok()) << (r ? "" : r.error().to_string());
    }
    Store open() {
        auto s = Store::open(tmp.path() + "/store");
        EXPECT_TRUE(s.ok());
        return std::move(s.value());
    }
    Candidate candidate(const std::string &text) {
        auto c = tx.begin();
        EXPECT_TRUE(c.ok());
        c->tree = tree_of(text);
        c->changed = true;
        return std::move(c.value());
    }
    Result<CommitResult> commit(const std::string &text, const std::string &author = "admin",
                                int64_t now = 1000) {
        auto c = candidate(text);
        return tx.commit(c, CommitOptions{author, "test", std::nullopt}, now);
    }
};

bool contains(const std::string &hay, const std::string &needle) {
    return hay.find(needle) != std::string::npos;
}

} // namespace

TEST(Transactions, FirstRecoverCommitsTheBootstrap) {
    Fixture f;
    EXPECT_EQ(f.store.running(), 1u);
    auto info = f.store.info(1);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->author, "qorgand");
    EXPECT_EQ(info->sha256, sha256_hex(canonical(base_text)));
    EXPECT_EQ(f.dp.apply_calls, 1);
    EXPECT_EQ(f.dp.current().sha256, info->sha256);
    EXPECT_EQ(f.dp.current().revision, 1u);
    EXPECT_EQ(f.dp.last_text, canonical(base_text));
    // Starting again with the same dataplane changes nothing.
    auto again = f.tx.recover();
    ASSERT_TRUE(again);
    EXPECT_TRUE(contains(*again, "nothing to do")) << *again;
    EXPECT_EQ(f.dp.apply_calls, 1);
    EXPECT_EQ(f.store.list().size(), 1u);
}

TEST(Transactions, RecoverRefusesAnInvalidBootstrap) {
    TempDir tmp;
    auto store = Store::open(tmp.path());
    ASSERT_TRUE(store);
    FakeDataplane dp;
    Transactions syntax(*store, dp, "interfaces {");
    auto r = syntax.recover();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().where.file, "bootstrap");
    Transactions schema(*store, dp, "zones { inner { loop sideways; } }\n");
    auto s = schema.recover();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().where.file, "candidate");
    EXPECT_EQ(dp.apply_calls, 0);
    EXPECT_EQ(store->running(), 0u);
}

TEST(Transactions, CommitOfAChange) {
    Fixture f;
    auto c = f.candidate(ping_text);
    auto r = f.tx.commit(c, CommitOptions{"alice", "ping the gateway", std::nullopt}, 1000);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->revision, 2u);
    EXPECT_EQ(r->epoch, 2u);
    EXPECT_FALSE(r->no_change);
    EXPECT_EQ(r->confirm_deadline, 0);
    EXPECT_EQ(c.base, 2u);
    EXPECT_FALSE(c.changed);
    EXPECT_EQ(f.store.running(), 2u);
    auto text = f.store.text(2);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, canonical(ping_text));
    auto info = f.store.info(2);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->author, "alice");
    EXPECT_EQ(info->comment, "ping the gateway");
    EXPECT_EQ(f.dp.current().sha256, info->sha256);
    EXPECT_EQ(f.dp.current().revision, 2u);
    // The same candidate object can go on: it is now based on revision 2.
    c.tree = tree_of(mtu_text);
    auto next = f.tx.commit(c, CommitOptions{"alice", "", std::nullopt}, 1001);
    ASSERT_TRUE(next) << next.error().to_string();
    EXPECT_EQ(next->revision, 3u);
}

TEST(Transactions, NoOpCommitStoresNothing) {
    Fixture f;
    auto c = f.tx.begin();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->base, 1u);
    auto r = f.tx.commit(*c, CommitOptions{"alice", "", std::nullopt}, 1000);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->no_change);
    EXPECT_EQ(r->revision, 1u);
    EXPECT_EQ(r->epoch, 1u);
    EXPECT_EQ(f.store.list().size(), 1u);
    EXPECT_EQ(f.dp.apply_calls, 1);
}

TEST(Transactions, CommitCheckDoesNotStore) {
    Fixture f;
    auto c = f.candidate(ping_text);
    EXPECT_TRUE(f.tx.check(c));
    EXPECT_EQ(f.store.list().size(), 1u);
    EXPECT_EQ(f.store.running(), 1u);
    EXPECT_EQ(f.dp.apply_calls, 1);
}

TEST(Transactions, SchemaErrorIsRefusedWithItsLocation) {
    Fixture f;
    std::string bad = mtu_text;
    bad.replace(bad.find("mtu 9000"), 8, "mtu 100");
    auto c = f.candidate(bad);
    auto check = f.tx.check(c);
    ASSERT_FALSE(check);
    EXPECT_EQ(check.error().where.file, "candidate");
    EXPECT_GT(check.error().where.line, 0);
    EXPECT_GT(check.error().where.column, 0);
    EXPECT_TRUE(contains(check.error().message, "mtu")) << check.error().message;
    auto r = f.tx.commit(c, CommitOptions{"alice", "", std::nullopt}, 1000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().to_string(), check.error().to_string());
    EXPECT_EQ(f.store.list().size(), 1u);
    EXPECT_EQ(f.dp.apply_calls, 1);
}

// R139-8: an inner-loop interface with a rule accepting traffic to an internet-loop subnet.
TEST(Transactions, R139_8_InnerToInternetIsRefused) {
    Fixture f;
    std::string bad = ping_text;
    bad.replace(bad.find("protocol icmp; destination 198.18.1.1;"),
                std::string("protocol icmp; destination 198.18.1.1;").size(),
                "destination 203.0.113.0/24;");
    auto c = f.candidate(bad);
    auto r = f.tx.commit(c, CommitOptions{"alice", "", std::nullopt}, 1000);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "R139-8")) << r.error().to_string();
    EXPECT_TRUE(contains(r.error().message, "policy inner0 ingress rule 10"))
        << r.error().to_string();
    EXPECT_EQ(r.error().where.file, "candidate");
    EXPECT_FALSE(f.tx.check(c));
    EXPECT_EQ(f.store.list().size(), 1u);
    EXPECT_EQ(f.store.running(), 1u);
    EXPECT_EQ(f.dp.apply_calls, 1);
}

TEST(Transactions, StaleCandidateIsRefusedNamingWhoAndWhen) {
    Fixture f;
    auto first = f.candidate(ping_text);
    auto second = f.candidate(mtu_text);
    ASSERT_TRUE(f.tx.commit(first, CommitOptions{"alice", "", std::nullopt}, 1000));
    auto r = f.tx.commit(second, CommitOptions{"bob", "", std::nullopt}, 1001);
    ASSERT_FALSE(r);
    const auto &m = r.error().message;
    EXPECT_TRUE(contains(m, "stale")) << m;
    EXPECT_TRUE(contains(m, "committed by alice at ")) << m;
    EXPECT_TRUE(contains(m, " UTC")) << m;
    EXPECT_TRUE(contains(m, "revision 2")) << m;
    EXPECT_TRUE(contains(m, "`rollback 0` or `update`")) << m;
    EXPECT_EQ(f.store.running(), 2u);
    EXPECT_EQ(f.store.list().size(), 2u);
}

TEST(Transactions, StaleCandidateWhenTheRunningRevisionLostItsMetadata) {
    Fixture f;
    auto first = f.candidate(ping_text);
    auto second = f.candidate(mtu_text);
    ASSERT_TRUE(f.tx.commit(first, CommitOptions{"alice", "", std::nullopt}, 1000));
    fs::remove(f.tmp.path() + "/store/revisions/00000002.meta");
    auto r = f.tx.commit(second, CommitOptions{"bob", "", std::nullopt}, 1001);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "committed by another session since this candidate"))
        << r.error().message;
}

TEST(Transactions, DataplaneFailureLeavesRunningUnchanged) {
    Fixture f;
    f.dp.fail_apply = true;
    auto r = f.commit(ping_text);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "the dataplane refused revision 2"))
        << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "revision 1 keeps running")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "did not compile"));
    EXPECT_EQ(f.store.running(), 1u);
    EXPECT_EQ(f.dp.current().revision, 1u);
    f.dp.fail_apply = false;
    auto again = f.commit(ping_text);
    ASSERT_TRUE(again) << again.error().to_string();
    EXPECT_EQ(again->revision, 3u); // numbering stays monotonic
}

TEST(Transactions, CommitFailsWhenTheStoreCannotWrite) {
    Fixture f;
    const std::string revisions = f.tmp.path() + "/store/revisions";
    auto c = f.candidate(ping_text);
    fs::rename(revisions, revisions + ".away");
    auto r = f.tx.commit(c, CommitOptions{"alice", "", std::nullopt}, 1000);
    fs::rename(revisions + ".away", revisions);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "cannot create")) << r.error().to_string();
    EXPECT_EQ(f.dp.apply_calls, 1);
    EXPECT_EQ(f.store.running(), 1u);
}

TEST(Transactions, CommitFailsWhenTheRunningPointerCannotBeWritten) {
    Fixture f;
    const std::string dir = f.tmp.path() + "/store";
    int steps = 0;
    Store::set_step_hook([&](const char *) {
        if (++steps == 9) // the write of the running pointer
            fs::rename(dir, dir + ".away");
    });
    auto r = f.commit(ping_text);
    Store::set_step_hook(nullptr);
    fs::rename(dir + ".away", dir);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "cannot create")) << r.error().to_string();
    EXPECT_EQ(f.store.running(), 1u);
    // The dataplane runs revision 2 now; recover() brings it back to the running one.
    EXPECT_EQ(f.dp.current().revision, 2u);
    auto rec = f.tx.recover();
    ASSERT_TRUE(rec);
    EXPECT_EQ(f.dp.current().revision, 1u);
}

TEST(Transactions, CommitConfirmedRollsBackAfterTheDeadline) {
    Fixture f;
    auto c = f.candidate(ping_text);
    auto r = f.tx.commit(c, CommitOptions{"alice", "try", 1u}, 1000);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->confirm_deadline, 1060);
    ASSERT_TRUE(f.tx.pending_confirm_deadline());
    EXPECT_EQ(*f.tx.pending_confirm_deadline(), 1060);
    auto early = f.tx.tick(1059);
    ASSERT_TRUE(early);
    EXPECT_FALSE(*early);
    EXPECT_EQ(f.store.running(), 2u);
    auto late = f.tx.tick(1060);
    ASSERT_TRUE(late) << late.error().to_string();
    EXPECT_TRUE(*late);
    EXPECT_EQ(f.store.running(), 3u);
    auto info = f.store.info(3);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->author, "qorgand");
    EXPECT_EQ(info->comment, "rollback: commit confirmed 2 not confirmed");
    EXPECT_EQ(*f.store.text(3), *f.store.text(1));
    EXPECT_EQ(f.dp.current().sha256, f.store.info(1)->sha256);
    EXPECT_EQ(f.dp.current().revision, 3u);
    EXPECT_FALSE(f.tx.pending_confirm_deadline());
    auto after = f.tx.tick(5000);
    ASSERT_TRUE(after);
    EXPECT_FALSE(*after);
    EXPECT_EQ(f.store.running(), 3u);
}

TEST(Transactions, ConfirmKeepsTheCommit) {
    Fixture f;
    auto c = f.candidate(ping_text);
    ASSERT_TRUE(f.tx.commit(c, CommitOptions{"alice", "", 10u}, 1000));
    EXPECT_EQ(*f.tx.pending_confirm_deadline(), 1600);
    ASSERT_TRUE(f.tx.confirm());
    EXPECT_FALSE(f.tx.pending_confirm_deadline());
    auto t = f.tx.tick(100000);
    ASSERT_TRUE(t);
    EXPECT_FALSE(*t);
    EXPECT_EQ(f.store.running(), 2u);
    auto again = f.tx.confirm();
    ASSERT_FALSE(again);
    EXPECT_TRUE(contains(again.error().message, "no commit confirmed"));
}

TEST(Transactions, ASecondCommitClearsThePendingRollback) {
    Fixture f;
    auto c = f.candidate(ping_text);
    ASSERT_TRUE(f.tx.commit(c, CommitOptions{"alice", "", 1u}, 1000));
    c.tree = tree_of(mtu_text);
    auto r = f.tx.commit(c, CommitOptions{"alice", "", std::nullopt}, 1010);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->confirm_deadline, 0);
    EXPECT_FALSE(f.tx.pending_confirm_deadline());
    auto t = f.tx.tick(5000);
    ASSERT_TRUE(t);
    EXPECT_FALSE(*t);
    EXPECT_EQ(f.store.running(), 3u);
}

TEST(Transactions, ANoOpCommitConfirmsAndAConfirmedNoOpExtends) {
    Fixture f;
    auto c = f.candidate(ping_text);
    ASSERT_TRUE(f.tx.commit(c, CommitOptions{"alice", "", 1u}, 1000));
    auto extend = f.tx.commit(c, CommitOptions{"alice", "", 5u}, 1030);
    ASSERT_TRUE(extend);
    EXPECT_TRUE(extend->no_change);
    EXPECT_EQ(extend->confirm_deadline, 1330);
    EXPECT_EQ(*f.tx.pending_confirm_deadline(), 1330);
    auto plain = f.tx.commit(c, CommitOptions{"alice", "", std::nullopt}, 1040);
    ASSERT_TRUE(plain);
    EXPECT_TRUE(plain->no_change);
    EXPECT_FALSE(f.tx.pending_confirm_deadline());
    EXPECT_EQ(f.store.list().size(), 2u);
}

TEST(Transactions, CommitConfirmedMinutesOutOfRange) {
    Fixture f;
    for (unsigned minutes : {0u, 65536u}) {
        auto c = f.candidate(ping_text);
        auto r = f.tx.commit(c, CommitOptions{"alice", "", minutes}, 1000);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().message,
                  "commit confirmed " + std::to_string(minutes) + ": expected 1..65535 minutes");
    }
    EXPECT_EQ(f.store.list().size(), 1u);
}

TEST(Transactions, RollbackFailuresKeepTheRollbackPending) {
    Fixture f;
    auto c = f.candidate(ping_text);
    ASSERT_TRUE(f.tx.commit(c, CommitOptions{"alice", "", 1u}, 1000));
    // The dataplane refuses: the rollback stays pending and runs on the next tick.
    f.dp.fail_apply = true;
    auto refused = f.tx.tick(2000);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(contains(refused.error().message, "rollback of unconfirmed revision 2"))
        << refused.error().message;
    EXPECT_TRUE(f.tx.pending_confirm_deadline());
    EXPECT_EQ(f.store.running(), 2u);
    f.dp.fail_apply = false;
    // The store cannot write: first its revision, then its running pointer.
    const std::string dir = f.tmp.path() + "/store";
    for (int fail_at : {1, 9}) {
        int steps = 0;
        Store::set_step_hook([&](const char *) {
            if (++steps == fail_at)
                fs::rename(dir, dir + ".away");
        });
        auto r = f.tx.tick(2001);
        Store::set_step_hook(nullptr);
        fs::rename(dir + ".away", dir);
        ASSERT_FALSE(r) << fail_at;
        EXPECT_TRUE(contains(r.error().message, "cannot create")) << r.error().message;
        EXPECT_TRUE(f.tx.pending_confirm_deadline());
        EXPECT_EQ(f.store.running(), 2u);
    }
    auto ok = f.tx.tick(2002);
    ASSERT_TRUE(ok) << ok.error().to_string();
    EXPECT_TRUE(*ok);
    EXPECT_EQ(f.dp.current().sha256, f.store.info(1)->sha256);
    EXPECT_EQ(f.dp.current().sha256, f.store.info(f.store.running())->sha256);
}

TEST(Transactions, RollbackOfATamperedPreviousRevisionIsRefused) {
    Fixture f;
    auto c = f.candidate(ping_text);
    ASSERT_TRUE(f.tx.commit(c, CommitOptions{"alice", "", 1u}, 1000));
    write_file(f.tmp.path() + "/store/revisions/00000001.conf", "interfaces { }\n");
    auto r = f.tx.tick(2000);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "revision 1 is tampered")) << r.error().message;
    EXPECT_EQ(f.store.running(), 2u);
}

TEST(Transactions, RollbackTrees) {
    Fixture f;
    ASSERT_TRUE(f.commit(ping_text));
    ASSERT_TRUE(f.commit(mtu_text));
    auto t0 = f.tx.revision_tree(0);
    auto t1 = f.tx.revision_tree(1);
    auto t2 = f.tx.revision_tree(2);
    ASSERT_TRUE(t0 && t1 && t2);
    EXPECT_TRUE(config::same_tree(*t0, tree_of(mtu_text)));
    EXPECT_TRUE(config::same_tree(*t1, tree_of(ping_text)));
    EXPECT_TRUE(config::same_tree(*t2, tree_of(base_text)));
    auto t3 = f.tx.revision_tree(3);
    ASSERT_FALSE(t3);
    EXPECT_EQ(t3.error().message,
              "rollback 3: there are only 2 revisions before the running one; expected 0..2");
    // rollback 2 then commit makes a new revision with the old text.
    auto c = f.tx.begin();
    ASSERT_TRUE(c);
    c->tree = std::move(t2.value());
    auto r = f.tx.commit(*c, CommitOptions{"alice", "rollback 2", std::nullopt}, 1000);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->revision, 4u);
    EXPECT_EQ(*f.store.text(4), *f.store.text(1));
}

TEST(Transactions, NothingCommittedYet) {
    TempDir tmp;
    auto store = Store::open(tmp.path());
    ASSERT_TRUE(store);
    FakeDataplane dp;
    Transactions tx(*store, dp, base_text);
    auto c = tx.begin();
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, "no configuration has been committed yet");
}

TEST(Transactions, CompareInSetForm) {
    Fixture f;
    auto c = f.candidate(ping_text);
    c.tree = tree_of(mtu_text);
    const std::string diff = f.tx.compare(c);
    EXPECT_EQ(diff, "+ set interfaces inet0 mtu 9000\n");
    c.tree = tree_of(ping_text);
    const std::string expected_ping = "+ set policy inner0 ingress rule 10 protocol icmp\n"
                                      "+ set policy inner0 ingress rule 10 destination 198.18.1.1\n"
                                      "+ set policy inner0 ingress rule 10 action accept\n";
    EXPECT_EQ(f.tx.compare(c), expected_ping);
    ASSERT_TRUE(f.tx.commit(c, CommitOptions{"a", "", std::nullopt}, 1000));
    EXPECT_EQ(f.tx.compare(c), "");
    ASSERT_TRUE(f.commit(mtu_text));
    auto d12 = f.tx.compare(1, 2);
    ASSERT_TRUE(d12);
    EXPECT_EQ(*d12, expected_ping);
    auto d23 = f.tx.compare(2, 3);
    ASSERT_TRUE(d23);
    EXPECT_EQ(*d23, "+ set interfaces inet0 mtu 9000\n"
                    "- set policy inner0 ingress rule 10 protocol icmp\n"
                    "- set policy inner0 ingress rule 10 destination 198.18.1.1\n"
                    "- set policy inner0 ingress rule 10 action accept\n");
    auto missing = f.tx.compare(1, 99);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "no revision 99");
    // A revision whose text does not parse any more (edited behind our back) is refused.
    write_file(f.tmp.path() + "/store/revisions/00000002.conf", "broken {");
    EXPECT_FALSE(f.tx.compare(1, 2));
}

TEST(Transactions, CompareWithATamperedRunningRevisionSaysSo) {
    Fixture f;
    auto c = f.candidate(mtu_text);
    write_file(f.tmp.path() + "/store/revisions/00000001.conf", "interfaces { }\n");
    const std::string diff = f.tx.compare(c);
    EXPECT_EQ(diff.rfind("# running configuration unavailable: ", 0), 0u) << diff;
    EXPECT_TRUE(contains(diff, "revision 1 is tampered"));
    EXPECT_TRUE(contains(diff, "+ set interfaces inet0 mtu 9000\n"));
}

TEST(Transactions, CompareReorderedAndLargeDiffs) {
    Fixture f;
    // Two rules swapped: order matters to first-match policy, so the diff shows it.
    const std::string two = R"(interfaces {
    inner0 { device "net_null0"; address 198.18.1.1/24; zone inner; }
    inet0 { device "net_null1"; address 203.0.113.1/24; zone internet; }
}
zones { inner { loop inner; } internet { loop internet; } }
policy {
    inner0 {
        ingress {
            rule 10 { protocol icmp; destination 198.18.1.1; action accept; }
            rule 20 { protocol tcp; destination 198.18.1.1; action drop; }
        }
        egress { rule 1000 { action accept; } }
    }
    inet0 { egress { rule 1000 { action accept; } } }
}
)";
    std::string swapped = two;
    const std::string r10 = "rule 10 { protocol icmp; destination 198.18.1.1; action accept; }";
    const std::string r20 = "rule 20 { protocol tcp; destination 198.18.1.1; action drop; }";
    swapped.replace(swapped.find(r10), r10.size(), "@@");
    swapped.replace(swapped.find(r20), r20.size(), r10);
    swapped.replace(swapped.find("@@"), 2, r20);
    ASSERT_TRUE(f.commit(two));
    auto c = f.candidate(swapped);
    const std::string diff = f.tx.compare(c);
    EXPECT_TRUE(contains(diff, "- set policy inner0 ingress rule 10 protocol icmp\n")) << diff;
    EXPECT_TRUE(contains(diff, "+ set policy inner0 ingress rule 10 protocol icmp\n")) << diff;

    // Thousands of changed rules on both sides take the quick path: what each side lacks.
    auto big = [](int shift) {
        std::string t = "interfaces {\n    inner0 { device \"net_null0\"; address "
                        "198.18.1.1/24; zone inner; }\n    inet0 { device \"net_null1\"; "
                        "address 203.0.113.1/24; zone internet; }\n}\nzones { inner { loop "
                        "inner; } internet { loop internet; } }\npolicy {\n    inner0 {\n"
                        "        ingress {\n";
        for (int i = 1; i <= 2100; ++i)
            t += "rule " + std::to_string(i) + " { protocol tcp; destination-port " +
                 std::to_string(i + shift) + "; action drop; }\n";
        return t + "}\n        egress { rule 1000 { action accept; } }\n    }\n    inet0 { "
                   "egress { rule 1000 { action accept; } } }\n}\n";
    };
    ASSERT_TRUE(f.commit(big(0)));
    auto b = f.candidate(big(1));
    const std::string large = f.tx.compare(b);
    EXPECT_EQ(large.rfind("- set policy inner0 ingress rule 1 destination-port 1\n", 0), 0u);
    EXPECT_TRUE(contains(large, "+ set policy inner0 ingress rule 2100 destination-port 2101\n"));
    EXPECT_FALSE(contains(large, "protocol tcp"));
    EXPECT_EQ(std::count(large.begin(), large.end(), '\n'), 2 * 2100);
}

TEST(Transactions, LoadReplaceMergeAndSaveRoundTrip) {
    Fixture f;
    auto c = f.candidate(ping_text);
    const std::string saved = f.tmp.path() + "/saved.conf";
    ASSERT_TRUE(f.tx.save(c, saved));
    EXPECT_EQ(read_file(saved), config::print_tree(c.tree));
    EXPECT_FALSE(fs::exists(saved + ".tmp"));

    auto other = f.tx.begin();
    ASSERT_TRUE(other);
    ASSERT_TRUE(f.tx.load(*other, saved, false));
    EXPECT_TRUE(other->changed);
    EXPECT_TRUE(config::same_tree(other->tree, c.tree));

    // merge: a new address (repeatable), a replaced MTU (single), a new rule in an
    // existing list, a new zone, a flag.
    const std::string fragment = f.tmp.path() + "/fragment.conf";
    write_file(fragment, R"(interfaces {
    inner0 { address [ 198.18.1.1/24 2001:db8:1::1/64 ]; mtu 1400; disable; }
    dmz0 { device "net_null2"; address 198.18.3.1/24; zone dmz; }
}
zones { dmz { loop shielded; } }
policy { inner0 { ingress { rule 20 { protocol tcp; destination 198.18.3.0/24; action accept; } } } }
)");
    auto merged = f.tx.begin();
    ASSERT_TRUE(merged);
    merged->tree = tree_of(ping_text);
    ASSERT_TRUE(f.tx.load(*merged, fragment, true));
    auto expected = tree_of(R"(interfaces {
    inner0 { device "net_null0"; address 198.18.1.1/24; zone inner; address 2001:db8:1::1/64;
             mtu 1400; disable; }
    inet0 { device "net_null1"; address 203.0.113.1/24; zone internet; }
    dmz0 { device "net_null2"; address 198.18.3.1/24; zone dmz; }
}
zones { inner { loop inner; } internet { loop internet; } dmz { loop shielded; } }
policy {
    inner0 {
        ingress {
            rule 10 { protocol icmp; destination 198.18.1.1; action accept; }
            rule 20 { protocol tcp; destination 198.18.3.0/24; action accept; }
        }
        egress { rule 1000 { action accept; } }
    }
    inet0 { egress { rule 1000 { action accept; } } }
}
)");
    EXPECT_TRUE(config::same_tree(merged->tree, expected)) << config::print_tree(merged->tree);
    EXPECT_TRUE(f.tx.check(*merged)) << f.tx.check(*merged).error().to_string();
    // Merging the same file again changes nothing; replacing mtu again replaces it.
    ASSERT_TRUE(f.tx.load(*merged, fragment, true));
    EXPECT_TRUE(config::same_tree(merged->tree, expected)) << config::print_tree(merged->tree);

    // Statements the schema does not know are merged by their words and left to check().
    const std::string unknown = f.tmp.path() + "/unknown.conf";
    write_file(unknown, "gizmo one { size 1; }\ngizmo one { colour red; }\n");
    ASSERT_TRUE(f.tx.load(*merged, unknown, true));
    const std::string printed = config::print_tree(merged->tree);
    const std::string gizmo = "gizmo one {\n    size 1;\n    colour red;\n}\n";
    ASSERT_GE(printed.size(), gizmo.size());
    EXPECT_EQ(printed.substr(printed.size() - gizmo.size()), gizmo) << printed;
    EXPECT_FALSE(f.tx.check(*merged));
}

TEST(Transactions, LoadAndSaveErrors) {
    Fixture f;
    auto c = f.candidate(ping_text);
    auto before = c.tree;
    const std::string missing = f.tmp.path() + "/missing.conf";
    auto m = f.tx.load(c, missing, false);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().where.file, missing);
    EXPECT_TRUE(contains(m.error().message, "cannot read"));
    auto d = f.tx.load(c, f.tmp.path(), true); // a folder: open works, read does not
    ASSERT_FALSE(d);
    EXPECT_TRUE(contains(d.error().message, "cannot read"));
    const std::string broken = f.tmp.path() + "/broken.conf";
    write_file(broken, "interfaces {\n    inner0 { zone inner\n}\n");
    auto b = f.tx.load(c, broken, false);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().where.file, broken);
    EXPECT_GT(b.error().where.line, 1);
    EXPECT_TRUE(config::same_tree(c.tree, before)); // nothing changed on error

    auto s = f.tx.save(c, f.tmp.path() + "/no/such/folder/x.conf");
    ASSERT_FALSE(s);
    EXPECT_TRUE(contains(s.error().message, "cannot write"));
    fs::create_directories(f.tmp.path() + "/occupied/inside");
    auto r = f.tx.save(c, f.tmp.path() + "/occupied");
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "cannot write"));
    EXPECT_FALSE(fs::exists(f.tmp.path() + "/occupied.tmp"));
}

TEST(Transactions, RecoverResyncsADataplaneRunningAnotherConfig) {
    Fixture f;
    ASSERT_TRUE(f.commit(ping_text));
    const std::string sha = f.store.info(2)->sha256;
    // The dataplane restarted with its own embedded configuration.
    f.dp.force(DataplaneState{7, 0, sha256_hex("something else")});
    const int calls = f.dp.apply_calls;
    auto r = f.tx.recover();
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_TRUE(contains(*r, "pushed running revision 2")) << *r;
    EXPECT_EQ(f.dp.apply_calls, calls + 1);
    EXPECT_EQ(f.dp.current().sha256, sha);
    EXPECT_EQ(f.dp.current().revision, 2u);
    EXPECT_EQ(f.dp.current().epoch, 8u);
    // An equal one is left alone: no apply call.
    auto again = f.tx.recover();
    ASSERT_TRUE(again);
    EXPECT_EQ(f.dp.apply_calls, calls + 1);
    EXPECT_EQ(f.dp.current().epoch, 8u);
    // A dataplane that runs nothing at all.
    f.dp.force(DataplaneState{});
    auto empty = f.tx.recover();
    ASSERT_TRUE(empty);
    EXPECT_TRUE(contains(*empty, "dataplane ran nothing")) << *empty;
}

TEST(Transactions, RecoverReportsATamperedRunningRevisionAndPushesNothing) {
    Fixture f;
    write_file(f.tmp.path() + "/store/revisions/00000001.conf", "interfaces { }\n");
    f.dp.force(DataplaneState{3, 0, sha256_hex("other")});
    const int calls = f.dp.apply_calls;
    auto r = f.tx.recover();
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "revision 1 is tampered")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "nothing was pushed to the dataplane"));
    EXPECT_EQ(f.dp.apply_calls, calls);
}

TEST(Transactions, RecoverWithAnUnreachableOrFailingDataplane) {
    Fixture f;
    f.dp.fail_state = true;
    auto r = f.tx.recover();
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "cannot ask the dataplane")) << r.error().message;
    f.dp.fail_state = false;
    f.dp.force(DataplaneState{3, 0, sha256_hex("other")});
    f.dp.fail_apply = true;
    auto a = f.tx.recover();
    ASSERT_FALSE(a);
    EXPECT_TRUE(contains(a.error().message, "dataplane refused running revision 1"))
        << a.error().message;
    // An empty store and a failing dataplane: the bootstrap is not made running.
    TempDir tmp;
    auto store = Store::open(tmp.path());
    ASSERT_TRUE(store);
    FakeDataplane dp;
    dp.fail_apply = true;
    Transactions tx(*store, dp, base_text);
    auto b = tx.recover();
    ASSERT_FALSE(b);
    EXPECT_EQ(store->running(), 0u);
    // A dataplane that is not there yet costs no stored revision, however often qorgand
    // retries (it retries every 2 s).
    TempDir tmp2;
    auto store2 = Store::open(tmp2.path());
    ASSERT_TRUE(store2);
    FakeDataplane absent;
    absent.fail_state = true;
    Transactions tx2(*store2, absent, base_text);
    for (int i = 0; i < 5; i++)
        ASSERT_FALSE(tx2.recover());
    EXPECT_TRUE(store2->list().empty());
    absent.fail_state = false;
    ASSERT_TRUE(tx2.recover());
    EXPECT_EQ(store2->running(), 1u);
}

// Issue 3: at least 200 random kill points during a commit. Afterwards the running
// configuration and the dataplane's snapshot are exactly the old or exactly the new one.
TEST(Transactions, RandomKillPointsDuringCommit) {
    TempDir tmp;
    const std::string old_text = canonical(base_text);
    const std::string new_text = canonical(ping_text);

    // A template: the old configuration committed and applied; each trial copies it.
    const std::string tmpl = tmp.path() + "/template";
    {
        auto store = Store::open(tmpl + "/store");
        ASSERT_TRUE(store);
        FakeDataplane dp(tmpl + "/dataplane");
        Transactions tx(*store, dp, base_text);
        ASSERT_TRUE(tx.recover());
    }
    // Count the steps a commit makes.
    int total = 0;
    {
        const std::string dir = tmp.path() + "/count";
        fs::copy(tmpl, dir, fs::copy_options::recursive);
        auto store = Store::open(dir + "/store");
        ASSERT_TRUE(store);
        FakeDataplane dp(dir + "/dataplane");
        Transactions tx(*store, dp, base_text);
        Store::set_step_hook([&](const char *) { ++total; });
        auto c = tx.begin();
        ASSERT_TRUE(c);
        c->tree = tree_of(ping_text);
        auto r = tx.commit(*c, CommitOptions{"alice", "", std::nullopt}, 1000);
        Store::set_step_hook(nullptr);
        ASSERT_TRUE(r);
        ASSERT_EQ(r->revision, 2u);
    }
    ASSERT_EQ(total, 12); // .conf and .meta of the revision, then the running pointer
    // Steps 1..8 store the revision, the dataplane applies between 8 and 9, and step 11 is
    // the rename of the running pointer: killed before it, the old config stays running.
    const int last_old = 11;

    std::mt19937 rng(20240603);
    std::uniform_int_distribution<int> pick(1, total + 1); // total + 1: not killed at all
    std::map<int, int> seen;
    const int trials = 250;
    for (int trial = 0; trial < trials; ++trial) {
        const int k = pick(rng);
        ++seen[k];
        const std::string dir = tmp.path() + "/trial" + std::to_string(trial);
        fs::copy(tmpl, dir, fs::copy_options::recursive);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            auto store = Store::open(dir + "/store");
            if (!store)
                ::_exit(2);
            FakeDataplane dp(dir + "/dataplane");
            Transactions tx(*store, dp, base_text);
            int steps = 0;
            Store::set_step_hook([&](const char *) {
                if (++steps == k)
                    ::_exit(0);
            });
            auto c = tx.begin();
            if (!c)
                ::_exit(3);
            c->tree = tree_of(ping_text);
            auto r = tx.commit(*c, CommitOptions{"alice", "", std::nullopt}, 1000);
            ::_exit(r ? 0 : 4);
        }
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0) << "trial " << trial << " k " << k;

        auto store = Store::open(dir + "/store");
        ASSERT_TRUE(store) << store.error().to_string();
        FakeDataplane dp(dir + "/dataplane");
        const std::string before_sha = dp.current().sha256;
        Transactions tx(*store, dp, base_text);
        auto rec = tx.recover();
        ASSERT_TRUE(rec) << "trial " << trial << " k " << k << ": " << rec.error().to_string();
        auto text = store->text(store->running());
        ASSERT_TRUE(text) << text.error().to_string();
        ASSERT_TRUE(*text == old_text || *text == new_text) << "trial " << trial;
        EXPECT_EQ(*text, k <= last_old ? old_text : new_text) << "trial " << trial << " k " << k;
        EXPECT_EQ(dp.current().sha256, sha256_hex(*text)) << "trial " << trial << " k " << k;
        EXPECT_EQ(dp.current().sha256, store->info(store->running())->sha256);
        // Killed after the dataplane applied the new config but before the pointer moved:
        // recover() pushes the running (old) one back. Otherwise it pushes nothing.
        const bool dataplane_ahead = k > 8 && k <= last_old;
        EXPECT_EQ(before_sha != dp.current().sha256, dataplane_ahead)
            << "trial " << trial << " k " << k;
        EXPECT_EQ(dp.apply_calls, dataplane_ahead ? 1 : 0) << "trial " << trial << " k " << k;
        // And the store goes on: a later commit works and numbers stay monotonic.
        if (trial % 25 == 0) {
            auto c = tx.begin();
            ASSERT_TRUE(c);
            c->tree = tree_of(mtu_text);
            auto r = tx.commit(*c, CommitOptions{"bob", "", std::nullopt}, 2000);
            ASSERT_TRUE(r) << r.error().to_string();
            EXPECT_EQ(r->revision, k <= 3 ? 2u : 3u) << "k " << k; // temp files do not count
        }
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    EXPECT_EQ(static_cast<int>(seen.size()), total + 1); // every kill point was reached
}

// SPDX-License-Identifier: GPL-2.0-or-later
// The administrators' commands against a real audit store and user database: users added
// with passwords asked (never on the command line), the last security administrator kept,
// `show log audit` filters, `request audit verify`, and configuration changes refused when
// the audit storage is full (R38-6) while records keep being written.
#include "config/config.h"
#include "control/audit/store.h"
#include "control/auth/authenticator.h"
#include "control/commands.h"
#include "control/privilege.h"
#include "sessions.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace qorgan;
using namespace qorgan::control;
using qorgan::test::as_role;

namespace {

class NullDataplane : public DataplaneLink {
public:
    Result<DataplaneState> apply(const std::string &, uint32_t revision,
                                 const std::string &sha) override {
        st.epoch++;
        st.revision = revision;
        st.sha256 = sha;
        return st;
    }
    Result<DataplaneState> state() override { return st; }
    DataplaneState st;
};

class AdminCommands : public ::testing::Test {
protected:
    void SetUp() override {
        auto st = Store::open(dir.path() + "/store");
        ASSERT_TRUE(st.ok()) << st.error().to_string();
        store = std::make_unique<Store>(std::move(st.value()));
        tx = std::make_unique<Transactions>(*store, dp, std::string(config::default_config_text()));
        ASSERT_TRUE(tx->recover().ok());
        audit::Options o;
        o.fs_space = [this] { return space; };
        auto a = audit::Store::open(dir.path() + "/audit", o);
        ASSERT_TRUE(a.ok()) << a.error().to_string();
        audit_store = std::move(a.value());
        auto u = auth::Authenticator::open(dir.path() + "/auth", auth::LoginPolicy{});
        ASSERT_TRUE(u.ok()) << u.error().to_string();
        users = std::move(u.value());
        ASSERT_TRUE(users->add_user("sec", 12, "First-Admin-Pass-1", now).ok());
        cmds = std::make_unique<Commands>(
            *tx,
            [](const Json &) -> Result<Json> {
                return Error{{}, "no dataplane"};
            },
            Services{users.get(), audit_store.get(), ""});
    }

    Reply run(Session &s, const std::string &line,
              std::map<std::string, std::string> answers = {}) {
        s.answers = std::move(answers);
        Reply r = cmds->exec(s, line, now);
        s.answers.clear();
        return r;
    }

    qorgan::test::TempDir dir{"qorgan-admin-cmd"};
    NullDataplane dp;
    std::unique_ptr<Store> store;
    std::unique_ptr<Transactions> tx;
    std::unique_ptr<audit::Store> audit_store;
    std::unique_ptr<auth::Authenticator> users;
    std::unique_ptr<Commands> cmds;
    std::pair<uint64_t, uint64_t> space{100ull << 30, 90ull << 30};
    int64_t now = 1'800'000'000;
};

} // namespace

TEST_F(AdminCommands, AddUserAsksForThePasswordTwice_R118) {
    Session sec = as_role("security-admin", "sec");
    Reply ask = run(sec, "request user add bob role network-admin");
    ASSERT_TRUE(ask.ok) << ask.error;
    ASSERT_EQ(ask.ask.size(), 2u);
    EXPECT_EQ(ask.ask[0].key, "new");
    EXPECT_FALSE(users->find("bob"));
    Reply differ = run(sec, "request user add bob role network-admin",
                       {{"new", "Harbour-Light-12"}, {"again", "Harbour-Light-13"}});
    EXPECT_FALSE(differ.ok);
    EXPECT_FALSE(users->find("bob"));
    Reply weak =
        run(sec, "request user add bob role network-admin", {{"new", "short"}, {"again", "short"}});
    EXPECT_FALSE(weak.ok);
    EXPECT_NE(weak.error.find("R118"), std::string::npos) << weak.error;
    Reply ok = run(sec, "request user add bob role network-admin",
                   {{"new", "Harbour-Light-12"}, {"again", "Harbour-Light-12"}});
    ASSERT_TRUE(ok.ok) << ok.error;
    EXPECT_EQ(ok.audit_action, "user");
    ASSERT_TRUE(users->find("bob"));
    EXPECT_EQ(users->find("bob")->level, 10);
    Reply list = run(sec, "show users");
    EXPECT_NE(list.output.find("bob"), std::string::npos);
    EXPECT_NE(list.output.find("network-admin"), std::string::npos);
}

TEST_F(AdminCommands, TheLastSecurityAdministratorStays) {
    Session sec = as_role("security-admin", "sec");
    ASSERT_TRUE(users->add_user("other", 12, "Second-Shift-77", now).ok());
    EXPECT_FALSE(run(sec, "request user delete sec").ok); // not oneself
    EXPECT_FALSE(run(sec, "request user level sec role operator").ok);
    ASSERT_TRUE(run(sec, "request user level other role operator").ok);
    // "other" is an operator now; sec is the only security administrator left.
    Session other = as_role("security-admin", "other");
    Reply r = run(other, "request user delete sec");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("no security administrator"), std::string::npos) << r.error;
}

TEST_F(AdminCommands, ShowLogAuditFiltersByUserActionAndTime_R38_4) {
    for (const char *who : {"ann", "ben", "ann"}) {
        audit::Event e;
        e.user = who;
        e.action = "command";
        e.detail = std::string("show interfaces by ") + who;
        e.result = "ok";
        ASSERT_TRUE(audit_store->append(e).ok());
    }
    Session aud = as_role("auditor", "aud");
    now = std::time(nullptr);
    Reply all = run(aud, "show log audit");
    ASSERT_TRUE(all.ok) << all.error;
    EXPECT_NE(all.output.find("by ben"), std::string::npos);
    Reply ann = run(aud, "show log audit user ann action command");
    ASSERT_TRUE(ann.ok) << ann.error;
    EXPECT_EQ(ann.output.find("by ben"), std::string::npos);
    EXPECT_NE(ann.output.find("2 records"), std::string::npos) << ann.output;
    Reply future = run(aud, "show log audit since 2099-01-01");
    EXPECT_NE(future.output.find("0 records"), std::string::npos) << future.output;
    Reply bad = run(aud, "show log audit since yesterday");
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("not a UTC time"), std::string::npos);
    Reply last = run(aud, "show log audit last 1");
    EXPECT_NE(last.output.find("1 records"), std::string::npos) << last.output;
    Reply v = run(aud, "request audit verify");
    ASSERT_TRUE(v.ok) << v.error;
    EXPECT_NE(v.output.find("intact"), std::string::npos) << v.output;
    // The network administrator may not read the audit log.
    Session net = as_role("network-admin", "net");
    EXPECT_TRUE(run(net, "show log audit").refused);
}

TEST_F(AdminCommands, FullStorageRefusesChangesNotRecords_R38_6) {
    space = {100ull << 30, 1ull << 20}; // 1 MiB free: under the reserve
    ASSERT_EQ(audit_store->storage(), audit::Storage::full);
    Session net = as_role("network-admin", "net");
    ASSERT_TRUE(run(net, "configure").ok);
    ASSERT_TRUE(run(net, "set policy dmz0 ingress rule 10 description full").ok);
    Reply c = run(net, "commit");
    EXPECT_FALSE(c.ok);
    EXPECT_NE(c.error.find("R38-6"), std::string::npos) << c.error;
    Session sec = as_role("security-admin", "sec");
    EXPECT_FALSE(run(sec, "request user unlock sec").ok);
    audit::Event e;
    e.action = "command";
    e.result = "ok";
    EXPECT_TRUE(audit_store->append(e).ok()); // records are never dropped
    space = {100ull << 30, 90ull << 30};
    EXPECT_TRUE(run(net, "commit").ok);
}

TEST_F(AdminCommands, TheOfflineKeyIsNeverRecorded_R38_6) {
    Session aud = as_role("auditor", "aud");
    for (const char *line : {"request audit verify key SECRETKEYTYPEDWRONG",
                             "request audit verify key", "request audit verify key 00 extra"}) {
        Reply r = run(aud, line);
        EXPECT_FALSE(r.ok) << line;
        EXPECT_EQ(r.audit_line.find("SECRET"), std::string::npos) << line;
        EXPECT_FALSE(r.audit_line.empty()) << line;
    }
    audit::Event e;
    e.action = "command";
    e.result = "ok";
    ASSERT_TRUE(audit_store->append(e).ok());
    ASSERT_TRUE(audit_store->seal().ok()); // a seal for the keys to disagree on
    std::ifstream in(audit_store->dir() + "/verify.key");
    std::string hex;
    in >> hex;
    ASSERT_EQ(hex.size(), 64u);
    Reply ok = run(aud, "request audit verify key " + hex);
    ASSERT_TRUE(ok.ok) << ok.error;
    EXPECT_EQ(ok.audit_line.find(hex), std::string::npos);
    Reply wrong = run(aud, "request audit verify key " + std::string(64, 'a'));
    EXPECT_FALSE(wrong.ok);
}

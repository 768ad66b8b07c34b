// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's command language driven as a shell would drive it: operational and
// configuration mode, errors that say what was wrong and what would be right, commits,
// stale candidates, compliance refusals (R139-7, R139-8), completion.
#include "config/config.h"
#include "control/commands.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

using namespace qorgan;
using namespace qorgan::control;

namespace {

// A dataplane that runs whatever it is given and answers show requests from fixed data.
class FakeDataplane : public DataplaneLink {
public:
    Result<DataplaneState> apply(const std::string &text, uint32_t revision,
                                 const std::string &sha) override {
        if (fail_next) {
            fail_next = false;
            return Error{{}, "injected failure"};
        }
        last_text = text;
        st.epoch++;
        st.revision = revision;
        st.sha256 = sha;
        applies++;
        return st;
    }
    Result<DataplaneState> state() override { return st; }

    Result<Json> query(const Json &req) {
        std::string op = req.value("op", "");
        queries.push_back(req);
        if (op == "interfaces")
            return Json{{"ok", true},
                        {"interfaces",
                         {{{"name", "inner0"},
                           {"admin", "up"},
                           {"link", "up"},
                           {"speed_mbps", 10000},
                           {"zone", "inner"},
                           {"rx_packets", 12},
                           {"rx_bytes", 1200},
                           {"tx_packets", 7},
                           {"tx_bytes", 700},
                           {"rx_errors", 0},
                           {"tx_errors", 0},
                           {"rx_missed", 0}},
                          {{"name", "spare0"},
                           {"admin", "down"},
                           {"link", "down"},
                           {"speed_mbps", 0},
                           {"zone", "outer"},
                           {"rx_packets", 0},
                           {"rx_bytes", 0},
                           {"tx_packets", 0},
                           {"tx_bytes", 0},
                           {"rx_errors", 0},
                           {"tx_errors", 0},
                           {"rx_missed", 0}}}}};
        if (op == "sessions")
            return Json{{"ok", true},
                        {"sessions",
                         {{{"proto", 6},
                           {"src", "198.18.2.11"},
                           {"sport", 40000},
                           {"dst", "203.0.113.10"},
                           {"dport", 80},
                           {"state", "tcp_established"},
                           {"in", "outer0"},
                           {"out", "inet0"},
                           {"rule", 10},
                           {"packets", {5, 4}},
                           {"bytes", {500, 4000}},
                           {"idle_s", 1}}}},
                        {"total", 1},
                        {"truncated", false}};
        if (op == "clear-sessions")
            return Json{{"ok", true}, {"cleared", 1}};
        if (op == "status")
            return Json{{"ok", true}, {"epoch", st.epoch}, {"sha256", st.sha256}};
        return Error{{}, "unknown op '" + op + "'"};
    }

    DataplaneState st;
    std::string last_text;
    int applies = 0;
    bool fail_next = false;
    std::vector<Json> queries;
};

class CommandsTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir = std::filesystem::temp_directory_path() /
              ("qorgan-cmd-" + std::to_string(getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir);
        auto s = Store::open(dir.string());
        ASSERT_TRUE(s.ok()) << s.error().to_string();
        store = std::make_unique<Store>(std::move(s.value()));
        tx = std::make_unique<Transactions>(*store, dp, std::string(config::default_config_text()));
        ASSERT_TRUE(tx->recover().ok());
        cmds = std::make_unique<Commands>(*tx, [this](const Json &r) { return dp.query(r); });
    }
    void TearDown() override { std::filesystem::remove_all(dir); }

    Reply run(Session &s, const std::string &line) { return cmds->exec(s, line, now); }

    std::filesystem::path dir;
    FakeDataplane dp;
    std::unique_ptr<Store> store;
    std::unique_ptr<Transactions> tx;
    std::unique_ptr<Commands> cmds;
    int64_t now = 1'800'000'000;
};

} // namespace

TEST_F(CommandsTest, ShowInterfacesListsPortsWithState_R128f) {
    Session s;
    Reply r = run(s, "show interfaces");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("inner0"), std::string::npos);
    EXPECT_NE(r.output.find("spare0     down   down"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("10000M"), std::string::npos);
    // Abbreviations work as on other network CLIs.
    EXPECT_TRUE(run(s, "sh int").ok);
}

TEST_F(CommandsTest, TypoSaysWhatWasWrongAndWhatWouldBeRight) {
    Session s;
    Reply r = run(s, "shwo interfaces");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "unknown command 'shwo'; expected one of: clear, configure, exit, help, "
                       "monitor, quit, show (did you mean 'show'?)");
    r = run(s, "show intrefaces");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("unknown show command 'intrefaces'"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("did you mean 'interfaces'?"), std::string::npos) << r.error;
    r = run(s, "show \"unterminated");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("unterminated quote"), std::string::npos);
}

TEST_F(CommandsTest, SessionsFiltersReachTheDataplane) {
    Session s;
    Reply r = run(s, "show sessions address 198.18.2.11 port 80");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("198.18.2.11:40000"), std::string::npos) << r.output;
    EXPECT_EQ(dp.queries.back()["filter"]["address"], "198.18.2.11");
    EXPECT_EQ(dp.queries.back()["filter"]["port"], 80);
    r = run(s, "show sessions port eighty");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "port 'eighty' is not a number 0..65535");
    r = run(s, "show sessions zone outer");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(dp.queries.back()["filter"]["interfaces"], Json::array({"outer0"}));
    r = run(s, "clear sessions address 198.18.2.11");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "cleared 1 sessions\n");
}

TEST_F(CommandsTest, ConfigureSetCommitStoresARevisionAndAppliesIt) {
    Session s;
    ASSERT_TRUE(run(s, "configure").ok);
    EXPECT_EQ(cmds->prompt(s), "admin@qorgan# ");
    Reply r = run(s, "set interfaces outer0 mtu 1400");
    ASSERT_TRUE(r.ok) << r.error;
    r = run(s, "commit comment \"smaller mtu\"");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("commit complete: revision 2"), std::string::npos) << r.output;
    EXPECT_EQ(store->running(), 2u);
    EXPECT_NE(dp.last_text.find("mtu 1400"), std::string::npos);
    auto info = store->info(2);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info.value().comment, "smaller mtu");
    EXPECT_EQ(info.value().author, "admin");
    r = run(s, "commit");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "no changes to commit\n");
}

TEST_F(CommandsTest, CommitRefusedByR139_8NamesPathAndParagraph) {
    Session s;
    ASSERT_TRUE(run(s, "configure").ok);
    ASSERT_TRUE(run(s, "set policy inner0 ingress rule 90 protocol tcp").ok);
    ASSERT_TRUE(run(s, "set policy inner0 ingress rule 90 destination 203.0.113.0/24").ok);
    ASSERT_TRUE(run(s, "set policy inner0 ingress rule 90 action accept").ok);
    // The inet0 egress rule that drops inner sources still blocks the path: no violation yet.
    ASSERT_TRUE(run(s, "commit check").ok);
    ASSERT_TRUE(run(s, "delete policy inet0 egress rule 10").ok);
    Reply r = run(s, "commit");
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find("R139-8"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("policy inner0 ingress rule 90"), std::string::npos) << r.error;
    EXPECT_EQ(store->running(), 1u);
    EXPECT_EQ(dp.applies, 1); // only the bootstrap
    r = run(s, "commit check");
    EXPECT_FALSE(r.ok);
}

TEST_F(CommandsTest, StaleCandidateIsRefused) {
    Session a, b;
    a.user = "alice";
    b.user = "bob";
    ASSERT_TRUE(run(a, "configure").ok);
    ASSERT_TRUE(run(b, "configure").ok);
    ASSERT_TRUE(run(a, "set interfaces outer0 mtu 1400").ok);
    ASSERT_TRUE(run(a, "commit").ok);
    ASSERT_TRUE(run(b, "set interfaces dmz0 mtu 1400").ok);
    Reply r = run(b, "commit");
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find("alice"), std::string::npos) << r.error;
    EXPECT_EQ(store->running(), 2u);
    ASSERT_TRUE(run(b, "update").ok);
    ASSERT_TRUE(run(b, "set interfaces dmz0 mtu 1400").ok);
    EXPECT_TRUE(run(b, "commit").ok);
}

TEST_F(CommandsTest, EditLevelsAndDisplaySet) {
    Session s;
    ASSERT_TRUE(run(s, "configure").ok);
    Reply r = run(s, "edit policy outer0 ingress");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "[edit policy outer0 ingress]\n");
    ASSERT_TRUE(run(s, "set rule 99 protocol udp").ok);
    ASSERT_TRUE(run(s, "set rule 99 destination-port 514").ok);
    ASSERT_TRUE(run(s, "set rule 99 action drop").ok);
    r = run(s, "show rule 99 | display set");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("set protocol udp"), std::string::npos) << r.output;
    r = run(s, "top");
    EXPECT_EQ(r.output, "[edit]\n");
    r = run(s, "exit");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("exit discard"), std::string::npos);
    r = run(s, "exit discard");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(cmds->prompt(s), "admin@qorgan> ");
    r = run(s, "show configuration | display set");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("set interfaces inner0 address 198.18.1.1/24"), std::string::npos)
        << r.output.substr(0, 400);
}

TEST_F(CommandsTest, CommitConfirmedRollsBackUnlessConfirmed) {
    Session s;
    ASSERT_TRUE(run(s, "configure").ok);
    ASSERT_TRUE(run(s, "set interfaces outer0 mtu 1400").ok);
    Reply r = run(s, "commit confirmed 1");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("unless confirmed"), std::string::npos);
    EXPECT_EQ(store->running(), 2u);
    auto rolled = tx->tick(now + 30);
    ASSERT_TRUE(rolled.ok());
    EXPECT_FALSE(rolled.value());
    rolled = tx->tick(now + 61);
    ASSERT_TRUE(rolled.ok());
    EXPECT_TRUE(rolled.value());
    EXPECT_EQ(store->running(), 3u);
    EXPECT_EQ(dp.last_text.find("mtu 1400"), std::string::npos);
    r = run(s, "run show system commits");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("commit confirmed"), std::string::npos) << r.output;
}

TEST_F(CommandsTest, CommitAgainConfirms) {
    Session s;
    ASSERT_TRUE(run(s, "configure").ok);
    ASSERT_TRUE(run(s, "set interfaces outer0 mtu 1400").ok);
    ASSERT_TRUE(run(s, "commit confirmed 5").ok);
    Reply r = run(s, "commit");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "commit confirmed: the rollback is cancelled\n");
    auto rolled = tx->tick(now + 3600);
    ASSERT_TRUE(rolled.ok());
    EXPECT_FALSE(rolled.value());
    EXPECT_EQ(store->running(), 2u);
}

TEST_F(CommandsTest, CompletionOffersCommandsAndSchemaWords) {
    Session s;
    auto c = cmds->complete(s, "sh");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].word, "show");
    c = cmds->complete(s, "show ");
    EXPECT_GE(c.size(), 8u);
    ASSERT_TRUE(run(s, "configure").ok);
    c = cmds->complete(s, "set inter");
    ASSERT_FALSE(c.empty());
    EXPECT_EQ(c[0].word, "interfaces");
    c = cmds->complete(s, "set interfaces ");
    bool has_inner = false;
    for (const auto &x : c)
        has_inner |= x.word == "inner0";
    EXPECT_TRUE(has_inner);
}

TEST_F(CommandsTest, IntegrityReportsTampering_R139_4) {
    Session s;
    Reply r = run(s, "show system integrity");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("matches its record"), std::string::npos);
    EXPECT_NE(r.output.find("(the same)"), std::string::npos) << r.output;
    // Someone edits the stored running configuration behind qorgand's back.
    for (const auto &e : std::filesystem::recursive_directory_iterator(dir))
        if (e.path().extension() == ".conf") {
            std::FILE *f = std::fopen(e.path().c_str(), "a");
            std::fputs("# sneaky\n", f);
            std::fclose(f);
        }
    r = run(s, "show system integrity");
    ASSERT_FALSE(r.ok);
    EXPECT_NE(r.error.find("TAMPERED"), std::string::npos) << r.error;
}

TEST_F(CommandsTest, ComplianceListsRequirements) {
    Session s;
    Reply r = run(s, "show compliance");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("R128-g"), std::string::npos);
    EXPECT_NE(r.output.find("R139-8"), std::string::npos);
    EXPECT_NE(r.output.find("not implemented yet"), std::string::npos);
}

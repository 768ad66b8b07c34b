// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's command language driven as a shell would drive it: operational and
// configuration mode, errors that say what was wrong and what would be right, commits,
// stale candidates, compliance refusals (R139-7, R139-8), completion.
#include "config/config.h"
#include "control/commands.h"
#include "control/privilege.h"
#include "sessions.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace qorgan;
using namespace qorgan::control;
using qorgan::test::as_role;

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
    Session s = as_role("network-admin");
    Reply r = run(s, "show interfaces");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("inner0"), std::string::npos);
    EXPECT_NE(r.output.find("spare0     down   down"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("10000M"), std::string::npos);
    // Abbreviations work as on other network CLIs.
    EXPECT_TRUE(run(s, "sh int").ok);
}

TEST_F(CommandsTest, TypoSaysWhatWasWrongAndWhatWouldBeRight) {
    Session s = as_role("network-admin");
    Reply r = run(s, "shwo interfaces");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "unknown command 'shwo'; expected one of: clear, configure, exit, help, "
                       "monitor, quit, request, show (did you mean 'show'?)");
    r = run(s, "show intrefaces");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("unknown show command 'intrefaces'"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("did you mean 'interfaces'?"), std::string::npos) << r.error;
    r = run(s, "show \"unterminated");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("unterminated quote"), std::string::npos);
}

TEST_F(CommandsTest, SessionsFiltersReachTheDataplane) {
    Session s = as_role("network-admin");
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
    Session s = as_role("network-admin");
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
    Session s = as_role("network-admin");
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
    Session a = as_role("network-admin"), b = as_role("network-admin");
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
    Session s = as_role("network-admin");
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
    Session s = as_role("network-admin");
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
    Session s = as_role("network-admin");
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
    Session s = as_role("network-admin");
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
    Session s = as_role("network-admin");
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
    Session s = as_role("network-admin");
    Reply r = run(s, "show compliance");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("R128-g"), std::string::npos);
    EXPECT_NE(r.output.find("R139-8"), std::string::npos);
    EXPECT_NE(r.output.find("not implemented yet"), std::string::npos);
}

// The role matrix (R128-b, R102-2): every command class against every built-in role.
TEST_F(CommandsTest, RoleMatrixEveryClassAgainstEveryRole_R128b) {
    struct Probe {
        const char *line;
        config::CommandClass needs;
    };
    using C = config::CommandClass;
    const Probe probes[] = {
        {"show interfaces", C::view},
        {"show configuration", C::view},
        {"show compliance", C::view},
        {"show sessions", C::traffic_view},
        {"clear sessions", C::clear},
        {"configure", C::network}, // any configuring class enters; checked per role below
        {"show log audit", C::audit_view},
        {"request audit verify", C::audit_view},
        {"show users", C::security},
        {"request user unlock nobody", C::security},
    };
    for (const Role &role : builtin_roles()) {
        for (const Probe &p : probes) {
            Session s = as_role(role.name);
            Reply r = run(s, p.line);
            bool allowed = std::string(p.line) == "configure"
                               ? (role.classes &
                                  (config::class_bit(C::network) | config::class_bit(C::security) |
                                   config::class_bit(C::audit_settings))) != 0
                               : (role.classes & config::class_bit(p.needs)) != 0;
            SCOPED_TRACE(std::string(role.name) + ": " + p.line);
            EXPECT_EQ(r.refused, !allowed) << r.error;
            if (!allowed) {
                EXPECT_FALSE(r.ok);
                EXPECT_EQ(r.audit_action, "privilege-refused");
                EXPECT_NE(r.error.find("permission denied (R128-b)"), std::string::npos);
                EXPECT_NE(r.error.find(role.name), std::string::npos) << r.error;
            }
        }
    }
}

TEST_F(CommandsTest, ConfigurationPathsNeedTheirClass_R102_2) {
    // The network administrator edits policy but not logins or audit settings.
    Session net = as_role("network-admin");
    ASSERT_TRUE(run(net, "configure").ok);
    EXPECT_TRUE(run(net, "set policy dmz0 ingress rule 10 description x").ok);
    Reply r = run(net, "set system login idle-timeout 60");
    EXPECT_TRUE(r.refused) << r.error;
    EXPECT_NE(r.error.find("security"), std::string::npos) << r.error;
    r = run(net, "set system audit retention 2000");
    EXPECT_TRUE(r.refused);
    EXPECT_NE(r.error.find("audit-settings"), std::string::npos) << r.error;
    // The security administrator is the other way round.
    Session sec = as_role("security-admin", "sec");
    ASSERT_TRUE(run(sec, "configure").ok);
    EXPECT_TRUE(run(sec, "set system login idle-timeout 600").ok);
    EXPECT_TRUE(run(sec, "set system audit retention 2000").ok);
    EXPECT_TRUE(run(sec, "set policy dmz0 ingress rule 10 description x").refused);
    // A rollback that would change policy cannot be committed by the security admin.
    Reply c = run(sec, "commit");
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.audit_action, "commit");
    EXPECT_NE(c.audit_detail.find("+ set system login idle-timeout 600"), std::string::npos)
        << c.audit_detail;
    EXPECT_EQ(cmds->system().login.idle_timeout, 600u);
    ASSERT_TRUE(run(net, "update").ok);
    ASSERT_TRUE(run(net, "set policy dmz0 ingress rule 10 description y").ok);
    ASSERT_TRUE(run(net, "commit").ok);
    ASSERT_TRUE(run(sec, "update").ok);
    ASSERT_TRUE(run(sec, "rollback 1").ok);
    Reply rb = run(sec, "commit");
    EXPECT_TRUE(rb.refused) << rb.error;
    EXPECT_NE(rb.error.find("network"), std::string::npos) << rb.error;
}

TEST_F(CommandsTest, RetentionBelowThreeYearsIsRefusedAtCommit_R38_4) {
    Session sec = as_role("security-admin", "sec");
    ASSERT_TRUE(run(sec, "configure").ok);
    // Refused as it is typed (the schema's range) ...
    Reply set = run(sec, "set system audit retention 1000");
    EXPECT_FALSE(set.ok);
    EXPECT_NE(set.error.find("1095"), std::string::npos) << set.error;
    // ... and when it comes in a file, at commit, naming the paragraph.
    std::string file = (dir / "short-retention.conf").string();
    {
        std::ofstream out(file);
        out << config::default_config_text() << "system { audit { retention 1000; } }\n";
    }
    ASSERT_TRUE(run(sec, "load replace " + file).ok);
    Reply r = run(sec, "commit");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("R38-4"), std::string::npos) << r.error;
    EXPECT_EQ(cmds->system().audit.retention_days, 1095u);
}

TEST_F(CommandsTest, RepeatedRefusalsRaiseOneAlert_R52) {
    Session op = as_role("operator", "op");
    int alerts = 0;
    for (int i = 0; i < 5; i++) {
        Reply r = run(op, "configure");
        EXPECT_TRUE(r.refused);
        alerts += r.alert;
    }
    EXPECT_EQ(alerts, 1);
    EXPECT_EQ(op.refusals, 5u);
}

TEST_F(CommandsTest, NoCommandErasesOrDisablesTheAuditLog_R38_6) {
    for (const Role &role : builtin_roles()) {
        Session s = as_role(role.name);
        for (const char *line : {"clear log audit", "request audit delete", "request audit disable",
                                 "delete log audit"}) {
            Reply r = run(s, line);
            EXPECT_FALSE(r.ok) << role.name << ": " << line;
        }
        if (run(s, "configure").ok) {
            for (const char *line : {"set system audit disable", "delete system audit"}) {
                Reply r = run(s, line);
                EXPECT_FALSE(r.ok && std::string(line).rfind("set", 0) == 0)
                    << role.name << ": " << line;
            }
            run(s, "exit discard");
        }
    }
}

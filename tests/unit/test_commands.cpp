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
#include <map>
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
        if (!query_error.empty())
            return Error{{}, query_error};
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
        if (op == "sessions" && req["filter"].value("nat", false))
            return nat_sessions;
        if (op == "nat")
            return nat_stats;
        if (op == "sessions")
            return sessions;
        if (op == "applications" && !applications.is_null())
            return applications;
        if (op == "clear-sessions")
            return Json{{"ok", true}, {"cleared", 1}};
        if (op == "status")
            return Json{{"ok", true}, {"epoch", st.epoch}, {"sha256", st.sha256}};
        if (op == "ipsec-sas" || op == "ipsec") {
            if (!ipsec_error.empty())
                return Error{{}, ipsec_error};
            return op == "ipsec" ? ipsec_stats : ipsec_sas;
        }
        if (op == "drops")
            return drops;
        return Error{{}, "unknown op '" + op + "'"};
    }

    // ESP SAs as qorgan-ike installed them (docs/IPSEC.md): branch1's pair, and one of a
    // peer no longer configured.
    static Json esp_sa(uint32_t spi, const char *hex, const char *dir, const char *peer,
                       uint64_t bytes, uint64_t packets, uint64_t idle_ms) {
        bool in = std::string(dir) == "in";
        return Json{{"spi", spi},
                    {"spi_hex", hex},
                    {"dir", dir},
                    {"src", in ? "203.0.113.10" : "203.0.113.1"},
                    {"dst", in ? "203.0.113.1" : "203.0.113.10"},
                    {"reqid", 1},
                    {"peer", peer},
                    {"cipher", "aes256gcm16"},
                    {"esn", false},
                    {"encap", nullptr},
                    {"bytes", bytes},
                    {"packets", packets},
                    {"replay_drops", in ? 1 : 0},
                    {"auth_failures", in ? 2 : 0},
                    {"hard_limit_drops", 0},
                    {"other_drops", 0},
                    {"age_s", 300},
                    {"idle_ms", idle_ms}};
    }
    Json ipsec_sas = Json{{"ok", true},
                          {"sas",
                           {esp_sa(0xc0ffee01, "0xc0ffee01", "in", "branch1", 4200, 42, 1500),
                            esp_sa(0xc0ffee02, "0xc0ffee02", "out", "branch1", 6300, 42, 200),
                            esp_sa(0x0badf00d, "0x0badf00d", "in", "gone", 0, 0, 300000)}},
                          {"policies", 3}};
    Json ipsec_stats = Json{{"ok", true},
                            {"sas_in", 2},
                            {"sas_out", 1},
                            {"policies", 3},
                            {"max_sas", 1024},
                            {"counters",
                             {{"sas_added", 5},
                              {"sas_removed", 2},
                              {"policies_added", 3},
                              {"policies_removed", 0},
                              {"refused_full", 0},
                              {"refused_backend", 1},
                              {"flushes", 1},
                              {"packets", 84},
                              {"bytes", 10500},
                              {"replay_drops", 1},
                              {"auth_failures", 2},
                              {"hard_limit_drops", 0},
                              {"other_drops", 0}}}};
    Json drops = Json{
        {"ok", true},
        {"drops",
         {{"default_deny", 7}, {"ipsec_no_sa", 3}, {"ipsec_policy_mismatch", 0}, {"no_route", 1}}}};
    std::string ipsec_error; // set: ipsec-sas and ipsec fail with it

    // One flow from a dataplane that does not classify (no application fields).
    Json sessions = Json{{"ok", true},
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
    // What DPI made of the flows (R134-1); null: a dataplane without the op.
    Json applications =
        Json{{"ok", true},
             {"dpi",
              {{"inspecting", 3},
               {"classified", 120},
               {"unknown", 4},
               {"blocked", 9},
               {"exempt", 2},
               {"refused", 1},
               {"evicted", 6}}},
             {"categories",
              {{{"category", "vpn"}, {"flows", 5}, {"blocked", 3}, {"bytes", 7000}},
               {{"category", "remote-access"}, {"flows", 1}, {"blocked", 1}, {"bytes", 300}},
               {{"category", "p2p"}, {"flows", 4}, {"blocked", 4}, {"bytes", 1200}},
               {{"category", "games"}, {"flows", 1}, {"blocked", 1}, {"bytes", 800}},
               {{"category", "unknown"}, {"flows", 4}, {"blocked", 0}, {"bytes", 900}},
               {{"category", "malicious"}, {"flows", 0}, {"blocked", 0}, {"bytes", 0}},
               {{"category", "other"}, {"flows", 109}, {"blocked", 0}, {"bytes", 987654}}}},
             {"applications",
              {{{"application", "TLS"},
                {"category", "other"},
                {"flows", 100},
                {"blocked", 0},
                {"bytes", 900000}},
               {{"application", "OpenVPN"},
                {"category", "vpn"},
                {"flows", 5},
                {"blocked", 3},
                {"bytes", 7000}},
               {{"application", "BitTorrent"},
                {"category", "p2p"},
                {"flows", 4},
                {"blocked", 4},
                {"bytes", 1200}}}}};
    // Translated flows: hidden behind a pool, and published by a destination rule.
    Json nat_sessions = Json{{"ok", true},
                             {"sessions",
                              {{{"proto", "tcp"},
                                {"src", "198.18.1.11"},
                                {"sport", 40000},
                                {"dst", "192.0.2.10"},
                                {"dport", 443},
                                {"state", "tcp_established"},
                                {"packets", {12, 10}},
                                {"idle_s", 3},
                                {"nat",
                                 {{"kind", "source"},
                                  {"src", "203.0.113.100"},
                                  {"sport", 20417},
                                  {"dst", "192.0.2.10"},
                                  {"dport", 443}}}},
                               {{"proto", "tcp"},
                                {"src", "192.0.2.50"},
                                {"sport", 51001},
                                {"dst", "203.0.113.1"},
                                {"dport", 8080},
                                {"state", "tcp_syn_recv"},
                                {"packets", {2, 1}},
                                {"idle_s", 0},
                                {"nat",
                                 {{"kind", "destination"},
                                  {"src", "192.0.2.50"},
                                  {"sport", 51001},
                                  {"dst", "198.18.3.10"},
                                  {"dport", 80}}}}}},
                             {"total", 2},
                             {"truncated", false}};
    Json nat_stats = Json{{"ok", true},
                          {"counters",
                           {{"translated", 7},
                            {"static", 1},
                            {"destination", 2},
                            {"source", 4},
                            {"refused_pool_exhausted", 3},
                            {"refused_source_limit", 1},
                            {"refused_source_table", 0},
                            {"refused_protocol", 0},
                            {"refused_collision", 0},
                            {"icmp_errors", 5},
                            {"mss_clamped", 0},
                            {"handoffs", 0},
                            {"handoff_full", 0},
                            {"no_mapping", 2}}},
                          {"sources",
                           {{{"name", "lan"},
                             {"interface", "inet0"},
                             {"pool", {"203.0.113.100", "203.0.113.101"}},
                             {"ports", {{"low", 1024}, {"high", 65535}}},
                             {"capacity", 129024},
                             {"in_use", 4},
                             {"allocated", 9},
                             {"released", 5},
                             {"refused_pool", 3},
                             {"refused_source", 1},
                             {"refused_source_table", 0},
                             {"bytes", 40960}}}},
                          {"statics", Json::array()},
                          {"destinations", Json::array()},
                          {"mss_clamp", 0}};
    std::string query_error; // set: every query fails with it
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

TEST_F(CommandsTest, SessionsShowWhatDpiMadeOfEachFlow_R134_1) {
    Session s = as_role("operator");
    // A dataplane that does not classify: the App column is there, with "-".
    Reply r = run(s, "show sessions");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output,
              "Proto  Source             Destination      State            Path           "
              "Rule  Packets  Bytes     Idle s  App\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       -\n"
              "1 sessions\n");

    Json flow = dp.sessions["sessions"][0];
    auto with = [&](const char *app, const char *category, const char *verdict) {
        Json x = flow;
        x["application"] = app;
        x["category"] = category;
        x["verdict"] = verdict;
        return x;
    };
    dp.sessions["sessions"] =
        Json::array({with("TLS.Steam", "games", "pass"), with("", "inspecting", "inspecting"),
                     with("BitTorrent", "p2p", "block"), with("OpenVPN", "exempt", "pass"),
                     with("", "unknown", "block"), flow});
    dp.sessions["total"] = 6;
    r = run(s, "show sessions zone outer");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output,
              "Proto  Source             Destination      State            Path           "
              "Rule  Packets  Bytes     Idle s  App\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       TLS.Steam/games\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       -\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       BitTorrent/p2p (blocked)\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       OpenVPN/exempt\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       unknown (blocked)\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       -\n"
              "6 sessions\n");
    // A verdict without a category yet, or fields of the wrong type, read as not known.
    Json odd = flow;
    odd["verdict"] = "inspecting";
    odd["application"] = "HTTP";
    odd["category"] = "other";
    Json typed = flow;
    typed["application"] = 7;
    typed["category"] = nullptr;
    dp.sessions["sessions"] = Json::array({odd, typed});
    dp.sessions["total"] = 2;
    r = run(s, "show sessions");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output,
              "Proto  Source             Destination      State            Path           "
              "Rule  Packets  Bytes     Idle s  App\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       -\n"
              "6      198.18.2.11:40000  203.0.113.10:80  tcp_established  outer0->inet0  "
              "10    5/4      500/4000  1       -\n"
              "2 sessions\n");
}

TEST_F(CommandsTest, ApplicationStatisticsShowEveryCategoryAndApplication_R134_1) {
    Session s = as_role("auditor"); // view is enough, as for the screen's statistics
    Reply r = run(s, "show security application-statistics");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(dp.queries.back(), (Json{{"op", "applications"}}));
    EXPECT_EQ(r.output, "Flows: 3 being inspected, 120 classified, 4 unknown, 9 blocked, 2 exempt, "
                        "1 not inspected (table full), 6 given up undecided to make room\n"
                        "\n"
                        "Category       Flows  Blocked  Bytes\n"
                        "vpn            5      3        7000\n"
                        "remote-access  1      1        300\n"
                        "p2p            4      4        1200\n"
                        "games          1      1        800\n"
                        "unknown        4      0        900\n"
                        "malicious      0      0        0\n"
                        "other          109    0        987654\n"
                        "\n"
                        "Application  Category  Flows  Blocked  Bytes\n"
                        "TLS          other     100    0        900000\n"
                        "OpenVPN      vpn       5      3        7000\n"
                        "BitTorrent   p2p       4      4        1200\n");
    // Abbreviated, like the other show commands.
    EXPECT_EQ(run(s, "sh sec app").output, r.output);

    // Nothing classified yet; figures the dataplane left out read "-".
    dp.applications["applications"] = Json::array();
    dp.applications["dpi"].erase("refused");
    r = run(s, "show security application-statistics");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find(", - not inspected (table full), 6 given up undecided to make room\n"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("other          109    0        987654\n"), std::string::npos);
    EXPECT_EQ(r.output.substr(r.output.size() - 31), "\nno application classified yet\n");
}

TEST_F(CommandsTest, ApplicationStatisticsSayWhatWasWrong_R134_1) {
    Session s = as_role("operator");
    size_t asked = dp.queries.size();
    EXPECT_EQ(run(s, "show security application-statistics vpn").error,
              "'show security application-statistics' takes no arguments");
    EXPECT_EQ(dp.queries.size(), asked) << "nothing malformed reaches the dataplane";
    EXPECT_EQ(run(s, "show security").error,
              "expected 'show security policies [interface]', 'show security screen statistics' "
              "or 'show security application-statistics'");
    // A dataplane from before DPI refuses the op; its error is passed on as for the others.
    dp.applications = nullptr;
    Reply r = run(s, "show security application-statistics");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "dataplane: unknown op 'applications'");
    dp.query_error = "cannot connect to /run/qorgan/dataplane.sock";
    EXPECT_EQ(run(s, "show security application-statistics").error,
              "dataplane: cannot connect to /run/qorgan/dataplane.sock");
    EXPECT_EQ(run(s, "show sessions").error,
              "dataplane: cannot connect to /run/qorgan/dataplane.sock");
}

TEST_F(CommandsTest, NatTranslationsAreShownFromTheInsideWithTheSessionFilters) {
    Session s = as_role("operator");
    Reply r = run(s, "show nat translations");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(dp.queries.back(), (Json{{"op", "sessions"}, {"filter", {{"nat", true}}}}));
    // The destination-NAT flow is turned round: the server is its inside host.
    EXPECT_EQ(r.output,
              "Proto  Kind         Inside             Translated           Remote            "
              "State            Idle s  Packets out/in\n"
              "tcp    source       198.18.1.11:40000  203.0.113.100:20417  192.0.2.10:443    "
              "tcp_established  3       12/10\n"
              "tcp    destination  198.18.3.10:80     203.0.113.1:8080     192.0.2.50:51001  "
              "tcp_syn_recv     0       1/2\n"
              "2 translations\n");

    r = run(s, "sh nat t address 198.18.1.11 port 40000 interface inner0 limit 5");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(dp.queries.back()["filter"], (Json{{"nat", true},
                                                 {"address", "198.18.1.11"},
                                                 {"port", 40000},
                                                 {"interface", "inner0"},
                                                 {"limit", 5}}));

    // Both translations on one flow: inside and translated source, then where it went.
    dp.nat_sessions["sessions"] = Json::array({Json{{"proto", "tcp"},
                                                    {"src", "198.18.1.11"},
                                                    {"sport", 40000},
                                                    {"dst", "203.0.113.50"},
                                                    {"dport", 80},
                                                    {"state", "tcp_syn_sent"},
                                                    {"packets", {1, 0}},
                                                    {"idle_s", 0},
                                                    {"nat",
                                                     {{"kind", "static+source"},
                                                      {"src", "198.18.3.100"},
                                                      {"sport", 20001},
                                                      {"dst", "198.18.3.10"},
                                                      {"dport", 80}}}}});
    dp.nat_sessions["total"] = 5;
    dp.nat_sessions["truncated"] = true;
    r = run(s, "show nat translations limit 1");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("198.18.1.11:40000  198.18.3.100:20001  "
                            "203.0.113.50:80 -> 198.18.3.10:80"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("5 translations (list cut; narrow it with a filter or raise the "
                            "limit)\n"),
              std::string::npos)
        << r.output;

    // An echo behind the pool: its identifier is both ports, translated in both.
    dp.nat_sessions["sessions"] = Json::array({Json{{"proto", "icmp"},
                                                    {"src", "198.18.1.11"},
                                                    {"sport", 7},
                                                    {"dst", "192.0.2.10"},
                                                    {"dport", 7},
                                                    {"state", "icmp_echo"},
                                                    {"packets", {1, 1}},
                                                    {"idle_s", 0},
                                                    {"nat",
                                                     {{"kind", "source"},
                                                      {"src", "203.0.113.100"},
                                                      {"sport", 20001},
                                                      {"dst", "192.0.2.10"},
                                                      {"dport", 20001}}}}});
    dp.nat_sessions["total"] = 1;
    dp.nat_sessions["truncated"] = false;
    r = run(s, "show nat translations");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("icmp   source  198.18.1.11:7  203.0.113.100:20001  192.0.2.10:7  "),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("\n1 translation\n"), std::string::npos) << r.output;

    dp.nat_sessions = Json{{"ok", true}, {"sessions", Json::array()}, {"total", 0}};
    r = run(s, "show nat translations");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "no NAT translations\n");
    r = run(s, "show nat translations address 198.18.1.99");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "no NAT translations match the filter\n");
}

TEST_F(CommandsTest, NatCommandsSayWhatWasWrong) {
    Session s = as_role("network-admin");
    EXPECT_EQ(run(s, "show nat").error,
              "expected 'show nat translations [address A] [port P] [interface I] [limit N]' or "
              "'show nat statistics'");
    EXPECT_TRUE(run(s, "show nat trans").ok);
    EXPECT_EQ(run(s, "show nat foo").error,
              "unknown show nat command 'foo'; expected one of: statistics, translations");
    EXPECT_EQ(run(s, "show nat statistics extra").error,
              "'show nat statistics' takes no arguments");
    size_t asked = dp.queries.size();
    EXPECT_EQ(run(s, "show nat translations zone outer").error,
              "unknown filter 'zone'; expected address <a>, port <p>, interface <name> or "
              "limit <n>");
    EXPECT_EQ(run(s, "show nat translations limit 0").error, "limit '0' is not a number 1..100000");
    EXPECT_EQ(run(s, "show nat translations limit many").error,
              "limit 'many' is not a number 1..100000");
    EXPECT_EQ(run(s, "show nat translations port 70000").error,
              "port '70000' is not a number 0..65535");
    EXPECT_EQ(run(s, "show nat translations address").error, "'address' needs a value");
    EXPECT_EQ(dp.queries.size(), asked) << "nothing malformed reaches the dataplane";
    // `limit` belongs to the translations; show sessions keeps its own filters.
    EXPECT_EQ(run(s, "show sessions limit 5").error,
              "unknown filter 'limit'; expected address <a>, port <p>, interface <name> or "
              "zone <name>");
    dp.query_error = "cannot connect to /run/qorgan/dataplane.sock";
    EXPECT_EQ(run(s, "show nat translations").error,
              "dataplane: cannot connect to /run/qorgan/dataplane.sock");
    EXPECT_EQ(run(s, "show nat statistics").error,
              "dataplane: cannot connect to /run/qorgan/dataplane.sock");
}

TEST_F(CommandsTest, NatStatisticsShowTotalsAndEverySourceRule) {
    Session s = as_role("auditor"); // view is enough: no flow is shown
    Reply r = run(s, "show nat statistics");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(dp.queries.back(), (Json{{"op", "nat"}}));
    EXPECT_EQ(r.output, "Counter                              Total\n"
                        "translations created                 7\n"
                        "  by a static                        1\n"
                        "  by a destination rule              2\n"
                        "  by a source rule                   4\n"
                        "refused: pool exhausted              3\n"
                        "refused: max-per-source reached      1\n"
                        "refused: source table full           0\n"
                        "refused: protocol not translatable   0\n"
                        "refused: port collision              0\n"
                        "ICMP errors translated               5\n"
                        "TCP MSS clamped                      0\n"
                        "packets handed to the owning worker  0\n"
                        "hand-offs refused (ring full)        0\n"
                        "packets for no translation           2\n"
                        "\n"
                        "Source rule  Interface  Pool                Ports       In use/capacity  "
                        "Allocated  Released  Refused pool/source/table\n"
                        "lan          inet0      203.0.113.100 (+1)  1024-65535  4/129024         "
                        "9          5         3/1/0\n"
                        "Capacity is per protocol: TCP, UDP and ICMP each have that many ports.\n");

    dp.nat_stats["sources"] = Json::array();
    dp.nat_stats["statics"] = Json::array({Json{{"name", "web"}}});
    r = run(s, "show nat statistics");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_NE(r.output.find("translations created                 7\n"), std::string::npos);
    EXPECT_EQ(r.output.substr(r.output.size() - 16), "no source rules\n");

    dp.nat_stats["statics"] = Json::array();
    r = run(s, "show nat statistics");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "NAT is not configured\n");
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
    c = cmds->complete(s, "show n");
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].word, "nat");
    EXPECT_EQ(c[1].word, "ndp");
    c = cmds->complete(s, "show nat ");
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].word, "statistics");
    EXPECT_EQ(c[1].word, "translations");
    c = cmds->complete(s, "show nat tr");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].word, "translations");
    c = cmds->complete(s, "show security ");
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c[0].word, "application-statistics");
    EXPECT_NE(c[0].help.find("R134-1"), std::string::npos) << c[0].help;
    c = cmds->complete(s, "show security a");
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].word, "application-statistics");
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
        {"show nat translations", C::traffic_view},
        {"sh nat t address 198.18.1.11", C::traffic_view}, // abbreviated, same class
        {"show nat statistics", C::view},
        {"show security application-statistics", C::view}, // counts, not flows (R134-1)
        {"clear sessions", C::clear},
        {"show ipsec sa", C::view},         // peers and tunnels, like interfaces (R128-h)
        {"show ipsec statistics", C::view}, // counts
        {"clear ipsec sa", C::clear},
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

// ---------------------------------------------------------------- IPsec (R128-h)

namespace {

// charon's view through a stand-in for swanctl: the calls made, and the replies given.
struct FakeSwanctl {
    std::vector<std::vector<std::string>> calls;
    std::map<std::string, ProgramResult> replies; // by the swanctl command ("--list-sas", ...)

    IkeControl::Runner runner() {
        return [this](const std::vector<std::string> &argv, const std::vector<std::string> &, int) {
            calls.push_back(argv);
            auto it = replies.find(argv.size() > 1 ? argv[1] : "");
            return it != replies.end() ? it->second : ProgramResult{};
        };
    }
    // The calls without the program and the socket: "--terminate --ike branch1 ...".
    std::vector<std::string> made() const {
        std::vector<std::string> out;
        for (const auto &c : calls) {
            std::string line;
            for (size_t i = 1; i + 2 < c.size(); i++)
                line += (line.empty() ? "" : " ") + c[i];
            out.push_back(line);
        }
        return out;
    }
};

ProgramResult exited(int code, const std::string &out, const std::string &err = "") {
    ProgramResult r;
    r.exit_code = code;
    r.out = out;
    r.err = err;
    return r;
}

const char *charon_sas = R"(list-sa event {
  branch1 {
    uniqueid = 3
    version = 2
    state = ESTABLISHED
    local-host = 203.0.113.1
    local-port = 500
    local-id = 203.0.113.1
    remote-host = 203.0.113.10
    remote-port = 500
    remote-id = 203.0.113.10
    initiator = yes
    encr-alg = AES_CBC
    encr-keysize = 256
    integ-alg = HMAC_SHA2_256_128
    prf-alg = PRF_HMAC_SHA2_256
    dh-group = MODP_3072
    established = 300
    rekey-time = 12660
    child-sas {
      branch1-5 {
        name = branch1
        uniqueid = 5
        reqid = 1
        state = INSTALLED
        mode = TUNNEL
        protocol = ESP
        spi-in = c0ffee01
        spi-out = c0ffee02
        encr-alg = AES_GCM_16
        encr-keysize = 256
        rekey-time = 2940
        install-time = 300
        local-ts = [
          198.18.1.0/24
        ]
        remote-ts = [
          192.0.2.0/24
        ]
      }
    }
  }
}
list-sas reply {
}
)";

const char *not_running = "connecting to 'unix:///run/test/charon.vici' failed: No such file or "
                          "directory\nError: connecting to 'unix:///run/test/charon.vici' URI "
                          "failed: No such file or directory\n";

class IpsecCommandsTest : public CommandsTest {
protected:
    void SetUp() override {
        CommandsTest::SetUp();
        // Two peers: branch1 starts at once, lab2 waits for traffic (trap).
        Session s = as_role("network-admin");
        for (const char *line : {"configure", "set ipsec peer branch1 address 203.0.113.10",
                                 "set ipsec peer branch1 pre-shared-key \"0123456789abcdefghij\"",
                                 "set ipsec peer branch1 local-subnet 198.18.1.0/24",
                                 "set ipsec peer branch1 remote-subnet 192.0.2.0/24",
                                 "set ipsec peer lab2 address 203.0.113.20",
                                 "set ipsec peer lab2 pre-shared-key \"0123456789abcdefghij\"",
                                 "set ipsec peer lab2 local-subnet 198.18.2.0/24",
                                 "set ipsec peer lab2 remote-subnet 192.0.3.0/24",
                                 "set ipsec peer lab2 start-action trap", "commit", "exit"}) {
            Reply r = run(s, line);
            ASSERT_TRUE(r.ok) << line << ": " << r.error;
        }
        ike = std::make_unique<IkeControl>(
            IkeOptions{"/usr/sbin/swanctl", "/run/test/charon.vici", 10000}, swanctl.runner());
        cmds = std::make_unique<Commands>(
            *tx, [this](const Json &r) { return dp.query(r); },
            Services{nullptr, nullptr, "", ike.get()});
        swanctl.replies["--list-sas"] = exited(0, charon_sas);
    }

    FakeSwanctl swanctl;
    std::unique_ptr<IkeControl> ike;
};

const std::string branch1_block =
    "Peer branch1: 203.0.113.10, pre-shared key, start-action start, 198.18.1.0/24 <-> "
    "192.0.2.0/24\n";
const std::string branch1_sas =
    "  SPI         Dir  Cipher       Bytes  Packets  Replay drops  ICV failures  Age s  Idle s\n"
    "  0xc0ffee01  in   aes256gcm16  4200   42       1             2             300    1\n"
    "  0xc0ffee02  out  aes256gcm16  6300   42       0             0             300    0\n";
const std::string lab2_block = "Peer lab2: 203.0.113.20, pre-shared key, start-action trap, "
                               "198.18.2.0/24 <-> 192.0.3.0/24\n";

} // namespace

TEST_F(IpsecCommandsTest, ShowIpsecSaJoinsCharonAndTheDataplane) {
    Session s = as_role("operator");
    Reply r = run(s, "show ipsec sa");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output,
              branch1_block +
                  "  IKE SA #3: ESTABLISHED, established 300 s ago, rekey in 12660 s\n"
                  "    local  203.0.113.1:500 id 203.0.113.1\n"
                  "    remote 203.0.113.10:500 id 203.0.113.10\n"
                  "    AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_3072, we initiated\n"
                  "  CHILD SA branch1 #5: INSTALLED, reqid 1, ESP in 0xc0ffee01 out 0xc0ffee02, "
                  "AES_GCM_16-256, installed 300 s ago, rekey in 2940 s\n"
                  "    198.18.1.0/24 === 192.0.2.0/24\n" +
                  branch1_sas + lab2_block +
                  "  IKE SA: none\n"
                  "  no SA in the dataplane\n"
                  "SAs of no configured peer:\n"
                  "  SPI         Dir  Cipher       Bytes  Packets  Replay drops  ICV failures  "
                  "Age s  Idle s\n"
                  "  0x0badf00d  in   aes256gcm16  0      0        1             2             "
                  "300    300\n");
    EXPECT_EQ(swanctl.made(), std::vector<std::string>{"--list-sas --pretty"});

    // One peer; abbreviated words work as elsewhere.
    r = run(s, "sh ipsec sa peer lab2");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, lab2_block + "  IKE SA: none\n  no SA in the dataplane\n");
}

TEST_F(IpsecCommandsTest, ShowIpsecSaSaysWhenQorganIkeIsNotRunning) {
    swanctl.replies["--list-sas"] = exited(2, "", not_running);
    Session s = as_role("operator");
    Reply r = run(s, "show ipsec sa peer branch1");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output,
              "IKE: qorgan-ike is not running: nothing answers on unix:///run/test/charon.vici\n"
              "the dataplane's SAs below are those it holds now\n\n" +
                  branch1_block + "  IKE SA: unknown (see above)\n" + branch1_sas);
    // Garbage from swanctl is shown as such, and the dataplane's SAs still are.
    swanctl.replies["--list-sas"] = exited(0, "list-sa event {\n  branch1 {\n");
    r = run(s, "show ipsec sa peer branch1");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output.substr(0, r.output.find('\n')),
              "IKE: swanctl output line 2: section 'branch1' is not closed");
    EXPECT_NE(r.output.find(branch1_sas), std::string::npos) << r.output;
}

TEST_F(IpsecCommandsTest, ShowIpsecSaWithoutTheDataplaneOrWithAWrongPeer) {
    dp.ipsec_error = "dataplane: cannot connect to /run/qorgan/dataplane.sock";
    Session s = as_role("operator");
    Reply r = run(s, "show ipsec sa peer lab2");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "dataplane: dataplane: cannot connect to /run/qorgan/dataplane.sock\n\n" +
                            lab2_block + "  IKE SA: none\n  dataplane SAs: unknown (see above)\n");
    r = run(s, "show ipsec sa peer branch9");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "no IPsec peer 'branch9'; configured peers: branch1, lab2");
    r = run(s, "show ipsec sa branch1");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "expected nothing or 'peer <name>' after 'show ipsec sa'");
    r = run(s, "show ipsec");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "expected 'show ipsec sa [peer <name>]' or 'show ipsec statistics'");
    r = run(s, "show ipsec s");
    EXPECT_EQ(r.error, "'s' is ambiguous: sa, statistics");
    r = run(s, "show ipsec tunnels");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "unknown show ipsec command 'tunnels'; expected 'show ipsec sa [peer "
                       "<name>]' or 'show ipsec statistics'");
}

TEST_F(CommandsTest, ShowIpsecSaWithoutPeers) {
    Session s = as_role("operator");
    Reply r = run(s, "show ipsec sa");
    ASSERT_TRUE(r.ok) << r.error;
    // No IKE control in this Commands (as in tests and the fuzzer): charon is not asked.
    EXPECT_EQ(r.output.substr(0, r.output.find("\n\n")),
              "IKE: not asked: no IKE control in this process\n"
              "the dataplane's SAs below are those it holds now");
    EXPECT_NE(r.output.find("no IPsec peer configured (ipsec { peer <name> { ... } })\n"),
              std::string::npos);
    EXPECT_NE(r.output.find("SAs of no configured peer:\n"), std::string::npos);
    r = run(s, "show ipsec sa peer x");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "no IPsec peer 'x': no peer is configured (ipsec { peer <name> { ... } })");
}

TEST_F(CommandsTest, ShowIpsecStatisticsShowsCountersAndIpsecDrops) {
    Session s = as_role("operator");
    Reply r = run(s, "show ipsec statistics");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "SAs: 2 inbound, 1 outbound, at most 1024; 3 policies\n"
                        "\n"
                        "Counter                              Total\n"
                        "SAs added                            5\n"
                        "SAs removed                          2\n"
                        "policies added                       3\n"
                        "policies removed                     0\n"
                        "SAs or policies refused: table full  0\n"
                        "SAs refused by the ESP engine        1\n"
                        "flushes (qorgan-ike restarts)        1\n"
                        "ESP packets                          84\n"
                        "ESP bytes                            10500\n"
                        "replay drops                         1\n"
                        "ICV failures                         2\n"
                        "drops at the hard lifetime           0\n"
                        "other drops                          0\n"
                        "ESP packets to other drops: summed over the SAs held now.\n"
                        "\n"
                        "Drop reason            Packets\n"
                        "ipsec_no_sa            3\n"
                        "ipsec_policy_mismatch  0\n");
    // A dataplane without ipsec_* reasons, and one whose drops op fails.
    dp.drops = Json{{"ok", true}, {"drops", {{"default_deny", 7}}}};
    r = run(s, "show ipsec stat");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output.substr(r.output.rfind("held now.\n") + 10),
              "\nthe dataplane counts no ipsec_* drop reason\n");
    // IPsec unavailable in the dataplane is the command's error.
    dp.ipsec_error = "IPsec is not available: the dataplane runs without a crypto device";
    r = run(s, "show ipsec statistics");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error,
              "dataplane: IPsec is not available: the dataplane runs without a crypto device");
    r = run(s, "show ipsec statistics now");
    EXPECT_EQ(r.error, "'show ipsec statistics' takes no arguments");
}

TEST_F(IpsecCommandsTest, ClearIpsecSaTerminatesAndStartsAgain) {
    swanctl.replies["--terminate"] = exited(0, "terminate completed successfully\n");
    swanctl.replies["--initiate"] = exited(0, "initiate completed successfully\n");
    Session s = as_role("network-admin");
    Reply r = run(s, "clear ipsec sa");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output,
              "peer branch1: IKE SA terminated; initiated again\n"
              "peer lab2: IKE SA terminated; start-action trap: it comes up again with traffic "
              "or from the peer\n");
    EXPECT_EQ(swanctl.made(),
              (std::vector<std::string>{"--terminate --ike branch1 --force --timeout 5",
                                        "--initiate --child branch1 --timeout 5",
                                        "--terminate --ike lab2 --force --timeout 5"}));
    // Audited as a command (R128-c), with what was done for each peer.
    EXPECT_EQ(r.audit_action, "command");
    EXPECT_EQ(r.audit_line, "");
    EXPECT_EQ(r.audit_detail, "peer branch1: IKE SA terminated; initiated again\n"
                              "peer lab2: IKE SA terminated; start-action trap: it comes up "
                              "again with traffic or from the peer");

    // One peer; charon had none up, and the new one is still negotiating.
    swanctl.calls.clear();
    swanctl.replies["--terminate"] =
        exited(1, "", "terminate failed: no matching SAs to terminate found\n");
    swanctl.replies["--initiate"] =
        exited(1, "", "initiate failed: CHILD_SA 'branch1' not established after 5000ms\n");
    r = run(s, "clear ipsec sa peer branch1");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "peer branch1: no IKE SA to terminate; initiated again (not established "
                        "within 5 s; charon goes on trying)\n");
    EXPECT_EQ(swanctl.made().size(), 2u);
}

TEST_F(IpsecCommandsTest, ClearIpsecSaErrors) {
    Session s = as_role("network-admin");
    Reply r = run(s, "clear ipsec sa peer branch9");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "no IPsec peer 'branch9'; configured peers: branch1, lab2");
    EXPECT_TRUE(swanctl.calls.empty());
    r = run(s, "clear ipsec");
    EXPECT_EQ(r.error, "expected 'clear ipsec sa [peer <name>]'");

    swanctl.replies["--terminate"] = exited(2, "", not_running);
    r = run(s, "clear ipsec sa");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "qorgan-ike is not running: nothing answers on "
                       "unix:///run/test/charon.vici; nothing was cleared");
    EXPECT_EQ(swanctl.calls.size(), 1u) << "stops at the first peer";

    // A failure for one peer does not stop the others; both are in the reply and the record.
    swanctl.calls.clear();
    swanctl.replies["--terminate"] = exited(0, "terminate completed successfully\n");
    swanctl.replies["--initiate"] =
        exited(1, "", "initiate failed: establishing CHILD_SA 'branch1' failed\n");
    r = run(s, "clear ipsec sa");
    ASSERT_FALSE(r.ok);
    EXPECT_EQ(r.error, "peer branch1: IKE SA terminated; initiating it again failed: swanctl "
                       "--initiate: initiate failed: establishing CHILD_SA 'branch1' failed");
    EXPECT_EQ(r.output, "peer lab2: IKE SA terminated; start-action trap: it comes up again "
                        "with traffic or from the peer\n");
    EXPECT_EQ(r.audit_detail, r.error + "\n" + r.output.substr(0, r.output.size() - 1));

    // The operator may look but not clear (R128-b).
    Session op = as_role("operator");
    r = run(op, "clear ipsec sa peer branch1");
    EXPECT_TRUE(r.refused);
    EXPECT_EQ(r.audit_action, "privilege-refused");
    EXPECT_EQ(r.error, "permission denied (R128-b): 'clear ipsec sa peer branch1' needs the "
                       "class clear; your level 1 (operator) grants view, traffic-view");
}

TEST_F(IpsecCommandsTest, ComplianceShowsWhichTunnelsAreUp_R128h) {
    Session s = as_role("operator");
    Reply r = run(s, "show compliance");
    ASSERT_TRUE(r.ok) << r.error;
    std::string line = r.output.substr(r.output.find("\nR128-h"));
    line = line.substr(1, line.find('\n', 1) - 1);
    EXPECT_NE(line.find("partly met"), std::string::npos) << line;
    EXPECT_NE(line.find("2 IPsec peers (branch1, lab2): IKEv2"), std::string::npos) << line;
    EXPECT_EQ(line.substr(line.size() - 41), "; IKE established: branch1 (1 of 2 peers)");
    swanctl.replies["--list-sas"] = exited(2, "", not_running);
    r = run(s, "show compliance");
    EXPECT_NE(r.output.find("; IKE: qorgan-ike is not running: nothing answers on "
                            "unix:///run/test/charon.vici\n"),
              std::string::npos);
}

TEST_F(IpsecCommandsTest, CompletionOffersIpsecWordsAndPeerNames) {
    Session s = as_role("network-admin");
    auto words = [&](const std::string &line) {
        std::vector<std::string> out;
        for (const auto &c : cmds->complete(s, line))
            out.push_back(c.word);
        return out;
    };
    EXPECT_EQ(words("show ip"), std::vector<std::string>{"ipsec"});
    EXPECT_EQ(words("show ipsec "), (std::vector<std::string>{"sa", "statistics"}));
    EXPECT_EQ(words("show ipsec sa "), std::vector<std::string>{"peer"});
    EXPECT_EQ(words("show ipsec sa peer "), (std::vector<std::string>{"branch1", "lab2"}));
    EXPECT_EQ(words("clear ipsec sa peer b"), std::vector<std::string>{"branch1"});
    EXPECT_EQ(words("clear ipsec "), std::vector<std::string>{"sa"});
    EXPECT_EQ(words("clear i"), std::vector<std::string>{"ipsec"});
    auto help = cmds->complete(s, "show ipsec sa peer l");
    ASSERT_EQ(help.size(), 1u);
    EXPECT_EQ(help[0].help, "IPsec peer 203.0.113.20");
}

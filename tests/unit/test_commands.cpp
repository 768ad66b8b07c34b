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
        return Error{{}, "unknown op '" + op + "'"};
    }

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

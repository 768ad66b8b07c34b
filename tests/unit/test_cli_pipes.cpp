// SPDX-License-Identifier: GPL-2.0-or-later
// The shell's client-side pieces: pipe parsing and filtering, completion helpers, and the
// monitor's counter parsing and rates (issue 3, item 4; R128-f port status for the admin).
#include "control/cli/monitor.h"
#include "control/cli/pipes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace qorgan::cli;
using qorgan::Json;

namespace {

const char *ports_text = "inner0  up\nouter0  up\ndmz0  down\ninet0  up\n";

PipedLine parsed(std::string_view line) {
    auto r = parse_pipes(line);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r).value() : PipedLine{};
}

std::string error_of(std::string_view line) {
    auto r = parse_pipes(line);
    EXPECT_FALSE(r.ok()) << line;
    return r.ok() ? "" : r.error().message;
}

} // namespace

TEST(CliPipes, LineWithoutPipesIsTheCommand) {
    auto p = parsed("  show interfaces  ");
    EXPECT_EQ(p.command, "show interfaces");
    EXPECT_TRUE(p.filters.empty());
    EXPECT_FALSE(p.no_more);
}

TEST(CliPipes, BarInsideQuotesBelongsToTheCommand) {
    auto p = parsed(R"(set system login message "a | b \" | c" | count)");
    EXPECT_EQ(p.command, R"(set system login message "a | b \" | c")");
    ASSERT_EQ(p.filters.size(), 1u);
    EXPECT_EQ(p.filters[0].kind, Filter::Kind::count);
}

TEST(CliPipes, MatchFilters) {
    auto p = parsed("show interfaces | match up");
    EXPECT_EQ(p.command, "show interfaces");
    EXPECT_EQ(apply_filters(p.filters, ports_text), "inner0  up\nouter0  up\ninet0  up\n");
}

TEST(CliPipes, QuotedRegexMayHoldBarAndSpaces) {
    auto p = parsed(R"(show interfaces | match "(inner|dmz)0  ")");
    ASSERT_EQ(p.filters.size(), 1u);
    EXPECT_EQ(p.filters[0].pattern, "(inner|dmz)0  ");
    EXPECT_EQ(apply_filters(p.filters, ports_text), "inner0  up\ndmz0  down\n");
}

TEST(CliPipes, ExceptDropsMatchingLines) {
    auto p = parsed("show interfaces | except up");
    EXPECT_EQ(apply_filters(p.filters, ports_text), "dmz0  down\n");
}

TEST(CliPipes, CountCountsLines) {
    auto p = parsed("show interfaces | count");
    EXPECT_EQ(apply_filters(p.filters, ports_text), "Count: 4 lines\n");
    EXPECT_EQ(apply_filters(p.filters, ""), "Count: 0 lines\n");
    EXPECT_EQ(apply_filters(p.filters, "no newline at end"), "Count: 1 lines\n");
}

TEST(CliPipes, ChainsApplyInOrder) {
    auto p = parsed("show interfaces | match up | except inet | count | no-more");
    EXPECT_TRUE(p.no_more);
    ASSERT_EQ(p.filters.size(), 3u);
    EXPECT_EQ(apply_filters(p.filters, ports_text), "Count: 2 lines\n");
    auto q = parsed("show interfaces | count | match Count");
    EXPECT_EQ(apply_filters(q.filters, ports_text), "Count: 4 lines\n");
}

TEST(CliPipes, UniquePrefixesAndNoMore) {
    auto p = parsed("show log | m up | e inet | c | n");
    EXPECT_TRUE(p.no_more);
    ASSERT_EQ(p.filters.size(), 3u);
    EXPECT_EQ(p.filters[0].kind, Filter::Kind::match);
    EXPECT_EQ(p.filters[1].kind, Filter::Kind::except);
    EXPECT_EQ(p.filters[2].kind, Filter::Kind::count);
}

TEST(CliPipes, DisplaySetIsPassedToQorgand) {
    auto p = parsed("show configuration | display set | match inner0");
    EXPECT_EQ(p.command, "show configuration | display set");
    ASSERT_EQ(p.filters.size(), 1u);
    EXPECT_EQ(p.filters[0].kind, Filter::Kind::match);
    EXPECT_EQ(parsed("show configuration | display").command, "show configuration | display");
}

TEST(CliPipes, BadRegexIsAClearError) {
    auto e = error_of("show interfaces | match [abc");
    EXPECT_NE(e.find("bad regular expression in '| match [abc'"), std::string::npos) << e;
    e = error_of("show interfaces | except (x");
    EXPECT_NE(e.find("'| except (x'"), std::string::npos) << e;
}

TEST(CliPipes, MatchWithoutRegexIsRefused) {
    EXPECT_EQ(error_of("show interfaces | match"), "'| match' needs a regular expression");
    EXPECT_EQ(error_of("show interfaces | except \"\""), "'| except' needs a regular expression");
}

TEST(CliPipes, UnknownOrEmptyPipeNamesWhatIsAllowed) {
    EXPECT_EQ(error_of("show interfaces | grep up"),
              "unknown pipe 'grep': expected match, except, count, no-more or display set");
    EXPECT_EQ(error_of("show interfaces |"),
              "empty pipe after '|': expected match, except, count, no-more or display set");
    EXPECT_EQ(error_of("show interfaces || count"),
              "empty pipe after '|': expected match, except, count, no-more or display set");
}

TEST(CliPipes, CountAndNoMoreTakeNoArgument) {
    EXPECT_EQ(error_of("show interfaces | count 3"), "'| count' takes no argument (got '3')");
    EXPECT_EQ(error_of("show log | no-more x"), "'| no-more' takes no argument (got 'x')");
}

TEST(CliPipes, UnterminatedQuoteIsRefused) {
    EXPECT_EQ(error_of("show interfaces | match \"up"),
              "unterminated quoted string: add the closing \"");
}

TEST(CliPipes, InsideQuotesAndLastWord) {
    EXPECT_FALSE(inside_quotes("set system host-name gw"));
    EXPECT_TRUE(inside_quotes("set system login message \"what"));
    EXPECT_FALSE(inside_quotes("set system login message \"what?\" "));
    EXPECT_TRUE(inside_quotes(R"(set a "x \" y)"));
    EXPECT_EQ(last_word("show inter"), "inter");
    EXPECT_EQ(last_word("show "), "");
    EXPECT_EQ(last_word("sh"), "sh");
    EXPECT_EQ(last_word(""), "");
}

TEST(CliPipes, CompletionInsidePipes) {
    bool in_pipe = true;
    EXPECT_TRUE(complete_pipe("show interfaces", in_pipe).empty());
    EXPECT_FALSE(in_pipe);
    EXPECT_TRUE(complete_pipe("set message \"a |", in_pipe).empty());
    EXPECT_FALSE(in_pipe);

    auto all = complete_pipe("show interfaces | ", in_pipe);
    EXPECT_TRUE(in_pipe);
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[0].word, "count");
    auto m = complete_pipe("show interfaces | ma", in_pipe);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].word, "match");
    auto hint = complete_pipe("show interfaces | match ", in_pipe);
    ASSERT_EQ(hint.size(), 1u);
    EXPECT_EQ(hint[0].word, "");
    EXPECT_NE(hint[0].help.find("<regex>"), std::string::npos);
    auto set = complete_pipe("show configuration | display s", in_pipe);
    ASSERT_EQ(set.size(), 1u);
    EXPECT_EQ(set[0].word, "set");
    EXPECT_TRUE(complete_pipe("show interfaces | count ", in_pipe).empty());
    EXPECT_TRUE(complete_pipe("show interfaces | bogus ", in_pipe).empty());
    EXPECT_TRUE(in_pipe);
    EXPECT_TRUE(complete_pipe("show interfaces | display x", in_pipe).empty());
}

namespace {

Json port(const std::string &name, uint64_t packets, uint64_t bytes, Json link = "up") {
    return {{"name", name},
            {"link", link},
            {"rx_packets", packets},
            {"rx_bytes", bytes},
            {"tx_packets", packets / 2},
            {"tx_bytes", bytes / 2},
            {"rx_errors", 3},
            {"tx_errors", 4},
            {"rx_missed", 5}};
}

Json reply(uint64_t ms, Json ports) {
    return {{"ok", true}, {"time_ms", ms}, {"interfaces", ports}};
}

} // namespace

TEST(CliMonitor, RatesFromTwoSamples) {
    auto a = parse_counters(reply(1000, {port("inner0", 1000, 1000000), port("outer0", 0, 0)}));
    auto b = parse_counters(
        reply(3000, {port("inner0", 21000, 251000000), port("outer0", 0, 0, false)}));
    ASSERT_TRUE(a.ok() && b.ok());
    auto rates = compute_rates(*a, *b);
    ASSERT_EQ(rates.size(), 2u);
    EXPECT_EQ(rates[0].name, "inner0");
    EXPECT_DOUBLE_EQ(rates[0].rx_pps, 10000.0); // 20000 packets in 2 s
    EXPECT_DOUBLE_EQ(rates[0].rx_mbps, 1000.0); // 250 MB in 2 s = 1 Gbit/s
    EXPECT_DOUBLE_EQ(rates[0].tx_pps, 5000.0);
    EXPECT_DOUBLE_EQ(rates[0].tx_mbps, 500.0);
    EXPECT_EQ(rates[0].rx_errors, 3u);
    EXPECT_EQ(rates[0].rx_missed, 5u);
    EXPECT_EQ(rates[1].link, "down");
    EXPECT_DOUBLE_EQ(rates[1].rx_pps, 0.0);
    auto table = render_rates(rates);
    EXPECT_NE(table.find("Rx Mbit/s"), std::string::npos);
    EXPECT_NE(table.find("inner0       up           10000   1000.000"), std::string::npos) << table;
}

TEST(CliMonitor, CounterResetAndNewPortCountFromZero) {
    auto a = parse_counters(reply(0, {port("inner0", 5000, 5000)}));
    auto b = parse_counters(reply(1000, {port("inner0", 100, 1000), port("dmz0", 7, 70)}));
    ASSERT_TRUE(a.ok() && b.ok());
    auto rates = compute_rates(*a, *b);
    ASSERT_EQ(rates.size(), 2u);
    EXPECT_DOUBLE_EQ(rates[0].rx_pps, 100.0);
    EXPECT_DOUBLE_EQ(rates[1].rx_pps, 7.0);
    auto same_time = compute_rates(*b, *b);
    EXPECT_DOUBLE_EQ(same_time[0].rx_pps, 0.0);
}

TEST(CliMonitor, OnePortByName) {
    auto r = parse_counters(reply(0, {port("inner0", 1, 1), port("dmz0", 1, 1)}), "dmz0");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->ports.size(), 1u);
    EXPECT_EQ(r->ports[0].name, "dmz0");
}

TEST(CliMonitor, UnknownPortNamesTheKnownOnes) {
    auto r = parse_counters(reply(0, {port("inner0", 1, 1), port("dmz0", 1, 1)}), "eth9");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "no interface 'eth9' (known: inner0, dmz0)");
}

TEST(CliMonitor, MalformedOrRefusedReplies) {
    auto refused = parse_counters(Json{{"ok", false}, {"error", "dataplane not connected"}});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().message, "dataplane not connected");
    EXPECT_FALSE(parse_counters(Json::array()).ok());
    auto no_time = parse_counters(Json{{"ok", true}, {"interfaces", Json::array()}});
    ASSERT_FALSE(no_time.ok());
    EXPECT_NE(no_time.error().message.find("no time_ms"), std::string::npos);
    auto nameless = parse_counters(reply(0, {Json{{"link", "up"}}}));
    ASSERT_FALSE(nameless.ok());
    EXPECT_NE(nameless.error().message.find("without a name"), std::string::npos);
    Json partial = port("inner0", 1, 1);
    partial.erase("rx_missed");
    auto lacking = parse_counters(reply(0, {partial}));
    ASSERT_FALSE(lacking.ok());
    EXPECT_EQ(lacking.error().message,
              "malformed counters reply from qorgand: port inner0 lacks a counter");
    Json odd_link = port("inner0", 1, 1, 7);
    auto unknown_link = parse_counters(reply(0, {odd_link}));
    ASSERT_TRUE(unknown_link.ok());
    EXPECT_EQ(unknown_link->ports[0].link, "?");
}

TEST(CliMonitor, NonInteractiveRunPrintsOneTableAndReportsErrors) {
    int calls = 0;
    auto fetch = [&]() -> qorgan::Result<Json> {
        ++calls;
        return reply(calls * 1000u, {port("inner0", calls * 100u, calls * 1000u)});
    };
    int devnull = open("/dev/null", O_RDONLY);
    ASSERT_GE(devnull, 0);
    testing::internal::CaptureStdout();
    auto ok = run_monitor(fetch, "", devnull);
    std::string out = testing::internal::GetCapturedStdout();
    EXPECT_TRUE(ok.ok());
    EXPECT_EQ(calls, 2);
    EXPECT_NE(out.find("inner0       up             100"), std::string::npos) << out;

    auto failing = [&]() -> qorgan::Result<Json> { return qorgan::Error{{}, "lost"}; };
    auto lost = run_monitor(failing, "", devnull);
    ASSERT_FALSE(lost.ok());
    EXPECT_EQ(lost.error().message, "lost");
    auto unknown = run_monitor(fetch, "eth9", devnull);
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message.find("no interface 'eth9'"), std::string::npos);
    close(devnull);
}

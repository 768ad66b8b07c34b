// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's handle on qorgan-ike: swanctl's pretty vici dump parsed (sample text written
// after strongSwan 5.9.8's vici_message.c dump() and vici_query.c's fields, also the seeds
// of fuzz_swanctl), garbage refused with the line, a child process with a deadline, and the
// swanctl calls with their failures told apart (qorgan-ike not running, no SA to
// terminate, not yet established).
#include "control/ike_control.h"
#include "control/program.h"
#include "control/swanctl_sas.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace qorgan;
using namespace qorgan::control;

namespace {

std::string corpus(const std::string &name) {
    std::ifstream in(std::string(QORGAN_SOURCE_ROOT) + "/tests/fuzz/corpus/swanctl/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(SwanctlSas, ParsesIkeAndChildSas) {
    std::string text = corpus("established.txt");
    ASSERT_FALSE(text.empty());
    auto sas = parse_list_sas(text);
    ASSERT_TRUE(sas.ok()) << sas.error().message;
    ASSERT_EQ(sas->size(), 2u);
    const IkeSaInfo &a = (*sas)[0];
    EXPECT_EQ(a.name, "branch1");
    EXPECT_EQ(a.state, "ESTABLISHED");
    EXPECT_EQ(a.uniqueid, 3);
    EXPECT_EQ(a.local_host, "203.0.113.1");
    EXPECT_EQ(a.local_port, 4500);
    EXPECT_EQ(a.local_id, "C=KZ, O=Org, CN=gw1") << "an identity with spaces and '='";
    EXPECT_EQ(a.remote_id, "203.0.113.10");
    EXPECT_TRUE(a.initiator);
    EXPECT_EQ(a.encr_alg, "AES_CBC");
    EXPECT_EQ(a.encr_keysize, 256);
    EXPECT_EQ(a.dh_group, "MODP_3072");
    EXPECT_EQ(a.established, 300);
    EXPECT_EQ(a.rekey_time, 12660);
    EXPECT_FALSE(a.reauth_time);
    ASSERT_EQ(a.children.size(), 1u);
    const ChildSaInfo &c = a.children[0];
    EXPECT_EQ(c.section, "branch1-5");
    EXPECT_EQ(c.name, "branch1");
    EXPECT_EQ(c.state, "INSTALLED");
    EXPECT_EQ(c.reqid, 1);
    EXPECT_EQ(c.spi_in, "c0ffee01");
    EXPECT_EQ(c.spi_out, "c0ffee02");
    EXPECT_TRUE(c.encap);
    EXPECT_EQ(c.encr_alg, "AES_GCM_16");
    EXPECT_EQ(c.bytes_in, 4200);
    EXPECT_EQ(c.packets_out, 42);
    EXPECT_EQ(c.rekey_time, 2940);
    EXPECT_EQ(c.install_time, 300);
    EXPECT_EQ(c.local_ts, std::vector<std::string>{"198.18.1.0/24"});
    EXPECT_EQ(c.remote_ts, std::vector<std::string>{"192.0.2.0/24"});
    const IkeSaInfo &b = (*sas)[1];
    EXPECT_EQ(b.name, "lab2");
    EXPECT_EQ(b.state, "CONNECTING");
    EXPECT_EQ(b.remote_id, "%any");
    EXPECT_TRUE(b.children.empty());
    EXPECT_FALSE(b.established);
}

// Captured from stock charons (tests/tools/swanctl_capture.sh): the initiator with a DN
// identity, and the responder of the same tunnel.
TEST(SwanctlSas, ParsesWhatRealCharonsPrinted) {
    auto a = parse_list_sas(corpus("charon-initiator.txt"));
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_EQ(a->size(), 1u);
    const IkeSaInfo &i = (*a)[0];
    EXPECT_EQ(i.name, "branch1");
    EXPECT_EQ(i.state, "ESTABLISHED");
    EXPECT_EQ(i.local_id, "C=KZ, O=Org, CN=gw1");
    EXPECT_EQ(i.remote_host, "127.0.0.2");
    EXPECT_EQ(i.remote_port, 4500);
    EXPECT_TRUE(i.initiator);
    EXPECT_EQ(i.established, 1);
    EXPECT_EQ(i.rekey_time, 12762);
    ASSERT_EQ(i.children.size(), 1u);
    EXPECT_EQ(i.children[0].section, "branch1-1");
    EXPECT_EQ(i.children[0].state, "INSTALLED");
    EXPECT_EQ(i.children[0].spi_in, "bcb51dbe");
    EXPECT_EQ(i.children[0].spi_out, "b8efe0af");
    EXPECT_TRUE(i.children[0].encap);
    EXPECT_EQ(i.children[0].life_time, 3959);
    EXPECT_EQ(i.children[0].local_ts, std::vector<std::string>{"198.18.1.0/24"});
    auto b = parse_list_sas(corpus("charon-responder.txt"));
    ASSERT_TRUE(b.ok()) << b.error().message;
    ASSERT_EQ(b->size(), 1u);
    EXPECT_EQ((*b)[0].name, "peer");
    EXPECT_FALSE((*b)[0].initiator);
    EXPECT_EQ((*b)[0].remote_id, "C=KZ, O=Org, CN=gw1");
    ASSERT_EQ((*b)[0].children.size(), 1u);
    EXPECT_EQ((*b)[0].children[0].spi_in, "b8efe0af") << "the initiator's outbound SPI";
    // The one-line --raw form of the same SA is refused rather than misread: its
    // "local-id=C=KZ, O=Org, CN=gw1" cannot be told from three elements.
    auto raw = parse_list_sas(corpus("raw-oneline.txt"));
    ASSERT_FALSE(raw.ok());
    EXPECT_EQ(raw.error().message.substr(0, 22), "swanctl output line 1:");
}

TEST(SwanctlSas, NoSaAndOddValues) {
    auto none = parse_list_sas(corpus("empty.txt"));
    ASSERT_TRUE(none.ok()) << none.error().message;
    EXPECT_TRUE(none->empty());
    auto blank = parse_list_sas("");
    ASSERT_TRUE(blank.ok());
    EXPECT_TRUE(blank->empty());
    // An empty value, a number that is not one, CRLF line ends, a key we do not know.
    auto odd = parse_list_sas("list-sa event {\r\n  x {\r\n    state = \r\n    established = "
                              "12abc\r\n    future-key = 1\r\n  }\r\n}\r\n");
    ASSERT_TRUE(odd.ok()) << odd.error().message;
    ASSERT_EQ(odd->size(), 1u);
    EXPECT_EQ((*odd)[0].state, "");
    EXPECT_FALSE((*odd)[0].established);
}

TEST(SwanctlSas, GarbageIsAnErrorWithTheLine) {
    auto t = parse_list_sas(corpus("truncated.txt"));
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().message, "swanctl output line 6: list 'local-ts' is not closed");
    auto e = parse_list_sas("list-sa event {\n  x {\n    what is this\n  }\n}\n");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().message, "swanctl output line 3: expected 'name {', 'key = value', "
                                 "'key = [' or '}', got 'what is this'");
    auto top = parse_list_sas("connecting to 'unix:///x' failed\n");
    ASSERT_FALSE(top.ok());
    EXPECT_EQ(top.error().message, "swanctl output line 1: expected a message label such as "
                                   "'list-sa event {', got 'connecting to 'unix:///x' failed'");
    auto open = parse_list_sas("list-sa event {\n  x {\n");
    ASSERT_FALSE(open.ok());
    EXPECT_EQ(open.error().message, "swanctl output line 2: section 'x' is not closed");
    auto stray = parse_list_sas("}\n");
    ASSERT_FALSE(stray.ok());
    // Nesting is bounded, so a deep input cannot exhaust the stack.
    std::string deep = "list-sa event {\n";
    for (int i = 0; i < 100000; i++)
        deep += "s {\n";
    auto d = parse_list_sas(deep);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().message, "swanctl output line 17: sections nested deeper than 16");
}

// ---------------------------------------------------------------- run_program

TEST(Program, CollectsOutputErrorAndExitCode) {
    auto r = run_program({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, {}, 5000);
    EXPECT_EQ(r.failure, "");
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\n");
    auto env = run_program({"/bin/sh", "-c", "echo $QORGAN_X"}, {"QORGAN_X=given"}, 5000);
    EXPECT_EQ(env.out, "given\n") << "the environment given, not qorgand's";
}

TEST(Program, KilledAtTheDeadline) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = run_program({"/bin/sh", "-c", "echo started; exec sleep 30"}, {}, 300);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.exit_code, -1);
    EXPECT_EQ(r.out, "started\n");
    EXPECT_LT(ms, 5000);
    // A program that closes its output and goes on is killed too.
    auto quiet = run_program({"/bin/sh", "-c", "exec >&- 2>&-; sleep 30"}, {}, 300);
    EXPECT_TRUE(quiet.timed_out);
}

TEST(Program, OutputIsBoundedAndAMissingProgramSaysSo) {
    auto big = run_program({"/bin/sh", "-c", "head -c 3000000 /dev/zero"}, {}, 10000);
    EXPECT_EQ(big.exit_code, 0);
    EXPECT_EQ(big.out.size(), max_program_output);
    auto missing = run_program({"/nonexistent/swanctl"}, {}, 5000);
    EXPECT_EQ(missing.exit_code, 127);
    EXPECT_EQ(missing.err, "cannot execute /nonexistent/swanctl\n");
    EXPECT_EQ(run_program({}, {}, 100).failure, "no program given");
}

// ---------------------------------------------------------------- IkeControl

struct FakeSwanctl {
    std::vector<std::vector<std::string>> calls;
    std::vector<std::string> env;
    std::vector<ProgramResult> replies; // in order; the last repeats

    IkeControl::Runner runner() {
        return
            [this](const std::vector<std::string> &argv, const std::vector<std::string> &e, int) {
                calls.push_back(argv);
                env = e;
                ProgramResult r = replies.empty() ? ProgramResult{} : replies.front();
                if (replies.size() > 1)
                    replies.erase(replies.begin());
                return r;
            };
    }
};

ProgramResult exited(int code, const std::string &out, const std::string &err = "") {
    ProgramResult r;
    r.exit_code = code;
    r.out = out;
    r.err = err;
    return r;
}

const std::string not_running =
    "plugin 'curl': failed to load - curl_plugin_create not found and no plugin file available\n"
    "connecting to 'unix:///run/test/charon.vici' failed: No such file or directory\n"
    "Error: connecting to 'unix:///run/test/charon.vici' URI failed: No such file or "
    "directory\n";

TEST(IkeControl, ListsSasThroughSwanctlPretty) {
    FakeSwanctl f;
    f.replies = {exited(0, corpus("established.txt"))};
    IkeControl ike({"/usr/sbin/swanctl", "/run/test/charon.vici", 4000}, f.runner());
    IkeControl::Failure why = IkeControl::Failure::failed;
    auto sas = ike.list_sas(&why);
    ASSERT_TRUE(sas.ok()) << sas.error().message;
    EXPECT_EQ(why, IkeControl::Failure::none);
    EXPECT_EQ(sas->size(), 2u);
    ASSERT_EQ(f.calls.size(), 1u);
    EXPECT_EQ(f.calls[0], (std::vector<std::string>{"/usr/sbin/swanctl", "--list-sas", "--pretty",
                                                    "--uri", "unix:///run/test/charon.vici"}));
    EXPECT_EQ(f.env, std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"})
        << "no strongswan.conf beside the socket";
}

TEST(IkeControl, TellsNotRunningFromOtherFailures) {
    FakeSwanctl f;
    f.replies = {exited(2, "", not_running)};
    IkeControl ike({"/usr/sbin/swanctl", "/run/test/charon.vici", 4000}, f.runner());
    IkeControl::Failure why = IkeControl::Failure::none;
    auto sas = ike.list_sas(&why);
    ASSERT_FALSE(sas.ok());
    EXPECT_EQ(why, IkeControl::Failure::not_running);
    EXPECT_EQ(sas.error().message,
              "qorgan-ike is not running: nothing answers on unix:///run/test/charon.vici");

    f.replies = {exited(0, "list-sa event {\n  x {\n")};
    sas = ike.list_sas(&why);
    ASSERT_FALSE(sas.ok());
    EXPECT_EQ(why, IkeControl::Failure::failed);
    EXPECT_EQ(sas.error().message, "swanctl output line 2: section 'x' is not closed");

    ProgramResult hung;
    hung.timed_out = true;
    f.replies = {hung};
    sas = ike.list_sas(&why);
    ASSERT_FALSE(sas.ok());
    EXPECT_EQ(sas.error().message, "swanctl --list-sas did not finish within 4 s (killed); "
                                   "qorgan-ike may be busy or hung");
    ProgramResult cannot;
    cannot.failure = "fork: Resource temporarily unavailable";
    f.replies = {cannot};
    EXPECT_EQ(ike.list_sas().error().message,
              "cannot run /usr/sbin/swanctl: fork: Resource temporarily unavailable");
}

TEST(IkeControl, TerminateAndInitiate) {
    FakeSwanctl f;
    IkeControl ike({"/usr/sbin/swanctl", "/run/test/charon.vici", 10000}, f.runner());
    f.replies = {exited(0, "[IKE] deleting IKE_SA branch1[3]\nterminate completed successfully\n")};
    auto t = ike.terminate_ike("branch1");
    EXPECT_EQ(t.failure, IkeControl::Failure::none);
    EXPECT_EQ(t.message, "");
    EXPECT_EQ(f.calls.back(), (std::vector<std::string>{"/usr/sbin/swanctl", "--terminate", "--ike",
                                                        "branch1", "--force", "--timeout", "5",
                                                        "--uri", "unix:///run/test/charon.vici"}));
    f.replies = {exited(1, "", "terminate failed: no matching SAs to terminate found\n")};
    t = ike.terminate_ike("branch1");
    EXPECT_EQ(t.failure, IkeControl::Failure::none);
    EXPECT_EQ(t.message, "no IKE SA to terminate");
    f.replies = {exited(1, "", "terminate failed: terminating SA failed\n")};
    t = ike.terminate_ike("branch1");
    EXPECT_EQ(t.failure, IkeControl::Failure::none);
    EXPECT_EQ(t.message,
              "the peer did not confirm the delete within 5 s; charon removed the IKE SA anyway");
    f.replies = {exited(1, "", "terminate request failed: Broken pipe\n")};
    t = ike.terminate_ike("branch1");
    EXPECT_EQ(t.failure, IkeControl::Failure::failed);
    EXPECT_EQ(t.message, "swanctl --terminate: terminate request failed: Broken pipe");

    f.replies = {exited(0, "initiate completed successfully\n")};
    auto i = ike.initiate_child("branch1");
    EXPECT_EQ(i.failure, IkeControl::Failure::none);
    EXPECT_EQ(f.calls.back(), (std::vector<std::string>{"/usr/sbin/swanctl", "--initiate",
                                                        "--child", "branch1", "--timeout", "5",
                                                        "--uri", "unix:///run/test/charon.vici"}));
    f.replies = {
        exited(1, "", "initiate failed: CHILD_SA 'branch1' not established after 5000ms\n")};
    i = ike.initiate_child("branch1");
    EXPECT_EQ(i.failure, IkeControl::Failure::none);
    EXPECT_EQ(i.message, "not established within 5 s; charon goes on trying");
    f.replies = {exited(1, "", "initiate failed: CHILD_SA config 'x' not found\n")};
    i = ike.initiate_child("x");
    EXPECT_EQ(i.failure, IkeControl::Failure::failed);
    EXPECT_EQ(i.message, "swanctl --initiate: initiate failed: CHILD_SA config 'x' not found");
    f.replies = {exited(2, "", not_running)};
    EXPECT_EQ(ike.initiate_child("branch1").failure, IkeControl::Failure::not_running);
}

TEST(IkeControl, RealSwanctlWithNothingOnTheSocketIsNotRunning) {
    // The installed swanctl (scripts/setup) against a socket nobody listens on: its own
    // words must be recognised, or show ipsec sa would call a stopped qorgan-ike a failure.
    ASSERT_EQ(access("/usr/sbin/swanctl", X_OK), 0) << "scripts/setup installs strongswan-swanctl";
    std::string vici =
        ::testing::TempDir() + "qorgan-no-charon-" + std::to_string(getpid()) + ".vici";
    IkeControl ike({"/usr/sbin/swanctl", vici, 10000});
    IkeControl::Failure why = IkeControl::Failure::none;
    auto sas = ike.list_sas(&why);
    ASSERT_FALSE(sas.ok());
    EXPECT_EQ(why, IkeControl::Failure::not_running);
    EXPECT_EQ(sas.error().message, "qorgan-ike is not running: nothing answers on unix://" + vici);
    EXPECT_EQ(ike.terminate_ike("branch1").failure, IkeControl::Failure::not_running);
    EXPECT_EQ(ike.initiate_child("branch1").failure, IkeControl::Failure::not_running);
}

TEST(IkeControl, RealProgramThroughAScript) {
    // The default runner with a stand-in for swanctl: what it was given comes back.
    std::string dir = ::testing::TempDir() + "qorgan-swanctl-" + std::to_string(getpid());
    std::filesystem::create_directories(dir);
    std::string script = dir + "/swanctl";
    {
        std::ofstream s(script);
        s << "#!/bin/sh\n"
             "echo \"list-sa event {\"\n"
             "echo \"  args {\"\n"
             "echo \"    state = $*\"\n"
             "echo \"    local-id = $STRONGSWAN_CONF\"\n"
             "echo \"  }\"\n"
             "echo \"}\"\n";
    }
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    { std::ofstream(dir + "/strongswan.conf") << "swanctl {}\n"; }
    IkeControl ike({script, dir + "/charon.vici", 5000});
    auto sas = ike.list_sas();
    ASSERT_TRUE(sas.ok()) << sas.error().message;
    ASSERT_EQ(sas->size(), 1u);
    EXPECT_EQ((*sas)[0].state, "--list-sas --pretty --uri unix://" + dir + "/charon.vici");
    EXPECT_EQ((*sas)[0].local_id, dir + "/strongswan.conf")
        << "qorgan-ike's strongswan.conf beside the socket is swanctl's";
    std::filesystem::remove_all(dir);
}

} // namespace

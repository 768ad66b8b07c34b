// SPDX-License-Identifier: GPL-2.0-or-later
// The dataplane control socket (docs/CONTROL-PROTOCOL.md): request parsing, every op of
// ControlService against a worker running on net_ring ports in its own thread, the socket
// served to DataplaneClient, and the apply latency for 1k and 10k rules (printed, not timed).
// Covers issue 3's live publish (old or new policy, never a mix) and R128-f/R128-g views.
#include "config/config.h"
#include "control/dataplane_client.h"
#include "dataplane/control_socket.h"
#include "dataplane/mbuf_priv.h"
#include "dataplane/ports.h"
#include "dataplane/worker.h"
#include "frames.h"
#include "pipeline_kit.h"
#include "ring_ports.h"

#include <gtest/gtest.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

using namespace qorgan;
using namespace qorgan::dp;
using qorgan::test::build_frame;
using qorgan::test::FrameSpec;

namespace {

constexpr const char *interfaces_text = R"(
interfaces {
    inner0 { device "net_ring_inner"; address 198.18.1.1/24; address 2001:db8:1::1/64; zone inner; }
    dmz0 { device "net_ring_dmz"; address 198.18.3.1/24; zone dmz; }
    inet0 { device "net_ring_inet"; address 203.0.113.1/24; zone internet; }
}
zones { inner { loop inner; } dmz { loop shielded; } internet { loop internet; } }
routes { route 192.0.2.0/24 { via 203.0.113.254; } }
dataplane { max-flows 1024; }
)";

constexpr const char *policy_text = R"(
policy {
    inner0 {
        ingress {
            rule 10 { protocol tcp; destination 198.18.3.0/24; destination-port 80; action accept; description "web to dmz"; }
            rule 11 { protocol tcp; destination 198.18.3.0/24; destination-port 443; action accept; }
            rule 40 { protocol tcp; destination-port 23; action drop; log; }
        }
        egress { rule 1000 { action accept; } }
    }
    dmz0 { egress { rule 1000 { action accept; } } }
    inet0 { egress { rule 1000 { action accept; } } }
}
)";

const Mac host_mac{0x02, 0, 0, 0, 0, 0x11};
const Mac server_mac{0x02, 0, 0, 0, 0, 0x33};

// Ports and pool live for the whole suite: a started ethdev cannot be re-created cheaply.
qorgan::test::RingPorts suite;
rte_mempool *&pool = suite.pool;
qorgan::test::RingPort (&rings)[3] = suite.ring;
Ports *&ports = suite.ports;

std::string config_text(const std::string &policy = policy_text) {
    return std::string(interfaces_text) + policy;
}

Json apply_request(const std::string &text, uint32_t revision) {
    return Json{
        {"op", "apply"}, {"text", text}, {"revision", revision}, {"sha256", sha256_hex(text)}};
}

// ------------------------------------------------------------------ parse_request (pure)

std::string parse_error(const std::string &bytes) {
    auto r = parse_request(std::string_view(bytes));
    EXPECT_FALSE(r.ok()) << bytes;
    return r.ok() ? "" : r.error().message;
}

TEST(ControlRequest, MalformedRequestsNameWhatIsWrong) {
    EXPECT_EQ(parse_error("{\"op\":"), "malformed JSON message");
    EXPECT_EQ(parse_error("[1,2]"), "a request must be a JSON object");
    EXPECT_NE(parse_error("{\"op\":5}").find("a request needs \"op\", a string"),
              std::string::npos);
    EXPECT_EQ(parse_error("{\"op\":\"x\"}"),
              "unknown op 'x'; expected one of: status, apply, interfaces, rules, sessions, "
              "clear-sessions, routes, neighbors, drops, nat, screen, screen-blocked, "
              "clear-screen-blocked, applications, ipsec-peers, ipsec-flush, ipsec-add-sa, "
              "ipsec-update-sa, ipsec-del-sa, ipsec-query-sa, ipsec-add-policy, "
              "ipsec-del-policy, ipsec-sas, ipsec, exception");
    EXPECT_EQ(parse_error("{\"op\":\"status\",\"filter\":{}}"),
              "unknown field 'filter' for op 'status'");
    EXPECT_EQ(parse_error("{\"op\":\"apply\",\"revision\":1}"),
              "apply needs \"text\", the configuration text");
    EXPECT_EQ(parse_error("{\"op\":\"apply\",\"text\":\"\",\"revision\":-1}"),
              "apply needs \"revision\", an integer 0-4294967295");
    EXPECT_EQ(parse_error("{\"op\":\"apply\",\"text\":\"\",\"revision\":4294967296}"),
              "apply needs \"revision\", an integer 0-4294967295");
    EXPECT_EQ(parse_error("{\"op\":\"apply\",\"text\":\"\",\"revision\":1,\"sha256\":\"abc\"}"),
              "apply needs \"sha256\", 64 hex digits of the text's SHA-256");
    EXPECT_EQ(parse_error("{\"op\":\"apply\",\"text\":\"\",\"revision\":1,\"sha256\":\"" +
                          std::string(63, 'a') + "g\"}"),
              "apply needs \"sha256\", 64 hex digits of the text's SHA-256");
    EXPECT_EQ(parse_error("{\"op\":\"sessions\",\"filter\":[]}"), "\"filter\" must be an object");
    EXPECT_EQ(parse_error("{\"op\":\"sessions\",\"filter\":{\"address\":7}}"),
              "filter address must be a string");
    EXPECT_EQ(parse_error("{\"op\":\"sessions\",\"filter\":{\"address\":\"198.18.300.1\"}}"),
              "filter address '198.18.300.1' is not an IPv4 or IPv6 address");
    EXPECT_EQ(parse_error("{\"op\":\"sessions\",\"filter\":{\"port\":65536}}"),
              "filter port must be an integer 0-65535");
    EXPECT_EQ(parse_error("{\"op\":\"clear-sessions\",\"filter\":{\"interface\":\"\"}}"),
              "filter interface must be an interface name");
    EXPECT_EQ(parse_error("{\"op\":\"sessions\",\"filter\":{\"limit\":0}}"),
              "filter limit must be an integer 1-100000");
    EXPECT_EQ(parse_error("{\"op\":\"sessions\",\"filter\":{\"limit\":100001}}"),
              "filter limit must be an integer 1-100000");
    EXPECT_EQ(parse_error("{\"op\":\"sessions\",\"filter\":{\"zone\":\"dmz\"}}"),
              "unknown filter field 'zone'; expected address, port, interface, interfaces, limit, "
              "nat");
    EXPECT_EQ(parse_error("{\"op\":\"sessions\",\"filter\":{\"nat\":1}}"),
              "filter nat must be true or false");
    EXPECT_EQ(parse_error("{\"op\":\"nat\",\"filter\":{}}"), "unknown field 'filter' for op 'nat'");
}

TEST(ControlRequest, WellFormedRequestsAreTyped) {
    auto r = parse_request(std::string_view(
        R"({"op":"sessions","filter":{"address":"2001:db8::1","port":80,"interface":"dmz0","limit":5}})"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->op, ControlOp::sessions);
    EXPECT_EQ(r->filter.family, 6);
    EXPECT_EQ(r->filter.address[0], 0x20);
    EXPECT_EQ(r->filter.address[15], 1);
    EXPECT_EQ(r->filter.port, 80);
    EXPECT_EQ(r->filter.interface, "dmz0");
    EXPECT_EQ(r->filter.limit, 5u);
    EXPECT_FALSE(r->filter.nat_only);
    auto n = parse_request(std::string_view(R"({"op":"sessions","filter":{"nat":true}})"));
    ASSERT_TRUE(n.ok()) << n.error().message;
    EXPECT_TRUE(n->filter.nat_only);
    auto op = parse_request(std::string_view(R"({"op":"nat"})"));
    ASSERT_TRUE(op.ok()) << op.error().message;
    EXPECT_EQ(op->op, ControlOp::nat);
    EXPECT_STREQ(control_op_name(ControlOp::nat), "nat");

    auto d = parse_request(std::string_view(R"({"op":"clear-sessions"})"));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->filter.limit, session_limit_default);
    EXPECT_EQ(d->filter.family, 0);

    auto a = parse_request(
        std::string_view(R"({"op":"apply","text":"x","revision":4294967295,"sha256":")" +
                         std::string(64, 'A') + "\"}"));
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->revision, 4294967295u);
    EXPECT_EQ(a->sha256, std::string(64, 'a')); // compared lowercase
    EXPECT_STREQ(control_op_name(ControlOp::clear_sessions), "clear-sessions");
}

// ------------------------------------------------------------------ the service

class Control : public ::testing::Test, protected qorgan::test::WorkerKit {
protected:
    static void SetUpTestSuite() {
        if (pool)
            return; // the suites share ports: an ethdev cannot be re-created cheaply
        qorgan::test::open_ring_ports(suite, "cs", std::string(interfaces_text));
    }

    void SetUp() override {
        auto c = config::load_text(config_text(), "cs.conf");
        ASSERT_TRUE(c.ok()) << c.error().to_string();
        auto s = build_snapshot(c.value(), ports->bindings(), 1, 1, 0);
        ASSERT_TRUE(s.ok()) << s.error().to_string();
        active.store(s.value().release());
        ASSERT_NO_FATAL_FAILURE(open_worker_rings("cs", c.value()));
        slot = std::make_unique<SessionSlot>(session_limit_max);
        WorkerEnv env = worker_env(suite);
        env.rx_ports = {rings[0].port, rings[1].port, rings[2].port};
        env.sessions = slot.get();
        worker = std::make_unique<Worker>(env);
        neighbors.learn(rings[1].port, 4, addr4("198.18.3.10").data(), server_mac);
        neighbors.learn(rings[0].port, 4, addr4("198.18.1.11").data(), host_mac);

        ControlEnv ce;
        ce.active = &active;
        ce.snapshot_lock = &snapshot_lock;
        ce.rcu = rcu;
        ce.ports = ports;
        ce.ports_lock = &ports_lock;
        ce.neighbors = &neighbors;
        ce.counters = {&counters};
        ce.sessions = {slot.get()};
        ce.workers = 1;
        ce.before_free = [this](const Snapshot &old) { freed_epochs.push_back(old.epoch); };
        ce.session_timeout_ms = 300;
        service = std::make_unique<ControlService>(ce, "cs.conf", sha256_hex(config_text()));
    }

    void start_worker() {
        stop = false;
        worker_thread = std::thread([this] { worker->run(stop); });
    }

    void TearDown() override {
        stop = true;
        if (worker_thread.joinable())
            worker_thread.join();
        service.reset();
        worker.reset();
        flows.reset();
        for (auto &r : rings) {
            drain(r.tx);
            drain(r.rx);
        }
        drain(to_main);
        close_worker_rings();
        delete active.load();
    }

    static std::array<uint8_t, 16> addr4(const char *s) {
        std::array<uint8_t, 16> a{};
        inet_pton(AF_INET, s, a.data());
        return a;
    }

    // Puts a frame on port index `in`'s RX ring for the worker thread.
    void inject(int in, const std::vector<uint8_t> &frame) {
        rte_mbuf *m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                    frame.size());
        ASSERT_EQ(rte_ring_enqueue(rings[in].rx, m), 0);
    }

    // Waits (bounded) for `n` frames transmitted on port index `out`.
    unsigned wait_sent(int out, unsigned n) {
        unsigned got = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (got < n && std::chrono::steady_clock::now() < deadline) {
            void *p;
            if (rte_ring_dequeue(rings[out].tx, &p) == 0) {
                rte_pktmbuf_free(static_cast<rte_mbuf *>(p));
                got++;
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
        return got;
    }

    // A SYN from the inner host to the dmz server, forwarded by the worker.
    void open_flow(uint16_t sport, uint16_t dport = 80) {
        FrameSpec f;
        f.src_mac = host_mac;
        f.dst_mac = ports->states()[0].mac;
        f.sport = sport;
        f.dport = dport;
        inject(0, build_frame(f));
        ASSERT_EQ(wait_sent(1, 1), 1u) << "the SYN was not forwarded";
    }

    Json call(const Json &req) { return service->handle(req); }

    std::vector<uint32_t> rule_ids() {
        Json r = call(Json{{"op", "rules"}});
        std::vector<uint32_t> ids;
        for (const auto &x : r["rules"])
            if (x["interface"] == "inner0" && x["direction"] == "ingress")
                ids.push_back(x["id"].get<uint32_t>());
        return ids;
    }

    std::mutex snapshot_lock, ports_lock;
    std::unique_ptr<SessionSlot> slot;
    std::atomic<bool> stop{false};
    std::thread worker_thread;
    std::unique_ptr<ControlService> service;
    std::vector<uint32_t> freed_epochs;
};

TEST_F(Control, StatusTellsEpochRevisionAndSource) {
    Json r = call(Json{{"op", "status"}});
    EXPECT_EQ(r["ok"], true);
    EXPECT_EQ(r["epoch"], 1);
    EXPECT_EQ(r["revision"], 0);
    EXPECT_EQ(r["sha256"], sha256_hex(config_text()));
    EXPECT_EQ(r["workers"], 1);
    EXPECT_EQ(r["config_source"], "cs.conf");
    EXPECT_TRUE(r["uptime_s"].is_number_unsigned());
}

TEST_F(Control, ApplyPublishesANewSnapshotWhileTheWorkerRuns) {
    start_worker();
    EXPECT_EQ(rule_ids(), (std::vector<uint32_t>{10, 11, 40}));
    std::string policy = policy_text;
    size_t r11 = policy.find("            rule 11");
    policy.erase(r11, policy.find('\n', r11) + 1 - r11);
    std::string text = config_text(policy);
    ASSERT_EQ(text.find("rule 11"), std::string::npos) << text;
    Json r = call(apply_request(text, 7));
    ASSERT_EQ(r["ok"], true) << r.dump();
    EXPECT_EQ(r["epoch"], 2);
    EXPECT_EQ(r["revision"], 7);
    EXPECT_EQ(r["sha256"], sha256_hex(text));
    EXPECT_TRUE(r["apply_us"].is_number_unsigned());
    EXPECT_EQ(rule_ids(), (std::vector<uint32_t>{10, 40}));
    EXPECT_EQ(freed_epochs, std::vector<uint32_t>{1}) << "the old snapshot is freed after RCU";
    Json st = call(Json{{"op", "status"}});
    EXPECT_EQ(st["epoch"], 2);
    EXPECT_EQ(st["revision"], 7);
    EXPECT_EQ(st["config_source"], "revision 7");
    EXPECT_EQ(st["sha256"], sha256_hex(text));
    // The new policy is the one the worker runs: port 443 now has no rule.
    FrameSpec f;
    f.src_mac = host_mac;
    f.dst_mac = ports->states()[0].mac;
    f.dport = 443;
    inject(0, build_frame(f));
    open_flow(40001); // port 80 still passes (and proves the 443 SYN was handled before)
    EXPECT_EQ(counters.drops[static_cast<unsigned>(DropReason::default_deny)].get(), 1u);
}

TEST_F(Control, IpsecPeersTakeTheirLocalAddressFromTheRunningRoutes) {
    // near: connected (inet0); far: by the static route via 203.0.113.254; lost: no route,
    // so charon picks (docs/IPSEC.md, qorgan-ike's local_addrs).
    std::string text = config_text() +
                       "ipsec {\n"
                       "    peer near { address 203.0.113.10; pre-shared-key "
                       "\"0123456789abcdefghij\"; local-subnet 198.18.1.0/24; remote-subnet "
                       "198.51.100.0/26; }\n"
                       "    peer far { address 192.0.2.20; pre-shared-key "
                       "\"0123456789abcdefghij\"; local-subnet 198.18.1.0/24; remote-subnet "
                       "198.51.100.64/26; }\n"
                       "    peer lost { address 198.51.100.200; pre-shared-key "
                       "\"0123456789abcdefghij\"; local-subnet 198.18.1.0/24; remote-subnet "
                       "198.51.100.128/26; }\n"
                       "}\n";
    ASSERT_EQ(call(apply_request(text, 3))["ok"], true);
    Json r = call(Json{{"op", "ipsec-peers"}});
    ASSERT_EQ(r["peers"].size(), 3u) << r.dump();
    EXPECT_EQ(r["revision"], 3);
    EXPECT_EQ(r["peers"][0]["local_address"], "203.0.113.1") << "connected";
    EXPECT_EQ(r["peers"][1]["local_address"], "203.0.113.1") << "by the static route";
    EXPECT_EQ(r["peers"][2]["local_address"], "") << "no route: charon picks";
}

TEST_F(Control, RefusedAppliesChangeNothing) {
    start_worker();
    std::string text = config_text();
    Json bad_sha = apply_request(text, 3);
    bad_sha["sha256"] = std::string(64, '0');
    Json r = call(bad_sha);
    EXPECT_EQ(r["ok"], false);
    EXPECT_EQ(r["error"], "sha256 mismatch: the text hashes to " + sha256_hex(text) +
                              ", the request says " + std::string(64, '0'));

    std::string broken = config_text() + "policy { inner0 { ingress { rule x } } }\n";
    r = call(apply_request(broken, 4));
    EXPECT_EQ(r["ok"], false);
    EXPECT_EQ(r["error"].get<std::string>().rfind("revision 4:", 0), 0u) << r.dump();

    std::string ports_changed = config_text();
    ports_changed.replace(ports_changed.find("net_ring_inet"), 13, "net_ring_else");
    r = call(apply_request(ports_changed, 5));
    EXPECT_EQ(r["ok"], false);
    EXPECT_NE(r["error"].get<std::string>().find(
                  "interfaces changed: restart the dataplane to change ports"),
              std::string::npos)
        << r.dump();

    Json st = call(Json{{"op", "status"}});
    EXPECT_EQ(st["epoch"], 1);
    EXPECT_EQ(st["revision"], 0);
    EXPECT_EQ(st["config_source"], "cs.conf");
    EXPECT_EQ(rule_ids(), (std::vector<uint32_t>{10, 11, 40}));
    EXPECT_TRUE(freed_epochs.empty());
    open_flow(40002); // the old policy keeps working
}

TEST_F(Control, SessionsShowAndClearExactlyTheFilteredFlows) {
    start_worker();
    open_flow(40000);
    open_flow(40100, 443);
    Json r = call(Json{{"op", "sessions"}});
    ASSERT_EQ(r["ok"], true) << r.dump();
    EXPECT_EQ(r["total"], 2);
    EXPECT_EQ(r["truncated"], false);
    ASSERT_EQ(r["sessions"].size(), 2u);

    r = call(Json{{"op", "sessions"}, {"filter", {{"port", 80}}}});
    ASSERT_EQ(r["sessions"].size(), 1u) << r.dump();
    const Json &s = r["sessions"][0];
    EXPECT_EQ(s["worker"], 0);
    EXPECT_EQ(s["family"], 4);
    EXPECT_EQ(s["proto"], "tcp");
    EXPECT_EQ(s["src"], "198.18.1.11");
    EXPECT_EQ(s["sport"], 40000);
    EXPECT_EQ(s["dst"], "198.18.3.10");
    EXPECT_EQ(s["dport"], 80);
    EXPECT_EQ(s["state"], "tcp_syn_sent");
    EXPECT_EQ(s["in"], "inner0");
    EXPECT_EQ(s["out"], "dmz0");
    EXPECT_EQ(s["rule"], 10);
    EXPECT_EQ(s["packets"], Json::array({1, 0}));
    EXPECT_EQ(s["bytes"], Json::array({40, 0}));
    EXPECT_TRUE(s["age_s"].is_number_unsigned());
    EXPECT_TRUE(s["idle_s"].is_number_unsigned());

    EXPECT_EQ(call(Json{{"op", "sessions"}, {"filter", {{"address", "198.18.3.10"}}}})["total"], 2);
    EXPECT_EQ(call(Json{{"op", "sessions"}, {"filter", {{"address", "198.18.3.99"}}}})["total"], 0);
    EXPECT_EQ(call(Json{{"op", "sessions"}, {"filter", {{"address", "2001:db8:1::11"}}}})["total"],
              0);
    EXPECT_EQ(call(Json{{"op", "sessions"}, {"filter", {{"interface", "dmz0"}}}})["total"], 2);
    EXPECT_EQ(call(Json{{"op", "sessions"}, {"filter", {{"interface", "inet0"}}}})["total"], 0);
    r = call(Json{{"op", "sessions"}, {"filter", {{"interface", "nope0"}}}});
    EXPECT_EQ(r["ok"], false);
    EXPECT_EQ(r["error"], "unknown interface 'nope0' in the filter");
    // A zone is sent as its interfaces (show sessions zone Z): a flow on any of them matches.
    EXPECT_EQ(call(Json{{"op", "sessions"},
                        {"filter", {{"interfaces", Json::array({"inet0", "dmz0"})}}}})["total"],
              2);
    EXPECT_EQ(call(Json{{"op", "sessions"},
                        {"filter", {{"interfaces", Json::array({"inet0"})}}}})["total"],
              0);
    r = call(Json{{"op", "sessions"}, {"filter", {{"interfaces", Json::array({"inet0", "x9"})}}}});
    EXPECT_EQ(r["error"], "unknown interface 'x9' in the filter");
    r = call(Json{{"op", "sessions"}, {"filter", {{"limit", 1}}}});
    EXPECT_EQ(r["sessions"].size(), 1u);
    EXPECT_EQ(r["total"], 2);
    EXPECT_EQ(r["truncated"], true);

    r = call(
        Json{{"op", "clear-sessions"}, {"filter", {{"port", 443}, {"address", "198.18.1.11"}}}});
    ASSERT_EQ(r["ok"], true) << r.dump();
    EXPECT_EQ(r["cleared"], 1);
    r = call(Json{{"op", "sessions"}});
    ASSERT_EQ(r["sessions"].size(), 1u);
    EXPECT_EQ(r["sessions"][0]["dport"], 80);
    EXPECT_EQ(call(Json{{"op", "clear-sessions"}, {"filter", {{"interface", "nope0"}}}})["ok"],
              false);
}

// NAT: one inside host hidden behind a pool on dmz0, the dmz server published on inet0 by a
// static and by a destination rule (rules see the server's real address).
constexpr const char *nat_policy_text = R"(
policy {
    inner0 {
        ingress {
            rule 10 { protocol tcp; destination 198.18.3.0/24; destination-port 80; action accept; }
            rule 11 { protocol icmp; destination 198.18.3.0/24; action accept; }
        }
        egress { rule 1000 { action accept; } }
    }
    dmz0 { egress { rule 1000 { action accept; } } }
    inet0 {
        ingress { rule 20 { protocol tcp; destination 198.18.3.10; destination-port 80; action accept; } }
        egress { rule 1000 { action accept; } }
    }
}
nat {
    source lan { interface dmz0; from 198.18.1.11/32; pool 198.18.3.100; ports 20000-20999; }
    static web { interface inet0; inside 198.18.3.10; outside 203.0.113.50; }
    destination alt { interface inet0; protocol tcp; port 8080; to 198.18.3.10; to-port 80; }
}
)";

TEST_F(Control, NatOpCountsTranslationsAndPoolUsePerRule) {
    start_worker();
    Json r = call(Json{{"op", "nat"}});
    ASSERT_EQ(r["ok"], true) << r.dump();
    EXPECT_EQ(r["sources"], Json::array()) << "no nat section yet";
    EXPECT_EQ(r["statics"], Json::array());
    EXPECT_EQ(r["destinations"], Json::array());
    EXPECT_EQ(r["counters"]["translated"], 0);

    ASSERT_EQ(call(apply_request(config_text(nat_policy_text), 2))["ok"], true);
    open_flow(40000); // 198.18.1.11 -> 198.18.3.10:80, source rule lan
    FrameSpec plain;  // 198.18.1.12 is not in lan's `from`: routed untranslated
    plain.src_mac = host_mac;
    plain.dst_mac = ports->states()[0].mac;
    plain.src = "198.18.1.12";
    inject(0, build_frame(plain));
    ASSERT_EQ(wait_sent(1, 1), 1u);
    FrameSpec in; // from the internet to the static's outside address and to the forwarded port
    in.src_mac = Mac{0x02, 0, 0, 0, 0, 0x44};
    in.dst_mac = ports->states()[2].mac;
    in.src = "192.0.2.50";
    in.sport = 51000;
    in.dst = "203.0.113.50";
    in.dport = 80;
    inject(2, build_frame(in));
    ASSERT_EQ(wait_sent(1, 1), 1u) << "static NAT did not forward";
    in.sport = 51001;
    in.dst = "203.0.113.1";
    in.dport = 8080;
    inject(2, build_frame(in));
    ASSERT_EQ(wait_sent(1, 1), 1u) << "destination NAT did not forward";

    r = call(Json{{"op", "nat"}});
    ASSERT_EQ(r["ok"], true) << r.dump();
    EXPECT_EQ(r["counters"], (Json{{"translated", 3},
                                   {"static", 1},
                                   {"destination", 1},
                                   {"source", 1},
                                   {"refused_pool_exhausted", 0},
                                   {"refused_source_limit", 0},
                                   {"refused_source_table", 0},
                                   {"refused_protocol", 0},
                                   {"refused_collision", 0},
                                   {"icmp_errors", 0},
                                   {"mss_clamped", 0},
                                   {"handoffs", 0},
                                   {"handoff_full", 0},
                                   {"no_mapping", 0}}));
    ASSERT_EQ(r["sources"].size(), 1u);
    const Json &lan = r["sources"][0];
    EXPECT_EQ(lan["name"], "lan");
    EXPECT_EQ(lan["interface"], "dmz0");
    EXPECT_EQ(lan["pool"], Json::array({"198.18.3.100"}));
    EXPECT_EQ(lan["ports"], (Json{{"low", 20000}, {"high", 20999}}));
    EXPECT_EQ(lan["mapping"], "endpoint-dependent");
    EXPECT_EQ(lan["max_per_source"], 0);
    EXPECT_EQ(lan["capacity"], 1000);
    EXPECT_EQ(lan["in_use"], 1);
    EXPECT_EQ(lan["allocated"], 1);
    EXPECT_EQ(lan["released"], 0);
    EXPECT_EQ(lan["refused_pool"], 0);
    EXPECT_EQ(lan["refused_source"], 0);
    EXPECT_EQ(lan["refused_source_table"], 0);
    EXPECT_GT(lan["bytes"].get<uint64_t>(), 0u);
    EXPECT_EQ(r["statics"], Json::array({Json{{"name", "web"},
                                              {"interface", "inet0"},
                                              {"inside", "198.18.3.10"},
                                              {"outside", "203.0.113.50"}}}));
    EXPECT_EQ(r["destinations"], Json::array({Json{{"name", "alt"},
                                                   {"interface", "inet0"},
                                                   {"protocol", "tcp"},
                                                   {"address", "203.0.113.1"},
                                                   {"port", 8080},
                                                   {"to", "198.18.3.10"},
                                                   {"to_port", 80}}}));
    EXPECT_EQ(r["mss_clamp"], 0);
    Json st = call(Json{{"op", "sessions"}, {"filter", {{"nat", true}, {"port", 51000}}}});
    ASSERT_EQ(st["sessions"].size(), 1u) << st.dump();
    EXPECT_EQ(st["sessions"][0]["nat"], (Json{{"kind", "static"},
                                              {"src", "192.0.2.50"},
                                              {"sport", 51000},
                                              {"dst", "198.18.3.10"},
                                              {"dport", 80}}));

    // Clearing the translated flow gives its port back to the pool.
    ASSERT_EQ(call(Json{{"op", "clear-sessions"},
                        {"filter", {{"address", "198.18.1.11"}, {"nat", true}}}})["cleared"],
              1);
    r = call(Json{{"op", "nat"}});
    EXPECT_EQ(r["sources"][0]["in_use"], 0);
    EXPECT_EQ(r["sources"][0]["released"], 1);
}

TEST_F(Control, SessionsCarryTheTranslationAndTheNatFilterKeepsOnlyTranslatedFlows) {
    start_worker();
    ASSERT_EQ(call(apply_request(config_text(nat_policy_text), 2))["ok"], true);
    open_flow(40000);
    FrameSpec plain;
    plain.src_mac = host_mac;
    plain.dst_mac = ports->states()[0].mac;
    plain.src = "198.18.1.12";
    inject(0, build_frame(plain));
    ASSERT_EQ(wait_sent(1, 1), 1u);
    FrameSpec in;
    in.src_mac = Mac{0x02, 0, 0, 0, 0, 0x44};
    in.dst_mac = ports->states()[2].mac;
    in.src = "192.0.2.50";
    in.sport = 51001;
    in.dst = "203.0.113.1";
    in.dport = 8080;
    inject(2, build_frame(in));
    ASSERT_EQ(wait_sent(1, 1), 1u);
    FrameSpec echo; // an echo request hidden behind the pool: its identifier is the port
    echo.src_mac = host_mac;
    echo.dst_mac = ports->states()[0].mac;
    echo.proto = 1;
    echo.icmp_id = 7;
    inject(0, build_frame(echo));
    ASSERT_EQ(wait_sent(1, 1), 1u);

    Json all = call(Json{{"op", "sessions"}});
    ASSERT_EQ(all["ok"], true) << all.dump();
    EXPECT_EQ(all["total"], 4);
    for (const auto &x : all["sessions"])
        EXPECT_EQ(x.contains("nat"), x["src"] != "198.18.1.12") << x.dump();

    Json r = call(Json{{"op", "sessions"}, {"filter", {{"nat", true}}}});
    ASSERT_EQ(r["ok"], true) << r.dump();
    EXPECT_EQ(r["total"], 3);
    ASSERT_EQ(r["sessions"].size(), 3u);
    const Json *snat = nullptr, *dnat = nullptr, *icmp = nullptr;
    for (const auto &x : r["sessions"])
        (x["proto"] == "icmp" ? icmp : x["src"] == "198.18.1.11" ? snat : dnat) = &x;
    ASSERT_TRUE(snat && dnat && icmp) << r.dump();
    EXPECT_EQ((*icmp)["sport"], 7);
    EXPECT_EQ((*icmp)["dport"], 7);
    const Json &in_ = (*icmp)["nat"];
    EXPECT_EQ(in_["kind"], "source");
    EXPECT_EQ(in_["src"], "198.18.3.100");
    EXPECT_NE(in_["sport"], 7);
    EXPECT_EQ(in_["dport"], in_["sport"]) << "the identifier stands for both ports";
    // Source NAT: the original key stays the inside view; "nat" is the packet as it leaves.
    EXPECT_EQ((*snat)["sport"], 40000);
    EXPECT_EQ((*snat)["dst"], "198.18.3.10");
    const Json &sn = (*snat)["nat"];
    EXPECT_EQ(sn["kind"], "source");
    EXPECT_EQ(sn["src"], "198.18.3.100");
    uint16_t port = sn["sport"].get<uint16_t>();
    EXPECT_GE(port, 20000);
    EXPECT_LE(port, 20999);
    EXPECT_EQ(sn["dst"], "198.18.3.10");
    EXPECT_EQ(sn["dport"], 80);
    // Destination NAT: the published address in the key, the server in "nat".
    EXPECT_EQ((*dnat)["dst"], "203.0.113.1");
    EXPECT_EQ((*dnat)["dport"], 8080);
    EXPECT_EQ((*dnat)["nat"], (Json{{"kind", "destination"},
                                    {"src", "192.0.2.50"},
                                    {"sport", 51001},
                                    {"dst", "198.18.3.10"},
                                    {"dport", 80}}));

    // The filters combine with nat, and match the translated address and port too.
    EXPECT_EQ(call(Json{{"op", "sessions"},
                        {"filter", {{"nat", true}, {"interface", "inner0"}}}})["total"],
              2);
    EXPECT_EQ(call(Json{{"op", "sessions"},
                        {"filter", {{"nat", true}, {"address", "198.18.3.100"}}}})["total"],
              2);
    EXPECT_EQ(call(Json{{"op", "sessions"}, {"filter", {{"nat", true}, {"port", port}}}})["total"],
              in_["sport"] == port ? 2 : 1);
    EXPECT_EQ(call(Json{{"op", "sessions"},
                        {"filter", {{"nat", true}, {"address", "198.18.1.12"}}}})["total"],
              0);
    EXPECT_EQ(call(Json{{"op", "sessions"}, {"filter", {{"nat", false}}}})["total"], 4);
}

TEST_F(Control, ASilentWorkerIsReportedNotWaitedForever) {
    // No worker thread: nobody serves the slot.
    Json r = call(Json{{"op", "sessions"}});
    EXPECT_EQ(r["ok"], false);
    EXPECT_EQ(r["error"], "worker 0 did not answer within 300 ms");
    r = call(Json{{"op", "clear-sessions"}});
    EXPECT_EQ(r["error"], "worker 0 is still busy with an earlier session request");
    slot->serve(*flows); // the worker catches up
    EXPECT_EQ(call(Json{{"op", "sessions"}, {"filter", {{"port", 1}}}})["ok"], false);
    slot->serve(*flows);
    EXPECT_TRUE(slot->done());
}

TEST_F(Control, InterfacesRoutesNeighborsDropsAndRules) {
    Json r = call(Json{{"op", "interfaces"}});
    ASSERT_EQ(r["ok"], true);
    ASSERT_EQ(r["interfaces"].size(), 3u);
    const Json &i0 = r["interfaces"][0];
    EXPECT_EQ(i0["name"], "inner0");
    EXPECT_EQ(i0["port_id"], rings[0].port);
    EXPECT_EQ(i0["device"], "net_ring_inner");
    EXPECT_EQ(i0["zone"], "inner");
    EXPECT_EQ(i0["admin"], "up");
    EXPECT_EQ(i0["addresses"], Json::array({"198.18.1.1/24", "2001:db8:1::1/64"}));
    for (const char *k :
         {"link", "speed_mbps", "duplex", "link_changes", "rx_packets", "rx_bytes", "tx_packets",
          "tx_bytes", "rx_errors", "tx_errors", "rx_missed", "rx_nombuf"})
        EXPECT_TRUE(i0.contains(k)) << k;

    r = call(Json{{"op", "routes"}});
    ASSERT_EQ(r["ok"], true);
    Json want_connected = {{"prefix", "198.18.1.0/24"},
                           {"kind", "connected"},
                           {"via", nullptr},
                           {"interface", "inner0"}};
    Json want_local = {
        {"prefix", "198.18.1.1/32"}, {"kind", "local"}, {"via", nullptr}, {"interface", "inner0"}};
    Json want_static = {{"prefix", "192.0.2.0/24"},
                        {"kind", "static"},
                        {"via", "203.0.113.254"},
                        {"interface", "inet0"}};
    Json want_v6 = {{"prefix", "2001:db8:1::/64"},
                    {"kind", "connected"},
                    {"via", nullptr},
                    {"interface", "inner0"}};
    for (const Json &want : {want_connected, want_local, want_static, want_v6})
        EXPECT_NE(std::find(r["routes"].begin(), r["routes"].end(), want), r["routes"].end())
            << want.dump() << " in " << r["routes"].dump();
    EXPECT_EQ(r["routes"].size(), 9u); // 4 addresses x (connected + local) + 1 static

    r = call(Json{{"op", "neighbors"}});
    ASSERT_EQ(r["neighbors"].size(), 2u);
    Json want_n = {{"family", 4},
                   {"address", "198.18.3.10"},
                   {"mac", "02:00:00:00:00:33"},
                   {"interface", "dmz0"}};
    EXPECT_NE(std::find(r["neighbors"].begin(), r["neighbors"].end(), want_n), r["neighbors"].end())
        << r.dump();

    counters.drop(DropReason::no_route);
    counters.drop(DropReason::no_route);
    r = call(Json{{"op", "drops"}});
    EXPECT_EQ(r["drops"].size(), drop_reason_count);
    EXPECT_EQ(r["drops"]["no_route"], 2);
    EXPECT_EQ(r["drops"]["tcp_invalid"], 0);

    r = call(Json{{"op", "rules"}});
    ASSERT_EQ(r["rules"].size(), 6u);
    EXPECT_EQ(r["rules"][0], (Json{{"interface", "inner0"},
                                   {"direction", "ingress"},
                                   {"id", 10},
                                   {"action", "accept"},
                                   {"log", false},
                                   {"description", "web to dmz"},
                                   {"hits", 0},
                                   {"bytes", 0}}));
    EXPECT_EQ(r["rules"][2]["action"], "drop");
    EXPECT_EQ(r["rules"][2]["log"], true);
    EXPECT_EQ(r["rules"][3]["direction"], "egress");

    r = call(Json{{"op", "nope"}});
    EXPECT_EQ(r["ok"], false);
    EXPECT_EQ(r["error"].get<std::string>().rfind("unknown op 'nope'; expected one of: status", 0),
              0u);
}

// ------------------------------------------------------------------ the socket and the client

class Served : public Control {
protected:
    void SetUp() override {
        Control::SetUp();
        path = "/tmp/qorgan-cs-" + std::to_string(getpid()) + ".sock";
        auto s = ControlSocket::open(path, *service);
        ASSERT_TRUE(s.ok()) << s.error().to_string();
        sock = std::move(s.value());
        serving = true;
        server = std::thread([this] {
            while (serving) {
                if (!sock->poll())
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
        });
    }
    void TearDown() override {
        serving = false;
        if (server.joinable())
            server.join();
        sock.reset();
        Control::TearDown();
    }

    int raw_connect() {
        auto fd = connect_unix(path);
        EXPECT_TRUE(fd.ok());
        return fd.ok() ? fd.value() : -1;
    }

    std::string path;
    std::unique_ptr<ControlSocket> sock;
    std::atomic<bool> serving{false};
    std::thread server;
};

TEST_F(Served, ClientAppliesAndReadsState) {
    control::DataplaneClient client(path);
    auto st = client.state();
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ(st->epoch, 1u);
    EXPECT_EQ(st->revision, 0u);
    std::string text = config_text() + "# revision 12\n";
    auto a = client.apply(text, 12, sha256_hex(text));
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->epoch, 2u);
    EXPECT_EQ(a->revision, 12u);
    EXPECT_EQ(a->sha256, sha256_hex(text));
    auto bad = client.apply("interfaces {", 13, sha256_hex("interfaces {"));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message.rfind("revision 13:", 0), 0u) << bad.error().message;
    auto unknown = client.request(Json{{"op", "reboot"}});
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().message.rfind("unknown op 'reboot'", 0), 0u);
    auto text_not_utf8 = client.apply("\xff\xfe", 14, std::string(64, '0'));
    ASSERT_FALSE(text_not_utf8.ok());
    EXPECT_EQ(text_not_utf8.error().message, "dataplane: the request holds text that is not UTF-8");
    EXPECT_EQ(client.state()->epoch, 2u);
}

TEST_F(Served, ClientReportsAMissingDataplane) {
    control::DataplaneClient client("/tmp/qorgan-cs-nobody-" + std::to_string(getpid()));
    auto st = client.state();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message.rfind("dataplane: cannot connect to", 0), 0u)
        << st.error().message;
}

TEST_F(Served, SeveralRequestsOnOneConnectionAndMalformedFrames) {
    int fd = raw_connect();
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_message(fd, Json{{"op", "status"}}).ok());
    auto r1 = recv_message(fd);
    ASSERT_TRUE(r1.ok());
    EXPECT_EQ(r1.value()["epoch"], 1);
    // A body that is not JSON: answered, and the connection stays usable.
    std::string junk = "{nope";
    uint32_t len = htonl(static_cast<uint32_t>(junk.size()));
    ASSERT_EQ(write(fd, &len, 4), 4);
    ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
    auto r2 = recv_message(fd);
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2.value(), error_reply("malformed JSON message"));
    ASSERT_TRUE(send_message(fd, Json{{"op", "drops"}}).ok());
    auto r3 = recv_message(fd);
    ASSERT_TRUE(r3.ok());
    EXPECT_EQ(r3.value()["ok"], true);
    // A length over the limit: answered, then closed (the stream is out of step).
    len = htonl(static_cast<uint32_t>(max_message_bytes + 1));
    ASSERT_EQ(write(fd, &len, 4), 4);
    auto r4 = recv_message(fd);
    ASSERT_TRUE(r4.ok());
    EXPECT_EQ(r4.value()["ok"], false);
    auto r5 = recv_message(fd, 2000);
    ASSERT_FALSE(r5.ok());
    EXPECT_EQ(r5.error().message, "closed");
    close(fd);
}

TEST_F(Served, ClientsBeyondTheLimitAreTurnedAway) {
    std::vector<int> fds;
    for (size_t i = 0; i < ControlSocket::max_clients; i++) {
        fds.push_back(raw_connect());
        ASSERT_TRUE(send_message(fds.back(), Json{{"op", "status"}}).ok());
        ASSERT_TRUE(recv_message(fds.back()).ok()); // accepted and served
    }
    int extra = raw_connect();
    auto r = recv_message(extra, 2000);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value(), error_reply("too many control clients"));
    close(extra);
    for (int fd : fds)
        close(fd);
}

// ------------------------------------------------------------------ apply latency

// n rules spread over the three interfaces' ingress lists, distinct /32s and ports.
std::string config_with_rules(unsigned n) {
    const char *ifaces[3] = {"inner0", "dmz0", "inet0"};
    std::string text = interfaces_text;
    text += "policy {\n";
    for (unsigned k = 0; k < 3; k++) {
        text += std::string("  ") + ifaces[k] + " {\n    ingress {\n";
        for (unsigned i = k; i < n; i += 3) {
            char line[160];
            std::snprintf(line, sizeof(line),
                          "      rule %u { protocol tcp; destination 198.18.%u.%u; "
                          "destination-port %u; action accept; }\n",
                          i + 1, 100 + i / 256, i % 256, 1024 + i % 60000);
            text += line;
        }
        text += "    }\n    egress { rule 1 { action accept; } }\n  }\n";
    }
    return text + "}\n";
}

TEST_F(Control, ApplyLatencyFor1kAnd10kRulesIsPrinted) {
    start_worker();
    uint32_t revision = 100;
    for (unsigned n : {1000u, 10000u}) {
        std::string text = config_with_rules(n);
        auto t0 = std::chrono::steady_clock::now();
        Json r = call(apply_request(text, revision++));
        auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
        ASSERT_EQ(r["ok"], true) << r.dump().substr(0, 300);
        EXPECT_EQ(call(Json{{"op", "rules"}})["rules"].size(), n + 3);
        std::printf("apply latency, %u rules (%zu bytes): %.1f ms request to reply, %.1f ms "
                    "parse+compile+publish\n",
                    n, text.size(), ms.count(), r["apply_us"].get<double>() / 1000.0);
    }
}

} // namespace

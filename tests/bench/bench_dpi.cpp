// SPDX-License-Identifier: GPL-2.0-or-later
// Category blocking figures (issue 6; issue 9's "DPI on" row): new flows classified per
// second per core through the worker pipeline, on a mix of the openings the category tests
// use (SSH, TLS with a game SNI and with an ordinary one, BitTorrent, HTTP, DNS, a made-up
// UDP protocol decided unknown after the budget). Beside it, measured in the same run: the
// same flows fed to a bare Inspector (nDPI and the feeding, no pipeline), so the share of the
// pipeline that is DPI shows; and the memory a flow takes while inspected and after.
// Cycles are TSC over whole bursts; building the frames is outside the timed region.
#include "classifiers/inspector.h"
#include "tests/bench/bench_kit.h"
#include "tests/unit/dpi_kit.h"
#include "tests/unit/frames.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

constexpr uint32_t flows_per_run = 7 * 32 * 188; // a multiple of the 7 openings and of 32
constexpr uint32_t table_size = 262144;

// Every flow accepted, so that only the categories decide.
const std::string text =
    bench::two_port_config("net_ring_dinner", "net_ring_dinet", "rule 10 { action accept; }") +
    "security { categories { malicious { domain evil.example; } } }\n";

struct Step {
    bool reply;
    uint8_t flags; // TCP flags; 0 for UDP
    std::vector<uint8_t> data;
};

struct Opening {
    const char *name;
    uint8_t proto;
    uint16_t port;
    std::vector<Step> steps;
};

std::vector<Opening> openings() {
    using namespace qorgan::dpi::kit;
    std::vector<Step> hs{{false, 0x02, {}}, {true, 0x12, {}}, {false, 0x10, {}}};
    auto tcp = [&](std::vector<Step> more) {
        std::vector<Step> s = hs;
        s.insert(s.end(), more.begin(), more.end());
        return s;
    };
    auto ssh = bytes("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    auto get = bytes("GET / HTTP/1.1\r\nHost: web.lab.example\r\nUser-Agent: curl/7.88.1\r\n"
                     "Accept: */*\r\n\r\n");
    auto ok = bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    std::vector<Step> unknown;
    for (uint32_t i = 0; i < 8; i++)
        unknown.push_back({i % 2 == 1, 0, noise(80, i)});
    return {
        {"SSH", 6, 22, tcp({{true, 0x18, ssh}, {false, 0x18, ssh}, {true, 0x18, noise(64, 1)}})},
        {"TLS game", 6, 443,
         tcp({{false, 0x18, client_hello("store.steampowered.com")}, {true, 0x18, noise(90, 2)}})},
        {"TLS", 6, 443,
         tcp({{false, 0x18, client_hello("www.example.org")}, {true, 0x18, noise(90, 3)}})},
        {"BitTorrent", 6, 6881,
         tcp({{false, 0x18, bittorrent_handshake()}, {true, 0x18, bittorrent_handshake()}})},
        {"HTTP", 6, 80, tcp({{false, 0x18, get}, {true, 0x18, ok}})},
        {"DNS", 17, 53, {{false, 0, dns_query("web.lab.example")}, {true, 0, noise(40, 4)}}},
        {"made-up UDP", 17, 7777, unknown},
    };
}

// Every packet of flow i (opening i % n), as frames on the inner (false) or inet (true) side.
struct Packet {
    bool inet_side;
    std::vector<uint8_t> frame;
    qorgan::dpi::PacketView view; // for the bare Inspector (pointers into frame)
};

std::vector<Packet> packets_of(uint32_t i, const Opening &o, const Mac &inner_mac,
                               const Mac &inet_mac) {
    std::string client = "198.18.1." + std::to_string(10 + i % 200);
    uint16_t sport = uint16_t(10000 + i / 200);
    uint32_t seq[2] = {1000 + i, 50000 + i};
    test::MacBytes peer{0x02, 0, 0, 0, 0, 0x44};
    std::vector<Packet> out;
    for (const Step &s : o.steps) {
        test::MacBytes to{};
        std::memcpy(to.data(), (s.reply ? inet_mac : inner_mac).data(), 6);
        test::FrameSpec f =
            s.reply ? test::frame_between(peer, to, "203.0.113.10", client, o.proto, o.port, sport)
                    : test::frame_between(peer, to, client, "203.0.113.10", o.proto, sport, o.port);
        unsigned d = s.reply ? 1 : 0;
        f.tcp_flags = s.flags;
        f.seq = seq[d];
        f.ack = (s.flags & 0x10) ? seq[d ^ 1] : 0;
        f.data = s.data;
        seq[d] += uint32_t(s.data.size()) + ((s.flags & 0x02) ? 1 : 0);
        out.push_back({s.reply, test::build_frame(f), {}});
    }
    return out;
}

struct Figures {
    double cycles_per_flow = 0;
    double flows_per_s = 0;
    uint64_t decided = 0;
};

Figures pipeline(bench::Rig &rig, const std::vector<Opening> &mix, int serial) {
    bench::BenchWorker bw(text, rig, serial, table_size);
    Mac gw{0x02, 0, 0, 0, 0, 0x44};
    uint32_t server = htonl((203u << 24) | (113u << 8) | 10);
    bw.neighbors.learn(rig.port(1), 4, reinterpret_cast<const uint8_t *>(&server), gw);
    for (uint32_t h = 10; h < 210; h++) {
        uint32_t c = htonl((198u << 24) | (18u << 16) | (1u << 8) | h);
        bw.neighbors.learn(rig.port(0), 4, reinterpret_cast<const uint8_t *>(&c), gw);
    }
    Worker &worker = *bw.worker;
    uint64_t cycles = 0;
    rte_mbuf *burst[2][burst_size];
    for (uint32_t g = 0; g < flows_per_run; g += burst_size) {
        std::vector<std::vector<Packet>> flows;
        size_t rounds = 0;
        for (uint32_t k = 0; k < burst_size; k++) {
            flows.push_back(packets_of(g + k, mix[(g + k) % mix.size()], rig.mac(0), rig.mac(1)));
            rounds = std::max(rounds, flows.back().size());
        }
        for (size_t r = 0; r < rounds; r++) {
            unsigned n[2] = {0, 0};
            for (auto &f : flows) {
                if (r >= f.size())
                    continue;
                unsigned side = f[r].inet_side ? 1 : 0;
                rte_mbuf *m = rte_pktmbuf_alloc(rig.mp);
                if (!m)
                    bench::die("mbufs exhausted");
                std::memcpy(rte_pktmbuf_append(m, uint16_t(f[r].frame.size())), f[r].frame.data(),
                            f[r].frame.size());
                burst[side][n[side]++] = m;
            }
            for (unsigned side = 0; side < 2; side++) {
                if (!n[side])
                    continue;
                uint64_t t0 = rte_rdtsc_precise();
                worker.process(*bw.snap, rig.port(side), burst[side], uint16_t(n[side]), 1000);
                worker.flush();
                cycles += rte_rdtsc_precise() - t0;
            }
            rig.drain(0);
            rig.drain(1);
        }
    }
    Figures fig;
    fig.decided = bw.counters.dpi.classified.get() + bw.counters.dpi.unknown.get();
    fig.cycles_per_flow = double(cycles) / flows_per_run;
    fig.flows_per_s = double(rte_get_tsc_hz()) / fig.cycles_per_flow;
    return fig;
}

// Flow i's client and server, as packets_of makes them (network order).
struct Addresses {
    uint32_t src[4] = {}, dst[4] = {};
    explicit Addresses(uint32_t i) {
        src[0] = htonl((198u << 24) | (18u << 16) | (1u << 8) | (10 + i % 200));
        dst[0] = htonl((203u << 24) | (113u << 8) | 10);
    }
};

// A module like a worker's (the malicious name of the config above).
std::shared_ptr<qorgan::dpi::ModuleSet> module_set() {
    auto set = qorgan::dpi::ModuleSet::create({{"evil.example"}, {}}, 1);
    if (!set)
        bench::die(set.error().to_string());
    return set.value();
}

// What the Inspector is given of packet p of flow i.
qorgan::dpi::PacketView view_of(const Packet &p, const Opening &o, uint32_t i, const Addresses &a) {
    qorgan::dpi::PacketView v;
    v.family = 4;
    v.proto = o.proto;
    v.src = a.src;
    v.dst = a.dst;
    v.sport = htons(uint16_t(10000 + i / 200));
    v.dport = htons(o.port);
    v.reply = p.inet_side;
    v.l4 = p.frame.data() + 14 + 20;
    v.l4_len = uint32_t(p.frame.size() - 14 - 20);
    v.now_ms = 1000;
    return v;
}

// The same flows through a bare Inspector: what nDPI and the feeding cost alone.
Figures inspector_only(const std::vector<Opening> &mix) {
    auto set = module_set();
    qorgan::dpi::Inspector in(64);
    const qorgan::dpi::Module &m = set->module(0);
    Mac none{};
    uint64_t cycles = 0, decided = 0;
    for (uint32_t i = 0; i < flows_per_run; i++) {
        const Opening &o = mix[i % mix.size()];
        std::vector<Packet> pk = packets_of(i, o, none, none);
        Addresses a(i);
        uint64_t t0 = rte_rdtsc_precise();
        uint32_t h = in.open();
        bool done = false;
        for (const Packet &p : pk) {
            if (done)
                break;
            done = in.feed(m, h, view_of(p, o, i, a), 8).has_value();
        }
        in.close(h);
        cycles += rte_rdtsc_precise() - t0;
        decided += done;
    }
    Figures fig;
    fig.decided = decided;
    fig.cycles_per_flow = double(cycles) / flows_per_run;
    fig.flows_per_s = double(rte_get_tsc_hz()) / fig.cycles_per_flow;
    return fig;
}

// Bytes a flow holds while nDPI inspects it: the Inspector's slot (nDPI's flow state and the
// turn buffers) and what nDPI allocates for it in the worker's arena after its first packet,
// averaged over 1,024 flows of the mix open at once.
double dpi_bytes_per_flow(const std::vector<Opening> &mix) {
    auto set = module_set();
    constexpr uint32_t open_flows = 1024;
    qorgan::dpi::Arena arena(64u << 20);
    qorgan::dpi::Arena::bind_thread(&arena);
    qorgan::dpi::Inspector in(open_flows);
    const qorgan::dpi::Module &m = set->module(0);
    Mac none{};
    std::vector<uint32_t> handles;
    for (uint32_t i = 0; i < open_flows; i++) {
        const Opening &o = mix[i % mix.size()];
        std::vector<Packet> pk = packets_of(i, o, none, none);
        Addresses a(i);
        uint32_t h = in.open();
        if (in.feed(m, h, view_of(pk[0], o, i, a), 8).has_value())
            in.close(h); // decided at once: holds nothing
        else
            handles.push_back(h);
    }
    double per_flow = double(qorgan::dpi::Inspector::bytes_per_flow()) +
                      (handles.empty() ? 0.0 : double(arena.in_use()) / double(handles.size()));
    for (uint32_t h : handles)
        in.close(h);
    qorgan::dpi::Arena::bind_thread(nullptr);
    return per_flow;
}

} // namespace

int main() {
    bench::Rig rig({"dinner", "dinet"}, text);
    std::vector<Opening> mix = openings();
    // The median of three runs of each (the host's other guests make single runs noisy).
    auto median = [](std::vector<Figures> runs) {
        std::sort(runs.begin(), runs.end(), [](const Figures &a, const Figures &b) {
            return a.cycles_per_flow < b.cycles_per_flow;
        });
        return runs[1];
    };
    Figures p = median({pipeline(rig, mix, 0), pipeline(rig, mix, 1), pipeline(rig, mix, 2)});
    Figures i = median({inspector_only(mix), inspector_only(mix), inspector_only(mix)});
    double dpi_bytes = dpi_bytes_per_flow(mix);
    size_t packets = 0;
    for (const Opening &o : mix)
        packets += o.steps.size();
    std::printf("| figure | pipeline with DPI | reference: bare Inspector (nDPI + feeding) | "
                "ratio |\n");
    std::printf("|---|---|---|---|\n");
    std::printf("| flows decided of %u | %llu | %llu | |\n", flows_per_run,
                (unsigned long long)p.decided, (unsigned long long)i.decided);
    std::printf("| cycles per new flow (its whole opening, %.1f packets on average) | %.0f | %.0f "
                "| %.2f |\n",
                double(packets) / double(mix.size()), p.cycles_per_flow, i.cycles_per_flow,
                p.cycles_per_flow / i.cycles_per_flow);
    std::printf("| new flows classified per second per core | %.0f | %.0f | %.2f |\n",
                p.flows_per_s, i.flows_per_s, p.flows_per_s / i.flows_per_s);
    std::printf("| bytes per flow while inspected (nDPI state, turn buffers, nDPI's arena "
                "blocks) | %.0f | | |\n",
                dpi_bytes);
    std::printf("| bytes per flow after the verdict (DPI fields in the Flow) | 0 extra (Flow is "
                "%zu) | | |\n",
                sizeof(Flow));
    std::printf("\nTSC %.2f GHz; %u flows per run: ", double(rte_get_tsc_hz()) / 1e9,
                flows_per_run);
    for (size_t k = 0; k < mix.size(); k++)
        std::printf("%s%s", k ? ", " : "", mix[k].name);
    std::printf(" in turn; median of 3 runs, bursts of up to %u, one core, %s.\n", burst_size,
                rig.memory());
    bench::record({"dpi", "new flows classified per second per core", p.flows_per_s, "flows/s",
                   i.flows_per_s, "bare Inspector (nDPI + feeding)", 100000, false});
    bench::record({"memory", "DPI state per flow while inspected", dpi_bytes, "bytes", NAN, ""});
    return p.decided == flows_per_run && i.decided == flows_per_run ? 0 : 2;
}

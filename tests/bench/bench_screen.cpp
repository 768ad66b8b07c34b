// SPDX-License-Identifier: GPL-2.0-or-later
// The attack drop path under a spoofed SYN flood (issue 7; docs/SCREEN.md): cycles per SYN
// through the worker pipeline (parse, the screen's stateless checks, flow miss, scan
// detector, ingress + egress rules, the SYN-flood defence) when the destination is under
// attack, for the `cookie` action (a SYN-ACK built and sent for every SYN) and the `drop`
// action; beside references measured in the same run: the same SYNs dropped by an ingress
// rule (the cheapest policy drop the gateway had before the screen), and admitted as new
// flows (the path a flood costs without the defence). Spoofed sources are 198.51.100.0/24
// and 203.0.113.0/24 with random ports; frame building is outside the timed region.
#include "dataplane/parse.h"
#include "tests/bench/bench_kit.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdio>
#include <cstring>
#include <string>

using namespace qorgan;
using namespace qorgan::dp;

namespace {

constexpr uint32_t syns_per_run = 262144;
constexpr uint32_t table_size = 524288;

const char *ports_text = R"(
interfaces {
    inet0 { device "net_ring_sinet"; address 203.0.113.1/24; zone internet; }
    dmz0 { device "net_ring_sdmz"; address 198.18.3.1/24; zone dmz; }
}
zones { internet { loop internet; } dmz { loop shielded; } }
routes { route 198.51.100.0/24 { via 203.0.113.254; } }
)";

std::string conf_text(const char *ingress, const char *screen) {
    return std::string(ports_text) + R"(
policy {
    inet0 { ingress { )" +
           ingress + R"( } }
    dmz0 { egress { rule 1000 { action accept; } } }
}
security { screen internet { )" +
           screen + R"( } }
)";
}

// A SYN from a spoofed source (198.51.100.x or 203.0.113.x, random port) to the web server.
void make_syn(uint8_t *p, const uint8_t *dst_mac, uint32_t i) {
    uint32_t h = i * 2654435761u;
    uint32_t src = ((h & 1) ? (198u << 24 | 51u << 16 | 100u << 8) : (203u << 24 | 113u << 8)) |
                   (2 + (h >> 8) % 250);
    uint8_t *tcp =
        bench::ipv4_frame(p, dst_mac, 6, 20, src, (198u << 24) | (18u << 16) | (3u << 8) | 10);
    uint16_t sport = htons(uint16_t(1024 + (h >> 16) % 60000)), dport = htons(80);
    std::memcpy(tcp, &sport, 2);
    std::memcpy(tcp + 2, &dport, 2);
    uint32_t seq = h;
    std::memcpy(tcp + 4, &seq, 4);
    tcp[12] = 0x50;
    tcp[13] = 0x02;
    tcp[14] = 0x20;
}

struct Figures {
    double cycles = 0;
    double pps = 0;
    uint64_t sent_back = 0; // frames out of the arrival port (SYN-ACKs)
    uint64_t forwarded = 0; // frames out towards the server
    uint64_t flows = 0;
};

Figures run(const std::string &text, bench::Rig &rig, int serial) {
    Figures fig;
    bench::BenchWorker bw(text, rig, serial, table_size);
    Mac server_mac{0x02, 0, 0, 0, 0, 0x55};
    uint32_t server = htonl((198u << 24) | (18u << 16) | (3u << 8) | 10);
    bw.neighbors.learn(rig.port(1), 4, reinterpret_cast<const uint8_t *>(&server), server_mac);
    uint64_t cycles = 0;
    rte_mbuf *pkts[burst_size];
    for (uint32_t i = 0; i < syns_per_run; i += burst_size) {
        if (rte_pktmbuf_alloc_bulk(rig.mp, pkts, burst_size) != 0)
            bench::die("mbufs exhausted");
        for (unsigned k = 0; k < burst_size; k++)
            make_syn(reinterpret_cast<uint8_t *>(rte_pktmbuf_append(pkts[k], 60)),
                     rig.mac(0).data(), i + k);
        uint64_t t0 = rte_rdtsc_precise();
        bw.worker->process(*bw.snap, rig.port(0), pkts, burst_size, 1000);
        bw.worker->flush();
        cycles += rte_rdtsc_precise() - t0;
        fig.sent_back += rig.drain(0);
        fig.forwarded += rig.drain(1);
    }
    fig.cycles = double(cycles) / syns_per_run;
    fig.pps = double(rte_get_tsc_hz()) / fig.cycles;
    fig.flows = bw.flows->stats().created.get();
    return fig;
}

} // namespace

int main() {
    bench::Rig rig({"sinet", "sdmz"}, conf_text("", ""));
    const char *accept = "rule 10 { protocol tcp; destination 198.18.3.10; destination-port 80; "
                         "action accept; }";
    const char *deny = "rule 10 { protocol tcp; destination 198.18.3.10; destination-port 80; "
                       "action drop; }";
    const char *no_limits =
        "source-rate { new-per-second 10000000; burst 10000000; concurrent 0; action off; } "
        "scan { action off; }";
    // The median of three runs of each (the host's other guests make single runs noisy).
    int serial = 0;
    auto median_run = [&](const char *ingress, const char *syn_flood) {
        std::string text = conf_text(ingress, (std::string(syn_flood) + " " + no_limits).c_str());
        std::vector<Figures> runs;
        for (int k = 0; k < 3; k++)
            runs.push_back(run(text, rig, serial++));
        std::sort(runs.begin(), runs.end(),
                  [](const Figures &a, const Figures &b) { return a.cycles < b.cycles; });
        return runs[1];
    };
    Figures cookie = median_run(accept, "syn-flood { threshold 0; action cookie; }");
    Figures drop = median_run(accept, "syn-flood { threshold 0; action drop; }");
    Figures ruled = median_run(deny, "syn-flood { action off; }");
    Figures admitted = median_run(accept, "syn-flood { action off; }");
    std::printf(
        "| SYN flood, per spoofed SYN | cycles | SYNs per second per core | ratio to rule drop "
        "| frames sent back | flows created |\n");
    std::printf("|---|---|---|---|---|---|\n");
    auto row = [&](const char *name, const Figures &f) {
        std::printf("| %s | %.0f | %.0f | %.2f | %llu | %llu |\n", name, f.cycles, f.pps,
                    f.cycles / ruled.cycles, (unsigned long long)f.sent_back,
                    (unsigned long long)f.flows);
    };
    row("screen: syn-flood cookie (SYN-ACK per SYN)", cookie);
    row("screen: syn-flood drop", drop);
    row("reference: dropped by an ingress rule", ruled);
    row("reference: admitted as new flows (no defence)", admitted);
    std::printf("\nTSC %.2f GHz; %u SYNs per run from 500 spoofed sources with random ports, "
                "median of 3 runs, bursts of %u, one core, %s.\n",
                double(rte_get_tsc_hz()) / 1e9, syns_per_run, burst_size, rig.memory());
    bench::record({"screen", "cycles per spoofed SYN, syn-flood drop", drop.cycles, "cycles",
                   ruled.cycles, "dropped by an ingress rule", 75, true});
    bench::record({"screen", "cycles per spoofed SYN, syn-flood cookie", cookie.cycles, "cycles",
                   ruled.cycles, "dropped by an ingress rule"});
    bool ok = cookie.sent_back == syns_per_run && cookie.flows == 0 && drop.flows == 0 &&
              drop.sent_back == 0 && ruled.flows == 0 && admitted.flows > 0;
    return ok ? 0 : 2;
}

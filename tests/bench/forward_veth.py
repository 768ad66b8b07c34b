#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Forwarding of 64-byte UDP frames between veth namespaces (issue 9): the same trafgen load
# goes through (a) the Linux kernel routing with nftables (conntrack on, forward policy drop,
# established/related accepted, the inner network's UDP to 203.0.113.0/24 accepted, source NAT
# to 203.0.113.60-67 on the way out) and (b) qorgan-dataplane over net_af_packet with the same
# policy (an accept rule, a `nat source` pool, the category and screen checks it always runs),
# each in a topology of its own built here:
#
#     qb-gen (trafgen) --veth-- qb-fw (kernel or Qorgan) --veth-- qb-sink (drops, counts)
#
# What is printed is packets per second delivered to the sink while trafgen sends as fast as
# it can, counted on the veths. These figures are not comparable with the cycle counts of
# bench_nat/bench_dpi/bench_screen: those time the worker pipeline alone on in-memory
# net_ring ports, while here every frame also costs the kernel's veth transmit, an af_packet
# ring copy each way (Qorgan) or the kernel's whole IP path (kernel), the sink's receive, and
# a generator sharing a two-core machine. They compare the two forwarders on equal terms on
# this machine, not Qorgan with a NIC-attached DPDK port.
# Usage: tests/bench/forward_veth.py [--seconds S] [--flows N] [--json PATH]   (root)

import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
import labkit  # noqa: E402

GEN_NS, FW_NS, SINK_NS = "qb-gen", "qb-fw", "qb-sink"
NAMESPACES = (GEN_NS, FW_NS, SINK_NS)
GEN_IF, FW_IN, FW_OUT, SINK_IF = "gen0", "fw-in", "fw-out", "sink0"
# Fixed, locally administered MACs ("qb" = 0x71 0x62): frames and neighbour entries need no
# look-up.
GEN_MAC, FW_IN_MAC = "02:71:62:01:00:10", "02:71:62:01:00:01"
FW_OUT_MAC, SINK_MAC = "02:71:62:02:00:01", "02:71:62:02:00:10"
GEN_ADDR, FW_IN_ADDR, INNER_NET = "198.18.1.10", "198.18.1.1", "198.18.1.0/24"
SINK_ADDR, FW_OUT_ADDR, OUTSIDE_NET = "203.0.113.10", "203.0.113.1", "203.0.113.0/24"
POOL_FIRST, POOL_LAST = "203.0.113.60", "203.0.113.67"
DST_PORT, FIRST_SPORT = 53, 10000

GEN_CPU, FWD_CPU = 0, 1  # trafgen -P 1 pins itself to CPU 0; Qorgan's worker lcore is 1@1
WARMUP_PACKETS_PER_FLOW = 16  # more than the 8 packets Qorgan inspects before its verdict
WARMUP_GAP = "50us"  # trafgen -t: some 15000 frames/s here (its -b rate does not pace in 0.6.8)
RAMP_SECONDS = 1.0  # from trafgen's first frame to the start of the measured window
MAX_PPS = 5_000_000  # bounds trafgen's -n: far above what two vCPUs generate
CMD_TIMEOUT = 10
IDLE_BUSY_PERCENT = 10  # other load before the run above this on a CPU is reported
FILE_PREFIX = "qorgan-bench-veth"
LOCK_FILE = Path("/run/qorgan-bench-veth.lock")
DATAPLANE_BIN = labkit.DATAPLANE_BIN
KERNEL_NAME = "Linux kernel, nftables (conntrack, SNAT)"


class BenchError(RuntimeError):
    pass


def must(result):
    """A labkit.Result that must have succeeded."""
    if result.rc != 0:
        raise BenchError(f"command failed:\n{result}")
    return result


def sh(*cmd, timeout=CMD_TIMEOUT, input=None):
    return must(labkit.run(list(cmd), timeout=timeout, input=input))


def in_ns(name, *cmd, timeout=CMD_TIMEOUT, input=None):
    return must(labkit.ns(name, *cmd, timeout=timeout, input=input))


def log(text):
    print(f"forward_veth: {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- topology

def ns_exists(name):
    return Path("/run/netns", name).exists()


def kill_pid(pid, grace=3.0):
    """SIGTERM, then SIGKILL after `grace` seconds, for one process of our namespaces."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def destroy_topology():
    """Stops whatever still runs in a qb-* namespace (only this script starts anything there)
    and deletes the namespaces, which takes their veths with them."""
    for name in NAMESPACES:
        if not ns_exists(name):
            continue
        pids = labkit.run(["ip", "netns", "pids", name], timeout=CMD_TIMEOUT).out.split()
        for pid in pids:
            if pid.isdigit():
                kill_pid(int(pid))
        r = labkit.run(["ip", "netns", "del", name], timeout=CMD_TIMEOUT)
        if r.rc != 0:
            log(f"could not delete namespace {name}:\n{r}")


def set_offloads(name, ifname, features):
    in_ns(name, "ethtool", "-K", ifname, *features)


def create_topology(rps):
    """Fresh namespaces and veths for one case; the forwarder's veth ends are left bare."""
    destroy_topology()
    for name in NAMESPACES:
        sh("ip", "netns", "add", name)
        in_ns(name, "ip", "link", "set", "lo", "up")
        # No IPv6 anywhere: no router or neighbour solicitations on the counted links.
        in_ns(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    for ns_a, if_a, mac_a, ns_b, if_b, mac_b in ((GEN_NS, GEN_IF, GEN_MAC, FW_NS, FW_IN, FW_IN_MAC),
                                                 (FW_NS, FW_OUT, FW_OUT_MAC, SINK_NS, SINK_IF, SINK_MAC)):
        sh("ip", "link", "add", if_a, "netns", ns_a, "address", mac_a, "mtu", "1500", "type", "veth",
           "peer", "name", if_b, "netns", ns_b, "address", mac_b, "mtu", "1500")
    # As scripts/lab does (FACTS.md): no TX checksum or segmentation offload on the hosts'
    # ends, and no GRO on the forwarder's (GRO would also switch the veth to NAPI mode).
    set_offloads(GEN_NS, GEN_IF, ["tx", "off", "tso", "off", "gso", "off"])
    set_offloads(SINK_NS, SINK_IF, ["tx", "off", "tso", "off", "gso", "off"])
    for ifname in (FW_IN, FW_OUT):
        set_offloads(FW_NS, ifname, ["gro", "off", "tso", "off", "gso", "off", "tx", "off"])
    for name, ifname in ((GEN_NS, GEN_IF), (FW_NS, FW_IN), (FW_NS, FW_OUT), (SINK_NS, SINK_IF)):
        in_ns(name, "ip", "link", "set", ifname, "up")
    # A veth hands each frame to the backlog of the CPU that sent it: without RPS everything
    # the kernel does for the forwarder (the kernel's whole forwarding path, or the copy into
    # Qorgan's af_packet ring) runs on the generator's CPU. RPS on the forwarder's inside end
    # moves it to the forwarding CPU, where Qorgan's worker lcore also runs. The sink's receive
    # runs inline in the forwarder's transmit, on the forwarding CPU, in every case.
    mask = 1 << FWD_CPU if rps else 0
    in_ns(FW_NS, "sh", "-c", f"echo {mask:x} > /sys/class/net/{FW_IN}/queues/rx-0/rps_cpus")
    in_ns(GEN_NS, "ip", "addr", "add", f"{GEN_ADDR}/24", "dev", GEN_IF)
    in_ns(GEN_NS, "ip", "neigh", "replace", FW_IN_ADDR, "lladdr", FW_IN_MAC, "dev", GEN_IF, "nud", "permanent")
    in_ns(SINK_NS, "ip", "addr", "add", f"{SINK_ADDR}/24", "dev", SINK_IF)
    # The sink answers nothing (no ICMP port unreachable): every IPv4 packet is dropped before
    # conntrack, and the translated ones are counted to check the NAT happened. ARP still works.
    in_ns(SINK_NS, "nft", "-f", "-", input=f"""
table ip qb_sink {{
    counter translated {{ }}
    chain prerouting {{
        type filter hook prerouting priority raw; policy drop;
        ip saddr {POOL_FIRST}-{POOL_LAST} udp dport {DST_PORT} counter name translated drop
    }}
}}
""")


def link_stats(name, ifname):
    """(time, rx_packets, tx_packets, tx_dropped) of an interface in a namespace."""
    r = in_ns(name, "ip", "-s", "-j", "link", "show", "dev", ifname)
    t = time.monotonic()
    stats = json.loads(r.out)[0]["stats64"]
    return t, stats["rx"]["packets"], stats["tx"]["packets"], stats["tx"]["dropped"]


def translated_count():
    r = in_ns(SINK_NS, "nft", "-j", "list", "counter", "ip", "qb_sink", "translated")
    for item in json.loads(r.out)["nftables"]:
        if "counter" in item:
            return item["counter"]["packets"]
    raise BenchError(f"no counter in the sink's ruleset:\n{r}")


def cpu_ticks():
    """{cpu: (busy, total)} in clock ticks since boot, from /proc/stat."""
    ticks = {}
    for line in Path("/proc/stat").read_text().splitlines():
        m = re.match(r"cpu(\d+) (.*)", line)
        if m:
            values = [int(v) for v in m.group(2).split()]
            idle = values[3] + values[4]  # idle, iowait
            ticks[int(m.group(1))] = (sum(values) - idle, sum(values))
    return ticks


def busy_text(busy):
    return ", ".join(f"CPU {c} {b:.0f} %" for c, b in sorted(busy.items()))


def cpu_busy(before, after):
    """{cpu: percent busy} between two cpu_ticks()."""
    return {c: 100.0 * (after[c][0] - before[c][0]) / max(1, after[c][1] - before[c][1]) for c in before}


def softnet_drops():
    """Per-CPU backlog drops (second column of /proc/net/softnet_stat, all namespaces)."""
    return [int(line.split()[1], 16) for line in Path("/proc/net/softnet_stat").read_text().splitlines()]


# ---------------------------------------------------------------- the generator

def trafgen_config(flows):
    """One 60-byte frame (64 with the FCS) per flow: UDP GEN_ADDR:FIRST_SPORT+i -> SINK_ADDR:53,
    18 bytes of payload, IPv4 and UDP checksums computed by trafgen."""
    dst = ", ".join(f"0x{b}" for b in FW_IN_MAC.split(":"))
    src = ", ".join(f"0x{b}" for b in GEN_MAC.split(":"))
    saddr = ", ".join(GEN_ADDR.split("."))
    daddr = ", ".join(SINK_ADDR.split("."))
    packets = []
    for i in range(flows):
        packets.append(
            "{\n"
            f"    {dst}, {src}, c16(0x0800),\n"
            "    0x45, 0x00, c16(46), c16(0), c16(0x4000), 64, 17, csumip(14, 33),\n"
            f"    {saddr}, {daddr},\n"
            f"    c16({FIRST_SPORT + i}), c16({DST_PORT}), c16(26), csumudp(14, 34),\n"
            "    fill(0x51, 18)\n"
            "}\n")
    return "".join(packets)


def trafgen_command(conf, count, timeout, gap="0"):
    # -P 1: one process, which trafgen pins to CPU 0. -t 0: sendto(2), which waits when the
    # socket's send buffer is full; trafgen's TX_RING path dies on EAGAIN instead ("Flushing
    # TX_RING failed") as soon as more frames are in flight than net.core.wmem_default allows,
    # which happens once the forwarding runs on another CPU, and that sysctl is host-wide
    # (read-only in a namespace). --no-sock-mem: leave the host's socket memory sysctls alone
    # (the short -A is missing from trafgen 0.6.8's option string). -Q: leave IRQ affinities
    # alone. A gap other than 0 paces the sends.
    return ["timeout", "-s", "INT", "-k", "5", str(timeout), "ip", "netns", "exec", GEN_NS,
            "trafgen", "-i", str(conf), "-o", GEN_IF, "-P", "1", "-n", str(count), "-t", gap, "--no-sock-mem", "-Q"]


def trafgen_sent(text):
    m = re.search(r"(\d+)\s+packets outgoing", text)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- the forwarders

class KernelForwarder:
    name = KERNEL_NAME
    rps = True

    def start(self):
        in_ns(FW_NS, "ip", "addr", "add", f"{FW_IN_ADDR}/24", "dev", FW_IN)
        in_ns(FW_NS, "ip", "addr", "add", f"{FW_OUT_ADDR}/24", "dev", FW_OUT)
        in_ns(FW_NS, "ip", "neigh", "replace", SINK_ADDR, "lladdr", SINK_MAC, "dev", FW_OUT, "nud", "permanent")
        in_ns(FW_NS, "ip", "neigh", "replace", GEN_ADDR, "lladdr", GEN_MAC, "dev", FW_IN, "nud", "permanent")
        in_ns(FW_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # The ruleset of Qorgan's bench config: what is not accepted is dropped, established
        # flows pass on their conntrack entry, new UDP from the inner network to the outside
        # is accepted and leaves source-translated to the pool.
        in_ns(FW_NS, "nft", "-f", "-", input=f"""
table ip qb_fw {{
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "{FW_IN}" oifname "{FW_OUT}" ip saddr {INNER_NET} ip daddr {OUTSIDE_NET} meta l4proto udp accept
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{FW_OUT}" snat to {POOL_FIRST}-{POOL_LAST}
    }}
}}
""")

    def diagnostics_before(self):
        self._drops = softnet_drops()

    def diagnostics_after(self, arrived):
        drops = [b - a for a, b in zip(self._drops, softnet_drops())]
        return f"{arrived} frames reached {FW_IN}, backlog drops per CPU {drops}"

    def stop(self):
        pass


QORGAN_CONFIG = f"""
# tests/bench/forward_veth.py: one inside and one Internet interface, as bench_nat.cpp.
interfaces {{
    inner0 {{ device "net_af_packet0,iface={FW_IN}"; address {FW_IN_ADDR}/24; zone lan; }}
    inet0 {{ device "net_af_packet1,iface={FW_OUT}"; address {FW_OUT_ADDR}/24; zone internet; }}
}}
# The inside zone is of the outer loop: R139-8 forbids any path from the inner loop to the
# Internet.
zones {{ lan {{ loop outer; }} internet {{ loop internet; }} }}
policy {{
    inner0 {{
        ingress {{
            rule 10 {{ protocol udp; source {INNER_NET}; destination {OUTSIDE_NET}; action accept; }}
        }}
        egress {{ rule 1000 {{ action accept; }} }}
    }}
    inet0 {{ egress {{ rule 1000 {{ action accept; }} }} }}
}}
nat {{
    source hide {{
        interface inet0;
        pool [ 203.0.113.60 203.0.113.61 203.0.113.62 203.0.113.63
               203.0.113.64 203.0.113.65 203.0.113.66 203.0.113.67 ];
    }}
}}
security {{
    categories {{
        # The generated UDP is no application nDPI knows: without this exception every flow
        # would be blocked as `unknown` after its 8 inspected packets (R134-1). It is passed
        # the only way the product allows, an exception with its reference (R134-2); nDPI
        # still inspects the first 8 packets of every flow, during the warm-up.
        exception bench-unknown {{
            source {INNER_NET};
            organization "Qorgan benchmarks";
            category unknown;
            reference "bench: made-up UDP flows of tests/bench/forward_veth.py";
        }}
    }}
    # One source sending about a million packets a second is a UDP flood to the default
    # screen (20000 a second): the limit is raised above the generator's rate, so the check
    # still runs on every packet but never drops.
    screen lan {{ udp-flood {{ per-second 10000000; burst 10000000; action drop; }} }}
}}
dataplane {{ workers 1; }}
"""


class QorganForwarder:
    def __init__(self, workdir, rps, no_huge=False):
        # rps: the af_packet receive (the kernel's copy into the PMD's ring) on the worker's
        # CPU, as the kernel forwarder's path; without it, on the generator's CPU, where a
        # NIC's DMA would cost the forwarding core nothing either.
        self.name = ("Qorgan, net_af_packet, ring copy on CPU 1 (RPS)" if rps
                     else "Qorgan, net_af_packet, ring copy on CPU 0 (no RPS)")
        self.rps = rps
        self.workdir = workdir
        self.no_huge = no_huge
        self.proc = None
        self.log_path = workdir / "dataplane.log"
        self.hugepages = None

    def command(self):
        # As labkit.Dataplane, with our own file prefix, ready file and control socket.
        cmd = ["ip", "netns", "exec", FW_NS, str(DATAPLANE_BIN), "--config", str(self.workdir / "qorgan.conf"),
               "--file-prefix", FILE_PREFIX, "--ready-file", str(self.workdir / "dataplane.ready"),
               "--control-socket", str(self.workdir / "dataplane.sock")]
        return cmd + (["--no-huge"] if self.no_huge else [])

    def start(self, ready_timeout=60):
        # The dataplane's ends stay bare, as scripts/lab's prepare_dp_if leaves them.
        (self.workdir / "qorgan.conf").write_text(QORGAN_CONFIG)
        ready = self.workdir / "dataplane.ready"
        ready.unlink(missing_ok=True)
        with open(self.log_path, "wb") as out:
            # ip netns exec execs in place: proc.pid is the dataplane's pid.
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while not ready.exists():
            if self.proc.poll() is not None:
                raise BenchError(f"qorgan-dataplane exited with {self.proc.returncode}:\n"
                                 f"{labkit.log_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise BenchError(f"qorgan-dataplane not ready after {ready_timeout}s:\n"
                                 f"{labkit.log_tail(self.log_path)}")
            time.sleep(0.1)
        self.hugepages = not self.no_huge and "--no-huge" not in self.log_path.read_text(errors="replace")
        self.tel = labkit.Telemetry(f"/var/run/dpdk/{FILE_PREFIX}/dpdk_telemetry.v2")

    def _port_stats(self):
        return [labkit.flatten(self.tel.query(f"/ethdev/stats,{port}")) for port in (0, 1)]

    def diagnostics_before(self):
        self._ports = self._port_stats()
        self._drops = labkit.flatten(self.tel.query("/qorgan/drops"))

    def diagnostics_after(self, arrived):
        ports = [labkit.counters_diff(a, b) for a, b in zip(self._ports, self._port_stats())]
        drops = labkit.counters_diff(self._drops, labkit.flatten(self.tel.query("/qorgan/drops")))
        received = ports[0].get("ipackets", 0)
        # The af_packet PMD does not report the frames its kernel ring had no room for.
        return (f"{arrived} frames reached {FW_IN}, inner0 received {received} (af_packet ring full: "
                f"{arrived - received}), inet0 sent {ports[1].get('opackets', 0)}, oerrors "
                f"{ports[1].get('oerrors', 0)}, dataplane drops {drops or 'none'}")

    def stop(self):
        rc = labkit.stop_process(self.proc)
        self.proc = None
        if rc not in (None, 0):
            log(f"qorgan-dataplane exited with {rc} when stopped")


# ---------------------------------------------------------------- one case

@dataclass
class Figures:
    name: str
    delivered_pps: float
    sent_pps: float
    seconds: float
    trafgen_total: int | None
    busy: dict  # CPU -> percent busy over the window
    details: str

    @property
    def loss(self):
        # Counters read a few milliseconds apart can make a lossless run read -0.0 %.
        return max(0.0, 1.0 - self.delivered_pps / self.sent_pps) if self.sent_pps else 0.0


def rate(before, after, index):
    return (after[index] - before[index]) / (after[0] - before[0])


def offered_rate(before, after):
    """Frames trafgen handed to its veth per second: transmitted, or refused because the
    forwarder's backlog was full (veth counts those as its own tx drops)."""
    return ((after[2] + after[3]) - (before[2] + before[3])) / (after[0] - before[0])


def other_load(seconds=1.0):
    """{cpu: percent busy} over `seconds` while this script runs nothing."""
    before = cpu_ticks()
    time.sleep(seconds)
    return cpu_busy(before, cpu_ticks())


def run_case(forwarder, workdir, flows, seconds):
    log(f"{forwarder.name}: building {', '.join(NAMESPACES)}")
    create_topology(forwarder.rps)
    forwarder.start()
    conf = workdir / "flows.trafgen"
    conf.write_text(trafgen_config(flows))

    # Warm-up, paced: every flow gets its conntrack entry or Qorgan session (and its category
    # verdict) before the measured window, and the forwarder learns the sink's MAC.
    warmup = flows * WARMUP_PACKETS_PER_FLOW
    sink0 = link_stats(SINK_NS, SINK_IF)
    timeout = warmup / 5000 + 10
    sh(*trafgen_command(conf, warmup, timeout, gap=WARMUP_GAP), timeout=timeout + 10)
    time.sleep(0.5)
    arrived, translated = link_stats(SINK_NS, SINK_IF)[1] - sink0[1], translated_count()
    log(f"{forwarder.name}: warm-up sent {warmup} frames in {time.monotonic() - sink0[0] - 0.5:.1f} s, "
        f"{arrived} arrived, {translated} translated")
    if translated < warmup // 2:
        raise BenchError(f"{forwarder.name}: only {translated} of {warmup} warm-up frames reached the sink "
                         f"translated; the forwarder is not set up right")

    # Measured run: trafgen unpaced, bounded by -n and by timeout; the window opens after a
    # ramp and closes before trafgen is stopped, so start-up and shutdown are not in it.
    count = int(MAX_PPS * (seconds + RAMP_SECONDS + 5))
    timeout = seconds + RAMP_SECONDS + 15
    out_path = workdir / "trafgen.out"
    with open(out_path, "wb") as out:
        gen = subprocess.Popen(trafgen_command(conf, count, timeout), stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        start = link_stats(GEN_NS, GEN_IF)
        deadline = time.monotonic() + 5
        while link_stats(GEN_NS, GEN_IF)[2] == start[2]:
            if gen.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"trafgen sent nothing:\n{out_path.read_text(errors='replace')}")
            time.sleep(0.05)
        time.sleep(RAMP_SECONDS)
        forwarder.diagnostics_before()
        ticks0 = cpu_ticks()
        gen0, fw0, sink0 = link_stats(GEN_NS, GEN_IF), link_stats(FW_NS, FW_IN), link_stats(SINK_NS, SINK_IF)
        time.sleep(seconds)
        gen1, fw1, sink1 = link_stats(GEN_NS, GEN_IF), link_stats(FW_NS, FW_IN), link_stats(SINK_NS, SINK_IF)
        busy = cpu_busy(ticks0, cpu_ticks())
        details = forwarder.diagnostics_after(fw1[1] - fw0[1])
        if gen.poll() is not None:
            raise BenchError(f"trafgen ended inside the measured window (raise MAX_PPS):\n"
                             f"{out_path.read_text(errors='replace')}")
    finally:
        labkit.stop_process(gen)
    forwarder.stop()
    total = trafgen_sent(out_path.read_text(errors="replace"))
    fig = Figures(forwarder.name, rate(sink0, sink1, 1), offered_rate(gen0, gen1), sink1[0] - sink0[0], total,
                  busy, f"{details}; generator veth tx drops {gen1[3] - gen0[3]}")
    log(f"{fig.name}: {fig.delivered_pps:,.0f} delivered/s of {fig.sent_pps:,.0f} sent/s over {fig.seconds:.2f} s; "
        f"{fig.details}; CPUs busy {busy_text(busy)}; trafgen sent {total} frames in all")
    return fig


# ---------------------------------------------------------------- report

def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def report(kernel, qorgans, flows, seconds, hugepages, idle_warning):
    print("| forwarder | delivered (packets/s) | sent (packets/s) | loss | delivered / kernel | CPUs busy |")
    print("|---|---|---|---|---|---|")
    for fig in (kernel, *qorgans):
        ratio = fig.delivered_pps / kernel.delivered_pps if kernel.delivered_pps else float("nan")
        print(f"| {fig.name} | {fig.delivered_pps:,.0f} | {fig.sent_pps:,.0f} | {100 * fig.loss:.1f} % | "
              f"{ratio:.2f} | {busy_text(fig.busy)} |")
    print()
    print(f"trafgen {trafgen_version()}: 60-byte frames (64 with FCS), UDP {GEN_ADDR}:{FIRST_SPORT}-"
          f"{FIRST_SPORT + flows - 1} -> {SINK_ADDR}:{DST_PORT}, {flows} flows round robin, one process (-P 1) "
          f"pinned to CPU {GEN_CPU}, sendto(2) unpaced (-t 0); warm-up {flows * WARMUP_PACKETS_PER_FLOW} frames "
          f"paced with -t {WARMUP_GAP}; {seconds:g} s measured after a {RAMP_SECONDS:g} s ramp. Forwarding on "
          f"CPU {FWD_CPU} (kernel: RPS on {FW_IN}; Qorgan: worker lcore on CPU {FWD_CPU}, main lcore on CPU 0, "
          f"{'hugepages' if hugepages else 'no hugepages'}). {os.cpu_count()} cores, {cpu_model()}. "
          "A forwarding CPU below 100 % busy means the generator, not the forwarder, set the rate "
          "(Qorgan's worker polls: its CPU always reads 100 %).")
    if idle_warning:
        print()
        print(f"Warning: {idle_warning}")


def trafgen_version():
    r = labkit.run(["trafgen", "-v"], timeout=CMD_TIMEOUT)
    m = re.search(r"trafgen (\S+)", r.out)
    return m.group(1) if m else "(unknown version)"


def append_json(path, kernel, qorgan):
    record = {"bench": "forward-veth",
              "figure": "Qorgan over net_af_packet, 64-byte UDP through veths, delivered (ring copy on its CPU)",
              "value": round(qorgan.delivered_pps), "unit": "packets/s",
              "reference": round(kernel.delivered_pps),
              "reference_name": "Linux kernel forwarding, nftables with conntrack and SNAT, same veths and load"}
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------- main

def check_host():
    if os.geteuid() != 0:
        sys.exit("forward_veth.py: needs root (network namespaces, trafgen, nft); run it with sudo")
    missing = [tool for tool in ("ip", "nft", "ethtool", "trafgen", "timeout", "sysctl") if not shutil.which(tool)]
    if missing:
        sys.exit(f"forward_veth.py: missing tools: {' '.join(missing)} (apt-get install iproute2 nftables "
                 f"ethtool netsniff-ng coreutils procps)")
    if not DATAPLANE_BIN.exists():
        sys.exit(f"forward_veth.py: {DATAPLANE_BIN} is not built (set QORGAN_BUILD or QORGAN_DATAPLANE)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("forward_veth.py: needs two CPUs (one for trafgen, one for the forwarder)")
    if labkit.lab_is_up() or any(Path("/run/netns", n).exists() for n in labkit.LAB_NAMESPACES):
        log("the lab's qg-* namespaces exist: if the lab is busy, these figures are disturbed")


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description="64-byte UDP forwarding through veths: the kernel with "
                                                 "nftables beside Qorgan over net_af_packet.")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per case (default 8)")
    parser.add_argument("--flows", type=int, default=1024, help="UDP flows, one source port each (default 1024)")
    parser.add_argument("--no-huge", action="store_true", help="run the dataplane without hugepages")
    parser.add_argument("--json", metavar="PATH", help="append the figure as one JSON line to PATH")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 30:
        parser.error("--seconds must be within 1..30")
    if not 1 <= args.flows <= 16384:
        parser.error("--flows must be within 1..16384")
    check_host()

    lock = open(LOCK_FILE, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"forward_veth.py: another run holds {LOCK_FILE}")
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with tempfile.TemporaryDirectory(prefix="qorgan-bench-veth-") as tmp:
            workdir = Path(tmp)
            qorgans = [QorganForwarder(workdir, rps, no_huge=args.no_huge) for rps in (True, False)]
            try:
                load = other_load()
                kernel_fig = run_case(KernelForwarder(), workdir, args.flows, args.seconds)
                qorgan_figs = [run_case(q, workdir, args.flows, args.seconds) for q in qorgans]
            finally:
                for q in qorgans:
                    q.stop()
                destroy_topology()
    except BenchError as e:
        sys.exit(f"forward_veth.py: {e}")
    except KeyboardInterrupt:
        sys.exit("forward_veth.py: interrupted; namespaces and processes cleaned up")
    finally:
        lock.close()
    idle_warning = ""
    if max(load.values()) > IDLE_BUSY_PERCENT:
        idle_warning = (f"the machine was busy before the run ({busy_text(load)} with nothing of this script "
                        f"running): the figures are disturbed")
    report(kernel_fig, qorgan_figs, args.flows, args.seconds, qorgans[0].hugepages, idle_warning)
    if args.json:
        append_json(args.json, kernel_fig, qorgan_figs[0])


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: GPL-2.0-or-later
# Test kit for the lab: namespaces, the dataplane process, telemetry, captures, counters
# and the policy of the config (to find which rule a packet hits). Standard library only.

import ipaddress
import json
import os
import re
import select
import shlex
import signal
import socket
import struct
import subprocess
import time
import unittest
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB_SCRIPT = REPO / "scripts" / "lab"
LAB_DIR = Path(os.environ.get("QORGAN_LAB_DIR", "/run/qorgan-lab"))
BUILD_DIR = Path(os.environ.get("QORGAN_BUILD", str(REPO / "build")))
DATAPLANE_BIN = Path(os.environ.get("QORGAN_DATAPLANE", str(BUILD_DIR / "dataplane" / "qorgan-dataplane")))
FILE_PREFIX = "qorgan-lab"
TELEMETRY_SOCKET = f"/var/run/dpdk/{FILE_PREFIX}/dpdk_telemetry.v2"
READY_FILE = LAB_DIR / "dataplane.ready"
DATAPLANE_LOG = LAB_DIR / "dataplane.log"
CAPTURE_DIR = LAB_DIR / "captures"  # a failed test leaves its pcap here
PYTHON = "/usr/bin/python3"  # Debian's, which has scapy

GW_NS = "qg-gw"
LAB_NAMESPACES = ("qg-gw", "qg-inner-sw", "qg-inner1", "qg-inner2", "qg-outer1", "qg-dmz1", "qg-inet1")


@dataclass(frozen=True)
class Host:
    ns: str
    v4: str
    v6: str


INNER1 = Host("qg-inner1", "198.18.1.11", "2001:db8:1::11")
INNER2 = Host("qg-inner2", "198.18.1.12", "2001:db8:1::12")
OUTER1 = Host("qg-outer1", "198.18.2.11", "2001:db8:2::11")
DMZ1 = Host("qg-dmz1", "198.18.3.10", "2001:db8:3::10")
INET1 = Host("qg-inet1", "203.0.113.10", "2001:db8:100::10")

# The gateway's own address on each LAN (default config), by interface name.
GATEWAY = {
    "inner0": ("198.18.1.1", "2001:db8:1::1"),
    "outer0": ("198.18.2.1", "2001:db8:2::1"),
    "dmz0": ("198.18.3.1", "2001:db8:3::1"),
    "inet0": ("203.0.113.1", "2001:db8:100::1"),
}
LAN_HOST = {"inner0": INNER1, "outer0": OUTER1, "dmz0": DMZ1, "inet0": INET1}

DMZ1_PAGE = "qorgan-lab dmz1"
INET1_PAGE = "qorgan-lab inet1"

# Every test-side address must lie in these (the lab never sends anywhere else).
LAB_NETS = [ipaddress.ip_network(n) for n in (
    "198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


def lab_address(addr):
    """Returns addr after checking it is a lab address (the extra lab rule)."""
    ip = ipaddress.ip_address(addr)
    if not any(ip in n for n in LAB_NETS):
        raise ValueError(f"{addr} is outside the lab ranges")
    return addr


def url(addr, port=80, path="/"):
    host = f"[{addr}]" if ":" in addr else addr
    return f"http://{host}:{port}{path}"


# ---------------------------------------------------------------- running commands

@dataclass
class Result:
    cmd: list
    rc: int
    out: str
    err: str
    seconds: float
    timed_out: bool = False

    def __str__(self):
        text = f"$ {shlex.join(self.cmd)}\nrc={self.rc} ({self.seconds:.2f}s)"
        if self.timed_out:
            text += " TIMED OUT"
        return f"{text}\nstdout: {self.out[-2000:]}\nstderr: {self.err[-2000:]}"


def run(cmd, timeout=10, input=None):
    """Runs cmd (a list) with a hard timeout. A timeout is a Result with rc 124, never a hang."""
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        return Result(list(cmd), p.returncode, p.stdout, p.stderr, time.monotonic() - start)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return Result(list(cmd), 124, out, err, time.monotonic() - start, timed_out=True)


def ns(name, *cmd, timeout=10, input=None):
    """Runs cmd inside network namespace `name`."""
    return run(["ip", "netns", "exec", name, *cmd], timeout=timeout, input=input)


def ns_python(name, source, timeout=30, input=None):
    """Runs Python source in a namespace; its last stdout line must be JSON, which is returned."""
    r = ns(name, PYTHON, "-c", source, timeout=timeout, input=input)
    if r.rc != 0:
        raise AssertionError(f"python in {name} failed:\n{r}")
    lines = [line for line in r.out.splitlines() if line.strip()]
    if not lines:
        raise AssertionError(f"python in {name} printed nothing:\n{r}")
    return json.loads(lines[-1])


SCAPY_PRELUDE = "import json, sys\nfrom scapy.all import *\nconf.verb = 0\n"


def ns_scapy(name, source, timeout=30):
    """ns_python with scapy imported and quiet."""
    return ns_python(name, SCAPY_PRELUDE + source, timeout=timeout)


def curl(host, addr, port=80, timeout=5):
    return ns(host.ns, "curl", "-sS", "-g", "--max-time", str(timeout), url(lab_address(addr), port),
              timeout=timeout + 5)


def dig(host, server, name="web.lab.example", rtype="A", tcp=False, timeout=3):
    args = ["dig", f"@{lab_address(server)}", name, rtype, "+short", f"+time={timeout}", "+tries=1"]
    if tcp:
        args.append("+tcp")
    return ns(host.ns, *args, timeout=timeout + 5)


def ping(host, addr, count=2, timeout=2):
    args = ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", str(timeout)]
    if ":" in addr:
        args.insert(1, "-6")
    return ns(host.ns, *args, lab_address(addr), timeout=count * timeout + 5)


def mac_of(ns_name, ifname):
    r = ns(ns_name, "ip", "-j", "link", "show", "dev", ifname)
    if r.rc != 0:
        raise AssertionError(str(r))
    return json.loads(r.out)[0]["address"]


def gateway_mac(host, gw_addr):
    """The MAC the gateway answers ARP/ND with, as the host's neighbour table learnt it."""
    p = ping(host, gw_addr, count=1)
    if p.rc != 0:
        raise AssertionError(f"gateway {gw_addr} does not answer ping:\n{p}")
    r = ns(host.ns, "ip", "-j", "neigh", "show", gw_addr, "dev", "eth0")
    for entry in json.loads(r.out or "[]"):
        if entry.get("lladdr"):
            return entry["lladdr"]
    raise AssertionError(f"no neighbour entry for {gw_addr} in {host.ns}:\n{r}")


SEND_FRAMES = """
import json, socket, sys
frames = [bytes.fromhex(h) for h in json.load(sys.stdin)]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for f in frames:
    s.send(f)
print(json.dumps(len(frames)))
"""


def send_frames(ns_name, ifname, frames, timeout=30):
    """Sends raw Ethernet frames (bytes) on an interface of a namespace; returns the count sent."""
    r = ns(ns_name, PYTHON, "-c", SEND_FRAMES, ifname, timeout=timeout,
           input=json.dumps([f.hex() for f in frames]))
    if r.rc != 0:
        raise AssertionError(f"sending frames failed:\n{r}")
    return json.loads(r.out.strip().splitlines()[-1])


# ---------------------------------------------------------------- the lab

def lab_is_up():
    return all(Path("/run/netns", n).exists() for n in LAB_NAMESPACES)


def lab(action, timeout=120):
    r = run([str(LAB_SCRIPT), action], timeout=timeout)
    if r.rc != 0:
        raise RuntimeError(f"scripts/lab {action} failed:\n{r}")
    return r


def ensure_lab():
    if not lab_is_up():
        lab("up")


# ---------------------------------------------------------------- the dataplane

def log_tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit status (None if no process)."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


class Dataplane:
    """qorgan-dataplane in qg-gw: started in the background, ready when its ready file exists."""

    def __init__(self, config=None, binary=DATAPLANE_BIN, args=()):
        self.config = config
        self.binary = Path(binary)
        self.args = list(args)  # more options (--exception-route ...)
        self.proc = None

    def command(self):
        cmd = ["ip", "netns", "exec", GW_NS, str(self.binary)]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        return cmd + ["--no-huge", "--file-prefix", FILE_PREFIX, "--ready-file", str(READY_FILE),
                      "--control-socket", str(LAB_DIR / "dataplane.sock")] + self.args

    def start(self, ready_timeout=30):
        if not self.binary.exists():
            raise RuntimeError(f"dataplane binary {self.binary} not built (set QORGAN_BUILD or QORGAN_DATAPLANE)")
        LAB_DIR.mkdir(parents=True, exist_ok=True)
        READY_FILE.unlink(missing_ok=True)
        with open(DATAPLANE_LOG, "wb") as log:
            # ip netns exec execs in place: proc.pid is the dataplane's pid.
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if READY_FILE.exists():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"dataplane exited with {self.proc.returncode} before ready:\n"
                                   f"{log_tail(DATAPLANE_LOG)}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dataplane not ready after {ready_timeout}s:\n{log_tail(DATAPLANE_LOG)}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit status."""
        rc, self.proc = stop_process(self.proc, timeout), None
        return rc

    def reload(self):
        """SIGHUP: the dataplane reloads its policy."""
        if not self.running():
            raise RuntimeError("dataplane is not running")
        self.proc.send_signal(signal.SIGHUP)

    @staticmethod
    def log_text():
        try:
            return DATAPLANE_LOG.read_text(errors="replace")
        except OSError:
            return ""


_shared_dataplane = None


def ensure_dataplane():
    """One dataplane shared by all test modules of a run; started on first use."""
    global _shared_dataplane
    ensure_lab()
    if _shared_dataplane is None or not _shared_dataplane.running():
        _shared_dataplane = Dataplane().start()
    return _shared_dataplane


def stop_shared_dataplane():
    global _shared_dataplane
    if _shared_dataplane is not None:
        _shared_dataplane.stop()
        _shared_dataplane = None


# ---------------------------------------------------------------- telemetry

class Telemetry:
    """A minimal rte_telemetry v2 client: one connection per query."""

    def __init__(self, path=TELEMETRY_SOCKET, timeout=5.0):
        self.path = path
        self.timeout = timeout

    def query(self, cmd):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(self.timeout)
            try:
                s.connect(self.path)
            except OSError as e:
                raise AssertionError(f"telemetry socket {self.path}: {e} (is the dataplane running?)") from e
            info = json.loads(s.recv(4096).decode())
            bufsize = max(int(info.get("max_output_len", 16384)), 65536)
            s.send(cmd.encode())
            reply = json.loads(s.recv(bufsize).decode())
        key = cmd.split(",", 1)[0]  # "/ethdev/stats,1" answers under "/ethdev/stats"
        if key not in reply:
            raise AssertionError(f"telemetry reply to {cmd} lacks the key {key}: {reply}")
        return reply[key]


def flatten(data, prefix=""):
    """{"a": {"b": 1}} -> {"a/b": 1}; only numbers are kept."""
    flat = {}
    if isinstance(data, dict):
        for k, v in data.items():
            flat.update(flatten(v, f"{prefix}{k}/" if isinstance(v, dict) else f"{prefix}{k}"))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        flat[prefix.rstrip("/")] = data
    return flat


def counters_diff(before, after):
    """Per-key increase between two telemetry replies (missing keys count as 0)."""
    b, a = flatten(before), flatten(after)
    return {k: a.get(k, 0) - b.get(k, 0) for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)}


def wait_for_counts(tel, cmd, before, expected, timeout=3.0):
    """Polls cmd until every key of `expected` rose by at least its value (bounded), then
    returns the full diff so the caller can assert exact equality."""
    deadline = time.monotonic() + timeout
    while True:
        diff = counters_diff(before, tel.query(cmd))
        if all(diff.get(k, 0) >= v for k, v in expected.items()) or time.monotonic() > deadline:
            time.sleep(0.2)  # late arrivals would show up as an excess
            return counters_diff(before, tel.query(cmd))
        time.sleep(0.1)


# ---------------------------------------------------------------- control socket

CONTROL_SOCKET = LAB_DIR / "dataplane.sock"


class ControlClient:
    """One connection to the dataplane's control socket (docs/CONTROL-PROTOCOL.md); several
    requests on it (4-byte big-endian length + JSON)."""

    def __init__(self, path=CONTROL_SOCKET, timeout=60):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(path))

    def _recv(self, n):
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise AssertionError("the dataplane closed the control connection")
            b += chunk
        return b

    def call(self, req):
        body = json.dumps(req).encode()
        self.s.sendall(struct.pack(">I", len(body)) + body)
        (n,) = struct.unpack(">I", self._recv(4))
        return json.loads(self._recv(n))

    def close(self):
        self.s.close()


def control(req):
    """One request on a fresh control connection; returns the reply."""
    c = ControlClient()
    try:
        return c.call(req)
    finally:
        c.close()


# ---------------------------------------------------------------- captures

class Capture:
    """tcpdump -U -w in a namespace; use as a context manager, then count(filter)."""

    def __init__(self, ns_name, bpf="", ifname="eth0"):
        self.ns = ns_name
        self.ifname = ifname
        self.bpf = bpf
        safe = re.sub(r"[^a-z0-9-]", "", ns_name)
        self.path = CAPTURE_DIR / f"{safe}-{os.getpid()}-{time.monotonic_ns()}.pcap"
        self.errpath = self.path.with_suffix(".err")
        self.proc = None

    def start(self, timeout=5.0):
        CAPTURE_DIR.mkdir(parents=True, exist_ok=True)
        cmd = ["ip", "netns", "exec", self.ns, "tcpdump", "-i", self.ifname, "-U", "--immediate-mode", "-n", "-Z", "root",
               "-w", str(self.path)] + (shlex.split(self.bpf) if self.bpf else [])
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "listening on" in self.errpath.read_text(errors="replace"):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tcpdump in {self.ns} did not start: {self.errpath.read_text(errors='replace')}")

    def stop(self, settle=0.3):
        if self.proc is None:
            return
        time.sleep(settle)  # let in-flight packets land
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def lines(self, bpf=""):
        r = run(["tcpdump", "-r", str(self.path), "-n"] + (shlex.split(bpf) if bpf else []), timeout=10)
        if r.rc != 0:
            raise AssertionError(f"reading capture failed:\n{r}")
        return [line for line in r.out.splitlines() if line.strip()]

    def count(self, bpf=""):
        return len(self.lines(bpf))

    def cleanup(self):
        self.path.unlink(missing_ok=True)
        self.errpath.unlink(missing_ok=True)


# ---------------------------------------------------------------- policy of the config

PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}
ICMP4_TYPES = {"echo-reply": 0, "dest-unreachable": 3, "destination-unreachable": 3, "echo-request": 8,
               "time-exceeded": 11, "parameter-problem": 12}
ICMP6_TYPES = {"dest-unreachable": 1, "destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3,
               "parameter-problem": 4, "echo-request": 128, "echo-reply": 129}

_TOKEN = re.compile(r'\s+|#[^\n]*|"((?:[^"\\\n]|\\.)*)"|([{}\[\];])|([^\s{}\[\];"#]+)')


def parse_config_tree(text):
    """The config text form -> nested [(words, children or None)]. Tolerant: a test aid only."""
    root, stack, words, in_list = [], [], [], False
    current = root
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"config: cannot read at offset {pos}: {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group(1) is not None:
            words.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        elif m.group(3) is not None:
            words.append(m.group(3))
        elif m.group(2) in ("[", "]"):
            in_list = m.group(2) == "["
        elif m.group(2) == ";" and not in_list:
            current.append((words, None))
            words = []
        elif m.group(2) == "{":
            children = []
            current.append((words, children))
            stack.append(current)
            current, words = children, []
        elif m.group(2) == "}":
            current, words = stack.pop(), []
    return root


@dataclass
class Rule:
    interface: str
    direction: str
    id: int
    action: str = ""
    log: bool = False
    protocol: int | None = None
    sources: list = field(default_factory=list)
    destinations: list = field(default_factory=list)
    source_ports: list = field(default_factory=list)
    destination_ports: list = field(default_factory=list)
    icmp_type: int | None = None
    icmp_code: int | None = None
    description: str = ""

    @property
    def key(self):
        """The key of this rule in /qorgan/rules."""
        return f"{self.interface}/{self.direction}/{self.id}"

    def family(self):
        fams = {n.version for n in self.sources + self.destinations}
        if self.protocol == 1:
            fams.add(4)
        if self.protocol == 58:
            fams.add(6)
        return fams.pop() if len(fams) == 1 else 0

    def matches(self, proto, src, dst, sport=0, dport=0, icmp_type=None):
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        fam = self.family()
        if fam and fam != s.version:
            return False
        if self.protocol is not None and self.protocol != proto:
            return False
        if self.sources and not any(s in n for n in self.sources if n.version == s.version):
            return False
        if self.destinations and not any(d in n for n in self.destinations if n.version == d.version):
            return False
        if self.source_ports and not any(lo <= sport <= hi for lo, hi in self.source_ports):
            return False
        if self.destination_ports and not any(lo <= dport <= hi for lo, hi in self.destination_ports):
            return False
        if self.icmp_type is not None and self.icmp_type != icmp_type:
            return False
        return True


def _ports(values):
    out = []
    for v in values:
        lo, _, hi = v.partition("-")
        out.append((int(lo), int(hi or lo)))
    return out


def _rule_from_node(iface, direction, words, children):
    rule = Rule(iface, direction, int(words[1]))
    icmp_type_word = None
    for stmt, _ in children or []:
        if not stmt:
            continue
        name, vals = stmt[0], stmt[1:]
        if name == "action":
            rule.action = vals[0]
        elif name == "log":
            rule.log = True
        elif name == "description":
            rule.description = " ".join(vals)
        elif name == "protocol":
            rule.protocol = PROTOCOLS.get(vals[0]) if vals[0] in PROTOCOLS else int(vals[0])
        elif name == "source":
            rule.sources += [ipaddress.ip_network(v, strict=False) for v in vals]
        elif name == "destination":
            rule.destinations += [ipaddress.ip_network(v, strict=False) for v in vals]
        elif name == "source-port":
            rule.source_ports += _ports(vals)
        elif name == "destination-port":
            rule.destination_ports += _ports(vals)
        elif name == "icmp-type":
            icmp_type_word = vals[0]
        elif name == "icmp-code":
            rule.icmp_code = int(vals[0])
    if icmp_type_word is not None:
        names = ICMP6_TYPES if rule.protocol == 58 else ICMP4_TYPES
        rule.icmp_type = int(icmp_type_word) if icmp_type_word.isdigit() else names[icmp_type_word]
    return rule


class Policy:
    """The rules of a config text, evaluated like the dataplane: first match in list order."""

    def __init__(self, text):
        self.rules = {}  # (iface, direction) -> [Rule] in list order
        for words, children in parse_config_tree(text):
            if words == ["policy"]:
                for iface_words, iface_children in children or []:
                    for dir_words, dir_children in iface_children or []:
                        if dir_words and dir_words[0] in ("ingress", "egress"):
                            self.rules[(iface_words[0], dir_words[0])] = [
                                _rule_from_node(iface_words[0], dir_words[0], w, c)
                                for w, c in dir_children or [] if w and w[0] == "rule"]

    def first_match(self, iface, direction, proto, src, dst, sport=0, dport=0, icmp_type=None):
        """The rule that decides this packet, or None for the default deny."""
        for rule in self.rules.get((iface, direction), []):
            if rule.matches(proto, src, dst, sport, dport, icmp_type):
                return rule
        return None

    def decide(self, *args, **kwargs):
        """Like first_match but fails the test when only the default deny matches."""
        rule = self.first_match(*args, **kwargs)
        if rule is None:
            raise AssertionError(f"no rule of the config matches {args} {kwargs}")
        return rule


def default_config_text():
    """The embedded default config, read from its source (config/default.conf or the raw
    string in config/default_config.cpp)."""
    conf = REPO / "config" / "default.conf"
    if conf.exists():
        return conf.read_text()
    src = (REPO / "config" / "default_config.cpp").read_text()
    m = re.search(r'R"([^(\s]*)\((.*?)\)\1"', src, re.S)
    if not m:
        raise AssertionError("config/default_config.cpp holds no raw-string config text yet")
    return m.group(2)


def default_policy():
    return Policy(default_config_text())


# ---------------------------------------------------------------- test base

class LabTestCase(unittest.TestCase):
    """A lab test: the lab is up and the shared dataplane runs before the first test."""

    @classmethod
    def setUpClass(cls):
        cls.dataplane = ensure_dataplane()
        cls.tel = Telemetry()

    _policy = None

    @property
    def policy(self):
        if LabTestCase._policy is None:
            LabTestCase._policy = default_policy()
        return LabTestCase._policy

    def assertOk(self, result, msg=""):
        self.assertEqual(result.rc, 0, f"{msg}\n{result}")

    def assertFails(self, result, msg=""):
        self.assertNotEqual(result.rc, 0, f"{msg} (expected a failure)\n{result}")


# ---------------------------------------------------------------- own configs, logs, links

def write_config(name, text):
    """Writes a config file for a test's own dataplane under LAB_DIR; returns its path."""
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    path = LAB_DIR / name
    path.write_text(text)
    return path


def _block_end(text, open_brace):
    """The index just past the '}' that closes the '{' at open_brace (comments and strings
    in the default config hold no braces)."""
    depth = 0
    for i in range(open_brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError("config: unbalanced braces")


def _find_block(text, header, start=0, end=None):
    """(start of header, index past its closing brace) of the block `header {` within
    text[start:end]."""
    m = re.compile(r"(^|\s)" + re.escape(header) + r"\s*\{").search(text, start, end if end is not None else len(text))
    if not m:
        raise ValueError(f"config: no block '{header}' in the given range")
    return m.start() + len(m.group(1)), _block_end(text, m.end() - 1)


def without_nat(text):
    """The config text without its top-level `nat { ... }` block (tests that bring their own)."""
    try:
        n0, n1 = _find_block(text, "nat")
    except ValueError:
        return text
    return text[:n0] + text[n1:]


def with_security(text, security):
    """The config text with the statements of `security` ("security { ... }") added to its
    security block (the default config has one: its category exceptions), or the block
    appended when the text has none. An empty `security` leaves the text as it is."""
    if not security.strip():
        return text
    s0, s1 = _find_block(security, "security")
    body = security[security.index("{", s0) + 1:s1 - 1]
    try:
        t0, t1 = _find_block(text, "security")
    except ValueError:
        return text + "\n" + security + "\n"
    return text[:t1 - 1] + body + "\n" + text[t1 - 1:]


def without_security(text):
    """The config text without its `security { ... }` block."""
    try:
        s0, s1 = _find_block(text, "security")
    except ValueError:
        return text
    return text[:s0] + text[s1:]


def without_rule(text, iface, direction, rule_id):
    """The config text with rule `rule_id` of policy/iface/direction removed."""
    p0, p1 = _find_block(text, "policy")
    i0, i1 = _find_block(text, iface, p0 + len("policy"), p1)
    d0, d1 = _find_block(text, direction, i0 + len(iface), i1)
    r0, r1 = _find_block(text, f"rule {rule_id}", d0 + len(direction), d1)
    line0 = text.rfind("\n", 0, r0) + 1
    line1 = text.find("\n", r1)
    return text[:line0] + text[(line1 + 1 if line1 >= 0 else r1):]


def with_rules(text, iface, direction, rules):
    """The config text with `rules` (rule blocks as text) added at the end of
    policy/iface/direction."""
    p0, p1 = _find_block(text, "policy")
    i0, i1 = _find_block(text, iface, p0 + len("policy"), p1)
    d0, d1 = _find_block(text, direction, i0 + len(iface), i1)
    close = text.rfind("}", d0, d1)
    line0 = text.rfind("\n", 0, close) + 1
    return text[:line0] + rules.rstrip("\n") + "\n" + text[line0:]


def log_offset():
    """The current size of the dataplane log: pass it to wait_for_log to see only new lines."""
    return len(Dataplane.log_text())


def wait_for_log(pattern, since=0, timeout=5.0):
    """Polls the dataplane log past `since` for a regex; returns the match or None (bounded)."""
    regex = re.compile(pattern, re.M)
    deadline = time.monotonic() + timeout
    while True:
        m = regex.search(Dataplane.log_text(), since)
        if m or time.monotonic() > deadline:
            return m
        time.sleep(0.1)


def start_own_dataplane(config_path, args=()):
    """Stops the shared dataplane and starts one on config_path with more options `args` (for
    setUpClass); pair with restore_shared_dataplane in tearDownClass."""
    ensure_lab()
    stop_shared_dataplane()
    return Dataplane(config=config_path, args=args).start()


class OwnDataplaneTestCase(unittest.TestCase):
    """A lab test class that runs its own dataplane on the config file own_config() writes;
    the shared dataplane comes back afterwards, also when the start fails."""

    @classmethod
    def own_config(cls):
        raise NotImplementedError

    @classmethod
    def own_args(cls):
        """More dataplane options, for a class that needs them."""
        return ()

    @classmethod
    def setUpClass(cls):
        cls.dataplane = None
        try:
            cls.dataplane = start_own_dataplane(cls.own_config(), cls.own_args())
        except BaseException:
            restore_shared_dataplane(cls.dataplane)
            raise
        cls.tel = Telemetry()

    @classmethod
    def tearDownClass(cls):
        restore_shared_dataplane(cls.dataplane)


PREVIOUS_LOG = LAB_DIR / "dataplane.previous.log"  # the own dataplane's log, kept for a failed test


def restore_shared_dataplane(own):
    """Stops a test's own dataplane (if any), keeps its log as PREVIOUS_LOG and brings the
    shared one back."""
    try:
        if own is not None:
            own.stop()
            PREVIOUS_LOG.write_text(Dataplane.log_text())
    finally:
        ensure_dataplane()


# prefix lengths and gateways of configure_host in scripts/lab
HOST_PREFIX = {4: 24, 6: 64}


def restore_host_link(host, gw4, gw6, ifname="eth0"):
    """Brings a host's LAN link back up with its addresses and default routes: setting a
    link down makes the kernel drop its IPv6 addresses and every route through it."""
    results = [
        ns(host.ns, "ip", "link", "set", ifname, "up"),
        ns(host.ns, "ip", "addr", "replace", f"{host.v4}/{HOST_PREFIX[4]}", "dev", ifname),
        ns(host.ns, "ip", "-6", "addr", "replace", f"{host.v6}/{HOST_PREFIX[6]}", "dev", ifname, "nodad"),
        ns(host.ns, "ip", "route", "replace", "default", "via", gw4, "dev", ifname),
        ns(host.ns, "ip", "-6", "route", "replace", "default", "via", gw6, "dev", ifname),
    ]
    failed = [r for r in results if r.rc != 0]
    if failed:
        raise AssertionError("restoring the link failed:\n" + "\n".join(map(str, failed)))


# --- tmux: a shell driven as a person would ---------------------------------------------
TMUX = ["tmux", "-L", "qorgan-lab-test"]  # a private tmux server


class Tmux:
    """One command in a detached tmux session of a fixed size; keys in, screen out."""

    def __init__(self, name, command, rows=40, cols=160):
        self.name = name
        subprocess.run(TMUX + ["kill-session", "-t", name], capture_output=True)
        subprocess.run(TMUX + ["new-session", "-d", "-s", name, "-x", str(cols), "-y", str(rows),
                               f"{command}; echo SHELL-EXIT=$?; sleep 600"], check=True)

    def keys(self, *keys):
        subprocess.run(TMUX + ["send-keys", "-t", self.name, *keys], check=True)

    def text(self, text):
        subprocess.run(TMUX + ["send-keys", "-t", self.name, "-l", text], check=True)

    def line(self, text):
        """Types a line and presses Enter."""
        self.text(text)
        self.keys("Enter")

    def screen(self):
        # -J joins lines the terminal wrapped, so a long error stays one line.
        return subprocess.run(TMUX + ["capture-pane", "-p", "-N", "-J", "-t", self.name],
                              check=True, capture_output=True, text=True).stdout

    def wait_for(self, pattern, timeout=10.0):
        """The screen once `pattern` (a regex) appears on it; fails with the screen otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if re.search(pattern, screen, re.M):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on the screen after {timeout}s:\n{screen}")
            time.sleep(0.1)

    def clear(self):
        subprocess.run(TMUX + ["clear-history", "-t", self.name], check=True)
        self.keys("C-c")
        self.keys("C-l")

    def close(self):
        subprocess.run(TMUX + ["kill-session", "-t", self.name], capture_output=True)


# --- qorgand -------------------------------------------------------------------------
QORGAND_BIN = Path(os.environ.get("QORGAND", str(BUILD_DIR / "control" / "qorgand")))
QORGAN_BIN = Path(os.environ.get("QORGAN_CLI", str(BUILD_DIR / "control" / "qorgan")))
QORGAND_SOCKET = LAB_DIR / "qorgand.sock"
DATAPLANE_SOCKET = LAB_DIR / "dataplane.sock"
QORGAND_LOG = LAB_DIR / "qorgand.log"


LAB_PASSWORD = "Border-Lab-2026!"      # what the installer set (temporary)
LAB_PASSWORD2 = "Night-Shift-0300?"     # what each lab user chose at the first login
# The lab's administrators: one per built-in role (issue 4).
LAB_USERS = {"netadmin": "network-admin", "secadmin": "security-admin", "auditor": "auditor",
             "operator": "operator"}
ROLE_LEVELS = {"operator": 1, "auditor": 5, "network-admin": 10, "security-admin": 12}


def totp(secret_b32, step):
    """RFC 6238 TOTP (SHA-1, 6 digits, 30 s) for a time step."""
    import base64
    import hashlib
    import hmac
    import struct
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000
    return f"{code:06d}"


class QorgandConnection:
    """qorgand's shell protocol spoken directly (4-byte big-endian length + JSON)."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))

    def call(self, request):
        data = json.dumps(request).encode()
        self.sock.sendall(len(data).to_bytes(4, "big") + data)
        head = self._exact(4)
        return json.loads(self._exact(int.from_bytes(head, "big")))

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("qorgand closed the connection")
            buf += chunk
        return buf

    def login(self, answers, keep=False):
        """Runs the login dialogue with the answers given; returns the last reply."""
        self.call({"op": "hello", "terminal": "", "source": ""})
        return self.call({"op": "login", "answers": answers, "keep": keep})

    def close(self):
        self.sock.close()


class Qorgand:
    """qorgand in the root namespace (it speaks only UNIX sockets), with a fresh state
    directory unless one is given; talks to the dataplane's control socket in the lab dir.
    A fresh start adds the lab's four administrators and enrols their second factor; cli()
    runs shell commands in a kept session of one of them (network-admin by default)."""

    def __init__(self, state_dir=None, binary=QORGAND_BIN, extra_args=(), netns=None,
                 socket_path=None):
        self.state_dir = Path(state_dir) if state_dir else LAB_DIR / "qorgand-state"
        self.binary = Path(binary)
        self.socket = Path(socket_path) if socket_path else QORGAND_SOCKET
        self.netns = netns  # run inside this namespace (its syslog forwarder reaches from there)
        self.proc = None
        self.extra_args = list(extra_args)
        self.secrets = {}   # user -> TOTP secret (base32)
        self.last_step = {}  # user -> last TOTP step used (replays are refused)
        self.tokens = {}    # user -> kept session token

    def add_users(self):
        for user, role in LAB_USERS.items():
            r = run([str(self.binary), "--state-dir", str(self.state_dir), "--add-user", user,
                     "--role", role], input=LAB_PASSWORD + "\n", timeout=30)
            if r.rc != 0:
                raise RuntimeError(f"adding {user} failed:\n{r}")

    def code(self, user):
        """A TOTP code for `user` from a time step not used yet (waits when it must)."""
        now_step = int(time.time()) // 30
        step = max(now_step, self.last_step.get(user, -1) + 1)
        if step > now_step + 1:  # the verifier accepts one step ahead at most
            time.sleep((step - 1) * 30 - time.time() + 0.5)
        self.last_step[user] = step
        return totp(self.secrets[user], step)

    def answers(self, user, password=LAB_PASSWORD2):
        a = {"user": user, "password": password}
        if user in self.secrets:
            a["otp"] = self.code(user)
        return a

    def first_login(self, user):
        """Changes the installer's temporary password, then enrols TOTP (levels above
        operator), as a new administrator does at the first two logins."""
        c = QorgandConnection(self.socket)
        try:
            reply = c.login({"user": user, "password": LAB_PASSWORD})
            if not reply.get("done"):
                raise RuntimeError(f"first login of {user}: {reply}")
            out = c.call({"op": "exec", "line": "request password",
                          "answers": {"old": LAB_PASSWORD, "new": LAB_PASSWORD2, "again": LAB_PASSWORD2}})
            if not out.get("ok"):
                raise RuntimeError(f"password change of {user}: {out}")
        finally:
            c.close()
        c = QorgandConnection(self.socket)
        try:
            reply = c.login({"user": user, "password": LAB_PASSWORD2})
            if not reply.get("done"):
                raise RuntimeError(f"second login of {user}: {reply}")
            if ROLE_LEVELS[LAB_USERS[user]] <= 1:
                return  # the operator logs in with a password alone (R47 asks more above it)
            out = c.call({"op": "exec", "line": "request totp enroll"})
            m = re.search(r"key: ([A-Z2-7]+)", out.get("output", ""))
            if not m:
                raise RuntimeError(f"enrolment of {user}: {out}")
            self.secrets[user] = m.group(1)
            out = c.call({"op": "exec", "line": f"request totp confirm {self.code(user)}"})
            if not out.get("ok"):
                raise RuntimeError(f"confirming {user}'s code: {out}")
        finally:
            c.close()

    def session(self, user):
        """The kept session's token for `user` (logs in once)."""
        if user not in self.tokens:
            answers = self.answers(user)  # may wait for a fresh TOTP step: before connecting
            c = QorgandConnection(self.socket)
            try:
                reply = c.login(answers, keep=True)
            finally:
                c.close()
            if not reply.get("done") or not reply.get("token"):
                raise RuntimeError(f"login of {user} failed: {reply}")
            self.tokens[user] = reply["token"]
        return self.tokens[user]

    def start(self, fresh=True, timeout=15):
        if fresh:
            subprocess.run(["rm", "-rf", str(self.state_dir)], check=False)
            self.secrets, self.last_step = {}, {}
        self.tokens = {}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if fresh:
            self.add_users()
        self.socket.unlink(missing_ok=True)
        log = open(QORGAND_LOG, "ab")
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(
            [*prefix, str(self.binary), "--state-dir", str(self.state_dir), "--socket", str(self.socket),
             "--dataplane-socket", str(DATAPLANE_SOCKET), *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"qorgand exited with {self.proc.returncode}:\n{log_tail(QORGAND_LOG)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"qorgand did not listen after {timeout}s:\n{log_tail(QORGAND_LOG)}")
            time.sleep(0.1)
        if fresh:
            for user in LAB_USERS:
                self.first_login(user)
        # Ready when it answers and the dataplane runs its running revision.
        while time.monotonic() < deadline:
            if "(the same)" in self.cli("show system integrity", timeout=5).out:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"qorgand exited with {self.proc.returncode}:\n{log_tail(QORGAND_LOG)}")
            time.sleep(0.2)
        raise RuntimeError(f"qorgand not in step with the dataplane after {timeout}s:\n{log_tail(QORGAND_LOG)}")

    def env(self, user="netadmin"):
        return {**os.environ, "QORGAN_SESSION": self.session(user)}

    def cli(self, *commands, timeout=20, user="netadmin"):
        """Runs shell commands non-interactively (one per line on stdin) in `user`'s kept
        session."""
        start = time.monotonic()
        cmd = [str(QORGAN_BIN), "--socket", str(self.socket)]
        for attempt in range(2):
            try:
                p = subprocess.run(cmd, input="\n".join(commands) + "\n", capture_output=True,
                                   text=True, timeout=timeout, env=self.env(user))
            except subprocess.TimeoutExpired:
                return Result(cmd, 124, "", "", time.monotonic() - start, timed_out=True)
            # A kept session ends at its idle limit like any other: log in again once.
            if attempt == 0 and "no such session" in p.stderr:
                self.tokens.pop(user, None)
                continue
            break
        return Result(cmd, p.returncode, p.stdout, p.stderr, time.monotonic() - start)

    def audit_records(self):
        """Every record of the current audit file (parsed JSON lines), oldest first."""
        records = []
        for f in sorted((self.state_dir / "audit").glob("audit-*.jsonl")):
            for line in f.read_text(errors="replace").splitlines():
                if line.strip():
                    records.append(json.loads(line))
        return records

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def stop(self, timeout=10):
        rc, self.proc = stop_process(self.proc, timeout), None
        return rc

    @staticmethod
    def log_text():
        try:
            return QORGAND_LOG.read_text(errors="replace")
        except OSError:
            return ""


# ---------------------------------------------------------------- a long-lived UDP session

DNS_SESSION = r"""
import json, socket, struct, sys
dst, sport = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
if sport:
    s.bind(("", sport))
s.connect((dst, 53))
print(json.dumps({"sport": s.getsockname()[1]}), flush=True)
qid = 0x5100
name = b"".join(bytes([len(p)]) + p for p in b"web.lab.example".split(b".")) + b"\0"
for line in sys.stdin:
    qid += 1
    s.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1))
    try:
        reply = s.recv(2048)
        rid, _, _, ancount = struct.unpack("!HHHH", reply[:8])
        print(json.dumps({"answered": rid == qid and ancount >= 1}), flush=True)
    except socket.timeout:
        print(json.dumps({"answered": False, "timeout": True}), flush=True)
    except OSError as e:
        print(json.dumps({"answered": False, "error": str(e)}), flush=True)
"""


class DnsSession:
    """A UDP "session" from `host` to a DNS server: one socket (source port `sport`, or one
    the kernel picks), a query each time ask() is called."""

    def __init__(self, dst, sport=0, host=None):
        host = host or OUTER1
        self.proc = subprocess.Popen(["ip", "netns", "exec", host.ns, PYTHON, "-c", DNS_SESSION, dst, str(sport)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        self.sport = self._read()["sport"]

    def _read(self, timeout=10):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError("the DNS session script did not answer in time")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the DNS session script exited: {self.proc.stderr.read()}")
        return json.loads(line)

    def ask(self):
        self.proc.stdin.write("ask\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)

# SPDX-License-Identifier: GPL-2.0-or-later
# NAT44 in the lab (R128-d static 1:1, R90-1-6 hiding the LANs behind the gateway, R139-4
# access control that sees the real server, R139-10-1 publishing the shielded server):
# what leaves by inet0 carries no lab-internal address, ICMP errors are translated back
# (RFC 5508), a static entry publishes dmz1, a small pool runs out without hurting the
# flows it holds, and a policy commit that leaves NAT alone keeps every translation.

import ipaddress
import json
import re
import unittest

from labkit import (DMZ1, DMZ1_PAGE, GATEWAY, INET1, INET1_PAGE, OUTER1, Capture,
                    OwnDataplaneTestCase, curl, default_config_text, default_policy, dig, gateway_mac, log_offset, ns,
                    ns_python, ns_scapy, ping, wait_for_counts, wait_for_log, without_rule, write_config, without_nat, DnsSession)

INET_GW = GATEWAY["inet0"][0]  # 203.0.113.1: the default pool of a source rule on inet0
STATIC_OUTSIDE = "203.0.113.50"  # dmz1 (198.18.3.10) published by `static web`
POOL_ADDR = "203.0.113.60"
POOL_PORTS = (40000, 40063)  # 64 ports
LAB_INTERNAL = ipaddress.ip_network("198.18.0.0/15")
ROUTED_DST = "198.51.100.7"  # config routes 198.51.100.0/24 via 203.0.113.254
ROUTED_NEXT_HOP = "203.0.113.254"
CLOSED_UDP_PORT = 5201  # accepted by outer0 rule 32; iperf3 listens on TCP only
FORWARDED_PORT = 8081   # `destination` rule: 203.0.113.1:8081 -> 198.18.3.10:80

HIDING_NAT = """
nat {
    source outer-internet { interface inet0; from 198.18.2.0/24; }
    static web { interface inet0; inside 198.18.3.10; outside 203.0.113.50; }
}
"""

POOL_NAT = f"""
nat {{
    source small {{ interface inet0; from 198.18.2.0/24; pool {POOL_ADDR}; ports {POOL_PORTS[0]}-{POOL_PORTS[1]}; }}
}}
"""

COMMIT_NAT = f"""
nat {{
    source outer-internet {{ interface inet0; from 198.18.2.0/24; pool {POOL_ADDR}; }}
    destination web-alt {{ interface inet0; protocol tcp; port {FORWARDED_PORT}; to 198.18.3.10; to-port 80; }}
}}
"""

# tcpdump -n: "IP 203.0.113.60.40001 > 203.0.113.10.53: ..." (ports only for TCP/UDP)
TCPDUMP_IP = re.compile(r"\bIP (\d+\.\d+\.\d+\.\d+)(?:\.(\d+))? > (\d+\.\d+\.\d+\.\d+)(?:\.(\d+))?:")
ANY_V4 = re.compile(r"\b(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b")


def internal_addresses(lines):
    """Every 198.18.0.0/15 address printed anywhere in tcpdump lines (also quoted ones)."""
    found = []
    for line in lines:
        for a in ANY_V4.findall(line):
            try:
                if ipaddress.ip_address(a) in LAB_INTERNAL:
                    found.append((a, line))
            except ValueError:
                pass
    return found


def must(ns_name, *cmd):
    """Runs a command in a namespace and fails loudly (cleanups use it: nothing left behind)."""
    r = ns(ns_name, *cmd)
    if r.rc != 0:
        raise AssertionError(f"cleanup failed:\n{r}")


def flows_of(lines):
    """(src, sport, dst, dport) of each IPv4 line of a tcpdump -n listing."""
    out = []
    for line in lines:
        m = TCPDUMP_IP.search(line)
        if m:
            out.append((m.group(1), int(m.group(2)) if m.group(2) else None,
                        m.group(3), int(m.group(4)) if m.group(4) else None))
    return out


# Sends one UDP datagram from outer1 with scapy and sniffs the ICMP error that comes back;
# returns what the error says and whether its checksums (outer IP, ICMP, quoted IP, quoted
# UDP) survive a rebuild by scapy unchanged.
ICMP_ERROR_PROBE = r"""
import threading, time
got = []
started = threading.Event()
def wanted(p):
    return IP in p and ICMP in p and p[ICMP].type == TYPE
sn = AsyncSniffer(iface="eth0", filter=f"icmp and dst host {ME}", store=False,
                  prn=lambda p: got.append(bytes(p[IP])) if wanted(p) else None,
                  stop_filter=wanted, started_callback=started.set)
sn.start()
started.wait(5)
probe = IP(dst=DST, ttl=TTL) / UDP(sport=SPORT, dport=DPORT) / PAYLOAD
send(probe)
sn.join(timeout=4)
if sn.running:
    try:
        sn.stop()
    except Exception:
        pass
if not got:
    print(json.dumps(None))
    sys.exit(0)
raw = got[0]
ihl = (raw[0] & 0x0F) * 4
out = {"src": IP(raw).src, "dst": IP(raw).dst, "type": raw[ihl], "code": raw[ihl + 1], "hex": raw.hex()}
outer = IP(raw)
del outer.chksum
del outer[ICMP].chksum
rebuilt = bytes(outer)
out["outer_ip_checksum_ok"] = rebuilt[:ihl] == raw[:ihl]
out["icmp_checksum_ok"] = rebuilt[ihl:] == raw[ihl:]
quoted = raw[ihl + 8:]
inner = IP(quoted)
iihl = inner.ihl * 4
out.update(inner_src=inner.src, inner_dst=inner.dst, inner_complete=len(quoted) >= inner.len)
if UDP in inner:
    out.update(inner_sport=inner[UDP].sport, inner_dport=inner[UDP].dport)
    fresh = inner.copy()
    del fresh.chksum
    del fresh[UDP].chksum
    rebuilt = bytes(fresh)
    out["inner_ip_checksum_ok"] = rebuilt[:iihl] == quoted[:iihl]
    # a UDP checksum of 0 means "none"; otherwise it must be right for the quoted addresses
    out["inner_udp_checksum_ok"] = inner[UDP].chksum == 0 or rebuilt[iihl:inner.len] == quoted[iihl:inner.len]
    out["inner_udp_checksum"] = inner[UDP].chksum
    out["sent_udp_checksum"] = IP(bytes(probe))[UDP].chksum
print(json.dumps(out))
"""

CONNECTED_UDP = """
import errno, json, socket
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.settimeout(3)
    s.connect((DST, PORT))
    s.send(b"qorgan nat icmp")
    try:
        s.recv(2048)
        print(json.dumps("answered"))
    except socket.timeout:
        print(json.dumps("timeout"))
    except OSError as e:
        print(json.dumps(errno.errorcode.get(e.errno, str(e))))
"""

# N sockets from distinct source ports each ask inet1's DNS once (one after the other, so
# no burst), then one more socket asks; then the first socket asks again.
POOL_SCRIPT = r"""
import json, socket, struct
name = b"".join(bytes([len(p)]) + p for p in b"web.lab.example".split(b".")) + b"\0"
def ask(s, qid):
    s.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1))
    try:
        reply = s.recv(2048)
    except socket.timeout:
        return False
    except OSError as e:
        return str(e)
    rid, _, _, ancount = struct.unpack("!HHHH", reply[:8])
    return rid == qid and ancount >= 1
def sock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.bind(("", port))
    s.connect((DST, 53))
    return s
socks = [sock(BASE_PORT + i) for i in range(N)]
first = [ask(s, 0x6000 + i) for i, s in enumerate(socks)]
extra = sock(BASE_PORT + N)
over = ask(extra, 0x6000 + N)
again = ask(socks[0], 0x7000)
for s in socks + [extra]:
    s.close()
print(json.dumps({"first": first, "over": over, "again": again}))
"""

# One connected UDP socket kept open across a reload: each "ask" line on stdin sends a DNS
# query from the same source port and prints whether it was answered.


class NatTestCase(OwnDataplaneTestCase):
    """Shared helpers: counters, the default policy's verdict and evidence for failures."""

    @staticmethod
    def default_policy_rule(iface, direction, proto, src, dst, sport=0, dport=0, icmp_type=None):
        """The action of the default policy's first matching rule, or "default-deny"."""
        rule = default_policy().first_match(iface, direction, proto, src, dst, sport, dport, icmp_type)
        return rule.action if rule else "default-deny"

    def nat(self):
        return self.tel.query("/qorgan/nat")

    def drops(self):
        return self.tel.query("/qorgan/drops")

    def evidence(self, cap=None, nat_before=None, drops_before=None):
        parts = []
        if nat_before is not None:
            parts.append(f"nat diff: {wait_for_counts(self.tel, '/qorgan/nat', nat_before, {}, timeout=0)}")
        parts.append(f"nat now: {self.nat()}")
        if drops_before is not None:
            parts.append(f"drops diff: {wait_for_counts(self.tel, '/qorgan/drops', drops_before, {}, timeout=0)}")
        if cap is not None:
            parts.append("capture:\n" + "\n".join(cap.lines()[-40:]))
        return "\n".join(parts)


class NatHiding(NatTestCase):
    """Source NAT of the outer LAN to the gateway's inet0 address and a static entry for the
    shielded web server (R90-1-6, R128-d, R139-10-1)."""

    @classmethod
    def own_config(cls):
        return write_config("test-nat-hiding.conf", without_nat(default_config_text()) + HIDING_NAT)

    def test_1_outer_lan_hidden_behind_gateway_R90_1_6_R139_4(self):
        """R90-1-6: web and DNS from outer1 reach the Internet with the gateway's address as
        source; no packet on the Internet side names a 198.18.0.0/15 address."""
        nat = self.nat()
        fetches = []
        with Capture(INET1.ns, "ip") as cap:
            for _ in range(3):
                fetches.append(curl(OUTER1, INET1.v4, timeout=5))
            answer = dig(OUTER1, INET1.v4)
        for r in fetches:
            self.assertEqual(r.rc, 0, f"{r}\n{self.evidence(cap, nat)}")
            self.assertIn(INET1_PAGE, r.out)
        self.assertEqual(answer.rc, 0, f"{answer}\n{self.evidence(cap, nat)}")
        self.assertEqual(answer.out.strip(), INET1.v4, str(answer))
        lines = cap.lines()
        self.assertGreater(len(lines), 0, "the capture in qg-inet1 saw nothing")
        self.assertEqual(cap.count("net 198.18.0.0/15"), 0, "\n".join(lines))
        self.assertEqual(internal_addresses(lines), [], "lab-internal addresses on the Internet side")
        self.assertGreater(cap.count(f"src host {INET_GW} and (tcp port 80 or udp port 53)"), 0, "\n".join(lines))
        diff = wait_for_counts(self.tel, "/qorgan/nat", nat, {"source": 4})
        self.assertGreaterEqual(diff.get("source", 0), 4, diff)
        self.assertGreaterEqual(diff.get("translated", 0), 4, diff)
        cap.cleanup()

    def test_2_port_unreachable_translated_RFC5508_R90_1_6(self):
        """The port unreachable that inet1 sends to the gateway's address reaches outer1 with
        the quoted datagram translated back to outer1's address and port, checksums right."""
        sport = 47301
        nat = self.nat()
        drops = self.drops()
        listening = ns(INET1.ns, "ss", "-Hlnu", f"sport = :{CLOSED_UDP_PORT}")
        self.assertEqual(listening.out.strip(), "", f"udp {CLOSED_UDP_PORT} must be closed on inet1")
        with Capture(INET1.ns, "ip") as cap:
            ans = ns_scapy(OUTER1.ns, f"ME = {OUTER1.v4!r}\nDST = {INET1.v4!r}\nTTL = 64\nSPORT = {sport}\n"
                                      f"DPORT = {CLOSED_UDP_PORT}\nTYPE = 3\nPAYLOAD = b'qorgan nat icmp'\n"
                           + ICMP_ERROR_PROBE)
        ev = self.evidence(cap, nat, drops)
        self.assertIsNotNone(ans, f"no port unreachable reached outer1\n{ev}")
        self.assertEqual((ans["type"], ans["code"]), (3, 3), f"{ans}\n{ev}")
        self.assertEqual((ans["src"], ans["dst"]), (INET1.v4, OUTER1.v4), f"{ans}\n{ev}")
        self.assertEqual((ans["inner_src"], ans.get("inner_sport")), (OUTER1.v4, sport), f"{ans}\n{ev}")
        self.assertEqual((ans["inner_dst"], ans.get("inner_dport")), (INET1.v4, CLOSED_UDP_PORT), f"{ans}\n{ev}")
        for key in ("outer_ip_checksum_ok", "icmp_checksum_ok", "inner_ip_checksum_ok", "inner_udp_checksum_ok"):
            self.assertTrue(ans.get(key), f"{key}: {ans}\n{ev}")
        self.assertTrue(ans["inner_complete"], ans)
        self.assertEqual(ans["inner_udp_checksum"], ans["sent_udp_checksum"], "quoted UDP checksum is not the sent one")
        # on the Internet side the datagram and the error name the gateway, never outer1
        lines = cap.lines()
        self.assertGreater(cap.count(f"udp and src host {INET_GW} and dst port {CLOSED_UDP_PORT}"), 0, "\n".join(lines))
        self.assertGreater(cap.count(f"icmp and dst host {INET_GW}"), 0, "\n".join(lines))
        self.assertEqual(internal_addresses(lines), [], "lab-internal addresses on the Internet side")
        diff = wait_for_counts(self.tel, "/qorgan/nat", nat, {"icmp_errors": 1})
        self.assertGreaterEqual(diff.get("icmp_errors", 0), 1, diff)
        # and the kernel of outer1 takes it: a connected socket learns ECONNREFUSED
        got = ns_python(OUTER1.ns, f"DST = {INET1.v4!r}\nPORT = {CLOSED_UDP_PORT}\n" + CONNECTED_UDP)
        self.assertEqual(got, "ECONNREFUSED", f"the translated port unreachable was not delivered\n{self.evidence()}")
        cap.cleanup()

    def inet1_forwards_as_next_hop(self):
        """Makes inet1 the next hop 203.0.113.254 of the routed 198.51.100.0/24 and lets it
        forward (so a packet arriving with TTL 1 draws time-exceeded); undone by cleanups."""
        r = ns(INET1.ns, "sysctl", "-n", "net.ipv4.ip_forward")
        self.assertEqual(r.rc, 0, str(r))
        original = r.out.strip()
        self.assertIn(original, ("0", "1"), str(r))
        have = ns(INET1.ns, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
        self.assertNotIn(f" {ROUTED_NEXT_HOP}/", have.out, "inet1 already holds the next hop address")
        r = ns(INET1.ns, "ip", "addr", "add", f"{ROUTED_NEXT_HOP}/24", "dev", "eth0")
        self.assertEqual(r.rc, 0, str(r))
        self.addCleanup(must, INET1.ns, "ip", "addr", "del", f"{ROUTED_NEXT_HOP}/24", "dev", "eth0")
        r = ns(INET1.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.assertEqual(r.rc, 0, str(r))
        self.addCleanup(must, INET1.ns, "sysctl", "-qw", f"net.ipv4.ip_forward={original}")

    def test_3_time_exceeded_translated_RFC5508_R90_1_6(self):
        """A probe from outer1 expires one hop behind the gateway (at inet1 as 203.0.113.254):
        the time-exceeded reaches outer1 quoting outer1's own address and port 33434."""
        self.inet1_forwards_as_next_hop()
        rule = self.default_policy_rule("outer0", "ingress", 17, OUTER1.v4, ROUTED_DST, 33434, 53)
        self.assertEqual(rule, "accept")
        nat = self.nat()
        drops = self.drops()
        with Capture(INET1.ns, "ip") as cap:
            ans = ns_scapy(OUTER1.ns, f"ME = {OUTER1.v4!r}\nDST = {ROUTED_DST!r}\nTTL = 2\nSPORT = 33434\n"
                                      "DPORT = 53\nTYPE = 11\n"
                                      "PAYLOAD = DNS(rd=1, qd=DNSQR(qname='web.lab.example'))\n"
                           + ICMP_ERROR_PROBE)
        ev = self.evidence(cap, nat, drops)
        self.assertIsNotNone(ans, f"no time-exceeded reached outer1\n{ev}")
        self.assertEqual((ans["type"], ans["code"]), (11, 0), f"{ans}\n{ev}")
        self.assertIn(ans["src"], (INET1.v4, ROUTED_NEXT_HOP), f"the error must come from inet1: {ans}\n{ev}")
        self.assertEqual(ans["dst"], OUTER1.v4, f"{ans}\n{ev}")
        self.assertEqual((ans["inner_src"], ans.get("inner_sport")), (OUTER1.v4, 33434), f"{ans}\n{ev}")
        self.assertEqual((ans["inner_dst"], ans.get("inner_dport")), (ROUTED_DST, 53), f"{ans}\n{ev}")
        for key in ("outer_ip_checksum_ok", "icmp_checksum_ok", "inner_ip_checksum_ok", "inner_udp_checksum_ok"):
            self.assertTrue(ans.get(key), f"{key}: {ans}\n{ev}")
        lines = cap.lines()
        self.assertGreater(cap.count(f"udp and src host {INET_GW} and dst host {ROUTED_DST}"), 0, "\n".join(lines))
        self.assertGreater(cap.count(f"icmp and dst host {INET_GW}"), 0, "\n".join(lines))
        self.assertEqual(internal_addresses(lines), [], "lab-internal addresses on the Internet side")
        diff = wait_for_counts(self.tel, "/qorgan/nat", nat, {"icmp_errors": 1})
        self.assertGreaterEqual(diff.get("icmp_errors", 0), 1, diff)
        cap.cleanup()

    def test_4_static_publishes_shielded_server_R128_d_R139_10_1(self):
        """R128-d: inet1 reaches dmz1's web server at 203.0.113.50; the replies come from
        203.0.113.50, never from 198.18.3.10."""
        self.assertEqual(self.default_policy_rule("inet0", "ingress", 6, INET1.v4, DMZ1.v4, 40000, 80), "accept")
        nat = self.nat()
        with Capture(INET1.ns, "ip") as cap:
            r = curl(INET1, STATIC_OUTSIDE, timeout=5)
        ev = self.evidence(cap, nat)
        self.assertEqual(r.rc, 0, f"{r}\n{ev}")
        self.assertIn(DMZ1_PAGE, r.out)
        lines = cap.lines()
        self.assertGreater(cap.count(f"tcp and src host {STATIC_OUTSIDE} and src port 80"), 0, "\n".join(lines))
        self.assertEqual(cap.count(f"host {DMZ1.v4}"), 0, "\n".join(lines))
        self.assertEqual(internal_addresses(lines), [], "lab-internal addresses on the Internet side")
        diff = wait_for_counts(self.tel, "/qorgan/nat", nat, {"static": 1})
        self.assertGreaterEqual(diff.get("static", 0), 1, diff)
        cap.cleanup()

    def test_5_policy_sees_real_server_ping_denied_R128_d_R139_4(self):
        """Rules see the server behind the static: inet0 admits echo only to 203.0.113.1, so a
        ping to 203.0.113.50 meets the default deny (and the gateway does not answer it)."""
        self.assertEqual(self.default_policy_rule("inet0", "ingress", 1, INET1.v4, DMZ1.v4, icmp_type=8), "default-deny")
        drops = self.drops()
        with Capture(INET1.ns, "icmp") as cap:
            r = ping(INET1, STATIC_OUTSIDE, count=2, timeout=1)
        self.assertNotEqual(r.rc, 0, f"ping to {STATIC_OUTSIDE} was answered\n{r}\n{self.evidence(cap)}")
        self.assertEqual(cap.count(f"icmp and src host {STATIC_OUTSIDE}"), 0, "\n".join(cap.lines()))
        diff = wait_for_counts(self.tel, "/qorgan/drops", drops, {"default_deny": 2})
        self.assertGreaterEqual(diff.get("default_deny", 0), 2, diff)
        cap.cleanup()

    def test_6_static_server_leaves_as_outside_R128_d(self):
        """Static NAT wins over source NAT: dmz1's DNS query to inet1 leaves as 203.0.113.50."""
        nat = self.nat()
        with Capture(INET1.ns, "ip") as cap:
            answer = dig(DMZ1, INET1.v4)
        ev = self.evidence(cap, nat)
        self.assertEqual(answer.rc, 0, f"{answer}\n{ev}")
        self.assertEqual(answer.out.strip(), INET1.v4, f"{answer}\n{ev}")
        lines = cap.lines()
        self.assertGreater(cap.count(f"udp and src host {STATIC_OUTSIDE} and dst port 53"), 0, "\n".join(lines))
        self.assertEqual(cap.count(f"udp and src host {INET_GW} and dst port 53"), 0, "\n".join(lines))
        self.assertEqual(internal_addresses(lines), [], "lab-internal addresses on the Internet side")
        diff = wait_for_counts(self.tel, "/qorgan/nat", nat, {"static": 1})
        self.assertGreaterEqual(diff.get("static", 0), 1, diff)
        self.assertEqual(diff.get("source", 0), 0, diff)
        cap.cleanup()


class NatPoolExhaustion(NatTestCase):
    """A pool of one address and 64 ports (R90-1-6): the 65th flow is refused and counted,
    the 64 it holds keep working."""

    @classmethod
    def own_config(cls):
        text = without_nat(default_config_text())
        cls.one_worker = "workers 1;" in text
        return write_config("test-nat-pool.conf", text + POOL_NAT)

    def test_pool_of_64_ports_runs_out_R90_1_6(self):
        self.assertTrue(self.one_worker, "the default config no longer says `workers 1;`")
        n = POOL_PORTS[1] - POOL_PORTS[0] + 1
        base = 45000
        nat = self.nat()
        drops = self.drops()
        with Capture(INET1.ns, "ip") as cap:
            got = ns_python(OUTER1.ns, f"DST = {INET1.v4!r}\nN = {n}\nBASE_PORT = {base}\n" + POOL_SCRIPT, timeout=60)
        ev = self.evidence(cap, nat, drops)
        missing = [base + i for i, ok in enumerate(got["first"]) if ok is not True]
        self.assertEqual(missing, [], f"source ports without an answer\n{ev}")
        self.assertFalse(got["over"], f"the 65th flow was answered: the pool held more than {n} ports\n{ev}")
        self.assertIs(got["again"], True, f"a flow holding a port stopped working when the pool ran out\n{ev}")
        diff = wait_for_counts(self.tel, "/qorgan/nat", nat, {"refused_pool_exhausted": 1, "source": n})
        self.assertGreaterEqual(diff.get("refused_pool_exhausted", 0), 1, f"{diff}\n{ev}")
        self.assertEqual(diff.get("source", 0), n, diff)
        drop_diff = wait_for_counts(self.tel, "/qorgan/drops", drops, {"nat_pool_exhausted": 1})
        self.assertGreaterEqual(drop_diff.get("nat_pool_exhausted", 0), 1, drop_diff)
        self.assertEqual(self.nat()["ports_in_use"], n, self.nat())
        # the Internet side saw 64 + 1 queries, all from the pool address and its 64 ports
        lines = cap.lines()
        queries = [f for f in flows_of(lines) if f[2] == INET1.v4 and f[3] == 53]
        self.assertEqual(len(queries), n + 1, "\n".join(lines))
        self.assertEqual({f[0] for f in queries}, {POOL_ADDR}, "\n".join(lines))
        ports = [f[1] for f in queries]
        self.assertTrue(all(POOL_PORTS[0] <= p <= POOL_PORTS[1] for p in ports), ports)
        self.assertEqual(len(set(ports[:n])), n, f"ports reused among the 64 flows: {ports}")
        self.assertEqual(ports[n], ports[0], "the first flow's second query changed its public port")
        self.assertEqual(internal_addresses(lines), [], "lab-internal addresses on the Internet side")
        # inet1 learnt the pool address at the gateway's MAC (the gateway answers its ARP)
        r = ns(INET1.ns, "ip", "-j", "neigh", "show", POOL_ADDR, "dev", "eth0")
        macs = [e.get("lladdr") for e in json.loads(r.out or "[]") if e.get("lladdr")]
        self.assertEqual(macs, [gateway_mac(INET1, INET_GW)], str(r))
        cap.cleanup()




class NatCommit(NatTestCase):
    """Port forwarding to the shielded server (R139-10-1), and a policy commit that leaves
    NAT alone keeps the translations in place (R90-1-6)."""

    @classmethod
    def own_config(cls):
        cls.text = without_nat(default_config_text()) + COMMIT_NAT
        cls.config = write_config("test-nat-commit.conf", cls.text)
        return cls.config

    def reload(self, text):
        self.config.write_text(text)
        since = log_offset()
        self.dataplane.reload()
        m = wait_for_log(r'^event (reload|reload-failed) epoch=(\d+)(?: error="(.*)")?$', since, timeout=10)
        self.assertIsNotNone(m, "no reload event within 10 s")
        self.assertEqual(m.group(1), "reload", m.group(0))
        return m

    def test_1_destination_rule_forwards_to_shielded_server_R139_10_1(self):
        """203.0.113.1:8081 on inet0 is dmz1's port 80: inet1 gets dmz1's page, and the
        replies come from 203.0.113.1:8081."""
        nat = self.nat()
        with Capture(INET1.ns, "ip") as cap:
            r = curl(INET1, INET_GW, port=FORWARDED_PORT, timeout=5)
        ev = self.evidence(cap, nat)
        self.assertEqual(r.rc, 0, f"{r}\n{ev}")
        self.assertIn(DMZ1_PAGE, r.out)
        lines = cap.lines()
        self.assertGreater(cap.count(f"tcp and src host {INET_GW} and src port {FORWARDED_PORT}"), 0, "\n".join(lines))
        self.assertEqual(internal_addresses(lines), [], "lab-internal addresses on the Internet side")
        diff = wait_for_counts(self.tel, "/qorgan/nat", nat, {"destination": 1})
        self.assertGreaterEqual(diff.get("destination", 0), 1, diff)
        cap.cleanup()

    def test_2_policy_commit_keeps_translations_R90_1_6(self):
        """A reload that removes outer0's web rule (NAT untouched): the DNS session keeps its
        public port, no new translation is made, and the new policy is in force."""
        session = DnsSession(INET1.v4, 46001)
        try:
            with Capture(INET1.ns, "udp port 53") as cap:
                self.assertEqual(session.ask().get("answered"), True, "DNS must answer before the commit")
                self.assertEqual(curl(OUTER1, INET1.v4, timeout=5).rc, 0, "web must pass before the commit")
                in_use = self.nat()["ports_in_use"]
                flows = self.tel.query("/qorgan/flows")
                epoch = self.tel.query("/qorgan/stats")["policy_epoch"]
                self.reload(without_rule(self.text, "outer0", "ingress", 10))
                self.assertEqual(self.tel.query("/qorgan/stats")["policy_epoch"], epoch + 1)
                # the NAT counters belong to the running policy's table: read them after the commit
                nat = self.nat()
                ans = session.ask()
            ev = self.evidence(cap, nat)
            self.assertEqual(ans.get("answered"), True, f"the session died with a commit that left NAT alone\n{ev}")
            diff = wait_for_counts(self.tel, "/qorgan/nat", nat, {})
            self.assertEqual(diff.get("source", 0), 0, f"a new translation was made: {diff}")
            self.assertEqual(self.tel.query("/qorgan/flows")["created"] - flows["created"], 0)
            self.assertEqual(self.nat()["ports_in_use"], in_use, self.nat())
            queries = [f for f in flows_of(cap.lines()) if f[2] == INET1.v4 and f[3] == 53]
            self.assertEqual(len(queries), 2, "\n".join(cap.lines()))
            self.assertEqual(queries[0][:2], queries[1][:2], "the public address/port changed across the commit")
            self.assertEqual(queries[0][0], POOL_ADDR)
            # the commit took effect: tcp 80 from outer0 is no longer admitted
            r = curl(OUTER1, INET1.v4, timeout=3)
            self.assertNotEqual(r.rc, 0, f"tcp 80 still passes after its rule was removed\n{r}")
            cap.cleanup()
        finally:
            session.close()


if __name__ == "__main__":
    unittest.main()

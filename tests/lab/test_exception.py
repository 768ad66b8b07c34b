# SPDX-License-Identifier: GPL-2.0-or-later
# The exception path (docs/IPSEC.md, issue 8): IKE to the gateway that the ingress rules admit
# reaches a daemon in the host kernel of qg-gw through the TUN qorgan-exc, and the daemon's
# replies leave from the gateway's address; nothing else reaches the host, nothing reaches it
# without a rule (R139-4), and the host cannot use the gateway as a relay.

import json
import select
import subprocess
import time
import unittest

from labkit import (GW_NS, INET1, PYTHON, Capture, OwnDataplaneTestCase, control,
                    default_config_text, log_offset, ns, wait_for_log, with_rules, write_config)

CONFIG_NAME = "test-exception.conf"
TUN = "qorgan-exc"
GW4, GW6 = "203.0.113.1", "2001:db8:100::1"
IKE_RULES = """            rule 30 {
                description "IKE and a test port to the gateway";
                protocol udp;
                destination 203.0.113.1;
                destination-port [ 500 4500 5000 ];
                action accept;
            }
            rule 31 {
                description "IKE to the gateway";
                protocol udp;
                destination 2001:db8:100::1;
                destination-port [ 500 4500 ];
                action accept;
            }
"""
ROUTES = ["203.0.113.0/24", "2001:db8:100::/64"]

# A UDP server in the host kernel of qg-gw: one JSON line per datagram (data, peer), each
# answered with b"re:" + data; it stops after `seconds`.
SERVER = r"""
import json, select, socket, sys, time
family, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
af = socket.AF_INET6 if family == "6" else socket.AF_INET
s = socket.socket(af, socket.SOCK_DGRAM)
if af == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind(("::" if af == socket.AF_INET6 else "0.0.0.0", port))
print(json.dumps({"listening": port}), flush=True)
end = time.monotonic() + seconds
while True:
    left = end - time.monotonic()
    if left <= 0 or not select.select([s], [], [], left)[0]:
        break
    data, peer = s.recvfrom(65535)
    print(json.dumps({"data": data.hex(), "peer": [peer[0], peer[1]]}), flush=True)
    s.sendto(b"re:" + data, peer)
"""

# A peer in qg-inet1: sends the payload from (src, sport) every half second until an answer
# comes or `seconds` pass; prints the answer and who sent it.
CLIENT = r"""
import json, socket, sys, time
src, sport, dst, dport, payload, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), bytes.fromhex(sys.argv[5]), float(sys.argv[6])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, sport))
s.settimeout(0.5)
end = time.monotonic() + seconds
sent = 0
while time.monotonic() < end:
    s.sendto(payload, (dst, dport))
    sent += 1
    try:
        data, peer = s.recvfrom(65535)
        print(json.dumps({"reply": data.hex(), "from": [peer[0], peer[1]], "sent": sent}))
        sys.exit(0)
    except socket.timeout:
        pass
print(json.dumps({"reply": None, "sent": sent}))
"""

# The host kernel sends a UDP datagram from `src` (a raw socket may name any source).
RAW_SEND = r"""
import json, socket, struct, sys
src, dst, dport = sys.argv[1], sys.argv[2], int(sys.argv[3])
payload = b"relay?"
udp = struct.pack("!HHHH", 500, dport, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + udp, (dst, 0))
print(json.dumps({"sent": 1}))
"""


class Server:
    """SERVER in qg-gw's host kernel, listening once start() returns; lines() stops it."""

    def __init__(self, family, port, seconds=15):
        self.args = [str(family), str(port), str(seconds)]
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", GW_NS, PYTHON, "-c", SERVER, *self.args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        ready = select.select([self.proc.stdout], [], [], 5)[0]
        line = self.proc.stdout.readline() if ready else ""
        if "listening" not in line:
            self.proc.kill()
            raise AssertionError(f"UDP server in {GW_NS} did not start: {line!r} {self.proc.stderr.read()}")
        return self

    def datagrams(self):
        """Stops the server; the datagrams it received as (payload bytes, (address, port))."""
        if self.proc.poll() is None:
            self.proc.terminate()
        out, _ = self.proc.communicate(timeout=5)
        got = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [(bytes.fromhex(g["data"]), tuple(g["peer"])) for g in got]

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        return False


def client(src, sport, dst, dport, payload, seconds=4):
    """CLIENT in qg-inet1; its JSON answer."""
    r = ns(INET1.ns, PYTHON, "-c", CLIENT, src, str(sport), dst, str(dport), payload.hex(),
           str(seconds), timeout=seconds + 10)
    if r.rc != 0:
        raise AssertionError(f"client failed:\n{r}")
    return json.loads(r.out.strip().splitlines()[-1])


def drops():
    return control({"op": "drops"})["drops"]


def exception_counters():
    r = control({"op": "exception"})
    assert r["ok"], r
    return r


class ExceptionPath(OwnDataplaneTestCase):
    """Its own dataplane: inet0 admits UDP 500/4500 (and 5000) to the gateway, and the host
    kernel routes the Internet side's prefixes through the TUN."""

    @classmethod
    def config_text(cls, admit=True):
        text = default_config_text()
        return with_rules(text, "inet0", "ingress", IKE_RULES) if admit else text

    @classmethod
    def own_config(cls):
        cls.config = write_config(CONFIG_NAME, cls.config_text())
        return cls.config

    @classmethod
    def own_args(cls):
        args = []
        for prefix in ROUTES:
            args += ["--exception-route", prefix]
        return args

    def reload(self, text):
        self.config.write_text(text)
        since = log_offset()
        self.dataplane.reload()
        m = wait_for_log(r"^event exception-sync(-failed)? epoch=(\d+).*$", since, timeout=10)
        self.assertIsNotNone(m, "no exception-sync event within 10 s of the reload")
        self.assertIsNone(m.group(1), m.group(0))

    def tun_addresses(self):
        r = ns(GW_NS, "ip", "-j", "addr", "show", "dev", TUN)
        self.assertEqual(r.rc, 0, str(r))
        return {f"{a['local']}/{a['prefixlen']}" for a in json.loads(r.out)[0]["addr_info"]}

    def exchange(self, family, port, payload):
        """A datagram from INET1 (source port `port`) to the gateway's `port`, answered by a
        server in the host kernel: (what the server received, the client's answer)."""
        src, dst = (INET1.v4, GW4) if family == 4 else (INET1.v6, GW6)
        with Server(family, port) as server:
            answer = client(src, port, dst, port, payload)
            got = server.datagrams()
        return got, answer

    def test_1_tun_holds_the_gateway_addresses_and_routes(self):
        self.assertEqual(self.tun_addresses(), {
            "198.18.1.1/32", "198.18.2.1/32", "198.18.3.1/32", "203.0.113.1/32",
            "2001:db8:1::1/128", "2001:db8:2::1/128", "2001:db8:3::1/128", "2001:db8:100::1/128"})
        r4 = ns(GW_NS, "ip", "-j", "route", "show", "dev", TUN)
        r6 = ns(GW_NS, "ip", "-j", "-6", "route", "show", "dev", TUN)
        routes = {(r["dst"], r.get("prefsrc")) for r in json.loads(r4.out) + json.loads(r6.out)}
        self.assertIn(("203.0.113.0/24", GW4), routes)
        self.assertIn(("2001:db8:100::/64", GW6), routes)
        # The kernel ends of the dataplane's ports answer nothing and take nothing.
        r = ns(GW_NS, "sysctl", "-n", "net.ipv4.conf.dp-inet.arp_ignore", "net.ipv4.conf.dp-inet.rp_filter")
        self.assertEqual(r.out.split(), ["8", "1"], str(r))

    def test_2_ike_500_reaches_the_host_kernel_and_its_reply_returns_R128_h(self):
        before = exception_counters()
        got, answer = self.exchange(4, 500, b"ike-sa-init")
        self.assertTrue(got, f"the host kernel's server got nothing; client: {answer}")
        self.assertEqual(got[0], (b"ike-sa-init", (INET1.v4, 500)))
        self.assertEqual(answer["reply"], b"re:ike-sa-init".hex(), answer)
        self.assertEqual(answer["from"], [GW4, 500])
        after = exception_counters()
        self.assertGreaterEqual(after["to_tun"] - before["to_tun"], 1)
        self.assertGreaterEqual(after["from_tun"] - before["from_tun"], 1)
        self.assertGreaterEqual(after["sent"] - before["sent"], 1)

    def test_3_ike_4500_with_the_zero_marker_reaches_the_host_kernel(self):
        payload = b"\0\0\0\0ike-auth"
        got, answer = self.exchange(4, 4500, payload)
        self.assertTrue(got, f"the host kernel's server got nothing; client: {answer}")
        self.assertEqual(got[0], (payload, (INET1.v4, 4500)))
        self.assertEqual(answer["reply"], (b"re:" + payload).hex(), answer)
        self.assertEqual(answer["from"], [GW4, 4500])

    def test_4_esp_in_udp_and_other_ports_do_not_reach_the_host_kernel(self):
        before = drops()
        with Server(4, 4500) as esp_server, Server(4, 5000) as other_server:
            esp = client(INET1.v4, 4500, GW4, 4500, b"\x00\x00\x10\x01esp", seconds=2)
            other = client(INET1.v4, 5000, GW4, 5000, b"\0\0\0\0not-ike", seconds=2)
            self.assertEqual(esp_server.datagrams(), [])
            self.assertEqual(other_server.datagrams(), [])
        self.assertIsNone(esp["reply"], esp)
        self.assertIsNone(other["reply"], other)
        # inet0's address is also the NAPT pool of the inside LANs: datagrams to its pool
        # ports that are not IKE belong to no translation; elsewhere they stay local.
        sent = esp["sent"] + other["sent"]
        after = drops()
        dropped = sum(after[k] - before[k] for k in ("local_unhandled", "nat_no_mapping"))
        self.assertGreaterEqual(dropped, sent, after)

    def test_5_ike_over_ipv6_reaches_the_host_kernel_and_its_reply_returns(self):
        got, answer = self.exchange(6, 500, b"ike-sa-init-v6")
        self.assertTrue(got, f"the host kernel's server got nothing; client: {answer}")
        self.assertEqual(got[0][0], b"ike-sa-init-v6")
        self.assertEqual(got[0][1][:2], (INET1.v6, 500))
        self.assertEqual(answer["reply"], b"re:ike-sa-init-v6".hex(), answer)
        self.assertEqual(answer["from"][:2], [GW6, 500])

    def test_6_the_host_cannot_send_from_an_address_not_the_gateways(self):
        before = exception_counters()
        with Capture(INET1.ns, "udp port 7777") as cap:
            for src in ("198.18.99.1", GW4):  # the second is the control: it passes
                r = ns(GW_NS, PYTHON, "-c", RAW_SEND, src, INET1.v4, "7777")
                self.assertEqual(r.rc, 0, str(r))
            deadline = time.monotonic() + 3
            while cap.count() < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
        lines = cap.lines()
        cap.cleanup()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(f"{GW4}.500 > {INET1.v4}.7777", lines[0])
        after = exception_counters()
        foreign = after["drops"]["exception_foreign_source"] - before["drops"]["exception_foreign_source"]
        self.assertEqual(foreign, 1, after)

    def test_7_without_the_admitting_rule_nothing_reaches_the_host_R139_4(self):
        try:
            # The same reload gives inet0 one more address: the TUN follows it.
            text = self.config_text(admit=False).replace(
                "address 203.0.113.1/24;", "address 203.0.113.1/24;\n        address 203.0.113.2/24;", 1)
            self.assertIn("203.0.113.2/24", text)
            before = drops()
            self.reload(text)
            self.assertIn("203.0.113.2/32", self.tun_addresses())
            for family, port, payload in ((4, 500, b"ike"), (4, 4500, b"\0\0\0\0ike"), (6, 500, b"ike")):
                with self.subTest(family=family, port=port):
                    src, dst = (INET1.v4, GW4) if family == 4 else (INET1.v6, GW6)
                    with Server(family, port) as server:
                        answer = client(src, port, dst, port, payload, seconds=2)
                        self.assertEqual(server.datagrams(), [])
                    self.assertIsNone(answer["reply"], answer)
            self.assertGreaterEqual(drops()["default_deny"] - before["default_deny"], 3)
        finally:
            self.reload(self.config_text())
        self.assertNotIn("203.0.113.2/32", self.tun_addresses())

    def test_8_the_device_goes_when_the_dataplane_stops(self):
        self.assertEqual(ns(GW_NS, "ip", "link", "show", "dev", TUN).rc, 0)
        self.assertEqual(self.dataplane.stop(), 0)
        r = ns(GW_NS, "ip", "link", "show", "dev", TUN)
        self.assertNotEqual(r.rc, 0, f"{TUN} is still there after the dataplane stopped:\n{r}")


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: GPL-2.0-or-later
# Reject rules answer for the destination (R128-g): a TCP RST for tcp 8080 and an ICMP
# administratively-prohibited unreachable for udp 9, while the server never sees a packet.

import unittest

from labkit import GATEWAY, INET1, OUTER1, Capture, LabTestCase, curl, ns_python, ns_scapy

# curl words every failed connect alike; the errno tells a RST from anything else.
CONNECT_ERRNO = """
import errno, json, socket
fam = socket.AF_INET6 if ":" in DST else socket.AF_INET
with socket.socket(fam, socket.SOCK_STREAM) as s:
    s.settimeout(3)
    try:
        s.connect((DST, 8080))
        print(json.dumps("connected"))
    except OSError as e:
        print(json.dumps(errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__))
"""

UDP9_PROBE = """
dst = DST
if ":" in dst:
    ans = sr1(IPv6(dst=dst) / UDP(sport=40009, dport=9) / b"qorgan", timeout=3)
else:
    ans = sr1(IP(dst=dst) / UDP(sport=40009, dport=9) / b"qorgan", timeout=3)
out = None
if ans is not None:
    l3 = ans[IP] if IP in ans else ans[IPv6]
    icmp = ans[ICMP] if ICMP in ans else (ans[ICMPv6DestUnreach] if ICMPv6DestUnreach in ans else None)
    quoted = ans[UDPerror] if UDPerror in ans else None
    out = {"src": l3.src, "type": icmp.type if icmp is not None else None,
           "code": icmp.code if icmp is not None else None,
           "quoted_dport": quoted.dport if quoted is not None else None}
print(json.dumps(out))
"""


class Reject(LabTestCase):
    def test_tcp_8080_refused_by_gateway_R128_g(self):
        for addr in (INET1.v4, INET1.v6):
            with self.subTest(addr=addr):
                src = OUTER1.v4 if ":" not in addr else OUTER1.v6
                rule = self.policy.decide("outer0", "ingress", 6, src, addr, 40000, 8080)
                self.assertEqual(rule.action, "reject")
                with Capture(INET1.ns) as cap:
                    r = curl(OUTER1, addr, port=8080, timeout=5)
                    refused = ns_python(OUTER1.ns, f"DST = {addr!r}\n" + CONNECT_ERRNO)
                self.assertEqual(r.rc, 7, str(r))  # curl: failed to connect
                self.assertLess(r.seconds, 2.0, "a RST answers at once; a drop would time out")
                self.assertEqual(refused, "ECONNREFUSED")
                self.assertEqual(cap.count("tcp port 8080"), 0, "\n".join(cap.lines()))
                cap.cleanup()

    def test_udp_9_draws_admin_prohibited_unreachable_R128_g(self):
        expected = {4: (3, 13), 6: (1, 1)}  # ICMP comm. admin. prohibited; ICMPv6 admin. prohibited
        for addr, fam, gw in ((INET1.v4, 4, GATEWAY["outer0"][0]), (INET1.v6, 6, GATEWAY["outer0"][1])):
            with self.subTest(addr=addr):
                src = OUTER1.v4 if fam == 4 else OUTER1.v6
                rule = self.policy.decide("outer0", "ingress", 17, src, addr, 40009, 9)
                self.assertEqual(rule.action, "reject")
                with Capture(INET1.ns) as cap:
                    ans = ns_scapy(OUTER1.ns, f"DST = {addr!r}\n" + UDP9_PROBE)
                self.assertIsNotNone(ans, "no ICMP answer to udp 9")
                self.assertEqual((ans["type"], ans["code"]), expected[fam], ans)
                self.assertEqual(ans["quoted_dport"], 9, ans)
                self.assertEqual(ans["src"], gw, ans)
                self.assertEqual(cap.count("udp port 9"), 0, "\n".join(cap.lines()))
                cap.cleanup()


if __name__ == "__main__":
    unittest.main()

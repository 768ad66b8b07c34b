# SPDX-License-Identifier: GPL-2.0-or-later
# A packet whose TTL / hop limit runs out at the gateway draws ICMP time-exceeded from the
# gateway's address on the sender's LAN (traceroute's first hop), and is not forwarded.

import unittest

from labkit import GATEWAY, INET1, OUTER1, Capture, LabTestCase, ns_scapy

PROBE = """
if ":" in DST:
    ans = sr1(IPv6(dst=DST, hlim=1) / UDP(sport=33434, dport=53) / DNS(rd=1, qd=DNSQR(qname="web.lab.example")), timeout=3)
else:
    ans = sr1(IP(dst=DST, ttl=1) / UDP(sport=33434, dport=53) / DNS(rd=1, qd=DNSQR(qname="web.lab.example")), timeout=3)
out = None
if ans is not None:
    l3 = ans[IP] if IP in ans else ans[IPv6]
    icmp = ans[ICMP] if ICMP in ans else (ans[ICMPv6TimeExceeded] if ICMPv6TimeExceeded in ans else None)
    out = {"src": l3.src, "type": icmp.type if icmp is not None else None,
           "code": icmp.code if icmp is not None else None,
           "quoted_dport": ans[UDPerror].dport if UDPerror in ans else None}
print(json.dumps(out))
"""


class Ttl(LabTestCase):
    def test_ttl_1_draws_time_exceeded(self):
        expected = {INET1.v4: (11, 0, GATEWAY["outer0"][0]), INET1.v6: (3, 0, GATEWAY["outer0"][1])}
        for addr, (itype, code, gw) in expected.items():
            with self.subTest(addr=addr):
                with Capture(INET1.ns) as cap:
                    ans = ns_scapy(OUTER1.ns, f"DST = {addr!r}\n" + PROBE)
                self.assertIsNotNone(ans, "no time-exceeded")
                self.assertEqual((ans["type"], ans["code"], ans["src"]), (itype, code, gw), ans)
                self.assertEqual(ans["quoted_dport"], 53, ans)
                self.assertEqual(cap.count("udp port 53 and (src host 198.18.2.11 or src host 2001:db8:2::11)"), 0,
                                 "an expired packet was forwarded:\n" + "\n".join(cap.lines()))
                cap.cleanup()


if __name__ == "__main__":
    unittest.main()

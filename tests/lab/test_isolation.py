# SPDX-License-Identifier: GPL-2.0-or-later
# What must not pass: the inner loop never reaches the Internet (R139-8), and nothing
# unsolicited comes in from the Internet (R128-g default deny). Captures prove it.

import re
import unittest

from labkit import INET1, INNER1, OUTER1, Capture, LabTestCase, curl, ns, ping

INNER_SOURCES = "src net 198.18.1.0/24 or src net 2001:db8:1::/64"
INET_SOURCES = "src net 203.0.113.0/24 or src net 2001:db8:100::/64"


class InnerNeverReachesInternet(LabTestCase):
    def test_inner1_to_inet1_blocked_R139_8(self):
        with Capture(INET1.ns) as cap:
            for addr in (INET1.v4, INET1.v6):
                with self.subTest(addr=addr, client="curl"):
                    self.assertFails(curl(INNER1, addr, timeout=3))
                with self.subTest(addr=addr, client="ping"):
                    self.assertFails(ping(INNER1, addr, count=2, timeout=1))
        self.assertEqual(cap.count(INNER_SOURCES), 0, "\n".join(cap.lines()))
        cap.cleanup()

    def test_policy_admits_nothing_from_inner_to_internet_R139_8(self):
        # A packet crosses when inner0 ingress and inet0 egress both accept it.
        for src, dst, icmp_proto, echo in ((INNER1.v4, INET1.v4, 1, 8), (INNER1.v6, INET1.v6, 58, 128)):
            for proto, dport, itype in ((6, 80, None), (6, 443, None), (17, 53, None), (icmp_proto, 0, echo)):
                with self.subTest(dst=dst, proto=proto, dport=dport):
                    verdicts = [self.policy.first_match(iface, direction, proto, src, dst, 40000, dport, icmp_type=itype)
                                for iface, direction in (("inner0", "ingress"), ("inet0", "egress"))]
                    crosses = all(r is not None and r.action == "accept" for r in verdicts)
                    self.assertFalse(crosses, f"{verdicts} let inner reach the Internet")


class NoUnsolicitedInbound(LabTestCase):
    def test_curl_from_inet1_to_inner1_and_outer1_fails(self):
        with Capture(OUTER1.ns) as cap_outer, Capture(INNER1.ns) as cap_inner:
            for target in (INNER1.v4, INNER1.v6, OUTER1.v4, OUTER1.v6):
                with self.subTest(target=target):
                    self.assertFails(curl(INET1, target, timeout=3))
        self.assertEqual(cap_outer.count(INET_SOURCES), 0, "\n".join(cap_outer.lines()))
        self.assertEqual(cap_inner.count(INET_SOURCES), 0, "\n".join(cap_inner.lines()))
        cap_outer.cleanup()
        cap_inner.cleanup()

    def test_syn_scans_from_inet1_to_outer1_fail(self):
        with Capture(OUTER1.ns) as cap:
            h = ns(INET1.ns, "hping3", "-S", "-p", "80", "-c", "5", "-i", "u200000", OUTER1.v4, timeout=15)
            m = re.search(r"(\d+) packets transmitted, (\d+) packets received", h.out + h.err)
            self.assertIsNotNone(m, str(h))
            self.assertEqual((m.group(1), m.group(2)), ("5", "0"), str(h))
            for addr, extra in ((OUTER1.v4, []), (OUTER1.v6, ["-6"])):
                with self.subTest(addr=addr):
                    r = ns(INET1.ns, "nmap", *extra, "-sS", "-Pn", "-n", "--max-retries", "1",
                           "--host-timeout", "20s", "-p", "22,80,443", addr, timeout=40)
                    self.assertOk(r)
                    self.assertIn("filtered", r.out)
                    self.assertNotRegex(r.out, r"\d+/tcp\s+(open|closed)\s")
        self.assertEqual(cap.count(INET_SOURCES), 0, "\n".join(cap.lines()))
        cap.cleanup()


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: GPL-2.0-or-later
# Allowed traffic crosses the gateway (R128-g): web, DNS, iperf3 and ping, over IPv4 and
# IPv6, and the replies come back through the flow table without a rule of their own.

import unittest

from labkit import DMZ1, DMZ1_PAGE, GATEWAY, INET1, INET1_PAGE, INNER1, LAN_HOST, OUTER1, LabTestCase, curl, dig, ns, ping


class Forwarding(LabTestCase):
    def test_outer1_reaches_inet1_web_R128_g(self):
        for addr in (INET1.v4, INET1.v6):
            with self.subTest(addr=addr):
                r = curl(OUTER1, addr)
                self.assertOk(r)
                self.assertEqual(r.out.strip(), INET1_PAGE)

    def test_outer1_resolves_at_inet1_dns_udp_and_tcp(self):
        for server in (INET1.v4, INET1.v6):
            for tcp in (False, True):
                with self.subTest(server=server, tcp=tcp):
                    a = dig(OUTER1, server, rtype="A", tcp=tcp)
                    self.assertOk(a)
                    self.assertEqual(a.out.split(), [INET1.v4])
                    aaaa = dig(OUTER1, server, rtype="AAAA", tcp=tcp)
                    self.assertOk(aaaa)
                    self.assertEqual(aaaa.out.split(), [INET1.v6])

    def test_inner1_reaches_dmz1_web_R139_7(self):
        for addr in (DMZ1.v4, DMZ1.v6):
            with self.subTest(addr=addr):
                r = curl(INNER1, addr)
                self.assertOk(r)
                self.assertEqual(r.out.strip(), DMZ1_PAGE)

    def test_outer1_reaches_dmz1_web(self):
        for addr in (DMZ1.v4, DMZ1.v6):
            with self.subTest(addr=addr):
                r = curl(OUTER1, addr)
                self.assertOk(r)
                self.assertEqual(r.out.strip(), DMZ1_PAGE)

    def test_iperf3_tcp_and_udp_outer1_to_inet1(self):
        for addr in (INET1.v4, INET1.v6):
            for udp in (False, True):
                with self.subTest(addr=addr, udp=udp):
                    args = ["iperf3", "-c", addr, "-t", "1", "-J"] + (["-u", "-b", "10M"] if udp else [])
                    r = ns(OUTER1.ns, *args, timeout=20)
                    self.assertOk(r)
                    self.assertIn('"sum_received"' if not udp else '"sum"', r.out)
                    self.assertNotIn('"error"', r.out)

    def test_replies_pass_without_a_rule_R128_g(self):
        # No rule of inet0 ingress admits a DNS or web reply: only the flow created by the
        # outer0 ingress accept lets it back (stateful filtering).
        for src, dst in ((INET1.v4, OUTER1.v4), (INET1.v6, OUTER1.v6)):
            for proto, sport in ((17, 53), (6, 80)):
                with self.subTest(src=src, proto=proto):
                    rule = self.policy.first_match("inet0", "ingress", proto, src, dst, sport, 40000)
                    self.assertIsNone(rule, f"{rule} would admit the reply by itself")
                    if proto == 17:
                        r = dig(OUTER1, src, rtype="A")
                        self.assertOk(r)
                        self.assertEqual(r.out.split(), [INET1.v4])
                    else:
                        r = curl(OUTER1, src)
                        self.assertOk(r)
                        self.assertEqual(r.out.strip(), INET1_PAGE)

    def test_gateway_answers_ping_on_every_lan(self):
        for iface, (gw4, gw6) in GATEWAY.items():
            host = LAN_HOST[iface]
            for addr in (gw4, gw6):
                with self.subTest(iface=iface, addr=addr):
                    r = ping(host, addr, count=2)
                    self.assertOk(r)
                    self.assertIn("2 received", r.out)


if __name__ == "__main__":
    unittest.main()

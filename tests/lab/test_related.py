# SPDX-License-Identifier: GPL-2.0-or-later
# Related ICMP errors (R128-g): an error quoting a tracked flow passes back to its client;
# one quoting no flow goes through the rules and meets the default deny.

import unittest

from labkit import INET1, OUTER1, Capture, LabTestCase, ns, ns_python, ns_scapy, wait_for_counts

# Accepted from outer0 by rules 32/33 of the default policy; iperf3 listens on TCP only.
CLOSED_UDP_PORT = 5201

CONNECTED_UDP = """
import errno, json, socket
fam = socket.AF_INET6 if ":" in DST else socket.AF_INET
with socket.socket(fam, socket.SOCK_DGRAM) as s:
    s.settimeout(3)
    s.connect((DST, PORT))
    s.send(b"qorgan related icmp")
    try:
        s.recv(2048)
        print(json.dumps("answered"))
    except socket.timeout:
        print(json.dumps("timeout"))
    except OSError as e:
        print(json.dumps(errno.errorcode.get(e.errno, str(e))))
"""

# An unreachable for a flow that never existed, sent from the "Internet" to outer1.
FORGED_UNREACHABLE = """
if ":" in DST:
    p = IPv6(src=SRC, dst=DST) / ICMPv6DestUnreach(code=4) / IPv6(src=DST, dst=SRC) / UDP(sport=47123, dport=5299)
else:
    p = IP(src=SRC, dst=DST) / ICMP(type=3, code=3) / IP(src=DST, dst=SRC) / UDP(sport=47123, dport=5299)
send(p / b"never sent")
print(json.dumps(True))
"""


class RelatedIcmp(LabTestCase):
    def test_port_unreachable_for_tracked_flow_passes_R128_g(self):
        for dst, src in ((INET1.v4, OUTER1.v4), (INET1.v6, OUTER1.v6)):
            with self.subTest(dst=dst):
                rule = self.policy.decide("outer0", "ingress", 17, src, dst, 40000, CLOSED_UDP_PORT)
                self.assertEqual(rule.action, "accept")
                listening = ns(INET1.ns, "ss", "-Hlnu", f"sport = :{CLOSED_UDP_PORT}")
                self.assertEqual(listening.out.strip(), "", f"udp {CLOSED_UDP_PORT} must be closed on inet1")
                stats = self.tel.query("/qorgan/stats")
                got = ns_python(OUTER1.ns, f"DST = {dst!r}\nPORT = {CLOSED_UDP_PORT}\n" + CONNECTED_UDP)
                self.assertEqual(got, "ECONNREFUSED", "the server's port unreachable did not reach outer1")
                diff = wait_for_counts(self.tel, "/qorgan/stats", stats, {"related_icmp": 1})
                self.assertEqual(diff.get("related_icmp", 0), 1, diff)

    def test_unrelated_unreachable_is_denied_R128_g(self):
        for dst, src, bpf in ((OUTER1.v4, INET1.v4, "icmp"), (OUTER1.v6, INET1.v6, "icmp6 and ip6[40] == 1")):
            with self.subTest(dst=dst):
                self.assertIsNone(self.policy.first_match("inet0", "ingress", 1 if bpf == "icmp" else 58,
                                                          src, dst, icmp_type=3 if bpf == "icmp" else 1))
                drops = self.tel.query("/qorgan/drops")
                stats = self.tel.query("/qorgan/stats")
                with Capture(OUTER1.ns, bpf) as cap:
                    self.assertTrue(ns_scapy(INET1.ns, f"SRC = {src!r}\nDST = {dst!r}\n" + FORGED_UNREACHABLE))
                    diff = wait_for_counts(self.tel, "/qorgan/drops", drops, {"default_deny": 1})
                self.assertEqual(cap.count(), 0, "\n".join(cap.lines()))
                self.assertEqual(diff.get("default_deny", 0), 1, diff)
                related = self.tel.query("/qorgan/stats")["related_icmp"] - stats["related_icmp"]
                self.assertEqual(related, 0, "an error quoting no flow was counted as related")
                cap.cleanup()


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: GPL-2.0-or-later
# Rule hit counters count exactly the packets a rule decided (R128-g), and a logging drop
# rule writes a rule-log line to the dataplane's stdout.

import re
import time
import unittest

from labkit import INET1, OUTER1, Dataplane, LabTestCase, ns_python, ns_scapy, wait_for_counts

SYNS = 20
QUERIES = 10

SYN_BURST = """
l3 = IPv6(dst=DST) if ":" in DST else IP(dst=DST)
send(l3 / TCP(sport=(41000, 41000 + COUNT - 1), dport=23, flags="S", seq=1000))
print(json.dumps(COUNT))
"""

DNS_QUERIES = """
import json, socket, struct
fam = socket.AF_INET6 if ":" in DST else socket.AF_INET
socks, answered = [], 0
for i in range(COUNT):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind(("", 0))  # a distinct source port each: a new flow each
    s.settimeout(2)
    qid = 0x5100 + i
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + b"\\x03web\\x03lab\\x07example\\x00" + struct.pack("!HH", 1, 1)
    s.sendto(query, (DST, 53))
    socks.append((s, qid))
ports = {s.getsockname()[1] for s, _ in socks}
for s, qid in socks:
    try:
        data = s.recv(512)
        if struct.unpack("!H", data[:2])[0] == qid and struct.unpack("!H", data[6:8])[0] >= 1:
            answered += 1
    except socket.timeout:
        pass
    s.close()
print(json.dumps({"ports": len(ports), "answered": answered}))
"""


def count_log_lines(pattern):
    return len(re.findall(pattern, Dataplane.log_text()))


class RuleCounters(LabTestCase):
    def test_drop_rule_hits_equal_syns_sent_and_log_R128_g(self):
        for dst, src in ((INET1.v4, OUTER1.v4), (INET1.v6, OUTER1.v6)):
            with self.subTest(dst=dst):
                rule = self.policy.decide("outer0", "ingress", 6, src, dst, 41000, 23)
                self.assertEqual(rule.action, "drop")
                self.assertTrue(rule.log, f"{rule.key} should log")
                pattern = (rf"rule-log iface=outer0 dir=ingress rule={rule.id} action=drop proto=6 "
                           rf"src={re.escape(src)} sport=4\d+ dst={re.escape(dst)} dport=23\b")
                logged_before = count_log_lines(pattern)
                before = self.tel.query("/qorgan/rules")
                sent = ns_scapy(OUTER1.ns, f"DST = {dst!r}\nCOUNT = {SYNS}\n" + SYN_BURST)
                self.assertEqual(sent, SYNS)
                diff = wait_for_counts(self.tel, "/qorgan/rules", before, {f"{rule.key}/hits": SYNS})
                self.assertEqual(diff.get(f"{rule.key}/hits"), SYNS, diff)
                logged = 0
                for _ in range(50):  # bounded: 5 s for stdout to reach the log file
                    logged = count_log_lines(pattern) - logged_before
                    if logged >= 1:
                        break
                    time.sleep(0.1)
                self.assertGreaterEqual(logged, 1, "no rule-log line (is stdout flushed per line?)")
                self.assertLessEqual(logged, SYNS)

    def test_accept_rule_hits_equal_new_dns_flows_R128_g(self):
        for dst, src in ((INET1.v4, OUTER1.v4), (INET1.v6, OUTER1.v6)):
            with self.subTest(dst=dst):
                rule = self.policy.decide("outer0", "ingress", 17, src, dst, 40000, 53)
                self.assertEqual(rule.action, "accept")
                before = self.tel.query("/qorgan/rules")
                result = ns_python(OUTER1.ns, f"DST = {dst!r}\nCOUNT = {QUERIES}\n" + DNS_QUERIES)
                self.assertEqual(result, {"ports": QUERIES, "answered": QUERIES})
                diff = wait_for_counts(self.tel, "/qorgan/rules", before, {f"{rule.key}/hits": QUERIES})
                self.assertEqual(diff.get(f"{rule.key}/hits"), QUERIES, diff)
                self.assertGreater(diff.get(f"{rule.key}/bytes", 0), 0, diff)


if __name__ == "__main__":
    unittest.main()

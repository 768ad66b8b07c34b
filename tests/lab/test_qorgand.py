# SPDX-License-Identifier: GPL-2.0-or-later
# qorgand with the real dataplane (issue 3): commits through the shell reach the fast path,
# compliance refusals change nothing (R139-8), 20 commits of unrelated rules lose no packet
# of a running UDP stream, and kill -9 of qorgand leaves established flows forwarding and
# its restart disturbs nothing (R139-4: the running revision is checked, not re-pushed).

import json
import subprocess
import time
import unittest

from labkit import INET1, OUTER1, LabTestCase, Qorgand, ns


def epoch(tel):
    return tel.query("/qorgan/stats")["policy_epoch"]


def iperf3_udp(seconds, rate="20M"):
    """Starts an iperf3 UDP stream outer1 -> inet1 in the background; returns the Popen."""
    return subprocess.Popen(
        ["ip", "netns", "exec", OUTER1.ns, "iperf3", "-c", INET1.v4, "-u", "-b", rate, "-l", "1000",
         "-t", str(seconds), "-J", "-w", "2M"],  # 2 MB socket buffers: a receiver the host
        # scheduler holds back must not drop what the gateway delivered (RcvbufErrors)
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def iperf3_result(proc, timeout):
    out, err = proc.communicate(timeout=timeout)
    data = json.loads(out)
    if "error" in data:
        raise AssertionError(f"iperf3: {data['error']}")
    s = data["end"]["sum"]
    return s["packets"], s["lost_packets"]


def connect_refused(addr, port, timeout=3):
    """True when a TCP connect from outer1 is refused (an RST), False on timeout."""
    src = (f"import socket\ns = socket.socket()\ns.settimeout({timeout})\n"
           f"try:\n    s.connect(({addr!r}, {port}))\n    print('connected')\n"
           f"except ConnectionRefusedError:\n    print('refused')\nexcept OSError as e:\n    print('timeout')\n")
    r = ns(OUTER1.ns, "/usr/bin/python3", "-c", src, timeout=timeout + 5)
    return r.out.strip()


class Qorgand_(LabTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.q = Qorgand().start()

    @classmethod
    def tearDownClass(cls):
        cls.q.stop()

    def commit(self, *sets, comment="lab"):
        r = self.q.cli("configure", *sets, f'commit comment "{comment}"', "exit")
        self.assertEqual(r.rc, 0, str(r))
        self.assertIn("commit complete", r.out, str(r))
        return r

    def test_1_commit_reaches_the_fast_path(self):
        self.assertEqual(connect_refused(INET1.v4, 8081), "timeout")  # default deny
        before = epoch(self.tel)
        self.commit("set policy outer0 ingress rule 62 protocol tcp",
                    "set policy outer0 ingress rule 62 destination-port 8081",
                    "set policy outer0 ingress rule 62 action reject")
        self.assertEqual(epoch(self.tel), before + 1)
        self.assertEqual(connect_refused(INET1.v4, 8081), "refused")
        r = self.q.cli("show security policies outer0")
        self.assertIn("62", r.out)
        r = self.q.cli("show system commits")
        self.assertRegex(r.out, r"\n2\s+\S+ \S+ UTC\s+netadmin\s+[0-9a-f]{12}\s+lab\s+running")

    def test_2_compliance_refusal_changes_nothing_R139_8(self):
        before = epoch(self.tel)
        r = self.q.cli("configure", "set policy inner0 ingress rule 90 protocol tcp",
                       "set policy inner0 ingress rule 90 destination 203.0.113.0/24",
                       "set policy inner0 ingress rule 90 action accept",
                       "delete policy inet0 egress rule 10", "commit", "exit discard")
        self.assertNotEqual(r.rc, 0, str(r))
        self.assertIn("R139-8", r.out + r.err)
        self.assertIn("policy inner0 ingress rule 90", r.out + r.err)
        self.assertEqual(epoch(self.tel), before)

    def test_3_twenty_commits_lose_no_packet_of_a_running_stream(self):
        stream = iperf3_udp(14)
        time.sleep(1.5)
        for i in range(20):
            self.commit(f'set policy outer0 ingress rule 61 description "commit {i}"',
                        comment=f"commit {i}")
        packets, lost = iperf3_result(stream, timeout=40)
        self.assertGreater(packets, 1000)
        self.assertEqual(lost, 0, f"{lost} of {packets} packets lost across 20 commits")

    def test_4_kill_9_leaves_flows_forwarding_and_restart_disturbs_nothing(self):
        before = epoch(self.tel)
        stream = iperf3_udp(8)
        time.sleep(2)
        self.q.kill9()
        packets, lost = iperf3_result(stream, timeout=30)
        self.assertGreater(packets, 500)
        self.assertEqual(lost, 0)
        # The same state directory: qorgand finds the dataplane in step and pushes nothing.
        self.q.start(fresh=False)
        self.assertEqual(epoch(self.tel), before)
        self.assertIn("(the same)", self.q.cli("show system integrity").out)


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: GPL-2.0-or-later
# Two worker lcores: af_packet fans flows out over two queue pairs, and both directions of
# every flow must meet the worker that holds its state.

import unittest

from labkit import (INET1, OUTER1, OwnDataplaneTestCase, curl, default_config_text, ns_python, ping,
                    wait_for_counts, write_config)

PARALLEL_TCP = """
import json, socket, threading, time
fam = socket.AF_INET6 if ":" in DST else socket.AF_INET
results = ["unfinished"] * N
def fetch(i):
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(8)
            s.bind(("", BASE_PORT + i))
            s.connect((DST, 80))
            s.sendall(b"GET / HTTP/1.0\\r\\nHost: inet1\\r\\n\\r\\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        results[i] = data.startswith(b"HTTP/1.0 200") and b"qorgan-lab inet1" in data
    except OSError as e:
        results[i] = str(e)
# Daemon threads and one deadline: the script always prints what happened to each port.
threads = [threading.Thread(target=fetch, args=(i,), daemon=True) for i in range(N)]
for t in threads:
    t.start()
deadline = time.monotonic() + 25
for t in threads:
    t.join(max(0.0, deadline - time.monotonic()))
print(json.dumps(results))
"""

DNS_FROM_MANY_PORTS = """
import json, select, socket, struct, time
fam = socket.AF_INET6 if ":" in DST else socket.AF_INET
name = b"".join(bytes([len(p)]) + p for p in b"web.lab.example".split(b".")) + b"\\0"
socks = []
for i in range(N):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind(("", BASE_PORT + i))
    s.connect((DST, 53))
    s.send(struct.pack("!HHHHHH", 0x7000 + i, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1))
    socks.append(s)
answered = [False] * N
deadline = time.monotonic() + 5
while not all(answered) and time.monotonic() < deadline:
    ready, _, _ = select.select(socks, [], [], max(0.0, deadline - time.monotonic()))
    for s in ready:
        i = socks.index(s)
        try:
            reply = s.recv(2048)
        except OSError:
            continue
        rid, _, _, ancount = struct.unpack("!HHHH", reply[:8])
        answered[i] = rid == 0x7000 + i and ancount >= 1
for s in socks:
    s.close()
print(json.dumps(answered))
"""


class TwoWorkers(OwnDataplaneTestCase):
    """Runs its own dataplane with `workers 2`; the shared one is restored after."""

    @classmethod
    def own_config(cls):
        text = default_config_text()
        cls.assert_workers_line = "workers 1;" in text
        return write_config("test-workers.conf", text.replace("workers 1;", "workers 2;"))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Resolve the gateway's neighbours first: a burst towards an unresolved neighbour
        # overflows its hold queue (16 frames), which is not what these tests measure.
        cls.warm = [ping(OUTER1, addr, count=1) for addr in (INET1.v4, INET1.v6)]

    def test_runs_two_workers(self):
        self.assertTrue(self.assert_workers_line, "the default config no longer says `workers 1;`")
        for r in self.warm:
            self.assertEqual(r.rc, 0, f"outer1 cannot ping inet1 through two workers\n{r}")
        self.assertIn("2 workers", self.dataplane.log_text())

    def test_curl_v4_v6_with_two_workers(self):
        for addr in (INET1.v4, INET1.v6):
            with self.subTest(addr=addr):
                flows = self.tel.query("/qorgan/flows")
                r = curl(OUTER1, addr, timeout=5)
                self.assertEqual(r.rc, 0, str(r))
                self.assertIn("qorgan-lab inet1", r.out)
                diff = wait_for_counts(self.tel, "/qorgan/flows", flows, {"created": 1})
                self.assertEqual(diff.get("created", 0), 1, diff)

    def queue_rx(self):
        """Packets received per rx queue of outer0 and inet0 (queue q feeds worker q)."""
        ports = self.tel.query("/qorgan/ports")
        return {name: self.tel.query(f"/ethdev/stats,{ports[name]['port_id']}")["q_ipackets"][:2]
                for name in ("outer0", "inet0")}

    def test_30_parallel_tcp_connections_complete(self):
        n = 30
        for addr, base in ((INET1.v4, 41000), (INET1.v6, 41100)):
            with self.subTest(addr=addr):
                queues = self.queue_rx()
                flows = self.tel.query("/qorgan/flows")
                drops = self.tel.query("/qorgan/drops")
                nat = self.tel.query("/qorgan/nat")
                results = ns_python(OUTER1.ns, f"DST = {addr!r}\nN = {n}\nBASE_PORT = {base}\n" + PARALLEL_TCP,
                                    timeout=40)
                failed = {base + i: r for i, r in enumerate(results) if r is not True}
                drop_diff = {k: v for k, v in wait_for_counts(self.tel, "/qorgan/drops", drops, {}).items() if v}
                self.assertEqual(failed, {}, f"connections that failed (by source port); drops: {drop_diff}")
                diff = wait_for_counts(self.tel, "/qorgan/flows", flows, {"created": n})
                self.assertEqual(diff.get("created", 0), n, diff)
                if ":" not in addr:
                    # The default config hides outer1 behind inet0 (NAPT): the replies come
                    # back to 203.0.113.1 on another 5-tuple, and those the kernel gives to
                    # the other worker are handed to the owner of their port (DESIGN.md).
                    nd = wait_for_counts(self.tel, "/qorgan/nat", nat, {"source": n})
                    self.assertEqual(nd.get("source", 0), n, nd)
                    self.assertGreater(nd.get("handoffs", 0), 0, nd)
                    self.assertEqual(nd.get("handoff_full", 0), 0, nd)
                # 30 flows spread over both queues of each port: both workers carried traffic
                after = self.queue_rx()
                for name in after:
                    rose = [a - b for a, b in zip(after[name], queues[name])]
                    self.assertTrue(all(r > 0 for r in rose), f"{name} rx per queue rose by {rose}")

    def test_20_dns_queries_from_distinct_ports_answered(self):
        n = 20
        for addr, base in ((INET1.v4, 42000), (INET1.v6, 42100)):
            with self.subTest(addr=addr):
                flows = self.tel.query("/qorgan/flows")
                drops = self.tel.query("/qorgan/drops")
                answered = ns_python(OUTER1.ns, f"DST = {addr!r}\nN = {n}\nBASE_PORT = {base}\n" + DNS_FROM_MANY_PORTS,
                                     timeout=20)
                missing = [base + i for i, ok in enumerate(answered) if not ok]
                drop_diff = {k: v for k, v in wait_for_counts(self.tel, "/qorgan/drops", drops, {}).items() if v}
                self.assertEqual(missing, [], f"source ports without an answer; drops: {drop_diff}")
                diff = wait_for_counts(self.tel, "/qorgan/flows", flows, {"created": n})
                self.assertEqual(diff.get("created", 0), n, diff)


if __name__ == "__main__":
    unittest.main()

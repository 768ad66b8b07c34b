# SPDX-License-Identifier: GPL-2.0-or-later
# Port monitoring and counters over rte_telemetry (R128-f): our client and DPDK's stock
# dpdk-telemetry.py both read the dataplane's commands.

import json
import re
import unittest

from labkit import FILE_PREFIX, REPO, LabTestCase, run

# name -> (vdev of the default config, its veth)
PORTS = {"inner0": ("net_af_packet0", "dp-inner"), "outer0": ("net_af_packet1", "dp-outer"),
         "dmz0": ("net_af_packet2", "dp-dmz"), "inet0": ("net_af_packet3", "dp-inet")}
PORT_FIELDS = {"port_id", "device", "admin", "link", "speed_mbps", "rx_packets", "rx_bytes", "tx_packets",
               "tx_bytes", "rx_errors", "tx_errors", "rx_missed", "link_changes"}


def drop_reason_names():
    text = (REPO / "dataplane" / "drop_reason.h").read_text()
    return re.findall(r'^\s*X\(\w+, "([a-z0-9_]+)"\)', text, re.M)


class Telemetry(LabTestCase):
    def test_ports_lists_four_ports_up_R128_f(self):
        ports = self.tel.query("/qorgan/ports")
        self.assertEqual(set(ports), set(PORTS))
        for name, (vdev, veth) in PORTS.items():
            with self.subTest(port=name):
                p = ports[name]
                self.assertLessEqual(PORT_FIELDS, set(p), p)
                self.assertTrue(p["device"].startswith(vdev) or veth in p["device"], p)
                self.assertEqual((p["admin"], p["link"]), ("up", "up"), p)
        self.assertEqual(sorted(p["port_id"] for p in ports.values()), [0, 1, 2, 3])

    def test_ethdev_stats_matches_ports(self):
        ports = self.tel.query("/qorgan/ports")
        outer = ports["outer0"]
        stats = self.tel.query(f"/ethdev/stats,{outer['port_id']}")
        self.assertIn("ipackets", stats)
        self.assertGreaterEqual(stats["ipackets"], outer["rx_packets"])

    def test_flows_reports_table_state(self):
        flows = self.tel.query("/qorgan/flows")
        self.assertLessEqual({"active", "created", "refused", "expired", "capacity"}, set(flows))
        self.assertGreater(flows["capacity"], 0)
        self.assertLessEqual(flows["active"], flows["capacity"])

    def test_stock_client_reads_drops(self):
        r = run(["dpdk-telemetry.py", "-f", FILE_PREFIX], input="/qorgan/drops\n", timeout=10)
        self.assertEqual(r.rc, 0, str(r))
        lines = [line for line in r.out.splitlines() if line.startswith("{")]
        self.assertTrue(lines, str(r))
        drops = json.loads(lines[-1])["/qorgan/drops"]
        names = drop_reason_names()
        self.assertGreater(len(names), 30, "drop_reason.h changed shape; update the pattern")
        self.assertEqual(set(drops), set(names))
        self.assertTrue(all(isinstance(v, int) and v >= 0 for v in drops.values()), drops)


if __name__ == "__main__":
    unittest.main()

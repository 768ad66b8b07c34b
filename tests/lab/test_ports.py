# SPDX-License-Identifier: GPL-2.0-or-later
# Ports (R128-f, R139-13): a disabled interface is probed but stays down; a link that goes
# down and up is an event on the dataplane's output and in /qorgan/ports.

import time
import unittest

from labkit import (GATEWAY, INET1, OUTER1, LabTestCase, OwnDataplaneTestCase, curl,
                    default_config_text, log_offset, ns, restore_host_link, wait_for_log, write_config)

SPARE = """    spare0 {
        device "net_null0";
        zone outer;
        disable;
    }
"""
LAB_PORTS = ("inner0", "outer0", "dmz0", "inet0")


def with_spare_port(text):
    """The default config with spare0 added as the last interface."""
    anchor = '        device "net_af_packet3,iface=dp-inet";'
    start = text.index(anchor)
    end = text.index("    }\n", start) + len("    }\n")
    return text[:end] + SPARE + text[end:]


class DisabledPort(OwnDataplaneTestCase):
    """Runs its own dataplane with a disabled spare port; the shared one is restored after."""

    @classmethod
    def own_config(cls):
        return write_config("test-ports.conf", with_spare_port(default_config_text()))

    def test_disabled_port_stays_down_R139_13(self):
        ports = self.tel.query("/qorgan/ports")
        self.assertEqual(set(ports), {*LAB_PORTS, "spare0"})
        spare = ports["spare0"]
        self.assertTrue(spare["device"].startswith("net_null0"), spare)
        self.assertEqual((spare["admin"], spare["link"]), ("down", "down"), spare)
        self.assertEqual(spare["tx_packets"], 0, spare)
        for name in LAB_PORTS:
            with self.subTest(port=name):
                self.assertEqual((ports[name]["admin"], ports[name]["link"]), ("up", "up"), ports[name])

    def test_other_ports_forward_beside_disabled_port_R139_13(self):
        r = curl(OUTER1, INET1.v4)
        self.assertEqual(r.rc, 0, str(r))
        spare = self.tel.query("/qorgan/ports")["spare0"]
        self.assertEqual((spare["tx_packets"], spare["rx_packets"]), (0, 0), spare)


class LinkChange(LabTestCase):
    def outer0(self):
        return self.tel.query("/qorgan/ports")["outer0"]

    def wait_port(self, link, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            port = self.outer0()
            if port["link"] == link or time.monotonic() > deadline:
                return port
            time.sleep(0.1)

    def test_link_down_and_up_is_reported_R128_f(self):
        before = self.outer0()
        self.assertEqual(before["link"], "up", before)
        gw4, gw6 = GATEWAY["outer0"]
        try:
            since = log_offset()
            r = ns(OUTER1.ns, "ip", "link", "set", "eth0", "down")
            self.assertEqual(r.rc, 0, str(r))
            m = wait_for_log(r"^event link-change iface=outer0 link=down speed=\d+$", since, timeout=3)
            carrier = ns("qg-gw", "ip", "-br", "link", "show", "dp-outer").out.strip()
            down = self.wait_port("down", timeout=1)
            self.assertIsNotNone(m, f"no link=down event within 3 s; kernel: {carrier}; port: {down}")
            self.assertEqual(down["link"], "down", down)
            self.assertEqual(down["link_changes"], before["link_changes"] + 1, down)

            since = log_offset()
            restore_host_link(OUTER1, gw4, gw6)
            m = wait_for_log(r"^event link-change iface=outer0 link=up speed=\d+$", since, timeout=3)
            self.assertIsNotNone(m, "no link=up event within 3 s")
            up = self.wait_port("up", timeout=1)
            self.assertEqual(up["link"], "up", up)
            self.assertEqual(up["link_changes"], before["link_changes"] + 2, up)
            for addr in (INET1.v4, INET1.v6):
                r = curl(OUTER1, addr)
                self.assertEqual(r.rc, 0, f"no traffic after the link came back\n{r}")
        finally:
            restore_host_link(OUTER1, gw4, gw6)


if __name__ == "__main__":
    unittest.main()

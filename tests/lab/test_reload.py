# SPDX-License-Identifier: GPL-2.0-or-later
# SIGHUP reload (R128-g): a new policy takes effect for new and existing flows, a refused
# config (syntax error, changed ports) keeps the old policy and its epoch; SIGTERM stops it
# cleanly.

import unittest

from labkit import (INET1, OUTER1, DnsSession, OwnDataplaneTestCase, curl, default_config_text,
                    log_offset, wait_for_counts, wait_for_log, without_rule, write_config)

CONFIG_NAME = "test-reload.conf"
WEB_RULE = ("outer0", "ingress", 10)  # tcp 80/443 from the outer loop
DNS_UDP_RULE = ("outer0", "ingress", 20)  # udp 53 from the outer loop
REFUSED_PORTS = "interfaces changed: restart the dataplane to change ports"





class Reload(OwnDataplaneTestCase):
    """Runs its own dataplane on a config file it rewrites; the shared one is restored after."""

    @classmethod
    def own_config(cls):
        cls.config = write_config(CONFIG_NAME, default_config_text())
        return cls.config

    def setUp(self):
        # Each test starts from the default policy, whatever the previous one left.
        if self.config.read_text() != default_config_text():
            self.reload(default_config_text())

    def epoch(self):
        return self.tel.query("/qorgan/stats")["policy_epoch"]

    def reload(self, text, expect_ok=True):
        """Writes the config, sends SIGHUP and returns the reload event's match."""
        self.config.write_text(text)
        since = log_offset()
        self.dataplane.reload()
        m = wait_for_log(r'^event (reload|reload-failed) epoch=(\d+)(?: error="(.*)")?$', since, timeout=10)
        self.assertIsNotNone(m, "no reload event within 10 s")
        self.assertEqual(m.group(1), "reload" if expect_ok else "reload-failed", m.group(0))
        return m

    def assertWebPasses(self):
        for addr in (INET1.v4, INET1.v6):
            r = curl(OUTER1, addr, timeout=5)
            self.assertEqual(r.rc, 0, str(r))
            self.assertIn("qorgan-lab inet1", r.out)

    def test_1_reload_removes_web_rule_R128_g(self):
        self.assertEqual(self.epoch(), 1, "a fresh dataplane runs policy epoch 1")
        self.assertWebPasses()
        drops = self.tel.query("/qorgan/drops")
        m = self.reload(without_rule(default_config_text(), *WEB_RULE))
        self.assertEqual(m.group(2), "2", m.group(0))
        self.assertEqual(self.epoch(), 2)
        for addr in (INET1.v4, INET1.v6):
            with self.subTest(addr=addr):
                r = curl(OUTER1, addr, timeout=3)
                self.assertNotEqual(r.rc, 0, f"tcp 80 still passes after its rule was removed\n{r}")
        # curl retransmits its SYN: at least one default deny per family
        diff = wait_for_counts(self.tel, "/qorgan/drops", drops, {"default_deny": 2})
        self.assertGreaterEqual(diff.get("default_deny", 0), 2, diff)
        # and back: the rule returns with the next reload
        m = self.reload(default_config_text())
        self.assertEqual(m.group(2), "3", m.group(0))
        self.assertWebPasses()

    def test_2_reload_drops_existing_udp_session_R128_g(self):
        sessions = [DnsSession(INET1.v4), DnsSession(INET1.v6)]
        try:
            for s in sessions:
                self.assertEqual(s.ask()["answered"], True, "DNS must answer before the reload")
            flows = self.tel.query("/qorgan/flows")
            drops = self.tel.query("/qorgan/drops")
            epoch = self.epoch()
            self.reload(without_rule(default_config_text(), *DNS_UDP_RULE))
            self.assertEqual(self.epoch(), epoch + 1)
            for s in sessions:
                with self.subTest(sport=s.sport):
                    ans = s.ask()
                    self.assertFalse(ans["answered"], f"the session survived a policy without udp 53: {ans}")
            diff = wait_for_counts(self.tel, "/qorgan/flows", flows, {"rechecked": 2})
            self.assertGreaterEqual(diff.get("rechecked", 0), 2, diff)
            drop_diff = wait_for_counts(self.tel, "/qorgan/drops", drops, {"default_deny": 2})
            self.assertGreaterEqual(drop_diff.get("default_deny", 0), 2, drop_diff)
        finally:
            for s in sessions:
                s.close()

    def test_3_reload_syntax_error_keeps_old_policy_R128_g(self):
        epoch = self.epoch()
        # Without the web rule, and broken: were any of it applied, curl would fail.
        lines = without_rule(default_config_text(), *WEB_RULE).splitlines(keepends=True)
        bad_line = next(i for i, line in enumerate(lines) if "max-flows" in line)
        lines[bad_line] = lines[bad_line].replace(";", "")  # max-flows 262144 <missing ;>
        m = self.reload("".join(lines), expect_ok=False)
        self.assertEqual(m.group(2), str(epoch), m.group(0))
        error = m.group(3) or ""
        loc = error.split(": ", 1)[0]
        file_, line_no, col = loc.rsplit(":", 2)
        self.assertTrue(file_.endswith(CONFIG_NAME), m.group(0))
        self.assertTrue(col.isdigit() and int(col) >= 1, m.group(0))
        # the missing ';' is noticed on the broken line or at the next token
        self.assertIn(int(line_no), (bad_line + 1, bad_line + 2), m.group(0))
        self.assertIn("max-flows", error)
        self.assertEqual(self.epoch(), epoch)
        self.assertWebPasses()

    def test_4_reload_changing_a_device_is_refused_R128_g(self):
        epoch = self.epoch()
        text = without_rule(default_config_text(), *WEB_RULE)
        old = '"net_af_packet1,iface=dp-outer"'
        self.assertIn(old, text)
        text = text.replace(old, '"net_af_packet1,iface=dp-outer,framesz=2048"')
        m = self.reload(text, expect_ok=False)
        self.assertEqual(m.group(2), str(epoch), m.group(0))
        self.assertIn(REFUSED_PORTS, m.group(3) or "", m.group(0))
        outer0_line = text.splitlines().index("    outer0 {") + 1
        self.assertIn(f"{CONFIG_NAME}:{outer0_line}:", m.group(3) or "", "the error names the changed interface")
        self.assertEqual(self.epoch(), epoch)
        self.assertWebPasses()

    def test_9_sigterm_stops_the_dataplane_with_status_0(self):
        """Last of the class: SIGTERM ends the dataplane with status 0. It once faulted in
        librte_ip_frag at every stop (a worker's reassembly table freed after the EAL)."""
        since = log_offset()
        self.assertWebPasses()
        rc = self.dataplane.stop()
        self.assertEqual(rc, 0, f"the dataplane exited with {rc} on SIGTERM")
        self.assertIsNotNone(wait_for_log(r"^qorgan-dataplane: stopping$", since, timeout=1))


if __name__ == "__main__":
    unittest.main()

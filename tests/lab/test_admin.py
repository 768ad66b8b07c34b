# SPDX-License-Identifier: GPL-2.0-or-later
# Administrators and the audit log (issue 4), with the shell driven through tmux as a person
# types: login with password and TOTP (R47), password alone and code alone refused, enrolment
# with the key and QR code on screen, lockout of account and source and its end (R90-1-3),
# idle timeout (R118), privilege refusals recorded (R128-b, R128-c), commits recorded with
# their diff, clock changes and service starts recorded, break-glass refused off the console,
# and tampering with the audit file caught by `request audit verify` (R38-6).

import os
import re
import tempfile
import time
import unittest
from pathlib import Path

import labkit
from labkit import LAB_PASSWORD2, BUILD_DIR, LabTestCase, Qorgand, QorgandConnection, Tmux, totp

QORGAN = Path(os.environ.get("QORGAN_CLI", str(BUILD_DIR / "control" / "qorgan")))
LOCKOUT_TIME = 5  # seconds, short so that the tests can wait it out


class OwnQorgandTestCase(LabTestCase):
    """Its own qorgand (fresh state, own socket, `qorgand_args`) on the shared dataplane, and
    qorgan shells in tmux that are closed with the class."""

    name = "admin"
    qorgand_args = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.TemporaryDirectory(prefix=f"qorgan-{cls.name}-")
        cls.q = Qorgand(state_dir=Path(cls.dir.name) / "state",
                        socket_path=Path(cls.dir.name) / "qorgand.sock",
                        extra_args=list(cls.qorgand_args))
        cls.shells = []
        cls.q.start()

    @classmethod
    def tearDownClass(cls):
        for t in cls.shells:
            t.close()
        cls.q.stop()
        cls.dir.cleanup()

    def shell(self, name):
        """A fresh qorgan shell in tmux, at its login prompt."""
        t = Tmux(f"{self.name}-{name}", f"env HOME={self.dir.name} {QORGAN} --socket {self.q.socket}")
        self.shells.append(t)
        t.wait_for(r"^login: $")
        return t


class AdminLab(OwnQorgandTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.q.cli("configure", f"set system login lockout-time {LOCKOUT_TIME}",
                      "set system login lockout-failures 3", "set system login alert-failures 2",
                      'commit comment "short lockout for the lab"', "exit", user="secadmin")
        if r.rc != 0 or "commit complete" not in r.out:
            raise RuntimeError(f"setting the lockout failed:\n{r}")

    def type_login(self, t, user, password=LAB_PASSWORD2, code=None):
        t.line(user)
        t.wait_for(r"^Password: $")
        t.line(password)
        if code is not None:
            t.wait_for(r"^Verification code: $")
            t.line(code)

    def audit(self, *filters):
        r = self.q.cli("show log audit " + " ".join(filters) + " | no-more", user="auditor")
        self.assertOk(r)
        return r.out

    def wait_lockout_over(self):
        time.sleep(LOCKOUT_TIME + 1)

    def test_password_and_code_open_a_session_R47(self):
        t = self.shell("login")
        self.type_login(t, "netadmin", code=self.q.code("netadmin"))
        t.wait_for(r"^netadmin@qorgan> $")
        t.line("show interfaces | count")
        t.wait_for(r"^Count: 5 lines\n^netadmin@qorgan> $")  # a header and four ports
        t.line("exit")
        t.wait_for(r"^SHELL-EXIT=0$")
        log = self.audit("user netadmin", "last 20")
        self.assertRegex(log, r"netadmin +10 +\w+ +login +ok +level 10 \(network-admin\); "
                              r"password and TOTP")
        self.assertRegex(log, r"netadmin +10 +\w+ +command +ok +show interfaces")
        self.assertRegex(log, r"netadmin +10 +\w+ +logout +ok +exit")

    def test_password_alone_and_code_alone_fail_R47(self):
        t = self.shell("factors")
        # The right password with a wrong code, then the code typed as the password.
        self.type_login(t, "netadmin", code="000000")
        t.wait_for(r"(?i)login incorrect\n^login: $")
        code = totp(self.q.secrets["netadmin"], int(time.time()) // 30)
        t.line("netadmin")
        t.wait_for(r"^Password: $")
        t.line(code)
        screen = t.wait_for(r"(?i)login incorrect\n(.*\n)*^login: $")
        self.assertNotRegex(screen, r"netadmin@qorgan")
        t.close()
        log = self.audit("user netadmin", "action login-failed", "last 5")
        self.assertRegex(log, r"login-failed +failed +wrong or reused TOTP code")
        self.assertRegex(log, r"login-failed +failed +wrong password")
        self.q.cli("request user unlock netadmin", user="secadmin")
        self.wait_lockout_over()  # the source "local" counted these two as well

    def test_lockout_of_account_and_source_ends_at_its_time_R90_1_3(self):
        t = self.shell("lockout")
        for attempt in range(3):  # the shell gives a person three tries, then leaves
            self.type_login(t, "operator", password="wrong-Password-1")
            t.wait_for(r"(?i)login incorrect\n^login: $" if attempt < 2
                       else r"(?i)login incorrect\n^SHELL-EXIT=1$")
        t.close()
        t = self.shell("locked")
        self.type_login(t, "operator")  # the right password, but locked
        screen = t.wait_for(r"(?i)locked.*\n(.*\n)*^login: $")
        self.assertRegex(screen, r"(?i)until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        t.close()
        # Every shell from this source waits too (the kept sessions may have to log in again).
        self.wait_lockout_over()
        log = self.audit("action lockout", "last 10")
        self.assertRegex(log, r"lockout +locked +account operator locked until")
        self.assertRegex(log, r"lockout +locked +source \W?local\W? locked until")
        alerts = self.audit("action alert", "last 10")
        self.assertRegex(alerts, r"repeated authentication failures for 'operator'")
        self.assertRegex(alerts, r"consecutive failed logins for operator \(R52\)")
        t = self.shell("unlocked")
        self.type_login(t, "operator")
        t.wait_for(r"^operator@qorgan> $")
        t.line("exit")
        t.wait_for(r"^SHELL-EXIT=0$")

    def test_operator_is_refused_and_the_refusal_is_recorded_R128_b(self):
        t = self.shell("operator")
        self.type_login(t, "operator")
        t.wait_for(r"^operator@qorgan> $")
        t.line("configure")
        screen = t.wait_for(r"^error: permission denied \(R128-b\).*\n^operator@qorgan> $")
        self.assertIn("your level 1 (operator) grants view, traffic-view", screen)
        t.line("show sessions | count")
        t.wait_for(r"^Count: \d+ lines\n^operator@qorgan> $")
        t.line("exit")
        t.wait_for(r"^SHELL-EXIT=0$")
        log = self.audit("user operator", "action privilege-refused", "last 5")
        self.assertRegex(log, r"operator +1 +\w+ +privilege-refused +refused +configure")
        # Traffic views through qorgand to the dataplane: a zone's sessions, NAT figures.
        r = self.q.cli("show sessions zone outer", user="operator")
        self.assertOk(r)
        self.assertNotIn("error", r.out + r.err)
        r = self.q.cli("show nat statistics", user="operator")
        self.assertOk(r)
        self.assertIn("lan-internet", r.out)  # the default config's source rule (R90-1-6)
        # The attack-protection screen (R128-e): every defence, and each zone's defaults.
        r = self.q.cli("show security screen statistics", user="operator")
        self.assertOk(r)
        for word in ("syn-flood", "scan-vertical", "tcp-flags", "SYN cookies sent",
                     "internet (defaults)"):
            self.assertIn(word, r.out)
        r = self.q.cli("show security screen blocked", user="operator")
        self.assertOk(r)
        self.assertIn("no source is blocked", r.out)
        # Category blocking (R134-1): the six categories and "other", through qorgand.
        r = self.q.cli("show security application-statistics", user="operator")
        self.assertOk(r)
        for word in ("vpn", "remote-access", "p2p", "games", "unknown", "malicious", "other"):
            self.assertRegex(r.out, rf"(?m)^\s*{word}\s+\d", r.out)
        self.assertRegex(r.out, r"\d+ not inspected \(table full\), \d+ given up undecided to make room",
                         "the dataplane gives both figures")
        # The security administrator reads no traffic (R102-2).
        r = self.q.cli("show sessions", user="secadmin")
        self.assertFails(r)
        self.assertIn("permission denied (R128-b)", r.err)

    def test_idle_session_is_ended_R118(self):
        r = self.q.cli("configure", "set system login idle-timeout 3", "commit", "exit",
                       user="secadmin")
        self.assertIn("commit complete", r.out, r)
        try:
            t = self.shell("idle")
            self.type_login(t, "operator")
            t.wait_for(r"^operator@qorgan> $")
            screen = t.wait_for(r"session ended: idle .*\n(.*\n)*^SHELL-EXIT=0$", timeout=15)
            self.assertIn("R118", screen)
        finally:
            r = self.q.cli("configure", "set system login idle-timeout 900", "commit", "exit",
                           user="secadmin")
            self.assertIn("commit complete", r.out, r)
        log = self.audit("user operator", "action logout", "last 3")
        self.assertRegex(log, r"logout +ok +session ended: idle")

    def test_new_administrator_enrols_totp_with_key_and_qr_on_screen_R47(self):
        name = f"alice{os.getpid() % 1000}"
        t = self.shell("secadmin")
        self.type_login(t, "secadmin", code=self.q.code("secadmin"))
        t.wait_for(r"^secadmin@qorgan> $")
        t.line(f"request user add {name} role network-admin")
        t.wait_for(rf"^Password for {name}: $")
        t.line("Temporary-Pass-42")
        t.wait_for(r"^Retype it: $")
        t.line("Temporary-Pass-42")
        t.wait_for(rf"user {name} added at level 10 \(network-admin\).*\n^secadmin@qorgan> $")
        t.line("exit")
        # First login: the temporary password must change (R118).
        t = self.shell("alice1")
        self.type_login(t, name, password="Temporary-Pass-42")
        t.wait_for(r"request password")
        t.wait_for(rf"^{name}@qorgan> $")
        t.line("request password")
        t.wait_for(r"^Current password: $")
        t.line("Temporary-Pass-42")
        t.wait_for(r"^New password: $")
        t.line("Alice-Chose-This-7")
        t.wait_for(r"^Retype new password: $")
        t.line("Alice-Chose-This-7")
        t.wait_for(r"log in again(.*\n)*^SHELL-EXIT=0$")
        # Second login: the second factor must be enrolled before anything else.
        t = self.shell("alice2")
        self.type_login(t, name, password="Alice-Chose-This-7")
        t.wait_for(r"request totp enroll")
        t.line("show interfaces")
        t.wait_for(r"needs a second factor before anything else \(R47\)")
        t.line("request totp enroll")
        screen = t.wait_for(r"Then confirm with: request totp confirm <code>\n^" + name + r"@qorgan> $")
        key = re.search(r"key: ([A-Z2-7]+)", screen).group(1)
        self.assertRegex(screen, rf"uri: otpauth://totp/Qorgan:{name}\?secret={key}")
        self.assertRegex(screen, r"[\u2580\u2584\u2588]{7}")  # the QR code's half blocks
        t.line("request totp confirm " + totp(key, int(time.time()) // 30))
        t.wait_for(r"second factor confirmed \(R47\)(.*\n)*^SHELL-EXIT=0$")
        # Third login: password and code.
        t = self.shell("alice3")
        self.type_login(t, name, password="Alice-Chose-This-7",
                        code=totp(key, int(time.time()) // 30 + 1))
        t.wait_for(rf"^{name}@qorgan> $")
        t.line("exit")
        log = self.audit(f"user {name}", "last 30")
        for action in ("password", "totp-enroll", "totp-confirm", "login"):
            self.assertRegex(log, rf"{name} +10 +\w+ +{action} +ok")

    def test_commit_is_recorded_with_its_diff_R128_c(self):
        nonce = f"audit-{os.getpid()}-{int(time.time())}"
        r = self.q.cli("configure", f'set policy dmz0 ingress rule 10 description "{nonce}"',
                       "commit", "exit")
        self.assertIn("commit complete", r.out, r)
        commits = [rec for rec in self.q.audit_records()
                   if rec["action"] == "commit" and nonce in rec["detail"]]
        self.assertEqual(len(commits), 1)
        self.assertEqual(commits[0]["user"], "netadmin")
        self.assertEqual(commits[0]["level"], 10)
        self.assertIn(f"+ set policy dmz0 ingress rule 10 description {nonce}", commits[0]["detail"])
        self.assertIn("- set policy dmz0 ingress rule 10 description", commits[0]["detail"])
        self.assertRegex(commits[0]["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

    def test_clock_change_and_service_start_are_recorded_R128_c(self):
        before = len(self.q.audit_records())
        time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME))
        deadline = time.monotonic() + 5
        changes = []
        while not changes and time.monotonic() < deadline:
            changes = [r for r in self.q.audit_records()[before:] if r["action"] == "time-change"]
            time.sleep(0.2)
        self.assertEqual(len(changes), 1, "no time-change record after clock_settime")
        services = [r["detail"] for r in self.q.audit_records() if r["action"] == "service"]
        self.assertTrue(any(d.startswith("qorgand started") for d in services), services)
        self.assertTrue(any(d.startswith("qorgan-dataplane running") for d in services), services)

    def test_break_glass_is_refused_off_the_console(self):
        t = self.shell("glass")
        t.line("recovery")
        t.wait_for(r"break-glass works only on the local console")
        t.close()
        log = self.audit("action break-glass", "last 3")
        self.assertRegex(log, r"break-glass +refused")

    def test_z_tampering_is_caught_by_verify_R38_6(self):
        # Runs last in the class: it breaks the store on purpose.
        r = self.q.cli("request audit verify", user="auditor")
        self.assertOk(r)
        self.assertIn("intact", r.out)
        key0 = (self.q.state_dir / "audit" / "verify.key").read_text().strip()
        r = self.q.cli(f"request audit verify key {key0}", user="auditor")
        self.assertOk(r, "verification with the offline key")
        # Flip one character of an early record's detail.
        current = sorted((self.q.state_dir / "audit").glob("audit-*.jsonl"))[-1]
        lines = current.read_bytes().split(b"\n")
        index = next(i for i, line in enumerate(lines) if b'"action":"login"' in line)
        seq = int(re.search(rb'"seq":(\d+)', lines[index]).group(1))
        lines[index] = lines[index].replace(b"level 1", b"level 9", 1)
        current.write_bytes(b"\n".join(lines))
        r = self.q.cli("request audit verify", user="auditor")
        self.assertFails(r)
        self.assertIn("the audit log is broken (R38-6)", r.err)
        self.assertIn(f"(seq {seq})", r.err)
        alerts = [rec for rec in self.q.audit_records() if rec["action"] == "alert"]
        self.assertTrue(any("audit verification failed" in a["detail"] for a in alerts))
        # The offline key was never written into the log.
        self.assertFalse(any(key0 in rec["detail"] for rec in self.q.audit_records()))


if __name__ == "__main__":
    unittest.main()


class BreakGlassOnTheConsole(OwnQorgandTestCase):
    """qorgand told that tmux's terminals are the local console (--console-tty), with a
    recovery code made offline as an installer would: a locked-out account comes back."""

    name = "glass"
    qorgand_args = ("--console-tty", "/dev/pts/*")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.q.stop()
        r = labkit.run([str(cls.q.binary), "--state-dir", str(cls.q.state_dir),
                        "--new-recovery-code"], timeout=30)
        if r.rc != 0:
            raise RuntimeError(f"--new-recovery-code failed:\n{r}")
        cls.code = r.out.strip().splitlines()[-1]
        cls.q.start(fresh=False)

    def test_recovery_code_brings_back_a_locked_account_once(self):
        self.assertRegex(self.code, r"^[A-Z2-7]{5}(-[A-Z2-7]{5}){3}$")
        # Lock the operator's account (three failures in a shell, the console's source is
        # never locked, so the console stays usable).
        t = self.shell("lock")
        for attempt in range(3):
            t.line("operator")
            t.wait_for(r"^Password: $")
            t.line("not-the-Password-1")
            t.wait_for(r"(?i)login incorrect\n^login: $" if attempt < 2
                       else r"(?i)login incorrect\n^SHELL-EXIT=1$")
        t = self.shell("glass")
        t.line("recovery")
        t.wait_for(r"^Recovery code: $")
        t.line(self.code)
        t.wait_for(r"^Account to recover: $")
        t.line("operator")
        t.wait_for(r"^New password: $")
        t.line("Console-Rescue-2026")
        t.wait_for(r"^Retype it: $")
        t.line("Console-Rescue-2026")
        screen = t.wait_for(r"account operator recovered.*\n(.*\n)*^login: $")
        new_code = re.search(r"shown once\): ([A-Z2-7-]+)", screen).group(1)
        self.assertNotEqual(new_code, self.code)
        t.line("operator")
        t.wait_for(r"^Password: $")
        t.line("Console-Rescue-2026")
        t.wait_for(r"^operator@qorgan> $")
        t.line("exit")
        # The used code does not work twice.
        t = self.shell("again")
        t.line("recovery")
        t.wait_for(r"^Recovery code: $")
        t.line(self.code)
        t.wait_for(r"^Account to recover: $")
        t.line("operator")
        t.wait_for(r"^New password: $")
        t.line("Console-Rescue-2027")
        t.wait_for(r"^Retype it: $")
        t.line("Console-Rescue-2027")
        t.wait_for(r"(?i)(wrong|invalid|incorrect).*\n(.*\n)*^login: $")
        records = self.q.audit_records()
        glass = [r for r in records if r["action"] == "break-glass"]
        self.assertTrue(any(r["result"] == "ok" and "operator" in r["detail"] for r in glass), glass)
        self.assertTrue(any(r["result"].startswith("failed") for r in glass), glass)
        self.assertTrue(any(r["action"] == "alert" and "break-glass used" in r["detail"]
                            for r in records))

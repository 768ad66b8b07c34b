# SPDX-License-Identifier: GPL-2.0-or-later
# The qorgan shell driven as a person would, through tmux (send-keys, capture-pane): against a
# fake qorgand for the shell's own behaviour (pager, Ctrl-C, quotes, lost connection,
# scripting), and against the real qorgand and dataplane for help, completion, typos,
# show interfaces, commit and `commit confirmed 1` rolling back by itself (issue 3).

import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import labkit
from labkit import BUILD_DIR, LabTestCase

QORGAN = Path(os.environ.get("QORGAN_CLI", str(BUILD_DIR / "control" / "qorgan")))
FAKE = Path(__file__).resolve().parent / "fake_qorgand.py"
LAB_PORTS = ("inner0", "outer0", "dmz0", "inet0")


class Tmux(labkit.Tmux):
    """The qorgan shell in tmux, with its own HOME (history) and environment."""

    def __init__(self, name, socket_path, home, rows=40, cols=160, env=""):
        super().__init__(name, f"env HOME={home} {env} {QORGAN} --socket {socket_path}", rows, cols)


def run_cli(socket_path, *args, input=None, timeout=30, env=None):
    return subprocess.run([str(QORGAN), "--socket", str(socket_path), *args], input=input,
                          capture_output=True, text=True, timeout=timeout, env=env)


class ShellAgainstFake(unittest.TestCase):
    """The shell's own behaviour, against tests/lab/fake_qorgand.py."""

    @classmethod
    def setUpClass(cls):
        if not QORGAN.exists():
            raise RuntimeError(f"{QORGAN} is not built")
        cls.dir = tempfile.TemporaryDirectory(prefix="qorgan-cli-")
        cls.socket = Path(cls.dir.name) / "fake.sock"
        cls.fake = subprocess.Popen([sys.executable, str(FAKE), str(cls.socket)])
        deadline = time.monotonic() + 10
        while not cls.socket.exists():
            if time.monotonic() > deadline or cls.fake.poll() is not None:
                raise RuntimeError("fake qorgand did not start")
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.fake.terminate()
        cls.fake.wait(timeout=5)
        cls.dir.cleanup()

    def setUp(self):
        self.tmux = Tmux("fake", self.socket, self.dir.name, rows=30)
        self.tmux.wait_for(r"^admin@qorgan> $")

    def tearDown(self):
        self.tmux.close()

    def test_question_mark_lists_and_keeps_the_line(self):
        self.tmux.text("show ")
        self.tmux.keys("?")
        screen = self.tmux.wait_for(r"^Possible completions:\n(.*\n)*^admin@qorgan> show $")
        self.assertIn("Possible completions:", screen)
        self.assertRegex(screen, r"interfaces +Interface status and counters")
        self.assertNotIn("show ?", screen)

    def test_question_mark_inside_quotes_is_literal(self):
        self.tmux.text('set system host-name "a?b')
        screen = self.tmux.wait_for(r'host-name "a\?b$')
        self.assertNotIn("Possible completions:", screen)

    def test_tab_completes_unique_and_lists_several(self):
        self.tmux.text("sh")
        self.tmux.keys("Tab")
        self.tmux.wait_for(r"^admin@qorgan> show $")
        self.tmux.keys("Tab")  # several: listed, line kept
        screen = self.tmux.wait_for(r"^Possible completions:\n(.*\n)*^admin@qorgan> show $")
        for word in ("configuration", "interfaces", "log", "system"):
            self.assertRegex(screen, rf"(?m)^  {word} ")

    def test_tab_completes_pipe_words(self):
        self.tmux.text("show interfaces | ma")
        self.tmux.keys("Tab")
        self.tmux.wait_for(r"^admin@qorgan> show interfaces \| match $")

    def test_ctrl_c_clears_the_line(self):
        self.tmux.text("show interf")
        self.tmux.keys("C-c")
        self.tmux.wait_for(r"show interf\^C\n^admin@qorgan> $")
        self.tmux.text("show interfaces | count")
        self.tmux.keys("Enter")
        self.tmux.wait_for(r"^Count: 4 lines$")

    def test_pager_pages_and_quits(self):
        self.tmux.text("show log")
        self.tmux.keys("Enter")
        screen = self.tmux.wait_for(r"--More--")
        self.assertIn("log line 29", screen)
        self.assertNotIn("log line 30", screen)
        self.tmux.keys("Space")
        self.tmux.wait_for(r"log line 58\n--More--")
        self.tmux.keys("Enter")
        self.tmux.wait_for(r"log line 59\n--More--")
        self.tmux.keys("q")
        screen = self.tmux.wait_for(r"^admin@qorgan> $")
        self.assertNotIn("log line 60", screen)

    def test_no_more_and_short_output_are_not_paged(self):
        self.tmux.text("show log | no-more")
        self.tmux.keys("Enter")
        screen = self.tmux.wait_for(r"log line 100\n^admin@qorgan> $")
        self.assertNotIn("--More--", screen)

    def test_bad_pipe_is_explained(self):
        self.tmux.text("show interfaces | match [")
        self.tmux.keys("Enter")
        self.tmux.wait_for(r"^error: bad regular expression in '\| match \['")

    def test_ctrl_d_leaves_configuration_mode_then_the_shell(self):
        self.tmux.text("configure")
        self.tmux.keys("Enter")
        self.tmux.wait_for(r"^admin@qorgan# $")
        self.tmux.keys("C-d")
        self.tmux.wait_for(r"^admin@qorgan> $")
        self.tmux.keys("C-d")
        self.tmux.wait_for(r"^SHELL-EXIT=0$")

    def test_history_is_kept_between_sessions(self):
        self.tmux.text("show interfaces | count")
        self.tmux.keys("Enter")
        self.tmux.wait_for(r"^Count: 4 lines$")
        self.tmux.keys("C-d")
        self.tmux.wait_for(r"^SHELL-EXIT=0$")
        self.tmux.close()
        self.tmux = Tmux("fake", self.socket, self.dir.name, rows=30)
        self.tmux.wait_for(r"^admin@qorgan> $")
        self.tmux.keys("Up")
        self.tmux.wait_for(r"^admin@qorgan> show interfaces \| count$")

    def test_monitor_redraws_until_a_key(self):
        self.tmux.text("monitor interface dmz0")
        self.tmux.keys("Enter")
        screen = self.tmux.wait_for(r"^dmz0 +up +\d+ +[\d.]+ +\d+")
        self.assertIn("Rx Mbit/s", screen)
        self.assertNotIn("inner0", screen)
        self.tmux.keys("x")
        self.tmux.wait_for(r"^admin@qorgan> $")

    def test_lost_connection_exits_1(self):
        self.tmux.text("die")
        self.tmux.keys("Enter")
        screen = self.tmux.wait_for(r"^SHELL-EXIT=1$")
        self.assertIn("error: lost the connection to qorgand", screen)

    def test_scripting_from_stdin_and_dash_c(self):
        r = run_cli(self.socket, input="show interfaces\nshow interfaces | match dmz\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("inner0"), 1)
        self.assertEqual(r.stdout.count("dmz0"), 2)
        self.assertNotIn("admin@qorgan", r.stdout)
        r = run_cli(self.socket, input="shwo\nshow interfaces\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: syntax error: unknown word 'shwo'; did you mean 'show'?", r.stderr)
        self.assertIn("inet0", r.stdout)
        r = run_cli(self.socket, "-c", "show interfaces | count")
        self.assertEqual((r.returncode, r.stdout), (0, "Count: 4 lines\n"))
        r = run_cli(self.socket, "-c", "show interfaces | grep x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown pipe 'grep'", r.stderr)
        r = run_cli(self.socket, "-c", "monitor interface")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(re.findall(r"^(inner0|outer0|dmz0|inet0) +up ", r.stdout, re.M)), 4)
        r = run_cli(self.socket, "-c", "monitor interface eth9")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no interface 'eth9'", r.stderr)

    def test_bad_socket_and_options(self):
        r = run_cli(Path(self.dir.name) / "nothing.sock", "-c", "show interfaces")
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: cannot reach qorgand at", r.stderr)
        r = subprocess.run([str(QORGAN), "--bogus"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: qorgan", r.stderr)


class ShellAgainstQorgand(LabTestCase):
    """The real shell, qorgand and dataplane. Needs labkit.Qorgand (start(), stop(), socket)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.home = tempfile.TemporaryDirectory(prefix="qorgan-cli-home-")
        cls.qorgand = labkit.Qorgand()
        cls.qorgand.start()
        cls.socket = cls.qorgand.socket

    @classmethod
    def tearDownClass(cls):
        cls.qorgand.stop()
        cls.home.cleanup()

    def setUp(self):
        # The network administrator's kept session (labkit logged in with password and code).
        self.tmux = Tmux("lab", self.socket, self.home.name, rows=50,
                         env=f"QORGAN_SESSION={self.qorgand.session('netadmin')}")
        self.tmux.wait_for(r"^netadmin@qorgan> $")

    def tearDown(self):
        self.tmux.close()

    def run_line(self, line, pattern, timeout=30.0):
        self.tmux.text(line)
        self.tmux.keys("Enter")
        return self.tmux.wait_for(pattern, timeout)

    def test_help_at_top_level(self):
        self.tmux.keys("?")
        screen = self.tmux.wait_for(r"Possible completions:(\n  .*)+\n^netadmin@qorgan> $")
        for word in ("configure", "show", "monitor"):
            self.assertRegex(screen, rf"(?m)^  {word} +\S")

    def test_tab_completes_sh_to_show(self):
        self.tmux.text("sh")
        self.tmux.keys("Tab")
        self.tmux.wait_for(r"^netadmin@qorgan> show $")

    def test_typo_names_what_was_wrong_and_what_is_right(self):
        screen = self.run_line("shwo interfaces", r"^error: .*\n^netadmin@qorgan> $")
        error = re.search(r"^error: (.*)$", screen, re.M).group(1)
        self.assertIn("shwo", error)
        self.assertIn("show", error.replace("shwo", ""))

    def test_show_interfaces_lists_the_four_ports(self):
        screen = self.run_line("show interfaces | no-more", r"no-more\n(.*\n)*^netadmin@qorgan> $")
        for port in LAB_PORTS:
            self.assertRegex(screen, rf"\b{port}\b")
        self.assertRegex(screen, r"\bup\b")

    def test_configure_set_commit(self):
        nonce = f"cli-set-{os.getpid()}-{int(time.time())}"
        self.run_line("configure", r"^netadmin@qorgan# $")
        self.run_line(f'set policy dmz0 ingress rule 10 description "{nonce}"', r"^netadmin@qorgan# $")
        screen = self.run_line("commit", r"^netadmin@qorgan# $", timeout=60)
        self.assertNotRegex(screen, r"^error:")
        self.run_line("exit", r"^netadmin@qorgan> $")
        r = run_cli(self.socket, "-c", f"show configuration | display set | match {nonce}", env=self.qorgand.env("operator"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(nonce, r.stdout)

    def test_commit_confirmed_rolls_back_by_itself(self):
        nonce = f"cli-confirm-{os.getpid()}-{int(time.time())}"
        self.run_line("configure", r"^netadmin@qorgan# $")
        self.run_line(f'set policy dmz0 ingress rule 10 description "{nonce}"', r"^netadmin@qorgan# $")
        screen = self.run_line("commit confirmed 1", r"^netadmin@qorgan# $", timeout=60)
        self.assertNotRegex(screen, r"^error:")
        self.run_line("exit", r"^netadmin@qorgan> $")
        r = run_cli(self.socket, "-c", "show system commits | no-more", env=self.qorgand.env("operator"))
        self.assertEqual(r.returncode, 0, r.stderr)
        after_commit = r.stdout
        r = run_cli(self.socket, "-c", f"show configuration | display set | match {nonce} | count", env=self.qorgand.env("operator"))
        self.assertEqual(r.stdout, "Count: 1 lines\n", r.stderr)
        deadline = time.monotonic() + 90
        commits = after_commit
        while commits == after_commit and time.monotonic() < deadline:
            time.sleep(5)
            commits = run_cli(self.socket, "-c", "show system commits | no-more", env=self.qorgand.env("operator")).stdout
        self.assertNotEqual(commits, after_commit, "no rollback revision within 90 s")
        r = run_cli(self.socket, "-c", f"show configuration | display set | match {nonce} | count", env=self.qorgand.env("operator"))
        self.assertEqual(r.stdout, "Count: 0 lines\n", r.stderr)


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: GPL-2.0-or-later
# Remote copy of the audit log (issue 4; R90-1-7 dedicated log server, R38-6 backup storage):
# qorgan-logfwd in qg-mgmt sends an audit store filled by audit-load, as RFC 5424 over TLS, to
# a real rsyslogd (rsyslog-openssl) in qg-logsrv. Stopping rsyslog for a while loses nothing and
# duplicates nothing; a server certificate from another CA is refused and nothing arrives.
# SyslogForwarding needs neither the dataplane nor the shared lab: two namespaces of its own
# joined by a veth. QorgandAuditToSyslog is end to end: qorgand in qg-mgmt (beside the shared
# dataplane) starts the forwarder itself once the security administrator commits the remote
# copy, and real administrator actions are what arrives.

import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from labkit import (BUILD_DIR, QORGAND_LOG, LabTestCase, Qorgand, QorgandConnection, lab_address,
                    log_tail, ns, run, stop_process)

LOGFWD = Path(os.environ.get("QORGAN_LOGFWD", str(BUILD_DIR / "control" / "logfwd" / "qorgan-logfwd")))
AUDIT_LOAD = Path(os.environ.get("QORGAN_AUDIT_LOAD", str(BUILD_DIR / "tests" / "tools" / "audit-load")))
RSYSLOGD = "/usr/sbin/rsyslogd"

MGMT_NS = "qg-mgmt"
LOGSRV_NS = "qg-logsrv"
MGMT_IP = lab_address("192.0.2.1")
LOGSRV_IP = lab_address("192.0.2.10")
PORT = 6514

SEQ = re.compile(r'\[qorgan@32473 seq="(\d+)"')
# RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG
HEADER = re.compile(r'^<(\d+)>1 \S+ \S+ qorgan \S+ (\S+) \[qorgan@32473 seq="(\d+)" user="((?:[^"\\]|\\.)*)"')
PREV = re.compile(r' prev="([0-9a-f]*)"')


def wait_until(predicate, timeout, step=0.2):
    """Polls predicate until it is true or the deadline passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def check(result):
    if result.rc != 0:
        raise RuntimeError(str(result))
    return result


# ---------------------------------------------------------------- namespaces

def remove_namespaces():
    for name in (MGMT_NS, LOGSRV_NS):
        if Path("/run/netns", name).exists():
            run(["ip", "netns", "del", name])


def make_namespaces():
    """qg-mgmt (192.0.2.1/24) and qg-logsrv (192.0.2.10/24), one veth between them."""
    remove_namespaces()  # a leftover of an aborted run
    for name in (MGMT_NS, LOGSRV_NS):
        check(run(["ip", "netns", "add", name]))
        check(ns(name, "ip", "link", "set", "lo", "up"))
    check(run(["ip", "link", "add", "eth0", "netns", MGMT_NS, "type", "veth",
               "peer", "name", "eth0", "netns", LOGSRV_NS]))
    for name, addr in ((MGMT_NS, MGMT_IP), (LOGSRV_NS, LOGSRV_IP)):
        check(ns(name, "ip", "addr", "add", f"{addr}/24", "dev", "eth0"))
        check(ns(name, "ip", "link", "set", "eth0", "up"))


# ---------------------------------------------------------------- certificates

def openssl(*args):
    return check(run(["openssl", *args], timeout=30))


def make_ca(folder, name):
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, cert


def make_server_cert(folder, name, ca_key, ca_cert, ip):
    """A server certificate for `ip` (CN and SAN) signed by the given CA."""
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.crt"
    ext = folder / f"{name}.ext"
    ext.write_text(f"basicConstraints=CA:FALSE\nsubjectAltName=IP:{ip}\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={ip}")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return key, cert


# ---------------------------------------------------------------- rsyslogd and qorgan-logfwd

RSYSLOG_CONF = """
global(workDirectory="{work}"
       DefaultNetstreamDriver="ossl"
       DefaultNetstreamDriverCAFile="{ca}"
       DefaultNetstreamDriverCertFile="{cert}"
       DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="remote") {{
    action(type="omfile" file="{out}" template="raw")
}}
input(type="imtcp" address="{addr}" port="{port}" ruleset="remote")
"""


class Rsyslog:
    """rsyslogd in qg-logsrv, TLS on 192.0.2.10:6514, each message's %rawmsg% a line of `out`."""

    def __init__(self, folder, name, ca, cert, key):
        self.folder = Path(folder)
        self.work = self.folder / f"{name}-work"
        self.work.mkdir(exist_ok=True)
        self.out = self.folder / f"{name}-received.log"
        self.conf = self.folder / f"{name}.conf"
        self.pidfile = self.folder / f"{name}.pid"
        self.log = self.folder / f"{name}.log"
        self.conf.write_text(RSYSLOG_CONF.format(work=self.work, ca=ca, cert=cert, key=key,
                                                 out=self.out, addr=LOGSRV_IP, port=PORT))
        self.proc = None

    def listening(self):
        r = ns(LOGSRV_NS, "ss", "-Hltn", "sport", "=", f":{PORT}")
        return r.rc == 0 and f"{LOGSRV_IP}:{PORT}" in r.out

    def start(self, timeout=15):
        self.pidfile.unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            # ip netns exec execs in place: proc.pid is rsyslogd's pid.
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", LOGSRV_NS, RSYSLOGD, "-n", "-f", str(self.conf),
                 "-i", str(self.pidfile)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_until(lambda: self.listening() or self.proc.poll() is not None, timeout) \
                or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"rsyslogd does not listen on {LOGSRV_IP}:{PORT}:\n{log_tail(self.log)}")
        return self

    def stop(self):
        rc, self.proc = stop_process(self.proc), None
        wait_until(lambda: not self.listening(), 5)
        return rc

    def lines(self):
        try:
            return self.out.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []


class Logfwd:
    """qorgan-logfwd in qg-mgmt on an audit dir, with its state, status and log in `folder`."""

    def __init__(self, folder, audit_dir, ca):
        folder = Path(folder)
        self.audit_dir = audit_dir
        self.ca = ca
        self.state = folder / "logfwd-state.json"
        self.status_file = folder / "logfwd-status.json"
        self.log = folder / "logfwd.log"
        self.proc = None

    def start(self):
        if not LOGFWD.exists():
            raise RuntimeError(f"{LOGFWD} not built (set QORGAN_BUILD or QORGAN_LOGFWD)")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", MGMT_NS, str(LOGFWD), "--audit-dir", str(self.audit_dir),
                 "--state", str(self.state), "--status", str(self.status_file),
                 "--server", LOGSRV_IP, "--port", str(PORT), "--ca", str(self.ca),
                 "--hostname", "qorgan-lab", "--poll-ms", "100"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self):
        rc, self.proc = stop_process(self.proc), None
        return rc

    def status(self):
        try:
            return json.loads(self.status_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def log_text(self):
        return log_tail(self.log, 60)


def audit_load(audit_dir, count):
    """Appends `count` events with audit-load; returns the seq of the last one."""
    if not AUDIT_LOAD.exists():
        raise RuntimeError(f"{AUDIT_LOAD} not built (set QORGAN_BUILD or QORGAN_AUDIT_LOAD)")
    r = check(run([str(AUDIT_LOAD), str(audit_dir), str(count)], timeout=120))
    return int(r.out.strip())


def store_records(audit_dir):
    """The store as its files hold it: seq -> (prev, SHA-256 of the stored line, action).
    Seal records count too: they are records of the chain and are forwarded like the others."""
    records = {}
    for path in sorted(Path(audit_dir).glob("audit-*.jsonl*")):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        for line in data.split(b"\n"):
            if line:
                rec = json.loads(line)
                records[rec["seq"]] = (rec["prev"], hashlib.sha256(line).hexdigest(), rec["action"])
    return records


def received(lines):
    """[(seq, prev)] of the qorgan records among the received lines, in arrival order."""
    out = []
    for line in lines:
        seq, prev = SEQ.search(line), PREV.search(line)
        if seq:
            out.append((int(seq.group(1)), prev.group(1) if prev else None))
    return out


class SyslogForwarding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="qorgan-syslog-"))
        try:
            make_namespaces()
            ca_key, cls.ca = make_ca(cls.tmp, "qorgan-lab-ca")
            other_key, other_ca = make_ca(cls.tmp, "other-ca")
            cls.server_key, cls.server_cert = make_server_cert(cls.tmp, "logsrv", ca_key, cls.ca, LOGSRV_IP)
            cls.rogue_key, cls.rogue_cert = make_server_cert(cls.tmp, "rogue", other_key, other_ca, LOGSRV_IP)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        remove_namespaces()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def folder(self, name):
        path = self.tmp / name
        path.mkdir()
        return path

    def rsyslog(self, folder, cert, key):
        server = Rsyslog(folder, "rsyslog", self.ca, cert, key)
        self.addCleanup(server.stop)
        return server

    def logfwd(self, folder, audit_dir):
        fwd = Logfwd(folder, audit_dir, self.ca)
        self.addCleanup(fwd.stop)
        return fwd

    def assert_all_once_in_order(self, server, audit_dir, fwd):
        store = store_records(audit_dir)
        wait_until(lambda: len(received(server.lines())) >= len(store), 60)
        time.sleep(0.5)  # a duplicate arriving late would show up as an excess
        got = received(server.lines())
        diag = f"\nlogfwd:\n{fwd.log_text()}\nrsyslog:\n{log_tail(server.log)}"
        self.assertEqual([seq for seq, _ in got], sorted(store), "each record once, in order" + diag)
        for seq, prev in got:
            self.assertEqual(prev, store[seq][0], f"prev of seq {seq} differs from the store")
            if seq > 1:
                self.assertEqual(prev, store[seq - 1][1], f"seq {seq} does not chain to seq {seq - 1}")
        return store

    def test_rsyslog_down_for_a_while_loses_nothing_and_duplicates_nothing_R38_6_R90_1_7(self):
        work = self.folder("restart")
        audit_dir = work / "audit"
        audit_load(audit_dir, 500)
        server = self.rsyslog(work, self.server_cert, self.server_key).start()
        fwd = self.logfwd(work, audit_dir).start()

        store = self.assert_all_once_in_order(server, audit_dir, fwd)
        self.assertEqual(sum(1 for r in store.values() if r[2] == "command"), 500)
        status = wait_until(lambda: fwd.status().get("last_sent_seq") == max(store) and fwd.status(), 5)
        self.assertTrue(status and status["connected"], f"{fwd.status()}\n{fwd.log_text()}")
        self.assertEqual(status["server"], f"{LOGSRV_IP}:{PORT}")

        server.stop()  # SIGTERM
        self.assertTrue(wait_until(lambda: fwd.status().get("connected") is False, 10),
                        f"logfwd did not notice the server stop: {fwd.status()}\n{fwd.log_text()}")
        before = len(server.lines())
        audit_load(audit_dir, 300)  # while nobody listens
        time.sleep(3)
        status = fwd.status()
        self.assertFalse(status["connected"])
        self.assertIn("Connection refused", status["last_error"])
        self.assertEqual(status["last_sent_seq"], max(store), "nothing counts as sent while down")
        self.assertEqual(len(server.lines()), before)

        server.start()
        store = self.assert_all_once_in_order(server, audit_dir, fwd)
        self.assertEqual(sum(1 for r in store.values() if r[2] == "command"), 800)
        status = wait_until(lambda: fwd.status().get("last_sent_seq") == max(store) and fwd.status(), 5)
        self.assertTrue(status and status["connected"] and status["last_error"] == "", f"{fwd.status()}")
        self.assertEqual(json.loads((work / "logfwd-state.json").read_text())["last_sent_seq"], max(store))
        log = fwd.log_text()
        self.assertIn("disconnected from", log)
        self.assertEqual(log.count(f"connected to {LOGSRV_IP}:{PORT}"), 2, log)

    def test_server_certificate_from_another_ca_is_refused_R90_1_7(self):
        work = self.folder("rogue")
        audit_dir = work / "audit"
        audit_load(audit_dir, 20)
        server = self.rsyslog(work, self.rogue_cert, self.rogue_key).start()
        fwd = self.logfwd(work, audit_dir).start()
        error = wait_until(lambda: fwd.status().get("last_error", ""), 15)
        self.assertIn(f"R90-1-7: certificate of log server {LOGSRV_IP}:{PORT} refused", error, fwd.log_text())
        self.assertIn("unable to get local issuer certificate", error)
        self.assertFalse(fwd.status()["connected"])
        self.assertEqual(fwd.status()["last_sent_seq"], 0)
        self.assertIn("R90-1-7", fwd.log_text())
        # A second attempt after the backoff is refused the same way: never an unverified session.
        self.assertTrue(wait_until(lambda: fwd.log_text().count("refused: unable to get local issuer") >= 2, 10),
                        fwd.log_text())
        self.assertEqual(received(server.lines()), [])
        self.assertFalse((work / "logfwd-state.json").exists())


def audit_lines(lines):
    """[{pri, msgid, seq, user, prev, text}] of the qorgan records among received lines, in arrival
    order (MSGID is the record's action)."""
    out = []
    for line in lines:
        m = HEADER.search(line)
        if m:
            prev = PREV.search(line)
            out.append({"pri": int(m.group(1)), "msgid": m.group(2), "seq": int(m.group(3)),
                        "user": m.group(4), "prev": prev.group(1) if prev else None, "text": line})
    return out


class QorgandAuditToSyslog(LabTestCase):
    """qorgand in qg-mgmt forwards its own audit store, as the security administrator set it
    up, to rsyslogd in qg-logsrv. The tests run in order: each builds on the one before."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()  # the shared dataplane: qorgand's start waits until in step with it
        cls.tmp = Path(tempfile.mkdtemp(prefix="qorgan-syslog-e2e-"))
        cls.server = cls.q = None
        try:
            make_namespaces()
            ca_key, cls.ca = make_ca(cls.tmp, "qorgan-lab-ca")
            key, cert = make_server_cert(cls.tmp, "logsrv", ca_key, cls.ca, LOGSRV_IP)
            cls.server = Rsyslog(cls.tmp, "rsyslog", cls.ca, cert, key).start()
            cls.state = cls.tmp / "qorgand-state"
            cls.audit_dir = cls.state / "audit"
            cls.q = Qorgand(state_dir=cls.state, netns=MGMT_NS, socket_path=cls.tmp / "qorgand.sock")
            cls.q.start(timeout=60)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.q is not None and cls.q.proc is not None:
                pgid = cls.q.proc.pid  # its own session: qorgand and the forwarder it forked
                cls.q.stop()  # SIGTERM: qorgand stops its forwarder first
                try:
                    os.killpg(pgid, signal.SIGKILL)  # a forwarder left behind by a crash
                except ProcessLookupError:
                    pass
            if cls.server is not None:
                cls.server.stop()
        finally:
            remove_namespaces()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def diag(self):
        return (f"\nlogfwd:\n{log_tail(self.state / 'logfwd.log')}\nrsyslog:\n{log_tail(self.server.log)}"
                f"\nqorgand:\n{log_tail(QORGAND_LOG, 20)}")

    def forwarding(self):
        """`show log forwarding` as the auditor, as {key: value}."""
        r = self.q.cli("show log forwarding", user="auditor")
        self.assertEqual(r.rc, 0, str(r))
        return dict(line.split(": ", 1) for line in r.out.splitlines() if ": " in line)

    def admin_actions(self):
        """A command, a refused privileged command and a failed login, each checked."""
        r = self.q.cli("show interfaces", user="netadmin")
        self.assertEqual(r.rc, 0, str(r))
        self.assertIn("inner0", r.out)
        r = self.q.cli("configure", user="operator")
        self.assertNotEqual(r.rc, 0, str(r))
        self.assertIn("permission denied (R128-b)", r.err)
        c = QorgandConnection(self.q.socket)
        try:
            reply = c.login({"user": "auditor", "password": "not-the-password"})
        finally:
            c.close()
        self.assertFalse(reply.get("done"), reply)
        self.assertFalse(reply.get("ok"), reply)

    def assert_store_arrived_once_in_order(self):
        """Waits (bounded) until rsyslog holds every record of the store, then checks that the
        qorgan records received are seq 1, 2, 3... each once, each as the store holds it.
        Returns the received records."""
        last = max(store_records(self.audit_dir))
        wait_until(lambda: any(r["seq"] >= last for r in audit_lines(self.server.lines())), 60, step=0.5)
        time.sleep(0.5)  # a duplicate arriving late would show up as an excess
        got = audit_lines(self.server.lines())
        store = store_records(self.audit_dir)  # after `got`: holds every record received
        seqs = [r["seq"] for r in got]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "each record once, in order" + self.diag())
        self.assertGreaterEqual(len(seqs), last, "the store's last record did not arrive" + self.diag())
        for r in got:
            prev, _, action = store[r["seq"]]
            self.assertEqual((r["msgid"], r["prev"]), (action, prev), f"seq {r['seq']} differs from the store")
            if r["seq"] > 1:
                self.assertEqual(r["prev"], store[r["seq"] - 1][1], f"seq {r['seq']} does not chain")
        return got

    def assert_actions_among(self, got, after_seq):
        """The records of admin_actions() are among `got` past `after_seq`."""
        mine = [(r["msgid"], r["user"]) for r in got if r["seq"] > after_seq]
        self.assertIn(("command", "netadmin"), mine)
        self.assertIn(("privilege-refused", "operator"), mine)
        failed = [r for r in got if r["seq"] > after_seq and r["msgid"] == "login-failed"]
        self.assertEqual(len(failed), 1, mine)
        self.assertEqual(failed[0]["user"], "auditor")
        self.assertIn("wrong password", failed[0]["text"])

    def test_1_admin_actions_reach_rsyslog_each_once_in_order_R128_c_R90_1_7(self):
        self.assertNotIn("connected", self.forwarding(), "no forwarder before the commit")
        r = self.q.cli("configure", f"set system audit syslog server {LOGSRV_IP}",
                       f"set system audit syslog port {PORT}",
                       f'set system audit syslog ca-file "{self.ca}"',
                       'commit comment "remote copy of the audit log"', "exit", user="secadmin")
        self.assertEqual(r.rc, 0, str(r))
        self.assertIn("commit complete", r.out, str(r))
        self.admin_actions()

        got = self.assert_store_arrived_once_in_order()
        commits = [r for r in got if r["msgid"] == "commit" and r["user"] == "secadmin"]
        self.assertEqual(len(commits), 1, [(r["seq"], r["msgid"], r["user"]) for r in got])
        self.assertIn("remote copy of the audit log", commits[0]["text"])
        self.assert_actions_among(got, commits[0]["seq"])
        self.assertEqual({r["pri"] // 8 for r in got}, {10}, "facility authpriv")
        status = wait_until(lambda: self.forwarding().get("connected") == "true" and self.forwarding(), 10, step=1)
        self.assertTrue(status, f"{self.forwarding()}{self.diag()}")
        self.assertEqual(status["server"], f"{LOGSRV_IP}:{PORT}")
        self.assertEqual(status["last_error"], "")

    def test_2_rsyslog_down_for_a_while_loses_nothing_and_duplicates_nothing_R38_6(self):
        self.server.stop()
        self.assertTrue(wait_until(lambda: self.forwarding().get("connected") == "false", 15, step=1),
                        f"the forwarder did not notice the server stop: {self.forwarding()}{self.diag()}")
        before = len(self.server.lines())
        boundary = max(store_records(self.audit_dir))
        self.admin_actions()  # while nobody listens
        time.sleep(3)
        status = self.forwarding()
        self.assertEqual(status["connected"], "false")
        self.assertIn("Connection refused", status["last_error"])
        self.assertLess(int(status["last_sent_seq"]), max(store_records(self.audit_dir)),
                        "nothing counts as sent while down")
        self.assertEqual(len(self.server.lines()), before)

        self.server.start()
        got = self.assert_store_arrived_once_in_order()
        self.assert_actions_among(got, boundary)
        log = log_tail(self.state / "logfwd.log", 200)
        self.assertIn("disconnected from", log)
        self.assertEqual(log.count(f"connected to {LOGSRV_IP}:{PORT}"), 2, log)

    def test_3_network_admin_cannot_change_or_remove_the_remote_copy_R128_b_R38_6(self):
        for line in ("set system audit syslog port 1514", "delete system audit syslog"):
            r = self.q.cli("configure", line, "exit", user="netadmin")
            self.assertNotEqual(r.rc, 0, str(r))
            self.assertIn("permission denied (R128-b)", r.err, str(r))
        r = self.q.cli("show configuration | display set | match syslog", user="secadmin")
        self.assertEqual(r.rc, 0, str(r))
        self.assertIn(f"set system audit syslog port {PORT}", r.out)
        self.assertIn(f"set system audit syslog server {LOGSRV_IP}", r.out)
        # The refusals themselves reach the log server, and the forwarder was never restarted.
        got = self.assert_store_arrived_once_in_order()
        refused = [r for r in got if r["msgid"] == "privilege-refused" and r["user"] == "netadmin"]
        self.assertEqual(len(refused), 2, [(r["seq"], r["msgid"], r["user"]) for r in got])
        lifecycle = [r["text"] for r in got if r["msgid"] == "service" and "qorgan-logfwd" in r["text"]]
        self.assertEqual(len(lifecycle), 1, lifecycle)
        self.assertIn(f"qorgan-logfwd started for {LOGSRV_IP}:{PORT}", lifecycle[0])
        self.assertEqual(self.forwarding().get("connected"), "true")


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: GPL-2.0-or-later
# qorgan-ike against a stock strongSwan peer (R128-h, R139-7; docs/IPSEC.md "qorgan-ike"):
# qorgan-ike runs in its own namespace qk-gw beside a fake dataplane control socket, a stock
# charon with kernel-libipsec (this kernel has no ESP) runs in qk-peer; the IKE SA comes up and
# the fake dataplane receives the SAs and policies charon negotiated, with the peer's SPIs and
# keys. Stands alone on kernel networking: its own qk-* namespaces, not the qg-* lab.
#   python3 -m unittest test_ike    (in tests/lab, as root)

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from fake_ike_dataplane import FakeDataplane
from labkit import BUILD_DIR, lab_address, run
from stock_charon import CHARON, SWANCTL, StockCharon, must, wait_until

IKE_BIN = Path(os.environ.get("QORGAN_IKE", str(BUILD_DIR / "ike" / "qorgan-ike")))

GW_NS, PEER_NS = "qk-gw", "qk-peer"
GW_ADDR, PEER_ADDR = lab_address("203.0.113.1"), lab_address("203.0.113.10")
GW_NET, PEER_NET = "198.18.1.0/24", "192.0.2.0/24"
PSK = "qk-lab-secret-1"
ESTABLISH_S = 40


def gw_peer(**changes):
    peer = {"name": "site1", "address": PEER_ADDR, "local_address": GW_ADDR, "local_id": "",
            "remote_id": "", "auth": "psk", "psk": PSK, "certificate": "", "private_key": "",
            "ca": "", "ike_proposals": ["aes256-sha256-modp3072"],
            "esp_proposals": ["aes256gcm16", "aes256-sha256"], "local_subnets": [GW_NET],
            "remote_subnets": [PEER_NET], "ike_lifetime_s": 14400, "lifetime_s": 3600,
            "lifetime_bytes": 0, "lifetime_packets": 0, "dpd_s": 30, "start_action": "start",
            "encap": False}
    peer.update(changes)
    return peer


def parse_sas(raw):
    """IKE SAs of `swanctl --list-sas --raw`: [{"state", "children": [{"state","spi_in","spi_out"}]}]."""
    sas = []
    for m in re.finditer(r"list-sa event \{(.*)", raw):
        text = m.group(1)
        state = re.search(r"\bstate=(\w+)", text)
        children = []
        for c in re.finditer(r"\{[^{}]*?\bstate=(\w+)[^{}]*?\bspi-in=([0-9a-f]+)[^{}]*?"
                             r"\bspi-out=([0-9a-f]+)", text):
            children.append({"state": c.group(1), "spi_in": int(c.group(2), 16),
                             "spi_out": int(c.group(3), 16)})
        sas.append({"state": state.group(1) if state else "", "children": children})
    return sas


def hexdump_keys(log_text):
    """{"initiator": hex, "responder": hex} from the peer's chd level 4 key dumps."""
    keys = {}
    lines = log_text.splitlines()
    for i, line in enumerate(lines):
        m = re.search(r"encryption (initiator|responder) key => (\d+) bytes", line)
        if not m:
            continue
        want, out = int(m.group(2)), ""
        for follow in lines[i + 1:]:
            d = re.search(r"\s\d+: ((?:[0-9A-F]{2} ?)+)", follow)
            if not d or len(out) >= want * 2:
                break
            out += d.group(1).replace(" ", "")[:32]
        keys[m.group(1)] = out.lower()[:want * 2]
    return keys


def write_pki(folder):
    """Test-time keys and certificates (python3-cryptography, ECDSA P-256), never committed:
    ca (the gateway's configured CA), other-ca (a CA the gateway does not know); gw (signed by
    ca, SAN DNS gw.lab.example); peer certificates without SANs, so their DN is their only
    identity: good "CN=site1.example", nul "CN=site1.example\\0.evil.example" (a NUL byte inside
    the CN), other "CN=site2.example", all three by ca, and wrongca "CN=site1.example" by
    other-ca. Writes NAME.pem and NAME.key; returns {NAME: subject DER} of the certificates."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    subjects = {}

    def make(name, cn, issuer=None, ca=False, san=None):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Qorgan Lab"),
                             x509.NameAttribute(NameOID.COMMON_NAME, cn)] if ca else
                            [x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        cert = b.sign(issuer_key, hashes.SHA256())
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        os.chmod(folder / f"{name}.key", 0o600)
        subjects[name] = subject.public_bytes()
        return cert, key

    ca = make("ca", "Qorgan Lab CA", ca=True)
    other_ca = make("other-ca", "Other CA", ca=True)
    make("gw", "gw.lab.example", ca, san="gw.lab.example")
    make("good", "site1.example", ca)
    make("nul", "site1.example\x00.evil.example", ca)
    make("other", "site2.example", ca)
    make("wrongca", "site1.example", other_ca)
    return subjects


class IkeLab(unittest.TestCase):
    """Namespaces once per class; each test starts its own fake dataplane, peer and qorgan-ike."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError("the IKE lab needs root (network namespaces)")
        for path in (IKE_BIN, CHARON, SWANCTL):
            if not Path(path).exists():
                raise AssertionError(f"{path} is missing: build qorgan-ike, run scripts/setup")
        cls._teardown_namespaces()
        try:
            for name in (GW_NS, PEER_NS):
                must(run(["ip", "netns", "add", name]))
                must(run(["ip", "-n", name, "link", "set", "lo", "up"]))
            must(run(["ip", "link", "add", "qk-gw0", "netns", GW_NS, "type", "veth", "peer",
                      "name", "qk-peer0", "netns", PEER_NS]))
            for ns_name, dev, addr, inner_dev, inner in (
                    (GW_NS, "qk-gw0", GW_ADDR, "qk-in0", "198.18.1.1/24"),
                    (PEER_NS, "qk-peer0", PEER_ADDR, "qk-in0", "192.0.2.1/24")):
                must(run(["ip", "-n", ns_name, "addr", "add", f"{addr}/24", "dev", dev]))
                must(run(["ip", "-n", ns_name, "link", "set", dev, "up"]))
                # the subnet behind each side: a veth pair inside the namespace (this kernel
                # has no dummy driver)
                must(run(["ip", "-n", ns_name, "link", "add", inner_dev, "type", "veth", "peer",
                          "name", "qk-in1"]))
                must(run(["ip", "-n", ns_name, "link", "set", "qk-in1", "up"]))
                must(run(["ip", "-n", ns_name, "addr", "add", inner, "dev", inner_dev]))
                must(run(["ip", "-n", ns_name, "link", "set", inner_dev, "up"]))
        except Exception:
            cls._teardown_namespaces()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._teardown_namespaces()

    @staticmethod
    def _teardown_namespaces():
        for name in (GW_NS, PEER_NS):
            if Path("/run/netns", name).exists():
                run(["ip", "netns", "del", name])

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="qorgan-ike-lab-"))
        os.chmod(self.dir, 0o700)
        self.procs = []
        self.dataplane = None
        self.ike = None

    def tearDown(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=5)
        if self.dataplane:
            self.dataplane.stop()
        if os.environ.get("QORGAN_IKE_KEEP"):
            print(f"\nike lab files kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------ processes

    def spawn(self, cmd, log_name, env=None):
        log = open(self.dir / log_name, "ab")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def start_dataplane(self, peers):
        self.dataplane = FakeDataplane(self.dir / "dataplane.sock", peers).start()

    def start_ike(self):
        self.ike = self.spawn(["ip", "netns", "exec", GW_NS, str(IKE_BIN),
                               "--control-socket", str(self.dir / "dataplane.sock"),
                               "--run-dir", str(self.dir / "ike"), "--log", str(self.dir / "qorgan-ike.log"),
                               "--debug", "1"], "qorgan-ike.out")
        return self.ike

    def start_peer(self, conn_text, secrets_text="", files=()):
        """A stock charon in qk-peer (stock_charon.py), its keys logged at chd level 4."""
        StockCharon(PEER_NS, self.dir / "peer", chd_keys=True).start(self.procs, conn_text,
                                                                     secrets_text, files)

    def peer_swanctl(self, *args, timeout=15):
        return run([SWANCTL, *args, "--uri", f"unix://{self.dir}/peer/charon.vici"], timeout=timeout)

    def peer_log(self):
        p = self.dir / "peer" / "charon.log"
        out = self.dir / "peer-charon.out"
        return (p.read_text(errors="replace")[-4000:] if p.exists() else "") + \
            (out.read_text(errors="replace")[-2000:] if out.exists() else "")

    def ike_log(self):
        text = ""
        for name in ("qorgan-ike.out", "qorgan-ike.log"):
            p = self.dir / name
            text += p.read_text(errors="replace")[-6000:] if p.exists() else ""
        return text

    def peer_sas(self):
        r = self.peer_swanctl("--list-sas", "--raw")
        return parse_sas(r.out) if r.rc == 0 else []

    def wait_established(self, exclude_spis=()):
        """The peer's ESTABLISHED IKE SA with an INSTALLED CHILD_SA (not one of exclude_spis)."""
        def child():
            for sa in self.peer_sas():
                if sa["state"] != "ESTABLISHED":
                    continue
                for c in sa["children"]:
                    if c["state"] == "INSTALLED" and c["spi_in"] not in exclude_spis:
                        return c
            return None
        c = wait_until(child, ESTABLISH_S, 1)
        self.assertTrue(c, f"no ESTABLISHED IKE SA with an INSTALLED CHILD_SA within {ESTABLISH_S} s"
                           f"\npeer:\n{self.peer_log()}\nqorgan-ike:\n{self.ike_log()}")
        return c

    def wait_add_sa(self, spi, mark=0, timeout=10):
        def found():
            for r in self.dataplane.ops_since(mark, "ipsec-add-sa"):
                if r["spi"] == spi:
                    return r
            return None
        r = wait_until(found, timeout, 0.2)
        self.assertTrue(r, f"no ipsec-add-sa for spi {spi:#x}: {self.dataplane.ops()}\n{self.ike_log()}")
        return r

    def peer_conn(self, auth_local="auth = psk\n            id = 203.0.113.10",
                  auth_remote="auth = psk\n            id = 203.0.113.1", child_extra="",
                  name="gw", conn_extra=""):
        return f"""    {name} {{
        version = 2
        local_addrs = {PEER_ADDR}
        remote_addrs = {GW_ADDR}
        proposals = aes256-sha256-modp3072
        {conn_extra}
        local {{
            {auth_local}
        }}
        remote {{
            {auth_remote}
        }}
        children {{
            {name} {{
                local_ts = {PEER_NET}
                remote_ts = {GW_NET}
                esp_proposals = aes256gcm16
                start_action = none
                {child_extra}
            }}
        }}
    }}
"""

    PEER_PSK = f"""    ike-gw {{
        id-1 = 203.0.113.10
        id-2 = 203.0.113.1
        secret = "{PSK}"
    }}
"""

    def check_tunnel(self, child, mark=0):
        """The add-sa pair and the policies of the peer's CHILD_SA `child` reached the
        dataplane as docs/IPSEC.md says."""
        # the peer's inbound SPI is our outbound one, and the other way round
        out_sa = self.wait_add_sa(child["spi_in"], mark)
        in_sa = self.wait_add_sa(child["spi_out"], mark)
        self.assertEqual(out_sa["dir"], "out")
        self.assertEqual((out_sa["src"], out_sa["dst"]), (GW_ADDR, PEER_ADDR))
        self.assertEqual(in_sa["dir"], "in")
        self.assertEqual((in_sa["src"], in_sa["dst"]), (PEER_ADDR, GW_ADDR))
        for sa in (out_sa, in_sa):
            self.assertEqual(sa["cipher"], "aes256gcm16", sa["op"])
            self.assertEqual(len(bytes.fromhex(sa["enc_key"])), 36, "AES-256-GCM key + 4-byte salt")
            self.assertEqual(sa["integ_key"], "")
            self.assertEqual(sa["peer"], "site1")
            self.assertGreater(sa["reqid"], 0)
            self.assertGreaterEqual(sa["spi"], 256)
        self.assertNotEqual(out_sa["enc_key"], in_sa["enc_key"])
        want = {("out", GW_NET, PEER_NET, GW_ADDR, PEER_ADDR),
                ("in", PEER_NET, GW_NET, PEER_ADDR, GW_ADDR),
                ("fwd", PEER_NET, GW_NET, PEER_ADDR, GW_ADDR)}
        got = {(p["dir"], p["src"], p["dst"], p["tunnel"]["src"], p["tunnel"]["dst"])
               for p in self.dataplane.ops_since(mark, "ipsec-add-policy") if p["tunnel"]}
        self.assertTrue(want <= got, f"policies: {got}")
        return out_sa, in_sa

    # ------------------------------------------------------------ tests

    def test_1_psk_tunnel_R128_h(self):
        self.start_dataplane([gw_peer()])
        self.start_peer(self.peer_conn(), self.PEER_PSK)
        self.start_ike()
        child = self.wait_established()
        out_sa, in_sa = self.check_tunnel(child)
        ops = [r["op"] for r in self.dataplane.ops()]
        self.assertEqual(ops[:2], ["ipsec-flush", "ipsec-peers"], ops)
        # the keys are the peer's: qorgan-ike initiated, so its outbound SA carries the
        # initiator's key (the peer logs both at chd level 4)
        keys = wait_until(lambda: (lambda k: k if len(k) == 2 else None)(
            hexdump_keys((self.dir / "peer" / "charon.log").read_text(errors="replace"))), 5)
        self.assertTrue(keys, "the peer logged no keys")
        self.assertEqual(out_sa["enc_key"], keys["initiator"])
        self.assertEqual(in_sa["enc_key"], keys["responder"])
        # run dir: swanctl.conf 0600, the vici socket at its documented place
        conf = self.dir / "ike" / "swanctl.conf"
        self.assertEqual(conf.stat().st_mode & 0o777, 0o600)
        self.assertTrue((self.dir / "ike" / "charon.vici").exists())
        # qorgand's view: swanctl over the fixed vici socket of qorgan-ike
        r = run([SWANCTL, "--list-sas", "--raw", "--uri", f"unix://{self.dir}/ike/charon.vici"])
        self.assertEqual(r.rc, 0, str(r))
        self.assertIn("state=ESTABLISHED", r.out)
        # SIGTERM: a clean stop deletes the SAs it installed
        mark = self.dataplane.mark()
        os.killpg(self.ike.pid, signal.SIGTERM)
        self.assertEqual(self.ike.wait(timeout=20), 0, self.ike_log())
        dels = {r["spi"] for r in self.dataplane.ops_since(mark, "ipsec-del-sa")}
        self.assertEqual(dels, {out_sa["spi"], in_sa["spi"]}, self.ike_log())

    def test_2_restart_after_sigkill_flushes_and_negotiates_again(self):
        self.start_dataplane([gw_peer()])
        self.start_peer(self.peer_conn(), self.PEER_PSK)
        self.start_ike()
        first = self.wait_established()
        self.check_tunnel(first)
        os.killpg(self.ike.pid, signal.SIGKILL)
        self.ike.wait(timeout=10)
        mark = self.dataplane.mark()
        self.start_ike()
        ops = wait_until(lambda: self.dataplane.ops_since(mark), 10, 0.2)
        self.assertTrue(ops, "the restarted qorgan-ike sent nothing")
        self.assertEqual(ops[0]["op"], "ipsec-flush", ops)
        second = self.wait_established(exclude_spis={first["spi_in"]})
        self.check_tunnel(second, mark)

    def test_3_rekey_installs_new_sas_and_deletes_old_R139_7(self):
        self.start_dataplane([gw_peer(lifetime_s=8)])
        self.start_peer(self.peer_conn(), self.PEER_PSK)
        self.start_ike()
        first = self.wait_established()
        old_out, old_in = self.check_tunnel(first)
        mark = self.dataplane.mark()
        second = self.wait_established(exclude_spis={first["spi_in"]})
        new_out, new_in = self.wait_add_sa(second["spi_in"], mark), self.wait_add_sa(second["spi_out"], mark)
        self.assertEqual((new_out["dir"], new_in["dir"]), ("out", "in"))
        def old_deleted():
            dels = {(r["spi"], r["dst"]) for r in self.dataplane.ops_since(mark, "ipsec-del-sa")}
            return {(old_out["spi"], PEER_ADDR), (old_in["spi"], GW_ADDR)} <= dels
        self.assertTrue(wait_until(old_deleted, 20), f"{self.dataplane.ops_since(mark)}\n{self.ike_log()}")
        # the policies stay: a rekey re-adds them and never deletes them
        self.assertEqual(self.dataplane.ops_since(mark, "ipsec-del-policy"), [])
        self.assertTrue(any(p["dir"] == "out" for p in self.dataplane.policies.values()))

    def test_5_new_revision_loads_again_and_unloads_removed_peers(self):
        self.start_dataplane([gw_peer(start_action="none")])
        self.start_ike()
        vici = f"unix://{self.dir}/ike/charon.vici"

        def conns():
            r = run([SWANCTL, "--list-conns", "--raw", "--uri", vici])
            return r.out if r.rc == 0 else None
        self.assertTrue(wait_until(lambda: "site1" in (conns() or ""), 15), self.ike_log())
        mark = self.dataplane.mark()
        self.dataplane.peers = [gw_peer(name="site2", start_action="none")]
        self.dataplane.revision = 2
        self.assertTrue(wait_until(lambda: self.dataplane.ops_since(mark, "ipsec-peers"), 5),
                        "a new revision was not read within 5 s")
        out = wait_until(lambda: (lambda c: c if c and "site2" in c else None)(conns()), 15)
        self.assertTrue(out, self.ike_log())
        self.assertNotIn("site1", out, "the removed peer is still loaded")
        # a peer that would inject swanctl syntax is refused: the loaded config stays
        mark = self.dataplane.mark()
        self.dataplane.peers = [gw_peer(name="site3", remote_id='x" } evil {')]
        self.dataplane.revision = 3
        self.assertTrue(wait_until(lambda: self.dataplane.ops_since(mark, "ipsec-peers"), 5))
        self.assertTrue(wait_until(lambda: "refusing the peers" in self.ike_log(), 5), self.ike_log())
        self.assertIn("site2", conns() or "")
        self.assertNotIn("evil", (self.dir / "ike" / "swanctl.conf").read_text())

    def test_4_certificates(self):
        pki = self.dir / "pki"
        pki.mkdir()

        def openssl(*args):
            must(run(["openssl", *args], timeout=30))
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(pki / "ca.key"),
                "-out", str(pki / "ca.pem"), "-days", "2", "-subj", "/O=Qorgan Lab/CN=Qorgan Lab CA")
        for name, addr in (("gw", GW_ADDR), ("peer", PEER_ADDR)):
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(pki / f"{name}.key"),
                    "-out", str(pki / f"{name}.csr"), "-subj", f"/O=Qorgan Lab/CN={name}.lab.example")
            (pki / f"{name}.ext").write_text(f"subjectAltName=IP:{addr},DNS:{name}.lab.example\n")
            openssl("x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / "ca.pem"),
                    "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "2",
                    "-extfile", str(pki / f"{name}.ext"), "-out", str(pki / f"{name}.pem"))
        self.start_dataplane([gw_peer(auth="certificate", psk="", certificate=str(pki / "gw.pem"),
                                      private_key=str(pki / "gw.key"), ca=str(pki / "ca.pem"),
                                      local_id="gw.lab.example", remote_id="peer.lab.example")])
        self.start_peer(self.peer_conn(
            auth_local="auth = pubkey\n            certs = peer.pem\n            id = peer.lab.example",
            auth_remote="auth = pubkey\n            cacerts = ca.pem\n            id = gw.lab.example"),
            files=[(pki / "peer.pem", "x509/peer.pem"), (pki / "ca.pem", "x509ca/ca.pem"),
                   (pki / "peer.key", "private/peer.key")])
        self.start_ike()
        child = self.wait_established()
        self.check_tunnel(child)
        self.assertEqual((self.dir / "ike" / "private" / "site1.key").stat().st_mode & 0o777, 0o600)

    def cert_gateway(self, **changes):
        """The gateway's certificate peer of write_pki's files: it answers (start_action
        none), trusts ca, wants the peer to be "CN=site1.example"."""
        pki = self.dir / "pki"
        return gw_peer(**dict(dict(auth="certificate", psk="", certificate=str(pki / "gw.pem"),
                                   private_key=str(pki / "gw.key"), ca=str(pki / "ca.pem"),
                                   local_id="gw.lab.example", remote_id="CN=site1.example",
                                   start_action="none"), **changes))

    def assert_refused(self, conn, reason, wait_s=8):
        """The peer initiates `conn`: no ESTABLISHED IKE SA with an INSTALLED CHILD_SA on the
        peer within wait_s seconds, no ipsec-add-sa at the dataplane, and qorgan-ike's log
        (charon's lines in it) gains a line matching `reason`; returns that line."""
        log = self.dir / "qorgan-ike.log"
        offset = log.stat().st_size
        mark = self.dataplane.mark()
        r = self.peer_swanctl("--initiate", "--child", conn, "--timeout", "15", timeout=25)
        self.assertNotEqual(r.rc, 0, f"{conn}: the peer's initiate succeeded\n{r.out}")

        def installed():
            return any(sa["state"] == "ESTABLISHED" and
                       any(c["state"] == "INSTALLED" for c in sa["children"])
                       for sa in self.peer_sas())
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            self.assertFalse(installed(), f"{conn}: a tunnel came up\n{self.ike_log()}")
            time.sleep(1)
        self.assertEqual(self.dataplane.ops_since(mark, "ipsec-add-sa"), [], conn)

        def refusal():
            with open(log, "rb") as f:
                f.seek(offset)
                m = re.search(reason, f.read().decode(errors="replace"))
            return m.group(0) if m else None
        line = wait_until(refusal, 5)
        self.assertTrue(line, f"{conn}: no {reason!r} in qorgan-ike's log:\n{self.ike_log()}")
        # nothing half-made stays on the peer for the next case
        self.peer_swanctl("--terminate", "--ike", conn, "--force", "--timeout", "5")
        return line

    def test_6_certificate_refusals_R128_h(self):
        pki = self.dir / "pki"
        pki.mkdir()
        subjects = write_pki(pki)
        self.start_dataplane([self.cert_gateway()])
        remote = "auth = pubkey\n            cacerts = ca.pem\n            id = gw.lab.example"
        conns = ""
        for conn, cert, ident in (
                ("good", "good", "CN=site1.example"),
                # a CN with a NUL byte, by the right CA: claiming the configured identity, and
                # presenting its own subject byte for byte (asn1dn:#hex)
                ("nul_claim", "nul", "CN=site1.example"),
                ("nul_own", "nul", "asn1dn:#" + subjects["nul"].hex()),
                # the right CA, another name: claiming the configured identity, and its own
                ("other_claim", "other", "CN=site1.example"),
                ("other_own", "other", "CN=site2.example"),
                # the configured name, signed by a CA the gateway does not trust
                ("wrongca", "wrongca", "CN=site1.example")):
            conns += self.peer_conn(
                auth_local=f"auth = pubkey\n            certs = {cert}.pem\n"
                           f"            id = \"{ident}\"",
                auth_remote=remote, name=conn, conn_extra="send_cert = always")
        files = [(pki / "ca.pem", "x509ca/ca.pem"), (pki / "other-ca.pem", "x509ca/other-ca.pem")]
        for cert in ("good", "nul", "other", "wrongca"):
            files += [(pki / f"{cert}.pem", f"x509/{cert}.pem"),
                      (pki / f"{cert}.key", f"private/{cert}.key")]
        self.start_peer(conns, files=files)
        self.start_ike()
        vici = f"unix://{self.dir}/ike/charon.vici"
        self.assertTrue(wait_until(lambda: "site1" in run([SWANCTL, "--list-conns", "--raw", "--uri", vici]).out, 15),
                        self.ike_log())
        no_key = r"no trusted \w+ public key found for 'CN=site1\.example'"
        found = {}
        found["nul_claim"] = self.assert_refused("nul_claim", no_key)
        found["nul_own"] = self.assert_refused("nul_own", r"no matching peer config found")
        found["other_claim"] = self.assert_refused("other_claim", no_key)
        found["other_own"] = self.assert_refused("other_own", r"no matching peer config found")
        found["wrongca"] = self.assert_refused(
            "wrongca", r"no issuer certificate found for \"CN=site1\.example\"")
        print("\nrefusals in qorgan-ike's log: " + "; ".join(f"{k}: {v}" for k, v in found.items()))
        # the control: the right certificate of the right CA, the same harness, comes up
        mark = self.dataplane.mark()
        r = self.peer_swanctl("--initiate", "--child", "good", "--timeout", "20", timeout=30)
        self.assertEqual(r.rc, 0, f"{r.out}\n{self.ike_log()}")
        self.check_tunnel(self.wait_established(), mark)

    def test_7_bad_local_certificate_files_are_refused_R128_h(self):
        pki = self.dir / "pki"
        pki.mkdir()
        write_pki(pki)
        (pki / "junk.pem").write_text("not a certificate\n")
        self.start_dataplane([self.cert_gateway()])
        self.start_ike()
        vici = f"unix://{self.dir}/ike/charon.vici"

        def conns():
            r = run([SWANCTL, "--list-conns", "--raw", "--uri", vici])
            return r.out if r.rc == 0 else ""
        self.assertTrue(wait_until(lambda: "site1" in conns(), 15), self.ike_log())
        copied = (self.dir / "ike" / "x509" / "site1.pem").read_bytes()
        self.assertEqual(copied, (pki / "gw.pem").read_bytes())
        revision = 1
        for changes, why in (
                (dict(certificate=str(pki / "junk.pem")),
                 f"certificate {pki}/junk.pem: not a PEM certificate"),
                (dict(ca=str(pki / "junk.pem")), f"ca {pki}/junk.pem: not a PEM certificate"),
                (dict(private_key=str(pki / "junk.pem")),
                 f"private_key {pki}/junk.pem: not a PEM private key"),
                (dict(private_key=str(pki / "missing.key")),
                 f"private_key {pki}/missing.key: cannot read: No such file or directory"),
                (dict(private_key=str(pki / "good.key")),
                 f"private_key {pki}/good.key: not the key of the certificate {pki}/gw.pem"),
                (dict(ca=str(pki / "other-ca.pem")),
                 f"certificate {pki}/gw.pem: does not chain to the configured ca {pki}/other-ca.pem"),
                (dict(certificate=str(pki / "nul.pem"), private_key=str(pki / "nul.key")),
                 f"certificate {pki}/nul.pem: a NUL byte in its subject CN")):
            revision += 1
            self.dataplane.peers = [self.cert_gateway(**changes)]
            self.dataplane.revision = revision
            line = (f"refusing the peers of revision {revision}, keeping what runs: "
                    f"ipsec peer 'site1': {why}")
            self.assertTrue(wait_until(lambda: line in self.ike_log(), 10),
                            f"no {line!r} in\n{self.ike_log()}")
            # what runs stays: the connection and the files checked before
            self.assertIn("site1", conns())
            self.assertEqual((self.dir / "ike" / "x509" / "site1.pem").read_bytes(), copied)
        # good files again: a new revision loads
        revision += 1
        self.dataplane.peers = [self.cert_gateway(remote_id="CN=site9.example")]
        self.dataplane.revision = revision
        self.assertTrue(wait_until(lambda: f"of revision {revision}" in self.ike_log() and
                                   "loaded 1 peer(s) of revision " + str(revision) in self.ike_log(), 15),
                        self.ike_log())

    def test_8_gateway_initiating_refuses_a_nul_named_responder_R128_h(self):
        """qorgan-ike initiates (start_action start) to a peer that answers as CN=site1.example
        with the certificate "CN=site1.example\\0.evil.example" of the right CA."""
        pki = self.dir / "pki"
        pki.mkdir()
        write_pki(pki)
        self.start_dataplane([self.cert_gateway(start_action="start")])
        self.start_peer(self.peer_conn(
            auth_local="auth = pubkey\n            certs = nul.pem\n            id = \"CN=site1.example\"",
            auth_remote="auth = pubkey\n            cacerts = ca.pem\n            id = gw.lab.example",
            conn_extra="send_cert = always"),
            files=[(pki / "nul.pem", "x509/nul.pem"), (pki / "ca.pem", "x509ca/ca.pem"),
                   (pki / "nul.key", "private/nul.key")])
        self.start_ike()
        reason = "no trusted ECDSA public key found for 'CN=site1.example'"
        self.assertTrue(wait_until(lambda: reason in self.ike_log(), ESTABLISH_S),
                        f"no {reason!r} in\n{self.ike_log()}\npeer:\n{self.peer_log()}")
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            self.assertFalse(any(sa["state"] == "ESTABLISHED" for sa in self.peer_sas()),
                             self.ike_log())
            time.sleep(1)
        self.assertEqual(self.dataplane.ops_since(0, "ipsec-add-sa"), [])
        self.assertIn('received end entity cert "CN=site1.example?.evil.example"', self.ike_log())


if __name__ == "__main__":
    unittest.main()

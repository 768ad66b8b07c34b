# SPDX-License-Identifier: GPL-2.0-or-later
# IPsec end to end (docs/IPSEC.md; R128-h, R139-3, R139-7): the dataplane in qg-gw with an
# ipsec peer, qorgan-ike beside it (IKE through the exception TUN, SAs into the dataplane's ESP),
# and a stock strongSwan charon in qg-inet1 (kernel-libipsec: this kernel has no ESP) guarding a
# remote site 192.0.2.0/24 (namespace qg-site1). Hosts behind each side talk; on the wire
# between the gateways there is only ESP and IKE.
#   tests/lab/run test_ipsec    (as root)

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from labkit import (BUILD_DIR, DATAPLANE_BIN, INET1, INNER1, LAB_DIR, PYTHON, Capture,
                    ControlClient, OwnDataplaneTestCase, control, lab_address, ns, run,
                    write_config)
from stock_charon import CHARON, SWANCTL, StockCharon, must, spawn, stop_all, wait_until

IKE_BIN = Path(os.environ.get("QORGAN_IKE", str(BUILD_DIR / "ike" / "qorgan-ike")))
SITE_NS = "qg-site1"
SITE_HOST = lab_address("192.0.2.10")
SITE_GW = lab_address("192.0.2.1")
GW_ADDR, PEER_ADDR = lab_address("203.0.113.1"), lab_address("203.0.113.10")
GW_NET, PEER_NET = "198.18.1.0/24", "192.0.2.0/24"
CLEAR_NET = "198.51.100.0/24"  # covered by a policy without an SA in test_3
PSK = "qorgan-lab-ipsec-secret-1"
ESTABLISH_S = 45

PSK_AUTH = f'pre-shared-key "{PSK}";'


def gateway_config(auth=PSK_AUTH):
    return f"""interfaces {{
    inner0 {{ device "net_af_packet0,iface=dp-inner"; address 198.18.1.1/24; zone inner; }}
    inet0 {{ device "net_af_packet3,iface=dp-inet"; address 203.0.113.1/24; zone internet; }}
}}
zones {{ inner {{ loop inner; }} internet {{ loop internet; }} }}
policy {{
    inner0 {{
        ingress {{
            rule 10 {{ description "R139-7: into the tunnel only"; source {GW_NET}; destination {PEER_NET}; action accept; }}
            rule 20 {{ source {GW_NET}; destination {CLEAR_NET}; action accept; }}
        }}
        egress {{ rule 10 {{ source {PEER_NET}; destination {GW_NET}; action accept; }} }}
    }}
    inet0 {{
        ingress {{ rule 10 {{ description "from the tunnel only"; source {PEER_NET}; destination {GW_NET}; action accept; }} }}
        egress {{
            rule 10 {{ source {GW_NET}; destination {PEER_NET}; action accept; }}
            rule 20 {{ source {GW_NET}; destination {CLEAR_NET}; action accept; }}
        }}
    }}
}}
routes {{ route {CLEAR_NET} {{ via 203.0.113.10; }} }}
ipsec {{
    peer site1 {{
        address {PEER_ADDR};
        {auth}
        local-subnet {GW_NET};
        remote-subnet {PEER_NET};
    }}
}}
"""


def dp_sas():
    r = control({"op": "ipsec-sas"})
    if not r.get("ok"):
        raise AssertionError(f"ipsec-sas: {r}")
    return r["sas"]


def drops():
    return control({"op": "drops"})["drops"]


def fresh_namespace(name):
    """Network namespace `name`, new (an old one of that name is removed), lo up."""
    if Path("/run/netns", name).exists():
        run(["ip", "netns", "del", name])
    must(run(["ip", "netns", "add", name]))
    must(run(["ip", "-n", name, "link", "set", "lo", "up"]))


class IpsecLabCase(OwnDataplaneTestCase):
    """Its own dataplane (OwnDataplaneTestCase), a folder, the processes it starts and the
    namespaces it makes (NAMESPACES); bring_up() builds the rest. Everything goes at the end,
    also when bring_up() fails; qg-inet1, which routes for these tests, stops forwarding."""

    NAMESPACES = ()
    procs = []

    @classmethod
    def bring_up(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        for path in (IKE_BIN, CHARON, SWANCTL):
            if not Path(path).exists():
                raise AssertionError(f"{path} is missing: build qorgan-ike, run scripts/setup")
        super().setUpClass()
        cls.dir = Path(tempfile.mkdtemp(prefix=f"qorgan-{cls.__name__}-"))
        os.chmod(cls.dir, 0o700)
        cls.procs = []
        try:
            cls.bring_up()
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()

    @classmethod
    def _cleanup(cls):
        stop_all(cls.procs)
        for name in cls.NAMESPACES:
            if Path("/run/netns", name).exists():
                run(["ip", "netns", "del", name])
        ns(INET1.ns, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        if not os.environ.get("QORGAN_IPSEC_KEEP"):
            shutil.rmtree(cls.dir, ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def spawn(cls, cmd, log_name, env=None):
        return spawn(cls.procs, cls.dir, cmd, log_name, env)


class IpsecTunnel(IpsecLabCase):
    """One tunnel for the class: qorgan-ike initiates it (start-action start). Subclasses
    choose the authentication: gateway_auth() (config statements) and peer_auth() (the stock
    peer's local and remote sections, and the credential files it loads)."""

    NAMESPACES = (SITE_NS,)

    @classmethod
    def gateway_auth(cls):
        return PSK_AUTH

    @classmethod
    def peer_auth(cls):
        local = f"auth = psk\n            id = {PEER_ADDR}"
        remote = f"auth = psk\n            id = {GW_ADDR}"
        return local, remote, []

    @classmethod
    def own_config(cls):
        return write_config(f"test-ipsec-{cls.__name__}.conf", gateway_config(cls.gateway_auth()))

    @classmethod
    def bring_up(cls):
        cls._site_up()
        cls._start_peer()
        cls._start_ike()
        cls._wait_established()

    # ------------------------------------------------------------ the other side

    @classmethod
    def _site_up(cls):
        """qg-site1 (192.0.2.10) behind qg-inet1 (192.0.2.1), which forwards."""
        fresh_namespace(SITE_NS)
        must(run(["ip", "link", "add", "site-gw", "netns", INET1.ns, "type", "veth", "peer",
                  "name", "eth0", "netns", SITE_NS]))
        must(run(["ip", "-n", INET1.ns, "addr", "add", f"{SITE_GW}/24", "dev", "site-gw"]))
        must(run(["ip", "-n", INET1.ns, "link", "set", "site-gw", "up"]))
        must(run(["ip", "-n", SITE_NS, "addr", "add", f"{SITE_HOST}/24", "dev", "eth0"]))
        must(run(["ip", "-n", SITE_NS, "link", "set", "eth0", "up"]))
        must(run(["ip", "-n", SITE_NS, "route", "add", "default", "via", SITE_GW]))
        for n, dev in ((SITE_NS, "eth0"), (INET1.ns, "site-gw")):
            run(["ip", "netns", "exec", n, "ethtool", "-K", dev, "tx", "off"])
        must(ns(INET1.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"))

    @classmethod
    def _start_peer(cls):
        """The stock charon in qg-inet1 (stock_charon.py) guarding 192.0.2.0/24."""
        auth_local, auth_remote, files = cls.peer_auth()
        conn = f"""    gw {{
        version = 2
        unique = replace
        local_addrs = {PEER_ADDR}
        remote_addrs = {GW_ADDR}
        proposals = aes256-sha256-modp3072
        local {{
            {auth_local}
        }}
        remote {{
            {auth_remote}
        }}
        children {{
            gw {{
                local_ts = {PEER_NET}
                remote_ts = {GW_NET}
                esp_proposals = aes256gcm16
                start_action = none
            }}
        }}
    }}
"""
        secrets = f"""    ike-gw {{
        id-1 = {PEER_ADDR}
        id-2 = {GW_ADDR}
        secret = "{PSK}"
    }}
"""
        cls.peer = StockCharon(INET1.ns, cls.dir / "peer").start(cls.procs, conn, secrets, files)

    @classmethod
    def _start_ike(cls):
        cls.ike = cls.spawn(["ip", "netns", "exec", "qg-gw", str(IKE_BIN),
                             "--control-socket", str(LAB_DIR / "dataplane.sock"),
                             "--run-dir", str(cls.dir / "ike"),
                             "--log", str(cls.dir / "qorgan-ike.log")], "qorgan-ike.out")

    @classmethod
    def peer_swanctl(cls, *args, timeout=15):
        return cls.peer.swanctl(*args, timeout=timeout)

    @classmethod
    def peer_log(cls):
        text = ""
        for p in (cls.dir / "peer" / "charon.log", cls.dir / "peer-charon.out",
                  cls.dir / "qorgan-ike.log", cls.dir / "qorgan-ike.out"):
            if p.exists():
                text += f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
        return text

    @classmethod
    def _established(cls):
        r = cls.peer_swanctl("--list-sas", "--raw")
        return r.rc == 0 and "state=ESTABLISHED" in r.out and "state=INSTALLED" in r.out

    @classmethod
    def _wait_established(cls):
        if not wait_until(cls._established, ESTABLISH_S, 1):
            raise AssertionError(f"no tunnel within {ESTABLISH_S} s\n{cls.peer_log()}")
        # Both of the dataplane's SAs are in before traffic is sent.
        if not wait_until(lambda: {s["dir"] for s in dp_sas()} >= {"in", "out"}, 10, 0.2):
            raise AssertionError(f"the dataplane has no SA pair: {dp_sas()}\n{cls.peer_log()}")

    # ------------------------------------------------------------ helpers

    def ping(self, src_ns, dst, count=3):
        return ns(src_ns, "ping", "-c", str(count), "-i", "0.2", "-W", "2", dst, timeout=20)

    def sa_total(self, direction, field):
        return sum(s[field] for s in dp_sas() if s["dir"] == direction)


class IpsecLab(IpsecTunnel):
    """A PSK tunnel to the stock peer."""

    def test_1_hosts_behind_each_side_talk_and_only_esp_and_ike_cross_R128_h_R139_3(self):
        before_out = self.sa_total("out", "packets")
        with Capture(INET1.ns, ifname="eth0") as cap:
            r = self.ping(INNER1.ns, SITE_HOST)
            r2 = self.ping(SITE_NS, INNER1.v4)
        self.assertEqual(r.rc, 0, f"inner1 -> site host through the tunnel:\n{r}\n{self.peer_log()}")
        self.assertEqual(r2.rc, 0, f"site host -> inner1 through the tunnel:\n{r2}")
        # kernel-libipsec always encapsulates ESP in UDP 4500 (NAT-T), which the dataplane
        # answers in kind: tcpdump names both ESP forms "ESP(spi=...)" and IKE "isakmp".
        lines = cap.lines("ip")
        esp = [line for line in lines if "ESP(spi=" in line]
        ike = [line for line in lines if "isakmp" in line and "ESP(spi=" not in line]
        self.assertGreaterEqual(len(esp), 12, "6 echoes and 6 replies, each sealed")
        self.assertEqual(len(lines), len(esp) + len(ike),
                         "nothing but ESP and IKE between the gateways:\n" + "\n".join(lines[:20]))
        self.assertEqual(cap.count("icmp"), 0)
        self.assertGreaterEqual(self.sa_total("out", "packets") - before_out, 6)
        cap.cleanup()

    def test_2_replayed_and_forged_esp_are_dropped_and_counted(self):
        # ESP in UDP 4500 from the peer (a non-zero first word: not IKE).
        bpf = f"src host {PEER_ADDR} and udp port 4500 and udp[8:4] != 0"
        with Capture(INET1.ns, bpf=bpf, ifname="eth0") as cap:
            r = self.ping(SITE_NS, INNER1.v4, count=2)
        self.assertEqual(r.rc, 0, str(r))
        replay0 = self.sa_total("in", "replay_drops")
        auth0 = self.sa_total("in", "auth_failures")
        # The peer's last ESP frame sent again as it was, then with a new sequence number but
        # the old ICV (a forgery: the sequence number is authenticated).
        src = f"""
from scapy.all import rdpcap, sendp, raw
frames = [raw(p) for p in rdpcap({str(cap.path)!r})]
last = frames[-1]
sendp(last, iface="eth0", verbose=False)
f = bytearray(last)
esp = 14 + (f[14] & 0x0f) * 4 + 8  # after the UDP header
seq = int.from_bytes(f[esp + 4:esp + 8], "big") + 1000
f[esp + 4:esp + 8] = seq.to_bytes(4, "big")
sendp(bytes(f), iface="eth0", verbose=False)
print("{{}}")
"""
        r = ns(INET1.ns, PYTHON, "-c", src, timeout=30)
        self.assertEqual(r.rc, 0, str(r))
        self.assertTrue(wait_until(lambda: self.sa_total("in", "replay_drops") > replay0, 5, 0.2),
                        f"no replay drop counted: {dp_sas()}")
        self.assertTrue(wait_until(lambda: self.sa_total("in", "auth_failures") > auth0, 5, 0.2),
                        f"no ICV failure counted: {dp_sas()}")
        cap.cleanup()

    def test_3_a_policy_without_an_sa_discards_its_traffic_R139_3(self):
        policy = {"op": "ipsec-add-policy", "dir": "out", "src": GW_NET, "dst": CLEAR_NET,
                  "proto": 0, "reqid": 999, "tunnel": {"src": GW_ADDR, "dst": PEER_ADDR}}
        self.assertTrue(control(policy)["ok"])
        try:
            before = drops().get("ipsec_no_sa", 0)
            with Capture(INET1.ns, bpf="icmp", ifname="eth0") as cap:
                r = self.ping(INNER1.ns, "198.51.100.5", count=2)
            self.assertNotEqual(r.rc, 0)
            self.assertEqual(cap.count(), 0, "nothing a tunnel should carry leaves in the clear")
            self.assertGreaterEqual(drops().get("ipsec_no_sa", 0) - before, 2)
            cap.cleanup()
        finally:
            control({"op": "ipsec-del-policy", "dir": "out", "src": GW_NET, "dst": CLEAR_NET,
                     "proto": 0})
        # Without the policy the same ping leaves in the clear (the route sends it to qg-inet1).
        with Capture(INET1.ns, bpf="icmp and dst host 198.51.100.5", ifname="eth0") as cap:
            self.ping(INNER1.ns, "198.51.100.5", count=1)
        self.assertGreaterEqual(cap.count(), 1)
        cap.cleanup()

    def test_4_rekeying_during_an_iperf3_stream_loses_nothing(self):
        server = subprocess.Popen(["ip", "netns", "exec", SITE_NS, "iperf3", "-s", "-1", "-p", "5301"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            time.sleep(0.5)
            spis_before = {s["spi"] for s in dp_sas()}
            client = subprocess.Popen(
                ["ip", "netns", "exec", INNER1.ns, "iperf3", "-c", SITE_HOST, "-p", "5301", "-u",
                 "-b", "20M", "-l", "1200", "-t", "16", "-J"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            rekeys = 0
            for _ in range(3):  # the peer rekeys the CHILD_SA three times, once the IKE SA
                time.sleep(3.5)
                if self.peer_swanctl("--rekey", "--child", "gw").rc == 0:
                    rekeys += 1
            self.peer_swanctl("--rekey", "--ike", "gw")
            out, err = client.communicate(timeout=40)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=5)
        self.assertEqual(client.returncode, 0, err)
        end = json.loads(out)["end"]["sum"]
        self.assertGreater(end["packets"], 10000)
        self.assertEqual(end["lost_packets"], 0, f"lost during the rekeys: {end}")
        self.assertEqual(rekeys, 3)
        new = {s["spi"] for s in dp_sas()} - spis_before
        self.assertGreaterEqual(len(new), 2, "the dataplane carries SAs of a rekey")

    def test_5_a_crash_of_qorgan_ike_stops_nothing_and_its_restart_negotiates_again(self):
        ike = type(self).ike
        os.kill(ike.pid, signal.SIGKILL)  # ip netns exec execs in place: this is qorgan-ike
        ike.wait(timeout=10)
        old = {s["spi"] for s in dp_sas()}
        # Forwarding goes on: the clear path, and the tunnel on the SAs the dataplane holds.
        with Capture(INET1.ns, bpf="icmp and dst host 198.51.100.5", ifname="eth0") as cap:
            self.ping(INNER1.ns, "198.51.100.5", count=1)
        self.assertGreaterEqual(cap.count(), 1, "non-IPsec traffic forwarded without qorgan-ike")
        cap.cleanup()
        r = self.ping(INNER1.ns, SITE_HOST, count=2)
        self.assertEqual(r.rc, 0, f"the tunnel's SAs outlive qorgan-ike:\n{r}")
        # Back: it flushes what its predecessor installed and negotiates a new tunnel.
        type(self)._start_ike()
        fresh = lambda: (lambda sas: {s["dir"] for s in sas if s["spi"] not in old} >= {"in", "out"}
                         and not {s["spi"] for s in sas} & old)(dp_sas())
        self.assertTrue(wait_until(fresh, ESTABLISH_S, 1),
                        f"no new SA pair after the restart: {dp_sas()}\n{self.peer_log()}")
        r = wait_until(lambda: (lambda r: r if r.rc == 0 else None)(
            self.ping(INNER1.ns, SITE_HOST, count=2)), 20, 1)
        self.assertTrue(r, f"no traffic through the new tunnel\n{self.peer_log()}")


PKI = LAB_DIR / "ipsec-pki"


def make_pki():
    """A CA and two certificates (the gateway, the peer) made with openssl for this run."""
    shutil.rmtree(PKI, ignore_errors=True)
    PKI.mkdir(parents=True)
    os.chmod(PKI, 0o700)

    def openssl(*args):
        must(run(["openssl", *args], timeout=30))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(PKI / "ca.key"),
            "-out", str(PKI / "ca.pem"), "-days", "2", "-subj", "/O=Qorgan Lab/CN=Qorgan Lab CA")
    for name in ("gw1", "site1"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(PKI / f"{name}.key"),
                "-out", str(PKI / f"{name}.csr"), "-subj", f"/O=Qorgan Lab/CN={name}.lab.example")
        (PKI / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}.lab.example\n")
        openssl("x509", "-req", "-in", str(PKI / f"{name}.csr"), "-CA", str(PKI / "ca.pem"),
                "-CAkey", str(PKI / "ca.key"), "-CAcreateserial", "-days", "2",
                "-extfile", str(PKI / f"{name}.ext"), "-out", str(PKI / f"{name}.pem"))


class IpsecCertificateLab(IpsecTunnel):
    """The same tunnel with X.509 certificates from one CA on both sides."""

    @classmethod
    def gateway_auth(cls):
        make_pki()
        return (f'certificate "{PKI}/gw1.pem"; private-key "{PKI}/gw1.key"; ca "{PKI}/ca.pem"; '
                'local-id "gw1.lab.example"; remote-id "site1.lab.example";')

    @classmethod
    def peer_auth(cls):
        local = "auth = pubkey\n            certs = site1.pem\n            id = site1.lab.example"
        remote = "auth = pubkey\n            cacerts = ca.pem\n            id = gw1.lab.example"
        return local, remote, [(PKI / "site1.pem", "x509/site1.pem"),
                               (PKI / "ca.pem", "x509ca/ca.pem"),
                               (PKI / "site1.key", "private/site1.key")]

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(PKI, ignore_errors=True)

    def test_1_hosts_talk_through_a_tunnel_authenticated_by_certificates_R128_h(self):
        with Capture(INET1.ns, ifname="eth0") as cap:
            r = self.ping(INNER1.ns, SITE_HOST)
        self.assertEqual(r.rc, 0, f"{r}\n{self.peer_log()}")
        lines = cap.lines("ip")
        self.assertGreaterEqual(len([line for line in lines if "ESP(spi=" in line]), 6)
        self.assertEqual(cap.count("icmp"), 0)
        cap.cleanup()
        # Each side proved itself with its certificate.
        log = (self.dir / "peer" / "charon.log").read_text(errors="replace")
        self.assertRegex(log, r"authentication of 'gw1\.lab\.example' with RSA.* successful")
        sa = self.peer_swanctl("--list-sas", "--raw").out
        self.assertIn("remote-id=gw1.lab.example", sa)


# ---------------------------------------------------------------- two Qorgan gateways

GW2_NS, SITE2_NS = "qg-gw2", "qg-site2"
GW2_WAN, GW2_WAN_NEXT = lab_address("198.51.100.2"), lab_address("198.51.100.1")
SITE2_NET, SITE2_HOST = "198.18.20.0/24", lab_address("198.18.20.10")
GW2_SOCKET = LAB_DIR / "gw2-dataplane.sock"
PSK2 = "qorgan-lab-two-gateways-secret"


def tunnel_rules(local, remote, lan, wan):
    return f"""policy {{
    {lan} {{
        ingress {{ rule 10 {{ source {local}; destination {remote}; action accept; }} }}
        egress {{ rule 10 {{ source {remote}; destination {local}; action accept; }} }}
    }}
    {wan} {{
        ingress {{ rule 10 {{ source {remote}; destination {local}; action accept; }} }}
        egress {{ rule 10 {{ source {local}; destination {remote}; action accept; }} }}
    }}
}}
"""


# gw1 (the lab's qg-gw) and gw2 (qg-gw2, reached through qg-inet1, which routes between
# 203.0.113.0/24 and 198.51.100.0/24); each dataplane sleeps when idle so that the two share
# the machine's cores.
GW1_CONFIG = f"""interfaces {{
    inner0 {{ device "net_af_packet0,iface=dp-inner"; address 198.18.1.1/24; zone inner; }}
    inet0 {{ device "net_af_packet3,iface=dp-inet"; address 203.0.113.1/24; zone internet; }}
}}
zones {{ inner {{ loop inner; }} internet {{ loop internet; }} }}
dataplane {{ idle-sleep 100; }}
{tunnel_rules(GW_NET, SITE2_NET, "inner0", "inet0")}
routes {{ route 198.51.100.0/24 {{ via 203.0.113.10; }} }}
ipsec {{
    peer gw2 {{
        address {GW2_WAN};
        pre-shared-key "{PSK2}";
        local-subnet {GW_NET};
        remote-subnet {SITE2_NET};
    }}
}}
"""

GW2_CONFIG = f"""interfaces {{
    lan0 {{ device "net_af_packet0,iface=dp2-lan"; address 198.18.20.1/24; zone inner; }}
    wan0 {{ device "net_af_packet1,iface=dp2-wan"; address {GW2_WAN}/24; zone internet; }}
}}
zones {{ inner {{ loop inner; }} internet {{ loop internet; }} }}
dataplane {{ idle-sleep 100; }}
{tunnel_rules(SITE2_NET, GW_NET, "lan0", "wan0")}
routes {{ route 203.0.113.0/24 {{ via {GW2_WAN_NEXT}; }} }}
ipsec {{
    peer gw1 {{
        address {GW_ADDR};
        pre-shared-key "{PSK2}";
        local-subnet {SITE2_NET};
        remote-subnet {GW_NET};
        start-action none;
    }}
}}
"""


class TwoQorganGateways(IpsecLabCase):
    """The lab's gateway and a second Qorgan (its own dataplane and qorgan-ike) form a tunnel."""

    NAMESPACES = (GW2_NS, SITE2_NS)

    @classmethod
    def own_config(cls):
        return write_config("test-ipsec-gw1.conf", GW1_CONFIG)

    @classmethod
    def bring_up(cls):
        cls._net_up()
        cls._start_gw2()
        # gw2 answers (start-action none): it has its peer loaded before gw1 initiates,
        # since charon does not try again after a NO_PROPOSAL_CHOSEN.
        cls.spawn(["ip", "netns", "exec", GW2_NS, str(IKE_BIN), "--control-socket",
                   str(GW2_SOCKET), "--run-dir", str(cls.dir / "ike2"),
                   "--log", str(cls.dir / "ike2.log")], "ike2.out")
        loaded = lambda: "loaded 1 peer(s)" in (cls.dir / "ike2.log").read_text(errors="replace") \
            if (cls.dir / "ike2.log").exists() else False
        if not wait_until(loaded, 20, 0.2):
            raise AssertionError("gw2's qorgan-ike did not load its peer:\n" + cls.logs())
        cls.spawn(["ip", "netns", "exec", "qg-gw", str(IKE_BIN), "--control-socket",
                   str(LAB_DIR / "dataplane.sock"), "--run-dir", str(cls.dir / "ike1"),
                   "--log", str(cls.dir / "ike1.log")], "ike1.out")
        both = lambda: all({s["dir"] for s in sas} >= {"in", "out"}
                           for sas in (dp_sas(), cls.gw2_sas()))
        if not wait_until(both, ESTABLISH_S, 1):
            raise AssertionError(f"no tunnel between the gateways: {dp_sas()} {cls.gw2_sas()}\n"
                                 + cls.logs())

    @classmethod
    def _net_up(cls):
        for name in (GW2_NS, SITE2_NS):
            fresh_namespace(name)
        must(run(["ip", "link", "add", "dp2-wan", "netns", GW2_NS, "type", "veth", "peer",
                  "name", "gw2-wan", "netns", INET1.ns]))
        must(run(["ip", "link", "add", "dp2-lan", "netns", GW2_NS, "type", "veth", "peer",
                  "name", "eth0", "netns", SITE2_NS]))
        for dev in ("dp2-wan", "dp2-lan"):  # the dataplane's side: no addresses, no IPv6
            must(run(["ip", "netns", "exec", GW2_NS, "sysctl", "-qw",
                      f"net.ipv6.conf.{dev}.disable_ipv6=1"]))
            run(["ip", "netns", "exec", GW2_NS, "ethtool", "-K", dev, "gro", "off", "tso", "off",
                 "gso", "off", "tx", "off"])
            must(run(["ip", "-n", GW2_NS, "link", "set", dev, "up"]))
        for n, dev, addr in ((INET1.ns, "gw2-wan", f"{GW2_WAN_NEXT}/24"),
                             (SITE2_NS, "eth0", f"{SITE2_HOST}/24")):
            run(["ip", "netns", "exec", n, "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off"])
            must(run(["ip", "-n", n, "addr", "add", addr, "dev", dev]))
            must(run(["ip", "-n", n, "link", "set", dev, "up"]))
        must(run(["ip", "-n", SITE2_NS, "route", "add", "default", "via", "198.18.20.1"]))
        must(ns(INET1.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"))

    @classmethod
    def _start_gw2(cls):
        conf = cls.dir / "gw2.conf"
        conf.write_text(GW2_CONFIG)
        ready = cls.dir / "gw2.ready"
        cls.gw2 = cls.spawn(["ip", "netns", "exec", GW2_NS, str(DATAPLANE_BIN), "--config", str(conf),
                             "--no-huge", "--file-prefix", "qorgan-lab-gw2", "--ready-file",
                             str(ready), "--control-socket", str(GW2_SOCKET)], "gw2-dataplane.out")
        if not wait_until(lambda: ready.exists() or cls.gw2.poll() is not None, 30, 0.2) \
                or not ready.exists():
            raise AssertionError("gw2's dataplane did not start:\n" + cls.logs())

    @classmethod
    def gw2_sas(cls):
        c = ControlClient(GW2_SOCKET)
        try:
            r = c.call({"op": "ipsec-sas"})
        finally:
            c.close()
        return r.get("sas", [])

    @classmethod
    def logs(cls):
        text = ""
        for name in ("gw2-dataplane.out", "ike1.log", "ike2.log", "ike1.out", "ike2.out"):
            p = cls.dir / name
            if p.exists():
                text += f"--- {name}\n" + p.read_text(errors="replace")[-2500:]
        return text

    def test_1_hosts_behind_two_qorgan_gateways_talk_through_esp_only(self):
        with Capture(INET1.ns, ifname="eth0") as cap:
            r = ns(INNER1.ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", SITE2_HOST, timeout=20)
            r2 = ns(SITE2_NS, "ping", "-c", "3", "-i", "0.2", "-W", "2", INNER1.v4, timeout=20)
        self.assertEqual(r.rc, 0, f"{r}\n{self.logs()}")
        self.assertEqual(r2.rc, 0, str(r2))
        lines = cap.lines("ip")
        esp = cap.count("esp")  # no NAT between them: plain ESP (protocol 50)
        ike = cap.count("udp port 500 or udp port 4500")
        self.assertGreaterEqual(esp, 12)
        self.assertEqual(len(lines), esp + ike, "\n".join(lines[:20]))
        self.assertEqual(cap.count("icmp"), 0)
        self.assertGreaterEqual(sum(s["packets"] for s in self.gw2_sas() if s["dir"] == "in"), 6)
        cap.cleanup()


if __name__ == "__main__":
    unittest.main()

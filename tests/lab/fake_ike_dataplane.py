# SPDX-License-Identifier: GPL-2.0-or-later
# A stand-in for the dataplane's control socket as qorgan-ike sees it (docs/IPSEC.md,
# docs/CONTROL-PROTOCOL.md framing: 4-byte big-endian length + JSON): answers ipsec-peers with
# the peers it is given, status with a revision, ipsec-sas with the SAs it holds, and records
# every request. Runs in a thread of the test.

import json
import os
import socket
import struct
import threading


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def send_msg(conn, obj):
    body = json.dumps(obj).encode()
    conn.sendall(struct.pack(">I", len(body)) + body)


class FakeDataplane:
    def __init__(self, path, peers, revision=1):
        self.path = str(path)
        self.peers = peers
        self.revision = revision
        self.requests = []
        self.sas = {}  # (spi, dst) -> add-sa request
        self.policies = {}
        self.packets = 0  # what ipsec-sas reports for every SA
        self.lock = threading.Lock()
        self.sock = None
        self.thread = None
        self.stopping = False

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        if self.thread:
            self.thread.join(timeout=5)
        if self.sock:
            self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def ops(self, op=None):
        with self.lock:
            return [r for r in self.requests if op is None or r.get("op") == op]

    def mark(self):
        """The number of requests so far: ops_since(mark) gives the later ones."""
        with self.lock:
            return len(self.requests)

    def ops_since(self, mark, op=None):
        with self.lock:
            return [r for r in self.requests[mark:] if op is None or r.get("op") == op]

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn):
        conn.settimeout(5)
        try:
            while True:
                head = recv_exact(conn, 4)
                if head is None:
                    return
                body = recv_exact(conn, struct.unpack(">I", head)[0])
                if body is None:
                    return
                send_msg(conn, self._answer(json.loads(body)))
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def _answer(self, req):
        op = req.get("op")
        with self.lock:
            if op not in ("status", "ipsec-sas"):  # the once-a-second polls are not kept
                self.requests.append(req)
            if op == "status":
                return {"ok": True, "epoch": 1, "revision": self.revision, "sha256": "0" * 64,
                        "workers": 1, "uptime_s": 1, "config_source": "<default>"}
            if op == "ipsec-peers":
                return {"ok": True, "revision": self.revision, "peers": self.peers}
            if op == "ipsec-flush":
                n, m = len(self.sas), len(self.policies)
                self.sas.clear()
                self.policies.clear()
                return {"ok": True, "sas": n, "policies": m}
            if op == "ipsec-add-sa":
                self.sas[(req["spi"], req["dst"])] = req
                return {"ok": True}
            if op == "ipsec-del-sa":
                if self.sas.pop((req["spi"], req["dst"]), None) is None:
                    return {"ok": False, "error": f"no SA with spi {req['spi']} to {req['dst']}"}
                return {"ok": True}
            if op == "ipsec-update-sa":
                return {"ok": True}
            if op == "ipsec-query-sa":
                return {"ok": True, "bytes": 0, "packets": 0, "idle_ms": 0}
            if op == "ipsec-add-policy":
                self.policies[(req["dir"], req["src"], req["dst"], req["proto"])] = req
                return {"ok": True}
            if op == "ipsec-del-policy":
                self.policies.pop((req["dir"], req["src"], req["dst"], req["proto"]), None)
                return {"ok": True}
            if op == "ipsec-sas":
                return {"ok": True, "sas": [
                    {"spi": s["spi"], "dir": s["dir"], "src": s["src"], "dst": s["dst"],
                     "reqid": s["reqid"], "peer": s["peer"], "cipher": s["cipher"],
                     "esn": s["esn"], "encap": s["encap"], "bytes": self.packets * 100,
                     "packets": self.packets, "replay_drops": 0, "auth_failures": 0,
                     "age_s": 0, "idle_ms": 0} for s in self.sas.values()]}
            return {"ok": False, "error": f"unknown op '{op}'"}

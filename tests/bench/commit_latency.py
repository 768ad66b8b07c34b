#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Commit latency through qorgand, for the record (issue 3): a candidate with N rules is
# loaded and committed over qorgand's socket, timing the `commit` request alone: parse,
# schema, compliance check (R139-7/R139-8), store (fsync), dataplane apply (compile rte_acl
# and FIBs, publish, RCU wait). The dataplane's own apply time is printed beside it.
# Usage: tests/bench/commit_latency.py [N ...]   (default 1000 10000); needs root (lab).

import json
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
import labkit  # noqa: E402


def rpc(sock, msg):
    body = json.dumps(msg).encode()
    sock.sendall(struct.pack("!I", len(body)) + body)
    head = b""
    while len(head) < 4:
        head += sock.recv(4 - len(head))
    (n,) = struct.unpack("!I", head)
    data = b""
    while len(data) < n:
        data += sock.recv(n - len(data))
    return json.loads(data)


def config_with_rules(n):
    """The default configuration plus n accept rules on outer0 ingress, each a distinct
    destination /32 in 203.0.113.0/24 and port (outer loop -> Internet: compliant)."""
    text = labkit.default_config_text()
    rules = []
    for i in range(n):
        host, port = 2 + i % 250, 10000 + i // 250
        rules.append(f"            rule {100000 + i} {{ protocol tcp; destination 203.0.113.{host}; "
                     f"destination-port {port}; action accept; }}\n")
    marker = "    outer0 {\n        ingress {\n"
    at = text.index(marker) + len(marker)
    return text[:at] + "".join(rules) + text[at:]


def main(sizes):
    labkit.ensure_lab()
    dp = labkit.ensure_dataplane()
    q = labkit.Qorgand().start()
    rows = []
    try:
        for n in sizes:
            path = labkit.LAB_DIR / f"bench-{n}.conf"
            path.write_text(config_with_rules(n))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(600)
            s.connect(str(labkit.QORGAND_SOCKET))
            for line in ("configure", f"load replace {path}"):
                r = rpc(s, {"op": "exec", "line": line})
                assert r["ok"], r
            start = time.monotonic()
            r = rpc(s, {"op": "exec", "line": f'commit comment "bench {n} rules"'})
            elapsed = time.monotonic() - start
            assert r["ok"], r
            shown = rpc(s, {"op": "exec", "line": "run show security policies outer0"})
            active = shown["output"].count(" accept ")
            assert active >= n, f"only {active} accept rules active after committing {n}"
            rpc(s, {"op": "exec", "line": "rollback 1"})
            rpc(s, {"op": "exec", "line": "commit"})
            s.close()
            rows.append((n, elapsed * 1000, active, r["output"].strip()))
    finally:
        q.stop()
        labkit.stop_shared_dataplane()
    print("| rules added | commit through qorgand (ms) | accept rules on outer0 after | result |")
    print("|---|---|---|---|")
    for n, ms, active, out in rows:
        print(f"| {n} | {ms:.0f} | {active} | {out} |")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])

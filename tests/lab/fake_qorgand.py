#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A stand-in for qorgand speaking the shell's protocol (length-prefixed JSON on a UNIX
# socket) with a tiny command tree: lets tests drive the shell's editing, completion, `?`,
# pipes and pager without the dataplane. Usage: fake_qorgand.py SOCKET_PATH

import json
import os
import socket
import struct
import sys
import threading
import time

PORTS = ("inner0", "outer0", "dmz0", "inet0")

OPERATIONAL = {
    "show": ("Show information", {
        "interfaces": ("Interface status and counters", {}),
        "configuration": ("The running configuration", {}),
        "log": ("A long log (pager test)", {}),
        "system": ("System information", {"commits": ("Commit history", {})}),
    }),
    "configure": ("Enter configuration mode", {}),
    "monitor": ("Watch live information", {"interface": ("Per-port rates", {})}),
    "exit": ("Leave the shell", {}),
}
CONFIGURATION = {
    "set": ("Set a value", {"system": ("System settings", {"host-name": ("Host name", None)})}),
    "commit": ("Commit the candidate", {}),
    "show": OPERATIONAL["show"],
    "exit": ("Leave configuration mode", {}),
}


def walk(tree, words):
    """Returns (node, error) after following the complete words."""
    node = tree
    for w in words:
        if node is None:  # a value: anything goes
            return None, None
        if w not in node:
            close = [k for k in node if k.startswith(w[:2])]
            hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of {', '.join(sorted(node))}"
            return None, f"syntax error: unknown word '{w}'{hint}"
        node = node[w][1]
    return node, None


class Session:
    def __init__(self):
        self.config_mode = False
        self.start = time.time()

    def prompt(self):
        return "admin@qorgan# " if self.config_mode else "admin@qorgan> "

    def tree(self):
        return CONFIGURATION if self.config_mode else OPERATIONAL

    def complete(self, line):
        words = line.split()
        partial = "" if line.endswith(" ") or not line else words.pop()
        node, error = walk(self.tree(), words)
        if error:
            return {"ok": False, "error": error}
        if node is None:
            return {"ok": True, "candidates": [{"word": "", "help": "<value>  a value"}]}
        return {"ok": True, "candidates": [{"word": k, "help": v[0]} for k, v in sorted(node.items())
                                           if k.startswith(partial)]}

    def exec(self, line):
        words = line.split()
        node, error = walk(self.tree(), words)
        reply = {"ok": True, "output": "", "prompt": self.prompt(), "exit": False}
        if error:
            reply.update(ok=False, error=error)
        elif words == ["configure"]:
            self.config_mode = True
            reply["output"] = "Entering configuration mode\n"
        elif words == ["exit"]:
            if self.config_mode:
                self.config_mode = False
            else:
                reply["exit"] = True
        elif words == ["show", "interfaces"]:
            reply["output"] = "".join(f"{p}  up  10000 Mbit/s\n" for p in PORTS)
        elif words == ["show", "log"]:
            reply["output"] = "".join(f"log line {i}\n" for i in range(1, 101))
        elif words[:1] == ["set"] and len(words) == 4:
            reply["output"] = "[edit]\n"
        else:
            reply.update(ok=False, error=f"incomplete command '{line}'")
        reply["prompt"] = self.prompt()
        return reply

    def counters(self):
        t = time.time() - self.start
        return {"ok": True, "time_ms": int(time.time() * 1000), "interfaces": [
            {"name": p, "link": "up", "rx_packets": int(t * 1000 * (i + 1)), "rx_bytes": int(t * 125000 * (i + 1)),
             "tx_packets": int(t * 500), "tx_bytes": int(t * 62500), "rx_errors": i, "tx_errors": 0,
             "rx_missed": 0} for i, p in enumerate(PORTS)]}


def recv(conn):
    head = b""
    while len(head) < 4:
        chunk = conn.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (length,) = struct.unpack(">I", head)
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body)


def send(conn, msg):
    body = json.dumps(msg).encode()
    conn.sendall(struct.pack(">I", len(body)) + body)


def serve(conn):
    session = Session()
    with conn:
        while (msg := recv(conn)) is not None:
            op = msg.get("op")
            if op == "prompt":
                send(conn, {"ok": True, "prompt": session.prompt()})
            elif op == "exec":
                if msg["line"] == "die":  # lets tests check a lost connection
                    return
                send(conn, session.exec(msg["line"]))
            elif op == "complete":
                send(conn, session.complete(msg["line"]))
            elif op == "counters":
                send(conn, session.counters())
            else:
                send(conn, {"ok": False, "error": f"unknown op {op}"})


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()

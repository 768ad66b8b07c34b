#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# The far ends of the category tests (test_categories.py), run in qg-inet1: an SSH server's
# banner, an RDP server's connection confirm, a VNC server's RFB greeting, a sink that counts
# what arrives over TCP and UDP (for the made-up protocols), and a BitTorrent tracker that
# hands out one peer. Every count is written to STATUS_DIR/<name> as it changes. Stops by
# itself after LIFETIME seconds.
import os
import socket
import sys
import threading
import time
import urllib.parse

LIFETIME = 600


def write_status(name, value):
    path = os.path.join(STATUS_DIR, name)
    with open(path + ".tmp", "w") as f:
        f.write(str(value))
    os.replace(path + ".tmp", path)


def tcp_server(port, handler):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(64)

    def loop():
        while True:
            c, _ = s.accept()
            c.settimeout(20)
            threading.Thread(target=guarded, args=(handler, c), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def guarded(handler, c):
    try:
        handler(c)
    except OSError:
        pass
    finally:
        c.close()


def ssh(c):
    c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    while c.recv(4096):
        pass


def rdp(c):
    c.recv(4096)  # X.224 connection request
    c.sendall(bytes([0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02,
                     0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00]))
    while c.recv(4096):
        pass


def vnc(c):
    c.sendall(b"RFB 003.008\n")
    c.recv(4096)
    c.sendall(bytes([1, 1]))  # one security type: none
    while c.recv(4096):
        pass


sink_bytes = {"tcp": 0, "udp": 0}
sink_lock = threading.Lock()


def sink(c):
    # Answers every chunk with a few bytes of its own, so that both directions speak.
    while True:
        data = c.recv(65536)
        if not data:
            return
        with sink_lock:
            sink_bytes["tcp"] += len(data)
            write_status("sink-tcp", sink_bytes["tcp"])
        c.sendall(os.urandom(16))


def udp_sink(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", port))

    def loop():
        n = 0
        while True:
            data, peer = s.recvfrom(65536)
            n += 1
            write_status("sink-udp", n)
            s.sendto(os.urandom(24), peer)

    threading.Thread(target=loop, daemon=True).start()


def bt_peer(c):
    # A BitTorrent peer in plain (unencrypted) handshakes: answers the handshake with its own
    # and echoes what follows.
    hs = c.recv(68)
    if not hs.startswith(b"\x13BitTorrent protocol"):
        return
    c.sendall(b"\x13BitTorrent protocol" + bytes(8) + hs[28:48] + b"-QG0001-labpeer00000")
    while True:
        data = c.recv(65536)
        if not data:
            return
        c.sendall(data)


def tracker(c):
    # One HTTP announce: the peer list is the seeder (compact form, BEP 23).
    req = c.recv(65536).decode(errors="replace")
    line = req.split("\r\n", 1)[0]
    query = urllib.parse.urlparse(line.split(" ")[1]).query
    params = urllib.parse.parse_qs(query)
    write_status("tracker", int(open(os.path.join(STATUS_DIR, "tracker")).read() or 0) + 1
                 if os.path.exists(os.path.join(STATUS_DIR, "tracker")) else 1)
    peer = socket.inet_aton(PEER_ADDR) + PEER_PORT.to_bytes(2, "big")
    body = b"d8:intervali60e5:peers6:" + peer + b"e"
    if "info_hash" not in params:
        body = b"d14:failure reason7:no hashe"
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
              str(len(body)).encode() + b"\r\n\r\n" + body)


if __name__ == "__main__":
    STATUS_DIR = sys.argv[1]
    PEER_ADDR, PEER_PORT = sys.argv[2], int(sys.argv[3])
    os.makedirs(STATUS_DIR, exist_ok=True)
    tcp_server(22, ssh)
    tcp_server(3389, rdp)
    tcp_server(5900, vnc)
    tcp_server(7777, sink)
    udp_sink(7777)
    tcp_server(6969, tracker)
    tcp_server(6882, bt_peer)
    write_status("ready", 1)
    time.sleep(LIFETIME)

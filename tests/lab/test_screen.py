# SPDX-License-Identifier: GPL-2.0-or-later
# The attack-protection screen attacked from the lab's Internet host (R128-e, R90-1-3,
# R139-10-1; docs/SCREEN.md): a spoofed SYN flood while real clients connect, nmap scans of
# every kind, floods of ICMP and new connections, and a scapy corpus of malformed and evasive
# packets, each dropped with its reason, after which every mbuf is back in its pool.
# Spoofed sources come from the lab ranges only (198.51.100.0/24 is routed behind inet0,
# 192.0.2.0/24 is the test's bogon list).

import re
import subprocess
import time
import unittest

from scapy.all import (ICMP, IP, TCP, UDP, Ether, IPOption_LSRR, IPOption_RR, IPOption_SSRR, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrRouting, Raw, raw)

from labkit import (DMZ1_PAGE, GATEWAY, INET1, OUTER1, OwnDataplaneTestCase, control, curl,
                    default_config_text, gateway_mac, log_offset, mac_of, ns, send_frames,
                    wait_for_counts, wait_for_log, with_security, write_config)

PUBLISHED_WEB = "203.0.113.50"  # dmz1 by `static web` of the default config
SPOOFED = ["198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14"]
INET_GW = GATEWAY["inet0"][0]


def with_screen(security, urpf_outer=None, inet_pcap=False):
    """The default config with a security section and, optionally, uRPF on outer0 and inet0
    on DPDK's pcap PMD: the af_packet PMD joins a PACKET_FANOUT group with
    PACKET_FANOUT_FLAG_DEFRAG, so Linux reassembles IPv4 fragments (and silently drops
    overlapping ones) before the dataplane sees them; libpcap's socket does not."""
    text = with_security(default_config_text(), security)
    if inet_pcap:
        text = text.replace('device "net_af_packet3,iface=dp-inet";', 'device "net_pcap0,iface=dp-inet";', 1)
    if urpf_outer:
        text = text.replace('device "net_af_packet1,iface=dp-outer";',
                            f'device "net_af_packet1,iface=dp-outer";\n        urpf {urpf_outer};', 1)
    return text


def curls(n, timeout=3):
    """n sequential curls from inet1 to the published web server; how many got the page."""
    ok = 0
    for _ in range(n):
        r = curl(INET1, PUBLISHED_WEB, timeout=timeout)
        ok += r.rc == 0 and DMZ1_PAGE in r.out
    return ok


def screen_counts(tel):
    return tel.query("/qorgan/screen")


class SynFlood(OwnDataplaneTestCase):
    """hping3 floods the published web server from spoofed sources while curl connects.
    Threshold 0: every SYN from a source not yet proven meets a cookie, so that no spoofed SYN
    ever creates a session (the half-open threshold itself is tested in the unit tests)."""

    THRESHOLD = 0

    @classmethod
    def own_config(cls):
        return write_config("screen-synflood.conf", with_screen(f"""
security {{
    screen internet {{
        syn-flood {{ threshold {cls.THRESHOLD}; action cookie; }}
        source-rate {{ new-per-second 10000000; burst 10000000; concurrent 0; action drop; }}
    }}
}}"""))

    def flood(self, seconds):
        """hping3 --flood from each spoofed source at once, each bounded by `timeout`; returns
        the packets they report sent."""
        procs = [subprocess.Popen(
            ["ip", "netns", "exec", INET1.ns, "timeout", "-s", "INT", str(seconds), "hping3", "-q", "-S",
             "--flood", "-p", "80", "-a", src, PUBLISHED_WEB],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for src in SPOOFED]
        return procs

    @staticmethod
    def sent(procs):
        total = 0
        for p in procs:
            out, _ = p.communicate(timeout=30)
            m = re.search(r"(\d+) packets transmitted", out)
            if m:
                total += int(m.group(1))
        return total

    def test_real_clients_connect_and_spoofed_syns_create_no_session_R128_e(self):
        before = screen_counts(self.tel)
        # Without a flood: with threshold 0 even these meet a cookie, which the client's stack
        # answers with a RST, proving its address; its retransmitted SYN then connects.
        base = curls(20)
        self.assertGreaterEqual(base, 18, "the web server is not reachable without a flood")
        drops_before = self.tel.query("/qorgan/drops")
        procs = self.flood(8)
        try:
            time.sleep(1.5)  # the flood is running and above the threshold
            t0 = time.monotonic()
            during = curls(20, timeout=5)
            curl_s = time.monotonic() - t0
        finally:
            sent = self.sent(procs)
        after = screen_counts(self.tel)
        drops = {k: v - drops_before.get(k, 0) for k, v in self.tel.query("/qorgan/drops").items()}
        summary = (f"base {base}/20, under flood {during}/20 in {curl_s:.1f}s, hping3 sent {sent}, "
                   f"cookies sent {after['cookies_sent'] - before['cookies_sent']}, proven "
                   f"{after['cookies_verified'] - before['cookies_verified']}")
        print(f"\n[syn flood] {summary}")
        self.assertGreater(sent, 20000, summary)  # a flood, not a trickle
        self.assertGreaterEqual(during, 0.9 * base, summary)
        # Cookies answered the flood and real clients proved themselves with them.
        self.assertGreater(after["cookies_sent"] - before["cookies_sent"], 1000, summary)
        self.assertGreaterEqual(after["cookies_verified"] - before["cookies_verified"], 1, summary)
        self.assertGreater(drops.get("syn_cookie_sent", 0), 0, summary)
        # No session for any spoofed SYN.
        spoofed_sessions = 0
        for src in SPOOFED:
            r = control({"op": "sessions", "filter": {"address": src, "limit": 1}})
            self.assertTrue(r["ok"], r)
            spoofed_sessions += r["total"]
        self.assertLessEqual(spoofed_sessions, self.THRESHOLD, summary)
        m = wait_for_log(r"screen-event defence=syn-flood action=cookie zone=internet iface=inet0 "
                         r"proto=6 src=198\.51\.100\.1[1-4] ", timeout=3)
        self.assertIsNotNone(m, "no syn-flood event in the log")


class Scans(OwnDataplaneTestCase):
    """nmap from inet1: every kind of scan is detected (alarm: the packets still meet the rules)."""

    @classmethod
    def own_config(cls):
        return write_config("screen-scans.conf", with_screen("""
security {
    screen internet {
        scan { hosts 16; ports 20; window 2; action alarm; }
    }
}"""))

    def nmap(self, *args, target=PUBLISHED_WEB):
        r = ns(INET1.ns, "nmap", "-n", "-Pn", "--max-retries", "0", "-T4", "--host-timeout", "30s",
               *args, target, timeout=60)
        self.assertEqual(r.rc, 0, str(r))
        return r

    def test_each_kind_of_scan_is_detected_R128_e(self):
        kinds = [("syn", ["-sS", "-p", "1-40"], "scan-vertical"),
                 ("connect", ["-sT", "-p", "1-40"], "scan-vertical"),
                 ("null", ["-sN", "-p", "1-40"], "scan-vertical"),
                 ("fin", ["-sF", "-p", "1-40"], "scan-vertical"),
                 ("xmas", ["-sX", "-p", "1-40"], "scan-vertical"),
                 ("udp", ["-sU", "-p", "1-40"], "scan-vertical")]
        for kind, args, defence in kinds:
            with self.subTest(kind=kind):
                time.sleep(2.5)  # a new detection window for inet1
                since = log_offset()
                self.nmap(*args)
                m = wait_for_log(rf"screen-event defence={defence} action=alarm zone=internet "
                                 rf"iface=inet0 proto=\d+ src={re.escape(INET1.v4)} ", since=since)
                self.assertIsNotNone(m, f"{kind} scan not detected")
        with self.subTest(kind="horizontal"):
            time.sleep(2.5)
            since = log_offset()
            self.nmap("-sS", "-p", "80", target="198.18.2.1-40")
            m = wait_for_log(rf"screen-event defence=scan-horizontal action=alarm zone=internet "
                             rf"iface=inet0 proto=6 src={re.escape(INET1.v4)} ", since=since)
            self.assertIsNotNone(m, "horizontal scan not detected")
        # Stealth probes fit no session: every one was dropped by the flag check.
        drops = self.tel.query("/qorgan/drops")
        self.assertGreaterEqual(drops["tcp_bad_flags"], 3 * 40 * 0.9)


class ScanBlock(OwnDataplaneTestCase):
    """A scanner is put on the block list for block-time seconds, then let in again."""

    BLOCK_S = 4

    @classmethod
    def own_config(cls):
        return write_config("screen-scanblock.conf", with_screen(f"""
security {{
    screen internet {{
        block-time {cls.BLOCK_S};
        scan {{ ports 20; window 5; action block; }}
    }}
}}"""))

    def test_scanner_is_blocked_for_the_block_time_R128_e(self):
        time.sleep(5.5)  # a new scan window, whatever ran before
        self.assertEqual(curl(INET1, PUBLISHED_WEB, timeout=3).rc, 0)
        since = log_offset()
        blocked_before = self.tel.query("/qorgan/drops")["source_blocked"]
        r = ns(INET1.ns, "nmap", "-n", "-Pn", "-sS", "--max-retries", "0", "-T4", "-p", "1-100",
               PUBLISHED_WEB, timeout=60)
        self.assertEqual(r.rc, 0, str(r))
        t_blocked = time.monotonic()
        m = wait_for_log(rf"screen-event defence=scan-vertical action=block zone=internet iface=inet0 "
                         rf"proto=6 src={re.escape(INET1.v4)} .* block={self.BLOCK_S} ", since=since)
        self.assertIsNotNone(m, "no block event")
        # Blocked: even the web server it may otherwise reach is closed to it.
        r = curl(INET1, PUBLISHED_WEB, timeout=1)
        self.assertNotEqual(r.rc, 0, str(r))
        self.assertGreater(self.tel.query("/qorgan/drops")["source_blocked"], blocked_before)
        listed = control({"op": "screen-blocked"})
        self.assertTrue(listed["ok"], listed)
        mine = [b for b in listed["blocked"] if b["source"] == INET1.v4]
        self.assertEqual(len(mine), 1, listed)
        self.assertLessEqual(mine[0]["remaining_s"], self.BLOCK_S)
        # And let in again once the block time is over.
        time.sleep(max(0.0, self.BLOCK_S + 0.5 - (time.monotonic() - t_blocked)))
        self.assertEqual(curl(INET1, PUBLISHED_WEB, timeout=3).rc, 0)
        self.assertEqual(control({"op": "screen-blocked"})["total"], 0)

    def test_clearing_the_block_list_lets_the_scanner_in_at_once(self):
        time.sleep(5.5)  # a new scan window
        since = log_offset()
        ns(INET1.ns, "nmap", "-n", "-Pn", "-sS", "--max-retries", "0", "-T4", "-p", "1-100",
           PUBLISHED_WEB, timeout=60)
        self.assertIsNotNone(wait_for_log(r"screen-event defence=scan-vertical action=block ",
                                          since=since), "no block event")
        self.assertNotEqual(curl(INET1, PUBLISHED_WEB, timeout=1).rc, 0)
        cleared = control({"op": "clear-screen-blocked"})
        self.assertEqual(cleared, {"ok": True, "cleared": 1})
        self.assertEqual(curl(INET1, PUBLISHED_WEB, timeout=3).rc, 0)


class Floods(OwnDataplaneTestCase):
    """Per-source limits: ICMP flood and new connections per second (R90-1-3)."""

    @classmethod
    def own_config(cls):
        return write_config("screen-floods.conf", with_screen("""
security {
    screen internet {
        icmp-flood { per-second 20; burst 20; action drop; }
        source-rate { new-per-second 20; burst 20; concurrent 0; action drop; }
    }
}"""))

    def test_icmp_flood_from_one_source_is_cut_to_its_rate_R90_1_3(self):
        before = self.tel.query("/qorgan/drops")
        r = ns(INET1.ns, "ping", "-c", "200", "-i", "0.002", "-q", INET_GW, timeout=30)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", r.out)
        self.assertIsNotNone(m, str(r))
        received = int(m.group(2))
        self.assertLess(received, 60, str(r))  # 20 of burst + 20/s for about half a second
        self.assertGreaterEqual(received, 15, str(r))
        diff = wait_for_counts(self.tel, "/qorgan/drops", before, {"icmp_flood": 100})
        self.assertEqual(diff.get("icmp_flood", 0), 200 - received, diff)

    def test_new_connections_beyond_the_rate_are_refused_R90_1_3(self):
        before = self.tel.query("/qorgan/drops")
        time.sleep(1.1)  # a full bucket
        # 100 SYNs in about 0.1 s to the published web server, each a new connection.
        ns(INET1.ns, "hping3", "-q", "-S", "-p", "80", "-i", "u1000", "-c", "100", PUBLISHED_WEB,
           timeout=20)
        diff = wait_for_counts(self.tel, "/qorgan/drops", before, {"source_rate": 50})
        self.assertGreaterEqual(diff.get("source_rate", 0), 60, diff)
        self.assertLessEqual(diff.get("source_rate", 0), 80, diff)


def v4(**kw):
    kw.setdefault("src", INET1.v4)
    kw.setdefault("dst", PUBLISHED_WEB)
    return IP(**kw)


def v6(**kw):
    kw.setdefault("src", INET1.v6)
    kw.setdefault("dst", "2001:db8:3::10")
    return IPv6(**kw)


def overlapping_v4():
    payload = bytes(range(48))
    udp = raw(UDP(sport=40000, dport=53, len=8 + len(payload)) / Raw(payload))
    a = v4(id=777, flags="MF", frag=0, proto=17) / Raw(udp[:24])
    b = v4(id=777, flags=0, frag=2, proto=17) / Raw(udp[16:])  # starts at 16: overlaps 16..24
    return [raw(a), raw(b)]


def overlapping_v6():
    payload = bytes(range(48))
    udp = raw(UDP(sport=40000, dport=53, len=8 + len(payload)) / Raw(payload))
    a = v6() / IPv6ExtHdrFragment(id=778, m=1, offset=0, nh=17) / Raw(udp[:24])
    b = v6() / IPv6ExtHdrFragment(id=778, m=0, offset=2, nh=17) / Raw(udp[16:])
    return [raw(a), raw(b)]


def tiny_first_fragment():
    tcp = raw(TCP(sport=40000, dport=80, flags="S"))
    return [raw(v4(id=779, flags="MF", frag=0, proto=6) / Raw(tcp[:8]))]


# reason -> list of (count, L3 bytes) sent from inet1 towards the published server.
CORPUS = {
    "ip_source_route": [(2, raw(v4(options=[IPOption_LSRR(routers=["203.0.113.77"])]) / TCP(dport=80, flags="S"))),
                        (2, raw(v4(options=[IPOption_SSRR(routers=["203.0.113.77"])]) / TCP(dport=80, flags="S")))],
    "ip_record_route": [(3, raw(v4(options=[IPOption_RR()]) / ICMP()))],
    "tcp_bad_flags": [(2, raw(v4() / TCP(dport=80, flags=""))),
                      (2, raw(v4() / TCP(dport=80, flags="F"))),
                      (2, raw(v4() / TCP(dport=80, flags="FPU"))),
                      (2, raw(v4() / TCP(dport=80, flags="SF"))),
                      (2, raw(v4() / TCP(dport=80, flags="SR"))),
                      (2, raw(v6() / TCP(dport=80, flags="FPU")))],
    "land": [(3, raw(v4(src=PUBLISHED_WEB) / TCP(sport=80, dport=80, flags="S")))],
    "spoofed_own_address": [(2, raw(v4(src=INET_GW) / TCP(dport=80, flags="S")))],
    "bogon_source": [(3, raw(v4(src="192.0.2.7") / TCP(dport=80, flags="S")))],
    "martian_source": [(2, raw(v4(src="203.0.113.255") / UDP(dport=53)))],  # the subnet's broadcast
    "ipv6_ext_order": [(2, raw(v6() / IPv6ExtHdrFragment(nh=43, m=0, offset=0, id=5) /
                               IPv6ExtHdrRouting(nh=17) / UDP(dport=53)))],
    "ipv6_frag_chain_incomplete": [(2, raw(v6() / IPv6ExtHdrFragment(nh=60, m=1, offset=0, id=6) /
                                           IPv6ExtHdrDestOpt(nh=17)))],
    "frag_tiny": [(2, tiny_first_fragment()[0])],
}


class Corpus(OwnDataplaneTestCase):
    """Malformed and evasive packets: each dropped with its reason; mbufs come back."""

    @classmethod
    def own_config(cls):
        return write_config("screen-corpus.conf", with_screen("""
security {
    screen internet {
        spoofing { action drop; bogons [ 192.0.2.0/24 ]; }
    }
}""", urpf_outer="strict", inet_pcap=True))

    def frames(self, ns_name, l3_list):
        gw = gateway_mac(INET1 if ns_name == INET1.ns else OUTER1,
                         INET_GW if ns_name == INET1.ns else GATEWAY["outer0"][0])
        src = mac_of(ns_name, "eth0")
        out = []
        for l3 in l3_list:
            etype = 0x86DD if (l3[0] >> 4) == 6 else 0x0800
            out.append(raw(Ether(dst=gw, src=src, type=etype)) + l3)
        return out

    def in_use(self):
        pools = self.tel.query("/qorgan/mempools")
        return {name: p["in_use"] for name, p in pools.items()}

    def test_malformed_and_evasive_packets_are_dropped_with_their_reason_R128_e(self):
        time.sleep(0.5)
        baseline = self.in_use()
        before = self.tel.query("/qorgan/drops")
        expected = {}
        l3 = []
        for reason, items in CORPUS.items():
            for count, pkt in items:
                l3 += [pkt] * count
                expected[reason] = expected.get(reason, 0) + count
        l3 += overlapping_v4() + overlapping_v6()
        expected["frag_overlap"] = 2  # one per datagram
        send_frames(INET1.ns, "eth0", self.frames(INET1.ns, l3))
        # uRPF: outer1 claims a dmz address; the route back leaves by dmz0, not outer0.
        spoofed = raw(IP(src="198.18.3.77", dst="203.0.113.10") / UDP(sport=40000, dport=53))
        send_frames(OUTER1.ns, "eth0", self.frames(OUTER1.ns, [spoofed] * 3))
        expected["urpf_fail"] = 3
        diff = wait_for_counts(self.tel, "/qorgan/drops", before, expected, timeout=8)
        for reason, n in expected.items():
            with self.subTest(reason=reason):
                self.assertEqual(diff.get(reason, 0), n, diff)
        # Every mbuf is back once the reassembly table has let go of what it held (5 s).
        deadline = time.monotonic() + 10
        while self.in_use() != baseline and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertEqual(self.in_use(), baseline)
        # Traffic still flows.
        self.assertEqual(curl(INET1, PUBLISHED_WEB, timeout=3).rc, 0)


class Reassembly(OwnDataplaneTestCase):
    """Fragmented datagrams are reassembled and answered in fragments again (pcap PMD on
    inet0, so that fragments reach the dataplane as they are on the wire)."""

    @classmethod
    def own_config(cls):
        return write_config("screen-reasm.conf", with_screen("", inet_pcap=True))

    def test_a_fragmented_ping_is_reassembled_and_answered_in_fragments(self):
        before = screen_counts(self.tel)
        r = ns(INET1.ns, "ping", "-c", "3", "-s", "3000", "-W", "2", INET_GW, timeout=15)
        self.assertIn("3 received", r.out, str(r))
        after = screen_counts(self.tel)
        self.assertEqual(after["reassembled"] - before["reassembled"], 3)
        self.assertEqual(after["refragmented"] - before["refragmented"], 3)


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: GPL-2.0-or-later
# Malformed input becomes a counted drop (R128-e): a batch of broken frames from outer1
# raises /qorgan/drops by exactly the number sent per reason, and traffic still flows.

import unittest

from scapy.all import UDP, Ether, IP, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, Raw, TCP, raw

from labkit import GATEWAY, INET1, INET1_PAGE, OUTER1, LabTestCase, curl, gateway_mac, mac_of, send_frames, wait_for_counts


def ipv4(**kw):
    return IP(src=OUTER1.v4, dst=INET1.v4, **kw)


def ipv6(**kw):
    return IPv6(src=OUTER1.v6, dst=INET1.v6, **kw)


def v4_bad_checksum():
    pkt = bytearray(raw(ipv4() / UDP(sport=40000, dport=53) / Raw(b"x" * 8)))
    pkt[10] ^= 0x55  # header checksum, now wrong
    pkt[11] ^= 0xAA
    return bytes(pkt)


def v6_dest_opts(count):
    chain = ipv6()
    for _ in range(count):
        chain = chain / IPv6ExtHdrDestOpt()
    return chain / UDP(sport=40000, dport=53) / Raw(b"x" * 8)


def v6_ext_header_overrunning():
    # A Destination Options header claiming 6 * 8 bytes with only 8 present.
    return raw(ipv6(nh=60, plen=16)) + bytes([17, 5]) + bytes(6) + bytes(8)


# reason -> list of (count, L3 bytes); the parser's checks are in dataplane/parse.h.
BATCH = {
    "ipv4_truncated": [(2, raw(ipv4() / TCP())[:12])],
    "ipv4_bad_ihl": [(3, raw(ipv4(ihl=4) / UDP(sport=40000, dport=53)))],
    "ipv4_bad_total_length": [(4, raw(ipv4(len=200) / UDP(sport=40000, dport=53) / Raw(b"x" * 8)))],
    "ipv4_bad_checksum": [(5, v4_bad_checksum())],
    "ipv6_truncated": [(2, raw(ipv6() / UDP())[:30])],
    "ipv6_bad_payload_length": [(3, raw(ipv6(plen=500) / UDP(sport=40000, dport=53) / Raw(b"x" * 8)))],
    "ipv6_bad_ext_header": [
        (2, raw(ipv6() / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / UDP(sport=40000, dport=53))),
        (2, v6_ext_header_overrunning()),
    ],
    # RFC 8200 4.1: Destination Options at most twice (once before Routing, once last).
    "ipv6_ext_order": [(3, raw(v6_dest_opts(9)))],
    "tcp_bad_data_offset": [
        (3, raw(ipv4() / TCP(sport=40000, dport=80, dataofs=4))),
        (2, raw(ipv6() / TCP(sport=40000, dport=80, dataofs=15))),
    ],
    "tcp_truncated": [(2, raw(ipv4(proto=6) / Raw(bytes(10))))],
    "udp_truncated": [(4, raw(ipv4(proto=17) / Raw(bytes(4)))), (1, raw(ipv6(nh=17) / Raw(bytes(4))))],
    "udp_bad_length": [(2, raw(ipv4() / UDP(sport=40000, dport=53, len=100) / Raw(b"x" * 8)))],
}


class MalformedBatch(LabTestCase):
    def test_each_reason_counts_exactly_R128_e(self):
        gw_mac = gateway_mac(OUTER1, GATEWAY["outer0"][0])
        my_mac = mac_of(OUTER1.ns, "eth0")
        frames, expected = [], {}
        for reason, items in BATCH.items():
            for count, l3 in items:
                ethertype = 0x86DD if (l3[0] >> 4) == 6 else 0x0800
                frame = raw(Ether(dst=gw_mac, src=my_mac, type=ethertype)) + l3
                frames += [frame] * count
                expected[reason] = expected.get(reason, 0) + count

        drops = self.tel.query("/qorgan/drops")
        for reason in expected:
            self.assertIn(reason, drops, "every drop reason is listed in /qorgan/drops")
        self.assertEqual(send_frames(OUTER1.ns, "eth0", frames), sum(expected.values()))
        diff = wait_for_counts(self.tel, "/qorgan/drops", drops, expected)
        got = {reason: diff.get(reason, 0) for reason in expected}
        self.assertEqual(got, expected, f"full diff: {diff}")

        for addr in (INET1.v4, INET1.v6):
            with self.subTest(after_batch=addr):
                r = curl(OUTER1, addr)
                self.assertOk(r)
                self.assertEqual(r.out.strip(), INET1_PAGE)


if __name__ == "__main__":
    unittest.main()

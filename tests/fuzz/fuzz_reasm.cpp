// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for the Reassembler and reasm_linearize: the input is a short program
// of IPv4/IPv6 fragments of up to 3 datagram keys (fuzz-chosen offset, length, MF flag,
// payload) and time steps. Each fragment is a real Ethernet frame, parsed by parse_frame
// into the mbuf's PacketMeta and handed to Reassembler::add. Checked:
// - every datagram handed back is exactly the fragments held for its key since its
//   datagram started: they tile [0, end of the last fragment) with no overlap, the
//   bytes and the first fragment's L2/IP header are what was sent, the lengths fixed by
//   reasm_linearize are right, and the result re-parses as a whole packet;
// - every fragment given to add() is counted exactly once in the stats;
// - after expiring everything, nothing is in flight and both mempools are back at their
//   in-use count from before the input (no leak, no double free; ASan does the rest).
#include "dataplane/mbuf_priv.h"
#include "dataplane/parse.h"
#include "dataplane/reasm.h"

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

using namespace qorgan::dp;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t timeout_ms = 100;
constexpr uint64_t hz = 1000; // tsc counts milliseconds
constexpr uint32_t num_keys = 3;
constexpr uint16_t jumbo_room = 9216; // linearize refuses bigger datagrams: that path too

rte_mempool *g_pool = nullptr;  // fragments (default 2048-byte data room)
rte_mempool *g_jumbo = nullptr; // reasm_linearize's copies

[[noreturn]] void fail(const char *what) {
    std::fprintf(stderr, "fuzz_reasm: %s\n", what);
    __builtin_trap();
}

void check(bool ok, const char *what) {
    if (!ok) {
        fail(what);
    }
}

void put16(uint8_t *p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

// Reads the fuzz input; past its end everything reads as zero.
struct Reader {
    const uint8_t *p;
    size_t n;
    size_t at = 0;
    bool done() const { return at >= n; }
    uint8_t u8() { return at < n ? p[at++] : 0; }
};

struct KeySpec {
    int family = 4;
    uint8_t proto = 17;
    uint32_t id = 0;
    size_t slot = 0; // model slot: keys the reassembler cannot tell apart share one
};

// A fragment the reassembler holds (add() returned nullptr without a reason).
struct Held {
    uint32_t start = 0;
    bool more = false;
    Bytes hdr;  // L2 + IP header as the reassembled datagram should start (first fragment)
    Bytes data; // the fragment's payload
};

struct Frame {
    Bytes bytes;
    Held frag;
};

const uint8_t mac_dst[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t mac_src[6] = {0x02, 0, 0, 0, 0, 0x11};
const uint8_t v4_src[4] = {192, 0, 2, 1};
const uint8_t v4_dst[4] = {198, 51, 100, 2};
const uint8_t v6_src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11};
const uint8_t v6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};

uint16_t ip_checksum(const uint8_t *ip, uint32_t len) {
    return csum_fold(csum_partial(ip, len, 0)); // network-order bytes, ready to store
}

// Payload byte at absolute offset o of a datagram of key k when the input does not give
// the bytes: a plausible L4 header at the start, so first fragments pass parse_frame.
uint8_t pattern(const KeySpec &k, uint32_t o) {
    if (o < 20) {
        static const uint8_t tcp[20] = {0x30, 0x39, 0,    80,   0,    0, 0, 1, 0, 0,
                                        0,    0,    0x50, 0x02, 0x20, 0, 0, 0, 0, 0};
        static const uint8_t udp[8] = {0x30, 0x39, 0, 53, 0, 0, 0, 0};
        static const uint8_t icmp[8] = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
        if (k.proto == 6) {
            return tcp[o];
        }
        if (o < 8) {
            return k.proto == 17 ? udp[o] : (k.family == 6 ? (o == 0 ? 128 : icmp[o]) : icmp[o]);
        }
    }
    return static_cast<uint8_t>(o * 7u + k.id * 13u + k.proto);
}

// Builds one fragment frame of key k: optional VLAN tag, IPv4 (optionally with 4 bytes of
// options) or IPv6 with a Fragment header, the payload, optional Ethernet padding.
Frame build(const KeySpec &k, uint32_t start, const Bytes &data, bool more, bool vlan, bool options,
            bool pad) {
    Frame f;
    Bytes &b = f.bytes;
    b.insert(b.end(), mac_dst, mac_dst + 6);
    b.insert(b.end(), mac_src, mac_src + 6);
    if (vlan) {
        b.insert(b.end(), {0x81, 0x00, 0x00, 0x07});
    }
    const size_t l2 = b.size() + 2;
    if (k.family == 4) {
        b.insert(b.end(), {0x08, 0x00});
        const uint32_t ihl = options ? 24 : 20;
        b.resize(l2 + ihl, 0);
        uint8_t *ip = &b[l2];
        ip[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
        put16(ip + 2, ihl + static_cast<uint32_t>(data.size()));
        put16(ip + 4, k.id & 0xffff);
        put16(ip + 6, (more ? 0x2000u : 0u) | ((start / 8) & 0x1fff));
        ip[8] = 64;
        ip[9] = k.proto;
        std::memcpy(ip + 12, v4_src, 4);
        std::memcpy(ip + 16, v4_dst, 4);
        if (options) {
            ip[20] = ip[21] = ip[22] = 1; // NOP NOP NOP EOL
        }
        const uint16_t sum = ip_checksum(ip, ihl);
        std::memcpy(ip + 10, &sum, 2);
        // The reassembled datagram keeps this header, made whole by reasm_linearize.
        f.frag.hdr.assign(b.begin(), b.end());
    } else {
        b.insert(b.end(), {0x86, 0xdd});
        b.resize(l2 + 48, 0);
        uint8_t *ip = &b[l2];
        ip[0] = 0x60;
        put16(ip + 4, 8 + static_cast<uint32_t>(data.size()));
        ip[6] = 44;
        ip[7] = 64;
        std::memcpy(ip + 8, v6_src, 16);
        std::memcpy(ip + 24, v6_dst, 16);
        uint8_t *fh = ip + 40;
        fh[0] = k.proto;
        put16(fh + 2, (start & 0xfff8u) | (more ? 1u : 0u));
        fh[4] = static_cast<uint8_t>(k.id >> 24);
        fh[5] = static_cast<uint8_t>(k.id >> 16);
        fh[6] = static_cast<uint8_t>(k.id >> 8);
        fh[7] = static_cast<uint8_t>(k.id);
        // Reassembled: the fixed header with the Fragment header gone.
        f.frag.hdr.assign(b.begin(), b.begin() + static_cast<long>(l2 + 40));
        f.frag.hdr[l2 + 6] = k.proto;
    }
    b.insert(b.end(), data.begin(), data.end());
    if (pad) {
        b.insert(b.end(), 6, 0xee);
    }
    f.frag.start = start;
    f.frag.more = more;
    f.frag.data = data;
    return f;
}

// The whole datagram expected from these fragments, or empty when they do not tile
// [0, end) exactly, without overlap, with one last fragment at the end.
Bytes expected_from(std::vector<const Held *> frags) {
    std::sort(frags.begin(), frags.end(),
              [](const Held *a, const Held *b) { return a->start < b->start; });
    if (frags.empty() || frags[0]->start != 0) {
        return {};
    }
    Bytes out = frags[0]->hdr;
    const size_t l3_at = out.size(); // end of the header; fixed up below
    uint32_t end = 0;
    for (size_t i = 0; i < frags.size(); ++i) {
        const Held &h = *frags[i];
        if (h.start != end || h.more != (i + 1 < frags.size())) {
            return {};
        }
        out.insert(out.end(), h.data.begin(), h.data.end());
        end += static_cast<uint32_t>(h.data.size());
    }
    // Make the header whole, as reasm_linearize does.
    const Bytes &hdr = frags[0]->hdr;
    const size_t l2 = hdr[12] == 0x81 ? 18 : 14;
    const bool v4 = hdr[l2 - 2] == 0x08;
    uint8_t *ip = &out[l2];
    if (v4) {
        const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
        put16(ip + 2, static_cast<uint32_t>(out.size() - l2));
        ip[6] &= 0x40;
        ip[7] = 0;
        ip[10] = ip[11] = 0;
        const uint16_t sum = ip_checksum(ip, ihl);
        std::memcpy(ip + 10, &sum, 2);
    } else {
        put16(ip + 4, static_cast<uint32_t>(out.size() - l3_at));
    }
    return out;
}

Bytes read_all(rte_mbuf *m) {
    Bytes out(rte_pktmbuf_pkt_len(m));
    const void *p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(out.size()), out.data());
    check(p != nullptr, "rte_pktmbuf_read of a returned datagram failed");
    if (p != out.data()) {
        std::memcpy(out.data(), p, out.size());
    }
    return out;
}

// A datagram came back whole: compare it with what its fragments say, linearize it,
// compare again and re-parse it, free it.
void take_datagram(rte_mbuf *chain, const Bytes &expected) {
    check(!expected.empty(), "a datagram came back from fragments that do not tile it");
    const Bytes got = read_all(chain);
    check(got.size() == expected.size(), "reassembled length differs from its fragments");
    const size_t l2 = expected[12] == 0x81 ? 18 : 14;
    const bool v4 = expected[l2 - 2] == 0x08;
    const size_t l3 = v4 ? (expected[l2] & 0x0fu) * 4u : 40;
    // Before linearize the IP header is not yet whole (IPv4 checksum 0): compare the
    // L2 header and everything after the IP header.
    check(std::equal(got.begin(), got.begin() + static_cast<long>(l2), expected.begin()) &&
              std::equal(got.begin() + static_cast<long>(l2 + l3), got.end(),
                         expected.begin() + static_cast<long>(l2 + l3)),
          "reassembled bytes differ from the fragments'");
    check(chain->l2_len == l2, "reassembled l2_len wrong");
    rte_mbuf *m = reasm_linearize(chain, g_jumbo);
    if (m == nullptr) {
        // Only a datagram that does not fit the jumbo pool's data room is refused.
        check(chain->nb_segs > 1 && got.size() > jumbo_room,
              "reasm_linearize refused a datagram that fits");
        check(read_all(chain) == got, "a refused reasm_linearize changed the chain");
        rte_pktmbuf_free(chain);
        return;
    }
    check(m->nb_segs == 1 && rte_pktmbuf_data_len(m) == expected.size(),
          "linearized datagram is not one segment of the right length");
    const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
    check(std::equal(expected.begin(), expected.end(), p),
          "linearized datagram differs from the expected one");
    PacketMeta meta;
    if (!parse_frame(p, rte_pktmbuf_data_len(m), meta).has_value()) {
        // It may still be refused (a UDP length the fuzzer chose), but if accepted it
        // must be one whole packet.
        check((meta.flags & meta_fragment) == 0, "reassembled datagram parses as a fragment");
        check(meta.l3_end == expected.size(), "reassembled datagram's IP length is wrong");
    }
    rte_pktmbuf_free(m);
}

uint64_t refusals(const ReasmStats &s) {
    return s.duplicate + s.overlap + s.too_big + s.malformed + s.table_full + s.too_many;
}

} // namespace

// No --in-memory: DPDK 22.11 refuses it with --no-huge (which implies --legacy-mem).
// The runtime folder it makes instead is removed at exit.
extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    const std::string prefix = "qorgan-fuzz-reasm-" + std::to_string(getpid());
    const char *eal_argv[] = {
        "fuzz_reasm",    "--no-huge",    "-m",          "256",     "--no-pci", "--no-shconf",
        "--file-prefix", prefix.c_str(), "--log-level", "*:error", "-l",       "0",
        "--no-telemetry"};
    int eal_argc = sizeof(eal_argv) / sizeof(eal_argv[0]);
    if (rte_eal_init(eal_argc, const_cast<char **>(eal_argv)) < 0) {
        std::fprintf(stderr, "fuzz_reasm: rte_eal_init failed\n");
        std::abort();
    }
    std::atexit([] {
        std::error_code ec; // best effort
        std::filesystem::remove_all(rte_eal_get_runtime_dir(), ec);
    });
    g_pool = rte_pktmbuf_pool_create("fuzz_reasm", 1023, 0, mbuf_priv_size,
                                     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    g_jumbo = rte_pktmbuf_pool_create("fuzz_reasm_jumbo", 63, 0, mbuf_priv_size,
                                      RTE_PKTMBUF_HEADROOM + jumbo_room, SOCKET_ID_ANY);
    if (g_pool == nullptr || g_jumbo == nullptr) {
        std::fprintf(stderr, "fuzz_reasm: mempool creation failed\n");
        std::abort();
    }
    return 0;
}

// Input: 3 header bytes, then operations.
//  [0] bits 0-1: max datagrams - 1; bit 2: VLAN tag on every frame; bits 3-5: key k
//      is IPv6 when bit 3+k is set
//  [1] bits 2k..2k+1: key k's protocol (UDP, TCP, ICMP, UDP)
//  [2] bits 0-2: key k shares the identification of key 0 when bit k is set (so two
//      keys may differ only in protocol, or not at all)
// Operation byte c: (c & 0xc0) == 0xc0 is a time step, the next byte t: a step of
// t & 0x1f ms that never makes a datagram expire, or with t & 0x80 (or when the small
// steps would add up past the timeout) a jump past the timeout, calling expire() when
// t & 0x40. Otherwise a fragment of key (c & 3) % 3, MF = c & 4, then bytes:
//  length byte L: L bytes, or 8 * L when c & 8;
//  offset byte O: 8 * O, or with c & 0x10 a second byte P and 8 * ((O << 8 | P) & 0x1fff);
//  with c & 0x20, the payload bytes follow in the input (else a fixed pattern);
//  c & 0x40: IPv4 options (4 bytes); c & 0x80: 6 bytes of Ethernet padding.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Reader in{data, size};
    const uint8_t h0 = in.u8(), h1 = in.u8(), h2 = in.u8();
    const uint32_t max_datagrams = 1u + (h0 & 3u);
    const bool vlan = (h0 & 4) != 0;
    KeySpec keys[num_keys];
    static const uint8_t protos4[4] = {17, 6, 1, 17};
    static const uint8_t protos6[4] = {17, 6, 58, 17};
    for (uint32_t k = 0; k < num_keys; ++k) {
        keys[k].family = (h0 >> (3 + k)) & 1 ? 6 : 4;
        const uint32_t p = (h1 >> (2 * k)) & 3u;
        keys[k].proto = keys[k].family == 4 ? protos4[p] : protos6[p];
        keys[k].id = (h2 >> k) & 1 ? 0x00011234u : 0x00011234u + 0x100u * (k + 1);
        // Keys the reassembler keys alike share a model slot: (src, dst, id) for both
        // families, as rte_ip_frag does (an IPv4 fragment of another protocol than its
        // datagram's is refused).
        keys[k].slot = k;
        for (uint32_t j = 0; j < k; ++j) {
            if (keys[j].family == keys[k].family && keys[j].id == keys[k].id) {
                keys[k].slot = keys[j].slot;
                break;
            }
        }
    }

    const unsigned base_pool = rte_mempool_in_use_count(g_pool);
    const unsigned base_jumbo = rte_mempool_in_use_count(g_jumbo);
    auto created = Reassembler::create(max_datagrams, timeout_ms, hz, SOCKET_ID_ANY);
    check(created.ok(), "Reassembler::create failed");
    std::unique_ptr<Reassembler> reasm = std::move(created.value());

    std::vector<Held> held[num_keys]; // per model slot, since its datagram started
    uint64_t tsc = 1000;
    uint64_t small = 0; // small steps since the last jump: below the timeout
    uint64_t added = 0;
    auto jump = [&](uint64_t extra) {
        tsc += timeout_ms + 1 + extra;
        small = 0;
        for (auto &h : held) {
            h.clear();
        }
    };

    for (int ops = 0; ops < 256 && !in.done(); ++ops) {
        const uint8_t c = in.u8();
        if ((c & 0xc0) == 0xc0) {
            const uint8_t t = in.u8();
            if ((t & 0x80) != 0 || small + (t & 0x1fu) > timeout_ms) {
                jump(t & 0x1fu);
                if ((t & 0x40) != 0) {
                    reasm->expire(tsc);
                }
            } else {
                tsc += t & 0x1fu;
                small += t & 0x1fu;
            }
            continue;
        }
        const KeySpec &k = keys[(c & 3u) % num_keys];
        const bool more = (c & 4) != 0;
        const uint32_t len = (c & 8) != 0 ? 8u * in.u8() : in.u8();
        uint32_t start = 8u * in.u8();
        if ((c & 0x10) != 0) {
            start = 8u * ((((start / 8) << 8) | in.u8()) & 0x1fffu);
        }
        Bytes payload(len);
        for (uint32_t i = 0; i < len; ++i) {
            payload[i] = (c & 0x20) != 0 ? in.u8() : pattern(k, start + i);
        }
        const Frame f = build(k, start, payload, more, vlan, (c & 0x40) != 0, (c & 0x80) != 0);
        if (f.bytes.size() > RTE_MBUF_DEFAULT_DATAROOM) {
            continue;
        }
        rte_mbuf *m = rte_pktmbuf_alloc(g_pool);
        check(m != nullptr, "fragment pool exhausted: mbufs leak");
        char *dst = rte_pktmbuf_append(m, static_cast<uint16_t>(f.bytes.size()));
        check(dst != nullptr, "append failed");
        std::memcpy(dst, f.bytes.data(), f.bytes.size());
        PacketMeta &meta = priv_of(m)->meta;
        meta = PacketMeta{};
        meta.in_port = 1;
        if (parse_frame(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), meta)
                .has_value() ||
            (meta.flags & meta_fragment) == 0) {
            rte_pktmbuf_free(m);
            continue;
        }
        std::optional<DropReason> why;
        ++added;
        rte_mbuf *out = reasm->add(m, tsc, why);
        std::vector<Held> &slot = held[k.slot];
        if (out == nullptr) {
            if (!why.has_value()) {
                slot.push_back(f.frag);
            }
            continue;
        }
        check(!why.has_value(), "a datagram came back with a drop reason");
        if (start == 0 && !more) { // IPv6 atomic fragment: alone, the table untouched
            check(k.family == 6, "an IPv4 non-fragment came back");
            take_datagram(out, expected_from({&f.frag}));
            continue;
        }
        std::vector<const Held *> frags;
        for (const Held &h : slot) {
            frags.push_back(&h);
        }
        frags.push_back(&f.frag);
        const Bytes expected = expected_from(frags);
        check(expected.empty() || out->nb_segs == frags.size(),
              "reassembled chain is not one segment per fragment");
        take_datagram(out, expected);
        slot.clear(); // its datagram is done: the next fragment of the key starts anew
    }

    jump(0);
    reasm->expire(tsc);
    const ReasmStats &s = reasm->stats();
    check(reasm->in_flight() == 0, "datagrams in flight after everything expired");
    check(s.fragments + s.atomic + refusals(s) == added,
          "a fragment given to add() is not counted exactly once");
    check(rte_mempool_in_use_count(g_pool) == base_pool, "fragment mbufs leaked or freed twice");
    check(rte_mempool_in_use_count(g_jumbo) == base_jumbo, "jumbo mbufs leaked or freed twice");
    reasm.reset();
    check(rte_mempool_in_use_count(g_pool) == base_pool, "destroying the reassembler freed mbufs");
    return 0;
}

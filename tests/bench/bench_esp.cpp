// SPDX-License-Identifier: GPL-2.0-or-later
// ESP throughput on one core (R128-h): Engine::process outbound and inbound on 1420-byte
// inner packets, AES-256-GCM and AES-256-CBC + HMAC-SHA-256-128, beside the same crypto
// operation on the same size through the cryptodev alone (enqueue + dequeue, no rte_ipsec)
// measured in the same run. Cycles are TSC over whole bursts of 32; filling the mbufs is
// outside the timed region. Gbit/s count inner bytes.
#include "dataplane/esp.h"
#include "tests/bench/bench_kit.h"

#include <rte_bus_vdev.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace qorgan::dp::esp;

namespace {

constexpr uint32_t inner_len = 1420;
constexpr unsigned packets_per_round = 16384;
constexpr unsigned rounds = 5;
constexpr unsigned b = Engine::burst;

struct Rate {
    double cycles = 0; // per packet
    double pps() const { return double(rte_get_tsc_hz()) / cycles; }
    double gbps() const { return pps() * inner_len * 8 / 1e9; }
};

std::vector<uint8_t> inner_packet() {
    std::vector<uint8_t> p(inner_len);
    for (uint32_t i = 0; i < inner_len; i++)
        p[i] = uint8_t(i * 7);
    p[0] = 0x45;
    p[1] = 0;
    p[2] = uint8_t(inner_len >> 8);
    p[3] = uint8_t(inner_len);
    p[8] = 64;
    p[9] = 17;
    return p;
}

SaConfig sa_config(bool inbound, Cipher cipher) {
    SaConfig c;
    c.spi = 0x1000;
    c.inbound = inbound;
    c.family = 4;
    const uint8_t a[4] = {203, 0, 113, 1}, z[4] = {198, 51, 100, 2};
    std::memcpy(c.src, inbound ? z : a, 4);
    std::memcpy(c.dst, inbound ? a : z, 4);
    c.cipher = cipher;
    for (int i = 0; i < 36; i++)
        c.enc_key[i] = uint8_t(i + 1);
    for (int i = 0; i < 32; i++)
        c.integ_key[i] = uint8_t(100 + i);
    c.enc_key_len = cipher == Cipher::aes256_gcm16 ? 36 : 32;
    c.integ_key_len = cipher == Cipher::aes256_gcm16 ? 0 : 32;
    c.replay_window = inbound ? 1024 : 0;
    return c;
}

void fill(rte_mempool *mp, rte_mbuf **m, unsigned n, const std::vector<uint8_t> &bytes) {
    if (rte_pktmbuf_alloc_bulk(mp, m, n) != 0)
        qorgan::bench::die("mbufs exhausted");
    for (unsigned i = 0; i < n; i++) {
        auto *d = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m[i], uint16_t(bytes.size())));
        std::memcpy(d, bytes.data(), bytes.size());
    }
}

// Outbound: the same inner packet, again and again.
Rate outbound(Engine &e, int sa, rte_mempool *mp) {
    const auto inner = inner_packet();
    Rate r;
    r.cycles = qorgan::bench::median_of(rounds, [&] {
        uint64_t cycles = 0;
        rte_mbuf *m[b];
        for (unsigned done = 0; done < packets_per_round; done += b) {
            fill(mp, m, b, inner);
            const uint64_t t0 = rte_rdtsc_precise();
            const unsigned k = e.process(0, sa, m, b, 1);
            cycles += rte_rdtsc_precise() - t0;
            if (k != b)
                qorgan::bench::die("outbound dropped packets");
            rte_pktmbuf_free_bulk(m, k);
        }
        return double(cycles) / packets_per_round;
    });
    return r;
}

// Inbound: ESP packets made by the outbound SA beforehand (sequence numbers in order,
// a fresh stretch each round so the replay window passes them).
Rate inbound(Engine &e, int out_sa, int in_sa, rte_mempool *mp) {
    const auto inner = inner_packet();
    std::vector<std::vector<uint8_t>> esp;
    rte_mbuf *m[b];
    for (unsigned done = 0; done < packets_per_round * rounds; done += b) {
        fill(mp, m, b, inner);
        const unsigned k = e.process(0, out_sa, m, b, 1);
        for (unsigned i = 0; i < k; i++) {
            esp.emplace_back(rte_pktmbuf_mtod(m[i], uint8_t *),
                             rte_pktmbuf_mtod(m[i], uint8_t *) + m[i]->pkt_len);
        }
        rte_pktmbuf_free_bulk(m, k);
    }
    size_t next = 0;
    Rate r;
    r.cycles = qorgan::bench::median_of(rounds, [&] {
        uint64_t cycles = 0;
        for (unsigned done = 0; done < packets_per_round; done += b) {
            if (rte_pktmbuf_alloc_bulk(mp, m, b) != 0)
                qorgan::bench::die("mbufs exhausted");
            for (unsigned i = 0; i < b; i++) {
                const auto &p = esp[next++];
                std::memcpy(rte_pktmbuf_append(m[i], uint16_t(p.size())), p.data(), p.size());
            }
            const uint64_t t0 = rte_rdtsc_precise();
            const unsigned k = e.process(0, in_sa, m, b, 1);
            cycles += rte_rdtsc_precise() - t0;
            if (k != b)
                qorgan::bench::die("inbound dropped packets");
            rte_pktmbuf_free_bulk(m, k);
        }
        return double(cycles) / packets_per_round;
    });
    return r;
}

// The cryptodev alone: the same encryption (GCM: ESP payload 1424 bytes, 8 bytes of AAD, a
// 16-byte tag; CBC: 1424 bytes and HMAC-SHA-256-128 over ESP header, IV and them) on its
// own crypto_aesni_mb device, ops and mbufs prepared once, enqueue + dequeue timed.
Rate raw(Cipher cipher, rte_mempool *mp) {
    static int serial = 0;
    const std::string name = "crypto_aesni_mb_bench" + std::to_string(serial++);
    if (rte_vdev_init(name.c_str(), "max_nb_queue_pairs=1") != 0)
        qorgan::bench::die("cannot create " + name);
    const uint8_t dev = uint8_t(rte_cryptodev_get_dev_id(name.c_str()));
    rte_mempool *sess_pool = rte_cryptodev_sym_session_pool_create(
        (name + "_s").c_str(), 4, rte_cryptodev_sym_get_private_session_size(dev), 0, 0, 0);
    const uint16_t iv_off = sizeof(rte_crypto_op) + sizeof(rte_crypto_sym_op);
    rte_mempool *op_pool = rte_crypto_op_pool_create((name + "_o").c_str(),
                                                     RTE_CRYPTO_OP_TYPE_SYMMETRIC, 2 * b, 0, 16, 0);
    rte_cryptodev_config conf{};
    conf.nb_queue_pairs = 1;
    rte_cryptodev_qp_conf qconf{};
    qconf.nb_descriptors = 256;
    qconf.mp_session = sess_pool;
    if (!sess_pool || !op_pool || rte_cryptodev_configure(dev, &conf) < 0 ||
        rte_cryptodev_queue_pair_setup(dev, 0, &qconf, 0) < 0 || rte_cryptodev_start(dev) < 0)
        qorgan::bench::die("raw cryptodev setup");
    uint8_t key[32], hkey[32];
    for (int i = 0; i < 32; i++)
        key[i] = uint8_t(i), hkey[i] = uint8_t(i * 3);
    rte_crypto_sym_xform x{}, a{};
    const bool gcm = cipher == Cipher::aes256_gcm16;
    if (gcm) {
        x.type = RTE_CRYPTO_SYM_XFORM_AEAD;
        x.aead = {
            RTE_CRYPTO_AEAD_OP_ENCRYPT, RTE_CRYPTO_AEAD_AES_GCM, {key, 32}, {iv_off, 12}, 16, 8};
    } else {
        x.type = RTE_CRYPTO_SYM_XFORM_CIPHER;
        x.cipher.op = RTE_CRYPTO_CIPHER_OP_ENCRYPT;
        x.cipher.algo = RTE_CRYPTO_CIPHER_AES_CBC;
        x.cipher.key = {key, 32};
        x.cipher.iv = {iv_off, 16};
        x.next = &a;
        a.type = RTE_CRYPTO_SYM_XFORM_AUTH;
        a.auth.op = RTE_CRYPTO_AUTH_OP_GENERATE;
        a.auth.algo = RTE_CRYPTO_AUTH_SHA256_HMAC;
        a.auth.key = {hkey, 32};
        a.auth.digest_length = 16;
    }
    void *ses = rte_cryptodev_sym_session_create(dev, &x, sess_pool);
    if (ses == nullptr)
        qorgan::bench::die("raw session");
    constexpr uint32_t clen = 1424, hdr = 24; // ESP header + IV (CBC), as in a packet
    rte_mbuf *m[b];
    rte_crypto_op *ops[b], *done[b];
    static uint8_t aad[16];
    fill(mp, m, b, std::vector<uint8_t>(hdr + clen + 16, 0x5a));
    if (rte_crypto_op_bulk_alloc(op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, b) != b)
        qorgan::bench::die("raw ops");
    for (unsigned i = 0; i < b; i++) {
        rte_crypto_op_attach_sym_session(ops[i], ses);
        rte_crypto_sym_op *s = ops[i]->sym;
        s->m_src = m[i];
        uint8_t *digest = rte_pktmbuf_mtod_offset(m[i], uint8_t *, hdr + clen);
        if (gcm) {
            s->aead.data = {hdr, clen};
            s->aead.digest.data = digest;
            s->aead.digest.phys_addr = rte_pktmbuf_iova_offset(m[i], hdr + clen);
            s->aead.aad.data = aad;
            s->aead.aad.phys_addr = rte_mem_virt2iova(aad);
        } else {
            s->cipher.data = {hdr, clen};
            s->auth.data = {0, hdr + clen};
            s->auth.digest.data = digest;
            s->auth.digest.phys_addr = rte_pktmbuf_iova_offset(m[i], hdr + clen);
        }
        std::memset(rte_crypto_op_ctod_offset(ops[i], uint8_t *, iv_off), 7, 16);
    }
    Rate r;
    r.cycles = qorgan::bench::median_of(rounds, [&] {
        uint64_t cycles = 0;
        for (unsigned n = 0; n < packets_per_round; n += b) {
            const uint64_t t0 = rte_rdtsc_precise();
            const uint16_t sent = rte_cryptodev_enqueue_burst(dev, 0, ops, b);
            unsigned got = 0;
            while (got < sent)
                got += rte_cryptodev_dequeue_burst(dev, 0, done + got, uint16_t(sent - got));
            cycles += rte_rdtsc_precise() - t0;
            for (unsigned i = 0; i < got; i++)
                if (done[i]->status != RTE_CRYPTO_OP_STATUS_SUCCESS)
                    qorgan::bench::die("raw op failed");
        }
        return double(cycles) / packets_per_round;
    });
    rte_pktmbuf_free_bulk(m, b);
    rte_mempool_put_bulk(op_pool, reinterpret_cast<void **>(ops), b);
    rte_cryptodev_stop(dev);
    rte_cryptodev_sym_session_free(dev, ses);
    rte_cryptodev_close(dev);
    rte_vdev_uninit(name.c_str());
    rte_mempool_free(op_pool);
    rte_mempool_free(sess_pool);
    return r;
}

} // namespace

int main() {
    qorgan::bench::Rig rig({"besp0", "besp1"},
                           qorgan::bench::two_port_config("net_ring_besp0", "net_ring_besp1"),
                           1024);
    std::string error;
    auto engine = Engine::create(1, 8, error);
    if (!engine)
        qorgan::bench::die(error);
    std::printf("| path (one core, %u-byte inner packets, bursts of %u) | cycles/packet | Mpps | "
                "Gbit/s | of the cryptodev alone |\n",
                inner_len, b);
    std::printf("|---|---|---|---|---|\n");
    for (Cipher cipher : {Cipher::aes256_gcm16, Cipher::aes256_cbc_sha256}) {
        const char *name =
            cipher == Cipher::aes256_gcm16 ? "AES-256-GCM" : "AES-256-CBC + HMAC-SHA-256-128";
        int out_sa = engine->add(sa_config(false, cipher), error);
        int in_sa = engine->add(sa_config(true, cipher), error);
        if (out_sa < 0 || in_sa < 0)
            qorgan::bench::die(error);
        Rate alone = raw(cipher, rig.mp);
        Rate out = outbound(*engine, out_sa, rig.mp);
        Rate in = inbound(*engine, out_sa, in_sa, rig.mp);
        std::printf("| %s: cryptodev alone (enqueue + dequeue, no rte_ipsec) | %.0f | %.2f | %.1f "
                    "| 1.00 |\n",
                    name, alone.cycles, alone.pps() / 1e6, alone.gbps());
        std::printf("| %s: Engine::process outbound | %.0f | %.2f | %.1f | %.2f |\n", name,
                    out.cycles, out.pps() / 1e6, out.gbps(), out.gbps() / alone.gbps());
        std::printf("| %s: Engine::process inbound | %.0f | %.2f | %.1f | %.2f |\n", name,
                    in.cycles, in.pps() / 1e6, in.gbps(), in.gbps() / alone.gbps());
        const std::string tag = cipher == Cipher::aes256_gcm16 ? "AES-256-GCM" : "AES-CBC+HMAC";
        for (auto [dir, res] : {std::pair{"outbound", out}, std::pair{"inbound", in}}) {
            qorgan::bench::record(
                {"esp", "ESP " + std::string(dir) + " " + tag + " 1420 B, one core", res.gbps(),
                 "Gbit/s", alone.gbps(), "cryptodev alone", NAN, false});
            qorgan::bench::record(
                {"esp", "cycles per ESP packet " + std::string(dir) + " " + tag + " 1420 B",
                 res.cycles, "cycles", alone.cycles, "cryptodev alone", NAN, true});
        }
        engine->remove(out_sa);
        engine->remove(in_sa);
    }
    std::printf("\nTSC %.2f GHz; driver %s; memory: %s; median of %u rounds of %u packets.\n",
                double(rte_get_tsc_hz()) / 1e9, engine->driver(), rig.memory(), rounds,
                packets_per_round);
    engine.reset();
    return 0;
}

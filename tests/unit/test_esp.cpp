// SPDX-License-Identifier: GPL-2.0-or-later
// The ESP engine against an independent implementation: the test builds and opens ESP
// packets itself with OpenSSL (AES-256-GCM per RFC 4106, AES-256-CBC + HMAC-SHA-256-128
// per RFC 3602/4868, ESN per RFC 4303 2.2.1) and checks the engine's packets byte for byte,
// then replay, ICV, ESN, NAT-T, lifetime and refusal paths; every test also checks that
// no mbuf leaked.
#include "dataplane/esp.h"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <arpa/inet.h>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace qorgan::dp::esp;
using Bytes = std::vector<uint8_t>;

namespace {

rte_mempool *g_pool = nullptr;
std::unique_ptr<Engine> g_engine;

constexpr uint8_t v4_a[4] = {203, 0, 113, 1}, v4_b[4] = {198, 51, 100, 7};
constexpr uint8_t v6_a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr uint8_t v6_b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

void put16(uint8_t *p, uint32_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
void put32(uint8_t *p, uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v);
}
uint16_t get16(const uint8_t *p) {
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t *p) {
    return uint32_t(get16(p)) << 16 | get16(p + 2);
}

// An inner UDP packet of `len` bytes (IPv4 or IPv6) with a recognisable payload.
Bytes inner_packet(int family, size_t len, uint8_t seed) {
    Bytes p(len);
    for (size_t i = 0; i < len; i++)
        p[i] = uint8_t(seed + i * 7);
    if (family == 4) {
        p[0] = 0x45;
        p[1] = 0;
        put16(&p[2], uint32_t(len));
        p[6] = p[7] = 0;
        p[8] = 64;
        p[9] = 17;
        p[10] = p[11] = 0;
        const uint8_t s[4] = {10, 1, 0, 5}, d[4] = {10, 2, 0, 9};
        std::memcpy(&p[12], s, 4);
        std::memcpy(&p[16], d, 4);
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(p.data());
        ip->hdr_checksum = rte_ipv4_cksum(ip);
    } else {
        p[0] = 0x60;
        p[1] = p[2] = p[3] = 0;
        put16(&p[4], uint32_t(len - 40));
        p[6] = 17;
        p[7] = 64;
        std::memcpy(&p[8], v6_a, 16);
        std::memcpy(&p[24], v6_b, 16);
        p[23] = 0x55;
    }
    return p;
}

struct Keys {
    uint8_t enc[36];
    uint8_t integ[32];
};

Keys keys(uint8_t seed) {
    Keys k;
    for (int i = 0; i < 36; i++)
        k.enc[i] = uint8_t(seed * 13 + i);
    for (int i = 0; i < 32; i++)
        k.integ[i] = uint8_t(seed * 31 + 3 * i);
    return k;
}

SaConfig sa_config(bool inbound, Cipher cipher, uint32_t spi, int family, const Keys &k) {
    SaConfig c;
    c.spi = spi;
    c.inbound = inbound;
    c.family = uint8_t(family);
    // Outbound from a to b; inbound packets come from b to a.
    const uint8_t *a = family == 4 ? v4_a : v6_a, *b = family == 4 ? v4_b : v6_b;
    const size_t n = family == 4 ? 4 : 16;
    std::memcpy(c.src, inbound ? b : a, n);
    std::memcpy(c.dst, inbound ? a : b, n);
    c.cipher = cipher;
    if (cipher == Cipher::aes256_gcm16) {
        std::memcpy(c.enc_key, k.enc, 36);
        c.enc_key_len = 36;
    } else {
        std::memcpy(c.enc_key, k.enc, 32);
        c.enc_key_len = 32;
        std::memcpy(c.integ_key, k.integ, 32);
        c.integ_key_len = 32;
    }
    return c;
}

// --- OpenSSL: the independent side ---

bool gcm(bool encrypt, const uint8_t *key, const uint8_t nonce[12], const Bytes &aad,
         const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16]) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    bool ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt) &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) &&
              EVP_CipherInit_ex(ctx, nullptr, nullptr, key, nonce, encrypt) &&
              EVP_CipherUpdate(ctx, nullptr, &n, aad.data(), int(aad.size())) &&
              EVP_CipherUpdate(ctx, out, &n, in, int(len));
    if (ok && !encrypt)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag);
    ok = ok && EVP_CipherFinal_ex(ctx, out + n, &n);
    if (ok && encrypt)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

bool cbc(bool encrypt, const uint8_t *key, const uint8_t iv[16], const uint8_t *in, size_t len,
         uint8_t *out) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = EVP_CipherInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key, iv, encrypt) &&
              EVP_CIPHER_CTX_set_padding(ctx, 0) && EVP_CipherUpdate(ctx, out, &n, in, int(len)) &&
              EVP_CipherFinal_ex(ctx, out + n, &m);
    EVP_CIPHER_CTX_free(ctx);
    return ok && size_t(n + m) == len;
}

// HMAC-SHA-256-128 over data (|| the ESN high word, RFC 4303 3.3.2.1).
Bytes icv_hmac(const uint8_t *key, const uint8_t *data, size_t len, std::optional<uint32_t> hi) {
    Bytes msg(data, data + len);
    if (hi) {
        msg.resize(len + 4);
        put32(&msg[len], *hi);
    }
    uint8_t md[32];
    unsigned mdlen = 0;
    HMAC(EVP_sha256(), key, 32, msg.data(), msg.size(), md, &mdlen);
    return Bytes(md, md + 16);
}

struct Outer {
    int family = 4;
    const uint8_t *src = v4_b, *dst = v4_a; // towards the gateway
    bool udp = false;
    uint16_t sport = 4500, dport = 4500;
};

// The ESP packet the peer would send: outer header (+UDP), SPI, SEQ, IV, ciphertext of
// inner || padding || pad length || next header, ICV.
Bytes seal(Cipher cipher, const Keys &k, uint32_t spi, uint64_t seq, bool esn, const Outer &o,
           const Bytes &inner, uint8_t nh) {
    const bool g = cipher == Cipher::aes256_gcm16;
    const size_t align = g ? 4 : 16, ivlen = g ? 8 : 16;
    size_t clen = (inner.size() + 2 + align - 1) / align * align;
    Bytes plain(inner);
    const size_t pad = clen - inner.size() - 2;
    for (size_t i = 0; i < pad; i++)
        plain.push_back(uint8_t(i + 1));
    plain.push_back(uint8_t(pad));
    plain.push_back(nh);
    Bytes esp(8 + ivlen + clen + 16);
    put32(&esp[0], spi);
    put32(&esp[4], uint32_t(seq));
    for (size_t i = 0; i < ivlen; i++)
        esp[8 + i] = uint8_t(0xa0 + i + seq);
    if (g) {
        uint8_t nonce[12];
        std::memcpy(nonce, k.enc + 32, 4);
        std::memcpy(nonce + 4, &esp[8], 8);
        Bytes aad(esp.begin(), esp.begin() + 8);
        if (esn) {
            aad.resize(12);
            put32(&aad[4], uint32_t(seq >> 32));
            put32(&aad[8], uint32_t(seq));
        }
        EXPECT_TRUE(gcm(true, k.enc, nonce, aad, plain.data(), clen, &esp[16], &esp[16 + clen]));
    } else {
        EXPECT_TRUE(cbc(true, k.enc, &esp[8], plain.data(), clen, &esp[24]));
        Bytes icv = icv_hmac(k.integ, esp.data(), 24 + clen,
                             esn ? std::optional<uint32_t>(uint32_t(seq >> 32)) : std::nullopt);
        std::memcpy(&esp[24 + clen], icv.data(), 16);
    }
    const size_t ulen = o.udp ? 8 : 0;
    Bytes pkt(o.family == 4 ? 20 : 40);
    if (o.family == 4) {
        pkt[0] = 0x45;
        put16(&pkt[2], uint32_t(20 + ulen + esp.size()));
        pkt[8] = 64;
        pkt[9] = o.udp ? 17 : 50;
        std::memcpy(&pkt[12], o.src, 4);
        std::memcpy(&pkt[16], o.dst, 4);
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(pkt.data());
        ip->hdr_checksum = rte_ipv4_cksum(ip);
    } else {
        pkt[0] = 0x60;
        put16(&pkt[4], uint32_t(ulen + esp.size()));
        pkt[6] = o.udp ? 17 : 50;
        pkt[7] = 64;
        std::memcpy(&pkt[8], o.src, 16);
        std::memcpy(&pkt[24], o.dst, 16);
    }
    if (o.udp) {
        uint8_t u[8] = {};
        put16(u, o.sport);
        put16(u + 2, o.dport);
        put16(u + 4, uint32_t(8 + esp.size()));
        pkt.insert(pkt.end(), u, u + 8);
    }
    pkt.insert(pkt.end(), esp.begin(), esp.end());
    return pkt;
}

// What the test reads out of an engine's ESP packet.
struct Opened {
    bool ok = false;
    uint32_t spi = 0, seq = 0;
    size_t esp_offset = 0;
    Bytes inner;
    uint8_t nh = 0;
    bool pad_ok = false;
};

// Opens an ESP packet with OpenSSL; full_seq supplies the ESN high word for the ICV/AAD.
Opened open_esp(Cipher cipher, const Keys &k, const Bytes &pkt, size_t esp_offset, bool esn,
                uint64_t full_seq) {
    Opened r;
    const bool g = cipher == Cipher::aes256_gcm16;
    const size_t ivlen = g ? 8 : 16;
    if (pkt.size() < esp_offset + 8 + ivlen + 16 + 4)
        return r;
    const uint8_t *esp = &pkt[esp_offset];
    const size_t clen = pkt.size() - esp_offset - 8 - ivlen - 16;
    r.spi = get32(esp);
    r.seq = get32(esp + 4);
    r.esp_offset = esp_offset;
    Bytes plain(clen);
    if (g) {
        uint8_t nonce[12];
        std::memcpy(nonce, k.enc + 32, 4);
        std::memcpy(nonce + 4, esp + 8, 8);
        Bytes aad(esp, esp + 8);
        if (esn) {
            aad.resize(12);
            put32(&aad[4], uint32_t(full_seq >> 32));
            put32(&aad[8], uint32_t(full_seq));
        }
        uint8_t tag[16];
        std::memcpy(tag, esp + 16 + clen, 16);
        if (!gcm(false, k.enc, nonce, aad, esp + 16, clen, plain.data(), tag))
            return r;
    } else {
        Bytes icv =
            icv_hmac(k.integ, esp, 24 + clen,
                     esn ? std::optional<uint32_t>(uint32_t(full_seq >> 32)) : std::nullopt);
        if (std::memcmp(icv.data(), esp + 24 + clen, 16) != 0 || clen % 16 != 0)
            return r;
        if (!cbc(false, k.enc, esp + 8, esp + 24, clen, plain.data()))
            return r;
    }
    const uint8_t pad = plain[clen - 2];
    r.nh = plain[clen - 1];
    if (size_t(pad) + 2 > clen)
        return r;
    r.pad_ok = true;
    for (size_t i = 0; i < pad; i++)
        r.pad_ok = r.pad_ok && plain[clen - 2 - pad + i] == uint8_t(i + 1);
    r.inner.assign(plain.begin(), plain.begin() + long(clen - 2 - pad));
    r.ok = true;
    return r;
}

rte_mbuf *mbuf_of(const Bytes &b) {
    rte_mbuf *m = rte_pktmbuf_alloc(g_pool);
    EXPECT_NE(m, nullptr);
    auto *d = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, uint16_t(b.size())));
    EXPECT_NE(d, nullptr);
    std::memcpy(d, b.data(), b.size());
    return m;
}

Bytes bytes_of(const rte_mbuf *m) {
    Bytes b(m->pkt_len);
    const void *p = rte_pktmbuf_read(m, 0, m->pkt_len, b.data());
    if (p != b.data())
        std::memcpy(b.data(), p, m->pkt_len);
    return b;
}

// Runs packets through the engine; returns what came out (and frees the mbufs).
std::vector<Bytes> run(Engine &e, int index, const std::vector<Bytes> &in, unsigned qp = 0,
                       uint64_t now = 1000) {
    std::vector<rte_mbuf *> m;
    for (const Bytes &b : in)
        m.push_back(mbuf_of(b));
    const unsigned k = e.process(qp, index, m.data(), unsigned(m.size()), now);
    std::vector<Bytes> out;
    for (unsigned i = 0; i < k; i++) {
        out.push_back(bytes_of(m[i]));
        rte_pktmbuf_free(m[i]);
    }
    return out;
}

class Esp : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (g_pool == nullptr)
            g_pool = rte_pktmbuf_pool_create("esp_test", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                             SOCKET_ID_ANY);
        ASSERT_NE(g_pool, nullptr);
        if (!g_engine) {
            std::string error;
            g_engine = Engine::create(2, 64, error);
            ASSERT_TRUE(g_engine) << error;
        }
    }
    // Before main's rte_eal_cleanup().
    static void TearDownTestSuite() { g_engine.reset(); }
    void SetUp() override { _in_use = rte_mempool_in_use_count(g_pool); }
    void TearDown() override {
        for (int i : _sas)
            g_engine->remove(i);
        EXPECT_EQ(rte_mempool_in_use_count(g_pool), _in_use) << "mbufs leaked";
    }
    int add(const SaConfig &c) {
        std::string error;
        int i = g_engine->add(c, error);
        EXPECT_GE(i, 0) << error;
        if (i >= 0)
            _sas.push_back(i);
        return i;
    }
    Engine &e() { return *g_engine; }

private:
    unsigned _in_use = 0;
    std::vector<int> _sas;
};

const uint8_t *outer_src(const Bytes &p) {
    return (p[0] >> 4) == 4 ? &p[12] : &p[8];
}
const uint8_t *outer_dst(const Bytes &p) {
    return (p[0] >> 4) == 4 ? &p[16] : &p[24];
}

} // namespace

TEST_F(Esp, DriverIsAesniMb) {
    EXPECT_STREQ(e().driver(), "crypto_aesni_mb");
}

// The engine's packets, opened with OpenSSL: outer header, SPI, sequence 1, 2, ..., the
// inner packet byte for byte, padding 1, 2, 3, ... and the next header by inner family.
void check_outbound(Esp *, Engine &e, int sa, Cipher cipher, const Keys &k, int family) {
    std::vector<Bytes> inner;
    for (int i = 0; i < 5; i++)
        inner.push_back(inner_packet(i == 3 ? 6 : 4, size_t(60 + 37 * i), uint8_t(i)));
    auto out = run(e, sa, inner);
    ASSERT_EQ(out.size(), inner.size());
    for (size_t i = 0; i < out.size(); i++) {
        const Bytes &p = out[i];
        const size_t hl = family == 4 ? 20 : 40;
        ASSERT_GT(p.size(), hl);
        EXPECT_EQ(p[0] >> 4, family);
        if (family == 4) {
            EXPECT_EQ(p[9], 50);
            EXPECT_EQ(get16(&p[2]), p.size());
            EXPECT_EQ(rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr *>(p.data())), 0)
                << "the outer checksum verifies";
            EXPECT_EQ(0, std::memcmp(outer_src(p), v4_a, 4));
            EXPECT_EQ(0, std::memcmp(outer_dst(p), v4_b, 4));
        } else {
            EXPECT_EQ(p[6], 50);
            EXPECT_EQ(get16(&p[4]) + 40u, p.size());
            EXPECT_EQ(0, std::memcmp(outer_src(p), v6_a, 16));
            EXPECT_EQ(0, std::memcmp(outer_dst(p), v6_b, 16));
        }
        Opened o = open_esp(cipher, k, p, hl, false, i + 1);
        ASSERT_TRUE(o.ok) << "packet " << i << " does not open";
        EXPECT_EQ(o.spi, 0x1001u);
        EXPECT_EQ(o.seq, i + 1);
        EXPECT_EQ(o.inner, inner[i]);
        EXPECT_TRUE(o.pad_ok);
        EXPECT_EQ(o.nh, (inner[i][0] >> 4) == 4 ? 4 : 41);
    }
    SaCounters c = e.counters(sa);
    EXPECT_EQ(c.packets, inner.size());
    size_t bytes = 0;
    for (const Bytes &b : inner)
        bytes += b.size();
    EXPECT_EQ(c.bytes, bytes);
    EXPECT_EQ(c.last_used_ms, 1000u);
}

TEST_F(Esp, OutboundGcmIpv4) {
    Keys k = keys(1);
    int sa = add(sa_config(false, Cipher::aes256_gcm16, 0x1001, 4, k));
    check_outbound(this, e(), sa, Cipher::aes256_gcm16, k, 4);
}

TEST_F(Esp, OutboundGcmIpv6) {
    Keys k = keys(2);
    int sa = add(sa_config(false, Cipher::aes256_gcm16, 0x1001, 6, k));
    check_outbound(this, e(), sa, Cipher::aes256_gcm16, k, 6);
}

TEST_F(Esp, OutboundCbcHmac) {
    Keys k = keys(3);
    int sa = add(sa_config(false, Cipher::aes256_cbc_sha256, 0x1001, 4, k));
    check_outbound(this, e(), sa, Cipher::aes256_cbc_sha256, k, 4);
}

TEST_F(Esp, OutboundCbcHmacIpv6) {
    Keys k = keys(4);
    int sa = add(sa_config(false, Cipher::aes256_cbc_sha256, 0x1001, 6, k));
    check_outbound(this, e(), sa, Cipher::aes256_cbc_sha256, k, 6);
}

// Packets sealed by OpenSSL come out of the engine as the inner packets.
void check_inbound(Esp *, Engine &e, int sa, Cipher cipher, const Keys &k, int family) {
    Outer o;
    o.family = family;
    o.src = family == 4 ? v4_b : v6_b;
    o.dst = family == 4 ? v4_a : v6_a;
    std::vector<Bytes> inner, in;
    for (int i = 0; i < 4; i++) {
        inner.push_back(inner_packet(i % 2 ? 6 : 4, size_t(80 + 51 * i), uint8_t(9 + i)));
        in.push_back(
            seal(cipher, k, 0x2002, uint64_t(i + 1), false, o, inner.back(), i % 2 ? 41 : 4));
    }
    auto out = run(e, sa, in);
    ASSERT_EQ(out.size(), inner.size());
    for (size_t i = 0; i < out.size(); i++)
        EXPECT_EQ(out[i], inner[i]) << "packet " << i;
    SaCounters c = e.counters(sa);
    EXPECT_EQ(c.packets, 4u);
    EXPECT_EQ(c.auth_failures + c.replay_drops + c.other_drops, 0u);
}

TEST_F(Esp, InboundGcm) {
    Keys k = keys(5);
    int sa = add(sa_config(true, Cipher::aes256_gcm16, 0x2002, 4, k));
    check_inbound(this, e(), sa, Cipher::aes256_gcm16, k, 4);
}

TEST_F(Esp, InboundGcmIpv6) {
    Keys k = keys(6);
    int sa = add(sa_config(true, Cipher::aes256_gcm16, 0x2002, 6, k));
    check_inbound(this, e(), sa, Cipher::aes256_gcm16, k, 6);
}

TEST_F(Esp, InboundCbcHmac) {
    Keys k = keys(7);
    int sa = add(sa_config(true, Cipher::aes256_cbc_sha256, 0x2002, 4, k));
    check_inbound(this, e(), sa, Cipher::aes256_cbc_sha256, k, 4);
}

TEST_F(Esp, InboundTrimsEthernetPaddingAndTfcPadding) {
    Keys k = keys(8);
    int sa = add(sa_config(true, Cipher::aes256_gcm16, 0x2002, 4, k));
    Bytes inner = inner_packet(4, 40, 1);
    Bytes tfc = inner;
    tfc.resize(64, 0); // RFC 4303 2.7: TFC padding after the inner packet
    Bytes pkt = seal(Cipher::aes256_gcm16, k, 0x2002, 1, false, Outer{}, tfc, 4);
    pkt.resize(pkt.size() + 6, 0xee); // bytes past the outer IP length
    auto out = run(e(), sa, {pkt});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], inner);
}

TEST_F(Esp, ReplayWindow) {
    Keys k = keys(9);
    SaConfig c = sa_config(true, Cipher::aes256_gcm16, 0x2002, 4, k);
    c.replay_window = 64;
    int sa = add(c);
    Bytes inner = inner_packet(4, 100, 3);
    auto pkt = [&](uint64_t seq) {
        return seal(Cipher::aes256_gcm16, k, 0x2002, seq, false, Outer{}, inner, 4);
    };
    EXPECT_EQ(run(e(), sa, {pkt(1)}).size(), 1u);
    EXPECT_EQ(run(e(), sa, {pkt(1)}).size(), 0u) << "the same packet again";
    EXPECT_EQ(e().counters(sa).replay_drops, 1u);
    EXPECT_EQ(run(e(), sa, {pkt(200)}).size(), 1u);
    EXPECT_EQ(run(e(), sa, {pkt(100)}).size(), 0u) << "outside the window (200 - 64)";
    EXPECT_EQ(e().counters(sa).replay_drops, 2u);
    EXPECT_EQ(run(e(), sa, {pkt(150), pkt(190), pkt(199)}).size(), 3u) << "late, in the window";
    // A repeat inside one burst: the first is carried, the second is not.
    auto out = run(e(), sa, {pkt(201), pkt(201)});
    EXPECT_EQ(out.size(), 1u);
    SaCounters s = e().counters(sa);
    EXPECT_EQ(s.replay_drops, 3u);
    EXPECT_EQ(s.packets, 6u);
    EXPECT_EQ(s.auth_failures, 0u);
}

TEST_F(Esp, NoWindowAcceptsRepeats) {
    Keys k = keys(10);
    int sa = add(sa_config(true, Cipher::aes256_gcm16, 0x2002, 4, k));
    Bytes pkt = seal(Cipher::aes256_gcm16, k, 0x2002, 5, false, Outer{}, inner_packet(4, 50, 1), 4);
    EXPECT_EQ(run(e(), sa, {pkt, pkt}).size(), 2u);
    EXPECT_EQ(e().counters(sa).replay_drops, 0u);
}

TEST_F(Esp, WrongIcvIsAnAuthFailure) {
    for (Cipher cipher : {Cipher::aes256_gcm16, Cipher::aes256_cbc_sha256}) {
        Keys k = keys(11);
        SaConfig c = sa_config(true, cipher, 0x2002, 4, k);
        c.replay_window = 32;
        int sa = add(c);
        Bytes good = inner_packet(4, 90, 2);
        Bytes pkt = seal(cipher, k, 0x2002, 1, false, Outer{}, good, 4);
        pkt[pkt.size() - 3] ^= 0x10; // one bit of the ICV
        EXPECT_EQ(run(e(), sa, {pkt}).size(), 0u);
        SaCounters s = e().counters(sa);
        EXPECT_EQ(s.auth_failures, 1u);
        EXPECT_EQ(s.packets, 0u);
        EXPECT_EQ(s.replay_drops, 0u);
        // The forged packet did not move the window: the real one still passes.
        pkt[pkt.size() - 3] ^= 0x10;
        EXPECT_EQ(run(e(), sa, {pkt}).size(), 1u);
        // One bit of the ciphertext: the ICV catches it too.
        Bytes pkt2 = seal(cipher, k, 0x2002, 2, false, Outer{}, good, 4);
        pkt2[40] ^= 1;
        EXPECT_EQ(run(e(), sa, {pkt2}).size(), 0u);
        EXPECT_EQ(e().counters(sa).auth_failures, 2u);
    }
}

TEST_F(Esp, WrongSpiOrMalformedIsOther) {
    Keys k = keys(12);
    int sa = add(sa_config(true, Cipher::aes256_gcm16, 0x2002, 4, k));
    Bytes inner = inner_packet(4, 64, 1);
    Bytes wrong_spi = seal(Cipher::aes256_gcm16, k, 0x2003, 1, false, Outer{}, inner, 4);
    Bytes short_pkt = seal(Cipher::aes256_gcm16, k, 0x2002, 2, false, Outer{}, inner, 4);
    short_pkt.resize(20 + 8 + 8 + 3);
    put16(&short_pkt[2], uint32_t(short_pkt.size()));
    Bytes bad_nh = seal(Cipher::aes256_gcm16, k, 0x2002, 3, false, Outer{}, inner, 59);
    Bytes in_udp = seal(Cipher::aes256_gcm16, k, 0x2002, 4, false, Outer{4, v4_b, v4_a, true},
                        inner, 4); // this SA is not NAT-T
    EXPECT_EQ(run(e(), sa, {wrong_spi, short_pkt, bad_nh, in_udp}).size(), 0u);
    SaCounters s = e().counters(sa);
    EXPECT_EQ(s.other_drops, 4u);
    EXPECT_EQ(s.auth_failures, 0u);
}

// ESN (RFC 4303 2.2.1): across 2^32 the wire carries the low 32 bits; the high bits are in
// the ICV (HMAC) or the AAD (GCM, RFC 4106 5), and the receiving engine follows.
TEST_F(Esp, EsnAcrossTwoToThe32) {
    for (Cipher cipher : {Cipher::aes256_gcm16, Cipher::aes256_cbc_sha256}) {
        Keys k = keys(13);
        SaConfig oc = sa_config(false, cipher, 0x3003, 4, k);
        oc.esn = true;
        oc.first_seq = 0xfffffffeull;
        int out_sa = add(oc);
        SaConfig ic = sa_config(true, cipher, 0x3003, 4, k);
        ic.esn = true;
        ic.replay_window = 64;
        int in_sa = add(ic);
        std::vector<Bytes> inner;
        for (int i = 0; i < 4; i++)
            inner.push_back(inner_packet(4, 100, uint8_t(i)));
        auto out = run(e(), out_sa, inner);
        ASSERT_EQ(out.size(), 4u);
        const uint64_t want[4] = {0xfffffffeull, 0xffffffffull, 0x100000000ull, 0x100000001ull};
        for (int i = 0; i < 4; i++) {
            Opened o = open_esp(cipher, k, out[i], 20, true, want[i]);
            ASSERT_TRUE(o.ok) << "packet " << i;
            EXPECT_EQ(o.seq, uint32_t(want[i]));
            EXPECT_EQ(o.inner, inner[i]);
            // Without the high word the ICV must not verify past 2^32.
            if (want[i] >> 32) {
                EXPECT_FALSE(open_esp(cipher, k, out[i], 20, true, uint32_t(want[i])).ok);
            }
        }
        // Inbound: the first packet moves the window to 2^32 - 2, the rest cross. (rte_ipsec
        // guesses the high bits from the window as it was before the burst.)
        auto back = run(e(), in_sa, {out[0]});
        auto rest = run(e(), in_sa, {out[1], out[2], out[3]});
        back.insert(back.end(), rest.begin(), rest.end());
        ASSERT_EQ(back.size(), 4u);
        for (int i = 0; i < 4; i++)
            EXPECT_EQ(back[i], inner[i]);
        EXPECT_EQ(e().counters(in_sa).auth_failures, 0u);
    }
}

TEST_F(Esp, SqnExhaustedWithoutEsn) {
    Keys k = keys(14);
    SaConfig c = sa_config(false, Cipher::aes256_gcm16, 0x3004, 4, k);
    c.first_seq = 0xfffffffeull;
    int sa = add(c);
    std::vector<Bytes> in(4, inner_packet(4, 60, 1));
    auto out = run(e(), sa, in);
    // RFC 4303 3.3.3: no cycling. rte_ipsec stops one short of 2^32 - 1.
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(open_esp(Cipher::aes256_gcm16, k, out[0], 20, false, 0).seq, 0xfffffffeu);
    EXPECT_EQ(e().counters(sa).other_drops, 3u);
    EXPECT_EQ(run(e(), sa, {in[0]}).size(), 0u);
}

// NAT-T (RFC 3948): UDP 4500 with checksum 0 around the ESP packet; the inbound SA takes
// it, and esp_spi tells it apart from IKE.
TEST_F(Esp, NatTraversal) {
    for (int family : {4, 6}) {
        Keys k = keys(15);
        SaConfig oc = sa_config(false, Cipher::aes256_gcm16, 0x4004, family, k);
        oc.encap = true;
        oc.encap_sport = 4500;
        oc.encap_dport = 4500;
        int out_sa = add(oc);
        SaConfig ic = oc;
        ic.inbound = true;
        int in_sa = add(ic);
        Bytes inner = inner_packet(4, 120, 7);
        auto out = run(e(), out_sa, {inner});
        ASSERT_EQ(out.size(), 1u);
        const Bytes &p = out[0];
        const size_t hl = family == 4 ? 20 : 40;
        EXPECT_EQ(p[family == 4 ? 9 : 6], 17);
        EXPECT_EQ(get16(&p[hl]), 4500);
        EXPECT_EQ(get16(&p[hl + 2]), 4500);
        EXPECT_EQ(get16(&p[hl + 4]), p.size() - hl) << "UDP length";
        EXPECT_EQ(get16(&p[hl + 6]), 0) << "UDP checksum 0 (RFC 3948 2.1)";
        if (family == 4) {
            EXPECT_EQ(rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr *>(p.data())), 0);
        }
        Opened o = open_esp(Cipher::aes256_gcm16, k, p, hl + 8, false, 1);
        ASSERT_TRUE(o.ok);
        EXPECT_EQ(o.inner, inner);
        uint32_t spi = 0;
        bool udp = false;
        EXPECT_TRUE(esp_spi(p.data(), uint32_t(p.size()), spi, udp));
        EXPECT_EQ(spi, 0x4004u);
        EXPECT_TRUE(udp);
        auto back = run(e(), in_sa, out);
        ASSERT_EQ(back.size(), 1u);
        EXPECT_EQ(back[0], inner);
    }
}

TEST_F(Esp, HardPacketLimit) {
    Keys k = keys(16);
    SaConfig c = sa_config(false, Cipher::aes256_gcm16, 0x5005, 4, k);
    c.hard_packets = 3;
    int sa = add(c);
    std::vector<Bytes> in(5, inner_packet(4, 60, 1));
    EXPECT_EQ(run(e(), sa, in).size(), 3u);
    EXPECT_EQ(run(e(), sa, {in[0]}).size(), 0u);
    SaCounters s = e().counters(sa);
    EXPECT_EQ(s.packets, 3u);
    EXPECT_EQ(s.hard_limit_drops, 3u);
}

TEST_F(Esp, HardPacketLimitCountsOnlyCarried) {
    // Inbound forgeries must not use up the SA's packets.
    Keys k = keys(17);
    SaConfig c = sa_config(true, Cipher::aes256_gcm16, 0x5006, 4, k);
    c.hard_packets = 2;
    int sa = add(c);
    Bytes inner = inner_packet(4, 60, 1);
    Bytes bad = seal(Cipher::aes256_gcm16, k, 0x5006, 1, false, Outer{}, inner, 4);
    bad.back() ^= 1;
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(run(e(), sa, {bad}).size(), 0u);
    EXPECT_EQ(e().counters(sa).auth_failures, 3u);
    EXPECT_EQ(e().counters(sa).hard_limit_drops, 0u);
    std::vector<Bytes> good;
    for (int i = 0; i < 3; i++)
        good.push_back(
            seal(Cipher::aes256_gcm16, k, 0x5006, uint64_t(i + 2), false, Outer{}, inner, 4));
    EXPECT_EQ(run(e(), sa, good).size(), 2u);
    EXPECT_EQ(e().counters(sa).hard_limit_drops, 1u);
}

TEST_F(Esp, HardByteLimit) {
    Keys k = keys(18);
    SaConfig c = sa_config(false, Cipher::aes256_gcm16, 0x5007, 4, k);
    c.hard_bytes = 150;
    int sa = add(c);
    Bytes p = inner_packet(4, 100, 1);
    EXPECT_EQ(run(e(), sa, {p}).size(), 1u); // 100
    EXPECT_EQ(run(e(), sa, {p}).size(), 1u); // 200: crosses the limit, carried
    EXPECT_EQ(run(e(), sa, {p}).size(), 0u); // past it: nothing more
    EXPECT_EQ(run(e(), sa, {p}).size(), 0u);
    SaCounters s = e().counters(sa);
    EXPECT_EQ(s.bytes, 200u);
    EXPECT_EQ(s.hard_limit_drops, 2u);
}

// Engine to engine, both ciphers, both outer families, both inner families, on two
// queue pairs.
TEST_F(Esp, RoundTrip) {
    for (Cipher cipher : {Cipher::aes256_gcm16, Cipher::aes256_cbc_sha256})
        for (int family : {4, 6}) {
            Keys k = keys(uint8_t(20 + family));
            SaConfig oc = sa_config(false, cipher, 0x6006, family, k);
            int out_sa = add(oc);
            SaConfig ic = sa_config(true, cipher, 0x6006, family, k);
            ic.replay_window = 128;
            int in_sa = add(ic);
            std::vector<Bytes> inner;
            for (int i = 0; i < 70; i++) // more than one burst
                inner.push_back(
                    inner_packet(i % 3 ? 4 : 6, size_t(48 + (i * 97) % 1400), uint8_t(i)));
            auto esp = run(e(), out_sa, inner, 1);
            ASSERT_EQ(esp.size(), inner.size());
            auto back = run(e(), in_sa, esp, 0);
            ASSERT_EQ(back.size(), inner.size());
            for (size_t i = 0; i < inner.size(); i++)
                EXPECT_EQ(back[i], inner[i]) << "packet " << i;
            EXPECT_EQ(e().counters(out_sa).packets, 70u);
            EXPECT_EQ(e().counters(in_sa).packets, 70u);
            g_engine->remove(out_sa); // and again in TearDown: a second remove does nothing
            g_engine->remove(in_sa);
        }
}

TEST_F(Esp, MalformedInnerPacketsDropped) {
    Keys k = keys(30);
    int sa = add(sa_config(false, Cipher::aes256_gcm16, 0x7007, 4, k));
    Bytes not_ip(60, 0x20);
    Bytes lying = inner_packet(4, 60, 1);
    put16(&lying[2], 200); // longer than the packet
    Bytes good = inner_packet(4, 60, 2);
    Bytes padded = good;
    padded.resize(80, 0); // trailing bytes past the IP length are not carried
    auto out = run(e(), sa, {not_ip, lying, good, padded});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(open_esp(Cipher::aes256_gcm16, k, out[0], 20, false, 1).inner, good);
    EXPECT_EQ(open_esp(Cipher::aes256_gcm16, k, out[1], 20, false, 2).inner, good);
    EXPECT_EQ(e().counters(sa).other_drops, 2u);
}

TEST_F(Esp, AddRefusals) {
    std::string error;
    EngineCounters before = e().engine_counters();
    SaConfig c = sa_config(false, Cipher::aes256_gcm16, 0x8008, 4, keys(1));
    c.enc_key_len = 32;
    EXPECT_EQ(e().add(c, error), -1);
    EXPECT_NE(error.find("36-byte"), std::string::npos) << error;
    SaConfig d = sa_config(false, Cipher::aes256_cbc_sha256, 0x8008, 4, keys(1));
    d.integ_key_len = 20;
    EXPECT_EQ(e().add(d, error), -1);
    SaConfig f = sa_config(false, Cipher::aes256_gcm16, 7, 4, keys(1));
    EXPECT_EQ(e().add(f, error), -1) << "SPI below 256";
    SaConfig w = sa_config(true, Cipher::aes256_gcm16, 0x8008, 4, keys(1));
    w.replay_window = 1u << 20;
    EXPECT_EQ(e().add(w, error), -1);
    EXPECT_EQ(e().engine_counters().sa_refused, before.sa_refused + 4);
}

TEST_F(Esp, TableFullAndBadIndex) {
    std::string error;
    auto small = Engine::create(1, 2, error);
    ASSERT_TRUE(small) << error;
    SaConfig c = sa_config(false, Cipher::aes256_gcm16, 0x9009, 4, keys(1));
    int a = small->add(c, error);
    int b = small->add(c, error);
    EXPECT_GE(a, 0);
    EXPECT_GE(b, 0);
    EXPECT_EQ(small->add(c, error), -1);
    EXPECT_NE(error.find("full"), std::string::npos) << error;
    EXPECT_EQ(small->engine_counters().sa_table_full, 1u);
    small->remove(a);
    EXPECT_EQ(small->add(c, error), a) << "the slot is free again";
    small->remove(b);
    // Packets for a removed SA are freed and counted.
    auto out = run(*small, b, {inner_packet(4, 60, 1), inner_packet(4, 60, 2)});
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(small->engine_counters().bad_index, 2u);
    EXPECT_EQ(small->counters(b).packets, 0u);
}

TEST(EspSpi, GoodAndMalformed) {
    Keys k = keys(1);
    Bytes inner = inner_packet(4, 40, 1);
    uint32_t spi = 0;
    bool udp = true;
    Bytes v4 = seal(Cipher::aes256_gcm16, k, 0xabcdef01, 1, false, Outer{}, inner, 4);
    EXPECT_TRUE(esp_spi(v4.data(), uint32_t(v4.size()), spi, udp));
    EXPECT_EQ(spi, 0xabcdef01u);
    EXPECT_FALSE(udp);
    Bytes v6 = seal(Cipher::aes256_gcm16, k, 0x1234, 1, false, Outer{6, v6_b, v6_a}, inner, 4);
    EXPECT_TRUE(esp_spi(v6.data(), uint32_t(v6.size()), spi, udp));
    EXPECT_EQ(spi, 0x1234u);
    Bytes natt =
        seal(Cipher::aes256_gcm16, k, 0x777, 1, false, Outer{4, v4_b, v4_a, true}, inner, 4);
    EXPECT_TRUE(esp_spi(natt.data(), uint32_t(natt.size()), spi, udp));
    EXPECT_EQ(spi, 0x777u);
    EXPECT_TRUE(udp);
    // IPv6 with a destination options header before ESP.
    Bytes v6x = v6;
    const uint8_t opts[8] = {50, 0, 1, 4, 0, 0, 0, 0}; // next ESP, 8 bytes, PadN
    v6x.insert(v6x.begin() + 40, opts, opts + 8);
    v6x[6] = 60;
    put16(&v6x[4], get16(&v6x[4]) + 8u);
    EXPECT_TRUE(esp_spi(v6x.data(), uint32_t(v6x.size()), spi, udp));
    EXPECT_EQ(spi, 0x1234u);

    // IKE on 4500: the non-ESP marker (a zero first word).
    Bytes ike = natt;
    std::memset(&ike[28], 0, 4);
    EXPECT_FALSE(esp_spi(ike.data(), uint32_t(ike.size()), spi, udp));
    // NAT keepalive: one byte 0xff.
    Bytes ka(natt.begin(), natt.begin() + 29);
    ka[28] = 0xff;
    put16(&ka[2], 29);
    put16(&ka[24], 9);
    EXPECT_FALSE(esp_spi(ka.data(), uint32_t(ka.size()), spi, udp));
    // UDP to another port, TCP, SPI 0, truncations, fragments, bad versions and lengths.
    Bytes other_port = natt;
    put16(&other_port[22], 4501);
    EXPECT_FALSE(esp_spi(other_port.data(), uint32_t(other_port.size()), spi, udp));
    Bytes tcp = v4;
    tcp[9] = 6;
    EXPECT_FALSE(esp_spi(tcp.data(), uint32_t(tcp.size()), spi, udp));
    Bytes zero = v4;
    std::memset(&zero[20], 0, 4);
    EXPECT_FALSE(esp_spi(zero.data(), uint32_t(zero.size()), spi, udp));
    for (uint32_t n : {0u, 1u, 19u, 20u, 27u})
        EXPECT_FALSE(esp_spi(v4.data(), n, spi, udp)) << n;
    Bytes frag = v4;
    frag[6] = 0x20; // MF
    EXPECT_FALSE(esp_spi(frag.data(), uint32_t(frag.size()), spi, udp));
    Bytes ver = v4;
    ver[0] = 0x55;
    EXPECT_FALSE(esp_spi(ver.data(), uint32_t(ver.size()), spi, udp));
    Bytes ihl = v4;
    ihl[0] = 0x44;
    EXPECT_FALSE(esp_spi(ihl.data(), uint32_t(ihl.size()), spi, udp));
    Bytes longer = v4;
    put16(&longer[2], uint32_t(v4.size() + 1));
    EXPECT_FALSE(esp_spi(longer.data(), uint32_t(longer.size()), spi, udp));
    EXPECT_FALSE(esp_spi(v6.data(), 39, spi, udp));
    Bytes loop = v6x; // an options header that claims to run past the packet
    loop[41] = 200;
    EXPECT_FALSE(esp_spi(loop.data(), uint32_t(loop.size()), spi, udp));
}

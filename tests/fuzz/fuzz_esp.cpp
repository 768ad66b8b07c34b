// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for the ESP engine's input side: esp_spi/parse_esp on arbitrary bytes
// (every read inside the buffer: ASan; what they accept is consistent), and
// Engine::process of the same bytes as an inbound packet on an SA of each cipher (EAL
// without hugepages, the crypto_aesni_mb device): whatever comes in, every mbuf is either
// handed back or freed (the pool's in-use count returns), and a packet handed back starts
// with an IP header whose length is the packet's. The first input byte picks the SA and
// whether the bytes are sealed first (so the fuzzer also reaches the decrypted paths).
#include "dataplane/esp.h"

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace qorgan::dp::esp;

namespace {

rte_mempool *g_pool = nullptr;
std::unique_ptr<Engine> g_engine;
int g_in[2] = {-1, -1};  // inbound SA per cipher (SPI 0x1000 + cipher)
int g_out[2] = {-1, -1}; // the matching outbound SA: seals fuzz bytes as an inner packet

void check(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_esp: %s\n", what);
        __builtin_trap();
    }
}

SaConfig config(bool inbound, Cipher cipher) {
    SaConfig c;
    c.spi = 0x1000 + unsigned(cipher);
    c.inbound = inbound;
    const uint8_t a[4] = {192, 0, 2, 1}, b[4] = {192, 0, 2, 2};
    std::memcpy(c.src, a, 4);
    std::memcpy(c.dst, b, 4);
    c.cipher = cipher;
    for (int i = 0; i < 36; i++)
        c.enc_key[i] = uint8_t(i);
    for (int i = 0; i < 32; i++)
        c.integ_key[i] = uint8_t(i + 50);
    c.enc_key_len = cipher == Cipher::aes256_gcm16 ? 36 : 32;
    c.integ_key_len = cipher == Cipher::aes256_gcm16 ? 0 : 32;
    c.replay_window = inbound ? 64 : 0;
    c.esn = cipher == Cipher::aes256_cbc_sha256;
    return c;
}

rte_mbuf *mbuf_of(const uint8_t *data, size_t size) {
    rte_mbuf *m = rte_pktmbuf_alloc(g_pool);
    check(m != nullptr, "mbuf pool exhausted");
    char *d = rte_pktmbuf_append(m, uint16_t(size));
    check(d != nullptr, "no room");
    std::memcpy(d, data, size);
    return m;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    const std::string prefix = "qorgan-fuzz-esp-" + std::to_string(getpid());
    const char *eal_argv[] = {
        "fuzz_esp",      "--no-huge",    "-m",          "256",     "--no-pci", "--no-shconf",
        "--file-prefix", prefix.c_str(), "--log-level", "*:error", "-l",       "0",
        "--no-telemetry"};
    int eal_argc = sizeof(eal_argv) / sizeof(eal_argv[0]);
    if (rte_eal_init(eal_argc, const_cast<char **>(eal_argv)) < 0) {
        std::fprintf(stderr, "fuzz_esp: rte_eal_init failed\n");
        std::abort();
    }
    std::atexit([] {
        g_engine.reset();
        std::error_code ec; // best effort
        std::filesystem::remove_all(rte_eal_get_runtime_dir(), ec);
    });
    g_pool =
        rte_pktmbuf_pool_create("fuzz_esp", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    std::string error;
    g_engine = Engine::create(1, 8, error);
    if (g_pool == nullptr || !g_engine) {
        std::fprintf(stderr, "fuzz_esp: setup failed: %s\n", error.c_str());
        std::abort();
    }
    for (Cipher c : {Cipher::aes256_gcm16, Cipher::aes256_cbc_sha256}) {
        g_in[unsigned(c)] = g_engine->add(config(true, c), error);
        g_out[unsigned(c)] = g_engine->add(config(false, c), error);
        check(g_in[unsigned(c)] >= 0 && g_out[unsigned(c)] >= 0, "add");
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The pure parser on an exactly sized copy: a one-byte overrun is an ASan report.
    {
        const std::vector<uint8_t> copy(data, data + size);
        uint32_t spi = 0;
        bool udp = false;
        EspPacket p;
        const bool ok = esp_spi(copy.data(), uint32_t(size), spi, udp);
        check(ok == parse_esp(copy.data(), uint32_t(size), p), "esp_spi and parse_esp disagree");
        if (ok) {
            check(spi != 0 && spi == p.spi && udp == p.udp_encap, "esp_spi fields");
            check(p.esp_offset + 8u <= p.ip_len && p.ip_len <= size, "esp offsets");
        }
    }
    if (size < 1 || size > 1600)
        return 0;
    const unsigned pick = data[0];
    const unsigned cipher = pick & 1;
    const unsigned before = rte_mempool_in_use_count(g_pool);
    rte_mbuf *m = mbuf_of(data + 1, size - 1);
    if (pick & 2) { // seal the bytes first: an authentic packet with a fuzzed inner part
        if (g_engine->process(0, g_out[cipher], &m, 1, 1) != 1)
            m = nullptr;
    }
    if (m != nullptr) {
        const unsigned k = g_engine->process(0, g_in[cipher], &m, 1, 1);
        check(k <= 1, "more out than in");
        if (k == 1) {
            const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
            const unsigned v = ip[0] >> 4;
            check(v == 4 || v == 6, "not an IP packet out");
            const uint32_t l = v == 4 ? uint32_t(ip[2] << 8 | ip[3]) : 40u + (ip[4] << 8 | ip[5]);
            check(l == m->pkt_len, "inner length");
            rte_pktmbuf_free(m);
        }
    }
    check(rte_mempool_in_use_count(g_pool) == before, "mbuf leaked");
    return 0;
}

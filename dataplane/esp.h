// SPDX-License-Identifier: GPL-2.0-or-later
// ESP tunnel mode (R128-h, docs/IPSEC.md): an Engine holds the SAs qorgan-ike installs and
// turns inner packets into ESP packets and back, through rte_ipsec on one cryptodev
// (crypto_aesni_mb, else crypto_openssl) in lookaside-none mode: rte_ipsec prepares the
// crypto ops, the worker's own queue pair runs them, rte_ipsec finishes the packets.
// Each worker owns one queue pair; SAs may be shared (outbound SQN and the inbound replay
// window are atomic inside rte_ipsec). Every drop is counted by reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

struct rte_crypto_op;
struct rte_mempool;
struct rte_mbuf;

namespace qorgan::dp::esp {

enum class Cipher : uint8_t {
    aes256_gcm16,      // AES-256-GCM, 16-byte ICV (RFC 4106)
    aes256_cbc_sha256, // AES-256-CBC (RFC 3602) + HMAC-SHA-256-128 (RFC 4868)
};

struct SaConfig {
    uint32_t spi = 0; // host order
    bool inbound = false;
    uint8_t family = 4;                 // outer header family, 4 or 6
    uint8_t src[16] = {}, dst[16] = {}; // outer addresses, network order (IPv4: first 4 bytes)
    Cipher cipher = Cipher::aes256_gcm16;
    uint8_t enc_key[36] = {}; // GCM: 32-byte key then 4-byte salt (36); CBC: 32
    uint8_t enc_key_len = 0;
    uint8_t integ_key[32] = {}; // CBC + HMAC: 32
    uint8_t integ_key_len = 0;
    bool esn = false;
    uint32_t replay_window = 0; // packets; 0: no anti-replay (inbound; with ESN at least 64)
    bool encap = false;         // NAT-T UDP encapsulation (RFC 3948)
    uint16_t encap_sport = 0, encap_dport = 0; // host order
    uint64_t hard_bytes = 0, hard_packets = 0; // 0: no limit; past it nothing more is carried
    // Outbound: the sequence number of the first packet (0 or 1: 1). For tests of the
    // 2^32 boundary; IKE always starts at 1.
    uint64_t first_seq = 0;
};

// Of one SA, summed over the queue pairs. bytes are inner IP bytes (as XFRM counts).
struct SaCounters {
    uint64_t packets = 0, bytes = 0;
    uint64_t replay_drops = 0;     // inbound: outside the window or seen before
    uint64_t auth_failures = 0;    // inbound: the ICV did not verify
    uint64_t hard_limit_drops = 0; // past hard_packets / hard_bytes
    uint64_t other_drops = 0;      // malformed, wrong SPI/encapsulation, SQN exhausted, device
    uint64_t last_used_ms = 0;     // now_ms of the last call that carried a packet; 0: never
};

// Engine-wide refusals and device trouble.
struct EngineCounters {
    uint64_t sa_table_full = 0;    // add() refused: max_sas SAs installed
    uint64_t sa_refused = 0;       // add() refused: bad configuration or the device said no
    uint64_t bad_index = 0;        // packets given to process() for an index with no SA
    uint64_t no_crypto_op = 0;     // packets dropped: the queue pair's ops were all in flight
    uint64_t enqueue_failures = 0; // packets the device did not accept
    uint64_t crypto_timeouts = 0;  // packets the device had not returned within the poll bound
};

// The outer headers of an ESP packet that starts at its outer IP header.
struct EspPacket {
    uint32_t spi = 0;        // host order
    uint16_t esp_offset = 0; // where the ESP header starts (after the UDP header for NAT-T)
    uint16_t ip_len = 0;     // the outer IP packet's length by its header (<= the buffer)
    bool udp_encap = false;
    uint8_t family = 4;
};

// Parses an outer IPv4/IPv6 header (IPv6: hop-by-hop, routing and destination options
// skipped) and the ESP header, directly (protocol 50) or in UDP to port 4500 (RFC 3948).
// False for anything else: fragments, truncation, SPI 0, and on UDP 4500 the non-ESP
// marker (a zero first word: IKE) and the one-byte NAT keepalive. Pure.
bool parse_esp(const uint8_t *l3, uint32_t len, EspPacket &out);

// The SPI of a packet starting at its outer IP header and whether it came in UDP; false
// if it is not a well-formed ESP packet (parse_esp).
bool esp_spi(const uint8_t *l3, uint32_t len, uint32_t &spi, bool &udp_encap);

class Engine {
public:
    // Most packets one crypto burst carries; process() takes any n, in bursts of this.
    static constexpr unsigned burst = 32;

    // Main lcore after rte_eal_init: creates the cryptodev (crypto_aesni_mb; if it cannot
    // be created, crypto_openssl), `queues` queue pairs (one per worker plus one for the
    // main lcore), session pools, room for max_sas SAs. nullptr + error text on failure.
    static std::unique_ptr<Engine> create(unsigned queues, unsigned max_sas, std::string &error);
    ~Engine();
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;

    const char *driver() const { return _driver; }
    unsigned queues() const { return _queues; }

    // Main lcore: installs an SA; its index, or -1 with the error (bad key length, table
    // full, ...: each refusal counted).
    int add(const SaConfig &c, std::string &error);
    // Main lcore; the caller guarantees no worker is inside process() for it (RCU). Frees
    // the session, wipes the keys, zeroes the SA's counters.
    void remove(int index);

    // Worker, on its own queue pair qp. Outbound: inner IP packets (data at the inner L3
    // header) become ESP tunnel packets whose data starts at the outer IP header (with the
    // UDP header when encap). Inbound: ESP packets starting at the outer IP header (in UDP
    // too) become inner packets starting at the inner IP header. Returns k: the good
    // packets are pkts[0..k) in their original order; every other packet is freed and
    // counted by reason. No allocation, logging or system call; completion is polled
    // with a bound.
    unsigned process(unsigned qp, int index, rte_mbuf **pkts, unsigned n, uint64_t now_ms);

    SaCounters counters(int index) const;
    EngineCounters engine_counters() const;

    struct Sa;
    struct QueuePair;
    struct Slot;

private:
    Engine() = default;
    unsigned outbound_burst(QueuePair &q, Sa &sa, Slot &c, rte_mbuf **in, unsigned n,
                            rte_mbuf **out);
    unsigned inbound_burst(QueuePair &q, Sa &sa, Slot &c, rte_mbuf **in, unsigned n,
                           rte_mbuf **out);
    unsigned prepare(QueuePair &q, Sa &sa, Slot &c, rte_mbuf **mb, unsigned k, uint32_t *side,
                     rte_crypto_op **&ops, unsigned &refused);
    unsigned run_crypto(QueuePair &q, Slot &c, rte_crypto_op **ops, rte_mbuf **mb, unsigned n,
                        uint32_t *side);
    void reap(QueuePair &q);
    Slot &slot(unsigned qp, unsigned index) const;

    const char *_driver = "";
    char _vdev_name[64] = {};
    int _dev_id = -1;
    bool _started = false;
    unsigned _queues = 0, _max_sas = 0;
    rte_mempool *_op_pool = nullptr, *_sess_pool = nullptr;
    Sa *_sas = nullptr;                           // [max_sas], rte_zmalloc
    QueuePair *_qps = nullptr;                    // [queues], rte_zmalloc
    Slot *_slots = nullptr;                       // [queues][max_sas], rte_zmalloc
    uint64_t _sa_table_full = 0, _sa_refused = 0; // main lcore only
};

} // namespace qorgan::dp::esp

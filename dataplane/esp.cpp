// SPDX-License-Identifier: GPL-2.0-or-later
#include "dataplane/esp.h"

#include <rte_bus_vdev.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_ipsec.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <string.h>

namespace qorgan::dp::esp {

namespace {

constexpr uint16_t natt_port = 4500;
constexpr uint32_t icv_len = 16; // both ciphers
constexpr uint32_t max_window = 65536;
constexpr unsigned ops_per_qp = 2 * Engine::burst; // a burst in flight plus room for stale ones
constexpr unsigned poll_bound = 1u << 20;          // dequeue polls before giving up on a burst
// The IV lives in the op's private area, right after the symmetric op.
constexpr uint16_t iv_offset = sizeof(rte_crypto_op) + sizeof(rte_crypto_sym_op);

void wipe(void *p, size_t n) {
    explicit_bzero(p, n);
}

uint16_t rd16(const uint8_t *p) {
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t rd32(const uint8_t *p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// One counter written by one queue pair's worker, read relaxed by the main lcore.
struct Cnt {
    std::atomic<uint64_t> v{0};
    void add(uint64_t n) {
        v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(uint64_t n) { v.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

// The byte at offset off of a (possibly chained) mbuf; nullptr past its end.
uint8_t *byte_at(rte_mbuf *m, uint32_t off) {
    for (; m != nullptr; m = m->next) {
        if (off < m->data_len)
            return rte_pktmbuf_mtod_offset(m, uint8_t *, off);
        off -= m->data_len;
    }
    return nullptr;
}

// Trims a packet to len bytes (the IP length by its header); false if that would cut
// into a segment other than the last.
bool trim_to(rte_mbuf *m, uint32_t len) {
    if (m->pkt_len == len)
        return true;
    if (m->pkt_len < len)
        return false;
    return rte_pktmbuf_trim(m, uint16_t(m->pkt_len - len)) == 0;
}

// After an rte_ipsec call that kept k of n packets (moving the rest behind them in order),
// brings the side values along: side[i] belongs to the packet that was at mb[i] before.
void realign(rte_mbuf *const *before, rte_mbuf **after, unsigned n, unsigned k, uint32_t *side) {
    if (k == n)
        return;
    uint32_t old[Engine::burst];
    std::memcpy(old, side, n * sizeof(uint32_t));
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++)
            if (after[i] == before[j]) {
                side[i] = old[j];
                break;
            }
}

// op->sym is a zero-length array GCC's bounds check will not index.
rte_crypto_sym_op *sym_of(rte_crypto_op *op) {
    return reinterpret_cast<rte_crypto_sym_op *>(reinterpret_cast<uint8_t *>(op) +
                                                 offsetof(rte_crypto_op, sym));
}

void free_range(rte_mbuf **mb, unsigned from, unsigned to) {
    for (unsigned i = from; i < to; i++)
        rte_pktmbuf_free(mb[i]);
}

} // namespace

// Per queue pair, per SA: written by that queue pair's worker only.
struct alignas(64) Engine::Slot {
    Cnt packets, bytes, replay, auth, hard, other, last_used;
};

struct alignas(64) Engine::QueuePair {
    rte_crypto_op *free_ops[ops_per_qp];
    unsigned n_free = 0;
    unsigned stale = 0; // ops left in the device by a burst that hit the poll bound
    Cnt bad_index, no_op, enqueue_failures, timeouts;
};

struct alignas(64) Engine::Sa {
    rte_ipsec_session ss; // cache aligned; crypto.ses and sa set when live
    bool live = false;
    bool inbound = false;
    bool encap = false;
    uint8_t family = 4;
    Cipher cipher = Cipher::aes256_gcm16;
    uint8_t proto = IPPROTO_IPIP; // the inner protocol rte_ipsec's SA was built for
    uint8_t hdr_len = 0;          // outer IP header (+ UDP) of the template
    uint8_t iv_len = 8;
    uint8_t pad_align = 4;
    uint32_t spi = 0;
    uint64_t hard_packets = 0, hard_bytes = 0;
    SaConfig config; // keys included: wiped at remove
    alignas(64) std::atomic<uint64_t> carried_packets{0};
    std::atomic<uint64_t> carried_bytes{0};
};

Engine::Slot &Engine::slot(unsigned qp, unsigned index) const {
    return _slots[size_t(qp) * _max_sas + index];
}

namespace {

// parse_esp on the first `avail` bytes of a packet of `len` bytes: every read stays
// within avail, every length is checked against len.
bool parse_headers(const uint8_t *l3, uint32_t avail, uint32_t len, EspPacket &out) {
    if (avail < 1 || avail > len)
        return false;
    uint32_t off = 0, ip_len = 0;
    uint8_t proto = 0;
    const unsigned version = l3[0] >> 4;
    if (version == 4) {
        if (avail < 20)
            return false;
        const uint32_t ihl = (l3[0] & 0x0f) * 4u;
        ip_len = rd16(l3 + 2);
        if (ihl < 20 || ihl > ip_len || ip_len > len)
            return false;
        if ((rd16(l3 + 6) & 0x3fff) != 0) // MF or an offset: reassemble first
            return false;
        proto = l3[9];
        off = ihl;
        out.family = 4;
    } else if (version == 6) {
        if (avail < 40)
            return false;
        ip_len = 40u + rd16(l3 + 4);
        if (ip_len > len || ip_len == 40) // a jumbogram's payload length is 0
            return false;
        proto = l3[6];
        off = 40;
        for (int ext = 0; ext < 8 && (proto == 0 || proto == 43 || proto == 60); ext++) {
            if (off + 8 > ip_len || off + 2 > avail)
                return false;
            const uint8_t next = l3[off];
            off += (l3[off + 1] + 1u) * 8u;
            proto = next;
        }
        if (off > ip_len)
            return false;
        out.family = 6;
    } else {
        return false;
    }
    bool udp = false;
    if (proto == 17) {
        if (off + 8 > ip_len || off + 8 > avail || rd16(l3 + off + 2) != natt_port)
            return false;
        const uint32_t ulen = rd16(l3 + off + 4);
        if (ulen < 8 || off + ulen > ip_len)
            return false;
        ip_len = off + ulen; // what follows the datagram is not ESP
        off += 8;
        udp = true;
    } else if (proto != 50) {
        return false;
    }
    // SPI and sequence number; on UDP 4500 a zero SPI is the non-ESP marker of IKE.
    if (off + 8 > ip_len || off + 8 > avail || off > 0x1ff)
        return false;
    const uint32_t spi = rd32(l3 + off);
    if (spi == 0)
        return false;
    out.spi = spi;
    out.esp_offset = uint16_t(off);
    out.ip_len = uint16_t(ip_len);
    out.udp_encap = udp;
    return true;
}

} // namespace

bool parse_esp(const uint8_t *l3, uint32_t len, EspPacket &out) {
    return parse_headers(l3, len, len, out);
}

bool esp_spi(const uint8_t *l3, uint32_t len, uint32_t &spi, bool &udp_encap) {
    EspPacket p;
    if (!parse_esp(l3, len, p))
        return false;
    spi = p.spi;
    udp_encap = p.udp_encap;
    return true;
}

std::unique_ptr<Engine> Engine::create(unsigned queues, unsigned max_sas, std::string &error) {
    static std::atomic<unsigned> serial{0};
    if (queues == 0 || queues > 64 || max_sas == 0 || max_sas > (1u << 20)) {
        error = "esp: queues must be 1..64 and max_sas 1..1048576";
        return nullptr;
    }
    std::unique_ptr<Engine> e(new Engine());
    e->_queues = queues;
    e->_max_sas = max_sas;
    const unsigned id = serial.fetch_add(1);
    const char *drivers[] = {"crypto_aesni_mb", "crypto_openssl"};
    std::string tried;
    for (const char *drv : drivers) {
        std::snprintf(e->_vdev_name, sizeof e->_vdev_name, "%s_qorgan%u", drv, id);
        char args[64];
        std::snprintf(args, sizeof args, "max_nb_queue_pairs=%u,socket_id=%d", queues,
                      rte_socket_id() == unsigned(SOCKET_ID_ANY) ? 0 : int(rte_socket_id()));
        if (rte_vdev_init(e->_vdev_name, args) == 0) {
            e->_dev_id = rte_cryptodev_get_dev_id(e->_vdev_name);
            if (e->_dev_id >= 0)
                break;
            rte_vdev_uninit(e->_vdev_name);
        }
        tried += std::string(tried.empty() ? "" : ", ") + drv;
        e->_vdev_name[0] = 0;
    }
    if (e->_dev_id < 0) {
        error = "esp: no crypto device could be created (tried " + tried + ")";
        return nullptr;
    }
    const uint8_t dev = uint8_t(e->_dev_id);
    rte_cryptodev_info info{};
    rte_cryptodev_info_get(dev, &info);
    e->_driver = info.driver_name;
    if (info.max_nb_queue_pairs < queues) {
        error = "esp: " + std::string(e->_driver) + " offers " +
                std::to_string(info.max_nb_queue_pairs) + " queue pairs, " +
                std::to_string(queues) + " wanted";
        return nullptr;
    }
    const int socket = rte_cryptodev_socket_id(dev) < 0 ? 0 : rte_cryptodev_socket_id(dev);
    const std::string tag = std::to_string(id);
    e->_sess_pool = rte_cryptodev_sym_session_pool_create(
        ("esp_sess" + tag).c_str(), max_sas + 1, rte_cryptodev_sym_get_private_session_size(dev), 0,
        0, socket);
    e->_op_pool = rte_crypto_op_pool_create(("esp_ops" + tag).c_str(), RTE_CRYPTO_OP_TYPE_SYMMETRIC,
                                            queues * ops_per_qp, 0, 16, socket);
    e->_sas = static_cast<Sa *>(rte_zmalloc_socket("esp_sas", sizeof(Sa) * max_sas, 64, socket));
    e->_qps = static_cast<QueuePair *>(
        rte_zmalloc_socket("esp_qps", sizeof(QueuePair) * queues, 64, socket));
    e->_slots = static_cast<Slot *>(
        rte_zmalloc_socket("esp_slots", sizeof(Slot) * size_t(queues) * max_sas, 64, socket));
    if (!e->_sess_pool || !e->_op_pool || !e->_sas || !e->_qps || !e->_slots) {
        error = "esp: out of memory for " + std::to_string(max_sas) + " SAs";
        return nullptr;
    }
    for (unsigned i = 0; i < max_sas; i++)
        new (&e->_sas[i]) Sa();
    for (unsigned i = 0; i < queues; i++) {
        new (&e->_qps[i]) QueuePair();
        QueuePair &q = e->_qps[i];
        if (rte_crypto_op_bulk_alloc(e->_op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, q.free_ops,
                                     ops_per_qp) != ops_per_qp) {
            error = "esp: crypto op pool exhausted";
            return nullptr;
        }
        q.n_free = ops_per_qp;
    }
    for (size_t i = 0; i < size_t(queues) * max_sas; i++)
        new (&e->_slots[i]) Slot();

    rte_cryptodev_config conf{};
    conf.socket_id = socket;
    conf.nb_queue_pairs = uint16_t(queues);
    conf.ff_disable = RTE_CRYPTODEV_FF_ASYMMETRIC_CRYPTO | RTE_CRYPTODEV_FF_SECURITY;
    if (rte_cryptodev_configure(dev, &conf) < 0) {
        error = "esp: cannot configure " + std::string(e->_driver);
        return nullptr;
    }
    rte_cryptodev_qp_conf qconf{};
    qconf.nb_descriptors = 4 * ops_per_qp;
    qconf.mp_session = e->_sess_pool;
    for (unsigned i = 0; i < queues; i++)
        if (rte_cryptodev_queue_pair_setup(dev, uint16_t(i), &qconf, socket) < 0) {
            error = "esp: cannot set up queue pair " + std::to_string(i) + " of " + e->_driver;
            return nullptr;
        }
    if (rte_cryptodev_start(dev) < 0) {
        error = "esp: cannot start " + std::string(e->_driver);
        return nullptr;
    }
    e->_started = true;
    return e;
}

Engine::~Engine() {
    if (_sas != nullptr) {
        for (unsigned i = 0; i < _max_sas; i++) {
            remove(int(i));
            _sas[i].~Sa();
        }
    }
    if (_qps != nullptr) {
        for (unsigned i = 0; i < _queues; i++) {
            QueuePair &q = _qps[i];
            if (_started) // what a timed-out burst left in the device
                for (unsigned spins = 0; q.stale > 0 && spins < poll_bound; spins++)
                    reap(q);
            for (unsigned j = 0; j < q.n_free; j++)
                rte_crypto_op_free(q.free_ops[j]);
            q.~QueuePair();
        }
    }
    if (_dev_id >= 0) {
        if (_started)
            rte_cryptodev_stop(uint8_t(_dev_id));
        rte_cryptodev_close(uint8_t(_dev_id));
    }
    if (_vdev_name[0] != 0)
        rte_vdev_uninit(_vdev_name);
    rte_mempool_free(_op_pool);
    rte_mempool_free(_sess_pool);
    rte_free(_slots);
    rte_free(_qps);
    rte_free(_sas);
}

int Engine::add(const SaConfig &c, std::string &error) {
    auto refuse = [&](const std::string &why) {
        _sa_refused++;
        error = "esp: SA " + std::to_string(c.spi) + ": " + why;
        return -1;
    };
    const bool gcm = c.cipher == Cipher::aes256_gcm16;
    if (c.spi < 256)
        return refuse("SPI below 256 (reserved, RFC 4303)");
    if (c.family != 4 && c.family != 6)
        return refuse("outer family must be 4 or 6");
    if (gcm && (c.enc_key_len != 36 || c.integ_key_len != 0))
        return refuse("AES-256-GCM wants a 36-byte key (32 and the 4-byte salt), no integrity key");
    if (!gcm && (c.enc_key_len != 32 || c.integ_key_len != 32))
        return refuse("AES-256-CBC + HMAC-SHA-256 wants 32-byte encryption and integrity keys");
    if (c.replay_window > max_window)
        return refuse("replay window above " + std::to_string(max_window));
    if (c.encap && (c.encap_sport == 0 || c.encap_dport == 0))
        return refuse("NAT-T encapsulation needs both ports");
    if (!c.esn && c.first_seq > UINT32_MAX)
        return refuse("first sequence number past 2^32 without ESN");
    unsigned index = 0;
    while (index < _max_sas && _sas[index].live)
        index++;
    if (index == _max_sas) {
        _sa_table_full++;
        error = "esp: SA table full (" + std::to_string(_max_sas) + " SAs)";
        return -1;
    }
    const uint8_t dev = uint8_t(_dev_id);

    // Crypto transforms: AEAD alone; cipher then auth outbound, auth then cipher inbound.
    rte_crypto_sym_xform aead{}, cipher{}, auth{};
    rte_crypto_sym_xform *first = nullptr;
    uint32_t salt = 0;
    if (gcm) {
        aead.type = RTE_CRYPTO_SYM_XFORM_AEAD;
        aead.aead.op = c.inbound ? RTE_CRYPTO_AEAD_OP_DECRYPT : RTE_CRYPTO_AEAD_OP_ENCRYPT;
        aead.aead.algo = RTE_CRYPTO_AEAD_AES_GCM;
        aead.aead.key.data = c.enc_key;
        aead.aead.key.length = 32;
        aead.aead.iv.offset = iv_offset;
        aead.aead.iv.length = 12;
        aead.aead.digest_length = icv_len;
        aead.aead.aad_length = c.esn ? 12 : 8; // SPI || SEQ (|| ESN high), RFC 4106 5
        std::memcpy(&salt, c.enc_key + 32, 4); // network order, as rte_ipsec expects
        first = &aead;
    } else {
        cipher.type = RTE_CRYPTO_SYM_XFORM_CIPHER;
        cipher.cipher.op = c.inbound ? RTE_CRYPTO_CIPHER_OP_DECRYPT : RTE_CRYPTO_CIPHER_OP_ENCRYPT;
        cipher.cipher.algo = RTE_CRYPTO_CIPHER_AES_CBC;
        cipher.cipher.key.data = c.enc_key;
        cipher.cipher.key.length = 32;
        cipher.cipher.iv.offset = iv_offset;
        cipher.cipher.iv.length = 16;
        auth.type = RTE_CRYPTO_SYM_XFORM_AUTH;
        auth.auth.op = c.inbound ? RTE_CRYPTO_AUTH_OP_VERIFY : RTE_CRYPTO_AUTH_OP_GENERATE;
        auth.auth.algo = RTE_CRYPTO_AUTH_SHA256_HMAC;
        auth.auth.key.data = c.integ_key;
        auth.auth.key.length = 32;
        auth.auth.digest_length = icv_len; // HMAC-SHA-256-128, RFC 4868
        if (c.inbound) {
            auth.next = &cipher;
            first = &auth;
        } else {
            cipher.next = &auth;
            first = &cipher;
        }
    }

    // The tunnel header template: outer IPv4/IPv6 and, for NAT-T, the UDP header (the
    // template carries it; rte_ipsec's own udp_encap option is not used, so both
    // directions handle it the same way here).
    uint8_t hdr[64] = {};
    uint8_t hlen = 0;
    const uint8_t next = c.encap ? 17 : 50;
    if (c.family == 4) {
        hdr[0] = 0x45;
        hdr[8] = 64;
        hdr[9] = next;
        std::memcpy(hdr + 12, c.src, 4);
        std::memcpy(hdr + 16, c.dst, 4);
        hlen = 20;
    } else {
        hdr[0] = 0x60;
        hdr[6] = next;
        hdr[7] = 64;
        std::memcpy(hdr + 8, c.src, 16);
        std::memcpy(hdr + 24, c.dst, 16);
        hlen = 40;
    }
    if (c.encap) {
        hdr[hlen] = uint8_t(c.encap_sport >> 8);
        hdr[hlen + 1] = uint8_t(c.encap_sport);
        hdr[hlen + 2] = uint8_t(c.encap_dport >> 8);
        hdr[hlen + 3] = uint8_t(c.encap_dport);
        hlen += 8;
    }

    rte_ipsec_sa_prm prm{};
    // Workers may share an SA: the outbound SQN and the inbound window are atomic. Not
    // inbound without a window: there is no window state, and rte_ipsec's atomic mode
    // would read it (NULL) all the same.
    if (!c.inbound || c.replay_window > 0 || c.esn)
        prm.flags = RTE_IPSEC_SAFLAG_SQN_ATOM;
    prm.ipsec_xform.spi = c.spi;
    prm.ipsec_xform.salt = salt;
    prm.ipsec_xform.options.esn = c.esn ? 1 : 0;
    prm.ipsec_xform.direction =
        c.inbound ? RTE_SECURITY_IPSEC_SA_DIR_INGRESS : RTE_SECURITY_IPSEC_SA_DIR_EGRESS;
    prm.ipsec_xform.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
    prm.ipsec_xform.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
    prm.ipsec_xform.tunnel.type =
        c.family == 4 ? RTE_SECURITY_IPSEC_TUNNEL_IPV4 : RTE_SECURITY_IPSEC_TUNNEL_IPV6;
    prm.ipsec_xform.replay_win_sz = c.inbound ? c.replay_window : 0;
    prm.ipsec_xform.esn.value = c.inbound ? 0 : c.first_seq;
    prm.crypto_xform = first;
    // rte_ipsec fixes the inner protocol per SA; the engine carries both families on one
    // SA by writing the real next header into the trailer itself (see the bursts).
    prm.tun.next_proto = IPPROTO_IPIP;
    prm.tun.hdr_len = hlen;
    prm.tun.hdr_l3_off = 0;
    prm.tun.hdr = hdr;

    const int size = rte_ipsec_sa_size(&prm);
    if (size < 0)
        return refuse("rte_ipsec refused the parameters");
    Sa &sa = _sas[index];
    auto *rsa = static_cast<rte_ipsec_sa *>(rte_zmalloc("esp_sa", size_t(size), 64));
    if (rsa == nullptr)
        return refuse("out of memory");
    if (rte_ipsec_sa_init(rsa, &prm, uint32_t(size)) < 0) {
        rte_free(rsa);
        return refuse("rte_ipsec_sa_init failed");
    }
    void *ses = rte_cryptodev_sym_session_create(dev, first, _sess_pool);
    if (ses == nullptr) {
        rte_ipsec_sa_fini(rsa);
        rte_free(rsa);
        return refuse(std::string(_driver) + " refused the session (" + rte_strerror(rte_errno) +
                      ")");
    }
    std::memset(&sa.ss, 0, sizeof sa.ss);
    sa.ss.sa = rsa;
    sa.ss.type = RTE_SECURITY_ACTION_TYPE_NONE;
    sa.ss.crypto.ses = static_cast<rte_cryptodev_sym_session *>(ses);
    sa.ss.crypto.dev_id = dev;
    if (rte_ipsec_session_prepare(&sa.ss) != 0) {
        rte_cryptodev_sym_session_free(dev, ses);
        rte_ipsec_sa_fini(rsa);
        rte_free(rsa);
        std::memset(&sa.ss, 0, sizeof sa.ss);
        return refuse("rte_ipsec_session_prepare failed");
    }
    sa.inbound = c.inbound;
    sa.encap = c.encap;
    sa.family = c.family;
    sa.cipher = c.cipher;
    sa.proto = IPPROTO_IPIP;
    sa.hdr_len = hlen;
    sa.iv_len = gcm ? 8 : 16;
    sa.pad_align = gcm ? 4 : 16;
    sa.spi = c.spi;
    sa.hard_packets = c.hard_packets;
    sa.hard_bytes = c.hard_bytes;
    sa.config = c;
    sa.carried_packets.store(0);
    sa.carried_bytes.store(0);
    for (unsigned q = 0; q < _queues; q++) {
        Slot &s = slot(q, index);
        for (Cnt *k : {&s.packets, &s.bytes, &s.replay, &s.auth, &s.hard, &s.other, &s.last_used})
            k->set(0);
    }
    sa.live = true;
    return int(index);
}

void Engine::remove(int index) {
    if (index < 0 || unsigned(index) >= _max_sas || !_sas[index].live)
        return;
    Sa &sa = _sas[index];
    sa.live = false;
    rte_cryptodev_sym_session_free(uint8_t(_dev_id), sa.ss.crypto.ses);
    rte_ipsec_sa_fini(sa.ss.sa);
    rte_free(sa.ss.sa);
    std::memset(&sa.ss, 0, sizeof sa.ss);
    wipe(&sa.config, sizeof sa.config);
    for (unsigned q = 0; q < _queues; q++) {
        Slot &s = slot(q, unsigned(index));
        for (Cnt *k : {&s.packets, &s.bytes, &s.replay, &s.auth, &s.hard, &s.other, &s.last_used})
            k->set(0);
    }
}

SaCounters Engine::counters(int index) const {
    SaCounters out;
    if (index < 0 || unsigned(index) >= _max_sas)
        return out;
    for (unsigned q = 0; q < _queues; q++) {
        const Slot &s = slot(q, unsigned(index));
        out.packets += s.packets.get();
        out.bytes += s.bytes.get();
        out.replay_drops += s.replay.get();
        out.auth_failures += s.auth.get();
        out.hard_limit_drops += s.hard.get();
        out.other_drops += s.other.get();
        out.last_used_ms = std::max(out.last_used_ms, s.last_used.get());
    }
    return out;
}

EngineCounters Engine::engine_counters() const {
    EngineCounters out;
    out.sa_table_full = _sa_table_full;
    out.sa_refused = _sa_refused;
    for (unsigned i = 0; i < _queues; i++) {
        out.bad_index += _qps[i].bad_index.get();
        out.no_crypto_op += _qps[i].no_op.get();
        out.enqueue_failures += _qps[i].enqueue_failures.get();
        out.crypto_timeouts += _qps[i].timeouts.get();
    }
    return out;
}

// Frees what a burst that hit the poll bound left in the device, as it comes back.
void Engine::reap(QueuePair &q) {
    rte_crypto_op *done[ops_per_qp];
    const uint16_t got = rte_cryptodev_dequeue_burst(uint8_t(_dev_id), uint16_t(&q - _qps), done,
                                                     uint16_t(std::min(q.stale, ops_per_qp)));
    for (uint16_t i = 0; i < got; i++) {
        rte_pktmbuf_free(sym_of(done[i])->m_src);
        q.free_ops[q.n_free++] = done[i];
    }
    q.stale -= got;
}

// Gives mb[0..k) crypto ops from the queue pair's free stack (what finds none is freed and
// counted) and lets rte_ipsec prepare them; what it refuses is freed, their number in
// `refused` for the caller to count. Returns how many are prepared, at the front of mb in
// order, side[] following; ops[i] is mb[i]'s op.
unsigned Engine::prepare(QueuePair &q, Sa &sa, Slot &c, rte_mbuf **mb, unsigned k, uint32_t *side,
                         rte_crypto_op **&ops, unsigned &refused) {
    const unsigned nops = std::min(k, q.n_free);
    if (nops < k) {
        q.no_op.add(k - nops);
        c.other.add(k - nops);
        free_range(mb, nops, k);
        k = nops;
    }
    if (k == 0)
        return 0;
    ops = q.free_ops + q.n_free - k;
    rte_mbuf *before[burst];
    std::memcpy(before, mb, k * sizeof(rte_mbuf *));
    const unsigned p = rte_ipsec_pkt_crypto_prepare(&sa.ss, mb, ops, uint16_t(k));
    refused = k - p;
    free_range(mb, p, k);
    realign(before, mb, k, p, side);
    return p;
}

// Runs mb[0..n) through the device; op i (prepared for mb[i]) is ops[i], on the queue
// pair's free stack. Keeps those that came back successful at the front, in order, and
// returns how many; frees and counts the rest; side[] follows the packets.
unsigned Engine::run_crypto(QueuePair &q, Slot &c, rte_crypto_op **ops, rte_mbuf **mb, unsigned n,
                            uint32_t *side) {
    const uint8_t dev = uint8_t(_dev_id);
    const uint16_t qp = uint16_t(&q - _qps);
    const unsigned sent = rte_cryptodev_enqueue_burst(dev, qp, ops, uint16_t(n));
    unsigned got = 0;
    rte_crypto_op *done[Engine::burst];
    for (unsigned polls = 0; got < sent && polls < poll_bound; polls++) {
        const uint16_t d = rte_cryptodev_dequeue_burst(dev, qp, done + got, uint16_t(sent - got));
        got += d;
        if (d == 0)
            rte_pause();
    }
    bool back[Engine::burst];
    if (got == sent) {
        std::fill(back, back + sent, true);
    } else { // rare: match by pointer which ones came back
        for (unsigned i = 0; i < sent; i++) {
            back[i] = false;
            for (unsigned j = 0; j < got; j++)
                back[i] = back[i] || done[j] == ops[i];
        }
    }
    // Judge each packet; ops that came back return to the stack afterwards, the ones still
    // in the device are handed to reap().
    unsigned k = 0, kept_ops = 0;
    rte_crypto_op *in_device[Engine::burst];
    for (unsigned i = 0; i < n; i++) {
        if (i >= sent) {
            q.enqueue_failures.add(1);
            c.other.add(1);
            rte_pktmbuf_free(mb[i]);
        } else if (!back[i]) {
            q.timeouts.add(1);
            c.other.add(1);
            in_device[kept_ops++] = ops[i]; // its mbuf is freed when it comes back
        } else if (ops[i]->status == RTE_CRYPTO_OP_STATUS_SUCCESS) {
            side[k] = side[i];
            mb[k++] = mb[i];
        } else {
            (ops[i]->status == RTE_CRYPTO_OP_STATUS_AUTH_FAILED ? c.auth : c.other).add(1);
            rte_pktmbuf_free(mb[i]);
        }
    }
    // The ops stay on the stack, except those still in the device.
    if (kept_ops > 0) {
        unsigned w = unsigned(ops - q.free_ops);
        for (unsigned i = w; i < q.n_free; i++) {
            bool gone = false;
            for (unsigned j = 0; j < kept_ops; j++)
                gone = gone || q.free_ops[i] == in_device[j];
            if (!gone)
                q.free_ops[w++] = q.free_ops[i];
        }
        q.n_free = w;
        q.stale += kept_ops;
    }
    return k;
}

unsigned Engine::process(unsigned qp, int index, rte_mbuf **pkts, unsigned n, uint64_t now_ms) {
    QueuePair &q = _qps[qp];
    if (index < 0 || unsigned(index) >= _max_sas || !_sas[index].live) {
        free_range(pkts, 0, n);
        q.bad_index.add(n);
        return 0;
    }
    if (q.stale > 0)
        reap(q);
    Sa &sa = _sas[index];
    Slot &c = slot(qp, unsigned(index));
    unsigned out = 0;
    for (unsigned off = 0; off < n; off += burst) {
        rte_mbuf *chunk[burst];
        const unsigned m = std::min(burst, n - off);
        std::memcpy(chunk, pkts + off, m * sizeof(rte_mbuf *));
        out += sa.inbound ? inbound_burst(q, sa, c, chunk, m, pkts + out)
                          : outbound_burst(q, sa, c, chunk, m, pkts + out);
    }
    if (out > 0)
        c.last_used.set(now_ms);
    return out;
}

namespace {

// Takes up to n packets within the SA's hard packet limit (reserved atomically across
// workers; what is not carried is given back); frees and counts the rest. The byte limit
// is checked per burst: the burst that crosses it is carried, nothing after.
unsigned admit(std::atomic<uint64_t> &carried, uint64_t hard_packets, uint64_t hard_bytes,
               const std::atomic<uint64_t> &carried_bytes, rte_mbuf **mb, unsigned n,
               uint64_t &dropped) {
    unsigned a = n;
    if (hard_bytes != 0 && carried_bytes.load(std::memory_order_relaxed) >= hard_bytes)
        a = 0;
    if (hard_packets != 0 && a > 0) {
        const uint64_t prev = carried.fetch_add(a, std::memory_order_relaxed);
        const unsigned room =
            prev >= hard_packets ? 0u : unsigned(std::min<uint64_t>(a, hard_packets - prev));
        carried.fetch_sub(a - room, std::memory_order_relaxed);
        a = room;
    }
    free_range(mb, a, n);
    dropped = n - a;
    return a;
}

} // namespace

unsigned Engine::outbound_burst(QueuePair &q, Sa &sa, Slot &c, rte_mbuf **mb, unsigned n,
                                rte_mbuf **out) {
    uint64_t over = 0;
    unsigned a =
        admit(sa.carried_packets, sa.hard_packets, sa.hard_bytes, sa.carried_bytes, mb, n, over);
    c.hard.add(over);
    // Inner packets: IPv4 or IPv6 by their first nibble, trimmed to their IP length, with
    // room for the outer headers in front and the trailer, ICV and AAD behind.
    uint32_t len[burst];
    const uint32_t head = sa.hdr_len + 8u + sa.iv_len;
    unsigned k = 0;
    for (unsigned i = 0; i < a; i++) {
        rte_mbuf *m = mb[i];
        const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
        uint32_t l = 0;
        const uint32_t first = m->data_len;
        if (first >= 20 && (p[0] >> 4) == 4 && (p[0] & 0x0f) >= 5)
            l = rd16(p + 2) >= (p[0] & 0x0f) * 4u ? rd16(p + 2) : 0;
        else if (first >= 40 && (p[0] >> 4) == 6)
            l = rd16(p + 4) != 0 ? 40u + rd16(p + 4) : 0;
        const uint32_t clen = (l + 2 + sa.pad_align - 1) & ~uint32_t(sa.pad_align - 1);
        if (l == 0 || l + head + (clen - l) + icv_len > 0xffff || !trim_to(m, l) ||
            rte_pktmbuf_headroom(m) < head ||
            rte_pktmbuf_tailroom(rte_pktmbuf_lastseg(m)) < (clen - l) + icv_len + 4 + 16) {
            c.other.add(1);
            rte_pktmbuf_free(m);
            continue;
        }
        m->l2_len = 0;
        m->l3_len = 0;
        len[k] = l;
        mb[k++] = m;
    }
    // Ops for them: what the queue pair has free (a timed-out burst may hold some).
    rte_crypto_op **ops = nullptr;
    unsigned refused = 0;
    const unsigned p = prepare(q, sa, c, mb, k, len, ops, refused);
    c.other.add(refused); // the SQN space is exhausted (non-ESN), or no room after all
    if (p == 0)
        return 0;
    for (unsigned i = 0; i < p; i++) {
        // The trailer's next header: 4 or 41 by the inner packet (rte_ipsec wrote its SA's
        // one). Still plaintext here: the device encrypts it next.
        const uint8_t *inner = rte_pktmbuf_mtod_offset(mb[i], const uint8_t *, head);
        const uint32_t clen = (len[i] + 2 + sa.pad_align - 1) & ~uint32_t(sa.pad_align - 1);
        *byte_at(mb[i], head + clen - 1) = (inner[0] >> 4) == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
        if (sa.cipher == Cipher::aes256_cbc_sha256) // E(0 ^ IV block) goes on the wire as IV
            std::memset(rte_crypto_op_ctod_offset(ops[i], uint8_t *, iv_offset), 0, 16);
    }
    const unsigned good = run_crypto(q, c, ops, mb, p, len);
    rte_mbuf *before[burst];
    std::memcpy(before, mb, good * sizeof(rte_mbuf *));
    const unsigned done = rte_ipsec_pkt_process(&sa.ss, mb, uint16_t(good));
    c.other.add(good - done);
    free_range(mb, done, good);
    realign(before, mb, good, done, len);
    uint64_t bytes = 0;
    for (unsigned i = 0; i < done; i++) {
        rte_mbuf *m = mb[i];
        uint8_t *o = rte_pktmbuf_mtod(m, uint8_t *);
        const uint32_t ip_hlen = sa.family == 4 ? 20 : 40;
        if (sa.encap) {
            const uint32_t ulen = m->pkt_len - ip_hlen;
            o[ip_hlen + 4] = uint8_t(ulen >> 8);
            o[ip_hlen + 5] = uint8_t(ulen);
        }
        if (sa.family == 4) {
            auto *ip = reinterpret_cast<rte_ipv4_hdr *>(o);
            ip->hdr_checksum = 0;
            ip->hdr_checksum = rte_ipv4_cksum(ip);
        }
        m->l2_len = 0;
        m->l3_len = ip_hlen;
        m->packet_type = RTE_PTYPE_UNKNOWN;
        bytes += len[i];
        out[i] = m;
    }
    c.packets.add(done);
    c.bytes.add(bytes);
    if (sa.hard_bytes != 0)
        sa.carried_bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (sa.hard_packets != 0 && done < a)
        sa.carried_packets.fetch_sub(a - done, std::memory_order_relaxed);
    return done;
}

unsigned Engine::inbound_burst(QueuePair &q, Sa &sa, Slot &c, rte_mbuf **mb, unsigned n,
                               rte_mbuf **out) {
    uint64_t over = 0;
    unsigned a =
        admit(sa.carried_packets, sa.hard_packets, sa.hard_bytes, sa.carried_bytes, mb, n, over);
    c.hard.add(over);
    // ESP packets of this SA, trimmed to their IP length; checked as rte_ipsec will check
    // them (length, alignment, room for the AAD), so that what prepare() refuses is the
    // replay window's doing.
    uint32_t side[burst]; // the ESP packet's length
    const uint32_t fixed = 8u + sa.iv_len + icv_len;
    unsigned k = 0;
    for (unsigned i = 0; i < a; i++) {
        rte_mbuf *m = mb[i];
        uint8_t copy[128];
        const uint32_t look = std::min<uint32_t>(m->pkt_len, sizeof copy);
        const auto *p = static_cast<const uint8_t *>(rte_pktmbuf_read(m, 0, look, copy));
        EspPacket e;
        bool ok = p != nullptr && parse_headers(p, look, m->pkt_len, e) && e.spi == sa.spi &&
                  e.udp_encap == sa.encap;
        if (ok) {
            const uint32_t ip_len = e.ip_len;
            const uint32_t payload =
                ip_len >= e.esp_offset + fixed ? ip_len - e.esp_offset - fixed : 0;
            ok = payload >= sa.pad_align && payload % sa.pad_align == 0 && trim_to(m, ip_len) &&
                 rte_pktmbuf_lastseg(m)->data_len >= icv_len &&
                 rte_pktmbuf_tailroom(rte_pktmbuf_lastseg(m)) >= 16 + 4;
            if (ok) {
                m->l2_len = 0;
                m->l3_len = e.esp_offset;
                side[k] = ip_len;
            }
        }
        if (!ok) {
            c.other.add(1);
            rte_pktmbuf_free(m);
            continue;
        }
        mb[k++] = m;
    }
    rte_crypto_op **ops = nullptr;
    unsigned refused = 0;
    const unsigned p = prepare(q, sa, c, mb, k, side, ops, refused);
    c.replay.add(refused); // the only check left to prepare(): the replay window
    if (p == 0)
        return 0;
    const unsigned good = run_crypto(q, c, ops, mb, p, side);
    // Authentic now. The trailer (RFC 4303 2.4-2.6): padding 1, 2, 3, ...; next header 4
    // or 41 and the inner packet's version agreeing; then rte_ipsec's SA's own next header
    // goes in its place so that its tunnel check passes for both families.
    unsigned v = 0;
    for (unsigned i = 0; i < good; i++) {
        rte_mbuf *m = mb[i];
        const uint32_t l = side[i];
        const uint32_t off = m->l3_len; // esp offset (unchanged by prepare)
        const uint32_t payload = l - off - fixed;
        uint8_t *nh = byte_at(m, l - icv_len - 1);
        const uint8_t pad = *byte_at(m, l - icv_len - 2);
        const uint8_t version = *byte_at(m, off + 8u + sa.iv_len) >> 4;
        bool ok = pad + 2u <= payload &&
                  ((*nh == IPPROTO_IPIP && version == 4) || (*nh == IPPROTO_IPV6 && version == 6));
        for (uint32_t j = 0; ok && j < pad; j++)
            ok = *byte_at(m, l - icv_len - 2 - pad + j) == uint8_t(j + 1);
        if (!ok) {
            c.other.add(1);
            rte_pktmbuf_free(m);
            continue;
        }
        *nh = sa.proto;
        mb[v++] = m;
    }
    const unsigned done = rte_ipsec_pkt_process(&sa.ss, mb, uint16_t(v));
    c.replay.add(v - done); // a repeat within the burst, or another worker's
    free_range(mb, done, v);
    // Inner packets: trimmed to their IP length (what follows is TFC padding, RFC 4303 2.7).
    unsigned w = 0;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < done; i++) {
        rte_mbuf *m = mb[i];
        const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
        uint32_t l = 0, hl = 0;
        if (m->data_len >= 20 && (ip[0] >> 4) == 4 && (ip[0] & 0x0f) >= 5) {
            hl = (ip[0] & 0x0f) * 4u;
            l = rd16(ip + 2) >= hl ? rd16(ip + 2) : 0;
        } else if (m->data_len >= 40 && (ip[0] >> 4) == 6) {
            hl = 40;
            l = 40u + rd16(ip + 4);
        }
        if (l == 0 || !trim_to(m, l)) {
            c.other.add(1);
            rte_pktmbuf_free(m);
            continue;
        }
        m->l2_len = 0;
        m->l3_len = hl;
        m->packet_type = RTE_PTYPE_UNKNOWN;
        bytes += l;
        out[w++] = m;
    }
    c.packets.add(w);
    c.bytes.add(bytes);
    if (sa.hard_bytes != 0)
        sa.carried_bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (sa.hard_packets != 0 && w < a)
        sa.carried_packets.fetch_sub(a - w, std::memory_order_relaxed);
    return w;
}

} // namespace qorgan::dp::esp

// SPDX-License-Identifier: GPL-2.0-or-later
// The ESP engine (dataplane/esp.h) as the crypto side of the IPsec state
// (dataplane/ipsec_state.h): an SA as qorgan-ike describes it becomes an engine SA.
#pragma once

#include "dataplane/esp.h"
#include "dataplane/ipsec_state.h"

#include <cstring>

namespace qorgan::dp {

class EspBackend : public SaBackend {
public:
    explicit EspBackend(esp::Engine &engine) : _engine(engine) {}

    int install(const SaSpec &sa, std::string &error) override {
        esp::SaConfig c;
        c.spi = sa.spi;
        c.inbound = sa.inbound;
        c.family = sa.dst.family;
        std::memcpy(c.src, sa.src.bytes.data(), 16);
        std::memcpy(c.dst, sa.dst.bytes.data(), 16);
        c.cipher = sa.cipher == EspCipher::aes256_gcm16 ? esp::Cipher::aes256_gcm16
                                                        : esp::Cipher::aes256_cbc_sha256;
        std::memcpy(c.enc_key, sa.enc_key.data(), sa.enc_key_len);
        c.enc_key_len = sa.enc_key_len;
        std::memcpy(c.integ_key, sa.integ_key.data(), sa.integ_key_len);
        c.integ_key_len = sa.integ_key_len;
        c.esn = sa.esn;
        c.replay_window = sa.replay_window;
        c.encap = sa.encap;
        c.encap_sport = sa.encap_sport;
        c.encap_dport = sa.encap_dport;
        c.hard_bytes = sa.hard_bytes;
        c.hard_packets = sa.hard_packets;
        int index = _engine.add(c, error);
        explicit_bzero(c.enc_key, sizeof(c.enc_key));
        explicit_bzero(c.integ_key, sizeof(c.integ_key));
        return index;
    }

    void remove(int handle) override { _engine.remove(handle); }

    SaStats stats(int handle) const override {
        esp::SaCounters c = _engine.counters(handle);
        return SaStats{c.packets,          c.bytes,       c.replay_drops, c.auth_failures,
                       c.hard_limit_drops, c.other_drops, c.last_used_ms};
    }

private:
    esp::Engine &_engine;
};

} // namespace qorgan::dp

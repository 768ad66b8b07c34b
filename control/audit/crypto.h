// SPDX-License-Identifier: GPL-2.0-or-later
// The hashes and keys of the audit chain: SHA-256 links, HMAC-SHA256 seals and the
// forward evolution of the seal key (OpenSSL EVP).
#pragma once

#include "control/audit/store.h"

#include <array>
#include <cstdint>
#include <string>

namespace qorgan::audit {

using Key = std::array<uint8_t, 32>;

std::string sha256_hex(const std::string &bytes);
std::string to_hex(const uint8_t *p, size_t n);

// The message a seal's HMAC covers: its own seq, prev, time and clock state, so that with
// prev (which covers every record before it) nothing of the chain up to the seal escapes.
std::string seal_message(uint64_t seq, const std::string &prev, int64_t time_us, bool synced);
std::string seal_hmac(const Key &key, const std::string &message);

// key_{k+1} = SHA-256("qorgan-audit-evolve:" || key_k): one-way, so a key stolen at epoch k
// cannot produce the keys of earlier epochs, whose seals cover earlier records.
Key evolve(const Key &key);
Result<Key> random_key();
void wipe(Key &key); // OPENSSL_cleanse

} // namespace qorgan::audit

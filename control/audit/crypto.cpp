// SPDX-License-Identifier: GPL-2.0-or-later
// OpenSSL one-shot digests for the audit chain.
#include "control/audit/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace qorgan::audit {

std::string to_hex(const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    return out;
}

std::string sha256_hex(const std::string &bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
    return to_hex(md, len);
}

Result<Key> key_from_hex(const std::string &hex) {
    Key k{};
    auto nibble = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    if (hex.size() != 2 * k.size())
        return Error{Location{}, "a key is 64 hex digits"};
    for (size_t i = 0; i < k.size(); ++i) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return Error{Location{}, "a key is 64 lower-case hex digits"};
        k[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return k;
}

std::string seal_message(uint64_t seq, const std::string &prev, int64_t time_us, bool synced) {
    return "qorgan-audit-seal:" + std::to_string(seq) + ":" + prev + ":" + std::to_string(time_us) +
           ":" + (synced ? "1" : "0");
}

std::string seal_hmac(const Key &key, const std::string &message) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char *>(message.data()), message.size(), md, &len);
    return to_hex(md, len);
}

Key evolve(const Key &key) {
    static const std::string label = "qorgan-audit-evolve:";
    std::string input = label;
    input.append(reinterpret_cast<const char *>(key.data()), key.size());
    Key next{};
    unsigned int len = 0;
    EVP_Digest(input.data(), input.size(), next.data(), &len, EVP_sha256(), nullptr);
    OPENSSL_cleanse(input.data(), input.size());
    return next;
}

Result<Key> random_key() {
    Key k{};
    if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
        return Error{Location{}, "no random bytes for the audit key"};
    return k;
}

void wipe(Key &key) {
    OPENSSL_cleanse(key.data(), key.size());
}

} // namespace qorgan::audit

// SPDX-License-Identifier: GPL-2.0-or-later
// HOTP/TOTP codes, their verification with replay refusal, and base32 for the secrets.
#include "control/auth/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace qorgan::auth {

namespace {

constexpr const char *base32_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr int totp_period = 30;
constexpr int totp_digits = 6;

// floor(a / b) for b > 0, also for times before 1970.
int64_t floor_div(int64_t a, int64_t b) {
    return a / b - (a % b != 0 && a < 0 ? 1 : 0);
}

// A character as it can be shown in a message: itself, or \xNN.
std::string printable(char c) {
    if (c > 0x20 && c < 0x7f)
        return std::string(1, c);
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
    return hex;
}

} // namespace

std::vector<uint8_t> random_secret(size_t bytes) {
    std::vector<uint8_t> out(bytes);
    // RAND_bytes fails only when the system has no entropy source; a zero secret would be
    // worse than no secret, so that case aborts.
    if (bytes != 0 && RAND_bytes(out.data(), static_cast<int>(bytes)) != 1)
        std::abort();
    return out;
}

std::string base32_encode(const std::vector<uint8_t> &bytes) {
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (uint8_t b : bytes) {
        buffer = (buffer << 8) | b;
        bits += 8;
        while (bits >= 5) {
            out += base32_alphabet[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out += base32_alphabet[(buffer << (5 - bits)) & 31];
    return out;
}

Result<std::vector<uint8_t>> base32_decode(const std::string &text) {
    std::vector<uint8_t> out;
    uint32_t buffer = 0;
    int bits = 0;
    size_t symbols = 0;
    bool padding = false;
    for (size_t i = 0; i < text.size(); i++) {
        char c = text[i];
        if (c == ' ')
            continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a'
                : c >= '2' && c <= '7' ? c - '2' + 26
                                       : -1;
        if (v < 0 || padding) {
            return Error{{},
                         "'" + printable(c) + "' at position " + std::to_string(i + 1) +
                             (padding ? " follows '=' padding" : " is not base32 (A-Z, 2-7)")};
        }
        buffer = (buffer << 5) | static_cast<uint32_t>(v);
        bits += 5;
        symbols++;
        if (bits >= 8) {
            out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
            bits -= 8;
        }
    }
    // 8 symbols carry 5 bytes; 1, 3 or 6 left over cannot come from whole bytes.
    size_t rest = symbols % 8;
    if (rest == 1 || rest == 3 || rest == 6)
        return Error{
            {}, "base32 text of " + std::to_string(symbols) + " symbols cannot encode whole bytes"};
    return out;
}

std::string hotp(const std::vector<uint8_t> &key, uint64_t counter, int digits) {
    if (digits < 1 || digits > 9)
        return "";
    uint8_t message[8];
    for (int i = 7; i >= 0; i--, counter >>= 8)
        message[i] = static_cast<uint8_t>(counter & 0xff);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    static const uint8_t empty = 0;
    if (HMAC(EVP_sha1(), key.empty() ? &empty : key.data(), static_cast<int>(key.size()), message,
             sizeof message, mac, &mac_len) == nullptr ||
        mac_len != 20)
        return "";
    // RFC 4226 5.3: dynamic truncation.
    int offset = mac[19] & 0x0f;
    uint32_t binary = (uint32_t(mac[offset] & 0x7f) << 24) | (uint32_t(mac[offset + 1]) << 16) |
                      (uint32_t(mac[offset + 2]) << 8) | uint32_t(mac[offset + 3]);
    uint32_t modulus = 1;
    for (int i = 0; i < digits; i++)
        modulus *= 10;
    std::string code = std::to_string(binary % modulus);
    return std::string(static_cast<size_t>(digits) - code.size(), '0') + code;
}

std::string totp(const std::vector<uint8_t> &key, int64_t unix_seconds, int period, int digits) {
    if (period <= 0)
        return "";
    return hotp(key, static_cast<uint64_t>(floor_div(unix_seconds, period)), digits);
}

std::optional<int64_t> totp_verify(const std::vector<uint8_t> &key, const std::string &code,
                                   int64_t unix_seconds, int64_t last_used_step, int window) {
    if (code.size() != size_t(totp_digits) || key.empty() || window < 0)
        return std::nullopt;
    for (char c : code)
        if (c < '0' || c > '9')
            return std::nullopt;
    int64_t now_step = floor_div(unix_seconds, totp_period);
    std::optional<int64_t> found;
    // Every step in the window is computed and compared so the time taken does not say which.
    for (int64_t step = now_step - window; step <= now_step + window; step++) {
        std::string expected = hotp(key, static_cast<uint64_t>(step), totp_digits);
        bool same = expected.size() == code.size() &&
                    CRYPTO_memcmp(expected.data(), code.data(), code.size()) == 0;
        if (same && step > last_used_step && !found)
            found = step;
    }
    return found;
}

namespace {

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string uri_escape(const std::string &s) {
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += ch;
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", c);
            out += hex;
        }
    }
    return out;
}

} // namespace

std::string otpauth_uri(const std::string &issuer, const std::string &account,
                        const std::string &secret_b32) {
    return "otpauth://totp/" + uri_escape(issuer) + ":" + uri_escape(account) +
           "?secret=" + uri_escape(secret_b32) + "&issuer=" + uri_escape(issuer) +
           "&algorithm=SHA1&digits=" + std::to_string(totp_digits) +
           "&period=" + std::to_string(totp_period);
}

} // namespace qorgan::auth

// SPDX-License-Identifier: GPL-2.0-or-later
// The second factor (R47): HOTP (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA1, base32
// secrets (RFC 4648) and the otpauth:// URI that authenticator apps read from a QR code.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qorgan::auth {

// Bytes from OpenSSL's RAND_bytes; RFC 4226 asks for 160 bits.
std::vector<uint8_t> random_secret(size_t bytes = 20);
// RFC 4648 alphabet A-Z 2-7, upper case, no padding.
std::string base32_encode(const std::vector<uint8_t> &bytes);
// Case-insensitive; '=' padding at the end and spaces (as apps show secrets) are skipped.
// Errors name the first bad character and its position, or the impossible length.
Result<std::vector<uint8_t>> base32_decode(const std::string &text);
// `digits` in 1..9; "" otherwise.
std::string hotp(const std::vector<uint8_t> &key, uint64_t counter, int digits = 6);
// The code of the step holding unix_seconds (T0 = 0); "" for a period <= 0.
std::string totp(const std::vector<uint8_t> &key, int64_t unix_seconds, int period = 30,
                 int digits = 6);
// The time step whose code equals `code` within +-window steps of now, never a step
// <= last_used_step (replay refused); nullopt otherwise. Six digits, 30 s steps.
std::optional<int64_t> totp_verify(const std::vector<uint8_t> &key, const std::string &code,
                                   int64_t unix_seconds, int64_t last_used_step, int window = 1);
// otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string otpauth_uri(const std::string &issuer, const std::string &account,
                        const std::string &secret_b32);

} // namespace qorgan::auth

// SPDX-License-Identifier: GPL-2.0-or-later
// yescrypt hashing through libxcrypt's reentrant calls and the password policy checks.
#include "control/auth/password.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

namespace qorgan::auth {

namespace {

// crypt_rn's failure token starts with '*'; a real hash never does.
bool crypt_failed(const char *out) {
    return out == nullptr || out[0] == '*';
}

std::string lower(std::string s) {
    for (auto &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

size_t utf8_length(const std::string &s) {
    return static_cast<size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

} // namespace

Result<std::string> hash_password(const std::string &password) {
    if (password.find('\0') != std::string::npos)
        return Error{{}, "password holds a NUL byte, which cannot be hashed"};
    if (password.size() > max_password_bytes)
        return Error{{}, "password longer than " + std::to_string(max_password_bytes) + " bytes"};
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    // nullptr random bytes: libxcrypt draws the salt from the kernel.
    if (crypt_failed(crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting)))
        return Error{{}, std::string("cannot make a yescrypt salt: ") + std::strerror(errno)};
    auto data = std::make_unique<crypt_data>();
    const char *out = crypt_rn(password.c_str(), setting, data.get(), sizeof(crypt_data));
    if (crypt_failed(out))
        return Error{{}, std::string("yescrypt failed: ") + std::strerror(errno)};
    return std::string(out);
}

bool verify_password(const std::string &password, const std::string &hash) {
    if (hash.empty() || hash[0] != '$' || password.find('\0') != std::string::npos ||
        password.size() > max_password_bytes)
        return false;
    auto data = std::make_unique<crypt_data>();
    const char *out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
    if (crypt_failed(out))
        return false;
    size_t n = std::strlen(out);
    return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

Status check_password(const PasswordPolicy &p, const std::string &user, const std::string &password,
                      const std::vector<std::string> &previous_hashes) {
    std::vector<std::string> wrong;
    size_t length = utf8_length(password);
    if (length < p.min_length)
        wrong.push_back("password too short: " + std::to_string(length) +
                        " characters, the policy wants at least " + std::to_string(p.min_length));
    if (password.size() > max_password_bytes)
        wrong.push_back("password too long: " + std::to_string(password.size()) +
                        " bytes, at most " + std::to_string(max_password_bytes) + " are accepted");
    if (password.find('\0') != std::string::npos)
        wrong.push_back("password holds a NUL byte; use printable characters");

    bool has[4] = {false, false, false, false};
    for (char ch : password) {
        auto c = static_cast<unsigned char>(ch);
        has[std::islower(c) ? 0 : std::isupper(c) ? 1 : std::isdigit(c) ? 2 : 3] = true;
    }
    static const char *const class_names[4] = {"lower case", "upper case", "digits", "other"};
    uint32_t classes = 0;
    std::string present;
    for (int i = 0; i < 4; i++) {
        if (!has[i])
            continue;
        classes++;
        present += (present.empty() ? "" : ", ") + std::string(class_names[i]);
    }
    if (classes < p.min_classes)
        wrong.push_back("password has " + std::to_string(classes) + " character classes (" +
                        (present.empty() ? "none" : present) + "), the policy wants at least " +
                        std::to_string(p.min_classes) +
                        " of lower case, upper case, digits and other characters");

    if (user.size() >= 3 && lower(password).find(lower(user)) != std::string::npos)
        wrong.push_back("password contains the user name '" + user + "'; choose one without it");

    size_t checked = std::min<size_t>(p.history, previous_hashes.size());
    for (size_t i = 0; i < checked; i++) {
        if (verify_password(password, previous_hashes[i])) {
            wrong.push_back("password was used before; the policy refuses the last " +
                            std::to_string(p.history) + " passwords");
            break;
        }
    }

    if (wrong.empty())
        return Ok{};
    std::string message;
    for (const auto &w : wrong)
        message += (message.empty() ? "" : "; ") + w;
    return Error{{}, message + " (R118)"};
}

bool password_expired(const PasswordPolicy &p, int64_t changed, int64_t now) {
    return p.max_age_days != 0 && now - changed >= int64_t(p.max_age_days) * 86400;
}

} // namespace qorgan::auth

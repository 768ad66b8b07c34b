// SPDX-License-Identifier: GPL-2.0-or-later
// Recovery codes and recovery.json.
#include "control/auth/recovery.h"

#include "control/auth/state_file.h"
#include "control/auth/totp.h"

#include <cctype>

namespace qorgan::auth {

std::string make_recovery_code() {
    // 13 bytes give 21 base32 characters; the first 20 carry 100 random bits.
    std::string chars = base32_encode(random_secret(13)).substr(0, 20);
    std::string code;
    for (size_t i = 0; i < chars.size(); i += 5)
        code += (code.empty() ? "" : "-") + chars.substr(i, 5);
    return code;
}

std::string normalize_recovery_code(const std::string &text) {
    std::string out;
    for (char c : text)
        if (c != '-' && c != ' ')
            out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

Result<RecoveryState> load_recovery(const std::string &path) {
    auto text = read_state_file(path);
    if (!text)
        return text.error();
    RecoveryState state;
    if (!text->has_value())
        return state;
    Json doc = Json::parse(**text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        return Error{Location{path, 0, 0},
                     "not a JSON object; move it away and make a new recovery code"};
    std::string error;
    JsonFields f(doc, "recovery.json", &error);
    state.hash = f.text("hash");
    state.tries.failures = static_cast<uint32_t>(f.integer("failures", 0, UINT32_MAX));
    state.tries.first_failure = f.integer("first_failure", INT64_MIN, INT64_MAX);
    state.tries.locked_until = f.integer("locked_until", 0, INT64_MAX);
    if (!error.empty())
        return Error{Location{path, 0, 0}, error};
    return state;
}

Status save_recovery(const std::string &path, const RecoveryState &state) {
    Json doc{{"hash", state.hash},
             {"failures", state.tries.failures},
             {"first_failure", state.tries.first_failure},
             {"locked_until", state.tries.locked_until}};
    return write_state_file(path, doc.dump(2) + "\n");
}

} // namespace qorgan::auth

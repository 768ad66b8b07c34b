// SPDX-License-Identifier: GPL-2.0-or-later
// swanctl's output is another program's text: whatever bytes come, parse_list_sas returns
// SAs or an error naming the line, without crashing or overflowing the stack (nesting is
// bounded at max_vici_depth).
#include "control/swanctl_sas.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view text(reinterpret_cast<const char *>(data), size);
    auto sas = qorgan::control::parse_list_sas(text);
    if (sas) {
        // Touch what was parsed, so a bad reference would show under ASan.
        size_t n = 0;
        for (const auto &ike : sas.value()) {
            n += ike.name.size() + ike.state.size() + ike.local_id.size();
            for (const auto &c : ike.children)
                n += c.spi_in.size() + c.local_ts.size() + c.remote_ts.size();
        }
        if (n == SIZE_MAX)
            return 1;
    } else if (sas.error().message.empty()) {
        __builtin_trap(); // an error always says what was wrong
    }
    return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
// What qorgand needs of the dataplane: apply a configuration and tell what it runs.
// Implemented by DataplaneClient over the control socket, and by fakes in tests.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <string>

namespace qorgan::control {

struct DataplaneState {
    uint32_t epoch = 0;    // policy snapshot generation
    uint32_t revision = 0; // qorgand revision the running snapshot came from (0: its own)
    std::string sha256;    // of the configuration text the snapshot was built from
};

class DataplaneLink {
public:
    virtual ~DataplaneLink() = default;
    // Builds and publishes a snapshot from the text; on error the old one keeps running.
    virtual Result<DataplaneState> apply(const std::string &text, uint32_t revision,
                                         const std::string &sha256) = 0;
    virtual Result<DataplaneState> state() = 0;
};

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// From what nDPI says of a flow (protocols, category, risks) to the regulation's categories
// of paragraph 134-1. The map is data (category_map.cpp): one table for nDPI categories, one
// for the applications nDPI files in a category that does not fit them, one for risks.
#pragma once

#include "config/model.h"

#include <cstdint>
#include <optional>

namespace qorgan::dpi {

// What nDPI concluded of a flow.
struct Detection {
    uint16_t master = 0;   // nDPI master protocol (0: unknown)
    uint16_t app = 0;      // nDPI application protocol (0: none)
    uint32_t category = 0; // ndpi_protocol_category_t, after the configured lists
    uint64_t risk = 0;     // ndpi_risk bits
    bool unknown() const { return master == 0 && app == 0 && category == 0; }
    // The protocol that names the flow: the application if any, else the master.
    uint16_t protocol() const { return app ? app : master; }
};

// The regulation category of a detection; nullopt: none of the six (the flow is "other").
// A detection with no protocol and no category is `unknown`. Malicious wins over the rest.
std::optional<config::Category> category_of(const Detection &d);

} // namespace qorgan::dpi

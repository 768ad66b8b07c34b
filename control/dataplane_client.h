// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's side of the dataplane control socket (protocol: docs/CONTROL-PROTOCOL.md).
// Connects per request, so a restarted dataplane is picked up without ceremony.
#pragma once

#include "common/framing.h"
#include "control/dataplane_link.h"

#include <string>

namespace qorgan::control {

class DataplaneClient : public DataplaneLink {
public:
    explicit DataplaneClient(std::string socket_path) : _path(std::move(socket_path)) {}

    Result<DataplaneState> apply(const std::string &text, uint32_t revision,
                                 const std::string &sha256) override;
    Result<DataplaneState> state() override;

    // Any request ({"op": ...}); returns the reply when it says "ok": true, else an Error
    // carrying the reply's "error" text.
    Result<Json> request(const Json &req, int timeout_ms = 10000);

private:
    std::string _path;
};

} // namespace qorgan::control

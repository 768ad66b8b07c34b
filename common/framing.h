// SPDX-License-Identifier: GPL-2.0-or-later
// Messages over UNIX stream sockets between the Qorgan processes: a 4-byte big-endian
// length, then that many bytes of JSON. Used by the dataplane control socket, qorgand and
// the qorgan CLI. Blocking calls with a deadline; never used on the packet path.
#pragma once

#include "common/result.h"

#include <nlohmann/json.hpp>

#include <string>

namespace qorgan {

using Json = nlohmann::json;

inline constexpr size_t max_message_bytes = 64u << 20; // a 10k-rule config fits easily

// Sends one message; fails on a closed peer or after timeout_ms.
Status send_message(int fd, const Json &msg, int timeout_ms = 5000);
// Receives one message; an Error with message "closed" when the peer closed cleanly.
Result<Json> recv_message(int fd, int timeout_ms = 5000);

// A connected client socket to a UNIX stream socket path.
Result<int> connect_unix(const std::string &path);
// A listening UNIX stream socket (an old socket file is replaced), mode 0660.
Result<int> listen_unix(const std::string &path);

} // namespace qorgan

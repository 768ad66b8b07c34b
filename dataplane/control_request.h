// SPDX-License-Identifier: GPL-2.0-or-later
// Requests of the dataplane control socket (docs/CONTROL-PROTOCOL.md) parsed and checked
// into a typed Request: pure, no DPDK, so the fuzz target can feed it any bytes.
#pragma once

#include "common/framing.h"
#include "common/result.h"
#include "dataplane/ipsec_request.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qorgan::dp {

enum class ControlOp : uint8_t {
    status,
    apply,
    interfaces,
    rules,
    sessions,
    clear_sessions,
    routes,
    neighbors,
    drops,
    nat,
    screen,
    screen_blocked,
    clear_screen_blocked,
    applications, // category blocking: flows and bytes per category and application
    // IPsec (docs/IPSEC.md): what qorgan-ike reads and installs, and what the shell shows.
    ipsec_peers,
    ipsec_flush,
    ipsec_add_sa,
    ipsec_update_sa,
    ipsec_del_sa,
    ipsec_query_sa,
    ipsec_add_policy,
    ipsec_del_policy,
    ipsec_sas,
    ipsec,
    exception, // the exception path: IKE to and from the host kernel (docs/IPSEC.md)
};

const char *control_op_name(ControlOp op);

inline constexpr uint32_t session_limit_default = 1000;
inline constexpr uint32_t session_limit_max = 100000;

// The "filter" of sessions and clear-sessions; unset fields match everything.
struct RequestFilter {
    uint8_t family = 0;       // 0: no address; else 4 or 6
    uint8_t address[16] = {}; // network order
    std::optional<uint16_t> port;
    std::optional<std::string> interface;
    std::vector<std::string> interfaces;    // a zone's interfaces: a flow on any of them matches
    uint32_t limit = session_limit_default; // 1..session_limit_max
    bool nat_only = false;                  // only translated flows
};

struct Request {
    ControlOp op = ControlOp::status;
    std::string text;      // apply: the configuration text
    uint32_t revision = 0; // apply: qorgand's revision number
    std::string sha256;    // apply: lowercase hex, 64 digits
    RequestFilter filter;  // sessions, clear-sessions
    IpsecRequest ipsec;    // ipsec-add-sa, ipsec-del-sa, ...
};

// Checks a decoded message; the error says which field is wrong and why.
Result<Request> parse_request(const Json &msg);
// Decodes one message body (the JSON after the length prefix) and checks it.
Result<Request> parse_request(std::string_view bytes);

// {"ok": false, "error": text}
Json error_reply(const std::string &text);

} // namespace qorgan::dp

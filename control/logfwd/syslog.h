// SPDX-License-Identifier: GPL-2.0-or-later
// Audit records as RFC 5424 syslog messages, framed by octet counting for TLS transport
// (RFC 5425, RFC 6587 3.4.1). Pure functions: no I/O.
#pragma once

#include "control/audit/store.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace qorgan::logfwd {

// The audit store is the forwarder's persistent queue; its records are what is sent.
using Record = audit::Record;

inline constexpr int facility_authpriv = 10;
inline constexpr std::string_view app_name = "qorgan";
// SD-ID with our private enterprise number placeholder, as RFC 5424 7.2.2 asks for.
inline constexpr std::string_view sd_id = "qorgan@32473";

enum class Severity { alert = 1, warning = 4, notice = 5 };

// alert for "alert"; warning for refused access (login-failed, lockout, privilege-refused);
// notice for everything else.
Severity severity_of(std::string_view action);

// "<PRI>": facility authpriv and the action's severity.
std::string pri_of(std::string_view action);

// RFC 3339 UTC with microseconds ("2026-11-25T18:40:01.123456Z"); "-" for time_us <= 0.
std::string timestamp_of(int64_t time_us);

// A PARAM-VALUE: '"', '\' and ']' escaped by a backslash (RFC 5424 6.3.3); control bytes
// written as "#ooo" (octal, as rsyslog does) so one record stays one line at any receiver.
std::string escape_param(std::string_view value);

// A header field (HOSTNAME, MSGID): printable US-ASCII only, at most max_len octets,
// "-" (NILVALUE) when empty. Other bytes become '_'.
std::string header_field(std::string_view value, size_t max_len);

// One record as an RFC 5424 message:
// <PRI>1 TIMESTAMP HOSTNAME qorgan - ACTION [qorgan@32473 seq="N" ...] DETAIL
// Seal records (epoch >= 0) also carry epoch and hmac so a remote copy can be verified.
std::string format_rfc5424(const Record &r, std::string_view hostname);

// Octet-counting frame: "LEN SP MSG".
std::string frame(std::string_view msg);

} // namespace qorgan::logfwd

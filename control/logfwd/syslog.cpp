// SPDX-License-Identifier: GPL-2.0-or-later
// RFC 5424 formatting of audit records (see syslog.h).
#include "control/logfwd/syslog.h"

#include <ctime>

namespace qorgan::logfwd {

namespace {

constexpr size_t hostname_max = 255; // RFC 5424 6.2.4
constexpr size_t msgid_max = 32;     // RFC 5424 6.2.7

bool control_byte(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

void append_octal(std::string &out, unsigned char c) {
    out += '#';
    out += static_cast<char>('0' + ((c >> 6) & 7));
    out += static_cast<char>('0' + ((c >> 3) & 7));
    out += static_cast<char>('0' + (c & 7));
}

// The free-text MSG: only control bytes are rewritten (no SD escaping applies there).
std::string message_text(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (control_byte(c))
            append_octal(out, c);
        else
            out += static_cast<char>(c);
    }
    return out;
}

void param(std::string &out, std::string_view name, std::string_view value) {
    out += ' ';
    out += name;
    out += "=\"";
    out += escape_param(value);
    out += '"';
}

} // namespace

Severity severity_of(std::string_view action) {
    if (action == "alert")
        return Severity::alert;
    if (action == "login-failed" || action == "lockout" || action == "privilege-refused")
        return Severity::warning;
    return Severity::notice;
}

std::string pri_of(std::string_view action) {
    int pri = facility_authpriv * 8 + static_cast<int>(severity_of(action));
    return "<" + std::to_string(pri) + ">";
}

std::string timestamp_of(int64_t time_us) {
    if (time_us <= 0)
        return "-";
    time_t secs = static_cast<time_t>(time_us / 1000000);
    auto micros = static_cast<long>(time_us % 1000000);
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[40];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", micros);
    return buf;
}

std::string escape_param(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 8);
    for (unsigned char c : value) {
        if (c == '"' || c == '\\' || c == ']') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (control_byte(c)) {
            append_octal(out, c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string header_field(std::string_view value, size_t max_len) {
    if (value.empty())
        return "-";
    std::string out;
    for (unsigned char c : value.substr(0, max_len))
        out += (c >= 33 && c <= 126) ? static_cast<char>(c) : '_';
    return out;
}

std::string format_rfc5424(const Record &r, std::string_view hostname) {
    std::string m = pri_of(r.action);
    m += "1 ";
    m += timestamp_of(r.time_us);
    m += ' ';
    m += header_field(hostname, hostname_max);
    m += ' ';
    m += app_name;
    m += " - "; // PROCID: the record says which service acted, the process id adds nothing
    m += header_field(r.action, msgid_max);
    m += " [";
    m += sd_id;
    param(m, "seq", std::to_string(r.seq));
    param(m, "user", r.user);
    param(m, "level", r.level >= 0 ? std::to_string(r.level) : "");
    param(m, "session", r.session);
    param(m, "terminal", r.terminal);
    param(m, "source", r.source);
    param(m, "result", r.result);
    param(m, "prev", r.prev);
    param(m, "synced", r.clock_synced ? "1" : "0");
    if (r.epoch >= 0) {
        param(m, "epoch", std::to_string(r.epoch));
        param(m, "hmac", r.hmac);
    }
    m += ']';
    if (!r.detail.empty()) {
        m += ' ';
        m += message_text(r.detail);
    }
    return m;
}

std::string frame(std::string_view msg) {
    std::string out = std::to_string(msg.size());
    out += ' ';
    out += msg;
    return out;
}

} // namespace qorgan::logfwd

// SPDX-License-Identifier: GPL-2.0-or-later
// Record <-> line. parse_line() is strict: anything to_line() would not have written is an
// Error, which is what lets the verifier trust a parsed record to mean its hashed bytes.
#include "control/audit/record.h"

#include "common/framing.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <string_view>

namespace qorgan::audit {

namespace {

Error bad(const std::string &what) {
    return Error{Location{}, what};
}

bool is_hex64(const std::string &s) {
    if (s.size() != 64)
        return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

// A record is one flat object; refusing nesting up front also keeps a hostile line from
// costing the JSON parser deep recursion or memory.
bool is_flat(std::string_view s) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : s) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > 1)
                return false;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return true;
}

constexpr std::array<const char *, 13> common_keys = {
    "action",  "clock_synced", "detail",   "level", "prev",    "result", "seq",
    "session", "source",       "terminal", "time",  "time_us", "user"};

Result<Record> parse_object(const Json &j) {
    if (!j.is_object())
        return bad("not a JSON object");
    bool seal = j.contains("action") && j["action"].is_string() && j["action"] == "seal";
    for (auto &[key, value] : j.items()) {
        bool known = key == "epoch" || key == "hmac";
        for (const char *k : common_keys)
            known = known || key == k;
        if (!known)
            return bad("unknown key \"" + key + "\"");
        if ((key == "epoch" || key == "hmac") && !seal)
            return bad("\"" + key + "\" in a record that is not a seal");
        (void)value;
    }
    for (const char *k : common_keys)
        if (!j.contains(k))
            return bad(std::string("missing \"") + k + "\"");
    Record r;
    for (auto [key, field] : {std::pair{"user", &r.user},
                              {"session", &r.session},
                              {"terminal", &r.terminal},
                              {"source", &r.source},
                              {"action", &r.action},
                              {"detail", &r.detail},
                              {"result", &r.result},
                              {"prev", &r.prev},
                              {"time", &r.time}}) {
        if (!j[key].is_string())
            return bad(std::string("\"") + key + "\" is not a string");
        *field = j[key].get<std::string>();
    }
    if (r.action.empty())
        return bad("empty \"action\"");
    const Json &seq = j["seq"];
    if (!seq.is_number_unsigned() || seq.get<uint64_t>() == 0)
        return bad("\"seq\" is not a number from 1");
    r.seq = seq.get<uint64_t>();
    const Json &level = j["level"];
    if (!level.is_number_integer() || level.get<int64_t>() < -1 || level.get<int64_t>() > 15)
        return bad("\"level\" is not a number from -1 to 15");
    r.level = static_cast<int>(level.get<int64_t>());
    const Json &t = j["time_us"];
    if (!t.is_number_integer() || (t.is_number_unsigned() && t.get<uint64_t>() > INT64_MAX))
        return bad("\"time_us\" is not a 64-bit number");
    r.time_us = t.get<int64_t>();
    if (r.time != format_time(r.time_us))
        return bad("\"time\" does not match \"time_us\"");
    if (!j["clock_synced"].is_boolean())
        return bad("\"clock_synced\" is not true or false");
    r.clock_synced = j["clock_synced"].get<bool>();
    if (r.seq == 1 ? !r.prev.empty() : !is_hex64(r.prev))
        return bad(r.seq == 1 ? "\"prev\" of the first record is not empty"
                              : "\"prev\" is not a hex SHA-256");
    if (seal) {
        if (!j.contains("epoch") || !j["epoch"].is_number_unsigned() ||
            j["epoch"].get<uint64_t>() > INT64_MAX)
            return bad("seal without a valid \"epoch\"");
        r.epoch = static_cast<int64_t>(j["epoch"].get<uint64_t>());
        if (!j.contains("hmac") || !j["hmac"].is_string() ||
            !is_hex64(j["hmac"].get<std::string>()))
            return bad("seal without a valid \"hmac\"");
        r.hmac = j["hmac"].get<std::string>();
        // The seal's HMAC covers seq, prev, time and clock state; the other fields are fixed
        // so that no byte of a seal line escapes it.
        if (!r.user.empty() || r.level != -1 || !r.session.empty() || !r.terminal.empty() ||
            !r.source.empty() || !r.detail.empty() || r.result != "ok")
            return bad("seal with fields other than seq, time, prev, epoch and hmac set");
    }
    return r;
}

} // namespace

std::string format_time(int64_t time_us) {
    int64_t secs = time_us / 1000000, frac = time_us % 1000000;
    if (frac < 0) {
        secs -= 1;
        frac += 1000000;
    }
    time_t tt = static_cast<time_t>(secs);
    struct tm tm {};
    if (::gmtime_r(&tt, &tm) == nullptr)
        return "invalid";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z",
                  static_cast<long long>(tm.tm_year) + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, frac);
    return buf;
}

std::string to_line(const Record &r) {
    Json j = Json::object();
    j["user"] = r.user;
    j["level"] = r.level;
    j["session"] = r.session;
    j["terminal"] = r.terminal;
    j["source"] = r.source;
    j["action"] = r.action;
    j["detail"] = r.detail;
    j["result"] = r.result;
    j["seq"] = r.seq;
    j["time_us"] = r.time_us;
    j["time"] = format_time(r.time_us);
    j["clock_synced"] = r.clock_synced;
    j["prev"] = r.prev;
    if (r.action == "seal") {
        j["epoch"] = r.epoch;
        j["hmac"] = r.hmac;
    }
    // Invalid UTF-8 (a binary command line) is stored as U+FFFD rather than refused.
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Record> parse_line(const std::string &line) {
    if (line.size() > max_line_bytes)
        return bad("line longer than " + std::to_string(max_line_bytes) + " bytes");
    if (!is_flat(line))
        return bad("nested values are not allowed");
    try {
        Json j = Json::parse(line, nullptr, false);
        if (j.is_discarded())
            return bad("not JSON");
        auto r = parse_object(j);
        if (!r)
            return r;
        if (to_line(*r) != line)
            return bad("not in canonical form");
        r->line = line;
        return r;
    } catch (const std::exception &e) { // only allocation failures can get here
        return bad(std::string("cannot parse: ") + e.what());
    }
}

} // namespace qorgan::audit

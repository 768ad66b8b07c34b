// SPDX-License-Identifier: GPL-2.0-or-later
// Parsing and checking control-socket requests; see control_request.h.
#include "dataplane/control_request.h"

#include "dataplane/request_fields.h"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <limits>

namespace qorgan::dp {

namespace {

struct OpName {
    ControlOp op;
    const char *name;
};

constexpr std::array<OpName, 25> op_names{{
    {ControlOp::status, "status"},
    {ControlOp::apply, "apply"},
    {ControlOp::interfaces, "interfaces"},
    {ControlOp::rules, "rules"},
    {ControlOp::sessions, "sessions"},
    {ControlOp::clear_sessions, "clear-sessions"},
    {ControlOp::routes, "routes"},
    {ControlOp::neighbors, "neighbors"},
    {ControlOp::drops, "drops"},
    {ControlOp::nat, "nat"},
    {ControlOp::screen, "screen"},
    {ControlOp::screen_blocked, "screen-blocked"},
    {ControlOp::clear_screen_blocked, "clear-screen-blocked"},
    {ControlOp::applications, "applications"},
    {ControlOp::ipsec_peers, "ipsec-peers"},
    {ControlOp::ipsec_flush, "ipsec-flush"},
    {ControlOp::ipsec_add_sa, "ipsec-add-sa"},
    {ControlOp::ipsec_update_sa, "ipsec-update-sa"},
    {ControlOp::ipsec_del_sa, "ipsec-del-sa"},
    {ControlOp::ipsec_query_sa, "ipsec-query-sa"},
    {ControlOp::ipsec_add_policy, "ipsec-add-policy"},
    {ControlOp::ipsec_del_policy, "ipsec-del-policy"},
    {ControlOp::ipsec_sas, "ipsec-sas"},
    {ControlOp::ipsec, "ipsec"},
    {ControlOp::exception, "exception"},
}};

// The ipsec op that carries fields, if `op` is one.
std::optional<IpsecOp> ipsec_op(ControlOp op) {
    switch (op) {
    case ControlOp::ipsec_add_sa:
        return IpsecOp::add_sa;
    case ControlOp::ipsec_update_sa:
        return IpsecOp::update_sa;
    case ControlOp::ipsec_del_sa:
        return IpsecOp::del_sa;
    case ControlOp::ipsec_query_sa:
        return IpsecOp::query_sa;
    case ControlOp::ipsec_add_policy:
        return IpsecOp::add_policy;
    case ControlOp::ipsec_del_policy:
        return IpsecOp::del_policy;
    default:
        return std::nullopt;
    }
}

std::string expected_ops() {
    std::string s;
    for (const auto &o : op_names)
        s += (s.empty() ? "" : ", ") + std::string(o.name);
    return s;
}

bool is_hex64(const std::string &s) {
    if (s.size() != 64)
        return false;
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c)))
            return false;
    return true;
}

Result<RequestFilter> parse_filter(const Json &msg) {
    RequestFilter f;
    auto it = msg.find("filter");
    if (it == msg.end() || it->is_null())
        return f;
    if (!it->is_object())
        return Error{{}, "\"filter\" must be an object"};
    for (const auto &[key, v] : it->items()) {
        if (key == "address") {
            if (!v.is_string())
                return Error{{}, "filter address must be a string"};
            std::string a = v.get<std::string>();
            if (inet_pton(AF_INET, a.c_str(), f.address) == 1)
                f.family = 4;
            else if (inet_pton(AF_INET6, a.c_str(), f.address) == 1)
                f.family = 6;
            else
                return Error{{}, "filter address '" + a + "' is not an IPv4 or IPv6 address"};
        } else if (key == "port") {
            auto n = integer_in(v, 0, 65535);
            if (!n)
                return Error{{}, "filter port must be an integer 0-65535"};
            f.port = static_cast<uint16_t>(*n);
        } else if (key == "interface") {
            if (!v.is_string() || v.get<std::string>().empty())
                return Error{{}, "filter interface must be an interface name"};
            f.interface = v.get<std::string>();
        } else if (key == "interfaces") {
            if (!v.is_array() || v.empty())
                return Error{{}, "filter interfaces must be a list of interface names"};
            for (const auto &i : v) {
                if (!i.is_string() || i.get<std::string>().empty())
                    return Error{{}, "filter interfaces must be a list of interface names"};
                f.interfaces.push_back(i.get<std::string>());
            }
        } else if (key == "limit") {
            auto n = integer_in(v, 1, session_limit_max);
            if (!n)
                return Error{
                    {}, "filter limit must be an integer 1-" + std::to_string(session_limit_max)};
            f.limit = static_cast<uint32_t>(*n);
        } else if (key == "nat") {
            if (!v.is_boolean())
                return Error{{}, "filter nat must be true or false"};
            f.nat_only = v.get<bool>();
        } else {
            return Error{{},
                         "unknown filter field '" + key +
                             "'; expected address, port, interface, interfaces, limit, nat"};
        }
    }
    return f;
}

} // namespace

const char *control_op_name(ControlOp op) {
    for (const auto &o : op_names)
        if (o.op == op)
            return o.name;
    return "?";
}

Result<Request> parse_request(const Json &msg) {
    if (!msg.is_object())
        return Error{{}, "a request must be a JSON object"};
    auto op_it = msg.find("op");
    if (op_it == msg.end() || !op_it->is_string())
        return Error{{}, "a request needs \"op\", a string; expected one of: " + expected_ops()};
    std::string name = op_it->get<std::string>();
    Request r;
    bool known = false;
    for (const auto &o : op_names)
        if (name == o.name) {
            r.op = o.op;
            known = true;
        }
    if (!known)
        return Error{{}, "unknown op '" + name + "'; expected one of: " + expected_ops()};

    for (const auto &[key, v] : msg.items()) {
        (void)v;
        bool allowed =
            key == "op" ||
            (r.op == ControlOp::apply && (key == "text" || key == "revision" || key == "sha256")) ||
            ((r.op == ControlOp::sessions || r.op == ControlOp::clear_sessions) &&
             key == "filter") ||
            (ipsec_op(r.op) && ipsec_field_allowed(*ipsec_op(r.op), key));
        if (!allowed)
            return Error{{}, "unknown field '" + key + "' for op '" + name + "'"};
    }

    if (r.op == ControlOp::apply) {
        auto text = msg.find("text");
        if (text == msg.end() || !text->is_string())
            return Error{{}, "apply needs \"text\", the configuration text"};
        r.text = text->get<std::string>();
        auto rev = msg.find("revision");
        std::optional<uint64_t> n;
        if (rev != msg.end())
            n = integer_in(*rev, 0, std::numeric_limits<uint32_t>::max());
        if (!n)
            return Error{{}, "apply needs \"revision\", an integer 0-4294967295"};
        r.revision = static_cast<uint32_t>(*n);
        auto sha = msg.find("sha256");
        if (sha == msg.end() || !sha->is_string() || !is_hex64(sha->get<std::string>()))
            return Error{{}, "apply needs \"sha256\", 64 hex digits of the text's SHA-256"};
        r.sha256 = sha->get<std::string>();
        for (char &c : r.sha256)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (r.op == ControlOp::sessions || r.op == ControlOp::clear_sessions) {
        auto f = parse_filter(msg);
        if (!f)
            return f.error();
        r.filter = std::move(f.value());
    }
    if (auto op = ipsec_op(r.op)) {
        auto i = parse_ipsec_request(*op, msg);
        if (!i)
            return Error{{}, name + ": " + i.error().message};
        r.ipsec = std::move(i.value());
    }
    return r;
}

Result<Request> parse_request(std::string_view bytes) {
    Json msg = Json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (msg.is_discarded())
        return Error{{}, "malformed JSON message"};
    return parse_request(msg);
}

Json error_reply(const std::string &text) {
    return Json{{"ok", false}, {"error", text}};
}

} // namespace qorgan::dp

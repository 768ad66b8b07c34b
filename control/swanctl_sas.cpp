// SPDX-License-Identifier: GPL-2.0-or-later
// swanctl's pretty vici dump; see swanctl_sas.h.
#include "control/swanctl_sas.h"

#include <charconv>

namespace qorgan::control {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

class Lines {
public:
    explicit Lines(std::string_view text) : _text(text) {}

    // The next line that is not blank, trimmed; false at the end.
    bool next(std::string_view &line) {
        while (_pos < _text.size()) {
            std::size_t end = _text.find('\n', _pos);
            if (end == std::string_view::npos)
                end = _text.size();
            line = trim(_text.substr(_pos, end - _pos));
            _pos = end + 1;
            _number++;
            if (!line.empty())
                return true;
        }
        return false;
    }
    Error error(const std::string &what) const {
        return Error{{}, "swanctl output line " + std::to_string(_number) + ": " + what};
    }

private:
    std::string_view _text;
    std::size_t _pos = 0;
    int _number = 0;
};

constexpr std::string_view assign = " = ";
constexpr std::string_view opens = " {";

bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// The body of a section up to its closing brace.
Result<ViciSection> parse_section(Lines &lines, std::string name, unsigned depth) {
    if (depth > max_vici_depth)
        return lines.error("sections nested deeper than " + std::to_string(max_vici_depth));
    ViciSection s;
    s.name = std::move(name);
    std::string_view line;
    while (lines.next(line)) {
        if (line == "}")
            return s;
        std::size_t eq = line.find(assign);
        // "key = " with an empty value lost its last space to trim().
        if (eq == std::string_view::npos && ends_with(line, " ="))
            eq = line.size() - 2;
        if (eq != std::string_view::npos && eq > 0) {
            std::string key(line.substr(0, eq));
            std::string_view value =
                eq + assign.size() <= line.size() ? line.substr(eq + assign.size()) : "";
            if (value != "[") {
                s.values.emplace_back(std::move(key), std::string(value));
                continue;
            }
            std::vector<std::string> items;
            bool closed = false;
            while (lines.next(line)) {
                if (line == "]") {
                    closed = true;
                    break;
                }
                items.emplace_back(line);
            }
            if (!closed)
                return lines.error("list '" + key + "' is not closed");
            s.lists.emplace_back(std::move(key), std::move(items));
            continue;
        }
        if (ends_with(line, opens) && line.size() > opens.size()) {
            auto sub =
                parse_section(lines, std::string(line.substr(0, line.size() - 2)), depth + 1);
            if (!sub)
                return sub.error();
            s.sections.push_back(std::move(sub.value()));
            continue;
        }
        return lines.error("expected 'name {', 'key = value', 'key = [' or '}', got '" +
                           std::string(line.substr(0, 80)) + "'");
    }
    return lines.error("section '" + s.name + "' is not closed");
}

std::optional<int64_t> number(const ViciSection &s, std::string_view key) {
    const std::string *v = s.value(key);
    if (!v)
        return std::nullopt;
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size())
        return std::nullopt;
    return n;
}

std::string text(const ViciSection &s, std::string_view key) {
    const std::string *v = s.value(key);
    return v ? *v : std::string();
}

std::vector<std::string> items(const ViciSection &s, std::string_view key) {
    const std::vector<std::string> *l = s.list(key);
    return l ? *l : std::vector<std::string>{};
}

ChildSaInfo child_of(const ViciSection &c) {
    ChildSaInfo x;
    x.section = c.name;
    x.name = text(c, "name");
    x.state = text(c, "state");
    x.mode = text(c, "mode");
    x.protocol = text(c, "protocol");
    x.spi_in = text(c, "spi-in");
    x.spi_out = text(c, "spi-out");
    x.encr_alg = text(c, "encr-alg");
    x.integ_alg = text(c, "integ-alg");
    x.dh_group = text(c, "dh-group");
    x.uniqueid = number(c, "uniqueid");
    x.reqid = number(c, "reqid");
    x.encr_keysize = number(c, "encr-keysize");
    x.integ_keysize = number(c, "integ-keysize");
    x.bytes_in = number(c, "bytes-in");
    x.packets_in = number(c, "packets-in");
    x.bytes_out = number(c, "bytes-out");
    x.packets_out = number(c, "packets-out");
    x.rekey_time = number(c, "rekey-time");
    x.life_time = number(c, "life-time");
    x.install_time = number(c, "install-time");
    x.encap = text(c, "encap") == "yes";
    x.local_ts = items(c, "local-ts");
    x.remote_ts = items(c, "remote-ts");
    return x;
}

IkeSaInfo ike_of(const ViciSection &s) {
    IkeSaInfo x;
    x.name = s.name;
    x.state = text(s, "state");
    x.local_host = text(s, "local-host");
    x.local_id = text(s, "local-id");
    x.remote_host = text(s, "remote-host");
    x.remote_id = text(s, "remote-id");
    x.encr_alg = text(s, "encr-alg");
    x.integ_alg = text(s, "integ-alg");
    x.prf_alg = text(s, "prf-alg");
    x.dh_group = text(s, "dh-group");
    x.uniqueid = number(s, "uniqueid");
    x.version = number(s, "version");
    x.local_port = number(s, "local-port");
    x.remote_port = number(s, "remote-port");
    x.encr_keysize = number(s, "encr-keysize");
    x.established = number(s, "established");
    x.rekey_time = number(s, "rekey-time");
    x.reauth_time = number(s, "reauth-time");
    x.initiator = text(s, "initiator") == "yes";
    for (const ViciSection &sub : s.sections)
        if (sub.name == "child-sas")
            for (const ViciSection &c : sub.sections)
                x.children.push_back(child_of(c));
    return x;
}

} // namespace

const std::string *ViciSection::value(std::string_view key) const {
    for (const auto &[k, v] : values)
        if (k == key)
            return &v;
    return nullptr;
}

const std::vector<std::string> *ViciSection::list(std::string_view key) const {
    for (const auto &[k, v] : lists)
        if (k == key)
            return &v;
    return nullptr;
}

Result<std::vector<ViciSection>> parse_vici_pretty(std::string_view text) {
    Lines lines(text);
    std::vector<ViciSection> messages;
    std::string_view line;
    while (lines.next(line)) {
        if (!ends_with(line, opens) || line.size() <= opens.size() ||
            line.find(assign) != std::string_view::npos)
            return lines.error("expected a message label such as 'list-sa event {', got '" +
                               std::string(line.substr(0, 80)) + "'");
        auto m = parse_section(lines, std::string(line.substr(0, line.size() - 2)), 1);
        if (!m)
            return m.error();
        messages.push_back(std::move(m.value()));
    }
    return messages;
}

Result<std::vector<IkeSaInfo>> parse_list_sas(std::string_view text) {
    auto messages = parse_vici_pretty(text);
    if (!messages)
        return messages.error();
    std::vector<IkeSaInfo> out;
    for (const ViciSection &m : messages.value())
        if (m.name == "list-sa event")
            for (const ViciSection &ike : m.sections)
                out.push_back(ike_of(ike));
    return out;
}

} // namespace qorgan::control

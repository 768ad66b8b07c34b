// SPDX-License-Identifier: GPL-2.0-or-later
// Parsing the ipsec-* requests; see ipsec_request.h.
#include "dataplane/ipsec_request.h"

#include "config/config.h"
#include "config/schema.h"
#include "dataplane/request_fields.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

namespace qorgan::dp {

namespace {

Error bad(const std::string &what) {
    return Error{{}, what};
}

const Json *field(const Json &msg, const char *key) {
    auto it = msg.find(key);
    return it == msg.end() ? nullptr : &*it;
}

Result<uint64_t> number_field(const Json &msg, const char *key, uint64_t high, bool required,
                              uint64_t fallback = 0) {
    const Json *v = field(msg, key);
    if (!v) {
        if (required)
            return bad(std::string("needs \"") + key + "\", an integer 0-" + std::to_string(high));
        return fallback;
    }
    auto n = integer_in(*v, 0, high);
    if (!n)
        return bad(std::string("\"") + key + "\" must be an integer 0-" + std::to_string(high));
    return *n;
}

Result<config::Prefix> address_field(const Json &msg, const char *key, bool prefix) {
    const Json *v = field(msg, key);
    std::string what =
        prefix ? "an address with its length, e.g. 198.18.1.0/24" : "an IPv4 or IPv6 address";
    if (!v || !v->is_string())
        return bad(std::string("needs \"") + key + "\", " + what);
    std::string text = v->get<std::string>();
    auto p = config::parse_prefix(text);
    bool full = p && p->length == (p->family == 6 ? 128 : 32);
    bool has_length = text.find('/') != std::string::npos;
    if (!p || (!prefix && (!full || has_length)) || (prefix && !has_length))
        return bad(std::string("\"") + key + "\" '" + text + "' is not " + what);
    if (prefix && config::network_of(*p) != *p)
        return bad(std::string("\"") + key + "\" '" + text + "' has host bits set");
    return *p;
}

Result<bool> bool_field(const Json &msg, const char *key, bool fallback) {
    const Json *v = field(msg, key);
    if (!v)
        return fallback;
    if (!v->is_boolean())
        return bad(std::string("\"") + key + "\" must be true or false");
    return v->get<bool>();
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Decodes a hex key of exactly `want` bytes into out.
Status key_field(const Json &msg, const char *key, std::size_t want, uint8_t *out) {
    const Json *v = field(msg, key);
    std::string what = std::string("\"") + key + "\" must be " + std::to_string(want) +
                       " bytes in hex (" + std::to_string(2 * want) + " digits)";
    if (!v || !v->is_string())
        return bad(what);
    const std::string &text = v->get_ref<const std::string &>();
    if (text.size() != 2 * want)
        return bad(what);
    for (std::size_t i = 0; i < want; i++) {
        int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            std::memset(out, 0, i);
            return bad(what);
        }
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return Ok{};
}

Result<PolicyDir> dir_field(const Json &msg, bool fwd) {
    const Json *v = field(msg, "dir");
    std::string expected = fwd ? "\"in\", \"out\" or \"fwd\"" : "\"in\" or \"out\"";
    if (!v || !v->is_string())
        return bad("needs \"dir\", " + expected);
    const std::string &d = v->get_ref<const std::string &>();
    if (d == "in")
        return PolicyDir::in;
    if (d == "out")
        return PolicyDir::out;
    if (d == "fwd" && fwd)
        return PolicyDir::fwd;
    return bad("\"dir\" '" + d + "' is not " + expected);
}

Status encap_field(const Json &msg, SaSpec &sa) {
    const Json *v = field(msg, "encap");
    if (!v || v->is_null())
        return Ok{};
    if (!v->is_object())
        return bad("\"encap\" must be null or {\"sport\":P,\"dport\":Q}");
    for (const auto &[key, x] : v->items()) {
        (void)x;
        if (key != "sport" && key != "dport")
            return bad("unknown encap field '" + key + "'; expected sport, dport");
    }
    auto sport = number_field(*v, "sport", 65535, true);
    if (!sport)
        return bad("encap " + sport.error().message);
    auto dport = number_field(*v, "dport", 65535, true);
    if (!dport)
        return bad("encap " + dport.error().message);
    if (*sport == 0 || *dport == 0)
        return bad("encap ports must be 1-65535");
    sa.encap = true;
    sa.encap_sport = static_cast<uint16_t>(*sport);
    sa.encap_dport = static_cast<uint16_t>(*dport);
    return Ok{};
}

Result<uint32_t> spi_field(const Json &msg) {
    auto spi = number_field(msg, "spi", std::numeric_limits<uint32_t>::max(), true);
    if (!spi)
        return spi.error();
    if (*spi < 256) // RFC 4303 2.1: 1-255 are reserved, 0 is never sent
        return bad("\"spi\" " + std::to_string(*spi) + " is reserved; expected 256-4294967295");
    return static_cast<uint32_t>(*spi);
}

Status same_family(const config::Prefix &a, const config::Prefix &b, const char *what) {
    if (a.family != b.family)
        return bad(std::string(what) + " are of different address families");
    return Ok{};
}

Status parse_add_sa(const Json &msg, SaSpec &sa) {
    auto spi = spi_field(msg);
    if (!spi)
        return spi.error();
    sa.spi = *spi;
    auto dir = dir_field(msg, false);
    if (!dir)
        return dir.error();
    sa.inbound = *dir == PolicyDir::in;
    auto src = address_field(msg, "src", false);
    if (!src)
        return src.error();
    auto dst = address_field(msg, "dst", false);
    if (!dst)
        return dst.error();
    if (auto s = same_family(*src, *dst, "\"src\" and \"dst\""); !s)
        return s;
    sa.src = *src;
    sa.dst = *dst;
    auto reqid = number_field(msg, "reqid", std::numeric_limits<uint32_t>::max(), true);
    if (!reqid)
        return reqid.error();
    sa.reqid = static_cast<uint32_t>(*reqid);
    const Json *cipher = field(msg, "cipher");
    if (!cipher || !cipher->is_string())
        return bad("needs \"cipher\", \"aes256gcm16\" or \"aes256-sha256\"");
    const std::string &c = cipher->get_ref<const std::string &>();
    if (c == "aes256gcm16") {
        sa.cipher = EspCipher::aes256_gcm16;
        sa.enc_key_len = 36;
        const Json *integ = field(msg, "integ_key"); // qorgan-ike sends "" for GCM
        if (integ && !(integ->is_string() && integ->get_ref<const std::string &>().empty()))
            return bad("aes256gcm16 takes no \"integ_key\": its ICV is part of GCM");
    } else if (c == "aes256-sha256") {
        sa.cipher = EspCipher::aes256_cbc_sha256;
        sa.enc_key_len = 32;
        sa.integ_key_len = 32;
        if (auto s = key_field(msg, "integ_key", 32, sa.integ_key.data()); !s)
            return s;
    } else {
        return bad("\"cipher\" '" + c +
                   "' is not one the dataplane runs; expected \"aes256gcm16\" "
                   "or \"aes256-sha256\"");
    }
    if (auto s = key_field(msg, "enc_key", sa.enc_key_len, sa.enc_key.data()); !s)
        return s;
    auto esn = bool_field(msg, "esn", false);
    if (!esn)
        return esn.error();
    sa.esn = *esn;
    auto window = number_field(msg, "replay_window", 4096, false, 0);
    if (!window)
        return window.error();
    sa.replay_window = static_cast<uint32_t>(*window);
    if (auto s = encap_field(msg, sa); !s)
        return s;
    auto hard_bytes = number_field(msg, "hard_bytes", std::numeric_limits<uint64_t>::max(), false);
    if (!hard_bytes)
        return hard_bytes.error();
    sa.hard_bytes = *hard_bytes;
    auto hard_packets =
        number_field(msg, "hard_packets", std::numeric_limits<uint64_t>::max(), false);
    if (!hard_packets)
        return hard_packets.error();
    sa.hard_packets = *hard_packets;
    if (const Json *peer = field(msg, "peer")) {
        if (!peer->is_string() || peer->get_ref<const std::string &>().size() > 64)
            return bad("\"peer\" must be a peer name of at most 64 characters");
        sa.peer = peer->get<std::string>();
    }
    return Ok{};
}

Status parse_policy(const Json &msg, bool add, PolicySpec &p) {
    auto dir = dir_field(msg, true);
    if (!dir)
        return dir.error();
    p.dir = *dir;
    auto src = address_field(msg, "src", true);
    if (!src)
        return src.error();
    auto dst = address_field(msg, "dst", true);
    if (!dst)
        return dst.error();
    if (auto s = same_family(*src, *dst, "\"src\" and \"dst\""); !s)
        return s;
    p.src = *src;
    p.dst = *dst;
    auto proto = number_field(msg, "proto", 255, false, 0);
    if (!proto)
        return proto.error();
    p.proto = static_cast<uint8_t>(*proto);
    if (!add)
        return Ok{};
    auto reqid = number_field(msg, "reqid", std::numeric_limits<uint32_t>::max(), true);
    if (!reqid)
        return reqid.error();
    p.reqid = static_cast<uint32_t>(*reqid);
    const Json *tunnel = field(msg, "tunnel");
    if (!tunnel || !tunnel->is_object())
        return bad("needs \"tunnel\", {\"src\":A,\"dst\":B}: the SA's outer addresses (tunnel "
                   "mode only)");
    for (const auto &[key, x] : tunnel->items()) {
        (void)x;
        if (key != "src" && key != "dst")
            return bad("unknown tunnel field '" + key + "'; expected src, dst");
    }
    auto tsrc = address_field(*tunnel, "src", false);
    if (!tsrc)
        return bad("tunnel " + tsrc.error().message);
    auto tdst = address_field(*tunnel, "dst", false);
    if (!tdst)
        return bad("tunnel " + tdst.error().message);
    if (auto s = same_family(*tsrc, *tdst, "tunnel \"src\" and \"dst\""); !s)
        return s;
    p.tunnel_src = *tsrc;
    p.tunnel_dst = *tdst;
    return Ok{};
}

} // namespace

void SaSpec::wipe() {
    explicit_bzero(enc_key.data(), enc_key.size()); // not dropped as a dead store
    explicit_bzero(integ_key.data(), integ_key.size());
}

const char *esp_cipher_name(EspCipher c) {
    return c == EspCipher::aes256_gcm16 ? "aes256gcm16" : "aes256-sha256";
}

const char *policy_dir_name(PolicyDir d) {
    switch (d) {
    case PolicyDir::in:
        return "in";
    case PolicyDir::out:
        return "out";
    case PolicyDir::fwd:
        return "fwd";
    }
    return "?";
}

bool ipsec_field_allowed(IpsecOp op, const std::string &key) {
    static const char *const add_sa[] = {
        "spi",       "dir", "src",           "dst",   "reqid",      "cipher",       "enc_key",
        "integ_key", "esn", "replay_window", "encap", "hard_bytes", "hard_packets", "peer"};
    static const char *const update_sa[] = {"spi", "src", "dst", "new_src", "new_dst", "encap"};
    static const char *const by_spi[] = {"spi", "dst"};
    static const char *const add_policy[] = {"dir", "src", "dst", "proto", "reqid", "tunnel"};
    static const char *const del_policy[] = {"dir", "src", "dst", "proto"};
    auto in = [&](const auto &list) {
        return std::find(std::begin(list), std::end(list), key) != std::end(list);
    };
    switch (op) {
    case IpsecOp::add_sa:
        return in(add_sa);
    case IpsecOp::update_sa:
        return in(update_sa);
    case IpsecOp::del_sa:
    case IpsecOp::query_sa:
        return in(by_spi);
    case IpsecOp::add_policy:
        return in(add_policy);
    case IpsecOp::del_policy:
        return in(del_policy);
    }
    return false;
}

Result<IpsecRequest> parse_ipsec_request(IpsecOp op, const Json &msg) {
    IpsecRequest r;
    Status s = Ok{};
    switch (op) {
    case IpsecOp::add_sa:
        s = parse_add_sa(msg, r.sa);
        break;
    case IpsecOp::update_sa: {
        auto spi = spi_field(msg);
        if (!spi)
            return spi.error();
        r.sa.spi = *spi;
        for (auto [key, out] :
             {std::pair{"src", &r.sa.src}, std::pair{"dst", &r.sa.dst},
              std::pair{"new_src", &r.new_src}, std::pair{"new_dst", &r.new_dst}}) {
            auto a = address_field(msg, key, false);
            if (!a)
                return a.error();
            *out = *a;
        }
        if (r.new_src.family != r.new_dst.family)
            return bad("\"new_src\" and \"new_dst\" are of different address families");
        s = encap_field(msg, r.sa);
        break;
    }
    case IpsecOp::del_sa:
    case IpsecOp::query_sa: {
        auto spi = spi_field(msg);
        if (!spi)
            return spi.error();
        r.spi = *spi;
        auto dst = address_field(msg, "dst", false);
        if (!dst)
            return dst.error();
        r.dst = *dst;
        break;
    }
    case IpsecOp::add_policy:
    case IpsecOp::del_policy:
        s = parse_policy(msg, op == IpsecOp::add_policy, r.policy);
        break;
    }
    if (!s)
        return s.error();
    return r;
}

} // namespace qorgan::dp

// SPDX-License-Identifier: GPL-2.0-or-later
// swanctl.conf from the dataplane's peers; see swanctl_render.h.
#include "ike/swanctl_render.h"

#include <arpa/inet.h>

#include <set>
#include <sstream>

namespace qorgan::ike {

namespace {

Error peer_error(const std::string &peer, const std::string &field, const std::string &what) {
    return Error{{}, "ipsec peer '" + peer + "': " + field + ": " + what};
}

bool is_address(const std::string &s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool is_subnet(const std::string &s) {
    auto slash = s.find('/');
    if (slash == std::string::npos || slash + 1 >= s.size() || s.size() - slash > 4)
        return false;
    auto addr = s.substr(0, slash);
    if (!is_address(addr))
        return false;
    int max = addr.find(':') == std::string::npos ? 32 : 128;
    int len = 0;
    for (size_t i = slash + 1; i < s.size(); i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        len = len * 10 + (s[i] - '0');
    }
    return len <= max;
}

// A swanctl section name: also a file name under x509/ and private/.
bool is_name(const std::string &s) {
    if (s.empty() || s.size() > 64)
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    return true;
}

bool is_proposal(const std::string &s) {
    if (s.empty() || s.size() > 200)
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    return true;
}

// An identity goes between double quotes: no quote, backslash, control character or brace.
bool is_quotable(const std::string &s) {
    if (s.size() > 255)
        return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '{' || c == '}')
            return false;
    return true;
}

bool is_path(const std::string &s) {
    if (s.empty() || s[0] != '/' || s.size() > 1024)
        return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f)
            return false;
    return true;
}

Result<std::string> get_string(const Json &j, const std::string &peer, const char *field,
                               bool required) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) {
        if (required)
            return peer_error(peer, field, "missing");
        return std::string{};
    }
    if (!it->is_string())
        return peer_error(peer, field, "not a string");
    return it->get<std::string>();
}

Result<uint64_t> get_uint(const Json &j, const std::string &peer, const char *field,
                          uint64_t dflt) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null())
        return dflt;
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
        return peer_error(peer, field, "not a non-negative integer");
    return it->get<uint64_t>();
}

Result<std::vector<std::string>> get_list(const Json &j, const std::string &peer, const char *field,
                                          bool (*valid)(const std::string &), const char *what) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_array() || it->empty())
        return peer_error(peer, field, "a non-empty list is required");
    std::vector<std::string> out;
    for (const auto &e : *it) {
        if (!e.is_string() || !valid(e.get<std::string>()))
            return peer_error(peer, field, std::string("not ") + what + ": " + e.dump());
        out.push_back(e.get<std::string>());
    }
    return out;
}

std::string join(const std::vector<std::string> &v) {
    std::string out;
    for (const auto &s : v)
        out += (out.empty() ? "" : ",") + s;
    return out;
}

std::string hex(const std::string &s) {
    static const char digits[] = "0123456789abcdef";
    std::string out = "0x";
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// 90% of a lifetime (rekey), at least one less than it when it is small.
uint64_t rekey_of(uint64_t life) {
    uint64_t r = life - life / 10;
    return r == life && life > 1 ? life - 1 : r;
}

} // namespace

Result<Peer> parse_peer(const Json &j) {
    if (!j.is_object())
        return Error{{}, "ipsec peer: not an object"};
    Peer p;
    auto name = get_string(j, "?", "name", true);
    if (!name)
        return name.error();
    if (!is_name(*name))
        return Error{{},
                     "ipsec peer name " + Json(*name).dump() +
                         ": only letters, digits, '-' and '_', at most 64"};
    p.name = *name;
    const std::string &n = p.name;

    struct StringField {
        const char *field;
        std::string *to;
        bool required;
    };
    for (auto [field, to, required] :
         {StringField{"address", &p.address, true},
          StringField{"local_address", &p.local_address, true},
          StringField{"local_id", &p.local_id, false},
          StringField{"remote_id", &p.remote_id, false}, StringField{"auth", &p.auth, true},
          StringField{"psk", &p.psk, false}, StringField{"certificate", &p.certificate, false},
          StringField{"private_key", &p.private_key, false}, StringField{"ca", &p.ca, false},
          StringField{"start_action", &p.start_action, false}}) {
        auto v = get_string(j, n, field, required);
        if (!v)
            return v.error();
        if (!v->empty() || required)
            *to = *v;
    }
    if (!is_address(p.address))
        return peer_error(n, "address", "not an IP address: " + Json(p.address).dump());
    if (!is_address(p.local_address))
        return peer_error(n, "local_address", "not an IP address: " + Json(p.local_address).dump());
    if (!is_quotable(p.local_id))
        return peer_error(n, "local_id",
                          "quotes, backslashes, braces and control characters "
                          "are not allowed");
    if (!is_quotable(p.remote_id))
        return peer_error(n, "remote_id",
                          "quotes, backslashes, braces and control characters "
                          "are not allowed");
    if (p.auth == "psk") {
        if (p.psk.size() < 8)
            return peer_error(n, "psk", "at least 8 characters");
    } else if (p.auth == "certificate") {
        for (auto [field, value] :
             {std::pair{"certificate", &p.certificate}, std::pair{"private_key", &p.private_key},
              std::pair{"ca", &p.ca}})
            if (!is_path(*value))
                return peer_error(n, field, "an absolute file path is required");
    } else {
        return peer_error(n, "auth", "expected psk or certificate, not " + Json(p.auth).dump());
    }
    if (p.start_action != "start" && p.start_action != "trap" && p.start_action != "none")
        return peer_error(n, "start_action",
                          "expected start, trap or none, not " + Json(p.start_action).dump());

    auto ike = get_list(j, n, "ike_proposals", is_proposal, "a proposal");
    if (!ike)
        return ike.error();
    p.ike_proposals = *ike;
    auto esp = get_list(j, n, "esp_proposals", is_proposal, "a proposal");
    if (!esp)
        return esp.error();
    p.esp_proposals = *esp;
    auto local = get_list(j, n, "local_subnets", is_subnet, "a subnet");
    if (!local)
        return local.error();
    p.local_subnets = *local;
    auto remote = get_list(j, n, "remote_subnets", is_subnet, "a subnet");
    if (!remote)
        return remote.error();
    p.remote_subnets = *remote;

    struct UintField {
        const char *field;
        uint64_t *to;
    };
    for (auto [field, to] :
         {UintField{"ike_lifetime_s", &p.ike_lifetime_s}, UintField{"lifetime_s", &p.lifetime_s},
          UintField{"lifetime_bytes", &p.lifetime_bytes},
          UintField{"lifetime_packets", &p.lifetime_packets}, UintField{"dpd_s", &p.dpd_s}}) {
        auto v = get_uint(j, n, field, *to);
        if (!v)
            return v.error();
        *to = *v;
    }
    if (p.ike_lifetime_s < 2 || p.lifetime_s < 2)
        return peer_error(n, "lifetime", "at least 2 seconds");
    auto encap = j.find("encap");
    if (encap != j.end() && !encap->is_null()) {
        if (!encap->is_boolean())
            return peer_error(n, "encap", "not a boolean");
        p.encap = encap->get<bool>();
    }
    return p;
}

Result<std::vector<Peer>> parse_peers(const Json &reply) {
    auto it = reply.find("peers");
    if (it == reply.end() || !it->is_array())
        return Error{{}, "ipsec-peers reply without a \"peers\" list"};
    std::vector<Peer> peers;
    std::set<std::string> names;
    for (const auto &j : *it) {
        auto p = parse_peer(j);
        if (!p)
            return p.error();
        if (!names.insert(p->name).second)
            return Error{{}, "ipsec peer '" + p->name + "' is named twice"};
        peers.push_back(std::move(p.value()));
    }
    return peers;
}

SwanctlConfig render_swanctl(const std::vector<Peer> &peers) {
    SwanctlConfig out;
    std::ostringstream c;
    c << "# Written by qorgan-ike from the dataplane's ipsec-peers; do not edit.\n";
    c << "connections {\n";
    for (const auto &p : peers) {
        const bool cert = p.auth == "certificate";
        // Explicit identities, so the PSK below is found by them; a certificate's own
        // subject when none is given locally.
        std::string local_id = !p.local_id.empty() ? p.local_id : cert ? "" : p.local_address;
        std::string remote_id = !p.remote_id.empty() ? p.remote_id : p.address;
        c << "    " << p.name << " {\n";
        c << "        version = 2\n";
        c << "        local_addrs = " << p.local_address << "\n";
        c << "        remote_addrs = " << p.address << "\n";
        c << "        proposals = " << join(p.ike_proposals) << "\n";
        c << "        rekey_time = " << rekey_of(p.ike_lifetime_s) << "s\n";
        c << "        over_time = " << p.ike_lifetime_s - rekey_of(p.ike_lifetime_s) << "s\n";
        c << "        reauth_time = 0\n";
        c << "        dpd_delay = " << p.dpd_s << "s\n";
        c << "        encap = " << (p.encap ? "yes" : "no") << "\n";
        c << "        mobike = no\n";
        c << "        local {\n";
        c << "            auth = " << (cert ? "pubkey" : "psk") << "\n";
        if (!local_id.empty())
            c << "            id = \"" << local_id << "\"\n";
        if (cert)
            c << "            certs = " << p.name << ".pem\n";
        c << "        }\n";
        c << "        remote {\n";
        c << "            auth = " << (cert ? "pubkey" : "psk") << "\n";
        c << "            id = \"" << remote_id << "\"\n";
        if (cert)
            c << "            cacerts = " << p.name << ".pem\n";
        c << "        }\n";
        c << "        children {\n";
        c << "            " << p.name << " {\n";
        c << "                mode = tunnel\n";
        c << "                local_ts = " << join(p.local_subnets) << "\n";
        c << "                remote_ts = " << join(p.remote_subnets) << "\n";
        c << "                esp_proposals = " << join(p.esp_proposals) << "\n";
        c << "                rekey_time = " << rekey_of(p.lifetime_s) << "s\n";
        c << "                life_time = " << p.lifetime_s << "s\n";
        c << "                rand_time = " << (p.lifetime_s - rekey_of(p.lifetime_s)) / 2 << "s\n";
        if (p.lifetime_bytes) {
            c << "                rekey_bytes = " << rekey_of(p.lifetime_bytes) << "\n";
            c << "                life_bytes = " << p.lifetime_bytes << "\n";
        }
        if (p.lifetime_packets) {
            c << "                rekey_packets = " << rekey_of(p.lifetime_packets) << "\n";
            c << "                life_packets = " << p.lifetime_packets << "\n";
        }
        c << "                start_action = " << p.start_action << "\n";
        c << "                dpd_action = "
          << (p.start_action == "start"  ? "restart"
              : p.start_action == "trap" ? "trap"
                                         : "clear")
          << "\n";
        c << "            }\n";
        c << "        }\n";
        c << "    }\n";
        if (cert) {
            out.files.push_back({p.certificate, "x509/" + p.name + ".pem", false});
            out.files.push_back({p.ca, "x509ca/" + p.name + ".pem", false});
            out.files.push_back({p.private_key, "private/" + p.name + ".key", true});
        }
    }
    c << "}\n";
    c << "secrets {\n";
    for (const auto &p : peers) {
        if (p.auth != "psk")
            continue;
        c << "    ike-" << p.name << " {\n";
        c << "        id-local = \"" << (p.local_id.empty() ? p.local_address : p.local_id)
          << "\"\n";
        c << "        id-remote = \"" << (p.remote_id.empty() ? p.address : p.remote_id) << "\"\n";
        c << "        secret = " << hex(p.psk) << "\n";
        c << "    }\n";
    }
    c << "}\n";
    out.text = c.str();
    return out;
}

} // namespace qorgan::ike

// SPDX-License-Identifier: GPL-2.0-or-later
// The schema: walks the generic tree, validates every statement and builds the typed
// Config; also load_text/load_file and the address formatting of config.h.
#include "config/schema.h"

#include "config/config.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace qorgan::config {

namespace {

constexpr std::size_t max_name_length = 31;

Error fail(const Location &at, const std::string &path, const std::string &what,
           const std::string &expected) {
    return Error{at, path + ": " + what + "; expected " + expected};
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

std::string one_of(const std::vector<std::string> &names) {
    std::string out = "one of ";
    for (std::size_t i = 0; i < names.size(); ++i)
        out += (i ? ", " : "") + names[i];
    return out;
}

std::string join_path(const std::string &path, std::string_view word) {
    return path.empty() ? std::string(word) : path + " " + std::string(word);
}

// Checks the statement's shape: `words` words (the last may be a list when `values`),
// then ';' or, when `block`, a block. `form` shows the right shape in messages.
Status check_shape(const Node &n, const std::string &path, const std::string &form,
                   std::size_t words, bool values, bool block) {
    if (n.list && !values)
        return fail(n.list->where, path, "a list is not allowed here", quoted(form));
    std::size_t need = (values && n.list) ? words - 1 : words;
    if (n.words.size() > need)
        return fail(n.words[need].where, path, "unexpected " + quoted(n.words[need].text),
                    quoted(form));
    if (n.words.size() < need)
        return fail(n.where, path, "missing value", quoted(form));
    if (block && !n.has_block)
        return fail(n.where, path, "missing block", quoted(form));
    if (!block && n.has_block)
        return fail(n.where, path, "unexpected block", quoted(form));
    return Ok{};
}

// The one value of `key value;`.
Result<const Word *> scalar(const Node &n, const std::string &path, const std::string &form) {
    if (auto s = check_shape(n, path, form, 2, false, false); !s)
        return s.error();
    return &n.words[1];
}

// One word of a closed set and what it stands for.
template <typename T>
struct Choice {
    const char *word;
    T value;
};

// `key word;` whose word is one of `choices`: out gets its value; any other word is refused
// as "'<word>'<refused>; expected <expected>".
template <typename T>
Status choice_leaf(const Node &n, const std::string &path, const std::string &form,
                   std::initializer_list<Choice<T>> choices, const std::string &refused,
                   const std::string &expected, T &out) {
    auto w = scalar(n, path, form);
    if (!w)
        return w.error();
    for (const Choice<T> &c : choices)
        if ((*w)->text == c.word) {
            out = c.value;
            return Ok{};
        }
    return fail((*w)->where, path, quoted((*w)->text) + refused, expected);
}

// The values of `key value;` or `key [ v1 v2 ];`.
Result<std::vector<const Word *>> values(const Node &n, const std::string &path,
                                         const std::string &form) {
    if (auto s = check_shape(n, path, form, 2, true, false); !s)
        return s.error();
    std::vector<const Word *> out;
    if (n.list)
        for (const Word &w : n.list->items)
            out.push_back(&w);
    else
        out.push_back(&n.words[1]);
    return out;
}

Status unknown(const Node &n, const std::string &path, const std::vector<std::string> &allowed) {
    return fail(n.where, join_path(path, n.keyword()), "unknown statement", one_of(allowed));
}

// Remembers which statements a block already had, to refuse a second one.
class Once {
public:
    Status note(const std::string &key, const Node &n, const std::string &path) {
        auto [it, fresh] = _seen.emplace(key, n.where);
        if (fresh)
            return Ok{};
        return fail(n.where, path, "duplicate statement (first at " + it->second.to_string() + ")",
                    quoted(key) + " at most once here");
    }
    bool has(const std::string &key) const { return _seen.count(key) != 0; }

private:
    std::map<std::string, Location> _seen;
};

bool all_digits(std::string_view s) {
    if (s.empty())
        return false;
    for (char c : s)
        if (c < '0' || c > '9')
            return false;
    return true;
}

// Decimal digits only; false on overflow past 19 digits.
bool to_number(std::string_view s, uint64_t &out) {
    if (!all_digits(s) || s.size() > 19)
        return false;
    out = 0;
    for (char c : s)
        out = out * 10 + uint64_t(c - '0');
    return true;
}

Result<uint64_t> number(const Word &w, const std::string &path, uint64_t lo, uint64_t hi) {
    std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    if (!all_digits(w.text))
        return fail(w.where, path, quoted(w.text) + " is not a number", range);
    uint64_t v = 0;
    if (!to_number(w.text, v) || v < lo || v > hi)
        return fail(w.where, path, w.text + " is out of range", range);
    return v;
}

Status check_name(const Word &w, const std::string &path) {
    const std::string &s = w.text;
    bool ok = !s.empty() && s.size() <= max_name_length &&
              ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
    for (char c : s)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-');
    if (ok)
        return Ok{};
    return fail(w.where, path, quoted(s) + " is not a valid name",
                "a letter, then letters, digits, '_' or '-' (at most " +
                    std::to_string(max_name_length) + ")");
}

enum class PrefixStatus { ok, bad_address, bad_length };

PrefixStatus parse_prefix_text(std::string_view text, Prefix &out, bool &had_length) {
    std::size_t slash = text.find('/');
    std::string_view addr = text.substr(0, slash);
    if (addr.size() > 45)
        return PrefixStatus::bad_address;
    std::string a(addr);
    Prefix p;
    p.family = a.find(':') != std::string::npos ? 6 : 4;
    if (inet_pton(p.family == 6 ? AF_INET6 : AF_INET, a.c_str(), p.bytes.data()) != 1)
        return PrefixStatus::bad_address;
    uint64_t max = p.family == 6 ? 128 : 32;
    had_length = slash != std::string_view::npos;
    uint64_t len = max;
    if (had_length) {
        std::string_view l = text.substr(slash + 1);
        if (l.size() > 3 || !to_number(l, len) || len > max)
            return PrefixStatus::bad_length;
    }
    p.length = uint8_t(len);
    out = p;
    return PrefixStatus::ok;
}

enum class Length { required, optional, forbidden };

// An address or prefix value; `network` refuses host bits (rules and routes).
Result<Prefix> read_prefix(const Word &w, const std::string &path, Length length, bool network) {
    Prefix p;
    bool had_length = false;
    switch (parse_prefix_text(w.text, p, had_length)) {
    case PrefixStatus::bad_address:
        return fail(w.where, path, quoted(w.text) + " is not an IPv4 or IPv6 address",
                    "e.g. 198.18.1.0/24 or 2001:db8::/32");
    case PrefixStatus::bad_length:
        return fail(w.where, path, quoted(w.text) + " has an invalid prefix length",
                    "0..32 for IPv4 or 0..128 for IPv6");
    case PrefixStatus::ok:
        break;
    }
    if (length == Length::required && !had_length)
        return fail(w.where, path, quoted(w.text) + " has no prefix length",
                    "the address with its subnet length, e.g. 198.18.1.1/24");
    if (length == Length::forbidden && had_length)
        return fail(w.where, path, quoted(w.text) + " has a prefix length",
                    "a bare address, e.g. 203.0.113.254");
    if (network && network_of(p) != p)
        return Error{w.where, path + ": " + w.text + " has host bits set; did you mean " +
                                  format_prefix(network_of(p)) + "?"};
    return p;
}

// `key <prefix>;` or `key [ <prefix> ... ];`: each value read as read_prefix does, appended to
// out.
Status read_prefixes(const Node &n, const std::string &path, const std::string &form, Length length,
                     bool network, std::vector<Prefix> &out) {
    auto ws = values(n, path, form);
    if (!ws)
        return ws.error();
    for (const Word *w : *ws) {
        auto a = read_prefix(*w, path, length, network);
        if (!a)
            return a.error();
        out.push_back(*a);
    }
    return Ok{};
}

// One host: a bare address or one with its full length (/32, /128).
Result<Address> read_host(const Word &w, const std::string &path) {
    auto a = read_prefix(w, path, Length::optional, false);
    if (!a)
        return a;
    if (a->length != (a->family == 6 ? 128 : 32))
        return fail(w.where, path, w.text + " is a network, not a single address",
                    "a bare address or one with its full length, e.g. 198.18.2.10 or "
                    "2001:db8::10/128");
    return a;
}

Result<PortRange> read_port(const Word &w, const std::string &path) {
    std::string_view s = w.text;
    std::size_t dash = s.find('-');
    std::string_view lo = s.substr(0, dash);
    std::string_view hi = dash == std::string_view::npos ? lo : s.substr(dash + 1);
    uint64_t l = 0, h = 0;
    if (!to_number(lo, l) || !to_number(hi, h) || l > 65535 || h > 65535)
        return fail(w.where, path, quoted(w.text) + " is not a port or port range",
                    "N or N-M with ports 0..65535");
    if (l > h)
        return fail(w.where, path, quoted(w.text) + " is an empty range", "N-M with N <= M");
    return PortRange{uint16_t(l), uint16_t(h)};
}

// NAT44 values. A bare address must be a unicast host: the gateway answers ARP for
// static outside and pool addresses, and translates packets to and from all of them.
Result<Prefix> read_ipv4(const Word &w, const std::string &path, bool prefix) {
    auto p = prefix ? read_prefix(w, path, Length::optional, true)
                    : read_prefix(w, path, Length::forbidden, false);
    if (!p)
        return p;
    if (p->family != 4)
        return fail(w.where, path,
                    w.text + " is IPv6: NAT44 translates IPv4 only; IPv6 is routed untranslated",
                    prefix ? "an IPv4 prefix, e.g. 198.18.1.0/24"
                           : "an IPv4 address, e.g. 203.0.113.10");
    uint8_t first = p->bytes[0];
    if (!prefix && (first == 0 || first == 127 || first >= 224))
        return fail(w.where, path, w.text + " is not a unicast host address",
                    "an IPv4 address outside 0.0.0.0/8, 127.0.0.0/8 and 224.0.0.0/3");
    return p;
}

struct Named {
    const char *name;
    uint8_t value;
};

constexpr Named protocols[] = {
    {"tcp", proto_tcp}, {"udp", proto_udp}, {"icmp", proto_icmp}, {"icmpv6", proto_icmpv6}};

constexpr Named icmp4_types[] = {
    {"echo-reply", 0},           {"dest-unreachable", 3},
    {"source-quench", 4},        {"redirect", 5},
    {"echo-request", 8},         {"router-advertisement", 9},
    {"router-solicitation", 10}, {"time-exceeded", 11},
    {"parameter-problem", 12},   {"timestamp-request", 13},
    {"timestamp-reply", 14},
};

constexpr Named icmp6_types[] = {
    {"dest-unreachable", 1},
    {"packet-too-big", 2},
    {"time-exceeded", 3},
    {"parameter-problem", 4},
    {"echo-request", 128},
    {"echo-reply", 129},
    {"router-solicitation", 133},
    {"router-advertisement", 134},
    {"neighbor-solicitation", 135},
    {"neighbor-advertisement", 136},
    {"redirect", 137},
};

// A name from `table` or a number 0..255.
template <std::size_t N>
std::optional<uint8_t> name_or_byte(std::string_view s, const Named (&table)[N]) {
    for (const Named &n : table)
        if (s == n.name)
            return n.value;
    uint64_t v = 0;
    if (to_number(s, v) && v <= 255)
        return uint8_t(v);
    return std::nullopt;
}

template <std::size_t N>
std::string names_of(const Named (&table)[N]) {
    std::string out;
    for (const Named &n : table)
        out += std::string(out.empty() ? "" : ", ") + n.name;
    return out;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// "0000:00:04.0" or "00:04.0", normalised to lower case with a domain; empty if not PCI.
std::string pci_identity(std::string_view s) {
    std::string full = s.size() == 7 ? "0000:" + std::string(s) : std::string(s);
    if (full.size() != 12 || full[4] != ':' || full[7] != ':' || full[10] != '.')
        return {};
    for (std::size_t i = 0; i < full.size(); ++i) {
        if (i == 4 || i == 7 || i == 10)
            continue;
        if (!is_hex(full[i]))
            return {};
        if (full[i] >= 'A' && full[i] <= 'F')
            full[i] = char(full[i] - 'A' + 'a');
    }
    if (full[11] > '7')
        return {};
    return full;
}

// "net_<driver>[,args]": the identity is the vdev name before the first comma.
std::string vdev_identity(std::string_view s) {
    if (s.size() < 5 || s.substr(0, 4) != "net_")
        return {};
    for (char c : s)
        if (c <= ' ' || c > '~' || c == '"' || c == '\'')
            return {};
    std::string_view name = s.substr(0, s.find(','));
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return {};
    return std::string(name);
}

const std::string interface_form = "<name> { device \"<pci-or-vdev>\"; zone <zone>; }";
const std::string rule_form = "rule <1..4294967295> { ...; action accept|drop|reject; }";
const std::string nat_static_form =
    "static <name> { interface <interface>; inside <ipv4-address>; outside <ipv4-address>; }";
const std::string nat_source_form = "source <name> { interface <interface>; ... }";
const std::string nat_destination_form =
    "destination <name> { interface <interface>; protocol tcp|udp; port <1..65535>; "
    "to <ipv4-address>; }";
const std::string screen_form = "screen <zone> { syn-flood { ... } source-rate { ... } ... }";
const std::string categories_form =
    "categories { inspect-packets <1..64>; exception <name> { ... } vpn-channel <name> { ... } "
    "malicious { ... } }";
const std::string exception_form =
    "exception <name> { source <prefix>; category <category>; application <name>; "
    "reference \"<text>\"; }";
const std::string vpn_channel_form =
    "vpn-channel <name> { protocol tcp|udp; source <address>; destination <address>; "
    "destination-port <1..65535>; }";
const std::string malicious_form =
    "malicious { domain <name>; address <prefix>; file \"<path>\"; }";
const std::string category_words = "vpn|remote-access|p2p|games|unknown|malicious";
constexpr std::size_t max_pool_addresses = 64;
constexpr uint32_t min_pool_ports = 64; // a slice for each of up to 64 workers

const std::string ipsec_form = "ipsec { max-sas <n>; peer <name> { ... } }";
const std::string ipsec_peer_form =
    "peer <name> { address <address>; pre-shared-key \"<secret>\"; local-subnet <prefix>; "
    "remote-subnet <prefix>; ... }";
constexpr std::size_t min_psk_length = 20;

// Whether `c` may appear in an IKE identity (an address, a name, an e-mail or a
// distinguished name such as "C=KZ, O=Org, CN=gw1"): nothing that could end a quoted value.
bool ipsec_id_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(" .,:=@_*/+-", c);
}

// Why a proposal is not one the gateway accepts, or empty. IKE: encryption, integrity/PRF
// (unless AEAD) and at least one DH group; ESP: the two ciphers the dataplane runs, with an
// optional DH group for perfect forward secrecy.
std::string ipsec_proposal_error(const std::string &text, bool esp) {
    static const char *const groups[] = {"modp2048", "modp3072", "modp4096",   "ecp256",
                                         "ecp384",   "ecp521",   "curve25519", "curve448"};
    auto is_group = [](std::string_view w) {
        return std::find(std::begin(groups), std::end(groups), w) != std::end(groups);
    };
    std::vector<std::string> words;
    for (std::size_t at = 0;;) {
        std::size_t dash = text.find('-', at);
        words.push_back(text.substr(at, dash == std::string::npos ? std::string::npos : dash - at));
        if (dash == std::string::npos)
            break;
        at = dash + 1;
    }
    if (esp) {
        std::size_t cipher_words = words.size() >= 2 && words[1] == "sha256" ? 2 : 1;
        if (words[0] != "aes256gcm16" && !(words[0] == "aes256" && cipher_words == 2))
            return "the dataplane's ESP runs aes256gcm16 or aes256-sha256";
        if (words.size() > cipher_words + 1 ||
            (words.size() == cipher_words + 1 && !is_group(words.back())))
            return "after the cipher only one DH group (for PFS) may follow";
        return {};
    }
    static const char *const ciphers[] = {"aes256", "aes192", "aes128", "aes256gcm16",
                                          "aes128gcm16"};
    static const char *const integrity[] = {"sha256",    "sha384",    "sha512",
                                            "prfsha256", "prfsha384", "prfsha512"};
    unsigned enc = 0, integ = 0, dh = 0;
    bool aead = false;
    for (const std::string &w : words) {
        if (std::find(std::begin(ciphers), std::end(ciphers), w) != std::end(ciphers)) {
            enc++;
            aead = aead || w.find("gcm") != std::string::npos;
        } else if (std::find(std::begin(integrity), std::end(integrity), w) !=
                   std::end(integrity)) {
            integ++;
        } else if (is_group(w)) {
            dh++;
        } else {
            return quoted(w) + " is not an algorithm the gateway accepts";
        }
    }
    if (enc != 1)
        return "one encryption algorithm";
    if (!aead && integ == 0)
        return "an integrity algorithm (sha256, sha384 or sha512) with a non-AEAD cipher";
    if (dh == 0)
        return "at least one DH group";
    return {};
}

class Builder {
public:
    Result<Config> run(const Node &root) {
        if (auto s = top(root); !s)
            return s.error();
        if (auto s = references(); !s)
            return s.error();
        if (auto s = nat_addresses(); !s)
            return s.error();
        if (auto s = ipsec_addresses(); !s)
            return s.error();
        return std::move(_cfg);
    }

private:
    struct Reference {
        std::string name;
        Location where;
        std::string path;
    };

    enum class NatRole : uint8_t { inside, outside, pool, destination };
    struct NatClaim {
        Address address;
        NatRole role;
        std::string owner; // "static web", "source lan"
        Location where;
    };

    Status top(const Node &root) {
        Once once;
        for (const Node &n : root.children) {
            std::string key(n.keyword());
            std::string path = key;
            Status s = Ok{};
            if (key == "interfaces")
                s = section(n, path, "interfaces { <name> { ... } }", once, &Builder::interfaces);
            else if (key == "zones")
                s = section(n, path, "zones { <name> { loop <loop>; } }", once, &Builder::zones);
            else if (key == "policy")
                s = section(n, path, "policy { <interface> { ingress { ... } } }", once,
                            &Builder::policies);
            else if (key == "routes")
                s = section(n, path, "routes { route <prefix> { ... } }", once, &Builder::routes);
            else if (key == "dataplane")
                s = section(n, path, "dataplane { workers <n>; ... }", once, &Builder::dataplane);
            else if (key == "nat")
                s = section(n, path, "nat { static|source|destination <name> { ... } }", once,
                            &Builder::nat);
            else if (key == "security")
                s = section(n, path, "security { categories { ... } screen <zone> { ... } }", once,
                            &Builder::security);
            else if (key == "system")
                s = section(n, path, "system { login { ... } audit { ... } }", once,
                            &Builder::system);
            else if (key == "ipsec")
                s = section(n, path, ipsec_form, once, &Builder::ipsec);
            else
                s = unknown(n, "",
                            {"interfaces", "zones", "policy", "routes", "dataplane", "nat",
                             "security", "system", "ipsec"});
            if (!s)
                return s;
        }
        return Ok{};
    }

    Status section(const Node &n, const std::string &path, const std::string &form, Once &once,
                   Status (Builder::*body)(const Node &, const std::string &)) {
        if (auto s = check_shape(n, path, form, 1, false, true); !s)
            return s;
        if (auto s = once.note(path, n, path); !s)
            return s;
        return (this->*body)(n, path);
    }

    Status interfaces(const Node &n, const std::string &path) {
        Once names;
        for (const Node &c : n.children) {
            std::string p = join_path(path, c.keyword());
            if (auto s = check_shape(c, p, interface_form, 1, false, true); !s)
                return s;
            if (auto s = check_name(c.words[0], p); !s)
                return s;
            if (auto s = names.note(c.words[0].text, c, p); !s)
                return s;
            if (auto s = interface(c, p); !s)
                return s;
        }
        return Ok{};
    }

    Status interface(const Node &n, const std::string &path) {
        Interface ifc;
        ifc.name = n.words[0].text;
        ifc.where = n.where;
        Once once;
        const Word *mtu_word = nullptr;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "address")
                if (auto s = once.note(key, c, p); !s)
                    return s;
            if (key == "device") {
                auto w = scalar(c, p, "device \"<pci-or-vdev>\";");
                if (!w)
                    return w.error();
                if (auto s = device(**w, p, ifc.name); !s)
                    return s;
                ifc.device = (*w)->text;
            } else if (key == "address") {
                if (auto s = read_prefixes(c, p, "address <address>/<length>;", Length::required,
                                           false, ifc.addresses);
                    !s)
                    return s;
            } else if (key == "zone") {
                auto w = scalar(c, p, "zone <zone>;");
                if (!w)
                    return w.error();
                ifc.zone = (*w)->text;
                _zone_refs.push_back({ifc.zone, (*w)->where, p});
            } else if (key == "mtu") {
                auto w = scalar(c, p, "mtu <576..9000>;");
                if (!w)
                    return w.error();
                auto v = number(**w, p, 576, 9000);
                if (!v)
                    return v.error();
                ifc.mtu = uint16_t(*v);
                mtu_word = *w;
            } else if (key == "urpf") {
                if (auto s = choice_leaf<Urpf>(
                        c, p, "urpf strict|loose|off;",
                        {{"strict", Urpf::strict}, {"loose", Urpf::loose}, {"off", Urpf::off}},
                        " is not a uRPF mode",
                        "strict (the route back to the source leaves by this interface), loose "
                        "(some route leads back) or off",
                        ifc.urpf);
                    !s)
                    return s;
            } else if (key == "disable") {
                if (auto s = check_shape(c, p, "disable;", 1, false, false); !s)
                    return s;
                ifc.disabled = true;
            } else {
                return unknown(c, path, {"device", "address", "zone", "mtu", "urpf", "disable"});
            }
        }
        if (!once.has("device"))
            return fail(n.where, path, "missing 'device'", "'device \"<pci-or-vdev>\";'");
        if (!once.has("zone"))
            return fail(n.where, path, "missing 'zone'", "'zone <zone>;'");
        if (mtu_word && ifc.mtu < 1280)
            for (const Prefix &a : ifc.addresses)
                if (a.family == 6)
                    return fail(mtu_word->where, path + " mtu",
                                mtu_word->text + " is too small for IPv6 address " +
                                    format_prefix(a),
                                "1280..9000 on an interface with IPv6");
        _cfg.interfaces.push_back(std::move(ifc));
        return Ok{};
    }

    Status device(const Word &w, const std::string &path, const std::string &ifname) {
        std::string id = pci_identity(w.text);
        if (id.empty())
            id = vdev_identity(w.text);
        if (id.empty())
            return fail(w.where, path, quoted(w.text) + " is not a PCI address or DPDK vdev",
                        "e.g. 0000:00:04.0 or \"net_af_packet0,iface=eth1\"");
        auto [it, fresh] = _devices.emplace(id, std::make_pair(ifname, w.where));
        if (!fresh)
            return fail(w.where, path,
                        quoted(id) + " is already used by interface " + it->second.first + " (at " +
                            it->second.second.to_string() + ")",
                        "a device of its own");
        return Ok{};
    }

    Status zones(const Node &n, const std::string &path) {
        Once names;
        for (const Node &c : n.children) {
            std::string p = join_path(path, c.keyword());
            if (auto s = check_shape(c, p, "<name> { loop <loop>; }", 1, false, true); !s)
                return s;
            if (auto s = check_name(c.words[0], p); !s)
                return s;
            if (auto s = names.note(c.words[0].text, c, p); !s)
                return s;
            if (auto s = zone(c, p); !s)
                return s;
        }
        return Ok{};
    }

    Status zone(const Node &n, const std::string &path) {
        Zone z;
        z.name = n.words[0].text;
        z.where = n.where;
        Once once;
        const std::string loops = "inner, outer, internet or shielded";
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "loop")
                return unknown(c, path, {"loop"});
            if (auto s = once.note(key, c, p); !s)
                return s;
            if (auto s = choice_leaf<Loop>(c, p, "loop inner|outer|internet|shielded;",
                                           {{"inner", Loop::inner},
                                            {"outer", Loop::outer},
                                            {"internet", Loop::internet},
                                            {"shielded", Loop::shielded}},
                                           " is not a loop", loops, z.loop);
                !s)
                return s;
        }
        if (!once.has("loop"))
            return fail(n.where, path, "missing 'loop'", "'loop " + loops + ";'");
        _cfg.zones.push_back(std::move(z));
        return Ok{};
    }

    Status policies(const Node &n, const std::string &path) {
        Once names;
        for (const Node &c : n.children) {
            std::string p = join_path(path, c.keyword());
            if (auto s = check_shape(c, p, "<interface> { ingress { ... } egress { ... } }", 1,
                                     false, true);
                !s)
                return s;
            if (auto s = names.note(c.words[0].text, c, p); !s)
                return s;
            InterfacePolicy pol;
            pol.interface = c.words[0].text;
            pol.where = c.where;
            _interface_refs.push_back({pol.interface, c.words[0].where, p});
            Once once;
            for (const Node &d : c.children) {
                std::string key(d.keyword());
                std::string dp = join_path(p, key);
                std::vector<Rule> *list = nullptr;
                if (key == "ingress")
                    list = &pol.ingress;
                else if (key == "egress")
                    list = &pol.egress;
                else
                    return unknown(d, p, {"ingress", "egress"});
                if (auto s = check_shape(d, dp, key + " { rule <id> { ... } }", 1, false, true); !s)
                    return s;
                if (auto s = once.note(key, d, dp); !s)
                    return s;
                if (auto s = rules(d, dp, *list); !s)
                    return s;
            }
            _cfg.policies.push_back(std::move(pol));
        }
        return Ok{};
    }

    Status rules(const Node &n, const std::string &path, std::vector<Rule> &out) {
        std::map<uint32_t, Location> ids;
        for (const Node &c : n.children) {
            if (c.keyword() != "rule")
                return unknown(c, path, {"rule"});
            std::string p = join_path(path, "rule");
            if (auto s = check_shape(c, p, rule_form, 2, false, true); !s)
                return s;
            auto id = number(c.words[1], p, 1, 4294967295u);
            if (!id)
                return id.error();
            p = join_path(p, c.words[1].text);
            auto [it, fresh] = ids.emplace(uint32_t(*id), c.where);
            if (!fresh)
                return fail(c.where, p,
                            "duplicate rule id (first at " + it->second.to_string() + ")",
                            "ids unique within " + std::string(n.keyword()));
            Rule r;
            r.id = uint32_t(*id);
            r.where = c.where;
            if (auto s = rule(c, p, r); !s)
                return s;
            out.push_back(std::move(r));
        }
        return Ok{};
    }

    Status rule(const Node &n, const std::string &path, Rule &r) {
        Once once;
        const Node *protocol_node = nullptr;
        const Node *ports_node = nullptr;
        const Node *type_node = nullptr;
        const Node *code_node = nullptr;
        const Word *type_word = nullptr;
        struct Seen {
            Prefix prefix;
            const Word *word;
            std::string key;
        };
        std::vector<Seen> prefixes;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            bool repeatable = key == "source" || key == "destination" || key == "source-port" ||
                              key == "destination-port";
            if (!repeatable)
                if (auto s = once.note(key, c, p); !s)
                    return s;
            if (key == "description") {
                auto w = scalar(c, p, "description \"<text>\";");
                if (!w)
                    return w.error();
                r.description = (*w)->text;
            } else if (key == "protocol") {
                auto w = scalar(c, p, "protocol tcp|udp|icmp|icmpv6|<0..255>;");
                if (!w)
                    return w.error();
                auto v = name_or_byte((*w)->text, protocols);
                if (!v)
                    return fail((*w)->where, p, quoted((*w)->text) + " is not a protocol",
                                "tcp, udp, icmp, icmpv6 or 0..255");
                r.protocol = *v;
                protocol_node = &c;
            } else if (key == "source" || key == "destination") {
                auto ws = values(c, p, key + " <prefix>; or " + key + " [ <prefix> ... ];");
                if (!ws)
                    return ws.error();
                for (const Word *w : *ws) {
                    auto a = read_prefix(*w, p, Length::optional, true);
                    if (!a)
                        return a.error();
                    if (!prefixes.empty() && prefixes.front().prefix.family != a->family)
                        return fail(w->where, p,
                                    w->text + " is IPv" + std::to_string(a->family) + " but " +
                                        prefixes.front().key + " " + prefixes.front().word->text +
                                        " is IPv" + std::to_string(prefixes.front().prefix.family),
                                    "one address family per rule");
                    prefixes.push_back({*a, w, key});
                    (key == "source" ? r.sources : r.destinations).push_back(*a);
                }
            } else if (key == "source-port" || key == "destination-port") {
                auto ws = values(c, p, key + " <N|N-M>; or " + key + " [ <N|N-M> ... ];");
                if (!ws)
                    return ws.error();
                for (const Word *w : *ws) {
                    auto range = read_port(*w, p);
                    if (!range)
                        return range.error();
                    (key == "source-port" ? r.source_ports : r.destination_ports).push_back(*range);
                }
                if (!ports_node)
                    ports_node = &c;
            } else if (key == "icmp-type") {
                auto w = scalar(c, p, "icmp-type <name|0..255>;");
                if (!w)
                    return w.error();
                type_node = &c;
                type_word = *w;
            } else if (key == "icmp-code") {
                auto w = scalar(c, p, "icmp-code <0..255>;");
                if (!w)
                    return w.error();
                auto v = number(**w, p, 0, 255);
                if (!v)
                    return v.error();
                r.icmp_code = uint8_t(*v);
                code_node = &c;
            } else if (key == "action") {
                if (auto s = choice_leaf<Action>(c, p, "action accept|drop|reject;",
                                                 {{"accept", Action::accept},
                                                  {"drop", Action::drop},
                                                  {"reject", Action::reject}},
                                                 " is not an action", "accept, drop or reject",
                                                 r.action);
                    !s)
                    return s;
            } else if (key == "log") {
                if (auto s = check_shape(c, p, "log;", 1, false, false); !s)
                    return s;
                r.log = true;
            } else {
                return unknown(c, path,
                               {"description", "protocol", "source", "destination", "source-port",
                                "destination-port", "icmp-type", "icmp-code", "action", "log"});
            }
        }
        if (!once.has("action"))
            return fail(n.where, path, "missing 'action'", "'action accept|drop|reject;'");
        if (!prefixes.empty())
            r.family = prefixes.front().prefix.family;
        bool icmp = r.protocol == proto_icmp || r.protocol == proto_icmpv6;
        if (icmp) {
            uint8_t fam = r.protocol == proto_icmp ? 4 : 6;
            if (r.family != 0 && r.family != fam)
                return fail(protocol_node->words[1].where, path + " protocol",
                            protocol_node->words[1].text + " is for IPv" + std::to_string(fam) +
                                " but " + prefixes.front().key + " " + prefixes.front().word->text +
                                " is IPv" + std::to_string(r.family),
                            fam == 4 ? "icmpv6 with IPv6 prefixes" : "icmp with IPv4 prefixes");
            r.family = fam;
        }
        if (ports_node && r.protocol != proto_tcp && r.protocol != proto_udp)
            return fail(ports_node->where, path + " " + ports_node->words[0].text,
                        "ports need protocol tcp or udp", "'protocol tcp;' or 'protocol udp;'");
        if (type_node) {
            if (!icmp)
                return fail(type_node->where, path + " icmp-type",
                            "icmp-type needs protocol icmp or icmpv6",
                            "'protocol icmp;' or 'protocol icmpv6;'");
            bool v4 = r.protocol == proto_icmp;
            auto v = v4 ? name_or_byte(type_word->text, icmp4_types)
                        : name_or_byte(type_word->text, icmp6_types);
            if (!v)
                return fail(
                    type_word->where, path + " icmp-type",
                    quoted(type_word->text) + " is not an " + (v4 ? "icmp" : "icmpv6") + " type",
                    "0..255 or one of " + (v4 ? names_of(icmp4_types) : names_of(icmp6_types)));
            r.icmp_type = *v;
        }
        if (code_node && !type_node)
            return fail(code_node->where, path + " icmp-code", "icmp-code needs an icmp-type",
                        "'icmp-type <name|0..255>;' in this rule");
        return Ok{};
    }

    Status routes(const Node &n, const std::string &path) {
        std::map<std::string, Location> seen;
        for (const Node &c : n.children) {
            if (c.keyword() != "route")
                return unknown(c, path, {"route"});
            std::string p = join_path(path, "route");
            if (auto s = check_shape(c, p, "route <prefix> { via <address>; interface <name>; }", 2,
                                     false, true);
                !s)
                return s;
            auto prefix = read_prefix(c.words[1], p, Length::optional, true);
            if (!prefix)
                return prefix.error();
            p = join_path(p, c.words[1].text);
            auto [it, fresh] = seen.emplace(format_prefix(*prefix), c.where);
            if (!fresh)
                return fail(c.where, p, "duplicate route (first at " + it->second.to_string() + ")",
                            "one route per prefix");
            Route r;
            r.prefix = *prefix;
            r.where = c.where;
            Once once;
            for (const Node &d : c.children) {
                std::string key(d.keyword());
                std::string dp = join_path(p, key);
                if (key != "via" && key != "interface")
                    return unknown(d, p, {"via", "interface"});
                if (auto s = once.note(key, d, dp); !s)
                    return s;
                auto w = scalar(d, dp, key == "via" ? "via <address>;" : "interface <name>;");
                if (!w)
                    return w.error();
                if (key == "interface") {
                    r.interface = (*w)->text;
                    _interface_refs.push_back({r.interface, (*w)->where, dp});
                    continue;
                }
                auto via = read_prefix(**w, dp, Length::forbidden, false);
                if (!via)
                    return via.error();
                if (via->family != r.prefix.family)
                    return fail((*w)->where, dp,
                                "next hop " + (*w)->text + " is IPv" + std::to_string(via->family) +
                                    " but the route is IPv" + std::to_string(r.prefix.family),
                                "an IPv" + std::to_string(r.prefix.family) + " next hop");
                r.via = *via;
            }
            if (!r.via && r.interface.empty())
                return fail(c.where, p, "missing 'via' or 'interface'",
                            "'via <address>;' and/or 'interface <name>;'");
            _cfg.routes.push_back(std::move(r));
        }
        return Ok{};
    }

    Status dataplane(const Node &n, const std::string &path) {
        Once once;
        Dataplane &dp = _cfg.dataplane;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "workers" && key != "max-flows" && key != "timeouts" && key != "idle-sleep")
                return unknown(c, path, {"workers", "max-flows", "idle-sleep", "timeouts"});
            if (auto s = once.note(key, c, p); !s)
                return s;
            if (key == "timeouts") {
                if (auto s =
                        check_shape(c, p, "timeouts { <kind> <seconds>; ... }", 1, false, true);
                    !s)
                    return s;
                if (auto s = timeouts(c, p); !s)
                    return s;
                continue;
            }
            if (key == "idle-sleep") {
                auto w = scalar(c, p, "idle-sleep <0..1000>; (microseconds)");
                if (!w)
                    return w.error();
                auto v = number(**w, p, 0, 1000);
                if (!v)
                    return v.error();
                dp.idle_sleep_us = uint32_t(*v);
                continue;
            }
            bool workers = key == "workers";
            auto w = scalar(c, p, workers ? "workers <1..64>;" : "max-flows <1024..16777216>;");
            if (!w)
                return w.error();
            auto v = workers ? number(**w, p, 1, 64) : number(**w, p, 1024, 16777216);
            if (!v)
                return v.error();
            if (workers)
                dp.workers = unsigned(*v);
            else
                dp.max_flows = uint32_t(*v);
        }
        return Ok{};
    }

    Status timeouts(const Node &n, const std::string &path) {
        Timeouts &t = _cfg.dataplane.timeouts;
        const std::pair<const char *, uint32_t *> fields[] = {
            {"tcp-syn", &t.tcp_syn},
            {"tcp-established", &t.tcp_established},
            {"tcp-closing", &t.tcp_closing},
            {"tcp-closed", &t.tcp_closed},
            {"udp", &t.udp},
            {"udp-stream", &t.udp_stream},
            {"icmp", &t.icmp},
            {"other", &t.other},
        };
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            uint32_t *field = nullptr;
            std::vector<std::string> allowed;
            for (const auto &[name, ptr] : fields) {
                allowed.push_back(name);
                if (key == name)
                    field = ptr;
            }
            if (!field)
                return unknown(c, path, allowed);
            if (auto s = once.note(key, c, p); !s)
                return s;
            auto w = scalar(c, p, key + " <1..604800>;");
            if (!w)
                return w.error();
            auto v = number(**w, p, 1, 604800);
            if (!v)
                return v.error();
            *field = uint32_t(*v);
        }
        return Ok{};
    }

    // nat { static <name> { ... } source <name> { ... } destination <name> { ... } mss-clamp; }
    Status nat(const Node &n, const std::string &path) {
        Once once, statics, sources, destinations;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key == "mss-clamp") {
                if (auto s = once.note(key, c, p); !s)
                    return s;
                auto w = scalar(c, p, "mss-clamp <536..9000>; (0: off)");
                if (!w)
                    return w.error();
                uint64_t off = 1;
                if (to_number((*w)->text, off) && off == 0) {
                    _cfg.nat.mss_clamp = 0;
                    continue;
                }
                auto v = number(**w, p, 536, 9000);
                if (!v)
                    return v.error();
                _cfg.nat.mss_clamp = uint16_t(*v);
                continue;
            }
            struct Kind {
                Once &names;
                const std::string &form;
                Status (Builder::*body)(const Node &, const std::string &);
            };
            std::optional<Kind> kind;
            if (key == "static")
                kind.emplace(Kind{statics, nat_static_form, &Builder::nat_static});
            else if (key == "source")
                kind.emplace(Kind{sources, nat_source_form, &Builder::nat_source});
            else if (key == "destination")
                kind.emplace(Kind{destinations, nat_destination_form, &Builder::nat_destination});
            else
                return unknown(c, path, {"static", "source", "destination", "mss-clamp"});
            if (auto s = check_shape(c, p, kind->form, 2, false, true); !s)
                return s;
            if (auto s = check_name(c.words[1], p); !s)
                return s;
            p = join_path(p, c.words[1].text);
            if (auto s = kind->names.note(c.words[1].text, c, p); !s)
                return s;
            if (auto s = (this->*kind->body)(c, p); !s)
                return s;
        }
        return Ok{};
    }

    // `interface <name>;` of a NAT rule: checked against the interfaces at the end.
    Status nat_interface(const Node &c, const std::string &p, std::string &out, Location &at) {
        auto w = scalar(c, p, "interface <interface>;");
        if (!w)
            return w.error();
        out = (*w)->text;
        at = (*w)->where;
        _interface_refs.push_back({out, at, p});
        return Ok{};
    }

    Status nat_address(const Node &c, const std::string &p, Address &out) {
        auto w = scalar(c, p, std::string(c.keyword()) + " <ipv4-address>;");
        if (!w)
            return w.error();
        auto a = read_ipv4(**w, p, false);
        if (!a)
            return a.error();
        out = *a;
        return Ok{};
    }

    Status nat_static(const Node &n, const std::string &path) {
        NatStatic st;
        st.name = n.words[1].text;
        st.where = n.where;
        Location interface_at, outside_at;
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "interface" && key != "inside" && key != "outside" && key != "hairpin")
                return unknown(c, path, {"interface", "inside", "outside", "hairpin"});
            if (auto s = once.note(key, c, p); !s)
                return s;
            if (key == "hairpin") {
                if (auto s = check_shape(c, p, "hairpin;", 1, false, false); !s)
                    return s;
                st.hairpin = true;
                continue;
            }
            if (key == "interface") {
                if (auto s = nat_interface(c, p, st.interface, interface_at); !s)
                    return s;
                continue;
            }
            bool inside = key == "inside";
            if (auto s = nat_address(c, p, inside ? st.inside : st.outside); !s)
                return s;
            if (auto s = claim(inside ? NatRole::inside : NatRole::outside,
                               inside ? st.inside : st.outside, "static " + st.name, c.words[1], p);
                !s)
                return s;
            if (!inside)
                outside_at = c.words[1].where;
        }
        const std::pair<const char *, const char *> required[] = {
            {"interface", "'interface <interface>;'"},
            {"inside", "'inside <ipv4-address>;'"},
            {"outside", "'outside <ipv4-address>;'"},
        };
        for (const auto &[key, form] : required)
            if (!once.has(key))
                return fail(n.where, path, "missing '" + std::string(key) + "'", form);
        _static_outside_at.push_back(outside_at);
        _cfg.nat.statics.push_back(std::move(st));
        return Ok{};
    }

    Status nat_source(const Node &n, const std::string &path) {
        NatSource r;
        r.name = n.words[1].text;
        r.where = n.where;
        Location interface_at;
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "from" && key != "pool")
                if (auto s = once.note(key, c, p); !s)
                    return s;
            if (key == "interface") {
                if (auto s = nat_interface(c, p, r.interface, interface_at); !s)
                    return s;
            } else if (key == "from") {
                auto ws = values(c, p, "from <ipv4-prefix>; or from [ <ipv4-prefix> ... ];");
                if (!ws)
                    return ws.error();
                for (const Word *w : *ws) {
                    auto a = read_ipv4(*w, p, true);
                    if (!a)
                        return a.error();
                    r.from.push_back(*a);
                }
            } else if (key == "pool") {
                auto ws = values(c, p, "pool <ipv4-address>; or pool [ <ipv4-address> ... ];");
                if (!ws)
                    return ws.error();
                for (const Word *w : *ws) {
                    auto a = read_ipv4(*w, p, false);
                    if (!a)
                        return a.error();
                    if (r.pool.size() == max_pool_addresses)
                        return fail(w->where, p,
                                    "more than " + std::to_string(max_pool_addresses) +
                                        " pool addresses",
                                    "at most " + std::to_string(max_pool_addresses) +
                                        " addresses in the pool of one source rule");
                    if (auto s = claim(NatRole::pool, *a, "source " + r.name, *w, p); !s)
                        return s;
                    r.pool.push_back(*a);
                }
            } else if (key == "ports") {
                auto w = scalar(c, p, "ports <low>-<high>;");
                if (!w)
                    return w.error();
                auto range = read_port(**w, p);
                if (!range)
                    return range.error();
                uint32_t count = uint32_t(range->high) - range->low + 1;
                if (range->low == 0)
                    return fail((*w)->where, p, quoted((*w)->text) + " includes port 0",
                                "a range within 1..65535, e.g. 1024-65535");
                if (count < min_pool_ports)
                    return fail((*w)->where, p,
                                quoted((*w)->text) + " is " + std::to_string(count) +
                                    (count == 1 ? " port" : " ports") + ", fewer than " +
                                    std::to_string(min_pool_ports),
                                "a range of at least " + std::to_string(min_pool_ports) +
                                    " ports, e.g. 1024-65535");
                r.ports = *range;
            } else if (key == "mapping") {
                if (auto s = choice_leaf<bool>(
                        c, p, "mapping endpoint-independent|endpoint-dependent;",
                        {{"endpoint-independent", true}, {"endpoint-dependent", false}},
                        " is not a mapping", "endpoint-independent or endpoint-dependent",
                        r.endpoint_independent);
                    !s)
                    return s;
            } else if (key == "max-per-source") {
                if (auto s = number_leaf(c, p, {"max-per-source", &r.max_per_source, 0, 1000000});
                    !s)
                    return s;
            } else {
                return unknown(c, path,
                               {"interface", "from", "pool", "ports", "mapping", "max-per-source"});
            }
        }
        if (!once.has("interface"))
            return fail(n.where, path, "missing 'interface'", "'interface <interface>;'");
        _source_interface_at.push_back(interface_at);
        _cfg.nat.sources.push_back(std::move(r));
        return Ok{};
    }

    Status nat_destination(const Node &n, const std::string &path) {
        NatDestination d;
        d.name = n.words[1].text;
        d.where = n.where;
        Location interface_at;
        Once once;
        uint32_t port = 0, to_port = 0;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (auto s = once.note(key, c, p); !s)
                return s;
            Status s = Ok{};
            if (key == "interface") {
                s = nat_interface(c, p, d.interface, interface_at);
            } else if (key == "protocol") {
                if (auto st = choice_leaf<uint8_t>(
                        c, p, "protocol tcp|udp;", {{"tcp", proto_tcp}, {"udp", proto_udp}},
                        " cannot be forwarded: destination NAT needs ports", "tcp or udp",
                        d.protocol);
                    !st)
                    return st;
            } else if (key == "address") {
                Address a;
                if (auto st = nat_address(c, p, a); !st)
                    return st;
                s = claim(NatRole::destination, a, "destination " + d.name, c.words[1], p);
                d.address = a;
            } else if (key == "port") {
                s = number_leaf(c, p, {"port", &port, 1, 65535});
            } else if (key == "to") {
                s = nat_address(c, p, d.to);
            } else if (key == "to-port") {
                s = number_leaf(c, p, {"to-port", &to_port, 1, 65535});
            } else if (key == "hairpin") {
                s = check_shape(c, p, "hairpin;", 1, false, false);
                d.hairpin = true;
            } else {
                return unknown(
                    c, path,
                    {"interface", "protocol", "address", "port", "to", "to-port", "hairpin"});
            }
            if (!s)
                return s;
        }
        const std::pair<const char *, const char *> required[] = {
            {"interface", "'interface <interface>;'"},
            {"protocol", "'protocol tcp|udp;'"},
            {"port", "'port <1..65535>;'"},
            {"to", "'to <ipv4-address>;'"},
        };
        for (const auto &[key, form] : required)
            if (!once.has(key))
                return fail(n.where, path, "missing '" + std::string(key) + "'", form);
        d.port = uint16_t(port);
        d.to_port = uint16_t(to_port);
        _destination_interface_at.push_back(interface_at);
        _cfg.nat.destinations.push_back(std::move(d));
        return Ok{};
    }

    // One NAT role per address, in text order so the second use is the one refused: a
    // static's inside or outside, or one pool. A destination rule may share its address
    // with a pool or another destination rule, never with a static's outside (the static
    // takes every packet for it).
    Status claim(NatRole role, const Address &a, const std::string &owner, const Word &w,
                 const std::string &path) {
        for (const NatClaim &c : _nat_claims) {
            if (c.address != a)
                continue;
            bool destination = role == NatRole::destination || c.role == NatRole::destination;
            bool outside = role == NatRole::outside || c.role == NatRole::outside;
            if (destination && !outside)
                continue;
            const char *was = c.role == NatRole::inside    ? "the inside address of "
                              : c.role == NatRole::outside ? "the outside address of "
                              : c.role == NatRole::pool    ? "in the pool of "
                                                           : "the address of ";
            return fail(w.where, path,
                        w.text + " is already " + was + c.owner + " (at " + c.where.to_string() +
                            ")",
                        destination ? "no destination rule for the outside address of a static"
                                    : "each address in one NAT role: the inside or the outside "
                                      "of one static, or the pool of one source rule");
        }
        _nat_claims.push_back({a, role, owner, w.where});
        return Ok{};
    }

    // Numeric leaves of one block: each `key <lo..hi>;` at most once.
    struct NumberField {
        const char *key;
        uint32_t *field;
        uint64_t lo, hi;
    };
    Status number_leaf(const Node &c, const std::string &p, const NumberField &f) {
        std::string form =
            std::string(f.key) + " <" + std::to_string(f.lo) + ".." + std::to_string(f.hi) + ">;";
        auto w = scalar(c, p, form);
        if (!w)
            return w.error();
        auto v = number(**w, p, f.lo, f.hi);
        if (!v)
            return v.error();
        *f.field = uint32_t(*v);
        return Ok{};
    }

    Status string_leaf(const Node &c, const std::string &p, const std::string &form,
                       std::string &out) {
        auto w = scalar(c, p, form);
        if (!w)
            return w.error();
        if ((*w)->text.empty() || (*w)->text.size() > 255)
            return fail((*w)->where, p, "empty or longer than 255 characters", quoted(form));
        out = (*w)->text;
        return Ok{};
    }

    // security { categories { ... } screen <zone> { ... } }: one categories block, at most
    // one screen per zone; the zone is checked with the other references once the whole
    // file has been read.
    Status security(const Node &n, const std::string &path) {
        std::map<std::string, Location> screened;
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key == "categories") {
                if (auto s = check_shape(c, p, categories_form, 1, false, true); !s)
                    return s;
                if (auto s = once.note(key, c, p); !s)
                    return s;
                if (auto s = categories(c, p); !s)
                    return s;
                continue;
            }
            if (key != "screen")
                return unknown(c, path, {"categories", "screen"});
            if (auto s = check_shape(c, p, screen_form, 2, false, true); !s)
                return s;
            if (auto s = check_name(c.words[1], p); !s)
                return s;
            p = join_path(p, c.words[1].text);
            auto [it, fresh] = screened.emplace(c.words[1].text, c.where);
            if (!fresh)
                return fail(c.where, p,
                            "duplicate screen for zone " + c.words[1].text + " (first at " +
                                it->second.to_string() + ")",
                            "one screen per zone");
            if (auto s = screen(c, p); !s)
                return s;
        }
        return Ok{};
    }

    // One defence block of a screen: numeric fields, an action of `actions`, and for
    // spoofing the `bogons` list. `rate`, when set, is checked as a token bucket: its burst
    // may not be below its rate (`rate_key` names the rate field).
    struct Defence {
        const char *key;
        std::vector<NumberField> fields;
        ScreenAction *action;
        std::vector<ScreenAction> actions;
        ScreenRate *rate = nullptr;
        const char *rate_key = nullptr;
        std::vector<Prefix> *bogons = nullptr;
    };

    Status screen(const Node &n, const std::string &path) {
        Screen sc;
        sc.zone = n.words[1].text;
        sc.where = n.where;
        _zone_refs.push_back({sc.zone, n.words[1].where, path});
        using A = ScreenAction;
        const Defence defences[] = {
            {"syn-flood",
             {{"threshold", &sc.syn_threshold, 0, 1000000}},
             &sc.syn_action,
             {A::cookie, A::drop, A::alarm, A::off}},
            {"source-rate",
             {{"new-per-second", &sc.source_rate.per_second, 1, 10000000},
              {"burst", &sc.source_rate.burst, 1, 10000000},
              {"concurrent", &sc.concurrent, 0, 10000000}},
             &sc.source_rate.action,
             {A::drop, A::block, A::alarm, A::off},
             &sc.source_rate,
             "new-per-second"},
            {"icmp-flood",
             {{"per-second", &sc.icmp_flood.per_second, 1, 10000000},
              {"burst", &sc.icmp_flood.burst, 1, 10000000}},
             &sc.icmp_flood.action,
             {A::drop, A::block, A::alarm, A::off},
             &sc.icmp_flood,
             "per-second"},
            {"udp-flood",
             {{"per-second", &sc.udp_flood.per_second, 1, 10000000},
              {"burst", &sc.udp_flood.burst, 1, 10000000}},
             &sc.udp_flood.action,
             {A::drop, A::block, A::alarm, A::off},
             &sc.udp_flood,
             "per-second"},
            {"scan",
             {{"hosts", &sc.scan_hosts, 2, 65536},
              {"ports", &sc.scan_ports, 2, 65536},
              {"window", &sc.scan_window, 1, 3600}},
             &sc.scan_action,
             {A::alarm, A::block, A::off}},
            {"tcp-flags", {}, &sc.tcp_flags, {A::drop, A::alarm, A::off}},
            {"spoofing",
             {},
             &sc.spoofing,
             {A::drop, A::alarm, A::off},
             nullptr,
             nullptr,
             &sc.bogons},
            {"ip-options", {}, &sc.ip_options, {A::drop, A::alarm, A::off}},
            {"fragments", {}, &sc.fragments, {A::drop, A::off}},
        };
        std::vector<std::string> allowed{"block-time"};
        for (const Defence &d : defences)
            allowed.push_back(d.key);
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            const Defence *d = nullptr;
            for (const Defence &x : defences)
                if (key == x.key)
                    d = &x;
            if (!d && key != "block-time")
                return unknown(c, path, allowed);
            if (auto s = once.note(key, c, p); !s)
                return s;
            Status s =
                d ? defence(c, p, *d) : number_leaf(c, p, {"block-time", &sc.block_time, 1, 86400});
            if (!s)
                return s;
        }
        _cfg.security.screens.push_back(std::move(sc));
        return Ok{};
    }

    // "drop, block, alarm or off"
    static std::string action_list(const std::vector<ScreenAction> &actions) {
        std::string out;
        for (std::size_t i = 0; i < actions.size(); ++i)
            out += std::string(i == 0                    ? ""
                               : i + 1 == actions.size() ? " or "
                                                         : ", ") +
                   screen_action_name(actions[i]);
        return out;
    }

    Status defence(const Node &n, const std::string &path, const Defence &d) {
        std::string form = std::string(d.key) + " {";
        for (const NumberField &f : d.fields)
            form += " " + std::string(f.key) + " <" + std::to_string(f.lo) + ".." +
                    std::to_string(f.hi) + ">;";
        std::string actions;
        for (ScreenAction a : d.actions)
            actions += std::string(actions.empty() ? "" : "|") + screen_action_name(a);
        form += " action " + actions + ";" + (d.bogons ? " bogons [ <prefix> ... ];" : "") + " }";
        if (auto s = check_shape(n, path, form, 1, false, true); !s)
            return s;
        std::vector<std::string> allowed;
        for (const NumberField &f : d.fields)
            allowed.push_back(f.key);
        allowed.push_back("action");
        if (d.bogons)
            allowed.push_back("bogons");
        std::map<std::string, const Word *> given;
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (d.bogons && key == "bogons") {
                auto ws = values(c, p, "bogons <prefix>; or bogons [ <prefix> ... ];");
                if (!ws)
                    return ws.error();
                for (const Word *w : *ws) {
                    auto a = read_prefix(*w, p, Length::optional, true);
                    if (!a)
                        return a.error();
                    // Every packet from the zone is checked against the list, one prefix
                    // after another: it stays short.
                    if (d.bogons->size() == max_bogons)
                        return fail(w->where, p,
                                    "more than " + std::to_string(max_bogons) + " prefixes",
                                    "at most " + std::to_string(max_bogons) +
                                        " (R128-e: the list is checked for every packet); "
                                        "merge them into shorter prefixes");
                    d.bogons->push_back(*a);
                }
                continue;
            }
            const NumberField *f = nullptr;
            for (const NumberField &x : d.fields)
                if (key == x.key)
                    f = &x;
            if (!f && key != "action")
                return unknown(c, path, allowed);
            if (auto s = once.note(key, c, p); !s)
                return s;
            if (f) {
                if (auto s = number_leaf(c, p, *f); !s)
                    return s;
                given[key] = &c.words[1];
                continue;
            }
            auto w = scalar(c, p, "action " + actions + ";");
            if (!w)
                return w.error();
            const std::string &v = (*w)->text;
            std::optional<ScreenAction> a;
            for (ScreenAction x : {ScreenAction::off, ScreenAction::alarm, ScreenAction::drop,
                                   ScreenAction::block, ScreenAction::cookie})
                if (v == screen_action_name(x))
                    a = x;
            if (!a)
                return fail((*w)->where, p, quoted(v) + " is not an action",
                            action_list(d.actions));
            if (std::find(d.actions.begin(), d.actions.end(), *a) == d.actions.end())
                return fail((*w)->where, p,
                            quoted(v) + " is not an action of " + std::string(d.key),
                            action_list(d.actions));
            *d.action = *a;
        }
        if (d.rate && d.rate->burst < d.rate->per_second) {
            const std::string rate_key = d.rate_key;
            std::string rate = std::to_string(d.rate->per_second);
            std::string burst = std::to_string(d.rate->burst);
            if (const Word *b = given["burst"])
                return fail(b->where, path + " burst",
                            burst + " is below " + rate_key + " " + rate +
                                ": a source could never send a second's worth at once",
                            "a burst of at least " + rate);
            const Word *r = given[rate_key]; // the defaults hold, so the rate was given
            return fail(r ? r->where : n.where, path + " " + rate_key,
                        rate + " is above the default burst " + burst,
                        "at most " + burst + ", or 'burst <" + rate + "..10000000>;' as well");
        }
        return Ok{};
    }

    // categories { ... }: the six categories are always blocked (R134-1). The block holds
    // the inspection budget, the only ways through (exceptions on official request, R134-2
    // and R133-3; agreed VPN channels, R133-4) and the malicious lists.
    Status categories(const Node &n, const std::string &path) {
        Categories &cat = _cfg.security.categories;
        cat.where = n.where;
        Once once;
        std::map<std::string, Location> exceptions, channels;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key == "exception" || key == "vpn-channel") {
                if (auto s = named_category_entry(c, p, exceptions, channels); !s)
                    return s;
                continue;
            }
            if (key != "inspect-packets" && key != "inspected-flows" && key != "reset" &&
                key != "malicious")
                return unknown(c, path,
                               {"inspect-packets", "inspected-flows", "reset", "exception",
                                "vpn-channel", "malicious"});
            if (auto s = once.note(key, c, p); !s)
                return s;
            Status s = Ok{};
            if (key == "inspect-packets") {
                s = number_leaf(c, p, {"inspect-packets", &cat.inspect_packets, 1, 64});
            } else if (key == "inspected-flows") {
                s = number_leaf(c, p, {"inspected-flows", &cat.inspected_flows, 256, 1048576});
            } else if (key == "reset") {
                s = choice_leaf<bool>(c, p, "reset on|off;", {{"on", true}, {"off", false}},
                                      " is not on or off",
                                      "on (a blocked TCP flow gets a RST each way) or off (its "
                                      "packets are dropped silently)",
                                      cat.reset);
            } else {
                if (auto st = check_shape(c, p, malicious_form, 1, false, true); !st)
                    return st;
                s = malicious(c, p);
            }
            if (!s)
                return s;
        }
        return Ok{};
    }

    // `exception <name> { ... }` or `vpn-channel <name> { ... }`: unique names within their
    // kind, and a bounded number of each.
    Status named_category_entry(const Node &c, const std::string &path,
                                std::map<std::string, Location> &exceptions,
                                std::map<std::string, Location> &channels) {
        const Categories &cat = _cfg.security.categories;
        bool exception = c.keyword() == "exception";
        if (auto s =
                check_shape(c, path, exception ? exception_form : vpn_channel_form, 2, false, true);
            !s)
            return s;
        if (auto s = check_name(c.words[1], path); !s)
            return s;
        const std::string &name = c.words[1].text;
        std::string p = join_path(path, name);
        const std::string what = exception ? "exception" : "vpn-channel";
        auto [it, fresh] = (exception ? exceptions : channels).emplace(name, c.where);
        if (!fresh)
            return fail(c.where, p,
                        "duplicate " + what + " " + name + " (first at " + it->second.to_string() +
                            ")",
                        "a name of its own for each " + what);
        std::size_t count = exception ? cat.exceptions.size() : cat.vpn_channels.size();
        std::size_t most = exception ? max_category_exceptions : max_vpn_channels;
        if (count == most)
            return fail(c.where, p,
                        "more than " + std::to_string(most) +
                            (exception ? " exceptions" : " VPN channels"),
                        "at most " + std::to_string(most) +
                            (exception ? "; one exception may hold several sources, "
                                         "categories and applications"
                                       : ""));
        return exception ? category_exception(c, p) : vpn_channel(c, p);
    }

    // An unblocking on official request (R134-2): what it lets through (categories and
    // applications), for whom (sources; any when absent) and the request (reference).
    Status category_exception(const Node &n, const std::string &path) {
        CategoryException e;
        e.name = n.words[1].text;
        e.where = n.where;
        Once once;
        std::map<std::string, Location> allowed; // "category p2p", "application SSH"
        auto allow_once = [&](const Word &w, const std::string &kind,
                              const std::string &p) -> Status {
            auto [it, fresh] = allowed.emplace(kind + " " + w.text, w.where);
            if (fresh)
                return Ok{};
            return fail(w.where, p,
                        quoted(w.text) + " is listed twice (first at " + it->second.to_string() +
                            ")",
                        "each " + kind + " once per exception");
        };
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "source" && key != "organization" && key != "category" &&
                key != "application" && key != "reference")
                return unknown(c, path,
                               {"source", "organization", "category", "application", "reference"});
            if (key == "organization" || key == "reference")
                if (auto s = once.note(key, c, p); !s)
                    return s;
            if (key == "organization") {
                if (auto s = string_leaf(c, p, "organization \"<text>\";", e.organization); !s)
                    return s;
            } else if (key == "reference") {
                if (auto s = string_leaf(c, p, "reference \"<text>\";", e.reference); !s)
                    return s;
            } else if (key == "source") {
                if (auto s = read_prefixes(c, p, "source <prefix>; or source [ <prefix> ... ];",
                                           Length::optional, true, e.sources);
                    !s)
                    return s;
            } else if (key == "category") {
                auto ws = values(c, p, "category <category>; or category [ <category> ... ];");
                if (!ws)
                    return ws.error();
                for (const Word *w : *ws) {
                    auto cat = category_from_name(w->text);
                    if (!cat)
                        return fail(w->where, p, "unknown category " + quoted(w->text),
                                    category_words);
                    if (auto s = allow_once(*w, "category", p); !s)
                        return s;
                    e.categories = uint8_t(e.categories | category_bit(*cat));
                }
            } else {
                auto ws = values(c, p, "application <name>; or application [ <name> ... ];");
                if (!ws)
                    return ws.error();
                for (const Word *w : *ws) {
                    if (!is_application_name(w->text))
                        return fail(w->where, p,
                                    quoted(w->text) + " is not an nDPI application name",
                                    "1..32 letters, digits, '_', '.' or '-', e.g. BitTorrent "
                                    "or SSH");
                    if (auto s = allow_once(*w, "application", p); !s)
                        return s;
                    e.applications.push_back(w->text);
                }
            }
        }
        if (!once.has("reference"))
            return fail(n.where, path,
                        "exception " + e.name +
                            " needs a reference (the official request, "
                            "R134-2)",
                        "'reference \"<text>\";'");
        if (e.categories == 0 && e.applications.empty())
            return fail(n.where, path, "exception " + e.name + " unblocks nothing",
                        "at least one 'category <category>;' or 'application <name>;'");
        _cfg.security.categories.exceptions.push_back(std::move(e));
        return Ok{};
    }

    // An agreed VPN channel (R133-4): one protocol between two single addresses of one
    // family, to one destination port.
    Status vpn_channel(const Node &n, const std::string &path) {
        VpnChannel v;
        v.name = n.words[1].text;
        v.where = n.where;
        Once once;
        uint32_t source_port = 0, destination_port = 0;
        const Node *second_address = nullptr; // of source and destination, the later one
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "protocol" && key != "source" && key != "destination" &&
                key != "destination-port" && key != "source-port")
                return unknown(
                    c, path,
                    {"protocol", "source", "destination", "destination-port", "source-port"});
            if (auto s = once.note(key, c, p); !s)
                return s;
            if (key == "protocol") {
                if (auto s = choice_leaf<uint8_t>(
                        c, p, "protocol tcp|udp;", {{"tcp", proto_tcp}, {"udp", proto_udp}},
                        " is not a VPN channel protocol", "tcp or udp", v.protocol);
                    !s)
                    return s;
            } else if (key == "source" || key == "destination") {
                auto w = scalar(c, p, key + " <address>;");
                if (!w)
                    return w.error();
                auto a = read_host(**w, p);
                if (!a)
                    return a.error();
                (key == "source" ? v.source : v.destination) = *a;
                if (once.has("source") && once.has("destination"))
                    second_address = &c;
            } else {
                bool destination = key == "destination-port";
                if (auto s =
                        number_leaf(c, p,
                                    {destination ? "destination-port" : "source-port",
                                     destination ? &destination_port : &source_port, 1, 65535});
                    !s)
                    return s;
            }
        }
        const std::pair<const char *, const char *> required[] = {
            {"protocol", "'protocol tcp|udp;'"},
            {"source", "'source <address>;'"},
            {"destination", "'destination <address>;'"},
            {"destination-port", "'destination-port <1..65535>;'"},
        };
        for (const auto &[key, form] : required)
            if (!once.has(key))
                return fail(n.where, path, "missing '" + std::string(key) + "'", form);
        if (v.source.family != v.destination.family) {
            const Word &w = second_address->words[1];
            bool dst = second_address->keyword() == "destination";
            const Address &other = dst ? v.source : v.destination;
            return fail(w.where, path + " " + std::string(second_address->keyword()),
                        w.text + " is IPv" +
                            std::to_string(dst ? v.destination.family : v.source.family) + " but " +
                            (dst ? "source " : "destination ") + format_address(other) + " is IPv" +
                            std::to_string(other.family),
                        "one address family per channel");
        }
        v.source_port = uint16_t(source_port);
        v.destination_port = uint16_t(destination_port);
        for (const VpnChannel &o : _cfg.security.categories.vpn_channels)
            if (o.protocol == v.protocol && o.source == v.source &&
                o.destination == v.destination && o.source_port == v.source_port &&
                o.destination_port == v.destination_port)
                return fail(n.where, path,
                            std::string(v.protocol == proto_tcp ? "tcp " : "udp ") +
                                format_address(v.source) + " -> " + format_address(v.destination) +
                                " port " + std::to_string(v.destination_port) +
                                " is already agreed by vpn-channel " + o.name + " (at " +
                                o.where.to_string() + ")",
                            "one vpn-channel per protocol, addresses and ports");
        _cfg.security.categories.vpn_channels.push_back(std::move(v));
        return Ok{};
    }

    // malicious { domain ...; address ...; file ...; }: blocked as category malicious. The
    // files are read by the dataplane, not here: only their names are checked.
    Status malicious(const Node &n, const std::string &path) {
        Categories &cat = _cfg.security.categories;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "domain" && key != "address" && key != "file")
                return unknown(c, path, {"domain", "address", "file"});
            std::string value = key == "file"     ? "\"<path>\""
                                : key == "domain" ? "<name>"
                                                  : "<prefix>";
            auto ws = values(c, p, key + " " + value + "; or " + key + " [ " + value + " ... ];");
            if (!ws)
                return ws.error();
            for (const Word *w : *ws) {
                if (key == "domain") {
                    auto d = dns_name(w->text);
                    if (!d)
                        return fail(w->where, p, quoted(w->text) + " is not a DNS name",
                                    "labels of letters, digits, '-' or '_' joined by dots, at "
                                    "most 253 characters, e.g. malware.example");
                    cat.malicious_domains.push_back(std::move(*d));
                } else if (key == "address") {
                    auto a = read_prefix(*w, p, Length::optional, true);
                    if (!a)
                        return a.error();
                    cat.malicious_addresses.push_back(*a);
                } else {
                    if (w->text.empty() || w->text[0] != '/' || w->text.size() > 255)
                        return fail(w->where, p,
                                    quoted(w->text) + " is not an absolute path of at most 255 "
                                                      "characters",
                                    "e.g. \"/etc/qorgan/malicious.list\"");
                    if (cat.malicious_files.size() == max_malicious_files)
                        return fail(w->where, p,
                                    "more than " + std::to_string(max_malicious_files) + " files",
                                    "at most " + std::to_string(max_malicious_files) +
                                        "; merge the lists into fewer files");
                    cat.malicious_files.push_back(w->text);
                }
            }
        }
        return Ok{};
    }

    Status system(const Node &n, const std::string &path) {
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "host-name" && key != "login" && key != "audit")
                return unknown(c, path, {"host-name", "login", "audit"});
            if (auto s = once.note(key, c, p); !s)
                return s;
            Status s = Ok{};
            if (key == "host-name") {
                auto w = scalar(c, p, "host-name <name>;");
                if (!w)
                    return w.error();
                if (auto st = check_name(**w, p); !st)
                    return st;
                _cfg.system.host_name = (*w)->text;
            } else if (key == "login") {
                if (auto st = check_shape(c, p, "login { ... }", 1, false, true); !st)
                    return st;
                s = login(c, p);
            } else {
                if (auto st = check_shape(c, p, "audit { ... }", 1, false, true); !st)
                    return st;
                s = audit(c, p);
            }
            if (!s)
                return s;
        }
        return Ok{};
    }

    Status login(const Node &n, const std::string &path) {
        LoginSettings &l = _cfg.system.login;
        const NumberField fields[] = {
            {"idle-timeout", &l.idle_timeout, 1, 86400},
            {"session-lifetime", &l.session_lifetime, 60, 604800},
            {"lockout-failures", &l.lockout_failures, 1, 100},
            {"lockout-time", &l.lockout_time, 1, 86400},
            {"alert-failures", &l.alert_failures, 1, 100},
            {"alert-refusals", &l.alert_refusals, 1, 100},
        };
        std::vector<std::string> allowed{"password", "level"};
        for (const auto &f : fields)
            allowed.push_back(f.key);
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key == "level") {
                if (auto s = level(c, p); !s)
                    return s;
                continue;
            }
            if (auto s = once.note(key, c, p); !s)
                return s;
            if (key == "password") {
                if (auto s = check_shape(c, p, "password { min-length <n>; ... }", 1, false, true);
                    !s)
                    return s;
                if (auto s = password(c, p); !s)
                    return s;
                continue;
            }
            const NumberField *f = nullptr;
            for (const auto &x : fields)
                if (key == x.key)
                    f = &x;
            if (!f)
                return unknown(c, path, allowed);
            if (auto s = number_leaf(c, p, *f); !s)
                return s;
        }
        return Ok{};
    }

    Status password(const Node &n, const std::string &path) {
        PasswordSettings &pw = _cfg.system.login.password;
        const NumberField fields[] = {
            {"min-length", &pw.min_length, 8, 128},
            {"min-classes", &pw.min_classes, 1, 4},
            {"history", &pw.history, 0, 24},
            {"max-age", &pw.max_age_days, 0, 3650},
        };
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            const NumberField *f = nullptr;
            for (const auto &x : fields)
                if (key == x.key)
                    f = &x;
            if (!f)
                return unknown(c, path, {"min-length", "min-classes", "history", "max-age"});
            if (auto s = once.note(key, c, p); !s)
                return s;
            if (auto s = number_leaf(c, p, *f); !s)
                return s;
        }
        return Ok{};
    }

    // level <0..15> { class [ view network ... ]; }
    Status level(const Node &n, const std::string &path) {
        const std::string form = "level <0..15> { class [ <class> ... ]; }";
        if (auto s = check_shape(n, path, form, 2, false, true); !s)
            return s;
        auto lv = number(n.words[1], path, 0, 15);
        if (!lv)
            return lv.error();
        std::string p = path + " " + n.words[1].text;
        LoginSettings &l = _cfg.system.login;
        if (l.levels[*lv])
            return fail(n.where, p,
                        "duplicate level (first at " + l.level_where[*lv].to_string() + ")",
                        "each level at most once");
        std::vector<std::string> names;
        for (unsigned i = 0; i < command_class_count; i++)
            names.push_back(class_name(static_cast<CommandClass>(i)));
        ClassMask mask = 0;
        bool seen_class = false;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string cp = join_path(p, key);
            if (key != "class")
                return unknown(c, p, {"class"});
            if (seen_class)
                return fail(c.where, cp, "duplicate statement", "'class' at most once here");
            seen_class = true;
            auto vs = values(c, cp, "class [ <class> ... ];");
            if (!vs)
                return vs.error();
            for (const Word *w : *vs) {
                auto cls = class_from_name(w->text);
                if (!cls)
                    return fail(w->where, cp, "unknown command class " + quoted(w->text),
                                one_of(names));
                mask |= class_bit(*cls);
            }
        }
        // Separation of duties (R102-2): no level both administers the network and the
        // people or the audit trail that watch it.
        ClassMask admin =
            class_bit(CommandClass::security) | class_bit(CommandClass::audit_settings);
        if ((mask & admin) && (mask & class_bit(CommandClass::network)))
            return fail(n.where, p,
                        "R102-2 forbids an all-powerful level: 'network' cannot be combined "
                        "with 'security' or 'audit-settings'",
                        "separate levels for the network and the security administrator");
        l.levels[*lv] = mask;
        l.level_where[*lv] = n.where;
        return Ok{};
    }

    Status audit(const Node &n, const std::string &path) {
        AuditSettings &a = _cfg.system.audit;
        Once once;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key != "retention" && key != "warn-percent" && key != "syslog")
                return unknown(c, path, {"retention", "warn-percent", "syslog"});
            if (auto s = once.note(key, c, p); !s)
                return s;
            if (key == "retention") {
                auto w = scalar(c, p, "retention <days>;");
                if (!w)
                    return w.error();
                auto v = number(**w, p, 0, 36500);
                if (!v)
                    return v.error();
                if (*v < 1095)
                    return fail((*w)->where, p,
                                "R38-4 requires event logs to be kept at least 3 years; " +
                                    (*w)->text + " days is less",
                                "1095..36500 days");
                a.retention_days = uint32_t(*v);
            } else if (key == "warn-percent") {
                if (auto s = number_leaf(c, p, {"warn-percent", &a.warn_percent, 50, 99}); !s)
                    return s;
            } else {
                if (auto s = check_shape(c, p, "syslog { server <address>; ca-file \"<path>\"; }",
                                         1, false, true);
                    !s)
                    return s;
                if (auto s = syslog(c, p); !s)
                    return s;
            }
        }
        return Ok{};
    }

    Status syslog(const Node &n, const std::string &path) {
        SyslogTarget t;
        Once once;
        uint32_t port = t.port;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (auto s = once.note(key, c, p); !s)
                return s;
            Status s = Ok{};
            if (key == "server")
                s = string_leaf(c, p, "server <address-or-name>;", t.server);
            else if (key == "port")
                s = number_leaf(c, p, {"port", &port, 1, 65535});
            else if (key == "ca-file")
                s = string_leaf(c, p, "ca-file \"<path>\";", t.ca_file);
            else if (key == "certificate")
                s = string_leaf(c, p, "certificate \"<path>\";", t.certificate);
            else if (key == "key")
                s = string_leaf(c, p, "key \"<path>\";", t.key);
            else if (key == "server-name")
                s = string_leaf(c, p, "server-name <name>;", t.server_name);
            else
                return unknown(c, path,
                               {"server", "port", "ca-file", "certificate", "key", "server-name"});
            if (!s)
                return s;
        }
        t.port = uint16_t(port);
        if (t.server.empty())
            return fail(n.where, path, "missing 'server'", "'server <address-or-name>;'");
        if (t.ca_file.empty())
            return fail(n.where, path,
                        "missing 'ca-file': the log server's certificate must be verified",
                        "'ca-file \"<path>\";'");
        if (t.certificate.empty() != t.key.empty())
            return fail(n.where, path, "a client certificate needs both 'certificate' and 'key'",
                        "both or neither");
        _cfg.system.audit.syslog = std::move(t);
        return Ok{};
    }

    // Zones and interfaces may be named before they are defined: check them last.
    // ipsec { max-sas <n>; peer <name> { ... } }
    Status ipsec(const Node &n, const std::string &path) {
        Once once;
        std::map<std::string, Location> names;
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            if (key == "max-sas") {
                if (auto s = once.note(key, c, p); !s)
                    return s;
                if (auto s = number_leaf(c, p, {"max-sas", &_cfg.ipsec.max_sas, 16, 65536}); !s)
                    return s;
            } else if (key == "peer") {
                if (auto s = check_shape(c, p, ipsec_peer_form, 2, false, true); !s)
                    return s;
                if (auto s = check_name(c.words[1], p); !s)
                    return s;
                std::string pp = join_path(p, c.words[1].text);
                auto [it, fresh] = names.emplace(c.words[1].text, c.where);
                if (!fresh)
                    return fail(c.where, pp,
                                "duplicate peer " + c.words[1].text + " (first at " +
                                    it->second.to_string() + ")",
                                "a name of its own for each peer");
                if (_cfg.ipsec.peers.size() == max_ipsec_peers)
                    return fail(c.where, pp,
                                "more than " + std::to_string(max_ipsec_peers) + " peers",
                                "at most " + std::to_string(max_ipsec_peers) +
                                    "; one peer may carry several subnets");
                if (auto s = ipsec_peer(c, pp); !s)
                    return s;
            } else {
                return unknown(c, path, {"max-sas", "peer"});
            }
        }
        return Ok{};
    }

    Status ipsec_text(const Node &c, const std::string &p, const std::string &form,
                      std::string &out, bool (*allowed)(char), const std::string &expected) {
        if (auto s = string_leaf(c, p, form, out); !s)
            return s;
        for (char ch : out)
            if (!allowed(ch))
                return fail(c.words[1].where, p,
                            quoted(std::string(1, ch)) + " is not allowed here", expected);
        return Ok{};
    }

    Status ipsec_peer(const Node &n, const std::string &path) {
        IpsecPeer peer;
        peer.name = n.words[1].text;
        peer.where = n.where;
        Once once;
        uint32_t dpd = peer.dpd_s, ike_life = peer.ike_lifetime_s, life = peer.lifetime_s;
        auto path_char = [](char ch) { return ch != '"' && ch != '\\' && ch != ' '; };
        auto secret_char = [](char ch) { return ch != '"' && ch != '\\'; };
        auto id_expected = std::string("letters, digits, spaces and . , : = @ _ * / + -");
        for (const Node &c : n.children) {
            std::string key(c.keyword());
            std::string p = join_path(path, key);
            bool repeatable = key == "local-subnet" || key == "remote-subnet" ||
                              key == "ike-proposal" || key == "esp-proposal";
            if (!repeatable)
                if (auto s = once.note(key, c, p); !s)
                    return s;
            Status s = Ok{};
            if (key == "address" || key == "local-address") {
                auto w = scalar(c, p, key + " <address>;");
                if (!w)
                    return w.error();
                auto a = read_host(**w, p);
                if (!a)
                    return a.error();
                (key == "address" ? peer.address : peer.local_address) = *a;
            } else if (key == "local-id" || key == "remote-id") {
                s = ipsec_text(c, p, key + " \"<identity>\";",
                               key == "local-id" ? peer.local_id : peer.remote_id, ipsec_id_char,
                               id_expected);
            } else if (key == "pre-shared-key") {
                s = ipsec_text(c, p, "pre-shared-key \"<secret>\";", peer.psk, secret_char,
                               "any character but a double quote or a backslash");
                if (s && peer.psk.size() < min_psk_length)
                    return fail(c.words[1].where, p,
                                "the key is " + std::to_string(peer.psk.size()) +
                                    " characters long",
                                "at least " + std::to_string(min_psk_length) +
                                    " characters (R128-h: a guessable key protects nothing)");
            } else if (key == "certificate" || key == "private-key" || key == "ca") {
                std::string &out = key == "certificate"   ? peer.certificate
                                   : key == "private-key" ? peer.private_key
                                                          : peer.ca;
                s = ipsec_text(c, p, key + " \"<absolute path of a PEM file>\";", out, path_char,
                               "an absolute path without spaces or quotes");
                if (s && out[0] != '/')
                    return fail(c.words[1].where, p, quoted(out) + " is not an absolute path",
                                "a path from /, e.g. /etc/qorgan/ipsec/gw.pem");
            } else if (key == "ike-proposal" || key == "esp-proposal") {
                auto ws = values(c, p, key + " <proposal>; or " + key + " [ <proposal> ... ];");
                if (!ws)
                    return ws.error();
                bool esp = key == "esp-proposal";
                for (const Word *w : *ws) {
                    std::string why = ipsec_proposal_error(w->text, esp);
                    if (!why.empty())
                        return fail(w->where, p, quoted(w->text) + " is refused",
                                    esp ? why + ", e.g. aes256gcm16 or aes256-sha256-modp3072"
                                        : why + ", e.g. aes256-sha256-modp3072");
                    (esp ? peer.esp_proposals : peer.ike_proposals).push_back(w->text);
                }
            } else if (key == "local-subnet" || key == "remote-subnet") {
                s = read_prefixes(c, p, key + " <prefix>; or " + key + " [ <prefix> ... ];",
                                  Length::optional, true,
                                  key == "local-subnet" ? peer.local_subnets : peer.remote_subnets);
            } else if (key == "ike-lifetime") {
                s = number_leaf(c, p, {"ike-lifetime", &ike_life, 300, 86400});
            } else if (key == "lifetime") {
                s = number_leaf(c, p, {"lifetime", &life, 60, 86400});
            } else if (key == "lifetime-bytes" || key == "lifetime-packets") {
                auto w = scalar(c, p, key + " <0..4611686018427387904>;");
                if (!w)
                    return w.error();
                auto v = number(**w, p, 0, uint64_t(1) << 62);
                if (!v)
                    return v.error();
                (key == "lifetime-bytes" ? peer.lifetime_bytes : peer.lifetime_packets) = *v;
            } else if (key == "dpd") {
                s = number_leaf(c, p, {"dpd", &dpd, 0, 3600});
            } else if (key == "start-action") {
                s = choice_leaf<IpsecStart>(
                    c, p, "start-action start|trap|none;",
                    {{"start", IpsecStart::start},
                     {"trap", IpsecStart::trap},
                     {"none", IpsecStart::none}},
                    " is not a start action",
                    "start (negotiate at once), trap (when traffic needs the tunnel) or none "
                    "(the peer starts it)",
                    peer.start);
            } else if (key == "encapsulation") {
                s = check_shape(c, p, "encapsulation;", 1, false, false);
                peer.encap = true;
            } else {
                return unknown(c, path,
                               {"address", "local-address", "local-id", "remote-id",
                                "pre-shared-key", "certificate", "private-key", "ca",
                                "ike-proposal", "esp-proposal", "local-subnet", "remote-subnet",
                                "ike-lifetime", "lifetime", "lifetime-bytes", "lifetime-packets",
                                "dpd", "start-action", "encapsulation"});
            }
            if (!s)
                return s;
        }
        if (!once.has("address"))
            return fail(n.where, path, "missing 'address'", "'address <address>;' of the peer");
        if (peer.local_address.family != 0 && peer.local_address.family != peer.address.family)
            return fail(n.where, path + " local-address",
                        format_address(peer.local_address) + " and the peer's " +
                            format_address(peer.address) + " are of different families",
                        "a local address of the peer's family");
        bool psk = once.has("pre-shared-key");
        bool cert = once.has("certificate") || once.has("private-key") || once.has("ca");
        if (psk == cert)
            return fail(n.where, path,
                        psk ? "both a pre-shared key and certificates" : "no authentication",
                        "'pre-shared-key \"<secret>\";' or 'certificate', 'private-key' and "
                        "'ca' (X.509)");
        if (cert)
            for (const char *k : {"certificate", "private-key", "ca"})
                if (!once.has(k))
                    return fail(n.where, path, "missing '" + std::string(k) + "'",
                                "'certificate', 'private-key' and 'ca' together");
        peer.auth = psk ? IpsecAuth::psk : IpsecAuth::certificate;
        if (peer.local_subnets.empty() || peer.remote_subnets.empty())
            return fail(n.where, path,
                        std::string("missing '") +
                            (peer.local_subnets.empty() ? "local-subnet" : "remote-subnet") + "'",
                        "'local-subnet <prefix>;' and 'remote-subnet <prefix>;': what the "
                        "tunnel carries");
        if (peer.ike_proposals.empty())
            peer.ike_proposals.push_back("aes256-sha256-modp3072");
        if (peer.esp_proposals.empty())
            peer.esp_proposals.push_back("aes256gcm16");
        if (life >= ike_life)
            return fail(n.where, path,
                        "lifetime " + std::to_string(life) +
                            " s is not shorter than ike-lifetime " + std::to_string(ike_life) +
                            " s",
                        "a CHILD_SA lifetime below the IKE SA's");
        peer.dpd_s = dpd;
        peer.ike_lifetime_s = ike_life;
        peer.lifetime_s = life;
        _cfg.ipsec.peers.push_back(std::move(peer));
        return Ok{};
    }

    // IPsec checks that need the interfaces: a local address is the gateway's own, a peer's
    // is not, and two peers do not share an address.
    Status ipsec_addresses() {
        auto own = [&](const Address &a) {
            for (const Interface &i : _cfg.interfaces)
                for (const Prefix &p : i.addresses)
                    if (p.family == a.family && p.bytes == a.bytes)
                        return true;
            return false;
        };
        const auto &peers = _cfg.ipsec.peers;
        for (std::size_t i = 0; i < peers.size(); i++) {
            const IpsecPeer &peer = peers[i];
            std::string path = "ipsec peer " + peer.name;
            if (own(peer.address))
                return fail(peer.where, path + " address",
                            format_address(peer.address) + " is the gateway's own address",
                            "the remote gateway's address");
            if (peer.local_address.family != 0 && !own(peer.local_address))
                return fail(peer.where, path + " local-address",
                            format_address(peer.local_address) +
                                " is not an address of any interface",
                            "one of the gateway's interface addresses");
            for (std::size_t j = 0; j < i; j++)
                if (peers[j].address == peer.address)
                    return fail(peer.where, path + " address",
                                format_address(peer.address) + " is already peer " + peers[j].name +
                                    " (at " + peers[j].where.to_string() + ")",
                                "one peer per remote gateway; a peer may carry several subnets");
        }
        return Ok{};
    }

    Status references() {
        std::vector<std::string> zones, interfaces;
        for (const Zone &z : _cfg.zones)
            zones.push_back(z.name);
        for (const Interface &i : _cfg.interfaces)
            interfaces.push_back(i.name);
        auto check = [](const Reference &r, const std::vector<std::string> &names,
                        const std::string &what, const std::string &section) -> Status {
            for (const std::string &n : names)
                if (n == r.name)
                    return Ok{};
            return fail(r.where, r.path, "no " + what + " named " + quoted(r.name),
                        names.empty() ? "a" + std::string(what[0] == 'i' ? "n " : " ") + what +
                                            " defined under '" + section + "'"
                                      : one_of(names));
        };
        for (const Reference &r : _zone_refs)
            if (auto s = check(r, zones, "zone", "zones"); !s)
                return s;
        for (const Reference &r : _interface_refs)
            if (auto s = check(r, interfaces, "interface", "interfaces"); !s)
                return s;
        return Ok{};
    }

    // NAT checks that need the interfaces (after references(), so every name resolves).
    Status nat_addresses() {
        auto first_ipv4 = [&](const std::string &name) -> const Prefix * {
            for (const Interface &i : _cfg.interfaces)
                if (i.name == name)
                    for (const Prefix &a : i.addresses)
                        if (a.family == 4)
                            return &a;
            return nullptr;
        };
        const Nat &nat = _cfg.nat;
        for (std::size_t k = 0; k < nat.statics.size(); ++k) {
            const NatStatic &st = nat.statics[k];
            for (const Interface &i : _cfg.interfaces)
                for (const Prefix &a : i.addresses)
                    if (a.family == 4 && a.bytes == st.outside.bytes)
                        return fail(_static_outside_at[k], "nat static " + st.name + " outside",
                                    format_address(st.outside) + " is the address of interface " +
                                        i.name,
                                    "an address of its own (the gateway's own addresses take "
                                    "a source or destination rule)");
        }
        for (std::size_t k = 0; k < nat.sources.size(); ++k) {
            const NatSource &r = nat.sources[k];
            if (r.pool.empty() && !first_ipv4(r.interface))
                return fail(_source_interface_at[k], "nat source " + r.name + " interface",
                            "interface " + r.interface + " has no IPv4 address to translate to",
                            "an IPv4 address on " + r.interface + " or 'pool <ipv4-address>;'");
        }
        std::vector<std::pair<Address, std::size_t>> seen; // resolved address, rule
        for (std::size_t k = 0; k < nat.destinations.size(); ++k) {
            const NatDestination &d = nat.destinations[k];
            Address a;
            if (d.address) {
                a = *d.address;
            } else if (const Prefix *own = first_ipv4(d.interface)) {
                a = *own;
                a.length = 32;
            } else {
                return fail(_destination_interface_at[k],
                            "nat destination " + d.name + " interface",
                            "interface " + d.interface + " has no IPv4 address to forward from",
                            "an IPv4 address on " + d.interface + " or 'address <ipv4-address>;'");
            }
            for (const auto &[other_address, j] : seen) {
                const NatDestination &o = nat.destinations[j];
                if (o.interface != d.interface || o.protocol != d.protocol || o.port != d.port ||
                    other_address != a)
                    continue;
                return fail(d.where, "nat destination " + d.name,
                            std::string(d.protocol == proto_tcp ? "tcp " : "udp ") +
                                format_address(a) + " port " + std::to_string(d.port) + " on " +
                                d.interface + " is already forwarded by destination " + o.name +
                                " (at " + o.where.to_string() + ")",
                            "one destination rule per interface, protocol, address and port");
            }
            seen.emplace_back(a, k);
        }
        return Ok{};
    }

    Config _cfg;
    std::vector<Reference> _zone_refs;
    std::vector<Reference> _interface_refs;
    std::map<std::string, std::pair<std::string, Location>> _devices;
    std::vector<NatClaim> _nat_claims;
    // Where the NAT statements checked against the interfaces were written, one per rule.
    std::vector<Location> _static_outside_at;
    std::vector<Location> _source_interface_at;
    std::vector<Location> _destination_interface_at;
};

} // namespace

const char *class_name(CommandClass c) {
    switch (c) {
    case CommandClass::view:
        return "view";
    case CommandClass::traffic_view:
        return "traffic-view";
    case CommandClass::clear:
        return "clear";
    case CommandClass::network:
        return "network";
    case CommandClass::security:
        return "security";
    case CommandClass::audit_view:
        return "audit-view";
    case CommandClass::audit_settings:
        return "audit-settings";
    }
    return "?";
}

std::optional<CommandClass> class_from_name(std::string_view name) {
    for (unsigned i = 0; i < command_class_count; i++)
        if (name == class_name(static_cast<CommandClass>(i)))
            return static_cast<CommandClass>(i);
    return std::nullopt;
}

std::optional<Category> category_from_name(std::string_view name) {
    for (unsigned i = 0; i < category_count; i++)
        if (name == category_name(static_cast<Category>(i)))
            return static_cast<Category>(i);
    return std::nullopt;
}

bool is_application_name(std::string_view name) {
    if (name.empty() || name.size() > 32)
        return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    return true;
}

std::optional<std::string> dns_name(std::string_view name) {
    if (name.empty() || name.size() > 253)
        return std::nullopt;
    std::string out;
    std::size_t label = 0;
    for (char c : name) {
        if (c >= 'A' && c <= 'Z')
            c = char(c - 'A' + 'a');
        if (c == '.') {
            if (label == 0)
                return std::nullopt;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            if (++label > 63)
                return std::nullopt;
        } else {
            return std::nullopt;
        }
        out += c;
    }
    if (label == 0)
        return std::nullopt; // a trailing dot
    return out;
}

const Screen &Security::screen_for(std::string_view zone) const {
    static const Screen defaults;
    for (const Screen &s : screens)
        if (s.zone == zone)
            return s;
    return defaults;
}

std::optional<Prefix> parse_prefix(std::string_view text) {
    Prefix p;
    bool had_length = false;
    if (parse_prefix_text(text, p, had_length) != PrefixStatus::ok)
        return std::nullopt;
    return p;
}

Prefix network_of(const Prefix &p) {
    Prefix n = p;
    std::size_t width = p.family == 6 ? 16 : 4;
    for (std::size_t i = 0; i < width; ++i) {
        int keep = int(p.length) - int(i * 8);
        if (keep >= 8)
            continue;
        n.bytes[i] = keep <= 0 ? 0 : uint8_t(n.bytes[i] & uint8_t(0xff << (8 - keep)));
    }
    return n;
}

Result<Config> build_config(const Node &root) {
    return Builder().run(root);
}

Result<Config> load_text(std::string_view text, const std::string &filename) {
    auto tree = parse_tree(text, filename);
    if (!tree)
        return tree.error();
    return build_config(*tree);
}

Result<Config> load_file(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return Error{Location{path}, std::string("cannot open: ") + std::strerror(errno)};
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            ::close(fd);
            return Error{Location{path}, std::string("cannot read: ") + std::strerror(e)};
        }
        if (n == 0)
            break;
        text.append(buf, std::size_t(n));
    }
    ::close(fd);
    return load_text(text, path);
}

std::string format_address(const Prefix &p) {
    char buf[INET6_ADDRSTRLEN] = {}; // large enough for either family: inet_ntop cannot fail
    inet_ntop(p.family == 6 ? AF_INET6 : AF_INET, p.bytes.data(), buf, sizeof buf);
    return buf;
}

std::string format_prefix(const Prefix &p) {
    return format_address(p) + "/" + std::to_string(p.length);
}

} // namespace qorgan::config

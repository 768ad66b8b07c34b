// SPDX-License-Identifier: GPL-2.0-or-later
// The ipsec-* control ops from charon's SAs and policies; see ipsec_ops.h.
#include "ike/ipsec_ops.h"

#include <cstring>

namespace qorgan::ike {

namespace {

const char *dir_name(int dir) {
    switch (dir) {
    case QK_DIR_IN:
        return "in";
    case QK_DIR_OUT:
        return "out";
    default:
        return "fwd";
    }
}

} // namespace

std::string to_hex(const uint8_t *data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (size_t i = 0; i < len; i++) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 15];
    }
    return out;
}

Result<std::string> cipher_name(const qk_sa_t &sa) {
    // AES-256-GCM: a 32-byte key followed by the 4-byte salt (RFC 4106 8.1).
    if (sa.enc_alg == encr_aes_gcm_16 && sa.enc_key_len == 36 && sa.int_alg == 0)
        return std::string("aes256gcm16");
    if (sa.enc_alg == encr_aes_cbc && sa.enc_key_len == 32 &&
        sa.int_alg == auth_hmac_sha2_256_128 && sa.int_key_len == 32)
        return std::string("aes256-sha256");
    return Error{{},
                 "unsupported ESP algorithms: encryption " + std::to_string(sa.enc_alg) + " (" +
                     std::to_string(sa.enc_key_len) + "-byte key), integrity " +
                     std::to_string(sa.int_alg) +
                     "; the dataplane has aes256gcm16 and "
                     "aes256-sha256"};
}

Result<Json> add_sa_request(const qk_sa_t &sa, const std::string &peer) {
    auto cipher = cipher_name(sa);
    if (!cipher)
        return cipher.error();
    if (!sa.tunnel)
        return Error{{}, "only tunnel mode SAs are supported"};
    Json encap = nullptr;
    if (sa.encap)
        encap = Json{{"sport", sa.encap_sport}, {"dport", sa.encap_dport}};
    return Json{{"op", "ipsec-add-sa"},
                {"spi", sa.spi},
                {"dir", sa.inbound ? "in" : "out"},
                {"src", sa.src},
                {"dst", sa.dst},
                {"reqid", sa.reqid},
                {"cipher", *cipher},
                {"enc_key", to_hex(sa.enc_key, sa.enc_key_len)},
                {"integ_key", to_hex(sa.int_key, sa.int_key_len)},
                {"esn", sa.esn != 0},
                {"replay_window", sa.replay_window},
                {"encap", encap},
                {"hard_bytes", sa.hard_bytes},
                {"hard_packets", sa.hard_packets},
                {"peer", peer}};
}

Json update_sa_request(const qk_sa_update_t &u) {
    Json encap = nullptr;
    if (u.new_encap)
        encap = Json{{"sport", u.encap_sport}, {"dport", u.encap_dport}};
    return Json{{"op", "ipsec-update-sa"}, {"spi", u.spi},         {"src", u.src},  {"dst", u.dst},
                {"new_src", u.new_src},    {"new_dst", u.new_dst}, {"encap", encap}};
}

Json del_sa_request(uint32_t spi, const std::string &dst) {
    return Json{{"op", "ipsec-del-sa"}, {"spi", spi}, {"dst", dst}};
}

Json query_sa_request(uint32_t spi, const std::string &dst) {
    return Json{{"op", "ipsec-query-sa"}, {"spi", spi}, {"dst", dst}};
}

Json add_policy_request(const qk_policy_t &p) {
    Json tunnel = nullptr;
    if (p.tunnel)
        tunnel = Json{{"src", p.tunnel_src}, {"dst", p.tunnel_dst}};
    return Json{
        {"op", "ipsec-add-policy"}, {"dir", dir_name(p.dir)}, {"src", p.src},    {"dst", p.dst},
        {"proto", p.proto},         {"reqid", p.reqid},       {"tunnel", tunnel}};
}

Json del_policy_request(const qk_policy_t &p) {
    return Json{{"op", "ipsec-del-policy"},
                {"dir", dir_name(p.dir)},
                {"src", p.src},
                {"dst", p.dst},
                {"proto", p.proto}};
}

void wipe(Json &request) {
    if (request.is_string()) {
        auto &s = request.get_ref<std::string &>();
        explicit_bzero(s.data(), s.size());
    } else if (request.is_structured()) {
        for (auto &v : request)
            wipe(v);
    }
}

void PolicyCounts::add(const qk_policy_t &p) {
    _refs[Key{p.dir, p.src, p.dst, p.proto}]++;
}

bool PolicyCounts::remove(const qk_policy_t &p) {
    auto it = _refs.find(Key{p.dir, p.src, p.dst, p.proto});
    if (it == _refs.end())
        return false;
    if (--it->second > 0)
        return false;
    _refs.erase(it);
    return true;
}

void VolumeWatch::add(const qk_sa_t &sa) {
    if (!sa.soft_bytes && !sa.hard_bytes && !sa.soft_packets && !sa.hard_packets)
        return;
    _sas[{sa.spi, sa.dst}] = Limits{sa.soft_bytes, sa.hard_bytes, sa.soft_packets, sa.hard_packets};
}

void VolumeWatch::remove(uint32_t spi, const std::string &dst) {
    _sas.erase({spi, dst});
}

std::vector<Expiry> VolumeWatch::check(const Json &sas_reply) {
    std::vector<Expiry> out;
    auto list = sas_reply.find("sas");
    if (list == sas_reply.end() || !list->is_array())
        return out;
    for (const auto &sa : *list) {
        if (!sa.is_object() || !sa.contains("spi") || !sa["spi"].is_number_unsigned() ||
            !sa.contains("dst") || !sa["dst"].is_string())
            continue;
        auto it = _sas.find({sa["spi"].get<uint32_t>(), sa["dst"].get<std::string>()});
        if (it == _sas.end())
            continue;
        uint64_t bytes = sa.value("bytes", uint64_t{0});
        uint64_t packets = sa.value("packets", uint64_t{0});
        Limits &l = it->second;
        auto passed = [](uint64_t limit, uint64_t count) { return limit && count >= limit; };
        if (!l.hard_sent && (passed(l.hard_bytes, bytes) || passed(l.hard_packets, packets))) {
            l.hard_sent = l.soft_sent = true;
            out.push_back({it->first.first, it->first.second, true});
        } else if (!l.soft_sent &&
                   (passed(l.soft_bytes, bytes) || passed(l.soft_packets, packets))) {
            l.soft_sent = true;
            out.push_back({it->first.first, it->first.second, false});
        }
    }
    return out;
}

} // namespace qorgan::ike

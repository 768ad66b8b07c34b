// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: any bytes as a control-socket request body (parse_request, no EAL).
// A request that parses must be well formed (abort otherwise); nothing may crash. Accepted
// ipsec-* requests also run against an IPsec state with a counting backend (docs/IPSEC.md).
#include "dataplane/control_request.h"
#include "dataplane/ipsec_control.h"
#include "dataplane/ipsec_state.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "accepted request breaks: %s\n", what);
        std::abort();
    }
}

// Hands out handles and checks that none is removed twice or before it was given.
struct CountingBackend : qorgan::dp::SaBackend {
    std::vector<bool> live;
    int install(const qorgan::dp::SaSpec &, std::string &) override {
        live.push_back(true);
        return static_cast<int>(live.size() - 1);
    }
    void remove(int h) override {
        check(h >= 0 && static_cast<std::size_t>(h) < live.size() && live[h],
              "handle removed once");
        live[h] = false;
    }
    qorgan::dp::SaStats stats(int h) const override {
        check(h >= 0 && static_cast<std::size_t>(h) < live.size() && live[h], "stats of a live SA");
        return {};
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace qorgan::dp;
    auto r = parse_request(std::string_view(reinterpret_cast<const char *>(data), size));
    if (!r) {
        check(!r.error().message.empty(), "an error without text");
        return 0;
    }
    const Request &q = r.value();
    check(q.filter.limit >= 1 && q.filter.limit <= session_limit_max, "limit in range");
    check(q.filter.family == 0 || q.filter.family == 4 || q.filter.family == 6, "family");
    check(!q.filter.interface || !q.filter.interface->empty(), "interface name");
    if (q.op == ControlOp::apply) {
        check(q.sha256.size() == 64, "sha256 length");
        for (char c : q.sha256)
            check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), "sha256 lowercase hex");
    }
    // The op's name parses back to the same op.
    qorgan::Json again{{"op", control_op_name(q.op)}};
    if (q.op == ControlOp::apply) {
        again["text"] = "";
        again["revision"] = q.revision;
        again["sha256"] = q.sha256;
    }
    // Ops whose fields are required (the ipsec SA and policy ops) cannot go back bare.
    bool bare = q.op != ControlOp::ipsec_add_sa && q.op != ControlOp::ipsec_update_sa &&
                q.op != ControlOp::ipsec_del_sa && q.op != ControlOp::ipsec_query_sa &&
                q.op != ControlOp::ipsec_add_policy && q.op != ControlOp::ipsec_del_policy;
    if (bare) {
        auto back = parse_request(again);
        check(back.ok() && back->op == q.op, "op name round trip");
    }
    if (q.op == ControlOp::ipsec_add_sa) {
        const SaSpec &sa = q.ipsec.sa;
        check(sa.spi >= 256 && sa.src.family == sa.dst.family, "SA spi and addresses");
        check(sa.enc_key_len == (sa.cipher == EspCipher::aes256_gcm16 ? 36 : 32), "key length");
    }
    // The state persists across inputs (as it does across requests), bounded by max-sas.
    static CountingBackend backend;
    static std::atomic<const IpsecTable *> active{nullptr};
    static IpsecState state(backend, 64, active, [] {});
    static const qorgan::config::Config conf;
    qorgan::Json reply = ipsec_handle(q, &state, conf, 0, 1000);
    check(reply.contains("ok"), "a reply says ok");
    check(state.sas().size() <= 64, "SAs bounded");
    return 0;
}

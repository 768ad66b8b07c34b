// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: any bytes as a control-socket request body (parse_request, no EAL).
// A request that parses must be well formed (abort otherwise); nothing may crash.
#include "dataplane/control_request.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

void check(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "accepted request breaks: %s\n", what);
        std::abort();
    }
}

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
    auto back = parse_request(again);
    check(back.ok() && back->op == q.op, "op name round trip");
    return 0;
}

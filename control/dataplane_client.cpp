// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's side of the dataplane control socket; see dataplane_client.h and
// docs/CONTROL-PROTOCOL.md.
#include "control/dataplane_client.h"

#include <unistd.h>

namespace qorgan::control {

namespace {

// An apply compiles the whole policy: 10k rules take seconds on a small machine.
constexpr int apply_timeout_ms = 120000;

Result<DataplaneState> state_of(const Json &reply) {
    auto epoch = reply.find("epoch");
    auto revision = reply.find("revision");
    auto sha = reply.find("sha256");
    if (epoch == reply.end() || !epoch->is_number_integer() || revision == reply.end() ||
        !revision->is_number_integer() || sha == reply.end() || !sha->is_string())
        return Error{{}, "dataplane reply lacks epoch, revision or sha256: " + reply.dump()};
    DataplaneState st;
    st.epoch = epoch->get<uint32_t>();
    st.revision = revision->get<uint32_t>();
    st.sha256 = sha->get<std::string>();
    return st;
}

} // namespace

Result<Json> DataplaneClient::request(const Json &req, int timeout_ms) {
    auto fd = connect_unix(_path);
    if (!fd)
        return Error{{}, "dataplane: " + fd.error().message};
    Status sent = Ok{};
    try {
        sent = send_message(fd.value(), req, timeout_ms);
    } catch (const Json::type_error &) {
        sent = Error{{}, "the request holds text that is not UTF-8"};
    }
    if (!sent) {
        close(fd.value());
        return Error{{}, "dataplane: " + sent.error().message};
    }
    auto reply = recv_message(fd.value(), timeout_ms);
    close(fd.value());
    if (!reply)
        return Error{{}, "dataplane: " + reply.error().message};
    const Json &r = reply.value();
    auto ok = r.find("ok");
    if (!r.is_object() || ok == r.end() || !ok->is_boolean())
        return Error{{}, "dataplane: reply without \"ok\": " + r.dump()};
    if (!ok->get<bool>()) {
        auto e = r.find("error");
        return Error{{},
                     e != r.end() && e->is_string() ? e->get<std::string>()
                                                    : "dataplane refused: " + r.dump()};
    }
    return reply;
}

Result<DataplaneState> DataplaneClient::apply(const std::string &text, uint32_t revision,
                                              const std::string &sha256) {
    auto r =
        request(Json{{"op", "apply"}, {"text", text}, {"revision", revision}, {"sha256", sha256}},
                apply_timeout_ms);
    if (!r)
        return r.error();
    return state_of(r.value());
}

Result<DataplaneState> DataplaneClient::state() {
    auto r = request(Json{{"op", "status"}});
    if (!r)
        return r.error();
    return state_of(r.value());
}

} // namespace qorgan::control

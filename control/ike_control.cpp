// SPDX-License-Identifier: GPL-2.0-or-later
// swanctl for qorgand; see ike_control.h.
#include "control/ike_control.h"

#include <algorithm>
#include <unistd.h>

namespace qorgan::control {

namespace {

// The last line swanctl wrote that says something (its error is the last one).
std::string last_line(const std::string &text) {
    std::string best;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size();
        std::string line = text.substr(pos, end - pos);
        // Plugin loading complaints are noise when /etc/strongswan.conf is used.
        if (line.find_first_not_of(" \t\r") != std::string::npos && line.rfind("plugin '", 0) != 0)
            best = line;
        pos = end + 1;
    }
    if (best.size() > 200)
        best = best.substr(0, 197) + "...";
    return best;
}

bool contains(const std::string &text, const char *what) {
    return text.find(what) != std::string::npos;
}

} // namespace

IkeControl::IkeControl(IkeOptions o, Runner run) : _o(std::move(o)), _run(std::move(run)) {}

ProgramResult IkeControl::swanctl(std::vector<std::string> args) const {
    args.insert(args.begin(), _o.swanctl);
    args.push_back("--uri");
    args.push_back(uri());
    // qorgan-ike writes a strongswan.conf beside the socket with what swanctl needs.
    std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    std::string dir = _o.vici.substr(0, _o.vici.rfind('/') + 1);
    if (!dir.empty() && access((dir + "strongswan.conf").c_str(), R_OK) == 0)
        env.push_back("STRONGSWAN_CONF=" + dir + "strongswan.conf");
    return _run(args, env, _o.timeout_ms);
}

IkeControl::Outcome IkeControl::outcome(const ProgramResult &r, const std::string &what) const {
    if (!r.failure.empty())
        return {Failure::failed, "cannot run " + _o.swanctl + ": " + r.failure};
    if (r.timed_out)
        return {Failure::failed, what + " did not finish within " +
                                     std::to_string(_o.timeout_ms / 1000) +
                                     " s (killed); qorgan-ike may be busy or hung"};
    if (r.exit_code == 0)
        return {};
    // swanctl: "connecting to 'unix://...' failed: No such file or directory".
    if (contains(r.err, "connecting to") && contains(r.err, "failed"))
        return {Failure::not_running, "qorgan-ike is not running: nothing answers on " + uri()};
    std::string said = last_line(r.err);
    if (said.empty())
        said = last_line(r.out);
    if (said.empty())
        said = "exit status " + std::to_string(r.exit_code);
    return {Failure::failed, what + ": " + said};
}

Result<std::vector<IkeSaInfo>> IkeControl::list_sas(Failure *why) const {
    ProgramResult r = swanctl({"--list-sas", "--pretty"});
    Outcome o = outcome(r, "swanctl --list-sas");
    if (why)
        *why = o.failure;
    if (o.failure != Failure::none)
        return Error{{}, o.message};
    auto sas = parse_list_sas(r.out);
    if (!sas) {
        if (why)
            *why = Failure::failed;
        return sas.error();
    }
    return sas;
}

// Seconds swanctl lets charon take, so that swanctl answers before it is killed.
int IkeControl::charon_timeout_s() const {
    return std::max(1, _o.timeout_ms / 2000);
}

IkeControl::Outcome IkeControl::terminate_ike(const std::string &name) const {
    // --force with --timeout: a peer that does not confirm the delete within the timeout
    // loses its IKE SA anyway; charon then says "terminating SA failed".
    std::string t = std::to_string(charon_timeout_s());
    ProgramResult r = swanctl({"--terminate", "--ike", name, "--force", "--timeout", t});
    Outcome o = outcome(r, "swanctl --terminate");
    if (o.failure == Failure::failed && contains(r.err, "no matching SAs to terminate found"))
        return {Failure::none, "no IKE SA to terminate"};
    if (o.failure == Failure::failed && contains(r.err, "terminating SA failed"))
        return {Failure::none, "the peer did not confirm the delete within " + t +
                                   " s; charon removed the IKE SA anyway"};
    return o;
}

IkeControl::Outcome IkeControl::initiate_child(const std::string &name) const {
    std::string t = std::to_string(charon_timeout_s());
    ProgramResult r = swanctl({"--initiate", "--child", name, "--timeout", t});
    Outcome o = outcome(r, "swanctl --initiate");
    if (o.failure == Failure::failed && contains(r.err, "not established after"))
        return {Failure::none, "not established within " + t + " s; charon goes on trying"};
    return o;
}

} // namespace qorgan::control

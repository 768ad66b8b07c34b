// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's handle on qorgan-ike: charon's vici socket through swanctl (docs/IPSEC.md,
// "State for qorgand"). Each call runs swanctl once with a deadline; how it runs is
// injectable so that tests need neither swanctl nor charon.
#pragma once

#include "common/result.h"
#include "control/program.h"
#include "control/swanctl_sas.h"

#include <functional>
#include <string>
#include <vector>

namespace qorgan::control {

struct IkeOptions {
    std::string swanctl = "/usr/sbin/swanctl";
    std::string vici = "/run/qorgan/ike/charon.vici"; // qorgan-ike's --run-dir + /charon.vici
    int timeout_ms = 10000;                           // per swanctl run, killed after
};

class IkeControl {
public:
    using Runner = std::function<ProgramResult(
        const std::vector<std::string> &argv, const std::vector<std::string> &env, int timeout_ms)>;

    explicit IkeControl(IkeOptions o = {}, Runner run = run_program);

    // Errors: not_running when nothing answers on the vici socket (qorgan-ike stopped).
    enum class Failure { none, not_running, failed };
    struct Outcome {
        Failure failure = Failure::none;
        std::string message; // the error, or a note on success ("not established yet")
    };

    Result<std::vector<IkeSaInfo>> list_sas(Failure *why = nullptr) const;
    // swanctl --terminate --ike NAME; an IKE SA that does not exist is no error.
    Outcome terminate_ike(const std::string &name) const;
    // swanctl --initiate --child NAME; "not established yet" after the timeout is no error.
    Outcome initiate_child(const std::string &name) const;

    std::string uri() const { return "unix://" + _o.vici; }
    const IkeOptions &options() const { return _o; }

private:
    ProgramResult swanctl(std::vector<std::string> args) const;
    Outcome outcome(const ProgramResult &r, const std::string &what) const;
    int charon_timeout_s() const;

    IkeOptions _o;
    Runner _run;
};

} // namespace qorgan::control

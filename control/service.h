// SPDX-License-Identifier: GPL-2.0-or-later
// qorgand's service loop: shells on a UNIX socket (login, commands, completion), audit
// records for everything administrators and services do, session time limits, clock-change
// detection, the dataplane's liveness and the syslog forwarder child. Also the offline
// steps an installer runs before the service starts (first user, recovery code).
#pragma once

#include "common/result.h"

#include <csignal>
#include <string>

namespace qorgan::control {

struct ServiceOptions {
    std::string state_dir = "/var/lib/qorgan";
    std::string socket = "/run/qorgan/qorgand.sock";
    std::string dataplane_socket = "/run/qorgan/dataplane.sock";
    std::string bootstrap_file;
    std::string bootstrap_text;
    // Terminals that count as the local console (break-glass, never source-locked).
    std::string console_ttys = "/dev/console,/dev/ttyS*,/dev/tty[0-9]*,/dev/hvc*";
    std::string logfwd_binary; // qorgan-logfwd
    // qorgan-ike's charon, for show/clear ipsec sa (docs/IPSEC.md).
    std::string ike_vici = "/run/qorgan/ike/charon.vici";
    std::string swanctl = "/usr/sbin/swanctl";
};

int run_service(const ServiceOptions &o, volatile std::sig_atomic_t &stopping);

// Adds a user with the password given (policy applies), audited as done offline by root.
Result<std::string> offline_add_user(const ServiceOptions &o, const std::string &name, int level,
                                     const std::string &password);
Result<std::string> offline_new_recovery_code(const ServiceOptions &o);

} // namespace qorgan::control

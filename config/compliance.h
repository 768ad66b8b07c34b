// SPDX-License-Identifier: GPL-2.0-or-later
// The regulation's checks on a configuration: loop separation (R139-7: the inner and outer
// loops never interconnect except through an IPsec channel or the shielded subnet; R139-8:
// the inner loop never reaches the Internet), and the `show compliance` report listing
// every requirement ID of the regulation with a status and its evidence.
#pragma once

#include "common/result.h"
#include "config/model.h"

#include <string>
#include <vector>

namespace qorgan::config {

struct Violation {
    std::string requirement; // "R139-7" or "R139-8"
    Location where;          // of the rule (or interface) that lets the traffic through
    std::string path;        // "policy inner0 ingress rule 21"
    std::string message;     // whole text, e.g. "policy inner0 ingress rule 21 accepts
                             // 198.18.1.0/24 -> 203.0.113.0/24 (inet0, loop internet):
                             // R139-8 forbids any path from the inner loop to the Internet"
};

// Finds packets the policy would forward between forbidden loops: for every accepting
// ingress rule of an interface in one loop and every interface of a forbidden loop, it
// builds witness packets (addresses at both ends of each prefix intersection, each port
// range's bounds, the rule's protocol) and runs them through the ingress list and the
// egress list of the exit interface, first match wins, as the dataplane does. A witness
// that passes is a violation. Routes decide the exit interface (connected subnets,
// static routes; a default route makes its interface reach "any").
std::vector<Violation> check_loops(const Config &conf);

// Convenience for commit: the first violation as an Error (its location and message).
Status check_compliance(const Config &conf);

struct ComplianceFacts {
    bool dataplane_connected = false;
    unsigned ports_total = 0;
    unsigned ports_up = 0;
    unsigned ports_disabled = 0;
    bool running_config_intact = false; // its SHA-256 matches the recorded one
    unsigned revisions = 0;
    // Administrators and the audit log (issue 4); audit_known false when not looked at.
    bool audit_known = false;
    unsigned users = 0;
    unsigned privileged_users = 0;     // level above operator
    unsigned privileged_with_totp = 0; // of them, with a confirmed second factor
    bool audit_intact = false;         // request audit verify
    std::string audit_summary;         // its one line
    std::string audit_storage;         // ok, warning, full
    bool forwarding_connected = false; // qorgan-logfwd's status
    std::string forwarding_detail;
    // charon's IKE SAs (issue 8); ike_known false when not looked at.
    bool ike_known = false;
    std::string ike_error;           // set: charon could not be asked (qorgan-ike stopped)
    std::vector<std::string> ike_up; // peers with an ESTABLISHED IKE SA
};

struct ComplianceRow {
    std::string id;       // "R128-g"
    std::string status;   // "met", "not met" or "not implemented yet"
    std::string summary;  // the requirement, paraphrased in a few words
    std::string evidence; // what the live system shows
};

// One row per requirement ID of the regulation (all of them, in the regulation's order).
std::vector<ComplianceRow> compliance_report(const Config &running, const ComplianceFacts &f);

} // namespace qorgan::config

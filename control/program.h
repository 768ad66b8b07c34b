// SPDX-License-Identifier: GPL-2.0-or-later
// Runs a helper program (swanctl) as a child process with a deadline: its standard output
// and error are collected up to a bound, and a child still running at the deadline is
// killed. qorgand's loop is single-threaded, so nothing it starts may hang it.
#pragma once

#include <string>
#include <vector>

namespace qorgan::control {

struct ProgramResult {
    int exit_code = -1;     // -1: killed, died of a signal or never ran
    bool timed_out = false; // killed at the deadline
    std::string out, err;   // each cut at max_program_output bytes
    std::string failure;    // set when the program could not be started at all
};

inline constexpr std::size_t max_program_output = 1 << 20;

// argv[0] is the program's path (no PATH search). env: "NAME=value" entries given to the
// program instead of qorgand's own environment.
ProgramResult run_program(const std::vector<std::string> &argv, const std::vector<std::string> &env,
                          int timeout_ms);

} // namespace qorgan::control

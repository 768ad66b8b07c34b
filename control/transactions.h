// SPDX-License-Identifier: GPL-2.0-or-later
// Commit semantics of qorgand, as Junos and VyOS users expect them: private candidates
// taken from a base revision, commit / commit check / commit confirmed with automatic
// rollback, rollback <n>, compare, load merge|replace, save. A commit validates everything
// (syntax, schema, compliance R139-7/R139-8) before it changes anything, refuses a stale
// candidate, stores the revision, has the dataplane apply it, and only then makes it the
// running revision. On start, recover() re-syncs a dataplane that runs something else.
#pragma once

#include "common/result.h"
#include "config/tree.h"
#include "control/dataplane_link.h"
#include "control/store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qorgan::control {

struct Candidate {
    config::Node tree; // the edited configuration
    uint32_t base = 0; // running revision it was taken from
    bool changed = false;
};

struct CommitOptions {
    std::string author;
    std::string comment;
    std::optional<unsigned> confirm_minutes; // commit confirmed N
};

struct CommitResult {
    uint32_t revision = 0;        // the new running revision (unchanged for a no-op)
    uint32_t epoch = 0;           // dataplane snapshot epoch
    bool no_change = false;       // candidate equals running: nothing committed
    int64_t confirm_deadline = 0; // unix seconds, 0 when not a confirmed commit
};

class Transactions {
public:
    // `bootstrap_text` is committed as revision 1 when the store is empty (the embedded
    // default configuration).
    Transactions(Store &store, DataplaneLink &dataplane, std::string bootstrap_text);

    // On qorgand start: commits the bootstrap text into an empty store; checks the running
    // revision's integrity (a tampered one is reported, and then nothing is pushed); if the
    // dataplane runs another SHA-256, applies the running revision (flows survive: the
    // dataplane re-checks them lazily). Returns what it did as text for the log.
    Result<std::string> recover();

    // A candidate from the running revision.
    Result<Candidate> begin() const;

    // Validates the candidate: parse of its printed text, schema, compliance. The error
    // names file:line:col, the config path and, for compliance, the paragraph.
    Status check(const Candidate &c) const;

    // Commits the candidate. Refused when c.base != running (stale: "the configuration was
    // committed by <author> at <time> since this candidate was taken; run `rollback 0` or
    // `update` to start from it"). With confirm_minutes, the previous running revision comes
    // back by itself after that long unless confirm() is called (or another commit is made).
    Result<CommitResult> commit(Candidate &c, const CommitOptions &opts, int64_t now);
    // Confirms a pending commit confirmed. Error when none is pending.
    Status confirm();
    // Rolls back a confirmed commit whose deadline has passed; returns true if it did.
    // qorgand calls this about once a second.
    Result<bool> tick(int64_t now);
    std::optional<int64_t> pending_confirm_deadline() const;

    // The tree of revision running-n (rollback 0 = running) for loading into a candidate.
    Result<config::Node> revision_tree(uint32_t n_back) const;
    // Unified diff in set form: "- set ..." and "+ set ..." lines. compare() with no
    // arguments compares the candidate against running; with revision numbers, those two.
    std::string compare(const Candidate &c) const;
    Result<std::string> compare(uint32_t older, uint32_t newer) const;

    // load merge|replace <file> into the candidate; save <file> writes the candidate.
    Status load(Candidate &c, const std::string &path, bool merge) const;
    Status save(const Candidate &c, const std::string &path) const;

    Store &store() { return _store; }
    const Store &store() const { return _store; }

private:
    Store &_store;
    DataplaneLink &_dataplane;
    std::string _bootstrap;
    std::optional<int64_t> _confirm_deadline;
    uint32_t _confirm_previous = 0; // revision to go back to
};

} // namespace qorgan::control

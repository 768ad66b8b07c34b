// SPDX-License-Identifier: GPL-2.0-or-later
// The `set` form of the configuration: every leaf as one line with its full path
// ("set interfaces inner0 address 198.18.1.1/24"), and editing a tree with `set` and
// `delete` commands. Schema-aware (config/schema_tree.h): it knows which words are
// keywords, which are names or keys, and which statements repeat.
#pragma once

#include "common/result.h"
#include "config/tree.h"

#include <string>
#include <vector>

namespace qorgan::config {

// One line per leaf, in tree order, each starting with "set ".
std::vector<std::string> to_set_lines(const Node &root);

// Applies `set <path...>` (words after "set", possibly relative to an edit path already
// prepended by the caller). Creates missing containers; a single-valued leaf is replaced,
// a repeatable one (address, source, destination, ports) gains the value; a flag (log,
// disable) is set. Errors name the word that was wrong and what was expected there:
// "set policy inner0 ingress rule 10 actoin: unknown 'actoin'; expected one of: action,
// description, destination, ...". Nothing is changed when an error is returned.
Status apply_set(Node &root, const std::vector<std::string> &words);

// Applies `delete <path...>`: removes the statement, block or one value of a repeatable
// leaf. Deleting something that is not there is an error naming it.
Status apply_delete(Node &root, const std::vector<std::string> &words);

// Finds the block a `edit <path...>` would enter (creating nothing). Returns the path
// normalised (e.g. {"policy","inner0","ingress","rule","10"}) or an error.
Result<std::vector<std::string>> resolve_edit_path(const Node &root,
                                                   const std::vector<std::string> &words);

// The subtree at a path (for `show <path>` in configuration mode), or nullptr.
const Node *find_path(const Node &root, const std::vector<std::string> &path);

} // namespace qorgan::config

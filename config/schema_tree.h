// SPDX-License-Identifier: GPL-2.0-or-later
// A declarative description of the configuration schema, for help (`?`), completion and
// the set form. The schema checks themselves live in schema.cpp; this tree must describe
// the same statements (a unit test walks the default config against it).
#pragma once

#include "config/tree.h"

#include <string>
#include <string_view>
#include <vector>

namespace qorgan::config {

enum class SchemaKind {
    container, // keyword { ... }                       e.g. interfaces, ingress, timeouts
    named,     // <name> { ... } under a container      e.g. interfaces <name>, zones <name>
    keyed,     // keyword <key> { ... }                 e.g. rule <id>, route <prefix>
    leaf,      // keyword <value> ;                     e.g. mtu 1500, action accept
    leaf_list, // keyword <value> ; repeatable or [ ]   e.g. address, source, destination-port
    flag,      // keyword ;                             e.g. log, disable
};

struct SchemaNode {
    std::string keyword; // empty for `named`
    SchemaKind kind = SchemaKind::container;
    std::string help;                 // one line, shown by `?`
    std::string value_hint;           // "<prefix>", "<1..65535>", "<name>": shown by `?`
    std::vector<std::string> choices; // closed value sets (action: accept drop reject)
    std::vector<SchemaNode> children;
};

const SchemaNode &schema_root();

struct Candidate {
    std::string word; // what completion would insert ("" with a hint for free values)
    std::string help;
};

// Candidates for the next word of a configuration path after `words` (already complete
// words) given a partial word. Names and keys that exist in `config` (may be null) are
// offered too (interface names, rule ids). Sorted, unique.
std::vector<Candidate> complete_path(const Node *config, const std::vector<std::string> &words,
                                     std::string_view partial);

} // namespace qorgan::config

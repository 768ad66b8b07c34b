// SPDX-License-Identifier: GPL-2.0-or-later
// The show commands' tables: left-aligned columns, two spaces apart, a header line first;
// and the cells they take from the dataplane's JSON replies.
#pragma once

#include "common/framing.h"

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace qorgan::control {

inline std::string table(const std::vector<std::string> &head,
                         const std::vector<std::vector<std::string>> &rows) {
    std::vector<size_t> w(head.size());
    for (size_t i = 0; i < head.size(); i++)
        w[i] = head[i].size();
    for (const auto &r : rows)
        for (size_t i = 0; i < r.size() && i < w.size(); i++)
            w[i] = std::max(w[i], r[i].size());
    std::ostringstream o;
    auto line = [&](const std::vector<std::string> &r) {
        std::string s;
        for (size_t i = 0; i < r.size(); i++) {
            s += r[i];
            if (i + 1 < r.size())
                s += std::string(w[i] - r[i].size() + 2, ' ');
        }
        o << s << "\n";
    };
    line(head);
    for (const auto &r : rows)
        line(r);
    return o.str();
}

// A field as a cell: a string as it is, a number as written, "-" when missing or null.
inline std::string num(const Json &j, const char *key) {
    if (!j.contains(key) || j[key].is_null())
        return "-";
    if (j[key].is_string())
        return j[key].get<std::string>();
    return j[key].dump();
}

// A string field, or "" when it is missing or not a string.
inline std::string text_of(const Json &j, const char *key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// The show commands' tables: left-aligned columns, two spaces apart, a header line first.
#pragma once

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

} // namespace qorgan::control

// SPDX-License-Identifier: GPL-2.0-or-later
// Reading records back: `show log audit` (R38-4: the last two months and more, filtered by
// user, action and time) and read_after() for the syslog forwarder, which tails the store
// from another thread or process while it is written and rotated.
#include "control/audit/files.h"
#include "control/audit/record.h"

#include <unistd.h>

namespace qorgan::audit {

namespace {

bool matches(const Filter &f, const Record &r) {
    return (f.user.empty() || r.user == f.user) && (f.action.empty() || r.action == f.action) &&
           r.time_us >= f.since_us && r.time_us <= f.until_us;
}

} // namespace

Result<std::vector<Record>> Store::query(const Filter &f) const {
    std::lock_guard lock(_mutex);
    std::vector<Record> out;
    if (f.limit == 0)
        return out;
    auto files = list_files(_dir);
    if (!files)
        return files.error();
    // Newest file first; each file's matches are kept in order and the files stacked.
    std::vector<std::vector<Record>> found;
    size_t total = 0;
    for (auto it = files->rbegin(); it != files->rend() && total < f.limit; ++it) {
        auto text = read_records(_dir, *it);
        if (!text)
            return text.error();
        std::vector<Record> in_file;
        bool older_than_since = false;
        for (std::string_view line : split_lines(*text).lines) {
            auto r = parse_line(std::string(line));
            if (!r) // verify() names it; a query shows what can be read
                continue;
            older_than_since = older_than_since || r->time_us < f.since_us;
            if (matches(f, *r))
                in_file.push_back(std::move(*r));
        }
        total += in_file.size();
        found.push_back(std::move(in_file));
        if (older_than_since) // the files before this one are older still
            break;
    }
    for (auto it = found.rbegin(); it != found.rend(); ++it)
        for (auto &r : *it)
            out.push_back(std::move(r));
    if (out.size() > f.limit)
        out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(f.limit));
    return out;
}

Result<std::vector<Record>> read_after(const std::string &dir, uint64_t after, size_t max) {
    std::vector<Record> out;
    if (max == 0)
        return out;
    // A rotation can remove the current file between listing and reading it; the archive
    // it became is there by then, so the walk starts over (a few times at most).
    for (int attempt = 0; attempt < 3; ++attempt) {
        out.clear();
        auto files = list_files(dir);
        if (!files)
            return files.error();
        size_t start = 0;
        for (size_t i = 0; i < files->size(); ++i)
            if ((*files)[i].first <= after + 1)
                start = i;
        bool vanished = false;
        for (size_t i = start; i < files->size() && !vanished; ++i) {
            const FileEntry &f = (*files)[i];
            auto text = read_records(dir, f);
            if (!text) {
                if (::access((dir + "/" + f.name).c_str(), F_OK) != 0) {
                    vanished = true;
                    break;
                }
                return text.error();
            }
            for (std::string_view line : split_lines(*text).lines) {
                auto r = parse_line(std::string(line));
                // A broken line is verify()'s to report; the rest still goes. A seq already
                // taken is the plain twin of an archive that a rotation has just written.
                if (!r || r->seq <= (out.empty() ? after : out.back().seq))
                    continue;
                out.push_back(std::move(*r));
                if (out.size() == max)
                    return out;
            }
        }
        if (!vanished)
            return out;
    }
    return Error{Location{dir, 0, 0}, "the audit files kept changing while being read"};
}

} // namespace qorgan::audit

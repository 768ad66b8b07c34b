// SPDX-License-Identifier: GPL-2.0-or-later
// Commit, commit confirmed, rollback, compare, load and save over the revision store and
// the dataplane link. Order of a commit: validate, refuse stale, store, apply, point.
#include "control/transactions.h"

#include "config/compliance.h"
#include "config/config.h"
#include "config/schema_tree.h"
#include "config/set_form.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace qorgan::control {

namespace {

constexpr unsigned max_confirm_minutes = 65535;
// Above this many cells the diff falls back to "what is not in the other side".
constexpr size_t max_diff_cells = 4u << 20;

std::string utc_time(int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

Error plain_error(std::string message) {
    return Error{Location{}, std::move(message)};
}

// Set-form diff: "- " for lines only in `a`, "+ " for lines only in `b`, in order.
std::string diff_lines(const std::vector<std::string> &a, const std::vector<std::string> &b) {
    size_t head = 0;
    while (head < a.size() && head < b.size() && a[head] == b[head])
        ++head;
    size_t tail = 0;
    while (tail < a.size() - head && tail < b.size() - head &&
           a[a.size() - 1 - tail] == b[b.size() - 1 - tail])
        ++tail;
    const size_t n = a.size() - head - tail;
    const size_t m = b.size() - head - tail;
    auto A = [&](size_t i) -> const std::string & { return a[head + i]; };
    auto B = [&](size_t j) -> const std::string & { return b[head + j]; };

    std::string out;
    if ((n + 1) * (m + 1) > max_diff_cells) {
        std::vector<std::string> sa(a.begin() + head, a.end() - tail);
        std::vector<std::string> sb(b.begin() + head, b.end() - tail);
        std::sort(sa.begin(), sa.end());
        std::sort(sb.begin(), sb.end());
        for (size_t i = 0; i < n; ++i)
            if (!std::binary_search(sb.begin(), sb.end(), A(i)))
                out += "- " + A(i) + "\n";
        for (size_t j = 0; j < m; ++j)
            if (!std::binary_search(sa.begin(), sa.end(), B(j)))
                out += "+ " + B(j) + "\n";
        return out;
    }
    // Longest common subsequence of the middle parts, walked from the front.
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t & { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            at(i, j) = A(i) == B(j) ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && A(i) == B(j)) {
            ++i;
            ++j;
        } else if (j == m || (i < n && at(i + 1, j) >= at(i, j + 1))) {
            out += "- " + A(i++) + "\n";
        } else {
            out += "+ " + B(j++) + "\n";
        }
    }
    return out;
}

const config::SchemaNode *schema_child(const config::SchemaNode *parent, const config::Node &n) {
    if (!parent)
        return nullptr;
    const config::SchemaNode *named = nullptr;
    for (const auto &c : parent->children) {
        if (c.kind == config::SchemaKind::named)
            named = &c;
        else if (c.keyword == n.keyword())
            return &c;
    }
    return named;
}

std::vector<std::string> leaf_values(const config::Node &n) {
    std::vector<std::string> out;
    for (size_t i = 1; i < n.words.size(); ++i)
        out.push_back(n.words[i].text);
    if (n.list)
        for (const auto &w : n.list->items)
            out.push_back(w.text);
    return out;
}

bool same_words(const config::Node &a, const config::Node &b, size_t count) {
    if (a.words.size() < count || b.words.size() < count)
        return false;
    for (size_t i = 0; i < count; ++i)
        if (a.words[i].text != b.words[i].text)
            return false;
    return true;
}

// Junos-style `load merge`: blocks are merged by name or key, a single-valued leaf is
// replaced, a repeatable leaf gains the values it lacks, a flag is set once.
void merge_into(config::Node &dst, const config::Node &src, const config::SchemaNode *schema) {
    for (const auto &s : src.children) {
        const config::SchemaNode *sc = schema_child(schema, s);
        const auto kind = sc ? sc->kind : config::SchemaKind::container;
        if (kind == config::SchemaKind::leaf_list && !s.has_block) {
            std::vector<std::string> have;
            for (const auto &d : dst.children)
                if (!d.has_block && d.keyword() == s.keyword())
                    for (auto &v : leaf_values(d))
                        have.push_back(std::move(v));
            for (const auto &v : leaf_values(s)) {
                if (std::find(have.begin(), have.end(), v) != have.end())
                    continue;
                config::Node leaf;
                leaf.words = {s.words.front(), config::Word{v, s.where}};
                leaf.where = s.where;
                dst.children.push_back(std::move(leaf));
                have.push_back(v);
            }
            continue;
        }
        // How many leading words identify the statement within its block.
        size_t key_words = s.words.size();
        if (kind == config::SchemaKind::leaf || kind == config::SchemaKind::flag ||
            kind == config::SchemaKind::named || kind == config::SchemaKind::container)
            key_words = 1;
        else if (kind == config::SchemaKind::keyed)
            key_words = 2;
        if (!sc && s.has_block)
            key_words = s.words.size();
        config::Node *match = nullptr;
        for (auto &d : dst.children)
            if (d.has_block == s.has_block && d.words.size() >= key_words &&
                same_words(d, s, key_words)) {
                match = &d;
                break;
            }
        if (!match) {
            dst.children.push_back(s);
        } else if (s.has_block) {
            merge_into(*match, s, sc);
        } else {
            *match = s;
        }
    }
}

} // namespace

Transactions::Transactions(Store &store, DataplaneLink &dataplane, std::string bootstrap_text)
    : _store(store), _dataplane(dataplane), _bootstrap(std::move(bootstrap_text)) {}

Result<std::string> Transactions::recover() {
    if (_store.running() == 0) {
        // Ask first: a dataplane that is not there yet must not cost a stored revision on
        // every retry.
        if (auto state = _dataplane.state(); !state)
            return Error{state.error().where,
                         "cannot ask the dataplane what it runs: " + state.error().message};
        auto tree = config::parse_tree(_bootstrap, "bootstrap");
        if (!tree)
            return tree.error();
        Candidate c{std::move(tree.value()), 0, true};
        CommitOptions opts{"qorgand", "bootstrap: the default configuration", std::nullopt};
        auto r = commit(c, opts, static_cast<int64_t>(::time(nullptr)));
        if (!r)
            return r.error();
        return "committed the bootstrap configuration as revision " + std::to_string(r->revision) +
               " (dataplane epoch " + std::to_string(r->epoch) + ")";
    }
    const uint32_t running = _store.running();
    auto text = _store.text(running);
    if (!text)
        return Error{text.error().where,
                     text.error().message + "; nothing was pushed to the dataplane"};
    const std::string sha = sha256_hex(*text);
    auto state = _dataplane.state();
    if (!state)
        return Error{state.error().where,
                     "cannot ask the dataplane what it runs: " + state.error().message};
    if (state->sha256 == sha)
        return "dataplane already runs revision " + std::to_string(running) + " (epoch " +
               std::to_string(state->epoch) + "): nothing to do";
    auto applied = _dataplane.apply(*text, running, sha);
    if (!applied)
        return Error{applied.error().where, "dataplane refused running revision " +
                                                std::to_string(running) + ": " +
                                                applied.error().message};
    return "dataplane ran " + (state->sha256.empty() ? std::string("nothing") : state->sha256) +
           "; pushed running revision " + std::to_string(running) + " (epoch " +
           std::to_string(applied->epoch) + ")";
}

Result<Candidate> Transactions::begin() const {
    auto tree = revision_tree(0);
    if (!tree)
        return tree.error();
    return Candidate{std::move(tree.value()), _store.running(), false};
}

Status Transactions::check(const Candidate &c) const {
    const std::string text = config::print_tree(c.tree);
    auto conf = config::load_text(text, "candidate");
    if (!conf)
        return conf.error();
    return config::check_compliance(*conf);
}

Result<CommitResult> Transactions::commit(Candidate &c, const CommitOptions &opts, int64_t now) {
    if (opts.confirm_minutes &&
        (*opts.confirm_minutes == 0 || *opts.confirm_minutes > max_confirm_minutes))
        return plain_error("commit confirmed " + std::to_string(*opts.confirm_minutes) +
                           ": expected 1.." + std::to_string(max_confirm_minutes) + " minutes");
    if (auto s = check(c); !s)
        return s.error();

    const uint32_t previous = _store.running();
    if (c.base != previous) {
        std::string who = "another session";
        if (auto r = _store.info(previous))
            who = r->author + " at " + utc_time(r->time) + " (revision " +
                  std::to_string(previous) + ")";
        return plain_error("the candidate is stale: the configuration was committed by " + who +
                           " since this candidate was taken from revision " +
                           std::to_string(c.base) +
                           "; run `rollback 0` or `update` to start from it");
    }

    const std::string text = config::print_tree(c.tree);
    const std::string sha = sha256_hex(text);
    CommitResult result;
    if (previous != 0) {
        if (auto r = _store.info(previous); r && r->sha256 == sha) {
            result.revision = previous;
            result.no_change = true;
            if (auto st = _dataplane.state())
                result.epoch = st->epoch;
            // A plain commit confirms a pending commit confirmed; a confirmed one extends it.
            if (opts.confirm_minutes && _confirm_deadline) {
                _confirm_deadline = now + static_cast<int64_t>(*opts.confirm_minutes) * 60;
                result.confirm_deadline = *_confirm_deadline;
            } else {
                _confirm_deadline.reset();
            }
            c.changed = false;
            return result;
        }
    }

    auto n = _store.add(text, opts.author, opts.comment);
    if (!n)
        return n.error();
    auto applied = _dataplane.apply(text, *n, sha);
    if (!applied)
        return Error{applied.error().where, "the dataplane refused revision " + std::to_string(*n) +
                                                ": " + applied.error().message + "; revision " +
                                                std::to_string(previous) + " keeps running"};
    if (auto s = _store.set_running(*n); !s)
        return s.error();

    result.revision = *n;
    result.epoch = applied->epoch;
    if (opts.confirm_minutes && previous != 0) {
        _confirm_deadline = now + static_cast<int64_t>(*opts.confirm_minutes) * 60;
        _confirm_previous = previous;
        result.confirm_deadline = *_confirm_deadline;
    } else {
        _confirm_deadline.reset();
        _confirm_previous = 0;
    }
    c.base = *n;
    c.changed = false;
    return result;
}

Status Transactions::confirm() {
    if (!_confirm_deadline)
        return plain_error("no commit confirmed is waiting for confirmation");
    _confirm_deadline.reset();
    _confirm_previous = 0;
    return Ok{};
}

Result<bool> Transactions::tick(int64_t now) {
    if (!_confirm_deadline || now < *_confirm_deadline)
        return false;
    const uint32_t unconfirmed = _store.running();
    auto text = _store.text(_confirm_previous);
    if (!text)
        return text.error();
    const std::string sha = sha256_hex(*text);
    auto n =
        _store.add(*text, "qorgand",
                   "rollback: commit confirmed " + std::to_string(unconfirmed) + " not confirmed");
    if (!n)
        return n.error();
    // On failure the rollback stays pending and the next tick tries again.
    auto applied = _dataplane.apply(*text, *n, sha);
    if (!applied)
        return Error{applied.error().where,
                     "rollback of unconfirmed revision " + std::to_string(unconfirmed) +
                         ": the dataplane refused revision " + std::to_string(*n) + ": " +
                         applied.error().message};
    if (auto s = _store.set_running(*n); !s)
        return s.error();
    _confirm_deadline.reset();
    _confirm_previous = 0;
    return true;
}

std::optional<int64_t> Transactions::pending_confirm_deadline() const {
    return _confirm_deadline;
}

Result<config::Node> Transactions::revision_tree(uint32_t n_back) const {
    const uint32_t running = _store.running();
    if (running == 0)
        return plain_error("no configuration has been committed yet");
    if (n_back >= running)
        return plain_error("rollback " + std::to_string(n_back) + ": there are only " +
                           std::to_string(running - 1) +
                           " revisions before the running one; expected 0.." +
                           std::to_string(running - 1));
    const uint32_t n = running - n_back;
    auto text = _store.text(n);
    if (!text)
        return text.error();
    return config::parse_tree(*text, "revision " + std::to_string(n));
}

std::string Transactions::compare(const Candidate &c) const {
    auto running = revision_tree(0);
    std::vector<std::string> before;
    std::string note;
    if (running)
        before = config::to_set_lines(*running);
    else
        note = "# running configuration unavailable: " + running.error().to_string() + "\n";
    return note + diff_lines(before, config::to_set_lines(c.tree));
}

Result<std::string> Transactions::compare(uint32_t older, uint32_t newer) const {
    std::vector<std::string> sides[2];
    const uint32_t numbers[2] = {older, newer};
    for (int i = 0; i < 2; ++i) {
        auto text = _store.text(numbers[i]);
        if (!text)
            return text.error();
        auto tree = config::parse_tree(*text, "revision " + std::to_string(numbers[i]));
        if (!tree)
            return tree.error();
        sides[i] = config::to_set_lines(*tree);
    }
    return diff_lines(sides[0], sides[1]);
}

Status Transactions::load(Candidate &c, const std::string &path, bool merge) const {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return Error{Location{path, 0, 0}, std::string("cannot read: ") + std::strerror(errno)};
    std::string text;
    char buf[65536];
    ssize_t got;
    while ((got = ::read(fd, buf, sizeof buf)) > 0)
        text.append(buf, static_cast<size_t>(got));
    const int read_errno = errno;
    ::close(fd);
    if (got < 0)
        return Error{Location{path, 0, 0},
                     std::string("cannot read: ") + std::strerror(read_errno)};
    auto tree = config::parse_tree(text, path);
    if (!tree)
        return tree.error();
    if (merge)
        merge_into(c.tree, *tree, &config::schema_root());
    else
        c.tree = std::move(tree.value());
    c.changed = true;
    return Ok{};
}

Status Transactions::save(const Candidate &c, const std::string &path) const {
    const std::string text = config::print_tree(c.tree);
    const std::string temp = path + ".tmp";
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return Error{Location{path, 0, 0}, std::string("cannot write: ") + std::strerror(errno)};
    size_t done = 0;
    int failure = 0;
    while (done < text.size() && failure == 0) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n > 0)
            done += static_cast<size_t>(n);
        else if (n < 0 && errno != EINTR)
            failure = errno;
    }
    if (failure == 0 && ::fsync(fd) != 0)
        failure = errno;
    ::close(fd);
    if (failure == 0 && ::rename(temp.c_str(), path.c_str()) != 0)
        failure = errno;
    if (failure != 0) {
        ::unlink(temp.c_str());
        return Error{Location{path, 0, 0}, std::string("cannot write: ") + std::strerror(failure)};
    }
    return Ok{};
}

} // namespace qorgan::control

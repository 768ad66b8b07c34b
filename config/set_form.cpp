// SPDX-License-Identifier: GPL-2.0-or-later
// The set form: printing a tree as `set` lines and editing it with `set` and `delete`,
// guided by the schema tree (config/schema_tree.h) so errors can say what was expected.
#include "config/set_form.h"

#include "config/config.h"
#include "config/schema.h"
#include "config/schema_tree.h"

#include <algorithm>
#include <optional>

namespace qorgan::config {

namespace {

using K = SchemaKind;

constexpr std::size_t max_name_length = 31;

void emit_lines(const Node &n, const std::string &prefix, std::vector<std::string> &out) {
    std::string line = prefix;
    for (const Word &w : n.words)
        line += " " + quote_word(w.text);
    if (n.list) {
        for (const Word &w : n.list->items)
            out.push_back(line + " " + quote_word(w.text));
        return;
    }
    if (n.has_block && !n.children.empty()) {
        for (const Node &c : n.children)
            emit_lines(c, line, out);
        return;
    }
    out.push_back(line);
}

std::string join(const std::vector<std::string> &items, const std::string &sep) {
    std::string out;
    for (const std::string &s : items)
        out += (out.empty() ? "" : sep) + s;
    return out;
}

// "set interfaces inner0 mtu": the command and the words up to the offending one.
std::string where_of(const std::string &verb, const std::vector<std::string> &words,
                     std::size_t upto) {
    std::string out = verb;
    for (std::size_t i = 0; i < upto && i < words.size(); ++i)
        out += " " + quote_word(words[i]);
    return out;
}

Error fail(const std::string &verb, const std::vector<std::string> &words, std::size_t upto,
           const std::string &what, const std::string &expected) {
    return Error{{}, where_of(verb, words, upto) + ": " + what + "; expected " + expected};
}

std::string quoted(const std::string &s) {
    return "'" + s + "'";
}

// What may come next inside a block: its keywords, or the hint of its named entries.
std::string expected_in(const SchemaNode &s) {
    std::vector<std::string> names;
    for (const SchemaNode &c : s.children) {
        if (c.kind == K::named)
            return c.value_hint;
        names.push_back(c.keyword);
    }
    std::sort(names.begin(), names.end());
    return "one of: " + join(names, ", ");
}

std::string expected_value(const SchemaNode &s) {
    std::vector<std::string> all = s.choices;
    if (!s.value_hint.empty())
        all.push_back(s.value_hint);
    return all.size() == 1 ? all[0] : "one of: " + join(all, ", ");
}

bool parse_number(const std::string &s, uint64_t &out) {
    if (s.empty() || s.size() > 19)
        return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        out = out * 10 + uint64_t(c - '0');
    }
    return true;
}

bool valid_name(const std::string &s) {
    bool ok = !s.empty() && s.size() <= max_name_length &&
              ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
    for (char c : s)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-');
    return ok;
}

// Checks a value against what the schema knows of it; the text of the complaint, if any.
std::optional<std::string> check_value(const SchemaNode &s, const std::string &v) {
    for (const std::string &c : s.choices)
        if (c == v)
            return std::nullopt;
    const std::string &h = s.value_hint;
    std::size_t dots = h.find("..");
    if (h.size() > 2 && h.front() == '<' && dots != std::string::npos && h.find('|') == h.npos) {
        uint64_t lo = 0, hi = 0, n = 0;
        parse_number(h.substr(1, dots - 1), lo);
        parse_number(h.substr(dots + 2, h.size() - dots - 3), hi);
        if (!parse_number(v, n))
            return quoted(v) + " is not " + (s.choices.empty() ? "a number" : "valid");
        if (n < lo || n > hi)
            return v + " is out of range";
        return std::nullopt;
    }
    if (!s.choices.empty() && h.empty())
        return quoted(v) + " is not valid";
    if (h == "<name>" || h == "<zone>" || h == "<interface>") {
        if (!valid_name(v))
            return quoted(v) + " is not a valid name";
        return std::nullopt;
    }
    if (h == "<host-address>") { // a VPN channel's ends: bare or with the full length
        auto p = parse_prefix(v);
        if (!p)
            return quoted(v) + " is not an IPv4 or IPv6 address";
        if (p->length != (p->family == 6 ? 128 : 32))
            return v + " is a network, not a single address";
        return std::nullopt;
    }
    if (h == "<application>" && !is_application_name(v))
        return quoted(v) + " is not an nDPI application name";
    if (h == "<domain>" && !dns_name(v))
        return quoted(v) + " is not a DNS name";
    if (h == "<absolute-path>" && (v.empty() || v[0] != '/'))
        return quoted(v) + " is not an absolute path";
    bool ipv4 = h == "<ipv4-prefix>" || h == "<ipv4-address>"; // NAT44
    if (h == "<prefix>" || h == "<address>" || h == "<address>/<length>" || ipv4) {
        auto p = parse_prefix(v);
        bool has_length = v.find('/') != std::string::npos;
        bool prefix = h == "<prefix>" || h == "<ipv4-prefix>";
        if (!p)
            return quoted(v) + " is not an " + (ipv4 ? "IPv4 " : "IPv4 or IPv6 ") +
                   (prefix ? "prefix" : "address");
        if (ipv4 && p->family != 4)
            return quoted(v) + " is IPv6: NAT44 translates IPv4 only";
        if ((h == "<address>" || h == "<ipv4-address>") && has_length)
            return quoted(v) + " has a prefix length";
        if (h == "<address>/<length>" && !has_length)
            return quoted(v) + " has no prefix length";
        if (prefix && network_of(*p) != *p)
            return v + " has host bits set (did you mean " + format_prefix(network_of(*p)) + "?)";
        return std::nullopt;
    }
    if (h == "<N|N-M>" || h == "<low>-<high>") {
        std::size_t dash = v.find('-');
        uint64_t l = 0, hgh = 0;
        bool ok = parse_number(v.substr(0, dash), l) &&
                  parse_number(dash == v.npos ? v : v.substr(dash + 1), hgh) && l <= hgh &&
                  hgh <= 65535;
        if (!ok)
            return quoted(v) + " is not a port or port range";
        return std::nullopt;
    }
    if (v.empty())
        return std::string("an empty value");
    return std::nullopt;
}

bool same_words(const Node &n, const std::vector<std::string> &words) {
    if (n.words.size() != words.size())
        return false;
    for (std::size_t i = 0; i < words.size(); ++i)
        if (n.words[i].text != words[i])
            return false;
    return true;
}

Node *block_of(Node &parent, const std::vector<std::string> &words) {
    for (Node &c : parent.children)
        if (c.has_block && same_words(c, words))
            return &c;
    return nullptr;
}

Node make(const std::vector<std::string> &words, bool block) {
    Node n;
    for (const std::string &w : words)
        n.words.push_back(Word{w, {}});
    n.has_block = block;
    return n;
}

// One step of a schema walk: which schema node a word selects and how many words it uses.
struct Step {
    const SchemaNode *schema = nullptr;
    std::vector<std::string> block_words; // the words of the block statement it opens
};

enum class Verb { set, del, edit };

const char *verb_name(Verb v) {
    return v == Verb::set ? "set" : v == Verb::del ? "delete" : "edit";
}

// The walk shared by set, delete and edit: containers, names and keys down to the last
// block; `rest` is where the leaf (if any) starts.
struct Walk {
    std::vector<Step> blocks;
    const SchemaNode *leaf = nullptr; // leaf, leaf_list or flag reached
    std::size_t leaf_at = 0;          // index of the leaf keyword
};

Result<Walk> walk(Verb verb, const std::vector<std::string> &words) {
    const std::string v = verb_name(verb);
    Walk out;
    const SchemaNode *s = &schema_root();
    std::size_t i = 0;
    while (i < words.size()) {
        const std::string &w = words[i];
        const SchemaNode *next = nullptr;
        for (const SchemaNode &c : s->children)
            if (c.kind == K::named || c.keyword == w)
                next = &c;
        if (!next)
            return fail(v, words, i + 1, "unknown " + quoted(w), expected_in(*s));
        switch (next->kind) {
        case K::container:
            out.blocks.push_back({next, {w}});
            ++i;
            break;
        case K::named:
            if (!valid_name(w))
                return fail(v, words, i + 1, quoted(w) + " is not a valid name",
                            next->value_hint + ": a letter, then letters, digits, '_' or '-' (at "
                                               "most 31)");
            out.blocks.push_back({next, {w}});
            ++i;
            break;
        case K::keyed:
            if (i + 1 >= words.size())
                return fail(v, words, i + 1, "missing " + next->value_hint, next->value_hint);
            if (auto bad = check_value(*next, words[i + 1]))
                return fail(v, words, i + 2, *bad, next->value_hint);
            out.blocks.push_back({next, {w, words[i + 1]}});
            i += 2;
            break;
        case K::leaf:
        case K::leaf_list:
        case K::flag:
            out.leaf = next;
            out.leaf_at = i;
            return out;
        }
        s = next;
    }
    return out;
}

const SchemaNode &last_schema(const Walk &w) {
    return w.blocks.empty() ? schema_root() : *w.blocks.back().schema;
}

// Values a leaf statement holds (its second word or its list).
std::vector<std::string> values_of(const Node &n) {
    std::vector<std::string> out;
    if (n.list)
        for (const Word &w : n.list->items)
            out.push_back(w.text);
    else if (n.words.size() > 1)
        out.push_back(n.words[1].text);
    return out;
}

void set_values(Node &n, const std::vector<std::string> &values) {
    n.words.resize(1);
    n.list.reset();
    if (values.size() == 1) {
        n.words.push_back(Word{values[0], {}});
        return;
    }
    List l;
    for (const std::string &v : values)
        l.items.push_back(Word{v, {}});
    n.list = std::move(l);
}

} // namespace

std::vector<std::string> to_set_lines(const Node &root) {
    std::vector<std::string> out;
    for (const Node &c : root.children)
        emit_lines(c, "set", out);
    return out;
}

Status apply_set(Node &root, const std::vector<std::string> &words) {
    if (words.empty())
        return fail("set", words, 0, "incomplete", expected_in(schema_root()));
    auto w = walk(Verb::set, words);
    if (!w)
        return w.error();
    Node work = root;
    Node *at = &work;
    for (const Step &st : w->blocks) {
        Node *b = block_of(*at, st.block_words);
        if (!b) {
            at->children.push_back(make(st.block_words, true));
            b = &at->children.back();
        }
        at = b;
    }
    if (w->leaf) {
        const SchemaNode &leaf = *w->leaf;
        std::size_t i = w->leaf_at;
        std::size_t used = leaf.kind == K::flag ? 1 : 2;
        if (leaf.kind != K::flag && i + 1 >= words.size())
            return fail("set", words, i + 1, "missing value", expected_value(leaf));
        if (i + used < words.size())
            return fail("set", words, i + used + 1, "unexpected " + quoted(words[i + used]),
                        "end of line after " + quoted(words[i + used - 1]));
        if (leaf.kind != K::flag)
            if (auto bad = check_value(leaf, words[i + 1]))
                return fail("set", words, i + 2, *bad, expected_value(leaf));
        auto &ch = at->children;
        auto is_leaf = [&](const Node &n) { return !n.has_block && n.keyword() == leaf.keyword; };
        auto first = std::find_if(ch.begin(), ch.end(), is_leaf);
        if (leaf.kind == K::flag) {
            if (first == ch.end())
                ch.push_back(make({leaf.keyword}, false));
        } else if (leaf.kind == K::leaf) {
            if (first == ch.end()) {
                ch.push_back(make({leaf.keyword, words[i + 1]}, false));
            } else {
                set_values(*first, {words[i + 1]});
                ch.erase(std::remove_if(first + 1, ch.end(), is_leaf), ch.end());
            }
        } else {
            Node *last = nullptr;
            bool present = false;
            for (Node &n : ch)
                if (is_leaf(n)) {
                    last = &n;
                    for (const std::string &v : values_of(n))
                        present = present || v == words[i + 1];
                }
            if (!last) {
                ch.push_back(make({leaf.keyword, words[i + 1]}, false));
            } else if (!present) {
                auto vals = values_of(*last);
                vals.push_back(words[i + 1]);
                set_values(*last, vals);
            }
        }
    }
    root = std::move(work);
    return Ok{};
}

Status apply_delete(Node &root, const std::vector<std::string> &words) {
    if (words.empty())
        return fail("delete", words, 0, "incomplete", expected_in(schema_root()));
    auto w = walk(Verb::del, words);
    if (!w)
        return w.error();
    Node work = root;
    Node *parent = &work;
    std::size_t consumed = 0;
    for (std::size_t k = 0; k < w->blocks.size(); ++k) {
        const Step &st = w->blocks[k];
        consumed += st.block_words.size();
        Node *b = block_of(*parent, st.block_words);
        if (!b) {
            std::vector<std::string> present;
            for (const Node &c : parent->children)
                if (c.has_block && !c.words.empty() &&
                    (st.schema->kind == K::named || c.words[0].text == st.block_words[0]))
                    present.push_back(c.words.back().text);
            std::string what = join(st.block_words, " ");
            return fail("delete", words, consumed, quoted(what) + " is not configured",
                        present.empty() ? std::string("something that exists")
                                        : "one of: " + join(present, ", "));
        }
        if (k + 1 == w->blocks.size() && !w->leaf) {
            parent->children.erase(parent->children.begin() + (b - parent->children.data()));
            root = std::move(work);
            return Ok{};
        }
        parent = b;
    }
    const SchemaNode &leaf = *w->leaf;
    std::size_t i = w->leaf_at;
    std::size_t max_words = leaf.kind == K::flag ? 1 : 2;
    if (i + max_words < words.size())
        return fail("delete", words, i + max_words + 1,
                    "unexpected " + quoted(words[i + max_words]),
                    "end of line after " + quoted(words[i + max_words - 1]));
    auto &ch = parent->children;
    auto is_leaf = [&](const Node &n) { return !n.has_block && n.keyword() == leaf.keyword; };
    if (std::none_of(ch.begin(), ch.end(), is_leaf))
        return fail("delete", words, i + 1, quoted(leaf.keyword) + " is not configured",
                    "a statement that exists here");
    if (i + 1 == words.size()) { // the whole statement, all its values
        ch.erase(std::remove_if(ch.begin(), ch.end(), is_leaf), ch.end());
        root = std::move(work);
        return Ok{};
    }
    const std::string &value = words[i + 1];
    std::vector<std::string> present;
    for (auto it = ch.begin(); it != ch.end(); ++it) {
        if (!is_leaf(*it))
            continue;
        auto vals = values_of(*it);
        auto found = std::find(vals.begin(), vals.end(), value);
        if (found == vals.end()) {
            present.insert(present.end(), vals.begin(), vals.end());
            continue;
        }
        vals.erase(found);
        if (vals.empty())
            ch.erase(it);
        else
            set_values(*it, vals);
        root = std::move(work);
        return Ok{};
    }
    return fail("delete", words, i + 2, quoted(value) + " is not configured",
                "one of: " + join(present, ", "));
}

Result<std::vector<std::string>> resolve_edit_path(const Node &root,
                                                   const std::vector<std::string> &words) {
    (void)root; // edit may enter a block that does not exist yet; `set` creates it
    auto w = walk(Verb::edit, words);
    if (!w)
        return w.error();
    if (w->leaf) {
        std::vector<std::string> blocks;
        for (const SchemaNode &c : last_schema(*w).children)
            if (c.kind != K::leaf && c.kind != K::leaf_list && c.kind != K::flag)
                blocks.push_back(c.kind == K::named ? c.value_hint : c.keyword);
        std::sort(blocks.begin(), blocks.end());
        return fail("edit", words, w->leaf_at + 1, quoted(w->leaf->keyword) + " is not a block",
                    blocks.empty() ? std::string("a block (this one holds only statements)")
                                   : "one of: " + join(blocks, ", "));
    }
    std::vector<std::string> out;
    for (const Step &st : w->blocks)
        out.insert(out.end(), st.block_words.begin(), st.block_words.end());
    return out;
}

const Node *find_path(const Node &root, const std::vector<std::string> &path) {
    const Node *at = &root;
    std::size_t i = 0;
    while (i < path.size()) {
        const Node *next = nullptr;
        std::size_t used = 0;
        for (const Node &c : at->children) {
            std::size_t n = c.words.size();
            if (n == 0 || n <= used || i + n > path.size())
                continue;
            bool same = true;
            for (std::size_t k = 0; k < n; ++k)
                same = same && c.words[k].text == path[i + k];
            if (same) {
                next = &c;
                used = n;
            }
        }
        if (!next && i + 1 == path.size()) // a statement by its keyword: "... mtu"
            for (const Node &c : at->children)
                if (!c.has_block && c.keyword() == path[i]) {
                    next = &c;
                    used = 1;
                    break;
                }
        if (!next)
            return nullptr;
        at = next;
        i += used;
    }
    return at;
}

} // namespace qorgan::config

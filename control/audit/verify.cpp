// SPDX-License-Identifier: GPL-2.0-or-later
// `request audit verify` (R38-6): walks every file in seq order and checks that each line
// parses, seqs run on without a gap, each prev is the SHA-256 of the line before, each seal
// has the next epoch and its HMAC under the key evolved from key_0, and that the files hold
// as many seals as seal.key says were made. Stops at the first broken record and names it.
#include "control/audit/files.h"
#include "control/audit/record.h"

#include <cerrno>
#include <unistd.h>

namespace qorgan::audit {

namespace {

// More seals than this in expired.json would mean evolving the key for hours: a forgery.
constexpr int64_t max_expired_epoch = 1'000'000'000;

std::string at(const std::string &file, size_t line, uint64_t seq) {
    return file + " line " + std::to_string(line) + " (seq " + std::to_string(seq) + ")";
}

class Walker {
public:
    Walker(const std::string &dir, const Key &key0) : _dir(dir), _key(key0) {}
    // Without key 0 (kept offline only): the chain, the order and the count of seals are
    // checked, the seals' HMACs are not.
    explicit Walker(const std::string &dir) : _dir(dir), _key{}, _check_hmac(false) {}
    ~Walker() { wipe(_key); }

    VerifyReport run() {
        if (!walk())
            return finish();
        check_seal_key();
        return finish();
    }

private:
    bool broken(const std::string &what) {
        _rep.first_broken = what;
        return false;
    }

    bool start_after_expired() {
        auto e = read_expired(_dir);
        if (!e)
            return broken(e.error().to_string());
        if (!e->has_value())
            return true;
        _expired = **e;
        if (_expired->epoch > max_expired_epoch || _expired->hash.size() != 64)
            return broken("expired.json: implausible epoch or hash");
        _next_seq = _expired->seq + 1;
        _prev = _expired->hash;
        _prev_at = "expired.json";
        for (int64_t i = 0; i < _expired->epoch; ++i)
            _key = evolve(_key);
        _epoch = _expired->epoch;
        return true;
    }

    bool walk() {
        if (!start_after_expired())
            return false;
        auto files = list_files(_dir);
        if (!files)
            return broken(files.error().to_string());
        for (size_t i = 0; i < files->size(); ++i) {
            const FileEntry &f = (*files)[i];
            // Archives wholly before the expiry point were about to be deleted.
            if (_expired && i + 1 < files->size() && (*files)[i + 1].first <= _next_seq &&
                _rep.files == 0)
                continue;
            if (!walk_file(f, i + 1 == files->size()))
                return false;
        }
        return true;
    }

    bool walk_file(const FileEntry &f, bool last) {
        ++_rep.files;
        _last_file = f.name;
        if (f.first > _next_seq)
            return broken(f.name + ": starts at seq " + std::to_string(f.first) + " but seq " +
                          std::to_string(_next_seq) + " was expected: records " +
                          std::to_string(_next_seq) + "-" + std::to_string(f.first - 1) +
                          " are missing (a deleted or truncated file)");
        if (f.first < _next_seq)
            return broken(f.name + ": starts at seq " + std::to_string(f.first) +
                          ", which the files before already hold (a duplicated or renamed file)");
        auto text = read_records(_dir, f);
        if (!text)
            return broken(text.error().to_string());
        Lines lines = split_lines(*text);
        if (lines.lines.empty() && lines.torn == 0 && (f.gz || !last))
            return broken(f.name + ": holds no records");
        for (size_t n = 0; n < lines.lines.size(); ++n) {
            std::string_view next = n + 1 < lines.lines.size() ? lines.lines[n + 1] : "";
            if (!check_line(f.name, n + 1, std::string(lines.lines[n]), next))
                return false;
        }
        if (lines.torn > 0)
            return broken(at(f.name, lines.lines.size() + 1, _next_seq) + ": torn line (" +
                          std::to_string(lines.torn) +
                          " bytes without a newline): a truncated file, or a crash during a "
                          "write that opening the store discards");
        return true;
    }

    bool check_line(const std::string &file, size_t n, const std::string &line,
                    std::string_view next) {
        std::string here = at(file, n, _next_seq);
        auto r = parse_line(line);
        if (!r)
            return broken(here + ": " + r.error().message);
        if (r->seq != _next_seq)
            return broken(here + ": found seq " + std::to_string(r->seq) +
                          (r->seq > _next_seq ? ": records are missing or out of order"
                                              : ": a record out of order or repeated"));
        std::string hash = sha256_hex(line);
        if (r->prev != _prev) {
            // If the record after this one still links to it, this one is intact and the
            // record before it was altered.
            auto after = next.empty() ? Result<Record>(Error{}) : parse_line(std::string(next));
            if (after && after->prev == hash)
                return broken(_prev_at + ": altered: its SHA-256 no longer matches the prev of "
                                         "the record after it");
            return broken(here + ": prev does not match the SHA-256 of the record before it "
                                 "(this record or that one was altered)");
        }
        if (r->action == "seal") {
            if (r->epoch != _epoch)
                return broken(here + ": seal of epoch " + std::to_string(r->epoch) +
                              " where epoch " + std::to_string(_epoch) +
                              " was expected (a seal was removed or forged)");
            if (_check_hmac && r->hmac != seal_hmac(_key, seal_message(r->seq, r->prev, r->time_us,
                                                                       r->clock_synced)))
                return broken(here + ": seal of epoch " + std::to_string(_epoch) +
                              " does not match: records before it were altered or the seal "
                              "was forged");
            Key next_key = evolve(_key);
            wipe(_key);
            _key = next_key;
            wipe(next_key);
            ++_epoch;
            ++_rep.seals;
            _last_seal_seq = r->seq;
            _rep.unsealed_tail = 0;
        } else {
            ++_rep.unsealed_tail;
        }
        ++_rep.records;
        ++_next_seq;
        _prev = hash;
        _prev_at = here;
        return true;
    }

    void check_seal_key() {
        auto k = read_seal_key(_dir);
        if (!k) {
            broken(k.error().to_string());
            return;
        }
        std::string where = _last_file.empty() ? std::string("seal.key") : _last_file;
        if (k->epoch > _epoch)
            broken(where + ": truncated: the store sealed " + std::to_string(k->epoch) +
                   " times, the files hold " + std::to_string(_epoch) + " seals");
        else if (k->epoch == _epoch && _last_seal_seq != 0 && k->seq != _last_seal_seq)
            broken(where + ": truncated: the store's last seal was seq " + std::to_string(k->seq) +
                   ", the files' last seal is seq " + std::to_string(_last_seal_seq));
        // k->epoch < _epoch: a crash between a seal and saving the next key; open() repairs.
    }

    VerifyReport finish() {
        _rep.ok = _rep.first_broken.empty();
        _rep.summary = std::to_string(_rep.files) + " files, " + std::to_string(_rep.records) +
                       " records, " + std::to_string(_rep.seals) + " seals";
        if (_expired)
            _rep.summary += " (records to seq " + std::to_string(_expired->seq) +
                            " expired under the retention)";
        if (_rep.ok) {
            _rep.summary += _check_hmac ? ": intact"
                                        : ": chain intact; seals not checked (key 0 is kept "
                                          "offline: run 'request audit verify key <key>')";
            if (_rep.unsealed_tail > 0)
                _rep.summary +=
                    ", " + std::to_string(_rep.unsealed_tail) + " records after the last seal";
        } else {
            _rep.summary += ": BROKEN at " + _rep.first_broken;
        }
        return _rep;
    }

    std::string _dir;
    Key _key;
    bool _check_hmac = true;
    VerifyReport _rep;
    std::optional<Expired> _expired;
    uint64_t _next_seq = 1;
    std::string _prev;                  // hash of the last good line ("" before seq 1)
    std::string _prev_at = "the start"; // where that line is
    int64_t _epoch = 0;
    uint64_t _last_seal_seq = 0;
    std::string _last_file;
};

} // namespace

VerifyReport verify_dir(const std::string &dir, const std::array<uint8_t, 32> &key0) {
    return Walker(dir, key0).run();
}

VerifyReport Store::verify() const {
    std::lock_guard lock(_mutex);
    // The site may keep key 0 only offline (docs/AUDIT.md): then the chain alone.
    if (::access((_dir + "/verify.key").c_str(), F_OK) != 0 && errno == ENOENT)
        return Walker(_dir).run();
    auto key0 = read_verify_key(_dir);
    if (!key0) {
        VerifyReport rep;
        rep.first_broken = key0.error().to_string();
        rep.summary = "cannot verify: " + rep.first_broken;
        return rep;
    }
    auto rep = verify_dir(_dir, *key0);
    wipe(*key0);
    return rep;
}

} // namespace qorgan::audit

// SPDX-License-Identifier: GPL-2.0-or-later
// The writing side of the audit store: opening and crash recovery, append with fdatasync,
// seals with forward key evolution, rotation into gzip archives, retention and storage.
#include "control/audit/store.h"

#include "control/audit/files.h"
#include "control/audit/record.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/timex.h>
#include <unistd.h>

namespace qorgan::audit {

namespace {

constexpr int64_t us_per_day = 86400ll * 1000000;
constexpr int64_t rotate_retry_us = 60ll * 1000000; // after a failed rotation

Status check_options(const Options &o) {
    if (o.retention_days < min_retention_days)
        return Error{Location{}, "audit retention of " + std::to_string(o.retention_days) +
                                     " days refused: R38-4 requires at least " +
                                     std::to_string(min_retention_days) + " days (three years)"};
    if (o.warn_percent == 0 || o.warn_percent > 100)
        return Error{Location{}, "audit storage warning threshold must be 1-100 percent"};
    return Ok{};
}

int64_t realtime_us() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

bool kernel_clock_synced() {
    struct timex tx {};
    int state = ::adjtimex(&tx); // modes 0: read only
    return state >= 0 && state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

// mkdir -p; the audit folder itself is private to the service user.
Status make_dir(const std::string &path) {
    for (size_t slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1))
        ::mkdir(path.substr(0, slash).c_str(), 0755); // errors show at the last component
    if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            return Ok{};
        errno = ENOTDIR;
    }
    return io_error(path, "cannot create the audit folder");
}

bool exists(const std::string &path) {
    return ::access(path.c_str(), F_OK) == 0;
}

// Temp files of an interrupted atomic write or rotation: never the only copy of anything.
void remove_temp_files(const std::string &dir) {
    DIR *d = ::opendir(dir.c_str());
    if (d == nullptr)
        return;
    while (struct dirent *e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)
            ::unlink((dir + "/" + name).c_str());
    }
    ::closedir(d);
}

Status gzip_file(const std::string &dir, const FileEntry &plain) {
    auto data = read_whole(dir + "/" + plain.name);
    if (!data)
        return data.error();
    auto gz = gzip(*data);
    if (!gz)
        return Error{Location{dir + "/" + plain.name, 0, 0}, gz.error().message};
    // Archives are never written again.
    auto st = write_atomic(dir, file_name(plain.first, true), *gz, 0400);
    if (!st)
        return st;
    if (::unlink((dir + "/" + plain.name).c_str()) != 0)
        return io_error(dir + "/" + plain.name, "cannot remove after archiving");
    return fsync_dir(dir);
}

} // namespace

const char *to_string(Storage s) {
    switch (s) {
    case Storage::ok:
        return "ok";
    case Storage::warning:
        return "warning";
    case Storage::full:
        return "full";
    }
    return "?";
}

Result<std::unique_ptr<Store>> Store::open(const std::string &dir, Options o) {
    auto valid = check_options(o);
    if (!valid)
        return Error{Location{dir, 0, 0}, valid.error().message};
    std::unique_ptr<Store> s(new Store());
    s->_dir = dir.size() > 1 && dir.back() == '/' ? dir.substr(0, dir.size() - 1) : dir;
    auto st = s->init(std::move(o));
    if (!st)
        return st.error();
    return s;
}

Status Store::init(Options o) {
    _o = std::move(o);
    auto made = make_dir(_dir);
    if (!made)
        return made;
    _dir_fd = ::open(_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (_dir_fd < 0)
        return io_error(_dir, "cannot open the audit folder");
    if (::flock(_dir_fd, LOCK_EX | LOCK_NB) != 0)
        return io_error(_dir, "the audit store is open elsewhere");
    remove_temp_files(_dir);

    auto files = list_files(_dir);
    if (!files)
        return files.error();
    auto expired = read_expired(_dir);
    if (!expired)
        return expired.error();
    bool history = !files->empty() || expired->has_value();
    if (!history && (!exists(_dir + "/seal.key") || !exists(_dir + "/verify.key"))) {
        auto key0 = random_key();
        if (!key0)
            return Error{Location{_dir, 0, 0}, key0.error().message};
        std::string hex = to_hex(key0->data(), key0->size()) + "\n";
        auto st = write_atomic(_dir, "verify.key", hex, 0600);
        OPENSSL_cleanse(hex.data(), hex.size());
        if (st)
            st = write_seal_key(_dir, SealKey{0, *key0, 0});
        wipe(*key0);
        if (!st)
            return st;
    }
    // Without its key file the store cannot seal; new keys would hide what happened.
    auto key = read_seal_key(_dir);
    if (!key)
        return key.error();
    _epoch = key->epoch;
    _key = key->key;
    _last_seal_seq = key->seq;
    wipe(key->key);

    auto st = finish_rotations();
    if (!st)
        return st;
    st = recover_current();
    if (!st)
        return st;
    _ready = true;
    return Ok{};
}

// A crash in a rotation leaves a plain file beside its finished archive, or an older plain
// file not yet archived; an expiry can leave an archive that expired.json already covers.
Status Store::finish_rotations() {
    auto files = list_files(_dir);
    if (!files)
        return files.error();
    auto expired = read_expired(_dir);
    if (!expired)
        return expired.error();
    bool removed = false;
    for (size_t i = 0; i < files->size(); ++i) {
        const FileEntry &f = (*files)[i];
        bool last = i + 1 == files->size();
        bool twin = !f.gz && i > 0 && (*files)[i - 1].first == f.first;
        if (f.gz && !last && *expired && (*files)[i + 1].first <= (*expired)->seq + 1) {
            removed = ::unlink((_dir + "/" + f.name).c_str()) == 0 || removed;
        } else if (twin) {
            if (::unlink((_dir + "/" + f.name).c_str()) != 0)
                return io_error(_dir + "/" + f.name, "cannot remove after archiving");
            removed = true;
        } else if (!f.gz && !last) {
            auto st = gzip_file(_dir, f); // syncs the folder itself
            if (!st)
                return st;
        }
    }
    return removed ? fsync_dir(_dir) : Status(Ok{});
}

Status Store::recover_current() {
    auto files = list_files(_dir);
    if (!files)
        return files.error();
    _last_seal_us = now();
    uint64_t torn = 0;
    std::string tail_file, tail_text; // the file holding the chain's last line, and its text
    if (!files->empty() && !files->back().gz) {
        const FileEntry &f = files->back();
        _current = _dir + "/" + f.name;
        _current_first = f.first;
        auto data = read_whole(_current);
        if (!data)
            return data.error();
        torn = split_lines(*data).torn;
        _fd = ::open(_current.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (_fd < 0)
            return io_error(_current, "cannot open for appending");
        _size = data->size() - torn;
        if (torn > 0 && (::ftruncate(_fd, static_cast<off_t>(_size)) != 0 || ::fsync(_fd) != 0))
            return io_error(_current, "cannot cut the torn last line");
        data->resize(_size);
        if (_size > 0) {
            tail_file = _current;
            tail_text = std::move(*data);
        }
    }
    // An empty or absent current file: the chain goes on from the newest archive.
    for (auto it = files->rbegin(); it != files->rend() && tail_file.empty(); ++it) {
        if (!it->gz)
            continue;
        auto text = read_records(_dir, *it);
        if (!text)
            return text.error();
        if (!split_lines(*text).lines.empty()) {
            tail_file = _dir + "/" + it->name;
            tail_text = std::move(*text);
        }
    }
    if (!tail_file.empty()) {
        Lines lines = split_lines(tail_text);
        std::string last_line(lines.lines.back());
        auto r = parse_line(last_line);
        if (!r)
            return Error{Location{tail_file, 0, 0},
                         "cannot continue the audit chain: the last record is broken: " +
                             r.error().message};
        _last_seq = r->seq;
        _last_hash = sha256_hex(last_line);
        // Back to the last seal that seal.key already knows: the seals after it still need
        // their key evolution, and the records after the last seal count toward the next.
        std::vector<Record> seals;
        bool counting = true;
        for (size_t n = lines.lines.size(); n-- > 0;) {
            auto rec = parse_line(std::string(lines.lines[n]));
            if (!rec)
                break;
            if (rec->action == "seal") {
                if (rec->epoch < _epoch)
                    break;
                seals.insert(seals.begin(), std::move(*rec));
                counting = false;
            } else if (counting) {
                ++_since_seal;
            }
        }
        auto st = repair_key(seals);
        if (!st)
            return st;
    } else {
        auto expired = read_expired(_dir);
        if (!expired)
            return expired.error();
        if (*expired) {
            _last_seq = (*expired)->seq;
            _last_hash = (*expired)->hash;
        }
    }
    if (torn > 0) {
        Record r;
        r.action = "audit-recovered";
        r.detail = "a crash left " + std::to_string(torn) +
                   " bytes of an unacknowledged record at the end of " + _current +
                   "; they were discarded";
        r.result = "ok";
        auto seq = write_record(r);
        if (!seq)
            return seq.error();
        ++_since_seal;
    }
    return Ok{};
}

// A crash between writing a seal and saving the next key leaves seal.key one epoch behind;
// the seal itself proves which key comes next.
Status Store::repair_key(const std::vector<Record> &seals) {
    uint64_t seal_seq = 0;
    for (const Record &r : seals) {
        if (r.epoch != _epoch ||
            r.hmac != seal_hmac(_key, seal_message(r.seq, r.prev, r.time_us, r.clock_synced)))
            break; // not ours to repair: verify() reports it
        Key next = evolve(_key);
        wipe(_key);
        _key = next;
        wipe(next);
        ++_epoch;
        seal_seq = r.seq;
    }
    if (seal_seq == 0)
        return Ok{};
    _last_seal_seq = seal_seq;
    return write_seal_key(_dir, SealKey{_epoch, _key, seal_seq});
}

Store::~Store() {
    if (_ready) {
        std::lock_guard lock(_mutex);
        (void)seal_locked();
    }
    wipe(_key);
    if (_fd >= 0)
        ::close(_fd);
    if (_dir_fd >= 0)
        ::close(_dir_fd);
}

Status Store::set_options(const Options &o) {
    auto valid = check_options(o);
    if (!valid)
        return valid;
    std::lock_guard lock(_mutex);
    _o = o;
    return Ok{};
}

int64_t Store::now() const {
    return _o.now_us ? _o.now_us() : realtime_us();
}
bool Store::synced() const {
    return _o.clock_synced ? _o.clock_synced() : kernel_clock_synced();
}

uint64_t Store::last_seq() const {
    std::lock_guard lock(_mutex);
    return _last_seq;
}

Status Store::open_current() {
    _current_first = _last_seq + 1;
    _current = _dir + "/" + file_name(_current_first, false);
    _fd = ::open(_current.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (_fd < 0)
        return io_error(_current, "cannot create");
    struct stat st {};
    if (::fstat(_fd, &st) != 0) {
        auto err = io_error(_current, "cannot stat");
        ::close(_fd);
        _fd = -1;
        return err;
    }
    _size = static_cast<uint64_t>(st.st_size);
    return fsync_dir(_dir);
}

void Store::stamp(Record &r) const {
    r.seq = _last_seq + 1;
    r.time_us = now();
    r.time = format_time(r.time_us);
    r.clock_synced = synced();
    r.prev = _last_hash;
}

Result<uint64_t> Store::write_record(Record &r) {
    if (!_failed.empty())
        return Error{Location{_current, 0, 0}, _failed};
    if (_fd < 0) {
        auto st = open_current();
        if (!st)
            return st.error();
    }
    if (r.seq == 0)
        stamp(r);
    std::string line = to_line(r);
    // A record is never dropped for its size: an oversized detail is cut, saying so.
    while (line.size() > max_line_bytes) {
        size_t excess = line.size() - max_line_bytes + 64;
        if (r.detail.size() > excess) {
            r.detail.resize(r.detail.size() - excess);
            r.detail += " [" + std::to_string(excess) + " bytes cut]";
        } else {
            for (std::string *s :
                 {&r.user, &r.session, &r.terminal, &r.source, &r.action, &r.detail, &r.result})
                if (s->size() > 1024)
                    s->resize(1024);
        }
        line = to_line(r);
    }
    std::string data = line + "\n";
    ssize_t n;
    do {
        n = ::write(_fd, data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    bool complete = n == static_cast<ssize_t>(data.size());
    int err = complete ? 0 : n < 0 ? errno : ENOSPC;
    if (complete && ::fdatasync(_fd) != 0)
        err = errno;
    if (err != 0) {
        // Nothing of an unacknowledged record may stay for the next one to follow.
        if (n > 0 && ::ftruncate(_fd, static_cast<off_t>(_size)) != 0)
            _failed = "a partly written record could not be removed; reopening the store "
                      "repairs it";
        errno = err;
        return io_error(_current, complete ? "cannot sync the audit record"
                                           : "cannot write the audit record");
    }
    _size += data.size();
    _last_seq = r.seq;
    _last_hash = sha256_hex(line);
    r.line = std::move(line);
    return r.seq;
}

Result<uint64_t> Store::append(const Event &e) {
    if (e.action.empty())
        return Error{Location{_dir, 0, 0}, "an audit record needs an action"};
    if (e.action == "seal")
        return Error{Location{_dir, 0, 0}, "the action \"seal\" is the store's own"};
    std::lock_guard lock(_mutex);
    Record r;
    static_cast<Event &>(r) = e;
    auto seq = write_record(r);
    if (!seq)
        return seq;
    ++_since_seal;
    // The record is durable and acknowledged; a failing seal or rotation shows on the next
    // seal() or append, which retry them.
    bool by_count = _o.seal_every_records > 0 && _since_seal >= _o.seal_every_records;
    if (by_count || r.time_us - _last_seal_us >= int64_t(_o.seal_every_seconds) * 1000000)
        (void)seal_locked();
    if (_size >= _o.rotate_bytes && r.time_us >= _rotate_after_us)
        (void)rotate();
    return seq;
}

Status Store::seal() {
    std::lock_guard lock(_mutex);
    return seal_locked();
}

Status Store::seal_if_due() {
    std::lock_guard lock(_mutex);
    if (_since_seal == 0 || now() - _last_seal_us < int64_t(_o.seal_every_seconds) * 1000000)
        return Ok{};
    return seal_locked();
}

Status Store::seal_locked() {
    if (_since_seal == 0) {
        if (!_key_dirty)
            return Ok{};
        auto st = write_seal_key(_dir, SealKey{_epoch, _key, _last_seal_seq});
        _key_dirty = !st;
        return st;
    }
    Record r;
    r.action = "seal";
    r.result = "ok";
    stamp(r);
    r.epoch = _epoch;
    r.hmac = seal_hmac(_key, seal_message(r.seq, r.prev, r.time_us, r.clock_synced));
    auto seq = write_record(r);
    if (!seq)
        return seq.error();
    // Forward: the key that made this seal is gone once the next one is saved.
    Key next = evolve(_key);
    wipe(_key);
    _key = next;
    wipe(next);
    ++_epoch;
    _since_seal = 0;
    _last_seal_us = r.time_us;
    _last_seal_seq = r.seq;
    auto st = write_seal_key(_dir, SealKey{_epoch, _key, r.seq});
    _key_dirty = !st;
    return st;
}

Status Store::rotate() {
    // An archive ends with a seal, and none is made while seal.key lags behind.
    auto st = seal_locked();
    if (!st) {
        _rotate_after_us = now() + rotate_retry_us;
        return st;
    }
    ::close(_fd);
    _fd = -1;
    FileEntry f{_current_first, false, file_name(_current_first, false)};
    st = gzip_file(_dir, f);
    if (!st) {
        // Appends go on in the same file; a later append or open() archives it.
        _rotate_after_us = now() + rotate_retry_us;
        _fd = ::open(_current.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        return st;
    }
    _current.clear();
    _size = 0;
    expire();
    return Ok{};
}

// R38-4: archives whose last record is older than the retention go, oldest first; the
// chain's anchor moves to expired.json before the file is removed.
void Store::expire() {
    int64_t cutoff = now() - int64_t(_o.retention_days) * us_per_day;
    auto files = list_files(_dir);
    if (!files)
        return;
    for (size_t i = 0; i + 1 < files->size(); ++i) {
        const FileEntry &f = (*files)[i];
        if (!f.gz)
            return;
        auto text = read_records(_dir, f);
        if (!text)
            return;
        Lines lines = split_lines(*text);
        if (lines.lines.empty())
            return;
        std::string last_line(lines.lines.back());
        auto last = parse_line(last_line);
        if (!last || last->time_us >= cutoff)
            return;
        auto prior = read_expired(_dir);
        if (!prior)
            return;
        Expired e{last->seq, sha256_hex(last_line), *prior ? (*prior)->epoch : 0, last->time_us};
        for (std::string_view line : lines.lines) {
            auto r = parse_line(std::string(line));
            if (r && r->action == "seal")
                e.epoch = r->epoch + 1;
        }
        if (!write_expired(_dir, e))
            return;
        ::unlink((_dir + "/" + f.name).c_str());
        (void)fsync_dir(_dir);
    }
}

Storage Store::storage() const {
    std::lock_guard lock(_mutex);
    std::pair<uint64_t, uint64_t> space;
    if (_o.fs_space) {
        space = _o.fs_space();
    } else {
        struct statvfs vfs {};
        if (::statvfs(_dir.c_str(), &vfs) != 0)
            return Storage::full; // cannot tell: the careful answer
        space = {uint64_t(vfs.f_blocks) * vfs.f_frsize, uint64_t(vfs.f_bavail) * vfs.f_frsize};
    }
    auto [total, free] = space;
    if (free < _o.reserve_bytes)
        return Storage::full;
    if (total > 0 && free <= total &&
        static_cast<double>(total - free) * 100.0 >= static_cast<double>(total) * _o.warn_percent)
        return Storage::warning;
    return Storage::ok;
}

} // namespace qorgan::audit

// SPDX-License-Identifier: GPL-2.0-or-later
// Result<T>: a value or an Error naming where the input went wrong
// (std::expected is C++23; this is the subset the project needs).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace qorgan {

// Where in a text input something was found; line and column count from 1.
struct Location {
    std::string file;
    int line = 0;
    int column = 0;

    std::string to_string() const {
        if (line == 0)
            return file;
        return file + ":" + std::to_string(line) + ":" + std::to_string(column);
    }
};

struct Error {
    Location where;
    std::string message;

    // "file:line:col: message", or just the message when there is no location.
    std::string to_string() const {
        auto w = where.to_string();
        return w.empty() ? message : w + ": " + message;
    }
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : _v(std::move(value)) {}
    Result(Error error) : _v(std::move(error)) {}

    bool ok() const { return _v.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { return std::get<0>(_v); }
    const T &value() const & { return std::get<0>(_v); }
    T &&value() && { return std::get<0>(std::move(_v)); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    const Error &error() const { return std::get<1>(_v); }

private:
    std::variant<T, Error> _v;
};

// For functions that only succeed or fail.
struct Ok {};
using Status = Result<Ok>;

} // namespace qorgan

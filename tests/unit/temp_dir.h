// SPDX-License-Identifier: GPL-2.0-or-later
// A fresh folder under /tmp for one test, removed with everything in it at the end.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace qorgan::test {

class TempDir {
public:
    explicit TempDir(const std::string &tag = "qorgan") {
        std::string tmpl = "/tmp/" + tag + "-XXXXXX";
        _path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return _path; }

private:
    std::string _path;
};

} // namespace qorgan::test

// SPDX-License-Identifier: GPL-2.0-or-later
// The revision store: numbering, running pointer, integrity (R139-4), crash leftovers and
// every I/O failure path.
#include "control/store.h"

#include "temp_dir.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

namespace fs = std::filesystem;
using qorgan::control::Store;

namespace {

// A fresh folder per test, tagged so a leftover is easy to trace.
struct TempDir : qorgan::test::TempDir {
    TempDir() : qorgan::test::TempDir("qorgan-store") {}
};

void write_file(const std::string &path, const std::string &text) {
    std::ofstream(path, std::ios::trunc) << text;
}

std::string rev_path(const std::string &dir, uint32_t n, const char *ext) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "/revisions/%08u%s", n, ext);
    return dir + buf;
}

Store open_ok(const std::string &dir) {
    auto s = Store::open(dir);
    EXPECT_TRUE(s.ok()) << (s ? "" : s.error().to_string());
    return std::move(s.value());
}

} // namespace

TEST(Sha256, KnownVectors) {
    EXPECT_EQ(qorgan::control::sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(qorgan::control::sha256_hex(""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Store, AddListInfoText) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    EXPECT_EQ(s.running(), 0u);
    EXPECT_TRUE(s.list().empty());
    auto a = s.add("one;\n", "alice", "first\nwith a newline \\ and backslash");
    auto b = s.add("two;\n", "bob", "");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, 1u);
    EXPECT_EQ(*b, 2u);
    auto list = s.list();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].number, 1u);
    EXPECT_EQ(list[0].author, "alice");
    EXPECT_EQ(list[0].comment, "first\nwith a newline \\ and backslash");
    EXPECT_EQ(list[0].sha256, qorgan::control::sha256_hex("one;\n"));
    EXPECT_GT(list[0].time, 1600000000);
    EXPECT_EQ(list[1].author, "bob");
    auto info = s.info(2);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->sha256, qorgan::control::sha256_hex("two;\n"));
    auto t = s.text(1);
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, "one;\n");
    EXPECT_EQ(s.running(), 0u); // add never makes a revision running
    auto none = s.info(7);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().message, "no revision 7");
    EXPECT_FALSE(s.info(0));
    EXPECT_FALSE(s.text(7));
}

TEST(Store, NumberingSurvivesReopen) {
    TempDir tmp;
    {
        Store s = open_ok(tmp.path());
        ASSERT_TRUE(s.add("a;\n", "x", ""));
        ASSERT_TRUE(s.add("b;\n", "x", ""));
    }
    Store s = open_ok(tmp.path());
    auto n = s.add("c;\n", "x", "");
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 3u);
    EXPECT_EQ(s.list().size(), 3u);
}

TEST(Store, NumbersAreNeverReusedAfterFilesVanish) {
    TempDir tmp;
    {
        Store s = open_ok(tmp.path());
        ASSERT_TRUE(s.add("a;\n", "x", ""));
        ASSERT_TRUE(s.add("b;\n", "x", ""));
        ASSERT_TRUE(s.set_running(2));
    }
    fs::remove(rev_path(tmp.path(), 2, ".conf"));
    fs::remove(rev_path(tmp.path(), 2, ".meta"));
    Store s = open_ok(tmp.path());
    auto n = s.add("c;\n", "x", "");
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 3u); // the running pointer still remembers 2
}

TEST(Store, RunningPointerSurvivesReopen) {
    TempDir tmp;
    {
        Store s = open_ok(tmp.path());
        ASSERT_TRUE(s.add("a;\n", "x", ""));
        ASSERT_TRUE(s.add("b;\n", "x", ""));
        ASSERT_TRUE(s.set_running(2));
        ASSERT_TRUE(s.set_running(1));
        EXPECT_EQ(s.running(), 1u);
    }
    Store s = open_ok(tmp.path());
    EXPECT_EQ(s.running(), 1u);
    EXPECT_TRUE(s.verify_running());
    auto bad = s.set_running(9);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "no revision 9");
    EXPECT_EQ(s.running(), 1u);
}

// R139-4: integrity control of configurations.
TEST(Store, R139_4_TamperedTextIsReported) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    ASSERT_TRUE(s.add("zones { inner { loop inner; } }\n", "x", ""));
    ASSERT_TRUE(s.add("b;\n", "x", ""));
    ASSERT_TRUE(s.set_running(1));
    write_file(rev_path(tmp.path(), 1, ".conf"), "zones { inner { loop outer; } }\n");
    auto t = s.text(1);
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("revision 1 is tampered"), std::string::npos)
        << t.error().message;
    EXPECT_NE(t.error().message.find("SHA-256"), std::string::npos);
    auto v = s.verify_running();
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message.find("revision 1 is tampered"), std::string::npos);
    EXPECT_TRUE(s.text(2)); // the others are intact
}

TEST(Store, R139_4_MissingTextIsReported) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    ASSERT_TRUE(s.add("a;\n", "x", ""));
    ASSERT_TRUE(s.set_running(1));
    fs::remove(rev_path(tmp.path(), 1, ".conf"));
    auto t = s.text(1);
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("revision 1 is tampered"), std::string::npos);
    EXPECT_NE(t.error().message.find("missing"), std::string::npos);
    EXPECT_FALSE(s.verify_running());
}

TEST(Store, VerifyRunningWithNothingCommitted) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    auto v = s.verify_running();
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message.find("no configuration has been committed"), std::string::npos);
}

TEST(Store, LeftoverTempFilesAreRemovedOnOpen) {
    TempDir tmp;
    {
        Store s = open_ok(tmp.path());
        ASSERT_TRUE(s.add("a;\n", "x", ""));
        ASSERT_TRUE(s.set_running(1));
    }
    write_file(tmp.path() + "/running.tmp", "2\n");
    write_file(rev_path(tmp.path(), 2, ".conf.tmp"), "half");
    write_file(rev_path(tmp.path(), 2, ".meta.tmp"), "half");
    write_file(tmp.path() + "/revisions/notes.txt", "ignored");
    write_file(tmp.path() + "/revisions/readme", "ignored");
    write_file(tmp.path() + "/revisions/abc.conf", "ignored");
    Store s = open_ok(tmp.path());
    EXPECT_FALSE(fs::exists(tmp.path() + "/running.tmp"));
    EXPECT_FALSE(fs::exists(rev_path(tmp.path(), 2, ".conf.tmp")));
    EXPECT_FALSE(fs::exists(rev_path(tmp.path(), 2, ".meta.tmp")));
    EXPECT_EQ(s.running(), 1u);
    auto n = s.add("b;\n", "x", "");
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 2u);
}

TEST(Store, OrphanTextWithoutMetadataIsSkippedAndNotReused) {
    TempDir tmp;
    {
        Store s = open_ok(tmp.path());
        ASSERT_TRUE(s.add("a;\n", "x", ""));
    }
    write_file(rev_path(tmp.path(), 2, ".conf"), "crashed before its metadata");
    Store s = open_ok(tmp.path());
    EXPECT_EQ(s.list().size(), 1u);
    auto n = s.add("b;\n", "x", "");
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 3u);
}

TEST(Store, StepHookSeesEveryWriteFsyncRename) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    std::vector<std::string> steps;
    Store::set_step_hook([&](const char *step) { steps.emplace_back(step); });
    ASSERT_TRUE(s.add("a;\n", "x", ""));
    ASSERT_TRUE(s.set_running(1));
    Store::set_step_hook(nullptr);
    const std::vector<std::string> one = {"write", "fsync", "rename", "fsync-dir"};
    std::vector<std::string> expected;
    for (int i = 0; i < 3; ++i)
        expected.insert(expected.end(), one.begin(), one.end());
    EXPECT_EQ(steps, expected);
}

TEST(StoreErrors, OpenUnderARegularFile) {
    TempDir tmp;
    write_file(tmp.path() + "/file", "x");
    auto s = Store::open(tmp.path() + "/file/store");
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("cannot create the store folder"), std::string::npos);
    EXPECT_EQ(s.error().where.file, tmp.path() + "/file/store");
}

TEST(StoreErrors, RevisionsIsAFile) {
    TempDir tmp;
    write_file(tmp.path() + "/revisions", "x");
    auto s = Store::open(tmp.path());
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().where.file, tmp.path() + "/revisions");
    EXPECT_NE(s.error().message.find("Not a directory"), std::string::npos);
}

TEST(StoreErrors, RunningPointerIsGarbage) {
    TempDir tmp;
    { open_ok(tmp.path()); }
    write_file(tmp.path() + "/running", "seven\n");
    auto s = Store::open(tmp.path());
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("running pointer is not a revision number: 'seven'"),
              std::string::npos);
}

TEST(StoreErrors, RunningPointerUnreadable) {
    TempDir tmp;
    { open_ok(tmp.path()); }
    fs::create_directory(tmp.path() + "/running");
    auto s = Store::open(tmp.path());
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("cannot read"), std::string::npos);
}

TEST(StoreErrors, OpenOutOfFileDescriptors) {
    TempDir tmp;
    { open_ok(tmp.path()); }
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = ::dup(0);
    ASSERT_GE(lowest, 0);
    ::close(lowest);
    rlimit tight = old;
    tight.rlim_cur = static_cast<rlim_t>(lowest); // no descriptor left to list a folder
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
    auto s = Store::open(tmp.path());
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("cannot list"), std::string::npos);
}

TEST(StoreErrors, MetadataWithUnknownKey) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    ASSERT_TRUE(s.add("a;\n", "x", ""));
    std::ofstream(rev_path(tmp.path(), 1, ".meta"), std::ios::app) << "colour blue\n";
    auto i = s.info(1);
    ASSERT_FALSE(i);
    EXPECT_EQ(i.error().where.line, 5);
    EXPECT_NE(i.error().message.find("unknown metadata key 'colour'"), std::string::npos);
    EXPECT_FALSE(s.text(1));
    EXPECT_TRUE(s.list().empty());
}

TEST(StoreErrors, MetadataWithoutHash) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    ASSERT_TRUE(s.add("a;\n", "x", ""));
    write_file(rev_path(tmp.path(), 1, ".meta"), "author x\ntime 12\ncomment\n");
    auto i = s.info(1);
    ASSERT_FALSE(i);
    EXPECT_NE(i.error().message.find("lacks its time or SHA-256"), std::string::npos);
    write_file(rev_path(tmp.path(), 1, ".meta"),
               "author x\ntime soon\nsha256 " + std::string(64, 'a') + "\n");
    EXPECT_FALSE(s.info(1));
}

TEST(StoreErrors, UnreadableRevisionFiles) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    ASSERT_TRUE(s.add("a;\n", "x", ""));
    ASSERT_TRUE(s.add("b;\n", "x", ""));
    fs::remove(rev_path(tmp.path(), 1, ".conf"));
    fs::create_directory(rev_path(tmp.path(), 1, ".conf"));
    auto t = s.text(1);
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("cannot read"), std::string::npos);
    fs::remove(rev_path(tmp.path(), 2, ".meta"));
    fs::create_directory(rev_path(tmp.path(), 2, ".meta"));
    auto i = s.info(2);
    ASSERT_FALSE(i);
    EXPECT_NE(i.error().message.find("cannot read"), std::string::npos);
}

TEST(StoreErrors, AddWhenRevisionsFolderVanished) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    fs::remove(tmp.path() + "/revisions");
    write_file(tmp.path() + "/revisions", "not a folder");
    auto n = s.add("a;\n", "x", "");
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("cannot create"), std::string::npos);
    fs::remove(tmp.path() + "/revisions");
    fs::create_directory(tmp.path() + "/revisions");
    auto again = s.add("a;\n", "x", "");
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, 2u); // the failed number is not reused
}

TEST(StoreErrors, AddWhenRenameFails) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    fs::create_directories(rev_path(tmp.path(), 1, ".conf") + "/occupied");
    auto n = s.add("a;\n", "x", "");
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("cannot rename"), std::string::npos);
    EXPECT_FALSE(fs::exists(rev_path(tmp.path(), 1, ".conf.tmp")));
}

TEST(StoreErrors, AddWhenMetadataCannotBeWritten) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    fs::create_directories(rev_path(tmp.path(), 1, ".meta") + "/occupied");
    auto n = s.add("a;\n", "x", "");
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("cannot rename"), std::string::npos);
    EXPECT_TRUE(s.list().empty());
}

TEST(StoreErrors, AddWhenTheFileSizeLimitStopsTheWrite) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    rlimit tight = old;
    tight.rlim_cur = 16;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
    auto n = s.add(std::string(1000, 'x'), "x", "");
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
    std::signal(SIGXFSZ, old_handler);
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("cannot write"), std::string::npos);
    EXPECT_FALSE(fs::exists(rev_path(tmp.path(), 1, ".conf.tmp")));
}

TEST(StoreErrors, SetRunningWhenFolderSyncFails) {
    TempDir tmp;
    Store s = open_ok(tmp.path());
    ASSERT_TRUE(s.add("a;\n", "x", ""));
    // Move the store folder away just before its sync: the open of the folder fails.
    const std::string moved = tmp.path() + "-moved";
    Store::set_step_hook([&](const char *step) {
        if (std::string(step) == "fsync-dir")
            fs::rename(tmp.path(), moved);
    });
    auto r = s.set_running(1);
    Store::set_step_hook(nullptr);
    fs::rename(moved, tmp.path());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("cannot sync folder"), std::string::npos);
    EXPECT_EQ(s.running(), 0u);
}

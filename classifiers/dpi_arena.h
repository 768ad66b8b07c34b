// SPDX-License-Identifier: GPL-2.0-or-later
// Where nDPI's own allocations go on a worker: nDPI allocates inside some dissectors (TLS
// names and buffers, HTTP fields) and frees them with the flow. On a worker thread those
// requests are served from that worker's arena, carved once at start (size classes with
// free lists, no lock, no system call), so the hot path never reaches the system allocator.
// Elsewhere (module creation on the main thread, tests) the requests go to malloc. An
// exhausted arena answers nullptr, which nDPI checks, and counts the refusal. A block freed
// by another thread (a module freed after an RCU grace period) goes back through a lock-free
// list the owner drains.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace qorgan::dpi {

class Arena {
public:
    explicit Arena(size_t bytes);
    ~Arena();
    Arena(const Arena &) = delete;
    Arena &operator=(const Arena &) = delete;

    void *allocate(size_t n);
    void release(void *p);
    // From another thread: the block goes back at the owner's next allocate() (lock-free).
    void release_remote(void *p);
    bool owns(const void *p) const {
        auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(_base.get());
        return a >= b && a < b + _size;
    }

    uint64_t allocations() const { return _allocations; }
    uint64_t refused() const { return _refused; }
    size_t in_use() const { return _in_use; }

    // Makes this arena serve nDPI's allocations made on the calling thread (nullptr: none).
    static void bind_thread(Arena *a);
    static Arena *bound();

    // Lets nDPI allocate from malloc on this thread for a while (module creation and
    // destruction: megabytes no worker arena is sized for).
    class Unbound {
    public:
        Unbound() : _saved(bound()) { bind_thread(nullptr); }
        ~Unbound() { bind_thread(_saved); }
        Unbound(const Unbound &) = delete;
        Unbound &operator=(const Unbound &) = delete;

    private:
        Arena *_saved;
    };
    // Routes nDPI's malloc and free through the thread's arena; idempotent, process-wide.
    static void install_hooks();

private:
    static constexpr unsigned classes = 12; // 32 B .. 64 KiB
    static constexpr size_t header = 16;    // class index, keeps 16-byte alignment
    void take_remote();

    std::unique_ptr<std::byte[]> _base;
    size_t _size;
    void *_range = nullptr;               // its entry in the process's list of arena ranges
    std::atomic<void *> _remote{nullptr}; // blocks freed by other threads, not yet taken back
    size_t _used = 0;
    void *_free[classes] = {};
    uint64_t _allocations = 0;
    uint64_t _refused = 0;
    size_t _in_use = 0;
};

} // namespace qorgan::dpi

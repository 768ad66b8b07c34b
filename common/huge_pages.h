// SPDX-License-Identifier: GPL-2.0-or-later
// Big tables that a worker reads at random (the screen's per-source entries, nDPI state of
// the flows under inspection, nDPI's arena) ask for transparent huge pages, which Debian's
// kernels give on request (THP "madvise"): one TLB entry then covers 2 MiB instead of 4 KiB,
// and a packet's lookups stop missing the TLB. The DPDK heap (flows, their hash) is on huge
// pages already when the EAL has them. Allocation happens when a table is made, never on the
// hot path; without THP the memory is the same, on small pages.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <sys/mman.h>

namespace qorgan {

inline constexpr size_t huge_page_bytes = size_t(2) << 20;

// At least `bytes`, aligned to a huge page when it is one or more; free with free_huge().
inline void *alloc_huge(size_t bytes) {
    if (bytes < huge_page_bytes)
        return std::malloc(bytes == 0 ? 1 : bytes);
    size_t rounded = (bytes + huge_page_bytes - 1) & ~(huge_page_bytes - 1);
    void *p = std::aligned_alloc(huge_page_bytes, rounded);
    if (p != nullptr)
        (void)madvise(p, rounded, MADV_HUGEPAGE); // a hint: refused, the pages stay small
    return p;
}

inline void free_huge(void *p) {
    std::free(p);
}

// For std::vector and friends.
template <typename T>
struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() = default;
    template <typename U>
    HugePageAllocator(const HugePageAllocator<U> &) {}
    T *allocate(size_t n) {
        void *p = alloc_huge(n * sizeof(T));
        if (p == nullptr)
            throw std::bad_alloc();
        return static_cast<T *>(p);
    }
    void deallocate(T *p, size_t) { free_huge(p); }
    template <typename U>
    bool operator==(const HugePageAllocator<U> &) const {
        return true;
    }
};

} // namespace qorgan

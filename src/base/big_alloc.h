// Zeroed memory for large tables (device table, inventory, dedup filter). Allocations of 4 MiB and
// more come from mmap with transparent huge pages requested (random probes into a table of
// hundreds of MiB otherwise pay a TLB miss per access) and are faulted in at once: a table is
// sized for the fleet at startup, so its memory is claimed up front rather than by page faults
// (hidden allocations) on the per-event path. Every block is 64-byte aligned (a cache line:
// tables of alignas(64) sets rely on it, and the compiler vectorises their loops assuming it).
#pragma once

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace smetsmon {

inline constexpr size_t kBigAllocThreshold = size_t{4} << 20;

inline void* AllocateZeroed(size_t bytes) {
  if (bytes < kBigAllocThreshold) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, rounded);
    return p;
  }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  ::madvise(p, bytes, MADV_HUGEPAGE);  // advisory: ignored where THP is off
  auto* bytes_p = static_cast<volatile char*>(p);
  for (size_t off = 0; off < bytes; off += 4096) bytes_p[off] = 0;
  return p;
}

inline void FreeZeroed(void* p, size_t bytes) {
  if (p == nullptr) return;
  if (bytes < kBigAllocThreshold) {
    std::free(p);
  } else {
    ::munmap(p, bytes);
  }
}

}  // namespace smetsmon

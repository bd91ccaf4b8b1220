// TuneAllocatorForLongRuns: fixes glibc malloc's mmap and trim thresholds
// for a process that runs executions one after another (`cairn serve`,
// `cairn run`, the Lambda runtime loop, the benchmarks that stand for them).
//
// Why: by default glibc serves a block of 128 KiB or more with its own mmap,
// raises that threshold (and the trim threshold with it) each time such a
// block is freed, and gives the top of the heap back to the kernel once
// 128 KiB of it is free. An execution's replay builds and drops vectors of
// operations and JSON trees of a few MiB, so whether they come from
// recycled heap or from pages the kernel must zero and map again depends on
// what the process allocated before, and a page fault is expensive on a VM
// (engine_bench's replay part: 33,300 page faults with the defaults, 29,300
// with these thresholds, 69,800 with only the trim threshold raised, which
// took 2.5× the time). Fixed thresholds make it one way: blocks under 32
// MiB come from the heap, and up to 64 MiB of free heap is kept for the next
// execution instead of being returned (the process's peak is not raised,
// only kept).
//
// `glibc_tunables` is the process's GLIBC_TUNABLES (empty when unset): when
// it tunes malloc, its values are kept (explicit tuning wins). Not glibc
// (e.g. musl): does nothing.
//
// Thread-safety: call once, early in main, before other threads start.
#pragma once

#include <string_view>

namespace cairn {

void TuneAllocatorForLongRuns(std::string_view glibc_tunables);

}  // namespace cairn

#include "core/allocator_tuning.h"


#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace cairn {

void TuneAllocatorForLongRuns(std::string_view glibc_tunables) {
#if defined(__GLIBC__)
  if (glibc_tunables.find("glibc.malloc.") != std::string_view::npos) return;
  constexpr int kMmapThreshold = 32 << 20;  // glibc's own upper bound for the dynamic threshold
  constexpr int kTrimThreshold = 64 << 20;
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
#else
  (void)glibc_tunables;
#endif
}

}  // namespace cairn

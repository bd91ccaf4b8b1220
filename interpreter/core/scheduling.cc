#include "core/scheduling.h"

#include <sched.h>

#include <atomic>

namespace cairn {
namespace {

std::atomic<bool> batch_in_use{false};

}  // namespace

bool UseBatchScheduling() {
#if defined(SCHED_BATCH)
  const sched_param param{};  // priority 0, the only one these policies take
  if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) return false;
  batch_in_use.store(true, std::memory_order_relaxed);
  return true;
#else
  return false;
#endif
}

bool BatchSchedulingInUse() { return batch_in_use.load(std::memory_order_relaxed); }

short SpawnSchedulingDefaults(posix_spawnattr_t* attr) {
  if (!BatchSchedulingInUse()) return 0;
  const sched_param param{};
  posix_spawnattr_setschedpolicy(attr, SCHED_OTHER);
  posix_spawnattr_setschedparam(attr, &param);
  return POSIX_SPAWN_SETSCHEDULER;
}

}  // namespace cairn

#include "core/scheduling.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>

#include <thread>

extern char** environ;

namespace cairn {
namespace {

// Starts a shell that exits with its own scheduling policy (field 41 of
// /proc/PID/stat), with or without SpawnSchedulingDefaults.
int ChildPolicy(bool defaults) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = defaults ? SpawnSchedulingDefaults(&attr) : 0;
  posix_spawnattr_setflags(&attr, flags);
  const char* argv[] = {"/bin/sh", "-c", "read -r s < /proc/$$/stat; set -- $s; exit ${41}",
                        nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", nullptr, &attr, const_cast<char* const*>(argv), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(SchedulingTest, BatchPolicyReachesNewThreadsButNotChildProcesses) {
  EXPECT_EQ(ChildPolicy(true), SCHED_OTHER);  // nothing to undo yet
  // On a thread of its own: the policy is per thread.
  std::thread([] {
    ASSERT_TRUE(UseBatchScheduling());
    EXPECT_TRUE(BatchSchedulingInUse());
    EXPECT_EQ(sched_getscheduler(0), SCHED_BATCH);
    int created = -1;
    std::thread([&] { created = sched_getscheduler(0); }).join();
    EXPECT_EQ(created, SCHED_BATCH);
    EXPECT_EQ(ChildPolicy(false), SCHED_BATCH);  // what SpawnSchedulingDefaults prevents
    EXPECT_EQ(ChildPolicy(true), SCHED_OTHER);
  }).join();
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
}

}  // namespace
}  // namespace cairn

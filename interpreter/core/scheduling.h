// UseBatchScheduling: `cairn serve` runs its threads under Linux's
// SCHED_BATCH policy, and the programs cairn starts under the default one.
//
// Why: under the default policy (SCHED_OTHER) a thread that wakes up may
// preempt the thread that woke it. When a group commit ends, its leader
// wakes every writer of the group in turn (sqlite_store.cc), and each wake
// could take the leader off its CPU before it had woken the next writer.
// SCHED_BATCH is the same fair scheduler without wake-up preemption ("for
// workloads that want a deterministic scheduling policy without
// interactivity causing extra preemptions between the workload's tasks",
// sched(7)). Under 16 concurrent clients it cut `cairn serve`'s context
// switches from 6.1 to 5.2 per execution and raised its executions per second
// by about 9 % (bench/README.md, "Since then: writers woken without the lock,
// SCHED_BATCH"); a single client sees no difference, because a woken thread
// then finds an idle CPU.
//
// Switching between SCHED_OTHER and SCHED_BATCH needs no privilege. The
// policy is per thread and inherited by the threads a thread creates, and by
// child processes: SpawnSchedulingDefaults puts the children of a process
// that called UseBatchScheduling back under SCHED_OTHER.
//
// Thread-safety: call UseBatchScheduling early, on the thread that creates
// the others; the rest is thread-safe.
#pragma once

#include <spawn.h>

namespace cairn {

// Puts the calling thread (and the threads it creates from now on) under
// SCHED_BATCH. Returns false where the policy does not exist or cannot be
// set; the process then runs as before.
bool UseBatchScheduling();

// True once UseBatchScheduling has succeeded in this process.
bool BatchSchedulingInUse();

// For posix_spawn: when this process uses SCHED_BATCH, sets `attr` to start
// the child under SCHED_OTHER and returns POSIX_SPAWN_SETSCHEDULER, to be
// added to the attribute's flags; otherwise changes nothing and returns 0.
short SpawnSchedulingDefaults(posix_spawnattr_t* attr);

}  // namespace cairn

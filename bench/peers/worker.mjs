// Runs the workloads on one system, in a process of its own (so no system
// shares a heap, an event loop or global state with another), and prints the
// measurements as one JSON line on stdout. Started by run.mjs:
//   node worker.mjs '<config JSON>'
// config: {system, settings: {...system specific}, workloads: {a, b, c, d}}

import fs from "node:fs";
import path from "node:path";

import { median, nowMs, progress, quantile, repeat } from "./lib/common.mjs";

const config = JSON.parse(process.argv[2]);
const W = config.workloads;

// The floor: one write of a small record and one fdatasync, on the disk that
// holds every system's store (a preallocated file: no size change to sync).
// The disk's latency drifts with whatever else the machine writes, so the
// floor is measured right before each run of workload (a) of every system
// too, and a system's step latency is compared with the floor measured
// beside it.
class Floor {
  constructor(dir, records) {
    this.records = records;
    this.record = Buffer.alloc(128, 0x2a);
    this.fd = fs.openSync(path.join(dir, `floor-${process.pid}.dat`), "w");
    fs.writeSync(this.fd, Buffer.alloc(records * this.record.length + 4096));
    fs.fsyncSync(this.fd);
  }
  // Milliseconds per record (write + fdatasync), over `records` records.
  measure() {
    const t0 = nowMs();
    for (let i = 0; i < this.records; i++) {
      fs.writeSync(this.fd, this.record, 0, this.record.length, i * this.record.length);
      fs.fdatasyncSync(this.fd);
    }
    return (nowMs() - t0) / this.records;
  }
  close() {
    fs.closeSync(this.fd);
  }
}

async function runFloor() {
  const floor = new Floor(config.settings.dir, W.a.floorRecords);
  try {
    const values = await repeat({ runs: W.runs, minRuns: W.minRuns, budgetMs: W.a.budgetMs }, async () => floor.measure());
    return { a: { values, n: W.a.floorRecords } };
  } finally {
    floor.close();
  }
}

async function runSystem() {
  const mod = await import(`./systems/${config.module}.mjs`);
  const sys = await mod.create(config.settings);
  const out = {};
  try {
    // Warm-up: connections, JIT, first-use costs of every workflow.
    for (let i = 0; i < 3; i++) await sys.threeSteps();
    if (W.a.enabled) await sys.steps(W.a.steps);

    if (W.a.enabled) {
      progress(`(a) ${W.a.steps} sequential steps`);
      const floor = new Floor(config.settings.floorDir, W.a.floorRecords);
      const floors = [];
      const values = await repeat({ runs: W.runs, minRuns: W.minRuns, budgetMs: W.a.budgetMs }, async () => {
        floors.push(floor.measure());
        return (await sys.steps(W.a.steps)) / W.a.steps;
      });
      floor.close();
      out.a = { values, n: W.a.steps, floor: floors, floorRecords: W.a.floorRecords };
    }

    if (W.b.enabled) {
      progress(`(b) ${W.b.executions} sequential 3-step executions`);
      // The floor beside each run too: (b) is a few fsyncs per execution,
      // and the disk's latency drifts.
      const floor = new Floor(config.settings.floorDir, W.a.floorRecords);
      const floors = [];
      const runs = await repeat({ runs: W.b.runs, minRuns: W.minRuns, budgetMs: Infinity }, async () => {
        floors.push(floor.measure());
        const latencies = [];
        const stopAt = nowMs() + W.b.runMs;
        for (let i = 0; i < W.b.executions && (i < W.b.minExecutions || nowMs() < stopAt); i++) {
          latencies.push(await sys.threeSteps());
        }
        return { p50: median(latencies), p99: quantile(latencies, 0.99), n: latencies.length };
      });
      floor.close();
      out.b = {
        values: runs.map((r) => r.p50),
        p99: runs.map((r) => r.p99),
        n: runs.map((r) => r.n),
        floor: floors,
      };
    }

    if (W.c.enabled) {
      progress(`(c) ${W.c.clients} concurrent clients for ${W.c.seconds} s`);
      const rates = await repeat({ runs: W.c.runs, minRuns: W.minRuns, budgetMs: W.c.budgetMs }, async () => {
        const t0 = nowMs();
        const stopAt = t0 + W.c.seconds * 1000;
        let done = 0;
        await Promise.all(
          Array.from({ length: W.c.clients }, async () => {
            while (nowMs() < stopAt) {
              await sys.threeSteps();
              done++;
            }
          }),
        );
        // Executions in flight at the deadline are counted and so is their time.
        return done / ((nowMs() - t0) / 1000);
      });
      out.c = { values: rates, clients: W.c.clients, seconds: W.c.seconds };
    }

    if (W.d.enabled) {
      progress(`(d) ${W.d.callbacks} callbacks per run`);
      const runs = await repeat({ runs: W.runs, minRuns: W.minRuns, budgetMs: W.d.budgetMs }, async () => {
        const latencies = [];
        for (let i = 0; i < W.d.callbacks; i++) latencies.push(await sys.callback(W.d.settleMs));
        return median(latencies);
      });
      out.d = { values: runs, n: W.d.callbacks, settleMs: W.d.settleMs };
    }
  } finally {
    await sys.close();
  }
  return out;
}

const result = config.module === "floor" ? await runFloor() : await runSystem();
process.stdout.write(`${JSON.stringify(result)}\n`);
// Some SDKs keep timers or sockets open after close(): the result is out.
process.exit(0);

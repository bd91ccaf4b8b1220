// bench/peers driver: starts every system privately on 127.0.0.1, runs the
// same four workloads on each (in a worker process per system), stops all it
// started (also on failure and Ctrl-C), then prints one table and writes it
// as JSON and as a PNG chart. See bench/README.md ("peers"). Usually started
// through run.sh, which installs what this needs first.
//
//   node run.mjs --cairn PATH [--quick] [--only cairn,dbos,...] [--out DIR]

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { httpJson, median, sleep } from "./lib/common.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---- options ----

function parseArgs(argv) {
  const opts = { quick: false, only: null, out: path.join(HERE, "results"), cairn: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") opts.quick = true;
    else if (a === "--only") opts.only = argv[++i].split(",");
    else if (a === "--out") opts.out = path.resolve(argv[++i]);
    else if (a === "--cairn") opts.cairn = path.resolve(argv[++i]);
    else {
      console.error(`unknown argument ${a}\nusage: node run.mjs --cairn PATH [--quick] [--only a,b] [--out DIR]`);
      process.exit(2);
    }
  }
  if (!opts.cairn) {
    console.error("run.mjs: --cairn PATH (the cairn binary) is required");
    process.exit(2);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// Sizes and time limits. The full run stays under 12 minutes, --quick under 2.
// The systems are measured in `rounds`: each round runs every system in
// turn, each for `runs` runs of (a) and (d) and `b.runs` / `c.runs` of (b)
// and (c), and a system's figures are taken over all its rounds. This
// disk's fdatasync latency drifts by 2× over minutes; measured one after
// the other in a single block each, two systems could meet different
// disks, and a comparison would show the disk more than the systems.
const WORKLOADS = opts.quick
  ? {
      rounds: 2,
      runs: 1,
      minRuns: 1,
      a: { enabled: true, steps: 100, floorRecords: 100, budgetMs: 2000 },
      b: { enabled: true, executions: 200, runs: 1, runMs: 1500, minExecutions: 20 },
      c: { enabled: true, clients: 16, seconds: 1.5, runs: 1, budgetMs: 2000 },
      d: { enabled: true, callbacks: 3, settleMs: 50, budgetMs: 1000 },
    }
  : {
      rounds: 3,
      runs: 2,
      minRuns: 1,
      a: { enabled: true, steps: 1000, floorRecords: 300, budgetMs: 15000 },
      b: { enabled: true, executions: 1000, runs: 1, runMs: 8000, minExecutions: 100 },
      c: { enabled: true, clients: 16, seconds: 5, runs: 1, budgetMs: 12000 },
      d: { enabled: true, callbacks: 10, settleMs: 50, budgetMs: 8000 },
    };

// Every system measured, in table order. `same` marks the durable peers that
// give cairn's guarantee (each step's result durable before the next step
// starts): the targets are measured against those.
const SYSTEMS = [
  { id: "floor", label: "floor: write+fdatasync 128 B", durability: "one fdatasync per record" },
  { id: "cairn", label: "cairn", durability: "default: SQLite WAL, synchronous=FULL" },
  { id: "cairn-nofsync", label: "cairn, fsync off", durability: "NOT durable: fsync off (eatmydata)" },
  { id: "dbos", label: "DBOS on PostgreSQL", durability: "default: PostgreSQL fsync, synchronous_commit=on", same: true },
  { id: "restate", label: "Restate", durability: "default: RocksDB WALs fsynced", same: true },
  { id: "aws", label: "AWS durable SDK, local runner", durability: "NOT durable: in memory, no disk (test runner)" },
];

// ---- what this process started, and stopping it on every exit path ----

const owned = []; // {name, pid} of process groups we started
const stoppers = []; // synchronous clean-ups (pg_ctl stop), newest last
let baseDir = null;

function cleanup() {
  while (stoppers.length) {
    try {
      stoppers.pop()();
    } catch {
      // keep stopping the rest
    }
  }
  for (const p of owned.splice(0)) {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (baseDir) {
    fs.rmSync(baseDir, { recursive: true, force: true });
    baseDir = null;
  }
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping everything this benchmark started`);
    cleanup();
    process.exit(130);
  });
}

// Starts a process in its own group (so the whole group can be stopped).
function startProcess(name, cmd, args, { env, logFile } = {}) {
  const log = fs.openSync(logFile ?? path.join(baseDir, `${name}.log`), "a");
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", log, log], env: { ...process.env, ...env } });
  fs.closeSync(log);
  const entry = { name, pid: child.pid, exited: false };
  child.on("exit", () => {
    entry.exited = true;
  });
  owned.push(entry);
  return entry;
}

async function stopProcess(entry) {
  try {
    process.kill(-entry.pid, "SIGTERM");
  } catch {
    // gone
  }
  for (let i = 0; i < 100 && !entry.exited; i++) await sleep(50);
  try {
    process.kill(-entry.pid, "SIGKILL");
  } catch {
    // gone
  }
  const i = owned.indexOf(entry);
  if (i >= 0) owned.splice(i, 1);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitHttp(url, what, entry, timeoutMs = 60000) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (entry?.exited) throw new Error(`${what} exited while starting (see its log)`);
    try {
      const r = await httpJson("GET", url);
      if (r.status < 500) return;
    } catch {
      // not yet listening
    }
    await sleep(100);
  }
  throw new Error(`${what} did not answer on ${url} within ${timeoutMs / 1000} s`);
}

function logTail(name) {
  try {
    const text = fs.readFileSync(path.join(baseDir, `${name}.log`), "utf8");
    return text.split("\n").slice(-15).join("\n");
  } catch {
    return "";
  }
}

// ---- the systems' servers ----

async function startCairn({ fsyncOff }) {
  const dir = fs.mkdtempSync(path.join(baseDir, "cairn-"));
  const workflows = path.join(dir, "workflows");
  fs.mkdirSync(workflows);
  for (const f of fs.readdirSync(path.join(HERE, "workflows"))) {
    if (f.endsWith(".yaml")) fs.copyFileSync(path.join(HERE, "workflows", f), path.join(workflows, f));
  }
  fs.writeFileSync(path.join(workflows, `steps-${WORKLOADS.a.steps}.yaml`), stepsWorkflow(WORKLOADS.a.steps));
  const port = await freePort();
  const args = ["serve", "--port", String(port), "--workflows", workflows, "--store", path.join(dir, "cairn.db")];
  const name = fsyncOff ? "cairn-nofsync" : "cairn";
  const entry = fsyncOff ? startProcess(name, "eatmydata", [opts.cairn, ...args]) : startProcess(name, opts.cairn, args);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitHttp(`${endpoint}/2025-12-01/functions/three-steps/durable-executions`, name, entry);
  return { settings: { endpoint }, stop: () => stopProcess(entry) };
}

// A workflow of n durable steps in a row (workload a): the same step as in
// workflows/three-steps.yaml, repeated.
function stepsWorkflow(n) {
  const lines = [
    "cairn: 1",
    `name: steps-${n}`,
    `description: Workload (a) of bench/peers, ${n} durable steps in a row (written by run.mjs).`,
    "timeout: 1h",
    "input: {type: object}",
    "steps:",
  ];
  for (let i = 0; i < n; i++) {
    const value = i === 0 ? "1" : `"\${ .steps.s${i - 1}.n + 1 }"`;
    lines.push(`  - name: s${i}`, "    group:", `      - name: v${i}`, `        set: {n: ${value}}`);
  }
  lines.push(`output: \${ .steps.s${n - 1} }`, "");
  return lines.join("\n");
}

function postgresBin() {
  const dirs = [];
  try {
    for (const v of fs.readdirSync("/usr/lib/postgresql")) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // not installed there
  }
  dirs.sort((x, y) => Number(y.split("/")[3]) - Number(x.split("/")[3]));
  for (const d of dirs) if (fs.existsSync(path.join(d, "pg_ctl"))) return d;
  throw new Error("PostgreSQL not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)");
}

async function startPostgres() {
  const bin = postgresBin();
  const dir = fs.mkdtempSync(path.join(baseDir, "postgres-"));
  fs.chmodSync(dir, 0o755);
  // initdb and postgres refuse to run as root: run them as the postgres user.
  const asUser = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  if (asUser.length) spawnSync("chown", ["postgres", dir]);
  const run = (args, what) => {
    const cmd = [...asUser, ...args];
    const r = spawnSync(cmd[0], cmd.slice(1), { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr || r.stdout}`);
  };
  const data = path.join(dir, "data");
  // --no-sync: initdb's own files need not be synced for a throwaway
  // cluster; the server itself runs with its default durability.
  run([path.join(bin, "initdb"), "--no-sync", "-A", "trust", "-U", "postgres", "-D", data], "initdb");
  const port = await freePort();
  const pgCtl = path.join(bin, "pg_ctl");
  const stop = () => spawnSync(asUser[0] ?? pgCtl, [...asUser.slice(1), ...(asUser.length ? [pgCtl] : []), "-D", data, "-m", "fast", "-w", "stop"]);
  stoppers.push(stop);
  run(
    [pgCtl, "-D", data, "-l", path.join(dir, "server.log"), "-w", "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`, "start"],
    "pg_ctl start",
  );
  return {
    settings: { databaseUrl: `postgresql://postgres@127.0.0.1:${port}/cairn_bench_dbos` },
    version: spawnSync(path.join(bin, "postgres"), ["--version"], { encoding: "utf8" }).stdout.trim(),
    stop: async () => {
      stop();
      stoppers.splice(stoppers.indexOf(stop), 1);
    },
  };
}

async function startRestate() {
  const dir = fs.mkdtempSync(path.join(baseDir, "restate-"));
  const [fabric, admin, ingress] = [await freePort(), await freePort(), await freePort()];
  fs.writeFileSync(
    path.join(dir, "restate.toml"),
    [
      "disable-telemetry = true",
      `bind-address = "127.0.0.1:${fabric}"`,
      `advertised-address = "http://127.0.0.1:${fabric}/"`,
      "[admin]",
      `bind-address = "127.0.0.1:${admin}"`,
      "[ingress]",
      `bind-address = "127.0.0.1:${ingress}"`,
      "",
    ].join("\n"),
  );
  // The binary itself rather than the npm wrapper script (one process less).
  const shipped = path.join(HERE, "node_modules", "@restatedev", "restate-server-linux-x64", "bin", "restate-server");
  const binary = fs.existsSync(shipped) ? shipped : path.join(HERE, "node_modules", ".bin", "restate-server");
  const entry = startProcess("restate", binary, [
    "--config-file", path.join(dir, "restate.toml"),
    "--base-dir", path.join(dir, "data"),
    "--no-logo",
    "--listen-mode", "tcp",
  ]);
  await waitHttp(`http://127.0.0.1:${admin}/health`, "restate-server", entry);
  await waitHttp(`http://127.0.0.1:${ingress}/restate/health`, "restate ingress", entry);
  return {
    settings: {
      admin: `http://127.0.0.1:${admin}`,
      ingress: `http://127.0.0.1:${ingress}`,
      endpointPort: await freePort(),
    },
    stop: () => stopProcess(entry),
  };
}

// ---- one system: its servers, then its worker ----

async function measure(system) {
  let server = { settings: {}, stop: async () => {} };
  let module = system.id;
  if (system.id === "floor") server.settings = { dir: baseDir };
  if (system.id === "cairn") server = await startCairn({ fsyncOff: false });
  if (system.id === "cairn-nofsync") {
    server = await startCairn({ fsyncOff: true });
    module = "cairn";
  }
  if (system.id === "dbos") server = await startPostgres();
  if (system.id === "restate") server = await startRestate();
  try {
    const config = { module, settings: { ...server.settings, floorDir: baseDir }, workloads: WORKLOADS };
    const worker = startProcess(`${system.id}-worker`, process.execPath, [path.join(HERE, "worker.mjs"), JSON.stringify(config)], {
      env: { RESTATE_LOGGING: "ERROR", SCARF_ANALYTICS: "false", DO_NOT_TRACK: "1" },
      logFile: path.join(baseDir, `${system.id}-worker.out`),
    });
    while (!worker.exited) await sleep(100);
    const text = fs.readFileSync(path.join(baseDir, `${system.id}-worker.out`), "utf8");
    const line = text.trim().split("\n").filter((l) => l.startsWith("{")).pop();
    if (!line) throw new Error(`the ${system.id} worker printed no result:\n${text.split("\n").slice(-20).join("\n")}`);
    return { ...JSON.parse(line), version: server.version };
  } finally {
    await server.stop();
  }
}

// One system's results over two rounds: each workload's per-run arrays
// (values, floors, p99s, executions) joined; its other fields are the same
// in every round.
function mergeRounds(a, b) {
  const out = { ...a };
  for (const [w, r] of Object.entries(b)) {
    if (!r || typeof r !== "object" || !a[w]) {
      out[w] = r;
      continue;
    }
    const merged = { ...a[w] };
    for (const [k, v] of Object.entries(r)) merged[k] = Array.isArray(v) && Array.isArray(a[w][k]) ? [...a[w][k], ...v] : v;
    out[w] = merged;
  }
  return out;
}

// ---- the table ----

const NOTES = [
  "cairn: `cairn serve` on 127.0.0.1; a step is a `group` holding a `set` (one CONTEXT operation checkpointed before the next step, no I/O); " +
    "start = POST /cairn/v1/workflows/{name}/executions?wait=300, whose reply comes when the execution has ended (callback: GetDurableExecution?wait=300); fsync off = the same under eatmydata.",
  "DBOS: in-process library; DBOS.startWorkflow + handle.getResult(); a step is DBOS.runStep; callback = DBOS.recv in the workflow, DBOSClient.send from outside.",
  "Restate: restate-server + an SDK endpoint; started through the ingress with a request that returns the result; a step is ctx.run; callback = a workflow's durable promise resolved by a request.",
  "AWS: LocalDurableTestRunner (checkpoints in a worker thread, in memory); a step is ctx.step; times end when the handler returns (run() adds a fixed 100 ms pause at the end).",
  "(d): each system is left waiting for the callback for 50 ms before the callback request is timed.",
];

const fmt = (v) => (v === undefined || Number.isNaN(v) ? "-" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

const WORKLOAD_INFO = {
  a: { title: "(a) durable step latency: one execution of N sequential steps", short: "(a) durable step latency (one execution of N sequential steps)", unit: "ms/step", lowerIsBetter: true },
  b: { title: "(b) per-execution latency: sequential 3-step executions (p50; p99 beside it)", short: "(b) 3-step execution latency, p50 of sequential executions", unit: "ms", lowerIsBetter: true },
  c: { title: "(c) throughput: 16 concurrent clients starting 3-step executions", short: "(c) throughput, 16 concurrent clients, 3-step executions", unit: "exec/s", lowerIsBetter: false },
  d: { title: "(d) callback latency: from the callback request to the execution's completion", short: "(d) callback latency: callback request to execution completed", unit: "ms", lowerIsBetter: true },
};

function summarize(results) {
  const rows = [];
  for (const w of ["a", "b", "c", "d"]) {
    const info = WORKLOAD_INFO[w];
    const cairn = results.cairn?.[w] ? median(results.cairn[w].values) : NaN;
    for (const s of SYSTEMS) {
      const r = results[s.id]?.[w];
      if (!r) continue;
      const med = median(r.values);
      const row = {
        workload: w,
        system: s.id,
        label: s.label,
        durability: s.durability,
        unit: info.unit,
        median: med,
        min: Math.min(...r.values),
        max: Math.max(...r.values),
        runs: r.values.length,
        // How many times better cairn is than this row (>1: cairn is faster).
        cairnFasterBy: info.lowerIsBetter ? med / cairn : cairn / med,
      };
      // (a), (b): the floor measured in the same worker, right before each run.
      if (r.floor) {
        row.floorBeside = median(r.floor);
        row.timesFloorBeside = med / row.floorBeside;
      }
      if (w === "a") row.steps = r.n;
      if (w === "b") {
        row.p99 = median(r.p99);
        row.executionsPerRun = r.n;
      }
      if (w === "c") {
        row.clients = r.clients;
        row.seconds = r.seconds;
      }
      if (w === "d") {
        row.callbacksPerRun = r.n;
        row.settleMs = r.settleMs;
      }
      rows.push(row);
    }
  }
  return rows;
}

function targets(rows) {
  const get = (w, id) => rows.find((r) => r.workload === w && r.system === id);
  const best = (w, better) => {
    const peers = rows.filter((r) => r.workload === w && SYSTEMS.find((s) => s.id === r.system)?.same);
    if (!peers.length) return null;
    return peers.reduce((x, y) => (better(y.median, x.median) ? y : x));
  };
  const out = [];
  const cairnA = get("a", "cairn");
  if (cairnA?.floorBeside) {
    const ratio = cairnA.timesFloorBeside;
    out.push({
      name: "durable step ≤ 1.3× the fdatasync floor (measured beside it)",
      measured: `${ratio.toFixed(2)}× the floor (${fmt(cairnA.median)} vs ${fmt(cairnA.floorBeside)} ms)`,
      met: ratio <= 1.3,
    });
  }
  const cairnB = get("b", "cairn");
  const peerB = best("b", (x, y) => x < y);
  if (cairnB && peerB) {
    const ratio = peerB.median / cairnB.median;
    out.push({ name: "3-step execution ≥ 5× faster than the fastest peer with the same guarantee", measured: `${ratio.toFixed(2)}× faster than ${peerB.label} (p50 ${fmt(cairnB.median)} vs ${fmt(peerB.median)} ms${cairnB.floorBeside ? `; floor beside cairn ${fmt(cairnB.floorBeside)} ms, beside ${peerB.label} ${fmt(peerB.floorBeside)} ms` : ""})`, met: ratio >= 5 });
  }
  const cairnC = get("c", "cairn");
  const peerC = best("c", (x, y) => x > y);
  if (cairnC && peerC) {
    const ratio = cairnC.median / peerC.median;
    out.push({ name: "concurrent throughput ≥ 10× the best peer with the same guarantee", measured: `${ratio.toFixed(2)}× ${peerC.label} (${fmt(cairnC.median)} vs ${fmt(peerC.median)} exec/s)`, met: ratio >= 10 });
  }
  return out;
}

function renderTable(rows, goals, meta) {
  const lines = [];
  const head = ["system", "durability", "median", "min–max", "runs", "cairn ×", "floor beside"];
  for (const w of ["a", "b", "c", "d"]) {
    const rs = rows.filter((r) => r.workload === w);
    if (!rs.length) continue;
    const info = WORKLOAD_INFO[w];
    let extra = "";
    if (w === "a") extra = ` (N = ${WORKLOADS.a.steps})`;
    if (w === "c") extra = ` for ${rs[0].seconds} s`;
    if (w === "d") extra = ` (${rs[0].callbacksPerRun} per run)`;
    lines.push("", `${info.title}${extra} — ${info.unit}`);
    const body = rs.map((r) => [
      r.label,
      r.durability,
      w === "b" ? `${fmt(r.median)} (p99 ${fmt(r.p99)})` : fmt(r.median),
      `${fmt(r.min)}–${fmt(r.max)}`,
      w === "b" ? `${r.runs}×${Math.min(...r.executionsPerRun)}${Math.min(...r.executionsPerRun) < WORKLOADS.b.executions ? "*" : ""}` : String(r.runs),
      r.system === "cairn" ? "1" : Number.isFinite(r.cairnFasterBy) ? r.cairnFasterBy.toFixed(2) : "-",
      r.floorBeside ? `${fmt(r.floorBeside)} (${r.timesFloorBeside.toFixed(2)}×)` : "",
    ]);
    const cols = w === "a" || w === "b" ? head.length : head.length - 1;
    const widths = head.slice(0, cols).map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells) => "  " + cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
    lines.push(line(head.slice(0, cols)));
    for (const b of body) lines.push(line(b.slice(0, cols)));
  }
  lines.push("", "cairn × = how many times cairn is better than the row (>1: cairn faster). floor beside = write+fdatasync of 128 B");
  lines.push(`measured in the same process right before each run of (a) and of (b) (${WORKLOADS.a.floorRecords} records), and the row's multiple of it.`);
  if (rows.some((r) => r.workload === "b" && Math.min(...r.executionsPerRun) < WORKLOADS.b.executions)) {
    lines.push(`* fewer than ${WORKLOADS.b.executions} executions per run: the row's time limit was reached.`);
  }
  lines.push("", "How each system is driven:");
  for (const n of NOTES) lines.push(`  - ${n}`);
  lines.push("", "Targets (same run):");
  for (const g of goals) lines.push(`  ${g.met ? "MET   " : "MISSED"}  ${g.name}: ${g.measured}`);
  lines.push("", `machine: ${meta.cpus} × ${meta.cpuModel}; load average ${meta.loadBefore.join(" ")} before, ${meta.loadAfter.join(" ")} after; ${meta.mode} run, in ${WORKLOADS.rounds} rounds (each system in turn, every round).`);
  return lines.join("\n");
}

// ---- the chart (gnuplot, one panel per workload) ----

// cairn green, the durable peers blue, what is not durable pale, the floor grey.
const COLORS = { floor: 0x8c8c8c, cairn: 0x2e8b57, "cairn-nofsync": 0xa8d5b8, dbos: 0x4a7ab5, restate: 0x4a7ab5, aws: 0xb3c7e6 };

function renderChart(rows, pngPath) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cairn-peers-chart-"));
  try {
    const panels = [];
    for (const w of ["a", "b", "c", "d"]) {
      const rs = rows.filter((r) => r.workload === w);
      if (!rs.length) continue;
      const data = path.join(dir, `${w}.dat`);
      fs.writeFileSync(
        data,
        rs.map((r, i) => `${i} "${r.label.replace(/"/g, "'")}" ${r.median} ${r.min} ${r.max} ${COLORS[r.system] ?? 0x4a7ab5}`).join("\n") + "\n",
      );
      const info = WORKLOAD_INFO[w];
      panels.push(
        [
          `set title "${info.short}" font ",10"`,
          `set ylabel "${info.unit}${info.lowerIsBetter ? " (lower is better)" : " (higher is better)"}"`,
          `set xrange [-0.6:${rs.length - 0.4}]`,
          `plot "${data}" using 1:3:6:xtic(2) with boxes lc rgb variable notitle, ` +
            `"" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0 notitle, ` +
            `"" using 1:3:(sprintf("%.3g", $3)) with labels offset 0,1.3 font ",8" notitle`,
        ].join("\n"),
      );
    }
    const script = [
      `set terminal pngcairo size 1600,1100 font "DejaVu Sans,9"`,
      `set output "${pngPath}"`,
      `set multiplot layout 2,2 title "cairn and its peers (median of runs; bars: min–max)" font ",12"`,
      "set style fill solid 0.8 border -1",
      "set boxwidth 0.6",
      "set logscale y",
      "set grid ytics",
      "set xtics rotate by -25 font ',8'",
      "set bmargin 6",
      ...panels,
      "unset multiplot",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "chart.gp"), script);
    const r = spawnSync("gnuplot", [path.join(dir, "chart.gp")], { encoding: "utf8" });
    if (r.error || r.status !== 0) {
      console.error(`gnuplot failed (chart not written): ${r.error?.message ?? r.stderr}`);
      return false;
    }
    return true;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main ----

async function main() {
  if (!fs.existsSync(opts.cairn)) throw new Error(`no cairn binary at ${opts.cairn}`);
  baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "cairn-peers-"));
  fs.chmodSync(baseDir, 0o711); // postgres (another user) must reach its folder
  const meta = {
    mode: opts.quick ? "quick" : "full",
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "?",
    loadBefore: os.loadavg().map((x) => x.toFixed(2)),
    disk: baseDir,
    node: process.version,
    cairn: opts.cairn,
    workloads: WORKLOADS,
    started: new Date().toISOString(),
  };
  const results = {};
  const failures = {};
  const systems = SYSTEMS.filter((s) => !opts.only || opts.only.includes(s.id));
  for (let round = 1; round <= WORKLOADS.rounds; round++) {
    for (const s of systems) {
      if (failures[s.id]) continue;
      const t0 = Date.now();
      console.error(`${s.label} (round ${round} of ${WORKLOADS.rounds}):`);
      try {
        const r = await measure(s);
        results[s.id] = results[s.id] ? mergeRounds(results[s.id], r) : r;
        if (r.version) meta[`${s.id}Version`] = r.version;
      } catch (e) {
        failures[s.id] = e.message;
        delete results[s.id];
        console.error(`  FAILED: ${e.message}`);
        const tail = logTail(`${s.id}-worker`) || logTail(s.id);
        if (tail) console.error(tail.replace(/^/gm, "    | "));
      }
      console.error(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  meta.loadAfter = os.loadavg().map((x) => x.toFixed(2));
  const rows = summarize(results);
  const goals = targets(rows);
  const table = renderTable(rows, goals, meta);
  console.log(table);
  for (const [id, msg] of Object.entries(failures)) console.log(`\n${id}: not measured: ${msg}`);
  fs.mkdirSync(opts.out, { recursive: true });
  const jsonPath = path.join(opts.out, "peers.json");
  const pngPath = path.join(opts.out, "peers.png");
  fs.writeFileSync(jsonPath, JSON.stringify({ meta, rows, targets: goals, notes: NOTES, failures, raw: results }, null, 2) + "\n");
  const charted = renderChart(rows, pngPath);
  console.log(`\nwrote ${jsonPath}${charted ? ` and ${pngPath}` : ""}`);
  return Object.keys(failures).length ? 1 : 0;
}

main().then(
  (code) => {
    cleanup();
    process.exit(code);
  },
  (e) => {
    console.error(`run.mjs: ${e.message ?? e}`);
    cleanup();
    process.exit(1);
  },
);

// `cairn lambda` against AWS's own local durable execution service.
//
// @aws/durable-execution-sdk-js-testing runs AWS's checkpoint server in a
// worker thread (LocalDurableTestRunner) and hands each invocation to a
// handler function in-process. This harness puts the real wire in between:
//  * a local Lambda Runtime API (GET …/invocation/next, POST …/response,
//    …/error, …/init/error) from which the real `cairn lambda` binary takes
//    each invocation event;
//  * the real REST paths of the durable execution API on the same port
//    (POST /2025-12-01/durable-executions/{arn}/checkpoint, GET …/state,
//    POST /2025-12-01/durable-execution-callbacks/{id}/succeed|fail|heartbeat),
//    forwarded to the checkpoint server, whose validation is real: an update
//    it rejects fails the test.
// Like the Lambda service, the harness re-invokes when cairn fails an
// invocation (posts to /error), with the state and token as they are then.
// Results are compared with the local backend (`cairn run`).
//
// With --package DIR (an unzipped deployment package, scripts/package-lambda),
// the package's own `bootstrap` also handles an invocation, as the
// provided.al2023 runtime would start it; --only-package runs only that.
//
// Usage: node lambda_test.mjs PATH/TO/cairn [--package DIR [--only-package]]
//        (exit 77 = skipped)
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const cairn = process.argv[2];
const packageArg = process.argv.indexOf("--package");
const packageDir = packageArg > 0 ? process.argv[packageArg + 1] : null;
const onlyPackage = process.argv.includes("--only-package");
if (!cairn || (packageArg > 0 && !packageDir) || (onlyPackage && !packageDir)) {
  console.error("usage: node lambda_test.mjs PATH/TO/cairn [--package DIR [--only-package]]");
  process.exit(2);
}
let testing, lambdaSdk;
try {
  testing = await import("@aws/durable-execution-sdk-js-testing");
  lambdaSdk = await import("@aws-sdk/client-lambda");
} catch (e) {
  console.log(`SKIP: node packages missing (run \`npm ci\` in ${here}): ${e.message}`);
  process.exit(77);
}
const { LocalDurableTestRunner } = testing;
const { LambdaClient, SendDurableExecutionCallbackSuccessCommand } = lambdaSdk;

// ---------------------------------------------------------------- helpers

const work = fs.mkdtempSync(path.join(os.tmpdir(), "cairn-lambda-"));
const bundle = path.join(work, "workflows");
fs.mkdirSync(bundle);
for (const f of fs.readdirSync(path.join(here, "workflows"))) {
  fs.copyFileSync(path.join(here, "workflows", f), path.join(bundle, f));
}
fs.copyFileSync(path.join(here, "../../workflows/local-callback.yaml"), path.join(bundle, "local-callback.yaml"));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Timestamps in three forms, as the sources disagree on which the service
// uses: the event carries ISO-8601, checkpoint replies epoch seconds, state
// pages epoch milliseconds.
function stamps(value, form) {
  if (value instanceof Date) {
    if (form === "iso") return value.toISOString();
    if (form === "ms") return value.getTime();
    return value.getTime() / 1000;
  }
  if (Array.isArray(value)) return value.map((v) => stamps(v, form));
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = stamps(v, form);
    return out;
  }
  return value;
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

// ------------------------------------------------ the server (one port)

const state = {
  queue: [], // invocations waiting for /next
  waiters: [], // /next requests waiting for an invocation
  pending: new Map(), // request id → {resolve}
  current: null, // the event (with its client) of the invocation in flight
  latestToken: null,
  inject: [], // faults for the next checkpoint requests: {status, type, message}
  rejected: [], // updates the checkpoint server refused
  checkpoints: [], // every checkpoint request body
  firstCheckpointAt: null,
  callbackIds: [],
  initErrors: [],
  invocationErrors: [],
  deadlineMs: 0, // > 0: Lambda-Runtime-Deadline-Ms = now + deadlineMs
};
let runner = null;

function nextInvocation(res) {
  const inv = state.queue.shift();
  const deadline = Date.now() + (state.deadlineMs || 900_000);
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Lambda-Runtime-Aws-Request-Id": inv.id,
    "Lambda-Runtime-Deadline-Ms": String(deadline),
    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:cairn:$LATEST",
    "Lambda-Runtime-Trace-Id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700",
  });
  res.end(inv.body);
}

async function handle(req, res) {
  const url = new URL(req.url, "http://127.0.0.1");
  const p = url.pathname;
  let m;
  if (req.method === "GET" && p === "/2018-06-01/runtime/invocation/next") {
    if (state.queue.length) return nextInvocation(res);
    state.waiters.push(res);
    // A runtime that goes away (stopped between tests) stops waiting.
    res.on("close", () => {
      const i = state.waiters.indexOf(res);
      if (i >= 0) state.waiters.splice(i, 1);
    });
    return;
  }
  if (req.method === "POST" && (m = p.match(/^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/))) {
    const body = await readBody(req);
    const waiting = state.pending.get(m[1]);
    state.pending.delete(m[1]);
    send(res, 202, { status: "OK" });
    if (waiting) waiting.resolve({ kind: m[2], body: JSON.parse(body) });
    return;
  }
  if (req.method === "POST" && p === "/2018-06-01/runtime/init/error") {
    state.initErrors.push(JSON.parse(await readBody(req)));
    return send(res, 202, { status: "OK" });
  }
  if ((m = p.match(/^\/2025-12-01\/durable-executions\/(.+)\/(checkpoint|state)$/))) {
    const arn = decodeURIComponent(m[1]);
    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith("AWS4-HMAC-SHA256 Credential=AKIDLAMBDATEST/") || !auth.includes("/us-east-1/lambda/aws4_request")) {
      return send(res, 403, { message: "missing or wrong SigV4 Authorization" }, { "X-Amzn-ErrorType": "AccessDeniedException" });
    }
    const client = state.current?.durableExecutionClient;
    if (!client || state.current.DurableExecutionArn !== arn) {
      return send(res, 404, { message: `no invocation in flight for ${arn}` }, { "X-Amzn-ErrorType": "ResourceNotFoundException" });
    }
    if (m[2] === "state") {
      const out = await client.getExecutionState({
        DurableExecutionArn: arn,
        CheckpointToken: url.searchParams.get("CheckpointToken"),
        Marker: url.searchParams.get("Marker") ?? undefined,
        MaxItems: 1000,
      });
      return send(res, 200, stamps({ Operations: out.Operations ?? [], NextMarker: out.NextMarker ?? "" }, "ms"));
    }
    const body = JSON.parse(await readBody(req));
    state.firstCheckpointAt ??= Date.now();
    const fault = state.inject.shift();
    if (fault) {
      const headers = { "X-Amzn-ErrorType": fault.type };
      if (fault.status === 429) headers["Retry-After"] = "1";
      return send(res, fault.status, { Type: fault.status >= 500 ? "Service" : "User", message: fault.message }, headers);
    }
    state.checkpoints.push(body);
    for (const u of body.Updates ?? []) {
      if (u.Type !== "EXECUTION" && u.Payload && Buffer.byteLength(u.Payload) > 262144) {
        state.rejected.push(`${u.Id}: payload of ${Buffer.byteLength(u.Payload)} bytes sent`);
      }
    }
    try {
      const out = await client.checkpoint({
        DurableExecutionArn: arn,
        CheckpointToken: body.CheckpointToken,
        ClientToken: body.ClientToken,
        Updates: body.Updates,
      });
      state.latestToken = out.CheckpointToken ?? state.latestToken;
      for (const op of out.NewExecutionState?.Operations ?? []) {
        const id = op.CallbackDetails?.CallbackId;
        if (id && !state.callbackIds.includes(id)) state.callbackIds.push(id);
      }
      return send(res, 200, stamps(out, "s"));
    } catch (e) {
      state.rejected.push(`${e?.name ?? "Error"}: ${e?.message ?? e} in ${JSON.stringify(body.Updates).slice(0, 300)}`);
      return send(res, 400, { Type: "User", message: String(e?.message ?? e) }, { "X-Amzn-ErrorType": e?.name ?? "InvalidParameterValueException" });
    }
  }
  if (req.method === "POST" && (m = p.match(/^\/2025-12-01\/durable-execution-callbacks\/([^/]+)\/(succeed|fail|heartbeat)$/))) {
    const id = decodeURIComponent(m[1]);
    const body = await readBody(req);
    try {
      if (m[2] === "succeed") await runner.durableApi.sendCallbackSuccess({ CallbackId: id, Result: body });
      else if (m[2] === "fail") await runner.durableApi.sendCallbackFailure({ CallbackId: id, Error: body ? JSON.parse(body) : {} });
      else await runner.durableApi.sendCallbackHeartbeat({ CallbackId: id });
      return send(res, 200, {});
    } catch (e) {
      return send(res, 400, { Type: "User", message: String(e?.message ?? e) }, { "X-Amzn-ErrorType": "CallbackTimeoutException" });
    }
  }
  send(res, 404, { message: `unknown route ${req.method} ${p}` }, { "X-Amzn-ErrorType": "UnknownOperationException" });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => send(res, 500, { message: String(e) }));
});
server.keepAliveTimeout = 60_000;
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const port = server.address().port;
const endpoint = `http://127.0.0.1:${port}`;

// Hands one event to cairn through the Runtime API; resolves with its reply.
let invocationCount = 0;
function invokeCairn(event) {
  const id = `00000000-0000-4000-8000-${String(++invocationCount).padStart(12, "0")}`;
  const body = JSON.stringify({
    DurableExecutionArn: event.DurableExecutionArn,
    CheckpointToken: event.CheckpointToken,
    InitialExecutionState: stamps(
      { Operations: event.InitialExecutionState?.Operations ?? [], NextMarker: event.InitialExecutionState?.NextMarker ?? "" },
      "iso",
    ),
  });
  return new Promise((resolve) => {
    state.pending.set(id, { resolve });
    state.queue.push({ id, body });
    const waiter = state.waiters.shift();
    if (waiter) nextInvocation(waiter);
  });
}

// The durable function as the test runner sees it: each invocation goes to
// cairn; an invocation error is retried with the state as it is now and the
// newest token, as the service does.
async function handler(event) {
  state.current = event;
  state.latestToken = event.CheckpointToken;
  let current = event;
  for (let attempt = 1; ; ++attempt) {
    const reply = await invokeCairn(current);
    if (reply.kind === "response") return reply.body;
    state.invocationErrors.push(reply.body.errorType);
    if (attempt >= 8) throw new Error(`cairn failed ${attempt} invocations: ${reply.body.errorType}: ${reply.body.errorMessage}`);
    await sleep(50);
    const st = await event.durableExecutionClient.getExecutionState({
      DurableExecutionArn: event.DurableExecutionArn,
      CheckpointToken: state.latestToken,
      MaxItems: 1000,
    });
    current = {
      DurableExecutionArn: event.DurableExecutionArn,
      CheckpointToken: state.latestToken,
      InitialExecutionState: { Operations: st.Operations ?? [], NextMarker: "" },
      durableExecutionClient: event.durableExecutionClient,
    };
  }
}

// ------------------------------------------------ cairn lambda processes

// What the Lambda service gives a function's process: the Runtime API,
// credentials, the checkpoint endpoint; plus what the local-callback worker
// needs to call back with `cairn callback` (as an ECS task would with the
// AWS CLI).
function lambdaEnvironment(extra) {
  return {
    PATH: process.env.PATH,
    AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDLAMBDATEST",
    AWS_SECRET_ACCESS_KEY: "lambda-test-secret",
    AWS_SESSION_TOKEN: "lambda-test-session",
    AWS_ENDPOINT_URL_LAMBDA: endpoint,
    CAIRN_ENDPOINT: endpoint,
    CAIRN_BIN: path.resolve(cairn),
    ...extra,
  };
}

function spawnRuntime(command, args, env, cwd = undefined) {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "inherit", "pipe"] });
  child.log = "";
  child.stderr.on("data", (d) => {
    child.log += d.toString();
    if (process.env.CAIRN_LAMBDA_TEST_DEBUG) process.stderr.write(d);
  });
  return child;
}

function startCairn(dir = bundle, extra = []) {
  return spawnRuntime(
    cairn,
    ["lambda", "--workflows", dir, "--default-workflow", "fan", ...extra],
    lambdaEnvironment({ HOME: process.env.HOME ?? work, LAMBDA_TASK_ROOT: work }),
  );
}

function stopCairn(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
}

// What the local backend gives for the same workflow and input.
function runLocally(workflow, input) {
  const store = path.join(work, `local-${workflow}-${Date.now()}.db`);
  const r = spawnSync(cairn, ["run", path.join(bundle, `${workflow}.yaml`), "--input", JSON.stringify(input), "--store", store], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { status: r.status, result: r.status === 0 ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

// ------------------------------------------------------------ the tests

await LocalDurableTestRunner.setupTestEnvironment({ skipTime: false });
runner = new LocalDurableTestRunner({ handlerFunction: handler });

let passed = 0;
let failed = 0;
const failures = [];
function check(cond, what) {
  if (!cond) throw new Error(what);
}
function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function run(workflowInput) {
  runner.reset();
  Object.assign(state, { rejected: [], checkpoints: [], callbackIds: [], invocationErrors: [], inject: [] });
  const result = await runner.run({ payload: workflowInput });
  return {
    status: result.getStatus(),
    result: result.getStatus() === "SUCCEEDED" ? result.getResult() : undefined,
    error: result.getStatus() === "SUCCEEDED" ? undefined : result.getError(),
  };
}

async function test(name, fn) {
  if (onlyPackage && !name.startsWith("package:")) return;
  const t0 = Date.now();
  try {
    await fn();
    check(state.rejected.length === 0, `the checkpoint server rejected updates: ${state.rejected.join("; ")}`);
    ++passed;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    ++failed;
    failures.push(name);
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

let lambdaProcess = startCairn();

for (const [workflow, input, ignore] of [
  ["fan", { items: [2, 3, 4] }, []],
  ["retry", { stateFile: path.join(work, "retry-state") }, []],
  ["local-callback", { message: "hello from a lambda", processingTime: 0 }, ["startedAt"]],
]) {
  await test(`${workflow}: same result as the local backend`, async () => {
    const selected = workflow === "fan" ? input : { workflow, input };
    const lambda = await run(selected);
    if (workflow === "retry") fs.rmSync(input.stateFile, { force: true });
    const local = runLocally(workflow, input);
    check(lambda.status === "SUCCEEDED", `lambda: ${lambda.status} ${JSON.stringify(lambda.error)}`);
    check(local.status === 0, `cairn run failed: ${local.stderr}`);
    for (const k of ignore) {
      delete lambda.result[k];
      delete local.result[k];
    }
    check(same(lambda.result, local.result), `lambda ${JSON.stringify(lambda.result)} != local ${JSON.stringify(local.result)}`);
    check(state.invocationErrors.length === 0, `invocation errors: ${state.invocationErrors}`);
  });
}

await test("approval: a callback sent with @aws-sdk/client-lambda", async () => {
  const done = run({ workflow: "approval" });
  for (let i = 0; i < 200 && state.callbackIds.length === 0; ++i) await sleep(25);
  check(state.callbackIds.length === 1, "no callback id was created");
  const sdk = new LambdaClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDLAMBDATEST", secretAccessKey: "x" },
  });
  await sdk.send(
    new SendDurableExecutionCallbackSuccessCommand({
      CallbackId: state.callbackIds[0],
      Result: new TextEncoder().encode(JSON.stringify({ approved: true, by: "sdk" })),
    }),
  );
  const r = await done;
  check(r.status === "SUCCEEDED", `${r.status} ${JSON.stringify(r.error)}`);
  check(same(r.result, { approved: true, by: "sdk" }), JSON.stringify(r.result));
});

await test("stale token: the invocation fails and the re-invocation finishes", async () => {
  const expected = runLocally("fan", { items: [5] }).result;
  const p = run({ items: [5] });
  state.inject.push({ status: 400, type: "InvalidParameterValueException", message: "Invalid checkpoint token: injected" });
  const r = await p;
  check(r.status === "SUCCEEDED", `${r.status} ${JSON.stringify(r.error)}`);
  check(same(r.result, expected), JSON.stringify(r.result));
  check(same(state.invocationErrors, ["backend.stale_token"]), `errors: ${state.invocationErrors}`);
});

await test("429 three times: retried, then the invocation fails and is re-invoked", async () => {
  const p = run({ items: [1] });
  for (let i = 0; i < 3; ++i) state.inject.push({ status: 429, type: "TooManyRequestsException", message: "Rate exceeded" });
  const r = await p;
  check(r.status === "SUCCEEDED", `${r.status} ${JSON.stringify(r.error)}`);
  check(same(state.invocationErrors, ["backend.retryable"]), `errors: ${state.invocationErrors}`);
});

await test("500 once: retried inside the invocation with the same ClientToken", async () => {
  const p = run({ items: [1] });
  state.inject.push({ status: 500, type: "ServiceException", message: "internal" });
  const r = await p;
  check(r.status === "SUCCEEDED", `${r.status} ${JSON.stringify(r.error)}`);
  check(state.invocationErrors.length === 0, `errors: ${state.invocationErrors}`);
});

await test("a step result over 256 KiB fails the execution and is never sent", async () => {
  const r = await run({ workflow: "big" });
  check(r.status === "FAILED", r.status);
  check(JSON.stringify(r.error).includes("PayloadTooLarge"), JSON.stringify(r.error));
  const local = runLocally("big", {});
  check(local.status !== 0, "cairn run should fail too");
});

await test("deadline reached mid-step: no new step starts, nothing runs twice", async () => {
  await stopCairn(lambdaProcess);
  lambdaProcess = startCairn(bundle, ["--deadline-margin", "1000"]);
  state.deadlineMs = 1600;
  try {
    const r = await run({ workflow: "steps", input: { seconds: 0.8 } });
    check(r.status === "SUCCEEDED", `${r.status} ${JSON.stringify(r.error)}`);
    check(same(r.result, ["one", "two", "three"]), JSON.stringify(r.result));
    check(state.invocationErrors.length >= 1 && state.invocationErrors.every((e) => e === "engine.deadline"),
      `errors: ${state.invocationErrors}`);
    const starts = {};
    for (const c of state.checkpoints) {
      for (const u of c.Updates ?? []) if (u.Type === "STEP" && u.Action === "SUCCEED") starts[u.Name] = (starts[u.Name] ?? 0) + 1;
    }
    check(same(starts, { one: 1, two: 1, three: 1 }), `step completions: ${JSON.stringify(starts)}`);
  } finally {
    state.deadlineMs = 0;
    await stopCairn(lambdaProcess);
    lambdaProcess = startCairn();
  }
});

await test("a workflow changed between invocations fails as non-deterministic, never PENDING", async () => {
  const v1 = path.join(work, "v1");
  const v2 = path.join(work, "v2");
  for (const d of [v1, v2]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(v1, "change.yaml"),
    "cairn: 1\nname: change\nsteps:\n  - name: first\n    process.run: {command: [echo, a]}\n  - name: pause\n    wait: 1s\n  - name: last\n    set: 1\n");
  fs.writeFileSync(path.join(v2, "change.yaml"),
    "cairn: 1\nname: change\nsteps:\n  - name: first\n    wait: 1s\n  - name: pause\n    wait: 1s\n  - name: last\n    set: 1\n");
  await stopCairn(lambdaProcess);
  lambdaProcess = startCairn(v1, ["--max-invocations", "1"]);
  const exited = new Promise((r) => lambdaProcess.once("exit", r));
  const p = run({ workflow: "change" });
  await exited; // the first invocation ran v1 and returned PENDING (the wait)
  lambdaProcess = startCairn(v2); // "a new deployment"
  const r = await p;
  check(r.status === "FAILED", `${r.status}`);
  check(JSON.stringify(r.error).includes("Cairn.NonDeterministic"), JSON.stringify(r.error));
  await stopCairn(lambdaProcess);
  lambdaProcess = startCairn();
});

await test("a workflow that does not validate fails with the validator's diagnostics", async () => {
  fs.writeFileSync(path.join(bundle, "broken.yaml"), "cairn: 1\nname: broken\nsteps:\n  - name: a\n    set: 1\n    next: nowhere\n");
  await stopCairn(lambdaProcess);
  lambdaProcess = startCairn();
  const r = await run({ workflow: "broken" });
  fs.rmSync(path.join(bundle, "broken.yaml"));
  check(r.status === "FAILED", r.status);
  const text = JSON.stringify(r.error);
  check(text.includes("Cairn.InvalidWorkflow") && text.includes("broken.yaml:6:") && text.includes("CRN"), text);
});

await test("start-up without the workflow folder reports an init error", async () => {
  const child = startCairn(path.join(work, "missing"));
  const code = await new Promise((r) => child.once("exit", r));
  check(code === 1, `exit ${code}`);
  check(state.initErrors.length === 1 && state.initErrors[0].errorType === "bundle", JSON.stringify(state.initErrors));
});

if (packageDir) {
  await test("package: its bootstrap handles an invocation of a bundled workflow", async () => {
    await stopCairn(lambdaProcess);
    // As the provided.al2023 runtime starts a function: the package as
    // LAMBDA_TASK_ROOT and the handler; nothing of this machine's
    // environment beyond PATH.
    const root = path.resolve(packageDir);
    const child = spawnRuntime(
      path.join(root, "bootstrap"),
      [],
      lambdaEnvironment({ LAMBDA_TASK_ROOT: root, _HANDLER: "local-callback" }),
      work,
    );
    lambdaProcess = child;
    const input = { message: "hello from the package", processingTime: 0 };
    const lambda = await run(input); // no "workflow": the handler's
    const local = runLocally("local-callback", input);
    check(lambda.status === "SUCCEEDED", `bootstrap: ${lambda.status} ${JSON.stringify(lambda.error)}; stderr: ${child.log.slice(0, 600)}`);
    check(local.status === 0, `cairn run failed: ${local.stderr}`);
    delete lambda.result.startedAt;
    delete local.result.startedAt;
    check(same(lambda.result, local.result), `bootstrap ${JSON.stringify(lambda.result)} != local ${JSON.stringify(local.result)}`);
    check(state.checkpoints.length > 0, "no checkpoint reached the server");
    check(state.invocationErrors.length === 0, `invocation errors: ${state.invocationErrors}`);
  });
}

await stopCairn(lambdaProcess);
for (const w of state.waiters) w.destroy();
server.close();
await LocalDurableTestRunner.teardownTestEnvironment();
fs.rmSync(work, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
if (failed) console.log(`failed: ${failures.join(", ")}`);
if (passed + failed === 0) {
  console.log("no test ran");
  process.exit(1);
}
process.exit(failed ? 1 : 0);

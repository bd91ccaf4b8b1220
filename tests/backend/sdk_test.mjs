// cairn's local durable service, checked with the real AWS SDK for
// JavaScript v3 and (when it has the durable commands) the AWS CLI.
//
// Usage: node sdk_test.mjs PATH/TO/local_api_server
// Exits 77 (skipped) when node_modules is missing (run `npm ci` here).
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, "node_modules", "@aws-sdk", "client-lambda"))) {
  console.log(`SKIP: ${join(here, "node_modules")} is missing; run 'npm ci' in ${here} (scripts/install-deps does)`);
  process.exit(77);
}
const serverPath = process.argv[2];
if (!serverPath) {
  console.error("usage: node sdk_test.mjs PATH/TO/local_api_server");
  process.exit(2);
}

const lambda = await import("@aws-sdk/client-lambda");
const {
  LambdaClient,
  SendDurableExecutionCallbackSuccessCommand,
  SendDurableExecutionCallbackHeartbeatCommand,
  GetDurableExecutionCommand,
  GetDurableExecutionHistoryCommand,
  ListDurableExecutionsByFunctionCommand,
  StopDurableExecutionCommand,
  CallbackTimeoutException,
  ResourceNotFoundException,
} = lambda;

let passed = 0;
let failed = 0;
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const server = spawn(serverPath, [], { stdio: ["pipe", "pipe", "inherit"] });
const lines = createInterface({ input: server.stdout });
const ready = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("the server printed nothing within 30 s")), 30000);
  lines.once("line", (line) => {
    clearTimeout(timer);
    resolve(JSON.parse(line));
  });
  server.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
  server.once("error", (e) => reject(new Error(`cannot start ${serverPath}: ${e.message}`)));
});
const endpoint = `http://127.0.0.1:${ready.port}`;
const client = new LambdaClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" },
  maxAttempts: 1,
});

async function waitForStatus(arn, status) {
  for (let i = 0; i < 200; i++) {
    const out = await client.send(new GetDurableExecutionCommand({ DurableExecutionArn: arn }));
    if (out.Status === status) return out;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${arn} never reached ${status}`);
}

try {
  await check("SendDurableExecutionCallbackHeartbeat", async () => {
    await client.send(new SendDurableExecutionCallbackHeartbeatCommand({ CallbackId: ready.callbackId }));
  });

  await check("SendDurableExecutionCallbackSuccess resumes the execution", async () => {
    await client.send(
      new SendDurableExecutionCallbackSuccessCommand({
        CallbackId: ready.callbackId,
        Result: new TextEncoder().encode('{"approved":true}'),
      }),
    );
    const out = await waitForStatus(ready.arn, "SUCCEEDED");
    assert(out.Result === '{"approved":true}', `Result ${out.Result}`);
    assert(out.DurableExecutionArn === ready.arn, "DurableExecutionArn");
    assert(out.DurableExecutionName === "sdk-test", "DurableExecutionName");
    assert(out.InputPayload === '{"from":"sdk"}', `InputPayload ${out.InputPayload}`);
    assert(out.StartTimestamp instanceof Date && out.EndTimestamp instanceof Date, "timestamps parse as Dates");
    assert(out.EndTimestamp >= out.StartTimestamp, "EndTimestamp after StartTimestamp");
  });

  await check("GetDurableExecutionHistory parses the events", async () => {
    const out = await client.send(
      new GetDurableExecutionHistoryCommand({ DurableExecutionArn: ready.arn, IncludeExecutionData: true }),
    );
    const types = out.Events.map((e) => e.EventType);
    assert(types[0] === "ExecutionStarted", `first event ${types[0]}`);
    assert(types.at(-1) === "ExecutionSucceeded", `last event ${types.at(-1)}`);
    for (const want of ["CallbackStarted", "InvocationCompleted", "CallbackSucceeded", "StepStarted", "StepSucceeded"]) {
      assert(types.includes(want), `missing ${want} in ${types}`);
    }
    out.Events.forEach((e, i) => {
      assert(e.EventId === i + 1, `EventId ${e.EventId} at ${i}`);
      assert(e.EventTimestamp instanceof Date, "EventTimestamp is a Date");
    });
    const started = out.Events.find((e) => e.EventType === "CallbackStarted");
    assert(started.CallbackStartedDetails.CallbackId === ready.callbackId, "CallbackId");
    assert(started.CallbackStartedDetails.Timeout === 600, "Timeout");
    assert(started.Name === "approval" && started.SubType === "Callback", "Name/SubType");
    const done = out.Events.find((e) => e.EventType === "CallbackSucceeded");
    assert(done.CallbackSucceededDetails.Result.Payload === '{"approved":true}', "CallbackSucceeded payload");
    const inv = out.Events.find((e) => e.EventType === "InvocationCompleted");
    assert(inv.InvocationCompletedDetails.StartTimestamp instanceof Date, "InvocationCompleted StartTimestamp");
    assert(typeof inv.InvocationCompletedDetails.RequestId === "string", "RequestId");
    const paged = await client.send(new GetDurableExecutionHistoryCommand({ DurableExecutionArn: ready.arn, MaxItems: 2 }));
    assert(paged.Events.length === 2 && paged.NextMarker === "3", `paging: ${paged.NextMarker}`);
    assert(paged.Events[0].ExecutionStartedDetails.Input.Payload === undefined, "no data without IncludeExecutionData");
  });

  await check("ListDurableExecutionsByFunction filters by status", async () => {
    const out = await client.send(
      new ListDurableExecutionsByFunctionCommand({ FunctionName: "sdk-flow", Statuses: ["SUCCEEDED"] }),
    );
    assert(out.DurableExecutions.length === 1, `got ${out.DurableExecutions.length}`);
    assert(out.DurableExecutions[0].DurableExecutionArn === ready.arn, "the succeeded one");
    const running = await client.send(
      new ListDurableExecutionsByFunctionCommand({ FunctionName: "sdk-flow", Statuses: ["RUNNING"], MaxItems: 1 }),
    );
    assert(running.DurableExecutions.length === 1 && running.NextMarker, "paged running executions");
  });

  await check("StopDurableExecution", async () => {
    const out = await client.send(
      new StopDurableExecutionCommand({
        DurableExecutionArn: ready.stopArn,
        Error: { ErrorType: "Operator", ErrorMessage: "stopped by the SDK test" },
      }),
    );
    assert(out.StopTimestamp instanceof Date, "StopTimestamp is a Date");
    const got = await client.send(new GetDurableExecutionCommand({ DurableExecutionArn: ready.stopArn }));
    assert(got.Status === "STOPPED", `status ${got.Status}`);
  });

  await check("a completed callback gives CallbackTimeoutException", async () => {
    try {
      await client.send(
        new SendDurableExecutionCallbackSuccessCommand({ CallbackId: ready.callbackId, Result: new Uint8Array([49]) }),
      );
      throw new Error("no error");
    } catch (e) {
      assert(e instanceof CallbackTimeoutException, `got ${e.name}: ${e.message}`);
      assert(e.$metadata.httpStatusCode === 400, `status ${e.$metadata.httpStatusCode}`);
      assert(e.message.length > 0, "a message");
    }
  });

  await check("an unknown execution gives ResourceNotFoundException", async () => {
    try {
      await client.send(new GetDurableExecutionCommand({ DurableExecutionArn: ready.arn.replace(/.$/, "0") + "0" }));
      throw new Error("no error");
    } catch (e) {
      assert(e instanceof ResourceNotFoundException, `got ${e.name}: ${e.message}`);
      assert(e.$metadata.httpStatusCode === 404, `status ${e.$metadata.httpStatusCode}`);
    }
  });

  // The AWS CLI, when it has the durable commands.
  const help = spawnSync("aws", ["lambda", "help"], { encoding: "utf8", env: { ...process.env, PAGER: "cat" } });
  if (help.error || !String(help.stdout).includes("send-durable-execution-callback-success")) {
    console.log("SKIP: the aws CLI is missing or has no 'lambda send-durable-execution-callback-success'");
  } else {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: "AKIDLOCAL",
      AWS_SECRET_ACCESS_KEY: "local-secret",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_PAGER: "",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    };
    const cli = (args) => spawnSync("aws", ["lambda", ...args, "--endpoint-url", endpoint], { encoding: "utf8", env });
    await check("aws lambda send-durable-execution-callback-success", async () => {
      const r = cli(["send-durable-execution-callback-success", "--callback-id", ready.cliCallbackId, "--result", '"from-cli"']);
      assert(r.status === 0, `exit ${r.status}: ${r.stderr}`);
      const again = cli(["send-durable-execution-callback-success", "--callback-id", ready.cliCallbackId, "--result", "1"]);
      assert(again.status !== 0 && again.stderr.includes("CallbackTimeoutException"), `second call: ${again.stderr}`);
    });
  }
} finally {
  server.stdin.end();
  const code = await new Promise((r) => server.once("exit", (c, signal) => r(signal ?? c)));
  if (code === 0) {
    passed++;
    console.log("ok - the server shut down cleanly");
  } else {
    failed++;
    console.log(`not ok - the server exited with ${code}`);
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

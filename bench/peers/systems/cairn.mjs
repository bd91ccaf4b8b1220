// cairn, driven as a client drives it: `cairn serve` (started by run.mjs)
// runs the workflows of bench/peers/workflows/; executions are started with
// cairn's start endpoint with `wait` (the reply comes once the execution has
// ended, with its Status and Result), and a callback's execution is awaited
// with GetDurableExecution and `wait`. Neither side polls.

import { expectOk, httpJson, nowMs, sleep } from "../lib/common.mjs";

const API = "/2025-12-01";
// Seconds a request may wait for the end (the service's maximum).
const WAIT_S = 300;

export async function create(config) {
  const base = config.endpoint;

  function check(arn, ex) {
    if (ex.Status === "SUCCEEDED") return ex;
    throw new Error(`execution ${arn} ended ${ex.Status}: ${JSON.stringify(ex.Error ?? null)}`);
  }

  async function waitDone(arn) {
    const url = `${base}${API}/durable-executions/${encodeURIComponent(arn)}?wait=${WAIT_S}`;
    for (;;) {
      const ex = await expectOk(httpJson("GET", url), "GetDurableExecution");
      if (ex.Status !== "RUNNING") return check(arn, ex);
    }
  }

  // Starts `workflow` and returns once its execution has ended.
  async function run(workflow, input = {}) {
    const ex = await expectOk(
      httpJson("POST", `${base}/cairn/v1/workflows/${workflow}/executions?wait=${WAIT_S}`, { Input: input }),
      `start ${workflow}`,
    );
    if (ex.Status === "RUNNING") return waitDone(ex.DurableExecutionArn);
    return check(ex.DurableExecutionArn, ex);
  }

  async function start(workflow, input = {}) {
    const body = await expectOk(
      httpJson("POST", `${base}/cairn/v1/workflows/${workflow}/executions`, { Input: input }),
      `start ${workflow}`,
    );
    return body.DurableExecutionArn;
  }

  async function callbackId(arn) {
    const url = `${base}${API}/durable-executions/${encodeURIComponent(arn)}/history`;
    for (;;) {
      const h = await expectOk(httpJson("GET", url), "GetDurableExecutionHistory");
      const ev = (h.Events ?? []).find((e) => e.EventType === "CallbackStarted");
      if (ev) return ev.CallbackStartedDetails.CallbackId;
      await sleep(1);
    }
  }

  return {
    async steps(n) {
      const t0 = nowMs();
      await run(`steps-${n}`);
      return nowMs() - t0;
    },
    async threeSteps() {
      const t0 = nowMs();
      await run("three-steps");
      return nowMs() - t0;
    },
    async callback(settleMs) {
      const arn = await start("callback");
      const id = await callbackId(arn);
      await sleep(settleMs);
      const t0 = nowMs();
      await expectOk(
        httpJson("POST", `${base}${API}/durable-execution-callbacks/${encodeURIComponent(id)}/succeed`, { ok: true }),
        "SendDurableExecutionCallbackSuccess",
      );
      await waitDone(arn);
      return nowMs() - t0;
    },
    async close() {},
  };
}

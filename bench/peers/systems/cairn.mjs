// cairn, driven as a client drives it: `cairn serve` (started by run.mjs)
// runs the workflows of bench/peers/workflows/; executions are started with
// cairn's start endpoint and their completion is read with
// GetDurableExecution. cairn has no blocking "wait for the result" call, so
// the client polls; the poll interval is part of what the table reports.

import { expectOk, httpJson, nowMs, sleep } from "../lib/common.mjs";

const API = "/2025-12-01";

export async function create(config) {
  const base = config.endpoint;
  const pollMs = config.pollMs ?? 0;

  async function start(workflow, input = {}) {
    const body = await expectOk(
      httpJson("POST", `${base}/cairn/v1/workflows/${workflow}/executions`, { Input: input }),
      `start ${workflow}`,
    );
    return body.DurableExecutionArn;
  }

  async function waitDone(arn) {
    const url = `${base}${API}/durable-executions/${encodeURIComponent(arn)}`;
    for (;;) {
      const ex = await expectOk(httpJson("GET", url), "GetDurableExecution");
      if (ex.Status === "SUCCEEDED") return ex;
      if (ex.Status !== "RUNNING") {
        throw new Error(`execution ${arn} ended ${ex.Status}: ${JSON.stringify(ex.Error ?? null)}`);
      }
      if (pollMs > 0) await sleep(pollMs);
      else await new Promise((resolve) => setImmediate(resolve));
    }
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
      await waitDone(await start(`steps-${n}`));
      return nowMs() - t0;
    },
    async threeSteps() {
      const t0 = nowMs();
      await waitDone(await start("three-steps"));
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

// Restate: the restate-server binary of @restatedev/restate-server (started
// by run.mjs, default configuration: its log and state stores fsync their
// write-ahead logs) and a service endpoint of @restatedev/restate-sdk served
// from this process. Executions are started through the ingress with a
// request that returns when the handler has finished. Each ctx.run result
// is journaled by the server before the handler continues.
// The callback is a workflow's durable promise, resolved by an external
// request to the workflow's shared handler.

import { expectOk, httpJson, installPolyfills, nowMs, sleep } from "../lib/common.mjs";

export async function create(config) {
  installPolyfills();
  const restate = await import("@restatedev/restate-sdk");

  const plusOne = async (x) => x + 1;
  const bench = restate.service({
    name: "bench",
    handlers: {
      steps: async (ctx, n) => {
        let x = 0;
        for (let i = 0; i < n; i++) x = await ctx.run(`s${i}`, () => plusOne(x));
        return x;
      },
      threeSteps: async (ctx) => {
        const one = await ctx.run("one", () => plusOne(0));
        const two = await ctx.run("two", () => plusOne(one));
        return await ctx.run("three", () => plusOne(two));
      },
    },
  });
  const callback = restate.workflow({
    name: "callback",
    handlers: {
      run: async (ctx) => await ctx.promise("answer").get(),
      complete: async (ctx, value) => {
        await ctx.promise("answer").resolve(value);
      },
    },
  });

  const port = await restate.serve({ services: [bench, callback], port: config.endpointPort });
  await expectOk(
    httpJson("POST", `${config.admin}/deployments`, { uri: `http://127.0.0.1:${port}`, force: true }),
    "register the deployment",
  );
  const ingress = config.ingress;
  let key = 0;

  async function call(path, body, method = "POST") {
    return expectOk(httpJson(method, `${ingress}${path}`, body), path);
  }

  return {
    async steps(n) {
      const t0 = nowMs();
      const r = await call("/bench/steps", n);
      if (r !== n) throw new Error(`steps returned ${JSON.stringify(r)}`);
      return nowMs() - t0;
    },
    async threeSteps() {
      const t0 = nowMs();
      const r = await call("/bench/threeSteps", null);
      if (r !== 3) throw new Error(`threeSteps returned ${JSON.stringify(r)}`);
      return nowMs() - t0;
    },
    async callback(settleMs) {
      const k = `k${process.pid}-${key++}`;
      await call(`/callback/${k}/run/send`, null);
      await sleep(settleMs);
      // Attach first: its answer is the execution's completion.
      const done = call(`/restate/workflow/callback/${k}/attach`, undefined, "GET");
      const t0 = nowMs();
      await call(`/callback/${k}/complete`, { ok: true });
      const r = await done;
      if (!r || r.ok !== true) throw new Error(`callback workflow returned ${JSON.stringify(r)}`);
      return nowMs() - t0;
    },
    async close() {},
  };
}

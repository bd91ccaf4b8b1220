// AWS's durable execution SDK for JavaScript (@aws/durable-execution-sdk-js)
// under its local test runner (@aws/durable-execution-sdk-js-testing): the
// runner's checkpoint service runs in a worker thread of this process and
// keeps everything in memory (no disk, no durability), so its row is a
// reference for the SDK's own per-step cost, not a durable peer.
//
// Times end when the durable handler returns its result (the completion is
// recorded by the runner right after): runner.run() itself resolves only
// after a fixed 100 ms pause the runner adds when an execution ends (its
// checkpoint-polling shutdown), which would say nothing about the SDK.

import { installPolyfills, nowMs, sleep } from "../lib/common.mjs";

export async function create() {
  installPolyfills();
  const { withDurableExecution } = await import("@aws/durable-execution-sdk-js");
  const testing = await import("@aws/durable-execution-sdk-js-testing");
  const { LocalDurableTestRunner, WaitingOperationStatus } = testing;
  // Real time: with skipTime the runner installs fake timers, which would
  // also fake the clock that this benchmark reads.
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: false });

  // When each execution's handler last returned, by the id in its payload.
  const finishedAt = new Map();
  let nextId = 0;
  const finished = (event, value) => {
    finishedAt.set(event.id, nowMs());
    return value;
  };
  const plusOne = async (x) => x + 1;

  const stepsHandler = withDurableExecution(async (event, ctx) => {
    let x = 0;
    for (let i = 0; i < event.n; i++) x = await ctx.step(`s${i}`, () => plusOne(x));
    return finished(event, x);
  });
  const threeHandler = withDurableExecution(async (event, ctx) => {
    const one = await ctx.step("one", () => plusOne(0));
    const two = await ctx.step("two", () => plusOne(one));
    return finished(event, await ctx.step("three", () => plusOne(two)));
  });
  const callbackHandler = withDurableExecution(async (event, ctx) => {
    const [answer] = await ctx.createCallback("answer");
    return finished(event, await answer);
  });

  async function run(handler, payload, check) {
    const id = nextId++;
    const runner = new LocalDurableTestRunner({ handlerFunction: handler });
    const t0 = nowMs();
    const ex = await runner.run({ payload: { ...payload, id } });
    if (ex.getStatus() !== "SUCCEEDED") throw new Error(`execution ended ${ex.getStatus()}: ${JSON.stringify(ex.getError())}`);
    check?.(ex.getResult());
    const t1 = finishedAt.get(id);
    finishedAt.delete(id);
    return t1 - t0;
  }

  return {
    async steps(n) {
      return run(stepsHandler, { n }, (r) => {
        if (r !== n) throw new Error(`steps returned ${r}`);
      });
    },
    async threeSteps() {
      return run(threeHandler, {}, (r) => {
        if (r !== 3) throw new Error(`threeSteps returned ${r}`);
      });
    },
    async callback(settleMs) {
      const id = nextId++;
      const runner = new LocalDurableTestRunner({ handlerFunction: callbackHandler });
      const answer = runner.getOperation("answer");
      const running = runner.run({ payload: { id } });
      await answer.waitForData(WaitingOperationStatus.STARTED);
      await sleep(settleMs);
      const t0 = nowMs();
      await answer.sendCallbackSuccess(JSON.stringify({ ok: true }));
      const ex = await running;
      if (ex.getStatus() !== "SUCCEEDED") throw new Error(`callback execution ended ${ex.getStatus()}`);
      const t1 = finishedAt.get(id);
      finishedAt.delete(id);
      return t1 - t0;
    },
    async close() {
      await LocalDurableTestRunner.teardownTestEnvironment();
    },
  };
}

// DBOS Transact (@dbos-inc/dbos-sdk) on the private PostgreSQL that run.mjs
// started. DBOS is a library: workflows run in this process, started with
// DBOS.startWorkflow and awaited with handle.getResult() (which resolves
// in-process, no polling). Every step's output is written to PostgreSQL
// (synchronous_commit=on, fsync=on: the defaults) before the next step runs.
// The callback is DBOS's messaging: the workflow waits in DBOS.recv and an
// external DBOSClient sends the message.

import { nowMs, sleep } from "../lib/common.mjs";

export async function create(config) {
  const { DBOS, DBOSClient } = await import("@dbos-inc/dbos-sdk");
  DBOS.setConfig({
    name: "cairn-bench",
    systemDatabaseUrl: config.databaseUrl,
    logLevel: "error",
  });

  const plusOne = async (x) => x + 1;
  const stepsWorkflow = DBOS.registerWorkflow(
    async (n) => {
      let x = 0;
      for (let i = 0; i < n; i++) x = await DBOS.runStep(() => plusOne(x), { name: `s${i}` });
      return x;
    },
    { name: "steps" },
  );
  const threeSteps = DBOS.registerWorkflow(
    async () => {
      const one = await DBOS.runStep(() => plusOne(0), { name: "one" });
      const two = await DBOS.runStep(() => plusOne(one), { name: "two" });
      return await DBOS.runStep(() => plusOne(two), { name: "three" });
    },
    { name: "threeSteps" },
  );
  const callbackWorkflow = DBOS.registerWorkflow(async () => await DBOS.recv("callback", 300), {
    name: "callback",
  });

  await DBOS.launch();
  const client = await DBOSClient.create({ systemDatabaseUrl: config.databaseUrl });

  return {
    async steps(n) {
      const t0 = nowMs();
      const handle = await DBOS.startWorkflow(stepsWorkflow)(n);
      const r = await handle.getResult();
      if (r !== n) throw new Error(`steps workflow returned ${r}`);
      return nowMs() - t0;
    },
    async threeSteps() {
      const t0 = nowMs();
      const handle = await DBOS.startWorkflow(threeSteps)();
      if ((await handle.getResult()) !== 3) throw new Error("threeSteps returned a wrong value");
      return nowMs() - t0;
    },
    async callback(settleMs) {
      const handle = await DBOS.startWorkflow(callbackWorkflow)();
      const done = handle.getResult();
      await sleep(settleMs);
      const t0 = nowMs();
      await client.send(handle.workflowID, { ok: true }, "callback");
      const r = await done;
      if (!r || r.ok !== true) throw new Error(`callback workflow returned ${JSON.stringify(r)}`);
      return nowMs() - t0;
    },
    async close() {
      await client.destroy();
      await DBOS.shutdown();
    },
  };
}

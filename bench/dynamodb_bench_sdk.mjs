// The reference side of bench/dynamodb_bench: sequential PutItem round trips
// with the official AWS SDK for JavaScript v3 (@aws-sdk/client-dynamodb,
// installed in tests/aws_e2e), against the same dynalite, table and item
// shape as cairn's side. Prints one JSON line:
//   {"n": N, "seconds": S, "perSecond": R, "p50Ms": ..., "p99Ms": ...}
// Usage: node dynamodb_bench_sdk.mjs SDK_DIR ENDPOINT TABLE N
import { createRequire } from "node:module";
import { join } from "node:path";

const [sdkDir, endpoint, table, nText] = process.argv.slice(2);
const require = createRequire(join(sdkDir, "package.json"));
const { DynamoDBClient, PutItemCommand } = require("@aws-sdk/client-dynamodb");

const n = Number(nText);
const client = new DynamoDBClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDCAIRNBENCH", secretAccessKey: "cairn-bench-secret" },
  maxAttempts: 1,  // the SDK's Node handler keeps connections alive, as cairn's CurlHttpClient does
});

const put = (i) => client.send(new PutItemCommand({
  TableName: table,
  Item: {
    pk: { S: `sdk-${i % 1000}` },
    status: { S: "RUNNING" },
    attempt: { N: String(i) },
    message: { S: "hello from the benchmark" },
  },
}));

for (let i = 0; i < 100; i++) await put(i);  // warm-up: connection, JIT
const latencies = [];
const start = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const t0 = process.hrtime.bigint();
  await put(i);
  latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
latencies.sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
console.log(JSON.stringify({ n, seconds, perSecond: n / seconds, p50Ms: at(0.5), p99Ms: at(0.99) }));

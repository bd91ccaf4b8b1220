// The reference side of bench/sigv4_bench: SigV4 signing of a DynamoDB
// PutItem-shaped request with the signer the AWS SDK for JavaScript v3 uses
// in Node, resolved from the @aws-sdk/client-dynamodb installed in SDK_DIR
// (tests/aws_e2e): `SignatureV4` from @smithy/signature-v4 (what
// @aws-sdk/core's resolveAwsSdkSigV4Config constructs), with the client's
// node `sha256` (@smithy/core/checksum's Sha256: node:crypto createHash /
// createHmac). The request is the one sigv4_bench.cc signs: same host,
// headers, body bytes, credentials (with a session token), date, region and
// service.
//
// Usage: node sigv4_bench_sdk.mjs SDK_DIR REPETITIONS BODY_BYTES:N...
// Prints one JSON line:
//   {"sdkVersion": "...", "sizes": [{"bodyBytes": B, "nsPerRequest": NS,
//     "cpuNsPerRequest": NS, "authorization": "..."}, ...]}
// nsPerRequest is the best (lowest) over REPETITIONS runs of (wall time of
// N awaited `signer.sign` calls, one after the other) / N, after a warm-up
// of max(N, 5000) calls; cpuNsPerRequest the same with the process's CPU
// time (user + system, all its threads: the garbage collector's too).
// `authorization` is the header signed for the fixed date, for the caller's
// equality check (fixed example credentials, never real ones). Exit 3: the
// SDK could not be resolved.
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [sdkDir, repetitionsText, ...sizeTexts] = process.argv.slice(2);
const repetitions = Number(repetitionsText);
const sizes = sizeTexts.map((text) => text.split(":").map(Number));

let SignatureV4, Sha256, HttpRequest, sdkVersion;
try {
  // Resolve each package as the client itself does, so the versions are the
  // ones a DynamoDBClient in SDK_DIR would sign with.
  const fromSdkDir = createRequire(join(resolve(sdkDir), "package.json"));
  const clientEntry = fromSdkDir.resolve("@aws-sdk/client-dynamodb");
  const fromClient = createRequire(clientEntry);
  sdkVersion = fromClient("@aws-sdk/client-dynamodb/package.json").version;
  ({ Sha256 } = fromClient("@smithy/core/checksum"));
  ({ HttpRequest } = fromClient("@smithy/core/protocols"));
  const fromCore = createRequire(fromClient.resolve("@aws-sdk/core/httpAuthSchemes"));
  ({ SignatureV4 } = fromCore("@smithy/signature-v4"));
} catch (e) {
  console.error(`cannot load the SDK's signer from ${sdkDir}: ${e.message.split("\n")[0]}`);
  process.exit(3);
}

// Example credentials of the AWS SigV4 test suite, as in sigv4_bench.cc.
const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "session-token",
};
const signingDate = new Date(1_764_000_000 * 1000);
// applyChecksum: false — a DynamoDBClient leaves it on and so also signs an
// X-Amz-Content-Sha256 header (the payload hash it computes anyway); off,
// both signers sign the same header set and must agree byte for byte.
const signer = new SignatureV4({
  credentials,
  region: "us-east-1",
  service: "dynamodb",
  sha256: Sha256,
  uriEscapePath: true,
  applyChecksum: false,
});

const putItemRequest = (bodyBytes) => new HttpRequest({
  method: "POST",
  protocol: "https:",
  hostname: "dynamodb.us-east-1.amazonaws.com",
  path: "/",
  headers: {
    host: "dynamodb.us-east-1.amazonaws.com",
    "content-type": "application/x-amz-json-1.0",
    "x-amz-target": "DynamoDB_20120810.PutItem",
  },
  body: '{"TableName":"records","Item":{"pk":{"S":"order-1"},"v":{"S":"' +
    "x".repeat(Math.max(0, bodyBytes - 60)) + '"}}}',
});

const options = { signingDate, signingRegion: "us-east-1", signingService: "dynamodb" };
const results = [];
for (const [bodyBytes, n] of sizes) {
  const request = putItemRequest(bodyBytes);
  const authorization = (await signer.sign(request, options)).headers.authorization;
  for (let i = 0; i < Math.max(n, 5000); i++) await signer.sign(request, options);  // JIT tiers
  const wall = [];
  const cpu = [];
  for (let r = 0; r < repetitions; r++) {
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < n; i++) await signer.sign(request, options);
    const cpuUsed = process.cpuUsage(cpuStart);
    wall.push(Number(process.hrtime.bigint() - start) / n);
    cpu.push((cpuUsed.user + cpuUsed.system) * 1000 / n);
  }
  results.push({ bodyBytes, nsPerRequest: Math.min(...wall), cpuNsPerRequest: Math.min(...cpu),
                 authorization });
}
console.log(JSON.stringify({ sdkVersion, sizes: results }));

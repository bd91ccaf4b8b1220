// Helpers shared by the driver (run.mjs) and the per-system workers.

import http from "node:http";

// @restatedev/restate-sdk and the AWS durable SDKs call Promise.withResolvers,
// which Node 20 does not have (Node 22 does).
export function installPolyfills() {
  if (!Promise.withResolvers) {
    Promise.withResolvers = function withResolvers() {
      let resolve;
      let reject;
      const promise = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    };
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Milliseconds from a monotonic clock, with sub-millisecond resolution.
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

export const median = (values) => quantile(values, 0.5);

// One keep-alive connection pool per process: requests are what a client
// with a persistent HTTP connection pays, not TCP connects.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// A JSON request over HTTP/1.1; resolves {status, body (parsed or text)}.
export function httpJson(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          ...(data === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(data) }),
          ...headers,
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed = text;
          try {
            parsed = text.length ? JSON.parse(text) : null;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export async function expectOk(promise, what) {
  const r = await promise;
  if (r.status < 200 || r.status >= 300) {
    throw new Error(`${what}: HTTP ${r.status}: ${typeof r.body === "string" ? r.body : JSON.stringify(r.body)}`);
  }
  return r.body;
}

// Runs `once()` up to `runs` times, but stops repeating once `budgetMs` has
// been spent (after at least `minRuns`). Returns the values `once` returned.
export async function repeat({ runs, minRuns = 1, budgetMs }, once) {
  const values = [];
  const t0 = nowMs();
  for (let i = 0; i < runs; i++) {
    if (i >= minRuns && nowMs() - t0 > budgetMs) break;
    values.push(await once(i, t0 + budgetMs));
  }
  return values;
}

// Progress lines go to stderr so that stdout carries only the result.
export function progress(...args) {
  process.stderr.write(`  ${args.join(" ")}\n`);
}

// Helpers shared by the driver (run.mjs) and the per-system workers.

import net from "node:net";

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

// The HTTP client of every system driven over HTTP (cairn, Restate's
// ingress): HTTP/1.1 over keep-alive TCP connections, one request at a time
// per connection, written as one string and parsed from the bytes. Node's
// http client spent ~0.3 ms of CPU per request on this machine, as much as
// cairn's server spent on a whole execution, and under 16 clients that CPU
// was taken from the system being measured; this one spends a fraction of
// it. What a system is asked and answers is the same.
class Connection {
  constructor(host, port) {
    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once("connect", resolve);
      this.socket.once("error", reject);
    });
    this.reused = false;
    this.closed = false;
    this.pending = null; // {resolve, reject, chunks, received}
    this.socket.on("data", (chunk) => this.onData(chunk));
    this.socket.on("error", (e) => this.fail(e));
    this.socket.on("close", () => this.fail(new Error("the server closed the connection")));
  }

  fail(e) {
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    if (p) p.reject(Object.assign(e, { received: p.received }));
  }

  // Resolves {status, body (text), keepAlive}.
  request(head, body) {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, buf: Buffer.alloc(0), received: 0 };
      this.socket.write(body === undefined ? head : head + body);
    });
  }

  onData(chunk) {
    const p = this.pending;
    if (!p) return; // nothing asked: ignored (and the connection is closed below)
    p.received += chunk.length;
    p.buf = p.buf.length ? Buffer.concat([p.buf, chunk]) : chunk;
    const parsed = parseResponse(p.buf);
    if (!parsed) return;
    if (parsed.error) {
      this.pending = null;
      this.socket.destroy();
      p.reject(new Error(parsed.error));
      return;
    }
    this.pending = null;
    p.resolve(parsed);
  }
}

// Parses one complete response in `buf`: null when more bytes are needed.
function parseResponse(buf) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = buf.toString("latin1", 0, end).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return { error: `not an HTTP response: ${JSON.stringify(lines[0])}` };
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const status = Number(m[1]);
  const keepAlive = !/close/i.test(headers.connection ?? "") && /^HTTP\/1\.1/.test(lines[0]);
  let at = end + 4;
  let body;
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const parts = [];
    for (;;) {
      const eol = buf.indexOf("\r\n", at);
      if (eol < 0) return null;
      const size = parseInt(buf.toString("latin1", at, eol), 16);
      if (Number.isNaN(size)) return { error: "a malformed chunk size" };
      if (buf.length < eol + 2 + size + 2) return null;
      if (size === 0) break; // no trailers are sent by the systems measured
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers["content-length"] !== undefined) {
    const n = Number(headers["content-length"]);
    if (buf.length < at + n) return null;
    body = buf.subarray(at, at + n);
  } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    body = Buffer.alloc(0);
  } else {
    return { error: "a response without a length (read to the end of the connection) is not supported" };
  }
  return { status, text: body.toString("utf8"), keepAlive };
}

const idle = new Map(); // "host:port" -> [Connection]

async function roundTrip(url, method, data, headers) {
  const u = new URL(url);
  if (u.protocol !== "http:") throw new Error(`only http: URLs are supported: ${url}`);
  const origin = `${u.hostname}:${u.port || 80}`;
  let head = `${method} ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n`;
  if (data !== undefined) {
    head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(data)}\r\n`;
  }
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += "\r\n";
  for (let attempt = 0; ; attempt++) {
    const pool = idle.get(origin);
    let conn = pool?.pop();
    while (conn && conn.closed) conn = pool.pop();
    if (!conn) {
      const host = u.hostname.replace(/^\[|\]$/g, "");
      conn = new Connection(host, Number(u.port || 80));
      await conn.connected;
    }
    try {
      const r = await conn.request(head, data);
      if (r.keepAlive && !conn.closed) {
        conn.reused = true;
        if (!idle.has(origin)) idle.set(origin, []);
        idle.get(origin).push(conn);
      } else {
        conn.socket.destroy();
      }
      return r;
    } catch (e) {
      // A kept-alive connection the server had closed before it read the
      // request (nothing came back): sent again once on a new connection.
      if (conn.reused && e.received === 0 && attempt === 0) continue;
      throw e;
    }
  }
}

// A JSON request over HTTP/1.1; resolves {status, body (parsed or text)}.
export async function httpJson(method, url, body, headers = {}) {
  const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const r = await roundTrip(url, method, data, headers);
  let parsed = r.text;
  try {
    parsed = r.text.length ? JSON.parse(r.text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: r.status, body: parsed };
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

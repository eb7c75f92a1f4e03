"use strict";
/**
 * The sample app: one plain Node HTTP process on 127.0.0.1:$PORT, behind the server's nginx.
 * Several of these run per server (systemd units app@<port>); nginx spreads requests over them.
 *
 *   GET /         who answered: version, port, pid, host, environment
 *   GET /healthz  200 while this process can serve (the ALB checks nginx's /healthz, which asks us)
 *   GET /work     a CPU-bound request (hashing), for load tests and benchmarks
 *   POST /echo    a write-like request (answers with the bytes received), for deploy tests
 *
 * SIGTERM drains (see `drain` below): stop accepting, answer what arrives on open connections,
 * then close them and exit; nginx retries the next process for anything that could not reach this one.
 */
const http = require("node:http");
const net = require("node:net");
const os = require("node:os");
const crypto = require("node:crypto");
const { version } = require("./package.json");

const port = Number(process.env.PORT || 8001);
const host = process.env.HOST || "127.0.0.1";
const environment = process.env.APP_ENVIRONMENT || "local";
const workIterations = Number(process.env.APP_WORK_ITERATIONS || 20000);
const drainSeconds = Number(process.env.APP_DRAIN_SECONDS || 20);
const idleGraceMs = Number(process.env.APP_IDLE_GRACE_MS || 1000);
const startedAt = new Date().toISOString();

function send(res, status, body) {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

let draining = false;

const server = http.createServer((req, res) => {
  // Draining: answer, then close the connection, so nginx does not reuse it (see `drain`).
  if (draining) res.setHeader("connection", "close");
  const url = new URL(req.url, "http://app");
  if (req.method === "POST" && url.pathname === "/echo") {
    // A write-like request: nginx never retries it on another process once it was sent.
    let bytes = 0;
    req.on("data", (chunk) => (bytes += chunk.length));
    req.on("end", () => send(res, 200, { version, port, received: bytes }));
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    return send(res, 405, { error: "method not allowed" });
  }
  switch (url.pathname) {
    case "/healthz":
      return send(res, 200, { status: "ok", version, port });
    case "/":
      return send(res, 200, {
        app: "sample-app",
        version,
        environment,
        host: os.hostname(),
        port,
        pid: process.pid,
        startedAt,
      });
    case "/work": {
      const digest = crypto.pbkdf2Sync(url.searchParams.get("input") || "work", "salt", workIterations, 32, "sha256");
      return send(res, 200, { version, port, digest: digest.toString("hex").slice(0, 16) });
    }
    default:
      return send(res, 404, { error: "not found", path: url.pathname });
  }
});

// Longer than nginx's upstream keepalive_timeout (60 s): nginx closes idle connections first, so it
// never sends a request on a connection this process is closing.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.listen(port, host, () => {
  console.log(`sample-app ${version} listening on ${host}:${port} (pid ${process.pid})`);
});

// Draining, in three steps, so that no request nginx has already sent is cut off:
// 1. stop listening (nginx's new connections are refused and retried on another process), but
//    keep the open keep-alive connections: a request nginx sends on one is still answered, with
//    `Connection: close`, so nginx drops that connection afterwards;
// 2. after a grace period in which a busy nginx has used (and so dropped) every connection, close
//    the ones still idle;
// 3. exit once every connection has closed, or after APP_DRAIN_SECONDS at the latest.
// (http.Server#close would also close idle connections at once, racing a request nginx is sending
// on one; net.Server#close only stops listening.)

function drain(signal) {
  if (draining) return;
  draining = true;
  console.log(`sample-app ${version} on port ${port}: ${signal}, draining`);
  net.Server.prototype.close.call(server, () => process.exit(0));
  setTimeout(() => server.closeIdleConnections(), idleGraceMs).unref();
  setTimeout(() => {
    console.log(`sample-app ${version} on port ${port}: drain timed out after ${drainSeconds}s`);
    process.exit(1);
  }, drainSeconds * 1000).unref();
}
process.on("SIGTERM", () => drain("SIGTERM"));
process.on("SIGINT", () => drain("SIGINT"));

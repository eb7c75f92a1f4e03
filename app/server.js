"use strict";
/**
 * The sample app: one plain Node HTTP process on 127.0.0.1:$PORT, behind the server's nginx.
 * Several of these run per server (systemd units app@<port>); nginx spreads requests over them.
 *
 *   GET /         who answered: version, port, pid, host, environment
 *   GET /healthz  200 while this process can serve (the ALB checks nginx's /healthz, which asks us)
 *   GET /work     a CPU-bound request (hashing), for load tests and benchmarks
 *
 * SIGTERM drains: stop accepting, finish requests in flight, close idle keep-alive connections,
 * exit; nginx retries the next process for anything that could not reach this one.
 */
const http = require("node:http");
const os = require("node:os");
const crypto = require("node:crypto");
const { version } = require("./package.json");

const port = Number(process.env.PORT || 8001);
const host = process.env.HOST || "127.0.0.1";
const environment = process.env.APP_ENVIRONMENT || "local";
const workIterations = Number(process.env.APP_WORK_ITERATIONS || 20000);
const drainSeconds = Number(process.env.APP_DRAIN_SECONDS || 20);
const startedAt = new Date().toISOString();

function send(res, status, body) {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://app");
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

function drain(signal) {
  console.log(`sample-app ${version} on port ${port}: ${signal}, draining`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => {
    console.log(`sample-app ${version} on port ${port}: drain timed out after ${drainSeconds}s`);
    process.exit(1);
  }, drainSeconds * 1000).unref();
}
process.on("SIGTERM", () => drain("SIGTERM"));
process.on("SIGINT", () => drain("SIGINT"));

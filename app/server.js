"use strict";
/**
 * The sample app: one plain Node HTTP process on 127.0.0.1:$PORT, behind the server's nginx.
 * Several of these run per server (systemd units app@<port>); nginx spreads requests over them.
 *
 *   GET /         who answered: version, port, pid, host, environment
 *   GET /healthz  200 while this process can serve (the ALB checks nginx's /healthz, which asks us),
 *                 with the database's reachability reported beside it, never failing it
 *   GET /healthz/db  200 when the database answers, 500 when it does not, 503 when the check waited
 *                    behind a pool whose every connection is taken ("saturated": this process is at
 *                    its pool's limit; the database behind may be slow, or answering other sessions)
 *   GET /work     a CPU-bound request (hashing), for load tests and benchmarks
 *   POST /echo    a write-like request (answers with the bytes received), for deploy tests
 *   POST /files   stores the body as a file in the app's state directory (see `stateDir`)
 *   POST /notes   stores a note (the request body) in the database; GET /notes/<id> reads it back,
 *   GET /notes    the newest ones and how many there are (see db.js for how the app finds the
 *                 database, migrate.js for how its schema gets there)
 *
 * SIGTERM drains (see `drain` below): stop accepting, answer what arrives on open connections,
 * then close them and exit; nginx retries the next process for anything that could not reach this one.
 */
const http = require("node:http");
const net = require("node:net");
const os = require("node:os");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { version } = require("./package.json");
const { Database, settingsFromEnv } = require("./db");

const port = Number(process.env.PORT || 8001);
const host = process.env.HOST || "127.0.0.1";
const environment = process.env.APP_ENVIRONMENT || "local";
const workIterations = Number(process.env.APP_WORK_ITERATIONS || 20000);
const drainSeconds = Number(process.env.APP_DRAIN_SECONDS || 20);
const idleGraceMs = Number(process.env.APP_IDLE_GRACE_MS || 1000);
// POST /echo, POST /files and GET /work exist for the drills and load tests (APP_DRILL_ENDPOINTS=1):
// on a server they would let anyone fill its disk or burn its CPU, so they answer 404 there.
const drillEndpoints = process.env.APP_DRILL_ENDPOINTS === "1";
const startedAt = new Date().toISOString();
// The one place the app may write: the unit's StateDirectory (systemd sets STATE_DIRECTORY; the
// rest of the system is read-only to the app). Run by hand, a folder beside the app.
const stateDir = process.env.STATE_DIRECTORY || path.join(__dirname, "state");

let stopping = false; // SIGTERM received: /healthz answers 503
let draining = false; // no longer listening: every answer closes its connection

function send(res, status, body) {
  const text = JSON.stringify(body) + "\n";
  const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(text) };
  // Draining: answer, then close the connection, so nginx does not reuse it (see `drain`).
  if (draining) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(text);
}

function storeFile(req, res) {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const dir = path.join(stateDir, "files");
    const name = `${Date.now()}-${crypto.randomBytes(4).toString("hex")}`;
    const body = Buffer.concat(chunks);
    fs.promises
      .mkdir(dir, { recursive: true })
      .then(() => fs.promises.writeFile(path.join(dir, name), body))
      .then(
        () => send(res, 201, { version, port, stored: name, bytes: body.length }),
        (error) => send(res, 500, { error: `cannot write to ${dir}: ${error.code || error.message}` }),
      );
  });
}
// ---- The database (optional: without DB_ENGINE the app serves everything but /notes) ----

const database = openDatabase();

function openDatabase() {
  const settings = settingsFromEnv();
  if (!settings) return undefined;
  const db = new Database(settings, (line) => console.log(`sample-app on port ${port}: ${line}`));
  // Read the password now, so the first request does not wait for it; a failure is retried on use.
  db.ready().catch((error) => console.log(`sample-app on port ${port}: database not ready yet: ${error.message}`));
  return db;
}

/**
 * The database's reachability, asked at most once a second however often the health check comes,
 * and answered within a second: "ok", "unreachable", "saturated" or "not configured".
 */
let lastDatabaseCheck = { at: 0, status: Promise.resolve("not configured") };
function databaseStatus() {
  if (!database) return Promise.resolve("not configured");
  if (Date.now() - lastDatabaseCheck.at >= 1000) {
    lastDatabaseCheck = {
      at: Date.now(),
      status: database.ping(1000).then(
        () => "ok",
        () => (database.saturated() ? "saturated" : "unreachable"),
      ),
    };
  }
  return lastDatabaseCheck.status;
}

/** The largest note, in bytes: what a TEXT column holds on MySQL and MariaDB. */
const NOTE_BYTES = 65_535;

/** Reads a request body of at most `limit` bytes. */
function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let bytes = 0;
    req.on("data", (chunk) => {
      bytes += chunk.length;
      if (bytes > limit) reject(Object.assign(new Error("body too large"), { status: 413 }));
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * POST /notes, GET /notes, GET /notes/<id>: a row written and read back, through the database.
 * A database that cannot answer is a 500 (nginx passes the app's own answers through as they are,
 * and counts none against the process).
 */
async function notes(req, res, url) {
  if (!database) return send(res, 500, { error: "no database configured" });
  const sql = (postgres, mysql) => (database.dialect === "postgres" ? postgres : mysql);
  const id = /^\/notes\/(\d{1,18})$/.exec(url.pathname)?.[1];
  try {
    if (req.method === "POST" && url.pathname === "/notes") {
      // at most what a TEXT column holds on MySQL and MariaDB (65,535 bytes)
      const body = await readBody(req, NOTE_BYTES);
      if (body.trim() === "") return send(res, 400, { error: "a note needs a body" });
      // PostgreSQL's text holds no NUL: the client's mistake, not the database's trouble (a 500)
      if (body.includes("\u0000")) return send(res, 400, { error: "a note cannot hold a NUL character" });
      // as stored: each byte that is not UTF-8 was read as U+FFFD, 3 bytes
      if (Buffer.byteLength(body, "utf8") > NOTE_BYTES) return send(res, 413, { error: "body too large" });
      const rows = await database.query(
        sql("INSERT INTO notes (body) VALUES ($1) RETURNING id", "INSERT INTO notes (body) VALUES (?)"),
        [body],
      );
      return send(res, 201, { version, port, id: String(rows[0]?.id ?? rows.insertId), body });
    }
    if (req.method === "GET" && id) {
      const rows = await database.query(
        sql("SELECT id, body FROM notes WHERE id = $1", "SELECT id, body FROM notes WHERE id = ?"),
        [id],
      );
      if (rows.length === 0) return send(res, 404, { error: "no such note", id });
      return send(res, 200, { version, port, id: String(rows[0].id), body: rows[0].body });
    }
    if (req.method === "GET" && url.pathname === "/notes") {
      const [{ count }] = await database.query("SELECT COUNT(*) AS count FROM notes");
      const newest = await database.query("SELECT id, body FROM notes ORDER BY id DESC LIMIT 10");
      return send(res, 200, {
        version,
        port,
        count: Number(count),
        newest: newest.map((n) => ({ id: String(n.id), body: n.body })),
      });
    }
    return send(res, 405, { error: "method not allowed" });
  } catch (error) {
    if (error.status) return send(res, error.status, { error: error.message });
    console.log(`sample-app on port ${port}: ${req.method} ${url.pathname}: database error: ${error.message}`);
    return send(res, 500, { error: "database unavailable", version, port });
  }
}

// ---- HTTP ----

const server = http.createServer((req, res) => {
  // A target that is no path (`//host:99999`, read as a host and a bad port) is the client's
  // mistake: uncaught, it ended the process, and nginx, taking that for a failed process, sent the
  // same request to the next one, and the next
  let url;
  try {
    url = new URL(req.url, "http://app");
  } catch {
    return send(res, 400, { error: "bad request target" });
  }
  if (url.pathname === "/notes" || url.pathname.startsWith("/notes/")) return void notes(req, res, url);
  if (!drillEndpoints && ["/echo", "/files", "/work"].includes(url.pathname)) {
    return send(res, 404, { error: "not found", path: url.pathname });
  }
  if (req.method === "POST" && url.pathname === "/echo") {
    // A write-like request: nginx never retries it on another process once it was sent.
    let bytes = 0;
    req.on("data", (chunk) => (bytes += chunk.length));
    req.on("end", () => send(res, 200, { version, port, received: bytes }));
    return;
  }
  if (req.method === "POST" && url.pathname === "/files") return storeFile(req, res);
  if (req.method !== "GET" && req.method !== "HEAD") {
    return send(res, 405, { error: "method not allowed" });
  }
  switch (url.pathname) {
    case "/healthz":
      // 503 while stopping (nginx and the rotation stop sending here). Otherwise 200 whatever the
      // database says: a database blip must not make the load balancer take every healthy server
      // out of service (or the Auto Scaling group replace them); it is reported beside.
      if (stopping) return send(res, 503, { status: "stopping", version, port });
      return void databaseStatus().then((database) => send(res, 200, { status: "ok", version, port, database }));
    case "/healthz/db":
      return void databaseStatus().then((db) =>
        send(res, db === "ok" ? 200 : db === "saturated" ? 503 : 500, { database: db, version, port }),
      );
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
      // finishedAt: when the work ended, by this machine's clock (drills order events by it).
      return send(res, 200, { version, port, digest: digest.toString("hex").slice(0, 16), finishedAt: Date.now() });
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

// Draining, so that no request that reached this process is cut off. nginx stops sending new
// requests first (the unit's ExecStop holds the process out of rotation before SIGTERM); then:
// 1. keep listening until no new connection has come for DRAIN_QUIET_MS, and stop only right
//    after a quick poll of the event loop (see `afterQuickPoll`). Closing the listening socket
//    resets every connection the kernel has queued on it (handshake done, maybe a POST already in
//    it), and nginx never retries a POST it has sent; while the loop is busy with CPU-bound work,
//    connections queue up unseen.
// 2. once it no longer listens, answer requests on open keep-alive connections with
//    `Connection: close`; after a grace period close the connections still idle, again only right
//    after a quick poll, so that a request that arrived while the loop was busy has been read
//    (and its connection is no longer idle).
// 3. exit once every connection has closed, or after APP_DRAIN_SECONDS at the latest.
// (http.Server#close would also close idle connections at once, racing a request nginx is sending
// on one; net.Server#close only stops listening.)
const DRAIN_QUIET_MS = 100;
const QUICK_POLL_MS = 10;
const IDLE_CHECK_MS = 100;

// Runs `fn` right after a poll of the event loop that took under QUICK_POLL_MS: what the kernel had
// queued before that poll has been accepted and read, and little time was left for more to come.
// (A timer, then an immediate: between the two the loop polls, running the callbacks of what it
// found, a CPU-bound request handler included.)
function afterQuickPoll(fn) {
  setTimeout(() => {
    const before = performance.now();
    setImmediate(() => (performance.now() - before < QUICK_POLL_MS ? fn() : afterQuickPoll(fn)));
  }, QUICK_POLL_MS);
}

function drain(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`sample-app ${version} on port ${port}: ${signal}, draining`);
  let lastConnection = Date.now();
  server.on("connection", () => (lastConnection = Date.now()));
  const stopListening = () => {
    if (Date.now() - lastConnection < DRAIN_QUIET_MS) return afterQuickPoll(stopListening);
    draining = true;
    net.Server.prototype.close.call(server, () => process.exit(0));
    console.log(
      `sample-app ${version} on port ${port}: stopped listening; idle connections close in ${idleGraceMs} ms`,
    );
    // After the grace, and again after every later quick poll: a response that began before the
    // drain said keep-alive, and one that ends after the grace leaves its connection idle then.
    const closeIdle = () =>
      afterQuickPoll(() => {
        server.closeIdleConnections();
        setTimeout(closeIdle, IDLE_CHECK_MS).unref();
      });
    setTimeout(closeIdle, idleGraceMs).unref();
  };
  afterQuickPoll(stopListening);
  setTimeout(() => {
    console.log(`sample-app ${version} on port ${port}: drain timed out after ${drainSeconds}s`);
    process.exit(1);
  }, drainSeconds * 1000).unref();
}
process.on("SIGTERM", () => drain("SIGTERM"));
process.on("SIGINT", () => drain("SIGINT"));

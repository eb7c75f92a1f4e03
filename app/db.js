"use strict";
/**
 * How the sample app finds and uses its database: the same contract in every layout.
 *
 * Settings come from the environment (the server writes them to /etc/app/database.env, which the
 * app@ unit loads); none of them is a secret:
 *   DB_ENGINE      postgres, mysql or mariadb (unset: the app runs without a database)
 *   DB_HOST        DB_PORT   DB_NAME   DB_USER
 *   DB_TLS         verify-full (RDS: TLS, server certificate checked against DB_CA_FILE) or disable
 *                  (the single server's own database on 127.0.0.1)
 *   DB_CA_FILE     the CA bundle that signs the server's certificate (verify-full)
 *   DB_SECRET_ID   the Secrets Manager secret holding the password, as JSON {"password": ...}
 *   DB_REGION      the secret's region
 * The password is read from Secrets Manager with the AWS CLI (the instance role may read that one
 * secret) when the app starts, and again whenever the database refuses it (it was rotated): never
 * from a file, an argument or the environment, and never logged.
 */
const { execFile } = require("node:child_process");
const fs = require("node:fs");

/** Errors that mean "this password is refused": PostgreSQL SQLSTATE, MySQL/MariaDB errno. */
const AUTH_FAILED = new Set(["28P01", "28000", 1045]);
/**
 * Errors that mean "this connection was already gone" (the server restarted, failed over, or
 * closed it): PostgreSQL's admin shutdown and connection classes, MySQL/MariaDB's lost or killed
 * connection, the socket's own. The pool drops such a connection; the statement is tried once
 * more on a new one. (A connection found gone never ran the statement; one cut off in the middle
 * of it may have: the sample's notes accept that, an app whose writes must not repeat makes them
 * idempotent, with a request id.)
 */
const CONNECTION_LOST = new Set([
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08003",
  "08006",
  "PROTOCOL_CONNECTION_LOST",
  "ER_CONNECTION_KILLED",
  "ECONNRESET",
  "EPIPE",
]);
const CONNECTION_LOST_MESSAGE = /Connection terminated|not queryable|closed state|connection is closed/i;

function refused(error) {
  return AUTH_FAILED.has(error.code) || AUTH_FAILED.has(error.errno);
}

function connectionLost(error) {
  return CONNECTION_LOST.has(error.code) || error.errno === 1927 || CONNECTION_LOST_MESSAGE.test(error.message ?? "");
}
/** After reading the secret for a refused password, not again within this window (a wrong secret must not flood). */
const REFRESH_INTERVAL_MS = 2000;

/** The settings in `env`, or undefined when no database is configured. Throws on a partial setting. */
function settingsFromEnv(env = process.env) {
  if (!env.DB_ENGINE) return undefined;
  const engine = env.DB_ENGINE;
  if (!["postgres", "mysql", "mariadb"].includes(engine))
    throw new Error(`DB_ENGINE must be postgres, mysql or mariadb (got ${engine})`);
  for (const name of ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_SECRET_ID"]) {
    if (!env[name]) throw new Error(`${name} is required with DB_ENGINE`);
  }
  const tls = env.DB_TLS || "verify-full";
  if (!["verify-full", "disable"].includes(tls)) throw new Error(`DB_TLS must be verify-full or disable (got ${tls})`);
  if (tls === "verify-full" && !env.DB_CA_FILE) throw new Error("DB_CA_FILE is required with DB_TLS=verify-full");
  return {
    engine,
    dialect: engine === "postgres" ? "postgres" : "mysql",
    host: env.DB_HOST,
    port: Number(env.DB_PORT),
    database: env.DB_NAME,
    user: env.DB_USER,
    tls,
    caFile: env.DB_CA_FILE,
    secretId: env.DB_SECRET_ID,
    region: env.DB_REGION,
  };
}

/** The password in the secret, read with the AWS CLI (rejects with the CLI's message, never the value). */
function fetchPassword(settings) {
  const args = ["secretsmanager", "get-secret-value", "--secret-id", settings.secretId];
  if (settings.region) args.push("--region", settings.region);
  args.push("--query", "SecretString", "--output", "text");
  return new Promise((resolve, reject) => {
    execFile("aws", args, { timeout: 15_000, maxBuffer: 64 * 1024 }, (error, stdout, stderr) => {
      if (error)
        return reject(
          new Error(`reading secret ${settings.secretId} failed: ${String(stderr || error.message).trim()}`),
        );
      try {
        const password = JSON.parse(stdout).password;
        if (typeof password !== "string" || password === "") throw new Error("no password");
        resolve(password);
      } catch {
        reject(new Error(`secret ${settings.secretId} is not JSON with a "password"`));
      }
    });
  });
}

class Database {
  /**
   * `queryTimeoutMs`: how long a statement may take before the app gives up on it (a request
   * should not wait longer); 0 for none (migrations, which the deploy bounds as a whole).
   * `readPassword`: how the password is read (the AWS CLI; a test gives its own).
   */
  constructor(settings, log = console.log, { queryTimeoutMs = 10_000, readPassword = fetchPassword } = {}) {
    this.settings = settings;
    this.queryTimeoutMs = queryTimeoutMs;
    this.readPassword = readPassword;
    this.dialect = settings.dialect;
    this.log = log;
    this.password = undefined;
    this.pool = undefined;
    this.refreshing = undefined;
    this.lastRefusedRefresh = 0;
    /** Requests under way on each pool (see `onPool`), and pools replaced by a new password. */
    this.inUse = new Map();
    this.retired = new Set();
    /** The last failed read before any pool existed ({ at, error }): not tried again within REFRESH_INTERVAL_MS. */
    this.firstReadFailure = undefined;
  }

  /**
   * The pool, created once the password is known. While the first read fails (Secrets Manager
   * unreachable, the role not yet allowed), callers within REFRESH_INTERVAL_MS of the failure get
   * its error without a new read: health pings and requests must not start an `aws` each.
   */
  async ready() {
    if (this.pool) return this.pool;
    const failure = this.firstReadFailure;
    if (failure && !this.refreshing && Date.now() - failure.at < REFRESH_INTERVAL_MS) throw failure.error;
    try {
      await this.refreshCredentials(true);
    } catch (error) {
      if (!this.pool) this.firstReadFailure = { at: Date.now(), error };
      throw error;
    }
    return this.pool;
  }

  /**
   * Reads the password again (one read for every caller at once; after a refused password, at most
   * once per REFRESH_INTERVAL_MS) and, when it changed, moves to a new pool: connections already
   * open stay valid until they close, new ones use the new password. The old pool ends once the
   * requests under way on it are done: those still waiting for one of its connections get one (an
   * open one, or a new one that the database refuses, which `query` tries again on the new pool).
   * Ended at once, it would fail them: pg's pool leaves its queue waiting until the connect
   * timeout, mysql2's rejects it ("Pool is closed").
   */
  refreshCredentials(initial = false) {
    if (this.refreshing) return this.refreshing;
    if (!initial) {
      if (Date.now() - this.lastRefusedRefresh < REFRESH_INTERVAL_MS) return Promise.resolve();
      this.lastRefusedRefresh = Date.now();
    }
    this.refreshing = (async () => {
      try {
        const password = await this.readPassword(this.settings);
        if (password === this.password && this.pool) return;
        if (this.password !== undefined) this.log("database: password changed in the secret; new connections use it");
        this.password = password;
        const old = this.pool;
        this.pool = this.createPool();
        if (old) {
          this.retired.add(old);
          this.endIfIdle(old);
        }
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  createPool() {
    const s = this.settings;
    const tls =
      s.tls === "verify-full" ? { ca: fs.readFileSync(s.caFile, "utf8"), rejectUnauthorized: true } : undefined;
    if (this.dialect === "postgres") {
      const { Pool } = require("pg");
      const pool = new Pool({
        host: s.host,
        port: s.port,
        database: s.database,
        user: s.user,
        password: this.password,
        ssl: tls ?? false,
        max: POOL_SIZE,
        connectionTimeoutMillis: 3000,
        idleTimeoutMillis: 30_000,
        query_timeout: this.queryTimeoutMs || undefined,
        // the database gives up too, a second before the client: a statement left running after
        // the client's 500 (behind a lock) would still write, and a retried request write twice
        statement_timeout: this.queryTimeoutMs ? Math.max(1000, this.queryTimeoutMs - 1000) : undefined,
      });
      // An idle connection the server closed (a restart, a failover) is dropped from the pool.
      pool.on("error", (error) => this.log(`database: idle connection lost (${error.message})`));
      return pool;
    }
    const mysql = require("mysql2/promise");
    const pool = mysql.createPool({
      host: s.host,
      port: s.port,
      database: s.database,
      user: s.user,
      password: this.password,
      // mysql2 checks the certificate's host name only when asked (and never for an IP address):
      // RDS endpoints are names, and the certificate RDS presents holds them.
      ssl: tls && { ...tls, verifyIdentity: true },
      connectionLimit: POOL_SIZE,
      // requests waiting for a free connection, at most: past them, one fails at once (each waits
      // ACQUIRE_TIMEOUT_MS at most, see run)
      queueLimit: 100,
      connectTimeout: 3000,
      maxIdle: POOL_SIZE,
      idleTimeout: 30_000,
      enableKeepAlive: true,
    });
    pool.pool.on("connection", (conn) => {
      conn.on("error", (error) => this.log(`database: connection lost (${error.message})`));
      // the database gives up on a lock a second before the client (see the PostgreSQL pool), in
      // whole seconds: a table's lock (lock_wait_timeout, a year by default) and a row's (InnoDB)
      if (this.queryTimeoutMs) {
        const seconds = Math.max(1, Math.floor(this.queryTimeoutMs / 1000) - 1);
        conn.query(`SET SESSION lock_wait_timeout = ${seconds}, innodb_lock_wait_timeout = ${seconds}`, (error) => {
          if (error) this.log(`database: cannot set the lock timeouts (${error.message})`);
        });
      }
    });
    return pool;
  }

  /**
   * Rows of `sql` (placeholders: $1 on PostgreSQL, ? on MySQL). Tried once more after a refused
   * password (with the secret read again) or on a connection that was already gone.
   */
  async query(sql, params = []) {
    await this.ready();
    // Each once: a connection found gone, then a refused password on the new one, is both.
    let reconnected = false;
    let refreshed = false;
    for (;;) {
      try {
        return await this.run(sql, params);
      } catch (error) {
        if (refused(error) && !refreshed) {
          refreshed = true;
          await this.refreshCredentials();
        } else if (connectionLost(error) && !reconnected) {
          reconnected = true;
        } else {
          throw error;
        }
      }
    }
  }

  async run(sql, params) {
    return this.onPool(async (pool) => {
      if (this.dialect === "postgres") return (await pool.query(sql, params)).rows;
      // mysql2's pool waits for a free connection without a limit, where pg's gives up after its
      // connectionTimeoutMillis: the same 3 s here, and a connection that frees up after that goes
      // back unused. Without it, requests queued behind a slow or hung database for as long as it
      // lasted, and wrote after their clients had given up (review BA).
      const conn = await withinDeadline(pool.getConnection(), ACQUIRE_TIMEOUT_MS, (late) => late.release());
      try {
        const [rows] = await conn.query({ sql, timeout: this.queryTimeoutMs || undefined }, params);
        conn.release();
        return rows;
      } catch (error) {
        // Back to the pool only a connection whose statement ended with the server's answer. One
        // that timed out on the client's side (its statement still running), broke, or reached a
        // read-only server (a failover) is closed, as mysql2's pool.query closes the last: handed
        // out again, its next query would wait behind the old statement, past every limit (review BH).
        if (error.sqlState && !error.fatal && !READ_ONLY_ERRNOS.includes(error.errno)) conn.release();
        else conn.destroy();
        throw error;
      }
    });
  }

  /** `work(pool)` on the current pool, counted as under way on it until it settles. */
  async onPool(work) {
    const pool = this.pool;
    this.inUse.set(pool, (this.inUse.get(pool) ?? 0) + 1);
    try {
      return await work(pool);
    } finally {
      this.inUse.set(pool, this.inUse.get(pool) - 1);
      this.endIfIdle(pool);
    }
  }

  /** Ends a replaced pool once nothing is under way on it. */
  endIfIdle(pool) {
    if (!this.retired.has(pool) || (this.inUse.get(pool) ?? 0) > 0) return;
    this.retired.delete(pool);
    this.inUse.delete(pool);
    pool.end().catch(() => {});
  }

  /**
   * Whether every connection of the pool is taken and queries wait for one: a check that timed
   * out then waited behind them, and cannot tell a slow database from a full pool (review BA:
   * "unreachable" for 10 s while the database answered other sessions at once).
   */
  saturated() {
    return (this.inUse.get(this.pool) ?? 0) > POOL_SIZE;
  }

  /** Resolves when `SELECT 1` answers within `timeoutMs`; rejects otherwise. */
  async ping(timeoutMs) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.query("SELECT 1"), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `work(run)` on one connection while holding the database-wide lock `name`, so that two
   * servers deploying at once run it one after the other. `run(sql, params)` returns rows.
   */
  async withLock(name, work) {
    await this.ready();
    return this.onPool((pool) => this.lockedOn(pool, name, work));
  }

  async lockedOn(pool, name, work) {
    if (this.dialect === "postgres") {
      const client = await pool.connect();
      // a connection cut while it is held (the server restarted, the session was terminated): its
      // query fails with the reason, not the process with an unhandled 'error' event (review BA)
      const lost = (error) => this.log(`database: connection lost (${error.message})`);
      client.on("error", lost);
      const run = async (sql, params = []) => (await client.query(sql, params)).rows;
      try {
        await run("SELECT pg_advisory_lock(hashtext($1))", [name]);
        try {
          return await work(run);
        } finally {
          await run("SELECT pg_advisory_unlock(hashtext($1))", [name]).catch(() => {});
        }
      } finally {
        client.off("error", lost);
        client.release();
      }
    }
    const conn = await pool.getConnection();
    const run = async (sql, params = []) => (await conn.query(sql, params))[0];
    try {
      const [{ locked }] = await run("SELECT GET_LOCK(?, 600) AS locked", [name]);
      if (Number(locked) !== 1) throw new Error(`could not take the lock ${name} within 600 s`);
      try {
        return await work(run);
      } finally {
        await run("SELECT RELEASE_LOCK(?)", [name]);
      }
    } finally {
      conn.release();
    }
  }

  async close() {
    if (this.pool) await this.pool.end();
  }
}

/** Connections a process's pool holds at most. */
const POOL_SIZE = 5;

/** MySQL's errors of a read-only server (ER_OPTION_PREVENTS_STATEMENT, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, ER_READ_ONLY_MODE). */
const READ_ONLY_ERRNOS = [1290, 1792, 1836];

/** How long a query waits for a free connection of the pool (PostgreSQL: connectionTimeoutMillis). */
const ACQUIRE_TIMEOUT_MS = 3000;

/**
 * `promise`, or a rejection after `ms`; what it resolves to after that is handed to `late` (a
 * connection the pool gives once no one waits for it goes back).
 */
function withinDeadline(promise, ms, late) {
  let timer;
  let expired = false;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(Object.assign(new Error(`no database connection free within ${ms} ms`), { code: "ACQUIRE_TIMEOUT" }));
    }, ms);
  });
  promise.then(
    (value) => expired && late(value),
    () => {},
  );
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

module.exports = { Database, settingsFromEnv, fetchPassword };

"use strict";
/**
 * node migrate.js: applies this release's migrations that the database has not seen. The deploy
 * script runs it once per deploy, before any process moves to the release (the processes never
 * migrate); a failure stops the deploy before any process moves, with the migrations before the
 * failed one applied (each is its own step; PostgreSQL rolls the failed one back whole). Under a
 * database-wide lock, so two servers deploying at once take turns; each run is recorded in
 * migration_runs.
 *
 * A migration waits at most LOCK_WAIT_SECONDS for a table's lock (a long transaction, a dump, a
 * report holding it), then gives it back and tries again later: queued behind such a transaction,
 * its ALTER TABLE would hold every other query of that table behind it (review BA).
 */
const { Database, settingsFromEnv } = require("./db");
const migrations = require("./migrations");
const { version } = require("./package.json");

const LOCK = "sample-app-migrations";
const LOCK_WAIT_SECONDS = 3;
/** Waits between tries of a migration that could not have its lock: about 5 minutes in all. */
const RETRY_WAITS_MS = [2000, 4000, 8000, 15000, 30000, 60000, 60000, 60000, 60000];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A lock not had within the wait: PostgreSQL's lock_not_available, MySQL's lock wait timeout. */
const lockWaitedOut = (error) =>
  error.code === "55P03" || error.errno === 1205 || error.code === "ER_LOCK_WAIT_TIMEOUT";

const TABLES = {
  postgres: [
    `CREATE TABLE IF NOT EXISTS schema_migrations (
      id varchar(128) PRIMARY KEY, release varchar(64) NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS migration_runs (
      id bigserial PRIMARY KEY, release varchar(64) NOT NULL, applied integer NOT NULL, ran_at timestamptz NOT NULL DEFAULT now())`,
  ],
  mysql: [
    `CREATE TABLE IF NOT EXISTS schema_migrations (
      id varchar(128) NOT NULL PRIMARY KEY, \`release\` varchar(64) NOT NULL,
      applied_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB`,
    `CREATE TABLE IF NOT EXISTS migration_runs (
      id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, \`release\` varchar(64) NOT NULL, applied integer NOT NULL,
      ran_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB`,
  ],
};

async function main() {
  const settings = settingsFromEnv();
  if (!settings) {
    console.log("migrate: no database configured (DB_ENGINE is not set); nothing to do");
    return;
  }
  // No time limit per statement: a migration may rebuild a big table; the deploy bounds the run.
  const db = new Database(settings, (line) => console.log(`migrate: ${line}`), { queryTimeoutMs: 0 });
  const { dialect } = db;
  const p = (n) => (dialect === "postgres" ? `$${n}` : "?");
  const release = dialect === "postgres" ? "release" : "`release`";
  try {
    const applied = await db.withLock(LOCK, async (run) => {
      for (const sql of TABLES[dialect]) await run(sql);
      // PostgreSQL: for the whole session, as a migration and its record are one transaction, tried
      // again whole. MySQL: for the migration's statement only (limited, below): its DDL commits
      // on its own, and its record must then be written however long that waits, never the DDL
      // tried again (review BH: "Duplicate column", and the column left unrecorded).
      if (dialect === "postgres") await run(`SET lock_timeout = '${LOCK_WAIT_SECONDS}s'`);
      const limited = async (sql) => {
        if (dialect === "postgres") return run(sql);
        await run(
          `SET SESSION lock_wait_timeout = ${LOCK_WAIT_SECONDS}, innodb_lock_wait_timeout = ${LOCK_WAIT_SECONDS}`,
        );
        try {
          return await run(sql);
        } finally {
          await run("SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT");
        }
      };
      const seen = new Set((await run("SELECT id FROM schema_migrations")).map((row) => row.id));
      const pending = migrations.filter((m) => !seen.has(m.id));
      const applied = [];
      for (const migration of pending) {
        for (let attempt = 0; ; attempt++) {
          // PostgreSQL applies a migration and its record together or not at all; MySQL commits DDL at once.
          if (dialect === "postgres") await run("BEGIN");
          let ran = false;
          try {
            await limited(migration[dialect]);
            ran = true;
            await run(`INSERT INTO schema_migrations (id, ${release}) VALUES (${p(1)}, ${p(2)})`, [
              migration.id,
              version,
            ]);
            if (dialect === "postgres") await run("COMMIT");
            break;
          } catch (error) {
            // (on MySQL a migration that ran is committed: only its record failed, not to be retried with it)
            if (ran && dialect !== "postgres") {
              throw new Error(
                `${migration.id} was applied, but its record failed (add it to schema_migrations by hand): ${error.message}`,
              );
            }
            if (dialect === "postgres") await run("ROLLBACK").catch(() => {});
            if (lockWaitedOut(error) && attempt < RETRY_WAITS_MS.length) {
              const wait = RETRY_WAITS_MS[attempt];
              console.log(
                `migrate: ${migration.id}: a table's lock is held by another session (${error.message}); ` +
                  `trying again in ${wait / 1000} s`,
              );
              await sleep(wait);
              continue;
            }
            const before = applied.length > 0 ? `${applied.join(", ")} applied before it, ` : "";
            throw new Error(`${migration.id} failed (${before}it and the rest not): ${error.message}`);
          }
        }
        applied.push(migration.id);
        console.log(`migrate: applied ${migration.id}`);
      }
      await run(`INSERT INTO migration_runs (${release}, applied) VALUES (${p(1)}, ${p(2)})`, [
        version,
        pending.length,
      ]);
      const unknown = [...seen].filter((id) => !migrations.some((m) => m.id === id));
      if (unknown.length > 0)
        console.log(`migrate: the database has migrations this release does not know: ${unknown.join(", ")}`);
      return pending.length;
    });
    console.log(`migrate: release ${version}: ${applied} applied, ${migrations.length - applied} already there`);
  } finally {
    await db.close();
  }
}

main().catch((error) => {
  console.error(`migrate: failed: ${error.message}`);
  process.exit(1);
});

import { inCi } from "../ci";
import * as http from "node:http";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { certificates, opensslMissing, type Certificates } from "./certificates";
import { call, DatabaseBed, DRILL_INSTANCE_ID, drillDatabase } from "./database-bed";
import type { Reply } from "./load";
import { isRunning } from "../../src/output-lock";
import { engineMissing, RealDatabase, type DrillEngine } from "./databases";
import { readEnvironmentFile } from "./supervisor";
import { nginxMissing, PORT_CLAIMS, run, STEP_TIMEOUT_MS } from "./testbed";
import { waitUntil } from "../wait-until";

/**
 * The app and its database, for real: PostgreSQL and MariaDB from Debian's packages (the majors
 * Amazon Linux 2023 also packages: 15, 10.11), each configured by the single server's boot
 * script files, with the app's processes behind real nginx. Both engines run side by side: each
 * check runs on both at once. AWS is a stand-in `aws` the test controls (see database-bed.ts).
 * Loops are bounded by count or time; every server and process is stopped in afterAll.
 */

const ENGINES: DrillEngine[] = ["postgres", "mariadb"];
const PROCESSES = 2;

const missing = [nginxMissing(), ...ENGINES.map(engineMissing), opensslMissing()].filter(Boolean);
if (missing.length > 0) console.log(`database integration tests skipped: ${missing.join("; ")}`);
if (missing.length > 0 && inCi()) {
  // .ci/run installs them: in CI a missing server is a broken pipeline, not a reason to skip.
  test("PostgreSQL, MariaDB and nginx are installed in CI", () => {
    throw new Error(missing.join("; "));
  });
}
const describeWithDatabases = missing.length > 0 ? describe.skip : describe;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * Runs `lines` of JavaScript with node in the bed's release 1.0.0 (the app's own database code,
 * `require("./db")`), with the app's database settings in its environment; returns its output.
 */
async function inRelease(bed: DatabaseBed, lines: string[]): Promise<string> {
  const release = path.join(bed.bed.host.paths.appRoot, "releases", "1.0.0");
  const env = {
    ...process.env,
    ...readEnvironmentFile(bed.bed.host.database!.envFile),
    PATH: `${path.join(bed.bed.dir, "bin")}:${process.env.PATH}`,
  };
  return (await run(process.execPath, ["-e", lines.join("\n")], { env, cwd: release })).stdout;
}

/**
 * Another session runs `hold(sleep)`, SQL that takes a lock and then runs `sleep`, the engine's
 * 60-s sleep; resolves once it sleeps (so holds the lock), with that session's run and `release`,
 * which cancels the sleep (the session then lets go, and ends as its SQL says).
 */
async function heldBy(
  bed: DatabaseBed,
  hold: (sleep: string) => string,
): Promise<{ session: Promise<string>; release: () => Promise<string> }> {
  const postgres = bed.engine === "postgres";
  const sleep = postgres ? "SELECT pg_sleep(60)" : "SELECT SLEEP(60)";
  const session = bed.db.admin(hold(sleep), "app");
  const sleeping = postgres
    ? `SELECT pid FROM pg_stat_activity WHERE query LIKE '${sleep}%' AND state = 'active' AND pid <> pg_backend_pid()`
    : `SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '${sleep}%' AND ID <> CONNECTION_ID()`;
  let pid = "";
  await waitUntil("the lock held", async () => (pid = await bed.db.admin(sleeping)) !== "", 30_000);
  const release = () => bed.db.admin(postgres ? `SELECT pg_cancel_backend(${pid})` : `KILL QUERY ${pid}`);
  return { session, release };
}

/** Migrations the drills add to the sample app's, in order, by id. */
const MIGRATIONS: Record<string, string> = {
  "002_notes_author": `{ id: "002_notes_author", postgres: "ALTER TABLE notes ADD COLUMN author varchar(64) NOT NULL DEFAULT 'anonymous'", mysql: "ALTER TABLE notes ADD COLUMN author varchar(64) NOT NULL DEFAULT 'anonymous'" }`,
  "003_notes_score": `{ id: "003_notes_score", postgres: "ALTER TABLE notes ADD COLUMN score integer NOT NULL DEFAULT 0", mysql: "ALTER TABLE notes ADD COLUMN score integer NOT NULL DEFAULT 0" }`,
  "004_notes_rank": `{ id: "004_notes_rank", postgres: "ALTER TABLE notes ADD COLUMN rank integer NOT NULL DEFAULT 0", mysql: "ALTER TABLE notes ADD COLUMN \\\`rank\\\` integer NOT NULL DEFAULT 0" }`,
};

/** Release `version` of the sample app as it is, with `ids` of MIGRATIONS added to its own. */
function putReleaseWithMigrations(bed: DatabaseBed, version: string, ids: string[]): void {
  bed.putRelease(version, (files) => {
    const migrations = files.get("migrations.js")!;
    const added = migrations.replace(/\];\s*$/, `${ids.map((id) => `  ${MIGRATIONS[id]},\n`).join("")}];\n`);
    if (added === migrations) throw new Error("could not add a migration to migrations.js");
    files.set("migrations.js", added);
  });
}

/**
 * Another session runs `hold(sleep)` (as `heldBy`) until a statement matching
 * `waiter` (a LIKE pattern) has waited for a lock it holds, and `moreMs` more have passed; then its
 * sleep is cancelled, which lets go. `during` runs meanwhile (a deploy), and its result is returned.
 * Not a fixed hold: on a loaded machine a deploy once reached its migrations after a 5-s hold ended.
 */
async function holdWhileWaitedOn<T>(
  bed: DatabaseBed,
  hold: (sleep: string) => string,
  waiter: string,
  moreMs: number,
  during: () => Promise<T>,
): Promise<T> {
  const postgres = bed.engine === "postgres";
  const { session, release } = await heldBy(bed, hold);
  const result = during();
  const waiting = postgres
    ? `SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '${waiter}'`
    : `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for%lock%' AND INFO LIKE '${waiter}'`;
  try {
    await waitUntil(
      `a statement waiting on the lock (${waiter})`,
      async () => (await bed.db.admin(waiting)) !== "0",
      60_000,
    );
    await new Promise((resolve) => setTimeout(resolve, moreMs));
  } finally {
    await release();
    await session.catch(() => undefined);
  }
  return result;
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * p)];

describeWithDatabases("the app and its own database, on PostgreSQL and MariaDB", () => {
  const beds = new Map<DrillEngine, DatabaseBed>();
  let tls: Certificates;
  const tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), "db-drill-tls-"));
  /** Runs `check` on every engine at once. */
  const onEach = (check: (bed: DatabaseBed) => Promise<void>) => Promise.all(ENGINES.map((e) => check(beds.get(e)!)));

  beforeAll(async () => {
    // Each server also speaks TLS, as RDS does, with a certificate naming the host (localhost), as RDS's name its endpoint.
    tls = certificates(tlsDir);
    const started = await Promise.allSettled(
      ENGINES.map((engine) => DatabaseBed.create(engine, PROCESSES, tls.server("DNS:localhost"))),
    );
    started.forEach((result, i) => result.status === "fulfilled" && beds.set(ENGINES[i], result.value));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }, STEP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([...beds.values()].map((bed) => bed.stop()));
    fs.rmSync(tlsDir, { recursive: true, force: true });
  }, STEP_TIMEOUT_MS);

  test("db-provision stores a generated password in the secret once, never in an argument, and the app's user reaches only its own database over loopback", () =>
    onEach(async (bed) => {
      const secret = bed.secret()!;
      expect(secret.username).toBe("app");
      expect(secret.password).toMatch(/^[0-9a-f]{64}$/);
      expect(bed.awsCalls().filter((c) => c.includes("put-secret-value"))).toEqual([
        expect.stringMatching(/--secret-string file:\/\//),
      ]);
      expect(bed.awsCalls().join("\n")).not.toContain(secret.password);
      // run again (a reboot, a re-run by hand): the same password, nothing stored again
      expect(await bed.provision()).toContain(`password: the one in`);
      expect(bed.secret()!.password).toBe(secret.password);
      expect(bed.awsCalls().filter((c) => c.includes("put-secret-value"))).toHaveLength(1);
      if (bed.engine === "postgres") {
        expect(await bed.db.admin("SHOW listen_addresses")).toBe("localhost");
        expect(
          await bed.db.admin("SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"),
        ).toBe("app:app");
        expect(
          await bed.db.admin(
            "SELECT rolsuper::text || rolcreatedb::text || rolcreaterole::text FROM pg_roles WHERE rolname = 'app'",
          ),
        ).toBe("falsefalsefalse");
      } else {
        expect(await bed.db.admin("SELECT @@bind_address, @@skip_name_resolve, @@local_infile")).toBe(
          "127.0.0.1\t1\t0",
        );
        expect(await bed.db.admin("SHOW GRANTS FOR 'app'@'127.0.0.1'")).toMatch(
          /GRANT ALL PRIVILEGES ON `app`\.\* TO `app`@`127\.0\.0\.1`/,
        );
        expect(await bed.db.admin("SELECT COUNT(*) FROM mysql.user WHERE user = 'app'")).toBe("1");
      }
    }));

  test(
    "a note written through nginx is read back through nginx; /healthz reports the database beside the process",
    async () => {
      const latencies = new Map<DrillEngine, number[]>();
      await onEach(async (bed) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const ms: number[] = [];
        for (let i = 0; i < 40; i++) {
          const started = process.hrtime.bigint();
          const written = await call(bed.bed.nginxPort, "POST", "/notes", `note ${i} on ${bed.engine} ✓`, agent);
          expect(written.status).toBe(201);
          const { id } = JSON.parse(written.body);
          const read = await call(bed.bed.nginxPort, "GET", `/notes/${id}`, undefined, agent);
          ms.push(Number(process.hrtime.bigint() - started) / 1e6);
          expect(read.status).toBe(200);
          expect(JSON.parse(read.body)).toMatchObject({ id, body: `note ${i} on ${bed.engine} ✓` });
        }
        agent.destroy();
        latencies.set(bed.engine, ms);
        const health = JSON.parse((await call(bed.bed.nginxPort, "GET", "/healthz")).body);
        expect(health).toMatchObject({ status: "ok", database: "ok", version: "1.0.0" });
        expect((await call(bed.bed.nginxPort, "GET", "/healthz/db")).status).toBe(200);
        expect(await bed.notes()).toContain(`note 39 on ${bed.engine} ✓`);
      });
      for (const [engine, ms] of latencies) {
        console.log(
          `round trip (POST /notes + GET /notes/<id>) through nginx, ${engine}: p50 ${percentile(ms, 0.5).toFixed(1)} ms, p95 ${percentile(ms, 0.95).toFixed(1)} ms over ${ms.length}`,
        );
      }
    },
    STEP_TIMEOUT_MS,
  );

  test("TLS as the app uses it with RDS (verify-full): encrypted, the certificate checked against the CA bundle and the host name", () =>
    onEach(async (bed) => {
      const encrypted =
        bed.engine === "postgres"
          ? "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
          : "SELECT IF(VARIABLE_VALUE <> '', 'true', 'false') FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'";
      const verified = { DB_TLS: "verify-full", DB_CA_FILE: tls.caFile, DB_HOST: "localhost" };
      const [withTls, withoutTls, otherCa, otherHost] = await bed.probe([
        { overrides: verified, sql: encrypted },
        // the local settings: no TLS
        { overrides: {}, sql: encrypted },
        // a server whose certificate another CA signed
        { overrides: { ...verified, DB_CA_FILE: tls.otherCaFile }, sql: "SELECT 1" },
        // a server whose certificate names another host: "127.1" reaches 127.0.0.1 (the resolver reads
        // it as an address) but is a name to TLS, one the certificate does not hold (a name, because
        // mysql2 checks no IP address against a certificate, as RDS endpoints are names)
        { overrides: { ...verified, DB_HOST: "127.1" }, sql: "SELECT 1" },
      ]);
      expect(withTls).toEqual({ value: "true" });
      expect(withoutTls).toEqual({ value: "false" });
      expect(otherCa.error).toMatch(/certificate/i);
      expect(otherHost.error).toMatch(/altnames|host ?name/i);
    }));

  // RDS rotates its managed master password every 7 days, under whatever load there is then: the
  // requests that wait for a connection as the app moves to a new pool must get one (30 at once
  // over 2 processes of 5 connections each; the old pool, ended at once, failed a dozen of them).
  test("a password rotated in the secret reaches the app without a restart: it reads the secret again when the database refuses the old one, and no request waiting for a connection meanwhile fails", () =>
    onEach(async (bed) => {
      const rotated = "r0tated".padEnd(40, "x") + bed.engine.length;
      if (bed.engine === "postgres") {
        await bed.db.admin(
          `ALTER ROLE app PASSWORD '${rotated}'; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app';`,
        );
      } else {
        await bed.db.admin(`ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY '${rotated}'`);
        const ids = (await bed.db.admin("SELECT id FROM information_schema.processlist WHERE user = 'app'"))
          .split("\n")
          .filter(Boolean);
        for (const id of ids) await bed.db.admin(`KILL ${id}`).catch(() => {});
      }
      bed.setSecret({ username: "app", password: rotated });
      const together = await Promise.all(
        Array.from({ length: 30 }, (_, i) => call(bed.bed.nginxPort, "POST", "/notes", `at rotation ${i}`)),
      );
      expect(together.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.body}`)).toEqual([]);
      const replies: Reply[] = [];
      for (let i = 0; i < 10; i++) replies.push(await call(bed.bed.nginxPort, "POST", "/notes", `after rotation ${i}`));
      expect(replies.map((r) => r.status)).toEqual(Array(10).fill(201));
    }));

  test("a note the database cannot hold is the client's mistake (400, 413), not a 500 that pages: a NUL on PostgreSQL, more than a TEXT column's 65,535 bytes", () =>
    onEach(async (bed) => {
      const post = (body: string) => call(bed.bed.nginxPort, "POST", "/notes", body);
      expect((await post("with a \u0000 in it")).status).toBe(400);
      expect((await post("a".repeat(65_536))).status).toBe(413);
      // 30,000 bytes that are not UTF-8: each read as U+FFFD, 90,000 bytes as stored
      const invalid = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          { host: "127.0.0.1", port: bed.bed.nginxPort, method: "POST", path: "/notes" },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        );
        req.on("error", reject);
        req.end(Buffer.alloc(30_000, 0xff));
      });
      expect(invalid).toBe(413);
      expect((await post("a".repeat(65_535))).status).toBe(201);
    }));

  test("a write held behind a lock past the app's query timeout fails on the database's side too: nothing is written once the lock goes (a client that retries its 500 would write twice)", () =>
    onEach(async (bed) => {
      const body = `locked out ${bed.engine}`;
      const postgres = bed.engine === "postgres";
      // the table locked by another session until the insert below has given up (not for a fixed
      // time, which a loaded machine outran once: the insert then ran after the lock had gone)
      // (held once that session sleeps: it sleeps only once the lock was granted)
      const lock = await heldBy(bed, (sleep) =>
        postgres
          ? `BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE; ${sleep}; COMMIT;`
          : `LOCK TABLES notes WRITE; ${sleep}; UNLOCK TABLES;`,
      );
      // the app's own database code, giving up after 2 s (the app's is 10 s)
      const insert =
        bed.engine === "postgres" ? "INSERT INTO notes (body) VALUES ($1)" : "INSERT INTO notes (body) VALUES (?)";
      const stdout = await inRelease(bed, [
        'const { Database, settingsFromEnv } = require("./db");',
        "const db = new Database(settingsFromEnv(process.env), () => {}, { queryTimeoutMs: 2000 });",
        `db.query(${JSON.stringify(insert)}, [${JSON.stringify(body)}]).then(() => console.log("written"), (e) => console.log("failed: " + e.message)).finally(() => db.close());`,
      ]);
      expect(stdout).toMatch(/^failed: /);
      // the lock goes: the sleep cancelled, which fails that session's client (and in PostgreSQL its
      // transaction); an insert still waiting behind it on the database's side would now be written
      await lock.release();
      await expect(lock.session).rejects.toThrow(postgres ? /canceling statement due to user request/ : /interrupted/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const written = await bed.db.admin(`SELECT COUNT(*) FROM notes WHERE body = '${body}'`, "app");
      expect(written.trim()).toBe("0");
    }));

  test(
    "db-backup then db-restore gives back the same rows (stand-in aws for S3)",
    async () => {
      const restoreMs = new Map<DrillEngine, number>();
      await onEach(async (bed) => {
        const before = await bed.notes();
        expect(before.split("\n").length).toBeGreaterThanOrEqual(50);
        const backup = await bed.script("bin/db-backup");
        expect(backup).toMatch(/db-backup: s3:\/\/drill-db-backups\/db\/app-\d{8}T\d{6}Z\.(dump|sql\.gz): \d+ bytes/);
        expect(bed.dumps()).toHaveLength(1);
        // the backup alarm's datapoint, published after the upload (the stand-in only records it)
        const calls = bed.awsCalls();
        const upload = calls.findIndex((c) => / s3 cp .* s3:\/\/drill-db-backups\/db\//.test(c));
        const metric = calls.findIndex((c) => c.includes("cloudwatch put-metric-data"));
        expect([upload >= 0, metric > upload]).toEqual([true, true]);
        expect(calls[metric]).toContain(
          `--namespace shop/dev/AppBackups --metric-name DumpUploaded --dimensions InstanceId=${DRILL_INSTANCE_ID}`,
        );
        // the data moves on: a row changed, one deleted, one added
        await bed.db.admin("UPDATE notes SET body = 'changed' WHERE id = 1; DELETE FROM notes WHERE id = 2;", "app");
        expect((await call(bed.bed.nginxPort, "POST", "/notes", "written after the backup")).status).toBe(201);
        expect(await bed.notes()).not.toBe(before);
        // and a table newer than the dump, as a later release's migration makes it (the app's own,
        // with a foreign key to a dumped table): it would stop the dump's tables being dropped, and
        // left behind, fail that migration when the deploy runs it again
        const migrationsBefore = await bed.db.admin("SELECT id FROM schema_migrations ORDER BY id", "app");
        await bed.db.admin(
          bed.engine === "postgres"
            ? "CREATE TABLE tags (id serial PRIMARY KEY, note_id bigint NOT NULL REFERENCES notes(id)); ALTER TABLE tags OWNER TO app; INSERT INTO tags (note_id) VALUES (3); INSERT INTO schema_migrations (id, release) VALUES ('002_tags', '1.1.0');"
            : "CREATE TABLE tags (id int AUTO_INCREMENT PRIMARY KEY, note_id bigint NOT NULL, FOREIGN KEY (note_id) REFERENCES notes(id)) ENGINE=InnoDB; INSERT INTO tags (note_id) VALUES (3); INSERT INTO schema_migrations (id, `release`) VALUES ('002_tags', '1.1.0');",
          "app",
        );
        const started = Date.now();
        const restore = await bed.script("bin/db-restore", ["latest"]);
        restoreMs.set(bed.engine, Date.now() - started);
        expect(restore).toMatch(/db-restore: restored s3:\/\/drill-db-backups\/db\/app-.* into app/);
        expect(await bed.notes()).toBe(before);
        // the database is the dump's: the newer table gone, the migrations as they were then
        expect(await bed.db.admin("SELECT id FROM schema_migrations ORDER BY id", "app")).toBe(migrationsBefore);
        await expect(bed.db.admin("SELECT COUNT(*) FROM tags", "app")).rejects.toThrow(/tags/);
        // and the app carries on, on the restored data
        const after = await call(bed.bed.nginxPort, "POST", "/notes", "after the restore");
        expect(after.status).toBe(201);
        expect(bed.awsCalls().join("\n")).not.toContain(bed.secret()!.password);
      });
      for (const [engine, ms] of restoreMs)
        console.log(`db-restore latest of a small dump (~60 rows), ${engine}: ${ms} ms`);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    "a dump that cannot be read (cut short, or no dump at all) restores nothing: the database stays as it was",
    async () => {
      await onEach(async (bed) => {
        await bed.script("bin/db-backup");
        const before = await bed.notes();
        const real = bed.readDump(bed.dumps().at(-1)!);
        const ext = bed.engine === "postgres" ? "dump" : "sql.gz";
        const broken: Array<[string, Buffer]> = [
          [`app-99990101T000000Z.${ext}`, real.subarray(0, real.length - 200)],
          [`app-99990102T000000Z.${ext}`, Buffer.from("not a dump\n")],
        ];
        for (const [name, bytes] of broken) {
          bed.putDump(name, bytes);
          try {
            await expect(bed.script("bin/db-restore", [name])).rejects.toThrow();
            // (psql committed what it had when pg_restore died; MariaDB dropped the database first)
            expect({ name, notes: await bed.notes() }).toEqual({ name, notes: before });
          } finally {
            bed.removeDump(name);
          }
        }
      });
    },
    STEP_TIMEOUT_MS,
  );

  test(
    "a MariaDB dump is data, never the client's shell commands: a \\! in one runs nothing (db-restore runs as root, and the server's role may write dumps)",
    async () => {
      const bed = beds.get("mariadb");
      if (!bed) return; // (the engine is missing: the file's skip says so)
      await bed.script("bin/db-backup");
      const good = bed.dumps().at(-1)!;
      const before = await bed.notes();
      const marker = path.join(bed.bed.dir, "shell-command-ran");
      const crafted = "app-99990103T000000Z.sql.gz";
      bed.putDump(crafted, zlib.gzipSync(`SELECT 1;\n\\! touch ${marker}\nSELECT 2;\n`));
      try {
        await expect(bed.script("bin/db-restore", [crafted])).rejects.toThrow(/sandbox/i);
        expect(fs.existsSync(marker)).toBe(false);
      } finally {
        bed.removeDump(crafted);
        // the statements before it ran (the database dropped and made again): the good dump back
        await bed.script("bin/db-restore", [good]);
      }
      expect(await bed.notes()).toBe(before);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    "a deploy with a schema migration under load of writes and reads: no failed request, the migration applied once, run once per deploy",
    () =>
      onEach(async (bed) => {
        const port = bed.bed.nginxPort;
        const runs = async () => Number(await bed.db.admin("SELECT COUNT(*) FROM migration_runs", "app"));
        const runsBefore = await runs();
        putReleaseWithMigrations(bed, "1.1.0", ["002_notes_author"]);
        // steady load: 4 clients, each writing a note and reading it back, until the deploy is done
        const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
        const failures: string[] = [];
        const versions = new Map<string, number>();
        let running = true;
        const client = async (n: number) => {
          for (let i = 0; running; i++) {
            try {
              const written = await call(port, "POST", "/notes", `load ${n}.${i}`, agent);
              if (written.status !== 201) throw new Error(`POST ${written.status} ${written.body.slice(0, 100)}`);
              const { id, version } = JSON.parse(written.body);
              const read = await call(port, "GET", `/notes/${id}`, undefined, agent);
              if (read.status !== 200) throw new Error(`GET ${read.status} ${read.body.slice(0, 100)}`);
              versions.set(version, (versions.get(version) ?? 0) + 1);
            } catch (error) {
              failures.push(`${bed.engine}: ${(error as Error).message}`);
            }
          }
        };
        const clients = [0, 1, 2, 3].map(client);
        await sleep(200);
        const deploy = await bed.deploy("1.1.0");
        await sleep(200);
        running = false;
        await Promise.all(clients);
        agent.destroy();
        expect(deploy.output).toContain("migrate: applied 002_notes_author");
        // 001 is not applied again: the migrations table remembers it
        expect(deploy.output).toContain("migrate: release 1.1.0: 1 applied, 1 already there");
        expect(deploy.output).toContain(`done: ${PROCESSES} processes run 1.1.0`);
        expect(deploy.code).toBe(0);
        const served = [...versions.values()].reduce((a, b) => a + b, 0);
        console.log(
          `deploy 1.0.0 -> 1.1.0 with a migration, ${bed.engine}: ${served} write+read pairs through nginx during it, ${failures.length} failed`,
        );
        expect(failures).toEqual([]);
        expect(versions.get("1.0.0")).toBeGreaterThan(0);
        expect(versions.get("1.1.0")).toBeGreaterThan(0);
        expect(
          await bed.db.admin(
            "SELECT id, release FROM schema_migrations ORDER BY id".replace(
              "release",
              bed.engine === "postgres" ? "release" : "`release`",
            ),
            "app",
          ),
        ).toBe("001_create_notes\t1.0.0\n002_notes_author\t1.1.0");
        // one run for the deploy, however many processes it moved
        expect(await runs()).toBe(runsBefore + 1);
        // the column is there, and rows written by either release have it
        expect(await bed.db.admin("SELECT COUNT(*) FROM notes WHERE author = 'anonymous'", "app")).toMatch(
          /^[1-9]\d*$/,
        );
      }),
    STEP_TIMEOUT_MS,
  );

  test("a query waits at most 3 s for a free connection of the pool, on MariaDB as on PostgreSQL, and the pool serves again once connections free up (review BA: mysql2 waited without a limit)", () =>
    onEach(async (bed) => {
      const postgres = bed.engine === "postgres";
      const slow = postgres ? "SELECT pg_sleep(8)" : "SELECT SLEEP(8)";
      const stdout = await inRelease(bed, [
        'const { Database, settingsFromEnv } = require("./db");',
        "const db = new Database(settingsFromEnv(process.env), () => {}, { queryTimeoutMs: 20000 });",
        "(async () => {",
        '  await db.query("SELECT 1");',
        // the pool's 5 connections held by slow queries
        `  const slow = Array.from({ length: 5 }, () => db.query(${JSON.stringify(slow)}).then(() => "ok", (e) => e.message));`,
        "  await new Promise((r) => setTimeout(r, 500));",
        "  const started = Date.now();",
        '  const sixth = await db.query("SELECT 1").then(() => "answered", (e) => "failed: " + e.message);',
        "  const ms = Date.now() - started;",
        "  const slowDone = await Promise.all(slow);",
        '  const after = await db.query("SELECT 1").then(() => "answered", (e) => e.message);',
        "  console.log(JSON.stringify({ sixth, ms, slowDone, after }));",
        "  await db.close();",
        "})();",
      ]);
      const seen = JSON.parse(stdout.trim().split("\n").at(-1)!);
      expect(seen.sixth).toMatch(/^failed: /);
      // 3 s, and well before the 8-s queries would have freed a connection (a loaded machine adds to it)
      expect(seen.ms).toBeGreaterThanOrEqual(2900);
      expect(seen.ms).toBeLessThan(7000);
      expect(seen.slowDone).toEqual(["ok", "ok", "ok", "ok", "ok"]);
      expect(seen.after).toBe("answered");
    }));

  test("a query that times out on the client's side does not hand its still-busy connection to the next query: that one answers at once (review BH)", () =>
    onEach(async (bed) => {
      const postgres = bed.engine === "postgres";
      const slow = postgres ? "SELECT pg_sleep(15)" : "SELECT SLEEP(15)";
      const stdout = await inRelease(bed, [
        'const { Database, settingsFromEnv } = require("./db");',
        "const db = new Database(settingsFromEnv(process.env), () => {}, { queryTimeoutMs: 2000 });",
        "(async () => {",
        '  await Promise.all(Array.from({ length: 5 }, () => db.query("SELECT 1")));',
        `  const slow = await Promise.all(Array.from({ length: 5 }, () => db.query(${JSON.stringify(slow)}).then(() => "ok", () => "timed out")));`,
        "  const started = Date.now();",
        '  const next = await db.query("SELECT 1").then(() => "answered", (e) => "failed: " + e.message);',
        "  console.log(JSON.stringify({ slow, next, ms: Date.now() - started }));",
        "  await db.close();",
        "})();",
      ]);
      const seen = JSON.parse(stdout.trim().split("\n").at(-1)!);
      expect(seen.slow).toEqual(Array(5).fill("timed out"));
      expect(seen.next).toBe("answered");
      // not behind the 15-s statements (a loaded machine adds to a new connection's time)
      expect(seen.ms).toBeLessThan(5000);
    }));

  test(
    "a migration behind another session's transaction on its table waits 3 s at a time, giving the lock back between tries, then applies (review BA: its ALTER held every query of the table for as long)",
    () =>
      onEach(async (bed) => {
        const postgres = bed.engine === "postgres";
        putReleaseWithMigrations(bed, "1.2.0", ["002_notes_author", "003_notes_score"]);
        // another session reads the table in a transaction it keeps open (a report, a dump) until
        // the migration's ALTER has waited on it and given up once (3 s)
        const deploy = await holdWhileWaitedOn(
          bed,
          (sleep) =>
            postgres
              ? `BEGIN; SELECT COUNT(*) FROM notes; ${sleep}; COMMIT;`
              : `START TRANSACTION; SELECT COUNT(*) FROM notes; ${sleep}; COMMIT;`,
          "ALTER TABLE notes ADD COLUMN score%",
          3500,
          () => bed.deploy("1.2.0"),
        );
        expect(deploy.output).toContain("migrate: 003_notes_score: a table's lock is held by another session");
        expect(deploy.output).toContain("migrate: applied 003_notes_score");
        expect(deploy.code).toBe(0);
        expect(await bed.db.admin("SELECT COUNT(*) FROM notes WHERE score = 0", "app")).toMatch(/^\d+$/);
      }),
    STEP_TIMEOUT_MS,
  );

  test(
    "a migration's record waits for its table as long as it must, on MySQL where the migration has committed: never the migration run again (review BH)",
    () =>
      onEach(async (bed) => {
        const postgres = bed.engine === "postgres";
        putReleaseWithMigrations(bed, "1.3.0", ["002_notes_author", "003_notes_score", "004_notes_rank"]);
        // the migrations' own table held by another session (a dump's lock, say) until the record
        // of 004 has waited on it longer than a migration's statement may (3 s)
        const deploy = await holdWhileWaitedOn(
          bed,
          (sleep) =>
            postgres
              ? `BEGIN; LOCK TABLE schema_migrations IN SHARE MODE; ${sleep}; COMMIT;`
              : `LOCK TABLES schema_migrations READ; ${sleep}; UNLOCK TABLES;`,
          "INSERT INTO schema_migrations%",
          4000,
          () => bed.deploy("1.3.0"),
        );
        expect(deploy.output).toContain("migrate: applied 004_notes_rank");
        expect(deploy.output).not.toContain("Duplicate column");
        expect(deploy.code).toBe(0);
        expect(await bed.db.admin("SELECT COUNT(*) FROM schema_migrations WHERE id = '004_notes_rank'", "app")).toBe(
          "1",
        );
      }),
    STEP_TIMEOUT_MS,
  );

  test("a pool whose every connection is taken is reported as saturated (503), not as an unreachable database (500) (review BA)", () =>
    onEach(async (bed) => {
      const postgres = bed.engine === "postgres";
      const lock = await heldBy(bed, (sleep) =>
        postgres
          ? `BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE; ${sleep}; COMMIT;`
          : `LOCK TABLES notes WRITE; ${sleep}; UNLOCK TABLES;`,
      );
      // one process's five connections taken by writes waiting behind the lock, more queued
      const port = bed.bed.host.appPorts[0];
      const writes = Array.from({ length: 8 }, (_, i) =>
        call(port, "POST", "/notes", `saturate ${bed.engine} ${i}`).catch(() => undefined),
      );
      await sleep(1500);
      const health = await call(port, "GET", "/healthz/db");
      expect({ status: health.status, database: JSON.parse(health.body).database }).toEqual({
        status: 503,
        database: "saturated",
      });
      await lock.release();
      await lock.session.catch(() => undefined);
      await Promise.all(writes);
      await waitUntil(
        "the database ok again",
        async () => (await call(port, "GET", "/healthz/db")).status === 200,
        30_000,
      );
    }));

  test(
    "the database restarts: writes fail fast, /healthz stays 200 through nginx and says so, then the app recovers with no deploy or restart",
    () =>
      onEach(async (bed) => {
        const port = bed.bed.nginxPort;
        const pids = await Promise.all(
          bed.bed.host.appPorts.map(async (p) => JSON.parse((await call(p, "GET", "/")).body).pid),
        );
        await bed.db.stopServer();
        // writes fail fast, with 500: not a status nginx reads as the process failing (502-504), so
        // however many fail, nginx keeps every process in rotation and its /healthz answers
        const stopped = Date.now();
        // (fast: the quickest under 4 s, on this worker's clock, which on a loaded machine also
        // counts moments the worker was too busy to read an answer)
        const took: number[] = [];
        for (let i = 0; i < 3 * PROCESSES; i++) {
          const down = await call(port, "POST", "/notes", "while the database is down");
          expect([down.status, JSON.parse(down.body).error]).toEqual([500, "database unavailable"]);
          took.push(down.ms);
        }
        expect(Math.min(...took)).toBeLessThan(4000);
        // /healthz asks the database at most once a second: "unreachable" within that, and 200 throughout
        let health = { status: "", database: "" };
        while (health.database !== "unreachable" && Date.now() - stopped < 15_000) {
          const reply = await call(port, "GET", "/healthz");
          expect(reply.status).toBe(200);
          health = JSON.parse(reply.body);
          if (health.database !== "unreachable") await sleep(100);
        }
        expect(health).toMatchObject({ status: "ok", database: "unreachable" });
        // (each process asks for itself: /healthz/db may reach the other one, still within its second)
        let db = 0;
        while (db !== 500 && Date.now() - stopped < 15_000) {
          db = (await call(port, "GET", "/healthz/db")).status;
          if (db !== 500) await sleep(100);
        }
        expect(db).toBe(500);
        expect((await call(port, "GET", "/healthz")).status).toBe(200);
        await bed.db.startServer();
        const restarted = Date.now();
        let status = 0;
        while (status !== 201 && Date.now() - restarted < 10_000) {
          status = (await call(port, "POST", "/notes", "after the restart")).status;
          if (status !== 201) await sleep(100);
        }
        expect(status).toBe(201);
        console.log(`${bed.engine}: writes succeed again ${Date.now() - restarted} ms after the database is back`);
        // /healthz asks the database at most once a second: "ok" again within that
        let database = "";
        while (database !== "ok" && Date.now() - restarted < 10_000) {
          database = JSON.parse((await call(port, "GET", "/healthz")).body).database;
          if (database !== "ok") await sleep(100);
        }
        expect(database).toBe("ok");
        const after = await Promise.all(
          bed.bed.host.appPorts.map(async (p) => JSON.parse((await call(p, "GET", "/")).body).pid),
        );
        expect(after).toEqual(pids);
      }),
    STEP_TIMEOUT_MS,
  );

  test(
    "a database server that a signal ended is still stopped at once: its folder removed, its port given back (review DB)",
    async () => {
      const db = await RealDatabase.start("mariadb", (port) => drillDatabase("mariadb", port));
      // as the OOM killer ends it: its exit code stays null, and the stop once waited for an 'exit' already gone
      const pid = Number(fs.readFileSync(path.join(db.dir, "mysqld.pid"), "utf8"));
      process.kill(pid, "SIGKILL");
      // gone, and reaped by this worker: its 'exit' has been emitted
      await waitUntil("the server has ended", () => !isRunning(pid), 10_000);
      const stopped = await Promise.race([db.stop().then(() => "stopped"), sleep(10_000).then(() => "still waiting")]);
      expect(stopped).toBe("stopped");
      expect(fs.existsSync(db.dir)).toBe(false);
      expect(fs.existsSync(path.join(PORT_CLAIMS, String(db.port)))).toBe(false);
    },
    STEP_TIMEOUT_MS,
  );
});

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathOf } from "../../src/on-path";
import { PROJECT_ROOT } from "../../src/project-root";
import type { LocalDatabase } from "../../src/userdata/app-host";
import { mariadbAppCnf, PG_APP_CONF, postgresAppConf, postgresHba } from "../../src/userdata/local-database";
import type { ServerCertificate } from "./certificates";
import { onWorkerExit } from "../worker-exit";
import { freePort, publishStaged, releasePorts, run } from "./testbed";

/**
 * Real PostgreSQL and MariaDB servers for the integration tests, from Debian's packages, each on
 * 127.0.0.1 with a temporary data folder and a free port, configured with the files the single
 * server's boot script writes (`src/userdata/local-database.ts`). Servers refuse to run as root
 * (PostgreSQL always, MariaDB unless told): run as root, as in a CI container, they run as the
 * unprivileged user `nobody` (spawned with its uid), in a folder it owns under /tmp, or in the
 * tmpfs the test run uses (the test run's own temporary folder is private to root). Every server
 * is stopped by `stop()`, and killed by an exit hook should the test runner die first.
 */

export type DrillEngine = LocalDatabase["engine"];

/** Initialized data folders, one per engine and server version (see `fromTemplate`). */
const TEMPLATE_CACHE = path.join(PROJECT_ROOT, "node_modules", ".cache", "db-drill-templates");

/** What only a test server needs of MariaDB: small, and no durability. */
const MARIADB_TEST_SETTINGS = [
  "innodb_buffer_pool_size = 16M",
  "innodb_log_file_size = 8M",
  "innodb_flush_log_at_trx_commit = 0",
  "innodb_doublewrite = 0",
];

/** The newest PostgreSQL server binaries Debian installed (not on PATH: /usr/lib/postgresql/<major>/bin). */
function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const majors = fs
    .readdirSync(root)
    .filter((major) => fs.existsSync(path.join(root, major, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length > 0 ? path.join(root, majors[0], "bin") : undefined;
}

/** A program on PATH, or in the sbin folders a non-root PATH leaves out (Debian's mariadbd); else undefined. */
function program(name: string): string | undefined {
  const found = pathOf(name);
  if (found) return found;
  return ["/usr/sbin", "/usr/local/sbin", "/sbin"]
    .map((dir) => path.join(dir, name))
    .find((file) => fs.existsSync(file));
}

/** Why `engine` cannot run here, or undefined when its server and client tools are installed. */
export function engineMissing(engine: DrillEngine): string | undefined {
  const tools =
    engine === "postgres"
      ? ["psql", "pg_dump", "pg_restore", "pg_isready"]
      : ["mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump"];
  if (engine === "postgres" && !postgresBin())
    return "PostgreSQL's server is not installed (apt-get install postgresql)";
  const missing = tools.filter((tool) => !program(tool));
  if (missing.length > 0) {
    return `${missing.join(", ")} not found (apt-get install ${engine === "postgres" ? "postgresql" : "mariadb-server"})`;
  }
  if (process.getuid?.() === 0 && spawnSync("id", ["nobody"]).status !== 0)
    return "no unprivileged user nobody to run it as";
  return undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const { runFolderTag } = require("../tmpfs") as { runFolderTag: () => string };

/** One database server the test owns. */
export class RealDatabase {
  private server?: ChildProcess;
  /** Resolves once the server process has ended (by its own exit or a signal). */
  private serverEnded?: Promise<void>;
  private ended = false;
  /**
   * Takes back the hook that stops the server and removes its folder if the worker exits first
   * (`onWorkerExit`: a Ctrl-C, jest's SIGTERM; mariadbd ignores the SIGINT a Ctrl-C sends it).
   */
  private offExit?: () => void;

  private constructor(
    public readonly engine: DrillEngine,
    /** Its folder: data, socket, logs. */
    public readonly dir: string,
    public readonly port: number,
    /** What the boot script knows of it (name, user, port). */
    public readonly local: LocalDatabase,
    /** The server also takes TLS connections with this certificate (as RDS does). @default - none */
    private readonly tls?: ServerCertificate,
  ) {}

  /** Initializes and starts a server for `local` (whose port is the server's). */
  static async start(
    engine: DrillEngine,
    local: (port: number) => LocalDatabase,
    tls?: ServerCertificate,
  ): Promise<RealDatabase> {
    // not under the run's TMPDIR, which only root may enter (the server runs as nobody): in the
    // tmpfs the run uses, if it uses one (global-setup.js), else in /tmp
    // (named after the run's folder, so that the run's end finds what a killed worker left of it)
    const dir = fs.mkdtempSync(
      path.join(process.env.TEST_TMPFS_ROOT || "/tmp", `db-drill-${engine}-${runFolderTag()}-`),
    );
    const port = await freePort();
    const db = new RealDatabase(engine, dir, port, local(port), tls);
    try {
      if (process.getuid?.() === 0) fs.chownSync(dir, uidOf("nobody"), 0);
      if (tls) {
        db.writeOwned(path.join(dir, "server.pem"), tls.cert);
        db.writeOwned(path.join(dir, "server.key"), tls.key);
      }
      await (engine === "postgres" ? db.initPostgres() : db.initMariadb());
      await db.startServer();
      return db;
    } catch (error) {
      await db.stop();
      throw error;
    }
  }

  /** The server's environment: its own folder as TMPDIR (the test run's is private to root). */
  private get serverEnv(): NodeJS.ProcessEnv {
    return { ...process.env, TMPDIR: this.dir };
  }

  /**
   * Run as root, the server's processes run as `nobody` instead (spawned with its uid and gid:
   * the child is the server itself, so signals reach it). Otherwise as the current user.
   */
  private get serverUser(): { uid?: number; gid?: number } {
    return process.getuid?.() === 0 ? { uid: uidOf("nobody"), gid: gidOf("nobody") } : {};
  }

  private writeOwned(file: string, content: string): void {
    fs.writeFileSync(file, content, { mode: 0o600 });
    if (process.getuid?.() === 0) fs.chownSync(file, uidOf("nobody"), 0);
  }

  /**
   * A freshly initialized data folder at `data`: a copy of the one `init` made for this server
   * version before (kept under node_modules/.cache/, like the project's other caches), or made
   * now and kept. Initializing (initdb, mariadb-install-db) is most of a server's start; a copy
   * of its result is the same server, untouched: the test's own settings are written afterwards.
   */
  private async fromTemplate(data: string, server: string, init: (target: string) => Promise<unknown>): Promise<void> {
    const version = spawnSync(server, ["--version"], { encoding: "utf8" }).stdout.trim();
    const key = `${this.engine}-${createHash("sha256")
      .update(`${version}\n${MARIADB_TEST_SETTINGS.join("\n")}`)
      .digest("hex")
      .slice(0, 16)}`;
    const template = path.join(TEMPLATE_CACHE, key, process.getuid?.() === 0 ? "nobody" : "user");
    if (!fs.existsSync(template)) {
      await init(data);
      fs.mkdirSync(path.dirname(template), { recursive: true });
      const staging = `${template}.${process.pid}`;
      await run("cp", ["-a", data, staging]);
      publishStaged(staging, template); // another test file may have made it first
      return;
    }
    await run("cp", ["-a", template, data]);
  }

  private async initPostgres(): Promise<void> {
    const bin = postgresBin()!;
    const data = path.join(this.dir, "data");
    // The superuser is `postgres`, as on the server; -N: no fsync, a test cluster.
    await this.fromTemplate(data, path.join(bin, "postgres"), (target) =>
      run(path.join(bin, "initdb"), ["-D", target, "-U", "postgres", "-A", "trust", "-N", "--no-instructions"], {
        env: this.serverEnv,
        ...this.serverUser,
      }),
    );
    fs.mkdirSync(path.join(this.dir, "socket"), { mode: 0o700 });
    if (process.getuid?.() === 0) fs.chownSync(path.join(this.dir, "socket"), uidOf("nobody"), 0);
    // The boot script's files, as it writes them: app.conf included from postgresql.conf, pg_hba.conf whole.
    this.writeOwned(path.join(data, PG_APP_CONF), postgresAppConf(this.local));
    fs.appendFileSync(path.join(data, "postgresql.conf"), `include_if_exists = '${PG_APP_CONF}'\n`);
    // The one change: the superuser comes in through the socket without a password (trust) instead of
    // as the OS user postgres (peer), which does not exist here. The app's lines are as rendered.
    this.writeOwned(
      path.join(data, "pg_hba.conf"),
      postgresHba(this.local).replace(/^local\s+all\s+postgres\s+peer$/m, "local all postgres trust"),
    );
  }

  private async initMariadb(): Promise<void> {
    const data = path.join(this.dir, "data");
    await this.fromTemplate(data, program("mariadbd")!, (target) =>
      run(
        program("mariadb-install-db")!,
        [
          "--no-defaults",
          `--datadir=${target}`,
          "--auth-root-authentication-method=normal",
          "--skip-test-db",
          // passed on to the server that creates the system tables: a small redo log is a quick one
          ...MARIADB_TEST_SETTINGS.map((setting) => `--${setting.replace(/ = /, "=").replaceAll("_", "-")}`),
        ],
        { env: this.serverEnv, ...this.serverUser },
      ),
    );
    // The boot script's drop-in, then what only a test server needs: its folder, and no durability.
    this.writeOwned(
      path.join(this.dir, "my.cnf"),
      [
        mariadbAppCnf(this.local),
        "[mysqld]",
        `datadir = ${data}`,
        `socket = ${path.join(this.dir, "mysqld.sock")}`,
        `pid-file = ${path.join(this.dir, "mysqld.pid")}`,
        `tmpdir = ${this.dir}`,
        ...(this.tls
          ? [`ssl_cert = ${path.join(this.dir, "server.pem")}`, `ssl_key = ${path.join(this.dir, "server.key")}`]
          : []),
        "skip-log-bin",
        ...MARIADB_TEST_SETTINGS,
        "",
      ].join("\n"),
    );
  }

  /** Starts the server and waits until it accepts connections. */
  async startServer(): Promise<void> {
    this.offExit ??= onWorkerExit(() => {
      this.server?.kill("SIGKILL");
      fs.rmSync(this.dir, { recursive: true, force: true });
      releasePorts([this.port]);
    });
    const log = fs.openSync(path.join(this.dir, "server.log"), "a");
    const [command, args]: [string, string[]] =
      this.engine === "postgres"
        ? [
            path.join(postgresBin()!, "postgres"),
            [
              "-D",
              path.join(this.dir, "data"),
              "-k",
              path.join(this.dir, "socket"),
              "-c",
              "fsync=off",
              "-c",
              "synchronous_commit=off",
              "-c",
              "full_page_writes=off",
              ...(this.tls
                ? ["-c", "ssl=on", "-c", `ssl_cert_file=${path.join(this.dir, "server.pem")}`].concat([
                    "-c",
                    `ssl_key_file=${path.join(this.dir, "server.key")}`,
                  ])
                : []),
            ],
          ]
        : [program("mariadbd")!, [`--defaults-file=${path.join(this.dir, "my.cnf")}`]];
    const server = spawn(command, args, { stdio: ["ignore", log, log], env: this.serverEnv, ...this.serverUser });
    this.server = server;
    this.ended = false;
    // (exitCode stays null for a process a signal ended: its 'exit' is what tells)
    this.serverEnded = new Promise<void>((resolve) =>
      server.once("exit", () => {
        this.ended = true;
        resolve();
      }),
    );
    fs.closeSync(log);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await this.admin("SELECT 1");
        return;
      } catch (error) {
        if (this.ended || Date.now() > deadline) {
          throw new Error(`${this.engine} did not start: ${(error as Error).message}\n${this.log()}`);
        }
        await sleep(50);
      }
    }
  }

  /** Stops the server (a fast shutdown) and waits until it has exited. */
  async stopServer(): Promise<void> {
    const server = this.server;
    if (!server || this.ended) return;
    // SIGINT is PostgreSQL's fast shutdown; SIGTERM MariaDB's normal one.
    server.kill(this.engine === "postgres" ? "SIGINT" : "SIGTERM");
    const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
    await this.serverEnded;
    clearTimeout(timer);
  }

  /**
   * The superuser's client, as `DB_ADMIN` hands it to db-provision (which gives it SQL on
   * standard input): over the socket for PostgreSQL, over loopback TCP for MariaDB's root.
   */
  adminCommand(): string {
    return this.engine === "postgres"
      ? `psql -X -q -v ON_ERROR_STOP=1 -h ${path.join(this.dir, "socket")} -p ${this.port} -U postgres -d postgres`
      : `mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P ${this.port} -u root`;
  }

  /** Runs SQL as the superuser (in database `database`); resolves to the rows, tab-separated. */
  async admin(sql: string, database?: string): Promise<string> {
    const [command, args] =
      this.engine === "postgres"
        ? [
            "psql",
            ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", path.join(this.dir, "socket"), "-p", String(this.port)].concat([
              "-U",
              "postgres",
              "-d",
              database ?? "postgres",
              "-A",
              "-t",
              "-F",
              "\t",
            ]),
          ]
        : [
            "mariadb",
            [
              "--no-defaults",
              "--protocol=TCP",
              "-h",
              "127.0.0.1",
              "-P",
              String(this.port),
              "-u",
              "root",
              "-N",
              "-B",
            ].concat(database ? [database] : []),
          ];
    const result = await run(command, args, { input: sql, env: { ...process.env, PGCONNECT_TIMEOUT: "2" } });
    return result.stdout.trim();
  }

  log(): string {
    const file = path.join(this.dir, "server.log");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").slice(-2000) : "";
  }

  /** Stops the server, removes its folder and gives its port back. */
  async stop(): Promise<void> {
    try {
      await this.stopServer();
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
      releasePorts([this.port]);
      this.offExit?.();
    }
  }
}

function uidOf(user: string): number {
  return Number(spawnSync("id", ["-u", user], { encoding: "utf8" }).stdout.trim());
}

function gidOf(user: string): number {
  return Number(spawnSync("id", ["-g", user], { encoding: "utf8" }).stdout.trim());
}

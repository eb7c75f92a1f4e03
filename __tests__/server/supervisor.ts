import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * A stand-in for systemd running the `app@<port>` units, for the test bed (there is no systemd
 * here). It reads the rendered unit (`appUnit`) and follows what systemd documents for it:
 *
 * - start: ExecStartPre, then the process, then ExecStartPost (given `$MAINPID`), which runs to
 *   its end even if the process exits meanwhile; the unit is active when ExecStartPost succeeds
 *   and the process still runs. Otherwise the start fails: the process is stopped (SIGTERM, no
 *   ExecStop) and restarted after RestartSec.
 * - stop: ExecStop if the unit is active, then SIGTERM and a wait for the exit (SIGKILL after
 *   TimeoutStopSec), then ExecStopPost; no restart.
 * - a process that exits on its own while active: ExecStop runs only if it exited cleanly (status
 *   0, or SIGHUP, SIGINT, SIGTERM or SIGPIPE: systemd's service.c skips it for a failure), then
 *   ExecStopPost always, both given how it ended (`$EXIT_CODE`, `$EXIT_STATUS`,
 *   `$SERVICE_RESULT`); the unit restarts after RestartSec (Restart=always). ExecStopPost also
 *   runs after a failed start.
 * - `Environment=`, then `EnvironmentFile=` (read at every start, as systemd does; a missing file
 *   with the `-` prefix is skipped; only plain `NAME=value` lines), `StateDirectory=`/`CacheDirectory=` (created here, passed as
 *   `$STATE_DIRECTORY`/`$CACHE_DIRECTORY`), and, when asked to and where the kernel lets us,
 *   `ProtectSystem=strict`: the process runs in its own mount namespace where the root file system
 *   is read-only except those directories and `ReadWritePaths=`, and so is the mount the app's
 *   files are on when it is another (the test run's tmpfs, /dev/shm: a server's app is on its
 *   root file system). Other mounts stay as they are; `PrivateTmp` is not emulated, and /tmp, on
 *   the root file system here, is read-only too.
 *
 * Jobs on one unit run one after the other, as systemd's job queue does; a stop or restart
 * cancels a pending automatic restart. A `+`/`-` prefix on a hook is honoured as far as it matters
 * here (`-`: failure ignored); hooks run as the test's user.
 */

export interface UnitFile {
  readonly environment: Record<string, string>;
  readonly environmentFiles: string[];
  readonly startPre: string[];
  readonly startPost: string[];
  readonly stop: string[];
  readonly stopPost: string[];
  readonly restartMs: number;
  readonly stopTimeoutMs: number;
  readonly stateDirectory: boolean;
  readonly cacheDirectory: boolean;
  readonly readWritePaths: string[];
  readonly protectSystemStrict: boolean;
}

/** The settings of a rendered `app@.service` the stand-in follows, for instance `port`. */
export function parseUnit(text: string, port: number): UnitFile {
  const values = (key: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith(`${key}=`))
      .map((line) => line.slice(key.length + 1).replaceAll("%i", String(port)));
  const one = (key: string) => values(key).at(-1);
  const seconds = (value: string | undefined, fallback: number) => (value ? Number(value.replace(/s$/, "")) : fallback);
  const environment: Record<string, string> = {};
  for (const line of values("Environment")) {
    for (const pair of line.split(" ")) {
      const eq = pair.indexOf("=");
      if (eq > 0) environment[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return {
    environment,
    environmentFiles: values("EnvironmentFile"),
    startPre: values("ExecStartPre"),
    startPost: values("ExecStartPost"),
    stop: values("ExecStop"),
    stopPost: values("ExecStopPost"),
    restartMs: seconds(one("RestartSec"), 0.1) * 1000,
    stopTimeoutMs: seconds(one("TimeoutStopSec"), 90) * 1000,
    stateDirectory: values("StateDirectory").length > 0,
    cacheDirectory: values("CacheDirectory").length > 0,
    readWritePaths: values("ReadWritePaths").flatMap((line) => line.split(" ")),
    protectSystemStrict: one("ProtectSystem") === "strict",
  };
}

/** `NAME=value` lines of an environment file, as systemd's EnvironmentFile= reads the simple ones. */
export function readEnvironmentFile(file: string): Record<string, string> {
  if (!fs.existsSync(file)) return {};
  const entries = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]);
  return Object.fromEntries(entries);
}

/**
 * `unshare`'s options for a private mount namespace: as root a mount namespace, otherwise inside a
 * user namespace where this user is root.
 */
export function privateMountNamespace(): string[] {
  return [process.getuid?.() === 0 ? "-m" : "-rm", "--propagation", "private"];
}

/** The mount each resolved path is on (findmnt runs once per path, not at every start). */
const mountOfPath = new Map<string, string>();

/**
 * The mount `file` is on, by the mount table (`findmnt --target`: a bind mount of the same file
 * system is a mount of its own; of mounts stacked on one folder, that folder once), with symbolic
 * links followed.
 */
function mountPointOf(file: string): string {
  const target = fs.realpathSync(file);
  let mount = mountOfPath.get(target);
  if (mount === undefined) {
    const found = spawnSync("findmnt", ["--noheadings", "--first-only", "--output", "TARGET", "--target", target], {
      encoding: "utf8",
    });
    if (found.status !== 0) throw new Error(`findmnt could not tell the mount ${file} is on: ${found.stderr}`);
    mountOfPath.set(target, (mount = found.stdout.trim()));
  }
  return mount;
}

/**
 * The shell command that makes read-only what ProtectSystem=strict does for `file`: `/` and, when
 * it is another, the mount `file` is on.
 */
function remountReadOnly(file: string): string {
  const mount = mountPointOf(file);
  return (mount === "/" ? ["/"] : ["/", mount]).map((m) => `mount -o remount,bind,ro '${m}'`).join(" && ");
}

/** Why a process cannot get a read-only file system here, or undefined when it can. */
export function sandboxMissing(): string | undefined {
  // the root mount, and the one the test beds are on (the run's temporary folder)
  const remount = remountReadOnly(os.tmpdir());
  const probe = spawnSync("unshare", [...privateMountNamespace(), "sh", "-c", remount], { encoding: "utf8" });
  if (probe.error) return `unshare is not available (${probe.error.message})`;
  if (probe.status !== 0) return `a private read-only mount namespace is not allowed here: ${probe.stderr.trim()}`;
  return undefined;
}

export type UnitState = "inactive" | "activating" | "active" | "deactivating" | "failed";

export interface UnitContext {
  /** node and its script, as `appCommand` gives them. */
  readonly command: readonly string[];
  readonly logFile: string;
  readonly stateDir: string;
  readonly cacheDir: string;
  /** Environment of hooks (PATH with the stand-ins, APP_CTL). */
  readonly hookEnv: NodeJS.ProcessEnv;
  /** Environment added to the process's, after the unit's own. */
  readonly extraEnv: Record<string, string>;
  /** Run the process with a read-only file system when the unit asks for it. */
  readonly sandbox: boolean;
  /**
   * A file that holds the main process's pid while it runs, 0 otherwise (`systemctl show
   * --property=MainPID`), for the stand-in systemctl to answer without waiting on this process's
   * event loop. @default - none
   */
  readonly pidFile?: string;
}

/** Writes `pid` to the unit's pid file, if it has one; a folder already removed (the bed's teardown) is fine. */
function notePid(context: UnitContext, pid: number): void {
  if (!context.pidFile) return;
  try {
    fs.writeFileSync(context.pidFile, String(pid));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Runs a hook command line (no quoting in ours) and resolves with its exit code. */
function runHook(line: string, env: NodeJS.ProcessEnv, log: number, running: Set<ChildProcess>): Promise<number> {
  const ignoreFailure = /^[+!@:]*-/.test(line);
  const [file, ...args] = line.replace(/^[-+!@:]+/, "").split(" ");
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, stdio: ["ignore", log, log] });
    running.add(child);
    child.on("error", () => resolve(ignoreFailure ? 0 : 127));
    child.on("exit", (code, signal) => {
      running.delete(child);
      resolve(ignoreFailure ? 0 : (code ?? (signal ? 128 : 1)));
    });
  });
}

/** One `app@<port>` unit. */
export class Unit {
  public state: UnitState = "inactive";
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private queue: Promise<unknown> = Promise.resolve();
  private restartTimer?: NodeJS.Timeout;
  private stopping = false;
  private readonly hooks = new Set<ChildProcess>();
  private closed = false;

  constructor(
    public readonly port: number,
    private readonly unit: UnitFile,
    private readonly context: UnitContext,
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** `systemctl start`: resolves true when the unit became active. */
  start(): Promise<boolean> {
    return this.enqueue(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.doStop());
  }

  /** `systemctl restart`: resolves true when the unit became active again. */
  restart(): Promise<boolean> {
    return this.enqueue(async () => {
      await this.doStop();
      return this.doStart();
    });
  }

  /** `systemctl kill --signal=...`: signals the process; what follows is up to Restart=. */
  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /**
   * Kills everything of this unit now, without hooks (the test bed's teardown); a start under way
   * starts nothing more.
   */
  async destroy(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    for (const hook of this.hooks) hook.kill("SIGKILL");
    const exited = this.exited;
    this.child?.kill("SIGKILL");
    await exited;
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    clearTimeout(this.restartTimer);
    const next = this.queue.then(job, job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runHooks(lines: readonly string[], env: Record<string, string> = {}): Promise<boolean> {
    for (const line of lines) {
      // torn down (meanwhile): nothing more is started, or it would outlive the bed
      if (this.closed) return false;
      const log = fs.openSync(this.context.logFile, "a");
      try {
        if ((await runHook(line, { ...this.context.hookEnv, ...env }, log, this.hooks)) !== 0) return false;
      } finally {
        fs.closeSync(log);
      }
    }
    return true;
  }

  private async doStart(): Promise<boolean> {
    if (this.closed || this.state === "active" || this.child) return this.state === "active";
    this.state = "activating";
    if (!(await this.runHooks(this.unit.startPre))) {
      await this.runHooks(this.unit.stopPost, { SERVICE_RESULT: "exit-code" });
      return this.failed();
    }
    // Torn down while the hooks ran (also as the last one ended, its exit seen only after the
    // teardown): the process would outlive the bed, its folder removed.
    if (this.closed) return false;
    this.spawnProcess();
    // As systemd: ExecStartPost runs to its end even when the main process exits meanwhile (it is
    // a control process, bounded only by TimeoutStartSec), with the main process's pid in
    // $MAINPID; the start succeeds only if it succeeds and the process still runs.
    const main = this.spawnedPid();
    const ok = await this.runHooks(this.unit.startPost, { MAINPID: main === undefined ? "" : String(main) });
    if (ok && this.child) {
      this.state = "active";
      return true;
    }
    await this.signalAndWait("SIGTERM");
    await this.runHooks(this.unit.stopPost, { SERVICE_RESULT: "exit-code" });
    return this.failed();
  }

  /** The main process's pid (a method: TypeScript narrows `this.child` across the spawn). */
  private spawnedPid(): number | undefined {
    return this.child?.pid;
  }

  private failed(): false {
    this.state = "failed";
    this.scheduleRestart();
    return false;
  }

  private scheduleRestart(): void {
    if (this.closed) return;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.state = "activating";
      void this.enqueue(() => this.doStart());
    }, this.unit.restartMs);
    this.state = "activating"; // systemd shows "activating (auto-restart)"
  }

  private async doStop(): Promise<void> {
    clearTimeout(this.restartTimer);
    const running = this.child !== undefined;
    if (this.state === "active") {
      this.state = "deactivating";
      await this.runHooks(this.unit.stop);
    }
    this.state = "deactivating";
    await this.signalAndWait("SIGTERM");
    // (a unit waiting to restart after its process ended ran ExecStopPost then)
    if (running) await this.runHooks(this.unit.stopPost, { SERVICE_RESULT: "success" });
    this.state = "inactive";
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    try {
      const exited = this.exited!;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), this.unit.stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    } finally {
      this.stopping = false;
    }
  }

  private spawnProcess(): void {
    const { context, unit } = this;
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", ...unit.environment };
    for (const entry of unit.environmentFiles) {
      const file = entry.replace(/^-/, "");
      if (!entry.startsWith("-") && !fs.existsSync(file)) throw new Error(`EnvironmentFile ${file} is missing`);
      Object.assign(env, readEnvironmentFile(file));
    }
    const writable = [...unit.readWritePaths];
    if (unit.stateDirectory) {
      fs.mkdirSync(context.stateDir, { recursive: true });
      env.STATE_DIRECTORY = context.stateDir;
      writable.push(context.stateDir);
    }
    if (unit.cacheDirectory) {
      fs.mkdirSync(context.cacheDir, { recursive: true });
      env.CACHE_DIRECTORY = context.cacheDir;
      writable.push(context.cacheDir);
    }
    Object.assign(env, context.extraEnv);
    const [node, script] = context.command;
    let file = node;
    let args = [script];
    if (context.sandbox && unit.protectSystemStrict) {
      // ProtectSystem=strict: in a private mount namespace, every writable directory is bound onto
      // itself (a mount of its own), then the root mount is made read-only, and the app's own
      // mount if it is another; unshare execs, so the pid stays the app's.
      const binds = writable.map((dir) => `mount --bind '${dir}' '${dir}' && `).join("");
      file = "unshare";
      args = [
        ...privateMountNamespace(),
        "sh",
        "-c",
        `${binds}${remountReadOnly(script)} && exec "$0" "$@"`,
        node,
        script,
      ];
    }
    const log = fs.openSync(context.logFile, "a");
    const child = spawn(file, args, { cwd: path.dirname(script), env, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    this.child = child;
    notePid(context, child.pid ?? 0);
    this.exited = new Promise<void>((resolve) => {
      // how it ended, as systemd gives it to the stop commands: exited and its status, or killed and the signal
      const ended = (how: Record<string, string>) => {
        if (this.child !== child) return;
        this.child = undefined;
        notePid(context, 0);
        resolve();
        this.onExit(how);
      };
      child.once("exit", (code, signal) =>
        ended(
          signal
            ? { EXIT_CODE: "killed", EXIT_STATUS: signal.replace(/^SIG/, "") }
            : { EXIT_CODE: "exited", EXIT_STATUS: String(code) },
        ),
      );
      // a program that cannot be run (systemd's status 203/EXEC): 'error', then no 'exit'
      child.once("error", (error) => {
        fs.appendFileSync(context.logFile, `app@${this.port}: could not start: ${error.message}\n`);
        ended({ EXIT_CODE: "exited", EXIT_STATUS: "203" });
      });
    });
  }

  /**
   * The process exited: unless a job stopped it, systemd restarts it (Restart=always). Its stop
   * commands run only after a clean exit, its stop-post commands always, told how it ended
   * (`$EXIT_CODE`, `$EXIT_STATUS`, `$SERVICE_RESULT`: systemd.exec(5)).
   */
  private onExit(how: Record<string, string>): void {
    if (this.stopping || this.closed) return;
    if (this.state === "active") {
      this.state = "deactivating";
      void this.enqueue(async () => {
        const clean =
          how.EXIT_CODE === "exited"
            ? how.EXIT_STATUS === "0"
            : ["HUP", "INT", "TERM", "PIPE"].includes(how.EXIT_STATUS);
        if (clean) await this.runHooks(this.unit.stop, how);
        const result = clean ? "success" : how.EXIT_CODE === "exited" ? "exit-code" : "signal";
        await this.runHooks(this.unit.stopPost, { ...how, SERVICE_RESULT: result });
        this.failed();
      });
    }
    // While activating, doStart sees the exit and fails the start itself.
  }
}

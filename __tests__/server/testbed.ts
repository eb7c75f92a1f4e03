import { inCi } from "../ci";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { packageApp } from "../../src/artifact/package-app";
import { dependencyEntries } from "../../src/artifact/app-dependencies";
import { entriesFromDirectory } from "../../src/artifact/releases";
import type { TarEntry } from "../../src/artifact/tar";
import { isRunning } from "../../src/output-lock";
import { PROJECT_ROOT } from "../../src/project-root";
import {
  PASSIVE_HEALTH_CHECK,
  type AppDatabase,
  type AppHost,
  type PassiveHealthCheck,
  type ProxyTimeouts,
  type Rotation,
} from "../../src/userdata/app-host";
import { appCommand, appUnit } from "../../src/userdata/app-unit";
import { DEPLOY_SCRIPT, deployScript } from "../../src/userdata/deploy-script";
import { ACCESS_LOG_FIELDS, heldMarker, nginxConf, unhealthyMarker } from "../../src/userdata/nginx-conf";
import { ROTATION_SCRIPT, rotationScript } from "../../src/userdata/rotation-script";
import { get, stopAllLoads } from "./load";
import { parseUnit, Unit } from "./supervisor";
import { waitUntil } from "../wait-until";
import { cloudWatchFields } from "../cloudwatch-fields";
import { onWorkerExit } from "../worker-exit";

export { readEnvironmentFile } from "./supervisor";

export { get, request, slowUploads, steadyLoad, type LoadResult, type Reply } from "./load";

/**
 * A local stand-in for one app server: real nginx and real sample-app processes on 127.0.0.1,
 * configured by the same renderers the boot script uses, with paths under a temporary directory
 * and free loopback ports. There is no systemd here, so the test bed runs the rendered
 * `app@.service` through a stand-in for systemd (`supervisor.ts`: its hooks, Restart=always,
 * StateDirectory, optionally ProtectSystem=strict), and the deploy script and the watchdog reach
 * it through a stand-in `systemctl` (`APP_CTL`) that forwards `restart|start|stop|kill|is-active|show
 * app@<port>` to it. Every process it starts is stopped by `stop()`, and by a process exit hook
 * should the test runner die first.
 */

/** The project's root (also when the bench runs this file from a bundle under node_modules/.cache). */
export const ROOT = PROJECT_ROOT;

/** A test stand-in for the `aws` CLI, for the four calls the deploy script makes; see `publishRelease`. */
const STUB_AWS = `#!/bin/bash
# test stand-in for the AWS CLI: serves the deploy script's calls from @BUCKET@
set -euo pipefail
echo "$*" >> "@BUCKET@/calls.log"
arg() { local want=$1; shift; while (($#)); do if [[ $1 == "$want" ]]; then echo "$2"; return; fi; shift; done; }
case "$*" in
  *"ssm get-parameter"*) echo testbed-artifacts ;;
  # as the CLI's text output: the query's null is None when the key has no version
  *"s3api list-object-versions"*) if [[ -s "@BUCKET@/versions" ]]; then cut -d" " -f1 "@BUCKET@/versions" | paste -sd"\t"; else echo None; fi ;;
  *"s3api head-object"*) id=$(arg --version-id "$@"); awk -v id="$id" '$1 == id { print $2 }' "@BUCKET@/versions" ;;
  *"s3api get-object"*)
    if [[ -n \${STUB_AWS_FAIL_GET:-} ]]; then echo "An error occurred (AccessDenied) when calling the GetObject operation" >&2; exit 254; fi
    id=$(arg --version-id "$@"); cp "@BUCKET@/$id.tar.gz" "\${@: -1}"; echo '{"ChecksumSHA256": "stub"}' ;;
  *) echo "stub aws: unexpected call: $*" >&2; exit 2 ;;
esac
`;

/** Why the in-server tests cannot run here, or undefined when nginx is available. */
export function nginxMissing(): string | undefined {
  const probe = spawnSync("nginx", ["-v"], { encoding: "utf8" });
  if (probe.error) return `nginx is not installed (${probe.error.message}); .ci/run installs it: apt-get install nginx`;
  return undefined;
}

/**
 * `describe` when what the tests run is installed (`missing`, why it is not, is undefined), else
 * `describe.skip` with the reason printed; in CI (whose .ci/run installs it) a missing `program`
 * fails instead.
 */
export function describeWhenInstalled(
  program: string,
  missing: string | undefined,
  name: string,
  body: () => void,
): void {
  if (missing) {
    console.log(`${name}: skipped: ${missing}`);
    if (inCi()) test(`${program} is installed in CI`, () => expect(missing).toBeUndefined());
  }
  (missing ? describe.skip : describe)(name, body);
}

/** `describe` when nginx is installed (`describeWhenInstalled`). */
export function describeWithNginx(name: string, body: () => void): void {
  describeWhenInstalled("nginx", nginxMissing(), name, body);
}

/**
 * Steps of one scenario on one subject (a test bed), each its own `test.concurrent`, run one after
 * the other in the order declared, while other scenarios of the file run beside them. The subject
 * is set up by the first step that needs it; `cleanup` is for afterAll.
 *
 * @example
 * const bed = scenario(() => TestBed.serving(2));
 * test.concurrent("first", bed.step(async (b) => { ... }), 30_000);
 * afterAll(() => bed.cleanup((b) => b.stop()));
 */
export function scenario<T>(
  setup: () => Promise<T>,
  context?: (subject: T) => string,
  /** Run once the last step declared has run (then not again by `cleanup`). */
  afterLastStep?: (subject: T) => Promise<void>,
) {
  let chain: Promise<unknown> = Promise.resolve();
  let subject: Promise<T> | undefined;
  let declared = 0;
  let ran = 0;
  let cleaned: Promise<void> | undefined;
  const cleanOnce = (fn: (subject: T) => Promise<void>) =>
    (cleaned ??= (async () => {
      const made = await subject?.catch(() => undefined);
      if (made) await fn(made);
    })());
  return {
    step: (fn: (subject: T) => Promise<void> | void) => {
      declared++;
      return (): Promise<void> => {
        const run = chain.then(async () => {
          const made = await (subject ??= setup());
          try {
            await fn(made);
          } catch (error) {
            // What the processes, the watchdog and nginx said, under the failure.
            if (error instanceof Error && context) error.message += `\n\n${context(made)}`;
            throw error;
          } finally {
            // The last step: stop what the scenario started now, not when the file ends (a
            // watchdog would poll meanwhile). Steps a run skips (jest -t) leave it to cleanup.
            if (++ran === declared && afterLastStep) await cleanOnce(afterLastStep);
          }
        });
        chain = run.catch(() => undefined);
        return run;
      };
    },
    cleanup: async (fn: (subject: T) => Promise<void>) => {
      await chain;
      await cleanOnce(fn);
    },
  };
}

/**
 * jest's timeout for a drill, or a step of a scenario: only there to end one that hangs (every
 * wait inside is bounded on its own). It counts from when jest starts the test, and a drill waits
 * there for its bed's setup, beside the other beds of its file that start with it: on this 2-core
 * machine under two CPU hogs, drills that passed their checks took up to 82 s, and a step 46 s.
 */
export const STEP_TIMEOUT_MS = 180_000;

/** A scenario on a test bed: its logs under any failure, stopped by `stop()` in afterAll. */
export function bedScenario(setup: () => Promise<TestBed>) {
  const s = scenario(
    setup,
    (bed) => bed.logs(),
    (bed) => bed.stop(),
  );
  afterAll(async () => {
    await stopAllLoads();
    await s.cleanup((bed) => bed.stop());
  }, 30_000);
  return s.step;
}

/**
 * Rotation timings for tests, shorter than production's (ROTATION) where a test does not depend on
 * them: a process that exits is started again after 0.2 s (production: 1 s), settles in 0.2 s
 * (10 s), has 30 s to start (60 s: a loaded machine once took over 5 s to start a good
 * release; a broken one still fails at once, its exit seen), and the watchdog restarts one that misses two 1-s probes (three
 * 2-s probes). nginx's timings stay production's unless a test says otherwise.
 */
export const TEST_ROTATION: Rotation = {
  restartSeconds: 0.2,
  startTimeoutSeconds: 30,
  settleSeconds: 0.2,
  holdSeconds: 0.05,
  watchIntervalSeconds: 0.2,
  watchTimeoutSeconds: 1,
  watchFailures: 2,
  stuckSeconds: 2,
  maxRestarts: 3,
  restartWindowSeconds: 60,
  // fewer answers to decide on: the drills' load comes from a jest worker, which a busy machine
  // slows to a few requests a second (the thresholds themselves: faults.test.ts, on written lines)
  outlier: { minAnswers: 6, percent: 90, peerMinAnswers: 3, peerPercent: 10, minUnanswered: 5 },
};

/** How a test bed is set up. */
export interface TestBedOptions {
  /** An artifacts bucket (stand-in `aws` CLI) to download releases from. @default false */
  readonly bucket?: boolean;
  /** @default TEST_ROTATION */
  readonly rotation?: Partial<Rotation>;
  /** @default - production's (PROXY_TIMEOUTS) */
  readonly proxyTimeouts?: ProxyTimeouts;
  /** @default PASSIVE_HEALTH_CHECK */
  readonly passiveHealthCheck?: PassiveHealthCheck;
  /** Run the watchdog (`rotation watch`) as its systemd unit would. @default false */
  readonly watchdog?: boolean;
  /** Run the processes with the unit's read-only file system (see `sandboxMissing`). @default false */
  readonly sandbox?: boolean;
  /** Added to the app processes' environment (after the unit's). */
  readonly appEnv?: Record<string, string>;
  /** Added to the environment of the process on each port, after `appEnv` (processes unlike each other). */
  readonly appEnvOf?: (port: number, index: number) => Record<string, string>;
  /** The app's database, given the test bed's folder (for the settings file's path). @default - none */
  readonly database?: (dir: string) => AppDatabase;
}

/**
 * Loopback ports for test beds come from below the kernel's ephemeral range (32768 and up by
 * default), which it hands out for bind(0) and outgoing connections: a port chosen there and then
 * released may be taken by anyone before nginx or an app binds it. Here only explicit binds can
 * clash: other test beds (in other jest workers, the bench, the drill) claim a port with a file
 * created exclusively in PORT_CLAIMS, and a port something else listens on is skipped.
 */
const PORT_RANGE = { first: 20_000, last: 32_000 } as const;
export const PORT_CLAIMS = path.join("/tmp", "classic-servers-test-ports");

/** Whether `port` can be bound on 127.0.0.1 now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Claims a free loopback port for this process (released by `releasePorts`, or when it dies). */
export async function freePort(): Promise<number> {
  fs.mkdirSync(PORT_CLAIMS, { recursive: true });
  sweepPortClaims();
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = PORT_RANGE.first + Math.floor(Math.random() * (PORT_RANGE.last - PORT_RANGE.first));
    const claim = path.join(PORT_CLAIMS, String(port));
    try {
      fs.writeFileSync(claim, String(process.pid), { flag: "wx" });
    } catch {
      // Claimed: by a live process, or left behind by one that died (then reclaimed). An empty
      // claim is one its owner is writing this moment (review DC: taken for dead, it was removed,
      // and two beds could get the port); one still empty after a minute, a writer that died.
      let owner = 0;
      let age = 0;
      try {
        owner = Number(fs.readFileSync(claim, "utf8") || 0);
        age = Date.now() - fs.statSync(claim).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (owner ? isRunning(owner) : age < 60_000) continue;
      fs.rmSync(claim, { force: true });
      continue;
    }
    if (await bindable(port)) return port;
    fs.rmSync(claim, { force: true });
  }
  throw new Error(`no free loopback port in ${PORT_RANGE.first}-${PORT_RANGE.last}`);
}

let portClaimsSwept = false;

/**
 * Once per test file (each loads its own modules): removes the claims of processes that no longer
 * run (a worker killed, or a drill that never gave its ports back), which otherwise stay in /tmp
 * for as long as the machine does (3,400 of them here, review DB). A claim still empty (its owner
 * is writing it) is left.
 */
function sweepPortClaims(): void {
  if (portClaimsSwept) return;
  portClaimsSwept = true;
  for (const name of fs.readdirSync(PORT_CLAIMS)) {
    const claim = path.join(PORT_CLAIMS, name);
    let owner = 0;
    try {
      owner = Number(fs.readFileSync(claim, "utf8"));
    } catch {
      continue; // removed meanwhile
    }
    if (Number.isInteger(owner) && owner > 0 && !isRunning(owner)) fs.rmSync(claim, { force: true });
  }
}

/** Gives claimed ports back. */
export function releasePorts(ports: readonly number[]): void {
  for (const port of ports) fs.rmSync(path.join(PORT_CLAIMS, String(port)), { force: true });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An access-log line's `rt=`: nginx's whole time on the request, in seconds. */
export function requestTimeOf(line: string): number {
  return Number(/ rt=([\d.]+) /.exec(line)?.[1] ?? NaN);
}

/**
 * An access-log line's response time as the latency alarms' metric filter reads it: the field
 * ACCESS_LOG_FIELDS names `latency`, as CloudWatch splits the line; NaN where it is no number.
 */
export function responseTimeOf(line: string): number {
  const field = cloudWatchFields(line)[ACCESS_LOG_FIELDS.indexOf("latency")] ?? "";
  return /^\d+(\.\d+)?$/.test(field) ? Number(field) : NaN;
}

/** Release folders shared by the test beds of a run (jest points TMPDIR at a folder of the run). */
const RELEASES = path.join(os.tmpdir(), "classic-servers-test-releases");

/** The app's files (not its installed node_modules) as one hash, read once per process. */
let appSourceHash: string | undefined;
function appSourceKey(): string {
  if (appSourceHash) return appSourceHash;
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name === "node_modules") continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else hash.update(`${path.relative(ROOT, file)}\0`).update(fs.readFileSync(file));
    }
  };
  walk(path.join(ROOT, "app"));
  return (appSourceHash = hash.digest("hex"));
}

/** The sample app's own files for a release of `version`, with `serverJs` as its server.js (see `releaseTree`). */
function sampleAppFiles(version: string, serverJs: string): TarEntry[] {
  return entriesFromDirectory(path.join(ROOT, "app")).map((entry): TarEntry => {
    if (entry.path === "server.js") return { ...entry, content: Buffer.from(serverJs) };
    if (entry.path !== "package.json") return entry;
    const manifest = JSON.parse(Buffer.from(entry.content ?? new Uint8Array()).toString("utf8"));
    return { ...entry, content: Buffer.from(JSON.stringify({ ...manifest, version }, null, 2)) };
  });
}

/** Writes `entries` under `dir` as tar unpacks them: modes 0644/0755, files' modification time 0. */
function writeEntries(entries: readonly TarEntry[], dir: string): void {
  for (const entry of [...entries].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const full = path.join(dir, entry.path);
    if (entry.type === "directory") fs.mkdirSync(full);
    else fs.writeFileSync(full, entry.content ?? new Uint8Array());
    fs.chmodSync(full, entry.type === "directory" || entry.executable ? 0o755 : 0o644);
    if (entry.type === "file") fs.utimesSync(full, 0, 0);
  }
}

/** Renames `staged` to `target`, unless another worker made the same content first (theirs is identical). */
export function publishStaged(staged: string, target: string): void {
  try {
    fs.renameSync(staged, target);
  } catch (error) {
    if (!fs.existsSync(target)) throw error;
    fs.rmSync(staged, { recursive: true, force: true });
  }
}

/**
 * The folder `name` under RELEASES, filled by `fill` in a staging folder the first time any
 * worker of the run asks for it (its name is a key of everything `fill` writes).
 */
async function sharedFolder(name: string, fill: (staged: string) => void | Promise<void>): Promise<string> {
  const folder = path.join(RELEASES, name);
  if (fs.existsSync(folder)) return folder;
  fs.mkdirSync(RELEASES, { recursive: true });
  const staged = fs.mkdtempSync(`${folder}.`);
  await fill(staged);
  publishStaged(staged, folder);
  return folder;
}

/**
 * The folder of a release of the sample app with `version` (and `server.js` edited by `edit`), as
 * `tar -xzf` leaves the tarball `packageApp` packs of it: the same entries (the app's files and the
 * dependencies its lock pins), modes 0644/0755 and files' modification time 0 (in-server.test
 * checks the two are the same). Written, not packed and unpacked: gzip at level 9 in JavaScript
 * takes 0.1-0.2 s of this worker's event loop per release, which the drills beside it need. The
 * dependencies (500 files, the same for every release of this app source) are written once per
 * run and hard-linked in by `cp` beside the event loop; each release's content is written once
 * per run (keyed by it) and hard-linked into every bed.
 */
export async function releaseTree(version: string, edit?: (serverJs: string) => string): Promise<string> {
  const serverJs = fs.readFileSync(path.join(ROOT, "app/server.js"), "utf8");
  const edited = edit ? edit(serverJs) : serverJs;
  // before the lookup: an edit that no longer applies would find the unedited release's folder
  if (edit && edited === serverJs) throw new Error(`could not edit the sample app for ${version}`);
  const key = createHash("sha256").update(`${appSourceKey()}\0${version}\0${edited}`).digest("hex").slice(0, 24);
  return sharedFolder(key, async (staged) => {
    const files = sampleAppFiles(version, edited);
    const dependencies = await sharedFolder(`dependencies-${appSourceKey().slice(0, 24)}`, (deps) =>
      writeEntries(dependencyEntries(files), deps),
    );
    writeEntries(files, staged);
    if (fs.existsSync(path.join(dependencies, "node_modules"))) {
      await run("cp", ["-al", path.join(dependencies, "node_modules"), staged]);
    }
  });
}

/** Waits for `exited`; after `ms` calls `force` once and keeps waiting. Leaves no timer behind. */
async function escalate(exited: Promise<void>, ms: number, force: () => void): Promise<void> {
  const timer = setTimeout(force, ms);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command to completion; rejects with its output when it fails. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; uid?: number; gid?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    // A command that exits before reading its input (a client that cannot connect) is no crash.
    child.stdin.on("error", () => {});
    child.on("close", (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${stdout}${stderr}`));
    });
    child.stdin.end(options.input ?? "");
  });
}

/**
 * Resolves once something accepts TCP connections on the port; rejects after `timeoutMs`, by
 * default far above how long nginx or a node process takes to start on a loaded machine.
 */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface DeployRun {
  readonly code: number | null;
  readonly output: string;
}

export class TestBed {
  /** The server's settings its files were rendered from (`setRotation` changes its timings). */
  get host(): AppHost {
    return this.currentHost;
  }
  private currentHost: AppHost;
  public readonly nginxPort: number;
  private readonly units = new Map<number, Unit>();
  private nginx?: ChildProcess;
  private watchdog?: ChildProcess;
  private control?: http.Server;
  /** Takes back the hook that kills this bed's processes if its worker exits first (`onWorkerExit`). */
  private offExit?: () => void;

  private constructor(
    public readonly dir: string,
    host: AppHost,
    private readonly controlPort: number,
    private readonly options: TestBedOptions,
  ) {
    this.currentHost = host;
    this.nginxPort = host.listenPort;
  }

  /** Renders the server's files for `processes` app processes under a new temporary directory. */
  static async create(processes: number, options: TestBedOptions = {}): Promise<TestBed> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "in-server-"));
    const ports: number[] = [];
    while (ports.length < processes + 2) ports.push(await freePort());
    const [nginxPort, controlPort, ...appPorts] = ports;
    const host: AppHost = {
      environment: "testbed",
      version: "1.0.0",
      listenAddress: "127.0.0.1",
      listenPort: nginxPort,
      healthCheckPath: "/healthz",
      appPorts,
      // nginx's workers stat the rotation markers in this (private) directory: as root, nginx would
      // run them as nobody; otherwise they run as the test's user anyway.
      nginxUser: process.getuid?.() === 0 ? os.userInfo().username : undefined,
      appUser: os.userInfo().username,
      passiveHealthCheck: options.passiveHealthCheck ?? PASSIVE_HEALTH_CHECK,
      proxyTimeouts: options.proxyTimeouts,
      rotation: { ...TEST_ROTATION, ...options.rotation },
      database: options.database?.(dir),
      artifacts: options.bucket
        ? { region: "test-1", bucketParameter: "/testbed/app/artifacts-bucket", releaseKey: "app/release.tar.gz" }
        : undefined,
      paths: {
        appRoot: path.join(dir, "app"),
        nginxConf: path.join(dir, "nginx/nginx.conf"),
        nginxPidFile: path.join(dir, "nginx/nginx.pid"),
        nginxLogDir: path.join(dir, "nginx/log"),
        nginxTempDir: path.join(dir, "nginx/tmp"),
        appLogDir: path.join(dir, "log"),
        nodeBinary: process.execPath,
        rotationDir: path.join(dir, "app/rotation"),
        appStateDir: path.join(dir, "state/app"),
      },
    };
    const bed = new TestBed(dir, host, controlPort, options);
    bed.render();
    return bed;
  }

  /**
   * A test bed serving `version` of the sample app: created, the release on disk, nginx started,
   * and the first deploy run as boot runs it (which starts every process). Stopped again if any
   * step fails.
   */
  static async serving(processes: number, options: TestBedOptions & { version?: string } = {}): Promise<TestBed> {
    const bed = await TestBed.create(processes, options);
    try {
      const version = options.version ?? "1.0.0";
      await bed.addRelease(version);
      await bed.start();
      const first = await bed.deploy(version);
      if (first.code !== 0) throw new Error(`first deploy failed:\n${first.output}\n${bed.logs()}`);
      return bed;
    } catch (error) {
      await bed.stop();
      throw error;
    }
  }

  /**
   * Rotation timings from now on: the deploy and rotation scripts written again with them, as a
   * boot script with other timings would write them. Each is put in place whole (renamed over the
   * old), so that a run under way reads on from the file it started with.
   */
  setRotation(rotation: Partial<Rotation>): void {
    this.currentHost = {
      ...this.currentHost,
      rotation: { ...TEST_ROTATION, ...this.currentHost.rotation, ...rotation },
    };
    for (const [name, text] of [
      [DEPLOY_SCRIPT, deployScript(this.host)],
      [ROTATION_SCRIPT, rotationScript(this.host)],
    ]) {
      const file = path.join(this.host.paths.appRoot, name);
      fs.writeFileSync(`${file}.new`, text, { mode: 0o755 });
      fs.renameSync(`${file}.new`, file);
    }
  }

  private render(): void {
    const { paths } = this.host;
    for (const d of [
      paths.nginxLogDir,
      paths.nginxTempDir,
      paths.appLogDir,
      `${paths.appRoot}/bin`,
      paths.rotationDir,
    ]) {
      fs.mkdirSync(d, { recursive: true });
    }
    // As the boot script does: every process is held out until it has started and settled.
    for (const port of this.host.appPorts) fs.writeFileSync(heldMarker(this.host, port), "");
    fs.writeFileSync(paths.nginxConf, nginxConf(this.host));
    fs.writeFileSync(path.join(paths.appRoot, DEPLOY_SCRIPT), deployScript(this.host), { mode: 0o755 });
    fs.writeFileSync(path.join(paths.appRoot, ROTATION_SCRIPT), rotationScript(this.host), { mode: 0o755 });
    // The stand-in for the AWS CLI (no AWS here): answers the deploy script's calls from a folder
    // of object versions and logs each call; STUB_AWS_FAIL_GET=1 makes downloads fail.
    const bin = path.join(this.dir, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "aws"), STUB_AWS.replaceAll("@BUCKET@", this.bucketDir), { mode: 0o755 });
    // The stand-in for systemctl: forwards `<verb> [--signal=S] app@<port>` to this test bed's supervisor.
    fs.writeFileSync(
      path.join(this.dir, "systemctl"),
      [
        "#!/bin/bash",
        "# test stand-in for systemctl (no systemd here): the test bed supervises the app processes;",
        "# show answers MainPID, the one property the deploy script and the watchdog ask for, from",
        "# the file the supervisor keeps (at once, whatever the jest worker's event loop is doing)",
        "verb=$1 signal=SIGTERM units=(); shift",
        'for arg; do case $arg in --signal=*) signal=${arg#--signal=} ;; --*) ;; *) units+=("$arg") ;; esac; done',
        "# The supervisor answers `<exit code> <text>`: is-active prints its state, a failure its reason.",
        "# Plain bash over /dev/tcp, no curl: a test run calls this a few hundred times.",
        "one() {",
        "  local fd out",
        `  exec {fd}<>/dev/tcp/127.0.0.1/${this.controlPort} || return 1`,
        '  printf \'POST /%s/%s?signal=%s HTTP/1.0\\r\\n\\r\\n\' "$verb" "$1" "$signal" >&"$fd"',
        '  IFS= read -r -d "" out <&"$fd"; exec {fd}>&-',
        "  out=${out##*$'\\r\\n\\r\\n'}",
        '  if [[ $verb == is-active || $verb == show ]]; then echo "${out#* }"; elif [[ ${out%% *} != 0 ]]; then echo "${out#* }" >&2; fi',
        '  return "${out%% *}"',
        "}",
        `if [[ $verb == show ]]; then pid=0; read -r pid 2>/dev/null <"${this.dir}/main-pid-\${units[0]#app@}"; echo "\${pid:-0}"; exit 0; fi`,
        "# Several units: their jobs run side by side, as systemd runs them, and every one must succeed.",
        'pids=(); for unit in "${units[@]}"; do one "$unit" & pids+=($!); done',
        'status=0; for pid in "${pids[@]}"; do wait "$pid" || status=$?; done',
        'exit "$status"',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
  }

  /** Environment of the scripts the test bed runs (deploy, hooks, watchdog): the stand-ins first on PATH. */
  private scriptEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${path.join(this.dir, "bin")}:${process.env.PATH}`,
      APP_CTL: path.join(this.dir, "systemctl"),
      ...extra,
    };
  }

  /**
   * Puts a release on disk as the deploy script leaves it after fetching and unpacking the
   * tarball (see `releaseTree`), hard-linked. That runs beside this worker's event loop, not in
   * it: a dozen beds setting up at once in one jest worker would otherwise hold up, for seconds on
   * a loaded machine, the supervisors, the stand-in systemctl's answers and the loads of the beds
   * already drilling.
   */
  async addRelease(version: string, edit?: (serverJs: string) => string): Promise<void> {
    const tree = await releaseTree(version, edit);
    const release = path.join(this.host.paths.appRoot, "releases", version);
    fs.mkdirSync(release, { recursive: true });
    // Hard links: no drill changes a release's files in place (nor does the deploy script).
    await run("cp", ["-al", `${tree}/.`, release]);
  }

  /** The stand-in bucket's folder: `versions` lists "<version-id> <app-version>", newest first. */
  get bucketDir(): string {
    return path.join(this.dir, "bucket");
  }

  /** Uploads a release as Terraform does: a new object version of the release key, newest first. */
  async publishRelease(version: string): Promise<string> {
    const file = packageApp(await releaseTree(version), path.join(this.dir, "dist", version)).file;
    fs.mkdirSync(this.bucketDir, { recursive: true });
    const versions = path.join(this.bucketDir, "versions");
    const previous = fs.existsSync(versions) ? fs.readFileSync(versions, "utf8") : "";
    const id = `v${previous.split("\n").filter(Boolean).length + 1}`;
    fs.copyFileSync(file, path.join(this.bucketDir, `${id}.tar.gz`));
    fs.writeFileSync(versions, `${id} ${version}\n${previous}`);
    return id;
  }

  /** Every `aws` command the deploy script ran, one line each. */
  awsCalls(): string[] {
    const log = path.join(this.bucketDir, "calls.log");
    return fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  }

  /** Starts nginx, the supervisor the stand-in systemctl talks to, and the watchdog if asked. */
  async start(): Promise<void> {
    this.offExit ??= onWorkerExit(() => this.killAllNow());
    const unitText = appUnit(this.host);
    const { paths } = this.host;
    for (const port of this.host.appPorts) {
      this.units.set(
        port,
        new Unit(port, parseUnit(unitText, port), {
          command: appCommand(this.host, port),
          logFile: path.join(paths.appLogDir, `${port}.log`),
          pidFile: path.join(this.dir, `main-pid-${port}`),
          stateDir: paths.appStateDir,
          cacheDir: path.join(this.dir, "cache/app"),
          hookEnv: this.scriptEnv(),
          // The app's idle-connection grace after SIGTERM, 1 s in production: 0.05 s keeps restarts
          // short (nginx no longer uses the connections: the process was held out before SIGTERM).
          extraEnv: {
            APP_IDLE_GRACE_MS: "50",
            // the sample app's drill endpoints (POST /echo, POST /files, GET /work), off on servers
            APP_DRILL_ENDPOINTS: "1",
            // The stand-in aws (the database's secret), as the real one is on a server's PATH.
            PATH: `${path.join(this.dir, "bin")}:${process.env.PATH}`,
            ...this.options.appEnv,
            ...this.options.appEnvOf?.(port, this.host.appPorts.indexOf(port)),
          },
          sandbox: this.options.sandbox ?? false,
        }),
      );
    }
    this.control = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://control");
      const match = /^\/(restart|start|stop|kill|is-active|show)\/app@(\d+)$/.exec(url.pathname);
      const unit = this.units.get(Number(match?.[2]));
      if (req.method !== "POST" || !match || !unit) {
        res.writeHead(404).end("no such unit\n");
        return;
      }
      // As systemctl's exit status: 0 when it worked, 3 for an inactive unit, 1 for a failed job.
      const answer = (ok: boolean, text: string) =>
        res.writeHead(200).end(`${ok ? 0 : match[1] === "is-active" ? 3 : 1} ${text}`);
      switch (match[1]) {
        case "is-active":
          return answer(unit.state === "active", unit.state);
        case "show": // the one property the deploy script asks: --property=MainPID --value
          return answer(true, String(unit.pid ?? 0));
        case "kill":
          unit.kill((url.searchParams.get("signal") ?? "SIGTERM") as NodeJS.Signals);
          return answer(true, "ok");
        case "stop":
          return void unit.stop().then(() => answer(true, "ok"));
        default: {
          const job = match[1] === "start" ? unit.start() : unit.restart();
          return void job.then((ok) => answer(ok, ok ? "ok" : `Job for app@${unit.port}.service failed (see its log)`));
        }
      }
    });
    await new Promise<void>((resolve) => this.control!.listen(this.controlPort, "127.0.0.1", resolve));
    this.nginx = spawn(
      "nginx",
      ["-e", path.join(paths.nginxLogDir, "startup.log"), "-c", paths.nginxConf, "-g", "daemon off;"],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    this.nginx.stderr?.on("data", (chunk) => (stderr += chunk));
    this.nginx.on("error", (error) => (stderr += `could not start nginx: ${error.message}`));
    await waitForPort(this.nginxPort).catch((error) => {
      throw new Error(`${error.message}; nginx said: ${stderr}`);
    });
    if (this.options.watchdog) {
      const log = fs.openSync(path.join(paths.appLogDir, "watchdog.log"), "a");
      this.watchdog = spawn(path.join(paths.appRoot, ROTATION_SCRIPT), ["watch"], {
        env: this.scriptEnv(),
        stdio: ["ignore", log, log],
      });
      fs.closeSync(log);
      this.watchdog.on("error", (error) =>
        fs.appendFileSync(path.join(paths.appLogDir, "watchdog.log"), `could not start: ${error.message}\n`),
      );
    }
  }

  /** Runs the deploy script as boot and SSM run it, with the stand-in systemctl. */
  deploy(version: string, env: Record<string, string> = {}): Promise<DeployRun> {
    return new Promise((resolve) => {
      const child = spawn(path.join(this.host.paths.appRoot, DEPLOY_SCRIPT), [version], { env: this.scriptEnv(env) });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      // a script that cannot be run: 'error' (unhandled, it would end the worker's test with the
      // bed still running), then 'close' with a negative code
      child.on("error", (error) => (output += `the deploy script could not start: ${error.message}\n`));
      child.on("close", (code) => resolve({ code, output }));
    });
  }

  /** The systemd stand-in's unit of `port` (`systemctl start|stop|restart|kill app@<port>`). */
  unit(port: number): Unit {
    const unit = this.units.get(port);
    if (!unit) throw new Error(`no unit app@${port} (ports: ${this.host.appPorts.join(", ")})`);
    return unit;
  }

  /** Whether nginx holds `port` out of rotation. */
  held(port: number): boolean {
    return fs.existsSync(heldMarker(this.host, port));
  }

  /** Whether the watchdog has marked the server unhealthy. */
  markedUnhealthy(): boolean {
    return fs.existsSync(unhealthyMarker(this.host));
  }

  /**
   * Why the watchdog marked the server unhealthy, as its marker says ("" while unmarked, or while the
   * watchdog is still writing it: wait for this, not for `markedUnhealthy`, to read the reason; its
   * log line comes only after the marker).
   */
  unhealthyReason(): string {
    try {
      return fs.readFileSync(unhealthyMarker(this.host), "utf8").trim();
    } catch {
      return "";
    }
  }

  /** Resolves once `condition` holds (polled every 20 ms); rejects after `timeoutMs` saying `what`. */
  waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
    return waitUntil(what, condition, timeoutMs, () => this.logs());
  }

  /**
   * Resolves once every process is in rotation and nginx's health check answers 200 (or, with
   * `anyHealth`, whatever it answers: the watchdog may have marked the server unhealthy).
   */
  async waitAllInRotation(timeoutMs = 20_000, options: { anyHealth?: boolean } = {}): Promise<void> {
    await this.waitFor(
      "every process in rotation",
      async () =>
        this.host.appPorts.every((port) => this.unit(port).state === "active" && !this.held(port)) &&
        (options.anyHealth || (await get(this.nginxPort, "/healthz").catch(() => ({ status: 0 }))).status === 200),
      timeoutMs,
    );
  }

  /** The lines of nginx's access log (its `upstream` format) that contain `match`. */
  accessLog(match: string): string[] {
    return fs
      .readFileSync(path.join(this.host.paths.nginxLogDir, "access.log"), "utf8")
      .split("\n")
      .filter((line) => line.includes(match));
  }

  /**
   * How long nginx took over each request whose access-log line contains `match` (its
   * `$request_time`, in seconds): nginx's clock, not this worker's, which on a loaded machine
   * also counts the moments the worker was too busy to read an answer that had arrived.
   */
  requestTimes(match: string): number[] {
    return this.accessLog(match).map(requestTimeOf);
  }

  /** The response time of each request whose access-log line contains `match` (`responseTimeOf`). */
  responseTimes(match: string): number[] {
    return this.accessLog(match).map(responseTimeOf);
  }

  /** The app processes' and watchdog's logs and nginx's error log, for a failure message. */
  logs(): string {
    const { paths } = this.host;
    const files = [...this.host.appPorts.map((p) => `${p}.log`), "watchdog.log"].map((f) =>
      path.join(paths.appLogDir, f),
    );
    return [...files, path.join(paths.nginxLogDir, "error.log")]
      .filter((f) => fs.existsSync(f))
      .map((f) => `--- ${path.basename(f)}\n${fs.readFileSync(f, "utf8").split("\n").slice(-25).join("\n")}`)
      .join("\n");
  }

  /** Stops every process this test bed started and removes its directory. */
  async stop(): Promise<void> {
    this.watchdog?.kill("SIGKILL");
    await Promise.all([...this.units.values()].map((unit) => unit.destroy()));
    if (this.nginx && this.nginx.exitCode === null) {
      const nginx = this.nginx;
      const exited = new Promise<void>((resolve) => nginx.once("exit", () => resolve()));
      nginx.kill("SIGQUIT");
      await escalate(exited, 5000, () => nginx.kill("SIGKILL"));
    }
    await new Promise((resolve) => (this.control ? this.control.close(resolve) : resolve(undefined)));
    this.offExit?.();
    releasePorts([this.nginxPort, this.controlPort, ...this.host.appPorts]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private killAllNow(): void {
    this.watchdog?.kill("SIGKILL");
    for (const unit of this.units.values()) unit.kill("SIGKILL");
    // nginx's fast shutdown: its master ends its workers, and then itself (killed outright, the
    // master would leave them serving the port, orphaned, after this process is gone)
    this.nginx?.kill("SIGTERM");
  }
}

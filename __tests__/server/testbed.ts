import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { packageApp } from "../../src/artifact/package-app";
import {
  PASSIVE_HEALTH_CHECK,
  type AppDatabase,
  type AppHost,
  type PassiveHealthCheck,
} from "../../src/userdata/app-host";
import { appCommand, appEnvironmentFiles } from "../../src/userdata/app-unit";
import { DEPLOY_SCRIPT, deployScript } from "../../src/userdata/deploy-script";
import { nginxConf } from "../../src/userdata/nginx-conf";

/**
 * A local stand-in for one app server: real nginx and real sample-app processes on 127.0.0.1,
 * configured by the same renderers the boot script uses, with paths under a temporary directory
 * and free loopback ports. There is no systemd here, so the test bed supervises the app processes
 * itself and the deploy script reaches it through a stand-in `systemctl` (`APP_CTL`) that forwards
 * `restart app@<port>` / `stop app@<port>` to it. Every process it starts is stopped by `stop()`,
 * and by a process exit hook should the test runner die first.
 */

export const ROOT = path.resolve(__dirname, "../..");

/** A test stand-in for the `aws` CLI, for the four calls the deploy script makes; see `publishRelease`. */
const STUB_AWS = `#!/bin/bash
# test stand-in for the AWS CLI: serves the deploy script's calls from @BUCKET@
set -euo pipefail
echo "$*" >> "@BUCKET@/calls.log"
arg() { local want=$1; shift; while (($#)); do if [[ $1 == "$want" ]]; then echo "$2"; return; fi; shift; done; }
case "$*" in
  *"ssm get-parameter"*) echo testbed-artifacts ;;
  *"s3api list-object-versions"*) cut -d" " -f1 "@BUCKET@/versions" | paste -sd"\t" ;;
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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `exited`; after `ms` calls `force` once and keeps waiting. Leaves no timer behind. */
async function escalate(exited: Promise<void>, ms: number, force: () => void): Promise<void> {
  const timer = setTimeout(force, ms);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once something accepts TCP connections on the port; rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
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

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

/** One GET; never throws for an HTTP status, rejects on a network error or after `timeoutMs`. */
export function get(port: number, pathname: string, agent?: http.Agent, timeoutMs = 5000): Promise<Reply> {
  return request("GET", port, pathname, agent, timeoutMs);
}

/** One request (a POST carries a small body); as `get`. */
export function request(
  method: "GET" | "POST",
  port: number,
  pathname: string,
  agent?: http.Agent,
  timeoutMs = 5000,
): Promise<Reply> {
  const started = process.hrtime.bigint();
  const body = method === "POST" ? JSON.stringify({ order: 42, note: "x".repeat(200) }) : undefined;
  return new Promise((resolve, reject) => {
    const headers = body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {};
    const req = http.request(
      { method, host: "127.0.0.1", port, path: pathname, agent, headers, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body, ms: Number(process.hrtime.bigint() - started) / 1e6 }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** What a steady load saw: successes per app port and version, and every failure. */
export interface LoadResult {
  readonly ok: number;
  /** Of `ok`, the POST requests. */
  readonly posts: number;
  readonly failures: string[];
  readonly byPort: Map<number, number>;
  readonly byVersion: Map<string, number>;
}

/**
 * Keeps `concurrency` clients sending requests through nginx until `stop()` is called: GET / only,
 * or (`withPosts`) half of them POST /echo, which nginx must never replay on another process once
 * sent. A failure is any network error or any status but 200. Bounded: each request times out
 * after 5 s.
 */
export function steadyLoad(
  port: number,
  options: { readonly withPosts: boolean; readonly concurrency?: number },
): { stop: () => Promise<LoadResult> } {
  const concurrency = options.concurrency ?? 8;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result = { ok: 0, posts: 0, failures: [] as string[], byPort: new Map<number, number>(), byVersion: new Map() };
  let running = true;
  const client = async (_: unknown, index: number) => {
    const [method, pathname] =
      options.withPosts && index % 2 === 1 ? (["POST", "/echo"] as const) : (["GET", "/"] as const);
    while (running) {
      try {
        const reply = await request(method, port, pathname, agent);
        if (reply.status !== 200) {
          result.failures.push(`${method} HTTP ${reply.status}: ${reply.body.slice(0, 120)}`);
          continue;
        }
        const { port: appPort, version } = JSON.parse(reply.body);
        if (method === "POST") result.posts++;
        result.ok++;
        result.byPort.set(appPort, (result.byPort.get(appPort) ?? 0) + 1);
        result.byVersion.set(version, (result.byVersion.get(version) ?? 0) + 1);
      } catch (error) {
        result.failures.push(`${method} network: ${(error as Error).message}`);
      }
    }
  };
  const clients = Array.from({ length: concurrency }, client);
  return {
    stop: async () => {
      running = false;
      await Promise.all(clients);
      agent.destroy();
      return result;
    },
  };
}

export interface DeployRun {
  readonly code: number | null;
  readonly output: string;
}

export interface TestBedOptions {
  /** Releases come from a stand-in artifacts bucket. */
  readonly bucket?: boolean;
  /** The app's database, given the test bed's folder (for the settings file's path). @default - none */
  readonly database?: (dir: string) => AppDatabase;
  /** @default PASSIVE_HEALTH_CHECK, the servers' */
  readonly passiveHealthCheck?: PassiveHealthCheck;
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

export class TestBed {
  public readonly host: AppHost;
  public readonly nginxPort: number;
  private readonly processes = new Map<number, ChildProcess>();
  private nginx?: ChildProcess;
  private control?: http.Server;
  private readonly onExit = () => this.killAllNow();

  private constructor(
    public readonly dir: string,
    host: AppHost,
    private readonly controlPort: number,
  ) {
    this.host = host;
    this.nginxPort = host.listenPort;
  }

  /** Renders the server's files for `processes` app processes under a new temporary directory. */
  static async create(processes: number, options: TestBedOptions = {}): Promise<TestBed> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "in-server-"));
    const ports: number[] = [];
    while (ports.length < processes + 2) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const [nginxPort, controlPort, ...appPorts] = ports;
    const host: AppHost = {
      environment: "testbed",
      version: "1.0.0",
      listenAddress: "127.0.0.1",
      listenPort: nginxPort,
      healthCheckPath: "/healthz",
      appPorts,
      appUser: os.userInfo().username,
      passiveHealthCheck: options.passiveHealthCheck ?? PASSIVE_HEALTH_CHECK,
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
      },
    };
    const bed = new TestBed(dir, host, controlPort);
    bed.render();
    return bed;
  }

  /**
   * A test bed serving `version` of the sample app: created, the release on disk, nginx started,
   * and the first deploy run as boot runs it (which starts every process). Stopped again if any
   * step fails.
   */
  static async serving(processes: number, version = "1.0.0"): Promise<TestBed> {
    const bed = await TestBed.create(processes);
    try {
      bed.addRelease(version);
      await bed.start();
      const first = await bed.deploy(version);
      if (first.code !== 0) throw new Error(`first deploy failed:\n${first.output}`);
      return bed;
    } catch (error) {
      await bed.stop();
      throw error;
    }
  }

  private render(): void {
    const { paths } = this.host;
    for (const d of [paths.nginxLogDir, paths.nginxTempDir, paths.appLogDir, `${paths.appRoot}/bin`]) {
      fs.mkdirSync(d, { recursive: true });
    }
    fs.writeFileSync(paths.nginxConf, nginxConf(this.host));
    fs.writeFileSync(path.join(paths.appRoot, DEPLOY_SCRIPT), deployScript(this.host), { mode: 0o755 });
    // The stand-in for the AWS CLI (no AWS here): answers the deploy script's calls from a folder
    // of object versions and logs each call; STUB_AWS_FAIL_GET=1 makes downloads fail.
    const bin = path.join(this.dir, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "aws"), STUB_AWS.replaceAll("@BUCKET@", this.bucketDir), { mode: 0o755 });
    // The stand-in for systemctl: forwards `<verb> app@<port>` to this test bed's supervisor.
    fs.writeFileSync(
      path.join(this.dir, "systemctl"),
      `#!/bin/bash\n# test stand-in for systemctl (no systemd here): the test bed supervises the app processes\nexec curl -fsS -o /dev/null -X POST "http://127.0.0.1:${this.controlPort}/$1/$2"\n`,
      { mode: 0o755 },
    );
  }

  /** Packs a release of the sample app with `version` (and `server.js` edited by `edit`). */
  private packageRelease(version: string, edit?: (serverJs: string) => string): string {
    const source = path.join(this.dir, "source", version);
    fs.mkdirSync(source, { recursive: true });
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "app/package.json"), "utf8"));
    fs.writeFileSync(path.join(source, "package.json"), JSON.stringify({ ...manifest, version }, null, 2));
    // Every file of the app (its dependencies are installed into the release from its lock file).
    fs.cpSync(path.join(ROOT, "app"), source, {
      recursive: true,
      filter: (from) => !from.split(path.sep).includes("node_modules") && path.basename(from) !== "package.json",
    });
    const serverJs = fs.readFileSync(path.join(ROOT, "app/server.js"), "utf8");
    fs.writeFileSync(path.join(source, "server.js"), edit ? edit(serverJs) : serverJs);
    return packageApp(source, path.join(this.dir, "dist", version)).file;
  }

  /** Puts a release on disk as the deploy script would after fetching it: the packaged tarball, unpacked. */
  addRelease(version: string, edit?: (serverJs: string) => string): void {
    const file = this.packageRelease(version, edit);
    const release = path.join(this.host.paths.appRoot, "releases", version);
    fs.mkdirSync(release, { recursive: true });
    const untar = spawnSync("tar", ["-xzf", file, "-C", release]);
    if (untar.status !== 0) throw new Error(`tar: ${untar.stderr}`);
  }

  /** The stand-in bucket's folder: `versions` lists "<version-id> <app-version>", newest first. */
  get bucketDir(): string {
    return path.join(this.dir, "bucket");
  }

  /** Uploads a release as Terraform does: a new object version of the release key, newest first. */
  publishRelease(version: string): string {
    const file = this.packageRelease(version);
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

  /** Starts nginx and the supervisor the stand-in systemctl talks to. */
  async start(): Promise<void> {
    process.on("exit", this.onExit);
    this.control = http.createServer((req, res) => {
      const match = /^\/(restart|stop)\/app@(\d+)$/.exec(req.url ?? "");
      const port = Number(match?.[2]);
      if (req.method !== "POST" || !match || !this.host.appPorts.includes(port)) {
        res.writeHead(404).end("no such unit\n");
        return;
      }
      const done = match[1] === "stop" ? this.stopProcess(port) : this.restartProcess(port);
      done.then(
        () => res.writeHead(200).end("ok\n"),
        (error) => res.writeHead(500).end(`${error.message}\n`),
      );
    });
    await new Promise<void>((resolve) => this.control!.listen(this.controlPort, "127.0.0.1", resolve));
    const { paths } = this.host;
    this.nginx = spawn(
      "nginx",
      ["-e", path.join(paths.nginxLogDir, "startup.log"), "-c", paths.nginxConf, "-g", "daemon off;"],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    this.nginx.stderr?.on("data", (chunk) => (stderr += chunk));
    await waitForPort(this.nginxPort).catch((error) => {
      throw new Error(`${error.message}; nginx said: ${stderr}`);
    });
  }

  /** Runs the deploy script as boot and SSM run it, with the stand-in systemctl. */
  deploy(version: string, env: Record<string, string> = {}): Promise<DeployRun> {
    return new Promise((resolve) => {
      const child = spawn(path.join(this.host.paths.appRoot, DEPLOY_SCRIPT), [version], {
        env: {
          ...process.env,
          PATH: `${path.join(this.dir, "bin")}:${process.env.PATH}`,
          APP_CTL: path.join(this.dir, "systemctl"),
          ...env,
        },
      });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      child.on("close", (code) => resolve({ code, output }));
    });
  }

  /** Starts the process of `port` as `app@<port>` would: the release its run/<port> link points at. */
  async startProcess(port: number): Promise<void> {
    if (this.processes.has(port)) throw new Error(`app@${port} is already running`);
    const [node, script] = appCommand(this.host, port);
    const log = fs.openSync(path.join(this.host.paths.appLogDir, `${port}.log`), "a");
    // As the app@ unit runs it: its environment files, then its own settings; the stand-in aws
    // on PATH, as the real one is on a server.
    const unitEnvironment = Object.assign({}, ...appEnvironmentFiles(this.host).map(readEnvironmentFile));
    const child = spawn(node, [script], {
      cwd: path.dirname(script),
      env: {
        ...process.env,
        ...unitEnvironment,
        PATH: `${path.join(this.dir, "bin")}:${process.env.PATH}`,
        PORT: String(port),
        HOST: "127.0.0.1",
        APP_ENVIRONMENT: this.host.environment,
      },
      stdio: ["ignore", log, log],
    });
    fs.closeSync(log);
    this.processes.set(port, child);
    child.on("exit", () => {
      if (this.processes.get(port) === child) this.processes.delete(port);
    });
  }

  /** Stops the process of `port` with `signal` and waits (bounded) until it has exited. */
  async stopProcess(port: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.processes.get(port);
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    await escalate(exited, 30_000, () => child.kill("SIGKILL"));
  }

  async restartProcess(port: number): Promise<void> {
    await this.stopProcess(port);
    await this.startProcess(port);
  }

  isRunning(port: number): boolean {
    return this.processes.has(port);
  }

  /** Stops every process this test bed started and removes its directory. */
  async stop(): Promise<void> {
    await Promise.all([...this.processes.keys()].map((port) => this.stopProcess(port, "SIGKILL")));
    if (this.nginx && this.nginx.exitCode === null) {
      const nginx = this.nginx;
      const exited = new Promise<void>((resolve) => nginx.once("exit", () => resolve()));
      nginx.kill("SIGQUIT");
      await escalate(exited, 5000, () => nginx.kill("SIGKILL"));
    }
    await new Promise((resolve) => (this.control ? this.control.close(resolve) : resolve(undefined)));
    process.off("exit", this.onExit);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private killAllNow(): void {
    for (const child of this.processes.values()) child.kill("SIGKILL");
    this.nginx?.kill("SIGKILL");
  }
}

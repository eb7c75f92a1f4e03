import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { benchInServer } from "./bench-in-server";
import { childrenCpuSeconds } from "./cpu-time";
import { RSS_PROBE_SOURCE } from "./rss-probe";
import { entryCommand, PROJECT_ROOT } from "../src/project-root";
import { choiceListVariable, countVariable, UsageError, variablesOnly } from "../src/ops/usage";
import { readableStack } from "../src/readable-stack";

// `npm run bench`: wall time and peak memory of `npm run synth`, `cdktf synth`, `npm test`, the quick
// test loop and the typecheck, and how synth scales with the number of environments, as a Markdown
// table with each target and PASS or FAIL.
//   BENCH_RUNS=N        runs per measurement (default 5)
//   BENCH_TEST_RUNS=N   runs of `npm test`, the slow one (default: BENCH_RUNS, at most 3)
//   BENCH_SECTIONS=...  comma-separated: build (synth, test, typecheck), in-server (default: both);
//                       scaling: only the rows of generated environments and one more environment's cost
// The in-server section (scripts/bench-in-server.ts) needs nginx and wrk (apt-get install nginx wrk).
// Exits 0 unless a measured command fails; the other measurements still run and are printed.

const ROOT = PROJECT_ROOT;
const SHIPPED_ENVIRONMENTS = path.join(ROOT, "environments");
const SCALING_COUNTS = [1, 2, 4, 8] as const;
const TARGETS = {
  /** `npm run synth` of every shipped environment: median wall and peak RSS. */
  synthSeconds: 0.75,
  synthRssMb: 150,
  /** `npm test`: median wall and the largest single process. */
  testSeconds: 20,
  testRssMb: 600,
  /** `npm run test:quick`: typecheck and every test but the integration ones. */
  quickSeconds: 6,
  /** What one more environment adds to a synth (least squares over the scaling rows). */
  perEnvironmentMs: 30,
} as const;
// The cdktf CLI warns about a NODE_OPTIONS without this switch, and sets exactly this value itself
// when NODE_OPTIONS is unset, so every measured command runs with the heap limit `cdktf synth` uses.
const HEAP_SWITCH = "--max-old-space-size=4096";
const KB_PER_MB = 1024;

// ---------------------------------------------------------------------------------------------
// Types

/** One command to measure, built afresh for every run inside that run's own empty folder. */
interface Command {
  readonly argv: readonly [string, ...string[]];
  readonly env?: Readonly<Record<string, string>>;
  /** When set, the run fails unless `<outdir>/manifest.json` lists this many stacks. */
  readonly expectStacks?: { readonly outdir: string; readonly count: number };
}

/** The rows the targets and the per-environment estimate are computed from. */
type Role =
  | { readonly kind: "shipped-synth" }
  | { readonly kind: "app-synth" }
  | { readonly kind: "cli-synth" }
  | { readonly kind: "npm-test" }
  | { readonly kind: "quick-test" }
  | { readonly kind: "scaling"; readonly count: number };

interface MeasurementSpec {
  readonly name: string;
  readonly runs: number;
  readonly role?: Role;
  readonly command: (scratch: string) => Command;
}

/** What the preload probe wrote for one node process when it exited. */
interface ProcessRecord {
  readonly pid: number;
  readonly peakKb: number;
  readonly argv: string;
}

interface RunSample {
  readonly wallSeconds: number;
  /** CPU time of the command's whole process tree (./cpu-time.ts); undefined without /proc. */
  readonly cpuSeconds?: number;
  readonly peakKb: number;
  readonly largest?: ProcessRecord;
  readonly processCount: number;
}

interface Failure {
  readonly command: string;
  readonly reason: string;
  readonly stdout: string;
  readonly stderr: string;
}

interface Measurement {
  readonly name: string;
  readonly runs: number;
  readonly role?: Role;
  readonly samples: readonly RunSample[];
  readonly failure?: Failure;
}

interface RawRun {
  readonly wallSeconds: number;
  /** Set when the command could not be started at all (e.g. not found). */
  readonly startError?: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

// ---------------------------------------------------------------------------------------------
// Peak RSS probe

/** NODE_OPTIONS splits on spaces unless a value is double-quoted, and unescapes `\\` and `"` inside. */
function quoteForNodeOptions(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

function writeProbe(dir: string): string {
  // .cjs, and an absolute path: loaded as CommonJS whatever the cwd or package "type" of the process.
  const file = path.join(dir, "rss-probe.cjs");
  fs.writeFileSync(file, RSS_PROBE_SOURCE);
  return file;
}

function readProbeRecords(file: string): ProcessRecord[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [pid, peakKb, argv] = line.split("\t");
      return { pid: Number(pid), peakKb: Number(peakKb), argv: argv ? String(JSON.parse(argv)) : "" };
    });
}

// ---------------------------------------------------------------------------------------------
// Running commands

/** The child being measured, so a Ctrl-C or SIGTERM can stop it before the temp folder goes. */
let running: ChildProcess | undefined;

function runCommand(argv: readonly [string, ...string[]], env: NodeJS.ProcessEnv): Promise<RawRun> {
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const start = process.hrtime.bigint();
    // Output is kept, not streamed: it is shown only when the command fails.
    // Its own process group (where there are groups), so that an interrupted bench can stop the whole
    // tree it started, jest workers included, and not leave them running without a parent.
    const child = spawn(argv[0], argv.slice(1), {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: process.platform !== "win32",
    });
    running = child;
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    let settled = false;
    // A command that cannot start is a failed measurement like any other, not a crash of the bench.
    child.on("error", (error) => {
      if (settled) return;
      settled = true;
      running = undefined;
      const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      resolve({ wallSeconds, startError: error.message, exitCode: null, signal: null, stdout: "", stderr: "" });
    });
    child.on("close", (exitCode, signal) => {
      if (settled) return;
      settled = true;
      const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      running = undefined;
      resolve({
        wallSeconds,
        exitCode,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
  });
}

/** The caller's environment without what would change what is measured. */
function baseEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: "1" };
  for (const key of ["ENVIRONMENTS", "ENVIRONMENTS_DIR", "CDKTF_OUTDIR", "NODE_OPTIONS", "BENCH_RSS_FILE"]) {
    delete env[key];
  }
  return env;
}

function manifestStackCount(outdir: string): number | undefined {
  try {
    const manifest: unknown = JSON.parse(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8"));
    const stacks = isRecord(manifest) ? manifest.stacks : undefined;
    return isRecord(stacks) ? Object.keys(stacks).length : undefined;
  } catch {
    return undefined;
  }
}

/** Why a finished run does not count, if it does not. */
function failureReason(raw: RawRun, command: Command): string | undefined {
  if (raw.startError) return `could not start: ${raw.startError}`;
  if (raw.signal) return `killed by ${raw.signal}`;
  if (raw.exitCode !== 0) return `exit code ${raw.exitCode}`;
  if (command.expectStacks) {
    // A synth that exits 0 having written nothing would otherwise look like a fast synth.
    const found = manifestStackCount(command.expectStacks.outdir);
    if (found !== command.expectStacks.count) {
      return `expected ${command.expectStacks.count} stack(s) in the output, found ${found ?? "no manifest"}`;
    }
  }
  return undefined;
}

async function measure(spec: MeasurementSpec, probe: string, tmp: string): Promise<Measurement> {
  const samples: RunSample[] = [];
  for (let run = 1; run <= spec.runs; run++) {
    // A fresh folder per run: no run finds the previous run's output to replace.
    const scratch = fs.mkdtempSync(path.join(tmp, "run-"));
    try {
      const command = spec.command(scratch);
      const rssFile = path.join(scratch, "rss.txt");
      const env: NodeJS.ProcessEnv = {
        ...baseEnvironment(),
        ...command.env,
        NODE_OPTIONS: `--require ${quoteForNodeOptions(probe)} ${HEAP_SWITCH}`,
        BENCH_RSS_FILE: rssFile,
      };
      const cpuBefore = childrenCpuSeconds();
      const raw = await runCommand(command.argv, env);
      const cpuAfter = childrenCpuSeconds();
      const cpuSeconds = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
      const reason = failureReason(raw, command);
      if (reason) {
        progress(`${spec.name}: run ${run}/${spec.runs} failed: ${reason}`);
        const failure = { command: command.argv.join(" "), reason, stdout: raw.stdout, stderr: raw.stderr };
        return { name: spec.name, runs: spec.runs, role: spec.role, samples, failure };
      }
      const sample = toSample(raw.wallSeconds, cpuSeconds, readProbeRecords(rssFile));
      samples.push(sample);
      const cpu = cpuSeconds === undefined ? "" : ` (${cpuSeconds.toFixed(2)} CPU-s)`;
      progress(
        `${spec.name}: run ${run}/${spec.runs}: ${sample.wallSeconds.toFixed(2)} s${cpu}, ${mb(sample.peakKb)} MB`,
      );
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
  return { name: spec.name, runs: spec.runs, role: spec.role, samples };
}

function toSample(wallSeconds: number, cpuSeconds: number | undefined, records: readonly ProcessRecord[]): RunSample {
  const largest = records.reduce<ProcessRecord | undefined>((a, b) => (a && a.peakKb >= b.peakKb ? a : b), undefined);
  const processCount = new Set(records.map((r) => r.pid)).size;
  return { wallSeconds, cpuSeconds, peakKb: largest?.peakKb ?? 0, largest, processCount };
}

// ---------------------------------------------------------------------------------------------
// What is measured

/** The npm that runs this script (npm_execpath under `npm run`), run by this node; else npm on PATH. */
function npmCommand(...args: string[]): Command["argv"] {
  const npmCli = process.env.npm_execpath;
  return npmCli && /\.[cm]?js$/.test(npmCli)
    ? [process.execPath, npmCli, ...args]
    : [process.platform === "win32" ? "npm.cmd" : "npm", ...args];
}

/** `npm run synth` itself, npm's own start included, as a user types it (and the stop hook times it). */
function npmSynthCommand(scratch: string, expectedStacks: number): Command {
  const outdir = path.join(scratch, "out"); // a sub-folder: main.ts stages its output beside it
  return {
    argv: npmCommand("run", "--silent", "synth"),
    env: { CDKTF_OUTDIR: outdir },
    expectStacks: { outdir, count: expectedStacks },
  };
}

/**
 * What `npm run synth` runs (scripts/run.js main.ts), without npm. `cache` points the launcher at
 * an empty bundle cache: the first synth after a change to the sources, bundle build included.
 */
function synthCommand(
  scratch: string,
  expectedStacks: number,
  options: { environmentsDir?: string; coldCache?: boolean } = {},
): Command {
  const outdir = path.join(scratch, "out");
  const [node, args] = entryCommand("main.ts");
  return {
    argv: [node, ...args],
    env: {
      CDKTF_OUTDIR: outdir,
      ...(options.environmentsDir ? { ENVIRONMENTS_DIR: options.environmentsDir } : {}),
      ...(options.coldCache ? { CLASSIC_SERVERS_CACHE: path.join(scratch, "bundle-cache") } : {}),
    },
    expectStacks: { outdir, count: expectedStacks },
  };
}

function cdktfSynthCommand(scratch: string, expectedStacks: number): Command {
  const outdir = path.join(scratch, "out"); // --output: the user's cdktf.out is left alone
  return {
    argv: [process.execPath, path.join(ROOT, "node_modules", ".bin", "cdktf"), "synth", "--output", outdir],
    expectStacks: { outdir, count: expectedStacks },
  };
}

function npmTestCommand(script: "test" | "test:quick"): Command {
  return { argv: npmCommand("run", "--silent", script) };
}

function typecheckCommand(): Command {
  return { argv: [process.execPath, path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "--noEmit"] };
}

function environmentFolders(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Writes `count` copies of dev's config, each with its own /16 so the overlap check passes. */
function writeGeneratedEnvironments(dir: string, count: number): string {
  const dev: unknown = parse(fs.readFileSync(path.join(SHIPPED_ENVIRONMENTS, "dev", "config.yaml"), "utf8"));
  if (!isRecord(dev) || !isRecord(dev.network)) {
    throw new Error("environments/dev/config.yaml has no network section to copy");
  }
  for (let i = 0; i < count; i++) {
    const folder = path.join(dir, `bench-${i}`);
    fs.mkdirSync(folder, { recursive: true });
    const config = { ...dev, network: { ...dev.network, cidr: `10.${100 + i}.0.0/16` } };
    fs.writeFileSync(path.join(folder, "config.yaml"), `# generated by scripts/bench.ts\n${stringify(config)}`);
  }
  return dir;
}

function specs(tmp: string, runs: number, testRuns: number): MeasurementSpec[] {
  const shipped = environmentFolders(SHIPPED_ENVIRONMENTS);
  const scaling = SCALING_COUNTS.map((count) => {
    const dir = writeGeneratedEnvironments(path.join(tmp, `environments-${count}`), count);
    return {
      name: `synth, ${count} generated environment${count === 1 ? "" : "s"} (scripts/run.js main.ts)`,
      runs,
      role: { kind: "scaling", count } as const,
      command: (scratch: string) => synthCommand(scratch, count, { environmentsDir: dir }),
    };
  });
  return [
    {
      name: `npm run synth, all ${shipped.length} shipped environments`,
      runs,
      role: { kind: "shipped-synth" },
      command: (scratch) => npmSynthCommand(scratch, shipped.length),
    },
    {
      name: "the same synth without npm (scripts/run.js main.ts)",
      runs,
      role: { kind: "app-synth" },
      command: (scratch) => synthCommand(scratch, shipped.length),
    },
    {
      name: "the same, first run after a source change (bundle rebuilt)",
      runs,
      command: (scratch) => synthCommand(scratch, shipped.length, { coldCache: true }),
    },
    {
      name: "cdktf synth (the CLI around the same app)",
      runs,
      role: { kind: "cli-synth" },
      command: (scratch) => cdktfSynthCommand(scratch, shipped.length),
    },
    { name: "npm test", runs: testRuns, role: { kind: "npm-test" }, command: () => npmTestCommand("test") },
    {
      name: "npm run test:quick (typecheck + unit tests)",
      runs,
      role: { kind: "quick-test" },
      command: () => npmTestCommand("test:quick"),
    },
    { name: "typecheck (tsc --noEmit)", runs, command: () => typecheckCommand() },
    ...scaling,
  ];
}

// ---------------------------------------------------------------------------------------------
// Statistics and report

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Ordinary least squares y = intercept + slope * x. */
function leastSquares(points: readonly (readonly [number, number])[]): { slope: number; intercept: number } {
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxy = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const sxx = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: meanY - slope * meanX };
}

function mb(kb: number): string {
  return (kb / KB_PER_MB).toFixed(0);
}

const wall = (m: Measurement) => m.samples.map((s) => s.wallSeconds);
/** The median CPU time of a measurement's runs, when every run has one. */
const cpuMedian = (m: Measurement): number | undefined => {
  const cpu = m.samples.map((s) => s.cpuSeconds);
  return cpu.length > 0 && cpu.every((c) => c !== undefined) ? median(cpu as number[]) : undefined;
};
/** The largest single-process peak over every run: the figure a memory limit would have to allow. */
const peakKb = (m: Measurement) => Math.max(...m.samples.map((s) => s.peakKb));
/** Narrows to "no failure" only, so that the other branch still sees a (failed) Measurement. */
const succeeded = (m: Measurement | undefined): m is Measurement & { readonly failure: undefined } =>
  !!m && !m.failure && m.samples.length > 0;

function tableRow(m: Measurement): string {
  if (!succeeded(m)) {
    return `| ${m.name} | ${m.samples.length}/${m.runs} | FAILED (${m.failure?.reason ?? "no runs"}) | – | – | – | – |`;
  }
  const times = wall(m);
  const cpu = cpuMedian(m)?.toFixed(2) ?? "–";
  return `| ${m.name} | ${m.runs} | ${median(times).toFixed(2)} | ${Math.min(...times).toFixed(2)} | ${Math.max(...times).toFixed(2)} | ${cpu} | ${mb(peakKb(m))} |`;
}

function printTable(measurements: readonly Measurement[]): void {
  console.log("| what | runs | median wall (s) | min | max | median CPU (s) | peak RSS (MB) |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const m of measurements) console.log(tableRow(m));
  console.log();
  console.log(
    "Peak RSS: the largest single node process of the command's process tree (not the sum over processes), " +
      "over all runs; MB = 1024 KB. Each node process reports its own peak on exit through a preload module " +
      "(VmHWM on Linux, else getrusage maxRSS), or on SIGTERM; processes that are killed outright (SIGKILL), and non-node children, are not measured. " +
      `Every command runs with NODE_OPTIONS=${HEAP_SWITCH}, as \`cdktf synth\` runs its app.`,
  );
  console.log();
  const cores = os.availableParallelism();
  console.log(
    "CPU: user + system time of the command's whole process tree (every process waited for, node or not; " +
      "scripts/cpu-time.ts), – where /proc is missing. Wall time swings with what else the machine is doing; " +
      `CPU time much less, so compare it to see what a change saves. On ${cores} core(s) a ` +
      `command takes at least 1/${cores} of its CPU time as wall time.`,
  );
  console.log();
  console.log("Largest process (last run):");
  for (const m of measurements.filter(succeeded)) {
    const last = m.samples[m.samples.length - 1];
    const what = last.largest ? `${truncate(last.largest.argv, 90)} (${mb(last.largest.peakKb)} MB)` : "none reported";
    console.log(`- ${m.name}: ${what}; ${last.processCount} node process(es)`);
  }
}

function truncate(text: string, length: number): string {
  const relative = text.split(ROOT + path.sep).join("");
  return relative.length > length ? `${relative.slice(0, length - 1)}…` : relative;
}

function verdict(ok: boolean): string {
  return ok ? "PASS" : "FAIL";
}

/** One target line: `- <what>: PASS|FAIL (<measured>)`, or NOT MEASURED when the command failed. */
function targetLine(what: string, measured: number | undefined, limit: number, unit: string, digits = 2): boolean {
  if (measured === undefined) {
    console.log(`- ${what} <= ${limit} ${unit}: NOT MEASURED (the command failed)`);
    return false;
  }
  const ok = measured <= limit;
  console.log(`- ${what} <= ${limit} ${unit}: ${verdict(ok)} (${measured.toFixed(digits)} ${unit})`);
  return ok;
}

const byRole = (measurements: readonly Measurement[], kind: Role["kind"]) =>
  measurements.find((m) => m.role?.kind === kind);
const medianSeconds = (m: Measurement | undefined) => (succeeded(m) ? median(wall(m)) : undefined);
const peakMb = (m: Measurement | undefined) => (succeeded(m) ? peakKb(m) / KB_PER_MB : undefined);

/** Prints every target with PASS or FAIL; returns whether all passed. */
function printTargets(measurements: readonly Measurement[]): boolean {
  const synth = byRole(measurements, "shipped-synth");
  const test = byRole(measurements, "npm-test");
  console.log();
  console.log("Targets:");
  const results = [
    targetLine(
      "npm run synth, every shipped environment, median wall",
      medianSeconds(synth),
      TARGETS.synthSeconds,
      "s",
    ),
    targetLine("npm run synth, peak RSS", peakMb(synth), TARGETS.synthRssMb, "MB", 0),
    targetLine("npm test, median wall", medianSeconds(test), TARGETS.testSeconds, "s", 1),
    targetLine("npm test, largest process", peakMb(test), TARGETS.testRssMb, "MB", 0),
    targetLine(
      "npm run test:quick, median wall",
      medianSeconds(byRole(measurements, "quick-test")),
      TARGETS.quickSeconds,
      "s",
      1,
    ),
    targetLine(
      "one more environment",
      perEnvironment(measurements)?.time.slope,
      TARGETS.perEnvironmentMs / 1000,
      "s",
      3,
    ),
  ];
  // The CLI's own start-up is not the app's: reported, not held to a target.
  const cli = medianSeconds(byRole(measurements, "cli-synth"));
  const app = medianSeconds(byRole(measurements, "app-synth"));
  if (cli !== undefined && app !== undefined) {
    console.log(
      `- not a target: cdktf synth takes ${cli.toFixed(2)} s, of which the cdktf CLI's own start-up and ` +
        `bookkeeping are ${(cli - app).toFixed(2)} s on top of the app's ${app.toFixed(2)} s`,
    );
  }
  return results.every(Boolean);
}

/** The one target the scaling rows measure alone (BENCH_SECTIONS=scaling); returns whether it passed. */
function printScalingTarget(measurements: readonly Measurement[]): boolean {
  console.log();
  console.log("Targets (scaling rows only):");
  return targetLine(
    "one more environment",
    perEnvironment(measurements)?.time.slope,
    TARGETS.perEnvironmentMs / 1000,
    "s",
    3,
  );
}

/** The least-squares cost of one more environment, from the scaling rows (at least two needed). */
function perEnvironment(measurements: readonly Measurement[]) {
  const measured = measurements.flatMap((measurement) =>
    measurement.role?.kind === "scaling" && succeeded(measurement)
      ? [{ count: measurement.role.count, measurement }]
      : [],
  );
  if (measured.length < 2) return undefined;
  const cpu = measured.map((s) => [s.count, cpuMedian(s.measurement)] as const);
  return {
    counts: measured.map((s) => s.count),
    time: leastSquares(measured.map((s) => [s.count, median(wall(s.measurement))] as const)),
    cpu: cpu.every(([, seconds]) => seconds !== undefined)
      ? leastSquares(cpu.map(([count, seconds]) => [count, seconds!] as const))
      : undefined,
    rss: leastSquares(measured.map((s) => [s.count, peakKb(s.measurement) / KB_PER_MB] as const)),
  };
}

function printMarginalCost(measurements: readonly Measurement[]): void {
  const fit = perEnvironment(measurements);
  console.log();
  if (!fit) {
    console.log("Per-environment cost: not estimated (fewer than two scaling rows succeeded).");
    return;
  }
  const { time, cpu, rss } = fit;
  console.log(`Per-environment cost (least squares over ${fit.counts.join(", ")} generated copies of dev):`);
  console.log(
    `- time: ${(time.slope * 1000).toFixed(0)} ms per environment, on top of ${time.intercept.toFixed(2)} s fixed (startup, imports)`,
  );
  if (cpu) {
    // the same fit over CPU time: it swings less from run to run (not a target; V8's helper threads count too)
    console.log(
      `- CPU: ${(cpu.slope * 1000).toFixed(0)} ms per environment, on top of ${cpu.intercept.toFixed(2)} s fixed`,
    );
  }
  console.log(`- peak RSS: ${rss.slope.toFixed(1)} MB per environment, on top of ${rss.intercept.toFixed(0)} MB fixed`);
  const headroom = (limit: number, line: { slope: number; intercept: number }) =>
    line.slope > 0 ? Math.max(0, Math.floor((limit - line.intercept) / line.slope)).toString() : "unbounded";
  console.log(
    `- dev-sized environments within the synth targets at this rate: ${headroom(TARGETS.synthSeconds, time)} by time, ` +
      `${headroom(TARGETS.synthRssMb, rss)} by memory (larger layouts cost more each)`,
  );
}

function printFailures(measurements: readonly Measurement[]): void {
  for (const m of measurements) {
    if (!m.failure) continue;
    console.error();
    console.error(`### ${m.name} failed: ${m.failure.reason}`);
    console.error(`command: ${m.failure.command}`);
    // tsc reports its errors on stdout, so both streams are shown.
    if (m.failure.stdout.trim()) console.error(`--- stdout (last lines) ---\n${tail(m.failure.stdout, 150)}`);
    if (m.failure.stderr.trim()) console.error(`--- stderr (last lines) ---\n${tail(m.failure.stderr, 150)}`);
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Main

/**
 * One synth before anything is measured, so that the launcher's bundle cache is fresh: the warm
 * rows measure what every synth but the first after a change costs; the cold row measures that one.
 */
function warmUp(tmp: string): void {
  const [node, args] = entryCommand("main.ts");
  const run = spawnSync(node, args, {
    cwd: ROOT,
    env: { ...baseEnvironment(), CDKTF_OUTDIR: path.join(tmp, "warm-up", "out") },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`the warm-up synth failed:\n${run.stderr}`);
  progress("warm-up synth done: the bundle cache is fresh");
}

function printMachine(): void {
  const cpus = os.cpus();
  console.log(
    `node ${process.version}, ${cpus.length} CPU(s) (${cpus[0]?.model.trim() ?? "unknown model"}), ` +
      `${os.platform()} ${os.arch()}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GB RAM`,
  );
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(", ");
  console.log(
    `Load average before the bench: ${load}. These numbers are from this machine, at this moment: ` +
      "compare runs on the same machine only, and rerun when the load was high.",
  );
  console.log();
}

/**
 * Removes the temp folder on Ctrl-C or SIGTERM too. The measured child runs in a process group of
 * its own, which a Ctrl-C at the terminal does not reach: pass the signal on to that group (all
 * started by this bench), then wait briefly for it to close so nothing writes into the removed folder.
 */
function cleanUpOnSignals(tmp: string): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      const finish = () => {
        fs.rmSync(tmp, { recursive: true, force: true });
        process.exit(signal === "SIGINT" ? 130 : 143);
      };
      const child = running;
      if (!child?.pid) return finish();
      child.once("close", finish);
      setTimeout(finish, 3000).unref();
      try {
        process.kill(process.platform === "win32" ? child.pid : -child.pid, signal);
      } catch {
        finish(); // already gone
      }
    });
  }
}

async function main(): Promise<number> {
  // each setting checked before any work starts
  const runs = countVariable("BENCH_RUNS", 5);
  const testRuns = countVariable("BENCH_TEST_RUNS", Math.min(runs, 3));
  const sections = choiceListVariable("BENCH_SECTIONS", SECTIONS, ["build", "in-server"]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "classic-servers-bench-"));
  cleanUpOnSignals(tmp);
  try {
    printMachine();
    let failed = false;
    const scalingOnly = sections.includes("scaling") && !sections.includes("build");
    if (sections.includes("build") || scalingOnly) {
      const probe = writeProbe(tmp);
      warmUp(tmp);
      const measurements: Measurement[] = [];
      const measured = specs(tmp, runs, testRuns).filter((spec) => !scalingOnly || spec.role?.kind === "scaling");
      // One after the other: on few cores, parallel measurements would slow each other down.
      for (const spec of measured) measurements.push(await measure(spec, probe, tmp));
      printTable(measurements);
      printMarginalCost(measurements);
      const allPassed = scalingOnly ? printScalingTarget(measurements) : printTargets(measurements);
      console.log(allPassed ? "All targets met." : "At least one target missed (FAIL above).");
      printFailures(measurements);
      failed = measurements.some((m) => m.failure);
    }
    // After the build section, alone on the machine: it saturates both cores.
    if (sections.includes("in-server")) failed = !(await benchInServer()) || failed;
    return failed ? 1 : 0;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** What BENCH_SECTIONS may name. */
const SECTIONS = ["build", "in-server", "scaling"] as const;

// It reads no arguments (its settings are the variables above).
const USAGE =
  "usage: npm run bench (BENCH_RUNS=N, BENCH_TEST_RUNS=N, BENCH_SECTIONS=build,in-server,scaling: see scripts/bench.ts)";
if (variablesOnly("bench", process.argv.slice(2), USAGE)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // a setting it cannot use in one line (as every script's), anything unexpected with its stack
      console.error(error instanceof UsageError ? `bench: ${error.message}` : `bench failed: ${readableStack(error)}`);
      process.exitCode = 2;
    },
  );
}

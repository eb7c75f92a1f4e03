import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ciMatrix } from "../../src/ops/ci-environments";
import { environmentEstimate, totalText } from "../../src/cost/report";
import { entryCommand } from "../../src/project-root";
import { runProcess } from "../../src/ops/terraform";
import { tempDir } from "../helpers";
import { SHIPPED_ENVIRONMENTS, shippedOutdir, shippedStack } from "../shipped";

/**
 * The scripts as npm and the workflows run them: a child process through scripts/run.js, from the
 * launcher's cached bundle (built on first use), which lives under node_modules/.cache/, so that a
 * path taken from __dirname would point there. What each script prints is tested in process, beside
 * its module (ops/compare.test.ts, ops/ci-environments.test.ts, cost/environments-cost.test.ts);
 * here, that the same command works when started as it is in use. (An integration test: it starts
 * the launcher, which `npm run test:quick` leaves out.)
 */

const ROOT = path.join(__dirname, "..", "..");

/**
 * `scripts/<name>.ts` with `args`, as `npm run <name> -- args` runs it, from the project's root;
 * `env`: variables set beside this process's.
 */
const run = (entry: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(...entryCommand(entry, args), {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, ...env },
  });

test("npm run compare -- dev prod prints the table and exits 0", () => {
  const result = run("scripts/compare.ts", ["dev", "prod"]);
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/^setting\s+dev\s+prod$/m);
});

test("the workflows' ci-environments prints the matrix as a $GITHUB_OUTPUT line that fromJSON reads back", () => {
  const result = run("scripts/ci-environments.ts", []);
  expect(result.status).toBe(0);
  const [key, value] = result.stdout.trim().split(/=(.*)/s);
  expect(key).toBe("matrix");
  expect(JSON.parse(value)).toEqual(ciMatrix(SHIPPED_ENVIRONMENTS));
});

test("npm run cost -- dev finds the price table and environments/, and prints the same total as in-process", () => {
  const result = run("scripts/cost.ts", ["dev"]);
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const dev = SHIPPED_ENVIRONMENTS.find((env) => env.name === "dev")!;
  const total = totalText(environmentEstimate(dev, shippedStack("dev").doc));
  expect(result.stdout).toContain(`dev (ap-northeast-2): ${total} a month`);
});

test.each([
  // release: it recorded a release; schema: it wrote both files (review BR)
  ["release", "scripts/release.ts", ["releases.yaml"]],
  ["schema", "scripts/write-schema.ts", ["environments/schema.json", "docs/configuration.md"]],
])(
  "npm run %s -- --dry-run is refused and writes nothing: an option it does not know is refused, not ignored",
  (name, entry, written) => {
    const files = written.map((file) => path.join(ROOT, file));
    const before = files.map((file) => fs.readFileSync(file, "utf8"));
    const stamps = files.map((file) => fs.statSync(file).mtimeMs);
    const result = run(entry, ["--dry-run"]);
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
      status: 1,
      stdout: "",
      stderr: `${name}: takes no arguments, and did nothing (got --dry-run): it has no options, no dry run; run it as \`npm run ${name}\`\n`,
    });
    expect(files.map((file) => fs.readFileSync(file, "utf8"))).toEqual(before);
    expect(files.map((file) => fs.statSync(file).mtimeMs)).toEqual(stamps);
  },
);

test("a reader that goes away (npm run compare -- dev prod | head -1) ends the script quietly: exit 0, no stack trace through the bundle (review BR)", async () => {
  const { spawn } = require("node:child_process") as typeof import("node:child_process");
  for (const [entry, args] of [
    ["scripts/compare.ts", ["dev", "prod"]],
    ["scripts/cost.ts", []],
  ] as const) {
    const child = spawn(...entryCommand(entry, [...args]), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.destroy(); // the pipe's reading end closed before the script writes
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect({ entry, code, stderr }).toEqual({ entry, code: 0, stderr: "" });
  }
});

test("npm run bump-ami takes an environment's name, not a path (prod/ or another checkout's folder): refused, naming the known ones, and nothing edited (review BR)", () => {
  const prod = path.join(ROOT, "environments", "prod", "config.yaml");
  const before = fs.readFileSync(prod, "utf8");
  for (const arg of ["prod/", "../environments/prod"]) {
    const result = run("scripts/bump-ami.ts", [arg]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^bump-ami: usage: npm run bump-ami -- <env> \\(unknown environment "${arg.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"; known: [a-z0-9, -]*\\bprod\\b`,
      ),
    );
  }
  expect(fs.readFileSync(prod, "utf8")).toBe(before);
});

test("--help and -h of every script print its usage and exit 0, doing nothing (the bench, the hour-and-a-half drill and the synth started their work); lint:workflows refuses another option instead of reading it as a path", () => {
  const watched = [
    path.join(ROOT, "environments", "prod", "config.yaml"),
    path.join(ROOT, "releases.yaml"),
    path.join(ROOT, "environments", "schema.json"),
    path.join(ROOT, "iam", "plan-role-policy.json"),
    path.join(ROOT, "docs", "architecture-prod.md"),
  ];
  const outdir = path.join(ROOT, "cdktf.out");
  const stamp = () => [...watched, outdir].map((file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0));
  const before = stamp();
  const usages: Array<[string, string]> = [
    ["main.ts", "usage: npm run synth: "],
    ["scripts/compare.ts", "usage: npm run compare -- <environment> <environment>\n"],
    ["scripts/lint-workflows.ts", "usage: npm run lint:workflows [-- <workflow file or folder>...]"],
    ["scripts/bump-ami.ts", "usage: npm run bump-ami -- <env>: "],
    ["scripts/bench.ts", "usage: npm run bench ("],
    ["scripts/drill-in-server.ts", "usage: npm run drill ("],
    ["scripts/package-app.ts", "usage: npm run package-app (no arguments, no options)\n"],
    ["scripts/release.ts", "usage: npm run release (no arguments, no options)\n"],
    ["scripts/diagram.ts", "usage: npm run diagram (no arguments, no options)\n"],
    ["scripts/iam-policies.ts", "usage: npm run iam-policies (no arguments, no options)\n"],
    ["scripts/write-schema.ts", "usage: npm run schema (no arguments, no options)\n"],
    ["scripts/ci-environments.ts", "usage: ci-environments.ts ["],
    ["scripts/plan.ts", "usage: npm run plan -- <env>"],
    ["scripts/drift.ts", "usage: npm run drift -- <env>"],
    ["scripts/wait-rollout.ts", "usage: npm run wait-rollout -- <env>"],
    ["scripts/cost.ts", "usage: npm run cost"],
  ];
  // one flag each, in turn (helpRequested reads both: usage.test.ts), for half the launches
  for (const [i, [entry, usage]] of usages.entries()) {
    for (const flag of [i % 2 === 0 ? "--help" : "-h"]) {
      const result = run(entry, [flag]);
      expect({ entry, flag, status: result.status, stderr: result.stderr }).toEqual({
        entry,
        flag,
        status: 0,
        stderr: "",
      });
      expect({ entry, flag, usage: result.stdout.startsWith(usage) }).toEqual({ entry, flag, usage: true });
    }
  }
  expect(stamp()).toEqual(before);
  // an argument a script does not read is refused before any work, not ignored
  const synth = run("main.ts", ["--dry-run"]);
  expect([synth.status, synth.stderr]).toEqual([
    1,
    "Nothing was synthesized: npm run synth takes no arguments (got --dry-run); --help says what it reads\n",
  ]);
  const bench = run("scripts/bench.ts", ["--runs=1"]);
  expect([bench.status, bench.stdout]).toEqual([2, ""]);
  expect(bench.stderr).toMatch(/^bench: takes no arguments, its settings are variables \(got --runs=1\)/);
  const option = run("scripts/lint-workflows.ts", ["--fix"]);
  expect(option.status).toBe(2);
  expect(option.stderr).toMatch(/^lint-workflows: usage: .*it takes no options \(got --fix\)\n$/);
  expect(option.stderr).not.toContain("ENOENT");
  expect(stamp()).toEqual(before);
});

test("a bench or drill setting it cannot use is refused in one line, naming the variable and what it takes, before any work: a misspelled section or scenario once measured nothing and exited 0 (review DE; each variable's rule: usage.test.ts)", () => {
  const cases: [string, Record<string, string>, number, string][] = [
    [
      "scripts/bench.ts",
      { BENCH_SECTIONS: "biuld" },
      2,
      'bench: BENCH_SECTIONS takes a comma-separated list of build, in-server, scaling (got "biuld")\n',
    ],
    [
      "scripts/drill-in-server.ts",
      { DRILL_SCENARIOS: "kil" },
      1,
      'drill: DRILL_SCENARIOS takes a comma-separated list of baseline, kill, graceful, deploy, rollback, crash, hung (got "kil")\n',
    ],
  ];
  for (const [entry, env, status, stderr] of cases) {
    const result = run(entry, [], env);
    expect([entry, env, result.status, result.stdout, result.stderr]).toEqual([entry, env, status, "", stderr]);
  }
});

describe("npm run wait-rollout's emergency switch, ROLLOUT_ALARMS (STAND-IN terraform and aws, which record their calls) (review DP)", () => {
  let work: string;
  let env: Record<string, string>;
  beforeAll(() => {
    work = tempDir("wait-rollout-");
    fs.cpSync(shippedOutdir(), path.join(work, "out"), { recursive: true });
    fs.mkdirSync(path.join(work, "bin"));
    // test stand-ins: terraform answers `output -json` with no outputs; aws answers nothing
    fs.writeFileSync(
      path.join(work, "bin", "terraform"),
      `#!/bin/bash\n# test stand-in for terraform\necho "terraform $*" >> "${work}/calls"\n[[ $1 == output ]] && echo '{}'\nexit 0\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(work, "bin", "aws"),
      `#!/bin/bash\n# test stand-in for the AWS CLI\necho "aws $*" >> "${work}/calls"\nexit 1\n`,
      { mode: 0o755 },
    );
    env = { PATH: `${path.join(work, "bin")}:${process.env.PATH}`, CDKTF_OUTDIR: path.join(work, "out") };
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  const calls = () =>
    fs.existsSync(path.join(work, "calls")) ? fs.readFileSync(path.join(work, "calls"), "utf8") : "";

  test("ignore: not one alarm is read (AWS is not asked), and a layout without a group has nothing else to wait for", () => {
    fs.rmSync(path.join(work, "calls"), { force: true });
    const result = run("scripts/wait-rollout.ts", ["dev"], { ...env, ROLLOUT_ALARMS: "ignore" });
    expect(result.stdout).toContain("wait-rollout dev: ROLLOUT_ALARMS=ignore: the release alarms are not read");
    expect(result.status).toBe(0);
    expect(calls()).toBe("terraform output -no-color -json\n");
  });

  test("any other value (a typo of ignore) is refused before terraform runs, not taken for watching", () => {
    fs.rmSync(path.join(work, "calls"), { force: true });
    const result = run("scripts/wait-rollout.ts", ["dev"], { ...env, ROLLOUT_ALARMS: "Ignore" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ROLLOUT_ALARMS may only be "ignore" (got "Ignore")');
    expect(calls()).toBe("");
  });
});

test("an AWS call of wait-rollout that ignores SIGTERM at its deadline is killed 5 s later, and fails (review DP)", async () => {
  // (an ignored signal stays ignored across exec: one process, holding the output pipes alone)
  const started = Date.now();
  const ignored = await runProcess("bash", ["-c", "trap '' TERM; exec sleep 30"], { timeoutMs: 300 });
  expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(ignored.status).not.toBe(0);
  expect(ignored.stderr).toContain("timed out, no answer within 0.3 s, stopped");
}, 30_000);

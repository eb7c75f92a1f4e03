import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { LOCK_HOLDER_VARIABLE } from "../src/output-lock";
import { entryCommand } from "../src/project-root";
import { environmentFile, expectSameFiles, filesUnder, tempDir, writeEnvironments } from "./helpers";
import { SHIPPED_NAMES, shippedOutdir } from "./shipped";

// The real entry point, run as `npm run synth` runs it (scripts/run.js main.ts), in a child process.
const ROOT = path.join(__dirname, "..");

function runMain(env: Record<string, string>) {
  const result = spawnSync(...entryCommand("main.ts"), {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function manifestStacks(outdir: string): string[] {
  return Object.keys(JSON.parse(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8")).stacks).sort();
}

let work: string;
beforeEach(() => {
  work = tempDir();
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

describe("main.ts", () => {
  test("synthesizes every shipped environment, one stack each, with relative local state paths", () => {
    // the run every test file shares (global-setup.js): `npm run synth` of environments/
    const outdir = shippedOutdir();
    const shipped = fs
      .readdirSync(path.join(ROOT, "environments"), { withFileTypes: true })
      .filter((e) => e.isDirectory());
    expect(SHIPPED_NAMES).toEqual(shipped.map((e) => e.name).sort());
    expect(manifestStacks(outdir)).toEqual(SHIPPED_NAMES);
    const prod = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "prod", "cdk.tf.json"), "utf8"));
    const statePath: string = prod.terraform.backend.local.path;
    expect(path.isAbsolute(statePath)).toBe(false);
    // resolved from the stack's working directory, the state file lands in <project>/state/
    expect(path.resolve(outdir, "stacks", "prod", statePath)).toBe(path.join(ROOT, "state", "prod.tfstate"));
  });

  test("the launcher's cached bundle writes, byte for byte, what main.ts run from its TypeScript sources writes", () => {
    // given main.ts run from its sources in this process (compiled by the test runner: no bundle),
    // into a folder as deep as the shared run's, so that relative paths to the project are the same
    const outdir = path.join(tempDir("from-sources-"), "cdktf.out");
    expect(path.relative(outdir, ROOT)).toBe(path.relative(shippedOutdir(), ROOT));
    const saved = { ...process.env };
    const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      process.env.CDKTF_OUTDIR = outdir;
      delete process.env.ENVIRONMENTS;
      delete process.env.ENVIRONMENTS_DIR;
      jest.isolateModules(() => require("../main"));
    } finally {
      process.env = saved;
      log.mockRestore();
    }
    expect(process.exitCode ?? 0).toBe(0);
    // then the shared run through scripts/run.js wrote the same files with the same bytes
    const fromSources = filesUnder(outdir);
    const fromBundle = filesUnder(shippedOutdir());
    expect(fromSources.size).toBeGreaterThan(SHIPPED_NAMES.length);
    expectSameFiles(fromSources, fromBundle);
    fs.rmSync(path.dirname(outdir), { recursive: true, force: true });
  });

  test("the guardrail policies run on what main.ts synthesizes: a stack that breaks one (a server allowing IMDSv1) is refused, nothing is written, and the violation is named", () => {
    // given main.ts from its sources, with one rogue resource added to dev's stack after it is built
    const outdir = path.join(work, "out");
    const envs = writeEnvironments(path.join(work, "envs"), { dev: environmentFile() });
    const saved = { ...process.env };
    const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
    const error = jest.spyOn(console, "error").mockImplementation(() => undefined);
    const exitCode = process.exitCode;
    let printed: string;
    try {
      Object.assign(process.env, { CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs });
      delete process.env.ENVIRONMENTS;
      jest.isolateModules(() => {
        jest.doMock("../src/app", () => {
          const real = jest.requireActual("../src/app");
          const { Instance } = jest.requireActual("@cdktf/provider-aws/lib/instance");
          return {
            ...real,
            buildStacks: (app: any, environments: any, options: any) => {
              real.buildStacks(app, environments, options);
              new Instance(app.node.findChild("dev"), "Rogue", {
                ami: "ami-0123456789abcdef0",
                instanceType: "t3.micro",
                rootBlockDevice: { encrypted: true },
                metadataOptions: { httpTokens: "optional" },
              });
            },
          };
        });
        require("../main");
      });
      printed = error.mock.calls.map((call) => call.join(" ")).join("\n");
      // then the run fails, names the rule's finding, and wrote nothing
      expect(process.exitCode).toBe(1);
    } finally {
      process.env = saved;
      process.exitCode = exitCode;
      log.mockRestore();
      error.mockRestore();
      jest.dontMock("../src/app");
    }
    expect(printed).toMatch(/^Nothing was synthesized: \d+ guardrail policy violation\(s\):/);
    expect(printed).toMatch(/aws_instance\.Rogue\S* allows IMDSv1/);
    expect(fs.existsSync(outdir)).toBe(false);
  });

  test("ENVIRONMENTS selects the stacks to synthesize; a later selection updates its stacks and keeps the others, with their terraform init; a full synth drops stale ones", () => {
    const outdir = path.join(work, "out");
    expect(runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS: "dev,prod" }).status).toBe(0);
    expect(manifestStacks(outdir)).toEqual(["dev", "prod"]);
    fs.mkdirSync(path.join(outdir, "stacks", "prod", ".terraform"));
    const prodBefore = fs.readFileSync(path.join(outdir, "stacks", "prod", "cdk.tf.json"), "utf8");
    // when only dev is synthesized again
    expect(runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS: "dev" }).status).toBe(0);
    // then prod is still there, as it was, and still listed
    expect(manifestStacks(outdir)).toEqual(["dev", "prod"]);
    expect(fs.readFileSync(path.join(outdir, "stacks", "prod", "cdk.tf.json"), "utf8")).toBe(prodBefore);
    expect(fs.existsSync(path.join(outdir, "stacks", "prod", ".terraform"))).toBe(true);
    // and a synth of everything holds exactly the shipped environments
    const envs = writeEnvironments(path.join(work, "envs"), { dev: environmentFile() });
    expect(runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs }).status).toBe(0);
    expect(manifestStacks(outdir)).toEqual(["dev"]);
  });

  test("under the cdktf CLI (cdktf.json's --cdktf-cli), ENVIRONMENTS is ignored and said to be: cdktf deploy dev with ENVIRONMENTS=prod left set would otherwise deploy dev's stack from an earlier synth; and a Terraform the CLI would run next that is not on PATH is warned of", () => {
    const outdir = path.join(work, "out");
    const app = JSON.parse(fs.readFileSync(path.join(ROOT, "cdktf.json"), "utf8")).app as string;
    expect(app).toBe("node scripts/run.js main.ts --cdktf-cli");
    // (and a Terraform the CLI would run that is not there: the name it runs, TERRAFORM_BINARY_NAME)
    const run = spawnSync(process.execPath, [...app.split(" ").slice(1)], {
      cwd: ROOT,
      env: { ...process.env, CDKTF_OUTDIR: outdir, ENVIRONMENTS: "prod", TERRAFORM_BINARY_NAME: "terraform-not-here" },
      encoding: "utf8",
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("ENVIRONMENTS=prod is ignored under the cdktf CLI");
    // cdktf diff and deploy would fail at their init with a line that blames it (review CV)
    expect(run.stdout).toContain(
      "warning: terraform-not-here is not on PATH: cdktf diff and deploy run it next, and fail without it; install " +
        "Terraform 1.11 or later (docs/getting-started.md#install-terraform-111-or-later)",
    );
    expect(manifestStacks(outdir)).toEqual([...SHIPPED_NAMES].sort());
    // a variable the CLI sets, left exported in a shell, does not turn a plain synth into one
    const plain = runMain({
      CDKTF_OUTDIR: outdir,
      ENVIRONMENTS: "dev",
      CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: "true",
      TERRAFORM_BINARY_NAME: "terraform-not-here",
    });
    expect(plain.status).toBe(0);
    expect(plain.stdout).not.toContain("ignored");
    // npm run synth needs no Terraform: nothing said of it
    expect(plain.stdout).not.toContain("not on PATH");
    expect(plain.stdout).toContain("Synthesized 1 stack(s)");
  });

  test("a selection drops the stack of an environment whose folder is gone: cdktf deploy cannot pick up a stale one", () => {
    const outdir = path.join(work, "out");
    const envs = writeEnvironments(path.join(work, "envs"), {
      dev: environmentFile(),
      qa: environmentFile({ network: { ...environmentFile().network, cidr: "10.70.0.0/16" } }),
    });
    expect(runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs }).status).toBe(0);
    expect(manifestStacks(outdir)).toEqual(["dev", "qa"]);
    fs.rmSync(path.join(envs, "qa"), { recursive: true });
    expect(runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs, ENVIRONMENTS: "dev" }).status).toBe(0);
    expect(manifestStacks(outdir)).toEqual(["dev"]);
    expect(fs.readdirSync(path.join(outdir, "stacks"))).toEqual(["dev"]);
  });

  test("under the cdktf CLI, a stack no longer synthesized leaves an empty folder, which the CLI deletes itself: cdktf synth and deploy failed with ENOENT once an environment folder was removed", () => {
    // The CLI lists the stack folders before it runs the app, and afterwards deletes those the
    // app no longer wrote, without force (cdktf-cli 0.21.0, SynthStack.synth), so one already gone failed it.
    const cli = fs.readFileSync(path.join(ROOT, "node_modules/cdktf-cli/bundle/bin/cmds/handlers.js"), "utf8");
    const afterSynth = cli.slice(
      cli.indexOf("No Terraform code synthesized"),
      cli.indexOf("static async formatHclFiles"),
    );
    expect(afterSynth).toMatch(/for\(let (\w+) of \w+\)\w+\.rmSync\(\1,\{recursive:!0\}\)/);
    const outdir = path.join(work, "out");
    const envs = writeEnvironments(path.join(work, "envs"), {
      dev: environmentFile(),
      qa: environmentFile({ network: { ...environmentFile().network, cidr: "10.70.0.0/16" } }),
    });
    const underCli = () =>
      spawnSync(process.execPath, ["scripts/run.js", "main.ts", "--cdktf-cli"], {
        cwd: ROOT,
        env: { ...process.env, CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs },
        encoding: "utf8",
      }).status;
    expect(underCli()).toBe(0);
    expect(manifestStacks(outdir)).toEqual(["dev", "qa"]);
    // when qa's folder is removed and the CLI synthesizes again
    fs.rmSync(path.join(envs, "qa"), { recursive: true });
    expect(underCli()).toBe(0);
    // then qa is in no manifest, and its folder is there, empty, for the CLI's own delete to succeed
    expect(manifestStacks(outdir)).toEqual(["dev"]);
    expect(fs.readdirSync(path.join(outdir, "stacks", "qa"))).toEqual([]);
    fs.rmSync(path.join(outdir, "stacks", "qa"), { recursive: true });
    expect(fs.readdirSync(path.join(outdir, "stacks"))).toEqual(["dev"]);
  });

  test("bad input: every problem is printed with its folder and field, exit 1, and the previous output is untouched", () => {
    // given a previous good output
    const outdir = path.join(work, "out");
    fs.cpSync(shippedOutdir(), outdir, { recursive: true });
    const before = fs.readFileSync(path.join(outdir, "stacks", "dev", "cdk.tf.json"), "utf8");
    const manifestBefore = fs.readFileSync(path.join(outdir, "manifest.json"), "utf8");
    // and an environments folder with one good and two broken environments
    const envs = writeEnvironments(path.join(work, "envs"), {
      dev: environmentFile(),
      prod: environmentFile({
        network: { cidr: "10.60.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-3a"] },
      }),
      qa: environmentFile({
        network: { cidr: "10.70.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2b"] },
        state: { backend: "gcs" },
      }),
    });
    // when main runs on it
    const run = runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs });
    // then it fails, naming each problem
    expect(run.status).toBe(1);
    // (a temporary folder, outside the project: named by its absolute path)
    const label = envs;
    expect(run.stderr).toContain(
      `${label}/prod: network.availabilityZones[1] "ap-northeast-3a" is not in region ap-northeast-2 (allowed: ap-northeast-2a, ap-northeast-2b, ap-northeast-2c, ap-northeast-2d)`,
    );
    expect(run.stderr).toContain(`${label}/qa: state.backend must be one of: local, s3, cloud (got "gcs")`);
    expect(run.stderr).toMatch(/^Nothing was synthesized: 2 problem\(s\)/);
    // and the message is about the folders, not about how the program runs (no bundle, cache or stack)
    expect(run.stderr).not.toMatch(/node_modules|\.cache|\.js:\d+|\bat /);
    // and the earlier output is exactly as it was, with no staging folder left over
    expect(fs.readFileSync(path.join(outdir, "stacks", "dev", "cdk.tf.json"), "utf8")).toBe(before);
    expect(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8")).toBe(manifestBefore);
    expect(fs.readdirSync(work).sort()).toEqual(["envs", "out"]);
  });

  test("an output folder that is the environments folder is refused in one line, and the folder stays", () => {
    const envs = writeEnvironments(path.join(work, "envs"), { dev: environmentFile() });
    const before = fs.readFileSync(path.join(envs, "dev", "config.yaml"), "utf8");
    const run = runMain({ CDKTF_OUTDIR: envs, ENVIRONMENTS_DIR: envs });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      `Nothing was synthesized: the output folder ${envs} is ${envs}, which a synth would replace; ` +
        "set CDKTF_OUTDIR (or cdktf's -o) to a folder of its own, such as cdktf.out",
    );
    expect(fs.readFileSync(path.join(envs, "dev", "config.yaml"), "utf8")).toBe(before);
    expect(fs.readdirSync(work)).toEqual(["envs"]);
  });

  test("while npm run plan or drift runs terraform in the output folder (its lock held), a synth is refused and the folder left as it was; the run's own synth is not", async () => {
    const outdir = path.join(work, "out");
    fs.cpSync(shippedOutdir(), outdir, { recursive: true });
    const before = fs.readFileSync(path.join(outdir, "stacks", "dev", "cdk.tf.json"), "utf8");
    const plan = spawn("sleep", ["30"]); // stands in for the run that holds the lock
    try {
      fs.writeFileSync(`${outdir}.lock`, `${plan.pid} npm run plan for dev\n`);
      const refused = runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS: "dev" });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(
        `Nothing was synthesized: npm run plan for dev (pid ${plan.pid}) is running terraform in ${outdir}, and a synth now would delete the folder it works in`,
      );
      expect(fs.readFileSync(path.join(outdir, "stacks", "dev", "cdk.tf.json"), "utf8")).toBe(before);
      const own = runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS: "dev", [LOCK_HOLDER_VARIABLE]: String(plan.pid) });
      expect(own.status).toBe(0);
    } finally {
      plan.kill("SIGKILL");
      await new Promise((resolve) => plan.once("exit", resolve));
    }
  });

  test("TF_WORKSPACE left in the shell is refused before anything is written: cdktf deploy would run Terraform in that workspace's empty state and create every resource again", () => {
    const envs = writeEnvironments(path.join(work, "envs"), { dev: environmentFile() });
    const outdir = path.join(work, "out");
    const run = runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs, TF_WORKSPACE: "foo" });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(/^Nothing was synthesized: TF_WORKSPACE=foo is set: .*: unset TF_WORKSPACE$/);
    expect(fs.existsSync(outdir)).toBe(false);
    // "default" is the workspace every environment uses
    expect(runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs, TF_WORKSPACE: "default" }).status).toBe(0);
  });

  test("an empty environments folder fails without writing anything", () => {
    const outdir = path.join(work, "out");
    fs.mkdirSync(path.join(work, "envs"));
    const run = runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: path.join(work, "envs") });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/no environment folders found/);
    expect(fs.existsSync(outdir)).toBe(false);
  });

  test("S3 and HCP Terraform environments synthesize beside local ones, with the bucket's bootstrap stack", () => {
    const outdir = path.join(work, "out");
    const azs = ["ap-northeast-2a", "ap-northeast-2b"];
    const envs = writeEnvironments(path.join(work, "envs"), {
      prod: environmentFile({
        network: { cidr: "10.1.0.0/16", availabilityZones: azs },
        state: { backend: "s3", bucket: "acme-tfstate" },
      }),
      staging: environmentFile({
        network: { cidr: "10.2.0.0/16", availabilityZones: azs },
        state: { backend: "cloud", organization: "acme" },
      }),
    });
    const run = runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs });
    expect(run.stderr).toBe("");
    expect(manifestStacks(outdir)).toEqual(["prod", "staging", "state-acme-tfstate"]);
    const prod = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "prod", "cdk.tf.json"), "utf8"));
    expect(prod.terraform.backend.s3).toMatchObject({ bucket: "acme-tfstate", use_lockfile: true, encrypt: true });
    // when prod moves back to local state, a selection of staging drops the bucket's stack, which
    // no environment uses any more (cdktf deploy would otherwise still offer it)
    writeEnvironments(envs, {
      prod: environmentFile({ network: { cidr: "10.1.0.0/16", availabilityZones: azs } }),
    });
    expect(runMain({ CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: envs, ENVIRONMENTS: "staging" }).status).toBe(0);
    expect(manifestStacks(outdir)).toEqual(["prod", "staging"]);
    expect(fs.readdirSync(path.join(outdir, "stacks")).sort()).toEqual(["prod", "staging"]);
  });
});

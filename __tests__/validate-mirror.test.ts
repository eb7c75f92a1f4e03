import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { processRunning, tempDir } from "./helpers";
import { SHIPPED_NAMES } from "./shipped";
import { OBJECT_PROVIDER_ALIAS } from "../src/stacks/aws-provider";

/**
 * A fresh clone, synthesized: `npm run synth` from a copy of the repository's files (tracked and
 * new, never ignored ones: no dist/, no cdktf.out/, no release cache), with the repository's
 * history beside it as a clone has. Then:
 *  - every file the synthesized JSON references (`source`, `file()`, `filemd5()`, `filebase64()`,
 *    `templatefile()`, ...) exists relative to its stack folder, so `cdktf deploy` needs no
 *    other step;
 *  - `terraform validate` of every stack, unchanged but for the provider constraint and the
 *    backend, against a provider from a local mirror when one exists (this workplace has
 *    hashicorp/aws 5.100 in /opt/tf-plugins; TF_PROVIDER_MIRROR points elsewhere). The stacks
 *    require 6.25.0, which cannot be downloaded here: this proves the JSON is valid Terraform
 *    (expressions, references, functions) and valid for the resource schemas as 5.100 has them, a
 *    major version older than 6.25, not the same. TF_ACC=1 runs the exact check with the real
 *    provider (environments.test.ts).
 *
 * One `terraform init` and one `terraform validate` cover every environment: each stack's folder
 * is copied whole (its JSON and its assets) as a module of one root configuration. Each diagnostic
 * names the module's file, so every environment still gets a verdict of its own. terraform would
 * start the provider (a 700 MB binary) once for its schema and once more for each module's
 * `provider "aws"` block; instead it runs once, in its debug mode, and `terraform validate`
 * attaches to it (TF_REATTACH_PROVIDERS) for all of them: the same binary answering the same
 * requests (checked: a value its own validators reject, in one module, gives the same diagnostic,
 * against the same file, either way), for 2.1 CPU-seconds instead of 3.4. A provider without a
 * debug mode exits at once, and terraform starts it itself.
 */

const ROOT = path.join(__dirname, "..");
const MIRROR = process.env.TF_PROVIDER_MIRROR ?? "/opt/tf-plugins";
const awsVersions = (() => {
  const dir = path.join(MIRROR, "registry.terraform.io/hashicorp/aws");
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
})();
const terraform = spawnSync("terraform", ["version"], { encoding: "utf8" });
const skipReason =
  terraform.error !== undefined
    ? "terraform is not on PATH"
    : awsVersions.length === 0
      ? `no hashicorp/aws provider in a local mirror at ${MIRROR} (set TF_PROVIDER_MIRROR)`
      : undefined;
if (skipReason) console.info(`skipped: terraform validate against a local provider mirror: ${skipReason}`);

const work = tempDir("fresh-clone-");
const clone = path.join(work, "clone");
const outdir = path.join(clone, "cdktf.out");
const environments = SHIPPED_NAMES;

beforeAll(() => {
  // The files a clone of this working tree would have; node_modules as `npm ci` leaves it.
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT })
    .toString()
    .split("\0")
    .filter((f) => f && fs.lstatSync(path.join(ROOT, f), { throwIfNoEntry: false })?.isFile());
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(clone, file));
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
  const gitDir = execFileSync("git", ["rev-parse", "--path-format=absolute", "--git-common-dir"], { cwd: ROOT })
    .toString()
    .trim();
  const synth = spawnSync(process.execPath, [path.join(clone, "scripts/run.js"), "main.ts"], {
    cwd: clone,
    // A release cache and a launcher cache of its own (empty, as in a fresh clone: the linked
    // node_modules would otherwise give it this project's, and its bundle's record, written with
    // the clone's paths, would replace this project's); the history of this repository.
    env: {
      ...process.env,
      CDKTF_OUTDIR: outdir,
      RELEASE_CACHE_DIR: path.join(work, "cache"),
      CLASSIC_SERVERS_CACHE: path.join(work, "launcher-cache"),
      GIT_DIR: gitDir,
    },
    encoding: "utf8",
  });
  if (synth.status !== 0) throw new Error(`synth failed: ${synth.stderr}`);
}, 60_000);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Blocks this thread for `ms` (a beforeAll of spawnSync calls, with nothing to wait for on its loop). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The provider `terraform init` installed in `dir`, started in its debug mode (a plugin built on
 * HashiCorp's plugin libraries has it), with the TF_REATTACH_PROVIDERS value it prints, or the
 * reason it could not be; `stop()` ends it. Its output goes to a file, never a pipe: nothing reads
 * a pipe while spawnSync blocks this thread.
 */
function startProviderForReattach(
  dir: string,
  env: NodeJS.ProcessEnv,
): { reattach?: string; reason?: string; stop: () => void } {
  const installed = path.join(dir, ".terraform/providers/registry.terraform.io/hashicorp/aws");
  const binary = fs.existsSync(installed)
    ? fs
        .readdirSync(installed, { recursive: true, encoding: "utf8" })
        .map((f) => path.join(installed, f))
        .find((f) => /terraform-provider-aws[^/]*$/.test(f) && fs.statSync(f).isFile())
    : undefined;
  if (!binary) return { reason: `no provider under ${installed}`, stop: () => undefined };
  const output = path.join(dir, "provider-debug.out");
  const fd = fs.openSync(output, "w");
  const quiet = { TF_LOG_SDK: "off", TF_LOG_SDK_PROTO: "off", TF_LOG_PROVIDER: "off" };
  const child = spawn(binary, ["-debug"], { env: { ...env, ...quiet }, stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  child.on("error", () => undefined); // a binary that cannot start: no pid, handled below
  // In debug mode the provider runs until it is stopped: the caller stops it in a finally. (A
  // process "exit" listener would not help: jest gives a test file a process of its own.)
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  // it prints the line in about 0.3 s
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = fs.readFileSync(output, "utf8");
    const found = /TF_REATTACH_PROVIDERS='([^']+)'/.exec(text);
    if (found) return { reattach: found[1], stop };
    if (child.pid === undefined || !processRunning(child.pid) || Date.now() > deadline) {
      stop();
      return { reason: `the provider printed no reattach line: ${text.slice(0, 300)}`, stop };
    }
    pause(20);
  }
}

/** Every file path a stack's JSON reads at plan or apply time, as written. */
function referencedFiles(document: unknown): string[] {
  const found: string[] = [];
  const visit = (value: unknown, key?: string) => {
    if (typeof value === "string") {
      if (key === "source") found.push(value); // aws_s3_object and the like (providers' are under terraform)
      for (const m of value.matchAll(
        /\b(?:file|filemd5|filesha1|filesha256|filesha512|filebase64|filebase64sha256|filebase64sha512|templatefile|fileexists)\("([^"]+)"/g,
      )) {
        found.push(m[1]);
      }
    } else if (Array.isArray(value)) value.forEach((v) => visit(v));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  const { terraform: _settings, ...rest } = document as Record<string, unknown>;
  visit(rest);
  return found;
}

test.each(environments)("%s: every file its JSON references is inside its stack folder and exists", (env) => {
  const dir = path.join(outdir, "stacks", env);
  const files = referencedFiles(JSON.parse(fs.readFileSync(path.join(dir, "cdk.tf.json"), "utf8")));
  expect(files.length).toBeGreaterThan(0); // at least the release tarball
  for (const file of files) {
    const resolved = path.resolve(dir, file.replace(/^\$\{path\.(module|root)\}\//, ""));
    expect({ file, inside: !path.relative(dir, resolved).startsWith("..") }).toEqual({ file, inside: true });
    expect({ file, exists: fs.existsSync(resolved) }).toEqual({ file, exists: true });
  }
});

/**
 * The `terraform test` file that plans every environment against a mocked AWS provider (one per
 * provider of an environment, `aws.<env>` and `aws.<env>_objects`). What a mock cannot make up acceptably is given: policy documents that
 * are JSON (the roles and keys parse them at plan time), an account id, and an AMI id for the SSM
 * parameters that hold one.
 */
function planTest(envs: readonly string[]): string {
  const mock = (env: string) => `mock_provider "aws" {
  alias = "${env}"
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[]}" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:root" }
  }
  mock_data "aws_ssm_parameter" {
    defaults = { value = "ami-0123456789abcdef0", insecure_value = "ami-0123456789abcdef0" }
  }
}
`;
  const aliases = envs.flatMap((env) => [env, `${env}_${OBJECT_PROVIDER_ALIAS}`]);
  return [...aliases.map(mock), 'run "plan" {\n  command = plan\n}\n'].join("\n");
}

interface Diagnostic {
  readonly severity: string;
  readonly summary: string;
  readonly detail?: string;
  readonly range?: { readonly filename: string };
}

(skipReason ? describe.skip : describe)(
  `terraform validate with the mirrored provider (aws ${awsVersions.join(", ")})`,
  () => {
    const modulesDir = path.join(work, "validate");
    // GOGC=400: terraform and the provider (Go) collect garbage a quarter as often while they
    // decode the provider's schema; 0.8 of this file's 7.4 CPU-seconds, for about 100 MB more
    // memory per process (nothing else changes: `validate` checks the same)
    const terraformEnv = { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1", GOGC: "400" };
    let init: ReturnType<typeof spawnSync>;
    let validation: { valid: boolean; diagnostics: Diagnostic[] };
    let plan: SpawnSyncReturns<string>;

    beforeAll(() => {
      const modules: Record<string, { source: string; providers: Record<string, string> }> = {};
      const providers: Record<string, unknown>[] = [];
      for (const env of environments) {
        // The stack as synthesized, with its own files; only the provider constraint is relaxed
        // to the mirror's (not 6.25.0) and the backend dropped (a module has none). Its provider
        // blocks move to the root as `aws.<env>` and `aws.<env>_objects`, given to the module:
        // `terraform test` mocks the root's providers only, and a module with a provider of its
        // own would ask AWS.
        const dir = path.join(modulesDir, env);
        fs.cpSync(path.join(outdir, "stacks", env), dir, { recursive: true });
        const stack = JSON.parse(fs.readFileSync(path.join(dir, "cdk.tf.json"), "utf8"));
        stack.terraform.required_providers.aws.version = ">= 5.0";
        stack.terraform.required_providers.aws.configuration_aliases = [`aws.${OBJECT_PROVIDER_ALIAS}`];
        delete stack.terraform.backend;
        expect(Object.keys(stack.provider)).toEqual(["aws"]);
        expect(stack.provider.aws.map((p: { alias?: string }) => p.alias)).toEqual([undefined, OBJECT_PROVIDER_ALIAS]);
        const [main, objects] = stack.provider.aws;
        providers.push({ ...main, alias: env }, { ...objects, alias: `${env}_${OBJECT_PROVIDER_ALIAS}` });
        delete stack.provider;
        fs.rmSync(path.join(dir, "cdk.tf.json"));
        fs.writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify(stack, null, 2));
        modules[env] = {
          source: `./${env}`,
          providers: { aws: `aws.${env}`, [`aws.${OBJECT_PROVIDER_ALIAS}`]: `aws.${env}_${OBJECT_PROVIDER_ALIAS}` },
        };
      }
      fs.writeFileSync(
        path.join(modulesDir, "main.tf.json"),
        JSON.stringify({ provider: { aws: providers }, module: modules }, null, 2),
      );
      fs.mkdirSync(path.join(modulesDir, "tests"));
      fs.writeFileSync(path.join(modulesDir, "tests", "plan.tftest.hcl"), planTest(environments));
      init = spawnSync("terraform", ["init", "-backend=false", "-input=false", "-no-color", `-plugin-dir=${MIRROR}`], {
        cwd: modulesDir,
        env: terraformEnv,
        encoding: "utf8",
      });
      const provider = startProviderForReattach(modulesDir, terraformEnv);
      if (provider.reason) console.info(`terraform validate starts the provider itself: ${provider.reason}`);
      let validate: SpawnSyncReturns<string>;
      const env = provider.reattach ? { ...terraformEnv, TF_REATTACH_PROVIDERS: provider.reattach } : terraformEnv;
      try {
        validate = spawnSync("terraform", ["validate", "-json", "-no-color"], {
          cwd: modulesDir,
          env,
          encoding: "utf8",
          timeout: 50_000,
        });
        plan = spawnSync("terraform", ["test", "-no-color"], {
          cwd: modulesDir,
          env,
          encoding: "utf8",
          timeout: 60_000,
        });
      } finally {
        provider.stop();
      }
      validation = JSON.parse(validate.stdout || '{"valid":false,"diagnostics":[]}');
    }, 60_000);

    test("terraform init finds the provider in the mirror and says nothing else", () => {
      expect(
        String(init.stderr)
          .replace(/.*CLI configuration[\s\S]*?╵\n?/g, "")
          .trim(),
      ).toBe("");
      expect(init.status).toBe(0);
    });

    test.each(environments)("%s is valid Terraform", (env) => {
      const errors = validation.diagnostics
        .filter((d) => d.severity === "error" && (d.range === undefined || d.range.filename.startsWith(`${env}/`)))
        .map(({ summary, detail, range }) => ({ summary, detail, file: range?.filename }));
      expect(errors).toEqual([]);
    });

    test("a plan of every environment succeeds against a mocked AWS (terraform test, mock_provider; the mirror's schemas, not 6.25.0's)", () => {
      // beyond validate: what a plan evaluates (functions on known values, preconditions, counts
      // and for_each, the files the JSON reads), with made-up values for what AWS would answer
      expect({ status: plan.status, output: plan.stdout.slice(-2000) + plan.stderr.slice(-2000) }).toEqual({
        status: 0,
        output: expect.stringContaining("Success! 1 passed, 0 failed."),
      });
      for (const env of environments) expect(plan.stdout + plan.stderr).not.toContain(`module.${env}.provider`);
    });

    test("the configuration as a whole is valid", () => {
      expect(validation.diagnostics.filter((d) => d.severity === "error").map((d) => d.summary)).toEqual([]);
      expect(validation.valid).toBe(true);
    });
  },
);

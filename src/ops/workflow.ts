import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseAddress, parsePlanDocument, type PlanDocument, type SynthesizedStack } from "./plan-json";
import { listEnvironmentFolders } from "../config/load";
import { entryCommand, PROJECT_ROOT } from "../project-root";
import { isFileSystemError, readableStack } from "../readable-stack";
import { argumentsProblem } from "./usage";
import {
  answerStopSignals,
  OpsError,
  STOP_SIGNALS,
  releaseStopSignals,
  runTerraform,
  stoppedBy,
  type TerraformResult,
} from "./terraform";
import { LOCK_HOLDER_VARIABLE, takeOutputLock } from "../output-lock";

// What `npm run plan` and `npm run drift` share: read the command line, check the stack name,
// synthesize that one stack, `terraform init` it, and read a saved plan back as JSON.
//   ENVIRONMENTS_DIR, CDKTF_OUTDIR   as for `npm run synth` (tests point both elsewhere)

/** Where a command works, from the environment as `main.ts` reads it. */
function locations() {
  return {
    outdir: path.resolve(process.env.CDKTF_OUTDIR ?? path.join(PROJECT_ROOT, "cdktf.out")),
    environmentsDir: path.resolve(process.env.ENVIRONMENTS_DIR ?? path.join(PROJECT_ROOT, "environments")),
  };
}

/** A path as the user would type it from where they ran the command. */
export function shown(file: string): string {
  return path.relative(process.cwd(), file) || ".";
}

/** A synthesized, initialized stack, ready for `terraform plan`. */
export interface PreparedStack {
  readonly name: string;
  /** `cdktf.out` (or `CDKTF_OUTDIR`). */
  readonly outdir: string;
  /** `cdktf.out/stacks/<name>`: Terraform's working directory. */
  readonly dir: string;
  /** Its `cdk.tf.json`. */
  readonly document: SynthesizedStack;
}

/**
 * The `ENVIRONMENTS` selection that synthesizes stack `name`: the name of an environment folder, or
 * none (every environment) for a `state-<bucket>` bootstrap stack. Any other name is an error that
 * lists the environment folders.
 */
export function selectionFor(name: string, environmentsDir: string): string | undefined {
  const known = listEnvironmentFolders(environmentsDir);
  if (known.includes(name)) return name;
  // A state bucket stack exists only if some environment uses the bucket: synthesize them all.
  if (/^state-[a-z0-9][a-z0-9.-]*$/.test(name)) return undefined;
  throw new OpsError(
    `unknown environment "${name}": the environments are ${known.join(", ") || "(none)"} ` +
      `(the folders of ${shown(environmentsDir)}/); a state bucket's bootstrap stack is named state-<bucket>`,
  );
}

/** The synth was ended by a signal (a Ctrl-C to the terminal's process group). */
class SynthesisStopped extends OpsError {
  constructor(readonly signal: NodeJS.Signals) {
    super(`synthesis stopped by ${signal}`);
  }
}

function synthesize(selection: string | undefined, outdir: string): void {
  const env: NodeJS.ProcessEnv = { ...process.env, CDKTF_OUTDIR: outdir, [LOCK_HOLDER_VARIABLE]: String(process.pid) };
  if (selection) env.ENVIRONMENTS = selection;
  else delete env.ENVIRONMENTS;
  const run = spawnSync(...entryCommand("main.ts"), {
    cwd: PROJECT_ROOT,
    env,
    encoding: "utf8",
  });
  // a Ctrl-C reaches the synth too (this process's group): stopped, not failed. Not another
  // signal (out of memory is SIGABRT, the OOM killer's SIGKILL), nor spawnSync's own kill of a
  // synth past its output limit (run.error): those are failures, with what the synth said (review DA).
  if (run.signal && STOP_SIGNALS.includes(run.signal) && !run.error) throw new SynthesisStopped(run.signal);
  if (run.status !== 0) {
    const how = run.error ? ` (${run.error.message})` : run.signal ? ` (ended by ${run.signal})` : "";
    throw new OpsError(`synthesis failed${how}:\n${(run.stderr || run.stdout).trim()}`);
  }
  // to standard error: a command's standard output is its report (drift's goes into an issue, fenced)
  process.stderr.write(run.stdout);
}

function readStack(outdir: string, name: string, synthesized: boolean): SynthesizedStack {
  const file = path.join(outdir, "stacks", name, "cdk.tf.json");
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as SynthesizedStack;
  const manifest = path.join(outdir, "manifest.json");
  const stacks = fs.existsSync(manifest) ? Object.keys(JSON.parse(fs.readFileSync(manifest, "utf8")).stacks) : [];
  throw new OpsError(
    synthesized
      ? `no stack "${name}" was synthesized (stacks: ${stacks.join(", ") || "none"}); ` +
          `a state-<bucket> stack exists only for a bucket some environment's state.bucket names`
      : `no synthesized stack at ${shown(file)}: run \`npm run synth\` first, or drop --no-synth`,
  );
}

/**
 * What to say of a stack whose state holds no resources: never applied, or its state is elsewhere
 * than the backend now points (a moved key or workspace, a renamed project or folder, a state not
 * pushed after a move). Applying then creates a second copy of everything.
 */
export function emptyStateMessage(stackName: string): string {
  return (
    `${stackName}'s state holds no resources: the environment was never applied, or its state is not where the ` +
    "backend now points (state.backend, state.key or state.workspace changed, the project or folder renamed, or " +
    "a state not pushed after a move: docs/state.md). There is nothing to compare with, so no drift verdict"
  );
}

/**
 * The error for a failed Terraform command, with what Terraform said (or, when its output was
 * streamed as it ran, `echoed`, a pointer to it: printed again, it doubled the screen), and what to
 * do about the failures an operator meets first: a held lock, a changed backend, no credentials.
 */
export function terraformFailed(
  command: string,
  result: TerraformResult,
  stack: PreparedStack,
  echoed = false,
): OpsError {
  const output = result.stderr.trim() || result.stdout.trim() || "(no output)";
  const said = echoed ? "  (Terraform's output is above)" : output.replace(/^/gm, "  ");
  // Another run (a deploy, a colleague's plan) held the state past -lock-timeout: Terraform then
  // prints the holder's Lock Info. The same heading without it is a lock that could not be written
  // at all (no permission on the lock object, say), which waiting or force-unlock does not cure.
  const acquiring = /Error acquiring the state lock/.test(output);
  const held = acquiring && /Lock Info:[\s\S]*\bID:/.test(output);
  const locked = held
    ? `\n${stack.name}'s state is locked by another run, which kept it past the wait: nothing was checked or ` +
      "changed. Run this again once that run ends (Terraform's Lock Info above says who holds it); " +
      "`terraform force-unlock <ID>` only when that run is known to be dead."
    : acquiring
      ? `\n${stack.name}'s state lock could not be taken, and no other run holds it (Terraform shows no Lock Info): ` +
        "nothing was checked or changed. Read Terraform's error above: these credentials may lack access to the " +
        "lock (S3: GetObject, PutObject and DeleteObject on the state key's .tflock object)."
      : "";
  const dir = shown(stack.dir);
  // state.backend (or its bucket, key, workspace) changed since this folder's last init; Terraform
  // words it otherwise when HCP Terraform is either side
  const moved =
    /Backend configuration changed|Backend initialization required|HCP Terraform or Terraform Enterprise initialization required|Migrating (from|to) (HCP Terraform|backend)/;
  const backendMoved = !moved.test(output)
    ? ""
    : stack.document.terraform?.cloud !== undefined
      ? // HCP Terraform refuses init's -reconfigure and -migrate-state both
        `\n${stack.name}'s state is now in HCP Terraform, not where Terraform last kept it in ${dir}, and HCP ` +
        "Terraform refuses init -reconfigure and -migrate-state: for an environment that was never applied, " +
        `remove ${dir}/.terraform/terraform.tfstate (what Terraform remembers of the old backend), then terraform ` +
        `-chdir=${dir} init, then run this again; for one with resources, move its state first (docs/state.md, ` +
        "Moving a state into HCP Terraform)."
      : `\n${stack.name}'s state backend is not the one Terraform last used in ${dir}: for an environment that was ` +
        `never applied, terraform -chdir=${dir} init -reconfigure, then run this again; for one with resources, ` +
        "move its state first (docs/state.md, Bootstrap order for S3 state, step 3).";
  const noCredentials = /No valid credential sources found|NoCredentialProviders/.test(output)
    ? `\nNo AWS credentials were found for ${stack.name}: set AWS_PROFILE (after aws sso login for an SSO ` +
      "profile) or the AWS_* variables, and check them with aws sts get-caller-identity " +
      "(docs/getting-started.md#aws-credentials)."
    : "";
  return new OpsError(
    `terraform ${command} failed in ${dir} (exit ${result.status}):\n${said}${locked}${backendMoved}${noCredentials}`,
  );
}

/**
 * The error for a failed command that reads a stack's state without running `init` first
 * (`terraform output`, for wait-rollout): in a folder Terraform was never initialised in on this
 * machine (a fresh clone, another runner), Terraform asks for init with -reconfigure or
 * -migrate-state, which is not the advice there (review CV); otherwise as `terraformFailed`.
 */
export function stateReadFailed(command: string, result: TerraformResult, stack: PreparedStack): OpsError {
  if (fs.existsSync(path.join(stack.dir, ".terraform"))) return terraformFailed(command, result, stack);
  const dir = shown(stack.dir);
  return new OpsError(
    `terraform ${command} failed in ${dir}: Terraform was never initialised there on this machine (a fresh ` +
      `clone, another runner), so it cannot reach ${stack.name}'s state: terraform -chdir=${dir} init (npm run plan ` +
      `-- ${stack.name} runs it), then run this again`,
  );
}

/** The stack `name` in `cdktf.out`, synthesized first unless `synth` is false. */
export function synthesizedStack(name: string, options: { synth: boolean }): PreparedStack {
  const { outdir, environmentsDir } = locations();
  const selection = selectionFor(name, environmentsDir);
  if (options.synth) synthesize(selection, outdir);
  return { name, outdir, dir: path.join(outdir, "stacks", name), document: readStack(outdir, name, options.synth) };
}

/**
 * Terraform's words when the stack's `.terraform.lock.hcl` (kept across synths) holds a provider
 * version the configuration no longer allows: the project's provider pin moved.
 */
const LOCKED_TO_ANOTHER_VERSION = /does\s+not\s+match\s+configured\s+version\s+constraint/; // wrapped at 78 columns

/**
 * Synthesizes the stack (unless `--no-synth`) and runs `terraform init` in its directory; again
 * with `-upgrade` when its lock file holds a provider version the stack no longer allows (the
 * project's pin moved since that folder was initialised), which selects the pinned one.
 */
export async function prepareStack(name: string, options: { synth: boolean }): Promise<PreparedStack> {
  // Held until this process ends: no synth replaces the output folder while terraform runs in it
  // (the synth below is this process's own). Not for a reader of the stack alone (wait-rollout).
  // A stop signal from here on ends this process only once nothing it started runs, and then
  // starts nothing more (src/ops/terraform.ts): the lock goes as it exits.
  answerStopSignals();
  try {
    takeOutputLock(
      locations().outdir,
      `npm run ${path.basename(process.argv[1] ?? "", ".ts").replace(/\.js$/, "")} for ${name}`,
    );
  } catch (error) {
    throw new OpsError((error as Error).message);
  }
  let stack: PreparedStack;
  try {
    stack = synthesizedStack(name, options);
  } catch (error) {
    if (error instanceof SynthesisStopped) return stoppedBy(error.signal);
    throw error;
  }
  let init = await runTerraform("init", [], { cwd: stack.dir });
  if (init.status !== 0 && LOCKED_TO_ANOTHER_VERSION.test(init.stderr)) {
    process.stderr.write(
      `${name}: the stack's .terraform.lock.hcl holds a provider version the stack no longer allows (the pin ` +
        "in src/stacks/aws-provider.ts moved): terraform init -upgrade selects the pinned one\n",
    );
    init = await runTerraform("init", ["-upgrade"], { cwd: stack.dir });
  }
  if (init.status !== 0) throw terraformFailed("init", init, stack);
  return stack;
}

/**
 * How a plan treats the state lock: `wait` takes it, waiting for a concurrent run (another
 * pipeline, a colleague) instead of failing at once; `none` reads the state without it, for plans
 * that are never applied (a pull request's, drift's, the review before a deploy): they then need
 * no right to write the lock, and a plan cancelled half-way leaves no lock that stops the next
 * deploy. HCP Terraform locks its workspace itself: there the lock is always waited for.
 */
export type PlanLock = "wait" | "none";

/** A plan that takes the lock waits up to 5 minutes for a concurrent run to release it. */
const WAIT_FOR_LOCK = "-lock-timeout=5m";

/** The lock arguments of `terraform plan` for a stack: `none` only where state is in S3 or local. */
export function lockArguments(lock: PlanLock, document: { terraform?: Record<string, unknown> }): string[] {
  return lock === "none" && document.terraform?.cloud === undefined ? ["-lock=false"] : [WAIT_FOR_LOCK];
}

/**
 * The arguments of `terraform plan` for `npm run plan`: the lock (`lockArguments`), save the plan,
 * and replace each `--replace` address on purpose (`-replace=<address>`, checked to be a resource
 * address).
 */
export function planArguments(
  planFile: string,
  replace: readonly string[] = [],
  lock: readonly string[] = [WAIT_FOR_LOCK],
): string[] {
  for (const address of replace) {
    try {
      parseAddress(address);
    } catch {
      throw new OpsError(
        `--replace needs a resource address such as aws_instance.AppServer_Instance_1A2B3C4D (got "${address}")`,
      );
    }
  }
  return [...lock, `-out=${planFile}`, ...replace.map((address) => `-replace=${address}`)];
}

/** `terraform show -json <planFile>`, parsed and checked. */
export async function showPlan(stack: PreparedStack, planFile: string): Promise<PlanDocument> {
  const show = await runTerraform("show", ["-json", planFile], { cwd: stack.dir });
  if (show.status !== 0) throw terraformFailed("show", show, stack);
  try {
    return parsePlanDocument(show.stdout, `terraform show -json ${planFile}`);
  } catch (error) {
    throw new OpsError((error as Error).message);
  }
}

/** Options every ops command takes. */
const COMMON_OPTIONS = {
  "no-synth": { type: "boolean" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

export interface CliArgs {
  /** The stack (environment) name. */
  readonly stack: string;
  readonly synth: boolean;
  /** Stream Terraform's plan output (not with `--quiet`). */
  readonly echo: boolean;
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
}

/** A command-line tool: its name (the prefix of its messages), usage text and own options. */
export interface CliTool {
  readonly name: string;
  readonly usage: string;
  readonly options?: ParseArgsConfig["options"];
}

/**
 * Runs a command-line tool on `argv` (without node and the script): reads `<stack> [options]`,
 * runs `main`, and returns the exit code it returns; an `OpsError` (or bad arguments) is printed
 * as one message, and any failure returns 1.
 */
export async function cliCommand(
  tool: CliTool,
  main: (args: CliArgs) => Promise<number>,
  argv: readonly string[],
): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        options: { ...COMMON_OPTIONS, ...tool.options },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      throw new OpsError(`${argumentsProblem(error)}\n${tool.usage}`);
    }
    if (parsed.values.help) {
      console.log(tool.usage);
      return 0;
    }
    if (parsed.positionals.length !== 1) {
      throw new OpsError(`expected one environment name (got ${parsed.positionals.length})\n${tool.usage}`);
    }
    return await main({
      stack: parsed.positionals[0],
      synth: parsed.values["no-synth"] !== true,
      echo: parsed.values.quiet !== true,
      values: parsed.values as CliArgs["values"],
    });
  } catch (error) {
    console.error(
      error instanceof OpsError || isFileSystemError(error)
        ? `${tool.name}: ${error.message}`
        : `${tool.name}: ${readableStack(error)}`,
    );
    return 1;
  } finally {
    releaseStopSignals();
  }
}

/** Runs a command-line tool on this process's arguments and exits with the code it returns. */
export function runCli(tool: CliTool, main: (args: CliArgs) => Promise<number>): void {
  void cliCommand(tool, main, process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

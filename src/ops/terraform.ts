import { spawn, type ChildProcessByStdio } from "node:child_process";
import { constants as osConstants } from "node:os";
import type { Readable } from "node:stream";
import { workspaceProblem } from "../state-workspace";

/** A problem to report in one message, without a stack trace: bad input, a failed step. */
export class OpsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OpsError";
  }
}

/** Commands that accept `-input=false`; others (`show`, `output`) reject unknown flags. */
const TAKES_INPUT_FLAG = new Set(["init", "plan", "apply", "destroy", "import", "refresh"]);

/** The argument list of one Terraform command run unattended: never prompt, never colour. */
export function terraformArgs(command: string, args: readonly string[] = []): string[] {
  return [command, ...(TAKES_INPUT_FLAG.has(command) ? ["-input=false"] : []), "-no-color", ...args];
}

/**
 * The environment Terraform runs in: no version check against HashiCorp's servers
 * (`CHECKPOINT_DISABLE`), and output worded for automation (`TF_IN_AUTOMATION`). Refuses a
 * `TF_WORKSPACE` other than default (an empty state: src/state-workspace.ts).
 */
export function terraformEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const workspace = workspaceProblem(base.TF_WORKSPACE);
  if (workspace) throw new OpsError(workspace);
  return { ...base, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" };
}

export interface TerraformResult {
  /** The exit code (1 when Terraform was killed by a signal). */
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TerraformOptions {
  /** The stack's working directory. */
  readonly cwd: string;
  /** Also stream Terraform's output to this process's while it runs. @default false */
  readonly echo?: boolean;
}

/** Runs `terraform <command> -input=false -no-color <args>` in `cwd` and collects its output. */
export function runTerraform(
  command: string,
  args: readonly string[],
  options: TerraformOptions,
): Promise<TerraformResult> {
  return runProcess("terraform", terraformArgs(command, args), { ...options, env: terraformEnv() }).catch(
    (error: NodeJS.ErrnoException) => {
      throw error.code === "ENOENT"
        ? new OpsError("terraform is not on PATH: install Terraform 1.11 or later (the stacks require it)")
        : error;
    },
  );
}

/** A signal within this long of the first is the same interrupt, delivered twice (npm passes its copy on). */
const REPEAT_AFTER_MS = 1000;

/**
 * Runs a program and collects its output (the exit code is 1 when it was killed by a signal);
 * rejects only when it cannot be started. With `timeoutMs`, a program still running then is
 * stopped (SIGTERM, and SIGKILL 5 s later) and fails, saying so on its stderr.
 */
export function runProcess(
  program: string,
  args: readonly string[],
  options: {
    readonly cwd?: string;
    readonly env?: NodeJS.ProcessEnv;
    readonly echo?: boolean;
    readonly timeoutMs?: number;
  } = {},
): Promise<TerraformResult> {
  return new Promise((resolve, reject) => {
    // Interrupted, this process outlives the child, in this process's group: a terminal's Ctrl-C
    // reaches terraform too, which stops on its first interrupt, saving its state and releasing
    // its lock, and this one holds the output folder's lock (src/output-lock.ts) until it has, or a
    // synth could replace the folder under it (review BR). So the first signal is not passed on (a
    // second interrupt makes terraform exit at once, state and lock as they are), nor any in the
    // second after it (npm passes its own copy of a Ctrl-C on: review BT). A signal later than that
    // is passed on as an interrupt: the operator's second Ctrl-C (terraform stops at once), or a
    // signal repeated to this script alone, as a supervisor's stop is (terraform then hears its
    // first; review BS). Then exit 128 + the first signal.
    let interrupted: NodeJS.Signals | undefined;
    let firstAt = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (!interrupted) {
        interrupted = signal;
        firstAt = Date.now();
        process.stderr.write(
          `\n${signal}: waiting for ${program} to stop (it saves its state and releases its lock); ` +
            `a second one, a second or more later, stops it at once\n`,
        );
      } else if (Date.now() - firstAt >= REPEAT_AFTER_MS) {
        process.stderr.write(`\n${signal} again: ${program} told to stop\n`);
        child.kill("SIGINT");
      }
    };
    // Listening before the child exists: a signal between its start and the listener would end
    // this process at once, leaving the child running on (it did, in CI, under load).
    const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
    for (const signal of signals) process.on(signal, onSignal);
    const stopListening = () => {
      for (const signal of signals) process.off(signal, onSignal);
    };
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      stopListening();
      throw error;
    }
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    if (options.timeoutMs !== undefined) {
      timers.push(
        setTimeout(() => {
          timedOut = true;
          child.kill("SIGTERM");
          timers.push(setTimeout(() => child.kill("SIGKILL"), 5000));
        }, options.timeoutMs),
      );
    }
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (options.echo) process.stdout.write(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (options.echo) process.stderr.write(chunk);
    });
    child.on("error", (error) => {
      for (const timer of timers) clearTimeout(timer);
      stopListening();
      reject(error);
    });
    child.on("close", (code) => {
      for (const timer of timers) clearTimeout(timer);
      stopListening();
      if (interrupted) process.exit(128 + (osConstants.signals[interrupted] ?? 2));
      if (timedOut) {
        stderr += `${program} ${args.join(" ")}: timed out, no answer within ${options.timeoutMs! / 1000} s, stopped\n`;
        resolve({ status: code || 1, stdout, stderr });
      } else resolve({ status: code ?? 1, stdout, stderr });
    });
  });
}

import { spawn, type ChildProcess, type ChildProcessByStdio } from "node:child_process";
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

/** The signals that stop an ops script: a terminal's Ctrl-C, a supervisor's stop, a closed terminal. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * How this process answers a stop signal, shared by every `runProcess`: the program it runs now,
 * the first signal and when it came, and how many listen (`listen`).
 *
 * Interrupted, this process outlives the child, in this process's group: a terminal's Ctrl-C
 * reaches terraform too, which stops on its first interrupt, saving its state and releasing its
 * lock, and this one holds the output folder's lock (src/output-lock.ts) until it has, or a synth
 * could replace the folder under it (review BR). So the first signal is not passed on (a second
 * interrupt makes terraform exit at once, state and lock as they are), nor any in the second after
 * it (npm passes its own copy of a Ctrl-C on: review BT). A signal later than that is passed on as
 * an interrupt: the operator's second Ctrl-C (terraform stops at once), or a signal repeated to
 * this script alone, as a supervisor's stop is (terraform then hears its first; review BS). Then
 * exit 128 + the first signal. A signal while no program runs (the synth before terraform, between
 * two terraform commands) ends this process then, and no program starts after it (review CY).
 */
const stops: {
  running?: { readonly program: string; readonly child: ChildProcess };
  first?: NodeJS.Signals;
  firstAt: number;
  listeners: number;
  /** A command holds the listeners for its whole run (`answerStopSignals`). */
  held: boolean;
  /** This process is ending, waiting for its output to be written (`exitAfterOutput`). */
  exiting: boolean;
} = { firstAt: 0, listeners: 0, held: false, exiting: false };

/** The exit code of a process stopped by `signal`: 128 + its number. */
const stoppedCode = (signal: NodeJS.Signals) => 128 + (osConstants.signals[signal] ?? 2);

function onStop(signal: NodeJS.Signals): void {
  if (!stops.first) {
    stops.first = signal;
    stops.firstAt = Date.now();
    if (!stops.running) {
      process.stderr.write(`\n${signal}: stopped before the next step\n`);
      exitAfterOutput();
      return;
    }
    process.stderr.write(
      `\n${signal}: waiting for ${stops.running.program} to stop (it saves its state and releases its lock); ` +
        `a second one, a second or more later, stops it at once\n`,
    );
  } else if (Date.now() - stops.firstAt >= REPEAT_AFTER_MS) {
    if (stops.running) {
      process.stderr.write(`\n${signal} again: ${stops.running.program} told to stop\n`);
      stops.running.child.kill("SIGINT");
    } else if (stops.exiting) {
      // still writing out to a reader that does not read (a `| less` left open): the operator's
      // second signal ends it now, as the first one's message says (review DA)
      process.exit(stoppedCode(stops.first));
    }
  }
}

function listen(): void {
  if (stops.listeners++ === 0) for (const signal of STOP_SIGNALS) process.on(signal, onStop);
}

function stopListening(): void {
  if (--stops.listeners === 0) for (const signal of STOP_SIGNALS) process.off(signal, onStop);
}

/**
 * From now until the command ends (`releaseStopSignals`), stop signals are answered as
 * `runProcess` answers them, also while no program runs: an ops script that holds the output
 * folder's lock calls it before it takes the lock. Without it, a signal then ended the script at
 * once, its synth left running on into the folder, and the lock left behind (review CY).
 */
export function answerStopSignals(): void {
  if (stops.held) return;
  stops.held = true;
  listen();
}

/** Ends what `answerStopSignals` began (cliCommand, as its command ends; a test runs many in one process). */
export function releaseStopSignals(): void {
  if (!stops.held) return;
  stops.held = false;
  stopListening();
}

/**
 * Ends this process, stopped by the first signal (`stoppedCode`), once what it wrote to stdout and
 * stderr has gone out: writes to a pipe are queued when its reader lags, and `process.exit` drops
 * the queue (terraform's last lines, review CY).
 */
function exitAfterOutput(): void {
  stops.exiting = true;
  let waiting = 2;
  const done = () => {
    if (--waiting === 0) process.exit(stoppedCode(stops.first!));
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

/** A promise that never settles: this process is ending (`exitAfterOutput`). */
const ending = () => new Promise<never>(() => undefined);

/**
 * Synthesis (spawnSync) ended by `signal`, a Ctrl-C to the group: this process stops as for the
 * signal (which it may also have had), before anything else runs.
 */
export function stoppedBy(signal: NodeJS.Signals): Promise<never> {
  onStop(signal);
  return ending();
}

/**
 * Runs a program and collects its output (the exit code is 1 when it was killed by a signal);
 * rejects only when it cannot be started. With `timeoutMs`, a program still running then is
 * stopped (SIGTERM, and SIGKILL 5 s later) and fails, saying so on its stderr. Stop signals are
 * answered as `stops` says, from before the program starts: a signal between its start and the
 * listener would end this process at once, leaving the program running on (CI saw it under load).
 */
export async function runProcess(
  program: string,
  args: readonly string[],
  options: {
    readonly cwd?: string;
    readonly env?: NodeJS.ProcessEnv;
    readonly echo?: boolean;
    readonly timeoutMs?: number;
  } = {},
): Promise<TerraformResult> {
  listen();
  // A signal that came while this process was busy (a synth run with spawnSync) is answered
  // first, and no program starts after it: its handler runs once the event loop has polled for
  // events, which takes two turns when this code runs in a turn whose poll is already over (after
  // the launcher built a bundle, say; the first turn alone let terraform init start).
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  if (stops.first) return ending();
  return new Promise((resolve, reject) => {
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      stopListening();
      throw error;
    }
    stops.running = { program, child };
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    const ended = () => {
      for (const timer of timers) clearTimeout(timer);
      if (done) return;
      done = true;
      if (stops.running?.child === child) stops.running = undefined;
      stopListening();
    };
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
      ended();
      reject(error);
    });
    child.on("close", (code) => {
      ended();
      if (stops.first) {
        exitAfterOutput();
        return;
      }
      if (timedOut) {
        stderr += `${program} ${args.join(" ")}: timed out, no answer within ${options.timeoutMs! / 1000} s, stopped\n`;
        resolve({ status: code || 1, stdout, stderr });
      } else resolve({ status: code ?? 1, stdout, stderr });
    });
  });
}

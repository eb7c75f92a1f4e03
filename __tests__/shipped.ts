import * as fs from "node:fs";
import * as path from "node:path";
import { loadEnvironments, type EnvironmentConfig } from "../src/config/load";
import { PROJECT_ROOT } from "../src/project-root";
import { processRunning, Synthesized } from "./helpers";

/**
 * The shipped environments (`environments/*`) exactly as `npm run synth` writes them: synthesized
 * once per test run by global-setup.js, through the same launcher and main.ts, and read here by
 * every test file that reviews them. Each file parses a stack at most once.
 */

/** Every shipped environment folder, validated. */
export const SHIPPED_ENVIRONMENTS: readonly EnvironmentConfig[] = loadEnvironments({
  dir: path.join(PROJECT_ROOT, "environments"),
});

/** The names of the shipped environment folders, sorted. */
export const SHIPPED_NAMES: readonly string[] = SHIPPED_ENVIRONMENTS.map((env) => env.name).sort();

/**
 * `wanted`, or the first of `wanted-2`, `wanted-3`, ... that no environment folder has: a fixture
 * built beside the shipped environments must not take the name of a folder a user adds (the docs'
 * own example is `qa`), or the two stacks collide.
 */
export function unusedEnvironmentName(wanted: string): string {
  for (let n = 1; ; n++) {
    const name = n === 1 ? wanted : `${wanted}-${n}`;
    if (!SHIPPED_NAMES.includes(name)) return name;
  }
}

interface SynthRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How long a test file waits for the shared synthesis (started by global-setup.js) to end. */
const SYNTH_WAIT_MS = 120_000;
let synthRun: SynthRun | undefined;

/**
 * What the shared synthesis printed, once it has ended; throws, with its output, when it failed.
 * It ends with a result (shared-synth.js always writes one); should its process die without one,
 * or not end within SYNTH_WAIT_MS, the first reader writes that as the result, so that every
 * other test file fails at once too.
 */
export function shippedSynthRun(): SynthRun {
  const dir = process.env.SHIPPED_SYNTH_DIR;
  if (!dir) throw new Error("SHIPPED_SYNTH_DIR is not set: __tests__/global-setup.js did not run");
  if (!synthRun) {
    const file = path.join(dir, "synth.json");
    const pid = Number(fs.readFileSync(path.join(dir, "synth.pid"), "utf8"));
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + SYNTH_WAIT_MS;
    while (!fs.existsSync(file)) {
      const gone = !processRunning(pid) && !fs.existsSync(file);
      if (gone || Date.now() > deadline) {
        const failure: SynthRun = {
          status: null,
          stdout: "",
          stderr: gone
            ? `its process (${pid}) ended without a result`
            : `it did not end within ${SYNTH_WAIT_MS / 1000}s (process ${pid})`,
        };
        try {
          fs.writeFileSync(file, JSON.stringify(failure), { flag: "wx" }); // unless a result came meanwhile
        } catch {
          // the result (or another reader's verdict) is there: read it below
        }
        break;
      }
      Atomics.wait(pause, 0, 0, 10); // the synth runs in its own process (shared-synth.js): sleep, do not spin
    }
    synthRun = JSON.parse(fs.readFileSync(file, "utf8")) as SynthRun;
  }
  const run = synthRun;
  if (run.status !== 0) throw new Error(`npm run synth of the shipped environments failed:\n${run.stderr}`);
  return run;
}

/** The `cdktf.out` folder of the shared synthesis (read only: copy it to change anything). */
export function shippedOutdir(): string {
  shippedSynthRun();
  return path.join(process.env.SHIPPED_SYNTH_DIR!, "cdktf.out");
}

const parsed = new Map<string, Synthesized>();

/** One shipped environment's synthesized stack (`cdktf.out/stacks/<name>/cdk.tf.json`). */
export function shippedStack(name: string): Synthesized {
  let stack = parsed.get(name);
  if (!stack) {
    stack = new Synthesized(fs.readFileSync(path.join(shippedOutdir(), "stacks", name, "cdk.tf.json"), "utf8"));
    parsed.set(name, stack);
  }
  return stack;
}

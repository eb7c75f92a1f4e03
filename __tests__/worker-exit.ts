import type { ChildProcess } from "node:child_process";

/**
 * Runs `hook` as the process running this test file exits: when it ends as it should, and when a
 * signal (a Ctrl-C, jest's SIGTERM) or its jest's end stops it. For what a test started that
 * would outlive it (nginx, app processes, database servers): the hook must be synchronous and
 * quick (kill, remove). Returns the function that takes the hook back.
 *
 * In jest's workers (the integration project) a test file's `process` is jest's copy, whose
 * 'exit' listeners never run: the hooks go to the worker's own process (__tests__/jest-runtime.js).
 * Elsewhere (the unit runner's plain processes) to this process's 'exit'.
 */
export function onWorkerExit(hook: () => void): () => void {
  const register = (globalThis as Record<symbol, unknown>)[Symbol.for("classic-servers.onWorkerExit")];
  if (typeof register === "function") return (register as (hook: () => void) => () => void)(hook);
  process.on("exit", hook);
  return () => void process.off("exit", hook);
}

/** `child`, killed if this worker exits before it (`onWorkerExit`); the hook goes once it has ended. */
export function killedWithTheWorker<T extends ChildProcess>(child: T): T {
  child.once(
    "exit",
    onWorkerExit(() => child.kill("SIGKILL")),
  );
  return child;
}

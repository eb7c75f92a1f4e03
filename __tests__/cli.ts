import { format } from "node:util";

/** What a command printed, and its exit code. */
export interface CommandRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command-line command in this process, as its script runs it, with `env` set for the
 * duration: its exit code and everything it printed (console and process streams, in order).
 */
export async function runInProcess(
  command: () => number | Promise<number>,
  env: Readonly<Record<string, string>> = {},
): Promise<CommandRun> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[]) => (chunk: unknown) => (into.push(String(chunk)), true);
  const spies = [
    jest.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(`${format(...a)}\n`)),
    jest.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(`${format(...a)}\n`)),
    jest.spyOn(process.stdout, "write").mockImplementation(capture(out)),
    jest.spyOn(process.stderr, "write").mockImplementation(capture(err)),
  ];
  try {
    Object.assign(process.env, env);
    const status = await command();
    return { status, stdout: out.join(""), stderr: err.join("") };
  } finally {
    for (const spy of spies) spy.mockRestore();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

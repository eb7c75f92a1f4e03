/** An error meant for the person at the terminal: printed as it is, without a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Whether the command line asks for the usage (`--help` or `-h`), which a script prints and does nothing else. */
export function helpRequested(args: readonly string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}

/** Thrown for `--help` or `-h`: the runner prints `usage` to standard output and exits 0, having done nothing. */
export class HelpRequested extends Error {
  constructor(public readonly usage: string) {
    super(usage);
    this.name = "HelpRequested";
  }
}

/**
 * Refuses arguments a script does not take: it does its whole job when run, so an option it
 * ignored (`npm run release -- --dry-run`) would do that job while the operator meant it not to.
 */
export function noArguments(script: string, args: readonly string[]): void {
  if (helpRequested(args)) throw new HelpRequested(`usage: npm run ${script} (no arguments, no options)`);
  if (args.length > 0) {
    throw new UsageError(
      `takes no arguments, and did nothing (got ${args.join(" ")}): it has no options, no dry run; run it as \`npm run ${script}\``,
    );
  }
}

/**
 * For a script whose settings are variables (the bench, the drill): `--help` prints `usage`, and
 * any argument is refused with exit 2, before minutes of work start. True when it should run.
 */
export function variablesOnly(script: string, args: readonly string[], usage: string): boolean {
  if (helpRequested(args)) {
    console.log(usage);
    return false;
  }
  if (args.length > 0) {
    console.error(
      `${script}: takes no arguments, its settings are variables (got ${args.join(" ")}); --help lists them`,
    );
    process.exitCode = 2;
    return false;
  }
  return true;
}

/** `value` of variable `name` as a whole number of at least 1, or a `UsageError` naming both. */
function wholeCount(name: string, value: string): number {
  if (!/^[1-9][0-9]*$/.test(value))
    throw new UsageError(`${name} must be a whole number of at least 1 (got "${value}")`);
  return Number(value);
}

/** The value of variable `name` in `env`, trimmed, or undefined when it is unset or blank. */
function variable(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** The comma-separated items of `value`, trimmed; an empty item is a `UsageError` (`build,`, `2,,3`). */
function items(name: string, value: string): string[] {
  const list = value.split(",").map((item) => item.trim());
  if (list.includes("")) throw new UsageError(`${name} is a comma-separated list with an empty item (got "${value}")`);
  return list;
}

/**
 * For the scripts whose settings are variables: variable `name` as a whole number of at least 1, or
 * `fallback` when it is unset or blank. Anything else is a `UsageError` naming the variable: a
 * bench of `BENCH_RUNS=abc` must not run minutes of work on a count it made up.
 */
export function countVariable(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const value = variable(name, env);
  return value === undefined ? fallback : wholeCount(name, value);
}

/** Variable `name` as a comma-separated list of whole numbers of at least 1 (`2,3`), or `fallback`. */
export function countListVariable(
  name: string,
  fallback: readonly number[],
  env: NodeJS.ProcessEnv = process.env,
): number[] {
  const value = variable(name, env);
  return value === undefined ? [...fallback] : items(name, value).map((item) => wholeCount(name, item));
}

/**
 * Variable `name` as a comma-separated list of `allowed` names, or `fallback`. A name it does not
 * know is a `UsageError` that lists the allowed ones: a misspelled section or scenario would
 * otherwise select nothing, and the script end having measured nothing, successfully.
 */
export function choiceListVariable<T extends string>(
  name: string,
  allowed: readonly T[],
  fallback: readonly T[],
  env: NodeJS.ProcessEnv = process.env,
): T[] {
  const value = variable(name, env);
  if (value === undefined) return [...fallback];
  const chosen = items(name, value);
  const unknown = chosen.filter((item) => !(allowed as readonly string[]).includes(item));
  if (unknown.length > 0) {
    throw new UsageError(
      `${name} takes a comma-separated list of ${allowed.join(", ")} (got ${unknown.map((u) => `"${u}"`).join(", ")})`,
    );
  }
  return chosen as T[];
}

/**
 * What an error of Node's `parseArgs` says, for a script run through npm: an unknown option is
 * named, without Node's advice to pass it after `--` (npm has already taken that `--`; review DE).
 * Any other (an option's value missing) is Node's message as it is.
 */
export function argumentsProblem(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  const option = /^Unknown option '([^']+)'/.exec(message)?.[1];
  return code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option ? `unknown option ${option}` : message;
}

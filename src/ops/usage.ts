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

/** An error meant for the person at the terminal: printed as it is, without a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Refuses arguments a script does not take: it does its whole job when run, so an option it
 * ignored (`npm run release -- --dry-run`) would do that job while the operator meant it not to.
 */
export function noArguments(script: string, args: readonly string[]): void {
  if (args.length > 0) {
    throw new UsageError(
      `takes no arguments, and did nothing (got ${args.join(" ")}): it has no options, no dry run; run it as \`npm run ${script}\``,
    );
  }
}

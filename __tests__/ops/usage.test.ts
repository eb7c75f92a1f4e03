import { parseArgs } from "node:util";
import {
  argumentsProblem,
  choiceListVariable,
  countListVariable,
  countVariable,
  HelpRequested,
  helpRequested,
  noArguments,
  UsageError,
  variablesOnly,
} from "../../src/ops/usage";

// What every script does with --help and -h, and with an argument it does not read (the scripts
// themselves, as npm runs them: entry-points.test.ts, one flag each).

test("--help and -h, anywhere on the line, ask for the usage; nothing else does", () => {
  expect([["--help"], ["-h"], ["dev", "-h"], ["--quiet", "--help"]].map(helpRequested)).toEqual([
    true,
    true,
    true,
    true,
  ]);
  expect([[], ["dev"], ["--helpful"], ["-hh"], ["help"]].map(helpRequested)).toEqual([
    false,
    false,
    false,
    false,
    false,
  ]);
});

test("a script that takes no arguments answers --help and -h with its usage, and refuses anything else", () => {
  for (const flag of ["--help", "-h"]) {
    expect(() => noArguments("release", [flag])).toThrow(HelpRequested);
    expect(() => noArguments("release", [flag])).toThrow("usage: npm run release (no arguments, no options)");
  }
  expect(() => noArguments("release", ["--dry-run"])).toThrow(UsageError);
  expect(() => noArguments("release", ["--dry-run"])).toThrow(/takes no arguments, and did nothing \(got --dry-run\)/);
  expect(() => noArguments("release", [])).not.toThrow();
});

test("a script whose settings are variables prints its usage for --help, refuses an argument with exit 2, and runs with none", () => {
  const printed: string[] = [];
  const log = jest.spyOn(console, "log").mockImplementation((line: string) => void printed.push(`out: ${line}`));
  const error = jest.spyOn(console, "error").mockImplementation((line: string) => void printed.push(`err: ${line}`));
  const exitCode = process.exitCode;
  try {
    expect(variablesOnly("bench", ["-h"], "usage: npm run bench")).toBe(false);
    expect(process.exitCode).toBe(exitCode);
    expect(variablesOnly("bench", ["--runs=1"], "usage: npm run bench")).toBe(false);
    expect(process.exitCode).toBe(2);
    expect(variablesOnly("bench", [], "usage: npm run bench")).toBe(true);
    expect(printed).toEqual([
      "out: usage: npm run bench",
      "err: bench: takes no arguments, its settings are variables (got --runs=1); --help lists them",
    ]);
  } finally {
    process.exitCode = exitCode;
    log.mockRestore();
    error.mockRestore();
  }
});

describe("the settings of the bench and the drill, read from variables", () => {
  test("a count: unset or blank takes the default, a whole number of at least 1 is taken, anything else names the variable", () => {
    expect(countVariable("RUNS", 5, {})).toBe(5);
    expect(countVariable("RUNS", 5, { RUNS: " " })).toBe(5);
    expect(countVariable("RUNS", 5, { RUNS: " 12 " })).toBe(12);
    for (const bad of ["0", "-1", "1.5", "abc", "3x", "1e3", "0x10"]) {
      expect(() => countVariable("RUNS", 5, { RUNS: bad })).toThrow(
        new UsageError(`RUNS must be a whole number of at least 1 (got "${bad}")`),
      );
    }
  });

  test("a list of counts: each item a count, no empty item", () => {
    expect(countListVariable("PROCESSES", [2, 3], {})).toEqual([2, 3]);
    expect(countListVariable("PROCESSES", [2, 3], { PROCESSES: "4, 1" })).toEqual([4, 1]);
    expect(() => countListVariable("PROCESSES", [2, 3], { PROCESSES: "2,x" })).toThrow(
      new UsageError('PROCESSES must be a whole number of at least 1 (got "x")'),
    );
    expect(() => countListVariable("PROCESSES", [2, 3], { PROCESSES: "2,,3" })).toThrow(
      new UsageError('PROCESSES is a comma-separated list with an empty item (got "2,,3")'),
    );
  });

  test("a list of choices: only the names it knows, every unknown one named with what is allowed", () => {
    const sections = ["build", "in-server", "scaling"] as const;
    expect(choiceListVariable("SECTIONS", sections, ["build"], {})).toEqual(["build"]);
    expect(choiceListVariable("SECTIONS", sections, ["build"], { SECTIONS: "scaling, build" })).toEqual([
      "scaling",
      "build",
    ]);
    expect(() => choiceListVariable("SECTIONS", sections, ["build"], { SECTIONS: "biuld,scaling,Build" })).toThrow(
      new UsageError('SECTIONS takes a comma-separated list of build, in-server, scaling (got "biuld", "Build")'),
    );
    expect(() => choiceListVariable("SECTIONS", sections, ["build"], { SECTIONS: "build," })).toThrow(
      new UsageError('SECTIONS is a comma-separated list with an empty item (got "build,")'),
    );
  });
});

test("a parseArgs error is said in the terms of a script run through npm: an unknown option named, without Node's advice to put it after a `--` npm has already taken (review DE); another error as Node says it", () => {
  const problemOf = (args: string[]) => {
    try {
      parseArgs({ args, options: { regions: { type: "string" } }, allowPositionals: true, strict: true });
    } catch (error) {
      return argumentsProblem(error);
    }
    return undefined;
  };
  expect(problemOf(["dev", "--bogus"])).toBe("unknown option --bogus");
  expect(problemOf(["-x"])).toBe("unknown option -x");
  expect(problemOf(["--regions"])).toBe("Option '--regions <value>' argument missing");
  expect(problemOf(["dev", "--regions", "ap-northeast-2"])).toBeUndefined();
});

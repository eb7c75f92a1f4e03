import * as os from "node:os";
import { ROTATION } from "../src/userdata/app-host";
import { choiceListVariable, countListVariable, countVariable, UsageError, variablesOnly } from "../src/ops/usage";
import type { Kind, LoadResult } from "../__tests__/server/load";
import { nginxMissing, steadyLoad, TestBed } from "../__tests__/server/testbed";

// `npm run drill`: faults inside one server, measured. For 2 and 3 app processes behind nginx, each
// fault is repeated under a mixed load of GET /, POST /echo and the CPU-bound GET /work from 64
// keep-alive connections on loopback, as fast as the server answers; every request is counted,
// and every failure by kind. The test bed is the integration tests' (the rendered nginx.conf,
// unit, deploy and rotation scripts, the sample app, the unit run by a stand-in for systemd) with
// production's timings: settle 10 s, watchdog 3 probes of 2 s, nginx's timeouts; only the drain
// grace of the app is its default (1 s).
//   DRILL_REPEATS=N        faults per row (default 20)
//   DRILL_PROCESSES=2,3    process counts (default 2,3)
//   DRILL_SCENARIOS=...    comma-separated, of: baseline, kill, graceful, deploy, rollback, crash, hung
//   DRILL_CONNECTIONS=N    load connections (default 64)
// Takes about 1.5 hours with the defaults (the settle window dominates). Prints a Markdown table:
// per row the requests, the failures of each kind with their reasons, the 99th percentile of the
// answered requests and how many took over 2 s (compare with the baseline row: 64 connections
// keep two cores saturated, so requests queue), the longest stall (the longest time in which no
// request at all was answered: the server as a whole, not one process; a hung process shows in
// p99 and over 2 s instead) and the longest single request.

/** What the variables above ask for. */
interface Settings {
  readonly repeats: number;
  readonly processes: readonly number[];
  readonly connections: number;
  readonly scenarios: readonly Scenario[];
}

/** The variables, each checked before any work starts: a `UsageError` names one it cannot use. */
function settings(): Settings {
  const names = SCENARIOS.map((s) => s.name);
  const wanted = choiceListVariable("DRILL_SCENARIOS", names, names);
  return {
    repeats: countVariable("DRILL_REPEATS", 20),
    processes: countListVariable("DRILL_PROCESSES", [2, 3]),
    connections: countVariable("DRILL_CONNECTIONS", 64),
    scenarios: SCENARIOS.filter((s) => wanted.includes(s.name)),
  };
}
const KINDS: readonly Kind[] = ["GET /", "POST /echo", "GET /work"];
/** An answered request slower than this is counted (the ALB's health check waits 5 s; users less). */
const SLOW_MS = 2000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fault, done once on a bed that serves with every process in rotation; returns when it is over. */
interface Scenario {
  readonly name: string;
  readonly describe: string;
  /** `repeats`: how many rounds the row has. */
  run(bed: TestBed, round: number, repeats: number): Promise<void>;
}

/**
 * Until every process is in rotation again (bounded: a stuck bed fails the drill). Whatever the
 * health check says: after 3 restarts by the watchdog within 10 minutes the server reports itself
 * unhealthy (503), as designed, and the load balancer would replace it; the drill carries on.
 */
const recovered = (bed: TestBed) => bed.waitAllInRotation(120_000, { anyHealth: true });

/** Which process a round acts on: each in turn. */
const portOf = (bed: TestBed, round: number) => bed.host.appPorts[round % bed.host.appPorts.length];

const SCENARIOS: readonly Scenario[] = [
  {
    name: "baseline",
    describe: "no fault, 60 s",
    run: async (_bed, _round, repeats) => {
      await sleep(60_000 / repeats);
    },
  },
  {
    name: "kill",
    describe: "kill -9 of one process (systemd restarts it)",
    run: async (bed, round) => {
      const port = portOf(bed, round);
      bed.unit(port).kill("SIGKILL");
      await bed.waitFor("held out after kill -9", () => bed.held(port), 10_000);
      await recovered(bed);
    },
  },
  {
    name: "graceful",
    describe: "graceful restart of one process (systemctl restart)",
    run: async (bed, round) => {
      if (!(await bed.unit(portOf(bed, round)).restart())) throw new Error("restart failed");
    },
  },
  {
    name: "deploy",
    describe: "deploy of a new version",
    run: async (bed, round) => {
      const version = `1.1.${round}`;
      await bed.addRelease(version);
      const run = await bed.deploy(version);
      if (run.code !== 0) throw new Error(`deploy ${version} failed:\n${run.output}`);
    },
  },
  {
    name: "rollback",
    describe: "deploy of a release that crashes on one port (rolled back)",
    run: async (bed, round) => {
      const version = `2.0.${round}`;
      const broken = bed.host.appPorts.at(-1);
      await bed.addRelease(version, (source) =>
        source.replace(
          '"use strict";',
          `"use strict";\nif (process.env.PORT === "${broken}") throw new Error("broken");`,
        ),
      );
      const run = await bed.deploy(version);
      if (run.code !== 1 || !run.output.includes("rolled back")) throw new Error(`not rolled back:\n${run.output}`);
      await recovered(bed);
    },
  },
  {
    name: "crash",
    describe: "deploy of a release that crashes 5 s after it starts (rolled back)",
    run: async (bed, round) => {
      const version = `3.0.${round}`;
      await bed.addRelease(version, (source) =>
        source.replace(
          "server.listen(port, host, () => {",
          'server.listen(port, host, () => {\n  setTimeout(() => { throw new Error("dies after start"); }, 5000);',
        ),
      );
      const run = await bed.deploy(version);
      if (run.code !== 1 || !run.output.includes("rolled back")) throw new Error(`not rolled back:\n${run.output}`);
      await recovered(bed);
    },
  },
  {
    name: "hung",
    describe: "one process hangs (SIGSTOP; the watchdog restarts it)",
    run: async (bed, round) => {
      const port = portOf(bed, round);
      bed.unit(port).kill("SIGSTOP");
      await bed.waitFor("the watchdog holding the hung process out", () => bed.held(port), 60_000);
      await recovered(bed);
    },
  },
];

interface Row {
  readonly processes: number;
  readonly scenario: Scenario;
  readonly faults: number;
  readonly seconds: number;
  readonly load: LoadResult;
}

const count = (n: number) => n.toLocaleString("en-US");

/** `0`, or `3 (HTTP 502)`: failures of one kind of request, with their reasons. */
function failuresOf(load: LoadResult, kind: Kind): string {
  const result = load.byKind.get(kind)!;
  if (result.failed === 0) return "0";
  return `${result.failed} (${[...result.reasons].map(([reason, n]) => `${n}× ${reason}`).join(", ")})`;
}

async function drill(processes: number, scenario: Scenario, { repeats, connections }: Settings): Promise<Row> {
  const bed = await TestBed.serving(processes, {
    rotation: ROTATION,
    watchdog: true,
    appEnv: { APP_IDLE_GRACE_MS: "1000" },
  });
  try {
    const load = steadyLoad(bed.nginxPort, { kinds: KINDS, concurrency: connections, paceMs: 0, timeoutMs: 120_000 });
    await sleep(2000);
    const started = Date.now();
    for (let round = 0; round < repeats; round++) {
      await scenario.run(bed, round, repeats);
      await sleep(500);
    }
    const seconds = (Date.now() - started) / 1000;
    return {
      processes,
      scenario,
      faults: scenario.name === "baseline" ? 0 : repeats,
      seconds,
      load: await load.stop(),
    };
  } catch (error) {
    throw new Error(`${scenario.name} on ${processes} processes: ${(error as Error).message}\n${bed.logs()}`);
  } finally {
    await bed.stop();
  }
}

/** The `q` quantile of `values` (nearest rank). */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** One row of the table. */
function tableRow(r: Row): string {
  const slow = r.load.latencies.filter((ms) => ms > SLOW_MS).length;
  return (
    `| ${r.processes} | ${r.scenario.describe} | ${r.faults} | ${Math.round(r.seconds)} | ${count(r.load.ok + r.load.failed)} | ` +
    `${failuresOf(r.load, "GET /")} | ${failuresOf(r.load, "POST /echo")} | ${failuresOf(r.load, "GET /work")} | ` +
    `${(quantile(r.load.latencies, 0.99) / 1000).toFixed(2)} s | ${count(slow)} | ` +
    `${(r.load.maxGapMs / 1000).toFixed(2)} s | ${(r.load.maxMs / 1000).toFixed(2)} s |`
  );
}

const loadAverage = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(" ");

async function main(): Promise<void> {
  const chosen = settings();
  const missing = nginxMissing();
  if (missing) throw new Error(`the drill needs nginx: ${missing}`);
  console.log(`## In-server faults (npm run drill)\n`);
  console.log(
    `${os.cpus().length} cores, load average ${loadAverage()} at the start; ${chosen.connections} connections of ` +
      `GET /, POST /echo and GET /work (a third each), ${chosen.repeats} faults per row.\n`,
  );
  // Each row as soon as it is measured.
  console.log(
    "| processes | fault | faults | seconds | requests | failed GET / | failed POST /echo | failed GET /work | p99 | over 2 s | longest stall | longest request |",
  );
  console.log("|---:|---|---:|---:|---:|---|---|---|---:|---:|---:|---:|");
  for (const processes of chosen.processes) {
    for (const scenario of chosen.scenarios) {
      const row = await drill(processes, scenario, chosen);
      console.log(tableRow(row));
      console.error(`done: ${processes} processes, ${scenario.name} (load average ${loadAverage()})`);
    }
  }
  console.log(`\nload average ${loadAverage()} at the end.`);
}

// It reads no arguments (its settings are the variables above).
const USAGE =
  "usage: npm run drill (DRILL_REPEATS, DRILL_PROCESSES, DRILL_SCENARIOS, DRILL_CONNECTIONS: see scripts/drill-in-server.ts)";
if (variablesOnly("drill", process.argv.slice(2), USAGE)) {
  main().catch((error: unknown) => {
    // a setting it cannot use in one line (as every script's), anything unexpected with its stack
    console.error(
      error instanceof UsageError
        ? `drill: ${error.message}`
        : `drill failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
  });
}

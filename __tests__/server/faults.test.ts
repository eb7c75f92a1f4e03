import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { MIN_DEFAULT_PROCESSES } from "../../src/config/load";
import { PASSIVE_HEALTH_CHECK, ROTATION, SERVER_PATHS, type Rotation } from "../../src/userdata/app-host";
import { rotationScript } from "../../src/userdata/rotation-script";
import { heldMarker, unansweredMarker } from "../../src/userdata/nginx-conf";
import { installedProgram, tempDir } from "../helpers";
import { waitUntil } from "../wait-until";
import { killedWithTheWorker } from "../worker-exit";
import { sandboxMissing } from "./supervisor";
import {
  bedScenario,
  describeWithNginx,
  freePort,
  get,
  releasePorts,
  request,
  slowUploads,
  steadyLoad,
  type LoadResult,
  requestTimeOf,
  responseTimeOf,
  STEP_TIMEOUT_MS,
  TEST_ROTATION,
  TestBed,
} from "./testbed";

/**
 * Drills of issue 12, on real nginx with the rendered files: a rollback of a release broken on one
 * port (item 1), graceful restarts under load (item 2; the app's own drain is in in-server.test.ts),
 * how soon a restarted process is back (item 3), a hung process (item 4), a release that dies a few
 * seconds after it starts (item 5), and files the app writes under the unit's read-only file
 * system (item 6). Each scenario has its own test bed and runs beside the others. nginx's timings are production's; rotation timings are the
 * tests' (TEST_ROTATION: processes settle in 0.2 s) unless a test says otherwise. GETs and POSTs
 * go through nginx under every change; a POST that nginx had sent is never retried, so a failed
 * POST is a lost write.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const versionOf = async (port: number) => JSON.parse((await get(port, "/healthz")).body).version;

/** An edit of the sample app's server.js: `code` runs once it listens (where `port` is in scope). */
const onListening = (code: string) => (source: string) =>
  source.replace("server.listen(port, host, () => {", `server.listen(port, host, () => {\n  ${code}`);

/** Puts release `version` on disk: the sample app, dying `ms` after it listens ("dies after start"). */
const addReleaseDyingAfter = (bed: TestBed, version: string, ms: number) =>
  bed.addRelease(version, onListening(`setTimeout(() => { throw new Error("dies after start"); }, ${ms});`));

/** Resolves once every process of `bed` is in rotation again, each reporting `version`. */
async function expectAllOn(bed: TestBed, version: string): Promise<void> {
  await bed.waitAllInRotation();
  for (const port of bed.host.appPorts) expect(await versionOf(port)).toBe(version);
}

/**
 * Waits (30 s at most) until the watchdog holds `port` out, and returns when it did: the marker's
 * own time (it creates the file then), not when this worker next looked, as a busy jest worker's
 * polls run seconds late.
 */
async function heldByWatchdog(bed: TestBed, port: number, what: string, timeoutMs = 30_000): Promise<number> {
  const marker = heldMarker(bed.host, port);
  let heldAt = 0;
  await bed.waitFor(what, () => (heldAt = fs.statSync(marker, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 0, timeoutMs);
  return heldAt;
}

/**
 * The first process of `bed`, its flag file `flag` made under `load` once the load is answered,
 * until the watchdog holds it out (its flag then gone: its restart comes back well). Returns what
 * the load saw meanwhile and how long the watchdog took, by the marker's time.
 */
async function brokenUntilHeld(
  bed: TestBed,
  flag: string,
  load: ReturnType<typeof steadyLoad>,
  answered: number,
  timeoutMs?: number,
): Promise<{ seen: LoadResult; detectedMs: number }> {
  await load.answered(answered, 10_000);
  fs.writeFileSync(flag, "");
  const broke = Date.now();
  const heldAt = await heldByWatchdog(
    bed,
    bed.host.appPorts[0],
    "the watchdog holding the failing process out",
    timeoutMs,
  );
  fs.rmSync(flag);
  return { seen: await load.stop(), detectedMs: heldAt - broke };
}

/** `bed`'s first process, held out and restarted (it was `pid`), serves again beside the others, and no request fails. */
async function servesAgainAfterRestart(bed: TestBed, pid: number | undefined): Promise<void> {
  const [victim, other] = bed.host.appPorts;
  await bed.waitAllInRotation(30_000);
  expect(bed.unit(victim).pid).not.toBe(pid);
  const after = steadyLoad(bed.nginxPort, { withPosts: true });
  await after.answered(200, 20_000);
  const seen = await after.stop();
  expect({ failed: seen.failed, failures: seen.failures }).toEqual({ failed: 0, failures: [] });
  expect(seen.byPort.get(victim)).toBeGreaterThan(0);
  expect(seen.byPort.get(other)).toBeGreaterThan(0);
}

/**
 * A release that resets the connection of every request but its health check on `port` only (its
 * state broken there: review DT), its /healthz still 200.
 */
const resetsOn = (port: number) => (source: string) =>
  source.replace(
    '"use strict";',
    `"use strict";\nif (process.env.PORT === "${port}") { const http = require("node:http"); const create = http.createServer; ` +
      `http.createServer = function (handler) { return create.call(this, (req, res) => ` +
      `req.url.startsWith("/healthz") ? handler(req, res) : req.socket.resetAndDestroy()); }; }`,
  );

/** A release that crashes at start on `port` only (a port-specific configuration error). */
const brokenOn = (port: number) => (source: string) =>
  source.replace(
    '"use strict";',
    `"use strict";\nif (process.env.PORT === "${port}") throw new Error("broken on this port");`,
  );

/** Lines of the deploy's output that report a process back on the old version, in order. */
const backOn = (output: string) => [...output.matchAll(/port (\d+): back on 1\.0\.0/g)].map((m) => Number(m[1]));

/**
 * nginx's access-log line of a request's tries, in order (a GET tried on the next after a reset),
 * as the server's log format writes it: a status the process answered, with its header time, or
 * "reset", nginx's 502 with none.
 */
function accessLogLine(tries: [port: number, status: number | "reset"][], method = "GET"): string {
  const status = (s: number | "reset") => (s === "reset" ? 502 : s);
  return (
    `127.0.0.1 [2026-12-06T02:00:00+00:00] "${method} / HTTP/1.1" ${status(tries.at(-1)![1])} 2 0.001 rt=0.001 ` +
    `upstream=${tries.map(([port]) => `127.0.0.1:${port}`).join(", ")} ` +
    `ustatus=${tries.map(([, s]) => status(s)).join(", ")} ` +
    `uht=${tries.map(([, s]) => (s === "reset" ? "-" : "0.001")).join(", ")} urt=0.001 xff="-"\n`
  );
}

/**
 * The watchdog alone, with production's outlier thresholds (the test bed's are lower), over two processes that answer its
 * health checks, reading an access log the test writes (`write`): `body` runs once it watches, and
 * the watchdog and the processes are stopped after it, whatever it did.
 */
async function watchingWrittenLog(
  name: string,
  body: (context: {
    watchdog: Awaited<ReturnType<typeof standaloneWatchdog>>;
    watch: ChildProcess;
    failing: number;
    fine: number;
    write: (lines: string[]) => void;
  }) => Promise<void>,
): Promise<void> {
  const watchdog = await standaloneWatchdog(name, { outlier: ROTATION.outlier });
  const [failing, fine] = watchdog.ports;
  const servers = await Promise.all(watchdog.ports.map((port) => serverProcess(port, "answers")));
  fs.writeFileSync(watchdog.accessLog, "");
  const watch = watchdog.start();
  try {
    await waitUntil("the watchdog watching", () => watchdog.output().includes("watching ports"), 30_000);
    await body({
      watchdog,
      watch,
      failing,
      fine,
      write: (lines) => fs.appendFileSync(watchdog.accessLog, lines.join("")),
    });
  } finally {
    watch.kill("SIGKILL");
    for (const server of servers) server.kill("SIGKILL");
  }
}

/**
 * The watchdog alone (`rotation watch`, as its unit runs it) over two free ports, with a test
 * stand-in for systemctl that records every call, reports every unit active, and gives a unit's
 * MainPID once the test set it (`setPid`; none before). Probes every 0.1 s with a 0.5-s timeout;
 * `rotation` overrides the rest of TEST_ROTATION.
 */
async function standaloneWatchdog(name: string, rotation: Partial<Rotation>) {
  const dir = tempDir(`${name}-`);
  const ports = [await freePort(), await freePort()];
  const rotationDir = path.join(dir, "rotation");
  fs.mkdirSync(rotationDir);
  const script = path.join(dir, "rotation.sh");
  fs.writeFileSync(
    script,
    rotationScript({
      environment: "test",
      version: "1.0.0",
      listenPort: 80,
      healthCheckPath: "/healthz",
      appPorts: ports,
      appUser: "app",
      passiveHealthCheck: PASSIVE_HEALTH_CHECK,
      rotation: { ...TEST_ROTATION, watchIntervalSeconds: 0.1, watchTimeoutSeconds: 0.5, ...rotation },
      paths: { ...SERVER_PATHS, rotationDir, nginxLogDir: dir },
    }),
    { mode: 0o755 },
  );
  const ctl = path.join(dir, "systemctl");
  const log = path.join(dir, "calls");
  fs.writeFileSync(
    ctl,
    // each call is written down once answered (a test that sees it can change the next answer)
    `#!/bin/bash\n[[ $1 == is-active ]] && echo active\n[[ $1 == show ]] && cat "${dir}/pid-\${!#}" 2>/dev/null\n` +
      `echo "$*" >> ${log}\nexit 0\n`,
    { mode: 0o755 },
  );
  const output = path.join(dir, "watchdog.log");
  return {
    ports,
    rotationDir,
    /** The access log the watchdog's outlier check reads (nginx's, in production). */
    accessLog: path.join(dir, "access.log"),
    /** What the watchdog told systemctl, one call a line. */
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : ""),
    /** What the watchdog logged. */
    output: () => (fs.existsSync(output) ? fs.readFileSync(output, "utf8") : ""),
    /** Makes `systemctl show --property=MainPID --value app@<port>` answer `pid`. */
    setPid: (port: number, pid: number) => fs.writeFileSync(path.join(dir, `pid-app@${port}`), `${pid}\n`),
    /** Starts `rotation watch`; `env` is added to its environment. */
    start: (env: Record<string, string> = {}) => {
      const fd = fs.openSync(output, "a");
      const child = spawn(script, ["watch"], {
        env: { ...process.env, APP_CTL: ctl, ...env },
        stdio: ["ignore", fd, fd],
      });
      fs.closeSync(fd);
      return child;
    },
  };
}

/**
 * An HTTP server on `port` in a process of its own, so that it answers whatever the jest worker's
 * event loop is doing: the drills beside it hold that loop for moments, and the watchdog's probes
 * wait 0.5 s. "answers": 200 and "ok"; "stalls": the status line and part of the body, then nothing
 * (a process hung mid-answer); "busy": /healthz answered after 3 s (queued behind work, as under
 * overload), any other request at once. Killing it closes its connections, as a process that died.
 */
async function serverProcess(port: number, behaviour: "answers" | "stalls" | "busy"): Promise<ChildProcess> {
  const handler = {
    answers: 'res.end("ok\\n")',
    stalls: 'res.writeHead(200, { "content-length": "100" }); res.write("partial")',
    busy: 'if (req.url === "/healthz") setTimeout(() => res.end("ok\\n"), 3000); else res.end("ok\\n")',
  }[behaviour];
  const child = spawn(
    process.execPath,
    [
      "-e",
      `require("node:http").createServer((req, res) => { ${handler}; }).listen(${port}, "127.0.0.1", () => console.log("listening"))`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  killedWithTheWorker(child);
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the server on ${port} exited (${code}) before it listened`)));
    child.stdout!.once("data", () => resolve());
  });
  return child;
}

/**
 * A process that writes a byte (to /dev/null) every `everyMs`: all the time, as a process that logs
 * does (10 ms); or now and then, as a hung Node.js process's event loop wakes up (100 ms).
 */
const writingProcess = (everyMs = 10) =>
  killedWithTheWorker(
    spawn(process.execPath, ["-e", `setInterval(() => require("node:fs").writeSync(1, "."), ${everyMs})`], {
      stdio: "ignore",
    }),
  );

/**
 * The watchdog alone (2 missed checks kill), over a "busy" process (`serverProcess`), which the
 * stand-in systemd names as its port's MainPID, and a process that answers on the other port.
 */
async function watchdogOverBusyProcess(name: string) {
  const watchdog = await standaloneWatchdog(name, { watchFailures: 2 });
  const [busy, other] = watchdog.ports;
  const busyServer = await serverProcess(busy, "busy");
  const answers = await serverProcess(other, "answers");
  watchdog.setPid(busy, busyServer.pid!);
  return { ...watchdog, busy, other, busyServer, answers };
}

/** Ends a standalone watchdog drill: the watchdog, then `processes`, then the ports. */
async function endWatchdogDrill(watch: ChildProcess, ports: number[], ...processes: ChildProcess[]): Promise<void> {
  watch.kill("SIGKILL");
  for (const child of processes) await stopServer(child);
  releasePorts(ports);
}

/** Kills a `serverProcess` and waits until it is gone. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

describeWithNginx("issue 12 drills: server faults, failing only POSTs a dying process had", () => {
  // ---- Item 1: a rollback keeps the server up ----
  const two = bedScenario(() => TestBed.serving(2));
  test.concurrent(
    "2 processes, a release broken on one port: the broken port is rolled back first, and no request fails",
    two(async (bed) => {
      const [first, second] = bed.host.appPorts;
      await bed.addRelease("2.0.0", brokenOn(second));
      const load = steadyLoad(bed.nginxPort, { withPosts: true, concurrency: 6 });
      await sleep(200);
      const run = await bed.deploy("2.0.0");
      // on a loaded machine the pace drops: the load goes on until it has carried enough to mean something
      await bed.waitFor("more than 50 POSTs answered", () => load.okOf("POST /echo") > 50, 30_000);
      const seen = await load.stop();
      expect(run.code).toBe(1);
      expect(run.output).toContain(
        `port ${second}: 2.0.0 did not start, answer its health check and settle; rolling back, this port first`,
      );
      expect(backOn(run.output)).toEqual([second, first]);
      // Each start of the broken process fails as soon as it exits, not after the start timeout:
      // systemd lets ExecStartPost run on after the process exits, so admit watches $MAINPID.
      expect(bed.logs()).toContain(`port ${second}: the process exited before it became healthy`);
      expect(bed.logs()).not.toContain("not healthy within");
      expect(seen.failures).toEqual([]);
      expect(seen.posts).toBeGreaterThan(50);
      for (const port of bed.host.appPorts) expect(await versionOf(port)).toBe("1.0.0");
    }),
    STEP_TIMEOUT_MS,
  );

  // The watchdog marks such a port and never kills it here, so that the deploy meets it in rotation.
  const marking = bedScenario(() =>
    TestBed.serving(2, { watchdog: true, rotation: { outlier: { ...TEST_ROTATION.outlier, minUnanswered: 1000 } } }),
  );
  test.concurrent(
    "a deploy moves first a process nginx gets no answer from (the watchdog's marker), its health check answering or not: the fix of a release that resets on one port fails no GET (review DT: moving the answering one first left the other alone with every request, 17,460 failed in 12 s)",
    marking(async (bed) => {
      const [first, second] = bed.host.appPorts;
      await bed.addRelease("2.0.0", resetsOn(second));
      // its health check answers: the deploy goes through
      expect((await bed.deploy("2.0.0")).code).toBe(0);
      const load = steadyLoad(bed.nginxPort, { withPosts: true, concurrency: 4 });
      await bed.waitFor("the watchdog's marker", () => fs.existsSync(unansweredMarker(bed.host, second)), 30_000);
      expect(fs.existsSync(unansweredMarker(bed.host, first))).toBe(false);
      const fix = await bed.deploy("1.0.0");
      await sleep(200);
      const seen = await load.stop();
      expect(fix.code).toBe(0);
      expect(fix.output).toContain(`port ${second}: no answer through nginx lately: moved first`);
      // a GET sent to it is tried on the other throughout; a POST sent to it before it moved is lost
      expect(seen.byKind.get("GET /")!.failed).toBe(0);
      for (const port of bed.host.appPorts) expect(await versionOf(port)).toBe("1.0.0");
      // its first answered second clears the marker
      await get(bed.nginxPort, "/");
      await bed.waitFor(
        "the marker cleared",
        async () => {
          await get(bed.nginxPort, "/");
          return !fs.existsSync(unansweredMarker(bed.host, second));
        },
        30_000,
      );
    }),
    STEP_TIMEOUT_MS,
  );

  const three = bedScenario(() => TestBed.serving(3));
  test.concurrent(
    "3 processes, a release broken on the last port: never more than one process out of rotation, and no request fails",
    three(async (bed) => {
      const ports = bed.host.appPorts;
      await bed.addRelease("2.0.0", brokenOn(ports[2]));
      const load = steadyLoad(bed.nginxPort, { withPosts: true });
      let mostHeld = 0;
      const sampler = setInterval(() => {
        mostHeld = Math.max(mostHeld, ports.filter((port) => bed.held(port)).length);
      }, 10);
      const run = await bed.deploy("2.0.0");
      clearInterval(sampler);
      const seen = await load.stop();
      expect(run.code).toBe(1);
      expect(backOn(run.output)).toEqual([ports[2], ports[1], ports[0]]);
      expect(mostHeld).toBe(1);
      expect(seen.failures).toEqual([]);
      for (const port of ports) expect(await versionOf(port)).toBe("1.0.0");
    }),
    STEP_TIMEOUT_MS,
  );

  // ---- Item 5: a release that dies soon after it starts ----
  // The settle window is 1.5 s here (10 s in production); the release dies 0.8 s after it listens,
  // after its first healthy answer.
  const settling = bedScenario(() => TestBed.serving(2, { rotation: { settleSeconds: 1.5 } }));
  test.concurrent(
    "a release that dies a moment after it starts is caught while settling and rolled back, unseen by clients",
    settling(async (bed) => {
      await addReleaseDyingAfter(bed, "3.0.0", 800);
      const load = steadyLoad(bed.nginxPort, { withPosts: true });
      await sleep(200);
      const run = await bed.deploy("3.0.0");
      const seen = await load.stop();
      expect(run.code).toBe(1);
      expect(run.output).toContain("back on 1.0.0");
      // It answered its health check, then died within the settle window (the settling hook sees
      // the process gone: systemd would let it run on).
      expect(bed.logs()).toMatch(/sample-app 3\.0\.0 listening[\s\S]*healthy; settling[\s\S]*dies after start/);
      expect(seen.failures).toEqual([]);
      expect(seen.byVersion.get("3.0.0") ?? 0).toBe(0);
      for (const port of bed.host.appPorts) expect(await versionOf(port)).toBe("1.0.0");
    }),
    STEP_TIMEOUT_MS,
  );

  // A process stopped by hand (held out, as ExecStop leaves it) when a deploy begins: the deploy
  // moves it first. Moved in port order, the first port would settle while the stopped one is
  // still held, and with two held nginx holds out none: the settling process would take requests.
  // The release dies 2.5 s after it listens, within a 4-s settle window: later than nginx's
  // fail_timeout, which could otherwise keep a process it saw stop out of the upstream all along.
  // A light load (two clients, ten requests a second each) shows where requests go.
  const oneStopped = bedScenario(() => TestBed.serving(2, { rotation: { settleSeconds: 4 } }));
  test.concurrent(
    "a deploy while one process is stopped moves that one first, so no settling process takes a request",
    oneStopped(async (bed) => {
      const stopped = bed.host.appPorts[1]!;
      await bed.unit(stopped).stop();
      expect(bed.held(stopped)).toBe(true);
      await addReleaseDyingAfter(bed, "3.2.0", 2500);
      const load = steadyLoad(bed.nginxPort, { withPosts: true, concurrency: 2, paceMs: 100 });
      await sleep(200);
      const run = await bed.deploy("3.2.0");
      const seen = await load.stop();
      expect(run.code).toBe(1);
      // the stopped port was the first (and, as it failed, the only) one moved
      expect(run.output.match(/port \d+: [\d.]+ -> 3\.2\.0/g)).toEqual([`port ${stopped}: 1.0.0 -> 3.2.0`]);
      expect(run.output).toContain(`port ${stopped}: back on 1.0.0`);
      expect(seen.byVersion.get("3.2.0") ?? 0).toBe(0);
      expect(seen.failures).toEqual([]);
      await expectAllOn(bed, "1.0.0");
    }),
    STEP_TIMEOUT_MS,
  );

  // A release that dies after its settle window, while the deploy moves the next process: the first
  // port's process exits once the deploy has begun to move the second (a file the test writes
  // tells it to), and systemd starts it again. The deploy checks, before each move and at its
  // end, that every port it moved still runs the process that settled.
  const lateDeath = bedScenario(() => TestBed.serving(2, { rotation: { settleSeconds: 1 } }));
  test.concurrent(
    "a release that dies after it settled, while the deploy moves the next process, fails the deploy and is rolled back",
    lateDeath(async (bed) => {
      const [first, second] = bed.host.appPorts;
      const triggers = tempDir("late-death-"); // the process that finds its file removes it, and exits
      await bed.addRelease(
        "3.1.0",
        onListening(
          `setInterval(() => { const die = ${JSON.stringify(triggers)} + "/die-" + port; if (fs.existsSync(die)) { fs.rmSync(die); process.exit(3); } }, 50).unref();`,
        ),
      );
      const deploy = bed.deploy("3.1.0");
      // The second port is held out once its restart began: the first has settled on 3.1.0 by then.
      await bed.waitFor("the deploy moving the second port", () => bed.held(second), 30_000);
      fs.writeFileSync(path.join(triggers, `die-${first}`), "");
      const run = await deploy;
      expect(run.output).toMatch(
        new RegExp(`port ${first}: its 3\\.1\\.0 process \\(pid \\d+\\) exited after it settled`),
      );
      expect(run.output).toContain(`port ${second}: back on 1.0.0`);
      expect(run.output).toContain(`port ${first}: back on 1.0.0`);
      expect(run.output).not.toContain("done:");
      expect(run.code).toBe(1);
      await expectAllOn(bed, "1.0.0");
      // The rolled-back release's end (its exit 3, noted for the watchdog) is forgotten: three such
      // ends in the watchdog's window would fail the server's /healthz while it serves (review DJ).
      const exits = path.join(bed.host.paths.rotationDir, "exits");
      expect(fs.existsSync(exits) ? fs.readFileSync(exits, "utf8") : "").toBe("");
    }),
    STEP_TIMEOUT_MS,
  );

  // The same death under load (review BW): with 2 processes the other one is being stopped or is
  // settling when it comes, so nothing of the old release was in rotation and the whole server
  // answered 502, GETs too. With 3 (the least a server gets now: MIN_DEFAULT_PROCESSES), the third
  // serves on the old release throughout: only requests in flight on the dying process may fail.
  // (Run with 2, this test fails: 32 GETs answered 502.)
  const lateDeathOfThree = bedScenario(() =>
    TestBed.serving(MIN_DEFAULT_PROCESSES, { rotation: { settleSeconds: 1 } }),
  );
  test.concurrent(
    "with 3 processes, a release that dies after it settled, while the deploy moves the next one, costs no GET: a process of the old release serves throughout (a stall is no measure here: the load's own pauses on a busy CI machine reached 2 s)",
    lateDeathOfThree(async (bed) => {
      const [first, second] = bed.host.appPorts;
      const triggers = tempDir("late-death-three-");
      await bed.addRelease(
        "3.1.1",
        onListening(
          `setInterval(() => { const die = ${JSON.stringify(triggers)} + "/die-" + port; if (fs.existsSync(die)) { fs.rmSync(die); process.exit(3); } }, 50).unref();`,
        ),
      );
      const load = steadyLoad(bed.nginxPort, { withPosts: true, concurrency: 6, paceMs: 10 });
      await load.answered(20, 10_000);
      const deploy = bed.deploy("3.1.1");
      await bed.waitFor("the deploy moving the second port", () => bed.held(second), 30_000);
      fs.writeFileSync(path.join(triggers, `die-${first}`), "");
      const run = await deploy;
      const seen = await load.stop();
      expect(run.output).toMatch(
        new RegExp(`port ${first}: its 3\\.1\\.1 process \\(pid \\d+\\) exited after it settled`),
      );
      expect(run.code).toBe(1);
      const gets = seen.byKind.get("GET /")!;
      expect(gets.ok).toBeGreaterThan(20);
      expect({ failedGets: gets.failed, reasons: [...gets.reasons] }).toEqual({ failedGets: 0, reasons: [] });
      await expectAllOn(bed, "1.0.0");
    }),
    STEP_TIMEOUT_MS,
  );

  // ---- Item 3: a process that is back is used at once ----
  // systemd restarts a killed process after 5 s here (RestartSec; tests' default 0.2 s), long
  // enough for nginx to be seen finding every process down (a slow worker lengthens that window
  // too: the stand-in's timer restarts them; with 2 s, a worker held by the drills beside it on a
  // machine at load 16 once saw no 502 in the window, and the test failed without a defect). The check after it can only prove something when
  // the worker reaches it within nginx's fail_timeout (1 s); a slower worker makes it pass
  // without proof, never fail.
  const restarts = bedScenario(() => TestBed.serving(2, { rotation: { restartSeconds: 5 } }));
  test.concurrent(
    "a restarted process takes requests as soon as it is back, so restarting the next one right after fails nothing",
    restarts(async (bed) => {
      const [first, second] = bed.host.appPorts;
      const load = steadyLoad(bed.nginxPort, { withPosts: true });
      await sleep(200);
      expect(await bed.unit(first).restart()).toBe(true);
      // Back in rotation: nginx sends it requests at once (no fail_timeout to wait out): one of
      // the next 10 requests (a fraction of a second) is its.
      let served = 0;
      for (let i = 0; i < 10; i++) {
        const reply = await get(bed.nginxPort, "/");
        if (reply.status === 200 && JSON.parse(reply.body).port === first) served++;
      }
      expect(served).toBeGreaterThan(0);
      expect(await bed.unit(second).restart()).toBe(true);
      await sleep(200);
      const seen = await load.stop();
      expect(seen.failures).toEqual([]);
      expect(seen.byPort.get(first)).toBeGreaterThan(0);
      expect(seen.byPort.get(second)).toBeGreaterThan(0);

      // Every process killed: nginx answers again as soon as one process listens, although it
      // counted them all as failed a moment before.
      for (const port of bed.host.appPorts) bed.unit(port).kill("SIGKILL");
      const listening = async () =>
        (
          await Promise.all(
            bed.host.appPorts.map(
              (port) =>
                new Promise<boolean>((resolve) => {
                  const socket = net.connect(port, "127.0.0.1", () => {
                    socket.destroy();
                    resolve(true);
                  });
                  socket.on("error", () => resolve(false));
                }),
            ),
          )
        ).some(Boolean);
      // Until one listens again, nginx finds every process down and counts each as failed (502 at
      // once); then the very first request is answered. Without the backup entries nginx would
      // answer 502 (no live upstreams) until fail_timeout (1 s) after the last failure. Counted,
      // not timed: this worker's clock runs late on a loaded machine.
      await bed.waitFor("every process gone", async () => !(await listening()), 30_000);
      let refused = 0;
      await bed.waitFor(
        "a process listening again",
        async () => {
          if (await listening()) return true;
          if ((await get(bed.nginxPort, "/")).status === 502) refused++;
          return false;
        },
        30_000,
      );
      expect(refused).toBeGreaterThan(0);
      expect((await get(bed.nginxPort, "/")).status).toBe(200);
      await bed.waitAllInRotation();
    }),
    STEP_TIMEOUT_MS,
  );
  // ---- Item 2: the drain answers every request that reached the process ----
  // GET /work here takes about 1 ms of CPU (5,000 PBKDF2 rounds; 20,000 by default): the event loop
  // is still busy between polls, and the drill leaves CPU for the beds beside it.
  const restartsUnderWork = bedScenario(() => TestBed.serving(2, { appEnv: { APP_WORK_ITERATIONS: "5000" } }));
  test.concurrent(
    "graceful restarts under GET, POST and CPU-bound load fail no request",
    restartsUnderWork(async (bed) => {
      const load = steadyLoad(bed.nginxPort, {
        kinds: ["GET /", "POST /echo", "GET /work"],
        concurrency: 9,
        paceMs: 20,
      });
      await sleep(200);
      for (const port of bed.host.appPorts) expect(await bed.unit(port).restart()).toBe(true);
      await sleep(200);
      // on a loaded machine the pace drops: the load goes on until it has carried enough to mean
      // something (once, the restarts and 200 ms carried 16 POSTs), at most 30 s more
      await bed.waitFor(
        "more than 20 POSTs and 20 CPU-bound requests answered",
        () => load.okOf("POST /echo") > 20 && load.okOf("GET /work") > 20,
        30_000,
      );
      const seen = await load.stop();
      expect(seen.failures).toEqual([]);
      expect(seen.byKind.get("POST /echo")!.ok).toBeGreaterThan(20);
      expect(seen.byKind.get("GET /work")!.ok).toBeGreaterThan(20);
    }),
    STEP_TIMEOUT_MS,
  );

  // ---- Uploads still arriving while a deploy moves their process ----
  // Each body takes 1.5 s to arrive after its headers; production's hold (0.5 s) and a 2-s settle.
  // nginx chooses a request's process once its body is in, from the group of the moment its
  // headers came: with 2 processes and the first held out then, only the second, which the deploy
  // may be stopping by then. Without the held process as that group's last backup: 502.
  const uploadTimings = { rotation: { holdSeconds: 0.5, settleSeconds: 2 } };
  const uploadsTwo = bedScenario(() => TestBed.serving(2, uploadTimings));
  test.concurrent(
    "uploads whose bodies are still arriving as a deploy moves every process: each is answered, none fails (2 processes)",
    uploadsTwo(async (bed) => {
      await bed.addRelease("1.1.0");
      const uploads = slowUploads(bed.nginxPort, { clients: 12 });
      await sleep(1000);
      const run = await bed.deploy("1.1.0");
      await sleep(1000);
      const seen = await uploads.stop();
      expect(run.code).toBe(0);
      expect(seen.failures).toEqual([]);
      expect(seen.ok).toBeGreaterThan(30);
      // before and after: uploads went on through the whole deploy
      expect([...seen.byVersion.keys()].sort()).toEqual(["1.0.0", "1.1.0"]);
    }),
    STEP_TIMEOUT_MS,
  );

  // The process carrying the load answers one request slowly (the load balancer's health check
  // gives up after 2 s) while the other is held out and stopped: nginx must not count it as failed
  // and send what comes next to the stopped one (502) for a second; requests wait for it instead.
  const stallTwo = bedScenario(() => TestBed.serving(2));
  test.concurrent(
    "with one of 2 processes held out and stopped, a 2.5-s stall of the other fails no request: none goes to the stopped one",
    stallTwo(async (bed) => {
      const [stopped, serving] = bed.host.appPorts;
      await bed.unit(stopped).stop();
      expect(bed.held(stopped)).toBe(true);
      const load = steadyLoad(bed.nginxPort, { withPosts: true, timeoutMs: 20_000 });
      await sleep(300);
      bed.unit(serving).kill("SIGSTOP");
      // gives up on the stalled process after 2 s (504): the timeout that made nginx count it failed.
      // The stall lasts until then at least: a busy worker's check may reach nginx late.
      const check = get(bed.nginxPort, "/healthz", undefined, 20_000);
      const [, health] = await Promise.all([sleep(2500), check]);
      bed.unit(serving).kill("SIGCONT");
      expect(health.status).toBe(504);
      // the second after the stall, when a process counted failed would be skipped, and enough
      // requests after it (GETs and POSTs alike) on a loaded machine
      await sleep(1000);
      await load.answered(20, 30_000);
      const seen = await load.stop();
      expect(seen.failures).toEqual([]);
      expect(seen.posts).toBeGreaterThan(5);
    }),
    STEP_TIMEOUT_MS,
  );

  // ---- Item 4: a hung process ----
  const hung = bedScenario(() => TestBed.serving(2, { watchdog: true }));
  test.concurrent(
    "a hung process is held out and restarted by the watchdog: GETs wait at most a few seconds and none fails",
    hung(async (bed) => {
      const [victim, other] = bed.host.appPorts;
      const before = bed.unit(victim).pid;
      const load = steadyLoad(bed.nginxPort, { withPosts: true, timeoutMs: 20_000 });
      await sleep(300);
      expect(bed.held(victim)).toBe(false);
      const stopped = Date.now();
      bed.unit(victim).kill("SIGSTOP");
      const heldAt = await heldByWatchdog(bed, victim, "the watchdog holding the hung process out");
      await bed.waitAllInRotation(30_000);
      const seen = await load.stop();
      expect(bed.unit(victim).pid).not.toBe(before);
      expect(bed.logs()).toContain(`port ${victim}: no healthy answer to 2 checks in a row`);
      // Two missed 1-s probes (production: three 2-s probes), and the watchdog's rounds: 2.5-4 s
      // measured; a bound, not a figure (a loaded 2-core machine slows each round).
      expect(heldAt - stopped).toBeLessThan(15_000);
      const gets = seen.byKind.get("GET /")!;
      expect(gets.failed).toBe(0);
      // How long the GETs waited, by nginx's clock ($request_time in its access log): the client's
      // includes the times this worker was too busy to read an answer that had arrived.
      // The detection is bounded above (the marker); a GET also waits for the kill, which the test
      // bed's systemd stand-in sends from this jest worker, late by as long as the drills beside it
      // hold the worker's event loop (6.3 and 8.1 s seen on 2 cores under CPU hogs; 1.8-4.9 s
      // otherwise): 15 s, the detection's own bound, and short of the load's 20-s client timeout.
      const waited = bed.requestTimes('"GET / HTTP/1.1"');
      expect(waited.length).toBeGreaterThan(0);
      expect(Math.max(...waited)).toBeLessThan(15);
      // A POST already sent to the process when it hung is lost with it, as with kill -9 (nginx
      // must not replay it elsewhere): at most one per POST client, and never a 504 after a wait.
      const posts = seen.byKind.get("POST /echo")!;
      expect(posts.failed).toBeLessThanOrEqual(2); // 2 of the 4 clients POST
      expect([...posts.reasons.keys()].filter((reason) => reason !== "HTTP 502")).toEqual([]);
      expect(seen.byPort.get(other)).toBeGreaterThan(0);
    }),
    STEP_TIMEOUT_MS,
  );

  test.concurrent(
    "the outlier check reads what nginx logged: a share of 5xx a peer has too is left alone, even 60 % against its 10 (review CP), and so is every process failing all (no healthy peer); a tally that ended is started again; a process failing nearly all while the other answers well is held out and killed",
    () =>
      watchingWrittenLog("outlier", async ({ watchdog, watch, failing, fine, write }) => {
        /** A second's worth of nginx's lines: `count` tries of each port, the first `errors` of them 500. */
        const second = (tries: Record<number, [count: number, errors: number]>) =>
          write(
            Object.entries(tries).flatMap(([port, [count, errors]]) =>
              Array.from({ length: count }, (_, i) => accessLogLine([[Number(port), i < errors ? 500 : 200]])),
            ),
          );
        for (let i = 0; i < 6; i++) {
          second({ [failing]: [20, 12], [fine]: [10, 1] });
          await sleep(1000);
        }
        // every process failing all it answers (a cause they share): no healthy peer, none killed
        for (let i = 0; i < 6; i++) {
          second({ [failing]: [30, 30], [fine]: [30, 30] });
          await sleep(1000);
        }
        expect(watchdog.output()).not.toMatch(/answers 5xx/);
        // its tail ended (and with it its awk): started again, and said so
        spawnSync("pkill", ["-f", `tail --pid=${watch.pid} -n 0 -F ${watchdog.accessLog}`]);
        await waitUntil(
          "the tally started again",
          () => watchdog.output().includes("ended; starting it again"),
          30_000,
        );
        await waitUntil(
          "the failing process held out and killed",
          async () => {
            second({ [failing]: [30, 30], [fine]: [15, 0] });
            await sleep(500);
            return watchdog.calls().includes(`kill --signal=SIGKILL app@${failing}`);
          },
          30_000,
        );
        expect(watchdog.output()).toMatch(
          new RegExp(`port ${failing}: \\d+ of its last \\d+ answers 5xx, the others. fine`),
        );
        expect(fs.existsSync(path.join(watchdog.rotationDir, `held-${failing}`))).toBe(true);
        expect(watchdog.calls()).not.toContain(`app@${fine}`);
        expect(watchdog.output().match(/ended; starting it again/g)).toHaveLength(1);
      }),
    STEP_TIMEOUT_MS,
  );

  test.concurrent(
    "the outlier check also counts tries in a row that got nothing back (502 with no header time: reset, closed) where another process answered the same request: a process failing each GET that the other then answers is held out and killed; every process failing so, the first to recover as such an outage ends, an app's own 502s, a route every process fails (an answer nginx refuses, a route that closes), POSTs no other took up, or one failing a few of many, are left alone (reviews DT, DU, DV)",
    () =>
      watchingWrittenLog("unanswered", async ({ watchdog, failing, fine, write: second }) => {
        const killed = () =>
          watchdog
            .calls()
            .split("\n")
            .filter((call) => call.startsWith("kill "));
        // every process failing so (a cause they share): 10 s, far past the 5 the rule needs
        for (let i = 0; i < 10; i++) {
          second([
            accessLogLine([
              [failing, "reset"],
              [fine, "reset"],
            ]),
            accessLogLine([[fine, "reset"]], "POST"),
            accessLogLine([[failing, "reset"]], "POST"),
          ]);
          await sleep(1000);
        }
        // the outage ends, one process a moment before the other, many tries within one second:
        // none of the tries before the first answer counts (review DU: counted by the second, 20 did)
        second([
          ...Array.from({ length: 10 }, () => [
            accessLogLine([[failing, "reset"]], "POST"),
            accessLogLine([[fine, "reset"]], "POST"),
          ]).flat(),
          ...Array.from({ length: 10 }, () => accessLogLine([[fine, 200]])),
          accessLogLine([[failing, 200]]),
        ]);
        await sleep(1500);
        expect(killed()).toEqual([]);
        // a route whose answer nginx refuses on every process (headers over proxy_buffer_size: 502 with
        // no header time, not tried again), and one that closes the connection on every process (a
        // GET tried on the other, which closes it too), among answered requests (review DV: taken
        // for resets, they killed healthy processes in turn)
        for (let i = 0; i < 8; i++) {
          second([
            accessLogLine([[fine, 200]]),
            accessLogLine([[failing, 200]]),
            ...Array.from({ length: 6 }, () => accessLogLine([[failing, "reset"]])),
            ...Array.from({ length: 3 }, () =>
              accessLogLine([
                [failing, "reset"],
                [fine, "reset"],
              ]),
            ),
            ...Array.from({ length: 6 }, () => accessLogLine([[fine, "reset"]])),
          ]);
          await sleep(1000);
        }
        // the app's own 502 (a route whose dependency is down) on most answers of every process, in
        // runs after the other's last answer: an answer, whatever its status (review DU: counted as
        // none, it killed healthy processes in turn)
        for (let i = 0; i < 8; i++) {
          second([
            accessLogLine([[fine, 200]]),
            accessLogLine([[failing, 200]]),
            ...Array.from({ length: 8 }, () => accessLogLine([[failing, 502]])),
            ...Array.from({ length: 8 }, () => accessLogLine([[fine, 502]])),
          ]);
          await sleep(1000);
        }
        // one failing 1 of 20 while the other answers every one: 8 s, 8 unanswered
        for (let i = 0; i < 8; i++) {
          second([
            accessLogLine([
              [failing, "reset"],
              [fine, 200],
            ]),
            ...Array.from({ length: 19 }, () => accessLogLine([[failing, 200]])),
            ...Array.from({ length: 20 }, () => accessLogLine([[fine, 200]])),
          ]);
          await sleep(1000);
        }
        // four in a row, one answered, four more: never five in a row
        for (const answered of [false, false, false, false, true, false, false, false, false]) {
          second([
            answered
              ? accessLogLine([[failing, 200]])
              : accessLogLine([
                  [failing, "reset"],
                  [fine, 200],
                ]),
          ]);
          await sleep(1000);
        }
        expect(killed()).toEqual([]);
        expect(watchdog.output()).not.toMatch(/unanswered/);
        // POSTs that got nothing back, which nginx takes up on no other process: no evidence either way
        for (let i = 0; i < 6; i++) {
          second([accessLogLine([[failing, "reset"]], "POST"), accessLogLine([[fine, 200]])]);
          await sleep(1000);
        }
        expect(killed()).toEqual([]);
        // the other held out (a deploy moving it): the one left is never killed; once the other is
        // back and answering its health check, the count reached meanwhile is acted on
        const heldFine = path.join(watchdog.rotationDir, `held-${fine}`);
        fs.writeFileSync(heldFine, "");
        // (nginx tries a held one as a backup when every other has failed)
        for (let i = 0; i < 7; i++) {
          second([
            accessLogLine([
              [failing, "reset"],
              [fine, 200],
            ]),
          ]);
          await sleep(1000);
        }
        expect(killed()).toEqual([]);
        fs.rmSync(heldFine);
        // one tried once a second, a GET the other then answers and a POST, failing each
        await waitUntil(
          "the failing process held out and killed",
          async () => {
            second([
              accessLogLine([
                [failing, "reset"],
                [fine, 200],
              ]),
              accessLogLine([[failing, "reset"]], "POST"),
              ...Array.from({ length: 10 }, () => accessLogLine([[fine, 200]])),
            ]);
            await sleep(1000);
            return killed().length > 0;
          },
          60_000,
        );
        expect(killed()).toEqual([`kill --signal=SIGKILL app@${failing}`]);
        expect(watchdog.output()).toMatch(
          new RegExp(`port ${failing}: its last \\d+ tries unanswered, the others. fine`),
        );
        expect(fs.existsSync(path.join(watchdog.rotationDir, `held-${failing}`))).toBe(true);
      }),
    STEP_TIMEOUT_MS,
  );

  // ---- One process answering fast 5xx, its /healthz 200 (review CO) ----
  // Least connections sends such a process most of the requests (it always holds the fewest open
  // ones). ./fail-fast.js makes a process answer 500 at once while its flag file exists.
  const flags = tempDir("fail-fast-");
  const failFast =
    (flag: string, which: (index: number) => boolean) =>
    (_port: number, index: number): Record<string, string> =>
      which(index) ? { NODE_OPTIONS: `--require ${path.join(__dirname, "fail-fast.js")}`, FAIL_WHILE: flag } : {};
  const oneFlag = path.join(flags, "one");
  const oneFailing = bedScenario(() =>
    TestBed.serving(2, { watchdog: true, appEnvOf: failFast(oneFlag, (index) => index === 0) }),
  );
  test.concurrent(
    "a process that answers 5xx at once while the other answers well is held out and restarted by the watchdog within seconds, and then no request fails (least connections had sent it most of them)",
    oneFailing(async (bed) => {
      const [victim] = bed.host.appPorts;
      const before = bed.unit(victim).pid;
      // enough requests a second, however busy this worker, for the other process to show it
      // answers well (OUTLIER: least connections sends it few)
      const load = steadyLoad(bed.nginxPort, { withPosts: true, concurrency: 8, paceMs: 5 });
      const { seen: failing, detectedMs } = await brokenUntilHeld(bed, oneFlag, load, 50);
      // the drill did what it says: the process answered 500s until it was held out
      expect(failing.failed).toBeGreaterThan(0);
      expect([...failing.byKind.values()].flatMap((kind) => [...kind.reasons.keys()])).toEqual(
        expect.arrayContaining(["HTTP 500"]),
      );
      expect(bed.logs()).toMatch(new RegExp(`port ${victim}: \\d+ of its last \\d+ answers 5xx, the others. fine`));
      // About 4 s of answers decide (OUTLIER), read once a second: a bound, not a figure. The
      // answers come from this worker's load, which the drills beside it slow: 17.4 s in a fresh
      // clone's CI run on 2 cores (a bound of 15 s failed it), and the decision needs answers.
      expect(detectedMs).toBeLessThan(30_000);
      await servesAgainAfterRestart(bed, before);
    }),
    STEP_TIMEOUT_MS,
  );

  // One that resets every connection but its health check's (review DT): nginx counts each try as
  // failed and tries it again a second later, too seldom for the 4-s count; each POST sent is lost.
  const resetFlag = path.join(flags, "reset");
  const oneResetting = bedScenario(() =>
    TestBed.serving(2, {
      watchdog: true,
      appEnvOf: (port, index) =>
        index === 0 ? { ...failFast(resetFlag, () => true)(port, index), FAIL_STATUS: "reset" } : {},
    }),
  );
  test.concurrent(
    "a process that resets every request but its health check is held out and restarted by the watchdog, at a light load too, after a few GETs in a row that the other then answered: a few POSTs are lost meanwhile, and then no request fails (review DT: 22 % of POSTs, for good)",
    oneResetting(async (bed) => {
      const [victim] = bed.host.appPorts;
      const before = bed.unit(victim).pid;
      // a light load: a few requests a second, a quarter of them POSTs
      const load = steadyLoad(bed.nginxPort, {
        kinds: ["GET /", "GET /", "GET /", "POST /echo"],
        concurrency: 4,
        paceMs: 250,
      });
      // (in a CI run the drills beside it slowed this worker's load to a try of it every 2-5 s)
      const { seen: resetting, detectedMs } = await brokenUntilHeld(bed, resetFlag, load, 10, 120_000);
      expect(bed.logs()).toMatch(new RegExp(`port ${victim}: its last \\d+ tries unanswered, the others. fine`));
      // five GETs in a row, each tried again on the other, of nginx's one try a second at most (9-17 s
      // measured alone; over 30 s once in a CI run): a bound, not a figure (a loaded machine)
      expect(detectedMs).toBeLessThan(120_000);
      // a GET is tried again on the other; a POST sent is lost, which counts for nothing (no other
      // process took it up): about one for every three GETs counted, bounded at three times those
      expect(resetting.byKind.get("GET /")!.failed).toBe(0);
      const posts = resetting.byKind.get("POST /echo")!;
      expect(posts.failed).toBeLessThanOrEqual(3 * TEST_ROTATION.outlier.minUnanswered);
      expect([...posts.reasons.keys()].filter((reason) => reason !== "HTTP 502")).toEqual([]);
      await servesAgainAfterRestart(bed, before);
    }),
    STEP_TIMEOUT_MS,
  );

  // Every process failing alike is a shared cause (a database down, a bug in one route): none is
  // restarted, which would only lose what they are doing. Nor does a client's X-Forwarded-For,
  // written into the same log lines, count against a process.
  const bothFlag = path.join(flags, "both");
  const bothFailing = bedScenario(() =>
    TestBed.serving(2, { watchdog: true, appEnvOf: failFast(bothFlag, () => true) }),
  );
  test.concurrent(
    "processes that all answer 5xx are left as they are (a shared cause), and a forged X-Forwarded-For counts against none",
    bothFailing(async (bed) => {
      const pids = bed.host.appPorts.map((port) => bed.unit(port).pid);
      const forged = `upstream=127.0.0.1:${bed.host.appPorts[1]} ustatus=500 urt=0.001`;
      const forge = async () => {
        for (let i = 0; i < 200; i++) {
          await new Promise<void>((resolve) =>
            http
              .get(
                { host: "127.0.0.1", port: bed.nginxPort, path: "/", headers: { "x-forwarded-for": forged } },
                (res) => res.resume().on("end", resolve),
              )
              .on("error", () => resolve()),
          );
        }
      };
      // the forged lines, while every process answers well: none may be taken for a 5xx
      await forge();
      const load = steadyLoad(bed.nginxPort, { withPosts: true });
      await load.answered(50, 10_000);
      fs.writeFileSync(bothFlag, "");
      // the outlier check's window and then some, at the watchdog's 1-s rounds
      await sleep(8_000);
      const seen = await load.stop();
      fs.rmSync(bothFlag);
      expect(seen.failed).toBeGreaterThan(20);
      expect(bed.logs()).not.toMatch(/answers 5xx/);
      expect(bed.host.appPorts.map((port) => bed.held(port))).toEqual([false, false]);
      expect(bed.host.appPorts.map((port) => bed.unit(port).pid)).toEqual(pids);
    }),
    STEP_TIMEOUT_MS,
  );

  // Overload, where one process's queue is longer than the watchdog's probe waits (1 s here, 2 s in
  // production) and the other's is not: a health check is answered only once the requests before
  // it are. Each GET /work holds the first process's event loop for 0.25 s (./block-work.js: as
  // CPU-bound work would, without taking a core from the drills beside it), the second's for 20 ms,
  // and 12 of 16 clients ask for it: nginx (least_conn) gives each process about as many requests
  // at a time, so the first has about 2 s of them queued and the second 0.2 s. On identical processes under overload, which one misses its
  // checks and which answers varies from round to round; a review's overload (256 connections,
  // production's timings) had the watchdog kill healthy processes so, losing the POSTs on them.
  const overload = bedScenario(() =>
    TestBed.serving(2, {
      watchdog: true,
      appEnvOf: (_port, index) => ({
        NODE_OPTIONS: `--require ${path.join(__dirname, "block-work.js")}`,
        BLOCK_WORK_MS: index === 0 ? "250" : "20",
      }),
    }),
  );
  test.concurrent(
    "under overload, a process whose health checks wait behind its queue while it keeps answering is not killed (busy, not hung), and no request fails",
    overload(async (bed) => {
      const [slow] = bed.host.appPorts;
      const load = steadyLoad(bed.nginxPort, {
        kinds: ["GET /work", "GET /work", "GET /work", "POST /echo"],
        concurrency: 16,
        paceMs: 0,
        timeoutMs: 30_000,
      });
      // the watchdog sees it: checks missed in a row on a process that keeps answering. It decides
      // only in rounds where the other process answers; a machine starved for CPU (a fresh clone's
      // CI beside a review: not within 30 s once) can make both miss for a while, and the watchdog
      // then rightly does nothing: a bound far above the detection's, not a tighter drill
      const busy = `port ${slow}: no answer to 2 checks, but it answers others: busy, not hung; left in rotation`;
      await bed.waitFor("the watchdog finding the slow process busy", () => bed.logs().includes(busy), 90_000);
      // the watchdog's next rounds, with the process still busy; and writes enough through the
      // overload for the drill to mean something (a loaded machine carries fewer in a fixed time:
      // 20 once in CI, where a fixed 3 s had to carry more than 20)
      await sleep(3000);
      await bed.waitFor("20 POSTs answered through the overload", () => load.okOf("POST /echo") > 20, 30_000);
      const seen = await load.stop();
      expect(bed.logs()).not.toContain("holding it out and restarting it");
      expect(seen.failures).toEqual([]);
      expect(seen.byPort.get(slow)).toBeGreaterThan(5); // it kept serving
      await bed.waitAllInRotation();
    }),
    STEP_TIMEOUT_MS,
  );

  // A process that keeps hanging: after maxRestarts watchdog restarts within the window (2 here;
  // production: 3 within 10 minutes) the server fails the load balancer's health check, so the
  // ALB takes it out and the Auto Scaling group replaces it. Held out for longer than 2 s would
  // mark it unhealthy too (stuckSeconds), and a restart on a loaded machine can take that long:
  // here the allowance is 30 s, so only the restart count can.
  const countingEnds = () => TestBed.serving(2, { watchdog: true, rotation: { maxRestarts: 2, stuckSeconds: 30 } });
  const rehung = bedScenario(countingEnds);
  test.concurrent(
    "a process that keeps hanging makes the server fail the load balancer's health check (503) after the watchdog's restarts",
    rehung(async (bed) => {
      const [victim] = bed.host.appPorts;
      for (let hang = 1; hang <= 2; hang++) {
        expect(bed.markedUnhealthy()).toBe(false);
        const pid = bed.unit(victim).pid;
        bed.unit(victim).kill("SIGSTOP");
        // Bounds far above how long this takes, however loaded the machine: how soon the watchdog
        // acts is the hung-process drill's (above); this one counts restarts.
        await bed.waitFor(
          `the watchdog restarting the hung process (hang ${hang})`,
          () => bed.unit(victim).pid !== pid,
          30_000,
        );
        await bed.waitAllInRotation(30_000, { anyHealth: true });
      }
      await bed.waitFor("the server marked unhealthy", () => bed.unhealthyReason() !== "", 30_000);
      // (the watchdog notes each of its kills; the process's after-stop finds it held, so no crash)
      expect(bed.unhealthyReason()).toContain(`2 process exits within 60s: ${victim}:watchdog ${victim}:watchdog`);
      const health = await get(bed.nginxPort, "/healthz");
      expect(health.status).toBe(503);
      expect((await get(bed.nginxPort, "/")).status).toBe(200); // both processes serve meanwhile
    }),
    STEP_TIMEOUT_MS,
  );

  // A release that crashes on its own once it has settled, here when a file appears: the deploy has
  // ended, the processes answer every check until they die, and systemd restarts them. The watchdog
  // kills none of them; their ExecStopPost (after-stop) finds each not held out as it stopped, so
  // no stop was asked for: a crash, noted; maxRestarts of them within the window make the server
  // fail the load balancer's health check. A deploy's restarts hold their process first: not counted.
  // (the same bed as the hang drill's, a bed of its own)
  const crashing = bedScenario(countingEnds);
  test.concurrent(
    "a release that crashes on its own after it settled makes the server fail the load balancer's health check (503) once processes ended maxRestarts times in the window; a deploy's restarts do not count",
    crashing(async (bed) => {
      const marker = path.join(bed.dir, "crash-now");
      await bed.addRelease("2.0.0", (source) =>
        source.replace(
          '"use strict";',
          // status 1 on the first port, 0 on the other: systemd runs ExecStop only after a clean end
          `"use strict";\nsetInterval(() => require("node:fs").existsSync(${JSON.stringify(marker)}) && process.exit(process.env.PORT === "${bed.host.appPorts[0]}" ? 1 : 0), 100);`,
        ),
      );
      const run = await bed.deploy("2.0.0");
      expect(run.code).toBe(0);
      await sleep(1000); // a few rounds of the watchdog after the deploy's two restarts
      expect(bed.markedUnhealthy()).toBe(false);
      fs.writeFileSync(marker, "");
      await bed.waitFor("the server marked unhealthy", () => bed.unhealthyReason() !== "", 30_000);
      const reason = /^2 process exits within 60s: (.*)$/.exec(bed.unhealthyReason())?.[1] ?? "";
      const [first, second] = bed.host.appPorts;
      expect(reason.split(" ").sort()).toEqual([`${first}:exited/1`, `${second}:exited/0`].sort());
      expect(bed.logs()).not.toContain("holding it out and restarting it");
      expect((await get(bed.nginxPort, "/healthz")).status).toBe(503);
    }),
    STEP_TIMEOUT_MS,
  );

  // nginx alone (no watchdog): read timeout 1 s and retry window 3 s, shorter than production's
  // 30 s and 45 s; the property (a request that timed out is retried) holds for any read timeout
  // shorter than the retry window.
  const timeouts = bedScenario(() =>
    TestBed.serving(2, { proxyTimeouts: { connectSeconds: 1, readSeconds: 1, nextUpstreamSeconds: 3 } }),
  );
  test.concurrent(
    "without the watchdog, nginx retries a GET that timed out on a hung process on the next one",
    timeouts(async (bed) => {
      const [victim] = bed.host.appPorts;
      for (let attempt = 1; ; attempt++) {
        const load = steadyLoad(bed.nginxPort, { withPosts: false, concurrency: 4, timeoutMs: 20_000 });
        await sleep(200);
        bed.unit(victim).kill("SIGSTOP");
        await sleep(2500);
        bed.unit(victim).kill("SIGCONT");
        await sleep(200);
        const seen = await load.stop();
        expect(seen.failures).toEqual([]);
        // A request sent to the hung process times out there (504 from it, in nginx's own log).
        // On a machine busy enough that no client request reached it during the stop, the drill
        // proved nothing: it runs again (bounded), rather than passing or failing on that.
        const timedOut = bed
          .accessLog(`upstream=127.0.0.1:${victim}, `)
          .filter((line) => line.includes("ustatus=504,"));
        if (timedOut.length === 0 && attempt < 4) {
          console.log(
            `hung-process retry drill, attempt ${attempt}: no request reached the stopped process; running it again`,
          );
          continue;
        }
        // Retried after the 1-s read timeout: each request that timed out on the hung process was
        // answered by the other one (200). Without the retry it would have waited out the 2.5-s stop
        // on the hung process. (nginx's record, not the client's clock, which a busy machine delays.)
        expect(timedOut.length).toBeGreaterThan(0);
        expect(timedOut.filter((line) => !line.includes("ustatus=504, 200"))).toEqual([]);
        // The response time the latency alarms read is what the client waited, the 1-s timeout and
        // the retry, not the second process's quick answer alone: nginx's whole time on the request.
        for (const line of timedOut) {
          expect(responseTimeOf(line)).toBe(requestTimeOf(line));
          expect(responseTimeOf(line)).toBeGreaterThanOrEqual(1);
        }
        break;
      }
    }),
    STEP_TIMEOUT_MS, // as every drill here: its first step sets its bed up, which a loaded machine slows
  );

  // Unhealthy after 1 s held out here (production: 180 s).
  const stuck = bedScenario(() => TestBed.serving(2, { watchdog: true, rotation: { stuckSeconds: 1 } }));
  test.concurrent(
    "a process that cannot come back makes the server fail the load balancer's health check (503) until it is back",
    stuck(async (bed) => {
      const [victim] = bed.host.appPorts;
      const link = path.join(bed.host.paths.appRoot, "run", String(victim));
      const good = fs.readlinkSync(link);
      await bed.addRelease("4.0.0-crash", (source) =>
        source.replace('"use strict";', '"use strict";\nprocess.exit(3);'),
      );
      fs.rmSync(link);
      fs.symlinkSync(path.join(bed.host.paths.appRoot, "releases/4.0.0-crash"), link);
      bed.unit(victim).kill("SIGKILL"); // restarted by systemd, into a crash loop
      // 1 s held out marks it; the deadline is only there to end a drill that hangs: on a loaded
      // 2-core machine each crash-loop round (hooks, node's start) and each watchdog round took
      // seconds, and 8 s once ran out (CI, stop 37)
      await bed.waitFor("the server marked unhealthy", () => bed.markedUnhealthy(), 30_000);
      const health = await get(bed.nginxPort, "/healthz");
      expect(health.status).toBe(503);
      expect(health.body).toContain("unhealthy");
      expect((await get(bed.nginxPort, "/")).status).toBe(200); // the other process still serves
      fs.rmSync(link);
      fs.symlinkSync(good, link);
      await bed.waitFor("the server healthy again", () => !bed.markedUnhealthy(), 30_000);
      await bed.waitAllInRotation();
    }),
    STEP_TIMEOUT_MS,
  );

  // ---- Item 6: the app writes files where the read-only unit lets it ----
  const missing = sandboxMissing();
  if (missing) console.log(`read-only file system drill skipped: ${missing}`);
  const writes = bedScenario(() => TestBed.serving(1, { sandbox: true }));
  (missing ? test.skip : test.concurrent)(
    "under the unit's read-only file system the app writes to its state directory, and nowhere else",
    writes(async (bed) => {
      const upload = await request("POST", bed.nginxPort, "/files", undefined, 5000, "an uploaded file");
      expect(upload.status).toBe(201);
      const { stored } = JSON.parse(upload.body);
      expect(fs.readFileSync(path.join(bed.host.paths.appStateDir, "files", stored), "utf8")).toBe("an uploaded file");
      // The same app writing beside its code is refused: the file system is read-only there.
      await bed.addRelease("5.0.0", (source) => source.replace("process.env.STATE_DIRECTORY ||", ""));
      expect((await bed.deploy("5.0.0")).code).toBe(0);
      const refused = await request("POST", bed.nginxPort, "/files", undefined, 5000, "x");
      expect(refused.status).toBe(500);
      expect(refused.body).toContain("cannot write to");
    }),
    STEP_TIMEOUT_MS,
  );

  // The watchdog starting (as at boot) beside a marker left from before a reboot: the time the
  // server was off is not time held out. The allowance (60 s) is far above how long this test
  // runs, however loaded the machine, and far below the marker's age (an hour), so only a watchdog
  // that counts the hour marks the server unhealthy. Rounds are counted by the other port's
  // health checks: a second check means the first round's held-out check is done.
  test.concurrent(
    "the watchdog counts a process as held out from its own start, not from a marker's age before a reboot",
    async () => {
      const { ports, rotationDir, start: startWatch } = await standaloneWatchdog("watchdog-boot", { stuckSeconds: 60 });
      const marker = path.join(rotationDir, `held-${ports[0]}`);
      fs.writeFileSync(marker, "");
      const hourAgo = new Date(Date.now() - 3600_000);
      fs.utimesSync(marker, hourAgo, hourAgo);
      let checks = 0;
      const other = http.createServer((_req, res) => {
        checks++;
        res.end("ok\n");
      });
      await new Promise<void>((resolve) => other.listen(ports[1], "127.0.0.1", resolve));
      const watch = startWatch();
      try {
        await waitUntil("two whole rounds of checks", () => checks >= 3, 30_000);
        expect(checks).toBeGreaterThanOrEqual(3); // two whole rounds done
        const unhealthy = path.join(rotationDir, "unhealthy");
        expect(fs.existsSync(unhealthy) ? fs.readFileSync(unhealthy, "utf8") : "not marked").toBe("not marked");
      } finally {
        watch.kill("SIGKILL");
        other.close();
        releasePorts(ports);
      }
    },
    STEP_TIMEOUT_MS,
  );

  test.concurrent(
    "the watchdog counts a status followed by a stalled answer as no answer, and a line from curl it cannot read stops nothing",
    async () => {
      const {
        ports,
        calls,
        setPid,
        start: startWatch,
      } = await standaloneWatchdog("watchdog-partial", {
        watchFailures: 2,
      });
      // A curl that prints a blank line and one it cannot read before the real curl's lines.
      const bin = tempDir("watchdog-curl-");
      fs.writeFileSync(
        path.join(bin, "curl"),
        `#!/bin/bash\necho\necho 'garbage 200 http://127.0.0.1:/healthz'\nexec ${installedProgram("curl")} "$@"\n`,
        { mode: 0o755 },
      );
      // port 0: the status line and part of the body, then nothing (a process hung mid-answer)
      const stalls = await serverProcess(ports[0], "stalls");
      const answers = await serverProcess(ports[1], "answers");
      // It writes at every check (its status line): a process that answers with a stall is not let
      // off as busy, as one that has not got to the check yet is (below).
      setPid(ports[0], stalls.pid!);
      const watch = startWatch({ PATH: `${bin}:${process.env.PATH}` });
      try {
        await waitUntil("a kill", () => calls().includes("kill"), 30_000, calls); // two rounds, however loaded
        expect(calls()).toContain(`kill --signal=SIGKILL app@${ports[0]}`);
        expect(calls()).not.toContain(`app@${ports[1]}`);
        expect({ exitCode: watch.exitCode, signal: watch.signalCode }).toEqual({ exitCode: null, signal: null });
      } finally {
        watch.kill("SIGKILL");
        await stopServer(stalls);
        await stopServer(answers);
        releasePorts(ports);
        fs.rmSync(bin, { recursive: true, force: true });
      }
    },
    STEP_TIMEOUT_MS,
  );

  // Review A's overload, reduced to what the watchdog sees: a process whose health checks wait behind
  // other requests, which it keeps answering. Production's probe is 2 s; here 0.5 s, and the
  // process answers its checks after 3 s.
  test.concurrent(
    "the watchdog leaves in rotation a process whose checks time out while it answers other requests (busy, not hung), and kills it once it answers nothing",
    async () => {
      const {
        ports,
        calls,
        output,
        start: startWatch,
        busy,
        other,
        busyServer,
        answers,
      } = await watchdogOverBusyProcess("watchdog-busy");
      // the requests nginx sends it besides the checks, each answered at once: from a process of
      // their own, so that they keep coming whatever this worker's event loop is doing
      const served = path.join(tempDir("watchdog-busy-traffic-"), "served");
      const traffic = spawn(
        process.execPath,
        [
          "-e",
          `const fs = require("node:fs"); const agent = new (require("node:http").Agent)({ keepAlive: true });
           const next = () => require("node:http").get({ host: "127.0.0.1", port: ${busy}, path: "/", agent }, (res) => {
             res.resume(); res.on("end", () => { fs.appendFileSync(${JSON.stringify(served)}, "."); setTimeout(next, 20); });
           }).on("error", () => setTimeout(next, 20));
           next();`,
        ],
        { stdio: "ignore" },
      );
      const watch = startWatch();
      try {
        const busyLine = `port ${busy}: no answer to 2 checks, but it answers others: busy, not hung; left in rotation`;
        await waitUntil("the watchdog finding it busy", () => output().includes(busyLine), 30_000, output);
        expect(output()).toContain(busyLine);
        // more rounds of missed checks (0.1 s apart) while it serves: still not killed, said once
        await sleep(1500);
        expect(calls()).not.toContain("kill");
        expect(output().split(busyLine).length - 1).toBe(1);
        expect(fs.readFileSync(served, "utf8").length).toBeGreaterThan(10);
        // it stops answering anything (still running, its checks still late): now it is hung
        await stopServer(traffic);
        await waitUntil("a kill", () => calls().includes("kill"), 30_000, calls);
        expect(calls()).toContain(`kill --signal=SIGKILL app@${busy}`);
        expect(calls()).not.toContain(`kill --signal=SIGKILL app@${other}`);
      } finally {
        await endWatchdogDrill(watch, ports, traffic, busyServer, answers);
      }
    },
    STEP_TIMEOUT_MS,
  );

  test.concurrent(
    "the watchdog lets off as busy only the process it saw at the first missed check: the writes of another (a new MainPID) do not count",
    async () => {
      // the busy process's checks time out, and nothing else reaches it: it writes nothing
      const {
        ports,
        calls,
        setPid,
        start: startWatch,
        busy: late,
        busyServer: lateServer,
        answers,
      } = await watchdogOverBusyProcess("watchdog-new-pid");
      // a process that writes all the time, which systemd names as the unit's once the watchdog has
      // read the first one's writes (as after a restart the watchdog did not see)
      const writer = writingProcess();
      const watch = startWatch();
      try {
        const show = `show --property=MainPID --value app@${late}`;
        await waitUntil("the watchdog asking for the MainPID", () => calls().includes(show), 30_000, calls);
        setPid(late, writer.pid!);
        await waitUntil("a kill", () => calls().includes("kill"), 30_000, calls);
        expect(calls()).toContain(`kill --signal=SIGKILL app@${late}`);
      } finally {
        await endWatchdogDrill(watch, ports, writer, lateServer, answers);
      }
    },
    STEP_TIMEOUT_MS,
  );

  test.concurrent(
    "a process whose checks time out and that writes only a few bytes now and then (a hung Node.js's event-loop wake-ups) is hung, not busy: killed (review AQ)",
    async () => {
      const {
        ports,
        calls,
        output,
        setPid,
        start: startWatch,
        busy: hung,
        busyServer,
        answers,
      } = await watchdogOverBusyProcess("watchdog-trickle");
      // its unit's MainPID writes a byte every 100 ms: a write in every round, but far less than
      // an answer's worth (64 bytes) in one
      const trickle = writingProcess(100);
      setPid(hung, trickle.pid!);
      const watch = startWatch();
      try {
        await waitUntil("a kill", () => calls().includes("kill"), 30_000, calls);
        expect(calls()).toContain(`kill --signal=SIGKILL app@${hung}`);
        expect(output()).not.toContain("busy, not hung");
        expect(output()).toContain(
          `port ${hung}: no healthy answer to 2 checks in a row; holding it out and restarting it`,
        );
      } finally {
        await endWatchdogDrill(watch, ports, trickle, busyServer, answers);
      }
    },
    STEP_TIMEOUT_MS,
  );

  // The watchdog alone, against two ports and the stand-in systemctl that records what it is told.
  test.concurrent(
    "the watchdog restarts a process that stops answering only while another one in rotation answers (never for a shared cause, never the last one serving)",
    async () => {
      const {
        ports,
        rotationDir,
        calls,
        setPid,
        start: startWatch,
      } = await standaloneWatchdog("watchdog", { watchFailures: 2 });
      // The silent port's unit names a process that writes all the time: one whose connections are
      // refused is not let off as busy for it (only checks that time out are).
      const writer = writingProcess();
      setPid(ports[0], writer.pid!);
      const watch = startWatch();
      let answering: ChildProcess | undefined;
      try {
        // Neither port answers (as when every process is overloaded): nothing is killed.
        await sleep(1000);
        expect(calls()).not.toContain("kill");
        // One answers again: the other, still silent, is held out and killed.
        answering = await serverProcess(ports[1], "answers");
        await waitUntil("a kill", () => calls().includes("kill"), 30_000, calls); // two rounds, however loaded the machine
        expect(calls()).toContain(`kill --signal=SIGKILL app@${ports[0]}`);
        expect(calls()).not.toContain(`kill --signal=SIGKILL app@${ports[1]}`);
        expect(fs.existsSync(path.join(rotationDir, `held-${ports[0]}`))).toBe(true);
        // Then the other one stops answering too, now the only process in rotation (as when the
        // others are held out for a deploy and it carries the whole load): the last process
        // serving is never killed, however many checks it misses (here 2 s of 0.5-s checks).
        await stopServer(answering);
        await sleep(2000);
        expect(calls()).not.toContain(`kill --signal=SIGKILL app@${ports[1]}`);
      } finally {
        await endWatchdogDrill(watch, ports, writer, ...(answering ? [answering] : []));
      }
    },
    STEP_TIMEOUT_MS,
  );
});

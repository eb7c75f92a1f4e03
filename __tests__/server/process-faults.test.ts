import { spawn } from "node:child_process";
import { pbkdf2Sync } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { sandboxMissing } from "./supervisor";
import { bedScenario, describeWithNginx, get, request, ROOT, steadyLoad, TestBed, waitForPort } from "./testbed";

/**
 * Drills of issue 12 on a single process's faults: its drain when stopped (item 2), a hung
 * process (item 4), and files it writes under the unit's read-only file system (item 6). The drain
 * is also checked on the sample app alone (no nginx), where the event loop's order makes the
 * failure deterministic. Each scenario has its own test bed or process and runs beside the others;
 * nginx's timings are production's, rotation and watchdog timings the tests' (TEST_ROTATION),
 * unless a test says otherwise.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** PBKDF2 iterations of GET /work that keep the sample app's event loop busy for about `ms`. */
function iterationsFor(ms: number): number {
  const sample = 20_000;
  const started = performance.now();
  pbkdf2Sync("work", "salt", sample, 32, "sha256");
  return Math.round((sample * ms) / Math.max(performance.now() - started, 0.5));
}

/** Resolves once the app's event loop is busy: a health check through `agent` goes unanswered for 100 ms. */
async function untilBusy(port: number, agent: http.Agent): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const answered = await get(port, "/healthz", agent, 100).then(
      () => true,
      () => false,
    );
    if (!answered) return;
  }
  throw new Error("the app never got busy");
}

/** The sample app alone on a free port, as `node server.js`; resolves once it listens. */
async function sampleApp(env: Record<string, string>) {
  const probe = net.createServer();
  const port = await new Promise<number>((resolve) =>
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    }),
  );
  const child = spawn(process.execPath, [path.join(ROOT, "app/server.js")], {
    env: { PATH: process.env.PATH, PORT: String(port), HOST: "127.0.0.1", ...env },
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await waitForPort(port);
  return { port, child, exited };
}

describeWithNginx("issue 12 drills: a process's own faults", () => {
  // ---- Item 2: the drain answers every request that reached the process ----
  // The app's loop is kept busy by CPU-bound requests (about 1.5 s of CPU each); the events below
  // are ordered by waiting until it is busy, or for an answer, so they hold however loaded the
  // machine is.
  test.concurrent(
    "draining, the app answers a POST on a new connection that the kernel queued while its event loop was busy",
    async () => {
      const app = await sampleApp({ APP_WORK_ITERATIONS: String(iterationsFor(1500)), APP_IDLE_GRACE_MS: "400" });
      const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        expect((await get(app.port, "/", keepAlive)).status).toBe(200);
        const first = get(app.port, "/work", new http.Agent(), 60_000);
        await untilBusy(app.port, new http.Agent());
        app.child.kill("SIGTERM"); // delivered now, handled once the loop is free
        await sleep(50);
        // Waiting on the open connection: handled in the same turn of the loop as the signal, before it.
        const second = get(app.port, "/work", keepAlive, 60_000);
        expect((await first).status).toBe(200);
        await sleep(50);
        // A new connection while the second one keeps the loop busy: queued by the kernel, and
        // still unaccepted when the app handles SIGTERM.
        const post = await request("POST", app.port, "/echo", new http.Agent(), 60_000);
        expect(post.status).toBe(200);
        expect((await second).status).toBe(200);
        expect(await app.exited).toBe(0);
        // Once it stopped listening, a new connection is refused (nginx retries those), not reset.
        await expect(get(app.port, "/")).rejects.toThrow(/ECONNREFUSED/);
      } finally {
        keepAlive.destroy();
        app.child.kill("SIGKILL");
      }
    },
    90_000,
  );

  test.concurrent(
    "draining, the app answers a POST that arrives on an idle keep-alive connection while its event loop is busy",
    async () => {
      const app = await sampleApp({ APP_WORK_ITERATIONS: String(iterationsFor(1500)), APP_IDLE_GRACE_MS: "400" });
      const agents = [1, 2, 3].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
      const [work, posts, probe] = agents;
      try {
        for (const agent of agents) expect((await get(app.port, "/", agent)).status).toBe(200);
        app.child.kill("SIGTERM");
        const sent = Date.now();
        await sleep(100);
        const busy = get(app.port, "/work", work, 60_000); // on its open keep-alive connection
        await untilBusy(app.port, probe);
        // After the app's idle grace (0.4 s after it stops listening) is over, while the loop is still busy.
        await sleep(Math.max(0, 700 - (Date.now() - sent)));
        const post = await request("POST", app.port, "/echo", posts, 60_000);
        expect(post.status).toBe(200);
        expect((await busy).status).toBe(200);
        expect(await app.exited).toBe(0);
      } finally {
        for (const agent of agents) agent.destroy();
        app.child.kill("SIGKILL");
      }
    },
    90_000,
  );

  const restarts = bedScenario(() => TestBed.serving(2));
  test.concurrent(
    "graceful restarts under GET, POST and CPU-bound load fail no request",
    restarts(async (bed) => {
      const load = steadyLoad(bed.nginxPort, { kinds: ["GET /", "POST /echo", "GET /work"], concurrency: 12 });
      await sleep(200);
      for (let i = 0; i < 4; i++) expect(await bed.unit(bed.host.appPorts[i % 2]).restart()).toBe(true);
      await sleep(200);
      const seen = await load.stop();
      expect(seen.failures).toEqual([]);
      expect(seen.byKind.get("POST /echo")!.ok).toBeGreaterThan(50);
      expect(seen.byKind.get("GET /work")!.ok).toBeGreaterThan(50);
    }),
    60_000,
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
      bed.unit(victim).kill("SIGSTOP");
      const detected = await bed.waitFor("the watchdog holding the hung process out", () => bed.held(victim), 8000);
      await bed.waitAllInRotation(10_000);
      const seen = await load.stop();
      expect(bed.unit(victim).pid).not.toBe(before);
      expect(bed.logs()).toContain(`port ${victim}: no healthy answer to 2 checks in a row`);
      // Two missed 1-s probes (production: three 2-s probes).
      expect(detected).toBeLessThan(5000);
      const gets = seen.byKind.get("GET /")!;
      expect(gets.failed).toBe(0);
      expect(gets.maxMs).toBeLessThan(6000);
      // A POST already sent to the process when it hung is lost with it, as with kill -9 (nginx
      // must not replay it elsewhere): at most one per POST client, and never a 504 after a wait.
      const posts = seen.byKind.get("POST /echo")!;
      expect(posts.failed).toBeLessThanOrEqual(4);
      expect([...posts.reasons.keys()].filter((reason) => reason !== "HTTP 502")).toEqual([]);
      expect(seen.byPort.get(other)).toBeGreaterThan(0);
    }),
    60_000,
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
      const load = steadyLoad(bed.nginxPort, { withPosts: false, concurrency: 4, timeoutMs: 10_000 });
      await sleep(200);
      bed.unit(victim).kill("SIGSTOP");
      await sleep(4000);
      bed.unit(victim).kill("SIGCONT");
      await sleep(200);
      const seen = await load.stop();
      expect(seen.failures).toEqual([]);
      expect(seen.maxMs).toBeLessThan(2500);
    }),
    30_000,
  );

  const stuck = bedScenario(() => TestBed.serving(2, { watchdog: true }));
  test.concurrent(
    "a process that cannot come back makes the server fail the load balancer's health check (503) until it is back",
    stuck(async (bed) => {
      const [victim] = bed.host.appPorts;
      const link = path.join(bed.host.paths.appRoot, "run", String(victim));
      const good = fs.readlinkSync(link);
      bed.addRelease("4.0.0-crash", (source) => source.replace('"use strict";', '"use strict";\nprocess.exit(3);'));
      fs.rmSync(link);
      fs.symlinkSync(path.join(bed.host.paths.appRoot, "releases/4.0.0-crash"), link);
      bed.unit(victim).kill("SIGKILL"); // restarted by systemd, into a crash loop
      await bed.waitFor("the server marked unhealthy", () => bed.markedUnhealthy(), 8000);
      const health = await get(bed.nginxPort, "/healthz");
      expect(health.status).toBe(503);
      expect(health.body).toContain("unhealthy");
      expect((await get(bed.nginxPort, "/")).status).toBe(200); // the other process still serves
      fs.rmSync(link);
      fs.symlinkSync(good, link);
      await bed.waitFor("the server healthy again", () => !bed.markedUnhealthy(), 8000);
      await bed.waitAllInRotation();
    }),
    60_000,
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
      bed.addRelease("5.0.0", (source) => source.replace("process.env.STATE_DIRECTORY ||", ""));
      expect((await bed.deploy("5.0.0")).code).toBe(0);
      const refused = await request("POST", bed.nginxPort, "/files", undefined, 5000, "x");
      expect(refused.status).toBe(500);
      expect(refused.body).toContain("cannot write to");
    }),
    60_000,
  );
});

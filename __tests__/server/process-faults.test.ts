import * as fs from "node:fs";
import * as path from "node:path";
import { sandboxMissing } from "./supervisor";
import { bedScenario, describeWithNginx, get, request, steadyLoad, TestBed } from "./testbed";

/**
 * Drills of issue 12 on a single process's faults, on real nginx with the rendered files: graceful
 * restarts under load (item 2; the app's own drain is in drain.test.ts), a hung process (item 4),
 * and files the app writes under the unit's read-only file system (item 6). Each scenario has its
 * own test bed and runs beside the others; nginx's timings are production's, rotation and watchdog
 * timings the tests' (TEST_ROTATION), unless a test says otherwise.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithNginx("issue 12 drills: a process's own faults", () => {
  // ---- Item 2: the drain answers every request that reached the process ----
  const restarts = bedScenario(() => TestBed.serving(2));
  test.concurrent(
    "graceful restarts under GET, POST and CPU-bound load fail no request",
    restarts(async (bed) => {
      const load = steadyLoad(bed.nginxPort, { kinds: ["GET /", "POST /echo", "GET /work"], concurrency: 9 });
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
      expect(posts.failed).toBeLessThanOrEqual(3);
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
      await sleep(2500);
      bed.unit(victim).kill("SIGCONT");
      await sleep(200);
      const seen = await load.stop();
      expect(seen.failures).toEqual([]);
      // Retried after the 1-s read timeout (without the retry, a request would wait out the 2.5 s stop).
      expect(seen.maxMs).toBeLessThan(2000);
    }),
    30_000,
  );

  // Unhealthy after 1 s held out here (production: 180 s).
  const stuck = bedScenario(() => TestBed.serving(2, { watchdog: true, rotation: { stuckSeconds: 1 } }));
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

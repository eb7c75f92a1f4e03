import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { bedScenario, describeWithNginx, get, steadyLoad, TestBed } from "./testbed";

/**
 * The in-server load balancer for real: nginx and N sample-app processes on 127.0.0.1, configured
 * by the same renderers as the user data (paths and ports rewritten for a temporary directory),
 * the deploy script the boot script and SSM run, and the app@ unit run by a stand-in for systemd.
 * Each scenario has its own test bed on its own ports and runs beside the others; its steps run
 * in order. nginx's timings are production's; rotation timings are the tests' (TEST_ROTATION:
 * processes settle in 0.5 s). Loops are bounded by count or time; every process is stopped in
 * afterAll, also when a test fails.
 */

const PROCESSES = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const versionOf = async (port: number) => JSON.parse((await get(port, "/healthz")).body).version;

describeWithNginx("the in-server balancer: nginx over several app processes", () => {
  // ---- Balancing, a killed process, every process down: 3 processes ----
  // The boot path: the first deploy starts every process from nothing.
  const basics = bedScenario(() => TestBed.serving(PROCESSES));

  test.concurrent(
    "nginx accepts the rendered configuration (nginx -t)",
    basics((bed) => {
      const check = spawnSync("nginx", ["-t", "-c", bed.host.paths.nginxConf, "-e", "/dev/stderr"], {
        encoding: "utf8",
      });
      expect(check.stderr).toContain("syntax is ok");
      expect(check.status).toBe(0);
    }),
    30_000,
  );

  test.concurrent(
    "requests spread over every process",
    basics(async (bed) => {
      const seen = new Map<number, number>();
      for (let i = 0; i < 30 * PROCESSES; i++) {
        const reply = await get(bed.nginxPort, "/");
        expect(reply.status).toBe(200);
        const { port } = JSON.parse(reply.body);
        seen.set(port, (seen.get(port) ?? 0) + 1);
      }
      expect([...seen.keys()].sort()).toEqual([...bed.host.appPorts].sort());
      // Round robin among equally loaded processes: none gets less than half its fair share.
      for (const count of seen.values()) expect(count).toBeGreaterThanOrEqual(15);
    }),
    30_000,
  );

  test.concurrent(
    "the health check answers 200 through nginx while the processes are up",
    basics(async (bed) => {
      const reply = await get(bed.nginxPort, "/healthz");
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ status: "ok", version: "1.0.0" });
    }),
    30_000,
  );

  test.concurrent(
    "killing one process under steady load fails no client request; systemd restarts it and it is back in rotation",
    basics(async (bed) => {
      const ports = bed.host.appPorts;
      const victim = ports[0];
      const before = bed.unit(victim).pid;
      // GET only: a POST in flight to a process killed mid-request fails by design (nginx must not
      // apply a write twice). Deploys and graceful restarts carry POSTs too (other tests).
      const load = steadyLoad(bed.nginxPort, { withPosts: false });
      await sleep(300);
      bed.unit(victim).kill("SIGKILL");
      await sleep(1000);
      const during = await load.stop();
      expect(during.failures).toEqual([]);
      expect(during.ok).toBeGreaterThan(100);
      for (const other of ports.slice(1)) expect(during.byPort.get(other)).toBeGreaterThan(0);

      // Restart=always brings it back; it takes traffic once it has settled. Bounded by time.
      await bed.waitAllInRotation(10_000);
      expect(bed.unit(victim).pid).not.toBe(before);
      let back = false;
      for (let i = 0; i < 50 && !back; i++) {
        const reply = await get(bed.nginxPort, "/");
        back = reply.status === 200 && JSON.parse(reply.body).port === victim;
      }
      expect(back).toBe(true);
    }),
    30_000,
  );

  test.concurrent(
    "with every process down nginx answers 502 at once and the health check fails",
    basics(async (bed) => {
      const ports = bed.host.appPorts;
      await Promise.all(ports.map((port) => bed.unit(port).stop()));
      const page = await get(bed.nginxPort, "/");
      const health = await get(bed.nginxPort, "/healthz");
      expect([502, 503]).toContain(page.status);
      expect([502, 503]).toContain(health.status);
      expect(page.ms).toBeLessThan(1000);
      expect(health.ms).toBeLessThan(1000);
      const started = Date.now();
      await Promise.all(ports.map((port) => bed.unit(port).start()));
      // Started and settled (0.3 s here), then in rotation at once.
      await bed.waitAllInRotation(5000);
      expect(Date.now() - started).toBeLessThan(5000);
    }),
    30_000,
  );

  // ---- Deploys (two processes show it as well as three) ----
  const deploys = bedScenario(() => TestBed.serving(2));

  test.concurrent(
    "a deploy under load (GETs and POSTs) switches every process to the new version with no failed request",
    deploys(async (bed) => {
      bed.addRelease("1.1.0");
      const load = steadyLoad(bed.nginxPort, { withPosts: true });
      await sleep(300);
      const run = await bed.deploy("1.1.0");
      await sleep(300);
      const seen = await load.stop();
      expect(run.output).toContain(`done: ${bed.host.appPorts.length} processes run 1.1.0`);
      expect(run.code).toBe(0);
      expect(seen.failures).toEqual([]);
      expect(seen.posts).toBeGreaterThan(100);
      expect(seen.byVersion.get("1.0.0")).toBeGreaterThan(0);
      expect(seen.byVersion.get("1.1.0")).toBeGreaterThan(0);
      for (const port of bed.host.appPorts) {
        expect(await versionOf(port)).toBe("1.1.0");
        expect(fs.readlinkSync(path.join(bed.host.paths.appRoot, "run", String(port)))).toMatch(/releases\/1\.1\.0$/);
      }
      expect(fs.readlinkSync(path.join(bed.host.paths.appRoot, "current"))).toMatch(/releases\/1\.1\.0$/);
    }),
    60_000,
  );

  test.concurrent(
    "deploying the version that already runs changes nothing",
    deploys(async (bed) => {
      const run = await bed.deploy("1.1.0");
      expect(run.code).toBe(0);
      for (const port of bed.host.appPorts) expect(run.output).toContain(`port ${port} already runs 1.1.0`);
    }),
    30_000,
  );

  test.concurrent(
    "a version that is not on disk and has no artifact source fails before touching any process",
    deploys(async (bed) => {
      const run = await bed.deploy("9.9.9");
      expect(run.code).toBe(1);
      expect(run.output).toContain("release 9.9.9 unavailable; nothing changed");
      for (const port of bed.host.appPorts) expect(await versionOf(port)).toBe("1.1.0");
    }),
    30_000,
  );

  // ---- Broken releases: each on its own test bed ----

  /** Deploys a broken release under load and checks that the old version is back everywhere. */
  async function deployBroken(bed: TestBed, version: string, edit: (source: string) => string) {
    bed.addRelease(version, edit);
    const load = steadyLoad(bed.nginxPort, { withPosts: true });
    await sleep(300);
    const run = await bed.deploy(version);
    await sleep(300);
    const seen = await load.stop();
    expect(run.code).toBe(1);
    expect(run.output).toContain("rolling back");
    expect(run.output).toContain("back on 1.0.0");
    expect(seen.failures).toEqual([]);
    for (const port of bed.host.appPorts) expect(await versionOf(port)).toBe("1.0.0");
    expect(fs.readlinkSync(path.join(bed.host.paths.appRoot, "current"))).toMatch(/releases\/1\.0\.0$/);
    return seen;
  }

  // Two processes are enough to show a rollback.
  const crashing = bedScenario(() => TestBed.serving(2));
  test.concurrent(
    "a version that crashes at start is rolled back automatically, unseen by clients",
    crashing(async (bed) => {
      const seen = await deployBroken(bed, "1.2.0-crash", (source) =>
        source.replace('"use strict";', '"use strict";\nthrow new Error("broken release: missing configuration");'),
      );
      expect(seen.byVersion.get("1.2.0-crash") ?? 0).toBe(0);
    }),
    60_000,
  );

  // A process must answer its health check within startTimeoutSeconds (2 s here, 60 s in production).
  const unhealthy = bedScenario(() => TestBed.serving(2, { rotation: { startTimeoutSeconds: 2 } }));
  test.concurrent(
    "a version that starts but fails its health check is rolled back automatically, unseen by clients",
    unhealthy(async (bed) => {
      // It listens and would answer requests, but it is never let into rotation.
      const seen = await deployBroken(bed, "1.3.0-unhealthy", (source) =>
        source.replace('send(res, 200, { status: "ok"', 'send(res, 500, { status: "broken"'),
      );
      expect(seen.byVersion.get("1.3.0-unhealthy") ?? 0).toBe(0);
    }),
    60_000,
  );
});

import * as fs from "node:fs";
import * as path from "node:path";
import { get, nginxMissing, steadyLoad, TestBed } from "./testbed";

/**
 * The in-server load balancer for real: nginx and N sample-app processes on 127.0.0.1, configured
 * by the same renderers as the user data (paths and ports rewritten for a temporary directory),
 * and the deploy script the boot script and SSM run. Loops are bounded by count or time; every
 * process is stopped in afterAll, also when a test fails.
 */

const PROCESSES = 3;
const missing = nginxMissing();
if (missing) console.log(`in-server integration tests skipped: ${missing}`);
if (missing && process.env.CI) {
  // .ci/run installs nginx: in CI a missing nginx is a broken pipeline, not a reason to skip.
  test("nginx is installed in CI", () => {
    throw new Error(missing);
  });
}
const describeWithNginx = missing ? describe.skip : describe;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithNginx(`the in-server balancer: nginx over ${PROCESSES} app processes`, () => {
  let bed: TestBed;
  let ports: readonly number[];

  beforeAll(async () => {
    // The boot path: the first deploy starts every process from nothing.
    bed = await TestBed.serving(PROCESSES);
    ports = bed.host.appPorts;
  }, 60_000);

  afterAll(async () => {
    await bed?.stop();
  }, 30_000);

  test("nginx accepts the rendered configuration (nginx -t)", () => {
    const { spawnSync } = require("node:child_process");
    const check = spawnSync("nginx", ["-t", "-c", bed.host.paths.nginxConf, "-e", "/dev/stderr"], { encoding: "utf8" });
    expect(check.stderr).toContain("syntax is ok");
    expect(check.status).toBe(0);
  });

  test("requests spread over every process", async () => {
    const seen = new Map<number, number>();
    for (let i = 0; i < 30 * PROCESSES; i++) {
      const reply = await get(bed.nginxPort, "/");
      expect(reply.status).toBe(200);
      const { port } = JSON.parse(reply.body);
      seen.set(port, (seen.get(port) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([...ports].sort());
    // Round robin: no process gets less than half its fair share.
    for (const count of seen.values()) expect(count).toBeGreaterThanOrEqual(15);
  });

  test("the health check answers 200 through nginx while the processes are up", async () => {
    const reply = await get(bed.nginxPort, "/healthz");
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ status: "ok", version: "1.0.0" });
  });

  test("killing one process under steady load fails no client request; restarting it brings it back", async () => {
    const victim = ports[0];
    // GET only: a POST in flight to a process killed mid-request fails by design (nginx must not
    // apply a write twice). Deploys, below, stop processes gracefully and carry POSTs too.
    const load = steadyLoad(bed.nginxPort, { withPosts: false });
    await sleep(500);
    await bed.stopProcess(victim, "SIGKILL");
    await sleep(1500);
    const during = await load.stop();
    expect(during.failures).toEqual([]);
    expect(during.ok).toBeGreaterThan(100);
    for (const other of ports.slice(1)) expect(during.byPort.get(other)).toBeGreaterThan(0);

    await bed.startProcess(victim);
    // Back in rotation once nginx's fail_timeout has passed: bounded by count and time.
    const deadline = Date.now() + (bed.host.passiveHealthCheck.failTimeoutSeconds + 5) * 1000;
    let back = false;
    while (!back && Date.now() < deadline) {
      const reply = await get(bed.nginxPort, "/");
      back = reply.status === 200 && JSON.parse(reply.body).port === victim;
      if (!back) await sleep(20);
    }
    expect(back).toBe(true);
  }, 30_000);

  test("with every process down nginx answers 502 at once and the health check fails", async () => {
    await Promise.all(ports.map((port) => bed.stopProcess(port)));
    const page = await get(bed.nginxPort, "/");
    const health = await get(bed.nginxPort, "/healthz");
    expect([502, 503]).toContain(page.status);
    expect([502, 503]).toContain(health.status);
    expect(page.ms).toBeLessThan(1000);
    expect(health.ms).toBeLessThan(1000);
    await Promise.all(ports.map((port) => bed.startProcess(port)));
    // nginx keeps them out for fail_timeout, counted in whole seconds: back within fail_timeout + 1 s.
    const deadline = Date.now() + (bed.host.passiveHealthCheck.failTimeoutSeconds + 2) * 1000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      await sleep(100);
      status = (await get(bed.nginxPort, "/healthz")).status;
    }
    expect(status).toBe(200);
  }, 30_000);

  test("a deploy under load (GETs and POSTs) switches every process to the new version with no failed request", async () => {
    bed.addRelease("1.1.0");
    const load = steadyLoad(bed.nginxPort, { withPosts: true });
    await sleep(300);
    const run = await bed.deploy("1.1.0");
    await sleep(300);
    const seen = await load.stop();
    expect(run.output).toContain(`done: ${PROCESSES} processes run 1.1.0`);
    expect(run.code).toBe(0);
    expect(seen.failures).toEqual([]);
    expect(seen.posts).toBeGreaterThan(100);
    expect(seen.byVersion.get("1.0.0")).toBeGreaterThan(0);
    expect(seen.byVersion.get("1.1.0")).toBeGreaterThan(0);
    for (const port of ports) {
      expect(JSON.parse((await get(port, "/healthz")).body).version).toBe("1.1.0");
      expect(fs.readlinkSync(path.join(bed.host.paths.appRoot, "run", String(port)))).toMatch(/releases\/1\.1\.0$/);
    }
    expect(fs.readlinkSync(path.join(bed.host.paths.appRoot, "current"))).toMatch(/releases\/1\.1\.0$/);
  }, 60_000);

  /** Deploys a broken release under load and checks that the old version is back everywhere. */
  async function deployBroken(version: string, edit: (source: string) => string) {
    bed.addRelease(version, (source) => {
      const edited = edit(source);
      if (edited === source) throw new Error(`could not break the sample app for ${version}`);
      return edited;
    });
    const load = steadyLoad(bed.nginxPort, { withPosts: true });
    await sleep(300);
    const run = await bed.deploy(version, { APP_HEALTH_TIMEOUT: "3" });
    await sleep(300);
    const seen = await load.stop();
    expect(run.code).toBe(1);
    expect(run.output).toContain("rolling back");
    expect(run.output).toContain("back on 1.1.0");
    expect(seen.failures).toEqual([]);
    for (const port of ports) {
      expect(JSON.parse((await get(port, "/healthz")).body).version).toBe("1.1.0");
    }
    expect(fs.readlinkSync(path.join(bed.host.paths.appRoot, "current"))).toMatch(/releases\/1\.1\.0$/);
    return seen;
  }

  test("a version that crashes at start is rolled back automatically, unseen by clients", async () => {
    const seen = await deployBroken("1.2.0-crash", (source) =>
      source.replace('"use strict";', '"use strict";\nthrow new Error("broken release: missing configuration");'),
    );
    expect(seen.byVersion.get("1.2.0-crash") ?? 0).toBe(0);
  }, 60_000);

  test("a version that starts but fails its health check is rolled back automatically", async () => {
    // Passive health checks see only failed requests: until the deploy script gives up on it
    // (APP_HEALTH_TIMEOUT), the process answers requests its health check would not vouch for.
    await deployBroken("1.3.0-unhealthy", (source) =>
      source.replace('return send(res, 200, { status: "ok"', 'return send(res, 500, { status: "broken"'),
    );
  }, 60_000);

  test("deploying the version that already runs changes nothing", async () => {
    const run = await bed.deploy("1.1.0");
    expect(run.code).toBe(0);
    for (const port of ports) expect(run.output).toContain(`port ${port} already runs 1.1.0`);
  }, 30_000);

  test("a version that is not on disk and has no artifact source fails before touching any process", async () => {
    const run = await bed.deploy("9.9.9");
    expect(run.code).toBe(1);
    expect(run.output).toContain("release 9.9.9 unavailable; nothing changed");
    for (const port of ports) expect(JSON.parse((await get(port, "/healthz")).body).version).toBe("1.1.0");
  });
});

import * as net from "node:net";
import { bedScenario, describeWithNginx, get, steadyLoad, TestBed } from "./testbed";

/**
 * Drills of issue 12 around deploys and restarts, on real nginx with the rendered files: a
 * rollback of a release broken on one port (item 1), a release that dies a few seconds after it
 * starts (item 5), and how soon a restarted process is back (item 3). Each scenario has its own
 * test bed and runs beside the others. nginx's timings are production's; rotation timings are the
 * tests' (TEST_ROTATION: processes settle in 0.3 s) unless a test says otherwise. GETs and POSTs
 * go through nginx under every change; a POST that nginx had sent is never retried, so a failed
 * POST is a lost write.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const versionOf = async (port: number) => JSON.parse((await get(port, "/healthz")).body).version;

/** A release that crashes at start on `port` only (a port-specific configuration error). */
const brokenOn = (port: number) => (source: string) =>
  source.replace(
    '"use strict";',
    `"use strict";\nif (process.env.PORT === "${port}") throw new Error("broken on this port");`,
  );

/** Lines of the deploy's output that report a process back on the old version, in order. */
const backOn = (output: string) => [...output.matchAll(/port (\d+): back on 1\.0\.0/g)].map((m) => Number(m[1]));

describeWithNginx("issue 12 drills: deploys and restarts without a failed request", () => {
  // ---- Item 1: a rollback keeps the server up ----
  const two = bedScenario(() => TestBed.serving(2));
  test.concurrent(
    "2 processes, a release broken on one port: the broken port is rolled back first, and no request fails",
    two(async (bed) => {
      const [first, second] = bed.host.appPorts;
      bed.addRelease("2.0.0", brokenOn(second));
      const load = steadyLoad(bed.nginxPort, { withPosts: true });
      await sleep(200);
      const run = await bed.deploy("2.0.0");
      const seen = await load.stop();
      expect(run.code).toBe(1);
      expect(run.output).toContain(
        `port ${second}: 2.0.0 did not start, answer its health check and settle; rolling back, this port first`,
      );
      expect(backOn(run.output)).toEqual([second, first]);
      expect(seen.failures).toEqual([]);
      expect(seen.posts).toBeGreaterThan(50);
      for (const port of bed.host.appPorts) expect(await versionOf(port)).toBe("1.0.0");
    }),
    60_000,
  );

  const three = bedScenario(() => TestBed.serving(3));
  test.concurrent(
    "3 processes, a release broken on the last port: never more than one process out of rotation, and no request fails",
    three(async (bed) => {
      const ports = bed.host.appPorts;
      bed.addRelease("2.0.0", brokenOn(ports[2]));
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
    60_000,
  );

  // ---- Item 5: a release that dies soon after it starts ----
  // The settle window is 1.5 s here (10 s in production); the release dies 0.8 s after it listens,
  // after its first healthy answer.
  const settling = bedScenario(() => TestBed.serving(2, { rotation: { settleSeconds: 1.5 } }));
  test.concurrent(
    "a release that dies a moment after it starts is caught while settling and rolled back, unseen by clients",
    settling(async (bed) => {
      bed.addRelease("3.0.0", (source) =>
        source.replace(
          "server.listen(port, host, () => {",
          'server.listen(port, host, () => {\n  setTimeout(() => { throw new Error("dies after start"); }, 800);',
        ),
      );
      const load = steadyLoad(bed.nginxPort, { withPosts: true });
      await sleep(200);
      const run = await bed.deploy("3.0.0");
      const seen = await load.stop();
      expect(run.code).toBe(1);
      expect(run.output).toContain("back on 1.0.0");
      // It answered its health check, then died within the settle window (systemd stops the
      // settling hook when the process exits).
      expect(bed.logs()).toMatch(/sample-app 3\.0\.0 listening[\s\S]*healthy; settling[\s\S]*dies after start/);
      expect(seen.failures).toEqual([]);
      expect(seen.byVersion.get("3.0.0") ?? 0).toBe(0);
      for (const port of bed.host.appPorts) expect(await versionOf(port)).toBe("1.0.0");
    }),
    60_000,
  );

  // ---- Item 3: a process that is back is used at once ----
  const restarts = bedScenario(() => TestBed.serving(2));
  test.concurrent(
    "a restarted process takes requests as soon as it is back, so restarting the next one right after fails nothing",
    restarts(async (bed) => {
      const [first, second] = bed.host.appPorts;
      const load = steadyLoad(bed.nginxPort, { withPosts: true });
      await sleep(200);
      expect(await bed.unit(first).restart()).toBe(true);
      // Back in rotation: nginx sends it requests at once (no fail_timeout to wait out).
      let served = false;
      const started = Date.now();
      while (!served && Date.now() - started < 1000) {
        const reply = await get(bed.nginxPort, "/");
        served = reply.status === 200 && JSON.parse(reply.body).port === first;
      }
      expect(Date.now() - started).toBeLessThan(1000);
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
      await sleep(100);
      await bed.waitFor("a process listening again", listening, 5000);
      const back = Date.now();
      await bed.waitFor("nginx answering again", async () => (await get(bed.nginxPort, "/")).status === 200, 5000);
      expect(Date.now() - back).toBeLessThan(500);
      await bed.waitAllInRotation();
    }),
    60_000,
  );
});

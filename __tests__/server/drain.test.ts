import { spawn } from "node:child_process";
import { pbkdf2Sync } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { get, request } from "./load";
import { ROOT, waitForPort } from "./testbed";

/**
 * Issue 12, item 2: the sample app's drain, on the app alone (no nginx), where the order of its
 * event loop makes a lost request deterministic. Stopping (SIGTERM), it must answer every request
 * that reached it: a POST on a new connection the kernel queued while the loop was busy (closing
 * the listening socket then resets it), and a POST on an idle keep-alive connection that arrived
 * while the loop was busy (closing "idle" connections then drops it). Their order of events is set
 * by waiting for the app (busy, or logging), not by the clock; they are in a file of their own
 * because a jest worker busy with load tests would delay those waits.
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
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  /** Resolves once the app has logged `text` (polled every 5 ms, at most 30 s). */
  const logged = async (text: string) => {
    for (let i = 0; i < 6000 && !output.includes(text); i++) await sleep(5);
    if (!output.includes(text)) throw new Error(`the app never logged "${text}": ${output}`);
  };
  await waitForPort(port);
  return { port, child, exited, logged };
}

describe("the sample app's drain (item 2 of issue 12)", () => {
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
      const app = await sampleApp({ APP_WORK_ITERATIONS: String(iterationsFor(1500)), APP_IDLE_GRACE_MS: "600" });
      const agents = [1, 2, 3].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
      const [work, posts, probe] = agents;
      try {
        for (const agent of agents) expect((await get(app.port, "/", agent)).status).toBe(200);
        app.child.kill("SIGTERM");
        // Handled at once (the loop is idle): it stops listening 0.1 s later, then waits 0.6 s.
        await app.logged("SIGTERM, draining");
        const handled = Date.now();
        const busy = get(app.port, "/work", work, 60_000); // on its open keep-alive connection
        await untilBusy(app.port, probe);
        // After the app's idle grace is over, while the loop is still busy.
        await sleep(Math.max(0, 800 - (Date.now() - handled)));
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
});

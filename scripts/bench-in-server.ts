import { spawn, spawnSync } from "node:child_process";
import { nginxMissing, TestBed } from "../__tests__/server/testbed";

// The in-server section of `npm run bench`: throughput and latency through the server's nginx
// with 1 app process and with 2, on a CPU-bound endpoint (/work: PBKDF2), with the load from wrk
// in a second process on loopback; and what nginx adds to a request, direct versus proxied.
// Uses the integration tests' test bed: the same rendered nginx config, units and deploy script.
// Run it with `BENCH_SECTIONS=in-server npm run bench` (scripts/bench.ts calls it; it has no entry
// point of its own: in the launcher's bundle a `require.main === module` check is true for every
// module, and ran this section a second time beside the first).
//   BENCH_IN_SERVER_SECONDS=N   seconds per load run (default 10)

const TARGETS = { speedup: 1.9, nginxP50Ms: 1.0 } as const;
const CONNECTIONS = 8;

interface WrkResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

/** Reads wrk's `--latency` report. */
export function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)$/m.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)$/m.exec(output);
  if (!rps || !p50 || !p99) throw new Error(`unexpected wrk output:\n${output}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: toMs(p50[1], p50[2]),
    p99Ms: toMs(p99[1], p99[2]),
    errors: non2xx + socketErrors,
  };
}

function wrk(url: string, seconds: number, connections: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", url]);
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(parseWrk(output)) : reject(new Error(`wrk exited ${code}: ${output}`)),
    );
  });
}

async function withBed<T>(processes: number, use: (bed: TestBed) => Promise<T>): Promise<T> {
  const bed = await TestBed.serving(processes);
  try {
    return await use(bed);
  } finally {
    await bed.stop();
  }
}

const fixed = (n: number, digits = 2) => n.toFixed(digits);
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

/** Runs the section and prints its tables and targets; resolves false when a request failed. */
export async function benchInServer(): Promise<boolean> {
  console.log("## In-server load balancer (nginx over N app processes)\n");
  const missing =
    nginxMissing() ??
    (spawnSync("wrk", ["--version"]).error ? "wrk is not installed (apt-get install wrk)" : undefined);
  if (missing) {
    console.log(`skipped: ${missing}\n`);
    return true;
  }
  const seconds = Number(process.env.BENCH_IN_SERVER_SECONDS ?? 10);
  const rows: Array<{ processes: number } & WrkResult> = [];
  for (const processes of [1, 2]) {
    const result = await withBed(processes, async (bed) => {
      const url = `http://127.0.0.1:${bed.nginxPort}/work`;
      await wrk(url, 2, CONNECTIONS); // warm-up: JIT, keep-alive pools
      return wrk(url, seconds, CONNECTIONS);
    });
    rows.push({ processes, ...result });
  }
  const overhead = await withBed(1, async (bed) => {
    const [port] = bed.host.appPorts;
    await wrk(`http://127.0.0.1:${bed.nginxPort}/`, 2, 1);
    const direct = await wrk(`http://127.0.0.1:${port}/`, seconds, 1);
    const proxied = await wrk(`http://127.0.0.1:${bed.nginxPort}/`, seconds, 1);
    return { direct, proxied };
  });

  console.log(`CPU-bound GET /work through nginx, ${CONNECTIONS} connections, ${seconds} s per run (wrk, 1 thread):\n`);
  console.log("| app processes | requests/s | p50 ms | p99 ms | failed requests |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.processes} | ${fixed(r.requestsPerSecond, 1)} | ${fixed(r.p50Ms)} | ${fixed(r.p99Ms)} | ${r.errors} |`,
    );
  }
  const speedup = rows[1].requestsPerSecond / rows[0].requestsPerSecond;
  const added = overhead.proxied.p50Ms - overhead.direct.p50Ms;
  console.log();
  console.log("| what nginx adds (GET /, 1 connection) | p50 ms | p99 ms | requests/s |");
  console.log("|---|---:|---:|---:|");
  for (const [name, r] of [
    ["direct to the app process", overhead.direct],
    ["through nginx", overhead.proxied],
  ] as const) {
    console.log(`| ${name} | ${fixed(r.p50Ms, 3)} | ${fixed(r.p99Ms, 3)} | ${fixed(r.requestsPerSecond, 0)} |`);
  }
  const failed = [...rows, overhead.direct, overhead.proxied].reduce((sum, r) => sum + r.errors, 0);
  console.log();
  console.log(
    `- 2 processes / 1 process: ${fixed(speedup)}x (target >= ${TARGETS.speedup}x): ${verdict(speedup >= TARGETS.speedup)}`,
  );
  console.log(
    `- nginx adds ${fixed(added, 3)} ms at p50 (target < ${TARGETS.nginxP50Ms} ms): ${verdict(added < TARGETS.nginxP50Ms)}`,
  );
  console.log(`- failed requests: ${failed}: ${verdict(failed === 0)}\n`);
  return failed === 0;
}

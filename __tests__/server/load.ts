import * as http from "node:http";

/** HTTP clients for the test bed: single requests and a steady load that counts every outcome. */

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
  /** The response's headers. */
  readonly headers: http.IncomingHttpHeaders;
}

/** The small JSON body of every POST. */
const POST_BODY = JSON.stringify({ order: 42, note: "x".repeat(200) });

/** One GET; never throws for an HTTP status, rejects on a network error or after `timeoutMs`. */
export function get(port: number, pathname: string, agent?: http.Agent, timeoutMs = 5000): Promise<Reply> {
  return request("GET", port, pathname, agent, timeoutMs);
}

/** One request (a POST carries a small body, or `body`); as `get`. */
export function request(
  method: "GET" | "POST",
  port: number,
  pathname: string,
  agent?: http.Agent,
  timeoutMs = 5000,
  body: string | undefined = method === "POST" ? POST_BODY : undefined,
): Promise<Reply> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    let answered = false;
    const headers =
      body !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {};
    const req = http.request(
      { method, host: "127.0.0.1", port, path: pathname, agent, headers, timeout: timeoutMs },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => {
          answered = true;
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          resolve({ status: res.statusCode ?? 0, body: text, ms, headers: res.headers });
        });
        res.on("error", reject);
      },
    );
    // The timer fires first when this worker's event loop was held up (a busy jest worker runs
    // late): an answer that arrived meanwhile is still waiting to be read. setImmediate runs after
    // the loop has read what arrived, so only a request the server really left unanswered fails.
    req.on("timeout", () => setImmediate(() => answered || req.destroy(new Error(`timed out after ${timeoutMs} ms`))));
    req.on("error", reject);
    req.end(body);
  });
}

/** What one client of a load sends over and over. */
export type Kind = "GET /" | "POST /echo" | "GET /work";

/** Per kind of request: answered, failed (by reason), and the longest one took. */
export interface KindResult {
  ok: number;
  failed: number;
  readonly reasons: Map<string, number>;
  maxMs: number;
}

/** What a steady load saw. */
export interface LoadResult {
  readonly ok: number;
  /** Of `ok`, the POST requests. */
  readonly posts: number;
  /** Every failure, as `<kind> <reason>` (at most the first 200). */
  readonly failures: string[];
  /** Failures in all. */
  readonly failed: number;
  readonly byKind: Map<Kind, KindResult>;
  readonly byPort: Map<number, number>;
  readonly byVersion: Map<string, number>;
  /** The longest any request took, answered or not. */
  readonly maxMs: number;
  /** The longest time in which no request at all was answered (200): how long the server stalled. */
  readonly maxGapMs: number;
  /** How long each answered request (200) took, in the order they ended. */
  readonly latencies: number[];
}

export interface LoadOptions {
  /** Half the clients POST /echo (which nginx must never replay on another process once sent). */
  readonly withPosts?: boolean;
  /** What the clients send, assigned round robin (overrides `withPosts`). */
  readonly kinds?: readonly Kind[];
  /** @default 4 */
  readonly concurrency?: number;
  /** A request still unanswered after this counts as failed. @default 5000 */
  readonly timeoutMs?: number;
  /**
   * Each client waits this long between two requests: tests run many test beds side by side on
   * two cores, and a steady trickle shows a failed request as well as a flood. 0: as fast as the
   * server answers (the drill script's load). @default 40
   */
  readonly paceMs?: number;
}

/** Loads still running: a test that failed before it stopped its load leaves one behind. */
const running = new Set<() => Promise<unknown>>();

/** Stops every load still running (afterAll: a failed test's load would keep its jest worker alive). */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

/**
 * Keeps `concurrency` keep-alive clients sending requests through nginx until `stop()` is called.
 * A failure is any network error or any status but 200. Bounded: each request times out.
 * `answered(n, withinMs)` waits until more than `n` requests were answered since it was called, or
 * `withinMs` passed: on a slow, loaded machine the pace drops, and a load of a fixed time may carry
 * too few to mean anything. It gives how many were answered in that time. `okOf(kind)`: how many
 * requests of `kind` were answered so far.
 */
export function steadyLoad(
  port: number,
  options: LoadOptions = {},
): {
  stop: () => Promise<LoadResult>;
  answered: (n: number, withinMs: number) => Promise<number>;
  okOf: (kind: Kind) => number;
} {
  const concurrency = options.concurrency ?? 4;
  const timeoutMs = options.timeoutMs ?? 5000;
  const paceMs = options.paceMs ?? 40;
  const kinds: readonly Kind[] = options.kinds ?? (options.withPosts ? ["GET /", "POST /echo"] : ["GET /"]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const byKind = new Map<Kind, KindResult>(
    kinds.map((kind) => [kind, { ok: 0, failed: 0, reasons: new Map(), maxMs: 0 }]),
  );
  const result = {
    ok: 0,
    posts: 0,
    failed: 0,
    failures: [] as string[],
    byKind,
    byPort: new Map<number, number>(),
    byVersion: new Map<string, number>(),
    maxMs: 0,
    maxGapMs: 0,
    latencies: [] as number[],
  };
  let lastAnswer = Date.now();
  let active = true;
  const fail = (kind: Kind, reason: string, ms: number) => {
    const counts = byKind.get(kind)!;
    counts.failed++;
    counts.reasons.set(reason, (counts.reasons.get(reason) ?? 0) + 1);
    counts.maxMs = Math.max(counts.maxMs, ms);
    result.failed++;
    result.maxMs = Math.max(result.maxMs, ms);
    if (result.failures.length < 200) result.failures.push(`${kind} ${reason}`);
  };
  const client = async (_: unknown, index: number) => {
    const kind = kinds[index % kinds.length];
    const [method, pathname] = kind.split(" ") as ["GET" | "POST", string];
    while (active) {
      if (paceMs > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
      const started = Date.now();
      try {
        const reply = await request(method, port, pathname, agent, timeoutMs);
        if (reply.status !== 200) {
          fail(kind, `HTTP ${reply.status}`, reply.ms);
          continue;
        }
        const answered = Date.now();
        result.maxGapMs = Math.max(result.maxGapMs, answered - lastAnswer);
        lastAnswer = Math.max(lastAnswer, answered);
        const { port: appPort, version } = JSON.parse(reply.body);
        const counts = byKind.get(kind)!;
        counts.ok++;
        counts.maxMs = Math.max(counts.maxMs, reply.ms);
        result.maxMs = Math.max(result.maxMs, reply.ms);
        result.latencies.push(reply.ms);
        if (method === "POST") result.posts++;
        result.ok++;
        result.byPort.set(appPort, (result.byPort.get(appPort) ?? 0) + 1);
        result.byVersion.set(version, (result.byVersion.get(version) ?? 0) + 1);
      } catch (error) {
        const { code, message } = error as NodeJS.ErrnoException;
        fail(kind, `network ${code ?? message}`, Date.now() - started);
      }
    }
  };
  const clients = Array.from({ length: concurrency }, client);
  const stop = async () => {
    active = false;
    running.delete(stop);
    await Promise.all(clients);
    result.maxGapMs = Math.max(result.maxGapMs, Date.now() - lastAnswer);
    agent.destroy();
    return result;
  };
  const answered = async (n: number, withinMs: number) => {
    const from = result.ok;
    const deadline = Date.now() + withinMs;
    while (result.ok - from <= n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    return result.ok - from;
  };
  running.add(stop);
  return { stop, answered, okOf: (kind) => byKind.get(kind)?.ok ?? 0 };
}

/** What slow uploads saw. */
export interface UploadResult {
  /** Uploads answered 200, every byte counted. */
  readonly ok: number;
  /** Every failure, as `<reason>` (at most the first 200). */
  readonly failures: string[];
  readonly byVersion: Map<string, number>;
}

export interface UploadOptions {
  /** Uploads going at once. @default 8 */
  readonly clients?: number;
  /** @default 20000 */
  readonly bodyBytes?: number;
  /** How long the body takes to arrive after the headers and its first 100 bytes. @default 1500 */
  readonly spreadMs?: number;
}

/**
 * An upload through nginx as a client on a slow link sends it: a POST /echo of `bodyBytes` whose
 * headers and first 100 bytes go at once; `send(bytes)` sends more of the body, the last part
 * ending it. `reply` rejects on a network error. On a connection of its own.
 */
function startUpload(
  port: number,
  bodyBytes: number,
  timeoutMs: number,
): { send: (bytes: number) => void; reply: Promise<{ status: number; body: string }> } {
  let sent = 100;
  let req!: http.ClientRequest;
  const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req = http.request(
      {
        method: "POST",
        host: "127.0.0.1",
        port,
        path: "/echo",
        agent: false,
        timeout: timeoutMs,
        headers: { "content-type": "application/octet-stream", "content-length": bodyBytes },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.write(Buffer.alloc(sent, "x"));
  });
  const send = (bytes: number) => {
    if (req.destroyed || sent >= bodyBytes) return;
    const part = Buffer.alloc(Math.min(bytes, bodyBytes - sent), "x");
    sent += part.length;
    if (sent >= bodyBytes) req.end(part);
    else req.write(part);
  };
  return { send, reply };
}

/**
 * Keeps `clients` uploads going through nginx until `stop()` is called (`startUpload`), the rest of
 * each body in five parts over `spreadMs`. A failure is any network error, any status but 200, or
 * an answer that counted other than every byte sent.
 */
export function slowUploads(port: number, options: UploadOptions = {}): { stop: () => Promise<UploadResult> } {
  const { clients = 8, bodyBytes = 20_000, spreadMs = 1500 } = options;
  const result = { ok: 0, failures: [] as string[], byVersion: new Map<string, number>() };
  const fail = (reason: string) => result.failures.length < 200 && result.failures.push(reason);
  let active = true;
  const upload = () => {
    const { send, reply } = startUpload(port, bodyBytes, spreadMs + 10_000);
    const timers = [1, 2, 3, 4, 5].map((i) =>
      setTimeout(() => send(Math.ceil((bodyBytes - 100) / 5)), (i * spreadMs) / 5),
    );
    return reply.finally(() => timers.forEach(clearTimeout));
  };
  const client = async () => {
    while (active) {
      try {
        const reply = await upload();
        if (reply.status !== 200) {
          fail(`HTTP ${reply.status}`);
          continue;
        }
        const { version, received } = JSON.parse(reply.body);
        if (received !== bodyBytes) {
          fail(`counted ${received} bytes of ${bodyBytes}`);
          continue;
        }
        result.ok++;
        result.byVersion.set(version, (result.byVersion.get(version) ?? 0) + 1);
      } catch (error) {
        const { code, message } = error as NodeJS.ErrnoException;
        fail(`network ${code ?? message}`);
      }
    }
  };
  // started a moment apart, so that some body is always arriving
  const all = Array.from({ length: clients }, (_, index) =>
    new Promise((resolve) => setTimeout(resolve, (index * spreadMs) / clients)).then(client),
  );
  const stop = async () => {
    active = false;
    running.delete(stop);
    await Promise.all(all);
    return result;
  };
  running.add(stop);
  return { stop };
}

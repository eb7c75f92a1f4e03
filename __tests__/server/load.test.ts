import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { get } from "./load";

/**
 * The drills' HTTP client (load.ts) on a machine that keeps it waiting: a request's timeout is a
 * timer of this jest worker, which fires late and before the worker reads what arrived meanwhile.
 * A failure must mean the server left the request unanswered, not that the worker was busy.
 */

const servers: http.Server[] = [];
async function server(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return (s.address() as AddressInfo).port;
}
afterAll(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

/** Holds this worker's event loop for `ms`, as a sibling drill's synchronous work does. */
const holdLoop = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

test("an answer that arrived while the worker was held up past the timeout is taken, not failed", async () => {
  // The server (in this worker) answers, then holds the loop past the client's timeout before the
  // client can read the answer: the timer and the answer are both due when the loop runs again.
  const port = await server((_req, res) => {
    res.end("ok");
    holdLoop(400);
  });
  expect(await get(port, "/", undefined, 100)).toMatchObject({ status: 200, body: "ok" });
});

test("a request the server leaves unanswered still fails after its timeout", async () => {
  const port = await server(() => undefined);
  const started = Date.now();
  await expect(get(port, "/", undefined, 100)).rejects.toThrow("timed out after 100 ms");
  expect(Date.now() - started).toBeLessThan(5000); // bounded, not left to jest's own timeout
});

// A stand-in for a user's app behind the test bed's nginx (in-server.test.ts), not the sample app:
// `node stand-in-app.js <port>...` serves every port given, in this one process (not the test's,
// whose event loop other drills may stall), and prints "ready" once all listen. Each port answers
// {"port"} with 200, but 503 with Retry-After on /busy (overloaded), 504 on /dependency (its own
// dependency timed out), and, on the first port only, 503 on /healthz (a process that is stopping).
// GET /hits (on any port) answers how many requests each path got, over every port, itself not counted.
"use strict";
const http = require("node:http");

const ports = process.argv.slice(2).map(Number);
const hits = {};
let listening = 0;
for (const port of ports) {
  const server = http.createServer((req, res) => {
    if (req.url === "/hits") return void res.end(JSON.stringify(hits));
    hits[req.url] = (hits[req.url] ?? 0) + 1;
    const answer = (status, headers = {}) =>
      res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify({ port }));
    if (req.url === "/busy") return answer(503, { "retry-after": "7" });
    if (req.url === "/dependency") return answer(504);
    if (req.url === "/healthz" && port === ports[0]) return answer(503);
    return answer(200);
  });
  server.listen(port, "127.0.0.1", () => ++listening === ports.length && console.log("ready"));
}

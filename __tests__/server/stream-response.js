// Preloaded (`node --require`) into the sample app by a drain drill in in-server.test.ts: GET
// /stream answers 200 at once, as a streamed response does (its headers, then a first chunk), and
// ends STREAM_MS milliseconds later. The sample app streams nothing of its own; an app of a user may
// (a long download, server-sent events). Every other request goes to the app as it is.
const http = require("node:http");

const ms = Number(process.env.STREAM_MS);
if (!(ms > 0 && ms <= 10_000))
  throw new Error(`stream-response.js: STREAM_MS must be 1-10000, not "${process.env.STREAM_MS}"`);

const createServer = http.createServer;
http.createServer = function withStream(...args) {
  const handler = args.find((arg) => typeof arg === "function");
  return createServer.call(http, (req, res) => {
    if (req.url !== "/stream") return handler(req, res);
    res.writeHead(200, { "content-type": "text/plain" });
    res.write("first\n");
    setTimeout(() => res.end("last\n"), ms);
  });
};

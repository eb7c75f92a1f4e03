// Preloaded into an app process by the fault drills (faults.test.ts): while the file FAIL_WHILE
// exists, the process answers every request but its health check at once with FAIL_STATUS (500
// unless set), as a process whose state broke (a lost connection pool, a corrupt cache) does,
// its /healthz still 200; FAIL_STATUS=reset resets the connection instead, with no answer.
"use strict";
const fs = require("node:fs");
const http = require("node:http");

const flag = process.env.FAIL_WHILE;
const reset = process.env.FAIL_STATUS === "reset";
const status = Number(process.env.FAIL_STATUS || 500);
const createServer = http.createServer;
http.createServer = function (...args) {
  const handler = args.find((a) => typeof a === "function");
  const rest = args.filter((a) => typeof a !== "function");
  return createServer.call(this, ...rest, (req, res) => {
    if (flag && !req.url.startsWith("/healthz") && fs.existsSync(flag)) {
      if (reset) return void req.socket.resetAndDestroy();
      req.resume();
      res.writeHead(status, { "content-type": "text/plain" }).end("failing\n");
      return;
    }
    return handler(req, res);
  });
};

// Preloaded (`node --require`) into the sample app by the drain drills in in-server.test.ts: its
// GET /work, instead of hashing, holds the event loop for BLOCK_WORK_MS milliseconds in
// Atomics.wait. To the app that is the same busy loop as CPU-bound work (nothing is accepted, read
// or timed out until it ends, and the handler then answers as usual); it takes no core from the
// drills running beside it, and lasts as long however loaded the machine is. The app itself is
// not changed: it calls crypto.pbkdf2Sync, replaced here.
const crypto = require("node:crypto");

const ms = Number(process.env.BLOCK_WORK_MS);
if (!(ms > 0 && ms <= 10_000))
  throw new Error(`block-work.js: BLOCK_WORK_MS must be 1-10000, not "${process.env.BLOCK_WORK_MS}"`);

crypto.pbkdf2Sync = function blockInsteadOfHashing(password, salt, iterations, keylen) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return Buffer.alloc(keylen);
};

import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./helpers";
import { shippedSynthRun } from "./shipped";

/**
 * The test suite's shared synth of the shipped environments (global-setup.js, shared-synth.js)
 * runs beside the first test files, here against a stand-in project root whose `scripts/run.js`
 * writes one file (STUB_SLEEP_MS: after sleeping that long). A file that jest runs in its parent
 * process (a small run goes in band) waits for it there with the event loop blocked, so nothing in
 * that loop may be needed to finish it; and a synth process that dies must not leave the readers
 * waiting.
 */
const stubRoot = tempDir("shared-synth-root-");
fs.mkdirSync(path.join(stubRoot, "scripts"));
fs.writeFileSync(
  path.join(stubRoot, "scripts", "run.js"),
  [
    'const fs = require("node:fs"), path = require("node:path");',
    "const out = process.env.CDKTF_OUTDIR;",
    "const done = () => { fs.mkdirSync(out, { recursive: true }); fs.writeFileSync(path.join(out, 'written'), ''); console.log('synthesized'); };",
    "const wait = Number(process.env.STUB_SLEEP_MS ?? 0);",
    "if (!wait) done();",
    "else setInterval(() => { if (!fs.existsSync(path.dirname(out))) process.exit(1); }, 50) && setTimeout(done, wait);",
  ].join("\n"),
);

async function withSharedSynth(env: Record<string, string>, check: (dir: string) => void): Promise<void> {
  const saved = { ...process.env };
  Object.assign(process.env, { SHARED_SYNTH_ROOT: stubRoot, ...env });
  const setup = require("./global-setup.js") as () => Promise<void>;
  try {
    await setup();
    check(process.env.SHIPPED_SYNTH_DIR!);
  } finally {
    // the stand-in synth writes into the run's folder until it ends
    await (globalThis as { sharedSynthEnded?: Promise<unknown> }).sharedSynthEnded;
    fs.rmSync(process.env.TMPDIR!, { recursive: true, force: true });
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

test("the shared synth finishes with this process's event loop blocked, and says how it went", async () => {
  await withSharedSynth({}, (dir) => {
    const result = path.join(dir, "synth.json");
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const started = Date.now();
    while (!fs.existsSync(result) && Date.now() - started < 60_000) Atomics.wait(pause, 0, 0, 20);
    expect(JSON.parse(fs.readFileSync(result, "utf8"))).toMatchObject({ status: 0, stdout: "synthesized\n" });
    expect(fs.existsSync(path.join(dir, "cdktf.out", "written"))).toBe(true);
  });
}, 90_000);

test("a shared synth whose process dies without a result fails its readers at once, not after the 120-s wait", async () => {
  await withSharedSynth({ STUB_SLEEP_MS: "30000" }, (dir) => {
    process.kill(Number(fs.readFileSync(path.join(dir, "synth.pid"), "utf8")), "SIGKILL");
    const started = Date.now();
    expect(() => shippedSynthRun()).toThrow(/ended without a result/);
    expect(Date.now() - started).toBeLessThan(20_000);
    // and the verdict is written down for every other reader
    expect(JSON.parse(fs.readFileSync(path.join(dir, "synth.json"), "utf8")).stderr).toMatch(/ended without a result/);
  });
}, 90_000);

describe("NODE_EXTRA_CA_CERTS, which makes every node process parse a file of certificates as it starts", () => {
  const CA = "/etc/ssl/certs/ca-certificates.crt";

  test("is set aside, out of the environment jest's workers and what they start inherit, for npm alone (app-dependencies.test.ts)", async () => {
    await withSharedSynth({ NODE_EXTRA_CA_CERTS: CA }, () => {
      expect(process.env.NODE_EXTRA_CA_CERTS).toBeUndefined();
      expect(process.env.SAVED_NODE_EXTRA_CA_CERTS).toBe(CA);
    });
    // this worker's own environment came from the run's global setup
    expect(process.env.NODE_EXTRA_CA_CERTS).toBeUndefined();
  }, 90_000);

  test("where it is not set, nothing is set aside", async () => {
    const saved = process.env.SAVED_NODE_EXTRA_CA_CERTS;
    delete process.env.SAVED_NODE_EXTRA_CA_CERTS;
    try {
      await withSharedSynth({}, () => expect(process.env.SAVED_NODE_EXTRA_CA_CERTS).toBeUndefined());
    } finally {
      if (saved !== undefined) process.env.SAVED_NODE_EXTRA_CA_CERTS = saved;
    }
  }, 90_000);
});

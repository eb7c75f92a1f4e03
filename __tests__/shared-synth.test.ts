import * as fs from "node:fs";
import * as path from "node:path";
import { installedDependencies } from "../src/artifact/app-dependencies";
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
const ROOT = path.join(__dirname, "..");
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
  const { appDependencyFolder } = require("./global-setup.js") as {
    appDependencyFolder: (root?: string) => string | undefined;
  };
  /** The stand-in project root with the sample app's lock, and its dependencies installed or not. */
  function withAppDependencies(installed: boolean): void {
    fs.mkdirSync(path.join(stubRoot, "app"), { recursive: true });
    fs.copyFileSync(path.join(ROOT, "app", "package-lock.json"), path.join(stubRoot, "app", "package-lock.json"));
    const folder = appDependencyFolder(stubRoot)!;
    if (installed) fs.mkdirSync(folder, { recursive: true });
    else fs.rmSync(path.dirname(folder), { recursive: true, force: true });
  }

  test("is left out of the run's environment, which jest's workers and what they start inherit", async () => {
    withAppDependencies(true);
    await withSharedSynth({ NODE_EXTRA_CA_CERTS: CA, TF_ACC: "" }, () => {
      expect(process.env.NODE_EXTRA_CA_CERTS).toBeUndefined();
    });
    // this worker's own environment came from the run's global setup
    expect(process.env.TF_ACC === "1" || process.env.NODE_EXTRA_CA_CERTS === undefined).toBe(true);
  }, 90_000);

  test("is kept while the sample app's dependencies are not installed (npm may download them through a proxy), and for the acceptance tests (TF_ACC=1), which reach AWS", async () => {
    withAppDependencies(false);
    await withSharedSynth({ NODE_EXTRA_CA_CERTS: CA, TF_ACC: "" }, () => {
      expect(process.env.NODE_EXTRA_CA_CERTS).toBe(CA);
    });
    withAppDependencies(true);
    await withSharedSynth({ NODE_EXTRA_CA_CERTS: CA, TF_ACC: "1" }, () => {
      expect(process.env.NODE_EXTRA_CA_CERTS).toBe(CA);
    });
  }, 90_000);

  test("the global setup looks for the app's dependencies where src/artifact/app-dependencies.ts installs them", () => {
    const files = ["package.json", "package-lock.json"].map((name) => ({
      path: name,
      type: "file" as const,
      content: fs.readFileSync(path.join(ROOT, "app", name)),
    }));
    expect(appDependencyFolder()).toBe(installedDependencies(files));
  });
});

import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Unit, type UnitFile } from "./supervisor";
import { waitUntil } from "../wait-until";

/**
 * The test beds' stand-in systemd, torn down in the middle of a start. A teardown (`destroy`, in
 * a bed's afterAll or when its worker exits) must leave nothing running: an app process started
 * after it outlives the bed, its folder removed, for as long as the machine runs.
 */

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "supervisor-"));
  // the app: notes its pid, then runs until killed
  fs.writeFileSync(
    path.join(dir, "app.js"),
    `require("fs").writeFileSync(${JSON.stringify(path.join(dir, "app.pid"))}, String(process.pid));\n` +
      "setInterval(() => {}, 1000);\n",
  );
  // a hook: notes its argument, then runs for as long as its second one says
  fs.writeFileSync(
    path.join(dir, "hook"),
    `#!/bin/bash\necho "$1" >> '${path.join(dir, "hooks.log")}'\nexec sleep "$2"\n`,
    {
      mode: 0o755,
    },
  );
});
afterEach(() => {
  // what a failing test left running
  const pidFile = path.join(dir, "app.pid");
  if (fs.existsSync(pidFile)) {
    try {
      process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGKILL");
    } catch {
      // gone already
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

function unitWith(hooks: { startPre: string[]; stopPost: string[] }): Unit {
  const file: UnitFile = {
    environment: {},
    environmentFiles: [],
    startPost: [],
    stop: [],
    ...hooks,
    restartMs: 100,
    stopTimeoutMs: 5000,
    stateDirectory: false,
    cacheDirectory: false,
    readWritePaths: [],
    protectSystemStrict: false,
  };
  return new Unit(4000, file, {
    command: [process.execPath, path.join(dir, "app.js")],
    logFile: path.join(dir, "unit.log"),
    stateDir: path.join(dir, "state"),
    cacheDir: path.join(dir, "cache"),
    hookEnv: { PATH: process.env.PATH },
    extraEnv: {},
    sandbox: false,
  });
}

/** The next hook the unit starts, as it starts it (a short one is gone before a poll would see it). */
function nextHook(unit: Unit): Promise<ChildProcess> {
  const hooks = (unit as unknown as { hooks: Set<ChildProcess> }).hooks;
  return new Promise((resolve) => {
    const add = hooks.add.bind(hooks);
    hooks.add = (child) => {
      hooks.add = add;
      resolve(child);
      return add(child);
    };
  });
}

const hooksRun = () => fs.readFileSync(path.join(dir, "hooks.log"), "utf8").split("\n").filter(Boolean);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a test bed's unit torn down during a start", () => {
  test("as its start-pre hook ends: the app process is not started after the teardown", async () => {
    const unit = unitWith({ startPre: [`${dir}/hook pre 0`], stopPost: [] });
    const next = nextHook(unit);
    const started = unit.start();
    const hook = await next;
    // The teardown lands after the hook has exited but before the start has seen it go on: the
    // unit's own exit listener came first, so its start resumes only after this one has run.
    let destroyed: Promise<void> | undefined;
    hook.once("exit", () => (destroyed = unit.destroy()));
    expect(await started).toBe(false);
    await destroyed;
    await sleep(300); // an app process started by mistake has written its pid by then
    expect(fs.existsSync(path.join(dir, "app.pid"))).toBe(false);
    expect(unit.running).toBe(false);
    expect(hooksRun()).toEqual(["pre"]);
  });

  test("while its start-pre hook runs: the hook is killed and no other hook is started", async () => {
    const unit = unitWith({ startPre: [`${dir}/hook pre 30`], stopPost: [`${dir}/hook stop-post 0`] });
    const next = nextHook(unit);
    const started = unit.start();
    const hook = await next;
    await waitUntil("the hook has noted its start", () => fs.existsSync(path.join(dir, "hooks.log")), 5000);
    await unit.destroy();
    expect(await started).toBe(false);
    expect(hook.signalCode).toBe("SIGKILL");
    await sleep(300);
    // a failed start runs the stop-post hooks; after a teardown, nothing runs
    expect(hooksRun()).toEqual(["pre"]);
    expect(fs.existsSync(path.join(dir, "app.pid"))).toBe(false);
  });
});

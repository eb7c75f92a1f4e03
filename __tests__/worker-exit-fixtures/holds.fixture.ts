import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { onWorkerExit } from "../worker-exit";

// Run by worker-exit.test.ts: starts programs that a Ctrl-C does not reach (groups of their own,
// as mariadbd, which ignores SIGINT, might as well be), leaves them to the worker's exit hook, and
// runs until the worker is stopped. As what the drills start, which the run's end must find when
// the worker was killed outright: one whose command line names the run's folder (a test bed's
// nginx and app processes), one with only the run's TMPDIR in its environment (the stand-in apps),
// and one started by the first that names the run nowhere (nginx's workers).
test("holds programs until its worker ends", async () => {
  const forever = "setInterval(() => {}, 1 << 30)";
  const named = spawn(
    process.execPath,
    [
      "-e",
      `require("node:child_process").spawn(process.execPath, ["-e", ${JSON.stringify(forever)}], { env: {}, stdio: "ignore" }); ${forever}`,
      process.env.TMPDIR ?? "",
    ],
    { stdio: "ignore", detached: true },
  );
  const inEnvironment = spawn(process.execPath, ["-e", forever], { stdio: "ignore", detached: true });
  onWorkerExit(() => {
    for (const group of [named, inEnvironment]) process.kill(-group.pid!, "SIGKILL");
  });
  // (the child of the first: its pid once it runs)
  let child = "";
  for (let i = 0; i < 200 && !child; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    child = spawnSync("pgrep", ["-P", String(named.pid)], { encoding: "utf8" }).stdout.trim();
  }
  fs.writeFileSync(process.env.WORKER_EXIT_MARK!, `${process.pid} ${named.pid} ${inEnvironment.pid} ${child}\n`);
  await new Promise(() => undefined);
}, 600_000);

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { onWorkerExit } from "../worker-exit";

// Run by worker-exit.test.ts: starts a program that a Ctrl-C does not reach (a group of its own,
// as mariadbd, which ignores SIGINT, might as well be), leaves it to the worker's exit hook, and
// runs until the worker is stopped. The program's command line names the run's folder, as a test
// bed's nginx and app processes do (what the run's end looks for).
test("holds a program until its worker ends", async () => {
  const program = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)", process.env.TMPDIR ?? ""], {
    stdio: "ignore",
    detached: true,
  });
  onWorkerExit(() => program.kill("SIGKILL"));
  fs.writeFileSync(process.env.WORKER_EXIT_MARK!, `${program.pid} ${process.pid}\n`);
  await new Promise(() => undefined);
}, 600_000);

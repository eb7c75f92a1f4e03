import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { osUpdateScript, SSM_REBOOT_EXIT_CODE, type OsUpdateScriptOptions } from "../../src/userdata/os-update-script";
import { installedProgram, tempDir } from "../helpers";
import { waitUntil } from "../wait-until";

// The OS update's script (src/constructs/os-update.ts) run in bash, as SSM's agent runs it, with
// stand-ins on PATH for what only an Amazon Linux 2023 server has: `cloud-init`, `rpm` and `dnf`
// (they keep the installed release and packages in files the test controls). `flock` is the real one.

const RELEASE = "2023.9.20251117";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const OLDER = "2023.8.20250808";

const STAND_INS: Record<string, string> = {
  "cloud-init": `#!/bin/bash
echo "cloud-init $*" >> "$STATE/calls"
# first boot still running: the wait does not end
[[ -e $STATE/booting ]] && exec sleep 30
# its status: 0 done, 1 error, 2 done with warnings
exit $(cat "$STATE/boot-status" 2>/dev/null || echo 0)`,
  rpm: `#!/bin/bash
[[ -e $STATE/rpm-fails ]] && { echo "error: rpmdb: BDB0113 Thread/process failed" >&2; exit 1; }
case "$*" in
  "-q --qf %{VERSION} system-release") cat "$STATE/release" ;;
  "-qa") cat "$STATE/packages" ;;
  *) echo "stand-in rpm: $*" >&2; exit 2 ;;
esac`,
  dnf: `#!/bin/bash
echo "dnf $*" >> "$STATE/calls"
case "$1 $2" in
  "-y upgrade")
    [[ -e $STATE/dnf-fails ]] && { echo "Error: Failed to download metadata for repo 'amazonlinux'" >&2; exit 1; }
    [[ -e $STATE/dnf-hangs ]] && exec sleep 30
    # hangs in a program it started (a scriptlet), which keeps the descriptors dnf was given
    [[ -e $STATE/dnf-child-hangs ]] && { /bin/sh -c 'sleep 30'; exit 1; }
    want=\${3#--releasever=}
    # dnf never downgrades: a newer release stays
    have=$(cat "$STATE/release")
    if [[ $want != "$have" && $(printf '%s\n' "$want" "$have" | sort -V | tail -1) == "$want" ]]; then
      echo "$want" > "$STATE/release"
      echo "kernel-6.1.$want" >> "$STATE/packages"
    fi
    [[ -e $STATE/dnf-fails-after-install ]] && { echo "Error: Transaction failed" >&2; exit 1; }
    exit 0 ;;
  "needs-restarting -r")
    [[ -e $STATE/no-needs-restarting ]] && { echo "No such command: needs-restarting." >&2; exit 1; }
    [[ -e $STATE/reboot-needed ]] && exit 1
    exit 0 ;;
  "needs-restarting -s")
    [[ -e $STATE/no-needs-restarting || -e $STATE/services-fails ]] && exit 1
    cat "$STATE/services" 2>/dev/null || true ;;
  *) echo "stand-in dnf: $*" >&2; exit 2 ;;
esac`,
};

interface Server {
  readonly state: string;
  readonly lock: string;
  readonly bin: string;
  /** The update's own state folder (its note of a run that began installing on this boot). */
  readonly updateState: string;
  /** The boot script's note that the server is set up. */
  readonly setUp: string;
}

function server(release: string): Server {
  const dir = tempDir("os-update-");
  const state = path.join(dir, "state");
  const bin = path.join(dir, "bin");
  fs.mkdirSync(state);
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(state, "release"), `${release}\n`);
  fs.writeFileSync(path.join(state, "packages"), `bash-5.2\nkernel-6.1.${release}\nnginx-1.24\n`);
  for (const [name, body] of Object.entries(STAND_INS)) fs.writeFileSync(path.join(bin, name), body, { mode: 0o755 });
  return {
    state,
    lock: path.join(dir, "deploy.lock"),
    bin,
    updateState: path.join(dir, "os-update"),
    setUp: path.join(dir, "set-up"),
  };
}

/** The script for `s`, every wait a second unless `overrides` says otherwise. */
function scriptFor(s: Server, overrides: Partial<OsUpdateScriptOptions> = {}): string {
  return osUpdateScript(RELEASE, {
    deployLock: s.lock,
    bootSeconds: 1,
    setUpMarker: s.setUp,
    lockWaitSeconds: 1,
    stateDir: s.updateState,
    rebootHoldSeconds: 1,
    dnfSeconds: 1,
    ...overrides,
  }).join("\n");
}

/** The stand-ins first on PATH, and their state. */
const envOf = (s: Server) => ({ PATH: `${s.bin}:${process.env.PATH}`, STATE: s.state });

function runUpdate(
  s: Server,
  overrides: Partial<OsUpdateScriptOptions> = {},
): { status: number | null; stdout: string; calls: string[] } {
  const script = scriptFor(s, overrides);
  const result = spawnSync("bash", ["--norc", "-c", script], { encoding: "utf8", env: envOf(s) });
  const calls = fs.existsSync(path.join(s.state, "calls"))
    ? fs.readFileSync(path.join(s.state, "calls"), "utf8").trim().split("\n")
    : [];
  return { status: result.status, stdout: result.stdout + result.stderr, calls };
}

const flag = (s: Server, name: string, content = "") => fs.writeFileSync(path.join(s.state, name), content);
/** What a reboot changes for the script: the boot id its note was written on is no longer this boot's. */
const rebooted = (s: Server) => {
  const note = path.join(s.updateState, "installing");
  if (fs.existsSync(note)) fs.writeFileSync(note, "an-earlier-boot\n");
};
const lockHeld = (s: Server) => spawnSync("flock", ["-n", s.lock, "true"]).status !== 0;
const release = (s: Server) => fs.readFileSync(path.join(s.state, "release"), "utf8").trim();

describe("the OS update on a fixed server (stand-in rpm, dnf and cloud-init; the real flock)", () => {
  test("updates to the release after first boot, and reboots (exit 194) when the kernel needs it; run again after the reboot, it installs nothing and ends", () => {
    const s = server(OLDER);
    flag(s, "reboot-needed");
    const first = runUpdate(s);
    expect(first.status).toBe(SSM_REBOOT_EXIT_CODE);
    expect(first.calls.slice(0, 2)).toEqual(["cloud-init status --wait", `dnf -y upgrade --releasever=${RELEASE}`]);
    expect(first.stdout).toContain(`os-update: updated from ${OLDER} to ${RELEASE}`);
    expect(first.stdout).toContain("os-update: rebooting");
    expect(release(s)).toBe(RELEASE);
    // the agent reboots the server (a new boot id) and runs the script again
    fs.rmSync(path.join(s.state, "reboot-needed"));
    rebooted(s);
    const second = runUpdate(s);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain(
      `os-update: nothing to install: the server is on ${RELEASE} (app.osRelease ${RELEASE})`,
    );
  });

  test("a service still running an old version is a reboot too; nothing running an old version is none", () => {
    const services = server(OLDER);
    flag(services, "services", "nginx.service\n");
    expect(runUpdate(services).status).toBe(SSM_REBOOT_EXIT_CODE);

    const none = server(OLDER);
    const result = runUpdate(none);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("os-update: nothing runs an old version: no reboot");
    expect(release(none)).toBe(RELEASE);
  });

  test("a dnf without needs-restarting reboots rather than leave old versions running", () => {
    const s = server(OLDER);
    flag(s, "no-needs-restarting");
    expect(runUpdate(s).status).toBe(SSM_REBOOT_EXIT_CODE);
  });

  test("a server on a newer release (its AMI's) is left as it is: nothing installed, no reboot", () => {
    const s = server("2023.10.20260101");
    flag(s, "reboot-needed"); // a reboot pending from something else is not this update's to do
    const result = runUpdate(s);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("nothing to install: the server is on 2023.10.20260101");
    expect(release(s)).toBe("2023.10.20260101");
  });

  test("a failed dnf fails the run (and the apply), naming the release the server is on, and never reboots", () => {
    const s = server(OLDER);
    flag(s, "dnf-fails");
    flag(s, "reboot-needed");
    const result = runUpdate(s);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(
      `os-update: dnf upgrade --releasever=${RELEASE} failed (exit 1), having installed nothing: the server stays on ${OLDER}`,
    );
    expect(result.calls).not.toContain("dnf needs-restarting -r");
  });

  test("a dnf that failed before installing anything leaves no note: the next run does not reboot a server it never changed (review CD)", () => {
    const s = server("2023.10.20260101"); // its AMI's release, newer than the one asked for
    flag(s, "reboot-needed"); // pending from something else
    flag(s, "dnf-fails"); // a metadata download that failed
    const failed = runUpdate(s);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain("failed (exit 1), having installed nothing: the server stays on 2023.10.20260101");
    expect(fs.existsSync(path.join(s.updateState, "installing"))).toBe(false);
    fs.rmSync(path.join(s.state, "dnf-fails"));
    const again = runUpdate(s);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("nothing to install: the server is on 2023.10.20260101");
  });

  test("a run that installed and then failed leaves its boot noted: the next run on that boot reboots, though it installs nothing (review CC)", () => {
    const s = server(OLDER);
    // dnf's transaction went through (a new kernel), then it failed
    flag(s, "dnf-fails-after-install");
    flag(s, "reboot-needed");
    const failed = runUpdate(s);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain(`failed (exit 1): the server is on ${RELEASE} (it was on ${OLDER})`);
    fs.rmSync(path.join(s.state, "dnf-fails-after-install"));
    // a run on that boot whose dnf fails having installed nothing keeps the note: the reboot is still owed (review DP)
    flag(s, "dnf-fails");
    expect(runUpdate(s).status).toBe(1);
    expect(fs.existsSync(path.join(s.updateState, "installing"))).toBe(true);
    fs.rmSync(path.join(s.state, "dnf-fails"));
    // the apply runs it again (the failed association is tainted): nothing left to install, but a reboot is
    const again = runUpdate(s);
    expect(again.status).toBe(SSM_REBOOT_EXIT_CODE);
    expect(again.stdout).toContain(
      "nothing to install, but an earlier run installed packages on this boot and did not reboot",
    );
    // after the reboot: done, and the note is gone
    fs.rmSync(path.join(s.state, "reboot-needed"));
    rebooted(s);
    expect(runUpdate(s).status).toBe(0);
    expect(fs.existsSync(path.join(s.updateState, "installing"))).toBe(false);
    // a note from an earlier boot is no reason to reboot: that boot's reboot happened
    flag(s, "reboot-needed");
    fs.writeFileSync(path.join(s.updateState, "installing"), "an-earlier-boot\n");
    expect(runUpdate(s).status).toBe(0);
  });

  test("the deploy's lock stays held after the run asks for the reboot, so that no deploy starts moving processes before it (review CC)", async () => {
    const s = server(OLDER);
    flag(s, "reboot-needed");
    fs.writeFileSync(s.lock, "");
    expect(runUpdate(s, { rebootHoldSeconds: 2 }).status).toBe(SSM_REBOOT_EXIT_CODE);
    expect(lockHeld(s)).toBe(true);
    // no reboot came: the lock is free again once the hold ends
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(lockHeld(s)).toBe(false);
  });

  test("a first boot still running past its allowance stops the run with nothing changed: no dnf, no reboot (review CG)", () => {
    const s = server(OLDER);
    flag(s, "booting");
    flag(s, "reboot-needed");
    const result = runUpdate(s);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(
      "os-update: first boot still runs after 1 s: nothing was updated; apply again once it is done",
    );
    expect(result.calls).toEqual(["cloud-init status --wait"]);
    expect(release(s)).toBe(OLDER);
  });

  test("a dnf stopped at its limit fails the run, saying so; having installed nothing, it leaves no note (review CG)", () => {
    const s = server(OLDER);
    flag(s, "dnf-hangs");
    flag(s, "reboot-needed");
    const result = runUpdate(s);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(
      `os-update: dnf upgrade --releasever=${RELEASE} was stopped after 1 s, having installed nothing: the server stays on ${OLDER}`,
    );
    expect(fs.existsSync(path.join(s.updateState, "installing"))).toBe(false);
  });

  test("a first boot that failed before the server was set up stops the run; one that failed only at its first deploy does not (review CH)", () => {
    const s = server(OLDER);
    flag(s, "boot-status", "1");
    flag(s, "reboot-needed");
    const failed = runUpdate(s);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain(
      "os-update: first boot failed (cloud-init status 1) before the server was set up: nothing was updated",
    );
    expect(release(s)).toBe(OLDER);
    fs.writeFileSync(s.setUp, "");
    expect(runUpdate(s).status).toBe(SSM_REBOOT_EXIT_CODE);
    // done with warnings is done
    const warned = server(OLDER);
    flag(warned, "boot-status", "2");
    expect(runUpdate(warned).status).toBe(0);
  });

  test("an rpm that cannot read the installed packages stops the run, never read as nothing changed, and leaves no note (reviews CH, CI)", () => {
    const s = server(RELEASE);
    flag(s, "rpm-fails");
    flag(s, "reboot-needed");
    const result = runUpdate(s);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("os-update: rpm cannot read the installed packages: nothing was updated");
    expect(result.calls).not.toContain(`dnf -y upgrade --releasever=${RELEASE}`);
    // the next run on the same boot: nothing to install, and no reboot of a server neither run changed
    fs.rmSync(path.join(s.state, "rpm-fails"));
    const again = runUpdate(s);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("nothing to install: the server is on");
  });

  test("a needs-restarting -s that fails is a reboot, as a failing -r is (review CH)", () => {
    const s = server(OLDER);
    flag(s, "services-fails");
    expect(runUpdate(s).status).toBe(SSM_REBOOT_EXIT_CODE);
  });

  test("a lock that cannot be opened says so, not that a deploy runs (review CH)", () => {
    const s = server(OLDER);
    const result = runUpdate(s, { deployLock: path.join(s.state, "no-such-folder", "deploy.lock") });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("os-update: cannot open the deploy's lock");
  });

  /**
   * The update started on a server whose dnf hangs, in a process group of its own as the SSM agent
   * starts it; resolves once dnf runs (its call logged).
   */
  async function updateInDnf(
    s: Server,
    hang = "dnf-hangs",
  ): Promise<{ run: ReturnType<typeof spawn>; output: () => string }> {
    flag(s, hang);
    fs.writeFileSync(s.lock, "");
    const script = scriptFor(s, { bootSeconds: 5, dnfSeconds: 60 });
    const run = spawn("bash", ["--norc", "-c", script], {
      env: envOf(s),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    run.stdout!.on("data", (chunk) => (output += chunk));
    const calls = path.join(s.state, "calls");
    for (let i = 0; i < 100 && !fs.readFileSync(calls, { flag: "a+" }).toString().includes("upgrade"); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return { run, output: () => output };
  }

  /** Whether the deploy's lock is free within 4 s (dnf, which holds it, gone). */
  async function lockFreed(s: Server): Promise<boolean> {
    for (let i = 0; i < 40; i++) {
      if (!lockHeld(s)) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  test("a TERM to the script while dnf runs stops dnf too, and frees the lock; the note stays for the next run (review CH)", async () => {
    const s = server(OLDER);
    const { run, output } = await updateInDnf(s);
    run.kill("SIGTERM");
    expect(await new Promise((resolve) => run.on("close", resolve))).toBe(143);
    expect(output()).toContain("os-update: cancelled while dnf ran: it is stopped");
    expect(await lockFreed(s)).toBe(true);
    expect(fs.existsSync(path.join(s.updateState, "installing"))).toBe(true);
  });

  test.each(["dnf-hangs", "dnf-child-hangs"])(
    "SSM's cancel (a SIGKILL to the script's process group) ends dnf and what it started, and frees the lock (reviews CI, CJ): %s",
    async (hang) => {
      const s = server(OLDER);
      const { run } = await updateInDnf(s, hang);
      process.kill(-run.pid!, "SIGKILL");
      await new Promise((resolve) => run.on("close", resolve));
      expect(await lockFreed(s)).toBe(true);
    },
  );

  test("SSM's cancel while the watcher is still leaving the script's group (a setsid slow to start) leaves nothing of dnf running", async () => {
    const s = server(OLDER);
    // a setsid that waits a second before it makes the session: the cancel lands in that second
    // when dnf starts before the watcher has left (a loaded machine's CI run did; the watcher
    // was killed with the script, and dnf held the lock until its limit)
    fs.writeFileSync(path.join(s.bin, "setsid"), `#!/bin/bash\nsleep 1\nexec ${installedProgram("setsid")} "$@"\n`, {
      mode: 0o755,
    });
    const { run } = await updateInDnf(s, "dnf-child-hangs");
    process.kill(-run.pid!, "SIGKILL");
    // dnf's child keeps the script's output open for as long as it runs (30 s)
    const closed = new Promise((resolve) => run.on("close", () => resolve("closed")));
    expect(await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000, "dnf still runs"))])).toBe(
      "closed",
    );
    expect(await lockFreed(s)).toBe(true);
  });

  test("a watcher that cannot start (setsid failing) stops the run before dnf: nothing updated, no note, the lock free (review DC)", () => {
    const s = server(OLDER);
    fs.writeFileSync(path.join(s.bin, "setsid"), "#!/bin/bash\nexit 127\n", { mode: 0o755 });
    const result = runUpdate(s);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("os-update: cannot start the watcher that ends dnf if this run is cancelled");
    expect(result.calls).not.toContain(`dnf -y upgrade --releasever=${RELEASE}`);
    expect(release(s)).toBe(OLDER);
    // (a note would make the next run on this boot reboot a server nothing changed)
    expect(fs.readdirSync(s.updateState)).toEqual([]);
    expect(lockHeld(s)).toBe(false);
  });

  test("a run cancelled before its dnf started leaves the next run's dnf alone: each run's watcher reads its own run's group (review DC)", async () => {
    const s = server(OLDER);
    flag(s, "dnf-hangs"); // the second run's dnf runs until it is stopped
    fs.writeFileSync(s.lock, "");
    // In the first run only: its timeout waits 2 s before it makes dnf's group (the cancel lands
    // in them), and its watcher's `sleep` lasts until the second run's dnf runs (so that it looks
    // for its run's dnf only once the second run has named its own group).
    const slow = path.join(path.dirname(s.bin), "first-run-bin");
    fs.mkdirSync(slow);
    const secondRuns = path.join(s.state, "second-dnf-runs");
    fs.writeFileSync(
      path.join(slow, "timeout"),
      `#!/bin/bash\n${installedProgram("sleep")} 2\nexec ${installedProgram("timeout")} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    fs.writeFileSync(
      path.join(slow, "sleep"),
      `#!/bin/bash\nuntil [[ -e ${secondRuns} ]]; do ${installedProgram("sleep")} 0.05; done\n`,
      { mode: 0o755 },
    );
    const script = scriptFor(s, { dnfSeconds: 60, lockWaitSeconds: 20 });
    const start = (env: NodeJS.ProcessEnv) =>
      spawn("bash", ["--norc", "-c", script], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const named = () =>
      fs
        .readdirSync(s.updateState)
        .filter((name) => name.startsWith("dnf-group"))
        .some((name) => fs.readFileSync(path.join(s.updateState, name), "utf8").trim() !== "");
    const first = start({ ...envOf(s), PATH: `${slow}:${s.bin}:${process.env.PATH}` });
    let second: ReturnType<typeof start> | undefined;
    let secondEnded: Promise<unknown> = Promise.resolve();
    try {
      await waitUntil("the first run names dnf's group", () => fs.existsSync(s.updateState) && named(), 10_000);
      second = start(envOf(s)); // waits for the first run's lock
      const ended = new Promise((resolve) => second!.on("close", resolve));
      secondEnded = ended;
      await sleep(300); // (at the lock)
      process.kill(-first.pid!, "SIGKILL"); // SSM's cancel
      await waitUntil(
        "the second run's dnf runs",
        () => fs.readFileSync(path.join(s.state, "calls"), { flag: "a+" }).toString().includes("upgrade"),
        10_000,
      );
      fs.writeFileSync(secondRuns, ""); // the first run's watcher wakes, and finds its run gone
      const outcome = await Promise.race([ended.then(() => "ended"), sleep(2500).then(() => "runs")]);
      expect(outcome).toBe("runs");
    } finally {
      for (const run of [first, second]) {
        try {
          if (run) process.kill(-run.pid!, "SIGKILL");
        } catch {
          // ended
        }
      }
    }
    await secondEnded;
    // the second run's own watcher ends its dnf
    expect(await lockFreed(s)).toBe(true);
  });

  test("a TERM to the script ends what dnf started too, and dnf's own limit does (review CJ)", async () => {
    const s = server(OLDER);
    const { run } = await updateInDnf(s, "dnf-child-hangs");
    run.kill("SIGTERM");
    expect(await new Promise((resolve) => run.on("close", resolve))).toBe(143);
    expect(await lockFreed(s)).toBe(true);
    const limited = server(OLDER);
    flag(limited, "dnf-child-hangs");
    fs.writeFileSync(limited.lock, "");
    const result = runUpdate(limited);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("was stopped after 1 s");
    expect(lockHeld(limited)).toBe(false);
  });

  test("never during a deploy: it waits for the deploy's lock, and fails with nothing changed (exit 75) when the deploy outlasts the wait", async () => {
    const s = server(OLDER);
    fs.writeFileSync(s.lock, "");
    // a deploy holding the lock, as the deploy script does (exec 9>"$APP_ROOT/deploy.lock"; flock 9)
    const deploy = spawn("flock", ["--close", s.lock, "sleep", "5"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const held = runUpdate(s);
      expect(held.status).toBe(75);
      expect(held.stdout).toContain("os-update: a deploy still runs after 1 s: nothing was updated");
      expect(held.calls).not.toContain(`dnf -y upgrade --releasever=${RELEASE}`);
      expect(release(s)).toBe(OLDER);
    } finally {
      deploy.kill();
    }
    await new Promise((resolve) => deploy.on("close", resolve));
    expect(runUpdate(s).status).toBe(0);
    expect(release(s)).toBe(RELEASE);
  });
});

import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { SERVER_PATHS } from "../../src/userdata/app-host";
import { bootScript } from "../../src/userdata/boot-script";
import { LAUNCH_HOOK_NAME, launchHookScript } from "../../src/userdata/launch-hook";
import { tempDir, TEST_METRIC_NAMESPACES, testHost, writtenFile } from "../helpers";
import { waitUntil } from "../wait-until";

/**
 * How an app server in an Auto Scaling group leaves its launch wait: `launch-hook` run in bash
 * against stand-ins for `curl` (the metadata service) and `aws` (Auto Scaling) on PATH, which
 * this test controls: they answer as the test says and record every call. Nothing here reaches
 * AWS; that the real CLI takes these arguments is AWS's documented interface, not tested here.
 */

/** Where the program `name` is on PATH (for a stand-in that runs the real one). */
const programPath = (name: string) => spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();

const INSTANCE = "i-0123456789abcdef0";
const GROUP = "shop-prod-app-20261204000000000000000001";

interface Stubs {
  /**
   * What `describe-auto-scaling-instances --output text` prints, call after call (the last one
   * from then on): "<group>\t<state>", or "None". @default the group, Pending:Wait
   */
  readonly where?: readonly string[];
  /** What it prints once a completion has been asked for (carried out or not). @default - as before */
  readonly whereAfterComplete?: string;
  /** How many `complete-lifecycle-action` calls fail before one succeeds (Infinity: all fail). */
  readonly completeFailures?: number;
  /** The metadata service does not answer. */
  readonly noMetadata?: boolean;
}

function runHook(args: string[], stubs: Stubs = {}) {
  const dir = tempDir("launch-hook-");
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const calls = path.join(dir, "calls");
  const hook = path.join(dir, "launch-hook");
  fs.writeFileSync(hook, launchHookScript({ region: "ap-northeast-2" }), { mode: 0o755 });
  // Each call is recorded as its command line, by bash builtins only (each stub is one process).
  const record = (tool: string) => `echo "${tool} $*" >> '${calls}'`;
  // IMDSv2: the id only for a request that carries the token a PUT handed out.
  fs.writeFileSync(
    path.join(bin, "curl"),
    [
      "#!/bin/bash",
      record("curl"),
      stubs.noMetadata ? "exit 7" : "",
      'if [[ "$*" == *"-X PUT"* && "$*" == *"/latest/api/token"* ]]; then printf tok-42; exit 0; fi',
      `if [[ "$*" == *"X-aws-ec2-metadata-token: tok-42"* && "$*" == *"/latest/meta-data/instance-id"* ]]; then printf ${INSTANCE}; exit 0; fi`,
      "exit 22",
    ].join("\n"),
    { mode: 0o755 },
  );
  const failures = stubs.completeFailures ?? 0;
  const answers = stubs.where ?? [`${GROUP}\tPending:Wait`];
  fs.writeFileSync(
    path.join(bin, "aws"),
    [
      "#!/bin/bash",
      `answers=(${answers.map((a) => `$'${a.replace(/\t/g, "\\t")}'`).join(" ")})`,
      "asked=0 completions=0",
      `if [[ -f '${calls}' ]]; then`,
      "  while IFS= read -r line; do",
      "    case $line in *describe-auto-scaling-instances*) ((++asked)) ;; *complete-lifecycle-action*) ((++completions)) ;; esac",
      `  done < '${calls}'`,
      "fi",
      record("aws"),
      'case "$*" in',
      "  *describe-auto-scaling-instances*)",
      stubs.whereAfterComplete === undefined
        ? ""
        : `    if ((completions > 0)); then printf '%s\\n' $'${stubs.whereAfterComplete.replace(/\t/g, "\\t")}'; exit 0; fi`,
      "    i=$((asked < ${#answers[@]} ? asked : ${#answers[@]} - 1))",
      "    printf '%s\\n' \"${answers[i]}\" ;;",
      "  *complete-lifecycle-action*)",
      `    if ((completions < ${Number.isFinite(failures) ? failures : 1_000_000})); then echo "An error occurred (ValidationError)" >&2; exit 254; fi ;;`,
      "  *) exit 2 ;;",
      "esac",
    ].join("\n"),
    { mode: 0o755 },
  );
  // sleep records how long the script would wait, and returns at once
  fs.writeFileSync(path.join(bin, "sleep"), ["#!/bin/bash", record("sleep")].join("\n"), { mode: 0o755 });
  const run = spawnSync("/bin/bash", ["--norc", hook, ...args], {
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}` },
    timeout: 60_000, // only to end a hung script: it took up to 3.8 s on a loaded machine
  });
  const recorded = (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [])
    .filter((line) => line !== "")
    .map((call) => ({ call }));
  return {
    status: run.status,
    out: run.stdout + run.stderr,
    /** The AWS calls and the waits, in order: "aws ...", "sleep 3". */
    steps: recorded.filter((r) => !r.call.startsWith("curl ")).map((r) => r.call),
    aws: recorded.filter((r) => r.call.startsWith("aws ")).map((r) => r.call),
    curl: recorded.filter((r) => r.call.startsWith("curl ")).map((r) => r.call),
    sleeps: recorded.filter((r) => r.call.startsWith("sleep ")).map((r) => Number(r.call.slice(6))),
  };
}

const describeCall =
  `aws --region ap-northeast-2 autoscaling describe-auto-scaling-instances --instance-ids ${INSTANCE} ` +
  "--query AutoScalingInstances[0].[AutoScalingGroupName,LifecycleState] --output text";
const completion = (result: string) =>
  `aws --region ap-northeast-2 autoscaling complete-lifecycle-action --auto-scaling-group-name ${GROUP} ` +
  `--lifecycle-hook-name ${LAUNCH_HOOK_NAME} --instance-id ${INSTANCE} --lifecycle-action-result ${result}`;

describe("launch-hook, the boot script's last word to its Auto Scaling group", () => {
  test("a finished boot puts the server in service: the instance's id through IMDSv2, its group and launch state, then CONTINUE on the group's hook", () => {
    const run = runHook(["CONTINUE"]);
    expect(run.status).toBe(0);
    expect(run.curl[0]).toContain("-X PUT");
    expect(run.curl[1]).toContain("X-aws-ec2-metadata-token: tok-42");
    expect(run.aws).toEqual([describeCall, completion("CONTINUE")]);
    expect(run.out).toContain(`launch-hook: ${INSTANCE} in ${GROUP}: launch CONTINUE`);
  });

  test("a failed boot abandons the launch, but only once the CloudWatch agent has had time to ship the boot log", () => {
    const run = runHook(["ABANDON"]);
    expect(run.status).toBe(0);
    // 20 s: the agent ships every 15 s
    expect(run.steps).toEqual([describeCall, "sleep 20", completion("ABANDON")]);
    expect(run.out).toContain("abandoning the launch of");
  });

  test("a server still Pending (launched, not yet held by the hook) is asked again until the hook holds it", () => {
    const run = runHook(["ABANDON"], { where: [`${GROUP}\tPending`, `${GROUP}\tPending`, `${GROUP}\tPending:Wait`] });
    expect(run.status).toBe(0);
    expect(run.steps).toEqual([
      describeCall,
      "sleep 3",
      describeCall,
      "sleep 6",
      describeCall,
      "sleep 20",
      completion("ABANDON"),
    ]);
  });

  test.each([
    [
      "InService (a group created before it had the hook)",
      `${GROUP}\tInService`,
      `${INSTANCE} is InService in ${GROUP}`,
    ],
    ["in no group", "None", `${INSTANCE} is not in an Auto Scaling group:`],
  ])("a server %s has no launch action waiting: nothing is completed, and the log says so", (_, where, said) => {
    const run = runHook(["CONTINUE"], { where: [where] });
    expect(run.status).toBe(0);
    expect(run.steps).toEqual([describeCall]);
    expect(run.out).toContain(said);
    expect(run.out).toContain("no launch action waits for it; nothing to do");
  });

  test("a completion AWS refuses is tried again, after a longer pause each time (the state read again first); one refused 10 times, for 2 min 15 s, fails, leaving the launch to the hook's timeout", () => {
    const retried = runHook(["CONTINUE"], { completeFailures: 2 });
    expect(retried.status).toBe(0);
    expect(retried.steps).toEqual([
      describeCall,
      completion("CONTINUE"),
      describeCall,
      "sleep 3",
      completion("CONTINUE"),
      describeCall,
      "sleep 6",
      completion("CONTINUE"),
    ]);

    const refused = runHook(["CONTINUE"], { completeFailures: Infinity });
    expect(refused.status).toBe(1);
    expect(refused.aws.filter((call) => call === completion("CONTINUE"))).toHaveLength(10);
    expect(refused.sleeps).toEqual([3, 6, 9, 12, 15, 18, 21, 24, 27]);
    expect(refused.out).toContain(`could not complete the launch action of ${INSTANCE} in ${GROUP} (CONTINUE)`);
  });

  test("a completion carried out whose answer was lost is not taken for a failure: once no action waits, it is done", () => {
    const run = runHook(["CONTINUE"], { completeFailures: Infinity, whereAfterComplete: `${GROUP}\tPending:Proceed` });
    expect(run.status).toBe(0);
    expect(run.aws).toEqual([describeCall, completion("CONTINUE"), describeCall]);
    expect(run.out).toContain(`${INSTANCE} is Pending:Proceed now: its action is done`);
  });

  test.each([
    // (the group put it in service already; an abandoned one is terminating, or gone from the group)
    ["CONTINUE", `${GROUP}\tInService`, "InService"],
    ["ABANDON", `${GROUP}\tTerminating:Proceed`, "Terminating:Proceed"],
    ["ABANDON", "None", "out of its group"],
  ])("a %s whose answer was lost finds the server %s: done, not a failure (review DP)", (result, where, said) => {
    const run = runHook([result], { completeFailures: Infinity, whereAfterComplete: where });
    expect(run.status).toBe(0);
    expect(run.out).toContain(`${INSTANCE} is ${said} now: its action is done`);
  });

  test("a CONTINUE refused because the hook's timeout already abandoned the server says so and fails, never claiming the launch went on", () => {
    const run = runHook(["CONTINUE"], { completeFailures: Infinity, whereAfterComplete: `${GROUP}\tTerminating:Wait` });
    expect(run.status).toBe(1);
    expect(run.steps).toEqual([describeCall, completion("CONTINUE"), describeCall]);
    expect(run.out).toContain(`${INSTANCE} is Terminating:Wait: its launch was abandoned before this boot ended`);
    expect(run.out).not.toContain("launch CONTINUE");
  });

  test("a boot that ends after the hook's timeout, with the server already on its way out, fails and says so, completing nothing", () => {
    const run = runHook(["CONTINUE"], { where: [`${GROUP}\tTerminating:Wait`] });
    expect(run.status).toBe(1);
    expect(run.steps).toEqual([describeCall]);
    expect(run.out).toContain(
      `${INSTANCE} is Terminating:Wait in ${GROUP}: its launch was abandoned before this boot ended`,
    );
  });

  test("an ABANDON refused because the server was put in service otherwise fails loudly: a failed boot is taking traffic", () => {
    const run = runHook(["ABANDON"], { completeFailures: Infinity, whereAfterComplete: `${GROUP}\tInService` });
    expect(run.status).toBe(1);
    expect(run.out).toContain(`${INSTANCE} is InService: not what ABANDON asked for`);
  });

  test("without the metadata service it fails after 10 tries, saying why, and calls no AWS API", () => {
    const run = runHook(["CONTINUE"], { noMetadata: true });
    expect(run.status).toBe(1);
    expect(run.curl).toHaveLength(10);
    expect(run.sleeps).toEqual([3, 6, 9, 12, 15, 18, 21, 24, 27]);
    expect(run.aws).toEqual([]);
    expect(run.out).toContain("could not read this instance's id from the metadata service");
  });

  test("anything but CONTINUE or ABANDON is refused before any call", () => {
    const run = runHook(["continue"]);
    expect(run.status).toBe(64);
    expect(run.out).toContain("usage: launch-hook CONTINUE|ABANDON (got 'continue')");
    expect([...run.steps, ...run.curl]).toEqual([]);
  });
});

describe("the fleet's boot script ends its launch hook on exit, whatever ends it", () => {
  const host = (appRoot: string) =>
    testHost({ environment: "prod", version: "1.4.2", paths: { ...SERVER_PATHS, appRoot } });
  const LOG_GROUPS = { app: "/a", nginxAccess: "/b", nginxError: "/c", boot: "/d" };
  const fleetScript = (appRoot: string, bootLog?: string) =>
    bootScript({
      host: host(appRoot),
      logGroups: LOG_GROUPS,
      autoScaling: { region: "ap-northeast-2" },
      bootLog,
      metricNamespaces: TEST_METRIC_NAMESPACES,
    });

  test("the exit trap is the boot script's first act, and the hook is written right after, before the first step that can fail (the package install)", () => {
    const script = fleetScript("/opt/app");
    const firstStep = script.indexOf("\nretry dnf install");
    const commands = script
      .slice(0, firstStep)
      .replace(/^(cat > \S+ <<'(\w+)')\n[\s\S]*?\n\2$/m, "$1") // the file's text is no command
      .replace(/^end_launch\(\) \{\n[\s\S]*?\n\}$/m, "end_launch() {...}")
      .split("\n")
      .filter((line) => /^[a-z]/.test(line));
    expect(commands).toEqual([
      "set -euo pipefail",
      "end_launch() {...}",
      "trap end_launch EXIT",
      "trap 'exit 129' HUP",
      "trap 'exit 130' INT",
      "trap 'exit 143' TERM",
      "trap 'exit 141' PIPE",
      "exec > >(tee -a /var/log/boot-script.log) 2>&1",
      "boot_log_pid=$!",
      'echo "boot script started at $(date -Is)"',
      "install -d -m 0755 /opt/app/bin",
      "cat > /opt/app/bin/launch-hook <<'END_OF_FILE'",
      "chmod 0755 /opt/app/bin/launch-hook",
      'retry() { for attempt in 1 2 3 4 5 6 7 8 9 10; do "$@" && return 0; echo "retry $attempt: $*"; sleep 6; done; return 1; }',
    ]);
    expect(writtenFile(script, "/opt/app/bin/launch-hook")).toBe(
      launchHookScript({ region: "ap-northeast-2" }).replace(/\n$/, ""),
    );
    // a lone server (no group) has neither
    const lone = bootScript({
      host: host("/opt/app"),
      logGroups: LOG_GROUPS,
      metricNamespaces: TEST_METRIC_NAMESPACES,
    });
    expect(lone).not.toContain("launch-hook");
    // (its own lines: the deploy script it writes traps signals of its own)
    expect(lone.replace(/<<'(END_OF_\w+)'\n[\s\S]*?\n\1$/gm, "")).not.toContain("\ntrap ");
    expect(lone).toContain("\ntrap 'interrupted TERM 143' TERM\n"); // the heredoc it skips is there
  });

  /**
   * The boot script's first part, cut right after its traps ("traps") or after the hook is written
   * ("hook", which is then replaced by a recorder of its arguments), then `body`. Its log goes to
   * `<root>/boot.log` through its tee with `log`, else its output is the run's own.
   */
  function bootEndingWith(body: string, cut: "traps" | "hook" = "hook", log = false) {
    const root = tempDir("fleet-boot-");
    const script = fleetScript(root, path.join(root, "boot.log"));
    const end =
      cut === "traps"
        ? script.indexOf("\n", script.indexOf("\ntrap 'exit 141' PIPE") + 1)
        : script.indexOf("\nretry() {");
    const head = log ? script.slice(0, end) : script.slice(0, end).replace(/^exec > >\(tee.*\nboot_log_pid=\$!$/m, "");
    const recorder = `printf '#!/bin/bash\\necho "$*" >> ${root}/hook-calls\\n' > ${root}/bin/launch-hook`;
    const file = path.join(root, "boot.sh");
    fs.writeFileSync(file, `${head}\n${cut === "hook" ? recorder : ""}\n${body}\n`);
    const logged = () =>
      fs.existsSync(path.join(root, "boot.log")) ? fs.readFileSync(path.join(root, "boot.log"), "utf8") : "";
    return { root, file, result: () => result(root), logged };
  }
  function result(root: string) {
    const calls = path.join(root, "hook-calls");
    return fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "";
  }
  function runBoot(body: string, cut: "traps" | "hook" = "hook", log = false) {
    const boot = bootEndingWith(body, cut, log);
    const run = spawnSync("/bin/bash", ["--norc", "--noprofile", boot.file], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
      timeout: 10_000,
    });
    return { status: run.status, out: run.stdout + run.stderr, hook: boot.result(), logged: boot.logged() };
  }

  test("a boot that runs to its end continues the launch", () => {
    const run = runBoot('echo "boot script finished"');
    expect(run.hook).toBe("CONTINUE\n");
    expect(run.status).toBe(0);
  });

  test.each([
    ["a failed command (set -e)", "false\necho unreachable", 1],
    ["an explicit exit", "exit 3", 3],
    ["an unset variable (set -u)", "echo $NOT_SET_ANYWHERE", 1],
  ])("%s abandons it, and the log says how the boot ended", (_, body, status) => {
    const run = runBoot(body);
    expect(run.hook).toBe("ABANDON\n");
    expect(run.out).toMatch(new RegExp(`boot script failed \\(exit ${status}\\) at \\d{4}-`));
    expect(run.out).not.toContain("unreachable");
  });

  test("a failed boot's log ends with the failure, after everything its tee had still to write", () => {
    // a tee that starts half a second late (on PATH, before the real one), so that it is behind
    // when the trap runs
    const boot = bootEndingWith('echo "the last words of the failed step"\nfalse', "hook", true);
    const bin = path.join(boot.root, "slow-bin");
    fs.mkdirSync(bin);
    const realTee = programPath("tee");
    fs.writeFileSync(path.join(bin, "tee"), `#!/bin/sh\nsleep 0.5\nexec ${realTee} "$@"\n`, { mode: 0o755 });
    const run = spawnSync("/bin/bash", ["--norc", "--noprofile", boot.file], {
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}` },
      timeout: 10_000,
    });
    expect(boot.result()).toBe("ABANDON\n");
    expect(boot.logged()).toMatch(
      /^boot script started at [^\n]+\nthe last words of the failed step\nboot script failed \(exit 1\) at [^\n]+\n$/,
    );
    expect(run.stdout).toContain("the last words of the failed step"); // the console, through the tee
  });

  test("a failed boot whose pipe something it started still holds waits at most 5 s for the tee, then logs and abandons", () => {
    const boot = bootEndingWith('sleep 30 &\necho $! > "$ROOT/holder"\nfalse', "hook", true);
    // The wait is 50 rounds of `sleep 0.1`, 5 s of the script's own clock. A stand-in sleep (on
    // PATH, before the real one) counts those rounds and makes each 10 ms, so the bound is checked
    // in half a second instead of five; every other sleep (the holder's) is the real one.
    const bin = path.join(boot.root, "counting-bin");
    fs.mkdirSync(bin);
    const realSleep = programPath("sleep");
    const rounds = path.join(boot.root, "rounds");
    fs.writeFileSync(
      path.join(bin, "sleep"),
      `#!/bin/sh\nif [ "$*" = 0.1 ]; then echo >> '${rounds}'; exec ${realSleep} 0.01; fi\nexec ${realSleep} "$@"\n`,
      { mode: 0o755 },
    );
    const started = Date.now();
    try {
      // the boot's console is a file, so that only the tee and the holder keep the pipe
      spawnSync(
        "/bin/bash",
        ["--norc", "--noprofile", "-c", `bash --norc --noprofile '${boot.file}' > '${boot.root}/console' 2>&1`],
        {
          env: { PATH: `${bin}:${process.env.PATH}`, ROOT: boot.root },
          timeout: 20_000,
        },
      );
      const ms = Date.now() - started;
      expect(boot.result()).toBe("ABANDON\n");
      // it waited for the tee all 50 rounds (the holder outlives them), and no more: then it went on
      expect(fs.readFileSync(rounds, "utf8")).toBe("\n".repeat(50));
      expect(ms).toBeLessThan(15_000);
      expect(boot.logged()).toMatch(/boot script failed \(exit 1\) at /);
    } finally {
      const holder = path.join(boot.root, "holder");
      if (fs.existsSync(holder)) spawnSync("kill", [fs.readFileSync(holder, "utf8").trim()]);
    }
  }, 30_000);

  test("a boot stopped by a signal (SIGTERM to its process group) abandons it, and its log says so though its tee went with the group: bash alone would give the exit trap status 0", async () => {
    // a long step, known to be running once its pid is written (a signal that came while bash forked
    // it would miss it, and bash would wait the step out before its trap)
    const boot = bootEndingWith('sleep 20 &\necho $! > "$ROOT/sleeping"\nwait $!', "hook", true);
    const child = spawn("/bin/bash", ["--norc", "--noprofile", boot.file], {
      env: { PATH: process.env.PATH, ROOT: boot.root },
      detached: true,
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await waitUntil("the boot script sleeping", () => fs.existsSync(path.join(boot.root, "sleeping")));
      process.kill(-child.pid!, "SIGTERM");
      expect(await exited).toBe(143);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
    }
    expect(boot.result()).toBe("ABANDON\n");
    // (the tee may have died before it wrote the first line: only the failure is sure to be there)
    expect(boot.logged()).toMatch(/(^|\n)boot script failed \(exit 143\) at [^\n]+\n$/);
    expect(out).not.toContain("boot script failed"); // the console's tee was gone
  }, 15_000);

  test("a boot whose log reader is gone (the tee died) abandons it at its next line of output, instead of continuing a boot that never finished", () => {
    const boot = bootEndingWith('sleep 0.3\necho "the log\'s reader is gone"\ntouch "$ROOT/reached"');
    const run = spawnSync(
      "/bin/bash",
      ["--norc", "--noprofile", "-c", `bash --norc --noprofile '${boot.file}' | head -n 1`],
      {
        encoding: "utf8",
        env: { PATH: process.env.PATH, ROOT: boot.root },
        timeout: 10_000,
      },
    );
    expect(run.status).toBe(0); // head's
    expect(fs.existsSync(path.join(boot.root, "reached"))).toBe(false);
    expect(boot.result()).toBe("ABANDON\n");
  });

  test("a boot that fails before the hook is written says so, and leaves the server to the hook's timeout", () => {
    const run = runBoot("false", "traps");
    expect(run.hook).toBe("");
    expect(run.out).toContain("boot script failed (exit 1)");
    expect(run.out).toContain("no launch hook to end: the group abandons this server at the hook's timeout");
  });
});

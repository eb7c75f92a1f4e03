import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { SERVER_PATHS } from "../../src/userdata/app-host";
import { bootScript } from "../../src/userdata/boot-script";
import { LAUNCH_HOOK_NAME, launchHookScript } from "../../src/userdata/launch-hook";
import { tempDir, testHost, writtenFile } from "../helpers";

/**
 * How an app server in an Auto Scaling group leaves its launch wait: `launch-hook` run in bash
 * against stand-ins for `curl` (the metadata service) and `aws` (Auto Scaling) on PATH, which
 * this test controls: they answer as the test says and record every call. Nothing here reaches
 * AWS; that the real CLI takes these arguments is AWS's documented interface, not tested here.
 */

const INSTANCE = "i-0123456789abcdef0";
const GROUP = "shop-prod-app-20261204000000000000000001";

interface Stubs {
  /** What `describe-auto-scaling-instances --output text` prints: "<group>\t<state>", or "None". */
  readonly where?: string;
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
  // IMDSv2: the id only for a request that carries the token a PUT handed out.
  fs.writeFileSync(
    path.join(bin, "curl"),
    [
      "#!/bin/bash",
      `echo "curl $*" >> '${calls}'`,
      stubs.noMetadata ? "exit 7" : "",
      'if [[ "$*" == *"-X PUT"* && "$*" == *"/latest/api/token"* ]]; then printf tok-42; exit 0; fi',
      `if [[ "$*" == *"X-aws-ec2-metadata-token: tok-42"* && "$*" == *"/latest/meta-data/instance-id"* ]]; then printf ${INSTANCE}; exit 0; fi`,
      "exit 22",
    ].join("\n"),
    { mode: 0o755 },
  );
  const failures = stubs.completeFailures ?? 0;
  fs.writeFileSync(
    path.join(bin, "aws"),
    [
      "#!/bin/bash",
      `echo "aws $*" >> '${calls}'`,
      'case "$*" in',
      `  *describe-auto-scaling-instances*) printf '%s\\n' '${stubs.where ?? `${GROUP}\tPending:Wait`}' ;;`,
      "  *complete-lifecycle-action*)",
      `    n=$(grep -c complete-lifecycle-action '${calls}')`,
      `    if ((n <= ${Number.isFinite(failures) ? failures : 1_000_000})); then echo "An error occurred (ValidationError)" >&2; exit 254; fi ;;`,
      "  *) exit 2 ;;",
      "esac",
    ].join("\n"),
    { mode: 0o755 },
  );
  const started = Date.now();
  const run = spawnSync("/bin/bash", ["--norc", hook, ...args], {
    encoding: "utf8",
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      LAUNCH_HOOK_RETRY_SECONDS: "0",
      LAUNCH_HOOK_FLUSH_SECONDS: "0.3",
    },
    timeout: 10_000,
  });
  const recorded = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [];
  return {
    status: run.status,
    out: run.stdout + run.stderr,
    ms: Date.now() - started,
    aws: recorded.filter((line) => line.startsWith("aws ")),
    curl: recorded.filter((line) => line.startsWith("curl ")),
  };
}

const completion = (result: string) =>
  `aws --region ap-northeast-2 autoscaling complete-lifecycle-action --auto-scaling-group-name ${GROUP} ` +
  `--lifecycle-hook-name ${LAUNCH_HOOK_NAME} --instance-id ${INSTANCE} --lifecycle-action-result ${result}`;

describe("launch-hook, the boot script's last word to its Auto Scaling group", () => {
  test("a finished boot puts the server in service: the instance's id through IMDSv2, its group and launch state, then CONTINUE on the group's hook", () => {
    const run = runHook(["CONTINUE"]);
    expect(run.status).toBe(0);
    expect(run.curl[0]).toContain("-X PUT");
    expect(run.curl[1]).toContain("X-aws-ec2-metadata-token: tok-42");
    expect(run.aws).toEqual([
      `aws --region ap-northeast-2 autoscaling describe-auto-scaling-instances --instance-ids ${INSTANCE} ` +
        "--query AutoScalingInstances[0].[AutoScalingGroupName,LifecycleState] --output text",
      completion("CONTINUE"),
    ]);
    expect(run.out).toContain(`launch-hook: ${INSTANCE} in ${GROUP}: launch CONTINUE`);
  });

  test("a failed boot abandons the launch, once the CloudWatch agent has had time to ship the boot log", () => {
    const run = runHook(["ABANDON"]);
    expect(run.status).toBe(0);
    expect(run.aws.at(-1)).toBe(completion("ABANDON"));
    expect(run.out).toContain("abandoning the launch of");
    expect(run.ms).toBeGreaterThanOrEqual(300); // LAUNCH_HOOK_FLUSH_SECONDS, 20 s on a server
  });

  test.each([
    [
      "InService (a group created before it had the hook)",
      `${GROUP}\tInService`,
      `${INSTANCE} is InService in ${GROUP}`,
    ],
    ["in no group", "None", `${INSTANCE} is not in an Auto Scaling group:`],
  ])("a server %s has no launch action waiting: nothing is completed, and the log says so", (_, where, said) => {
    const run = runHook(["CONTINUE"], { where });
    expect(run.status).toBe(0);
    expect(run.aws.filter((call) => call.includes("complete-lifecycle-action"))).toEqual([]);
    expect(run.out).toContain(said);
    expect(run.out).toContain("no launch action waits for it; nothing to do");
  });

  test("a completion AWS refuses at first is tried again; one refused 5 times fails, leaving the launch to the hook's timeout", () => {
    const retried = runHook(["CONTINUE"], { completeFailures: 2 });
    expect(retried.status).toBe(0);
    expect(retried.aws.filter((call) => call === completion("CONTINUE"))).toHaveLength(3);

    const refused = runHook(["CONTINUE"], { completeFailures: Infinity });
    expect(refused.status).toBe(1);
    expect(refused.aws.filter((call) => call === completion("CONTINUE"))).toHaveLength(5);
    expect(refused.out).toContain(`could not complete the launch action of ${INSTANCE} in ${GROUP} (CONTINUE)`);
  });

  test("without the metadata service it fails after 5 tries, saying why, and calls no AWS API", () => {
    const run = runHook(["CONTINUE"], { noMetadata: true });
    expect(run.status).toBe(1);
    expect(run.curl).toHaveLength(5);
    expect(run.aws).toEqual([]);
    expect(run.out).toContain("could not read this instance's id from the metadata service");
  });

  test("anything but CONTINUE or ABANDON is refused before any call", () => {
    const run = runHook(["continue"]);
    expect(run.status).toBe(64);
    expect(run.out).toContain("usage: launch-hook CONTINUE|ABANDON (got 'continue')");
    expect([...run.aws, ...run.curl]).toEqual([]);
  });
});

describe("the fleet's boot script ends its launch hook on exit, whatever ends it", () => {
  const host = (appRoot: string) =>
    testHost({ environment: "prod", version: "1.4.2", paths: { ...SERVER_PATHS, appRoot } });
  const LOG_GROUPS = { app: "/a", nginxAccess: "/b", nginxError: "/c", boot: "/d" };
  const fleetScript = (appRoot: string) =>
    bootScript({ host: host(appRoot), logGroups: LOG_GROUPS, autoScaling: { region: "ap-northeast-2" } });

  test("the hook is installed and the exit trap set before the first step that can fail (the package install)", () => {
    const script = fleetScript("/opt/app");
    const trap = script.indexOf("\ntrap '");
    expect(trap).toBeGreaterThan(script.indexOf("cat > /opt/app/bin/launch-hook <<'"));
    expect(trap).toBeLessThan(script.indexOf("\nretry dnf install"));
    const commands = script
      .slice(0, trap)
      .replace(/^(cat > \S+ <<'(\w+)')\n[\s\S]*?\n\2$/m, "$1") // the file's text is no command
      .split("\n")
      .filter((line) => /^[a-z]/.test(line));
    expect(commands).toEqual([
      "set -euo pipefail",
      "exec > >(tee -a /var/log/boot-script.log) 2>&1",
      'echo "boot script started at $(date -Is)"',
      "install -d -m 0755 /opt/app/bin",
      "cat > /opt/app/bin/launch-hook <<'END_OF__OPT_APP_BIN_LAUNCH_HOOK'",
      "chmod 0755 /opt/app/bin/launch-hook",
    ]);
    expect(writtenFile(script, "/opt/app/bin/launch-hook")).toBe(
      launchHookScript({ region: "ap-northeast-2" }).replace(/\n$/, ""),
    );
    // a lone server (no group) has neither
    const lone = bootScript({ host: host("/opt/app"), logGroups: LOG_GROUPS });
    expect(lone).not.toContain("launch-hook");
    expect(lone).not.toContain("\ntrap ");
  });

  /** The boot script's first part (to its trap, without the log redirect), then `body`, with the hook replaced by a recorder. */
  function bootEndingWith(body: string) {
    const root = tempDir("fleet-boot-");
    const script = fleetScript(root);
    const head = script
      .slice(0, script.indexOf("\n", script.indexOf("\ntrap '") + 1))
      .replace(/^exec > >\(tee.*$/m, "");
    const recorder = `printf '#!/bin/bash\\necho "$*" >> ${root}/hook-calls\\n' > ${root}/bin/launch-hook`;
    const run = spawnSync("/bin/bash", ["--norc", "--noprofile", "-c", `${head}\n${recorder}\n${body}`], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
      timeout: 10_000,
    });
    const calls = path.join(root, "hook-calls");
    return {
      status: run.status,
      out: run.stdout + run.stderr,
      hook: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "",
    };
  }

  test("a boot that runs to its end continues the launch", () => {
    const run = bootEndingWith('echo "boot script finished"');
    expect(run.hook).toBe("CONTINUE\n");
    expect(run.status).toBe(0);
  });

  test.each([
    ["a failed command (set -e)", "false\necho unreachable", 1],
    ["an explicit exit", "exit 3", 3],
    ["an unset variable (set -u)", "echo $NOT_SET_ANYWHERE", 1],
  ])("%s abandons it, and the log says how the boot ended", (_, body, status) => {
    const run = bootEndingWith(body);
    expect(run.hook).toBe("ABANDON\n");
    expect(run.out).toMatch(new RegExp(`boot script failed \\(exit ${status}\\) at \\d{4}-`));
    expect(run.out).not.toContain("unreachable");
  });
});

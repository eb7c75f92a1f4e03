import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { environmentStack } from "../environment-stack";
import {
  bootScriptOf,
  ref,
  tempDir,
  writtenFile,
  type Synthesized,
  firstDeployLine,
  LARGER_DATABASE,
} from "../helpers";
import { TerraformResource, TerraformStack, Testing } from "cdktf";
import { AppDeployment } from "../../src/constructs/app-deployment";
import { FIRST_BOOT_SECONDS, setUpMarker } from "../../src/userdata/boot-script";
import { SERVER_PATHS } from "../../src/userdata/app-host";
import { Naming } from "../../src/naming";
import { MAX_APP_PROCESSES } from "../../src/config/schema";
import { USER_DATA_LIMIT } from "../../src/userdata/encode";
import { rolloutTimeoutSeconds } from "../../src/ops/rollout";
import { shippedStack } from "../shipped";
import { readReleases } from "../../src/artifact/releases";
import { PROJECT_ROOT } from "../../src/project-root";

/** How a release reaches the servers: artifacts bucket, upload, permissions, and the rollout per layout. */

const CERT = "arn:aws:acm:ap-northeast-2:111122223333:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
/** Memory for the most app processes beside a local PostgreSQL (8 GiB: the memory rule, config/rules.ts). */
const ROOMY = "t3.large";
const network = {
  cidr: "10.50.0.0/16",
  availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
  natGateways: "single",
};

function stack(layout: string, app: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Synthesized {
  return environmentStack("test", {
    layout,
    network: layout === "load-balanced" ? network : { ...network, natGateways: "none" },
    app: { instanceType: "t3.small", version: "1.0.0", ...app },
    ...(layout === "load-balanced" && { loadBalancer: { https: true, certificateArn: CERT } }),
    ...extra,
  });
}

const LAYOUTS = ["single-server", "app-db-split", "load-balanced"] as const;

test("a version this repository never released (a fixture tarball here) goes to the same one key", () => {
  expect(stack("single-server", { version: "2.0.0" }).resources("aws_s3_object")[0].values).toMatchObject({
    key: "app/release.tar.gz",
    metadata: { "app-version": "2.0.0" },
  });
});

describe.each(LAYOUTS)("%s: the artifacts bucket and the release", (layout) => {
  const json = stack(layout);
  const bucket = json.named("aws_s3_bucket", "Bucket");
  const bucketRef = ref(bucket, "aws_s3_bucket");

  test("the bucket is versioned, encrypted, private, owner-enforced and TLS-only", () => {
    expect(bucket.values.bucket_prefix).toBe("shop-test-artifacts-");
    const byBucket = (type: string) => json.resources(type).filter((r) => r.values.bucket === bucketRef);
    expect(byBucket("aws_s3_bucket_versioning")[0].values.versioning_configuration.status).toBe("Enabled");
    expect(
      byBucket("aws_s3_bucket_server_side_encryption_configuration")[0].values.rule[0]
        .apply_server_side_encryption_by_default.sse_algorithm,
    ).toBe("AES256");
    expect(byBucket("aws_s3_bucket_public_access_block")[0].values).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(byBucket("aws_s3_bucket_ownership_controls")[0].values.rule.object_ownership).toBe("BucketOwnerEnforced");
    const policy = json.referenced(byBucket("aws_s3_bucket_policy")[0].values.policy);
    expect(policy.values.statement[0].condition[0]).toMatchObject({
      variable: "aws:SecureTransport",
      values: ["false"],
    });
    const lifecycle = byBucket("aws_s3_bucket_lifecycle_configuration")[0].values.rule[0];
    expect(lifecycle.noncurrent_version_expiration[0].noncurrent_days).toBeGreaterThanOrEqual(30);
  });

  test("Terraform uploads app.version's tarball, copied into the stack's own folder, to the one release key", () => {
    const release = json.resources("aws_s3_object")[0].values;
    expect(json.countOf("aws_s3_object")).toBe(1);
    expect(release.bucket).toBe(ref(bucket, "aws_s3_bucket"));
    // One key for every release: a new version is an update (a new object version), never a
    // replacement, which would delete every version of the old key and the releases with it.
    // (The stack on 1.1.0 is the one the rollout tests below read: synthesized once per file.)
    expect(release.key).toBe("app/release.tar.gz");
    expect(stack(layout, { version: "1.1.0" }).resources("aws_s3_object")[0].values.key).toBe(release.key);
    expect(release.metadata).toEqual({ "app-version": "1.0.0" });
    // A path inside the stack's folder (cdktf copies the asset there at synth), never dist/ or
    // anything else a fresh clone lacks; the checksum is known at synth, so no file function.
    expect(release.source).toMatch(/^assets\/Artifacts_Tarball_[0-9A-F]{8}\/[0-9a-f]{64}\/app-1\.0\.0\.tar\.gz$/);
    expect(release.source).toContain(`/${release.source_hash}/`);
    expect(release.source_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(release)).not.toMatch(/dist\/|filemd5|\.\.\//);
    expect(release.checksum_algorithm).toBe("SHA256");
    const versioning = json.resources("aws_s3_bucket_versioning").find((v) => v.values.bucket === bucketRef)!;
    expect(release.depends_on).toContain(`aws_s3_bucket_versioning.${versioning.name}`);
  });

  test("an SSM parameter names the bucket; the boot script reads that parameter by its literal name", () => {
    const parameter = json.named("aws_ssm_parameter", "BucketParameter").values;
    expect(parameter.name).toBe("/shop/test/app/artifacts-bucket");
    expect(parameter.value).toBe(ref(bucket, "aws_s3_bucket", "bucket"));
    expect(bootScriptOf(json)).toContain("--name /shop/test/app/artifacts-bucket");
  });

  test("the app role may read releases (and list their versions) of the release key only, and that parameter only", () => {
    const policy = json.referenced(json.named("aws_iam_role_policy", "ReadReleases").values.policy).values;
    const bucketArn = ref(bucket, "aws_s3_bucket", "arn");
    const statements = Object.fromEntries(policy.statement.map((s: any) => [s.sid, s]));
    expect(statements.ReadReleases).toMatchObject({
      actions: ["s3:GetObject", "s3:GetObjectVersion"],
      resources: [`${bucketArn}/app/release.tar.gz`],
    });
    expect(statements.ListReleaseVersions).toMatchObject({
      actions: ["s3:ListBucketVersions"],
      resources: [bucketArn],
    });
    expect(statements.ListReleaseVersions.condition[0]).toMatchObject({
      variable: "s3:prefix",
      values: ["app/release.tar.gz"],
    });
    expect(statements.FindBucket.resources).toEqual([
      ref(json.named("aws_ssm_parameter", "BucketParameter"), "aws_ssm_parameter", "arn"),
    ]);
  });

  test("servers boot only after their role's policies exist (the first download must not be refused)", () => {
    const server = json.resources("aws_instance")[0] ?? json.resources("aws_autoscaling_group")[0];
    for (const policy of json.resources("aws_iam_role_policy").filter((p) => p.name.startsWith("AppIdentity_"))) {
      expect(server.values.depends_on).toContain(`aws_iam_role_policy.${policy.name}`);
    }
    const attachments = json
      .resources("aws_iam_role_policy_attachment")
      .filter((a) => a.name.startsWith("AppIdentity_"));
    expect(attachments.length).toBeGreaterThan(0);
    for (const attachment of attachments) {
      expect(server.values.depends_on).toContain(`aws_iam_role_policy_attachment.${attachment.name}`);
    }
  });

  test("log groups exist with retention before any server boots, and the agent ships to exactly them", () => {
    const groups = json
      .resources("aws_cloudwatch_log_group")
      .filter((g) => !String(g.values.name).includes("flow") && !String(g.values.name).startsWith("/aws/rds/"));
    expect(groups.map((g) => g.values.name).sort()).toEqual(
      ["/shop/test/app", "/shop/test/boot", "/shop/test/nginx/access", "/shop/test/nginx/error"].sort(),
    );
    for (const group of groups) expect(group.values.retention_in_days).toBe(30);
    const server = json.resources("aws_instance")[0] ?? json.resources("aws_autoscaling_group")[0];
    for (const group of groups) expect(server.values.depends_on).toContain(`aws_cloudwatch_log_group.${group.name}`);
    expect(server.values.depends_on).toContain(`aws_s3_object.${json.resources("aws_s3_object")[0].name}`);
    const script = bootScriptOf(json);
    for (const group of groups) expect(script).toContain(`"log_group_name": "${group.values.name}"`);
  });

  test("user data is base64 at synth time, so Terraform interpolates nothing of the script's ${...}", () => {
    const raw =
      json.resources("aws_instance")[0]?.values.user_data_base64 ??
      json.resources("aws_launch_template")[0].values.user_data;
    expect(raw).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const script = bootScriptOf(json);
    expect(script).toContain("${PORTS[@]}"); // shell syntax Terraform would otherwise read as interpolation
    expect(script).toContain("${aws:InstanceId}"); // the CloudWatch agent's own placeholder
    // What EC2 limits is the user data as sent: gzip-compressed when the script is over 16 KB.
    expect(Buffer.from(raw, "base64").length).toBeLessThanOrEqual(USER_DATA_LIMIT);
  });

  test("the boot script installs nginx over one app process per vCPU and deploys app.version", () => {
    const script = bootScriptOf(json);
    expect(script).toContain("systemctl enable app@8001 app@8002 app@8003\n"); // t3.small: 2 vCPUs, at least 3
    expect(script).toContain(firstDeployLine("1.0.0"));
    expect(bootScriptOf(stack(layout, { processes: 4 }))).toContain(
      "systemctl enable app@8001 app@8002 app@8003 app@8004\n",
    );
  });

  test("nginx trusts X-Forwarded-Proto and -For only behind the load balancer", () => {
    const conf = writtenFile(bootScriptOf(json), "/etc/nginx/nginx.conf");
    const trusts = conf.includes("$http_x_forwarded_proto") && conf.includes("$proxy_add_x_forwarded_for");
    expect({ layout, trusts }).toEqual({ layout, trusts: layout === "load-balanced" });
  });
});

describe("rolling out a new app.version", () => {
  test("load-balanced: a new version changes the launch template's user data, and the group refreshes to its latest version", () => {
    const before = stack("load-balanced");
    const after = stack("load-balanced", { version: "1.1.0" });
    expect(bootScriptOf(after)).toContain(firstDeployLine("1.1.0"));
    expect(bootScriptOf(after)).not.toBe(bootScriptOf(before));
    const group = after.resources("aws_autoscaling_group")[0].values;
    expect(group.launch_template.version).toBe(
      ref(after.resources("aws_launch_template")[0], "aws_launch_template", "latest_version"),
    );
    expect(group.instance_refresh.strategy).toBe("Rolling");
    // New servers start before old ones stop; a failed refresh stops with the old ones serving.
    expect(group.instance_refresh.preferences.min_healthy_percentage).toBe(100);
    expect(group.instance_refresh.preferences.max_healthy_percentage).toBeGreaterThan(100);
    expect(group.instance_refresh.preferences.checkpoint_percentages).toEqual([50, 100]);
    // So do replacements of servers that failed their health checks (AWS's default terminates first)
    expect(group.instance_maintenance_policy).toEqual({
      min_healthy_percentage: 100,
      max_healthy_percentage: group.instance_refresh.preferences.max_healthy_percentage,
    });
    // The provider moves the group to the new template before the refresh starts, so an
    // automatic rollback would roll "back" to the new version (terraform-provider-aws#34189).
    expect(group.instance_refresh.preferences.auto_rollback).toBe(false);
    expect(after.countOf("aws_ssm_association")).toBe(0);
  });

  test.each(["single-server", "app-db-split"])(
    "%s: the server stays; an SSM association runs the deploy script with the version, and the apply waits for it",
    (layout) => {
      const json = stack(layout, { version: "1.1.0" });
      const instance = json.resources("aws_instance")[0];
      expect(instance.values.lifecycle.ignore_changes).toContain("user_data_base64");
      const document = json.resources("aws_ssm_document")[0].values;
      expect(document.document_type).toBe("Command");
      const content = JSON.parse(document.content);
      expect(content.parameters.version.allowedPattern).toBe("^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$");
      // a deploy already running on the server makes this one wait a few minutes at most, then fail
      // with nothing changed, within the document's limit (see "how long a deploy ... is waited for")
      expect(content.mainSteps[0].inputs.runCommand).toContainEqual(
        expect.stringMatching(/^DEPLOY_LOCK_WAIT=\d+ \/opt\/app\/bin\/deploy '\{\{ version \}\}' \{\{ sha256 \}\}$/),
      );
      const association = json.resources("aws_ssm_association")[0].values;
      expect(association.name).toBe(ref(json.resources("aws_ssm_document")[0], "aws_ssm_document", "name"));
      // with the checksum releases.yaml records: the server refuses other bytes under the version's name
      expect(association.parameters).toEqual({
        version: "1.1.0",
        sha256: readReleases(PROJECT_ROOT).get("1.1.0")!.sha256,
      });
      // required: a run of the document by hand must give it too
      expect(content.parameters.sha256).toEqual({
        type: "String",
        description: expect.any(String),
        allowedPattern: "^[0-9a-f]{64}$",
      });
      expect(association.targets).toEqual([{ key: "InstanceIds", values: [ref(instance, "aws_instance")] }]);
      expect(association.wait_for_success_timeout_seconds).toBeGreaterThan(0);
      // The provider waits only when it creates an association: every new release replaces it.
      // A bare address: Terraform rejects the "${...}" form cdktf writes for a resource object.
      expect(association.lifecycle.replace_triggered_by).toEqual([
        `aws_s3_object.${json.resources("aws_s3_object")[0].name}`,
      ]);
      // A failed first boot fails the deploy instead of being waited past.
      expect(content.mainSteps[0].inputs.runCommand[0]).toMatch(/cloud-init status --wait.*exit 1/);
    },
  );
});

describe("a first boot whose first deploy failed (a release that dies): the next deploy can still fix the server", () => {
  // In a temporary folder: the server's /opt/app and /etc/systemd/system moved under it, and a
  // stand-in systemctl on PATH that records its calls (no systemd here).
  const MARKER = setUpMarker(SERVER_PATHS);
  function onDisk() {
    const root = tempDir("first-boot-");
    const bin = path.join(root, "stub-bin");
    for (const dir of [bin, `${root}/opt/app/bin`, `${root}/etc/systemd/system`])
      fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/bash\necho "$*" >> '${root}/systemctl.log'\n`, {
      mode: 0o755,
    });
    const moved = (text: string) =>
      text.replaceAll("/opt/app/", `${root}/opt/app/`).replaceAll("/etc/systemd/", `${root}/etc/systemd/`);
    // the boot script's own shell options, or (SSM's runShellScript) sh's: bash as sh, no -e
    const run = (script: string, options: string[]) =>
      spawnSync("/bin/bash", ["--norc", ...options, "-c", moved(script)], {
        encoding: "utf8",
        env: { PATH: `${bin}:${process.env.PATH}` },
      });
    const calls = () => fs.readFileSync(`${root}/systemctl.log`, "utf8").trim().split("\n");
    return { root, bin, run, calls, marker: `${root}${MARKER}` };
  }

  test("the boot sets the server up all the same, health probe and first dump included, then fails with the deploy's status", () => {
    const script = bootScriptOf(stack("single-server"));
    // what follows the first deploy, to the end of the script
    const rest = script.slice(script.indexOf("first_deploy=0\n"));
    expect(rest.startsWith(`first_deploy=0${firstDeployLine("1.0.0")}`)).toBe(true);
    for (const [exit, status, last] of [
      [3, 3, "boot script: the first deploy of 1.0.0 failed (exit 3); the server is set up"],
      [0, 0, "boot script finished at"],
    ] as const) {
      const disk = onDisk();
      try {
        fs.writeFileSync(`${disk.root}/opt/app/bin/deploy`, `#!/bin/bash\necho "deploy $*"\nexit ${exit}\n`, {
          mode: 0o755,
        });
        const boot = disk.run(rest, ["-euo", "pipefail"]);
        expect({ status: boot.status, stderr: boot.stderr }).toEqual({ status, stderr: "" });
        // the version and the checksum releases.yaml records for it
        expect(boot.stdout.startsWith(`deploy 1.0.0 ${readReleases(PROJECT_ROOT).get("1.0.0")!.sha256}\n`)).toBe(true);
        expect(boot.stdout.trim().split("\n").at(-1)).toContain(last);
        expect(fs.existsSync(disk.marker)).toBe(true);
        expect(fs.existsSync(`${disk.root}/opt/app/bin/health-probe`)).toBe(true);
        expect(disk.calls()).toEqual([
          "start --no-block db-backup.service",
          "daemon-reload",
          "enable --now app-health-probe.timer",
        ]);
      } finally {
        fs.rmSync(disk.root, { recursive: true, force: true });
      }
    }
  });

  test("SSM's deploy goes ahead after a failed boot that set the server up, and stops after one that did not", () => {
    const content = JSON.parse(stack("single-server").resources("aws_ssm_document")[0].values.content);
    const [waitForBoot, deploy] = content.mainSteps[0].inputs.runCommand as string[];
    expect(waitForBoot).toContain(`[ -f ${MARKER} ]`);
    expect(deploy).toMatch(/\/opt\/app\/bin\/deploy '\{\{ version \}\}' \{\{ sha256 \}\}$/);
    const scenarios = [
      // cloud-init's status, whether the server was set up: what the step prints, and whether it deploys
      { cloudInit: 0, setUp: true, says: "", deploys: true },
      { cloudInit: 2, setUp: true, says: "", deploys: true }, // done, with warnings
      {
        cloudInit: 1,
        setUp: true,
        says: "first boot failed at its first deploy (cloud-init status 1); the server is set up: deploying",
        deploys: true,
      },
      {
        cloudInit: 1,
        setUp: false,
        says: "first boot failed (cloud-init status 1) before the server was set up: see /var/log/boot-script.log",
        deploys: false,
      },
    ];
    for (const { cloudInit, setUp, says, deploys } of scenarios) {
      const disk = onDisk();
      try {
        fs.writeFileSync(path.join(disk.bin, "cloud-init"), `#!/bin/bash\nexit ${cloudInit}\n`, { mode: 0o755 });
        if (setUp) fs.writeFileSync(disk.marker, "");
        // SSM runs the commands as one script, with sh; the deploy itself stands in as an echo
        const step = disk.run(`${waitForBoot}\necho deploying now`, ["--posix"]);
        expect({ cloudInit, setUp, stdout: step.stdout, status: step.status }).toEqual({
          cloudInit,
          setUp,
          stdout: `${says ? `${says}\n` : ""}${deploys ? "deploying now\n" : ""}`,
          status: deploys ? 0 : 1,
        });
      } finally {
        fs.rmSync(disk.root, { recursive: true, force: true });
      }
    }
  });
});

describe("how long a deploy on a server without a load balancer is waited for", () => {
  // A deploy moves every process and, when one fails, moves every one it moved back. Each move may
  // take what the unit's timeouts allow: the old process held out and draining until
  // TimeoutStopSec, the new one starting and settling until TimeoutStartSec, and, when it fails,
  // held out and stopped too. What waits for a deploy must wait that long: SSM stopping the script
  // half-way would leave processes on two versions.
  const seconds = (text: string, pattern: RegExp) => Number(text.match(pattern)![1]);
  const FIRST_BOOT_AT_LEAST = 15 * 60; // packages, the database, the first install
  const deploy = (processes: number) => {
    const json = stack("single-server", { processes, instanceType: ROOMY });
    const script = bootScriptOf(json);
    const unit = writtenFile(script, "/etc/systemd/system/app@.service");
    const stop =
      seconds(writtenFile(script, "/opt/app/bin/rotation"), /^HOLD_SECONDS=([\d.]+)$/m) +
      seconds(unit, /^TimeoutStopSec=(\d+)$/m);
    const move = 2 * stop + seconds(unit, /^TimeoutStartSec=(\d+)$/m);
    const deployScript = writtenFile(script, "/opt/app/bin/deploy");
    const migrations = deployScript.match(/timeout -k (\d+) "\$\{APP_MIGRATE_TIMEOUT:-(\d+)\}"/)!;
    const content = JSON.parse(json.resources("aws_ssm_document")[0].values.content);
    const runCommand: string[] = content.mainSteps[0].inputs.runCommand;
    // a port found held out of rotation on the deploy's version is waited for once (review CA)
    const heldWait = seconds(deployScript, /^held_wait=\$\{DEPLOY_HELD_WAIT:-(\d+)\}$/m);
    // every process moved and moved back, after the release's migrations (killed after their grace)
    const moves = 2 * processes * move + Number(migrations[1]) + Number(migrations[2]);
    return {
      moves,
      // and every process waited for once while it settles held out of rotation
      rollout: moves + processes * heldWait,
      document: Number(content.mainSteps[0].inputs.timeoutSeconds),
      documentLockWait: seconds(
        runCommand.find((line) => line.includes("bin/deploy"))!,
        /DEPLOY_LOCK_WAIT=(\d+) /,
      ),
      apply: json.resources("aws_ssm_association")[0].values.wait_for_success_timeout_seconds as number,
      defaultLockWait: seconds(deployScript, /^lock_wait=\$\{DEPLOY_LOCK_WAIT:-(\d+)\}$/m),
    };
  };
  const fewest = deploy(2);
  const most = deploy(MAX_APP_PROCESSES);

  test.each([
    ["2", fewest],
    [String(MAX_APP_PROCESSES), most],
  ])(
    "%s processes: the SSM document outlasts first boot, its wait for the lock and the whole rollout and rollback; the apply outlasts the document; a person's deploy waits out the moves of another for the lock",
    (_, times) => {
      // first boot, the wait for the lock, and the deploy's own limit (which a person's deploy waits for the lock)
      expect(FIRST_BOOT_SECONDS).toBeGreaterThanOrEqual(FIRST_BOOT_AT_LEAST);
      expect(times.document).toBeGreaterThanOrEqual(FIRST_BOOT_SECONDS + times.documentLockWait + times.rollout);
      expect(times.apply).toBeGreaterThan(times.document);
      // a person's deploy waits out another's moves; not its waits for held ports, which would
      // rewrite every server's boot script to count (review CE: fleets would roll for it)
      expect(times.defaultLockWait).toBeGreaterThanOrEqual(times.moves);
      // the document's own deploy waits briefly: waiting out a whole deploy, it could not finish its own
      expect(times.documentLockWait).toBeLessThanOrEqual(10 * 60);
    },
  );

  test("docs/releases.md's table of the limits is what the stacks set", () => {
    const page = fs.readFileSync(path.join(PROJECT_ROOT, "docs", "releases.md"), "utf8");
    const n = (text: string) => Number(text.replace(/[^\d]/g, ""));
    const rows = [...page.matchAll(/^\| (\d+)[^|]*\| yes +\| ([\d,]+) s +\| ([\d,]+) s +\| ([\d,]+) s/gm)];
    expect(rows.map((row) => row[1])).toEqual(["2", "4", String(MAX_APP_PROCESSES)]);
    for (const [, processes, limit, document, apply] of rows) {
      const times = processes === "2" ? fewest : processes === "4" ? deploy(4) : most;
      const limitSet = times.document - FIRST_BOOT_SECONDS - times.documentLockWait;
      expect([n(limit), n(document), n(apply)]).toEqual([limitSet, times.document, times.apply]);
      expect(limitSet).toBeGreaterThanOrEqual(times.rollout);
    }
    const byHand =
      /waits out another deploy's fetch, migrations and moves \(([\d,]+) s for 3 processes with a\s+database\)/.exec(
        page,
      );
    expect(n(byHand![1])).toBe(deploy(3).defaultLockWait);
  });

  test("the limits grow with the processes (a fixed 15 minutes cut off a rollback of 40)", () => {
    expect(most.document - fewest.document).toBeGreaterThanOrEqual(most.rollout - fewest.rollout);
  });

  test("the largest boot script fits EC2's user data limit: a single server with its own PostgreSQL, the most processes and the longest names", () => {
    const longest = environmentStack("longest-name", {
      project: "longest-proj",
      layout: "single-server",
      network: { ...network, natGateways: "none" },
      app: { instanceType: ROOMY, version: "1.0.0", processes: MAX_APP_PROCESSES },
    });
    const userData = Buffer.from(longest.resources("aws_instance")[0].values.user_data_base64, "base64");
    expect(userData.length).toBeLessThanOrEqual(USER_DATA_LIMIT);
    expect(bootScriptOf(longest)).toContain(`app@${8000 + MAX_APP_PROCESSES}`);
  });

  test("so does the largest fleet server's, with its launch hook and the RDS certificate bundle", () => {
    const fleet = environmentStack("longest-name", {
      project: "longest-proj",
      layout: "load-balanced",
      network,
      app: { instanceType: ROOMY, version: "1.0.0", processes: MAX_APP_PROCESSES },
      database: LARGER_DATABASE,
      loadBalancer: { https: true, certificateArn: CERT },
    });
    const userData = Buffer.from(fleet.resources("aws_launch_template")[0].values.user_data, "base64");
    expect(userData.length).toBeLessThanOrEqual(USER_DATA_LIMIT);
    expect(bootScriptOf(fleet)).toContain("/opt/app/bin/launch-hook CONTINUE");
  });

  test("the deploy workflow's job outlasts the longest apply it can run: a Multi-AZ RDS create, then the most processes' deploy", () => {
    const workflow = parse(
      fs.readFileSync(path.join(__dirname, "../../.github/workflows/deploy-environment.yml"), "utf8"),
    );
    const RDS_CREATE_SECONDS = 40 * 60;
    expect(workflow.jobs.deploy["timeout-minutes"] * 60).toBeGreaterThanOrEqual(RDS_CREATE_SECONDS + most.apply);
    // a fixed server with the most processes and an OS update: RDS, then the server, its deploy and
    // then the update, each association waited for in turn (review CD); first boot once: the deploy
    // waits for it, and the update's script bounds each of its waits on its own (cloud-init's, then
    // the lock's and dnf's: review CF), so its allowance for first boot (for a server replaced
    // alone) goes unused after the deploy
    for (const layout of ["single-server", "app-db-split"]) {
      const updated = stack(
        layout,
        { processes: MAX_APP_PROCESSES, instanceType: ROOMY, osRelease: "2023.9.20251117" },
        layout === "app-db-split" ? { database: LARGER_DATABASE } : {},
      );
      const waits = updated
        .resources("aws_ssm_association")
        .map((a) => a.values.wait_for_success_timeout_seconds as number);
      expect(waits).toHaveLength(2);
      const osDocument = updated.resources("aws_ssm_document").find((d) => d.values.name.endsWith("-app-os"))!;
      const bootAllowance = Number(
        /timeout --foreground --kill-after=30 (\d+) cloud-init status --wait/.exec(osDocument.values.content)![1],
      );
      expect(workflow.jobs.deploy["timeout-minutes"] * 60).toBeGreaterThanOrEqual(
        (layout === "app-db-split" ? RDS_CREATE_SECONDS : 0) + waits[0] + waits[1] - bootAllowance,
      );
    }
    // a fleet's creation waits for its servers' first boot
    const fleet = stack(
      "load-balanced",
      { processes: MAX_APP_PROCESSES, instanceType: ROOMY },
      { database: LARGER_DATABASE },
    ).resources("aws_autoscaling_group")[0];
    const capacityWait = Number(/^(\d+)m$/.exec(fleet.values.wait_for_capacity_timeout)![1]) * 60;
    expect(workflow.jobs.deploy["timeout-minutes"] * 60).toBeGreaterThanOrEqual(RDS_CREATE_SECONDS + capacityWait);
    // an update: the apply (an RDS change may take as long), then wait-rollout's wait for prod's refresh
    const prodGroup = shippedStack("prod").resources("aws_autoscaling_group")[0].values;
    expect(workflow.jobs.deploy["timeout-minutes"] * 60).toBeGreaterThanOrEqual(
      RDS_CREATE_SECONDS + rolloutTimeoutSeconds(prodGroup),
    );
    expect(JSON.stringify(workflow)).not.toContain("ROLLOUT_TIMEOUT_MINUTES"); // the stack's own wait
  });

  test("an SSM step longer than SSM allows is refused at synth (the agent would quietly run it for its default hour)", () => {
    const app = Testing.app();
    const scope = new TerraformStack(app, "limits");
    const release = new TerraformResource(scope, "Release", { terraformResourceType: "aws_s3_object" });
    const deployment = (deployTimeoutSeconds: number) =>
      new AppDeployment(scope, `Deploy${deployTimeoutSeconds}`, {
        naming: new Naming("shop", "test"),
        instanceId: "i-0123456789abcdef0",
        version: "1.0.0",
        releaseSha256: "0".repeat(64),
        release,
        deployCommand: "/opt/app/bin/deploy",
        setUpMarker: "/opt/app/set-up",
        deployTimeoutSeconds,
      });
    expect(() => deployment(170_000)).not.toThrow();
    expect(() => deployment(172_000)).toThrow(/more than the 172800 s an SSM command step may run/);
  });
});

test("production keeps the app and nginx logs a year; the artifacts bucket is not force-destroyed", () => {
  const prod = stack(
    "load-balanced",
    { instanceType: "m7g.large", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
    {
      production: true,
      database: { engine: "postgres", engineVersion: "16", instanceClass: "db.t4g.micro", allocatedStorageGb: 20 },
      loadBalancer: { https: true, certificateArn: CERT, accessLogs: true },
    },
  );
  const groups = prod
    .resources("aws_cloudwatch_log_group")
    .filter((g) => String(g.values.name).startsWith("/shop/test/"));
  for (const group of groups) expect(group.values.retention_in_days).toBe(365);
  expect(prod.named("aws_s3_bucket", "Bucket").values.force_destroy).toBe(false);
  expect(stack("load-balanced").named("aws_s3_bucket", "Bucket").values.force_destroy).toBe(true);
});

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  appPorts,
  PASSIVE_HEALTH_CHECK,
  SERVER_PATHS,
  type AppDatabase,
  type AppHost,
} from "../../src/userdata/app-host";
import { appCommand, appUnit } from "../../src/userdata/app-unit";
import { bootScript } from "../../src/userdata/boot-script";
import { cloudWatchAgentConfig } from "../../src/userdata/cloudwatch-agent";
import { deployScript } from "../../src/userdata/deploy-script";
import { nginxConf } from "../../src/userdata/nginx-conf";
import { randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { USER_DATA_LIMIT, userDataBase64 } from "../../src/userdata/encode";
import { tempDir } from "../helpers";

/** The server's files as text: what nginx, systemd and bash will be given. */

const host = (overrides: Partial<AppHost> = {}): AppHost => ({
  environment: "prod",
  version: "1.4.2",
  listenPort: 80,
  healthCheckPath: "/healthz",
  appPorts: appPorts(4),
  nginxUser: "nginx",
  appUser: "app",
  passiveHealthCheck: PASSIVE_HEALTH_CHECK,
  paths: SERVER_PATHS,
  artifacts: {
    region: "ap-northeast-2",
    bucketParameter: "/shop/prod/app/artifacts-bucket",
    releaseKey: "app/release.tar.gz",
  },
  ...overrides,
});
/** A single server's own PostgreSQL, as the single-server stack describes it. */
const LOCAL_DATABASE: AppDatabase = {
  settingsParameter: "/shop/prod/app/database",
  region: "ap-northeast-2",
  envFile: "/etc/app/database.env",
  local: {
    engine: "postgres",
    serverPackage: "postgresql16-server",
    port: 5432,
    name: "app",
    username: "app",
    backupBucketParameter: "/shop/prod/db/backups-bucket",
    backupPrefix: "db/",
    backupSchedule: "*-*-* 18:00:00 UTC",
  },
};
const LOG_GROUPS = {
  app: "/shop/prod/app",
  nginxAccess: "/shop/prod/nginx/access",
  nginxError: "/shop/prod/nginx/error",
  boot: "/shop/prod/boot",
};

/** `bash -n`: the script parses. */
function bashSyntaxErrors(script: string): string {
  const file = path.join(tempDir("bash-n-"), "script.sh");
  fs.writeFileSync(file, script);
  return spawnSync("bash", ["-n", file], { encoding: "utf8" }).stderr;
}

describe("nginx configuration", () => {
  const conf = nginxConf(host());
  const upstream = /upstream app \{([^}]*)\}/.exec(conf)?.[1] ?? "";

  test("one upstream server per app process, each with passive health checks, in a shared zone", () => {
    const servers = [...upstream.matchAll(/server 127\.0\.0\.1:(\d+) max_fails=(\d+) fail_timeout=(\d+)s;/g)];
    expect(servers.map((m) => Number(m[1]))).toEqual([8001, 8002, 8003, 8004]);
    for (const m of servers) {
      expect(Number(m[2])).toBe(PASSIVE_HEALTH_CHECK.maxFails);
      expect(Number(m[3])).toBe(PASSIVE_HEALTH_CHECK.failTimeoutSeconds);
    }
    expect(upstream).toMatch(/zone app \d+k;/);
  });

  test("keep-alive to the processes, closed before the app closes its side", () => {
    expect(upstream).toMatch(/keepalive \d+;/);
    expect(conf).toContain("proxy_http_version 1.1;");
    expect(conf).toContain('proxy_set_header Connection "";');
    const nginxIdle = Number(/keepalive_timeout (\d+)s;\n    \}/.exec(conf)?.[1]);
    const appIdle =
      Number(/keepAliveTimeout = ([\d_]+)/.exec(fs.readFileSync("app/server.js", "utf8"))?.[1].replace("_", "")) / 1000;
    expect(nginxIdle).toBeLessThan(appIdle);
  });

  test("retries the next process on errors and gateway failures, bounded, and never replays a sent POST", () => {
    expect(conf).toMatch(/proxy_next_upstream error timeout http_502 http_503 http_504;/);
    expect(conf).not.toContain("non_idempotent");
    expect(conf).toContain("proxy_next_upstream_tries 4;");
    expect(conf).toMatch(/proxy_next_upstream_timeout \d+s;/);
    expect(conf).toMatch(/proxy_connect_timeout \d+s;/);
    expect(conf).toMatch(/proxy_read_timeout \d+s;/);
  });

  test("the health check path asks the processes' own /healthz, with short timeouts", () => {
    const location = /location = \/healthz \{([^}]*)\}/.exec(conf)?.[1] ?? "";
    expect(location).toContain("proxy_pass http://app/healthz;");
    expect(location).toMatch(/proxy_read_timeout [12]s;/);
    expect(nginxConf(host({ healthCheckPath: "/status" }))).toContain("location = /status {");
  });

  test("listens on the configured port, as the configured user; the test bed's variant binds loopback", () => {
    expect(conf).toMatch(/^user nginx;$/m);
    expect(conf).toContain("listen 80 default_server;");
    const local = nginxConf(host({ listenAddress: "127.0.0.1", listenPort: 18080, nginxUser: undefined }));
    expect(local).toContain("listen 127.0.0.1:18080 default_server;");
    expect(local).not.toMatch(/^user /m);
  });
});

describe("the app@ systemd unit", () => {
  const unit = appUnit(host());
  test("runs the release linked for its port, as the unprivileged app user, restarted on exit", () => {
    expect(unit).toContain(`ExecStart=${appCommand(host(), "%i").join(" ")}`);
    expect(unit).toContain("ExecStart=/usr/bin/node-22 /opt/app/run/%i/server.js");
    expect(unit).toContain("Environment=PORT=%i HOST=127.0.0.1");
    expect(unit).toMatch(/^User=app$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
  });
});

describe("the deploy script", () => {
  const script = deployScript(host());

  test("is valid bash", () => {
    expect(bashSyntaxErrors(script)).toBe("");
  });

  test("moves the processes of this host, one at a time, waiting out nginx's fail_timeout between them", () => {
    expect(script).toContain("PORTS=(8001 8002 8003 8004)");
    expect(script).toContain(`SETTLE_SECONDS=${PASSIVE_HEALTH_CHECK.failTimeoutSeconds + 1}`);
  });

  test("downloads a missing release from the artifacts bucket, verifying its checksum", () => {
    expect(script).toContain("--name /shop/prod/app/artifacts-bucket");
    expect(script).toContain("--prefix app/release.tar.gz");
    expect(script).toContain(`--query 'Metadata."app-version"'`);
    expect(script).toContain("--checksum-mode ENABLED");
    expect(script).toContain('aws --region ap-northeast-2 "$@"');
    expect(script).toContain("s3api list-object-versions");
  });

  test("without an artifact source, a missing release fails", () => {
    const local = deployScript(host({ artifacts: undefined }));
    expect(local).not.toContain("aws ");
    expect(local).toContain("has no artifact source");
    expect(bashSyntaxErrors(local)).toBe("");
  });
});

describe("the boot script", () => {
  const props = { host: host(), logGroups: LOG_GROUPS, autoScaling: true };

  test("is valid bash, with each file in a quoted here-document", () => {
    const script = bootScript(props);
    expect(bashSyntaxErrors(script)).toBe("");
    for (const file of ["/opt/app/bin/deploy", "/etc/systemd/system/app@.service", "/etc/nginx/nginx.conf"]) {
      expect(script).toContain(`cat > ${file} <<'END_OF_`);
    }
  });

  test("writes exactly the rendered files", () => {
    const script = bootScript(props);
    const body = (file: string) =>
      new RegExp(`cat > ${file.replace(/[/.@]/g, "\\$&")} <<'(\\w+)'\\n([\\s\\S]*?)\\n\\1\\n`).exec(script)?.[2];
    expect(body("/etc/nginx/nginx.conf")).toBe(nginxConf(props.host).replace(/\n$/, ""));
    expect(body("/etc/systemd/system/app@.service")).toBe(appUnit(props.host).replace(/\n$/, ""));
    expect(body("/opt/app/bin/deploy")).toBe(deployScript(props.host).replace(/\n$/, ""));
  });

  test("starts the CloudWatch agent, then nginx, then enables every process unit and deploys the version", () => {
    const script = bootScript(props);
    expect(script).toContain("systemctl enable app@8001 app@8002 app@8003 app@8004\n");
    const agent = script.indexOf("amazon-cloudwatch-agent-ctl -a fetch-config");
    const nginx = script.indexOf("systemctl enable --now nginx");
    const deploy = script.indexOf("\n/opt/app/bin/deploy 1.4.2\n");
    expect(agent).toBeGreaterThan(0);
    expect(nginx).toBeGreaterThan(agent); // a failed boot still ships its log
    expect(deploy).toBeGreaterThan(nginx);
  });

  test("the CloudWatch agent config ships every log to its group and memory per instance and per group", () => {
    const config = JSON.parse(cloudWatchAgentConfig({ ...props, bootLog: "/var/log/boot-script.log" }));
    const shipped = Object.fromEntries(
      config.logs.logs_collected.files.collect_list.map((f: any) => [f.log_group_name, f.file_path]),
    );
    expect(shipped).toEqual({
      "/shop/prod/app": "/var/log/app/*.log",
      "/shop/prod/nginx/access": "/var/log/nginx/access.log",
      "/shop/prod/nginx/error": "/var/log/nginx/error.log",
      "/shop/prod/boot": "/var/log/boot-script.log",
    });
    expect(config.metrics.metrics_collected.mem.measurement).toEqual(["mem_used_percent"]);
    expect(config.metrics.aggregation_dimensions).toEqual([["AutoScalingGroupName"], ["InstanceId"]]);
    const single = JSON.parse(cloudWatchAgentConfig({ ...props, autoScaling: false, bootLog: "/b" }));
    expect(single.metrics.append_dimensions).toEqual({ InstanceId: "${aws:InstanceId}" });
    expect(single.metrics.aggregation_dimensions).toEqual([["InstanceId"]]);
  });

  test("fits EC2's 16 KB user data limit: as text when it fits, gzip-compressed with the most processes", () => {
    const shipped = bootScript(props);
    expect(Buffer.from(userDataBase64(shipped), "base64").toString("utf8")).toBe(shipped);
    const largest = bootScript({ ...props, host: host({ appPorts: appPorts(64), database: LOCAL_DATABASE }) });
    expect(Buffer.byteLength(largest)).toBeGreaterThan(USER_DATA_LIMIT);
    const data = Buffer.from(userDataBase64(largest), "base64");
    expect(data.length).toBeLessThanOrEqual(USER_DATA_LIMIT);
    expect(data.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip, which cloud-init unpacks
    expect(gunzipSync(data).toString("utf8")).toBe(largest);
    expect(() =>
      userDataBase64("#".repeat(4 * USER_DATA_LIMIT) + randomBytes(USER_DATA_LIMIT).toString("hex")),
    ).toThrow(/even gzip-compressed; EC2 accepts 16384/);
  });
});

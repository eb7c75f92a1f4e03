import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { SERVER_PATHS } from "../../src/userdata/app-host";
import { bootScript } from "../../src/userdata/boot-script";
import {
  DATABASE_HEALTH_METRIC,
  databaseCheck,
  HEALTH_PROBE_TIMER,
  healthProbeFiles,
  healthProbeScript,
  healthProbeService,
  healthProbeTimer,
} from "../../src/userdata/health-probe";
import { tempDir, TEST_METRIC_NAMESPACES, testHost } from "../helpers";

// The health probe's files as text: what bash and systemd are given on a server without a load
// balancer. The script itself runs against real nginx in __tests__/server/health-probe.test.ts.

const host = testHost;
const LOG_GROUPS = { app: "/a", nginxAccess: "/b", nginxError: "/c", boot: "/d" };

describe("the probe script", () => {
  const script = healthProbeScript({
    host: host({ listenPort: 8080, healthCheckPath: "/ready" }),
    region: "ap-northeast-3",
    namespace: "shop/dev/AppHealth",
  });

  test("asks nginx on loopback for the configured health check, bounded in time, and parses as bash", () => {
    expect(script).toContain("url=http://127.0.0.1:8080/ready");
    expect(script).toMatch(/curl --silent --output \/dev\/null --write-out '%\{http_code\}' --max-time 8 "\$url"/);
    const file = path.join(tempDir("probe-"), "probe.sh");
    fs.writeFileSync(file, script);
    expect(spawnSync("bash", ["-n", file], { encoding: "utf8" }).stderr).toBe("");
  });

  test("publishes 1 only for a 200, per instance id from cloud-init, in the environment's region, retried once", () => {
    expect(script).toContain("if [[ $code == 200 ]]; then value=1; else value=0; fi");
    expect(script).toContain("instance_id=$(cat /var/lib/cloud/data/instance-id)");
    const publish =
      'aws cloudwatch put-metric-data --region ap-northeast-3 --namespace shop/dev/AppHealth --metric-name "$1" --dimensions "InstanceId=$instance_id" --value "$2" --unit Count';
    expect(script).toContain(`publish() { ${publish} || { sleep 5; ${publish}; }; }`);
    expect(script).toContain('publish HealthCheckOk "$value"');
    // a server without a database of its own publishes nothing of one
    expect(script).not.toContain(DATABASE_HEALTH_METRIC.metricName);
  });
});

describe("on a server with its own database (single-server), the probe also asks the engine (review DQ)", () => {
  const local = (engine: "postgres" | "mariadb", port: number) => ({
    engine,
    serverPackage: engine === "postgres" ? "postgresql16-server" : "mariadb1011-server",
    port,
    name: "shopdb",
    username: "shop_app",
    backupBucketParameter: "/p",
    backupPrefix: "db/",
    backupSchedule: "*-*-* 18:00:00 UTC",
  });
  const probeOf = (engine: "postgres" | "mariadb", port: number) =>
    healthProbeScript({
      host: host({
        database: { settingsParameter: "/s", region: "ap-northeast-2", envFile: "/e", local: local(engine, port) },
      }),
      region: "ap-northeast-2",
      namespace: "shop/dev/AppHealth",
    });

  test("PostgreSQL: pg_isready on loopback as the app's user (an unknown one would be logged every minute), bounded", () => {
    const script = probeOf("postgres", 5433);
    expect(script).toContain(
      "if pg_isready -q -h 127.0.0.1 -p 5433 -U shop_app -d shopdb -t 5; then db=1; else db=0; fi",
    );
    expect(script).toContain('publish DatabaseOk "$db" && exit $sent');
    // the site's answer is published first, whatever the database's check takes
    expect(script.indexOf('publish HealthCheckOk "$value"')).toBeLessThan(script.indexOf("pg_isready"));
    const file = path.join(tempDir("probe-"), "probe.sh");
    fs.writeFileSync(file, script);
    expect(spawnSync("bash", ["-n", file], { encoding: "utf8" }).stderr).toBe("");
  });

  test("MariaDB: its service's state (a connection that does not log in is logged as a warning every time)", () => {
    const script = probeOf("mariadb", 3306);
    expect(script).toContain("if systemctl is-active -q mariadb; then db=1; else db=0; fi");
    expect(databaseCheck(local("mariadb", 3306))).not.toMatch(/mariadb-admin|mysqladmin/);
  });
});

describe("the systemd units", () => {
  test("a timer every minute from a minute after boot runs an unprivileged oneshot service", () => {
    expect(healthProbeTimer()).toMatch(/OnBootSec=60s\nOnUnitActiveSec=60s\nAccuracySec=5s/);
    expect(healthProbeTimer()).toContain("WantedBy=timers.target");
    const service = healthProbeService(host());
    expect(service).toContain("Type=oneshot");
    expect(service).toContain("ExecStart=/opt/app/bin/health-probe");
    expect(service).toContain("DynamicUser=yes");
    expect(service).toContain("ProtectSystem=strict");
    // a run never outlasts the interval, so runs never pile up
    expect(Number(/TimeoutStartSec=(\d+)/.exec(service)?.[1])).toBeLessThan(60);
  });

  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  const skip = analyze.error ? `systemd-analyze is not installed (${analyze.error.message})` : undefined;
  if (skip) console.info(`skipped: systemd-analyze verify of the probe's units: ${skip}`);
  (skip ? test.skip : test)("systemd-analyze verify accepts both units, with no warning", () => {
    // given the files as the boot script writes them, under a temporary root
    const root = tempDir("probe-units-");
    const files = healthProbeFiles({
      host: host({ paths: { ...SERVER_PATHS, appRoot: root } }),
      region: "ap-northeast-2",
      namespace: TEST_METRIC_NAMESPACES.health,
    });
    const units = files.map((f) => {
      const target = f.path.startsWith(root) ? f.path : path.join(root, path.basename(f.path));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
      return target;
    });
    const run = spawnSync("systemd-analyze", ["verify", ...units.filter((u) => /\.(service|timer)$/.test(u))], {
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });
});

describe("the boot script", () => {
  test("a server without a load balancer writes the probe and starts its timer, after its first deploy", () => {
    const script = bootScript({
      host: host(),
      logGroups: LOG_GROUPS,
      healthProbe: { region: "ap-northeast-2" },
      metricNamespaces: TEST_METRIC_NAMESPACES,
    });
    for (const file of healthProbeFiles({
      host: host(),
      region: "ap-northeast-2",
      namespace: TEST_METRIC_NAMESPACES.health,
    })) {
      expect(script).toContain(`cat > ${file.path} <<'`);
      expect(script).toContain(`chmod ${file.mode} ${file.path}`);
    }
    expect(script.indexOf(`systemctl enable --now ${HEALTH_PROBE_TIMER}`)).toBeGreaterThan(
      script.indexOf("/opt/app/bin/deploy 1.0.0 || first_deploy=$?"),
    );
  });

  test("without healthProbe (a fleet behind a load balancer) there is no probe", () => {
    expect(
      bootScript({
        host: host(),
        logGroups: LOG_GROUPS,
        autoScaling: { region: "ap-northeast-2" },
        metricNamespaces: TEST_METRIC_NAMESPACES,
      }),
    ).not.toContain("health-probe");
  });
});

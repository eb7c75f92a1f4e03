import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { healthProbeScript } from "../../src/userdata/health-probe";
import { tempDir, TEST_METRIC_NAMESPACES, testHost } from "../helpers";
import { drillDatabase } from "./database-bed";
import { engineMissing, RealDatabase } from "./databases";
import { describeWhenInstalled } from "./testbed";

/**
 * The health probe's check of a single server's own database, run for real: the script the boot
 * script writes, with its unprivileged user's view, against a real PostgreSQL configured as the
 * boot script configures it (its pg_hba.conf whole), up, stopped and started again (as this test's
 * user: the server's probe runs as systemd's DynamicUser, which pg_isready's check does not see). A STAND-IN
 * `aws` first on PATH records what would be published (no CloudWatch here). nginx is not needed:
 * the probe asks it first and publishes HealthCheckOk whatever it answers; these tests read
 * DatabaseOk. MariaDB's check is its service's state (`systemctl is-active`), which needs systemd:
 * a STAND-IN `systemctl` answers it here, so that test checks the probe's wiring only.
 */

const INSTANCE_ID = "i-0123456789abcdef0";

/** A folder with the probe for `local`, stand-ins for `aws` (and `systemctl`, answering from a file), and an instance id. */
function probeFolder(local: ReturnType<typeof drillDatabase>): { work: string; probe: string } {
  const work = tempDir("database-probe-");
  fs.writeFileSync(path.join(work, "instance-id"), `${INSTANCE_ID}\n`);
  fs.mkdirSync(path.join(work, "bin"));
  fs.writeFileSync(
    path.join(work, "bin", "aws"),
    `#!/bin/bash\n# test stand-in for the AWS CLI (no CloudWatch here)\necho "$*" >> "${work}/calls.log"\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(
    path.join(work, "bin", "systemctl"),
    `#!/bin/bash\n# test stand-in for systemctl (no systemd here): active while ${work}/active exists\necho "$*" >> "${work}/systemctl.log"\n[[ -f "${work}/active" ]]\n`,
    { mode: 0o755 },
  );
  const probe = path.join(work, "health-probe");
  fs.writeFileSync(
    probe,
    healthProbeScript({
      // nginx's port: nothing listens there (HealthCheckOk 0, which these tests do not read)
      host: testHost({
        listenPort: 9,
        database: { settingsParameter: "/s", region: "ap-northeast-2", envFile: "/e", local },
      }),
      region: "ap-northeast-2",
      namespace: TEST_METRIC_NAMESPACES.health,
      instanceIdFile: path.join(work, "instance-id"),
    }),
    { mode: 0o755 },
  );
  return { work, probe };
}

interface ProbeRun {
  readonly code: number | null;
  readonly said: string;
  /** The metric of each call to `aws`, in order. */
  readonly names: string[];
  /** The DatabaseOk it published ("0", "1"). */
  readonly ok?: string;
}

/** Runs the probe once (its checks are bounded, so is the run). */
async function runProbe(work: string, probe: string): Promise<ProbeRun> {
  fs.writeFileSync(path.join(work, "calls.log"), "");
  const child = spawn(probe, [], { env: { ...process.env, PATH: `${path.join(work, "bin")}:${process.env.PATH}` } });
  let said = "";
  child.stdout.on("data", (chunk) => (said += chunk));
  child.stderr.on("data", (chunk) => (said += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const calls = fs.readFileSync(path.join(work, "calls.log"), "utf8").trim().split("\n");
  const database = calls.find((c) => c.includes("--metric-name DatabaseOk"));
  return {
    code,
    said,
    names: calls.map((c) => /--metric-name (\S+)/.exec(c)?.[1] ?? ""),
    ok: database && /--value (\d)/.exec(database)?.[1],
  };
}

describeWhenInstalled(
  "PostgreSQL",
  engineMissing("postgres"),
  "the health probe's database check, against a real PostgreSQL",
  () => {
    let db: RealDatabase;
    let work: string;
    let probe: string;

    beforeAll(async () => {
      db = await RealDatabase.start("postgres", (port) => drillDatabase("postgres", port));
      ({ work, probe } = probeFolder(db.local));
    }, 60_000);

    afterAll(async () => {
      await db?.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }, 30_000);

    test("up: 1, and the check leaves nothing in the server's log (it runs every minute)", async () => {
      const before = db.log();
      const run = await runProbe(work, probe);
      // the site's datapoint, then the database's
      expect(run.names).toEqual(["HealthCheckOk", "DatabaseOk"]);
      expect(run.ok).toBe("1");
      expect(run.said).toContain(`postgres on 127.0.0.1:${db.port}: publishing DatabaseOk=1`);
      expect(run.code).toBe(0);
      // (log() is the log's last 2,000 characters: nothing new was appended)
      expect(db.log()).toBe(before);
    }, 30_000);

    test("stopped: 0, within the check's own 5 s bound; started again: 1", async () => {
      await db.stopServer();
      const started = Date.now();
      const down = await runProbe(work, probe);
      expect(down.ok).toBe("0");
      expect(Date.now() - started).toBeLessThan(15_000);
      // the datapoints were published: the run itself succeeded
      expect(down.code).toBe(0);
      await db.startServer();
      expect((await runProbe(work, probe)).ok).toBe("1");
    }, 60_000);

    test("a datapoint that could not be published fails the run (systemctl status shows it), the other still sent", async () => {
      // given an aws that fails for one metric, each in turn (and a STAND-IN sleep: the probe's 5 s
      // before its second try, not waited out here)
      const aws = path.join(work, "bin", "aws");
      const original = fs.readFileSync(aws, "utf8");
      const sleep = path.join(work, "bin", "sleep");
      fs.writeFileSync(sleep, `#!/bin/bash\n# test stand-in: no wait\necho "$*" >> "${work}/sleeps.log"\n`, {
        mode: 0o755,
      });
      try {
        for (const [failing, names] of [
          ["HealthCheckOk", ["HealthCheckOk", "HealthCheckOk", "DatabaseOk"]],
          ["DatabaseOk", ["HealthCheckOk", "DatabaseOk", "DatabaseOk"]],
        ] as const) {
          fs.writeFileSync(aws, `${original}[[ "$*" != *${failing}* ]]\n`);
          const run = await runProbe(work, probe);
          // tried again once, the other sent all the same
          expect({ failing, names: run.names, failed: run.code !== 0 }).toEqual({ failing, names, failed: true });
        }
        // each second try came after the probe's pause
        expect(fs.readFileSync(path.join(work, "sleeps.log"), "utf8")).toBe("5\n5\n");
      } finally {
        fs.writeFileSync(aws, original);
        fs.rmSync(sleep);
      }
    }, 40_000);
  },
);

describe("the health probe's database check for MariaDB: its service's state (a STAND-IN systemctl)", () => {
  test("active: 1; not active: 0; it asks for mariadb", async () => {
    const { work, probe } = probeFolder(drillDatabase("mariadb", 3306));
    try {
      fs.writeFileSync(path.join(work, "active"), "");
      expect((await runProbe(work, probe)).ok).toBe("1");
      fs.rmSync(path.join(work, "active"));
      expect((await runProbe(work, probe)).ok).toBe("0");
      expect(fs.readFileSync(path.join(work, "systemctl.log"), "utf8").trim().split("\n")).toEqual([
        "is-active -q mariadb",
        "is-active -q mariadb",
      ]);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 30_000);
});

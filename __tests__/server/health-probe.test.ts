import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { healthProbeScript } from "../../src/userdata/health-probe";
import { tempDir, TEST_METRIC_NAMESPACES } from "../helpers";
import { describeWithNginx, get, TestBed } from "./testbed";

/**
 * The health probe of a server without a load balancer, run for real: the script the boot script
 * writes, against real nginx over real app processes on 127.0.0.1 (the test bed), with a STAND-IN
 * `aws` CLI first on PATH that records what would be published (there is no CloudWatch here).
 * The alarm that reads the metric is tested on the JSON (__tests__/stacks/monitoring.test.ts).
 */

const INSTANCE_ID = "i-0123456789abcdef0";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithNginx("the health probe, through real nginx", () => {
  let bed: TestBed;
  let work: string;
  let probe: string;
  const standIns: http.Server[] = [];

  beforeAll(async () => {
    bed = await TestBed.serving(2);
    work = tempDir("health-probe-");
    fs.writeFileSync(path.join(work, "instance-id"), `${INSTANCE_ID}\n`);
    fs.mkdirSync(path.join(work, "bin"));
    // test stand-in for the AWS CLI: appends its arguments to calls.log
    fs.writeFileSync(
      path.join(work, "bin", "aws"),
      `#!/bin/bash\n# test stand-in for the AWS CLI (no CloudWatch here)\necho "$*" >> "${work}/calls.log"\n`,
      { mode: 0o755 },
    );
    probe = path.join(work, "health-probe");
    fs.writeFileSync(
      probe,
      healthProbeScript({
        host: bed.host,
        region: "ap-northeast-2",
        namespace: TEST_METRIC_NAMESPACES.health,
        instanceIdFile: path.join(work, "instance-id"),
      }),
      { mode: 0o755 },
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(standIns.map((server) => new Promise((resolve) => server.close(resolve))));
    await bed?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }, 30_000);

  /** Runs the probe once (bounded), and returns what it said and the one call it made to `aws`. */
  async function runProbe(): Promise<{ code: number | null; said: string; published: string }> {
    fs.rmSync(path.join(work, "calls.log"), { force: true });
    const child = spawn(probe, [], { env: { ...process.env, PATH: `${path.join(work, "bin")}:${process.env.PATH}` } });
    let said = "";
    child.stdout.on("data", (chunk) => (said += chunk));
    child.stderr.on("data", (chunk) => (said += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const calls = fs.readFileSync(path.join(work, "calls.log"), "utf8").trim().split("\n");
    expect(calls).toHaveLength(1);
    return { code, said, published: calls[0] };
  }

  const valueOf = (published: string) => /--value (\d)/.exec(published)?.[1];

  test("publishes 1 for this instance while nginx answers the health check", async () => {
    const run = await runProbe();
    expect(run.code).toBe(0);
    expect(run.said).toContain("HTTP 200");
    expect(run.published).toBe(
      `cloudwatch put-metric-data --region ap-northeast-2 --namespace shop/dev/AppHealth --metric-name HealthCheckOk --dimensions InstanceId=${INSTANCE_ID} --value 1 --unit Count`,
    );
  });

  test("one app process down: still 1, nginx answers from the other", async () => {
    await bed.unit(bed.host.appPorts[0]).stop();
    expect(valueOf((await runProbe()).published)).toBe("1");
  });

  test("every app process down: 0 (nginx answers 502)", async () => {
    await bed.unit(bed.host.appPorts[1]).stop();
    const run = await runProbe();
    expect(run.said).toMatch(/HTTP 50[23]/);
    expect(valueOf(run.published)).toBe("0");
  });

  test("the app's own health check failing: 0 (the app answers 500 through nginx)", async () => {
    // given stand-ins for the app processes whose /healthz answers 500
    for (const port of bed.host.appPorts) {
      const server = http.createServer((_req, res) => res.writeHead(500).end('{"status":"failing"}\n'));
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      standIns.push(server);
    }
    // nginx passes their 500 on (it tries stopped processes at once, as backups): bounded wait
    const deadline = Date.now() + (bed.host.passiveHealthCheck.failTimeoutSeconds + 3) * 1000;
    while ((await get(bed.nginxPort, "/healthz")).status !== 500 && Date.now() < deadline) await sleep(100);
    const run = await runProbe();
    expect(run.said).toContain("HTTP 500");
    expect(valueOf(run.published)).toBe("0");
  }, 15_000);

  test("nginx down: 0 (no connection), and the probe still publishes", async () => {
    const pid = Number(fs.readFileSync(bed.host.paths.nginxPidFile, "utf8"));
    process.kill(pid, "SIGQUIT");
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await listening(bed.nginxPort))) await sleep(50);
    expect(await listening(bed.nginxPort)).toBe(false);
    const run = await runProbe();
    expect(run.said).toContain("HTTP 000");
    expect(valueOf(run.published)).toBe("0");
  }, 15_000);
});

/** Whether something accepts TCP connections on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

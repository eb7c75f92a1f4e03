import * as fs from "node:fs";
import * as path from "node:path";
import { get, nginxMissing, steadyLoad, TestBed } from "./testbed";

/**
 * How the deploy script gets a release it does not have: from the artifacts bucket, where every
 * release is an object version of one key, named by its `app-version` metadata. The AWS CLI is a
 * stand-in the test bed writes (there is no AWS here); nginx and the app processes are real.
 */

const missing = nginxMissing();
if (missing) console.log(`release download tests skipped: ${missing}`);
const describeWithNginx = missing ? describe.skip : describe;

describeWithNginx("downloading releases from the artifacts bucket", () => {
  let bed: TestBed;
  const releases = () => fs.readdirSync(path.join(bed.host.paths.appRoot, "releases"));

  beforeAll(async () => {
    bed = await TestBed.create(2, { bucket: true });
    await bed.start();
  }, 30_000);
  afterAll(async () => {
    await bed?.stop();
  }, 30_000);

  test("an earlier release is found among the key's versions by its app-version, downloaded with its checksum checked", async () => {
    const older = bed.publishRelease("1.4.0");
    bed.publishRelease("1.5.0"); // the newest version of the key is another release
    const run = await bed.deploy("1.4.0");
    expect(run.output).toContain("done: 2 processes run 1.4.0");
    expect(run.code).toBe(0);
    const download = bed.awsCalls().find((call) => call.includes("s3api get-object"));
    expect(download).toContain(`--version-id ${older}`);
    expect(download).toContain("--checksum-mode ENABLED");
    expect(download).toContain("--key app/release.tar.gz");
    for (const port of bed.host.appPorts) expect(JSON.parse((await get(port, "/healthz")).body).version).toBe("1.4.0");
  }, 30_000);

  test("a failed download changes nothing and leaves nothing half-unpacked; the next deploy downloads again", async () => {
    const calls = bed.awsCalls().length;
    const failed = await bed.deploy("1.5.0", { STUB_AWS_FAIL_GET: "1", APP_RETRY_SECONDS: "0" });
    expect(failed.code).toBe(1);
    expect(failed.output).toContain("release 1.5.0 unavailable; nothing changed");
    expect(releases()).toEqual(["1.4.0"]); // no 1.5.0, no .fetch.* leftovers
    const downloads = bed
      .awsCalls()
      .slice(calls)
      .filter((call) => call.includes("get-object"));
    expect(downloads).toHaveLength(5); // retried, bounded
    for (const port of bed.host.appPorts) expect(JSON.parse((await get(port, "/healthz")).body).version).toBe("1.4.0");

    const load = steadyLoad(bed.nginxPort, { withPosts: true });
    const run = await bed.deploy("1.5.0");
    const seen = await load.stop();
    expect(run.code).toBe(0);
    expect(seen.failures).toEqual([]);
    expect(releases().sort()).toEqual(["1.4.0", "1.5.0"]);
  }, 60_000);

  test("a version that was never uploaded fails before touching any process, naming the key it searched", async () => {
    const run = await bed.deploy("9.9.9");
    expect(run.code).toBe(1);
    expect(run.output).toContain(
      "release 9.9.9 is not among the versions of s3://testbed-artifacts/app/release.tar.gz",
    );
    for (const port of bed.host.appPorts) expect(JSON.parse((await get(port, "/healthz")).body).version).toBe("1.5.0");
  }, 30_000);
});

import { parseEnvironment } from "../../src/config/load";
import { SERVER_PATHS } from "../../src/userdata/app-host";
import { FIRST_BOOT_SECONDS, setUpMarker } from "../../src/userdata/boot-script";
import { osUpdateScript } from "../../src/userdata/os-update-script";
import { environmentStack } from "../environment-stack";
import { bootScriptOf, environmentFile, ref, writtenFile, type Synthesized } from "../helpers";

/** A fixed server's OS updated in place to `app.osRelease` (docs/operations.md#os-updates); the script itself: os-update-script.test.ts. */

const RELEASE = "2023.9.20251117";
const network = {
  cidr: "10.50.0.0/16",
  availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
  natGateways: "none",
};

function fixedServer(layout: string, osRelease?: string): Synthesized {
  return environmentStack("test", {
    layout,
    network,
    app: { instanceType: "t3.small", version: "1.0.0", ...(osRelease && { osRelease }) },
  });
}

const documentNamed = (json: Synthesized, name: string) =>
  json.resources("aws_ssm_document").find((d) => d.values.name === name)!;
const associationOf = (json: Synthesized, document: ReturnType<typeof documentNamed>) =>
  json.resources("aws_ssm_association").find((a) => a.values.name === ref(document, "aws_ssm_document", "name"))!;

describe.each(["single-server", "app-db-split"])("%s with app.osRelease", (layout) => {
  const json = fixedServer(layout, RELEASE);
  const document = documentNamed(json, "shop-test-app-os");
  const association = associationOf(json, document);
  const content = JSON.parse(document.values.content);

  test("an SSM command updates the server's packages to the release, and the apply waits for it", () => {
    expect(document.values.document_type).toBe("Command");
    const lines: string[] = content.mainSteps[0].inputs.runCommand;
    expect(lines[0]).toBe("#!/bin/bash");
    expect(lines).toContain(`release=${RELEASE}`);
    expect(lines).toContainEqual(expect.stringContaining('dnf -y upgrade --releasever="$release"'));
    // each phase bounded on its own (review CF: dnf could otherwise take first boot's allowance)
    expect(lines).toContainEqual(
      expect.stringMatching(/^timeout --foreground --kill-after=30 \d+ cloud-init status --wait/),
    );
    expect(lines).toContainEqual(expect.stringContaining("timeout --kill-after=30 1800 dnf -y upgrade"));
    const instance = json.resources("aws_instance")[0];
    expect(association.values.targets).toEqual([{ key: "InstanceIds", values: [ref(instance, "aws_instance")] }]);
    // first boot with its first install (a replaced server runs this at once), the deploy lock
    // (5 min), dnf (30 min), 30 s for each of the two to end, a minute besides; then a reboot and the second run
    // (10 min), the agent's pick-up (5 min)
    const boot = Number(
      /^timeout --foreground --kill-after=30 (\d+) cloud-init status --wait/m.exec(lines.join("\n"))![1],
    );
    expect(boot).toBeGreaterThan(FIRST_BOOT_SECONDS);
    const step = Number(content.mainSteps[0].inputs.timeoutSeconds);
    expect(step).toBe(boot + 300 + 1800 + 2 * 30 + 60);
    expect(association.values.wait_for_success_timeout_seconds).toBe(step + 600 + 300);
    expect(association.values.max_errors).toBe("0");
  });

  test("the server gets the script as written: Terraform's template sequences (${, %{) are escaped in the document (review CC)", () => {
    const lines: string[] = content.mainSteps[0].inputs.runCommand;
    // what Terraform makes of each line: $${ and %%{ are a literal ${ and %{; a lone one would be a template
    expect(lines.filter((line) => /[$%]\{/.test(line.replaceAll("$${", "").replaceAll("%%{", "")))).toEqual([]);
    const unescaped = lines.map((line) => line.replaceAll("$${", "${").replaceAll("%%{", "%{"));
    const boot = Number(
      /^timeout --foreground --kill-after=30 (\d+) cloud-init status --wait/m.exec(unescaped.join("\n"))![1],
    );
    expect(unescaped).toEqual(
      osUpdateScript(RELEASE, {
        deployLock: "/opt/app/deploy.lock",
        bootSeconds: boot,
        setUpMarker: setUpMarker(SERVER_PATHS),
      }),
    );
    expect(unescaped).toContainEqual(expect.stringContaining("rpm -q --qf '%{VERSION}' system-release"));
  });

  test("a new release is a new run, and so is a new server: either replaces the association, a create the apply waits for (review CE)", () => {
    const instance = json.resources("aws_instance")[0];
    // the instance's id, which only a replacement changes (review CF: the whole resource would
    // replace the association on any update of it, a tag or the instance type)
    expect(association.values.lifecycle.replace_triggered_by).toEqual([
      `aws_ssm_document.${document.name}`,
      `aws_instance.${instance.name}.id`,
    ]);
    expect(association.values.parameters).toBeUndefined();
    const later = documentNamed(fixedServer(layout, "2023.10.20260115"), "shop-test-app-os");
    expect(later.values.content).not.toBe(document.values.content);
    expect(JSON.parse(later.values.content).mainSteps[0].inputs.runCommand).toContain("release=2023.10.20260115");
  });

  test("it runs after the deploy of the same apply, under the deploy script's own lock", () => {
    const deploy = associationOf(json, documentNamed(json, "shop-test-deploy"));
    expect(association.values.depends_on).toEqual([`aws_ssm_association.${deploy.name}`]);
    const deployScript = writtenFile(bootScriptOf(json), "/opt/app/bin/deploy");
    expect(deployScript).toContain('exec 9>"$APP_ROOT/deploy.lock"');
    expect(deployScript).toContain("APP_ROOT=/opt/app");
    expect(content.mainSteps[0].inputs.runCommand).toContainEqual(
      expect.stringMatching(/^exec 9>>\/opt\/app\/deploy\.lock \|\| /),
    );
  });
});

describe("without app.osRelease, or on a fleet", () => {
  test("a fixed server without it keeps its AMI's packages: no update command", () => {
    for (const layout of ["single-server", "app-db-split"]) {
      const json = fixedServer(layout);
      expect(json.resources("aws_ssm_document").map((d) => d.values.name)).toEqual(["shop-test-deploy"]);
    }
  });

  test("load-balanced refuses it: its servers are replaced from the AMI, never updated in place", () => {
    expect(
      parseEnvironment(
        "dev",
        environmentFile({ app: { instanceType: "t3.small", version: "1.0.0", osRelease: RELEASE } }),
      ).problems,
    ).toEqual([
      "app.osRelease does not apply to layout load-balanced, whose servers are replaced, not updated in place: each launches the AMI (the newest Amazon Linux 2023 with amiUpdates: latest, or the one pinned until npm run bump-ami): remove it",
    ]);
  });

  test.each(["latest", "2023", "2023.9", "2023.9.2025111", "2024.1.20250101", "2023.9.20251117; reboot"])(
    "a release that is not 2023.<n>.<date> is refused, naming the field and an example: %s",
    (osRelease) => {
      const file = environmentFile({
        layout: "single-server",
        app: { instanceType: "t3.small", version: "1.0.0", osRelease },
      });
      expect(parseEnvironment("dev", file).problems).toEqual([
        `app.osRelease must be an Amazon Linux 2023 release version such as 2023.9.20251117 (the release notes list them; dnf check-release-update on the server names the newest) (got "${osRelease}")`,
      ]);
      // and the script refuses it on its own, should another caller pass one
      expect(() =>
        osUpdateScript(osRelease, { deployLock: "/opt/app/deploy.lock", bootSeconds: 1, setUpMarker: "/x" }),
      ).toThrow(/not an Amazon Linux 2023 release/);
    },
  );
});

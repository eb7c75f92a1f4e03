import { Testing } from "cdktf";
import { AppFleet, type AppFleetProps } from "../../src/constructs/app-fleet";
import { Naming } from "../../src/naming";
import { MAX_LAUNCH_HOOK_SECONDS } from "../../src/userdata/launch-hook";

/** A fleet alone, synthesized, with `overrides`. */
function fleetJson(overrides: Partial<AppFleetProps> = {}) {
  return JSON.parse(
    Testing.synthScope(
      (scope) =>
        new AppFleet(scope, "AppFleet", {
          naming: new Naming("shop", "test"),
          tags: { Project: "shop" },
          subnetIds: ["subnet-a", "subnet-c"],
          instanceType: "t3.micro",
          imageId: "ami-0123456789abcdef0",
          securityGroupId: "sg-1",
          instanceProfileName: "profile",
          userData: "IyEvYmluL2Jhc2gK",
          bootTimeoutSeconds: 600,
          count: { min: 2, desired: 2, max: 4 },
          targetGroupArns: ["arn:aws:elasticloadbalancing:ap-northeast-2:111122223333:targetgroup/t/1"],
          detailedMonitoring: true,
          targetCpuPercent: 60,
          rootVolumeGb: 20,
          ...overrides,
        }),
    ),
  );
}

describe("AppFleet: a boot timeout the launch hook can wait", () => {
  test.each([29, 600.5, MAX_LAUNCH_HOOK_SECONDS + 1])("%s seconds is refused as the fleet is built", (seconds) => {
    expect(() => fleetJson({ bootTimeoutSeconds: seconds })).toThrow(
      `AppFleet: bootTimeoutSeconds must be whole seconds from 30 to ${MAX_LAUNCH_HOOK_SECONDS}, what a launch hook may wait (got ${seconds})`,
    );
  });

  test("the bounds themselves are taken, and the launch hook waits that long", () => {
    for (const seconds of [30, MAX_LAUNCH_HOOK_SECONDS]) {
      const group = Object.values(fleetJson({ bootTimeoutSeconds: seconds }).resource.aws_autoscaling_group)[0] as any;
      expect(group.initial_lifecycle_hook).toEqual([expect.objectContaining({ heartbeat_timeout: seconds })]);
    }
  });
});

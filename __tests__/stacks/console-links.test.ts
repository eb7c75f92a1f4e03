import { consoleUrl, ec2InstancesUrl, rdsInstanceUrl } from "../../src/stacks/console-links";
import { appDbSplit, loadBalanced, singleServer } from "../ops/stacks";
import type { Synthesized } from "../helpers";

// The outputs `cdktf deploy` prints after every deploy: the region, and console links that open
// in that region (host and ?region= both), so nobody looks for Seoul's servers in Osaka's console.

const outputs = (stack: Synthesized) => stack.doc.output as Record<string, { value: string; description?: string }>;

describe("region and console links", () => {
  const layouts = [
    ["single-server", singleServer()],
    ["app-db-split", appDbSplit()],
    ["load-balanced", loadBalanced()],
  ] as const;

  test.each(layouts)("%s: outputs its region, named with its city", (_layout, stack) => {
    expect(outputs(stack).region).toEqual({
      value: "ap-northeast-2",
      description: "Where this environment runs (ap-northeast-2 Seoul): pick this region in the console",
    });
  });

  test.each(layouts)(
    "%s: the EC2 link opens the region's console filtered to the app servers' Name tag",
    (_layout, stack) => {
      const url = outputs(stack).console_instances_url.value;
      expect(url).toBe(
        "https://ap-northeast-2.console.aws.amazon.com/ec2/home?region=ap-northeast-2#Instances:tag:Name=shop-" +
          `${stack === layouts[0][1] ? "dev" : stack === layouts[1][1] ? "dr" : "prod"}-app`,
      );
      // The servers really carry that Name: the single server's own tags, or the fleet's launch template.
      const name = decodeURIComponent(url.split("tag:Name=")[1]);
      const tagged = [
        ...stack.resources("aws_instance").map((r) => r.values.tags?.Name),
        ...stack
          .resources("aws_launch_template")
          .flatMap((r) => r.values.tag_specifications.filter((t: any) => t.resource_type === "instance"))
          .map((t: any) => t.tags.Name),
      ];
      expect(tagged).toEqual([name]);
    },
  );

  test("the database link exists where RDS does, and names the DB instance's identifier", () => {
    expect(outputs(layouts[0][1]).console_database_url).toBeUndefined(); // the database is on the server
    for (const stack of [layouts[1][1], layouts[2][1]]) {
      const db = stack.resources("aws_db_instance")[0];
      // Terraform fills in the identifier (a literal such as shop-prod-db, known at plan time).
      expect(outputs(stack).console_database_url.value).toBe(
        "https://ap-northeast-2.console.aws.amazon.com/rds/home?region=ap-northeast-2" +
          `#database:id=\${aws_db_instance.${db.name}.identifier};is-cluster=false`,
      );
      expect(db.values.identifier).toMatch(/^shop-(dr|prod)-db$/);
    }
  });

  test("the dashboard link, like the others, names the region in the host and in ?region=", () => {
    for (const [, stack] of layouts) {
      expect(outputs(stack).dashboard_url.value).toMatch(
        /^https:\/\/ap-northeast-2\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=ap-northeast-2#dashboards\//,
      );
    }
  });

  test("links built for Osaka open Osaka, never the home region", () => {
    expect(ec2InstancesUrl("ap-northeast-3", "shop-dr-app")).toBe(
      "https://ap-northeast-3.console.aws.amazon.com/ec2/home?region=ap-northeast-3#Instances:tag:Name=shop-dr-app",
    );
    expect(rdsInstanceUrl("ap-northeast-3", "shop-dr-db")).toContain(
      "ap-northeast-3.console.aws.amazon.com/rds/home?region=ap-northeast-3#",
    );
    expect(consoleUrl("eu-west-1", "s3", "x")).toBe(
      "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1#x",
    );
  });
});

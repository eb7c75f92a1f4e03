import { Naming } from "../src/naming";

describe("physical names", () => {
  const naming = new Naming("shop", "prod");

  test("follow <project>-<env>-<tier>[-<az letter>]", () => {
    expect(naming.name("vpc")).toBe("shop-prod-vpc");
    expect(naming.name("public", "ap-northeast-2a")).toBe("shop-prod-public-a");
    expect(naming.tags("app", "ap-northeast-2c")).toEqual({ Name: "shop-prod-app-c" });
  });

  test("shared tags name the project, the environment and the tool, and cannot be overridden", () => {
    expect(naming.defaultTags({ CostCenter: "x", Project: "spoofed" })).toEqual({
      CostCenter: "x",
      Project: "shop",
      Environment: "prod",
      ManagedBy: "cdktf",
    });
  });

  test("the longest allowed project and environment still fit an ALB name", () => {
    expect(new Naming("a".repeat(12), "b".repeat(12)).loadBalancerName("alb")).toHaveLength(29);
  });

  test("a name past an AWS limit throws, naming the limit", () => {
    expect(() => new Naming("a".repeat(12), "b".repeat(12)).loadBalancerName("application")).toThrow(
      /load balancer \/ target group name "a{12}-b{12}-application" is 37 characters; AWS allows at most 32/,
    );
    expect(() => new Naming("shop", "prod").iamRolePrefix("x".repeat(30))).toThrow(/IAM role name prefix/);
  });

  test("an IAM role name prefix fits the 38 characters Terraform's name_prefix takes (it adds 26), and no more", () => {
    const longest = new Naming("a".repeat(12), "b".repeat(12));
    expect(longest.iamRolePrefix("x".repeat(11))).toHaveLength(38);
    expect(() => longest.iamRolePrefix("x".repeat(12))).toThrow(
      /IAM role name prefix "a{12}-b{12}-x{12}-" is 39 characters; AWS allows at most 38/,
    );
  });

  test("a bucket name prefix fits the 37 characters Terraform's bucket_prefix takes: the longest project and environment with the longest tier the stacks use, and no more", () => {
    const longest = new Naming("a".repeat(12), "b".repeat(12));
    expect(longest.bucketPrefix("db-backups")).toBe(`${"a".repeat(12)}-${"b".repeat(12)}-db-backups-`);
    expect(longest.bucketPrefix("db-backups")).toHaveLength(37);
    expect(() => longest.bucketPrefix("db-backups2")).toThrow(
      /S3 bucket name prefix "a{12}-b{12}-db-backups2-" is 38 characters; AWS allows at most 37/,
    );
  });

  test("RDS identifiers are lowercase with single hyphens", () => {
    expect(new Naming("shop", "prod").rdsIdentifier("db")).toBe("shop-prod-db");
    expect(() => new Naming("shop", "prod").rdsIdentifier("-db")).toThrow(/single hyphens/);
  });
});

import { cidrContains, cidrsOverlap, SUBNET_TIERS, subnetCidr, vpcCidrProblem } from "../src/cidr";

describe("the CIDR plan", () => {
  const vpc = "10.30.0.0/16";
  const azs = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c", "ap-northeast-2d"];

  test("a /16 gives /21 subnets, three tiers in separate quarters", () => {
    expect(subnetCidr(vpc, "public", "ap-northeast-2a")).toBe("10.30.0.0/21");
    expect(subnetCidr(vpc, "app", "ap-northeast-2a")).toBe("10.30.64.0/21");
    expect(subnetCidr(vpc, "data", "ap-northeast-2a")).toBe("10.30.128.0/21");
    expect(subnetCidr(vpc, "data", "ap-northeast-2c")).toBe("10.30.144.0/21");
  });

  test("every subnet of every tier and AZ lies inside the VPC and overlaps no other", () => {
    const all = SUBNET_TIERS.flatMap((tier) => azs.map((az) => subnetCidr(vpc, tier, az)));
    expect(all.every((c) => cidrContains(vpc, c))).toBe(true);
    all.forEach((a, i) => all.slice(i + 1).forEach((b) => expect([a, b, cidrsOverlap(a, b)]).toEqual([a, b, false])));
  });

  test("a subnet's slot is its AZ letter: f is the sixth slot of its tier", () => {
    expect(subnetCidr(vpc, "app", "us-east-1f")).toBe("10.30.104.0/21");
  });

  test("the smallest VPC allowed still leaves /27 subnets, the smallest an ALB accepts", () => {
    expect(subnetCidr("10.0.0.0/22", "public", "ap-northeast-2a")).toBe("10.0.0.0/27");
  });

  test.each([
    ["10.0.0.0/16", undefined],
    ["172.16.0.0/20", undefined],
    ["192.168.0.0/22", undefined],
    ["10.0.0.0/23", /must be a \/16 to \/22 block/],
    ["10.0.0.0/15", /must be a \/16 to \/22 block/],
    ["10.0.1.0/16", /did you mean 10\.0\.0\.0\/16\?/],
    ["100.64.0.0/16", /private range/],
    ["10.0.0.256/16", /must be an IPv4 CIDR block/],
    ["10.0.0.0", /must be an IPv4 CIDR block/],
  ])("%s as a VPC block: %p", (cidr, problem) => {
    const found = vpcCidrProblem(cidr);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  test("overlap is detected for nested blocks and not for neighbours", () => {
    expect(cidrsOverlap("10.0.0.0/16", "10.0.128.0/17")).toBe(true);
    expect(cidrsOverlap("10.0.128.0/17", "10.0.0.0/16")).toBe(true);
    expect(cidrsOverlap("10.0.0.0/17", "10.0.128.0/17")).toBe(false);
  });
});

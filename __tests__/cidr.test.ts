import {
  cidrContains,
  cidrPrefix,
  cidrsOverlap,
  isIPv4Address,
  isIPv4Cidr,
  isNetworkCidr,
  networkAddress,
  SUBNET_TIERS,
  subnetCidr,
  vpcCidrProblem,
} from "../src/cidr";

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
    ["172.32.0.0/16", /private range/], // just past 172.16.0.0/12: public space
    ["172.31.0.0/16", undefined], // its last /16
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

describe("addresses and blocks as the configuration rules read them", () => {
  test.each([
    ["10.0.0.1", true],
    ["255.255.255.255", true],
    ["0.0.0.0", true],
    ["010.0.0.1", false], // a leading zero: octal to some tools, decimal to others
    ["10.0.0.01", false],
    ["10.1", false], // inet_aton's short forms
    ["0x0a.0.0.1", false],
    ["10.0.0.256", false],
    ["1.2.3.4.5", false],
    [" 10.0.0.1", false],
    ["10.0.0.1/32", false],
    ["::1", false],
  ])("%j is an IPv4 address: %s", (text, expected) => {
    expect(isIPv4Address(text)).toBe(expected);
  });

  test.each([
    ["10.0.0.0/16", true, true],
    ["10.0.1.0/16", true, false], // a CIDR, not at its network address
    ["0.0.0.0/0", true, true],
    ["203.0.113.7/32", true, true],
    ["10.0.0.0/33", false, false],
    ["10.0.0.0/", false, false],
    ["10.0.0.0/+16", false, false],
    ["10.0.0.0/16 ", false, false],
    ["010.0.0.0/16", false, false],
    ["10.0.0.0/16/1", false, false],
    ["10.0.0.0", false, false],
  ])("%j is a CIDR: %s; at its network address: %s", (text, cidr, network) => {
    expect(isIPv4Cidr(text)).toBe(cidr);
    expect(isNetworkCidr(text)).toBe(network);
  });

  test("a block's network address and prefix, and containment at the edges of the address space", () => {
    expect(networkAddress("203.0.113.77/26")).toBe("203.0.113.64");
    expect(networkAddress("255.255.255.255/1")).toBe("128.0.0.0");
    expect(cidrPrefix("10.20.0.0/22")).toBe(22);
    expect(cidrPrefix("0.0.0.0/0")).toBe(0);
    expect(cidrContains("0.0.0.0/0", "255.255.255.255/32")).toBe(true);
    expect(cidrContains("128.0.0.0/1", "127.255.255.255/32")).toBe(false);
    expect(cidrContains("203.0.113.0/24", "203.0.113.128/25")).toBe(true);
    expect(cidrContains("203.0.113.128/25", "203.0.113.0/24")).toBe(false);
  });

  test("the last subnets of a VPC at the top of the private ranges are printed right (no sign bit)", () => {
    // above 128.0.0.0 an address's first octet has the top bit of a 32-bit integer set
    expect(subnetCidr("192.168.252.0/22", "data", "ap-northeast-2h")).toBe("192.168.254.224/27");
    expect(subnetCidr("172.31.0.0/16", "data", "ap-northeast-2h")).toBe("172.31.184.0/21");
  });
});

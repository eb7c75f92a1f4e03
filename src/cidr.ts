import { IPv4CidrRange, IPv4Prefix, Validator } from "ip-num";
import { azSuffix } from "./config/regions";

/**
 * The one CIDR helper: how a VPC block is carved into subnets, and the checks on it.
 *
 * The VPC is split into four equal tier blocks (public, app, data, and one kept spare), and each
 * tier block into eight AZ slots. A subnet's slot is chosen by its AZ *letter* (a = 0, b = 1, ...),
 * not by its position in the AZ list, so adding or dropping an AZ never re-addresses the others.
 * A /16 VPC therefore gets /21 subnets (2,043 usable addresses each).
 */
export const SUBNET_TIERS = ["public", "app", "data"] as const;
export type SubnetTier = (typeof SUBNET_TIERS)[number];

const TIER_BITS = 2n; // 4 tier blocks: public, app, data, spare
const AZ_BITS = 3n; // 8 AZ slots per tier: letters a to h

/** Allowed VPC prefix lengths: /22 still leaves /27 subnets, the smallest an ALB accepts. */
export const VPC_PREFIX = { min: 16, max: 22 } as const;

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) => IPv4CidrRange.fromCidr(c));

/** Why `cidr` cannot be a VPC block, or `undefined` when it can. */
export function vpcCidrProblem(cidr: string): string | undefined {
  if (!Validator.isValidIPv4CidrNotation(cidr)[0]) {
    return `must be an IPv4 CIDR block such as 10.20.0.0/16 (got "${cidr}")`;
  }
  const prefix = Number(cidr.split("/")[1]);
  if (prefix < VPC_PREFIX.min || prefix > VPC_PREFIX.max) {
    return `must be a /${VPC_PREFIX.min} to /${VPC_PREFIX.max} block, to leave room for 3 tiers x up to 8 AZs (got /${prefix})`;
  }
  if (!Validator.isValidIPv4CidrRange(cidr)[0]) {
    const network = `${IPv4CidrRange.fromCidr(cidr).getFirst().toString()}/${prefix}`;
    return `must start at its network address: did you mean ${network}? (got "${cidr}")`;
  }
  const range = IPv4CidrRange.fromCidr(cidr);
  if (!PRIVATE_RANGES.some((p) => p.contains(range))) {
    return `must lie inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) (got "${cidr}")`;
  }
  return undefined;
}

/** The CIDR of one tier's subnet in one AZ. `vpcCidr` must pass `vpcCidrProblem`. */
export function subnetCidr(vpcCidr: string, tier: SubnetTier, availabilityZone: string): string {
  const slot = azSuffix(availabilityZone).charCodeAt(0) - "a".charCodeAt(0);
  if (slot >= 2 ** Number(AZ_BITS)) {
    throw new Error(
      `subnetCidr: AZ "${availabilityZone}" is past the ${2 ** Number(AZ_BITS)} AZ slots of the CIDR plan`,
    );
  }
  const vpc = IPv4CidrRange.fromCidr(vpcCidr);
  const tierBlocks = vpc.splitInto(IPv4Prefix.fromNumber(vpc.getPrefix().getValue() + TIER_BITS));
  const tierBlock = tierBlocks[SUBNET_TIERS.indexOf(tier)];
  const slots = tierBlock.splitInto(IPv4Prefix.fromNumber(tierBlock.getPrefix().getValue() + AZ_BITS));
  return slots[slot].toCidrString();
}

/** True when the two blocks share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const ra = IPv4CidrRange.fromCidr(a);
  const rb = IPv4CidrRange.fromCidr(b);
  return ra.contains(rb) || rb.contains(ra);
}

/** Whether `inner` lies entirely inside `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  return IPv4CidrRange.fromCidr(outer).contains(IPv4CidrRange.fromCidr(inner));
}

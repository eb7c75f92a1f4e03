import { IPv4, IPv4CidrRange, Validator } from "ip-num";
import { azSuffix } from "./config/regions";

/**
 * The one CIDR helper: how a VPC block is carved into subnets, and the checks on it.
 *
 * The VPC is split into four equal tier blocks (public, app, data, and one kept spare), and each
 * tier block into eight AZ slots. A subnet's slot is chosen by its AZ *letter* (a = 0, b = 1, ...),
 * not by its position in the AZ list, so adding or dropping an AZ never re-addresses the others.
 * A /16 VPC therefore gets /21 subnets (2,043 usable addresses each).
 *
 * ip-num parses, validates and prints the blocks; the arithmetic on them is done on each block's
 * first and last address, as numbers: ip-num's own `splitInto` and `contains` work on strings of
 * bits and took about 1.7 ms and 0.9 ms a call, a large part of synthesizing an environment.
 */
export const SUBNET_TIERS = ["public", "app", "data"] as const;
export type SubnetTier = (typeof SUBNET_TIERS)[number];

const TIER_BITS = 2n; // 4 tier blocks: public, app, data, spare
const AZ_BITS = 3n; // 8 AZ slots per tier: letters a to h

/** Allowed VPC prefix lengths: /22 still leaves /27 subnets, the smallest an ALB accepts. */
export const VPC_PREFIX = { min: 16, max: 22 } as const;

/** A CIDR block's prefix length and its first and last address, as numbers. */
interface Block {
  readonly prefix: number;
  readonly first: bigint;
  readonly last: bigint;
}

const blocks = new Map<string, Block>();

/** The block of a valid CIDR string, parsed once. */
function block(cidr: string): Block {
  let parsed = blocks.get(cidr);
  if (!parsed) {
    const range = IPv4CidrRange.fromCidr(cidr);
    parsed = {
      prefix: Number(range.getPrefix().getValue()),
      first: range.getFirst().getValue(),
      last: range.getLast().getValue(),
    };
    blocks.set(cidr, parsed);
  }
  return parsed;
}

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

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
  if (!PRIVATE_RANGES.some((range) => cidrContains(range, cidr))) {
    return `must lie inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) (got "${cidr}")`;
  }
  return undefined;
}

/**
 * The addresses one tier's subnet of `vpcCidr` gives its instances: the subnet's size less the 5
 * addresses AWS keeps in every subnet (network, router, DNS, a spare, broadcast), and its prefix.
 */
export function subnetUsableAddresses(vpcCidr: string): { readonly prefix: number; readonly usable: number } {
  const prefix = block(vpcCidr).prefix + Number(TIER_BITS + AZ_BITS);
  return { prefix, usable: 2 ** (32 - prefix) - 5 };
}

/** The CIDR of one tier's subnet in one AZ. `vpcCidr` must pass `vpcCidrProblem`. */
export function subnetCidr(vpcCidr: string, tier: SubnetTier, availabilityZone: string): string {
  const slot = azSuffix(availabilityZone).charCodeAt(0) - "a".charCodeAt(0);
  if (slot >= 2 ** Number(AZ_BITS)) {
    throw new Error(
      `subnetCidr: AZ "${availabilityZone}" is past the ${2 ** Number(AZ_BITS)} AZ slots of the CIDR plan`,
    );
  }
  // The VPC split in 2^TIER_BITS equal tier blocks, each split in 2^AZ_BITS equal AZ slots.
  const vpc = block(vpcCidr);
  const prefix = vpc.prefix + Number(TIER_BITS + AZ_BITS);
  const tierSize = 1n << BigInt(32 - vpc.prefix - Number(TIER_BITS));
  const slotSize = 1n << BigInt(32 - prefix);
  const first = vpc.first + BigInt(SUBNET_TIERS.indexOf(tier)) * tierSize + BigInt(slot) * slotSize;
  return `${IPv4.fromNumber(first).toString()}/${prefix}`;
}

/** True when the two blocks share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const [ra, rb] = [block(a), block(b)];
  return ra.first <= rb.last && rb.first <= ra.last;
}

/** Whether `inner` lies entirely inside `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  const [o, i] = [block(outer), block(inner)];
  return o.first <= i.first && i.last <= o.last;
}

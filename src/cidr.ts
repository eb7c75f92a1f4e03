import { IPv4 } from "ipaddr.js";
import { azSuffix } from "./config/regions";

/**
 * The one CIDR helper: how a VPC block is carved into subnets, and the checks on addresses and
 * blocks that the configuration rules make.
 *
 * The VPC is split into four equal tier blocks (public, app, data, and one kept spare), and each
 * tier block into eight AZ slots. A subnet's slot is chosen by its AZ *letter* (a = 0, b = 1, ...),
 * not by its position in the AZ list, so adding or dropping an AZ never re-addresses the others.
 * A /16 VPC therefore gets /21 subnets (2,043 usable addresses each).
 *
 * ipaddr.js parses, validates and prints addresses (four-part decimal only: no `010.0.0.1`, no
 * `10.1`); the arithmetic on blocks is done on each block's first and last address, as numbers.
 * It replaced ip-num, which built its IPv6 constants with regular expressions as it loaded: 8-16 ms
 * of every synth's start, and of every test process's, for IPv6 this project never uses.
 */
export const SUBNET_TIERS = ["public", "app", "data"] as const;
export type SubnetTier = (typeof SUBNET_TIERS)[number];

const TIER_BITS = 2; // 4 tier blocks: public, app, data, spare
const AZ_BITS = 3; // 8 AZ slots per tier: letters a to h

/** Allowed VPC prefix lengths: /22 still leaves /27 subnets, the smallest an ALB accepts. */
export const VPC_PREFIX = { min: 16, max: 22 } as const;

/** A CIDR block's prefix length and its first and last address, as numbers. */
interface Block {
  readonly prefix: number;
  readonly first: number;
  readonly last: number;
}

const blocks = new Map<string, Block>();

/** The block of a valid CIDR string, parsed once. */
function block(cidr: string): Block {
  let parsed = blocks.get(cidr);
  if (!parsed) {
    parsed = {
      prefix: IPv4.parseCIDR(cidr)[1],
      first: addressNumber(IPv4.networkAddressFromCIDR(cidr)),
      last: addressNumber(IPv4.broadcastAddressFromCIDR(cidr)),
    };
    blocks.set(cidr, parsed);
  }
  return parsed;
}

/** An address as the number it stands for (0 to 2^32 - 1). */
function addressNumber(address: IPv4): number {
  return address.octets.reduce((value, octet) => value * 256 + octet, 0);
}

/** The address a number in 0 to 2^32 - 1 stands for, in dotted decimal. */
function addressString(value: number): string {
  return new IPv4([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]).toString();
}

/** Whether `text` is an IPv4 address in dotted decimal, four parts (`10.0.0.1`, not `10.1`). */
export function isIPv4Address(text: string): boolean {
  return IPv4.isValidFourPartDecimal(text);
}

/** Whether `text` is an IPv4 address and a prefix length of 0 to 32 (`10.0.1.0/16` is one). */
export function isIPv4Cidr(text: string): boolean {
  return IPv4.isValidCIDRFourPartDecimal(text);
}

/** The network address of a CIDR block that passes `isIPv4Cidr` (`10.0.0.0` for `10.0.1.0/16`). */
export function networkAddress(cidr: string): string {
  return IPv4.networkAddressFromCIDR(cidr).toString();
}

/** Whether `text` is an IPv4 CIDR block written at its network address (`10.0.0.0/16`). */
export function isNetworkCidr(text: string): boolean {
  return isIPv4Cidr(text) && networkAddress(text) === text.slice(0, text.indexOf("/"));
}

/** The prefix length of a CIDR block that passes `isIPv4Cidr`. */
export function cidrPrefix(cidr: string): number {
  return block(cidr).prefix;
}

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/** Why `cidr` cannot be a VPC block, or `undefined` when it can. */
export function vpcCidrProblem(cidr: string): string | undefined {
  if (!isIPv4Cidr(cidr)) {
    return `must be an IPv4 CIDR block such as 10.20.0.0/16 (got "${cidr}")`;
  }
  const prefix = Number(cidr.split("/")[1]);
  if (prefix < VPC_PREFIX.min || prefix > VPC_PREFIX.max) {
    return `must be a /${VPC_PREFIX.min} to /${VPC_PREFIX.max} block, to leave room for 3 tiers x up to 8 AZs (got /${prefix})`;
  }
  if (!isNetworkCidr(cidr)) {
    const network = `${networkAddress(cidr)}/${prefix}`;
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
  const prefix = block(vpcCidr).prefix + TIER_BITS + AZ_BITS;
  return { prefix, usable: 2 ** (32 - prefix) - 5 };
}

/** The CIDR of one tier's subnet in one AZ. `vpcCidr` must pass `vpcCidrProblem`. */
export function subnetCidr(vpcCidr: string, tier: SubnetTier, availabilityZone: string): string {
  const slot = azSuffix(availabilityZone).charCodeAt(0) - "a".charCodeAt(0);
  if (slot >= 2 ** AZ_BITS) {
    throw new Error(`subnetCidr: AZ "${availabilityZone}" is past the ${2 ** AZ_BITS} AZ slots of the CIDR plan`);
  }
  // The VPC split in 2^TIER_BITS equal tier blocks, each split in 2^AZ_BITS equal AZ slots.
  const vpc = block(vpcCidr);
  const prefix = vpc.prefix + TIER_BITS + AZ_BITS;
  const tierSize = 2 ** (32 - vpc.prefix - TIER_BITS);
  const slotSize = 2 ** (32 - prefix);
  const first = vpc.first + SUBNET_TIERS.indexOf(tier) * tierSize + slot * slotSize;
  return `${addressString(first)}/${prefix}`;
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

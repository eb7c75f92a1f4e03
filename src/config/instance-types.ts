/**
 * vCPUs of the EC2 instance types this project accepts, for the default number of app processes
 * (one per vCPU). Kept offline and small: sizes follow a pattern within each kind of family.
 */

/** vCPUs by size for the general families (m, c, r; Intel, AMD and Graviton). */
const STANDARD_SIZES: Readonly<Record<string, number>> = {
  large: 2,
  xlarge: 4,
  "2xlarge": 8,
  "4xlarge": 16,
  "8xlarge": 32,
  "12xlarge": 48,
  "16xlarge": 64,
};

/** Burstable families (t3, t3a, t4g): two vCPUs up to large. */
const BURSTABLE_SIZES: Readonly<Record<string, number>> = {
  nano: 2,
  micro: 2,
  small: 2,
  medium: 2,
  large: 2,
  xlarge: 4,
  "2xlarge": 8,
};

/** c5 skips 8xlarge and 16xlarge (it has 9xlarge and 18xlarge, which this project does not offer). */
const C5_SIZES: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(STANDARD_SIZES).filter(([size]) => size !== "8xlarge" && size !== "16xlarge"),
);

/** The sizes a family comes in, with their vCPUs. */
export function sizesOf(family: string): Readonly<Record<string, number>> {
  if (/^t\d/.test(family)) return BURSTABLE_SIZES;
  if (family === "c5") return C5_SIZES;
  // Graviton (m7g ...) and the 7th-generation AMD families (m7a ...) also come as a 1-vCPU medium.
  if (/^[mcr]\d+g$/.test(family) || /^[mcr]7a$/.test(family)) return { medium: 1, ...STANDARD_SIZES };
  return STANDARD_SIZES;
}

/** vCPUs of an instance type such as `m7g.large`, or undefined when the family has no such size. */
export function vcpusOf(instanceType: string): number | undefined {
  const [family, size] = instanceType.split(".");
  return sizesOf(family ?? "")[size ?? ""];
}

/**
 * The CPU architecture of an instance type: Graviton families carry a `g` right after the
 * generation digit (t4g, m7g, c7gn, r8g) and are arm64; the others are x86_64.
 */
export function architectureOf(instanceType: string): "x86_64" | "arm64" {
  return /^[a-z]+\d+g[a-z]*$/.test(instanceType.split(".")[0]) ? "arm64" : "x86_64";
}

/** MiB of memory of each burstable size (t3, t3a, t4g). */
const BURSTABLE_MEMORY_MIB: Readonly<Record<string, number>> = {
  nano: 512,
  micro: 1024,
  small: 2048,
  medium: 4096,
  large: 8192,
  xlarge: 16384,
  "2xlarge": 32768,
};

/** GiB per vCPU of the other families: compute optimized c 2, general purpose m 4, memory optimized r 8. */
const GIB_PER_VCPU: Readonly<Record<string, number>> = { c: 2, m: 4, r: 8 };

/**
 * MiB of memory of an instance type such as `t3.small` (2048) or `c7g.large` (4096), or undefined
 * when the family has no such size: the server's whole memory, of which the kernel keeps some.
 */
export function memoryMibOf(instanceType: string): number | undefined {
  const [family, size] = instanceType.split(".");
  if (vcpusOf(instanceType) === undefined) return undefined;
  if (/^t\d/.test(family)) return BURSTABLE_MEMORY_MIB[size];
  const perVcpu = GIB_PER_VCPU[family[0]];
  return perVcpu === undefined ? undefined : perVcpu * 1024 * vcpusOf(instanceType)!;
}

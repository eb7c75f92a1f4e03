import type { Engine } from "./schema";

/**
 * Memory of the RDS instance classes this project allows (`DB_INSTANCE_FAMILIES`), so that alarm
 * thresholds on freeable memory and connections can default to a share of what the class has.
 * From the RDS instance class tables: burstable `t` classes double from 1 GiB (micro), general
 * purpose `m` classes have 4 GiB per vCPU, memory optimized `r` classes 8 GiB per vCPU.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
 */
const BURSTABLE_GIB: Readonly<Record<string, number>> = {
  micro: 1,
  small: 2,
  medium: 4,
  large: 8,
  xlarge: 16,
  "2xlarge": 32,
};
const GIB_PER_VCPU: Readonly<Record<string, number>> = { m: 4, r: 8 };

/** vCPUs of a size: large = 2, xlarge = 4, Nxlarge = 4N. */
function vcpusOf(size: string): number | undefined {
  if (size === "large") return 2;
  const match = /^(\d*)xlarge$/.exec(size);
  return match ? 4 * Number(match[1] || "1") : undefined;
}

/** GiB of memory of `db.<family>.<size>`, or `undefined` when the class is not in the table. */
export function dbInstanceMemoryGib(instanceClass: string): number | undefined {
  const [prefix, family, size] = instanceClass.split(".");
  if (prefix !== "db" || !family || !size) return undefined;
  if (family.startsWith("t")) return BURSTABLE_GIB[size];
  const perVcpu = GIB_PER_VCPU[family[0]];
  const vcpus = vcpusOf(size);
  return perVcpu && vcpus ? perVcpu * vcpus : undefined;
}

/**
 * The `max_connections` RDS's default parameter group derives from a class's memory:
 * PostgreSQL `LEAST(DBInstanceClassMemory/9531392, 5000)`, MySQL `DBInstanceClassMemory/12582880`.
 * DBInstanceClassMemory is a little below the class's memory (RDS reserves some), so this is an
 * upper estimate; alarm on a share of it.
 */
export function defaultMaxConnections(engine: Engine, memoryGib: number): number {
  const bytes = memoryGib * 1024 ** 3;
  return engine === "postgres" ? Math.min(Math.floor(bytes / 9531392), 5000) : Math.floor(bytes / 12582880);
}

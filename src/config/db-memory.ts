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
function vcpusOfSize(size: string): number | undefined {
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
  const vcpus = vcpusOfSize(size);
  return perVcpu && vcpus ? perVcpu * vcpus : undefined;
}

/** The share of a class's nominal memory counted as RDS's DBInstanceClassMemory (an estimate that errs low). */
export const DB_INSTANCE_CLASS_MEMORY_SHARE = 0.85;

/**
 * The `max_connections` RDS's default parameter group derives from a class's memory:
 * PostgreSQL `LEAST(DBInstanceClassMemory/9531392, 5000)`, MySQL `DBInstanceClassMemory/12582880`.
 * DBInstanceClassMemory is below the class's nominal memory (the OS and RDS's own processes keep
 * some; on the small classes a good part), so this counts only 85% of the nominal memory: an
 * estimate that errs low, so that an alarm on a share of it fires before connections are refused.
 * Check the real value with `SHOW max_connections`, and set the threshold in the file if it differs.
 */
export function defaultMaxConnections(engine: Engine, memoryGib: number): number {
  const bytes = memoryGib * 1024 ** 3 * DB_INSTANCE_CLASS_MEMORY_SHARE;
  return engine === "postgres" ? Math.min(Math.floor(bytes / 9531392), 5000) : Math.floor(bytes / 12582880);
}

/** `defaultMaxConnections` on `instanceClass`, or `undefined` when the class's memory is not known. */
export function classMaxConnections(engine: Engine, instanceClass: string | undefined): number | undefined {
  const memoryGib = instanceClass ? dbInstanceMemoryGib(instanceClass) : undefined;
  return memoryGib === undefined ? undefined : defaultMaxConnections(engine, memoryGib);
}

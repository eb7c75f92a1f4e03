/**
 * Where a server publishes the metrics it measures itself (the CloudWatch agent's memory and disk,
 * the health probe, the nightly dump's) and where the alarms and the dashboard read them.
 * `cloudwatch:PutMetricData` takes no resource and no condition but the namespace, so the
 * namespace is all that keeps one environment's servers out of another's metrics: in namespaces
 * of the environment's own, only its servers' role may publish to what its alarms read.
 */

/** One namespace for each kind of metric a server publishes. */
export interface MetricNamespaces {
  /** The CloudWatch agent's `mem_used_percent` and `disk_used_percent`. */
  readonly agent: string;
  /** The health probe's `HealthCheckOk` (servers without a load balancer). */
  readonly health: string;
  /** `db-backup`'s `DumpUploaded` (a single server's own database). */
  readonly backups: string;
}

/**
 * `environment`: `<project>/<env>/CWAgent`, `.../AppHealth`, `.../AppBackups`, which only this
 * environment's servers may publish to. `shared`: the namespaces every environment's servers
 * published to before (`CWAgent`, `AppHealth`, `AppBackups`), for a server whose boot script is
 * kept (single-server, app-db-split) and still publishes there, until it is replaced.
 */
export const METRIC_NAMESPACE_MODES = ["environment", "shared"] as const;
export type MetricNamespaceMode = (typeof METRIC_NAMESPACE_MODES)[number];

/** The namespaces every environment's servers shared (`monitoring.metricNamespaces: shared`). */
export const SHARED_METRIC_NAMESPACES: MetricNamespaces = {
  agent: "CWAgent",
  health: "AppHealth",
  backups: "AppBackups",
};

/** CloudWatch's longest namespace. */
const MAX_NAMESPACE = 255;

/** The namespaces of one environment's servers. */
export function metricNamespaces(project: string, environment: string, mode: MetricNamespaceMode): MetricNamespaces {
  if (mode === "shared") return SHARED_METRIC_NAMESPACES;
  const own = (name: string) => {
    const namespace = `${project}/${environment}/${name}`;
    if (namespace.length > MAX_NAMESPACE)
      throw new Error(
        `metric namespace "${namespace}" is ${namespace.length} characters; CloudWatch allows ${MAX_NAMESPACE}`,
      );
    return namespace;
  };
  return {
    agent: own(SHARED_METRIC_NAMESPACES.agent),
    health: own(SHARED_METRIC_NAMESPACES.health),
    backups: own(SHARED_METRIC_NAMESPACES.backups),
  };
}

/** The namespaces as a list: what the servers' role may publish to. */
export function namespaceList(namespaces: MetricNamespaces): string[] {
  return [namespaces.agent, namespaces.health, namespaces.backups];
}

/**
 * What the servers of an environment may publish to under either mode: its own namespaces and the
 * shared ones. The permissions boundary allows these, so that a move between the modes changes
 * only the role's policy.
 */
export function eitherNamespaces(project: string, environment: string): string[] {
  return [
    ...namespaceList(metricNamespaces(project, environment, "environment")),
    ...namespaceList(SHARED_METRIC_NAMESPACES),
  ];
}

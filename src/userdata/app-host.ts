/**
 * The one typed description of what runs inside an app server: nginx on the public port, in front
 * of N app processes on loopback ports, each a systemd unit `app@<port>`. The nginx configuration
 * (`nginx-conf.ts`), the unit (`app-unit.ts`), the deploy script (`deploy-script.ts`) and the boot
 * script are all rendered from an `AppHost`, so they cannot disagree on a port or a path; the
 * integration test renders the same files from an `AppHost` whose paths and ports point at a
 * temporary directory and free loopback ports.
 */

/** Where things live on the server. */
export interface AppHostPaths {
  /** Releases (`releases/<version>/`), per-process links (`run/<port>`), `bin/deploy`. */
  readonly appRoot: string;
  /** The nginx main configuration file, written whole (the distribution's default server is gone). */
  readonly nginxConf: string;
  readonly nginxPidFile: string;
  readonly nginxLogDir: string;
  /** nginx's buffers for large request and response bodies. */
  readonly nginxTempDir: string;
  /** One log file per app process (`<port>.log`), shipped by the CloudWatch agent. */
  readonly appLogDir: string;
  /** The Node.js binary the app runs on. */
  readonly nodeBinary: string;
}

/** Passive health checking of the app processes by nginx. */
export interface PassiveHealthCheck {
  /** Failed attempts within `failTimeoutSeconds` that take a process out of rotation. */
  readonly maxFails: number;
  /** How long a failed process stays out before nginx tries it again. */
  readonly failTimeoutSeconds: number;
}

/** Where the deploy script downloads a release it does not have yet. */
export interface ArtifactSource {
  /** Region of the artifacts bucket (the environment's). */
  readonly region: string;
  /** SSM parameter that holds the artifacts bucket's name (the name is known only after apply). */
  readonly bucketParameter: string;
  /**
   * The one object key every release is uploaded to; each upload is an object version whose
   * metadata `app-version` names the release (see `ArtifactsBucket`).
   */
  readonly releaseKey: string;
}

/**
 * The app's database as a server reaches it; the contract the app sees is in `app/db.js`.
 * Everything here is literal (user data is fixed at synth time); apply-time values (the RDS
 * endpoint, the secret's ARN, the backups bucket) are read on the server from SSM parameters.
 */
export interface AppDatabase {
  /** SSM parameter whose value is the app's settings, `DB_<NAME>=<value>` lines (no secret). */
  readonly settingsParameter: string;
  /** Region of the parameters and of the secret. */
  readonly region: string;
  /** Where the deploy script writes the settings; the `app@` unit loads it. */
  readonly envFile: string;
  /** The engine runs on this server (single-server layout). @default - it runs elsewhere (RDS) */
  readonly local?: LocalDatabase;
  /** Where the boot script puts the CA bundle that signs RDS's certificates. @default - no TLS (local) */
  readonly caBundle?: { readonly url: string; readonly path: string };
}

/** The database engine installed on the server itself, with its nightly backups. */
export interface LocalDatabase {
  readonly engine: "postgres" | "mariadb";
  /** The AL2023 server package, e.g. `postgresql16-server`. */
  readonly serverPackage: string;
  readonly port: number;
  /** The app's database and user. */
  readonly name: string;
  readonly username: string;
  /** SSM parameter naming the backups bucket. */
  readonly backupBucketParameter: string;
  /** Key prefix of the dumps in that bucket, e.g. `db/`. */
  readonly backupPrefix: string;
  /** When the nightly dump runs: a systemd `OnCalendar` expression. */
  readonly backupSchedule: string;
}

export interface AppHost {
  /** Environment name, given to the app as `APP_ENVIRONMENT`. */
  readonly environment: string;
  /** The app version this server boots with. */
  readonly version: string;
  /** Address nginx listens on. @default - every address */
  readonly listenAddress?: string;
  /** Port nginx listens on for clients and the load balancer. */
  readonly listenPort: number;
  /** Path nginx answers with the health of the app processes (the load balancer's check). */
  readonly healthCheckPath: string;
  /** Loopback ports of the app processes, one process each. */
  readonly appPorts: readonly number[];
  /** The unprivileged user nginx workers run as. @default - nginx's build default */
  readonly nginxUser?: string;
  /** The unprivileged user the app processes run as. */
  readonly appUser: string;
  readonly passiveHealthCheck: PassiveHealthCheck;
  readonly paths: AppHostPaths;
  /** Where releases come from. @default - none: releases must already be on disk */
  readonly artifacts?: ArtifactSource;
  /** The app's database. @default - none: the app runs without one */
  readonly database?: AppDatabase;
}

/** The first app process listens here; the others on the next ports. */
export const FIRST_APP_PORT = 8001;

/** Paths on an Amazon Linux 2023 app server. */
export const SERVER_PATHS: AppHostPaths = {
  appRoot: "/opt/app",
  nginxConf: "/etc/nginx/nginx.conf",
  nginxPidFile: "/run/nginx.pid",
  nginxLogDir: "/var/log/nginx",
  nginxTempDir: "/var/lib/nginx/tmp",
  appLogDir: "/var/log/app",
  // AL2023 namespaces Node.js by major version; the versioned binary never moves under us.
  nodeBinary: "/usr/bin/node-22",
};

/** Where the app's database settings live on a server (read by the `app@` unit). */
export const DATABASE_ENV_FILE = "/etc/app/database.env";

/** nginx's passive health check: two failures within 2 s take a process out for 2 s. */
export const PASSIVE_HEALTH_CHECK: PassiveHealthCheck = { maxFails: 2, failTimeoutSeconds: 2 };

/** `count` consecutive ports from `FIRST_APP_PORT`. */
export function appPorts(count: number, first = FIRST_APP_PORT): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

/** Object metadata naming the release an object version holds (`x-amz-meta-app-version`). */
export const RELEASE_VERSION_METADATA = "app-version";

/** A release version: a key of releases.yaml, a tarball name, and what `deploy` accepts. */
export const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

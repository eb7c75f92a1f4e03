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
  /**
   * Markers of nginx's rotation, which nginx checks on every request: `held-<port>` holds that
   * process out (see `Rotation`), `unhealthy` fails the load balancer's health check.
   */
  readonly rotationDir: string;
  /** Where the app may write files that outlive a process (systemd's `StateDirectory`, `$STATE_DIRECTORY`). */
  readonly appStateDir: string;
}

/** Passive health checking of the app processes by nginx. */
export interface PassiveHealthCheck {
  /** Failed attempts within `failTimeoutSeconds` that take a process out of rotation. */
  readonly maxFails: number;
  /** How long a failed process stays out before nginx tries it again. */
  readonly failTimeoutSeconds: number;
}

/** How long nginx waits for an app process. */
export interface ProxyTimeouts {
  /** To connect (on loopback a live process accepts at once; a dead one refuses at once). */
  readonly connectSeconds: number;
  /** For a response, and between two reads of it: the longest a request may take. */
  readonly readSeconds: number;
  /**
   * For one request, over every process it is tried on. Longer than `readSeconds` plus
   * `connectSeconds`, so that a request that timed out on a hung process is still retried.
   */
  readonly nextUpstreamSeconds: number;
}

/**
 * When a process takes traffic, and what finds one that stopped answering. A process is *held
 * out* of nginx's rotation (a marker file nginx checks on every request) from before it starts
 * until it has answered its health check for `settleSeconds`, and again before it is stopped, so
 * nginx sends nothing to a process that is starting, settling or draining. A watchdog probes
 * every process in rotation and restarts one that stops answering.
 */
export interface Rotation {
  /** Seconds systemd waits before it starts again a process that exited (or was killed). */
  readonly restartSeconds: number;
  /** Seconds a started process has to answer its health check (200). */
  readonly startTimeoutSeconds: number;
  /** Seconds it must then keep answering before it takes traffic: a release that dies soon after it starts is caught here. */
  readonly settleSeconds: number;
  /** Seconds between holding a process out and stopping it, for requests nginx already sent its way. */
  readonly holdSeconds: number;
  /** Seconds between two rounds of the watchdog's probes. */
  readonly watchIntervalSeconds: number;
  /** Seconds one probe waits for an answer. */
  readonly watchTimeoutSeconds: number;
  /** Probes in a row without a healthy answer after which the watchdog restarts the process. */
  readonly watchFailures: number;
  /**
   * The server reports itself unhealthy to the load balancer (503 on its health check path) while
   * a process that should run has been held out this long...
   */
  readonly stuckSeconds: number;
  /**
   * ...or after `maxRestarts` processes ended within `restartWindowSeconds`: crashed on their own,
   * or killed by the watchdog (a deploy's restarts do not count).
   */
  readonly maxRestarts: number;
  readonly restartWindowSeconds: number;
  /** The watchdog's outlier check (`OUTLIER` in rotation-script.ts says how and why). */
  readonly outlier: Outlier;
}

/**
 * A process whose answers over about the last 4 s number at least `minAnswers` and are at least
 * `percent` % 5xx, while another in rotation has at least `peerMinAnswers` at most `peerPercent` % 5xx;
 * or whose last `minUnanswered` tries in a row got no answer (nginx's 502: reset, closed), each in
 * a second in which another process answered.
 */
export interface Outlier {
  readonly minAnswers: number;
  readonly percent: number;
  readonly peerMinAnswers: number;
  readonly peerPercent: number;
  readonly minUnanswered: number;
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
  /**
   * SHA-256 (hex) of that version's tarball, as releases.yaml records it: the boot's deploy refuses
   * a download with other bytes (an object uploaded under the version's name by anyone who may
   * write to the bucket). @default - not checked beyond S3's own checksum
   */
  readonly releaseSha256?: string;
  /** Address nginx listens on. @default - every address */
  readonly listenAddress?: string;
  /** Port nginx listens on for clients and the load balancer. */
  readonly listenPort: number;
  /**
   * Clients reach nginx through a load balancer, which sets X-Forwarded-Proto and appends to
   * X-Forwarded-For. @default false - clients connect to nginx itself, and what they send in
   * those headers is not passed on as the truth
   */
  readonly behindLoadBalancer?: boolean;
  /** Path nginx answers with the health of the app processes (the load balancer's check). */
  readonly healthCheckPath: string;
  /** Loopback ports of the app processes, one process each. */
  readonly appPorts: readonly number[];
  /** The unprivileged user nginx workers run as. @default - nginx's build default */
  readonly nginxUser?: string;
  /** The unprivileged user the app processes run as. */
  readonly appUser: string;
  readonly passiveHealthCheck: PassiveHealthCheck;
  /** nginx's timeouts towards the processes. @default PROXY_TIMEOUTS */
  readonly proxyTimeouts?: ProxyTimeouts;
  /** When processes take traffic, and the watchdog. @default ROTATION */
  readonly rotation?: Rotation;
  readonly paths: AppHostPaths;
  /** Where releases come from. @default - none: releases must already be on disk */
  readonly artifacts?: ArtifactSource;
  /** The app's database. @default - none: the app runs without one */
  readonly database?: AppDatabase;
}

/** The first app process listens here; the others on the next ports. */
export const FIRST_APP_PORT = 8001;

/**
 * The sample app's own health path, on each process (app/server.js): what nginx's health check,
 * the rotation script and the deploy ask each process. app.healthCheckPath is nginx's, the
 * load balancer's view of the whole server.
 */
export const APP_HEALTH_PATH = "/healthz";

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
  rotationDir: "/opt/app/rotation",
  // systemd creates it for the unit's StateDirectory=app, owned by the app user.
  appStateDir: "/var/lib/app",
};

/** Where the app's database settings live on a server (read by the `app@` unit). */
export const DATABASE_ENV_FILE = "/etc/app/database.env";

/**
 * nginx's passive health check: one failure takes a process out for 1 s (nginx counts whole
 * seconds: 1 to 2 s). Planned restarts never count here (the process is held out first), so this
 * only covers a process that died or stopped answering, until the watchdog holds it out.
 */
export const PASSIVE_HEALTH_CHECK: PassiveHealthCheck = { maxFails: 1, failTimeoutSeconds: 1 };

/** nginx's timeouts in production. */
export const PROXY_TIMEOUTS: ProxyTimeouts = { connectSeconds: 2, readSeconds: 30, nextUpstreamSeconds: 45 };

/** Rotation and watchdog in production. */
export const ROTATION: Rotation = {
  restartSeconds: 1,
  startTimeoutSeconds: 60,
  settleSeconds: 10,
  holdSeconds: 0.5,
  watchIntervalSeconds: 1,
  watchTimeoutSeconds: 2,
  watchFailures: 3,
  stuckSeconds: 180,
  maxRestarts: 3,
  restartWindowSeconds: 600,
  outlier: { minAnswers: 20, percent: 90, peerMinAnswers: 10, peerPercent: 10, minUnanswered: 5 },
};

/** The host's proxy timeouts and rotation, defaulted. */
export function hostTimings(host: AppHost): { readonly proxy: ProxyTimeouts; readonly rotation: Rotation } {
  return { proxy: host.proxyTimeouts ?? PROXY_TIMEOUTS, rotation: host.rotation ?? ROTATION };
}

/** `count` consecutive ports from `FIRST_APP_PORT`. */
export function appPorts(count: number, first = FIRST_APP_PORT): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

/** Object metadata naming the release an object version holds (`x-amz-meta-app-version`). */
export const RELEASE_VERSION_METADATA = "app-version";

/** A release version: a key of releases.yaml, a tarball name, and what `deploy` accepts. */
export const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

/** A release tarball's SHA-256, as releases.yaml records it and `deploy` checks it: 64 lowercase hex digits. */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

import type { EnvironmentConfig } from "./config/load";
import { azSuffix } from "./config/regions";

/**
 * The project's other environments whose names begin with `env`'s and a hyphen (`prod-eu` beside
 * `prod`): `env`'s name patterns (`shop-prod-*`) match their names too, so what admits `env`'s
 * resources by such a pattern must exclude theirs.
 */
export function neighboursOf(env: EnvironmentConfig, environments: readonly EnvironmentConfig[]): string[] {
  return environments
    .filter((other) => other.project === env.project && other.name.startsWith(`${env.name}-`))
    .map((other) => other.name);
}

/**
 * The first words of the names the stacks build after `<project>-<env>-` (`shop-prod-db-cpu`,
 * `shop-prod-app-...`), and `p<port>` (a target group's). A neighbour named `<env>-<such a word>`
 * (`prod-db` beside `prod`) would make names that prod's own begin with: the exclusions that keep
 * prod's patterns off a neighbour's names (alarm topics, deploy roles) would take prod's own alarms
 * and roles out, and the neighbour's deploy role would reach them. A test keeps the list complete
 * against what the stacks synthesize.
 */
export const NAME_WORDS: readonly string[] = [
  "admin",
  "alarms",
  "alb",
  "app",
  "artifacts",
  "boundary",
  "certificate",
  "dashboard",
  "data",
  "db",
  "default",
  "deploy",
  "flow",
  "healthy",
  "igw",
  "latency",
  "logs",
  "nat",
  "nginx",
  "no",
  "public",
  "refresh",
  "release",
  "s3",
  "target",
  "unhealthy",
  "vpc",
];

/** Whether `word` begins names of an environment's own resources (NAME_WORDS, or `p8080`). */
export function isNameWord(word: string): boolean {
  return NAME_WORDS.includes(word) || /^p[0-9]+$/.test(word);
}

/** The id of every S3 state bucket's bootstrap stack begins with this (`state-<bucket>`, app.ts). */
export const STATE_STACK_PREFIX = "state-";

/**
 * The SSM documents an environment's stack makes, `<project>-<env>-<purpose>`: the release's deploy
 * (src/constructs/app-deployment.ts) and the OS update (src/constructs/os-update.ts). Named here
 * once, exactly: a deploy role may write and associate only its own environment's (review DI: SSM
 * checks an association's document, never its targets), and a server reads only its own
 * environment's and AWS's; by a pattern (`shop-dev-*`) they would also match a neighbour's
 * (`shop-dev-eu-deploy`). A test keeps it equal to what the stacks synthesize.
 */
export const SSM_DOCUMENT_PURPOSES = ["deploy", "app-os"] as const;

/** AWS limits that physical names meet. */
const LIMITS = {
  /** `Name` tags and most names. */
  default: 255,
  /** ALB and target group names. */
  loadBalancer: 32,
  /** RDS instance and subnet group identifiers. */
  rds: 63,
  /** IAM role names and name prefixes (a prefix leaves 26 characters for the suffix Terraform adds). */
  iamRolePrefix: 38,
  /** S3 bucket name prefixes (a bucket name's 63, less the 26 characters Terraform appends). */
  bucketPrefix: 37,
  /** CloudWatch log group names and SSM parameter paths (their shorter limit: a log group's). */
  path: 512,
} as const;

/**
 * The one place that builds physical names: `<project>-<env>-<tier>[-<az-suffix>]`, for example
 * `shop-prod-public-a`. Throws when a name would break the AWS limit of what it names.
 *
 * Shared tags (`Project`, `Environment`, `ManagedBy`) are set once through the provider's
 * `defaultTags` (see `defaultTags`); resources set only their own `Name`.
 */
export class Naming {
  constructor(
    /** Project prefix, e.g. `shop`. */
    public readonly project: string,
    /** Environment name, e.g. `prod`. */
    public readonly environment: string,
  ) {}

  /** `<project>-<env>-<tier>`, or `...-<az letter>` when `availabilityZone` is given. */
  public name(tier: string, availabilityZone?: string): string {
    return this.fit(this.join(tier, availabilityZone), LIMITS.default, "name");
  }

  /** A `Name` tag map for one resource. */
  public tags(tier: string, availabilityZone?: string): Record<string, string> {
    return { Name: this.name(tier, availabilityZone) };
  }

  /** A CloudWatch log group or SSM parameter path: `/<project>/<env>/<path>`. */
  public path(path: string): string {
    return this.fit(`/${this.project}/${this.environment}/${path}`, LIMITS.path, "log group or parameter path");
  }

  /** A name for an ALB or target group (32 characters at most). */
  public loadBalancerName(tier: string): string {
    return this.fit(this.join(tier), LIMITS.loadBalancer, "load balancer / target group name");
  }

  /** An RDS identifier: lowercase letters, digits and hyphens, 63 at most, no double hyphen. */
  public rdsIdentifier(tier: string): string {
    const id = this.fit(this.join(tier), LIMITS.rds, "RDS identifier");
    if (!/^[a-z][a-z0-9-]*[a-z0-9]$/.test(id) || id.includes("--")) {
      throw new Error(
        `Naming: RDS identifier "${id}" must be lowercase letters, digits and single hyphens, starting with a letter`,
      );
    }
    return id;
  }

  /** A name prefix for IAM roles: Terraform appends a unique suffix, so replacements never clash. */
  public iamRolePrefix(tier: string): string {
    return this.fit(`${this.join(tier)}-`, LIMITS.iamRolePrefix, "IAM role name prefix");
  }

  /**
   * The permissions boundary policy of the environment's roles, `<project>-<env>-boundary`: the
   * deploy roles' policies name it (src/ops/pipeline-iam.ts), the stacks create it (RoleBoundary).
   */
  public roleBoundaryName(): string {
    return this.name("boundary");
  }

  /**
   * A name prefix for S3 buckets, `<project>-<env>-<tier>-`: Terraform appends a unique suffix,
   * so a bucket's name is never taken from another account's, and replacements never clash.
   */
  public bucketPrefix(tier: string): string {
    return this.fit(`${this.join(tier)}-`, LIMITS.bucketPrefix, "S3 bucket name prefix");
  }

  /** The shared tags every resource carries, set through the provider's `defaultTags`. */
  public defaultTags(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return { ...extra, Project: this.project, Environment: this.environment, ManagedBy: "cdktf" };
  }

  private join(tier: string, availabilityZone?: string): string {
    const parts = [this.project, this.environment, tier];
    if (availabilityZone !== undefined) parts.push(azSuffix(availabilityZone));
    return parts.join("-");
  }

  private fit(name: string, limit: number, what: string): string {
    if (name.length > limit) {
      throw new Error(`Naming: ${what} "${name}" is ${name.length} characters; AWS allows at most ${limit}`);
    }
    return name;
  }
}

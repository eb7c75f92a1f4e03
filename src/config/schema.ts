import { z } from "zod";
import { vpcCidrProblem } from "../cidr";
import { REGIONS, availabilityZonesOf } from "./regions";

/**
 * The schema of `environments/<name>/config.yaml`: the single source of the `EnvironmentFile`
 * type, of its validation and (through `npm run schema`) of `environments/schema.json`, which
 * editors use to complete and check the files. Field docs are `.describe()`d so editors show them.
 *
 * Environment-level choices (what dev gets versus prod) are defaulted here and nowhere else.
 * Each rule's message says what is allowed; the loader prefixes the folder and the field path.
 */

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Tag keys the project sets on every resource itself, through the provider's default tags. */
export const RESERVED_TAG_KEYS = ["Project", "Environment", "ManagedBy"] as const;

/**
 * Project and environment names prefix physical names; kept short so that `<project>-<env>-<tier>`
 * fits the tightest AWS limit it meets (ALB and target group names: 32 characters).
 */
export const SHORT_NAME = /^[a-z][a-z0-9-]{0,10}[a-z0-9]$/;
export const SHORT_NAME_RULE = "must be 2 to 12 lowercase letters, digits or hyphens, starting with a letter";

const intRange = (min: number, max: number) => {
  const rule = `must be an integer from ${min} to ${max}`;
  return z.number({ error: rule }).int(rule).min(min, rule).max(max, rule);
};

const retentionDays = z
  .literal(LOG_RETENTION_DAYS, {
    error: `must be one of CloudWatch's retention periods: ${LOG_RETENTION_DAYS.join(", ")}`,
  })
  .describe("Days CloudWatch Logs keeps the records");

// ---- Network ----

const network = z
  .strictObject({
    cidr: z
      .string()
      .superRefine((cidr, ctx) => {
        const problem = vpcCidrProblem(cidr);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .describe("The VPC's IPv4 block: a /16 to /22 inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"),
    availabilityZones: z
      .array(z.string().meta({ examples: REGIONS.flatMap(availabilityZonesOf) }))
      .min(2, "must list at least 2 distinct availability zones, so the ALB and the DB can span AZs")
      .describe("Concrete AZ names of the region (at least two); each gets a public, an app and a data subnet"),
    natGateways: z
      .enum(["single", "per-az", "none"])
      .default("single")
      .describe(
        "single: one shared NAT gateway (cheaper); per-az: one per AZ (survives an AZ outage); none: no egress from private subnets",
      ),
    flowLogs: z
      .strictObject({
        enabled: z.boolean().default(true).describe("Record VPC flow logs to CloudWatch Logs"),
        retentionDays: retentionDays.default(90),
      })
      .default({ enabled: true, retentionDays: 90 }),
  })
  .describe("The VPC and its subnets");

// ---- Scale (used by the server tiers) ----

const app = z
  .strictObject({
    instanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "must be an EC2 instance type such as t3.micro or m7g.large")
      .describe("EC2 instance type of the app servers"),
    count: z
      .strictObject({
        min: intRange(0, 100),
        desired: intRange(0, 100),
        max: intRange(1, 100),
      })
      .superRefine((c, ctx) => {
        if (c.min > c.max) {
          ctx.addIssue({
            code: "custom",
            path: ["min"],
            message: `must not exceed count.max (${c.max}) (got ${c.min})`,
          });
        }
        if (c.desired < c.min || c.desired > c.max) {
          ctx.addIssue({
            code: "custom",
            path: ["desired"],
            message: `must be from count.min (${c.min}) to count.max (${c.max}) (got ${c.desired})`,
          });
        }
      })
      .describe("How many app servers: Auto Scaling bounds, or a fixed count for single-instance layouts"),
  })
  .describe("App servers");

const database = z
  .strictObject({
    instanceClass: z
      .string()
      .regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, "must be an RDS instance class such as db.t4g.micro or db.m7g.large")
      .describe("RDS instance class"),
    allocatedStorageGb: intRange(20, 65536).describe("Initial gp3 storage in GiB"),
  })
  .describe("The database server");

// ---- State ----

const state = z
  .discriminatedUnion(
    "backend",
    [
      z
        .strictObject({ backend: z.literal("local") })
        .describe("One state file per environment in state/<env>.tfstate on this machine (the quick start)"),
      z
        .strictObject({
          backend: z.literal("s3"),
          bucket: z
            .string()
            .regex(
              /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
              "must be an S3 bucket name: 3 to 63 lowercase letters, digits or hyphens (no dots: they break TLS)",
            )
            .describe("State bucket, created by the state-<bucket> bootstrap stack"),
          key: z
            .string()
            .regex(/^[A-Za-z0-9!_.*'()/-]{1,1024}$/, "must be an S3 object key of letters, digits and !_.*'()/-")
            .optional()
            .describe("Object key; default <project>/<environment>/terraform.tfstate"),
          region: z.enum(REGIONS).optional().describe("Bucket region; default the environment's region"),
        })
        .describe("S3, encrypted, with S3-native locking (use_lockfile)"),
      z
        .strictObject({
          backend: z.literal("cloud"),
          organization: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,40}$/, "must be an HCP Terraform organization name")
            .describe("HCP Terraform organization"),
          workspace: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,90}$/, "must be letters, digits, hyphens or underscores")
            .optional()
            .describe("Workspace; default <project>-<environment>"),
          hostname: z
            .string()
            .regex(/^[a-z0-9.-]+$/, "must be a host name")
            .optional()
            .describe("Default app.terraform.io; set for Terraform Enterprise"),
        })
        .describe("HCP Terraform (or Terraform Enterprise), one workspace per environment"),
    ],
    { error: "must be one of: local, s3, cloud" },
  )
  .describe("Where this environment's Terraform state lives");

// ---- The environment ----

export const environmentSchema = z
  .strictObject({
    project: z.string().regex(SHORT_NAME, SHORT_NAME_RULE).describe("Prefix of every physical name; the Project tag"),
    region: z
      .enum(REGIONS, { error: `must be one of: ${REGIONS.join(", ")}` })
      .describe("AWS region; Seoul (ap-northeast-2) is the home region"),
    accountId: z
      .string()
      .regex(/^\d{12}$/, "must be a 12-digit AWS account id")
      .optional()
      .describe("When set, Terraform refuses to run against any other AWS account"),
    network,
    app,
    database,
    state: state.default({ backend: "local" }),
    tags: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z0-9 _.:/=+@-]{1,128}$/, "must be 1 to 128 letters, digits, spaces or _.:/=+-@")
          .refine((key) => !(RESERVED_TAG_KEYS as readonly string[]).includes(key), {
            error: `is set by the project itself (reserved: ${RESERVED_TAG_KEYS.join(", ")})`,
          }),
        z.string().max(256, "must be at most 256 characters"),
      )
      .default({})
      .describe("Extra tags on every resource (cost centre, owner)"),
  })
  .describe("One environment: environments/<name>/config.yaml");

/** An environment file as written, after defaults. */
export type EnvironmentFile = z.output<typeof environmentSchema>;
/** The input shape, as an editor sees it. */
export type EnvironmentFileInput = z.input<typeof environmentSchema>;
export type NatStrategy = EnvironmentFile["network"]["natGateways"];

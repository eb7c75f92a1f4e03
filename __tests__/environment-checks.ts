import * as fs from "node:fs";
import * as path from "node:path";
import { loadEnvironments, type EnvironmentConfig } from "../src/config/load";
import { availabilityZonesOf } from "../src/config/regions";
import { architectureDoc, architectureDocPath } from "../src/ops/architecture-docs";
import { ciMatrix, deployChain } from "../src/ops/ci-environments";
import { DATA_HOLDING_TYPES, STATELESS_TYPES, isAmiPinRecord } from "../src/ops/plan-review";
import { synthesizeDocuments } from "../src/ops/synthesized";
import { POLICIES } from "../src/policy";
import type { StackDocument } from "../src/policy/types";
import { Synthesized } from "./helpers";
import { SHIPPED_ENVIRONMENTS, shippedStack } from "./shipped";

// The checks every environment folder must pass, as functions of a project on disk (its
// environments/ and docs/), so that they run over whatever folders exist: environments.test.ts
// runs them over this project's folders, new-environment.test.ts over a copied folder in a
// temporary project. Each check returns its problems, one line each; none means it holds.

/** A project's environment folders, validated, each synthesized as `npm run synth` builds it. */
export interface CheckedProject {
  /** The folder holding `environments/` and `docs/`. */
  readonly root: string;
  /** Every environment folder, validated together (the cross-environment rules included). */
  readonly environments: readonly EnvironmentConfig[];
  /** The synthesized stack of each environment checked (by name). */
  readonly documents: ReadonlyMap<string, StackDocument>;
}

/**
 * Loads every environment folder under `root/environments` (throwing their problems, as a synth
 * would) and synthesizes `only` those (default: all), in one app, through `app.synth()`.
 */
export function checkedProject(root: string, only?: readonly string[]): CheckedProject {
  const environments = loadEnvironments({ dir: path.join(root, "environments") });
  const checked = only ? environments.filter((env) => only.includes(env.name)) : environments;
  return { root, environments, documents: synthesizeDocuments(checked) };
}

/** This project's own folders, read from the run's shared synthesis (`__tests__/shipped.ts`). */
export function shippedProject(): CheckedProject {
  return {
    root: path.join(__dirname, ".."),
    environments: SHIPPED_ENVIRONMENTS,
    documents: new Map(SHIPPED_ENVIRONMENTS.map((env) => [env.name, shippedStack(env.name).doc as StackDocument])),
  };
}

/** One check of one environment: its problems, or none. */
export type EnvironmentCheck = (env: EnvironmentConfig, project: CheckedProject) => string[];

const parsed = new WeakMap<StackDocument, Synthesized>();
/** The environment's stack with the helper's lookups (made once per document). */
function jsonOf(project: CheckedProject, env: EnvironmentConfig): Synthesized {
  const doc = project.documents.get(env.name)!;
  let json = parsed.get(doc);
  if (!json) {
    json = new Synthesized(JSON.stringify(doc));
    parsed.set(doc, json);
  }
  return json;
}

/** `problem` when `holds` is false. */
const unless = (holds: boolean, problem: string): string[] => (holds ? [] : [problem]);

/** Every check, by what it guarantees (the test names). */
export const ENVIRONMENT_CHECKS: Readonly<Record<string, EnvironmentCheck>> = {
  "its layout's tiers are present, and only those": (env, project) => {
    const json = jsonOf(project, env);
    const counts = {
      instance: json.countOf("aws_instance"),
      asg: json.countOf("aws_autoscaling_group"),
      alb: json.countOf("aws_lb"),
      rds: json.countOf("aws_db_instance"),
    };
    const expected = {
      "single-server": { instance: 1, asg: 0, alb: 0, rds: 0 },
      "app-db-split": { instance: 1, asg: 0, alb: 0, rds: 1 },
      "load-balanced": { instance: 0, asg: 1, alb: 1, rds: 1 },
    }[env.layout];
    return unless(
      JSON.stringify(counts) === JSON.stringify(expected),
      `layout ${env.layout} should give ${JSON.stringify(expected)}, got ${JSON.stringify(counts)}`,
    );
  },

  "nothing but the internet-facing tier admits 0.0.0.0/0, never on SSH; the database admits security groups only": (
    env,
    project,
  ) => {
    const json = jsonOf(project, env);
    const rules = json.resources("aws_vpc_security_group_ingress_rule");
    const groups = json.resources("aws_security_group");
    // the load balancer's group where there is one, else the app server's (nginx answers clients)
    const facing = groups.find((g) => g.values.tags.Name.endsWith(env.layout === "load-balanced" ? "-alb" : "-app"));
    const world = rules.filter((r) => r.values.cidr_ipv4 === "0.0.0.0/0" || r.values.cidr_ipv6 === "::/0");
    const open = [
      ...(facing ? [] : [`no internet-facing security group (${env.layout})`]),
      ...world
        .filter((r) => r.values.security_group_id !== `\${aws_security_group.${facing?.name}.id}`)
        .map(
          (r) =>
            `${r.name} opens ${r.values.from_port}-${r.values.to_port} of ${r.values.security_group_id} to the internet`,
        ),
      ...world
        .filter((r) => ![80, 443].includes(r.values.from_port) || r.values.to_port !== r.values.from_port)
        .map((r) => `${r.name} opens ${r.values.from_port}-${r.values.to_port} to the internet`),
      // rules written inside a group would escape the checks above
      ...groups.filter((g) => g.values.ingress !== undefined).map((g) => `${g.name} has inline ingress rules`),
      ...json.resources("aws_security_group_rule").map((r) => `${r.name} is a legacy aws_security_group_rule`),
    ];
    const db = groups.find((g) => g.values.tags.Name.endsWith("-db"));
    const dbByCidr = db
      ? rules
          .filter((r) => r.values.security_group_id === `\${aws_security_group.${db.name}.id}`)
          .filter((r) => r.values.referenced_security_group_id === undefined || r.values.cidr_ipv4 !== undefined)
          .map((r) => `${r.name} admits a CIDR to the database`)
      : [];
    return [...open, ...dbByCidr];
  },

  "the provider and every subnet are in its region": (env, project) => {
    const json = jsonOf(project, env);
    const zones = json.resources("aws_subnet").map((s) => s.values.availability_zone as string);
    return [
      ...unless(
        json.doc.provider.aws[0].region === env.region,
        `provider region is ${json.doc.provider.aws[0].region}`,
      ),
      ...zones
        .filter((zone) => !availabilityZonesOf(env.region).includes(zone))
        .map((zone) => `a subnet is in ${zone}`),
    ];
  },

  "one subnet per tier per AZ, across at least two AZs": (env, project) => {
    const json = jsonOf(project, env);
    const azs = env.network.availabilityZones;
    return [
      ...unless(azs.length >= 2, `only ${azs.length} AZ(s)`),
      ...unless(
        json.countOf("aws_subnet") === 3 * azs.length,
        `${json.countOf("aws_subnet")} subnets for ${azs.length} AZs`,
      ),
      ...["public", "app", "data"].flatMap((tier) => {
        const spread = new Set(
          json
            .resources("aws_subnet")
            .filter((s) => s.values.tags.Tier === tier)
            .map((s) => s.values.availability_zone),
        );
        return unless(
          spread.size === azs.length && azs.every((az) => spread.has(az)),
          `the ${tier} tier spans ${[...spread].join(", ")}`,
        );
      }),
    ];
  },

  "NAT gateways follow its strategy": (env, project) => {
    const expected = { single: 1, "per-az": env.network.availabilityZones.length, none: 0 }[env.network.natGateways];
    const count = jsonOf(project, env).countOf("aws_nat_gateway");
    return unless(count === expected, `natGateways ${env.network.natGateways} should give ${expected}, got ${count}`);
  },

  "every resource is tagged through the provider and names itself": (env, project) => {
    const json = jsonOf(project, env);
    const tags = json.doc.provider.aws[0].default_tags[0].tags;
    const named = ["aws_vpc", "aws_subnet", "aws_nat_gateway", "aws_internet_gateway", "aws_route_table", "aws_eip"];
    return [
      ...unless(
        tags.Project === env.project && tags.Environment === env.name && tags.ManagedBy === "cdktf",
        `default tags are ${JSON.stringify(tags)}`,
      ),
      ...named.flatMap((type) =>
        json
          .resources(type)
          .filter((r) => !String(r.values.tags?.Name).startsWith(`${env.project}-${env.name}-`))
          .map((r) => `${type}.${r.name} is named ${r.values.tags?.Name}`),
      ),
    ];
  },

  "its state is its own: no other environment writes the same place": (env, project) => {
    const where = (doc: StackDocument | undefined) => JSON.stringify(doc?.terraform?.backend ?? doc?.terraform?.cloud);
    const mine = where(project.documents.get(env.name));
    return [...project.documents]
      .filter(([name, doc]) => name !== env.name && where(doc) === mine)
      .map(([name]) => `shares its state with ${name}: ${mine}`);
  },

  "it passes every guardrail policy, and most of them apply": (env, project) => {
    const doc = project.documents.get(env.name)!;
    const results = POLICIES.map((p) => ({ id: p.id, result: p.check(doc, { production: env.production }) }));
    const failed = results
      .filter(({ result }) => result.status === "non-compliant")
      .map(({ id, result }) => `${id}: ${result.status === "non-compliant" ? result.findings.join("; ") : ""}`);
    const compliant = results.filter(({ result }) => result.status === "compliant").length;
    return [...failed, ...unless(compliant >= 3, `only ${compliant} policies apply: the check would be vacuous`)];
  },

  "its alarms tell its folder's addresses, and it has a dashboard": (env, project) => {
    const json = jsonOf(project, env);
    const endpoints = json
      .resources("aws_sns_topic_subscription")
      .map((s) => s.values.endpoint as string)
      .sort();
    return [
      ...unless(
        JSON.stringify(endpoints) === JSON.stringify([...env.monitoring.alarmEmails].sort()),
        `subscribers ${endpoints.join(", ")} are not monitoring.alarmEmails`,
      ),
      ...unless(json.countOf("aws_cloudwatch_metric_alarm") > 0, "no alarms"),
      ...unless(json.countOf("aws_cloudwatch_dashboard") === 1, "no dashboard"),
    ];
  },

  "every resource type it creates is reviewed by the destroy guard": (env, project) =>
    Object.entries(project.documents.get(env.name)!.resource ?? {})
      .filter(([type, resources]) => !Object.values(resources as object).every((r) => isAmiPinRecord(type, r)))
      .map(([type]) => type)
      .filter((type) => !(type in DATA_HOLDING_TYPES) && !(type in STATELESS_TYPES))
      .map(
        (type) =>
          `${type} is neither in DATA_HOLDING_TYPES nor in STATELESS_TYPES (src/ops/plan-review.ts): review it and add it to one, with the reason`,
      ),

  "docs/architecture-<env>.md is what npm run diagram writes": (env, project) => {
    const file = architectureDocPath(env.name);
    const full = path.join(project.root, file);
    const committed = fs.existsSync(full) ? fs.readFileSync(full, "utf8") : undefined;
    if (committed === undefined) return [`${file} is missing: run npm run diagram`];
    return unless(
      committed === architectureDoc(env, project.documents.get(env.name)!),
      `${file} is stale: run npm run diagram`,
    );
  },

  "the CI matrix and the deploy chain include it": (env, project) => [
    ...unless(
      ciMatrix(project.environments).include.some((leg) => leg.environment === env.name),
      "missing from the pull-request and drift matrix",
    ),
    ...unless(deployChain(project.environments).includes(env.name), "missing from the deploy chain"),
  ],

  "its config.yaml points editors at the schema": (env, project) => {
    const first = fs
      .readFileSync(path.join(project.root, "environments", env.name, "config.yaml"), "utf8")
      .split("\n")[0];
    return unless(
      first === "# yaml-language-server: $schema=../schema.json",
      `its first line is ${JSON.stringify(first)}`,
    );
  },
};

/** Every problem of one environment, each prefixed with the check that found it. */
export function environmentProblems(env: EnvironmentConfig, project: CheckedProject): string[] {
  return Object.entries(ENVIRONMENT_CHECKS).flatMap(([name, check]) =>
    check(env, project).map((problem) => `${name}: ${problem}`),
  );
}

import { resourcesOf, verdict, type PolicyContext, type PolicyResult, type StackDocument } from "./types";

const WORLD = ["0.0.0.0/0", "::/0"];
const ADMIN_PORTS = [22, 3389];

/** One ingress permission, however it is written: its own resource, a group's inline block or a legacy rule. */
interface Ingress {
  readonly address: string;
  /** Lowercase: `tcp`, `udp`, `icmp`, `-1`/`all` (every protocol), or a number. */
  readonly protocol: string;
  readonly fromPort: number;
  readonly toPort: number;
  readonly sources: readonly string[];
}

/** Protocols whose from/to "ports" are ICMP types and codes: no service listens on them. */
const ICMP = ["icmp", "1", "icmpv6", "58"];
const ALL_PROTOCOLS = ["-1", "all"];

/**
 * Every ingress permission of `doc`'s security groups, in each of the ways Terraform writes one,
 * and what cannot be read (rules given as a token or a dynamic block): those are findings, since
 * a rule that cannot be read cannot be cleared.
 */
function ingressPermissions(doc: StackDocument): { permissions: Ingress[]; unreadable: string[] } {
  const sources = (r: Record<string, any>) =>
    [r.cidr_ipv4, r.cidr_ipv6, ...(r.cidr_blocks ?? []), ...(r.ipv6_cidr_blocks ?? [])].filter(
      (cidr): cidr is string => typeof cidr === "string",
    );
  const permission = (address: string, r: Record<string, any>): Ingress => ({
    address,
    protocol: String(r.ip_protocol ?? r.protocol).toLowerCase(),
    fromPort: Number(r.from_port),
    toPort: Number(r.to_port),
    sources: sources(r),
  });
  const unreadable: string[] = [];
  const groups = [...resourcesOf(doc, "aws_security_group"), ...resourcesOf(doc, "aws_default_security_group")];
  const inline = groups.flatMap((g) => {
    if (g.values.dynamic?.ingress !== undefined) unreadable.push(`${g.address} has dynamic ingress blocks`);
    const blocks = g.values.ingress ?? [];
    if (!Array.isArray(blocks)) {
      unreadable.push(`${g.address} has ingress given as a value, not blocks`);
      return [];
    }
    return (blocks as Record<string, any>[]).map((block, i) => permission(`${g.address}.ingress[${i}]`, block));
  });
  return {
    permissions: [
      ...resourcesOf(doc, "aws_vpc_security_group_ingress_rule").map((r) => permission(r.address, r.values)),
      ...resourcesOf(doc, "aws_security_group_rule")
        .filter((r) => r.values.type === "ingress")
        .map((r) => permission(r.address, r.values)),
      ...inline,
    ],
    unreadable: unreadable.map(
      (what) => `${what}: write each rule as an aws_vpc_security_group_ingress_rule, which can be checked`,
    ),
  };
}

/**
 * No security group rule admits SSH (22) or RDP (3389) from the whole internet, whether written as
 * its own resource, inside a group or the VPC's default group (`ingress` blocks) or as a legacy
 * `aws_security_group_rule`.
 */
export function noAdminPortsFromInternet(doc: StackDocument): PolicyResult {
  const { permissions, unreadable } = ingressPermissions(doc);
  const opens = (r: Ingress) =>
    ALL_PROTOCOLS.includes(r.protocol) ||
    (!ICMP.includes(r.protocol) && ADMIN_PORTS.some((p) => r.fromPort <= p && p <= r.toPort));
  const findings = permissions
    .filter((r) => r.sources.some((cidr) => WORLD.includes(cidr)))
    .filter(opens)
    .map(
      (r) =>
        `${r.address} opens ${r.fromPort}-${r.toPort} to ${r.sources.filter((cidr) => WORLD.includes(cidr)).join(", ")}`,
    );
  return verdict(permissions.length + unreadable.length, [...findings, ...unreadable]);
}

/** No RDS instance is publicly accessible. */
export function dbNotPublic(doc: StackDocument): PolicyResult {
  const dbs = resourcesOf(doc, "aws_db_instance");
  return verdict(
    dbs.length,
    dbs.filter((d) => d.values.publicly_accessible !== false).map((d) => `${d.address} is publicly accessible`),
  );
}

/** Every RDS instance encrypts its storage. */
export function dbStorageEncrypted(doc: StackDocument): PolicyResult {
  const dbs = resourcesOf(doc, "aws_db_instance");
  return verdict(
    dbs.length,
    dbs.filter((d) => d.values.storage_encrypted !== true).map((d) => `${d.address} storage is not encrypted`),
  );
}

/** Every EC2 root and data volume, from an instance or a launch template, is encrypted. */
export function volumesEncrypted(doc: StackDocument): PolicyResult {
  const instances = resourcesOf(doc, "aws_instance");
  const templates = resourcesOf(doc, "aws_launch_template");
  const findings = [
    ...instances
      .filter((i) => i.values.root_block_device?.encrypted !== true)
      .map((i) => `${i.address} root volume is not encrypted`),
    ...instances.flatMap((i) =>
      ((i.values.ebs_block_device ?? []) as Array<Record<string, any>>)
        .filter((v) => v.encrypted !== true)
        .map((v) => `${i.address} volume ${v.device_name} is not encrypted`),
    ),
    ...templates.flatMap((t) => {
      const mappings = (t.values.block_device_mappings ?? []) as Array<Record<string, any>>;
      if (mappings.length === 0)
        return [`${t.address} does not set its volumes (the AMI's defaults may be unencrypted)`];
      return mappings
        .filter((m) => String(m.ebs?.encrypted) !== "true")
        .map((m) => `${t.address} volume ${m.device_name} is not encrypted`);
    }),
  ];
  return verdict(instances.length + templates.length, findings);
}

/** Every instance and launch template requires IMDSv2 tokens (IMDSv1 is off). */
export function imdsV2Required(doc: StackDocument): PolicyResult {
  const subjects = [...resourcesOf(doc, "aws_instance"), ...resourcesOf(doc, "aws_launch_template")];
  return verdict(
    subjects.length,
    subjects
      .filter((s) => s.values.metadata_options?.http_tokens !== "required")
      .map((s) => `${s.address} allows IMDSv1`),
  );
}

/** Every Application Load Balancer drops invalid HTTP header fields. */
export function albDropsInvalidHeaders(doc: StackDocument): PolicyResult {
  const albs = resourcesOf(doc, "aws_lb").filter(
    (lb) => (lb.values.load_balancer_type ?? "application") === "application",
  );
  return verdict(
    albs.length,
    albs
      .filter((lb) => lb.values.drop_invalid_header_fields !== true)
      .map((lb) => `${lb.address} passes invalid header fields`),
  );
}

/** In production, every RDS instance has deletion protection and Terraform's prevent_destroy. */
export function prodDbDeletionProtection(doc: StackDocument, context: PolicyContext): PolicyResult {
  if (!context.production) return { status: "not-applicable" };
  const dbs = resourcesOf(doc, "aws_db_instance");
  return verdict(
    dbs.length,
    dbs
      .filter((d) => d.values.deletion_protection !== true || d.values.lifecycle?.prevent_destroy !== true)
      .map((d) => `${d.address} can be deleted (deletion_protection and prevent_destroy must both be on)`),
  );
}

/** In production, every RDS instance keeps a Multi-AZ standby. */
export function prodDbMultiAz(doc: StackDocument, context: PolicyContext): PolicyResult {
  if (!context.production) return { status: "not-applicable" };
  const dbs = resourcesOf(doc, "aws_db_instance");
  return verdict(
    dbs.length,
    dbs.filter((d) => d.values.multi_az !== true).map((d) => `${d.address} is single-AZ`),
  );
}

/** Remote state is encrypted and locked (S3: `encrypt` and `use_lockfile`; HCP Terraform does both). */
export function stateEncryptedAndLocked(doc: StackDocument): PolicyResult {
  const s3 = doc.terraform?.backend?.s3;
  if (!s3) return { status: "not-applicable" };
  const findings = [
    ...(s3.encrypt === true ? [] : ["terraform.backend.s3 does not set encrypt = true"]),
    ...(s3.use_lockfile === true || s3.dynamodb_table ? [] : ["terraform.backend.s3 has no locking (use_lockfile)"]),
  ];
  return verdict(1, findings);
}

/** Every CloudWatch alarm notifies an SNS topic both when it fires and when it recovers. */
export function alarmsNotify(doc: StackDocument): PolicyResult {
  const alarms = resourcesOf(doc, "aws_cloudwatch_metric_alarm");
  const notifies = (actions: unknown) =>
    Array.isArray(actions) &&
    actions.some((a) => typeof a === "string" && /^(arn:aws:sns:|\$\{aws_sns_topic\.)/.test(a));
  const findings = alarms.flatMap(({ address, values: a }) => [
    ...(notifies(a.alarm_actions) ? [] : [`${address} notifies nobody when it fires`]),
    ...(notifies(a.ok_actions) ? [] : [`${address} notifies nobody when it recovers`]),
  ]);
  return verdict(alarms.length, findings);
}

/**
 * Every SNS topic is encrypted with a customer-managed KMS key: unencrypted topics leave messages
 * in plain text at rest, and CloudWatch alarms cannot publish to one using `alias/aws/sns`.
 */
export function topicsEncryptedWithCustomerKey(doc: StackDocument): PolicyResult {
  const topics = resourcesOf(doc, "aws_sns_topic");
  const findings = topics.flatMap(({ address, values: t }) =>
    !t.kms_master_key_id
      ? [`${address} is not encrypted`]
      : String(t.kms_master_key_id).includes("alias/aws/sns")
        ? [`${address} uses the AWS-managed key alias/aws/sns, which CloudWatch alarms cannot publish through`]
        : [],
  );
  return verdict(topics.length, findings);
}

import { cidrContains, isNetworkCidr } from "../cidr";
import { shown } from "./errors";
import type { EnvironmentConfig } from "./load";

/**
 * Values copied from documentation that must never reach an apply unnoticed.
 *
 * - `placeholder`: AWS's documentation account 123456789012, an all-zero certificate id, and
 *   example.com / example.org addresses and domains. An error in a production environment (at
 *   synth, before any stack exists), a printed warning elsewhere.
 * - `example`: other names reserved for documentation (AWS's example account 111122223333,
 *   example.net, the .example/.test/.invalid/.localhost top-level domains, RFC 5737 address
 *   ranges). Printed as a warning in every environment, production included: the shipped prod
 *   uses them as values that are obviously yours to replace, and its example `accountId` makes
 *   Terraform refuse every real account's credentials until you do.
 */
export type FindingKind = "placeholder" | "example";

export interface PlaceholderFinding {
  readonly kind: FindingKind;
  /** The field, as `environments/<env>: <field> ...` names it (`monitoring.alarmEmails[0]`). */
  readonly field: string;
  /** `<field> is ...: put ... (got ...)`, without the folder. */
  readonly message: string;
}

/** AWS's documentation account, which every copied snippet carries. */
export const DOCUMENTATION_ACCOUNT = "123456789012";
/** Other accounts AWS's documentation uses; none is anyone's real account. */
export const EXAMPLE_ACCOUNTS = ["111122223333", "444455556666", "777788889999", "210987654321"];

const PLACEHOLDER_DOMAINS = ["example.com", "example.org"];
const EXAMPLE_DOMAINS = ["example.net"];
const EXAMPLE_TLDS = ["example", "test", "invalid", "localhost"];
/** RFC 5737: TEST-NET-1, -2 and -3, for documentation only. */
const DOCUMENTATION_RANGES = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];

const ACCOUNT_HOW = "put your AWS account's 12-digit id (aws sts get-caller-identity --query Account)";

/** Whether a domain name (or an email address's domain) is reserved for documentation. */
export function domainKind(name: string): FindingKind | undefined {
  const host = name.toLowerCase().replace(/^.*@/, "").replace(/\.$/, "");
  const within = (zone: string) => host === zone || host.endsWith(`.${zone}`);
  if (PLACEHOLDER_DOMAINS.some(within)) return "placeholder";
  if (EXAMPLE_DOMAINS.some(within) || EXAMPLE_TLDS.some(within)) return "example";
  return undefined;
}

/** Every documentation value in an environment's (parsed) file. */
export function placeholderFindings(env: EnvironmentConfig): PlaceholderFinding[] {
  const findings: PlaceholderFinding[] = [];
  const add = (kind: FindingKind, field: string, value: unknown, why: string, what: string) =>
    findings.push({ kind, field, message: `${field} is ${why}: ${what} (got ${shown(value)})` });

  if (env.accountId === DOCUMENTATION_ACCOUNT) {
    add("placeholder", "accountId", env.accountId, "AWS's documentation account, a placeholder", ACCOUNT_HOW);
  } else if (env.accountId && EXAMPLE_ACCOUNTS.includes(env.accountId)) {
    add(
      "example",
      "accountId",
      env.accountId,
      "an example account from AWS's documentation, so Terraform refuses every real account's credentials",
      ACCOUNT_HOW,
    );
  }

  const arn = env.loadBalancer.certificateArn;
  if (arn) {
    const [, , , region, account, resource] = arn.split(":");
    const id = resource?.split("/")[1] ?? "";
    // All zeros, but for the UUID's version and variant digits (00000000-0000-4000-8000-000000000000).
    const zeroId = /^0{8}-0{4}-[0-9a-f]0{3}-[0-9a-f]0{3}-0{12}$/.test(id);
    if (zeroId || account === DOCUMENTATION_ACCOUNT) {
      add(
        "placeholder",
        "loadBalancer.certificateArn",
        arn,
        `a placeholder (${zeroId ? "an all-zero certificate id" : `account ${DOCUMENTATION_ACCOUNT}`})`,
        `put the ARN of your ACM certificate in ${region}, or remove it and set domain.name to have one issued and validated`,
      );
    }
  }

  for (const [field, value] of [
    ["domain.name", env.domain?.name],
    ["domain.hostedZone", env.domain?.hostedZone],
  ] as const) {
    const kind = value ? domainKind(value) : undefined;
    if (kind) {
      add(
        kind,
        field,
        value,
        `a ${kind === "placeholder" ? "placeholder" : "name reserved for examples"} that no one can have a Route 53 zone for`,
        field === "domain.name"
          ? "put your site's name, in a public hosted zone of this account"
          : "put your public hosted zone's name",
      );
    }
  }

  env.monitoring.alarmEmails.forEach((email, i) => {
    const kind = domainKind(email);
    if (kind) {
      add(
        kind,
        `monitoring.alarmEmails[${i}]`,
        email,
        `an address at a ${kind === "placeholder" ? "placeholder" : "reserved example"} domain, which receives no mail, so alarms would page no one`,
        "put the address of whoever must be told",
      );
    }
  });

  (env.access.ssh?.allowedCidrs ?? []).forEach((cidr, i) => {
    if (!isNetworkCidr(cidr)) return; // reported by the rules
    if (DOCUMENTATION_RANGES.some((doc) => cidrContains(doc, cidr))) {
      add(
        "example",
        `access.ssh.allowedCidrs[${i}]`,
        cidr,
        "a range reserved for documentation (RFC 5737) that no admin connects from",
        "put your admin network's CIDR",
      );
    }
  });
  return findings;
}

/**
 * What a synth prints as warnings for an environment: every finding outside production; in
 * production only the `example` ones (its placeholders are errors, see `placeholderProblems`).
 */
export function placeholderWarnings(env: EnvironmentConfig): string[] {
  return placeholderFindings(env)
    .filter((f) => !env.production || f.kind === "example")
    .map((f) => f.message);
}

/** The placeholders that stop a production environment at synth. */
export function placeholderProblems(env: EnvironmentConfig): string[] {
  return env.production
    ? placeholderFindings(env)
        .filter((f) => f.kind === "placeholder")
        .map((f) => f.message)
    : [];
}

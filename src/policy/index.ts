import * as rules from "./rules";
import type { PolicyContext, PolicyResult, StackDocument } from "./types";

/** A guardrail: a pure rule over a stack's JSON, and the config exception (if any) that may waive it. */
export interface Policy {
  readonly id: keyof typeof rules;
  readonly check: (doc: StackDocument, context: PolicyContext) => PolicyResult;
  /** The `exceptions[].rule` of the environment config that waives this policy. @default - not waivable */
  readonly waivedBy?: string;
}

/** Every guardrail, run on every synthesized stack before the output is swapped into place. */
export const POLICIES: readonly Policy[] = [
  { id: "noAdminPortsFromInternet", check: rules.noAdminPortsFromInternet },
  { id: "dbNotPublic", check: rules.dbNotPublic },
  { id: "dbStorageEncrypted", check: rules.dbStorageEncrypted },
  { id: "volumesEncrypted", check: rules.volumesEncrypted },
  { id: "imdsV2Required", check: rules.imdsV2Required },
  { id: "albDropsInvalidHeaders", check: rules.albDropsInvalidHeaders },
  { id: "prodDbDeletionProtection", check: rules.prodDbDeletionProtection, waivedBy: "database.deletionProtection" },
  { id: "prodDbMultiAz", check: rules.prodDbMultiAz, waivedBy: "database.multiAz" },
  { id: "stateEncryptedAndLocked", check: rules.stateEncryptedAndLocked },
  { id: "alarmsNotify", check: rules.alarmsNotify },
  { id: "topicsEncryptedWithCustomerKey", check: rules.topicsEncryptedWithCustomerKey },
];

export interface StackPolicyInput {
  readonly stack: string;
  readonly doc: StackDocument;
  readonly context: PolicyContext;
  /** Config rules the environment waives on purpose (`exceptions[].rule`). */
  readonly waived: readonly string[];
}

/** One line per finding, `<stack>: <policy>: <finding>`, over every stack; empty when all comply. */
export function policyViolations(
  stacks: readonly StackPolicyInput[],
  policies: readonly Policy[] = POLICIES,
): string[] {
  return stacks.flatMap(({ stack, doc, context, waived }) =>
    policies
      .filter((policy) => !(policy.waivedBy && waived.includes(policy.waivedBy)))
      .flatMap((policy) => {
        const result = policy.check(doc, context);
        return result.status === "non-compliant" ? result.findings.map((f) => `${stack}: ${policy.id}: ${f}`) : [];
      }),
  );
}

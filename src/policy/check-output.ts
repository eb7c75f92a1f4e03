import * as fs from "node:fs";
import * as path from "node:path";
import type { EnvironmentConfig } from "../config/load";
import { policyViolations, type StackPolicyInput } from "./index";
import type { StackDocument } from "./types";

/** Thrown when synthesized stacks break a guardrail; lists every finding. */
export class PolicyError extends Error {
  constructor(public readonly violations: readonly string[]) {
    super(`guardrail policies failed (${violations.length}):\n  ${violations.join("\n  ")}`);
    this.name = "PolicyError";
  }
}

/**
 * Runs every policy over the stacks synthesized into `outdir` (a cdktf output folder), each with
 * its environment's production flag and waivers; stacks of no environment (the state bucket) are
 * checked as non-production. Throws `PolicyError` listing every violation.
 */
export function checkSynthesizedStacks(
  outdir: string,
  stacks: readonly string[],
  environments: readonly EnvironmentConfig[],
): void {
  const inputs: StackPolicyInput[] = stacks.map((stack) => {
    const env = environments.find((e) => e.name === stack);
    const doc = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8")) as StackDocument;
    return {
      stack,
      doc,
      context: { production: env?.production ?? false },
      waived: env?.exceptions.map((e) => e.rule) ?? [],
    };
  });
  const violations = policyViolations(inputs);
  if (violations.length > 0) throw new PolicyError(violations);
}

/** A synthesized stack's Terraform JSON, as far as policies read it. */
export interface StackDocument {
  readonly resource?: Record<string, Record<string, Record<string, any>>>;
  readonly terraform?: { readonly backend?: Record<string, Record<string, any>>; readonly cloud?: Record<string, any> };
}

/** What a policy knows of the environment besides the JSON. */
export interface PolicyContext {
  /** The environment is production (`production: true`). */
  readonly production: boolean;
}

/** A policy's verdict on one stack; `findings` name each offending resource and why. */
export type PolicyResult =
  | { readonly status: "compliant" | "not-applicable" }
  | { readonly status: "non-compliant"; readonly findings: readonly string[] };

/** Every resource of one type, with its Terraform address. */
export function resourcesOf(doc: StackDocument, type: string): Array<{ address: string; values: Record<string, any> }> {
  return Object.entries(doc.resource?.[type] ?? {}).map(([name, values]) => ({ address: `${type}.${name}`, values }));
}

/** Folds per-resource findings into a verdict: none to look at, none wrong, or the wrong ones. */
export function verdict(checked: number, findings: string[]): PolicyResult {
  if (checked === 0) return { status: "not-applicable" };
  return findings.length === 0 ? { status: "compliant" } : { status: "non-compliant", findings };
}

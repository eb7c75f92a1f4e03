import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Lazy, TerraformResource, TerraformStack, Testing, Token } from "cdktf";
import { Construct } from "constructs";
import { PROJECT_ROOT } from "../../src/project-root";
import { expectSameFiles, bundleRecord } from "../helpers";
import {
  CDKTF_RESOLVE,
  IMPLEMENTATIONS,
  options,
  outcome,
  STAND_IN,
  synthesizeWith,
  type Cdktf,
} from "./cdktf-modules";

// cdktf's `resolve` (src/patches/cdktf-resolve.ts stands in for it, in the tests through
// __tests__/unit-runner/register.js and in the bundle every `npm run` runs): it must give what cdktf's own
// module gives, for every value, token and error, and cause the same side effects (references
// between stacks are created while resolving). Over the shipped environments whole:
// cdktf-resolve-shipped.test.ts.

/** The module the stand-in was written from (cdktf 0.21.0): another one must be read again first. */
const WRITTEN_FROM_SHA256 = "08c4dba33a40b05fd4f4c1957bd4102695c1b30df595bbb1ad1fb95fdc4a0382";

// ---- Tokens of every kind, in two stacks that reference each other ----

/**
 * An app whose stacks use every kind of value and token cdktf resolves: literals that look like
 * tokens or number tokens, string, number, list, number-list and map tokens, lazy values,
 * functions and operators, iterators (dynamic blocks, for expressions), overrides, and a
 * reference from one stack to another (resolving it in preparation adds an output and a remote
 * state). Built with the `cdktf` given, so that it runs against either implementation.
 */
function tokenCorpus(cdktf: Cdktf, outdir: string): InstanceType<Cdktf["App"]> {
  const { App, Fn, Lazy, Op, TerraformIterator, TerraformLocal, TerraformOutput, TerraformResource } = cdktf;
  const { TerraformStack, TerraformVariable, Token } = cdktf;

  class Thing extends TerraformResource {
    constructor(
      scope: InstanceType<Cdktf["TerraformStack"]>,
      id: string,
      private readonly attributes: Record<string, unknown>,
    ) {
      super(scope, id, { terraformResourceType: "thing", terraformGeneratorMetadata: { providerName: "thing" } });
    }
    protected synthesizeAttributes(): Record<string, unknown> {
      return this.attributes;
    }
  }

  const contextFields = (c: {
    suppressBraces?: boolean;
    ignoreEscapes?: boolean;
    warnEscapes?: boolean;
    iteratorContext?: string;
  }) => ({
    suppressBraces: c.suppressBraces,
    ignoreEscapes: c.ignoreEscapes,
    warnEscapes: c.warnEscapes,
    iteratorContext: c.iteratorContext,
  });
  const app = new App({ outdir, skipValidation: true });
  const origin = new TerraformStack(app, "origin");
  const name = new TerraformVariable(origin, "name", { type: "string", default: "demo" });
  const size = new TerraformVariable(origin, "size", { type: "number", default: 3 });
  const zones = new TerraformVariable(origin, "zones", { type: "list(string)", default: ["a", "c"] });
  const ports = new TerraformVariable(origin, "ports", { type: "list(number)" });
  const tags = new TerraformLocal(origin, "tags", { Team: "web", Size: size.numberValue });
  const iterator = TerraformIterator.fromList(zones.listValue);
  let produced = 0;
  // a resource of the same stack to refer to (a reference's braces depend on the context)
  const referenced = new Thing(origin, "Referenced", { plain: "x" });
  const bucket = new Thing(origin, "Bucket", {
    plain: "no tokens, ${literal} braces, 1e5 and 2E+3 and ami-0abc1e23, TfToken[ without a marker",
    escaped: `\${var.kept} then ${name.stringValue} then %{ if true }x%{ endif }`,
    number_in_text: `${size.numberValue} items, ${Token.asNumber(Lazy.numberValue({ produce: () => 7 }))} more`,
    number: Op.add(size.numberValue, 1),
    numbers: [1, 2.5, -3, 0, 1e21],
    booleans: [true, false],
    nothing: null,
    absent: undefined,
    list: zones.listValue,
    number_list: Token.asNumberList(ports.value),
    mixed_list: ["first", name.stringValue, undefined, ["nested", Fn.upper(name.stringValue)]],
    map: tags.asStringMap,
    map_in_object: { inner: tags.asAnyMap, sibling: "x" },
    [`key_${"plain"}`]: "plain key",
    // keys holding tokens: a string token, a number token inside text, a map key in a list
    [`key_${name.stringValue}`]: "string token in a key",
    [`n${size.numberValue}_items`]: "number token in a key",
    keyed_list: [{ [`m_${name.stringValue}`]: { [`deep_${size.numberValue}`]: [1, name.stringValue] } }],
    joined: Fn.join(",", zones.listValue),
    lookup: Fn.lookup(tags.asAnyMap, "Team", "none"),
    element: Fn.element(zones.listValue, 0),
    json: Fn.jsonencode({ a: name.stringValue, b: [1, "two", { c: size.numberValue }], d: "${raw}" }),
    raw: Fn.rawString("${not interpolated}"),
    conditional: Fn.conditional(Op.eq(size.numberValue, 3), "three", name.stringValue),
    lazy_string: Lazy.stringValue({ produce: () => `made ${++produced} times` }),
    lazy_any: Lazy.anyValue({ produce: () => ({ deep: [{ deeper: name.stringValue }], n: 1e-7 }) }),
    lazy_list: Lazy.listValue({ produce: () => ["l1", name.stringValue] }),
    for_list: iterator.forExpressionForList("upper(val)"),
    rule: iterator.dynamic({ zone: iterator.value, name: `${name.stringValue}-${iterator.value}` }),
    deep: { a: { b: { c: { d: [{ e: name.stringValue, f: 1 }] } } } },
    // a token that sets its context's fields, then resolves objects and arrays holding tokens: what
    // those see of the fields, told directly and through a reference, a raw string and an iterator
    inherited: Lazy.anyValue({
      produce: (context) => {
        context.suppressBraces = true;
        context.ignoreEscapes = true;
        context.warnEscapes = false;
        context.iteratorContext = "FOR_EXPRESSION";
        return context.resolve({
          seen: [{ deeper: Lazy.stringValue({ produce: (inner) => JSON.stringify(contextFields(inner)) }) }],
          reference: { ids: [referenced.getStringAttribute("id")] },
          raw: [[Fn.rawString("kept")]],
          iterated: { each: [iterator.value] },
        });
      },
    }),
  });
  bucket.addOverride("lifecycle.ignore_changes", ["tags"]);
  bucket.addOverride("extra.from_override", name.stringValue);
  origin.addOverride("terraform.required_version", ">= 1.10");
  new TerraformOutput(origin, "id", { value: bucket.getStringAttribute("id") });
  new TerraformOutput(origin, "count", { value: bucket.getNumberAttribute("count") });

  const consumer = new TerraformStack(app, "consumer");
  new Thing(consumer, "User", {
    // a reference into the other stack: an output there and a remote state here, made while preparing
    bucket_id: bucket.getStringAttribute("id"),
    bucket_arns: bucket.getListAttribute("arns"),
    bucket_size: bucket.getNumberAttribute("size"),
    text: `uses ${bucket.getStringAttribute("name")} of size ${bucket.getNumberAttribute("size")}`,
  });
  return app;
}

describe("the stand-in for cdktf's resolve", () => {
  test("was written from the module cdktf has now (after an upgrade, read cdktf's module again first)", () => {
    const sha256 = crypto.createHash("sha256").update(fs.readFileSync(CDKTF_RESOLVE)).digest("hex");
    expect(sha256).toBe(WRITTEN_FROM_SHA256);
  });

  test("synthesizes tokens of every kind, and a reference between stacks, to the same files as cdktf's module", () => {
    const fromCdktf = synthesizeWith("cdktf", tokenCorpus);
    const fromStandIn = synthesizeWith("stand-in", tokenCorpus);
    expectSameFiles(fromCdktf, fromStandIn);
    // the corpus really crossed stacks and really used the values above
    const consumer = String(fromCdktf.get("stacks/consumer/cdk.tf.json"));
    const origin = String(fromCdktf.get("stacks/origin/cdk.tf.json"));
    expect(consumer).toContain("terraform_remote_state");
    expect(origin).toContain("cross-stack-output-thing");
    expect(origin).toContain("${upper(var.name)}");
  });

  test("the project's stacks run cdktf's preparing pass where cdktf's module is in use, and refuse the reference it finds; they skip it where the stand-in is, which refuses the reference itself", () => {
    // (src/stacks/independent-stack.ts skips the pass only when its probe finds the stand-in)
    const borrowing = (cdktf: Cdktf, outdir: string) => {
      const app = new cdktf.App({ outdir });
      const { IndependentStack: Stack } =
        require("../../src/stacks/independent-stack") as typeof import("../../src/stacks/independent-stack");
      const thing = new cdktf.TerraformResource(new Stack(app, "origin"), "thing", {
        terraformResourceType: "terraform_data",
      });
      new cdktf.TerraformOutput(new Stack(app, "borrower"), "borrowed", { value: thing.getStringAttribute("id") });
      return app;
    };
    // cdktf's pass found the reference (it alone makes the stack depend on the other), and the
    // stack refused what the pass would have wired through a remote state
    expect(() => synthesizeWith("cdktf", borrowing)).toThrow(
      /^Stack "borrower" depends on stack "origin" \(a reference to one of its resources/,
    );
    expect(() => synthesizeWith("stand-in", borrowing)).toThrow(
      /^Stack "borrower" refers to terraform_data\.thing\.id of stack "origin"/,
    );
  });

  test("reads each property of an object once, as cdktf's module does (a getter may make a new token each time)", () => {
    const stack = new TerraformStack(Testing.app(), "getters");
    const reads = IMPLEMENTATIONS.map(([, implementation]) => {
      let count = 0;
      const value = {
        get made() {
          count++;
          return Lazy.stringValue({ produce: () => "made" });
        },
        get plain() {
          count++;
          return "plain";
        },
      };
      expect(implementation.resolve(value, options(stack, false))).toEqual({ made: "made", plain: "plain" });
      return count;
    });
    expect(reads[1]).toBe(reads[0]);
  });

  test.each([
    ["a function", () => ({ a: [{ b: () => 1 }] })],
    ["a construct", () => ({ a: { b: Testing.app() } })],
    ["a list token in a string's place", () => ({ a: Token.asList(Lazy.anyValue({ produce: () => ["x"] }))[0] })],
    ["a map token's placeholder value", () => ({ a: Token.STRING_MAP_TOKEN_VALUE })],
    ["a number map token's placeholder value", () => ({ a: [Token.NUMBER_MAP_TOKEN_VALUE] })],
    ["values nested 200 deep", () => nested(200, "leaf")],
    ["values nested 201 deep", () => nested(201, "leaf")],
    ["a plain value past the depth limit", () => nested(202, undefined)],
    ["a key that resolves to no string", () => ({ [Token.asString(Lazy.anyValue({ produce: () => undefined }))]: 1 })],
    [
      "a token that throws",
      () => ({
        a: Lazy.stringValue({
          produce: () => {
            throw new Error("not known yet");
          },
        }),
      }),
    ],
  ])("gives what cdktf's module gives for %s, error message included", (_what, make) => {
    const stack = new TerraformStack(Testing.app(), "errors");
    const value = make(); // one value (its tokens numbered once) for both
    const [expected, actual] = IMPLEMENTATIONS.map(([, implementation]) => outcome(implementation, () => value, stack));
    expect(actual).toStrictEqual(expected);
  });

  test("a resource's attribute resolved in a scope outside any stack throws cdktf's own error", () => {
    // (the stand-in's check of references between stacks leaves such a scope to cdktf)
    const app = Testing.app();
    const resource = new TerraformResource(new TerraformStack(app, "origin"), "thing", {
      terraformResourceType: "null_resource",
    });
    const value = { id: resource.getStringAttribute("id") };
    const loose = new Construct(app, "loose") as unknown as TerraformStack;
    const [expected, actual] = IMPLEMENTATIONS.map(([, implementation]) => outcome(implementation, () => value, loose));
    expect(actual).toStrictEqual(expected);
    expect(expected.error).toMatch(/root App as scope/);
  });

  test("finds the same tokens in a value as cdktf's module", () => {
    const stack = new TerraformStack(Testing.app(), "tokens");
    const a = Lazy.stringValue({ produce: () => "a" });
    const b = Lazy.anyValue({ produce: () => ({ nested: a }) });
    const value = () => ({ x: [a, "plain", { y: b }], z: `${a}-${Token.asNumber(b)}` });
    const [expected, actual] = IMPLEMENTATIONS.map(([, implementation]) => implementation.findTokens(stack, value));
    expect(actual).toEqual(expected);
    expect(actual.length).toBeGreaterThan(1);
  });

  test("the bundle npm run synth runs was built with the stand-in, not cdktf's module", () => {
    // global-setup.js ran main.ts through scripts/run.js, which records every input of the bundle
    const record = bundleRecord();
    expect(Object.keys(record.own)).toContain("src/patches/cdktf-resolve.ts");
    expect(Object.keys(record.deps).filter((input) => input.endsWith("cdktf/lib/tokens/private/resolve.js"))).toEqual(
      [],
    );
    expect(STAND_IN).toBe(path.join(PROJECT_ROOT, "src", "patches", "cdktf-resolve.ts"));
  });
});

/** `{ level: { level: ... value } }`, `depth` objects deep. */
function nested(depth: number, value: unknown): unknown {
  let result = value;
  for (let i = 0; i < depth; i++) result = { level: result };
  return result;
}

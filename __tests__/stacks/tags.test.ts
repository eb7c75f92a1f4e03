import { synthesizeDocuments } from "../../src/ops/synthesized";
import { MAX_ENVIRONMENT_TAGS } from "../../src/config/schema";
import { OBJECT_PROVIDER_ALIAS } from "../../src/stacks/aws-provider";
import { environment } from "../helpers";
import { SHIPPED_ENVIRONMENTS, shippedStack, unusedEnvironmentName } from "../shipped";

/**
 * Every shared and environment tag reaches every taggable resource a stack creates: directly
 * (the provider's default_tags), or through the Auto Scaling group, which default_tags do not
 * reach: the group's tags (propagated at launch) and the launch template's tag specifications tag
 * its servers, volumes and network interfaces as they are created, as a tag-enforcing SCP requires.
 */

const extra = environment(unusedEnvironmentName("tagged"), {
  tags: { CostCenter: "retail", DataClassification: "confidential", Owner: "platform" },
});
const environments = [...SHIPPED_ENVIRONMENTS, extra];
// The shipped environments as the run's shared synthesis wrote them (shipped.ts: `npm run synth`
// itself), and the extra one synthesized here the same way, through app.synth().
const documents = new Map<string, unknown>([
  ...SHIPPED_ENVIRONMENTS.map((env) => [env.name, shippedStack(env.name).doc] as const),
  ...synthesizeDocuments([extra]),
]);

/** The binding class of a Terraform resource type, found by its module, as the stacks import it. */
function binding(type: string): { prototype: object } {
  const module = require(`@cdktf/provider-aws/lib/${type.replace(/^aws_/, "").replace(/_/g, "-")}`);
  const found = Object.values<any>(module).find((c) => c?.tfResourceType === type);
  if (!found) throw new Error(`no binding for ${type}`);
  return found;
}
const hasArgument = (type: string, name: string) =>
  type.startsWith("aws_") && Object.getOwnPropertyDescriptor(binding(type).prototype, name) !== undefined;

const tagsOf = (blocks: { key: string; value: string; propagate_at_launch: boolean }[]) =>
  Object.fromEntries(blocks.map((b) => [b.key, b.value]));

describe.each(environments.map((e) => [e.name, e] as const))("%s", (name, env) => {
  const doc = documents.get(name)! as Record<string, any>;
  const shared = doc.provider.aws[0].default_tags[0].tags as Record<string, string>;

  test("the provider's default tags are the shared and the environment's tags", () => {
    expect(shared).toEqual({ ...env.tags, Project: env.project, Environment: env.name, ManagedBy: "cdktf" });
  });

  test("every taggable resource carries them, directly or through the group, and none overrides one; S3 objects the project's own", () => {
    let checked = 0;
    for (const [type, resources] of Object.entries<Record<string, any>>(doc.resource)) {
      for (const [id, values] of Object.entries<any>(resources)) {
        const where = `${type}.${id}`;
        if (type === "aws_autoscaling_group") {
          // default_tags never reach the group: its own tag blocks, each propagated at launch.
          expect({ where, tags: tagsOf(values.tag) }).toEqual({ where, tags: expect.objectContaining(shared) });
          for (const block of values.tag)
            expect({ where, block }).toEqual({ where, block: expect.objectContaining({ propagate_at_launch: true }) });
          checked++;
        } else if (type === "aws_s3_object") {
          // S3 takes 10 tags on an object: its provider sets no default tags, and it sets the
          // project's own and its Name itself
          expect({ where, provider: values.provider, tags: values.tags }).toEqual({
            where,
            provider: `aws.${OBJECT_PROVIDER_ALIAS}`,
            tags: { Project: env.project, Environment: env.name, ManagedBy: "cdktf", Name: expect.any(String) },
          });
          checked++;
        } else if (hasArgument(type, "tags")) {
          // Direct: the provider adds default_tags; a resource's own tags must not replace one.
          for (const key of Object.keys(values.tags ?? {})) {
            if (key in shared)
              expect({ where, key, value: values.tags[key] }).toEqual({ where, key, value: shared[key] });
          }
          checked++;
        }
        if (type === "aws_launch_template") {
          const specs = Object.fromEntries(values.tag_specifications.map((s: any) => [s.resource_type, s.tags]));
          for (const kind of ["instance", "volume", "network-interface"]) {
            expect({ where, kind, tags: specs[kind] }).toEqual({
              where,
              kind,
              tags: expect.objectContaining({ ...shared, Name: expect.any(String) }),
            });
          }
        }
        if (type === "aws_instance") {
          // Root volumes are tagged at creation only through volume_tags (default_tags come after).
          expect({ where, tags: values.volume_tags }).toEqual({ where, tags: expect.objectContaining(shared) });
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});

test("the group, its launch template and the single server are what default_tags would miss (the old gap)", () => {
  const prod = documents.get("prod")! as Record<string, any>;
  const template = Object.values<any>(prod.resource.aws_launch_template)[0];
  expect(template.tag_specifications.map((s: any) => s.resource_type).sort()).toEqual([
    "instance",
    "network-interface",
    "volume",
  ]);
  expect(hasArgument("aws_autoscaling_group", "tags")).toBe(false); // tag blocks only: default_tags cannot apply
  expect(hasArgument("aws_autoscaling_group", "tag")).toBe(true);
});

test("with as many tags as a config may add, no resource carries more than AWS takes: 10 on an S3 object, 50 elsewhere", () => {
  const keys = Array.from({ length: MAX_ENVIRONMENT_TAGS }, (_, i) => `Extra${i}`);
  const most = environment("most", { tags: Object.fromEntries(keys.map((key) => [key, "x"])) });
  const doc = synthesizeDocuments([most]).get("most") as Record<string, any>;
  const providers = Object.fromEntries(
    doc.provider.aws.map((p: any) => [p.alias ? `aws.${p.alias}` : "aws", p.default_tags?.[0]?.tags ?? {}]),
  );
  const counts: Record<string, number> = {};
  for (const [type, resources] of Object.entries<Record<string, any>>(doc.resource)) {
    for (const [id, values] of Object.entries<any>(resources)) {
      const own = values.tags ?? (values.tag ? tagsOf(values.tag) : undefined);
      if (own === undefined) continue;
      const defaults = type === "aws_autoscaling_group" ? {} : providers[values.provider ?? "aws"];
      counts[`${type}.${id}`] = Object.keys({ ...defaults, ...own }).length;
    }
  }
  const limit = (where: string) => (where.startsWith("aws_s3_object.") ? 10 : 50);
  expect(Object.entries(counts).filter(([where, count]) => count > limit(where))).toEqual([]);
  // the limit itself is what fills a subnet: one tag more and EC2 refuses it
  expect(Math.max(...Object.values(counts))).toBe(50);
  expect(Object.keys(counts).some((where) => where.startsWith("aws_s3_object."))).toBe(true);
  expect(Object.keys(counts).length).toBeGreaterThan(20);
});

import { addressOf, synthesizedResource, type ResourceChange, type SynthesizedStack } from "./plan-json";

// Why a plan rolls the app servers: a changed launch template makes a new version, and the Auto
// Scaling group replaces every server with an instance refresh. Pure: it reads the plan JSON and
// the synthesized stack, and names the cause, above all whether it is the change under review or
// a new Amazon Linux release that an unrelated change would carry along.

/** One launch template whose update rolls the servers, and why. */
export interface FleetRoll {
  readonly address: string;
  readonly constructPath?: string;
  /** Each cause, in plain words. */
  readonly causes: readonly string[];
}

/** Attributes that change with every new version, or only in tags, and roll nothing by themselves. */
const NOT_A_CAUSE = new Set(["latest_version", "default_version", "tags", "tags_all", "update_default_version"]);

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const shown = (value: unknown) => (value === undefined || value === null ? "(unknown until apply)" : String(value));

/** Every launch template the plan updates in a way that rolls the servers, with its causes. */
export function fleetRolls(changes: readonly ResourceChange[], stack: SynthesizedStack): FleetRoll[] {
  // The AMI pin (app.amiPinnedAt) replaced: its new value is read from AWS at apply.
  const pinBumped = changes.some(
    (rc) =>
      rc.type === "terraform_data" &&
      rc.change.actions.includes("create") &&
      rc.change.actions.includes("delete") &&
      /AmiPin/.test(synthesizedResource(stack, addressOf(rc))?.constructPath ?? rc.address),
  );
  const rolls: FleetRoll[] = [];
  for (const rc of changes) {
    if (rc.type !== "aws_launch_template" || !rc.change.actions.includes("update")) continue;
    const before = (rc.change.before ?? {}) as Record<string, unknown>;
    const after = (rc.change.after ?? {}) as Record<string, unknown>;
    const unknown = (rc.change.after_unknown ?? {}) as Record<string, unknown>;
    const changed = (key: string) => unknown[key] === true || !same(before[key], after[key]);
    const synthesized = synthesizedResource(stack, addressOf(rc));
    const followsAws = String(synthesized?.values.image_id ?? "").includes("data.aws_ssm_parameter.");
    const causes: string[] = [];
    if (changed("image_id")) {
      const move = `${shown(before.image_id)} -> ${shown(unknown.image_id === true ? undefined : after.image_id)}`;
      causes.push(
        pinBumped
          ? `the pinned AMI was bumped on purpose (app.amiPinnedAt changed): the servers move to the newest Amazon Linux 2023 (${move})`
          : followsAws
            ? `a new Amazon Linux 2023 release, NOT the change under review: AWS's public parameter now names another AMI (${move}); ` +
              "pin it (app.amiUpdates: pinned, production's default) to roll only when someone bumps it"
            : `app.ami changed (${move})`,
      );
    }
    if (changed("user_data")) {
      causes.push("the boot script changed: app.version or the servers' settings (the change under review)");
    }
    if (changed("instance_type"))
      causes.push(`app.instanceType changed (${shown(before.instance_type)} -> ${shown(after.instance_type)})`);
    const others = Object.keys({ ...before, ...after }).filter(
      (key) => !["image_id", "user_data", "instance_type"].includes(key) && !NOT_A_CAUSE.has(key) && changed(key),
    );
    if (others.length > 0) causes.push(`launch settings changed: ${others.sort().join(", ")}`);
    if (causes.length > 0) rolls.push({ address: rc.address, constructPath: synthesized?.constructPath, causes });
  }
  return rolls;
}

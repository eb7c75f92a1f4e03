import * as fs from "node:fs";
import * as path from "node:path";
import { POLICIES, policyViolations } from "../../src/policy";
import { checkSynthesizedStacks, PolicyError } from "../../src/policy/check-output";
import * as rules from "../../src/policy/rules";
import type { EnvironmentConfig } from "../../src/config/load";
import type { StackDocument } from "../../src/policy/types";
import { tempDir } from "../helpers";

// Documents built here by hand: the smallest JSON that shows each rule passing and failing.
const doc = (resource: Record<string, Record<string, Record<string, any>>>, terraform = {}): StackDocument => ({
  resource,
  terraform,
});
const production = { production: true };
const development = { production: false };
const ingress = (cidr: string, from: number, to = from) => ({
  aws_vpc_security_group_ingress_rule: { r: { cidr_ipv4: cidr, ip_protocol: "tcp", from_port: from, to_port: to } },
});
const db = (values: Record<string, any>) => ({
  aws_db_instance: {
    db: {
      publicly_accessible: false,
      storage_encrypted: true,
      multi_az: true,
      deletion_protection: true,
      lifecycle: { prevent_destroy: true },
      ...values,
    },
  },
});

describe("guardrail policies: each passes and fails", () => {
  test.each([
    ["noAdminPortsFromInternet", rules.noAdminPortsFromInternet(doc(ingress("0.0.0.0/0", 443))), "compliant"],
    ["noAdminPortsFromInternet", rules.noAdminPortsFromInternet(doc(ingress("203.0.113.0/24", 22))), "compliant"],
    ["noAdminPortsFromInternet", rules.noAdminPortsFromInternet(doc(ingress("0.0.0.0/0", 22))), "non-compliant"],
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(doc(ingress("0.0.0.0/0", 3000, 4000))),
      "non-compliant",
    ],
    ["noAdminPortsFromInternet", rules.noAdminPortsFromInternet(doc(ingress("0.0.0.0/0", 0, 65535))), "non-compliant"],
    ["noAdminPortsFromInternet", rules.noAdminPortsFromInternet(doc({})), "not-applicable"],
    // the same permission written inside a group, or as a legacy rule, is seen too
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(
        doc({
          aws_security_group: {
            g: { ingress: [{ protocol: "tcp", from_port: 22, to_port: 22, cidr_blocks: ["0.0.0.0/0"] }] },
          },
        }),
      ),
      "non-compliant",
    ],
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(
        doc({
          aws_security_group_rule: {
            r: { type: "ingress", protocol: "-1", from_port: 0, to_port: 0, ipv6_cidr_blocks: ["::/0"] },
          },
        }),
      ),
      "non-compliant",
    ],
    // every protocol, in any case; the VPC's default group; what cannot be read is not let through
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(
        doc({
          aws_security_group: {
            g: { ingress: [{ protocol: "ALL", from_port: 0, to_port: 0, cidr_blocks: ["0.0.0.0/0"] }] },
          },
        }),
      ),
      "non-compliant",
    ],
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(
        doc({
          aws_default_security_group: {
            d: { ingress: [{ protocol: "tcp", from_port: 22, to_port: 22, cidr_blocks: ["0.0.0.0/0"] }] },
          },
        }),
      ),
      "non-compliant",
    ],
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(doc({ aws_security_group: { g: { ingress: "${var.rules}" } } })),
      "non-compliant",
    ],
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(doc({ aws_security_group: { g: { dynamic: { ingress: { for_each: [] } } } } })),
      "non-compliant",
    ],
    // UDP's ports are ports: RDP listens on UDP 3389 as well as TCP
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(
        doc({
          aws_security_group_rule: {
            r: { type: "ingress", protocol: "udp", from_port: 3389, to_port: 3389, cidr_blocks: ["0.0.0.0/0"] },
          },
        }),
      ),
      "non-compliant",
    ],
    // ICMP's from/to are a type and a code: destination unreachable (3) to 30 opens no port 22
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(
        doc({
          aws_security_group_rule: {
            r: { type: "ingress", protocol: "icmp", from_port: 3, to_port: 30, cidr_blocks: ["0.0.0.0/0"] },
          },
        }),
      ),
      "compliant",
    ],
    [
      "noAdminPortsFromInternet",
      rules.noAdminPortsFromInternet(
        doc({
          aws_security_group: {
            g: { ingress: [{ protocol: "tcp", from_port: 443, to_port: 443, cidr_blocks: ["0.0.0.0/0"] }] },
          },
          aws_security_group_rule: {
            out: { type: "egress", protocol: "tcp", from_port: 22, to_port: 22, cidr_blocks: ["0.0.0.0/0"] },
          },
        }),
      ),
      "compliant",
    ],
    ["dbNotPublic", rules.dbNotPublic(doc(db({}))), "compliant"],
    ["dbNotPublic", rules.dbNotPublic(doc(db({ publicly_accessible: true }))), "non-compliant"],
    ["dbNotPublic", rules.dbNotPublic(doc({})), "not-applicable"],
    ["dbStorageEncrypted", rules.dbStorageEncrypted(doc(db({}))), "compliant"],
    ["dbStorageEncrypted", rules.dbStorageEncrypted(doc(db({ storage_encrypted: false }))), "non-compliant"],
    [
      "volumesEncrypted",
      rules.volumesEncrypted(doc({ aws_instance: { i: { root_block_device: { encrypted: true } } } })),
      "compliant",
    ],
    [
      "volumesEncrypted",
      rules.volumesEncrypted(doc({ aws_instance: { i: { root_block_device: { encrypted: false } } } })),
      "non-compliant",
    ],
    [
      "volumesEncrypted",
      rules.volumesEncrypted(
        doc({
          aws_launch_template: {
            t: { block_device_mappings: [{ device_name: "/dev/xvda", ebs: { encrypted: "true" } }] },
          },
        }),
      ),
      "compliant",
    ],
    ["volumesEncrypted", rules.volumesEncrypted(doc({ aws_launch_template: { t: {} } })), "non-compliant"],
    [
      "imdsV2Required",
      rules.imdsV2Required(doc({ aws_launch_template: { t: { metadata_options: { http_tokens: "required" } } } })),
      "compliant",
    ],
    [
      "imdsV2Required",
      rules.imdsV2Required(doc({ aws_instance: { i: { metadata_options: { http_tokens: "optional" } } } })),
      "non-compliant",
    ],
    ["imdsV2Required", rules.imdsV2Required(doc({ aws_instance: { i: {} } })), "non-compliant"],
    [
      "albDropsInvalidHeaders",
      rules.albDropsInvalidHeaders(
        doc({ aws_lb: { a: { load_balancer_type: "application", drop_invalid_header_fields: true } } }),
      ),
      "compliant",
    ],
    [
      "albDropsInvalidHeaders",
      rules.albDropsInvalidHeaders(doc({ aws_lb: { a: { load_balancer_type: "application" } } })),
      "non-compliant",
    ],
    [
      "albDropsInvalidHeaders",
      rules.albDropsInvalidHeaders(doc({ aws_lb: { n: { load_balancer_type: "network" } } })),
      "not-applicable",
    ],
    // no type given is an application load balancer, Terraform's default (review DP)
    ["albDropsInvalidHeaders", rules.albDropsInvalidHeaders(doc({ aws_lb: { a: {} } })), "non-compliant"],
    ["prodDbDeletionProtection", rules.prodDbDeletionProtection(doc(db({})), production), "compliant"],
    [
      "prodDbDeletionProtection",
      rules.prodDbDeletionProtection(doc(db({ lifecycle: {} })), production),
      "non-compliant",
    ],
    [
      "prodDbDeletionProtection",
      rules.prodDbDeletionProtection(doc(db({ deletion_protection: false })), development),
      "not-applicable",
    ],
    ["prodDbMultiAz", rules.prodDbMultiAz(doc(db({})), production), "compliant"],
    ["prodDbMultiAz", rules.prodDbMultiAz(doc(db({ multi_az: false })), production), "non-compliant"],
    ["prodDbMultiAz", rules.prodDbMultiAz(doc(db({ multi_az: false })), development), "not-applicable"],
    [
      "stateEncryptedAndLocked",
      rules.stateEncryptedAndLocked(doc({}, { backend: { s3: { encrypt: true, use_lockfile: true } } })),
      "compliant",
    ],
    [
      "stateEncryptedAndLocked",
      rules.stateEncryptedAndLocked(doc({}, { backend: { s3: { encrypt: true } } })),
      "non-compliant",
    ],
    [
      "stateEncryptedAndLocked",
      rules.stateEncryptedAndLocked(doc({}, { backend: { s3: { use_lockfile: true } } })),
      "non-compliant",
    ],
    [
      "stateEncryptedAndLocked",
      rules.stateEncryptedAndLocked(doc({}, { backend: { local: { path: "x" } } })),
      "not-applicable",
    ],
  ])("%s -> %s", (_rule, result, status) => {
    expect(result.status).toBe(status);
  });

  test("every exported rule is registered as a policy", () => {
    expect(POLICIES.map((p) => p.id).sort()).toEqual(Object.keys(rules).sort());
  });

  test("a finding names the stack, the policy and the resource", () => {
    const violations = policyViolations([
      { stack: "prod", doc: doc(db({ publicly_accessible: true })), context: production, waived: [] },
    ]);
    expect(violations).toEqual(["prod: dbNotPublic: aws_db_instance.db is publicly accessible"]);
  });

  test("a production waiver in the environment config silences only its own policy", () => {
    const input = { stack: "prod", doc: doc(db({ multi_az: false, publicly_accessible: true })), context: production };
    expect(policyViolations([{ ...input, waived: ["database.multiAz"] }])).toEqual([
      "prod: dbNotPublic: aws_db_instance.db is publicly accessible",
    ]);
    expect(policyViolations([{ ...input, waived: [] }])).toHaveLength(2);
  });
});

// Every environment folder passes every policy: environments.test.ts (environment-checks.ts).

describe("checkSynthesizedStacks", () => {
  test("reads the staged output and rejects it with every violation", () => {
    const dir = tempDir();
    try {
      fs.mkdirSync(path.join(dir, "stacks", "dev"), { recursive: true });
      fs.writeFileSync(path.join(dir, "stacks", "dev", "cdk.tf.json"), JSON.stringify(doc(ingress("0.0.0.0/0", 22))));
      expect(() => checkSynthesizedStacks(dir, ["dev"], [])).toThrow(PolicyError);
      expect(() => checkSynthesizedStacks(dir, ["dev"], [])).toThrow(
        /dev: noAdminPortsFromInternet: aws_vpc_security_group_ingress_rule\.r opens 22-22 to 0\.0\.0\.0\/0/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("each stack is checked with its environment's production flag and waivers, from its folder's config (review DP)", () => {
    const dir = tempDir();
    try {
      fs.mkdirSync(path.join(dir, "stacks", "prod"), { recursive: true });
      fs.writeFileSync(path.join(dir, "stacks", "prod", "cdk.tf.json"), JSON.stringify(doc(db({ multi_az: false }))));
      const prod = (exceptions: { rule: string; reason: string }[]) =>
        ({ name: "prod", production: true, exceptions }) as unknown as EnvironmentConfig;
      // production: a single-AZ database is refused; outside production, or waived, it is not
      expect(() => checkSynthesizedStacks(dir, ["prod"], [prod([])])).toThrow(
        /prod: prodDbMultiAz: aws_db_instance\.db is single-AZ/,
      );
      expect(() => checkSynthesizedStacks(dir, ["prod"], [])).not.toThrow();
      expect(() =>
        checkSynthesizedStacks(dir, ["prod"], [prod([{ rule: "database.multiAz", reason: "a demo, for now" }])]),
      ).not.toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an IPv6 source counts as the internet as IPv4's does: SSH to ::/0 is refused (review DP)", () => {
    const six = {
      aws_vpc_security_group_ingress_rule: { r: { cidr_ipv6: "::/0", ip_protocol: "tcp", from_port: 22, to_port: 22 } },
    };
    expect(rules.noAdminPortsFromInternet(doc(six)).status).toBe("non-compliant");
  });
});

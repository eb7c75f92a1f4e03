import * as path from "node:path";
import { loadEnvironments } from "../../src/config/load";
import { placeholderFindings, placeholderWarnings } from "../../src/config/placeholders";
import {
  environment,
  environmentFile,
  loadProblems,
  productionEnvironmentFile,
  tempDir,
  writeEnvironments,
} from "../helpers";

/** Documentation values never reach an apply unnoticed: errors in production, warnings elsewhere. */

const PLACEHOLDERS = {
  accountId: "123456789012",
  domain: { name: "shop.example.com", hostedZone: "example.com" },
  loadBalancer: {
    https: true,
    // (of the environment's own account, which a listener needs: the all-zero id is the placeholder here)
    certificateArn: "arn:aws:acm:ap-northeast-2:123456789012:certificate/00000000-0000-4000-8000-000000000000",
  },
  monitoring: { alarmEmails: ["oncall@example.org"] },
};

function problemsOf(files: Record<string, Record<string, unknown>>): string[] {
  const dir = writeEnvironments(tempDir("placeholders-"), files);
  const label = dir; // (outside the working directory: named by its absolute path)
  return loadProblems(dir).map((p) => p.replace(label, "environments"));
}

test("in production each placeholder is an error naming the folder, the field and what to put there", () => {
  expect(problemsOf({ prod: productionEnvironmentFile(PLACEHOLDERS) })).toEqual([
    `environments/prod: accountId is AWS's documentation account, a placeholder: put your AWS account's 12-digit id (aws sts get-caller-identity --query Account) (got "123456789012")`,
    `environments/prod: loadBalancer.certificateArn is a placeholder (an all-zero certificate id): put the ARN of your ACM certificate in ap-northeast-2, or remove it and set domain.name to have one issued and validated (got "arn:aws:acm:ap-northeast-2:123456789012:certificate/0000...)`,
    `environments/prod: domain.name is a placeholder that no one can have a Route 53 zone for: put your site's name, in a public hosted zone of this account (got "shop.example.com")`,
    `environments/prod: domain.hostedZone is a placeholder that no one can have a Route 53 zone for: put your public hosted zone's name (got "example.com")`,
    `environments/prod: monitoring.alarmEmails[0] is an address at a placeholder domain, which receives no mail, so alarms would page no one: put the address of whoever must be told (got "oncall@example.org")`,
  ]);
});

test("outside production the same values are printed warnings, not errors", () => {
  expect(problemsOf({ dev: environmentFile(PLACEHOLDERS) })).toEqual([]);
  const dev = environment("dev", PLACEHOLDERS);
  expect(placeholderWarnings(dev)).toHaveLength(5);
  expect(placeholderWarnings(dev)[0]).toMatch(/^accountId is AWS's documentation account, a placeholder: put /);
});

test("a certificate ARN of the documentation account is a placeholder too; a real-looking one is not", () => {
  const arn = (account: string, id: string) => `arn:aws:acm:ap-northeast-2:${account}:certificate/${id}`;
  const kinds = (certificateArn: string) =>
    placeholderFindings(
      environment("dev", { accountId: certificateArn.split(":")[4], loadBalancer: { https: true, certificateArn } }),
    )
      .map((f) => f.field)
      .filter((field) => field.startsWith("loadBalancer"));
  expect(kinds(arn("123456789012", "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"))).toEqual(["loadBalancer.certificateArn"]);
  expect(kinds(arn("210987654321", "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"))).toEqual([]);
});

test("reserved example names (example.net, .test, AWS's example account, RFC 5737 ranges) warn, in production too", () => {
  const prod = environment("prod", {
    ...productionEnvironmentFile(),
    accountId: "111122223333",
    domain: { name: "shop.example.net", hostedZone: "example.net" },
    monitoring: { alarmEmails: ["oncall@team.test"] },
    access: { ssh: { keyName: "ops", allowedCidrs: ["203.0.113.0/24", "10.1.0.0/16"] } },
  });
  expect(placeholderFindings(prod).map((f) => [f.kind, f.field])).toEqual([
    ["example", "accountId"],
    ["example", "domain.name"],
    ["example", "domain.hostedZone"],
    ["example", "monitoring.alarmEmails[0]"],
    ["example", "access.ssh.allowedCidrs[0]"],
  ]);
  expect(placeholderWarnings(prod)).toHaveLength(5);
});

test("a real-looking environment has no findings at all", () => {
  const prod = environment("prod", {
    ...productionEnvironmentFile(),
    accountId: "482913650127",
    loadBalancer: {
      https: true,
      certificateArn: "arn:aws:acm:ap-northeast-2:482913650127:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    },
    domain: { name: "shop.acme-retail.co.kr", hostedZone: "acme-retail.co.kr" },
    monitoring: { alarmEmails: ["oncall@acme-retail.co.kr"] },
  });
  expect(placeholderFindings(prod)).toEqual([]);
});

test("the shipped prod synthesizes: no placeholder, an account, HTTPS through its domain; what is left to replace warns", () => {
  const shipped = loadEnvironments({ dir: path.resolve(__dirname, "../../environments") });
  const prod = shipped.find((e) => e.name === "prod")!;
  expect(prod.accountId).toMatch(/^\d{12}$/);
  expect(prod.domain?.name).toBeDefined();
  expect(prod.loadBalancer).toMatchObject({ https: true });
  expect(prod.loadBalancer.certificateArn).toBeUndefined();
  expect(placeholderFindings(prod).filter((f) => f.kind === "placeholder")).toEqual([]);
  expect(placeholderWarnings(prod).map((w) => w.split(" ")[0])).toEqual(
    expect.arrayContaining(["accountId", "domain.name", "monitoring.alarmEmails[0]"]),
  );
});

test("production requires accountId, a rule that can be waived with a reason like the others", () => {
  const { accountId: _drop, ...withoutAccount } = productionEnvironmentFile();
  expect(problemsOf({ prod: { ...withoutAccount, accountId: undefined } })).toEqual([
    expect.stringMatching(
      /^environments\/prod: accountId is required in production, so that Terraform refuses whatever other credentials happen to be active: put your AWS account's 12-digit id .*\(or waive it/,
    ),
  ]);
  expect(
    problemsOf({
      prod: {
        ...withoutAccount,
        accountId: undefined,
        exceptions: [{ rule: "accountId", reason: "a sandbox account per developer, chosen by credentials" }],
      },
    }),
  ).toEqual([]);
  expect(problemsOf({ dev: { ...environmentFile(), accountId: undefined } })).toEqual([]);
});

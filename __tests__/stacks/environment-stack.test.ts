import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, Testing } from "cdktf";
import { buildStacks, stateBucketStackId } from "../../src/app";
import { AWS_PROVIDER_CONSTRAINT } from "../../src/stacks/aws-provider";
import { EnvironmentStack } from "../../src/stacks/environment-stack";
import { REQUIRED_TERRAFORM } from "../../src/stacks/state-backend";
import type { EnvironmentConfig } from "../../src/config/load";
import { ConfigError } from "../../src/config/errors";
import { isNameWord, NAME_WORDS } from "../../src/naming";
import { environmentStack } from "../environment-stack";
import { environment, environmentFile, synth } from "../helpers";
import { appDbSplit, loadBalanced, singleServer } from "../ops/stacks";
import { SHIPPED_NAMES, shippedStack } from "../shipped";

function stackFor(overrides: Record<string, unknown> = {}, name = "prod") {
  const env = environment(name, { accountId: undefined, ...overrides });
  return synth(new EnvironmentStack(Testing.app(), env.name, { env }));
}

describe("EnvironmentStack", () => {
  test("the provider targets the environment's region and tags every resource with project, environment and tool", () => {
    const stack = new EnvironmentStack(Testing.app(), "prod", {
      env: environment("prod", { region: "ap-northeast-2", tags: { CostCenter: "commerce" } }),
    });
    expect(Testing.synth(stack)).toHaveProviderWithProperties(AwsProvider, {
      region: "ap-northeast-2",
      default_tags: [{ tags: { Project: "shop", Environment: "prod", ManagedBy: "cdktf", CostCenter: "commerce" } }],
    });
  });

  test("an accountId pins the provider and the S3 backend to that account", () => {
    const json = stackFor({ accountId: "123456789012", state: { backend: "s3", bucket: "acme-state" } });
    expect(json.doc.provider.aws[0].allowed_account_ids).toEqual(["123456789012"]);
    expect(json.doc.terraform.backend.s3.allowed_account_ids).toEqual(["123456789012"]);
  });

  test("without accountId no account restriction is written", () => {
    expect(stackFor().doc.provider.aws[0].allowed_account_ids).toBeUndefined();
  });

  test("the AWS provider comes from hashicorp/aws, pinned to the version the bindings were generated for (every init, every environment, the same provider)", () => {
    expect(stackFor().doc.terraform.required_providers.aws).toEqual({
      source: "hashicorp/aws",
      version: AWS_PROVIDER_CONSTRAINT,
    });
    expect(AWS_PROVIDER_CONSTRAINT).toBe("6.25.0");
  });

  test("Terraform >= 1.11 is required, the first with S3-native locking generally available (1.10 had it as an experiment)", () => {
    expect(REQUIRED_TERRAFORM).toBe(">= 1.11.0");
    expect(stackFor().doc.terraform.required_version).toBe(REQUIRED_TERRAFORM);
  });

  test("local state: one file per environment, at a relative path outside cdktf.out", () => {
    const dev = stackFor({}, "dev").doc.terraform.backend;
    const prod = stackFor({}, "prod").doc.terraform.backend;
    expect(dev).toEqual({ local: { path: "../../../state/dev.tfstate" } });
    expect(prod).toEqual({ local: { path: "../../../state/prod.tfstate" } });
  });

  test("s3 state: encrypted, S3-native lock file, a key per environment, no DynamoDB table", () => {
    const backend = stackFor({ state: { backend: "s3", bucket: "acme-state" } }).doc.terraform.backend;
    expect(backend).toEqual({
      s3: {
        bucket: "acme-state",
        key: "shop/prod/terraform.tfstate",
        region: "ap-northeast-2",
        encrypt: true,
        use_lockfile: true,
      },
    });
  });

  test("cloud state: the organization and a workspace named after the environment", () => {
    const backend = stackFor({ state: { backend: "cloud", organization: "acme" } }).doc.terraform.cloud;
    expect(backend).toEqual({ organization: "acme", hostname: "app.terraform.io", workspaces: { name: "shop-prod" } });
  });

  test("outputs expose the VPC and the subnets of each tier", () => {
    expect(Object.keys(stackFor().doc.output).sort()).toEqual([
      "console_instances_url",
      "layout",
      "private_app_subnet_ids",
      "private_data_subnet_ids",
      "public_subnet_ids",
      "region",
      "vpc_id",
    ]);
  });
});

describe("buildStacks", () => {
  test("one stack per environment, named after it, and one bootstrap stack per S3 state bucket", () => {
    const app = Testing.app();
    const s3 = { state: { backend: "s3", bucket: "acme-state" } };
    buildStacks(
      app,
      [
        environment("dev", {
          ...s3,
          network: { cidr: "10.1.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2b"] },
        }),
        environment("prod", {
          ...s3,
          network: { cidr: "10.2.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2b"] },
        }),
        environment("qa", {
          network: { cidr: "10.3.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2b"] },
        }),
      ],
      { projectRootFromStack: "../../.." },
    );
    expect(app.node.children.map((c) => c.node.id)).toEqual(["dev", "prod", "qa", stateBucketStackId("acme-state")]);
  });

  test("the bootstrap stack is guarded by the account an environment using the bucket declares, whichever folder comes first", () => {
    const app = Testing.app();
    const s3 = { state: { backend: "s3", bucket: "acme-state" } };
    const azs = ["ap-northeast-2a", "ap-northeast-2b"];
    buildStacks(
      app,
      [
        environment("dev", { ...s3, accountId: undefined, network: { cidr: "10.1.0.0/16", availabilityZones: azs } }),
        environment("staging", {
          ...s3,
          accountId: "555566667777",
          network: { cidr: "10.2.0.0/16", availabilityZones: azs },
        }),
      ],
      { projectRootFromStack: "../../.." },
    );
    const bootstrap = synth(app.node.findChild(stateBucketStackId("acme-state")) as EnvironmentStack);
    expect(bootstrap.doc.provider.aws[0].allowed_account_ids).toEqual(["555566667777"]);
  });

  test("a selection (ENVIRONMENTS=prod) synthesizes prod as the full synth does: its patterns still exclude prod-eu's names, and the bucket's stack takes the account of an environment not selected", () => {
    const azs = ["ap-northeast-2a", "ap-northeast-2b"];
    const s3 = { state: { backend: "s3", bucket: "acme-state" } };
    const prod = environment("prod", {
      ...s3,
      accountId: undefined,
      network: { cidr: "10.1.0.0/16", availabilityZones: azs },
    });
    const eu = environment("prod-eu", {
      ...s3,
      accountId: "555566667777",
      network: { cidr: "10.2.0.0/16", availabilityZones: azs },
    });
    const built = (selected: EnvironmentConfig[]) => {
      const app = Testing.app();
      buildStacks(app, selected, { projectRootFromStack: "../../..", everyEnvironment: [prod, eu] });
      const stack = (id: string) => Testing.synth(app.node.findChild(id) as EnvironmentStack);
      return { prod: stack("prod"), bucket: stack(stateBucketStackId("acme-state")) };
    };
    const full = built([prod, eu]);
    const selection = built([prod]);
    expect(full.prod).toContain("shop-prod-eu-*");
    expect(selection.prod).toBe(full.prod);
    expect(selection.bucket).toBe(full.bucket);
    expect(JSON.parse(selection.bucket).provider.aws[0].allowed_account_ids).toEqual(["555566667777"]);
  });

  test("the bootstrap stack keeps its own state locally and creates the bucket in the bucket's region", () => {
    const app = new App({ outdir: Testing.app().outdir });
    buildStacks(
      app,
      [environment("prod", { state: { backend: "s3", bucket: "acme-state", region: "ap-northeast-3" } })],
      { projectRootFromStack: "../../.." },
    );
    const bootstrap = app.node.findChild(stateBucketStackId("acme-state")) as EnvironmentStack;
    const json = synth(bootstrap);
    expect(json.doc.terraform.backend).toEqual({ local: { path: "../../../state/state-acme-state.tfstate" } });
    expect(json.doc.provider.aws[0].region).toBe("ap-northeast-3");
    expect(json.resources("aws_s3_bucket")[0].values.bucket).toBe("acme-state");
  });

  test("a boot script past EC2's 16 KB of user data, from settings each within bounds, is a problem naming them, not a stack trace", () => {
    // 32 processes and a 1,024-character health-check path: each within its own bounds. Letters and
    // digits from a fixed generator, which gzip cannot shrink as it shrinks a repeated character.
    let seed = 1;
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    const healthCheckPath = `/${Array.from({ length: 1023 }, () => alphabet[(seed = (seed * 48271) % 2147483647) % 36]).join("")}`;
    const azs = ["ap-northeast-2a", "ap-northeast-2b"];
    const network = { cidr: "10.1.0.0/16", availabilityZones: azs, natGateways: "none" };
    const app = { instanceType: "t3.large", version: "1.0.0", processes: 32 };
    const big = environment("big", { layout: "single-server", network, app: { ...app, healthCheckPath } });
    const fine = environment("fine", {
      network: { cidr: "10.2.0.0/16", availabilityZones: azs, natGateways: "single" },
    });
    let thrown: unknown;
    try {
      buildStacks(Testing.app(), [big, fine], { projectRootFromStack: "../../..", environmentsLabel: "envs" });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).problems).toEqual([
      expect.stringMatching(
        /^envs\/big: app\.processes \(32\) and app\.healthCheckPath \(1024 characters\) make the app servers' boot script \(EC2 user data\) \d+ bytes even gzip-compressed, over EC2's limit of 16384: lower app\.processes or shorten app\.healthCheckPath$/,
      ),
    ]);
    // the same settings with the default path fit
    expect(() =>
      buildStacks(Testing.app(), [environment("big", { layout: "single-server", network, app })], {
        projectRootFromStack: "../../..",
      }),
    ).not.toThrow();
  });
});

describe("names", () => {
  test("every name the stacks build after <project>-<env>- begins with a word of NAME_WORDS (or p<port>), which a neighbour's folder name may not take (review BL: prod-db beside prod)", () => {
    const stacks = [
      ...SHIPPED_NAMES.map((name) => shippedStack(name)),
      singleServer(),
      appDbSplit(),
      loadBalanced(),
      // a fleet on another port (its target group is p8080), with HTTPS and SSH by public key
      environmentStack("port", {
        app: { ...environmentFile().app, port: 8080 },
        access: {
          ssh: {
            publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC2kcJ4pDaXqJYAvyWKa4y2lYnVdlI8aTjSTU0rq0Zk6 op",
            allowedCidrs: ["203.0.113.0/24"],
          },
        },
      }),
    ];
    const words = new Set<string>();
    for (const stack of stacks) {
      const { Project: project, Environment: env } = stack.doc.provider.aws[0].default_tags[0].tags;
      for (const match of stack.json.matchAll(new RegExp(`(?<![a-z0-9-])${project}-${env}-([a-z0-9]+)`, "g"))) {
        words.add(match[1]);
      }
    }
    expect(words.size).toBeGreaterThan(20);
    expect([...words].filter((word) => !isNameWord(word)).sort()).toEqual([]);
    // and each word of the list is one the stacks build (a stale word would refuse a folder for nothing)
    expect(NAME_WORDS.filter((word) => !words.has(word))).toEqual([]);
  });
});

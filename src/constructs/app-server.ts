import { Eip } from "@cdktf/provider-aws/lib/eip";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import { userDataBase64 } from "../userdata/encode";

export interface AppServerProps {
  readonly naming: Naming;
  /**
   * Tags the server's volumes carry from creation, besides `Name` (the environment's shared tags:
   * the provider's default tags reach a root volume only after launch, too late for a
   * tag-enforcing SCP).
   */
  readonly tags: Readonly<Record<string, string>>;
  /** Subnet the server runs in. */
  readonly subnetId: string;
  readonly instanceType: string;
  readonly imageId: string;
  readonly securityGroupId: string;
  readonly instanceProfileName: string;
  /** First-boot script, as plain text (base64-encoded here). */
  readonly userData: string;
  /** Give the server a fixed public address (it sits in a public subnet with no load balancer). */
  readonly elasticIp: boolean;
  /** 1-minute CloudWatch metrics. */
  readonly detailedMonitoring: boolean;
  /** Refuse `TerminateInstances` through the API (the server holds data). */
  readonly terminationProtection: boolean;
  /** Size of the root volume in GiB (environment config: app.rootVolumeGb). */
  readonly rootVolumeGb: number;
  /** SSH key pair. @default - none */
  readonly keyName?: string;
  /** What the Elastic IP must wait for: the public subnet's route to the internet gateway. @default - nothing */
  readonly internetRoute?: ITerraformDependable;
  /** What must exist before the server boots, such as the release it downloads. @default - nothing */
  readonly bootDependsOn?: readonly ITerraformDependable[];
}

/**
 * One app server: an EC2 instance with IMDSv2 only (hop limit 1, so containers cannot reach the
 * instance's credentials), an encrypted gp3 root volume, and optionally an Elastic IP.
 *
 * A new AMI or user data does not replace the server: both are ignored after creation, because
 * replacing a single server loses what is on it. Roll a new AMI by replacing it on purpose
 * (`terraform apply -replace`); ship new code with a deploy, not with user data.
 *
 * @example
 * new AppServer(this, "Server", { naming, subnetId, instanceType: "t3.small", ... , elasticIp: true });
 */
export class AppServer extends Construct {
  public readonly instanceId: string;
  /** The instance itself: what is replaced with the server waits for it (`replace_triggered_by`). */
  public readonly instance: Instance;
  /** The Elastic IP when there is one, otherwise the private IP. */
  public readonly address: string;
  public readonly publicDns?: string;

  constructor(scope: Construct, id: string, props: AppServerProps) {
    super(scope, id);
    const { rootVolumeGb } = props;

    const instance = new Instance(this, "Instance", {
      ami: props.imageId,
      instanceType: props.instanceType,
      subnetId: props.subnetId,
      vpcSecurityGroupIds: [props.securityGroupId],
      iamInstanceProfile: props.instanceProfileName,
      keyName: props.keyName,
      monitoring: props.detailedMonitoring,
      disableApiTermination: props.terminationProtection,
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: {
        volumeType: "gp3",
        volumeSize: rootVolumeGb,
        encrypted: true,
        deleteOnTermination: true,
      },
      volumeTags: { ...props.tags, ...props.naming.tags("app") },
      userDataBase64: userDataBase64(props.userData),
      tags: props.naming.tags("app"),
      // A public IP at launch, so the boot script can reach package repositories before the Elastic IP
      // is associated (which can only happen once the instance exists); the EIP then replaces it.
      associatePublicIpAddress: props.elasticIp,
      dependsOn: props.bootDependsOn ? [...props.bootDependsOn] : undefined,
      // Both would replace the server and lose what is on it: the AMI moves with every Amazon Linux
      // release (it is read from an SSM parameter), and user data runs only at first boot anyway.
      lifecycle: { ignoreChanges: ["ami", "user_data_base64"] },
    });
    this.instance = instance;
    this.instanceId = instance.id;

    if (props.elasticIp) {
      const eip = new Eip(this, "ElasticIp", {
        domain: "vpc",
        instance: instance.id,
        tags: props.naming.tags("app"),
        // Associating an EIP fails while the VPC has no attached internet gateway.
        dependsOn: props.internetRoute ? [props.internetRoute] : undefined,
      });
      this.address = eip.publicIp;
      this.publicDns = eip.publicDns;
    } else {
      this.address = instance.privateIp;
    }
  }
}

import { SsmAssociation } from "@cdktf/provider-aws/lib/ssm-association";
import { SsmDocument } from "@cdktf/provider-aws/lib/ssm-document";
import type { Instance } from "@cdktf/provider-aws/lib/instance";
import type { TerraformResource } from "cdktf";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import { PICK_UP_SECONDS } from "./app-deployment";
import { OS_UPDATE_STEP, osUpdateRunSeconds, osUpdateScript } from "../userdata/os-update-script";

export interface OsUpdateProps {
  readonly naming: Naming;
  /** The server to update (a single server, or app-db-split's app server): a new one is updated too. */
  readonly server: Instance;
  /** The Amazon Linux 2023 release to update its packages to (`app.osRelease`), e.g. 2023.9.20251117. */
  readonly release: string;
  /**
   * The deploy script's lock file: the update takes it, so that it never runs (or reboots the
   * server) while a deploy moves the app's processes.
   */
  readonly deployLock: string;
  /** The deploy's association: on an apply that runs both, the update waits for the deploy to end. */
  readonly after: TerraformResource;
  /** How long the server's first boot may take, its first install included (`osUpdateBootSeconds`). */
  readonly bootSeconds: number;
  /** The file the boot script writes once the server is set up (`setUpMarker`). */
  readonly setUpMarker: string;
}

/** `text` with Terraform's template sequences escaped: `${` as `$${`, `%{` as `%%{`. */
export function escapeTemplates(text: string): string {
  return text.replaceAll("${", "$${").replaceAll("%{", "%%{");
}

/** Seconds a reboot and the update's second run (after it, with nothing left to install) may take. */
const REBOOT_SECONDS = 600;

/**
 * Updates a fixed server's packages in place to an Amazon Linux 2023 release (`app.osRelease`):
 * an SSM Command document whose script names the release, and an association that runs it on the
 * server. A new release changes the document, and a replaced server is a new target: either
 * replaces the association (`replace_triggered_by`), so every run is a create, which SSM runs at
 * once and the apply waits for, failing when the update failed. Load-balanced servers are never
 * updated in place: each is launched from the AMI (see app-fleet.ts).
 */
export class OsUpdate extends Construct {
  constructor(scope: Construct, id: string, props: OsUpdateProps) {
    super(scope, id);
    const { naming } = props;
    // First boot (a server replaced runs this at once: the deploy's association is only retargeted),
    // the wait for the lock and dnf, each bounded in the script. Where the deploy ran first, first
    // boot is already over.
    const timeoutSeconds = osUpdateRunSeconds(props.bootSeconds);
    const document = new SsmDocument(this, "Document", {
      name: naming.name("app-os"),
      documentType: "Command",
      documentFormat: "JSON",
      content: JSON.stringify({
        schemaVersion: "2.2",
        description: `Update the server's packages to Amazon Linux 2023 release ${props.release}, rebooting when the update needs it`,
        mainSteps: [
          {
            action: "aws:runShellScript",
            name: OS_UPDATE_STEP,
            inputs: {
              // SSM stops the script at this limit.
              timeoutSeconds: String(timeoutSeconds),
              // Terraform reads ${ and %{ in a string as its templates: escaped, the server gets the script as written.
              runCommand: osUpdateScript(props.release, {
                deployLock: props.deployLock,
                bootSeconds: props.bootSeconds,
                setUpMarker: props.setUpMarker,
              }).map(escapeTemplates),
            },
          },
        ],
      }),
      tags: naming.tags("app-os"),
    });
    new SsmAssociation(this, "Association", {
      name: document.name,
      associationName: naming.name("app-os"),
      targets: [{ key: "InstanceIds", values: [props.server.id] }],
      complianceSeverity: "HIGH",
      maxConcurrency: "1",
      maxErrors: "0",
      waitForSuccessTimeoutSeconds: timeoutSeconds + REBOOT_SECONDS + PICK_UP_SECONDS,
      dependsOn: [props.after],
      // Made again (a create, which the apply waits for) for a new release and for a new server: a
      // changed target alone would be an update, which SSM runs and the provider does not wait for
      // (review CE). Bare `type.name` addresses, as the deploy's association has (hashicorp/terraform-cdk#3196).
      lifecycle: {
        // (the instance's id, which only a replacement changes: the whole resource would replace
        // this on any update of it, a new tag or type included; review CF)
        replaceTriggeredBy: [
          `${document.terraformResourceType}.${document.friendlyUniqueId}`,
          `${props.server.terraformResourceType}.${props.server.friendlyUniqueId}.id`,
        ],
      },
    });
  }
}

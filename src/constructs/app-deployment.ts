import { SsmAssociation } from "@cdktf/provider-aws/lib/ssm-association";
import { SsmDocument } from "@cdktf/provider-aws/lib/ssm-document";
import type { TerraformResource } from "cdktf";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import { SHA256_PATTERN, VERSION_PATTERN } from "../userdata/app-host";
import { FIRST_BOOT_SECONDS } from "../userdata/boot-script";

export interface AppDeploymentProps {
  readonly naming: Naming;
  /** The server that runs the release. */
  readonly instanceId: string;
  /** The release to run; changing it runs the deploy again. */
  readonly version: string;
  /** SHA-256 (hex) of its tarball, as releases.yaml records it: the deploy refuses other bytes. */
  readonly releaseSha256: string;
  /** The uploaded release: each new upload replaces the association, so the deploy runs as a create. */
  readonly release: TerraformResource;
  /** The deploy script on the server (written by the boot script). */
  readonly deployCommand: string;
  /**
   * The file the boot script writes once the server is set up (`setUpMarker`): after a failed first
   * boot, the deploy goes ahead when it is there (only the boot's first deploy failed), and stops
   * when it is not (the boot failed before the deploy script and the units were in place).
   */
  readonly setUpMarker: string;
  /**
   * The longest the deploy script runs while it still makes progress (`deployTimeoutSeconds`):
   * the document gives it that long after first boot and its wait for the lock, never cutting off
   * a rollout or rollback.
   */
  readonly deployTimeoutSeconds: number;
  /**
   * Seconds `terraform apply` waits for the deploy to succeed; a failed deploy (rolled back on
   * the server) fails the apply. The first run also waits for the server's first boot.
   * @default - the document's time limit and 5 minutes for the server's agent to pick the run up
   */
  readonly waitSeconds?: number;
}

/**
 * Seconds the document's deploy waits for another deploy's lock (one a person started, or an
 * earlier run still going) before it fails with nothing changed (exit 75): waiting out a whole
 * deploy, it could not finish its own within the document's limit.
 */
const LOCK_WAIT_SECONDS = 300;

/** Seconds beyond the document's time limit that the apply waits: the agent on a booting server registers late. */
export const PICK_UP_SECONDS = 300;

/** The most `timeoutSeconds` of an aws:runShellScript step may be (48 hours). */
const MAX_STEP_SECONDS = 172_800;

/**
 * Rolls a release out to a server that is not replaced to deploy (single-server, app-db-split):
 * an SSM Command document that waits for first boot to finish, then runs the server's deploy
 * script (one process at a time behind nginx, rolled back on a failed health check), and an
 * association that runs it on the server with the environment's version.
 *
 * The provider waits for an association's outcome (`wait_for_success_timeout_seconds`) only when
 * it creates one, not when it updates its parameters. So the association is replaced whenever the
 * release object changes (`replace_triggered_by`): every new version is a create, which SSM runs
 * at once and `cdktf deploy` waits for, failing when the deploy failed.
 */
export class AppDeployment extends Construct {
  public readonly documentName: string;
  /** The association that runs the deploy: what waits for a deploy depends on it. */
  public readonly association: SsmAssociation;

  constructor(scope: Construct, id: string, props: AppDeploymentProps) {
    super(scope, id);
    const { naming } = props;
    const timeoutSeconds = FIRST_BOOT_SECONDS + LOCK_WAIT_SECONDS + props.deployTimeoutSeconds;
    if (timeoutSeconds > MAX_STEP_SECONDS) {
      // SSM's agent would quietly run the step with its default hour instead
      throw new Error(
        `AppDeployment: a deploy may take ${timeoutSeconds} s with first boot and the wait for the lock, more than the ${MAX_STEP_SECONDS} s an SSM command step may run`,
      );
    }
    const document = new SsmDocument(this, "Document", {
      name: naming.name("deploy"),
      documentType: "Command",
      documentFormat: "JSON",
      content: JSON.stringify({
        schemaVersion: "2.2",
        description:
          "Deploy a release of the app: one process at a time behind nginx, rolled back on a failed health check",
        parameters: {
          version: {
            type: "String",
            description: "The release to run, as in app.version",
            // The version reaches a shell command: only release-version characters get through.
            allowedPattern: VERSION_PATTERN.source,
          },
          sha256: {
            type: "String",
            description: "SHA-256 of the release's tarball, as releases.yaml records it: other bytes are refused",
            allowedPattern: SHA256_PATTERN.source,
          },
        },
        mainSteps: [
          {
            action: "aws:runShellScript",
            name: "deploy",
            inputs: {
              // First boot, the wait for the lock and the deploy: SSM stops the script at this limit.
              timeoutSeconds: String(timeoutSeconds),
              runCommand: [
                // First boot must have finished before a deploy: the boot script writes the deploy
                // script. cloud-init exits 2 for "done with warnings". A boot whose only failure was
                // its first deploy (a release that died) has set the server up: deploy again, or a
                // fixed app.version could never reach the server.
                'cloud-init status --wait >/dev/null; boot=$?; if [ "$boot" -ne 0 ] && [ "$boot" -ne 2 ]; then ' +
                  `if [ -f ${props.setUpMarker} ]; then echo "first boot failed at its first deploy (cloud-init status $boot); the server is set up: deploying"; ` +
                  'else echo "first boot failed (cloud-init status $boot) before the server was set up: see /var/log/boot-script.log"; exit 1; fi; fi',
                `DEPLOY_LOCK_WAIT=${LOCK_WAIT_SECONDS} ${props.deployCommand} '{{ version }}' {{ sha256 }}`,
              ],
            },
          },
        ],
      }),
      tags: naming.tags("deploy"),
    });
    this.documentName = document.name;

    this.association = new SsmAssociation(this, "Association", {
      name: document.name,
      associationName: naming.name("deploy"),
      targets: [{ key: "InstanceIds", values: [props.instanceId] }],
      parameters: { version: props.version, sha256: props.releaseSha256 },
      complianceSeverity: "HIGH",
      maxConcurrency: "1",
      maxErrors: "0",
      waitForSuccessTimeoutSeconds: props.waitSeconds ?? timeoutSeconds + PICK_UP_SECONDS,
      // A bare `type.name` address: cdktf would write a resource as "${type.name}", which
      // Terraform rejects in replace_triggered_by (hashicorp/terraform-cdk#3196).
      lifecycle: { replaceTriggeredBy: [`${props.release.terraformResourceType}.${props.release.friendlyUniqueId}`] },
    });
  }
}

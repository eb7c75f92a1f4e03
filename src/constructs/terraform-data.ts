import { AnyMap, TerraformResource, type TerraformResourceLifecycle } from "cdktf";
import type { Construct } from "constructs";

export interface TerraformDataProps {
  /** Stored in state and reflected in `output` after apply. */
  readonly input: Readonly<Record<string, string>>;
  /** A change of any value replaces the resource (and stores `input` anew). */
  readonly triggersReplace?: Readonly<Record<string, string>>;
  readonly lifecycle?: TerraformResourceLifecycle;
}

/**
 * Terraform's built-in `terraform_data` resource. cdktf's own `DataResource` checks the Terraform
 * version by running `terraform version` at every synth, a child process the synth can do
 * without: the stacks already require Terraform >= 1.11 (`required_version`), and
 * `terraform_data` needs 1.4.
 */
export class TerraformData extends TerraformResource {
  /** The stored `input`, as a map of its keys. */
  public readonly output: AnyMap;
  private readonly props: TerraformDataProps;

  constructor(scope: Construct, id: string, props: TerraformDataProps) {
    super(scope, id, {
      terraformResourceType: "terraform_data",
      terraformGeneratorMetadata: { providerName: "terraform" },
      lifecycle: props.lifecycle,
    });
    this.props = props;
    this.output = new AnyMap(this, "output");
  }

  protected synthesizeAttributes(): Record<string, unknown> {
    return {
      input: { ...this.props.input },
      triggers_replace: this.props.triggersReplace && { ...this.props.triggersReplace },
    };
  }
}

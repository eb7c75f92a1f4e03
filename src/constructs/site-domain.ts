import { AcmCertificate } from "@cdktf/provider-aws/lib/acm-certificate";
import { AcmCertificateValidation } from "@cdktf/provider-aws/lib/acm-certificate-validation";
import { DataAwsRoute53Zone } from "@cdktf/provider-aws/lib/data-aws-route53-zone";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { Construct } from "constructs";
import type { Naming } from "../naming";

export interface SiteDomainProps {
  readonly naming: Naming;
  /** The site's DNS name, e.g. `shop.example.net`. */
  readonly name: string;
  /** The Route 53 public hosted zone of this account that holds `name`, e.g. `example.net`. */
  readonly hostedZone: string;
  /**
   * Request an ACM certificate for `name` and validate it with a DNS record in the zone; the
   * certificate's ARN (`certificateArn`) is known only once ACM has issued it.
   * @default false
   */
  readonly certificate?: boolean;
}

/**
 * The environment's name in Route 53: looks up the hosted zone, optionally has ACM issue a
 * certificate for the name (validated by DNS, so the apply waits until it is issued and anything
 * using `certificateArn` is created only then), and points the name at the site with
 * `aliasTo` (a load balancer) or `addressRecord` (a server's Elastic IP).
 *
 * @example
 * const domain = new SiteDomain(this, "Domain", { naming, name: "shop.example.net", hostedZone: "example.net", certificate: true });
 * domain.aliasTo("Alias", { dnsName: alb.dnsName, zoneId: alb.zoneId });
 */
export class SiteDomain extends Construct {
  public readonly name: string;
  public readonly zoneId: string;
  /** The issued certificate's ARN, once validated; `undefined` without `certificate`. */
  public readonly certificateArn?: string;

  constructor(scope: Construct, id: string, props: SiteDomainProps) {
    super(scope, id);
    const { naming } = props;
    this.name = props.name;
    const zone = new DataAwsRoute53Zone(this, "Zone", { name: props.hostedZone, privateZone: false });
    this.zoneId = zone.zoneId;

    if (props.certificate ?? false) {
      const certificate = new AcmCertificate(this, "Certificate", {
        domainName: props.name,
        validationMethod: "DNS",
        keyAlgorithm: "RSA_2048",
        tags: naming.tags("certificate"),
        // A new certificate (another name) is issued before the listener lets go of the old one.
        lifecycle: { createBeforeDestroy: true },
      });
      // One name, so one validation record; domain_validation_options is a set (cdktf reads it
      // through tolist()).
      const option = certificate.domainValidationOptions.get(0);
      const record = new Route53Record(this, "ValidationRecord", {
        zoneId: zone.zoneId,
        name: option.resourceRecordName,
        type: option.resourceRecordType,
        records: [option.resourceRecordValue],
        ttl: 300,
        // The record of a certificate requested before (a replacement) has the same name and value.
        allowOverwrite: true,
      });
      const validation = new AcmCertificateValidation(this, "Validation", {
        certificateArn: certificate.arn,
        validationRecordFqdns: [record.fqdn],
      });
      this.certificateArn = validation.certificateArn;
    }
  }

  /** An alias A record for the name, to a load balancer (answered while its targets are healthy). */
  public aliasTo(id: string, target: { readonly dnsName: string; readonly zoneId: string }): Route53Record {
    return new Route53Record(this, id, {
      zoneId: this.zoneId,
      name: this.name,
      type: "A",
      alias: { name: target.dnsName, zoneId: target.zoneId, evaluateTargetHealth: true },
    });
  }

  /** An A record for the name, to a fixed public address (a server's Elastic IP). */
  public addressRecord(id: string, address: string): Route53Record {
    return new Route53Record(this, id, {
      zoneId: this.zoneId,
      name: this.name,
      type: "A",
      ttl: 300,
      records: [address],
    });
  }
}

import type { Construct } from "constructs";
import { TierAlarms, type TierAlarmsProps } from "./tier-alarms";

/**
 * Days before its expiry that a certificate still in use pages. ACM renews a certificate it
 * issued 60 days before, so one of those under this has failed to renew; one imported
 * (through `loadBalancer.certificateArn`) ACM never renews, and this leaves a month to import
 * its successor.
 */
export const CERTIFICATE_EXPIRY_DAYS = 30;

/** Days in a row under `CERTIFICATE_EXPIRY_DAYS` that page (ACM publishes the metric about twice a day). */
export const CERTIFICATE_ALARM_DAYS = 2;

export interface CertificateAlarmsProps extends TierAlarmsProps {
  /** The certificate the load balancer's HTTPS listener serves (imported, or issued for `domain.name`). */
  readonly certificateArn: string;
  /**
   * The certificate is `loadBalancer.certificateArn`'s, made outside the stack (imported, or issued
   * by ACM), not the one the stack requests for `domain.name`: the description says what to do
   * about each.
   */
  readonly configured: boolean;
}

/**
 * The load balancer's certificate: an alarm when it expires in under `CERTIFICATE_EXPIRY_DAYS`
 * days (`AWS/CertificateManager` `DaysToExpiry`, the day's minimum, `CERTIFICATE_ALARM_DAYS` days
 * running). An expired certificate takes HTTPS down, and nothing else in the stacks watches an
 * imported one. Days without a datapoint leave the alarm as it was ("ignore"): a certificate the
 * stack has just requested has none until ACM's first (every 12 hours or so), and counting them as
 * breaching paged on the first apply of every environment with a domain; ACM stops publishing
 * once a certificate expired, and the alarm, which paged a month before, stays in ALARM ("missing"
 * would turn it to INSUFFICIENT_DATA, grey on the dashboard, just as HTTPS fails: review DU).
 *
 * @example
 * new CertificateAlarms(this, "CertificateAlarms", { naming, topicArn, evaluationPeriods: 3, datapointsToAlarm: 2,
 *   certificateArn, configured: true });
 */
export class CertificateAlarms extends TierAlarms {
  constructor(scope: Construct, id: string, props: CertificateAlarmsProps) {
    super(scope, id, props);
    const what = props.configured
      ? "It is loadBalancer.certificateArn's: aws acm describe-certificate --certificate-arn <arn> says its Type. " +
        "IMPORTED, which ACM never renews: import the renewed one into the same ARN (aws acm import-certificate " +
        "--certificate-arn <arn> --certificate fileb://cert.pem --private-key fileb://key.pem --certificate-chain " +
        "fileb://chain.pem), which the listener then serves with no change to the stack. AMAZON_ISSUED, which ACM " +
        "renews 60 days before expiry: its renewal failed (RenewalSummary; its validation record or e-mail)."
      : "ACM issued it for domain.name and renews it 60 days before expiry, so its renewal failed: see " +
        "aws acm describe-certificate --certificate-arn <arn> (RenewalSummary) and npm run drift; the DNS " +
        "validation record must still be in the zone.";
    this.alarm("Expiry", {
      what: "certificate-expiry",
      description:
        `The load balancer's HTTPS certificate expires in under ${CERTIFICATE_EXPIRY_DAYS} days ` +
        `(AWS/CertificateManager DaysToExpiry, ${CERTIFICATE_ALARM_DAYS} days running). Past its expiry every HTTPS ` +
        `request fails. ${what}`,
      comparison: "LessThanThreshold",
      threshold: CERTIFICATE_EXPIRY_DAYS,
      treatMissingData: "ignore",
      metric: {
        namespace: "AWS/CertificateManager",
        metricName: "DaysToExpiry",
        dimensions: { CertificateArn: props.certificateArn },
        statistic: "Minimum",
        period: 86_400,
      },
      evaluation: { periods: CERTIFICATE_ALARM_DAYS, datapoints: CERTIFICATE_ALARM_DAYS },
    });
  }
}

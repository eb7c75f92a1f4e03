import { Testing } from "cdktf";
import { LAYOUT_STACKS } from "../../src/stacks/layouts";
import { environment, productionEnvironmentFile, ref, synth, type Synthesized } from "../helpers";

/** HTTPS the way most users want it: a domain in Route 53 gets its certificate, records and alias. */

const DOMAIN = { name: "shop.acme-retail.co.kr", hostedZone: "acme-retail.co.kr" };

function stackFor(overrides: Record<string, unknown>): Synthesized {
  const env = environment("prod", overrides);
  return synth(new LAYOUT_STACKS[env.layout](Testing.app(), env.name, { env }));
}

describe("load-balanced with a domain and no certificate of its own", () => {
  const { loadBalancer: _ignored, ...file } = productionEnvironmentFile();
  const json = stackFor({ ...file, domain: DOMAIN, loadBalancer: { https: true } });
  const certificate = json.resources("aws_acm_certificate")[0];
  const zone = json.dataSources("aws_route53_zone")[0];

  test("ACM issues a certificate for the name, validated by a DNS record in the account's public zone", () => {
    expect(json.countOf("aws_acm_certificate")).toBe(1);
    expect(certificate.values).toMatchObject({ domain_name: DOMAIN.name, validation_method: "DNS" });
    expect(certificate.values.lifecycle).toEqual({ create_before_destroy: true });
    expect(zone.values).toMatchObject({ name: DOMAIN.hostedZone, private_zone: false });
    const record = json.named("aws_route53_record", "ValidationRecord").values;
    const option = `tolist(aws_acm_certificate.${certificate.name}.domain_validation_options).0`;
    expect(record).toMatchObject({
      zone_id: ref(zone, "data.aws_route53_zone", "zone_id"),
      name: `\${${option}.resource_record_name}`,
      type: `\${${option}.resource_record_type}`,
      records: [`\${${option}.resource_record_value}`],
    });
    const validation = json.resources("aws_acm_certificate_validation")[0].values;
    expect(validation).toEqual(
      expect.objectContaining({
        certificate_arn: ref(certificate, "aws_acm_certificate", "arn"),
        validation_record_fqdns: [
          ref(json.named("aws_route53_record", "ValidationRecord"), "aws_route53_record", "fqdn"),
        ],
      }),
    );
  });

  test("the HTTPS listener takes the certificate only once validated; the HTTP redirect only after the HTTPS listener", () => {
    const https = json.named("aws_lb_listener", "Https");
    const validation = json.resources("aws_acm_certificate_validation")[0];
    expect(https.values.certificate_arn).toBe(ref(validation, "aws_acm_certificate_validation", "certificate_arn"));
    // An apply that cannot create the HTTPS listener stops before prod redirects to a dead port.
    expect(json.named("aws_lb_listener", "Http").values.depends_on).toEqual([`aws_lb_listener.${https.name}`]);
  });

  test("an alias A record points the name at the load balancer, and the url output uses the name", () => {
    const alb = json.resources("aws_lb")[0];
    expect(json.named("aws_route53_record", "AliasRecord").values).toEqual(
      expect.objectContaining({
        name: DOMAIN.name,
        type: "A",
        alias: {
          name: ref(alb, "aws_lb", "dns_name"),
          zone_id: ref(alb, "aws_lb", "zone_id"),
          evaluate_target_health: true,
        },
      }),
    );
    expect(json.doc.output.url.value).toBe(`https://${DOMAIN.name}`);
  });
});

test("a certificateArn given stays the alternative: no certificate is requested, the alias is still made", () => {
  const json = stackFor({ ...productionEnvironmentFile(), domain: DOMAIN });
  expect(json.countOf("aws_acm_certificate")).toBe(0);
  expect(json.named("aws_lb_listener", "Https").values.certificate_arn).toMatch(/^arn:aws:acm:ap-northeast-2:/);
  expect(json.named("aws_route53_record", "AliasRecord").values.name).toBe(DOMAIN.name);
});

test("without a domain nothing of Route 53 or ACM is created", () => {
  const json = stackFor(productionEnvironmentFile());
  expect(json.countOf("aws_route53_record") + json.countOf("aws_acm_certificate")).toBe(0);
  expect(json.dataSources("aws_route53_zone")).toEqual([]);
});

test.each(["single-server", "app-db-split"])("%s with a domain: an A record to the server's Elastic IP", (layout) => {
  const json = stackFor({
    layout,
    network: { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"], natGateways: "none" },
    app: { instanceType: "t3.small", version: "1.0.0" },
    domain: { name: "dev.acme-retail.co.kr" }, // the zone defaults to the name without its first label
  });
  const eip = json.resources("aws_eip")[0];
  expect(json.named("aws_route53_record", "AddressRecord").values).toEqual(
    expect.objectContaining({
      name: "dev.acme-retail.co.kr",
      type: "A",
      ttl: 300,
      records: [ref(eip, "aws_eip", "public_ip")],
    }),
  );
  expect(json.dataSources("aws_route53_zone")[0].values.name).toBe("acme-retail.co.kr");
  expect(json.countOf("aws_acm_certificate")).toBe(0);
  expect(json.doc.output.url.value).toBe("http://dev.acme-retail.co.kr");
});

test("a name outside its hosted zone is refused", () => {
  expect(() => environment("prod", { domain: { name: "shop.acme.io", hostedZone: "acme-retail.co.kr" } })).toThrow(
    'domain.name must be in domain.hostedZone acme-retail.co.kr: the records go in that zone (got "shop.acme.io")',
  );
});

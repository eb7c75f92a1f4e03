import type { DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";

/** A bucket policy statement that refuses every request not made over TLS. */
export function denyInsecureTransport(bucketArn: string): DataAwsIamPolicyDocumentStatement {
  return {
    sid: "DenyInsecureTransport",
    effect: "Deny",
    actions: ["s3:*"],
    principals: [{ type: "*", identifiers: ["*"] }],
    resources: [bucketArn, `${bucketArn}/*`],
    condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
  };
}

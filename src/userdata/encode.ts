import { Token } from "cdktf";

/**
 * User data as EC2 takes it, base64-encoded here at synth time. Terraform reads `${` and `%{` in
 * any JSON string as interpolation; base64 text contains neither, so a script's `${VAR}` reaches
 * the server unchanged with no escaping. Scripts are therefore literal: a value known only at
 * apply time (an endpoint, an ARN) is read on the server, not templated in.
 */
export function userDataBase64(script: string): string {
  if (Token.isUnresolved(script)) {
    throw new Error("userDataBase64: the script must be literal text; read apply-time values on the server instead");
  }
  return Buffer.from(script, "utf8").toString("base64");
}

import { gunzipSync, gzipSync } from "node:zlib";
// Token from its own module, not cdktf's index: what renders and reads server files (and their
// tests) loads no more of cdktf than this check needs. It is the same module the index exports.
import { Token } from "cdktf/lib/tokens/token";

/** EC2 accepts at most 16 KB of user data, counted before base64 encoding. */
export const USER_DATA_LIMIT = 16 * 1024;

/** A boot script over EC2's user-data limit even gzip-compressed; `bytes` is its compressed size. */
export class UserDataTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(`userDataBase64: ${bytes} bytes even gzip-compressed; EC2 accepts ${USER_DATA_LIMIT}`);
    this.name = "UserDataTooLargeError";
  }
}

/**
 * User data as EC2 takes it, base64-encoded here at synth time. Terraform reads `${` and `%{` in
 * any JSON string as interpolation; base64 text contains neither, so a script's `${VAR}` reaches
 * the server unchanged with no escaping. Scripts are therefore literal: a value known only at
 * apply time (an endpoint, an ARN) is read on the server, not templated in.
 *
 * A script over EC2's 16 KB limit is gzip-compressed (cloud-init recognises gzip and unpacks it);
 * one that is over the limit even compressed is refused.
 */
export function userDataBase64(script: string): string {
  if (Token.isUnresolved(script)) {
    throw new Error("userDataBase64: the script must be literal text; read apply-time values on the server instead");
  }
  const raw = Buffer.from(script, "utf8");
  const data = raw.length <= USER_DATA_LIMIT ? raw : gzipSync(raw, { level: 9 });
  if (data.length > USER_DATA_LIMIT) throw new UserDataTooLargeError(data.length);
  return data.toString("base64");
}

/** The script in user data as `userDataBase64` encodes it (gzip-compressed or not), as cloud-init reads it. */
export function userDataScript(base64: string): string {
  const data = Buffer.from(base64, "base64");
  const gzipped = data.length > 2 && data[0] === 0x1f && data[1] === 0x8b;
  return (gzipped ? gunzipSync(data) : data).toString("utf8");
}

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * A certificate authority and server certificates for the database drills' TLS checks, made with
 * the openssl CLI (Node can verify certificates but not issue them): P-256 keys, valid two days.
 */

export interface ServerCertificate {
  readonly cert: string;
  readonly key: string;
}

export interface Certificates {
  /** The CA that signs the servers' certificates: what RDS's CA bundle is to the app. */
  readonly caFile: string;
  /** Another CA, which signed nothing here. */
  readonly otherCaFile: string;
  /** A server certificate for each of `names` (`DNS:localhost`, `IP:127.0.0.1`). */
  readonly server: (subjectAltName: string) => ServerCertificate;
}

/** Why the TLS checks cannot run here, or undefined when openssl is installed. */
export function opensslMissing(): string | undefined {
  return spawnSync("openssl", ["version"]).error ? "openssl is not installed (apt-get install openssl)" : undefined;
}

function openssl(dir: string, args: string[]): void {
  const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
}

/** A CA in `dir` (and a second, unrelated one), and a function issuing server certificates from the first. */
export function certificates(dir: string): Certificates {
  fs.mkdirSync(dir, { recursive: true });
  const ca = (name: string) =>
    openssl(
      dir,
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "2",
        "-subj",
        `/CN=${name}`,
      ]),
    );
  ca("drill-ca");
  ca("other-ca");
  let serial = 0;
  return {
    caFile: path.join(dir, "drill-ca.pem"),
    otherCaFile: path.join(dir, "other-ca.pem"),
    server: (subjectAltName) => {
      const name = `server-${++serial}`;
      openssl(
        dir,
        ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
          "-keyout",
          `${name}.key`,
          "-out",
          `${name}.csr`,
          "-subj",
          "/CN=drill database",
        ]),
      );
      fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${subjectAltName}\n`);
      openssl(
        dir,
        ["x509", "-req", "-in", `${name}.csr`, "-CA", "drill-ca.pem", "-CAkey", "drill-ca.key"].concat([
          "-set_serial",
          String(serial),
          "-out",
          `${name}.pem`,
          "-days",
          "2",
          "-extfile",
          `${name}.ext`,
        ]),
      );
      return {
        cert: fs.readFileSync(path.join(dir, `${name}.pem`), "utf8"),
        key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"),
      };
    },
  };
}

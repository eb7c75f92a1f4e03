import { reservedWordProblem } from "./reserved-words";
import { ENGINES, engineMajor, type Engine } from "./schema";

/**
 * What each database engine accepts, beside what RDS runs (`ENGINES`): the server packages Amazon
 * Linux 2023 offers for the single server, and the names the engines take for a database and a user.
 */

/**
 * The server package Amazon Linux 2023 installs for each major version, per engine: PostgreSQL
 * as `postgresql15`, `postgresql16` and `postgresql17` (no 14: AL2023 shipped with 15), and the
 * MySQL-compatible MariaDB as `mariadb105` and `mariadb1011`. AL2023 packages no MySQL server.
 * From the AL2023 package lists (release notes, "Package support statements"); one package of
 * each engine can be installed at a time, and dnf installs the repository's current minor.
 */
export const AL2023_SERVER_PACKAGES: Readonly<Record<Engine, Readonly<Record<string, string>>>> = {
  postgres: { "15": "postgresql15-server", "16": "postgresql16-server", "17": "postgresql17-server" },
  mariadb: { "10.5": "mariadb105-server", "10.11": "mariadb1011-server" },
  mysql: {},
};

/** The AL2023 server package of `engine` at `version` (a major), or undefined when AL2023 has none. */
export function al2023ServerPackage(engine: Engine, version: string): string | undefined {
  return AL2023_SERVER_PACKAGES[engine][version];
}

/**
 * Why the single server cannot run `engine` at `version`, as a `database.engine` or
 * `database.engineVersion` problem, or undefined when it can.
 */
export function localEngineProblem(engine: Engine, version: string): { field: string; problem: string } | undefined {
  const offered = Object.keys(AL2023_SERVER_PACKAGES[engine]);
  if (offered.length === 0) {
    const alternatives = (Object.keys(AL2023_SERVER_PACKAGES) as Engine[]).filter(
      (e) => Object.keys(AL2023_SERVER_PACKAGES[e]).length > 0,
    );
    return {
      field: "database.engine",
      problem: `must be ${alternatives.join(" or ")} for layout single-server: Amazon Linux 2023 packages no ${engine} server (mariadb is MySQL-compatible; or use a layout with RDS) (got "${engine}")`,
    };
  }
  const major = engineMajor(engine, version);
  if (!offered.includes(major)) {
    return {
      field: "database.engineVersion",
      problem: `must be a ${engine} version Amazon Linux 2023 packages for layout single-server: ${offered.join(", ")} (or use a layout with RDS, which runs ${ENGINES[engine].majors.join(", ")}) (got "${version}")`,
    };
  }
  if (major !== version) {
    return {
      field: "database.engineVersion",
      problem: `must be a major version for layout single-server (${major}): Amazon Linux 2023 installs its repository's current ${major}.x, a minor cannot be pinned (got "${version}")`,
    };
  }
  return undefined;
}

/**
 * Names the engines and RDS keep for their own databases and accounts (reserved words are in
 * reserved-words.ts, per engine).
 */
const RESERVED_NAMES = new Set([
  "postgres",
  "template0",
  "template1",
  "rdsadmin",
  "rds_superuser",
  "rdsrepladmin",
  "root",
  "mysql",
  "sys",
  "information_schema",
  "performance_schema",
  "mariadb.sys",
  "public",
  "admin",
]);

/**
 * Why `name` cannot be the app's database (`kind: "name"`) or user (`kind: "username"`) on
 * `engine`, or undefined when it can: lowercase letters, digits and underscores starting with a
 * letter (so that it never needs quoting in SQL, nor in the shell scripts that create it), no
 * longer than the engine allows (PostgreSQL 63; MySQL and MariaDB 64 for a database and, as RDS
 * takes a master user, 16 for a user), not a name the engine or RDS keeps, not a word the engine
 * reserves (reserved-words.ts), and for PostgreSQL not `pg_...` nor a keyword of pg_hba.conf.
 */
export function identifierProblem(engine: Engine, kind: "name" | "username", name: string): string | undefined {
  const max = engine === "postgres" ? 63 : kind === "name" ? 64 : 16;
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    return `must be lowercase letters, digits and underscores, starting with a letter (got ${JSON.stringify(name)})`;
  }
  if (name.length > max) return `must be at most ${max} characters for ${engine} (got ${JSON.stringify(name)})`;
  if (RESERVED_NAMES.has(name)) return `is reserved by the engine or RDS; pick another (got ${JSON.stringify(name)})`;
  const reservedWord = reservedWordProblem(engine, kind, name);
  if (reservedWord) return reservedWord;
  if (engine === "postgres" && name.startsWith("pg_")) {
    return `must not start with pg_, which PostgreSQL reserves (got ${JSON.stringify(name)})`;
  }
  if (engine === "postgres" && PG_HBA_KEYWORDS.has(name)) {
    return (
      `must not be ${[...PG_HBA_KEYWORDS].join(", ")}: pg_hba.conf reads these as keywords, so the single server's ` +
      `access rule for the app would not match its database, and the app could not connect (got ${JSON.stringify(name)})`
    );
  }
  return undefined;
}

/** Words pg_hba.conf reads as keywords in its database and user columns, not as names (unquoted). */
const PG_HBA_KEYWORDS = new Set(["all", "replication", "sameuser", "samerole", "samegroup"]);

"use strict";
/**
 * The app's schema, as migrations applied in order, each once (recorded in schema_migrations).
 * One statement per dialect: `postgres`, and `mysql` for MySQL and MariaDB.
 *
 * Deploys are rolling: while a release's migrations run and its processes start, the previous
 * release keeps serving on the same database. So a migration only adds (a table, a column with a
 * default, an index); dropping or renaming what the previous release uses waits for a later
 * release, once nothing runs the old one.
 */
module.exports = [
  {
    id: "001_create_notes",
    postgres: `CREATE TABLE notes (
      id bigserial PRIMARY KEY,
      body text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    mysql: `CREATE TABLE notes (
      id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
      body text NOT NULL,
      created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  },
];

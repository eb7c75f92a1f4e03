import type { Engine } from "./schema";

/**
 * The words each engine reserves, which therefore cannot be the app's database or user name: the
 * single server's db-provision writes both unquoted into SQL, and RDS refuses a reserved word as
 * DBName or master user name. Lower case, as the names are (`identifierProblem` allows only
 * `[a-z][a-z0-9_]*`). Data only; update a list when a new major of its engine is offered.
 */

const words = (list: string): ReadonlySet<string> => new Set(list.trim().split(/\s+/));

/**
 * PostgreSQL 16 and 17: the keywords of category R (reserved) and T (reserved, can be a function
 * or type name) in `pg_get_keywords()`, the "SQL Key Words" appendix's PostgreSQL column
 * (src/include/parser/kwlist.h). T words are in as well: a database name is a `ColId`, which
 * excludes them (`CREATE DATABASE left` is a syntax error). PostgreSQL 15 has the same set less
 * system_user.
 */
export const POSTGRES_RESERVED_WORDS = words(`
  all analyse analyze and any array as asc asymmetric authorization binary both case cast check
  collate collation column concurrently constraint create cross current_catalog current_date
  current_role current_schema current_time current_timestamp current_user default deferrable desc
  distinct do else end except false fetch for foreign freeze from full grant group having ilike in
  initially inner intersect into is isnull join lateral leading left like limit localtime
  localtimestamp natural not notnull null offset on only or order outer overlaps placing primary
  references returning right select session_user similar some symmetric system_user table
  tablesample then to trailing true union unique user using variadic verbose when where window with
`);

/**
 * Role names PostgreSQL keeps for itself beyond its keywords: `CREATE ROLE none` fails ("role name
 * none is reserved"), and public, current_role, current_user and session_user name roles in GRANT.
 */
export const POSTGRES_RESERVED_ROLE_NAMES = words(`none public current_role current_user session_user`);

/** MySQL 8.4: the words marked (R) in the reference manual's "Keywords and Reserved Words". */
export const MYSQL_RESERVED_WORDS = words(`
  accessible add all alter analyze and as asc asensitive before between bigint binary blob both by
  call cascade case change char character check collate column condition constraint continue
  convert create cross cube cume_dist current_date current_time current_timestamp current_user
  cursor database databases day_hour day_microsecond day_minute day_second dec decimal declare
  default delayed delete dense_rank desc describe deterministic distinct distinctrow div double
  drop dual each else elseif empty enclosed escaped except exists exit explain false fetch
  first_value float float4 float8 for force foreign from fulltext function generated get grant
  group grouping groups having high_priority hour_microsecond hour_minute hour_second if ignore in
  index infile inner inout insensitive insert int int1 int2 int3 int4 int8 integer intersect
  interval into io_after_gtids io_before_gtids is iterate join json_table key keys kill lag
  last_value lateral lead leading leave left like limit linear lines load localtime localtimestamp
  lock long longblob longtext loop low_priority manual master_bind master_ssl_verify_server_cert
  match maxvalue mediumblob mediumint mediumtext middleint minute_microsecond minute_second mod
  modifies natural not no_write_to_binlog nth_value ntile null numeric of on optimize
  optimizer_costs option optionally or order out outer outfile over parallel partition
  percent_rank precision primary procedure purge qualify range rank read read_write reads real
  recursive references regexp release rename repeat replace require resignal restrict return
  revoke right rlike row row_number rows schema schemas second_microsecond select sensitive
  separator set show signal smallint spatial specific sql sql_big_result sql_calc_found_rows
  sql_small_result sqlexception sqlstate sqlwarning ssl starting stored straight_join system table
  tablesample terminated then tinyblob tinyint tinytext to trailing trigger true undo union unique
  unlock unsigned update usage use using utc_date utc_time utc_timestamp values varbinary varchar
  varcharacter varying virtual when where while window with write xor year_month zerofill
`);

/** MariaDB 10.5 and 10.11: the knowledge base's "Reserved Words" list (sql/lex.h less the grammar's keyword rules). */
export const MARIADB_RESERVED_WORDS = words(`
  accessible add all alter analyze and as asc asensitive before between bigint binary blob both by
  call cascade case change char character check collate column condition constraint continue
  convert create cross current_date current_role current_time current_timestamp current_user
  cursor database databases day_hour day_microsecond day_minute day_second dec decimal declare
  default delayed delete delete_domain_id desc describe deterministic distinct distinctrow div
  do_domain_ids double drop dual each else elseif enclosed escaped except exists exit explain false
  fetch float float4 float8 for force foreign from fulltext general grant group having
  high_priority hour_microsecond hour_minute hour_second if ignore ignore_domain_ids
  ignore_server_ids in index infile inner inout insensitive insert int int1 int2 int3 int4 int8
  integer intersect interval into is iterate join key keys kill leading leave left like limit
  linear lines load localtime localtimestamp lock long longblob longtext loop low_priority
  master_heartbeat_period master_ssl_verify_server_cert match maxvalue mediumblob mediumint
  mediumtext middleint minute_microsecond minute_second mod modifies natural not
  no_write_to_binlog null numeric offset on optimize option optionally or order out outer outfile
  over page_checksum parse_vcol_expr partition position precision primary procedure purge range
  read read_write reads real recursive ref_system_id references regexp release rename repeat
  replace require resignal restrict return returning revoke right rlike row_number rows schema
  schemas second_microsecond select sensitive separator set show signal slow smallint spatial
  specific sql sql_big_result sql_calc_found_rows sql_small_result sqlexception sqlstate
  sqlwarning ssl starting stats_auto_recalc stats_persistent stats_sample_pages straight_join
  table terminated then tinyblob tinyint tinytext to trailing trigger true undo union unique
  unlock unsigned update usage use using utc_date utc_time utc_timestamp values varbinary varchar
  varcharacter varying when where while window with write xor year_month zerofill
`);

/** Each engine's name as its makers write it, for messages. */
export const ENGINE_TITLES: Readonly<Record<Engine, string>> = {
  postgres: "PostgreSQL",
  mysql: "MySQL",
  mariadb: "MariaDB",
};

/** Why `name` cannot be a database (`kind: "name"`) or user (`kind: "username"`) name on `engine` as a word it reserves, or undefined. */
export function reservedWordProblem(engine: Engine, kind: "name" | "username", name: string): string | undefined {
  const title = ENGINE_TITLES[engine];
  const reserved = { postgres: POSTGRES_RESERVED_WORDS, mysql: MYSQL_RESERVED_WORDS, mariadb: MARIADB_RESERVED_WORDS };
  if (reserved[engine].has(name)) return `${JSON.stringify(name)} is a reserved word in ${title}; choose another name`;
  if (engine === "postgres" && kind === "username" && POSTGRES_RESERVED_ROLE_NAMES.has(name))
    return `${JSON.stringify(name)} is a role name ${title} reserves; choose another name`;
  return undefined;
}

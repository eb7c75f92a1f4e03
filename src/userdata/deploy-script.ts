import type { AppHost } from "./app-host";
import { APP_HEALTH_PATH, hostTimings, RELEASE_VERSION_METADATA, SHA256_PATTERN, VERSION_PATTERN } from "./app-host";
import { drainTimings, startTimeoutSeconds } from "./app-unit";
import { databaseDeploySection, MIGRATION_KILL_SECONDS, MIGRATION_TIMEOUT_SECONDS } from "./database-step";
import { heldMarker, unansweredMarker } from "./nginx-conf";

/** Where the deploy script is installed under the app root. */
export const DEPLOY_SCRIPT = "bin/deploy";

/** Object versions of the release key searched for a release, newest first. */
const MAX_RELEASE_VERSIONS = 100;

/** Releases kept on disk besides those running, for a quick manual rollback. */
const KEEP_RELEASES = 3;

/**
 * Seconds allowed for fetching the release and reading the database settings: AWS calls tried up
 * to 5 times with their backoff, and the download. An allowance, not a limit: a slow download that
 * still moves is not cut off.
 */
const FETCH_SECONDS = 600;

/**
 * The longest the deploy's health check of one process takes (`healthy` in the script): two tries
 * of at most 2 s each, 1 s apart (curl's `--retry 1`). `--retry-max-time 4` stops a 503's
 * Retry-After, which curl would wait out, from setting the wait instead (review DM). Each second
 * here is 64 s of the most processes' deploy limit (each move and its move back), which with an
 * RDS create must stay within GitHub's 6 hours for a job (release.test.ts): a third try, or longer
 * ones, would not.
 */
const HEALTH_CHECK_SECONDS = 2 * 2 + 1;

/**
 * The longest one process's move takes by the unit's timeouts: the old process held out
 * (`holdSeconds`) and draining until systemd's TimeoutStopSec; the new one starting and settling
 * (TimeoutStartSec); and, when it fails to, held out and stopped as well (systemd stops a unit whose
 * start failed); then the health check and the MainPID read.
 */
function moveSeconds(host: AppHost): number {
  const stop = hostTimings(host).rotation.holdSeconds + drainTimings(host).stopTimeoutSeconds;
  return Math.ceil(2 * stop + startTimeoutSeconds(host) + HEALTH_CHECK_SECONDS + 1);
}

/** Empties the watchdog's notes of process ends ($EXITS), under the lock `ended` takes to add one. */
export const FORGET_ENDS = '{ flock 9; : >"$EXITS"; } 9>>"$EXITS"';

/** The deploy's lock file in the app root: one deploy at a time, and no OS update during one (os-update.ts). */
export const DEPLOY_LOCK = "deploy.lock";

/**
 * How long a deploy waits for a port already on its version, but held out of rotation (a crashed
 * process starting again, or one a deploy cut off left settling), to settle: its restart delay,
 * the settle window and 15 s for the process to start (a start may take up to the unit's
 * TimeoutStartSec: one slower than this is restarted). One still held then is moved; one whose
 * unit is not running is not waited for. Each port is waited for once at most: `deployTimeoutSeconds`
 * counts it for every port (26 s a port as shipped); the script's own default lock wait does not.
 */
export function heldWaitSeconds(host: AppHost): number {
  const { rotation } = hostTimings(host);
  return Math.ceil(rotation.restartSeconds + rotation.settleSeconds + 15);
}

/**
 * What every deploy on `host` may spend before it moves a process: the release's fetch and, with a
 * database, the migrations' time limit and their kill.
 */
function beforeMovesSeconds(host: AppHost): number {
  return FETCH_SECONDS + (host.database ? MIGRATION_TIMEOUT_SECONDS + MIGRATION_KILL_SECONDS : 0);
}

/**
 * The longest a deploy on `host` spends fetching the release, running the migrations (their time
 * limit) and moving every process and back (a failed deploy returns all it moved), each move at
 * most `moveSeconds`: the deploy script's own default wait for another deploy's lock (a person's
 * deploy waits out a whole deploy). It leaves out the waits for held ports (`deployTimeoutSeconds`
 * counts them): a person's deploy may give up that much early, with nothing changed (exit 75), and
 * counting them here would rewrite every server's boot script for it (review CE: a fleet would
 * roll, and a fixed server's plan would ask for its replacement).
 */
export function rolloutSeconds(host: AppHost): number {
  return beforeMovesSeconds(host) + 2 * host.appPorts.length * moveSeconds(host);
}

/**
 * The longest a deploy on `host` runs while it still makes progress: `rolloutSeconds`, and every
 * port waited for once while it settles held out of rotation (`heldWaitSeconds`: a crashed process
 * starting again). What runs a deploy waits this long (the SSM document; the apply that waits for
 * it), so that a deploy is never cut off half-way through its rollout or rollback, which would
 * leave processes on two versions and one possibly out of rotation. 1,376 s for 2 processes
 * without a database; 13,646 s for 32 with one.
 */
export function deployTimeoutSeconds(host: AppHost): number {
  return rolloutSeconds(host) + host.appPorts.length * heldWaitSeconds(host);
}

/**
 * The longest the first install on `host` (the boot script's deploy) runs: fetching the release,
 * the migrations' time limit, every process started at once and, should a start fail, stopped
 * again (one move), and each process's health checked twice.
 */
export function firstInstallSeconds(host: AppHost): number {
  return beforeMovesSeconds(host) + moveSeconds(host) + 2 * HEALTH_CHECK_SECONDS * host.appPorts.length;
}

/**
 * `deploy <version>`: the one way a version reaches an app server's processes, used by the boot
 * script (first install), the SSM document (single-server and app-db-split deploys) and people.
 *
 * Fetches the release when it is not on disk. On a first install (no process has run a release)
 * it starts every process at once. Otherwise it moves one process at a time, those held out of
 * rotation first (a stopped process, or one failing to start, serves nothing): point its
 * `run/<port>` link at the release and `systemctl restart app@<port>`. The unit holds the process
 * out of nginx's rotation before stopping it, and lets the new one in only after it has answered
 * its health check for the settle window (`rotationScript`); the restart fails otherwise. The
 * process must then report the new version. Before each move and at the end, every port moved must
 * still run the process that settled (systemd's MainPID): a release that dies after its settle
 * window while the deploy runs fails it too (the last port moved is not watched past its own). If
 * a process fails, every process already moved goes back to the version it ran before: those out
 * of rotation first (the failed one, or one that died and is starting again), then the others
 * newest first, and the script exits 1: the old version keeps serving, one process out of rotation
 * at a time. What a port ran before a deploy moved it stays noted (`deploy.unfinished`) until a
 * deploy ends, so that the deploy run again after one cut off half-way rolls back to that; a note
 * that cannot be written (a full disk) stops the deploy before that port, and it rolls back.
 *
 * `APP_CTL` replaces `systemctl` (the local test bed supervises processes itself), and
 * `APP_RETRY_SECONDS` the backoff step between retried AWS calls (default 3).
 */
export function deployScript(host: AppHost): string {
  const root = host.paths.appRoot;
  const { artifacts } = host;
  const database = databaseDeploySection(host);
  // By default a second deploy waits for the one running, however long its moves may take
  // (DEPLOY_LOCK_WAIT sets a shorter wait: the SSM document's deploy waits 5 minutes).
  const lockWait = rolloutSeconds(host);
  const fetch = artifacts
    ? [
        // AWS calls retried with backoff: at first boot the instance role may not be usable yet.
        // Waits 3, 6, 9, 12 s between the 5 tries (APP_RETRY_SECONDS sets the step). (The deploy
        // script's comments are here, not in it: user data is 16 KB at most.)
        "aws_retry() {",
        "  local i",
        "  for i in 1 2 3 4 5; do",
        "    aws --region " + artifacts.region + ' "$@" && return 0',
        "    if ((i < 5)); then sleep $((i * ${APP_RETRY_SECONDS:-3})); fi",
        "  done",
        "  return 1",
        "}",
        "",
        // Every release is an object version of one key, named by its RELEASE_VERSION_METADATA
        // metadata: walk the versions newest first for this one, download it (checksum verified),
        // unpack it beside the other releases and move it into place only when complete. Every step
        // that fails returns 1 (its caller removes what it left).
        "fetch_release() {",
        "  local version=$1 bucket ids id found='' named tmp",
        `  bucket=$(aws_retry ssm get-parameter --name ${artifacts.bucketParameter} --query Parameter.Value --output text) || return 1`,
        `  ids=$(aws_retry s3api list-object-versions --bucket "$bucket" --prefix ${artifacts.releaseKey} --max-items ${MAX_RELEASE_VERSIONS} \\`,
        `    --query "Versions[?Key=='${artifacts.releaseKey}'].VersionId" --output text) || return 1`,
        // no version: the CLI prints None
        '  if [[ $ids == None ]]; then ids=""; fi',
        // a killed fetch's leftovers (the lock is ours)
        '  rm -rf "$RELEASES"/.fetch.*',
        '  tmp=$(mktemp -d "$RELEASES/.fetch.XXXXXX") || return 1',
        "  for id in $ids; do",
        `    named=$(aws_retry s3api head-object --bucket "$bucket" --key ${artifacts.releaseKey} --version-id "$id" \\`,
        `      --query 'Metadata."${RELEASE_VERSION_METADATA}"' --output text) || return 1`,
        '    [[ $named == "$version" ]] || continue',
        `    aws_retry s3api get-object --checksum-mode ENABLED --bucket "$bucket" --key ${artifacts.releaseKey} \\`,
        '      --version-id "$id" "$tmp.tar.gz" >/dev/null || return 1',
        // The bytes releases.yaml records, when given: not any object under the version's name. One
        // put over the key later (by hand, or by someone else) is passed over for the earlier
        // version that holds them, instead of failing every later boot and deploy of the version.
        '    if [[ -z ${sha:-} || $(sha256sum "$tmp.tar.gz") == "$sha "* ]]; then found=$id; break; fi',
        '    log "release $version: object version $id is not sha256 $sha"',
        "  done",
        `  if [[ -z $found ]]; then log "release $version is not among the versions of s3://$bucket/${artifacts.releaseKey}"; return 1; fi`,
        "  if \\",
        // files, folders and links only: root unpacks it, and a device node would be root's
        // (grep reads the whole listing: with -q it would stop at the first match, and tar's SIGPIPE
        // would fail the pipeline under pipefail, letting the release through)
        "    tar -tvzf \"$tmp.tar.gz\" | grep '^[^-dl]' >/dev/null ||",
        '    ! tar -xzf "$tmp.tar.gz" -C "$tmp" --no-same-owner --no-same-permissions ||',
        "    [[ ! -f $tmp/server.js ]]; then",
        '    log "release $version: unpack failed, an entry other than a file, folder or link, or no server.js in it"',
        "    return 1",
        "  fi",
        '  rm -f "$tmp.tar.gz"',
        '  chmod -R a+rX "$tmp"',
        '  mv -T "$tmp" "$RELEASES/$version"',
        "}",
      ]
    : [
        "fetch_release() {",
        '  log "release $1 is not in $RELEASES and this server has no artifact source"',
        "  return 1",
        "}",
      ];
  return [
    "#!/bin/bash",
    "# deploy <version> [<sha256>]: run <version> on every app process of this server, one at a time",
    "# behind nginx, rolling back if a process fails its health check.",
    "# Written by the boot script from src/userdata/deploy-script.ts; edit that, not this file.",
    "set -euo pipefail",
    // A reader that goes away (`deploy ... | head`, a closed session's pipe) must not end the deploy
    // half-way: SIGPIPE is ignored, and a line that cannot be written is lost, not fatal (set -e).
    "trap '' PIPE",
    "",
    `APP_ROOT=${root}`,
    'RELEASES="$APP_ROOT/releases"',
    `PORTS=(${host.appPorts.join(" ")})`,
    `HEALTH_PATH=${APP_HEALTH_PATH}`,
    'CTL="${APP_CTL:-systemctl}"',
    "",
    'log() { echo "deploy: $*" 2>/dev/null || true; }',
    "",
    'version="${1:?usage: deploy <version> [<sha256>]}"',
    `if [[ ! $version =~ ${VERSION_PATTERN.source} ]]; then log "not a release version: $version"; exit 64; fi`,
    'sha="${2:-}"',
    `if [[ -n $sha && ! $sha =~ ${SHA256_PATTERN.source} ]]; then log "not a sha256: $sha"; exit 64; fi`,
    "",
    // One deploy at a time on a server. By default a deploy waits as long as the one running may
    // take; DEPLOY_LOCK_WAIT (seconds) sets another wait (the SSM document's is short). (These
    // comments are not in the script: the largest single server's user data has little room.)
    `lock_wait=\${DEPLOY_LOCK_WAIT:-${lockWait}}`,
    'if [[ ! $lock_wait =~ ^[0-9]+$ ]]; then log "DEPLOY_LOCK_WAIT must be whole seconds (got $lock_wait)"; exit 64; fi',
    `held_wait=\${DEPLOY_HELD_WAIT:-${heldWaitSeconds(host)}}`,
    'if [[ ! $held_wait =~ ^[0-9]+$ ]]; then log "DEPLOY_HELD_WAIT must be whole seconds (got $held_wait)"; exit 64; fi',
    `exec 9>"$APP_ROOT/${DEPLOY_LOCK}"`,
    'flock -w "$lock_wait" 9 || { log "another deploy is still running after $lock_wait s; nothing changed"; exit 75; }',
    "",
    ...fetch,
    "",
    ...(database.functions.length > 0 ? [...database.functions, ""] : []),
    // (Comments on the script's functions are here, not in it: the user data has little room.)
    // healthy <port> <version>: 200 from the process itself, and the version it reports (when it
    // reports one) is $2: a "version" key with the value $2, however the JSON is spaced (an answer
    // with several such keys passes when one of them is $2). Asked twice at most, 2 s each, 1 s
    // apart: a process just let into rotation on a saturated server gets the most requests (least
    // connections), and its answer waits behind them; one 2-s try rolled back good releases under
    // load, and restarted every process of a deploy of the running version (review DJ). A wrong
    // version is a whole answer, not asked again.
    "healthy() {",
    '  local body re=\'"version"[[:space:]]*:[[:space:]]*"([^"]*)"\'',
    '  body=$(curl -fsS --max-time 2 --retry 1 --retry-all-errors --retry-max-time 4 "http://127.0.0.1:$1$HEALTH_PATH" 2>/dev/null) || return 1',
    "  [[ $body =~ $re ]] || return 0",
    "  while [[ $body =~ $re ]]; do",
    '    [[ ${BASH_REMATCH[1]} == "$2" ]] && return 0',
    '    body=${body#*"${BASH_REMATCH[0]}"}',
    "  done",
    "  return 1",
    "}",
    "",
    // running <port>: the release a process runs, where its run/<port> link points ("" before its first deploy)
    'running() { local target; if target=$(readlink "$APP_ROOT/run/$1"); then echo "${target##*/}"; fi; }',
    "",
    // main_pid <port>: the process systemd runs for the port (0: none)
    'main_pid() { $CTL show --property=MainPID --value "app@$1"; }',
    "",
    // switch <port> <version>: point the port at the release and restart its process, which is back
    // in rotation only once it has settled (the unit's start fails otherwise); then it must report
    // the version. Its process is kept in settled[<port>].
    "declare -A settled=()",
    "switch() {",
    '  ln -sfn "$RELEASES/$2" "$APP_ROOT/run/.$1"',
    '  mv -Tf "$APP_ROOT/run/.$1" "$APP_ROOT/run/$1"',
    '  $CTL restart "app@$1" && healthy "$1" "$2" && settled[$1]=$(main_pid "$1") && [[ ${settled[$1]} =~ ^[1-9][0-9]*$ ]]',
    "}",
    "",
    // is_held <port>: whether the port is held out of nginx's rotation now
    `is_held() { [[ -e ${heldMarker(host, "$1")} ]]; }`,
    // settled_in_time <port>: whether a held port leaves the hold within $held_wait seconds; not
    // waited for when its unit is not running (stopped, or failed: nothing will let it in)
    'settled_in_time() { local i; for ((i = 0; i < 2 * held_wait; i++)); do is_held "$1" || return 0; case $($CTL is-active "app@$1" 2>/dev/null || true) in inactive | failed) return 1 ;; esac; sleep 0.5; done; ! is_held "$1"; }',
    "",
    // still_running: every port moved so far still runs the process that settled; one that exited
    // since (a release that dies after its settle window; systemd restarts it, or runs none) fails
    // the deploy.
    "still_running() {",
    "  local entry port now",
    '  for entry in "${moved[@]}"; do',
    "    port=${entry%%:*}",
    '    now=$(main_pid "$port") || now=unknown',
    '    if [[ $now != "${settled[$port]:-}" ]]; then',
    '      log "port $port: its $version process (pid ${settled[$port]:-?}) exited after it settled (now: $now)"',
    "      return 1",
    "    fi",
    "  done",
    "}",
    "",
    // A signal (Ctrl-C, kill) stops the deploy here: say what each port runs (SSM's SIGKILL runs no trap).
    "interrupted() {",
    "  trap '' TERM INT",
    "  local port release now",
    '  for port in "${PORTS[@]}"; do release=$(running "$port"); now+="port $port runs ${release:-nothing}, "; done',
    '  log "interrupted by SIG$1, moving nothing more: ${now%, }; run the deploy again to finish, or deploy the version before"',
    '  exit "$2"',
    "}",
    "trap 'interrupted TERM 143' TERM",
    "trap 'interrupted INT 130' INT",
    // A closed terminal (an SSH session dropped) is no request to stop: the deploy goes on to the end
    // (its output lost, as a pipe nobody reads; see `log`).
    "trap '' HUP",
    "",
    'mkdir -p "$RELEASES"',
    'if [[ ! -d "$RELEASES/$version" ]]; then',
    '  log "fetching release $version"',
    '  fetch_release "$version" || { rm -rf "$RELEASES"/.fetch.*; log "failed: release $version unavailable; nothing changed"; exit 1; }',
    "fi",
    'mkdir -p "$APP_ROOT/run"',
    ...database.step,
    "",
    // First install (no process has run a release yet, so none serves): start them all at once.
    'if [[ -z $(for port in "${PORTS[@]}"; do running "$port"; done) ]]; then',
    '  log "first install: starting ${#PORTS[@]} processes on $version"',
    '  for port in "${PORTS[@]}"; do ln -sfn "$RELEASES/$version" "$APP_ROOT/run/$port"; done',
    "  status=0",
    '  $CTL restart "${PORTS[@]/#/app@}" || status=1',
    '  for port in "${PORTS[@]}"; do healthy "$port" "$version" || { log "port $port: $version not healthy"; status=1; }; done',
    '  if ((status != 0)); then log "failed: $version did not start on every process, and there is no earlier version"; exit 1; fi',
    "fi",
    "",
    // deploy.unfinished: what each port ran before the deploy that moved it, written before each
    // move and removed when a deploy ends with every port on a version it chose (done, or all
    // rolled back). A deploy cut off half-way (SSM's SIGKILL runs no trap) leaves it, and the next
    // deploy returns those ports there should it roll back, also those it finds on its own version.
    'UNFINISHED="$APP_ROOT/deploy.unfinished"',
    `EXITS=${host.paths.rotationDir}/exits`,
    "declare -A before=()",
    "if [[ -f $UNFINISHED ]]; then",
    '  while IFS=: read -r p v; do [[ " ${PORTS[*]} " != *" $p "* ]] || before[$p]=$v; done <"$UNFINISHED"',
    '  log "an earlier deploy did not finish: a rollback returns its ports to where it found them"',
    "fi",
    'record() { local p; { for p in "${!before[@]}"; do echo "$p:${before[$p]}"; done >"$UNFINISHED.new" && mv -f "$UNFINISHED.new" "$UNFINISHED"; } 2>/dev/null || { rm -f "$UNFINISHED.new"; false; }; }',
    "moved=() # port:previous-version, for the rollback",
    // Every port moved goes back to what it ran: those held out of rotation now first (one that
    // failed to start, or died and is starting again), then the others newest first, so that a
    // serving one goes out only once no other is held.
    "roll_back() {",
    "  local status=0 i p old entry back=() rest=()",
    // and the ports a deploy cut off moved that this one has not reached (they go back last)
    '  for p in "${!before[@]}"; do',
    '    if [[ " ${moved[*]} " != *" $p:"* && $(running "$p") != "${before[$p]}" ]]; then moved=("$p:${before[$p]}" "${moved[@]}"); fi',
    "  done",
    '  if ((${#moved[@]} == 0)); then rm -f "$UNFINISHED"; log "failed: nothing changed, every port runs what it ran before"; exit 1; fi',
    "  for ((i = ${#moved[@]} - 1; i >= 0; i--)); do",
    '    if is_held "${moved[i]%%:*}"; then back+=("${moved[i]}"); else rest+=("${moved[i]}"); fi',
    "  done",
    '  for entry in "${back[@]}" "${rest[@]}"; do',
    "    p=${entry%%:*} old=${entry#*:}",
    '    if [[ -z $old ]]; then log "port $p: no earlier version to return to"; status=1; continue; fi',
    '    if switch "$p" "$old"; then log "port $p: back on $old"; else log "port $p: $old not healthy either"; status=1; fi',
    "  done",
    // Once every port it moved is back on the release it ran, settled and answering there, the ends
    // the watchdog noted go: the rolled-back release's (one that dies after it starts ends two or
    // three times), which, counted toward its 3 in 10 minutes, would fail the server's /healthz for
    // those minutes while it serves (review DJ). Any older ones go with them: the deploy found the
    // ports it had not reached serving (it moves those held out of rotation first). Under the lock
    // the rotation script's `ended` takes. (The user data has no room for a finer rule.)
    `  if ((status == 0)); then rm -f "$UNFINISHED"; ${FORGET_ENDS}; fi`,
    '  log "failed: $version rolled back (rollback status $status)"',
    "  exit 1",
    "}",
    // Ports held out of rotation now (stopped, or failing to start) are moved first: that takes
    // nothing from the serving ones, and the deploy holds out one process at a time (see
    // nginx.conf). Then those in rotation that do not answer their health check (hung, and not yet
    // held out by the watchdog): holding out an answering one first would leave them alone with
    // the traffic (review AQ: a deploy beside a hung process of two stopped the server for 15 s).
    // When its turn comes, such a port is held out and asked again (a busy one, its queue no
    // longer growing, answers); one still silent is hung, and killed right before its move, as the
    // watchdog kills it: stopped the usual way, a process that cannot act on SIGTERM keeps the
    // requests it holds until systemd's stop timeout, and nginx's 30-s read timeout ends them
    // first (review BI: 504s and 30-s waits). Killed earlier, systemd would start it again on the
    // old release before its move (review BJ). Only while another process answers, or on a server
    // of one, as the watchdog: when none answers the cause is shared (overload, a dependency, a
    // database down), and the moves restart each in turn (may_kill=0).
    "held=() silent=() serving=()",
    'up() { curl -fso /dev/null -m 2 "http://127.0.0.1:$1$HEALTH_PATH"; }',
    `for port in "\${PORTS[@]}"; do if is_held "$port"; then held+=("$port"); elif [[ -e ${unansweredMarker(host, "$port")} ]]; then log "port $port: no answer through nginx lately: moved first"; silent+=("$port"); elif up "$port"; then serving+=("$port"); else log "port $port: no answer to its health check: moved first"; silent+=("$port"); fi; done`,
    "may_kill=$((${#serving[@]} || ${#PORTS[@]} == 1))",
    'for port in "${held[@]}" "${silent[@]}" "${serving[@]}"; do',
    '  still_running || { log "rolling back"; roll_back; }',
    '  previous=$(running "$port")',
    // one still held out of rotation (settling after a crash, or after a deploy cut off) answers
    // its health check while it settles: taken as done, the next port would go out beside it
    // (review BW). Its settling is waited for (heldWaitSeconds: a quick start's), and it is moved
    // only if it is still held then: a deploy of the running version restarts nothing unless a
    // process takes longer than that to start again (reviews BY, BZ, CA).
    '  if [[ $previous == "$version" ]] && { ! is_held "$port" || settled_in_time "$port"; } && healthy "$port" "$version"; then',
    '    log "port $port already runs $version"',
    // moved there by a deploy that did not finish: a rollback returns it too
    '    if [[ -n ${before[$port]+x} && ${before[$port]} != "$version" ]]; then',
    '      moved+=("$port:${before[$port]}")',
    '      settled[$port]=$(main_pid "$port") || settled[$port]=',
    "    fi",
    "    continue",
    "  fi",
    "  if [[ -z ${before[$port]+x} ]]; then",
    "    before[$port]=$previous",
    // (a full disk: the ports moved go back, which writes only their links)
    '    record || { log "cannot write $UNFINISHED (is the disk full?): stopping before port $port"; roll_back; }',
    "  fi",
    '  log "port $port: ${previous:-nothing} -> $version"',
    '  moved+=("$port:${before[$port]}")',
    `  if ((may_kill)) && [[ " \${silent[*]} " == *" $port "* ]]; then : >${heldMarker(host, "$port")}; up "$port" || { log "port $port: still no answer once held out: killed"; $CTL kill --signal=SIGKILL "app@$port"; }; fi`,
    '  if ! switch "$port" "$version"; then',
    '    log "port $port: $version did not start, answer its health check and settle; rolling back, this port first"',
    "    roll_back",
    "  fi",
    "done",
    'still_running || { log "rolling back"; roll_back; }',
    'rm -f "$UNFINISHED"',
    "",
    'ln -sfn "$RELEASES/$version" "$APP_ROOT/.current" && mv -Tf "$APP_ROOT/.current" "$APP_ROOT/current"',
    // Keep the KEEP_RELEASES newest releases that no process runs. The deploy is done: a release
    // that cannot be removed is logged, and fails nothing.
    "prune_releases() {",
    "  local in_use old status=0",
    '  in_use=" $(for p in "${PORTS[@]}"; do running "$p"; done | tr "\\n" " ") "',
    '  while read -r old; do rm -rf "${RELEASES:?}/$old" || status=1; done < <(',
    '    ls -1t "$RELEASES" | while read -r old; do if [[ $in_use != *" $old "* ]]; then echo "$old"; fi; done |',
    `      tail -n +${KEEP_RELEASES + 1}`,
    "  )",
    "  return $status",
    "}",
    'prune_releases || log "warning: an old release in $RELEASES could not be removed"',
    'log "done: ${#PORTS[@]} processes run $version"',
    "",
  ].join("\n");
}

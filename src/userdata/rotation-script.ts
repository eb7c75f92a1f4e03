import type { AppHost } from "./app-host";
import { APP_HEALTH_PATH, hostTimings, ROTATION } from "./app-host";

/** Where the rotation script is installed under the app root. */
export const ROTATION_SCRIPT = "bin/rotation";

/** The systemd unit that runs the watchdog (`rotation watch`). */
export const WATCHDOG_UNIT = "app-watchdog.service";

const ms = (seconds: number) => Math.round(seconds * 1000);

/**
 * The watchdog's outlier check: a process in rotation whose answers, over about the last 4 seconds
 * (the counts so far taken at three quarters once a second, whatever the rounds), number at least
 * `minAnswers` and are at least `percent` % 5xx, while another process in rotation has at least
 * `peerMinAnswers` at most `peerPercent` % 5xx, is held out and restarted as a hung one is. Least
 * connections sends a process that fails fast most of the requests (it always holds the fewest
 * open ones): review CO measured 88-90 % of requests failing with one of 2 processes answering 500
 * at once under a saturating load. A process failing nearly everything, then: one that shares a
 * cause with the others (a database down, a bug in one route) is not, at any traffic, and the
 * healthy peer rules out a cause they all share (review CP: at 50 % of 10 answers against a peer's
 * 5, a bug in one route of three that every process shared restarted healthy processes at 3
 * requests a second). A server too quiet to tell is left to the 5xx alarms.
 */
export const OUTLIER = ROTATION.outlier;

/**
 * gawk, fed nginx's access log (`tail -F`): for each second with answers, one line per app port,
 * "<port> <answers> <5xx> <unanswered>", from the `upstream=`, `ustatus=` and `uht=` fields (every
 * try of a request: a GET retried on another process names both). <unanswered>: its tries in a row
 * that got nothing back, not even headers (502 with no header time: a reset, a closed connection;
 * an app's own 502 has one), each counted only where another process answered the same request
 * (a GET tried again): a cause every process shares (a route that fails on all, headers too large
 * for nginx, a dependency down) counts nothing, nor does a try no other process took up (a POST).
 * An answered try starts the count again. Read from after the quoted request line up to
 * `urt=`: the path before and `xff=` after are the client's to write, and must count against no
 * process. A line without them (nginx's own answer) counts nothing. Short names: it is user data.
 */
export const TALLY_AWK = [
  "BEGIN{l=systime()}",
  '{i=index($0,"\\" ");if(!i)next;n=split(substr($0,i+2),t," ");a=s=h="";m=0',
  'for(j=1;j<=n;j++){x=t[j];if(x~/^upstream=/){m=1;x=substr(x,10)}else if(x~/^ustatus=/){m=2;x=substr(x,9)}else if(x~/^uht=/){m=3;x=substr(x,5)}else if(x~/^urt=/)break;if(m==1)a=a" "x;else if(m==2)s=s" "x;else if(m==3)h=h" "x}',
  'gsub(/,| :/," ",a);gsub(/,| :/," ",s);gsub(/,| :/," ",h);na=split(a,A," ");ns=split(s,S," ");split(h,H," ")',
  'for(j=1;j<=na&&j<=ns;j++)if(A[j]~/^127\\.0\\.0\\.1:[0-9]+$/&&S[j]~/^[0-9][0-9][0-9]$/){p=substr(A[j],11);c[p]++;if(S[j]~/^5/)f[p]++;if(H[j]!="-")z[p]=0;else if(S[j]==502&&H[na]!="-"&&A[na]!=A[j])z[p]++}',
  "if(systime()!=l){for(p in c)print p,c[p],f[p]+0,z[p]+0;fflush();delete c;delete f;l=systime()}}",
  "END{for(p in c)print p,c[p],f[p]+0,z[p]+0}",
].join("\n");

/**
 * `rotation <verb> [port]`: which app processes nginx sends requests to, and the watchdog. nginx
 * checks a marker file per process on every request (`held-<port>` in the rotation directory; see
 * `nginxConf`), so holding a process out or letting it back in is creating or removing a file.
 *
 * - `hold <port>` (the unit's ExecStartPre): hold the process out, so it takes no traffic while
 *   it starts.
 * - `admit <port>` (ExecStartPost): wait until the process answers its health check (200), then
 *   keep checking it for the settle window; only then let it into rotation. Exits 1 if it does not
 *   become healthy in time, exits (systemd waits for ExecStartPost however the process ends, so
 *   admit watches `$MAINPID` itself) or fails a check while settling, which fails the unit's start (systemd
 *   restarts it, held out; `systemctl restart` returns non-zero, so the deploy rolls back).
 * - `before-stop <port>` (ExecStop, before systemd sends SIGTERM): hold the process out, then wait
 *   a moment for requests nginx already sent its way to arrive; the process then drains with
 *   nothing new coming in, so it closes its listening socket with no connection queued on it.
 * - `watch` (the app-watchdog service): probe every process in rotation; one that gives no
 *   healthy answer several times in a row (hung, or dying) while another process in rotation does
 *   answer is held out and killed (one per round), and systemd restarts it (held out until it has
 *   settled). The last process in rotation is never killed, unless the server runs only one: when
 *   none answers, the cause is shared (overload, a dependency down) and nothing is killed. Marks the server unhealthy (nginx then answers
 *   503 on the load balancer's health check) while a process that should run has been held out
 *   too long, or after too many processes ended in a window: killed by the watchdog, or crashed.
 * - `after-stop <port>` (ExecStopPost, which systemd runs after every stop, also of a process that
 *   ended on its own, when it skips ExecStop unless the process exited cleanly): a process that
 *   was not held out as it stopped ended without being asked to (a stop that was asked for runs
 *   `before-stop` first, and a starting process is held): a crash. It is noted for the watchdog,
 *   with how it ended (`$EXIT_CODE`/`$EXIT_STATUS`), and held out. A clean end that no stop asked
 *   for (status 0) runs `before-stop`, with `$EXIT_CODE` set (a stop asked for runs it while the
 *   process still runs, without): noted there. A deploy's restarts, a failed start and the
 *   watchdog's own kills (noted by the watchdog) are not noted.
 *
 * Hooks run as root (`+` in the unit). `APP_CTL` replaces `systemctl` (the local test bed
 * supervises processes itself).
 */
export function rotationScript(host: AppHost): string {
  const { rotation } = hostTimings(host);
  return [
    "#!/bin/bash",
    "# rotation hold|admit|before-stop|after-stop <port> | rotation watch: which app processes nginx sends requests to.",
    "# Written by the boot script from src/userdata/rotation-script.ts; edit that, not this file.",
    "set -uo pipefail",
    "",
    `DIR=${host.paths.rotationDir}`,
    `PORTS=(${host.appPorts.join(" ")})`,
    `HEALTH_PATH=${APP_HEALTH_PATH}`,
    `START_TIMEOUT_MS=${ms(rotation.startTimeoutSeconds)}`,
    `SETTLE_MS=${ms(rotation.settleSeconds)}`,
    `HOLD_SECONDS=${rotation.holdSeconds}`,
    `WATCH_INTERVAL_SECONDS=${rotation.watchIntervalSeconds}`,
    `WATCH_TIMEOUT_SECONDS=${rotation.watchTimeoutSeconds}`,
    `WATCH_FAILURES=${rotation.watchFailures}`,
    `STUCK_SECONDS=${rotation.stuckSeconds}`,
    `MAX_RESTARTS=${rotation.maxRestarts}`,
    `RESTART_WINDOW_MS=${ms(rotation.restartWindowSeconds)}`,
    `ACCESS_LOG=${host.paths.nginxLogDir}/access.log`,
    `OUTLIER_MIN=${rotation.outlier.minAnswers} OUTLIER_PERCENT=${rotation.outlier.percent} PEER_MIN=${rotation.outlier.peerMinAnswers} PEER_PERCENT=${rotation.outlier.peerPercent} LOST_MIN=${rotation.outlier.minUnanswered}`,
    `TALLY_AWK='${TALLY_AWK}'`,
    'CTL="${APP_CTL:-systemctl}"',
    "",
    "log() { printf '%(%FT%T%z)T rotation: %s\\n' -1 \"$*\"; }",
    // Milliseconds since the epoch into NOW_MS (EPOCHREALTIME's separator follows the locale). Not
    // $(now_ms): a command substitution forks, and admit and watch ask many times a second.
    "now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; NOW_MS=$((t / 1000)); }",
    // Milliseconds since boot into MONO_MS, for how long something took: the clock above may be
    // stepped (chrony at boot, a person), which must neither cut a settle window short nor make a
    // process held out a moment ago look stuck, nor bring old ends back into the watchdog's window.
    // /proc/uptime (seconds, two decimals; UPTIME_FILE: tests), or the clock where it cannot be read.
    'mono_ms() { local up; if read -r up _ <"${UPTIME_FILE:-/proc/uptime}" && [[ $up =~ ^[0-9]+\\.[0-9]{2}$ ]]; then MONO_MS=$((10#${up/./} * 10)); else now_ms; MONO_MS=$NOW_MS; fi 2>/dev/null; }',
    // This boot (the first 8 characters of its id), for the ends noted in $DIR/exits: their times
    // since boot mean nothing after a reboot.
    "BOOT=''",
    "read -r BOOT </proc/sys/kernel/random/boot_id 2>/dev/null || true",
    "BOOT=${BOOT:0:8}",
    // Sleep $1 seconds without starting a program: a read that times out on a pipe nothing writes to
    // (opened once; this process holds both ends, so it never ends either). Only a timeout (status
    // above 128) counts as the sleep; anything else (no pipe, a bad timeout) sleeps the plain way,
    // never a busy loop.
    "nap() {",
    "  if [[ -z ${NAP_FD:-} ]]; then exec {NAP_FD}<> <(:) || NAP_FD=-1; fi",
    "  if ((NAP_FD >= 0)); then",
    '    read -r -t "$1" -u "$NAP_FD" _ 2>/dev/null',
    "    (($? > 128)) && return",
    "  fi",
    '  sleep "$1"',
    "}",
    // Ports $2... asked for their health at once, each answer within $1 seconds (curl bounds the
    // connect too: a hung process's queue may be full): one curl for them all, its transfers in
    // parallel (as many at once as there are ports), printing "<curl exit code> <status> <url>" for
    // each: 0 and the status when the whole answer arrived in time; a status may come with a failed
    // transfer (headers, then a stall or a reset), and 000 with no answer at all.
    "probe() {",
    "  local timeout=$1 port args=()",
    "  shift",
    '  for port in "$@"; do args+=(-o /dev/null "http://127.0.0.1:$port$HEALTH_PATH"); done',
    '  curl -sS --parallel --parallel-immediate --parallel-max "$#" --max-time "$timeout" \\',
    "    -w '%{exitcode} %{http_code} %{url_effective}\\n' \"${args[@]}\" 2>/dev/null",
    "}",
    // The same in plain bash, without a fork, for a process that is starting: held out of rotation,
    // it has nothing queued, so the connect cannot hang. Polled every 0.2 s for the settle window.
    "answers() {",
    "  local fd status",
    '  { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1',
    '  printf \'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n\' "$HEALTH_PATH" >&"$fd"',
    '  read -r -t "$2" _ status _ <&"$fd"',
    "  exec {fd}>&-",
    "  [[ $status == 200 ]]",
    "}",
    // The process of port $1 and the bytes it has written (to sockets, pipes and files),
    // "<pid>/<bytes>", into WRITES, from /proc/<pid>/io's wchar (its MainPID, from systemd; the
    // watchdog runs as root); empty when they cannot be read. Bytes, not write calls: Node.js's
    // event loop, hung or not, writes 8 bytes to its wake-up eventfd now and then (review AQ).
    "writes() {",
    "  local pid line",
    "  WRITES=",
    '  pid=$($CTL show --property=MainPID --value "app@$1" 2>/dev/null) && [[ $pid =~ ^[1-9][0-9]*$ ]] || return 0',
    '  while read -r line; do if [[ $line == wchar:* ]]; then WRITES=$pid/${line#* }; fi; done 2>/dev/null <"/proc/$pid/io"',
    "  return 0",
    "}",
    // Create a marker unless it exists.
    'hold() { if [[ ! -e $DIR/held-$1 ]]; then : >"$DIR/held-$1" && log "port $1: held out of rotation"; fi; }',
    "",
    // Notes for the watchdog that the process of port $1 ended without a stop asked for, and how: $2,
    // or as systemd tells the unit's commands. Under a lock on the file, which the watchdog takes to
    // drop old lines (see `recent_exits`), so that no line is appended while it rewrites the file.
    'ended() { mono_ms; { flock 9; echo "$BOOT/$MONO_MS $1:${2:-${EXIT_CODE:-}/${EXIT_STATUS:-}}" >&9; } 9>>"$DIR/exits"; }',
    "",
    // The lines of $DIR/exits of this boot from within the window (by `mono`) into `recent` (how many
    // lines it had: `n`), for the watchdog; with `rewrite`, the file is left with only those, under
    // the lock `ended` takes (read again under it: a line noted since the first read stays).
    "recent_exits() {",
    "  local line at",
    "  recent=() n=0",
    '  while read -r line; do n=$((n + 1)) at=${line%% *}; at=${at#"$BOOT/"}; if [[ ${line%% *} == "$BOOT/"* && $at =~ ^[0-9]+$ ]] && ((mono - at < RESTART_WINDOW_MS)); then recent+=("$line"); fi; done <"$DIR/exits"',
    '  if [[ ${1:-} == rewrite ]]; then { ((${#recent[@]})) && printf \'%s\\n\' "${recent[@]}"; } >"$DIR/exits"; fi',
    "}",
    "",
    // Whether the unit's main process has exited: systemd lets ExecStartPost run on after that, so
    // admit must see it itself ($MAINPID, which systemd gives control processes) and fail at once.
    'gone() { [[ -n ${MAINPID:-} ]] && ! kill -0 "$MAINPID" 2>/dev/null; }',
    "",
    "admit() {",
    "  local port=$1 start settled",
    "  mono_ms; start=$MONO_MS",
    '  until answers "$port" 2; do',
    '    if gone; then log "port $port: the process exited before it became healthy"; return 1; fi',
    '    mono_ms; if ((MONO_MS - start >= START_TIMEOUT_MS)); then log "port $port: not healthy within $((START_TIMEOUT_MS / 1000))s"; return 1; fi',
    "    nap 0.1",
    "  done",
    '  log "port $port: healthy; settling for $((SETTLE_MS / 1000)).$((SETTLE_MS % 1000 / 100))s before it takes traffic"',
    "  mono_ms; settled=$((MONO_MS + SETTLE_MS))",
    "  while mono_ms; ((MONO_MS < settled)); do",
    "    nap 0.2",
    '    if gone || ! answers "$port" 2; then log "port $port: failed its health check while settling"; return 1; fi',
    "  done",
    '  rm -f "$DIR/held-$port"',
    '  log "port $port: in rotation"',
    "}",
    "",
    "watch() {",
    "  local -A fails=() status=() written=() excused=() answered=() failed=() lost=()",
    "  local -A held_since=()",
    "  local failing=() probing=() port mono recent n reason answering killed transfer url code tally peers count errors resets decayed=0",
    '  log "watching ports ${PORTS[*]}"',
    "  tally=-1 tally_said=''",
    "  while true; do",
    "    mono_ms; mono=$MONO_MS reason='' answering=0 failing=() probing=() status=()",
    '    if ((mono - decayed >= 1000)); then decayed=$mono; for port in "${PORTS[@]}"; do answered[$port]=$((${answered[$port]:-0} * 3 / 4)) failed[$port]=$((${failed[$port]:-0} * 3 / 4)) lost[$port]=${lost[$port]:-0}; done; fi',
    // Each second's answers per process, from the access log as nginx writes it (OUTLIER,
    // TALLY_AWK); tail ends within a second of the watchdog (--pid), and awk with it. Started again
    // should it end (review CP: it stayed blind): its end reads as input, then as nothing.
    '    if ((tally < 0)); then exec {tally}< <(tail --pid=$$ -n 0 -F "$ACCESS_LOG" 2>/dev/null | LC_ALL=C awk "$TALLY_AWK"); fi',
    '    while read -r -t 0 -u "$tally"; do',
    '      if ! read -r -u "$tally" port count errors resets; then',
    '        exec {tally}<&-; tally=-1; [[ -n $tally_said ]] || log "the tally of $ACCESS_LOG ended; starting it again"; tally_said=1; break',
    "      fi",
    "      tally_said=''",
    '      if [[ -n ${answered[$port]+set} && $count =~ ^[0-9]+$ && $errors =~ ^[0-9]+$ && $resets =~ ^[0-9]+$ ]]; then ((answered[$port] += count, failed[$port] += errors)); lost[$port]=$resets; if ((resets)); then : >"$DIR/unanswered-$port"; elif [[ -e $DIR/unanswered-$port ]]; then rm -f "$DIR/unanswered-$port"; fi; fi',
    "    done",
    // How long a process has been held out: since this watchdog first saw it held (a marker left
    // from before a reboot counts from now), by the clock of mono_ms. A held one's answers count
    // from none when it is back.
    '    for port in "${PORTS[@]}"; do',
    '      if [[ -e $DIR/held-$port ]]; then fails[$port]=0 excused[$port]="" answered[$port]=0 failed[$port]=0 lost[$port]=0 held_since[$port]=${held_since[$port]:-$mono}; else unset "held_since[$port]"; probing+=("$port"); fi',
    "    done",
    "    if ((${#probing[@]} > 0)); then",
    // a line that is not what probe prints is ignored: its port then counts as not answering
    "      while read -r transfer code url; do",
    "        if [[ $transfer =~ ^[0-9]+$ && $code =~ ^[0-9]{3}$ && $url =~ ^http://127\\.0\\.0\\.1:([0-9]+)/ ]]; then status[${BASH_REMATCH[1]}]=$transfer/$code; fi",
    '      done < <(probe "$WATCH_TIMEOUT_SECONDS" "${probing[@]}")',
    "    fi",
    // answering: a whole answer, in time, with a status from 200 to 399
    '    for port in "${probing[@]}"; do',
    "      code=${status[$port]:-/000}",
    '      if [[ ${code%/*} == 0 ]] && ((10#${code#*/} >= 200 && 10#${code#*/} < 400)); then fails[$port]=0 excused[$port]="" answering=$((answering + 1)); else failing+=("$port"); fi',
    "    done",
    // At most one process per round, and only while another process in rotation answers (so the
    // last one serving is never killed: while the others are held out for a deploy or a restart,
    // a process slow under the whole load is not hung), or on a server of one process. When none
    // answers, the cause is shared (overload, a dependency down), and killing would make it worse.
    "    killed=0",
    '    for port in "${failing[@]}"; do',
    "      fails[$port]=$((${fails[$port]:-0} + 1))",
    '      if ((fails[$port] == 1)); then writes "$port"; written[$port]=$WRITES; fi',
    "      if ((killed == 0 && fails[$port] >= WATCH_FAILURES && (answering > 0 || ${#PORTS[@]} == 1))); then",
    // Timed out without a byte back, but the same process has written an answer's worth since
    // its first missed check (or the last round it was let off): 64 bytes, less than any status
    // line and headers, more than eight of the event loop's wake-ups. It answers the requests
    // queued ahead of the checks, slow under load, not hung, and a kill would lose them (checked
    // again next round). One stopped, spinning or stuck writes next to nothing; one that refuses the
    // connection, or sends a status line and stalls, is not let off. Said once a streak, however
    // it began (also after rounds in which no other process answered, and none could be killed).
    '        if [[ ${status[$port]:-} == 28/000 ]] && writes "$port" && [[ -n $WRITES && ${written[$port]:-} == "${WRITES%/*}/"* ]] && ((${WRITES#*/} - ${written[$port]#*/} >= 64)); then',
    '          [[ -n ${excused[$port]:-} ]] || log "port $port: no answer to $WATCH_FAILURES checks, but it answers others: busy, not hung; left in rotation"',
    "          written[$port]=$WRITES excused[$port]=1",
    "          continue",
    "        fi",
    '        log "port $port: no healthy answer to $WATCH_FAILURES checks in a row; holding it out and restarting it"',
    '        hold "$port"',
    // (a kill that failed ended nothing: if the process ended meanwhile, after-stop notes it)
    '        if $CTL kill --signal=SIGKILL "app@$port"; then ended "$port" watchdog; else log "port $port: kill failed"; fi',
    "        fails[$port]=0 excused[$port]='' killed=1",
    "      fi",
    "    done",
    // A process that answers, mostly 5xx, while another one in rotation answers well (OUTLIER), or
    // whose last tries in a row got nothing back (a reset or a closed connection), each a request
    // another process then answered (TALLY_AWK), with another answering its health check: held
    // out, given a moment for what it was sent, and restarted as a hung one is (one a round). nginx
    // leaves such a process alone for a second after each failure, so it is tried too seldom for
    // the 4-s count, and each POST sent to it is lost (review DT: 22 % of POSTs at 1.5 a second).
    // Counted in tries, not time: a share of its tries over a window kept a process that had
    // answered thousands for minutes. Not nginx's 502 alone, which an app may answer itself (review
    // DU), nor 502 with no header time alone, which nginx also logs for an answer it refuses (headers
    // over proxy_buffer_size) or a route that closes on every process (review DV: both killed healthy
    // processes in turn): the same request answered by another is what tells. The awk's count runs
    // on over the restart: one that comes back as broken is killed at its first such try.
    "    peers=0",
    '    for port in "${probing[@]}"; do if ((answered[$port] >= PEER_MIN && failed[$port] * 100 <= answered[$port] * PEER_PERCENT)); then peers=$((peers + 1)); fi; done',
    '    for port in "${probing[@]}"; do',
    "      if ((killed == 0 && answering > 1 && lost[$port] >= LOST_MIN)); then",
    '        log "port $port: its last ${lost[$port]} tries unanswered, the others\' fine; holding it out and restarting it"',
    "      elif ((killed == 0 && peers > 0 && answered[$port] >= OUTLIER_MIN && failed[$port] * 100 >= answered[$port] * OUTLIER_PERCENT)); then",
    '        log "port $port: ${failed[$port]} of its last ${answered[$port]} answers 5xx, the others\' fine; holding it out and restarting it"',
    "      else continue",
    "      fi",
    '      hold "$port"',
    "      nap 0.5",
    '      if $CTL kill --signal=SIGKILL "app@$port"; then ended "$port" watchdog; else log "port $port: kill failed"; fi',
    "      answered[$port]=0 failed[$port]=0 lost[$port]=0 killed=1",
    "    done",
    // processes that ended within the window, crashed (after-stop notes them) or killed above, in
    // $DIR/exits; older lines go, under the lock (one `flock` only when some are to go)
    "    recent=() n=0",
    "    if [[ -s $DIR/exits ]]; then",
    "      recent_exits",
    '      if ((${#recent[@]} < n)); then { flock 9 && recent_exits rewrite; } 9<"$DIR/exits"; fi',
    "    fi",
    '    if ((${#recent[@]} >= MAX_RESTARTS)); then reason="${#recent[@]} process exits within $((RESTART_WINDOW_MS / 1000))s: ${recent[*]#* }"; fi',
    "    mono_ms",
    '    for port in "${PORTS[@]}"; do',
    // Held out too long while its unit should run (not stopped on purpose): crash-looping, or never healthy.
    "      if [[ -e $DIR/held-$port && -n ${held_since[$port]:-} ]] && ((MONO_MS - held_since[$port] > STUCK_SECONDS * 1000)) &&",
    '        [[ $($CTL is-active "app@$port") != inactive ]]; then',
    '        reason="port $port out of rotation for more than ${STUCK_SECONDS}s"',
    "      fi",
    "    done",
    "    if [[ -n $reason && ! -e $DIR/unhealthy ]]; then",
    '      echo "$reason" >"$DIR/unhealthy" && log "server unhealthy: $reason"',
    "    elif [[ -z $reason && -e $DIR/unhealthy ]]; then",
    '      rm -f "$DIR/unhealthy" && log "server healthy again"',
    "    fi",
    '    nap "$WATCH_INTERVAL_SECONDS"',
    "  done",
    "}",
    "",
    "verb=${1:-} port=${2:-}",
    'if [[ $verb != watch && ! " ${PORTS[*]} " =~ " $port " ]]; then echo "usage: rotation hold|admit|before-stop|after-stop <port> | rotation watch (ports: ${PORTS[*]})" >&2; exit 64; fi',
    'case "$verb" in',
    '  hold) hold "$port" ;;',
    '  admit) admit "$port" ;;',
    // systemd sets EXIT_CODE once the process has exited: for ExecStop, only after a clean end (status
    // 0, SIGTERM...) that no stop asked for, which it also runs ExecStop for
    '  before-stop) if [[ -n ${EXIT_CODE:-} ]]; then ended "$port"; fi; hold "$port" && sleep "$HOLD_SECONDS" ;;',
    // not held as it stopped: no stop was asked for (that runs before-stop), and it was not starting
    '  after-stop) if [[ ! -e $DIR/held-$port ]]; then ended "$port"; hold "$port"; fi ;;',
    "  watch) watch ;;",
    '  *) echo "rotation: unknown verb: $verb" >&2; exit 64 ;;',
    "esac",
    "",
  ].join("\n");
}

/** The systemd unit of the watchdog (`rotation watch`), restarted whenever it exits. */
export function watchdogUnit(host: AppHost): string {
  return [
    "# Written by the boot script from src/userdata/rotation-script.ts; edit that, not this file.",
    "[Unit]",
    "Description=Watchdog of the app processes: restarts one that stops answering its health check",
    "After=nginx.service",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${host.paths.appRoot}/${ROTATION_SCRIPT} watch`,
    "Restart=always",
    "RestartSec=1",
    `StandardOutput=append:${host.paths.appLogDir}/watchdog.log`,
    `StandardError=append:${host.paths.appLogDir}/watchdog.log`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

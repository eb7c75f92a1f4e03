import { AL2023_RELEASE_PATTERN } from "../config/schema";
import { FIRST_BOOT_SECONDS } from "./boot-script";
import { firstInstallSeconds } from "./deploy-script";
import type { AppHost } from "./app-host";

/**
 * The OS update's script (src/constructs/os-update.ts runs it through SSM on a fixed server), apart
 * from the construct so that plan review reads its step without loading the provider's bindings.
 */

/** Seconds the update waits for the deploy lock (a deploy someone started by hand) before it fails, changing nothing. */
export const OS_UPDATE_LOCK_WAIT_SECONDS = 300;
/** Seconds `dnf upgrade` may take to download and install a release's packages (then it is stopped). */
export const OS_UPDATE_DNF_SECONDS = 1800;
/** Seconds a program stopped at its limit has to end before it is killed (rpm finishing a transaction). */
export const OS_UPDATE_KILL_AFTER_SECONDS = 30;
/** Seconds the script may spend besides its waits (rpm's queries, the note), within SSM's limit. */
export const OS_UPDATE_SCRIPT_MARGIN_SECONDS = 60;
/** The name of the document's one step: plan review finds the release in it (src/ops/plan-review.ts). */
export const OS_UPDATE_STEP = "osUpdate";
/** The exit code with which a script asks the SSM agent to reboot the server and run the script again. */
export const SSM_REBOOT_EXIT_CODE = 194;

/** How long a fixed server's first boot may take, its first install included: the run waits that long for it. */
export function osUpdateBootSeconds(host: AppHost): number {
  return FIRST_BOOT_SECONDS + firstInstallSeconds(host);
}

/** The longest a run of the script takes, its every wait at its limit: SSM's limit for it. */
export function osUpdateRunSeconds(bootSeconds: number): number {
  return (
    bootSeconds +
    OS_UPDATE_LOCK_WAIT_SECONDS +
    OS_UPDATE_DNF_SECONDS +
    2 * OS_UPDATE_KILL_AFTER_SECONDS +
    OS_UPDATE_SCRIPT_MARGIN_SECONDS
  );
}

/** Where the update notes, for the run after it, that it began installing on this boot. */
export const OS_UPDATE_STATE_DIR = "/var/lib/app-os-update";
/**
 * Seconds the deploy's lock stays held after the update asks for a reboot: the SSM agent reboots
 * the server a moment after the script ends, and a deploy waiting for the lock must not start
 * moving processes in that moment (review CC). The reboot ends the holder; if no reboot comes, the
 * lock is free again after this long.
 */
export const OS_UPDATE_REBOOT_HOLD_SECONDS = 900;

export interface OsUpdateScriptOptions {
  /** The deploy script's lock file (`$APP_ROOT/deploy.lock`). */
  readonly deployLock: string;
  /**
   * How long first boot may take, its first deploy included (cloud-init runs the boot script):
   * the run waits that long for it, then stops with nothing changed. `osUpdateBootSeconds`.
   */
  readonly bootSeconds: number;
  /**
   * The file the boot script writes once the server is set up (`setUpMarker`): a first boot that
   * failed only at its first deploy has set the server up, and the update goes ahead (as the
   * deploy's own command does).
   */
  readonly setUpMarker: string;
  /** @default OS_UPDATE_LOCK_WAIT_SECONDS */
  readonly lockWaitSeconds?: number;
  /** @default OS_UPDATE_STATE_DIR */
  readonly stateDir?: string;
  /** @default OS_UPDATE_REBOOT_HOLD_SECONDS */
  readonly rebootHoldSeconds?: number;
  /** @default OS_UPDATE_DNF_SECONDS */
  readonly dnfSeconds?: number;
}

/**
 * The update's script: after first boot (which installs the server's packages) and under the
 * deploy's lock, `dnf upgrade --releasever=<release>`; when it installed anything that a running
 * program still uses in its old version (`dnf needs-restarting`: the kernel, libraries, services),
 * exit 194, on which the SSM agent reboots the server and runs the script again (which then finds
 * nothing to install and ends), the deploy's lock held until the reboot. A server already on the
 * release, or on a newer one (its AMI's), is left as it is: dnf never downgrades.
 *
 * A run that began installing and did not reboot (dnf failed after its transaction, or SSM's time
 * limit stopped it) leaves the boot's id in `stateDir`: the next run on the same boot asks
 * `needs-restarting` even when it installs nothing itself (review CC: the server kept the old
 * kernel and libraries while the apply that ran again succeeded).
 */
export function osUpdateScript(release: string, options: OsUpdateScriptOptions): string[] {
  if (!AL2023_RELEASE_PATTERN.test(release)) throw new Error(`OsUpdate: not an Amazon Linux 2023 release: ${release}`);
  const { deployLock } = options;
  const lockWait = options.lockWaitSeconds ?? OS_UPDATE_LOCK_WAIT_SECONDS;
  const state = options.stateDir ?? OS_UPDATE_STATE_DIR;
  const hold = options.rebootHoldSeconds ?? OS_UPDATE_REBOOT_HOLD_SECONDS;
  const dnf = options.dnfSeconds ?? OS_UPDATE_DNF_SECONDS;
  return [
    // SSM's agent runs the lines as one file, through sh: this line makes it bash's
    "#!/bin/bash",
    "set -uo pipefail",
    `release=${release}`,
    'log() { echo "os-update: $*"; }',
    "installed_release() { rpm -q --qf '%{VERSION}' system-release; }",
    // Each wait is bounded on its own, so that one phase never takes another's time: after the
    // deploy of the same apply first boot is over, and the run takes the lock's and dnf's at most.
    `timeout --foreground --kill-after=${OS_UPDATE_KILL_AFTER_SECONDS} ${options.bootSeconds} cloud-init status --wait >/dev/null; boot_status=$?`,
    // a first boot still running (review CG: the run went on, and could reboot a server half set up)
    `if ((boot_status == 124 || boot_status == 137)); then log "first boot still runs after ${options.bootSeconds} s: nothing was updated; apply again once it is done"; exit 1; fi`,
    // cloud-init exits 2 for "done with warnings"; a first boot that failed is the server's to fix
    // first, unless its only failure was its first deploy (set up, as the deploy's own check says)
    `if ((boot_status != 0 && boot_status != 2)) && [[ ! -f ${options.setUpMarker} ]]; then log "first boot failed (cloud-init status $boot_status) before the server was set up: nothing was updated; see /var/log/boot-script.log"; exit 1; fi`,
    `exec 9>>${deployLock} || { log "cannot open the deploy's lock ${deployLock}: nothing was updated"; exit 1; }`,
    `if ! flock -w ${lockWait} 9; then log "a deploy still runs after ${lockWait} s: nothing was updated; apply again once it is done"; exit 75; fi`,
    `mkdir -p ${state} && boot=$(cat /proc/sys/kernel/random/boot_id) || exit 1`,
    // an earlier run on this boot that began installing and never rebooted
    `pending=''; if [[ $(cat ${state}/installing 2>/dev/null) == "$boot" ]]; then pending=1; fi`,
    // what is installed, as a checksum: a list rpm could not read is no list (review CH: an rpm
    // that failed read as "nothing changed", and the reboot was skipped)
    'packages() { local list; list=$(rpm -qa) || return 1; sort <<<"$list" | sha256sum; }',
    `before_release=$(installed_release) && before=$(packages) || { log "rpm cannot read the installed packages: nothing was updated"; exit 1; }`,
    // A cancel must end dnf and all it started, or they keep the deploy's lock (fd 9) for up to its
    // limit. timeout runs dnf in a process group of its own, which it ends whole at the limit or
    // on a TERM (review CJ: with --foreground it ended dnf alone). A TERM to this script reaches it
    // through the trap (review CH). SSM's cancel and time limit kill this script's group with
    // SIGKILL, which no trap sees and which misses timeout's group (review CI): a watcher in a
    // session of its own, without the lock, ends that group once this script is gone.
    // The watcher leaves this script's group before dnf starts (it says "ready" once in its own
    // session): started after dnf, a cancel in between killed it with the script and left dnf
    // running. dnf's group is named in this run's own file by the process that becomes timeout,
    // before timeout makes the group: a cancel before that kills it with this script's group
    // (review DC: with one file for every run, a cancelled run's watcher read the next run's).
    // Both come before the note below: a run that cannot start them has changed nothing.
    `group_file=${state}/dnf-group.$$; : >"$group_file" || { log "cannot write ${state}: nothing was updated"; exit 1; }`,
    `read -r _ < <(setsid bash -c 'echo ready; exec >/dev/null; while kill -0 "$1" 2>/dev/null; do sleep 1; done; read -r group <"$2" && kill -TERM -- "-$group" 2>/dev/null; rm -f "$2"' watcher $$ "$group_file" </dev/null 2>/dev/null 9>&-) || { rm -f "$group_file"; log "cannot start the watcher that ends dnf if this run is cancelled (setsid): nothing was updated"; exit 1; }`,
    "watcher_pid=$!",
    // noted only now, just before dnf: a run that stopped before it changed nothing (review CI)
    `echo "$boot" >${state}/installing || exit 1`,
    `(echo "$BASHPID" >"$group_file"; exec timeout --kill-after=${OS_UPDATE_KILL_AFTER_SECONDS} ${dnf} dnf -y upgrade --releasever="$release") & dnf_pid=$!`,
    `trap 'kill -TERM "$dnf_pid" 2>/dev/null; log "cancelled while dnf ran: it is stopped; the next run asks whether what it installed needs a reboot"; exit 143' TERM INT`,
    'wait "$dnf_pid"; dnf_exit=$?; trap - TERM INT; kill "$watcher_pid" 2>/dev/null; rm -f "$group_file"',
    "if ((dnf_exit != 0)); then",
    // (a dnf stopped at its limit is a failed one, said so: 124, or 137 once killed)
    `  failed="failed (exit $dnf_exit)"; if ((dnf_exit == 124 || dnf_exit == 137)); then failed="was stopped after ${dnf} s"; fi`,
    // failed before installing anything (a download that failed): no note of this run stays, or
    // the next run would reboot a server this one never changed (review CD)
    `  if now_packages=$(packages) && [[ $now_packages == "$before" ]]; then [[ -n $pending ]] || rm -f ${state}/installing; log "dnf upgrade --releasever=$release $failed, having installed nothing: the server stays on $before_release"; exit 1; fi`,
    '  log "dnf upgrade --releasever=$release $failed: the server is on $(installed_release || echo "a release rpm cannot read") (it was on $before_release); the next run asks whether what was installed needs a reboot"; exit 1',
    "fi",
    `after=$(packages) || { log "rpm cannot read the installed packages after dnf: the next run asks whether what was installed needs a reboot"; exit 1; }`,
    'now=$(installed_release) || now="a release rpm cannot read"',
    `if [[ $before == "$after" && -z $pending ]]; then rm -f ${state}/installing; log "nothing to install: the server is on $now (app.osRelease $release)"; exit 0; fi`,
    'if [[ $before == "$after" ]]; then log "nothing to install, but an earlier run installed packages on this boot and did not reboot"; else log "updated from $before_release to $now"; fi',
    // -r: exit 1 when the kernel or a core library needs a reboot; -s: the services still running
    // an old version. Either failing is a reboot (review CH: a failed -s read as "none").
    'services=$(dnf needs-restarting -s 2>/dev/null) || services="(dnf needs-restarting -s failed)"',
    `if dnf needs-restarting -r >/dev/null 2>&1 && [[ -z $services ]]; then rm -f ${state}/installing; log "nothing runs an old version: no reboot"; exit 0; fi`,
    `log "rebooting, so that the kernel, libraries and services run their new versions; the agent runs this again after it"`,
    // the deploy's lock stays held (a process that keeps fd 9) until the reboot ends it
    `setsid sleep ${hold} </dev/null >/dev/null 2>&1 &`,
    `exit ${SSM_REBOOT_EXIT_CODE}`,
  ];
}

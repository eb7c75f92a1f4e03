import { AL2023_RELEASE_PATTERN } from "../config/schema";

/**
 * The OS update's script (src/constructs/os-update.ts runs it through SSM on a fixed server), apart
 * from the construct so that plan review reads its step without loading the provider's bindings.
 */

/** Seconds the update waits for the deploy lock (a deploy someone started by hand) before it fails, changing nothing. */
export const OS_UPDATE_LOCK_WAIT_SECONDS = 300;
/** Seconds `dnf upgrade` may take to download and install a release's packages. */
export const OS_UPDATE_DNF_SECONDS = 1800;
/** The name of the document's one step: plan review finds the release in it (src/ops/plan-review.ts). */
export const OS_UPDATE_STEP = "osUpdate";
/** The exit code with which a script asks the SSM agent to reboot the server and run the script again. */
export const SSM_REBOOT_EXIT_CODE = 194;

/**
 * The update's script: after first boot (which installs the server's packages) and under the
 * deploy's lock, `dnf upgrade --releasever=<release>`; when it installed anything that a running
 * program still uses in its old version (`dnf needs-restarting`: the kernel, libraries, services),
 * exit 194, on which the SSM agent reboots the server and runs the script again (which then finds
 * nothing to install and ends). A server already on the release, or on a newer one (its AMI's),
 * is left as it is: dnf never downgrades.
 */
export function osUpdateScript(
  release: string,
  deployLock: string,
  lockWaitSeconds = OS_UPDATE_LOCK_WAIT_SECONDS,
): string[] {
  if (!AL2023_RELEASE_PATTERN.test(release)) throw new Error(`OsUpdate: not an Amazon Linux 2023 release: ${release}`);
  return [
    // SSM's agent runs the lines as one file, through sh: this line makes it bash's
    "#!/bin/bash",
    "set -uo pipefail",
    `release=${release}`,
    'log() { echo "os-update: $*"; }',
    // cloud-init exits 2 for "done with warnings"; a boot that failed is the deploy's to report
    "cloud-init status --wait >/dev/null",
    "before_release=$(rpm -q --qf '%{VERSION}' system-release)",
    `exec 9>>${deployLock}`,
    `if ! flock -w ${lockWaitSeconds} 9; then log "a deploy still runs after ${lockWaitSeconds} s: nothing was updated; apply again once it is done"; exit 75; fi`,
    "before=$(rpm -qa | sort | sha256sum)",
    'if ! dnf -y upgrade --releasever="$release"; then log "dnf upgrade --releasever=$release failed: the server stays on $before_release (with what dnf installed before it failed, if anything)"; exit 1; fi',
    "after=$(rpm -qa | sort | sha256sum)",
    "now=$(rpm -q --qf '%{VERSION}' system-release)",
    'if [[ $before == "$after" ]]; then log "nothing to install: the server is on $now (app.osRelease $release)"; exit 0; fi',
    'log "updated from $before_release to $now"',
    // -r: exit 1 when the kernel or a core library needs a reboot; -s: the services still running
    // an old version. A dnf without the command fails it, and the server is rebooted.
    'if dnf needs-restarting -r >/dev/null 2>&1 && [[ -z $(dnf needs-restarting -s 2>/dev/null) ]]; then log "nothing runs an old version: no reboot"; exit 0; fi',
    `log "rebooting, so that the kernel, libraries and services run their new versions; the agent runs this again after it"`,
    `exit ${SSM_REBOOT_EXIT_CODE}`,
  ];
}

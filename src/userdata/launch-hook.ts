/** Where the boot script of a server in an Auto Scaling group installs `launchHookScript`, under the app root. */
export const LAUNCH_HOOK_SCRIPT = "bin/launch-hook";

/** The name of the app servers' launch lifecycle hook, which their boot script completes. */
export const LAUNCH_HOOK_NAME = "boot";

/**
 * The longest a lifecycle hook may wait for its action to be completed (or a heartbeat): Auto
 * Scaling's limit for `heartbeat_timeout`.
 */
export const MAX_LAUNCH_HOOK_SECONDS = 7200;

/** How often launch-hook tries each call before it gives up. */
const TRIES = 10;

export interface LaunchHookProps {
  /** The region of the server and its group (the AWS CLI's `--region`). */
  readonly region: string;
}

/**
 * `launch-hook CONTINUE|ABANDON`: ends the launch lifecycle action of the server it runs on. The
 * app servers' Auto Scaling group holds every server it launches out of service (`Pending:Wait`)
 * until its boot script calls this on exit: `CONTINUE` when the boot succeeded puts the server in
 * service, registered with the load balancer, its health-check grace period starting only then;
 * `ABANDON` when it failed terminates it, after 20 s for the CloudWatch agent (which ships every
 * 15 s) to send the boot log's last lines, and the group launches another.
 *
 * A server that no launch action holds (launched before its group had the hook, or by hand
 * outside it) is left as it is, and the script says so. The metadata service and the AWS calls are
 * tried 10 times, 3, 6, 9, ... s apart; a server still `Pending` (not yet held by the hook) is asked
 * again, and a completion AWS refuses is done when no action waits for the server any more (its
 * answer was lost). Exit 0 when the action was completed or none waits, 1 when it could not be
 * completed (the hook's timeout then abandons the launch), 64 on a wrong argument.
 */
export function launchHookScript(props: LaunchHookProps): string {
  const aws = `aws --region ${props.region} autoscaling`;
  return [
    "#!/bin/bash",
    "# launch-hook CONTINUE|ABANDON: ends this server's launch lifecycle action (the boot script",
    "# calls it on exit). Written by the boot script from src/userdata/launch-hook.ts; edit that.",
    "set -uo pipefail",
    "",
    'log() { echo "launch-hook: $*"; }',
    'ABANDONED="its launch was abandoned before this boot ended (the hook\'s timeout): the group replaces it"',
    'result="${1:-}"',
    "if [[ $result != CONTINUE && $result != ABANDON ]]; then log \"usage: launch-hook CONTINUE|ABANDON (got '$result')\"; exit 64; fi",
    "",
    `# ${TRIES} tries, 3, 6, 9, ... s apart (2 min 15 s in all): at first boot the network and the instance`,
    "# role may still settle, and a healthy server is worth waiting for.",
    "try() {",
    "  local i",
    `  for ((i = 1; i <= ${TRIES}; i++)); do`,
    '    "$@" && return 0',
    `    if ((i < ${TRIES})); then sleep $((i * 3)); fi`,
    "  done",
    "  return 1",
    "}",
    "",
    "# This instance's id, through IMDSv2 (a session token first).",
    "instance_id() {",
    "  local token",
    '  token=$(curl -fsS --max-time 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token) &&',
    '    curl -fsS --max-time 5 -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id',
    "}",
    "",
    "# This instance's group and launch state, into $group and $state. Fails while it is still Pending",
    "# (launched, and not yet held by the hook), so that try asks again.",
    "read_state() {",
    "  local where",
    `  where=$(${aws} describe-auto-scaling-instances --instance-ids "$id" \\`,
    "    --query 'AutoScalingInstances[0].[AutoScalingGroupName,LifecycleState]' --output text) || return 1",
    '  read -r group state <<<"$where"',
    '  if [[ $group == None ]]; then group=""; fi',
    '  if [[ ${state:-} == Pending ]]; then log "$id is still Pending"; return 1; fi',
    "}",
    "",
    "# Completes the action. A refused call may have been carried out with its answer lost: once no",
    "# action waits for this instance it is done, unless a CONTINUE finds the server on its way out",
    "# (the hook's timeout abandoned it first).",
    "complete() {",
    `  ${aws} complete-lifecycle-action --auto-scaling-group-name "$group" \\`,
    `    --lifecycle-hook-name ${LAUNCH_HOOK_NAME} --instance-id "$id" --lifecycle-action-result "$result" && return 0`,
    "  read_state || return 1",
    "  case ${state:-}:$result in",
    "    Pending:Wait:*) return 1 ;;",
    '    Pending:Proceed:CONTINUE | InService:CONTINUE | Terminating*:ABANDON | :ABANDON) log "$id is ${state:-out of its group} now: its action is done"; return 0 ;;',
    '    Terminating*:CONTINUE | :CONTINUE) log "$id is ${state:-out of its group}: $ABANDONED"; exit 1 ;;',
    '    *) log "$id is $state: not what $result asked for (its launch was completed otherwise)"; exit 1 ;;',
    "  esac",
    "}",
    "",
    'id=$(try instance_id) || { log "could not read this instance\'s id from the metadata service"; exit 1; }',
    'try read_state || { log "could not read the Auto Scaling state of $id"; exit 1; }',
    "case ${state:-}:$result in",
    "  Pending:Wait:*) ;;",
    '  Terminating*:CONTINUE) log "$id is $state in $group: $ABANDONED"; exit 1 ;;',
    '  *) log "$id is ${state:-not in an Auto Scaling group}${group:+ in $group}: no launch action waits for it; nothing to do"; exit 0 ;;',
    "esac",
    "if [[ $result == ABANDON ]]; then",
    '  log "abandoning the launch of $id in 20 s, once the CloudWatch agent has shipped the boot log"',
    "  sleep 20",
    "fi",
    'try complete || { log "could not complete the launch action of $id in $group ($result): the hook\'s timeout abandons it"; exit 1; }',
    'log "$id in ${group:-its group}: launch $result"',
    "",
  ].join("\n");
}

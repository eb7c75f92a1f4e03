import * as fs from "node:fs";
import * as path from "node:path";

// A STUB `terraform` that the wrapper tests write and control: a small bash script put first on the
// child process's PATH. It records each call (arguments, working directory, environment) and answers
// as the test's STUB_TF_* variables say. It is not Terraform, talks to no provider and no AWS; its
// output is whatever the test chose, and the tests say so. In bash, not node: the wrapper tests
// call it about 70 times a run, and a node process costs 0.06 CPU-s to start on this machine kind.
//
// Each call is one record in the log: NUL-terminated fields, the number of arguments first, then
// the working directory, CHECKPOINT_DISABLE and TF_IN_AUTOMATION ("=" and the value when set,
// empty when not), then the arguments; any byte but NUL survives it.
const STUB = `#!/bin/bash
cd -P . || exit 1
printf '%s\\0' "$#" "$PWD" "\${CHECKPOINT_DISABLE+=}\${CHECKPOINT_DISABLE-}" "\${TF_IN_AUTOMATION+=}\${TF_IN_AUTOMATION-}" "$@" >>"$STUB_TF_LOG"
fail() { printf '%s\\n' "$1" >&2; exit 1; }
case $1 in
  init)
    [[ -n \${STUB_TF_INIT_ERROR-} ]] && fail "$STUB_TF_INIT_ERROR"
    if [[ -n \${STUB_TF_INIT_ERROR_UNLESS_UPGRADE-} && " $* " != *" -upgrade "* ]]; then fail "$STUB_TF_INIT_ERROR_UNLESS_UPGRADE"; fi
    echo "(stub) initialized" ;;
  plan)
    [[ -n \${STUB_TF_PLAN_ERROR-} ]] && fail "$STUB_TF_PLAN_ERROR"
    for arg; do [[ $arg == -out=* ]] && printf '(stub) plan file' >"\${arg#-out=}"; done
    echo "(stub) plan output"
    exit "\${STUB_TF_PLAN_EXIT:-0}" ;;
  show)
    plan=\${!#}
    [[ -e $plan ]] || fail "(stub) no plan file $plan"
    cat "$STUB_TF_SHOW_JSON" ;;
  *) fail "(stub) unexpected command $1" ;;
esac
`;

/** One call the stub received. */
export interface StubCall {
  readonly args: string[];
  readonly cwd: string;
  readonly checkpointDisable?: string;
  readonly inAutomation?: string;
}

/** The calls in the stub's log (see STUB for its records). */
function parseCalls(text: string): StubCall[] {
  const fields = text.split("\0");
  const value = (field: string) => (field.startsWith("=") ? field.slice(1) : undefined);
  const calls: StubCall[] = [];
  let at = 0;
  while (at < fields.length - 1) {
    const count = Number(fields[at]);
    const [cwd, checkpointDisable, inAutomation] = fields.slice(at + 1, at + 4);
    const args = fields.slice(at + 4, at + 4 + count);
    if (!Number.isInteger(count) || args.length !== count)
      throw new Error(`the stub's log is cut short: ${JSON.stringify(text)}`);
    calls.push({ args, cwd, checkpointDisable: value(checkpointDisable), inAutomation: value(inAutomation) });
    at += 4 + count;
  }
  return calls;
}

/** Writes the stub into `<dir>/bin/terraform`; returns the PATH entry and a reader of its calls. */
export function installStubTerraform(dir: string): { binDir: string; log: string; calls: () => StubCall[] } {
  const binDir = path.join(dir, "bin");
  fs.mkdirSync(binDir, { recursive: true });
  const file = path.join(binDir, "terraform");
  fs.writeFileSync(file, STUB, { mode: 0o755 });
  const log = path.join(dir, "terraform-calls");
  return { binDir, log, calls: () => (fs.existsSync(log) ? parseCalls(fs.readFileSync(log, "utf8")) : []) };
}

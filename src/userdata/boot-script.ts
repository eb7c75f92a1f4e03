import type { Engine } from "../config/schema";

export interface BootScriptProps {
  /** Environment name, shown on the placeholder page. */
  readonly environment: string;
  /** Port nginx listens on for clients and the load balancer. */
  readonly port: number;
  /** Path that answers 200 while the server is healthy. */
  readonly healthCheckPath: string;
  /** Install this database engine on the same box (single-server layout). @default - none */
  readonly localDatabase?: Engine;
}

/**
 * The first-boot script of an app server on Amazon Linux 2023: nginx answering the health check
 * and a placeholder page, and for the single-server layout the database engine on the same box.
 * Returned as plain text; the EC2 constructs base64-encode it (`userDataBase64`).
 */
export function bootScript(props: BootScriptProps): string {
  const database =
    props.localDatabase === "postgres"
      ? ["retry dnf install -y postgresql16-server", "postgresql-setup --initdb", "systemctl enable --now postgresql"]
      : props.localDatabase === "mysql"
        ? [
            "retry dnf install -y mariadb105-server # MySQL-compatible; AL2023 ships no MySQL server",
            "systemctl enable --now mariadb",
          ]
        : [];
  return [
    "#!/bin/bash",
    "set -euo pipefail",
    "exec > >(tee -a /var/log/boot-script.log) 2>&1",
    'echo "boot script started at $(date -Is)"',
    "# The network may still be settling at first boot: retry package installs, bounded.",
    'retry() { for attempt in 1 2 3 4 5 6 7 8 9 10; do "$@" && return 0; echo "retry $attempt: $*"; sleep 6; done; return 1; }',
    "retry dnf install -y nginx",
    "cat > /etc/nginx/conf.d/app.conf <<'NGINX'",
    "server {",
    `    listen ${props.port} default_server;`,
    `    location = ${props.healthCheckPath} { access_log off; return 200 "ok\\n"; }`,
    `    location / { default_type text/plain; return 200 "${props.environment}: $hostname\\n"; }`,
    "}",
    "NGINX",
    "systemctl enable --now nginx",
    ...database,
    'echo "boot script finished at $(date -Is)"',
    "",
  ].join("\n");
}

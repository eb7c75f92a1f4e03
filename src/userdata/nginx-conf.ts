import type { AppHost } from "./app-host";

/**
 * nginx's whole main configuration for an app server: the local reverse proxy that spreads
 * requests over the app processes on loopback.
 *
 * - One upstream over every process, in a shared memory zone so that all nginx workers agree on
 *   which process failed; passive health checks (`max_fails` / `fail_timeout`).
 * - A request that cannot reach a process (refused, reset, timed out, or 502/503/504 from it) is
 *   retried on the next process, at most once per process and within 10 s. nginx never retries a
 *   non-idempotent request (POST, PATCH) once it was sent, so a write is never applied twice.
 * - Keep-alive connections to the processes (HTTP/1.1, `Connection` cleared), closed by nginx
 *   after 60 s idle: before the app's own 65 s, so nginx never reuses a connection the app is closing.
 * - The health check path is proxied to the processes' own `/healthz` with short timeouts: it
 *   answers 200 while any process is healthy and 502 when none is.
 */
export function nginxConf(host: AppHost): string {
  const { paths, passiveHealthCheck: check } = host;
  const listen = host.listenAddress ? `${host.listenAddress}:${host.listenPort}` : `${host.listenPort}`;
  const tries = host.appPorts.length;
  const temp = (name: string) => `${paths.nginxTempDir}/${name}`;
  return [
    "# Written by the boot script from src/userdata/nginx-conf.ts; edit that, not this file.",
    ...(host.nginxUser ? [`user ${host.nginxUser};`] : []),
    "worker_processes auto;",
    "# Room for worker_connections: each proxied request holds a client and an upstream connection.",
    "worker_rlimit_nofile 16384;",
    `pid ${paths.nginxPidFile};`,
    `error_log ${paths.nginxLogDir}/error.log warn;`,
    "",
    "events {",
    "    worker_connections 4096;",
    "}",
    "",
    "http {",
    "    default_type application/octet-stream;",
    "    server_tokens off;",
    "    sendfile on;",
    "    tcp_nopush on;",
    "    keepalive_timeout 65s;",
    "",
    "    log_format upstream '$remote_addr [$time_iso8601] \"$request\" $status $body_bytes_sent '",
    "                        'rt=$request_time upstream=$upstream_addr ustatus=$upstream_status '",
    "                        'urt=$upstream_response_time xff=\"$http_x_forwarded_for\"';",
    `    access_log ${paths.nginxLogDir}/access.log upstream;`,
    "",
    `    client_body_temp_path ${temp("client_body")};`,
    `    proxy_temp_path ${temp("proxy")};`,
    `    fastcgi_temp_path ${temp("fastcgi")};`,
    `    uwsgi_temp_path ${temp("uwsgi")};`,
    `    scgi_temp_path ${temp("scgi")};`,
    "",
    "    # Behind an ALB the client's scheme arrives in X-Forwarded-Proto; alone, it is ours.",
    "    map $http_x_forwarded_proto $forwarded_proto {",
    "        default $http_x_forwarded_proto;",
    "        '' $scheme;",
    "    }",
    "",
    "    upstream app {",
    "        zone app 64k;",
    ...host.appPorts.map(
      (port) =>
        `        server 127.0.0.1:${port} max_fails=${check.maxFails} fail_timeout=${check.failTimeoutSeconds}s;`,
    ),
    "        keepalive 32;",
    "        keepalive_timeout 60s;",
    "    }",
    "",
    "    server {",
    `        listen ${listen} default_server;`,
    "        server_name _;",
    "        client_max_body_size 10m;",
    "",
    "        proxy_http_version 1.1;",
    '        proxy_set_header Connection "";',
    "        proxy_set_header Host $host;",
    "        proxy_set_header X-Real-IP $remote_addr;",
    "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "        proxy_set_header X-Forwarded-Proto $forwarded_proto;",
    "        proxy_connect_timeout 2s;",
    "        proxy_send_timeout 30s;",
    "        proxy_read_timeout 30s;",
    "        proxy_next_upstream error timeout http_502 http_503 http_504;",
    `        proxy_next_upstream_tries ${tries};`,
    "        proxy_next_upstream_timeout 10s;",
    "",
    `        location = ${host.healthCheckPath} {`,
    "            access_log off;",
    "            proxy_connect_timeout 1s;",
    "            proxy_read_timeout 2s;",
    "            # Answer within the load balancer's 5 s health check timeout, whatever the retries.",
    "            proxy_next_upstream_timeout 4s;",
    "            proxy_pass http://app/healthz;",
    "        }",
    "",
    "        location / {",
    "            proxy_pass http://app;",
    "        }",
    "    }",
    "}",
    "",
  ].join("\n");
}

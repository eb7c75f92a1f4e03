import type { AppHost } from "./app-host";
import { APP_HEALTH_PATH, hostTimings } from "./app-host";

/** The upstream block of every process but `held` (nginx uses it while they are held out). */
export const upstreamWithout = (...held: readonly number[]) => `app-without-${held.join("-")}`;

/**
 * Up to this many processes, nginx also has an upstream for every two held out at once (a deploy
 * moving one while another crashed and starts again): the others take the requests. Beyond it the
 * groups would grow as the square of the processes (496 for 32): with two or more held, only the
 * first of them (in port order) is left out. With three or more held up to here, the first two are.
 */
export const TWO_HELD_GROUPS_UP_TO = 8;

/** Every two of `ports`, in their order (the order nginx appends held ports to `$app_held`). */
function pairsOf(ports: readonly number[]): [number, number][] {
  return ports.flatMap((a, i) => ports.slice(i + 1).map((b): [number, number] => [a, b]));
}

/** Whether `nginxConf` has an upstream for every two processes held out at once. */
const hasTwoHeldGroups = (processes: number) => processes >= 3 && processes <= TWO_HELD_GROUPS_UP_TO;

/** The marker that holds `port` out of nginx's rotation. */
export const heldMarker = (host: AppHost, port: number | string) => `${host.paths.rotationDir}/held-${port}`;
/**
 * The marker the watchdog keeps while a process's last tries in a row got nothing back from it
 * (502 with no header time: a reset, a closed connection) where another process answered the same
 * request; a deploy moves such a process first, as one that does not answer its health check.
 */
export const unansweredMarker = (host: AppHost, port: number | string) =>
  `${host.paths.rotationDir}/unanswered-${port}`;

/**
 * nginx's timings for the health check path: a process that does not accept within 1 s, or does
 * not answer within 2 s, is given up; another is tried only within the first second (a refused or
 * reset connection: instant), so one try that timed out is the last.
 */
const HEALTH_CHECK_PROXY = { connectSeconds: 1, readSeconds: 2, retryWindowSeconds: 1 } as const;

/**
 * The longest nginx takes to answer the health check path, whatever the processes do: a try may
 * start until the retry window ends, and then take its connect and read timeouts. The load
 * balancer's check must wait longer.
 */
export const HEALTH_CHECK_ANSWER_SECONDS =
  HEALTH_CHECK_PROXY.retryWindowSeconds + HEALTH_CHECK_PROXY.connectSeconds + HEALTH_CHECK_PROXY.readSeconds;

/** The marker that makes the server fail the load balancer's health check. */
export const unhealthyMarker = (host: AppHost) => `${host.paths.rotationDir}/unhealthy`;

/** `max_fails` of an upstream server that sets none (nginx's ngx_http_upstream_module). */
export const NGINX_DEFAULT_MAX_FAILS = 1;

/**
 * The access log's first fields, as `log_format upstream` below writes them: `$remote_addr
 * [$time_iso8601] "$request" $status $body_bytes_sent $response_time ...`, the last in seconds
 * (always a number: the map before the format). A bracketed or quoted field is one field, as
 * CloudWatch Logs splits a line for the metric filters that read them (AccessLogAlarms); what
 * follows varies in number (nginx lists every upstream it tried).
 */
export const ACCESS_LOG_FIELDS = ["addr", "time", "request", "status", "bytes", "latency"] as const;

/**
 * The size of the shared memory zone that holds every upstream group of `nginxConf`, in KiB. Each
 * peer (a `server` line, backups included) takes about 770 bytes of it in nginx 1.22 built
 * `--with-compat`, as Amazon Linux's and Debian's are (measured: the smallest zone `nginx -t`
 * accepts is 35 KiB for 2 processes, 384 KiB for 8 with its 28 two-held groups, 1,606 KiB for
 * 32), and the zone has a fixed part of its own. This allows twice that per peer, for builds whose
 * peers are larger, plus 64 KiB: 73 KiB for 2 processes, 3,136 KiB for 32. A zone too small fails
 * `nginx -t` ("no memory in upstream zone"), and with it the boot.
 */
export function upstreamZoneKb(processes: number): number {
  // `app`: each process, and each again as a backup when there are several; then one group per
  // process held out (and per two, see TWO_HELD_GROUPS_UP_TO) of all the others (the same way), or
  // of the one left and the held ones as backups
  const groupPeers = (n: number) => (n > 1 ? 2 * n : n);
  const withoutPeers = (held: number) => (processes - held === 1 ? 1 + held : groupPeers(processes - held));
  const pairs = hasTwoHeldGroups(processes) ? (processes * (processes - 1)) / 2 : 0;
  const peers = groupPeers(processes) + (processes > 1 ? processes * withoutPeers(1) : 0) + pairs * withoutPeers(2);
  return 64 + Math.ceil(peers * 1.5);
}

/**
 * nginx's whole main configuration for an app server: the local reverse proxy that spreads
 * requests over the app processes on loopback.
 *
 * - One upstream over every process, in a shared memory zone so that all nginx workers agree on
 *   which process failed; least connections first (a hung process stops getting new requests once
 *   it holds more than the others); passive health checks (`max_fails` / `fail_timeout`). Each
 *   process is listed a second time as a backup without failure accounting: when nginx counts
 *   every process as failed, it still tries them, so a process that is back serves at once.
 * - Rotation: a process whose marker `held-<port>` exists (see `Rotation`) gets no new request;
 *   nginx checks the markers on every request (a stat each, no reload: a reload makes nginx's old
 *   workers close idle client keep-alive connections, which a client may be reusing at that
 *   moment). Requests then go to the upstream of the other processes. A deploy holds out one
 *   process at a time, and moves the processes already held first, so that it never holds a
 *   second one; but one may crash and start again while the deploy holds another. With up to
 *   `TWO_HELD_GROUPS_UP_TO` processes, the others then take the requests (with 3, the one left,
 *   as with 2 below). While more are held, the first two of them are left out; with more
 *   processes, whose groups for every two would grow as the square, the first one held is.
 * - With 2 processes, the upstream without one is the other, never counted as failed (as nginx
 *   treats a lone server), and then the held one as a backup: nginx reads the markers when a
 *   request's headers are in but chooses its process once the body is, and an upload still
 *   arriving as the deploy moves on to the other would otherwise find only the process being
 *   stopped (502). The other is never counted as failed: a backup would otherwise take every
 *   request for a second after one slow answer of the process carrying the load. With 3 or more,
 *   the held one is no backup: the others remain, and nginx would not try it last among backups
 *   (least_conn takes turns among them).
 * - A request that cannot reach a process (refused, reset, timed out) is retried on the next
 *   process. A read timeout is shorter than the retry window, so a request that timed out on a
 *   hung process is retried too. nginx never retries a POST or PATCH once it was sent. It does
 *   retry a PUT or DELETE that was sent, as it does a GET (HTTP defines them as idempotent), while
 *   the first copy may still run in the process that timed out: an app's PUT and DELETE must be
 *   safe to apply twice (docs/inside-the-server.md). When every process has been counted as failed
 *   within the same second, the retry goes to the backup entries, which may be the same process
 *   again (least_conn among them). An answer the app
 *   gave, whatever its status, reaches the client as it is, and counts nothing against the process:
 *   an app's 503 (overloaded, in maintenance) or 504 (its own dependency timed out) is the app's
 *   word, the same from every process. Retried, each would cost every process a try (a dependency
 *   already slow would get up to twice as many requests as there are processes), and once every
 *   process had been counted as failed, nginx would answer its own 502 for a second instead.
 * - Keep-alive connections to the processes (HTTP/1.1, `Connection` cleared), closed by nginx
 *   after 60 s idle: before the app's own 65 s, so nginx never reuses a connection the app is closing.
 * - The health check path is proxied to the processes' own `/healthz` with short timeouts: it
 *   answers 200 while any process in rotation is healthy, 502 when none is, and 503 while the
 *   watchdog finds the server unhealthy (marker `unhealthy`).
 */
export function nginxConf(host: AppHost): string {
  const { paths, passiveHealthCheck: check } = host;
  const { proxy } = hostTimings(host);
  const listen = host.listenAddress ? `${host.listenAddress}:${host.listenPort}` : `${host.listenPort}`;
  const several = host.appPorts.length > 1;
  // Each process once, and once more as a backup when nginx counts every process as failed.
  const tries = several ? 2 * host.appPorts.length : 1;
  const temp = (name: string) => `${paths.nginxTempDir}/${name}`;
  const zoneKb = upstreamZoneKb(host.appPorts.length);
  // (max_fails only where it is not nginx's default, 1: a thousand lines with the most processes,
  // 122 bytes of the compressed user data)
  const maxFails = check.maxFails === NGINX_DEFAULT_MAX_FAILS ? "" : ` max_fails=${check.maxFails}`;
  const primary = (port: number) =>
    `        server 127.0.0.1:${port}${maxFails} fail_timeout=${check.failTimeoutSeconds}s;`;
  const backup = (port: number) => `        server 127.0.0.1:${port} backup max_fails=0;`;
  // every process in `ports` (see `tries`)
  const spread = (ports: readonly number[]) => [...ports.map(primary), ...(ports.length > 1 ? ports.map(backup) : [])];
  // the group while `held` are held out: the others, or the one left, never counted as failed, then `held`
  const without = (...held: number[]) => {
    const others = host.appPorts.filter((port) => !held.includes(port));
    return others.length === 1
      ? [`        server 127.0.0.1:${others[0]} max_fails=0;`, ...held.map(backup)]
      : spread(others);
  };
  // the processes held out at once that have a group of their own: each one, and each two
  const heldSets = [
    ...(several ? host.appPorts.map((port) => [port]) : []),
    ...(hasTwoHeldGroups(host.appPorts.length) ? pairsOf(host.appPorts) : []),
  ];
  const upstream = (name: string, servers: readonly string[], zone: string) => [
    `    upstream ${name} {`,
    `        zone app${zone};`,
    "        least_conn;",
    ...servers,
    "        keepalive 32;",
    "        keepalive_timeout 60s;",
    "    }",
  ];
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
    // The request's path without its query string: a token or other secret a client puts in a URL
    // stays out of the log, which the CloudWatch agent ships (as received: not decoded, not
    // rewritten). Said here, not in the file: user data is 16 KB at most, and the largest is near it.
    "    map $request_uri $request_path {",
    '        "~^(?<path>[^?]*)" $path;',
    "    }",
    // The response time the latency alarms read (ACCESS_LOG_FIELDS): how long the one process
    // that answered took to start its answer, as TargetResponseTime is for a fleet; nginx's whole
    // time on the request where none or several did (its own answer, or a retry), which the client waited.
    "    map $upstream_header_time $response_time {",
    '        "~^[0-9.]+$" $upstream_header_time;',
    "        default $request_time;",
    "    }",
    "    log_format upstream '$remote_addr [$time_iso8601] \"$request_method $request_path $server_protocol\" $status $body_bytes_sent '",
    "                        '$response_time rt=$request_time upstream=$upstream_addr ustatus=$upstream_status uht=$upstream_header_time '",
    "                        'urt=$upstream_response_time xff=\"$http_x_forwarded_for\"';",
    `    access_log ${paths.nginxLogDir}/access.log upstream;`,
    "",
    `    client_body_temp_path ${temp("client_body")};`,
    `    proxy_temp_path ${temp("proxy")};`,
    `    fastcgi_temp_path ${temp("fastcgi")};`,
    `    uwsgi_temp_path ${temp("uwsgi")};`,
    `    scgi_temp_path ${temp("scgi")};`,
    "",
    ...(host.behindLoadBalancer
      ? [
          "    # Behind the load balancer the client's scheme arrives in X-Forwarded-Proto.",
          "    map $http_x_forwarded_proto $forwarded_proto {",
          "        default $http_x_forwarded_proto;",
          "        '' $scheme;",
          "    }",
          // over HTTPS at the load balancer, browsers are told to keep to it (empty: no header)
          "    map $http_x_forwarded_proto $strict_transport {",
          '        https "max-age=31536000";',
          '        default "";',
          "    }",
        ]
      : [
          "    # Clients connect here directly: the scheme is ours, whatever a client's X-Forwarded-Proto says.",
          "    map $scheme $forwarded_proto {",
          "        default $scheme;",
          "    }",
        ]),
    "",
    ...upstream("app", spread(host.appPorts), ` ${zoneKb}k`),
    ...heldSets.flatMap((held) => ["", ...upstream(upstreamWithout(...held), without(...held), "")]),
    "",
    `    # The upstream a request goes to: every process, or every one but the process${heldSets.some((held) => held.length > 1) ? "es" : ""} held out.`,
    "    map $app_held $app_upstream {",
    "        default app;",
    ...heldSets.map((held) => `        "-${held.join("-")}" ${upstreamWithout(...held)};`),
    // more held than a group leaves out (regular expressions are tried after the names above): the
    // group without the first two of them, or the first one
    ...(hasTwoHeldGroups(host.appPorts.length)
      ? ["        ~^-(\\d+)-(\\d+)- app-without-$1-$2;"]
      : host.appPorts.length > TWO_HELD_GROUPS_UP_TO
        ? ["        ~^-(\\d+)- app-without-$1;"]
        : []),
    "    }",
    "",
    "    server {",
    `        listen ${listen} default_server;`,
    "        server_name _;",
    "        client_max_body_size 10m;",
    // (no location adds a header of its own: these reach every answer)
    ...(host.behindLoadBalancer
      ? [
          "        add_header Strict-Transport-Security $strict_transport always;",
          "        add_header X-Content-Type-Options nosniff always;",
        ]
      : []),
    "",
    "        proxy_http_version 1.1;",
    '        proxy_set_header Connection "";',
    "        proxy_set_header Host $host;",
    "        proxy_set_header X-Real-IP $remote_addr;",
    // Alone, a client's own X-Forwarded-For would lead the list the app reads: only its address.
    `        proxy_set_header X-Forwarded-For ${host.behindLoadBalancer ? "$proxy_add_x_forwarded_for" : "$remote_addr"};`,
    "        proxy_set_header X-Forwarded-Proto $forwarded_proto;",
    `        proxy_connect_timeout ${proxy.connectSeconds}s;`,
    `        proxy_send_timeout ${proxy.readSeconds}s;`,
    `        proxy_read_timeout ${proxy.readSeconds}s;`,
    "        proxy_next_upstream error timeout;",
    `        proxy_next_upstream_tries ${tries};`,
    `        proxy_next_upstream_timeout ${proxy.nextUpstreamSeconds}s;`,
    "",
    "        # Which processes are held out of rotation (bin/rotation writes the markers).",
    '        set $app_held "";',
    ...host.appPorts.map(
      (port) => `        if (-f ${heldMarker(host, port)}) { set $app_held "\${app_held}-${port}"; }`,
    ),
    "",
    `        location = ${host.healthCheckPath} {`,
    "            access_log off;",
    `            if (-f ${unhealthyMarker(host)}) { return 503 "unhealthy: see the watchdog in the app log\\n"; }`,
    `            proxy_connect_timeout ${HEALTH_CHECK_PROXY.connectSeconds}s;`,
    `            proxy_read_timeout ${HEALTH_CHECK_PROXY.readSeconds}s;`,
    // (counted against the process for a second, as an error is; with every process answering 503,
    // nginx's own 502: the load balancer's check fails either way)
    "            # A process that is stopping answers 503 here: ask another.",
    "            proxy_next_upstream error timeout http_503;",
    "            # Answer within the load balancer's health check timeout, whatever the retries.",
    `            proxy_next_upstream_timeout ${HEALTH_CHECK_PROXY.retryWindowSeconds}s;`,
    `            proxy_pass http://$app_upstream${APP_HEALTH_PATH};`,
    "        }",
    "",
    "        location / {",
    "            proxy_pass http://$app_upstream;",
    "        }",
    "    }",
    "}",
    "",
  ].join("\n");
}

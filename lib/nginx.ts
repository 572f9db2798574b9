import { createHash } from "crypto";
import { NGINX_IMAGE_LAYOUT, NginxLayout } from "./presets";
import type { BalancerSpec } from "./schema";
import { httpsPortSuffix } from "./tls";

/**
 * The balancer's nginx config, rendered as a pure function of the spec: same input, byte-identical output
 * (stable order, no timestamps). Directive names follow nginx's documentation.
 */

export interface BalancerConfigInput {
  /** Pulumi stack name, for the header comment only. */
  stackName: string;
  balancer: BalancerSpec;
  /** Ports of the app nodes: HTTP and the app's socket server (equal for Node.js and Tomcat). */
  httpPort: number;
  wsPort: number;
  /** Host names of the app nodes, in node order; each becomes a `server` in both upstreams. */
  nodeHosts: string[];
  /** With `balancer.tls`: the name of the certificate and key files (see `tlsFileName`). */
  tlsFileName?: string;
}

/** Mozilla's "intermediate" TLS configuration (ssl-config.mozilla.org, v5.7), for nginx. */
const MOZILLA_INTERMEDIATE = [
  "ssl_protocols TLSv1.2 TLSv1.3;",
  "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305;",
  "ssl_prefer_server_ciphers off;",
  "ssl_session_timeout 1d;",
  "ssl_session_cache shared:wsenv_tls:10m;",
  "ssl_session_tickets off;",
];

/** The files the balancer runs on: the generated config (owned by wsenv) and the user's snippet. */
export interface BalancerFiles {
  nginxConf: string;
  snippet: string;
  /**
   * Hash of both files. The health endpoint answers with it, so whoever applies the files can tell when
   * nginx really serves them (a reload is asynchronous).
   */
  revision: string;
}

/** Request header that tells the app the public path of its WebSocket (the first websocketPath). */
export const WS_PATH_HEADER = "X-Wsenv-Ws-Path";

/** Name of the cookie that pins a client to a node when `balancer.sticky` is on. */
export const STICKY_COOKIE = "wsenv_node";

// Values that reach nginx syntax were checked by the schema's grammars; this second check keeps a future
// caller that skips the schema from ever emitting a directive it did not mean to.
const NGINX_WORD = /^[A-Za-z0-9._~\/:@-]+$/;
function word(value: string | number): string {
  const text = String(value);
  if (!NGINX_WORD.test(text)) throw new Error(`refusing to render ${JSON.stringify(text)} into nginx syntax`);
  return text;
}

function proxyHeaders(): string[] {
  // proxy_set_header in a location replaces every inherited one, so each location carries the full set.
  // The balancer is the edge: X-Forwarded-For is the peer address, never a chain the client sent.
  return [
    "proxy_http_version 1.1;",
    "proxy_set_header Host $host;",
    "proxy_set_header X-Real-IP $remote_addr;",
    "proxy_set_header X-Forwarded-For $remote_addr;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_set_header X-Forwarded-Host $host;",
    "proxy_set_header Upgrade $http_upgrade;",
    "proxy_set_header Connection $connection_upgrade;",
  ];
}

function upstream(name: string, input: BalancerConfigInput, port: number, method: string | null, keepalive: boolean): string[] {
  const b = input.balancer;
  return [
    `upstream ${name} {`,
    ...(method ? [`    ${method};`] : []),
    ...input.nodeHosts.map((host) => `    server ${word(host)}:${word(port)} max_fails=${word(b.maxFails)} fail_timeout=${word(b.failTimeout)};`),
    // keepalive must follow the balancing method; upgraded sockets are never reused, so HTTP only.
    ...(keepalive ? ["    keepalive 32;", "    keepalive_timeout 60s;"] : []),
    "}",
  ];
}

function indent(lines: string[], depth: number): string[] {
  const pad = "    ".repeat(depth);
  return lines.map((line) => (line ? pad + line : line));
}

/** Descriptors each nginx worker may open; the container's nofile ulimit is set to the same value. */
export function balancerOpenFilesLimit(balancer: Pick<BalancerSpec, "workerConnections">): number {
  return balancer.workerConnections + 1024;
}

export function renderNginxConf(input: BalancerConfigInput, layout: NginxLayout = NGINX_IMAGE_LAYOUT): string {
  return renderBalancerFiles(input, layout).nginxConf;
}

/** The config with `revision` in its health answer; `""` renders the body the revision is a hash of. */
function renderTemplate(input: BalancerConfigInput, layout: NginxLayout, revision: string): string {
  const b = input.balancer;
  if (input.nodeHosts.length === 0) throw new Error("an upstream needs at least one node");
  const sticky = b.sticky;
  // add_header in a location drops every add_header of the server block, so each location carries all.
  const locationHeaders = [...(sticky ? [`add_header Set-Cookie $wsenv_sticky_cookie;`] : []), ...hstsHeader(input)];

  const wsLocations = b.websocketPaths.flatMap((path) => [
    `location ${word(path)} {`,
    "    proxy_pass http://wsenv_ws;",
    ...indent(proxyHeaders(), 1),
    // Sockets idle longer than nginx's 60 s default in chats; buffering would hold back frames.
    `    proxy_read_timeout ${word(b.websocketTimeout)};`,
    `    proxy_send_timeout ${word(b.websocketTimeout)};`,
    `    proxy_connect_timeout ${word(b.connectTimeout)};`,
    // A node that refuses or does not answer in time: the handshake goes to the next node, as HTTP does.
    "    proxy_next_upstream error timeout;",
    "    proxy_next_upstream_tries 3;",
    "    proxy_buffering off;",
    `    proxy_buffer_size ${word(b.websocketBufferSize)};`,
    ...indent(locationHeaders, 1),
    "}",
    "",
  ]);

  const lines = [
    `# Generated by wsenv for stack ${word(input.stackName)}. Do not edit: every \`pulumi up\` rewrites this file.`,
    `# Your own directives go in the stack config (wsenv:balancer.snippet); they land in`,
    `# ${layout.snippetFile}, included inside the server block below.`,
    "",
    `user ${word(layout.user)};`,
    `worker_processes ${word(b.workerProcesses)};`,
    // The limit is per worker, and one connection is one descriptor (a proxied socket is two connections,
    // both counted in worker_connections); the margin covers listeners, logs and files being served.
    `worker_rlimit_nofile ${word(balancerOpenFilesLimit(b))};`,
    // Old workers keep serving their sockets this long after a reload, then close them.
    `worker_shutdown_timeout ${word(b.drainTimeout)};`,
    `error_log ${word(layout.logDir)}/error.log notice;`,
    "",
    "events {",
    `    worker_connections ${word(b.workerConnections)};`,
    "}",
    "",
    "http {",
    `    include ${word(layout.mimeTypesFile)};`,
    "    default_type application/octet-stream;",
    "    server_tokens off;",
    "    sendfile on;",
    "    tcp_nopush on;",
    "    tcp_nodelay on;",
    "    keepalive_timeout 65s;",
    `    client_max_body_size ${word(b.clientMaxBodySize)};`,
    "    large_client_header_buffers 4 16k;",
    ...requestPool(b),
    "",
    "    log_format wsenv '$remote_addr [$time_local] \"$request\" $status $body_bytes_sent '",
    "                     'upstream=$upstream_addr upstream_status=$upstream_status '",
    "                     'request_time=$request_time upstream_connect_time=$upstream_connect_time '",
    "                     'upstream_header_time=$upstream_header_time upstream_response_time=$upstream_response_time';",
    // Buffered: without a write() per request, plain HTTP served 38-80% more requests/s in `npm run bench`;
    // lines reach the file at most a second late (WebSocket sessions log once, when they close).
    `    access_log ${word(layout.logDir)}/access.log wsenv buffer=64k flush=1s;`,
    "",
    ...(b.tls?.hsts ? ["    map $scheme $wsenv_hsts {", '        https "max-age=31536000";', '        default "";', "    }", ""] : []),
    "    # WebSocket requests upgrade; plain HTTP sends no Connection header, which keeps upstream keepalive.",
    "    map $http_upgrade $connection_upgrade {",
    "        default upgrade;",
    "        '' '';",
    "    }",
    "",
    ...(sticky
      ? [
          "    # Sticky: open-source nginx has no `sticky`, and ip_hash sees one address behind Docker's NAT.",
          "    # A client without a valid cookie gets a fresh random key ($request_id) and keeps it as a cookie;",
          "    # `hash` on that key sends its requests and reconnects to the same node.",
          `    map $cookie_${STICKY_COOKIE} $wsenv_sticky_key {`,
          '        "~^[0-9a-f]{32}$" $cookie_' + STICKY_COOKIE + ";",
          "        default $request_id;",
          "    }",
          `    map $cookie_${STICKY_COOKIE} $wsenv_sticky_cookie {`,
          '        "~^[0-9a-f]{32}$" "";',
          `        default "${STICKY_COOKIE}=$request_id; Path=/; HttpOnly; SameSite=Lax";`,
          "    }",
          "",
        ]
      : []),
    // Plain `hash` (not `consistent`): both upstreams list the same nodes in the same order, so one key
    // picks the same node for the page and its socket.
    ...indent(upstream("wsenv_http", input, input.httpPort, sticky ? "hash $wsenv_sticky_key" : null, true), 1),
    "",
    // Without stickiness, sockets go to the node holding the fewest: they live for hours, round robin
    // would pile them up unevenly.
    ...indent(upstream("wsenv_ws", input, input.wsPort, sticky ? "hash $wsenv_sticky_key" : "least_conn", false), 1),
    "",
    ...indent(servers(input, layout, revision, wsLocations, locationHeaders), 1),
    "}",
    "",
  ];
  return lines.join("\n");
}

/**
 * An upgraded connection keeps its two WebSocket buffers in its request's pool for its whole life; below a
 * page they come out of the pool's first block, and the pool then grows by a whole block unless that block
 * has room for both. Sized for them (2 x buffer + 256 bytes of the pool's own), measured with 3,000 idle
 * sockets on nginx 1.22: 12.7 KiB per socket with the default buffer, 13.7 without this line. Not set
 * when that would not be below nginx's own default (4k).
 */
function requestPool(b: BalancerSpec): string[] {
  const size = 2 * b.websocketBufferSize + 256;
  if (size >= 4096) return [];
  return [
    "    # Room in each request's pool for the two WebSocket buffers an upgraded connection keeps",
    "    # (2 x proxy_buffer_size) and nginx's own use, so the pool does not grow by another 4k block.",
    `    request_pool_size ${word(size)};`,
  ];
}

/** HSTS over HTTPS only: `$wsenv_hsts` is empty on plain HTTP, and nginx sends no header with no value. */
function hstsHeader(input: BalancerConfigInput): string[] {
  return input.balancer.tls?.hsts ? ["add_header Strict-Transport-Security $wsenv_hsts always;"] : [];
}

/**
 * The server blocks: plain HTTP on the container's port 80, and with TLS the same body on 443 (HTTP/2).
 * With `tls.redirectHttp` the plain server answers only the health path (the config step asks it from
 * inside the container) and redirects everything else to HTTPS.
 */
function servers(input: BalancerConfigInput, layout: NginxLayout, revision: string, wsLocations: string[], locationHeaders: string[]): string[] {
  const b = input.balancer;
  const health = [
    `location = ${word(b.healthPath)} {`,
    "    access_log off;",
    "    default_type text/plain;",
    // Which files this nginx serves: the apply step waits for it after a reload.
    `    return 200 "ok wsenv-config=${revision}\\n";`,
    "}",
    "",
  ];
  const body = [
    ...health,
    ...wsLocations,
    "location / {",
    "    proxy_pass http://wsenv_http;",
    ...indent(proxyHeaders(), 1),
    // Tells the page where its socket is, so changing websocketPaths is a reload, not a redeploy of nodes.
    `    proxy_set_header ${WS_PATH_HEADER} ${word(b.websocketPaths[0])};`,
    `    proxy_connect_timeout ${word(b.connectTimeout)};`,
    // Retry another node on connection errors; nginx never retries non-idempotent requests by itself.
    "    proxy_next_upstream error timeout http_502 http_503;",
    "    proxy_next_upstream_tries 3;",
    ...indent(locationHeaders, 1),
    "}",
    "",
    `include ${word(layout.snippetFile)};`,
  ];
  const server = (head: string[], lines: string[]) => ["server {", ...indent([...head, "server_name _;", "", ...lines], 1), "}"];
  const tls = b.tls;
  if (!tls) return server([`listen ${word(layout.listenPort)} default_server;`], body);
  if (!input.tlsFileName) throw new Error("balancer.tls needs the TLS file name");
  const files = `${layout.tlsDir}/${word(input.tlsFileName)}`;
  const redirect = [...health, "location / {", `    return 308 https://$host${httpsPortSuffix(tls.port)}$request_uri;`, "}"];
  return [
    ...server([`listen ${word(layout.listenPort)} default_server;`], tls.redirectHttp ? redirect : body),
    "",
    ...server(
      [
        // The listen parameter, not `http2 on;`: nginx before 1.25.1 knows only this form.
        `listen ${word(layout.tlsListenPort)} ssl http2 default_server;`,
        `ssl_certificate ${word(`${files}.crt`)};`,
        `ssl_certificate_key ${word(`${files}.key`)};`,
        ...MOZILLA_INTERMEDIATE,
        ...hstsHeader(input),
      ],
      body,
    ),
  ];
}

/** The user's snippet file: their directives verbatim, under a header saying where they came from. */
export function renderSnippet(balancer: BalancerSpec): string {
  const body = balancer.snippet.endsWith("\n") || balancer.snippet === "" ? balancer.snippet : `${balancer.snippet}\n`;
  return `# From wsenv:balancer.snippet, included inside the generated server block.\n${body}`;
}

export function renderBalancerFiles(input: BalancerConfigInput, layout: NginxLayout = NGINX_IMAGE_LAYOUT): BalancerFiles {
  const snippet = renderSnippet(input.balancer);
  // Rendered twice rather than a placeholder replaced afterwards: a stack name or any other text that
  // happened to contain the placeholder would have received the revision instead.
  const body = renderTemplate(input, layout, "");
  const revision = createHash("sha256").update(body).update("\0").update(snippet).digest("hex").slice(0, 16);
  return { nginxConf: renderTemplate(input, layout, revision), snippet, revision };
}

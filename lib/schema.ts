import { X509Certificate } from "crypto";
import { z } from "zod";
import {
  CONTEXT_NAME,
  ENV_NAME,
  GIT_REF,
  HOST_NAME,
  IMAGE_REF,
  IPV4,
  NGINX_DURATION,
  NGINX_SIZE,
  PHP_EXTENSION,
  URL_PATH,
  durationSeconds,
} from "./grammar";
import { ConfigError, Problem, problem, showValue } from "./errors";
import { STACK_NAMES, STACK_PRESETS } from "./presets";
import { AppSource, classifySource } from "./sourceKind";

/**
 * The stack config schema: the only module that knows config keys and their defaults. Everything after it
 * takes the resolved {@link WsenvSpec}, never raw config.
 */

const path = z.string().max(256, "must be at most 256 characters").regex(URL_PATH, "must be a path like /ws/");
const duration = z.string().regex(NGINX_DURATION, "must be an nginx duration like 90s, 10m or 1h");
const size = z.string().regex(NGINX_SIZE, "must be an nginx size like 10m or 512k");
const port = z.number().int("must be a whole number").min(1, "must be a port from 1 to 65535").max(65535, "must be a port from 1 to 65535");
const image = z.string().max(255, "must be at most 255 characters").regex(IMAGE_REF, "must be a Docker image reference like nginx:1.27");
const ENV_LIMIT = 256;
const envMap = z
  .record(
    z.string().regex(ENV_NAME, "must be an environment variable name like DB_HOST").refine((k) => !k.startsWith("WSENV_"), "is reserved: WSENV_* variables are set by wsenv"),
    z.string().max(32768, "must be at most 32768 characters").refine((v) => !v.includes("\0"), "must not contain a NUL character"),
  )
  .refine((env) => Object.keys(env).length <= ENV_LIMIT, `must set at most ${ENV_LIMIT} variables`);
/** Bytes, not characters: three-byte characters would otherwise pass a character bound three times over. */
const SNIPPET_LIMIT_BYTES = 65536;

/** A PEM certificate chain: the server's certificate first, then its intermediates. */
const certificateChain = z
  .string()
  .max(65536, "must be at most 64 KiB")
  .refine((pem) => /^-----BEGIN CERTIFICATE-----\r?\n[\s\S]*-----END CERTIFICATE-----\s*$/.test(pem) && parsesAsCertificate(pem), "must be a PEM certificate (-----BEGIN CERTIFICATE-----), the server's own first");

function parsesAsCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

export const tlsSchema = z.strictObject({
  certificate: certificateChain
    .describe("The balancer's certificate chain in PEM, the server's certificate first; its key is wsenv:tlsKey (a secret)."),
  port: port.default(8443)
    .describe("Host port HTTPS and wss:// are published on (the container listens on 443)."),
  redirectHttp: z.boolean().default(true)
    .describe("Answer plain HTTP with a redirect to HTTPS (the balancer's health path excepted); false serves both."),
  hsts: z.boolean().default(false)
    .describe("Send Strict-Transport-Security (one year), so browsers use HTTPS only for this host."),
});

export const balancerSchema = z.strictObject({
  port: port.default(8080)
    .describe("Host port the balancer is published on."),
  listenAddress: z.string().regex(IPV4, "must be an IPv4 address like 0.0.0.0 or 127.0.0.1").default("0.0.0.0")
    .describe("Host address the port is published on; 127.0.0.1 keeps the environment private to this machine."),
  publicHost: z.string().regex(HOST_NAME, "must be a host name like localhost or chat.example.com").default("localhost")
    .describe("Host name users reach the balancer by; used in the `url` and `wsUrl` outputs only."),
  websocketPaths: z.array(path).min(1, "must list at least one path").max(16, "must list at most 16 paths").default(() => ["/ws/"])
    .describe("Paths proxied as WebSockets to the app's socket port, passed to the app unchanged."),
  websocketTimeout: duration.default("1h")
    .describe("Idle time after which nginx closes a WebSocket (nginx's own default, 60s, cuts idle chats)."),
  sticky: z.boolean().default(false)
    .describe("Keep each client on one node across requests and reconnects (a cookie the balancer sets)."),
  snippet: z
    .string()
    .refine((v) => Buffer.byteLength(v, "utf8") <= SNIPPET_LIMIT_BYTES, `must be at most 64 KiB (${SNIPPET_LIMIT_BYTES} bytes of UTF-8)`)
    .refine((v) => !v.includes("\0"), "must not contain a NUL character")
    .default("")
    .describe("Your own nginx directives, included inside the server block from their own file."),
  image: image.default("nginx:1.27")
    .describe("The balancer's image. Changing it replaces the balancer container (a short outage)."),
  clientMaxBodySize: size.default("10m")
    .describe("Largest request body accepted (nginx `client_max_body_size`)."),
  workerProcesses: z.union([z.literal("auto"), z.number().int("must be a whole number").min(1, "must be at least 1").max(64, "must be at most 64")], {
    error: `must be "auto" or a whole number of processes from 1 to 64`,
  }).default("auto")
    .describe("nginx worker processes; `auto` is one per core. The balancer holds up to workerProcesses x workerConnections / 2 sockets. More workers than cores cost throughput: measured on 2 cores, 3 workers echoed 43% fewer messages per second at saturation than 2 (bench/README.md); raise workerConnections first, and workers only where the open-files limit caps it."),
  workerConnections: z.number().int("must be a whole number").min(1024, "must be at least 1024").max(1048576, "must be at most 1048576").default(65536)
    .describe("Connections per nginx worker; each proxied socket uses two. The container's open-files limit is this plus 1024, so changing it replaces the balancer container."),
  cpuShares: z.number().int("must be a whole number").min(2, "must be at least 2").max(262144, "must be at most 262144").default(1024)
    .describe("The balancer container's CPU weight when the host is busy (Docker `--cpu-shares`; 1024, Docker's default, is what app nodes get)."),
  memoryMb: z.number().int("must be a whole number").min(64, "must be at least 64").max(65536, "must be at most 65536").default(2048)
    .describe("Memory limit of the balancer container, in MB. An idle proxied socket costs nginx about 13 KiB (21 with a browser's cookie), so the default holds the 65536 connections of the default workerConnections with room to spare. Changes in place."),
  websocketBufferSize: z.number().int("must be a whole number of bytes").min(256, "must be at least 256").max(65536, "must be at most 65536").default(1280)
    .describe("Bytes nginx reads a WebSocket frame in, each way (`proxy_buffer_size`); every open socket keeps both for its life. The default holds 1 KiB messages at full speed and an idle socket in about 12.7 KiB (4 KiB, a page, cost 17.7 to 27.3); larger messages take more reads (8 KiB ones: about 20% fewer per second)."),
  drainTimeout: duration.default("10m")
    .describe("How long old workers may keep serving their sockets after a reload (`worker_shutdown_timeout`)."),
  connectTimeout: duration.default("1500ms")
    .describe("How long connecting to a node may take before the next node is tried. The default outlasts one retry of a dropped SYN (the kernel resends it after 1 s, as when a burst fills a small accept backlog) and keeps a dead node's cost per request under 2 s; 4s outlasts two retries."),
  maxFails: z.number().int("must be a whole number").min(0, "must be 0 or more").max(100, "must be at most 100").default(1)
    .describe("Failures within `failTimeout` after which a node is taken out for `failTimeout`."),
  failTimeout: duration.default("10s")
    .describe("See `maxFails`."),
  healthPath: path.default("/_wsenv/health")
    .describe("Path of the balancer's own health endpoint (answered by nginx, never proxied)."),
  tls: tlsSchema.optional()
    .describe("HTTPS and wss:// with your certificate (the key in wsenv:tlsKey); HTTP/2, TLS 1.2 and 1.3 with Mozilla's intermediate ciphers."),
});

export const appSchema = z.strictObject({
  stack: z.enum(STACK_NAMES, { error: `must be one of ${STACK_NAMES.join(", ")}` }).default("apache-php")
    .describe("The app server stack of every node."),
  image: image.optional()
    .describe("Image the nodes are built FROM; defaults to the stack's official image."),
  nodes: z.number().int("must be a whole number").min(1, "must be at least 1").max(200, "must be at most 200").default(1)
    .describe("Number of app server nodes behind the balancer."),
  source: z.string({ error: (i) => (i.input === undefined ? "is required: a folder, an archive (.zip, .tar.gz) or a git URL" : "must be a string") })
    .min(1, "must not be empty")
    .max(2048, "must be at most 2048 characters")
    .refine((v) => !/[\0\n\r]/.test(v), "must be a single line")
    .describe("Where the application comes from: a folder or a .zip/.tar.gz archive inside the project (or inside `sourceRoot`), an archive URL, or an https or ssh git URL."),
  ref: z.string().regex(GIT_REF, "must be a git branch, tag or commit like main or v1.2.0").optional()
    .describe("Branch, tag or commit to deploy from a git source (default: the remote's default branch)."),
  sourceRoot: z.string().min(1, "must not be empty").max(1024, "must be at most 1024 characters").refine((v) => !/[\0\n\r]/.test(v), "must be a single line").default(".")
    .describe("The folder a folder or archive source must be inside (links resolved), relative to the project folder. The default keeps the app in the project; `..` lets a project in a subfolder of a repository deploy a sibling folder such as `../app`. Review a change of it like a change of the source: it widens what a stack config may read."),
  allowLocalGit: z.boolean().default(false)
    .describe("Allow a git source that is a repository on this machine (a path or a file:// URL); otherwise git sources must be https:// or ssh."),
  allowPrivateNetwork: z.boolean().default(false)
    .describe("Allow an archive URL whose host is a loopback, link-local or private address (127.0.0.1, 10.x, 192.168.x, 169.254.x, fc00::/7, ...)."),
  context: z.string().regex(CONTEXT_NAME, "must be ROOT or a name like chat").default("ROOT")
    .describe("Context to deploy into: ROOT (the web root) or a name served under /name/."),
  httpPort: port.optional()
    .describe("Port the stack's HTTP server listens on in each node; defaults to the stack's."),
  wsPort: port.optional()
    .describe("Port the app's WebSockets are served on in each node; defaults to 8000 with wsCommand, else httpPort."),
  wsCommand: z.string().max(1024, "must be at most 1024 characters").refine((v) => !/[\0\n\r]/.test(v), "must be a single line").default("")
    .describe("Command that starts the app's own socket server in the deployed context, supervised beside the HTTP server."),
  phpExtensions: z.array(z.string().regex(PHP_EXTENSION, "must be an extension name like gd or pdo_mysql")).max(32, "must list at most 32 extensions").default(() => [])
    .describe("PHP extensions installed into every node beside the stack's defaults (apache-php only)."),
  env: envMap.default(() => ({}))
    .describe("Plain environment for the app. Put secrets in wsenv:secretEnv (set with --secret)."),
  memoryMb: z.number().int("must be a whole number").min(64, "must be at least 64").max(65536, "must be at most 65536").default(512)
    .describe("Memory limit of each node, in MB."),
  restart: z.enum(["unless-stopped", "always", "on-failure", "no"], { error: "must be one of unless-stopped, always, on-failure, no" }).default("unless-stopped")
    .describe("Docker restart policy of each node."),
  readOnly: z.boolean().default(false)
    .describe("Make each node's root filesystem read-only, with the stack's run-time paths (/tmp, /run, ...) as tmpfs. The app then cannot write to its own folder: leave it off for apps that do."),
});

export type BalancerSpec = z.output<typeof balancerSchema>;

/** `app` as the schema gives it: defaults filled, before the stack's preset and the source are resolved. */
type AppConfig = z.output<typeof appSchema>;

/** The app, resolved: the schema's fields, with what the preset and the source decide filled in. */
export type AppSpec = Omit<AppConfig, "image" | "source" | "ref" | "httpPort" | "wsPort" | "phpExtensions"> & {
  image: string;
  source: AppSource;
  /** The source exactly as configured, for outputs and messages. */
  sourceText: string;
  /** URL path of the context: `/` for ROOT, `/name/` otherwise. */
  contextPath: string;
  /** Directory in the node the application is copied to. */
  contextDir: string;
  httpPort: number;
  wsPort: number;
  /** Every extension the nodes get: the stack's defaults and `phpExtensions`, sorted, no duplicates. */
  extensions: string[];
};

/** The whole environment, resolved: defaults filled, preset applied, cross-field rules checked. */
export interface WsenvSpec {
  balancer: BalancerSpec;
  app: AppSpec;
  /** Secret environment for the app, from `wsenv:secretEnv`; the program wraps it in pulumi.secret. */
  secretEnv: Record<string, string>;
}

/** Raw values of the stack's config keys, as `Config.getObject` returns them (undefined when unset). */
export interface RawWsenvConfig {
  balancer?: unknown;
  app?: unknown;
  secretEnv?: unknown;
  /** The TLS private key, checked for presence only: its value is never parsed into the spec. */
  tlsKey?: unknown;
}

function keyPath(key: string, path: PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : `${acc}.${String(part)}`), key);
}

function describeIssues(key: string, error: z.ZodError, secret = false): Problem[] {
  const show = secret ? () => "a secret value" : showValue;
  return error.issues.flatMap((issue) => {
    const where = keyPath(key, issue.path);
    const input = (issue as { input?: unknown }).input;
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => problem(keyPath(where, [k]), `is not a known key (got ${show(input && (input as Record<string, unknown>)[k])})`));
    }
    if (issue.code === "invalid_key") {
      return [problem(where, `the key ${issue.issues[0]?.message ?? "is not valid"} (got ${showValue(issue.path[issue.path.length - 1])})`)];
    }
    if (issue.code === "invalid_type" && issue.message.startsWith("Invalid input")) {
      return [problem(where, `must be ${issue.expected === "object" ? "an object" : `a ${issue.expected}`} (got ${show(input)})`)];
    }
    if (input === undefined && issue.code === "invalid_type") return [problem(where, issue.message)];
    return [problem(where, `${issue.message} (got ${show(input)})`)];
  });
}

/**
 * Parses the Args (the stack config's keys without `wsenv:`) into a {@link WsenvSpec}, or throws a
 * {@link ConfigError} listing every problem.
 */
export function parseWsenvConfig(raw: RawWsenvConfig): WsenvSpec {
  const problems: Problem[] = [];
  const balancer = balancerSchema.safeParse(raw.balancer ?? {}, { reportInput: true });
  const app = appSchema.safeParse(raw.app, { reportInput: true });
  const secretEnv = envMap.safeParse(raw.secretEnv ?? {}, { reportInput: true });
  if (raw.app === undefined) problems.push(problem("app", "is required (at least app.source: a folder, an archive or a git URL)"));
  else if (!app.success) problems.push(...describeIssues("app", app.error));
  if (!balancer.success) problems.push(...describeIssues("balancer", balancer.error));
  if (!secretEnv.success) problems.push(...describeIssues("secretEnv", secretEnv.error, true));

  if (balancer.success) {
    const b = balancer.data;
    const seen = new Set<string>();
    b.websocketPaths.forEach((p, i) => {
      const where = `balancer.websocketPaths[${i}]`;
      if (p === "/") problems.push(problem(where, `must not be / (that is where HTTP is proxied) (got "/")`));
      if (seen.has(p)) problems.push(problem(where, `is listed twice (got ${showValue(p)})`));
      if (p === b.healthPath) problems.push(problem(where, `is the balancer's healthPath (got ${showValue(p)})`));
      seen.add(p);
    });
    if (b.healthPath === "/") problems.push(problem("balancer.healthPath", `must not be / (got "/")`));
    if (durationSeconds(b.websocketTimeout) < 1) problems.push(problem("balancer.websocketTimeout", `must be at least 1s (got ${showValue(b.websocketTimeout)})`));
  }

  let appSpec: AppSpec | undefined;
  if (app.success) {
    const a = app.data;
    const preset = STACK_PRESETS[a.stack];
    const source = classifySource(a.source, a.ref);
    if (typeof source === "string") problems.push(problem("app.source", `${source} (got ${showValue(a.source)})`));
    else if (a.ref !== undefined && source.kind !== "git") problems.push(problem("app.ref", `applies to git sources only, and app.source is a ${source.kind} (got ${showValue(a.ref)})`));
    if (a.phpExtensions.length > 0 && !preset.extensions) {
      problems.push(problem("app.phpExtensions", `applies to the apache-php stack only, and app.stack is ${a.stack} (got ${showValue(a.phpExtensions)})`));
    }
    const httpPort = a.httpPort ?? preset.httpPort;
    const wsPort = a.wsPort ?? (a.wsCommand ? preset.wsCommandPort : httpPort);
    if (a.wsCommand && wsPort === httpPort) {
      problems.push(problem("app.wsPort", `must differ from the HTTP port ${httpPort} when wsCommand starts a socket server beside it (got ${wsPort})`));
    }
    if (secretEnv.success) {
      for (const name of Object.keys(secretEnv.data).filter((n) => n in a.env)) {
        problems.push(problem(`secretEnv.${name}`, (key) => `is also set in ${key("app.env")}; set it in one place (got a secret)`));
      }
    }
    if (typeof source !== "string") {
      appSpec = {
        stack: a.stack,
        image: a.image ?? preset.image,
        nodes: a.nodes,
        source,
        sourceText: a.source,
        sourceRoot: a.sourceRoot,
        allowLocalGit: a.allowLocalGit,
        allowPrivateNetwork: a.allowPrivateNetwork,
        context: a.context,
        contextPath: a.context === "ROOT" ? "/" : `/${a.context}/`,
        contextDir: a.context === "ROOT" ? preset.rootContextDir : preset.namedContextDir.replace("{name}", a.context),
        httpPort,
        wsPort,
        wsCommand: a.wsCommand,
        extensions: [...new Set([...(preset.extensions?.defaults ?? []), ...a.phpExtensions])].sort(),
        env: a.env,
        memoryMb: a.memoryMb,
        restart: a.restart,
        readOnly: a.readOnly,
      };
    }
  }

  if (balancer.success) {
    const tls = balancer.data.tls;
    if (tls && raw.tlsKey === undefined) problems.push(problem("tlsKey", (key) => `is required when ${key("balancer.tls")} is set: the certificate's private key, as a secret`));
    if (!tls && raw.tlsKey !== undefined) problems.push(problem("tlsKey", (key) => `applies only with ${key("balancer.tls")}, which is not set (got a secret)`));
    if (tls && raw.tlsKey !== undefined && typeof raw.tlsKey !== "string") problems.push(problem("tlsKey", "must be a string, a PEM private key (got a secret that is not)"));
    if (tls && tls.port === balancer.data.port) problems.push(problem("balancer.tls.port", `must differ from balancer.port ${balancer.data.port} (got ${tls.port})`));
  }

  if (problems.length > 0 || !balancer.success || !appSpec || !secretEnv.success) throw new ConfigError(problems);
  return { balancer: balancer.data, app: appSpec, secretEnv: secretEnv.data };
}

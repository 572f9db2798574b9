import { execFile } from "child_process";
import { promisify } from "util";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { renderBalancerFiles } from "../../lib/nginx";
import { EnvironmentPlan, planEnvironment } from "../../lib/plan";
import { environmentPrefix, secretEnvDigest } from "../../lib/naming";
import { PROGRAM_ENVIRONMENT, specFromConfigMap } from "../../lib/stackConfig";
import { BENCH_DIR, PROJECT_DIR, WORK_DIR, childPids, sh, socketFds, treeRssKiB, waitFor } from "./util";

/**
 * The bench's Docker objects and the five targets in front of one backend.
 * Everything created here carries the label below (containers, network), and {@link cleanUp} removes all of it.
 */

export const LABEL = "wsenv-bench=1";
export const STACK = "bench";
export const NGINX_IMAGE = "wsenv-test/nginx:bookworm";
export const NODE_IMAGE = "wsenv-test/node:bookworm";
export const HAPROXY_IMAGE = "wsenv-test/haproxy:bookworm";
export const CADDY_IMAGE = "wsenv-test/caddy:bookworm";
export const BACKEND_IMAGE = "wsenv-bench/backend:latest";
export const BACKEND_PORT = 3000;
/** The port HAProxy and Caddy listen on in their containers: unprivileged, so they need no capability. */
export const COMPETITOR_PORT = 8080;
/** Worker processes of the backend node (cluster); each holds its own 20000 fds. */
export const BACKEND_WORKERS = 6;
/**
 * Published ports per path. docker-proxy (Docker's userland proxy, which carries all traffic to a port
 * published on 127.0.0.1) is one process per port with nofile 20000, and it holds 6 fds per connection
 * (both sockets plus a splice pipe pair per direction: measured, 2500 connections = 15009 fds). Past
 * ~3300 connections it runs out, exits, and every connection on that port drops. So a path that must
 * carry 20k sockets is spread over 8 ports (2500 each). Every target is reached through exactly one
 * docker-proxy hop, on the client side; proxies reach the node over the bench network.
 */
export const PORTS_PER_PATH = 8;
/**
 * The wsenv stack's sizing on this machine: the container's nofile (workerConnections + 1024) must fit
 * under dockerd's own limit of 20000, so 20k sockets (40k connections) need a third worker.
 */
export const WORKER_CONNECTIONS = 17000;
export const WORKER_PROCESSES = 3;

export interface TargetAllowance {
  /** Processes and threads, in words ("3 worker processes", "1 process, 3 threads"). */
  processes: string;
  /** nofile of each process. */
  nofile: number;
  cpuShares: number;
  /** Proxied sockets the descriptors allow (2 per socket: client and upstream), or the config's own cap if lower. */
  socketsByFds: number;
}

export interface Target {
  name: string;
  /** What the column is, in one line, for the report. */
  describe: string;
  wsUrls: string[];
  httpUrl: string;
  /** What the proxy was allowed to use (null: no proxy), for the report's like-for-like table. */
  allowed: TargetAllowance | null;
  /**
   * Socket descriptors each nginx worker holds, largest first: how the kernel and nginx's accept spread
   * the connections over the workers. Null where there are no separate workers (direct, HAProxy, Caddy).
   */
  workerSocketFds(): number[] | null;
  /** The proxy's root process on the host (its scheduler statistics are read from here); null: no proxy. */
  pid(): number | null;
  /** RSS of the proxy (master + workers), KiB; null for the direct target. */
  rssKiB(): number | null;
  notes: string[];
  /**
   * A fresh proxy (new processes, nothing in use): the idle test reads its RSS growth from here, so
   * memory that earlier tests left allocated does not hide the cost of the idle sockets.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

function httpGetText(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

async function waitHttp(what: string, url: string, contains?: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(what, async () => {
    const r = await httpGetText(url);
    return r.status === 200 && (!contains || r.body.includes(contains));
  }, timeoutMs);
}

export function containerPid(name: string): number {
  return Number(sh("docker", ["inspect", "-f", "{{.State.Pid}}", name]));
}

/** The nginx image's PID 1 is the master; its children are the workers. */
function nginxWorkerSocketFds(containerName: string): number[] {
  return childPids(containerPid(containerName)).map(socketFds).sort((a, b) => b - a);
}

/** Removes every container and network of this bench (by label), e.g. left by a killed run. */
export function cleanUp(): void {
  const containers = sh("docker", ["ps", "-aq", "--filter", `label=${LABEL}`], { allowFail: true }).split("\n").filter(Boolean);
  if (containers.length) sh("docker", ["rm", "-f", ...containers], { allowFail: true, timeoutMs: 60_000 });
  const networks = sh("docker", ["network", "ls", "-q", "--filter", `label=${LABEL}`], { allowFail: true }).split("\n").filter(Boolean);
  if (networks.length) sh("docker", ["network", "rm", ...networks], { allowFail: true, timeoutMs: 60_000 });
}

/** Builds the backend image from bench/backend with a copy of the project's `ws` (no dependencies). */
export function buildBackendImage(): string {
  const src = path.join(BENCH_DIR, "backend");
  const build = path.join(src, "build");
  fs.rmSync(build, { recursive: true, force: true });
  fs.mkdirSync(path.join(build, "node_modules"), { recursive: true });
  fs.copyFileSync(path.join(src, "server.js"), path.join(build, "server.js"));
  fs.copyFileSync(path.join(src, "Dockerfile"), path.join(build, "Dockerfile"));
  fs.cpSync(path.join(PROJECT_DIR, "node_modules", "ws"), path.join(build, "node_modules", "ws"), { recursive: true });
  sh("docker", ["build", "-q", "-t", BACKEND_IMAGE, build], { env: { ...process.env, DOCKER_BUILDKIT: "0" }, timeoutMs: 300_000 });
  return sh("docker", ["image", "inspect", "-f", "{{.Id}}", BACKEND_IMAGE]);
}

export interface BenchEnvironment {
  plan: EnvironmentPlan;
  /** The stack config the plan was made from (what a Pulumi.<stack>.yaml would hold). */
  stackConfig: Record<string, unknown>;
  backendName: string;
  directPorts: number[];
  wsenvPorts: number[];
  seedPorts: number[];
  competitorPorts: { haproxy: number[]; caddy: number[] };
}

/**
 * The plan the program makes for the bench's stack: the node stack on the local Node image, one node,
 * 3 workers of 17000 connections. Node names (and so the upstream servers in nginx.conf) come from the plan.
 */
export function benchPlan(backendImageId: string, ports: { wsenv: number }): { plan: EnvironmentPlan; stackConfig: Record<string, unknown> } {
  const stackConfig = {
    "wsenv:balancer": {
      port: ports.wsenv,
      listenAddress: "127.0.0.1",
      websocketPaths: ["/ws/"],
      image: NGINX_IMAGE,
      workerProcesses: WORKER_PROCESSES,
      workerConnections: WORKER_CONNECTIONS,
    },
    "wsenv:app": {
      stack: "node",
      image: NODE_IMAGE,
      nodes: 1,
      source: "./bench/backend",
      memoryMb: 8192,
    },
  };
  const spec = specFromConfigMap(stackConfig);
  const plan = planEnvironment({ prefix: environmentPrefix(PROGRAM_ENVIRONMENT, STACK), stack: STACK }, spec, {
    contextDir: "bench/backend/build",
    contentHash: backendImageId.replace(/^sha256:/, ""),
    deployed: "./bench/backend",
  }, secretEnvDigest(STACK, spec.secretEnv));
  // The renderer itself, called with exactly the plan's inputs: the same bytes the program applies.
  const files = renderBalancerFiles({
    stackName: STACK,
    balancer: spec.balancer,
    httpPort: spec.app.httpPort,
    wsPort: spec.app.wsPort,
    nodeHosts: plan.app.nodes.map((n) => n.name),
  });
  if (files.nginxConf !== plan.balancer.files.nginxConf) throw new Error("renderBalancerFiles and planEnvironment disagree");
  return { plan, stackConfig };
}

export function startNetworkAndBackend(plan: EnvironmentPlan, directPorts: number[]): string {
  sh("docker", ["network", "create", "--label", LABEL, plan.networkName]);
  const node = plan.app.nodes[0];
  const publish = directPorts.flatMap((p) => ["-p", `127.0.0.1:${p}:${BACKEND_PORT}`]);
  sh("docker", [
    "run", "-d",
    "--name", node.name,
    "--hostname", node.name,
    "--label", LABEL,
    "--network", plan.networkName,
    "--network-alias", plan.app.peersAlias,
    ...Object.entries(node.envs).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
    "-e", `BENCH_WORKERS=${BACKEND_WORKERS}`,
    "--memory", `${plan.app.memoryMb}m`,
    "--ulimit", "nofile=20000:20000",
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges:true",
    ...publish,
    BACKEND_IMAGE,
  ]);
  return node.name;
}

export async function waitBackend(env: BenchEnvironment): Promise<void> {
  for (const p of env.directPorts) {
    await waitHttp(`backend on ${p}`, `http://127.0.0.1:${p}/`, "wsenv bench backend");
  }
}

export function directTarget(env: BenchEnvironment): Target {
  return {
    name: "direct",
    describe: `clients straight to the app node's port (${PORTS_PER_PATH} ports published on 127.0.0.1 -> ${BACKEND_PORT})`,
    wsUrls: env.directPorts.map((p) => `ws://127.0.0.1:${p}/ws/`),
    httpUrl: `http://127.0.0.1:${env.directPorts[0]}/`,
    allowed: null,
    workerSocketFds: () => null,
    pid: () => null,
    rssKiB: () => null,
    notes: [],
    restart: async () => {},
    stop: async () => {},
  };
}

/** Runs an nginx container with the given nginx.conf (and optional extra files), like BalancerNode does. */
async function nginxContainer(opts: {
  name: string;
  network: string;
  ports: number[];
  files: Record<string, string>;
  ulimitNofile?: number;
  /** Extra `docker create` flags: what BalancerNode sets beyond the hardening, or a placement experiment's. */
  extraArgs?: string[];
  hardened: boolean;
  readyUrlPath: string;
  readyContains?: string;
}): Promise<void> {
  const dir = path.join(WORK_DIR, opts.name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  sh("docker", [
    "create",
    "--name", opts.name,
    "--label", LABEL,
    "--network", opts.network,
    ...opts.ports.flatMap((p) => ["-p", `127.0.0.1:${p}:80`]),
    ...(opts.ulimitNofile ? ["--ulimit", `nofile=${opts.ulimitNofile}:${opts.ulimitNofile}`] : []),
    ...(opts.extraArgs ?? []),
    ...(opts.hardened
      ? ["--cap-drop", "ALL", "--cap-add", "CHOWN", "--cap-add", "SETUID", "--cap-add", "SETGID", "--cap-add", "NET_BIND_SERVICE", "--security-opt", "no-new-privileges:true", "--stop-signal", "SIGQUIT"]
      : []),
    NGINX_IMAGE,
  ]);
  for (const [dest, content] of Object.entries(opts.files)) {
    const local = path.join(dir, path.basename(dest));
    fs.writeFileSync(local, content);
    sh("docker", ["cp", local, `${opts.name}:${dest}`]);
  }
  sh("docker", ["start", opts.name]);
  try {
    await waitHttp(opts.name, `http://127.0.0.1:${opts.ports[0]}${opts.readyUrlPath}`, opts.readyContains, 30_000);
  } catch (err) {
    const logs = sh("docker", ["logs", "--tail", "30", opts.name], { allowFail: true });
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}

/** The container's CPU weight (0 in `docker inspect` means Docker's default, 1024). */
function containerCpuShares(containerName: string): number {
  return Number(sh("docker", ["inspect", "-f", "{{.HostConfig.CpuShares}}", containerName])) || 1024;
}

/**
 * What an nginx container was allowed, read from the running container: its nginx.conf's worker count
 * and connections, and the nofile its workers get (worker_rlimit_nofile, or the container's own).
 */
function nginxAllowance(containerName: string): TargetAllowance {
  const conf = sh("docker", ["exec", containerName, "cat", "/etc/nginx/nginx.conf"]);
  const directive = (name: string) => new RegExp(`^\\s*${name}\\s+(\\S+);`, "m").exec(conf)?.[1];
  const workersSetting = directive("worker_processes") ?? "1";
  const workers = workersSetting === "auto" ? Number(sh("docker", ["exec", containerName, "nproc"])) : Number(workersSetting);
  const connections = Number(directive("worker_connections") ?? 512);
  const nofile = Number(directive("worker_rlimit_nofile") ?? sh("docker", ["exec", containerName, "sh", "-c", "ulimit -n"]));
  return {
    processes: `${workers} worker processes (worker_processes ${workersSetting}), ${connections} connections each`,
    nofile,
    cpuShares: containerCpuShares(containerName),
    socketsByFds: workers * Math.floor(Math.min(connections, nofile) / 2),
  };
}

async function restartContainer(name: string, readyUrl: string, contains: string): Promise<void> {
  await execFileAsync("docker", ["restart", "-t", "5", name], { timeout: 60_000 });
  await waitHttp(`${name} after restart`, readyUrl, contains, 30_000);
}

export async function wsenvTarget(
  env: BenchEnvironment,
  variant?: { name: string; describe: string; nginxConf: string; ports: number[]; cpuShares?: number },
): Promise<Target> {
  const b = env.plan.balancer;
  const name = variant ? `${b.containerName}-${variant.name}` : b.containerName;
  const nginxConf = variant ? variant.nginxConf : b.files.nginxConf;
  const ports = variant ? variant.ports : env.wsenvPorts;
  await nginxContainer({
    name,
    network: env.plan.networkName,
    ports,
    files: { "/etc/nginx/nginx.conf": nginxConf, "/etc/nginx/wsenv-snippet.conf": b.files.snippet },
    ulimitNofile: b.openFilesLimit,
    extraArgs: ["--cpu-shares", String(variant?.cpuShares ?? b.cpuShares)],
    hardened: true,
    readyUrlPath: b.healthPath,
    // The unmodified config answers with its revision; a variant keeps the same health location.
    readyContains: "ok wsenv-config=",
  });
  return {
    name: variant ? `exp:${variant.name}` : "wsenv",
    allowed: nginxAllowance(name),
    restart: () => restartContainer(name, `http://127.0.0.1:${ports[0]}${b.healthPath}`, "ok wsenv-config="),
    describe: variant ? `EXPERIMENT (hand-modified copy of the generated config): ${variant.describe}` : `the generated nginx.conf (renderBalancerFiles), workerProcesses ${WORKER_PROCESSES}, workerConnections ${WORKER_CONNECTIONS}, nofile ${b.openFilesLimit}, cpu shares ${b.cpuShares}, in ${NGINX_IMAGE}`,
    wsUrls: ports.map((p) => `ws://127.0.0.1:${p}/ws/`),
    httpUrl: `http://127.0.0.1:${ports[0]}/`,
    workerSocketFds: () => nginxWorkerSocketFds(name),
    pid: () => containerPid(name),
    rssKiB: () => treeRssKiB(containerPid(name)),
    notes: [],
    stop: async () => {
      sh("docker", ["rm", "-f", name], { allowFail: true });
    },
  };
}

/** The platform guide's five lines, inside the image's own default server; nginx defaults elsewhere. */
export function seedDefaultConf(backendName: string): string {
  return `server {
    listen       80;
    server_name  localhost;

    #access_log  /var/log/nginx/host.access.log  main;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    location /ws/ {
        proxy_pass http://${backendName}:${BACKEND_PORT};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }

    #error_page  404              /404.html;

    # redirect server error pages to the static page /50x.html
    #
    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
`;
}

export async function seedTarget(env: BenchEnvironment): Promise<Target> {
  const name = `${env.plan.networkName.replace(/-net$/, "")}-seed`;
  await nginxContainer({
    name,
    network: env.plan.networkName,
    ports: env.seedPorts,
    files: { "/etc/nginx/conf.d/default.conf": seedDefaultConf(env.backendName) },
    hardened: false,
    readyUrlPath: "/ws/",
    readyContains: "wsenv bench backend",
  });
  return {
    name: "seed",
    allowed: nginxAllowance(name),
    restart: () => restartContainer(name, `http://127.0.0.1:${env.seedPorts[0]}/ws/`, "wsenv bench backend"),
    describe: "the image's default nginx.conf + conf.d/default.conf with the guide's five-line location /ws/ (plain HTTP row: GET /ws/, the only proxied path)",
    wsUrls: env.seedPorts.map((p) => `ws://127.0.0.1:${p}/ws/`),
    // location / serves nginx's own static page; /ws/ is the only path that reaches the backend.
    httpUrl: `http://127.0.0.1:${env.seedPorts[0]}/ws/`,
    workerSocketFds: () => nginxWorkerSocketFds(name),
    pid: () => containerPid(name),
    rssKiB: () => treeRssKiB(containerPid(name)),
    notes: [],
    stop: async () => {
      sh("docker", ["rm", "-f", name], { allowFail: true });
    },
  };
}

/**
 * HAProxy's config: its own documented WebSocket settings (mode http, timeout tunnel for upgraded
 * connections), as many threads as wsenv has workers, everything else at its default (maxconn derived
 * from the container's nofile).
 */
export function haproxyConfig(backendName: string): string {
  return `# HAProxy minimal WebSocket proxy: HAProxy's own documented WebSocket settings (mode http,
# timeout tunnel for upgraded connections), ${WORKER_PROCESSES} threads (wsenv's worker count), all else default.
global
    nbthread ${WORKER_PROCESSES}

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tunnel 1h

frontend ws_in
    bind :${COMPETITOR_PORT}
    default_backend app

backend app
    server app ${backendName}:${BACKEND_PORT}
`;
}

export function caddyConfig(backendName: string): string {
  return `# Caddy reverse_proxy with its defaults. The admin endpoint is off so nothing else listens.
{
    admin off
}

http://:${COMPETITOR_PORT} {
    reverse_proxy ${backendName}:${BACKEND_PORT}
}
`;
}

/**
 * A competitor run the way wsenv runs nginx: a container of its stand-in image on the bench network
 * beside the node, as many ports published on 127.0.0.1 (PORTS_PER_PATH), the same nofile ulimit and
 * CPU weight as the wsenv balancer, all capabilities dropped (it listens on an unprivileged port).
 */
async function competitorContainer(env: BenchEnvironment, opts: {
  name: "haproxy" | "caddy";
  image: string;
  configPath: string;
  config: string;
  envs?: Record<string, string>;
  threads: string;
}): Promise<Target> {
  const b = env.plan.balancer;
  const containerName = `${env.plan.networkName.replace(/-net$/, "")}-${opts.name}`;
  const ports = env.competitorPorts[opts.name];
  const dir = path.join(WORK_DIR, containerName);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const local = path.join(dir, path.basename(opts.configPath));
  fs.writeFileSync(local, opts.config);
  sh("docker", [
    "create",
    "--name", containerName,
    "--label", LABEL,
    "--network", env.plan.networkName,
    ...ports.flatMap((p) => ["-p", `127.0.0.1:${p}:${COMPETITOR_PORT}`]),
    "--ulimit", `nofile=${b.openFilesLimit}:${b.openFilesLimit}`,
    "--cpu-shares", String(b.cpuShares),
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges:true",
    ...Object.entries(opts.envs ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
    opts.image,
  ]);
  sh("docker", ["cp", local, `${containerName}:${opts.configPath}`]);
  sh("docker", ["start", containerName]);
  const url = `http://127.0.0.1:${ports[0]}/`;
  try {
    await waitHttp(containerName, url, "wsenv bench backend");
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${sh("docker", ["logs", "--tail", "30", containerName], { allowFail: true })}`);
  }
  return {
    name: opts.name,
    describe: `${opts.image} in a container beside the node (${ports.length} ports published on 127.0.0.1 -> ${COMPETITOR_PORT}), ${opts.threads}, nofile ${b.openFilesLimit}, cpu shares ${b.cpuShares}, no capabilities; config in bench/lib/targets.ts (${opts.name}Config)`,
    allowed: { processes: opts.threads, nofile: b.openFilesLimit, cpuShares: containerCpuShares(containerName), socketsByFds: Math.floor(b.openFilesLimit / 2) },
    wsUrls: ports.map((p) => `ws://127.0.0.1:${p}/ws/`),
    httpUrl: url,
    workerSocketFds: () => null,
    pid: () => containerPid(containerName),
    rssKiB: () => treeRssKiB(containerPid(containerName)),
    notes: [],
    restart: () => restartContainer(containerName, url, "wsenv bench backend"),
    stop: async () => {
      sh("docker", ["rm", "-f", containerName], { allowFail: true });
    },
  };
}

export function haproxyTarget(env: BenchEnvironment): Promise<Target> {
  return competitorContainer(env, {
    name: "haproxy",
    image: HAPROXY_IMAGE,
    configPath: "/usr/local/etc/haproxy/haproxy.cfg",
    config: haproxyConfig(env.backendName),
    threads: `1 process, ${WORKER_PROCESSES} threads (nbthread)`,
  });
}

export function caddyTarget(env: BenchEnvironment): Promise<Target> {
  return competitorContainer(env, {
    name: "caddy",
    image: CADDY_IMAGE,
    configPath: "/etc/caddy/Caddyfile",
    config: caddyConfig(env.backendName),
    // Go runs goroutines on GOMAXPROCS threads (the cores, 2 here, by default).
    envs: { GOMAXPROCS: String(WORKER_PROCESSES) },
    threads: `1 process, GOMAXPROCS ${WORKER_PROCESSES}`,
  });
}

export function versions(): Record<string, string> {
  const first = (cmd: string) => sh("sh", ["-c", `${cmd} 2>&1`], { allowFail: true }).split("\n")[0].trim();
  return {
    nginx: first(`docker run --rm --entrypoint nginx ${NGINX_IMAGE} -v`).replace(/^nginx version: /, ""),
    haproxy: first(`docker run --rm --entrypoint haproxy ${HAPROXY_IMAGE} -v`).replace(/^HAProxy version /, "").replace(/ - https.*$/, ""),
    caddy: first(`docker run --rm --entrypoint caddy ${CADDY_IMAGE} version`),
    "node (generators)": process.version,
    "node (backend)": first(`docker run --rm --entrypoint node ${BACKEND_IMAGE} -v`),
    ws: JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "node_modules/ws/package.json"), "utf8")).version,
    docker: first("docker version --format '{{.Server.Version}}'"),
  };
}


/**
 * EXPERIMENTS: hand-modified copies of the config that renderBalancerFiles generates, measured as extra
 * columns (`exp:<name>`) beside the unmodified `wsenv` column. lib/nginx.ts is never changed by the bench;
 * a variant that helps is reported as a proposed directive change, and made in lib/nginx.ts by hand.
 */
export interface Experiment {
  name: string;
  describe: string;
  /** The directive changes, as they would read in nginx.conf. */
  directives: string[];
  /** The container's cpu shares instead of the plan's (a placement change; the config may be unchanged). */
  cpuShares?: number;
  /** Whether the idle-socket test runs on it too (it adds ~45 s to a full run). */
  idle: boolean;
  apply(nginxConf: string): string;
}

/** The request pool line and the two comment lines above it. */
const REQUEST_POOL = /^\s*# Room in each request's pool.*\n.*\n\s*request_pool_size 2816;\n/m;

function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const next = text.replace(from, to);
  if (next === text) throw new Error(`experiment: ${String(from)} not found in the generated config`);
  return next;
}

/**
 * Worker sizing, the fd rule and the buffered log were measured as experiments in earlier runs
 * (bench/results/ab-*.md) and are now what lib/nginx.ts generates; `untuned` puts them all back, so one
 * run shows what they changed, number by number.
 */
export const EXPERIMENTS: Experiment[] = [
  {
    name: "untuned",
    describe:
      "THE CONFIG BEFORE TUNING, for comparison: worker_processes auto (2 here), worker_connections 9000 with worker_rlimit_nofile at twice that (the old rule: 2 fds per socket, which halved what a capped nofile lets a worker hold), and one write() per access-log line",
    directives: [
      "worker_processes auto;  (now: 3 from workerProcesses)",
      "worker_rlimit_nofile 18000;  (now: workerConnections + 1024 = 18024)",
      "worker_connections 9000;  (now: 17000)",
      "access_log ... wsenv;  (now: buffer=64k flush=1s)",
      "no proxy_buffer_size, no request_pool_size  (now: 1280 and 2816)",
    ],
    idle: true,
    apply: (conf) =>
      [
        (c: string) => replaceOnce(c, /^worker_processes \d+;$/m, "worker_processes auto;"),
        (c: string) => replaceOnce(c, /^worker_rlimit_nofile \d+;$/m, "worker_rlimit_nofile 18000;"),
        (c: string) => replaceOnce(c, /^(\s*)worker_connections \d+;$/m, "$1worker_connections 9000;"),
        (c: string) => replaceOnce(c, /^(\s*access_log \S+ wsenv) buffer=64k flush=1s;$/m, "$1;"),
        (c: string) => replaceOnce(c, /^\s*proxy_buffer_size 1280;\n/gm, ""),
        (c: string) => replaceOnce(c, REQUEST_POOL, ""),
      ].reduce((c, step) => step(c), conf),
  },
  {
    name: "shares",
    describe:
      "PLACEMENT, not config: the generated config in a container with --cpu-shares 3072 (balancer.cpuShares) instead of Docker's 1024. Under cgroup v1 a container's processes compete for CPU as one group, like ONE host process",
    directives: ["(none: docker --cpu-shares 3072)"],
    cpuShares: 3072,
    idle: false,
    apply: (conf) => conf,
  },
  {
    name: "autoworkers",
    describe: "one tuning step undone: worker_processes auto (one per core, 2 here) instead of 3; with 17000 connections each it holds ~17k sockets, not 20k",
    directives: ["worker_processes auto;  (now: 3)"],
    idle: false,
    apply: (conf) => replaceOnce(conf, /^worker_processes \d+;$/m, "worker_processes auto;"),
  },
  {
    name: "wsbuf",
    describe:
      "one tuning step undone: nginx's own WebSocket buffers (a page, 4k, each way) instead of balancer.websocketBufferSize 1280 and the request pool sized for them; an upgraded connection keeps both buffers for its life",
    directives: ["proxy_buffer_size 4k;  (now: 1280)", "request_pool_size: nginx's 4k  (now: 2816)"],
    idle: true,
    apply: (conf) => replaceOnce(replaceOnce(conf, /^(\s*)proxy_buffer_size 1280;$/gm, "$1proxy_buffer_size 4k;"), REQUEST_POOL, ""),
  },
  {
    name: "reuseport",
    describe:
      "a listening socket per worker (SO_REUSEPORT): the kernel spreads new connections evenly over the workers instead of letting whichever worker wakes first take them",
    directives: ["listen 80 default_server reuseport;  (was: listen 80 default_server;)"],
    idle: false,
    apply: (conf) => replaceOnce(conf, /^(\s*listen 80 default_server);$/m, "$1 reuseport;"),
  },
  {
    name: "affinity",
    describe: "worker placement: each worker pinned to a core (worker_cpu_affinity auto; with 3 workers on 2 cores the third shares core 0), instead of the scheduler moving them",
    directives: ["worker_cpu_affinity auto;  (now: none)"],
    idle: false,
    apply: (conf) => replaceOnce(conf, /^(worker_processes \d+;)$/m, "$1\nworker_cpu_affinity auto;"),
  },
  {
    name: "acceptmutex",
    describe: "accept handling: workers take turns accepting (accept_mutex on) instead of all waiting on the listening socket (nginx's default since 1.11.3, EPOLLEXCLUSIVE)",
    directives: ["accept_mutex on;  (now: off, nginx's default)"],
    idle: false,
    apply: (conf) => replaceOnce(conf, /^(\s*)(worker_connections \d+;)$/m, "$1$2\n$1accept_mutex on;"),
  },
  {
    name: "nolog",
    describe: "log writes: no access log at all, instead of the buffered one (64k, flushed every second)",
    directives: ["access_log off;  (now: access_log ... wsenv buffer=64k flush=1s;)"],
    idle: false,
    apply: (conf) => replaceOnce(conf, /^(\s*)access_log \S+ wsenv buffer=64k flush=1s;$/m, "$1access_log off;"),
  },
  {
    name: "control",
    describe: "A/A CONTROL: the generated config unchanged, in a second container started the same way; the spread between it and `wsenv` is the setup's own noise",
    directives: ["(none)"],
    idle: false,
    apply: (conf) => conf,
  },
];

/** Run by default in a full run (the others on request: --experiments NAME). */
export const DEFAULT_EXPERIMENTS = ["untuned"];

export function experimentByName(name: string): Experiment {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new Error(`unknown experiment ${name} (known: ${EXPERIMENTS.map((x) => x.name).join(", ")})`);
  return e;
}

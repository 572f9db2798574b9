/**
 * EXPERIMENTS: hand-modified copies of the config that renderBalancerFiles generates, measured as extra
 * columns (`exp:<name>`) beside the unmodified `wsenv` column. lib/nginx.ts is never changed by the bench;
 * a variant that helps is reported as a proposed directive change.
 */
export interface Experiment {
  name: string;
  describe: string;
  /** The directive changes, as they would read in nginx.conf. */
  directives: string[];
  /** Extra `docker create` flags: a placement experiment (the config is unchanged). */
  dockerArgs?: string[];
  /** Whether the idle-socket test runs on it too (it adds ~45 s to a full run). */
  idle: boolean;
  apply(nginxConf: string): string;
}

function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const next = text.replace(from, to);
  if (next === text) throw new Error(`experiment: ${String(from)} not found in the generated config`);
  return next;
}

export const EXPERIMENTS: Experiment[] = [
  {
    name: "workers",
    describe:
      "worker_processes sized for the socket target instead of `auto` (= cores): nofile and worker_connections are per worker, so 2 workers x 9000 connections hold at most 9000 proxied sockets (each uses 2 connections)",
    directives: ["worker_processes 6;  (was: worker_processes auto;)"],
    idle: true,
    apply: (conf) => replaceOnce(conf, /^worker_processes auto;$/m, "worker_processes 6;"),
  },
  {
    name: "conns",
    describe:
      "the same capacity with fewer workers: one connection is one fd, so the container's nofile (2 x workerConnections = 18000) fits 17000 connections per worker, not 9000; 3 workers x 17000 connections hold 25.5k proxied sockets",
    directives: ["worker_processes 3;  (was: worker_processes auto;)", "worker_connections 17000;  (was: worker_connections 9000; worker_rlimit_nofile stays 18000)"],
    idle: true,
    apply: (conf) =>
      replaceOnce(replaceOnce(conf, /^worker_processes auto;$/m, "worker_processes 3;"), /^(\s*)worker_connections 9000;$/m, "$1worker_connections 17000;"),
  },
  {
    name: "logbuf",
    describe:
      "buffered access log: the generated config writes one access-log line per request with a write() each; buffering them takes a syscall off every plain HTTP request (WebSocket sessions log once, at close)",
    directives: ["access_log /var/log/nginx/access.log wsenv buffer=64k flush=1s;  (was: access_log /var/log/nginx/access.log wsenv;)"],
    idle: false,
    apply: (conf) => replaceOnce(conf, /^(\s*access_log \/var\/log\/nginx\/access\.log wsenv);$/m, "$1 buffer=64k flush=1s;"),
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
    name: "control",
    describe: "A/A CONTROL: the generated config unchanged, in a second container started the same way; the spread between it and `wsenv` is the setup's own noise",
    directives: ["(none)"],
    idle: false,
    apply: (conf) => conf,
  },
  {
    name: "shares",
    describe:
      "PLACEMENT, not config: the unchanged config in a container with --cpu-shares 3072. Under cgroup v1 a container's processes compete for CPU as one group of weight 1024, like ONE host process, while HAProxy's and Caddy's threads on the host each count as one; 3072 gives the master and its 2 workers the weight they would have on the host",
    directives: ["(none: docker create --cpu-shares 3072)"],
    dockerArgs: ["--cpu-shares", "3072"],
    idle: false,
    apply: (conf) => conf,
  },
];

/** Run by default in a full run (the others on request: --experiments NAME). */
export const DEFAULT_EXPERIMENTS = ["conns"];

export function experimentByName(name: string): Experiment {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new Error(`unknown experiment ${name} (known: ${EXPERIMENTS.map((x) => x.name).join(", ")})`);
  return e;
}

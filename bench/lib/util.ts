import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { eventually, freePort } from "../../harness/net";

export const BENCH_DIR = path.resolve(__dirname, "..");
export const PROJECT_DIR = path.resolve(BENCH_DIR, "..");
export const WORK_DIR = path.join(BENCH_DIR, ".work");

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function log(message: string): void {
  const t = ((Date.now() - START) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${t}s] ${message}\n`);
}
export const START = Date.now();

/** Runs a command to completion (bounded by `timeoutMs`); throws with its stderr on failure. */
export function sh(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string; allowFail?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  const res = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${res.status ?? res.signal}): ${(res.stderr || res.stdout || String(res.error ?? "")).trim().slice(-2000)}`);
  }
  return (res.stdout ?? "").trim();
}


/** Ports handed out in this run: never the same one twice, even after it was released again. */
const handedOut = new Set<number>();

export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n * 20 && ports.length < n; i++) {
    const p = await freePort();
    if (handedOut.has(p)) continue;
    handedOut.add(p);
    ports.push(p);
  }
  if (ports.length < n) throw new Error("could not find free ports");
  return ports;
}

/** Polls `check` until it returns truthy (the e2e suite's `eventually`), naming `what` when it gives up. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  try {
    return await eventually(async () => check(), timeoutMs, everyMs);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

/** Nearest-rank percentile of an unsorted sample (sorts a copy). */
export function percentiles(sample: number[], ps: number[]): number[] {
  if (sample.length === 0) return ps.map(() => NaN);
  const sorted = Float64Array.from(sample).sort();
  return ps.map((p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]);
}

export function median(values: number[]): number {
  return percentiles(values, [50])[0];
}

/** A process and all its descendants, from /proc. */
function treePids(rootPids: number[]): number[] {
  const seen = new Set<number>();
  const visit = (pid: number) => {
    if (seen.has(pid)) return;
    seen.add(pid);
    for (const c of childPids(pid)) visit(c);
  };
  for (const pid of rootPids) visit(pid);
  return [...seen];
}

/** Resident set size (KiB) of a process and all its descendants, from /proc. */
export function treeRssKiB(rootPid: number): number {
  let total = 0;
  for (const pid of treePids([rootPid])) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) total += Number(m[1]);
    } catch {
      /* gone */
    }
  }
  return total;
}

/** Scheduler statistics of a process tree, every thread included (/proc/<tid>/schedstat). */
export interface SchedTotals {
  /** Time on a CPU, ns. */
  runNs: number;
  /** Time runnable but waiting for a CPU, ns: the scheduler's share of a latency. */
  waitNs: number;
  /** Times a thread was given a CPU. */
  slices: number;
}

export function treeSchedstat(rootPids: number[]): SchedTotals {
  const total: SchedTotals = { runNs: 0, waitNs: 0, slices: 0 };
  for (const pid of treePids(rootPids)) {
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const [run, wait, slices] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").trim().split(/\s+/).map(Number);
        total.runNs += run;
        total.waitNs += wait;
        total.slices += slices;
      } catch {
        /* gone */
      }
    }
  }
  return total;
}

export function schedDelta(before: SchedTotals, after: SchedTotals): SchedTotals {
  return { runNs: after.runNs - before.runNs, waitNs: after.waitNs - before.waitNs, slices: after.slices - before.slices };
}

/** Direct children of a process (all its threads'), from /proc. */
export function childPids(pid: number): number[] {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      fs.readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Open socket descriptors of a process (listening, client and upstream alike). */
export function socketFds(pid: number): number {
  let n = 0;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n++;
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* gone */
  }
  return n;
}

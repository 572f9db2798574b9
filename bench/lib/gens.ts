import { ChildProcess, fork, spawnSync } from "child_process";
import * as path from "path";
import { BENCH_DIR } from "./util";

const GEN_SCRIPT = path.join(BENCH_DIR, "load", "gen.js");

/** `--gen-cpus LIST`: the CPUs every generator is pinned to (taskset), to study it sharing the cores. */
let generatorCpus: string | undefined;
export function pinGenerators(cpus: string | undefined): void {
  generatorCpus = cpus;
}

/** Every generator ever started, so the run's clean-up can kill the ones still alive (by pid). */
const ALL = new Set<ChildProcess>();

export function killAllGenerators(): void {
  for (const child of ALL) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  ALL.clear();
}

interface Pending {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** One load-generator child process (bench/load/gen.js) and its command channel. */
export class Generator {
  private seq = 0;
  private pending = new Map<number, Pending>();
  private listeners: ((msg: any) => void)[] = [];
  private constructor(readonly child: ChildProcess, readonly index: number) {
    child.on("message", (msg: any) => {
      if (msg && (msg.type === "done" || msg.type === "error")) {
        const p = this.pending.get(msg.seq);
        if (!p) return;
        this.pending.delete(msg.seq);
        clearTimeout(p.timer);
        if (msg.type === "done") p.resolve(msg.result);
        else p.reject(new Error(`generator ${index}: ${msg.error}`));
      } else {
        for (const l of this.listeners) l(msg);
      }
    });
    child.on("exit", (code, signal) => {
      ALL.delete(child);
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`generator ${index} exited (${code ?? signal})`));
      }
      this.pending.clear();
    });
  }

  static start(index: number): Promise<Generator> {
    const child = fork(GEN_SCRIPT, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      // Room for ~19k sockets of heap; the process's nofile limit (20000) is the real cap.
      execArgv: ["--max-old-space-size=2048"],
    });
    ALL.add(child);
    if (generatorCpus && child.pid) {
      const pinned = spawnSync("taskset", ["-a", "-p", "-c", generatorCpus, String(child.pid)], { encoding: "utf8" });
      if (pinned.status !== 0) throw new Error(`taskset -c ${generatorCpus} of a generator failed: ${pinned.stderr || pinned.error}`);
    }
    const gen = new Generator(child, index);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("generator did not start within 10 s")), 10_000);
      child.once("message", (msg: any) => {
        clearTimeout(timer);
        if (msg && msg.type === "ready") resolve(gen);
        else reject(new Error(`generator sent ${JSON.stringify(msg)} first`));
      });
      child.once("error", reject);
    });
  }

  onMessage(listener: (msg: any) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  call<T = any>(cmd: string, args: Record<string, unknown>, timeoutMs: number): Promise<T> {
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`generator ${this.index}: ${cmd} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      this.child.send({ cmd, seq, args });
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid) {
      try {
        process.kill(this.child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
}

/** A set of generators that run one command together, each with its own share of the load. */
export class GeneratorPool {
  private constructor(readonly gens: Generator[]) {}

  static async start(n: number): Promise<GeneratorPool> {
    const gens: Generator[] = [];
    try {
      for (let i = 0; i < n; i++) gens.push(await Generator.start(i));
    } catch (err) {
      for (const g of gens) g.stop();
      throw err;
    }
    return new GeneratorPool(gens);
  }

  get size(): number {
    return this.gens.length;
  }

  pids(): number[] {
    return this.gens.flatMap((g) => (g.child.pid ? [g.child.pid] : []));
  }

  /** Runs `cmd` on every generator at once; `args(i)` gives generator i its share. */
  all<T = any>(cmd: string, args: (i: number) => Record<string, unknown>, timeoutMs: number): Promise<T[]> {
    return Promise.all(this.gens.map((g, i) => g.call<T>(cmd, args(i), timeoutMs)));
  }

  stop(): void {
    for (const g of this.gens) g.stop();
  }
}

/** Splits `total` into `n` whole shares that add up to it. */
export function shares(total: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

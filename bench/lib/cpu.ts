import * as fs from "fs";
import { LABEL } from "./targets";
import { sh } from "./util";

/**
 * How busy the machine was, and how much of that was NOT the bench: the two cores are shared, and other
 * work on them (another test suite, image builds) shows up in every figure. Busy time comes from
 * /proc/stat; the bench's own share is the CPU time of its processes: this process and its children (the
 * generators), processes in the bench's containers (every proxy), and the docker-proxy processes of its
 * published ports. The rest is "foreign" (approximate: kernel work such as softirq is counted as busy but
 * only partly charged to processes).
 */

const HZ = 100;

function readTotal(): { busy: number; all: number } {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const all = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: all - idle, all };
}

function procTicks(pid: string): number | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

export class CpuSampler {
  private benchPids = new Set<string>();
  private ports: string[] = [];
  private containerIds: string[] = [];
  private lastTicks = new Map<string, number>();
  private benchTicks = 0;
  private t0 = readTotal();
  private timer: NodeJS.Timeout | null = null;

  /** Host ports of the bench (docker-proxy processes carrying them count as the bench's). */
  setPorts(ports: number[]): void {
    this.ports = ports.map((p) => `-host-port ${p} `);
  }

  refreshContainers(): void {
    this.containerIds = sh("docker", ["ps", "-q", "--no-trunc", "--filter", `label=${LABEL}`], { allowFail: true }).split("\n").filter(Boolean);
  }

  private isBench(pid: string): boolean {
    if (this.benchPids.has(pid)) return true;
    try {
      // Descendant of this process?
      let cur = pid;
      for (let i = 0; i < 12 && cur !== "1" && cur !== "0"; i++) {
        if (cur === String(process.pid)) return true;
        const s = fs.readFileSync(`/proc/${cur}/stat`, "utf8");
        cur = s.slice(s.lastIndexOf(")") + 2).split(" ")[1];
      }
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.startsWith("/usr/sbin/docker-proxy") && this.ports.some((p) => `${cmd} `.includes(p))) return true;
      const cg = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8");
      if (this.containerIds.some((id) => cg.includes(id))) return true;
    } catch {
      return false;
    }
    return false;
  }

  private sample(): void {
    for (const pid of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const ticks = procTicks(pid);
      if (ticks === null) continue;
      const prev = this.lastTicks.get(pid);
      if (prev === undefined) {
        // First sight: classify once; bench processes count from here on.
        if (this.isBench(pid)) this.benchPids.add(pid);
      } else if (this.benchPids.has(pid)) {
        this.benchTicks += Math.max(0, ticks - prev);
      }
      this.lastTicks.set(pid, ticks);
    }
  }

  start(everyMs = 1000): void {
    this.refreshContainers();
    this.lastTicks.clear();
    this.benchPids.clear();
    this.benchTicks = 0;
    this.sample();
    this.t0 = readTotal();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  /** Percent of the whole machine (100 = every core busy) over the window since start(). */
  stop(): { busyPct: number; benchPct: number; foreignPct: number } {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    const t1 = readTotal();
    const all = t1.all - this.t0.all;
    if (all <= 0) return { busyPct: 0, benchPct: 0, foreignPct: 0 };
    const busyPct = (100 * (t1.busy - this.t0.busy)) / all;
    const benchPct = Math.min(busyPct, (100 * this.benchTicks) / all);
    return { busyPct: round1(busyPct), benchPct: round1(benchPct), foreignPct: round1(Math.max(0, busyPct - benchPct)) };
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;
export const ticksPerSecond = HZ;

/** 1-minute load average. */
export function loadAvg(): number {
  return Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

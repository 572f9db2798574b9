import { GeneratorPool, shares } from "./gens";
import type { Target } from "./targets";
import { SchedTotals, log, median, percentiles, schedDelta, sleep, treeSchedstat } from "./util";

/** Counts and durations of one run; `--quick` shrinks them (and says so in the output). */
export interface Params {
  mode: "full" | "quick";
  gensPerTest: number;
  /**
   * Every test runs in `rounds` rounds; each round measures every target once, in a rotated order, so
   * drift and other load on the machine spread over all targets instead of hitting one. Percentiles
   * pool the samples of all rounds; rates are the median of the rounds.
   */
  rounds: number;
  echoRate: { sockets: number; rate: number; warmupMs: number; durationMs: number };
  echoSat: { sockets: number; window: number; warmupMs: number; durationMs: number };
  upgrades: { concurrencyPerGen: number; durationMs: number; maxCountPerGen: number };
  fanout: { sockets: number; rounds: number };
  http: { satConnectionsPerGen: number; satMs: number; rate: number; rateConnectionsPerGen: number; rateMs: number; warmupMs: number };
  idle: { stages: number[]; holdMs: number; gens: number; concurrencyPerGen: number; settleMs: number; handshakeTimeoutMs: number };
  /** A short unrecorded saturation burst on every target before the first test. */
  warmupBurstMs: number;
  /** How often a round disturbed by other work on the machine is repeated (see run.ts). */
  noisyRepeats: number;
}

/** Durations are per round. */
export const FULL: Params = {
  mode: "full",
  gensPerTest: 2,
  rounds: 3,
  echoRate: { sockets: 200, rate: 2000, warmupMs: 1000, durationMs: 4000 },
  echoSat: { sockets: 200, window: 4, warmupMs: 600, durationMs: 2500 },
  upgrades: { concurrencyPerGen: 32, durationMs: 2000, maxCountPerGen: 8000 },
  fanout: { sockets: 1000, rounds: 5 },
  http: { satConnectionsPerGen: 32, satMs: 2000, rate: 1000, rateConnectionsPerGen: 25, rateMs: 2500, warmupMs: 500 },
  idle: { stages: [1000, 10_000, 20_000], holdMs: 95_000, gens: 4, concurrencyPerGen: 50, settleMs: 2000, handshakeTimeoutMs: 5000 },
  warmupBurstMs: 800,
  noisyRepeats: 2,
};

export const QUICK: Params = {
  mode: "quick",
  gensPerTest: 2,
  rounds: 1,
  echoRate: { sockets: 100, rate: 2000, warmupMs: 300, durationMs: 1500 },
  echoSat: { sockets: 100, window: 4, warmupMs: 200, durationMs: 1000 },
  upgrades: { concurrencyPerGen: 32, durationMs: 1000, maxCountPerGen: 5000 },
  fanout: { sockets: 100, rounds: 3 },
  http: { satConnectionsPerGen: 32, satMs: 800, rate: 1000, rateConnectionsPerGen: 25, rateMs: 1000, warmupMs: 200 },
  idle: { stages: [1000, 2000], holdMs: 10_000, gens: 2, concurrencyPerGen: 50, settleMs: 500, handshakeTimeoutMs: 5000 },
  warmupBurstMs: 200,
  noisyRepeats: 0,
};

const ms = (us: number) => us / 1000;
const round = (v: number, digits = 2) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
const maxCpu = (chunks: { cpu: number }[]) => (chunks.length ? round(Math.max(...chunks.map((c) => c.cpu)), 0) : null);

/** Scheduler statistics of the measured window, per part of the path (proxy: null for direct). */
export interface EchoSched { proxy: SchedTotals | null; backend: SchedTotals; generators: SchedTotals }
/** One round's raw figures of one test on one target (what the generators returned, merged). */
export interface EchoRateChunk { latencies: number[]; sent: number; received: number; open: number; connectFailed: number; cpu: number; workerSocketFds: number[] | null; sched: EchoSched | null }
export interface EchoSatChunk { rate: number; open: number; connectFailed: number; cpu: number }
export interface UpgradeChunk { rate: number; opened: number; failed: number; latencies: number[]; errors: Record<string, number>; cpu: number }
export interface FanoutChunk { open: number; times: number[]; incomplete: number }
export interface HttpChunk { satRate: number; satLatencies: number[]; rateLatencies: number[]; errors: number; non200: number; cpu: number }

export interface Chunks {
  echoRate: EchoRateChunk[];
  echoSat: EchoSatChunk[];
  upgrades: UpgradeChunk[];
  fanout: FanoutChunk[];
  http: HttpChunk[];
}
export const emptyChunks = (): Chunks => ({ echoRate: [], echoSat: [], upgrades: [], fanout: [], http: [] });

export async function echoRateChunk(pool: GeneratorPool, t: Target, p: Params["echoRate"], backendPid: number): Promise<EchoRateChunk> {
  const n = pool.size;
  const sock = shares(p.sockets, n);
  const rates = shares(p.rate, n);
  // Read mid-run, while every socket is open: how the connections are spread over the workers.
  let workerSocketFds: number[] | null = null;
  const probe = setTimeout(() => (workerSocketFds = t.workerSocketFds()), p.warmupMs + p.durationMs / 2);
  // Scheduler statistics over the measured window (after the warm-up): who waited for a CPU, and how long.
  const proxyPid = t.pid();
  const read = (): EchoSched => ({
    proxy: proxyPid === null ? null : treeSchedstat([proxyPid]),
    backend: treeSchedstat([backendPid]),
    generators: treeSchedstat(pool.pids()),
  });
  let schedStart: EchoSched | null = null;
  let sched: EchoSched | null = null;
  const schedFrom = setTimeout(() => (schedStart = read()), p.warmupMs);
  const schedTo = setTimeout(() => {
    const [from, to] = [schedStart, read()];
    if (!from) return;
    sched = {
      proxy: from.proxy && to.proxy ? schedDelta(from.proxy, to.proxy) : null,
      backend: schedDelta(from.backend, to.backend),
      generators: schedDelta(from.generators, to.generators),
    };
  }, p.warmupMs + p.durationMs);
  const res = await pool.all(
    "echoRate",
    (i) => ({ urls: t.wsUrls, sockets: sock[i], rate: rates[i], warmupMs: p.warmupMs, durationMs: p.durationMs, offset: i }),
    p.warmupMs + p.durationMs + 60_000,
  ).finally(() => [probe, schedFrom, schedTo].forEach(clearTimeout));
  return {
    workerSocketFds,
    sched,
    latencies: res.flatMap((r) => r.latencies),
    sent: res.reduce((a, r) => a + r.sent, 0),
    received: res.reduce((a, r) => a + r.received, 0),
    open: res.reduce((a, r) => a + (r.open ?? 0), 0),
    connectFailed: res.reduce((a, r) => a + r.connectFailed, 0),
    cpu: Math.max(...res.map((r) => r.cpu)),
  };
}

export async function echoSatChunk(pool: GeneratorPool, t: Target, p: Params["echoSat"]): Promise<EchoSatChunk> {
  const sock = shares(p.sockets, pool.size);
  const res = await pool.all(
    "echoSat",
    (i) => ({ urls: t.wsUrls, sockets: sock[i], window: p.window, warmupMs: p.warmupMs, durationMs: p.durationMs, offset: i }),
    p.warmupMs + p.durationMs + 60_000,
  );
  return {
    rate: res.reduce((a, r) => a + r.count / r.elapsedS, 0),
    open: res.reduce((a, r) => a + (r.open ?? 0), 0),
    connectFailed: res.reduce((a, r) => a + r.connectFailed, 0),
    cpu: Math.max(...res.map((r) => r.cpu)),
  };
}

export async function upgradeChunk(pool: GeneratorPool, t: Target, p: Params["upgrades"]): Promise<UpgradeChunk> {
  const res = await pool.all(
    "upgrades",
    (i) => ({ urls: t.wsUrls, concurrency: p.concurrencyPerGen, durationMs: p.durationMs, maxCount: p.maxCountPerGen, offset: i }),
    p.durationMs + 60_000,
  );
  const errors: Record<string, number> = {};
  for (const r of res) for (const [k, v] of Object.entries(r.errors as Record<string, number>)) errors[k] = (errors[k] ?? 0) + v;
  return {
    rate: res.reduce((a, r) => a + r.opened / r.elapsedS, 0),
    opened: res.reduce((a, r) => a + r.opened, 0),
    failed: res.reduce((a, r) => a + r.failed, 0),
    latencies: res.flatMap((r) => r.latencies),
    errors,
    cpu: Math.max(...res.map((r) => r.cpu)),
  };
}

export async function fanoutChunk(pool: GeneratorPool, t: Target, p: Params["fanout"]): Promise<FanoutChunk> {
  const sock = shares(p.sockets, pool.size);
  const conn = await pool.all("fanConnect", (i) => ({ urls: t.wsUrls, sockets: sock[i], offset: i }), 120_000);
  const open = conn.reduce((a, c) => a + c.open, 0);
  const times: number[] = [];
  let incomplete = 0;
  try {
    if (open === 0) return { open, times, incomplete };
    const senderIdx = conn.findIndex((c) => c.open > 0);
    const active = pool.gens.filter((_, i) => conn[i].open > 0);
    for (let r = 0; r < p.rounds; r++) {
      const id = `fan-${r}-${Date.now()}`;
      const lasts = new Map<number, bigint>();
      const offs = active.map((g) =>
        g.onMessage((msg) => {
          if (msg.type === "fanDone" && msg.id === id) lasts.set(g.index, BigInt(msg.last));
        }),
      );
      const { sent } = await pool.gens[senderIdx].call("fanBroadcast", { id }, 10_000);
      const deadline = Date.now() + 5000;
      while (lasts.size < active.length && Date.now() < deadline) await sleep(2);
      offs.forEach((off) => off());
      if (!sent) break;
      if (lasts.size < active.length) {
        incomplete++;
      } else {
        const last = [...lasts.values()].reduce((a, b) => (a > b ? a : b));
        times.push(Number(last - BigInt(sent)) / 1e6);
      }
      await sleep(150);
    }
  } finally {
    await pool.all("fanClose", () => ({}), 30_000);
  }
  return { open, times, incomplete };
}

export async function httpChunk(pool: GeneratorPool, t: Target, p: Params["http"]): Promise<HttpChunk> {
  const sat = await pool.all(
    "httpLoad",
    () => ({ url: t.httpUrl, connections: p.satConnectionsPerGen, rate: null, warmupMs: p.warmupMs, durationMs: p.satMs }),
    p.warmupMs + p.satMs + 60_000,
  );
  await sleep(300);
  const rates = shares(p.rate, pool.size);
  const fixed = await pool.all(
    "httpLoad",
    (i) => ({ url: t.httpUrl, connections: p.rateConnectionsPerGen, rate: rates[i], warmupMs: p.warmupMs, durationMs: p.rateMs }),
    p.warmupMs + p.rateMs + 60_000,
  );
  const non200 = [...sat, ...fixed].reduce((a, r) => a + Object.entries(r.statuses as Record<string, number>).filter(([k]) => k !== "200").reduce((b, [, v]) => b + v, 0), 0);
  return {
    satRate: sat.reduce((a, r) => a + (r.elapsedS > 0 ? r.count / r.elapsedS : 0), 0),
    satLatencies: sat.flatMap((r) => r.latencies),
    rateLatencies: fixed.flatMap((r) => r.latencies),
    errors: [...sat, ...fixed].reduce((a, r) => a + r.errors, 0),
    non200,
    cpu: Math.max(...sat.map((r) => r.cpu), ...fixed.map((r) => r.cpu)),
  };
}

export interface EchoRateResult {
  sockets: number;
  rate: number;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  /** p99 of each round on its own, to show the spread. */
  p99PerRound: (number | null)[];
  p999PerRound: (number | null)[];
  /** Socket fds of each nginx worker in each round, mid-run (null: no separate workers). */
  workerSocketFdsPerRound: (number[] | null)[];
  /** Per part of the path, over every round's measured window: CPU per echoed message and run-queue wait. */
  sched: Record<"proxy" | "backend" | "generators", SchedSummary | null>;
  sent: number;
  received: number;
  connectFailed: number;
  genCpuMax: number | null;
}

export interface SchedSummary {
  /** CPU time per echoed message, µs. */
  cpuUsPerMsg: number | null;
  /** Time runnable but not running, per echoed message, µs. */
  waitUsPerMsg: number | null;
  /** Mean wait for a CPU each time a thread became runnable, µs. */
  waitUsPerSlice: number | null;
}

function schedSummary(c: EchoRateChunk[], part: (s: EchoSched) => SchedTotals | null): SchedSummary | null {
  const rounds = c.filter((x) => x.sched && part(x.sched));
  if (!rounds.length) return null;
  const sum = rounds.reduce((a, x) => {
    const s = part(x.sched!)!;
    return { runNs: a.runNs + s.runNs, waitNs: a.waitNs + s.waitNs, slices: a.slices + s.slices };
  }, { runNs: 0, waitNs: 0, slices: 0 });
  // Messages echoed in the measured windows (a round's count covers its window only).
  const msgs = rounds.reduce((a, x) => a + x.latencies.length, 0);
  return {
    cpuUsPerMsg: msgs ? round(sum.runNs / msgs / 1000, 1) : null,
    waitUsPerMsg: msgs ? round(sum.waitNs / msgs / 1000, 1) : null,
    waitUsPerSlice: sum.slices ? round(sum.waitNs / sum.slices / 1000, 1) : null,
  };
}

export function aggEchoRate(c: EchoRateChunk[], p: Params["echoRate"]): EchoRateResult | undefined {
  if (!c.length) return undefined;
  const [p50, p99, p999, max] = percentiles(c.flatMap((x) => x.latencies), [50, 99, 99.9, 100]).map(ms);
  return {
    sockets: Math.min(...c.map((x) => x.open)),
    rate: p.rate,
    p50: round(p50, 3),
    p99: round(p99, 3),
    p999: round(p999, 3),
    max: round(max, 3),
    p99PerRound: c.map((x) => round(ms(percentiles(x.latencies, [99])[0]), 3)),
    p999PerRound: c.map((x) => round(ms(percentiles(x.latencies, [99.9])[0]), 3)),
    workerSocketFdsPerRound: c.map((x) => x.workerSocketFds),
    sched: {
      proxy: schedSummary(c, (s) => s.proxy),
      backend: schedSummary(c, (s) => s.backend),
      generators: schedSummary(c, (s) => s.generators),
    },
    sent: c.reduce((a, x) => a + x.sent, 0),
    received: c.reduce((a, x) => a + x.received, 0),
    connectFailed: c.reduce((a, x) => a + x.connectFailed, 0),
    genCpuMax: maxCpu(c),
  };
}

export interface EchoSatResult {
  msgsPerSec: number | null;
  perRound: (number | null)[];
  sockets: number;
  window: number;
  connectFailed: number;
  genCpuMax: number | null;
}

export function aggEchoSat(c: EchoSatChunk[], p: Params["echoSat"]): EchoSatResult | undefined {
  if (!c.length) return undefined;
  return {
    msgsPerSec: round(median(c.map((x) => x.rate)), 0),
    perRound: c.map((x) => round(x.rate, 0)),
    sockets: Math.min(...c.map((x) => x.open)),
    window: p.window,
    connectFailed: c.reduce((a, x) => a + x.connectFailed, 0),
    genCpuMax: maxCpu(c),
  };
}

export interface UpgradeResult {
  perSec: number | null;
  perRound: (number | null)[];
  opened: number;
  failed: number;
  p50: number | null;
  p99: number | null;
  errors: Record<string, number>;
  genCpuMax: number | null;
}

export function aggUpgrades(c: UpgradeChunk[]): UpgradeResult | undefined {
  if (!c.length) return undefined;
  const [p50, p99] = percentiles(c.flatMap((x) => x.latencies), [50, 99]).map(ms);
  const errors: Record<string, number> = {};
  for (const x of c) for (const [k, v] of Object.entries(x.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    perSec: round(median(c.map((x) => x.rate)), 0),
    perRound: c.map((x) => round(x.rate, 0)),
    opened: c.reduce((a, x) => a + x.opened, 0),
    failed: c.reduce((a, x) => a + x.failed, 0),
    p50: round(p50, 3),
    p99: round(p99, 3),
    errors,
    genCpuMax: maxCpu(c),
  };
}

export interface FanoutResult {
  sockets: number;
  wanted: number;
  messages: number;
  /** Time from the send until the last of the N sockets had the message, ms. */
  median: number | null;
  p90: number | null;
  max: number | null;
  incomplete: number;
}

export function aggFanout(c: FanoutChunk[], p: Params["fanout"]): FanoutResult | undefined {
  if (!c.length) return undefined;
  const times = c.flatMap((x) => x.times);
  const [p90, max] = percentiles(times, [90, 100]);
  return {
    sockets: Math.min(...c.map((x) => x.open)),
    wanted: p.sockets,
    messages: times.length,
    median: round(median(times), 3),
    p90: round(p90, 3),
    max: round(max, 3),
    incomplete: c.reduce((a, x) => a + x.incomplete, 0),
  };
}

export interface HttpResult {
  satPerSec: number | null;
  satPerRound: (number | null)[];
  satP99: number | null;
  rate: number;
  rateP50: number | null;
  rateP99: number | null;
  errors: number;
  non200: number;
  genCpuMax: number | null;
}

export function aggHttp(c: HttpChunk[], p: Params["http"]): HttpResult | undefined {
  if (!c.length) return undefined;
  const [satP99] = percentiles(c.flatMap((x) => x.satLatencies), [99]).map(ms);
  const [rateP50, rateP99] = percentiles(c.flatMap((x) => x.rateLatencies), [50, 99]).map(ms);
  return {
    satPerSec: round(median(c.map((x) => x.satRate)), 0),
    satPerRound: c.map((x) => round(x.satRate, 0)),
    satP99: round(satP99, 3),
    rate: p.rate,
    rateP50: round(rateP50, 3),
    rateP99: round(rateP99, 3),
    errors: c.reduce((a, x) => a + x.errors, 0),
    non200: c.reduce((a, x) => a + x.non200, 0),
    genCpuMax: maxCpu(c),
  };
}

export interface IdleStage {
  stage: number;
  attempted: number;
  open: number;
  failed: number;
  rssKiB: number | null;
  gaveUp: boolean;
  openMs: number;
}

export interface IdleResult {
  baselineRssKiB: number | null;
  stages: IdleStage[];
  /** Seconds the sockets open at the end of the ramp were held before the final count. */
  heldS: number;
  openAfterHold: number;
  /** Sockets that had opened and then closed (by the target) before the final count. */
  drops: number;
  finalRssKiB: number | null;
  /** (RSS at the end of the ramp - RSS before it) / sockets open at the end of the ramp, KiB. */
  rssPerSocketKiB: number | null;
  /** The same for MINIMAL_IDLE_SOCKETS sockets with a minimal handshake, on a fresh process before the ramp, KiB. */
  minimalRssPerSocketKiB: number | null;
  closeCodes: Record<string, number>;
  errors: Record<string, number>;
}

/**
 * What the idle ramp sends with each handshake: a desktop Chrome's headers and a 1.5 KB session cookie,
 * as a signed-in user's page does (ws adds Host, Upgrade, the key and the version). A proxy keeps some of
 * a handshake for the socket's life, so a minimal one flatters it; the minimal row is measured too.
 */
export const BROWSER_HANDSHAKE_HEADERS: Record<string, string> = {
  "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  Origin: "http://localhost",
  "Cache-Control": "no-cache",
  Pragma: "no-cache",
  "Accept-Encoding": "gzip, deflate, br, zstd",
  "Accept-Language": "en-US,en;q=0.9",
  Cookie: `session=${"a".repeat(1500)}`,
};
/** Sockets of the minimal-handshake row, opened before the ramp. */
export const MINIMAL_IDLE_SOCKETS = 2000;

/** One target's idle-socket state while the run ramps it and then holds it. */
export class IdleRun {
  result: IdleResult = { baselineRssKiB: null, stages: [], heldS: 0, openAfterHold: 0, drops: 0, finalRssKiB: null, rssPerSocketKiB: null, minimalRssPerSocketKiB: null, closeCodes: {}, errors: {} };
  rampEnd = 0;
  constructor(readonly target: Target, readonly pool: GeneratorPool, readonly p: Params["idle"]) {}

  private async status() {
    const st = await this.pool.all("idleStatus", () => ({}), 30_000);
    const sum = (k: string) => st.reduce((a, s) => a + s[k], 0);
    const merge = (k: string) => {
      const out: Record<string, number> = {};
      for (const s of st) for (const [c, v] of Object.entries(s[k] as Record<string, number>)) out[c] = (out[c] ?? 0) + v;
      return out;
    };
    return { attempted: sum("attempted"), opened: sum("opened"), open: sum("open"), failed: sum("failed"), drops: sum("drops"), gaveUp: st.some((s) => s.gaveUp), closeCodes: merge("closeCodes"), errors: merge("errors") };
  }

  async ramp(): Promise<void> {
    this.result.baselineRssKiB = this.target.rssKiB();
    for (const stage of this.p.stages) {
      const each = shares(stage, this.pool.size);
      const t0 = Date.now();
      await this.pool.all(
        "idleOpen",
        (i) => ({ urls: this.target.wsUrls, total: each[i], concurrency: this.p.concurrencyPerGen, offset: i, timeoutMs: this.p.handshakeTimeoutMs, deadlineMs: 120_000, headers: BROWSER_HANDSHAKE_HEADERS }),
        180_000,
      );
      const openMs = Date.now() - t0;
      await sleep(this.p.settleMs);
      const st = await this.status();
      const rss = this.target.rssKiB();
      this.result.stages.push({ stage, attempted: st.attempted, open: st.open, failed: st.failed, rssKiB: rss, gaveUp: st.gaveUp, openMs });
      log(`  idle ${this.target.name}: ${stage} wanted, ${st.open} open, ${st.failed} failed${st.gaveUp ? " (gave up)" : ""}, rss ${rss ?? "-"} KiB`);
    }
    this.rampEnd = Date.now();
    const last = this.result.stages[this.result.stages.length - 1];
    const base = this.result.baselineRssKiB;
    this.result.rssPerSocketKiB = last && base !== null && last.rssKiB !== null && last.open > 0 ? round((last.rssKiB - base) / last.open, 2) : null;
  }

  async finish(): Promise<void> {
    const wait = this.rampEnd + this.p.holdMs - Date.now();
    if (wait > 0) await sleep(wait);
    const st = await this.status();
    this.result.heldS = round((Date.now() - this.rampEnd) / 1000, 1) ?? 0;
    this.result.openAfterHold = st.open;
    this.result.drops = st.drops;
    this.result.closeCodes = st.closeCodes;
    this.result.errors = st.errors;
    this.result.finalRssKiB = this.target.rssKiB();
    log(`  idle ${this.target.name}: after ${this.result.heldS} s held, ${st.open} open, ${st.drops} dropped`);
    await this.pool.all("idleClose", () => ({}), 60_000);
  }

  /** The second row: a minimal handshake (no browser headers, no cookie), on a freshly started target. */
  async minimal(): Promise<void> {
    const before = this.target.rssKiB();
    const each = shares(MINIMAL_IDLE_SOCKETS, this.pool.size);
    await this.pool.all("idleOpen", (i) => ({ urls: this.target.wsUrls, total: each[i], concurrency: this.p.concurrencyPerGen, offset: i, timeoutMs: this.p.handshakeTimeoutMs, deadlineMs: 60_000 }), 90_000);
    await sleep(this.p.settleMs);
    const st = await this.status();
    const after = this.target.rssKiB();
    this.result.minimalRssPerSocketKiB = before !== null && after !== null && st.open > 0 ? round((after - before) / st.open, 2) : null;
    log(`  idle ${this.target.name}: ${st.open} sockets with a minimal handshake, ${this.result.minimalRssPerSocketKiB ?? "-"} KiB each`);
    await this.pool.all("idleClose", () => ({}), 60_000);
  }
}

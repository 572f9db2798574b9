import * as fs from "fs";
import { MINIMAL_IDLE_SOCKETS } from "./measure";
import type { TargetAllowance } from "./targets";
import type { EchoRateResult, EchoSatResult, FanoutResult, HttpResult, IdleResult, Params, UpgradeResult } from "./measure";

export interface TargetResult {
  name: string;
  describe: string;
  /** What the proxy was allowed (processes, nofile, CPU weight); null for the direct target. */
  allowed?: TargetAllowance | null;
  echoRate?: EchoRateResult;
  echoSat?: EchoSatResult;
  upgrades?: UpgradeResult;
  fanout?: FanoutResult;
  http?: HttpResult;
  idle?: IdleResult;
  /** Machine CPU during each of this target's test rounds: all busy, the bench's, and other work's. */
  cpu?: { test: string; busyPct: number; benchPct: number; foreignPct: number; noisy: boolean }[];
  errors: string[];
}

export interface ProgramTiming {
  nodes: number;
  sourceMaps: boolean;
  /** From process start (incl. the tsx loader) until @pulumi/pulumi is loaded. */
  startupMs: number;
  /** require(index.ts) + running the program + every registration resolved + outputs resolved. */
  evalMs: number;
  /** renderBalancerFiles alone for N nodes, mean of repeated calls. */
  renderMs: number;
  /** Whole process: start to outputs (what one `pulumi preview` of the program costs on top of the CLI). */
  totalMs: number;
  registrations: number;
  nginxConfBytes: number;
}

/** An earlier run set beside this one, and the commits between the two. */
export interface PreviousRun {
  date: string;
  /** The commit the run measured (older runs: the commit that stored its results). */
  commit: string | null;
  targets: TargetResult[];
  /** `git log --format="%h %s"` from the previous run's commit to this run's (subjects shortened). */
  changes: string[];
}

export interface BenchResults {
  mode: "full" | "quick";
  date: string;
  /** The commit measured (`-dirty`: with uncommitted changes). */
  commit?: string;
  previous?: PreviousRun;
  durationS: number;
  /** The command line of the run. */
  command: string;
  machine: { nproc: number; memory: string; kernel: string; nofileHard: string; os: string };
  versions: Record<string, string>;
  params: Params;
  targets: TargetResult[];
  program: ProgramTiming[];
  wsenvNginxConf: string;
  experiments: { name: string; describe: string; directives: string[] }[];
  notes: string[];
}

type Better = "lower" | "higher";
interface Row {
  key: string;
  label: (r: BenchResults) => string;
  unit: string;
  better: Better;
  get: (t: TargetResult) => number | null | undefined;
  digits: number;
  /** Rows where the direct target has no figure (no proxy): no ratio. */
  noRatio?: boolean;
}

export const ROWS: Row[] = [
  { key: "echoP50", label: (r) => `Echo RTT p50 at ${r.params.echoRate.rate} msg/s over ${r.params.echoRate.sockets} sockets`, unit: "ms", better: "lower", get: (t) => t.echoRate?.p50, digits: 3 },
  { key: "echoP99", label: () => "Echo RTT p99 (same load)", unit: "ms", better: "lower", get: (t) => t.echoRate?.p99, digits: 3 },
  { key: "echoP999", label: () => "Echo RTT p99.9 (same load)", unit: "ms", better: "lower", get: (t) => t.echoRate?.p999, digits: 3 },
  {
    key: "echoP99Rounds",
    label: () => "Echo RTT p99, median of the rounds' own p99 (robust to one disturbed round)",
    unit: "ms",
    better: "lower",
    get: (t) => (t.echoRate && t.echoRate.p99PerRound.length ? medianOf(t.echoRate.p99PerRound.filter((v): v is number => v !== null)) : null),
    digits: 3,
  },
  { key: "echoSat", label: (r) => `Echo messages/s at saturation (${r.params.echoSat.sockets} sockets x ${r.params.echoSat.window} in flight)`, unit: "msg/s", better: "higher", get: (t) => t.echoSat?.msgsPerSec, digits: 0 },
  { key: "upgrades", label: (r) => `WebSocket upgrades/s (${r.params.upgrades.concurrencyPerGen * r.params.gensPerTest} in flight, open + close)`, unit: "/s", better: "higher", get: (t) => t.upgrades?.perSec, digits: 0 },
  { key: "upgradeP99", label: () => "Upgrade (handshake) p99", unit: "ms", better: "lower", get: (t) => t.upgrades?.p99, digits: 2 },
  { key: "fanMedian", label: (r) => `Fan-out of one chat message to ${r.params.fanout.sockets} sockets: median time until all received`, unit: "ms", better: "lower", get: (t) => (t.fanout && t.fanout.sockets >= t.fanout.wanted ? t.fanout.median : null), digits: 2 },
  { key: "fanMax", label: (r) => `Fan-out worst of ${r.params.fanout.rounds * r.params.rounds} messages`, unit: "ms", better: "lower", get: (t) => (t.fanout && t.fanout.sockets >= t.fanout.wanted ? t.fanout.max : null), digits: 2 },
  { key: "idleOpen", label: (r) => `Idle sockets open at the end of the ramp (${r.params.idle.stages.join(" -> ")})`, unit: "sockets", better: "higher", get: (t) => t.idle?.stages[t.idle.stages.length - 1]?.open, digits: 0 },
  { key: "idleHeld", label: (r) => `Idle sockets still open after the hold (>= ${Math.round(r.params.idle.holdMs / 1000)} s, nothing sent)`, unit: "sockets", better: "higher", get: (t) => t.idle?.openAfterHold, digits: 0 },
  { key: "idleDrops", label: () => "Idle sockets dropped by the target during the hold", unit: "sockets", better: "lower", get: (t) => t.idle?.drops, digits: 0, noRatio: true },
  { key: "rssPerSocket", label: () => "Proxy RSS per idle socket (master + workers), a browser's handshake with a 1.5 KB cookie", unit: "KiB", better: "lower", get: (t) => t.idle?.rssPerSocketKiB, digits: 1, noRatio: true },
  { key: "rssPerSocketMinimal", label: () => `Proxy RSS per idle socket, a minimal handshake (${MINIMAL_IDLE_SOCKETS} sockets)`, unit: "KiB", better: "lower", get: (t) => t.idle?.minimalRssPerSocketKiB, digits: 1, noRatio: true },
  { key: "httpSat", label: (r) => `HTTP GET page: requests/s (${r.params.http.satConnectionsPerGen * r.params.gensPerTest} keep-alive connections)`, unit: "req/s", better: "higher", get: (t) => t.http?.satPerSec, digits: 0 },
  { key: "httpRateP99", label: (r) => `HTTP GET page: p99 at ${r.params.http.rate} req/s`, unit: "ms", better: "lower", get: (t) => t.http?.rateP99, digits: 3 },
  { key: "httpSatP99", label: () => "HTTP GET page: p99 at saturation", unit: "ms", better: "lower", get: (t) => t.http?.satP99, digits: 3 },
];

function medianOf(values: number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function fmt(v: number | null | undefined, digits: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "n/a";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(v: number | null | undefined, d: number | null | undefined): number | null {
  if (v === null || v === undefined || d === null || d === undefined || !Number.isFinite(v) || !Number.isFinite(d) || d === 0) return null;
  return v / d;
}

/** Round-to-round spread of one target's figures on this machine (A/A control: see bench/README.md). */
const NOISE = 0.25;

/** Verdicts of the goals, computed from the numbers (read-only: nothing fails on them). */
export function goals(r: BenchResults): { goal: string; met: boolean | null; detail: string }[] {
  const by = (n: string) => r.targets.find((t) => t.name === n);
  const wsenv = by("wsenv");
  const out: { goal: string; met: boolean | null; detail: string }[] = [];
  if (!wsenv) return out;
  const worse: string[] = [];
  const clearlyWorse: string[] = [];
  for (const other of ["haproxy", "caddy"]) {
    const o = by(other);
    if (!o) continue;
    for (const row of ROWS) {
      const a = row.get(wsenv);
      const b = row.get(o);
      if (b === null || b === undefined) continue;
      if (a === null || a === undefined) {
        worse.push(`${row.key} vs ${other} (wsenv n/a)`);
        continue;
      }
      if (row.better === "lower" ? a > b : a < b) {
        const text = `${row.key} vs ${other} (${fmt(a, row.digits)} vs ${fmt(b, row.digits)})`;
        // Beyond the round-to-round spread of this machine (NOISE), or an exact count (idle rows).
        const exact = row.key.startsWith("idle") || row.key.startsWith("rssPerSocket");
        if (exact || (row.better === "lower" ? a > b * (1 + NOISE) : a < b / (1 + NOISE))) clearlyWorse.push(text);
        else worse.push(text);
      }
    }
  }
  out.push({
    goal: "wsenv at least as good as HAProxy and Caddy on every row",
    met: worse.length + clearlyWorse.length === 0,
    detail:
      worse.length + clearlyWorse.length === 0
        ? "every row"
        : `worse by more than ${NOISE * 100}% or on a count: ${clearlyWorse.join("; ") || "none"}. Worse within ${NOISE * 100}% (inside this machine's round-to-round spread): ${worse.join("; ") || "none"}`,
  });
  const seed = by("seed");
  if (seed) {
    const idleBetter = (wsenv.idle?.openAfterHold ?? 0) > (seed.idle?.openAfterHold ?? 0);
    out.push({ goal: "wsenv better than seed on idle sockets", met: idleBetter, detail: `held ${wsenv.idle?.openAfterHold ?? "n/a"} vs ${seed.idle?.openAfterHold ?? "n/a"}` });
    const tail = ["echoP99", "echoP999", "echoP99Rounds", "httpRateP99"].map((k) => ROWS.find((row) => row.key === k)!);
    const tailWorse = tail.filter((row) => {
      const a = row.get(wsenv);
      const b = row.get(seed);
      return a !== null && a !== undefined && b !== null && b !== undefined && a > b;
    });
    out.push({
      goal: "wsenv better than seed on tail latency",
      met: tailWorse.length === 0,
      detail: tail.map((row) => `${row.key} ${fmt(row.get(wsenv), row.digits)} vs ${fmt(row.get(seed), row.digits)}`).join(", "),
    });
  }
  const direct = by("direct");
  const p99r = ratio(wsenv.echoRate?.p99, direct?.echoRate?.p99);
  const roundsRow = ROWS.find((row) => row.key === "echoP99Rounds")!;
  const p99m = direct ? ratio(roundsRow.get(wsenv), roundsRow.get(direct)) : null;
  out.push({
    goal: "wsenv echo p99 at the fixed rate within 1.3x of direct",
    met: p99r === null ? null : p99r <= 1.3,
    detail: p99r === null ? "n/a" : `${p99r.toFixed(2)}x pooled (${fmt(wsenv.echoRate?.p99, 3)} ms vs ${fmt(direct?.echoRate?.p99, 3)} ms); ${p99m === null ? "" : `${p99m.toFixed(2)}x on the median of the rounds' p99`}`,
  });
  const perSocket = wsenv.idle?.rssPerSocketKiB;
  out.push({
    goal: "wsenv at most 12 KiB per idle socket with a browser's handshake and cookie",
    met: perSocket === null || perSocket === undefined ? null : perSocket <= 12,
    detail: `${fmt(perSocket, 1)} KiB (a minimal handshake: ${fmt(wsenv.idle?.minimalRssPerSocketKiB, 1)} KiB)`,
  });
  const top = r.params.idle.stages[r.params.idle.stages.length - 1];
  const held = wsenv.idle?.openAfterHold ?? 0;
  out.push({
    goal: `wsenv holds ${top} idle sockets with 0 drops${r.mode === "quick" ? " (quick: the full run's goal is 20000)" : ""}`,
    met: held >= top && (wsenv.idle?.drops ?? 1) === 0,
    detail: `${held} held, ${wsenv.idle?.drops ?? "n/a"} drops, ${wsenv.idle?.stages.map((s) => `${s.stage}: ${s.open} open/${s.failed} failed`).join(", ")}`,
  });
  const t100 = r.program.find((p) => p.nodes === 100 && p.sourceMaps);
  if (t100) out.push({ goal: "program evaluation + render for 100 nodes under 2 s (mocks)", met: t100.evalMs < 2000, detail: `${(t100.evalMs / 1000).toFixed(2)} s evaluation (render alone ${t100.renderMs.toFixed(2)} ms)` });
  return out;
}

/** Every row, this run beside the previous one, for the targets both have. */
function besidePrevious(r: BenchResults, prev: PreviousRun): string[] {
  const names = r.targets.map((t) => t.name).filter((n) => prev.targets.some((t) => t.name === n));
  const lines = [
    `## Beside the previous full run (${prev.date}, ${prev.commit ?? "commit unknown"})`,
    "",
    `Each cell: previous → this run (this run: ${r.commit ?? "commit unknown"}). The changes between the two runs (\`git log\`):`,
    "",
    ...(prev.changes.length ? prev.changes.map((c) => `- ${c}`) : ["- (none recorded)"]),
    "",
    `| measure | unit | ${names.map((n) => `\`${n}\``).join(" | ")} |`,
    `| --- | --- | ${names.map(() => "---:").join(" | ")} |`,
  ];
  for (const row of ROWS) {
    const cells = names.map((n) => {
      const before = row.get(prev.targets.find((t) => t.name === n)!);
      const now = row.get(r.targets.find((t) => t.name === n)!);
      return (before ?? null) === null && (now ?? null) === null ? "n/a" : `${fmt(before, row.digits)} → ${fmt(now, row.digits)}`;
    });
    if (cells.every((c) => c === "n/a")) continue;
    lines.push(`| ${row.label(r)} ${row.better === "lower" ? "↓" : "↑"} | ${row.unit} | ${cells.join(" | ")} |`);
  }
  return lines;
}

/**
 * @param deployReport results/deploy.md (`npm run bench:deploy`, a run of its own), set into a full run's
 * report so one file shows every figure.
 */
export function renderMarkdown(r: BenchResults, deployReport?: string): string {
  const names = r.targets.map((t) => t.name);
  const direct = r.targets.find((t) => t.name === "direct");
  const lines: string[] = [];
  const focused = /--(tests|targets|rounds)\b/.test(r.command);
  lines.push(`# wsenv bench: ${r.mode === "quick" ? "QUICK run (smaller counts and durations; not the figures to quote)" : focused ? "focused run (a subset of targets or tests)" : "full run"}`);
  lines.push("");
  lines.push(`\`${r.command}\` · ${r.date} · ${r.durationS.toFixed(0)} s · machine: ${r.machine.nproc} cores (shared by generators and targets), ${r.machine.memory} RAM, kernel ${r.machine.kernel}, ${r.machine.os}, nofile hard limit ${r.machine.nofileHard}`);
  lines.push("");
  lines.push(`Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(" · ")}`);
  lines.push("");
  if (r.mode === "quick") {
    lines.push(`> **Quick mode**: echo ${r.params.echoRate.durationMs / 1000} s, saturation ${r.params.echoSat.durationMs / 1000} s, upgrades ${r.params.upgrades.durationMs / 1000} s, fan-out to ${r.params.fanout.sockets}, idle ramp only to ${r.params.idle.stages[r.params.idle.stages.length - 1]} held ${r.params.idle.holdMs / 1000} s (so the seed's 60 s timeout does not show). Run without \`--quick\` for the real figures.`);
    lines.push("");
  }
  lines.push("Each cell: the figure, and in brackets its ratio to `direct` (for latencies lower is better, for rates higher is better).");
  lines.push("");
  lines.push(`| measure | unit | ${names.map((n) => `\`${n}\``).join(" | ")} |`);
  lines.push(`| --- | --- | ${names.map(() => "---:").join(" | ")} |`);
  for (const row of ROWS) {
    const d = direct ? row.get(direct) : null;
    const cells = r.targets.map((t) => {
      const v = row.get(t);
      const text = fmt(v, row.digits);
      if (row.noRatio || t.name === "direct" && (v === null || v === undefined)) return text;
      const q = ratio(v, d);
      return q === null ? text : `${text} (${q.toFixed(2)}x)`;
    });
    lines.push(`| ${row.label(r)} ${row.better === "lower" ? "↓" : "↑"} | ${row.unit} | ${cells.join(" | ")} |`);
  }
  lines.push("");
  lines.push("↓ lower is better, ↑ higher is better. n/a: no figure (fan-out: the target could not hold that many sockets at once, see the load details; RSS: `direct` has no proxy).");
  lines.push("");
  if (r.previous) lines.push(...besidePrevious(r, r.previous), "");
  lines.push("## Goals (read from the numbers; nothing asserts on them)");
  lines.push("");
  for (const g of goals(r)) lines.push(`- ${g.met === null ? "?" : g.met ? "MET" : "NOT MET"}: ${g.goal} — ${g.detail}`);
  lines.push("");
  lines.push("## The program under mocks (evaluation of index.ts + render)");
  lines.push("");
  lines.push("| app nodes | source-mapped stacks | evaluation (ms) | render alone (ms) | process total incl. SDK load (ms) | registrations | nginx.conf bytes |");
  lines.push("| ---: | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const p of r.program) lines.push(`| ${p.nodes} | ${p.sourceMaps ? "yes (as tsx / the language host)" : "no"} | ${p.evalMs.toFixed(0)} | ${p.renderMs.toFixed(3)} | ${p.totalMs.toFixed(0)} | ${p.registrations} | ${p.nginxConfBytes} |`);
  lines.push("");
  if (deployReport) {
    const [, ...body] = deployReport.trim().split("\n");
    lines.push("## Deploy timings (`npm run bench:deploy`, its own run: bench/results/deploy.md)", ...body.map((l) => (l.startsWith("#") ? `#${l}` : l)), "");
  }
  lines.push("## Targets");
  lines.push("");
  for (const t of r.targets) lines.push(`- \`${t.name}\`: ${t.describe}`);
  lines.push("");
  lines.push("### What each proxy was allowed (like for like)");
  lines.push("");
  lines.push("| target | processes / threads | nofile per process | CPU weight (cpu shares) | proxied sockets the fds allow (2 per socket) | idle sockets open at the end of the ramp / after the hold |");
  lines.push("| --- | --- | ---: | ---: | ---: | ---: |");
  for (const t of r.targets) {
    if (!t.allowed) continue;
    const a = t.allowed;
    lines.push(`| ${t.name} | ${a.processes} | ${a.nofile} | ${a.cpuShares} | ${a.socketsByFds} | ${t.idle ? `${t.idle.stages.at(-1)?.open ?? 0} / ${t.idle.openAfterHold}` : "-"} |`);
  }
  lines.push("");
  lines.push("## Idle ramp per stage");
  lines.push("");
  lines.push(`| target | ${r.params.idle.stages.map((s) => `${s}: open / failed / RSS MiB`).join(" | ")} | held after hold (s) | drops | close codes |`);
  lines.push(`| --- | ${r.params.idle.stages.map(() => "---").join(" | ")} | --- | --- | --- |`);
  for (const t of r.targets) {
    if (!t.idle) continue;
    const cells = r.params.idle.stages.map((s) => {
      const st = t.idle!.stages.find((x) => x.stage === s);
      return st ? `${st.open} / ${st.failed}${st.gaveUp ? " (gave up)" : ""} / ${st.rssKiB === null ? "-" : (st.rssKiB / 1024).toFixed(1)}` : "-";
    });
    lines.push(`| ${t.name} | ${cells.join(" | ")} | ${t.idle.openAfterHold} (${t.idle.heldS}) | ${t.idle.drops} | ${JSON.stringify(t.idle.closeCodes)} |`);
  }
  lines.push("");
  lines.push("## Generator ceiling and load details");
  lines.push("");
  lines.push("Highest CPU of one generator process during each test (100 = one core: the generator would be the bottleneck). The `direct` column is the generators' own ceiling on this machine.");
  lines.push("");
  lines.push(`| test | ${names.map((n) => `\`${n}\``).join(" | ")} |`);
  lines.push(`| --- | ${names.map(() => "---:").join(" | ")} |`);
  const cpuRow = (label: string, get: (t: TargetResult) => number | null | undefined) => lines.push(`| ${label} | ${r.targets.map((t) => fmt(get(t), 0) + (get(t) !== null && get(t) !== undefined ? "%" : "")).join(" | ")} |`);
  cpuRow("echo at fixed rate", (t) => t.echoRate?.genCpuMax);
  cpuRow("echo saturation", (t) => t.echoSat?.genCpuMax);
  cpuRow("upgrades", (t) => t.upgrades?.genCpuMax);
  cpuRow("HTTP", (t) => t.http?.genCpuMax);
  lines.push(`| echo: sent / received (lost) | ${r.targets.map((t) => (t.echoRate ? `${t.echoRate.sent} / ${t.echoRate.received} (${t.echoRate.sent - t.echoRate.received})` : "n/a")).join(" | ")} |`);
  lines.push(`| upgrades: opened / failed | ${r.targets.map((t) => (t.upgrades ? `${t.upgrades.opened} / ${t.upgrades.failed}` : "n/a")).join(" | ")} |`);
  lines.push(`| fan-out: sockets connected / incomplete rounds | ${r.targets.map((t) => (t.fanout ? `${t.fanout.sockets}/${t.fanout.wanted} / ${t.fanout.incomplete}` : "n/a")).join(" | ")} |`);
  lines.push(`| HTTP: errors / non-200 | ${r.targets.map((t) => (t.http ? `${t.http.errors} / ${t.http.non200}` : "n/a")).join(" | ")} |`);
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  lines.push(`| machine busy during its tests, avg % (100 = both cores) | ${r.targets.map((t) => fmt(avg((t.cpu ?? []).map((c) => c.busyPct)), 0)).join(" | ")} |`);
  lines.push(`| of which other work (not the bench), avg / max % | ${r.targets.map((t) => `${fmt(avg((t.cpu ?? []).map((c) => c.foreignPct)), 0)} / ${fmt(Math.max(...(t.cpu ?? []).map((c) => c.foreignPct)), 0)}`).join(" | ")} |`);
  lines.push(`| rounds kept although other work took > 15% | ${r.targets.map((t) => String((t.cpu ?? []).filter((c) => c.noisy).length)).join(" | ")} |`);
  lines.push(`| echo p99 per round (ms) | ${r.targets.map((t) => (t.echoRate ? t.echoRate.p99PerRound.join(", ") : "n/a")).join(" | ")} |`);
  lines.push(`| echo p99.9 per round (ms) | ${r.targets.map((t) => (t.echoRate?.p999PerRound ? t.echoRate.p999PerRound.join(", ") : "n/a")).join(" | ")} |`);
  for (const part of ["proxy", "backend", "generators"] as const) {
    const cell = (t: TargetResult) => {
      const x = t.echoRate?.sched?.[part];
      return x ? `${fmt(x.cpuUsPerMsg, 1)} / ${fmt(x.waitUsPerMsg, 1)} / ${fmt(x.waitUsPerSlice, 1)}` : "n/a";
    };
    lines.push(`| echo, ${part}: CPU µs per message / run-queue wait µs per message / wait µs per wake-up | ${r.targets.map(cell).join(" | ")} |`);
  }
  lines.push(`| echo: socket fds per nginx worker, mid-run, per round | ${r.targets.map((t) => (t.echoRate?.workerSocketFdsPerRound?.some(Boolean) ? t.echoRate.workerSocketFdsPerRound.map((w) => (w ? w.join("/") : "?")).join(", ") : "n/a")).join(" | ")} |`);
  lines.push(`| echo saturation per round (msg/s) | ${r.targets.map((t) => (t.echoSat ? t.echoSat.perRound.join(", ") : "n/a")).join(" | ")} |`);
  lines.push(`| upgrades per round (/s) | ${r.targets.map((t) => (t.upgrades ? t.upgrades.perRound.join(", ") : "n/a")).join(" | ")} |`);
  lines.push(`| HTTP req/s per round | ${r.targets.map((t) => (t.http ? t.http.satPerRound.join(", ") : "n/a")).join(" | ")} |`);
  lines.push("");
  if (r.experiments.length) {
    lines.push("## Experiments (hand-modified copies of the generated config; lib/nginx.ts unchanged)");
    lines.push("");
    for (const e of r.experiments) lines.push(`- \`exp:${e.name}\`: ${e.describe}. Directives: ${e.directives.map((d) => `\`${d}\``).join(", ")}`);
    lines.push("");
  }
  const errs = r.targets.filter((t) => t.errors.length);
  if (errs.length || r.notes.length) {
    lines.push("## Notes");
    lines.push("");
    for (const n of r.notes) lines.push(`- ${n}`);
    for (const t of errs) for (const e of t.errors) lines.push(`- \`${t.name}\`: ${e}`);
    lines.push("");
  }
  lines.push("Raw figures: the `.json` file of the same name beside this one (the wsenv nginx.conf used is in it, `wsenvNginxConf`). How each row is measured: `bench/README.md`.");
  lines.push("");
  return lines.join("\n");
}

const COLORS: Record<string, string> = { direct: "#7f8c8d", wsenv: "#1f77b4", seed: "#d62728", haproxy: "#2ca02c", caddy: "#9467bd" };
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function renderHtml(r: BenchResults): string {
  const direct = r.targets.find((t) => t.name === "direct");
  const panels = ROWS.map((row) => {
    const vals = r.targets.map((t) => ({ t, v: row.get(t) }));
    const max = Math.max(0, ...vals.map((x) => (x.v !== null && x.v !== undefined && Number.isFinite(x.v) ? x.v : 0)));
    const barH = 18;
    const w = 560;
    const labelW = 80;
    const valueW = 150;
    const h = vals.length * (barH + 6) + 6;
    const d = direct ? row.get(direct) : null;
    const bars = vals
      .map(({ t, v }, i) => {
        const y = 6 + i * (barH + 6);
        const ok = v !== null && v !== undefined && Number.isFinite(v);
        const bw = ok && max > 0 ? Math.max(1, ((w - labelW - valueW) * (v as number)) / max) : 0;
        const q = row.noRatio ? null : ratio(v, d);
        const text = ok ? `${fmt(v, row.digits)}${q !== null && t.name !== "direct" ? `  (${q.toFixed(2)}x)` : ""}` : "n/a";
        const color = COLORS[t.name] ?? "#ff7f0e";
        return `<text x="${labelW - 6}" y="${y + barH - 5}" text-anchor="end" class="l">${esc(t.name)}</text>` +
          `<rect x="${labelW}" y="${y}" width="${bw}" height="${barH}" fill="${color}" rx="2"/>` +
          `<text x="${labelW + bw + 6}" y="${y + barH - 5}" class="v">${esc(text)}</text>`;
      })
      .join("");
    return `<div class="panel"><div class="t">${esc(row.label(r))} <span class="u">${esc(row.unit)} ${row.better === "lower" ? "↓ lower is better" : "↑ higher is better"}</span></div><svg width="${w}" height="${h}">${bars}</svg></div>`;
  }).join("\n");
  const g = goals(r)
    .map((x) => `<li class="${x.met === null ? "" : x.met ? "ok" : "no"}">${x.met === null ? "?" : x.met ? "MET" : "NOT MET"}: ${esc(x.goal)}</li>`)
    .join("");
  const prog = r.program
    .filter((p) => p.sourceMaps)
    .map((p) => `${p.nodes} node${p.nodes === 1 ? "" : "s"}: ${(p.evalMs / 1000).toFixed(2)} s (render ${p.renderMs.toFixed(2)} ms)`)
    .join(" · ");
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{font:13px/1.35 system-ui,sans-serif;margin:16px;color:#222;background:#fff;width:1180px}
h1{font-size:18px;margin:0 0 4px} .sub{color:#555;margin-bottom:10px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.panel{border:1px solid #ddd;border-radius:6px;padding:6px 8px}
.t{font-weight:600;margin-bottom:2px} .u{font-weight:400;color:#777;font-size:11px}
.l{font-size:12px;fill:#333} .v{font-size:12px;fill:#111}
ul{margin:6px 0 10px;padding-left:18px} li.ok{color:#1a7f37} li.no{color:#b42318}
.quick{background:#fff3cd;border:1px solid #e0c36a;padding:4px 8px;border-radius:4px;margin-bottom:8px}
</style></head><body>
<h1>wsenv bench — ${r.mode === "quick" ? "QUICK run" : "full run"} — ${esc(r.date)}</h1>
<div class="sub">${r.machine.nproc} cores shared by generators and targets · ${esc(r.machine.memory)} RAM · kernel ${esc(r.machine.kernel)} · ${Object.entries(r.versions).map(([k, v]) => `${esc(k)} ${esc(v)}`).join(" · ")}</div>
${r.mode === "quick" ? `<div class="quick">Quick mode: smaller counts and durations; idle ramp only to ${r.params.idle.stages[r.params.idle.stages.length - 1]}, held ${r.params.idle.holdMs / 1000} s.</div>` : ""}
<ul>${g}</ul>
<div class="sub">Program under mocks (evaluation + render): ${esc(prog)}</div>
<div class="grid">${panels}</div>
</body></html>`;
}

export async function screenshot(html: string, htmlFile: string, pngFile: string): Promise<void> {
  fs.writeFileSync(htmlFile, html);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { chromium } = require("playwright-core") as typeof import("playwright-core");
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 60_000,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1212, height: 800 } });
    await page.setContent(html, { waitUntil: "load" });
    await page.screenshot({ path: pngFile, fullPage: true });
  } finally {
    await browser.close();
  }
}

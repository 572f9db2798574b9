/**
 * `npm run bench` (`-- --quick` for a short run): the WebSocket benchmark of issue 6.
 *
 * One Node.js echo + chat backend node in a container; five targets in front of it (direct, the generated
 * wsenv config, the guide's seed snippet, HAProxy, Caddy) plus optional EXPERIMENT columns; load from
 * `ws` clients in child processes. Writes bench/results/latest.{md,json,png} (a quick run: quick.*). Every container, network
 * and process it starts is removed at the end, also on failure or Ctrl-C.
 *
 * Options: see USAGE below (`npm run bench -- --help`).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CpuSampler, loadAvg } from "./lib/cpu";
import { DEFAULT_EXPERIMENTS, experimentByName } from "./lib/experiments";
import { GeneratorPool, killAllGenerators, pinGenerators } from "./lib/gens";
import {
  Chunks,
  FULL,
  IdleRun,
  Params,
  QUICK,
  aggEchoRate,
  aggEchoSat,
  aggFanout,
  aggHttp,
  aggUpgrades,
  echoRateChunk,
  echoSatChunk,
  emptyChunks,
  fanoutChunk,
  httpChunk,
  upgradeChunk,
} from "./lib/measure";
import { BenchResults, PreviousRun, ProgramTiming, TargetResult, renderHtml, renderMarkdown, screenshot } from "./lib/report";
import {
  BenchEnvironment,
  BACKEND_WORKERS,
  CADDY_IMAGE,
  HAPROXY_IMAGE,
  NGINX_IMAGE,
  NODE_IMAGE,
  LABEL,
  PORTS_PER_PATH,
  Target,
  benchPlan,
  buildBackendImage,
  caddyTarget,
  containerPid,
  cleanUp,
  directTarget,
  haproxyTarget,
  seedTarget,
  startNetworkAndBackend,
  versions,
  waitBackend,
  wsenvTarget,
} from "./lib/targets";
import { BENCH_DIR, PROJECT_DIR, START, WORK_DIR, freePorts, log, median, percentiles, sh, sleep } from "./lib/util";

const ALL_TARGETS = ["direct", "wsenv", "seed", "haproxy", "caddy"];

const TEST_KEYS: Record<string, string> = { echo: "echo at fixed rate", saturation: "echo saturation", upgrades: "upgrades", fanout: "fan-out", http: "HTTP", idle: "idle" };
/** `--tests echo,idle`: a subset of the tests, for working on the bench itself (default: all). */
function selected(testName: string): boolean {
  const list = arg("--tests");
  if (!list) return true;
  return list.split(",").some((k) => TEST_KEYS[k] === testName);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function machine(): BenchResults["machine"] {
  let osName = "";
  try {
    osName = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
  } catch {
    /* unknown */
  }
  return {
    nproc: os.cpus().length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: os.release(),
    nofileHard: sh("sh", ["-c", "ulimit -Hn"], { allowFail: true }),
    os: osName,
  };
}

function programTimings(quick: boolean): ProgramTiming[] {
  const runs: { nodes: number; sourceMaps: boolean }[] = [1, 10, 100].map((nodes) => ({ nodes, sourceMaps: true }));
  if (!quick) runs.push({ nodes: 100, sourceMaps: false });
  const out: ProgramTiming[] = [];
  for (const r of runs) {
    const res = spawnSync(path.join(PROJECT_DIR, "node_modules/.bin/tsx"), ["bench/program.ts", "--nodes", String(r.nodes), ...(r.sourceMaps ? [] : ["--no-source-maps"])], {
      cwd: PROJECT_DIR,
      encoding: "utf8",
      timeout: 120_000,
    });
    if (res.status !== 0) throw new Error(`bench/program.ts --nodes ${r.nodes} failed: ${(res.stderr || String(res.error)).slice(-1500)}`);
    const t = JSON.parse(res.stdout.trim().split("\n").pop()!) as ProgramTiming;
    log(`program under mocks, ${r.nodes} nodes${r.sourceMaps ? "" : " (no source maps)"}: eval ${t.evalMs.toFixed(0)} ms, render ${t.renderMs.toFixed(3)} ms`);
    out.push(t);
  }
  return out;
}

/** Other containers on the engine (not the bench's): their load shares the 2 cores with the figures. */
function foreignContainers(): string[] {
  return sh("docker", ["ps", "--format", "{{.Names}}\t{{.Labels}}"], { allowFail: true })
    .split("\n")
    .filter((l) => l && !l.includes(LABEL))
    .map((l) => l.split("\t")[0]);
}

export interface CpuShare {
  test: string;
  busyPct: number;
  benchPct: number;
  foreignPct: number;
  /** Other work took more than FOREIGN_LIMIT_PCT of the machine and the round was kept anyway. */
  noisy: boolean;
}

/** Share of the machine (100 = both cores) that other work may take before a round is repeated. */
const FOREIGN_LIMIT_PCT = 15;
/** Rounds repeated because of other work, and the time left for repeats. */
const RETRY_BUDGET_S = 90;
const retry = { count: 0, budgetMs: RETRY_BUDGET_S * 1000 };

/** Waits (bounded) until other work on the machine stays under 15% of it for a 5 s window. */
async function waitQuiet(sampler: CpuSampler, maxS: number): Promise<string> {
  if (maxS <= 0) return "not waited for";
  const deadline = Date.now() + maxS * 1000;
  let last = { busyPct: 0, benchPct: 0, foreignPct: 0 };
  while (Date.now() < deadline) {
    sampler.start();
    await sleep(5000);
    last = sampler.stop();
    if (last.foreignPct < 15) return `quiet after ${((Date.now() - (deadline - maxS * 1000)) / 1000).toFixed(0)} s (foreign ${last.foreignPct}%)`;
    log(`waiting for a quieter machine: other work uses ${last.foreignPct}% of it (load ${loadAvg()})`);
  }
  return `still busy after ${maxS} s (foreign ${last.foreignPct}%); measured anyway`;
}

type Test = { name: string; run: (pool: GeneratorPool, t: Target, into: Chunks) => Promise<string> };

function tests(p: Params, backendPid: number): Test[] {
  const f = (v: number) => v.toFixed(0);
  return [
    {
      name: "echo at fixed rate",
      run: async (pool, t, into) => {
        const c = await echoRateChunk(pool, t, p.echoRate, backendPid);
        into.echoRate.push(c);
        const [p50, p99] = percentiles(c.latencies, [50, 99]).map((v) => (v / 1000).toFixed(2));
        return `p50 ${p50} p99 ${p99} ms (${c.received}/${c.sent}, gen cpu ${f(c.cpu)}%)`;
      },
    },
    {
      name: "echo saturation",
      run: async (pool, t, into) => {
        const c = await echoSatChunk(pool, t, p.echoSat);
        into.echoSat.push(c);
        return `${f(c.rate)} msg/s (gen cpu ${f(c.cpu)}%)`;
      },
    },
    {
      name: "upgrades",
      run: async (pool, t, into) => {
        const c = await upgradeChunk(pool, t, p.upgrades);
        into.upgrades.push(c);
        return `${f(c.rate)}/s, failed ${c.failed} ${Object.keys(c.errors).length ? JSON.stringify(c.errors) : ""}`;
      },
    },
    {
      name: "fan-out",
      run: async (pool, t, into) => {
        const c = await fanoutChunk(pool, t, p.fanout);
        into.fanout.push(c);
        return `${c.open}/${p.fanout.sockets} sockets, median ${median(c.times).toFixed(2)} ms, incomplete ${c.incomplete}`;
      },
    },
    {
      name: "HTTP",
      run: async (pool, t, into) => {
        const c = await httpChunk(pool, t, p.http);
        into.http.push(c);
        return `${f(c.satRate)} req/s; @${p.http.rate}/s p99 ${(percentiles(c.rateLatencies, [99])[0] / 1000).toFixed(2)} ms; errors ${c.errors}, non-200 ${c.non200}`;
      },
    },
  ];
}

/** Every test, in rounds; each round visits every target once, in an order rotated by one per round. */
async function measureAll(targets: Target[], p: Params, foreign: Set<string>, sampler: CpuSampler, backendPid: number): Promise<Map<string, { chunks: Chunks; errors: string[]; cpu: CpuShare[] }>> {
  const out = new Map(targets.map((t) => [t.name, { chunks: emptyChunks(), errors: [] as string[], cpu: [] as CpuShare[] }]));
  const pool = await GeneratorPool.start(p.gensPerTest);
  try {
    log("warm-up: a short saturation burst on every target (not recorded)");
    for (const t of targets) {
      try {
        await echoSatChunk(pool, t, { sockets: p.echoSat.sockets, window: p.echoSat.window, warmupMs: 0, durationMs: p.warmupBurstMs });
      } catch (err) {
        log(`  warm-up ${t.name}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    for (const test of tests(p, backendPid).filter((x) => selected(x.name))) {
      for (let r = 0; r < p.rounds; r++) {
        for (const name of foreignContainers()) foreign.add(name);
        const order = targets.map((_, i) => targets[(i + r) % targets.length]);
        for (const t of order) {
          const slot = out.get(t.name)!;
          for (let attempt = 0; ; attempt++) {
            const fresh = emptyChunks();
            const t0 = Date.now();
            try {
              sampler.start();
              const line = await test.run(pool, t, fresh);
              const cpu = sampler.stop();
              // A round during which other work took a real share of the machine measures that work, not
              // the target: repeat it (bounded by count and by a time budget for the whole run).
              const noisy = cpu.foreignPct > FOREIGN_LIMIT_PCT;
              const repeat = noisy && attempt < p.noisyRepeats && retry.budgetMs > 0;
              log(`  ${test.name} [${r + 1}/${p.rounds}] ${t.name}: ${line} [machine busy ${cpu.busyPct.toFixed(0)}%, other work ${cpu.foreignPct.toFixed(0)}%]${noisy ? (repeat ? " NOISY: repeating" : " NOISY: kept") : ""}`);
              if (repeat) {
                retry.budgetMs -= Date.now() - t0;
                retry.count++;
                await sleep(1000);
                continue;
              }
              for (const k of Object.keys(fresh) as (keyof Chunks)[]) (slot.chunks[k] as unknown[]).push(...(fresh[k] as unknown[]));
              slot.cpu.push({ test: test.name, ...cpu, noisy });
            } catch (err) {
              sampler.stop();
              const msg = `${test.name} round ${r + 1}: ${(err as Error).message.split("\n")[0]}`;
              log(`  ${t.name} ${msg}`);
              slot.errors.push(msg);
            }
            break;
          }
          await sleep(p.mode === "quick" ? 150 : 300);
        }
      }
    }
  } finally {
    pool.stop();
  }
  return out;
}

function git(args: string[]): string {
  return sh("git", args, { allowFail: true, cwd: PROJECT_DIR });
}

/** The commit being measured, `-dirty` when the tree has uncommitted changes. */
function currentCommit(): string {
  const head = git(["rev-parse", "--short", "HEAD"]);
  return head && git(["status", "--porcelain", "--untracked-files=no"]) ? `${head}-dirty` : head;
}

/**
 * A stored run to set beside this one (a file, or `REV:PATH` as git names a file of a commit): its
 * figures, and the commits since the one it measured (for runs from before the commit was recorded, the
 * commit that stored its results).
 */
function previousRun(source: string, commitNow: string): PreviousRun {
  const inGit = !fs.existsSync(source) && /^[^:]+:.+\.json$/.test(source);
  const [rev, file] = inGit ? source.split(/:(.*)/s, 2) : ["HEAD", path.relative(PROJECT_DIR, path.resolve(source))];
  const text = inGit ? sh("git", ["show", source], { cwd: PROJECT_DIR }) : fs.readFileSync(source, "utf8");
  const prev = JSON.parse(text) as BenchResults;
  const commit = (prev.commit ?? git(["log", "-1", "--format=%h", rev, "--", file])) || null;
  const base = commit?.replace(/-dirty$/, "");
  const changes = base ? git(["log", "--format=%h %s", `${base}..HEAD`]).split("\n").filter(Boolean).map((l) => (l.length > 160 ? `${l.slice(0, 157)}...` : l)) : [];
  if (commitNow.endsWith("-dirty")) changes.unshift("(uncommitted changes)");
  return { date: prev.date, commit, targets: prev.targets, changes };
}

/** The deploy timings (a run of their own) go into a full run's report. */
function deployReport(r: BenchResults): string | undefined {
  const file = path.join(BENCH_DIR, "results", "deploy.md");
  return r.mode === "full" && !/--(tests|targets)\b/.test(r.command) && fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
}

/** `--render-only FILE.json`: the table and chart again from a stored run (no measuring). */
async function renderOnly(file: string): Promise<void> {
  const out = JSON.parse(fs.readFileSync(file, "utf8")) as BenchResults;
  const base = file.replace(/\.json$/, "");
  const previous = arg("--previous");
  if (previous && previous !== "none") {
    out.previous = previousRun(previous, out.commit ?? currentCommit());
    fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  }
  fs.mkdirSync(WORK_DIR, { recursive: true });
  fs.writeFileSync(`${base}.md`, renderMarkdown(out, deployReport(out)));
  await screenshot(renderHtml(out), path.join(WORK_DIR, "chart.html"), `${base}.png`);
  log(`rendered ${path.relative(PROJECT_DIR, base)}.{md,png} from ${path.relative(PROJECT_DIR, file)}`);
}

const USAGE = `npm run bench [-- OPTIONS]   the WebSocket benchmark (bench/README.md)

  (no option)               full run, ~13 min: bench/results/latest.{md,json,png}
  --quick                   under 2 min, smaller counts: bench/results/quick.{md,json,png}
  --targets a,b             a subset of ${ALL_TARGETS.join(",")}
  --experiments a,b|none    EXPERIMENT columns from bench/lib/experiments.ts (full run default: ${DEFAULT_EXPERIMENTS.join(",")})
  --tests a,b               a subset of ${Object.keys(TEST_KEYS).join(",")}
  --rounds N                rounds per test (full 3, quick 1), for a focused A/B run
  --skip-program            leave out the program-under-mocks timings
  --gen-cpus LIST           pin every load generator to these CPUs (taskset -c LIST), e.g. 1
  --wait-quiet SECONDS      wait at most this long for other work to stop first (full 120, quick 0)
  --out DIR                 output directory (default bench/results)
  --name NAME               write NAME.{md,json,png}
  --render-only FILE.json   table and chart again from a stored run; measures nothing
  --previous FILE.json|REV:FILE.json|none
                            a stored run to set beside this one, e.g. HEAD~3:bench/results/latest.json
                            (default for a full run: the latest.json it replaces)
  --help                    this text
`;

const VALUED_OPTIONS = ["--targets", "--experiments", "--tests", "--rounds", "--wait-quiet", "--out", "--name", "--render-only", "--gen-cpus", "--previous"];
const FLAG_OPTIONS = ["--quick", "--skip-program", "--help", "-h"];

/** A mistyped option must not start a 13-minute run that ignores it. */
function unknownOptions(argv: string[]): string[] {
  const unknown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (VALUED_OPTIONS.includes(argv[i])) i++;
    else if (!FLAG_OPTIONS.includes(argv[i])) unknown.push(argv[i]);
  }
  return unknown;
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(USAGE);
    return;
  }
  const unknown = unknownOptions(process.argv.slice(2));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(" ")}\n\n${USAGE}`);
  const renderFrom = arg("--render-only");
  if (renderFrom) return renderOnly(path.resolve(renderFrom));
  const quick = process.argv.includes("--quick");
  const base = quick ? QUICK : FULL;
  // --rounds N: more rounds for a focused A/B run (e.g. one test on wsenv and an experiment).
  const p: Params = arg("--rounds") ? { ...base, rounds: Math.max(1, Math.min(20, Number(arg("--rounds")))) } : base;
  const wanted = (arg("--targets") ?? ALL_TARGETS.join(",")).split(",").filter(Boolean);
  for (const w of wanted) if (!ALL_TARGETS.includes(w)) throw new Error(`unknown target ${w} (known: ${ALL_TARGETS.join(", ")})`);
  const expArg = arg("--experiments");
  const experiments = (expArg === undefined ? (quick ? [] : DEFAULT_EXPERIMENTS) : expArg === "none" ? [] : expArg.split(",")).map(experimentByName);
  const outDir = path.resolve(arg("--out") ?? path.join(BENCH_DIR, "results"));

  if (spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status !== 0) {
    throw new Error("no Docker engine answers `docker info` (start one: nohup dockerd >/tmp/dockerd.log 2>&1 &)");
  }
  for (const [image, build] of [[NGINX_IMAGE, "nginx"], [NODE_IMAGE, "node"], [HAPROXY_IMAGE, "haproxy"], [CADDY_IMAGE, "caddy"]]) {
    if (spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status !== 0) throw new Error(`missing image ${image}: run \`npm run images -- ${build}\``);
  }
  pinGenerators(arg("--gen-cpus"));
  fs.mkdirSync(WORK_DIR, { recursive: true });
  fs.mkdirSync(outDir, { recursive: true });
  cleanUp();
  log(`${quick ? "QUICK" : "full"} run: targets ${wanted.join(", ")}${experiments.length ? `; experiments ${experiments.map((e) => e.name).join(", ")}` : ""}`);

  const targets: Target[] = [];
  const results: TargetResult[] = [];
  const notes: string[] = [];
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: cleaning up`);
    killAllGenerators();
    cleanUp();
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    log("building the backend image (DOCKER_BUILDKIT=0)");
    const imageId = buildBackendImage();
    const [d, h, c, w, s] = await Promise.all([0, 1, 2, 3, 4].map(() => freePorts(PORTS_PER_PATH)));
    const { plan, stackConfig } = benchPlan(imageId, { wsenv: w[0] });
    const env: BenchEnvironment = {
      plan,
      stackConfig,
      backendName: plan.app.nodes[0].name,
      directPorts: d,
      wsenvPorts: w,
      seedPorts: s,
      competitorPorts: { haproxy: h, caddy: c },
    };
    log(`backend node ${env.backendName} on network ${plan.networkName}`);
    startNetworkAndBackend(plan, env.directPorts);
    await waitBackend(env);
    const vers = versions();

    const program = process.argv.includes("--skip-program") ? [] : programTimings(quick);
    for (const k of (arg("--tests") ?? "").split(",").filter(Boolean)) if (!TEST_KEYS[k]) throw new Error(`unknown test ${k} (known: ${Object.keys(TEST_KEYS).join(", ")})`);

    for (const name of wanted) {
      log(`starting target ${name}`);
      if (name === "direct") targets.push(directTarget(env));
      if (name === "wsenv") targets.push(await wsenvTarget(env));
      if (name === "seed") targets.push(await seedTarget(env));
      if (name === "haproxy") targets.push(await haproxyTarget(env));
      if (name === "caddy") targets.push(await caddyTarget(env));
    }
    const expPorts: number[][] = [];
    for (const e of experiments) {
      log(`starting EXPERIMENT exp:${e.name}`);
      const ports = await freePorts(PORTS_PER_PATH);
      expPorts.push(ports);
      targets.push(await wsenvTarget(env, { name: e.name, describe: e.describe, nginxConf: e.apply(plan.balancer.files.nginxConf), ports, cpuShares: e.cpuShares }));
    }

    const foreign = new Set<string>(foreignContainers());
    const sampler = new CpuSampler();
    sampler.setPorts([...d, ...h, ...c, ...w, ...s, ...expPorts.flat()]);
    const quietWait = Number(arg("--wait-quiet") ?? (quick ? 0 : 120));
    const quiet = await waitQuiet(sampler, quietWait);
    log(`machine: ${quiet}`);
    notes.push(`Before measuring: ${quiet} (--wait-quiet ${quietWait}).`);
    const measured = await measureAll(targets, p, foreign, sampler, containerPid(env.backendName));
    for (const t of targets) {
      const m = measured.get(t.name)!;
      results.push({
        name: t.name,
        describe: t.describe,
        allowed: t.allowed,
        echoRate: aggEchoRate(m.chunks.echoRate, p.echoRate),
        echoSat: aggEchoSat(m.chunks.echoSat, p.echoSat),
        upgrades: aggUpgrades(m.chunks.upgrades),
        fanout: aggFanout(m.chunks.fanout, p.fanout),
        http: aggHttp(m.chunks.http, p.http),
        cpu: m.cpu,
        errors: m.errors,
      });
    }

    if (!selected("idle")) notes.push("idle test skipped (--tests)");
    // Idle sockets: each target is ramped in turn and then left holding while the next ramps, so the
    // holds overlap; each is counted once it has held for holdMs since the end of its own ramp.
    if (selected("idle")) log(`idle sockets: ramp ${p.idle.stages.join(" -> ")}, hold ${p.idle.holdMs / 1000} s`);
    const runs: IdleRun[] = [];
    const idleTargets = targets.filter((t) => !t.name.startsWith("exp:") || experiments.find((e) => `exp:${e.name}` === t.name)?.idle);
    if (selected("idle")) {
      log("restarting every proxy (fresh processes for the RSS baseline)");
      await Promise.all(
        idleTargets.map((t) =>
          t.restart().catch((err) => results.find((r) => r.name === t.name)!.errors.push(`restart before the idle test: ${(err as Error).message.split("\n")[0]}`)),
        ),
      );
    }
    for (const t of selected("idle") ? idleTargets : []) {
      const pool = await GeneratorPool.start(p.idle.gens);
      const run = new IdleRun(t, pool, p.idle);
      runs.push(run);
      try {
        // The minimal-handshake row first, on the fresh process; then a fresh process again for the ramp,
        // so neither measures memory the other freed (allocators keep it, and reuse it for free).
        await run.minimal();
        await t.restart();
        await run.ramp();
      } catch (err) {
        results.find((r) => r.name === t.name)!.errors.push(`idle ramp: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    for (const name of foreignContainers()) foreign.add(name);
    for (const run of runs) {
      try {
        await run.finish();
      } catch (err) {
        results.find((r) => r.name === run.target.name)!.errors.push(`idle hold: ${(err as Error).message.split("\n")[0]}`);
      }
      results.find((r) => r.name === run.target.name)!.idle = run.result;
      run.pool.stop();
    }

    notes.push(
      `Every target is reached through exactly one docker-proxy hop (Docker's userland proxy carries traffic to ports published on 127.0.0.1), on the client side; every proxy is a container on the bench network and reaches the node over it. docker-proxy has nofile 20000 and holds 6 fds per connection (2 sockets + 2 splice pipes), so one port carries at most ~3300 sockets before docker-proxy exits and drops them all: each path uses ${PORTS_PER_PATH} published ports.`,
      `The backend node is one container running a Node.js cluster of ${BACKEND_WORKERS} ws workers (bench/backend/server.js); all targets share it. Idle holds overlap (each target keeps its sockets while the next one ramps).`,
      "The seed has no proxied `location /`: its HTTP rows are GET /ws/ (the guide's location, upgrade headers and no upstream keepalive).",
    );
    notes.push(
      `Rounds during which other work on the machine took more than ${FOREIGN_LIMIT_PCT}% of it are repeated (at most ${p.noisyRepeats} times each, within ${RETRY_BUDGET_S} s for the run): ${retry.count} repeated; rounds kept although disturbed: ${results.reduce((a, r) => a + (r.cpu ?? []).filter((c) => c.noisy).length, 0)}.`,
    );
    if (foreign.size) {
      notes.push(`Other containers were running on this engine during the run (not the bench's; their load shares the 2 cores, so the figures are noisier): ${[...foreign].sort().join(", ")}.`);
    }

    const baseName = arg("--name") ?? (quick ? "quick" : "latest");
    const commit = currentCommit();
    const previousArg = arg("--previous") ?? (baseName === "latest" && fs.existsSync(path.join(outDir, "latest.json")) ? path.join(outDir, "latest.json") : "none");
    const out: BenchResults = {
      mode: p.mode,
      date: new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"),
      commit,
      previous: previousArg === "none" ? undefined : previousRun(previousArg, commit),
      durationS: (Date.now() - START) / 1000,
      command: `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(" ")}` : ""}`,
      machine: machine(),
      versions: vers,
      params: p,
      targets: results,
      program,
      wsenvNginxConf: plan.balancer.files.nginxConf,
      experiments: experiments.map((e) => ({ name: e.name, describe: e.describe, directives: e.directives })),
      notes,
    };
    // A quick run never overwrites the committed full results.
    if (!/^[A-Za-z0-9_-]+$/.test(baseName)) throw new Error(`--name ${baseName}: letters, digits, - and _ only`);
    fs.writeFileSync(path.join(outDir, `${baseName}.json`), `${JSON.stringify(out, null, 2)}\n`);
    fs.writeFileSync(path.join(outDir, `${baseName}.md`), renderMarkdown(out, deployReport(out)));
    try {
      await screenshot(renderHtml(out), path.join(WORK_DIR, "chart.html"), path.join(outDir, `${baseName}.png`));
    } catch (err) {
      log(`chart screenshot failed: ${(err as Error).message}`);
    }
    log(`wrote ${path.relative(PROJECT_DIR, outDir)}/${baseName}.{md,json,png} in ${((Date.now() - START) / 1000).toFixed(0)} s`);
  } finally {
    killAllGenerators();
    for (const t of targets) await t.stop().catch(() => {});
    cleanUp();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`FAILED: ${(err as Error).stack ?? err}`);
    killAllGenerators();
    cleanUp();
    process.exit(1);
  },
);

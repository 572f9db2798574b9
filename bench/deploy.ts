/**
 * `npm run bench:deploy` (`-- --nodes 1,10` for fewer): `pulumi up` of this program on the real engine (the
 * toolchain's CLI, Node.js language host and provider plugins, through the Automation API, a file backend)
 * for 1, 10 and 50 app nodes: first up, no-op up, config-only up, app-change up, destroy; and the peak
 * memory of the CLI, the language host (with the program's Node.js process) and the providers. Beside it,
 * the engine's own floor on the same CLI: an empty TypeScript program (same language host) and an empty
 * YAML program, each a first and a no-op up. Writes bench/results/deploy.{md,json}.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { currentToolchain } from "../scripts/toolchainPlan";
import { stageApp } from "../harness/apps";
import { EngineStack, Run } from "../harness/engine";
import { PROJECT_DIR, childPids, log, median, sleep } from "./lib/util";

const NODE_IMAGE = "wsenv-test/node:bookworm";
const NGINX_IMAGE = "wsenv-test/nginx:bookworm";
const RESULTS = path.join(PROJECT_DIR, "bench", "results");
/** The floor's ups, each timed this many times (the median is reported). */
const FLOOR_RUNS = 3;

/** Which part of the engine a process is, by its command. */
type Part = "cli" | "languageHost" | "providers";
const PARTS: Part[] = ["cli", "languageHost", "providers"];

function partOf(pid: number): Part | undefined {
  let command: string;
  try {
    command = path.basename(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]);
  } catch {
    return undefined;
  }
  if (command === "pulumi") return "cli";
  if (command.startsWith("pulumi-resource-")) return "providers";
  // The language host and the program's Node.js process it starts.
  if (command === "pulumi-language-nodejs" || command === "node") return "languageHost";
  return undefined;
}

/** Samples, every 100 ms until stopped, the resident memory of each part under this process. */
function sampleMemory(): () => Record<Part, number> {
  const peakKiB: Record<Part, number> = { cli: 0, languageHost: 0, providers: 0 };
  const walk = (pid: number, into: Record<Part, number>) => {
    for (const child of childPids(pid)) {
      const part = partOf(child);
      if (part) {
        const m = /VmRSS:\s+(\d+) kB/.exec(safeRead(`/proc/${child}/status`));
        if (m) into[part] += Number(m[1]);
      }
      walk(child, into);
    }
  };
  const timer = setInterval(() => {
    const now: Record<Part, number> = { cli: 0, languageHost: 0, providers: 0 };
    walk(process.pid, now);
    for (const part of PARTS) peakKiB[part] = Math.max(peakKiB[part], now[part]);
  }, 100);
  return () => {
    clearInterval(timer);
    return Object.fromEntries(PARTS.map((part) => [part, Math.round(peakKiB[part] / 1024)])) as Record<Part, number>;
  };
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

interface Step {
  step: string;
  ms: number;
  /** Custom resources by what the engine did to them. */
  ops: Record<string, number>;
  /** Peak resident memory of each part, MiB. */
  peakMiB: Record<Part, number>;
  /** The engine's first error, when the step failed (the run goes on to clean up and report it). */
  error?: string;
}

interface Deploy {
  nodes: number;
  steps: Step[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function timedStep(step: string, run: () => Promise<Run>): Promise<Step> {
  const stop = sampleMemory();
  let peakMiB: Record<Part, number>;
  let result: Run;
  try {
    result = await run();
  } finally {
    peakMiB = stop();
  }
  const ops: Record<string, number> = {};
  for (const s of result.steps) if (!s.type.startsWith("wsenv:") && !s.type.startsWith("pulumi:")) ops[s.op] = (ops[s.op] ?? 0) + 1;
  const error = result.ok ? undefined : (result.messages.split("\n").find((line) => /error/i.test(line)) ?? result.messages.split("\n")[0]).trim();
  log(`  ${step}: ${(result.ms / 1000).toFixed(1)} s, ${JSON.stringify(ops)}, peak MiB ${JSON.stringify(peakMiB)}${error ? `, FAILED: ${error}` : ""}`);
  return { step, ms: result.ms, ops, peakMiB, error };
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

/** A timed step only counts if the system it leaves serves: every up is followed by this check. */
async function mustServe(url: string, step: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await getStatus(url)) === 200) return;
    await sleep(200);
  }
  throw new Error(`${step}: ${url} does not answer 200`);
}

async function deploy(nodes: number, appDir: string, port: number): Promise<Deploy> {
  // An e2e-* stack: its file matches the ignored Pulumi.e2e-*.yaml, should a killed run leave it.
  const stack = await EngineStack.open(`e2e-deploy-${nodes}`);
  const configure = (connectTimeout: string, mark: string) =>
    stack.configure({
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", websocketPaths: ["/ws/"], image: NGINX_IMAGE, workerConnections: 8192, connectTimeout },
      "wsenv:app": { stack: "node", image: NODE_IMAGE, nodes, source: path.relative(PROJECT_DIR, appDir), memoryMb: 128, env: { DEPLOY_MARK: mark } },
    });
  const url = `http://127.0.0.1:${port}/`;
  const steps: Step[] = [];
  log(`${nodes} app node(s), stack ${stack.name}`);
  // A step that fails is recorded and ends this deploy (the next ones build on it); the stack is removed.
  const next = async (name: string, run: () => Promise<Run>, check = true): Promise<boolean> => {
    const result = await timedStep(name, run);
    steps.push(result);
    if (!result.error && check) await mustServe(url, name);
    return !result.error;
  };
  try {
    await configure("1500ms", "1");
    if (!(await next("first up", () => stack.up()))) return { nodes, steps };
    if (!(await next("no-op up", () => stack.up()))) return { nodes, steps };
    // What the refresh costs of that: the same up without it (the CLI alone; the Automation API cannot
    // turn off the project's `refresh: always`).
    if (!(await next("no-op up, refresh off (the CLI's `up --skip-preview --refresh=false`)", () => stack.cli(["up", "--yes", "--skip-preview", "--refresh=false", "--expect-no-changes"])))) return { nodes, steps };
    await configure("2s", "1");
    if (!(await next("config-only up (balancer.connectTimeout: reload)", () => stack.up()))) return { nodes, steps };
    await configure("2s", "2");
    if (!(await next("app-change up (app.env: rolling replace)", () => stack.up()))) return { nodes, steps };
    await next("destroy", () => stack.destroy(), false);
  } finally {
    await stack.remove();
  }
  return { nodes, steps };
}

interface Floor {
  program: string;
  firstUpMs: number;
  noopUpMs: number;
  /** A no-op up by the CLI alone (`up --yes --skip-preview`), as the refresh-off row runs it. */
  noopCliMs: number;
}

/**
 * The engine's own floor: what `pulumi up` costs on this CLI, through the same Automation API calls, for
 * an empty program of each runtime (TypeScript through the same Node.js language host as this program,
 * and YAML): the engine, the CLI's own calls around an up, and the language host, with nothing to deploy.
 */
async function engineFloor(): Promise<Floor[]> {
  const programs: Record<string, Record<string, string>> = {
    "empty TypeScript program": {
      "Pulumi.yaml": "name: floor\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n",
      "index.ts": 'export const greeting = "hello";\n',
    },
    "empty YAML program": { "Pulumi.yaml": "name: floor\nruntime: yaml\noutputs:\n  greeting: hello\n" },
  };
  const floors: Floor[] = [];
  for (const [program, files] of Object.entries(programs)) {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-engine-floor-"));
    try {
      for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(project, file), text);
      // The TypeScript program resolves @pulumi/pulumi and typescript as this project does.
      fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(project, "node_modules"));
      const stack = await EngineStack.open("floor", { projectDir: project });
      try {
        const up = async () => EngineStack.ok(await stack.up()).ms;
        const firstUpMs = await up();
        const noops: number[] = [];
        const cliNoops: number[] = [];
        for (let i = 0; i < FLOOR_RUNS; i++) {
          noops.push(await up());
          cliNoops.push(EngineStack.ok(await stack.cli(["up", "--yes", "--skip-preview", "--expect-no-changes"])).ms);
        }
        floors.push({ program, firstUpMs, noopUpMs: median(noops), noopCliMs: median(cliNoops) });
        log(`floor, ${program}: first up ${firstUpMs} ms, no-op up ${median(noops)} ms (${noops.join(", ")}), by the CLI alone ${median(cliNoops)} ms`);
      } finally {
        await stack.remove();
      }
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  }
  return floors;
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

function renderMarkdown(r: { date: string; command: string; floor: Floor[]; deploys: Deploy[] }): string {
  const ts = r.floor[0];
  const lines = [
    "# wsenv deploy timings on the real Pulumi engine",
    "",
    `\`${r.command}\` · ${r.date}`,
    "",
    "`pulumi up` of this program through the Automation API (`stack.up()`: `pulumi up --yes --skip-preview`, then the stack's outputs and summary): the toolchain's CLI, Node.js language host and provider plugins (`npm run toolchain`), a file backend, the local Docker engine, the node stack (`test/e2e/fixtures/node-app`, 128 MB per node). Every up refreshes every resource first (`refresh: always` in Pulumi.yaml). Each up is checked to leave the balancer answering 200 before the next step. The floor is measured the same way.",
    "",
    "## The engine's floor (same CLI, nothing to deploy)",
    "",
    "| program | first up (s) | no-op up (s, median of 3) | no-op up by the CLI alone (s, median of 3) |",
    "| --- | --- | --- | --- |",
    ...r.floor.map((f) => `| ${f.program} | ${seconds(f.firstUpMs)} | ${seconds(f.noopUpMs)} | ${seconds(f.noopCliMs)} |`),
    "",
    `## This program (s, and × the ${ts.program}'s no-op up: ${seconds(ts.noopUpMs)} s, ${seconds(ts.noopCliMs)} s by the CLI alone for the refresh-off row)`,
    "",
    `| step | ${r.deploys.map((d) => `${d.nodes} node${d.nodes === 1 ? "" : "s"}`).join(" | ")} |`,
    `| --- | ${r.deploys.map(() => "---").join(" | ")} |`,
  ];
  const stepNames = r.deploys[0]?.steps.map((s) => s.step) ?? [];
  for (const step of stepNames) {
    const cells = r.deploys.map((d) => {
      const s = d.steps.find((x) => x.step === step);
      if (!s) return "n/a";
      if (s.error) return `FAILED after ${seconds(s.ms)}: ${s.error.replace(/\|/g, "/")}`;
      const ops = Object.entries(s.ops).map(([op, n]) => `${n} ${op}`).join(", ");
      // The CLI-alone row against the floor measured the same way.
      const floorMs = s.step.startsWith("no-op up, refresh off") ? ts.noopCliMs : ts.noopUpMs;
      return `${seconds(s.ms)} (${(s.ms / floorMs).toFixed(1)}×)${ops ? `: ${ops}` : ""}`;
    });
    lines.push(`| ${step} | ${cells.join(" | ")} |`);
  }
  lines.push("", "## Peak resident memory (MiB: CLI / language host with the program / providers)", "", `| step | ${r.deploys.map((d) => `${d.nodes} node${d.nodes === 1 ? "" : "s"}`).join(" | ")} |`, `| --- | ${r.deploys.map(() => "---").join(" | ")} |`);
  for (const step of stepNames) {
    const cells = r.deploys.map((d) => {
      const s = d.steps.find((x) => x.step === step);
      return s ? PARTS.map((p) => s.peakMiB[p]).join(" / ") : "n/a";
    });
    lines.push(`| ${step} | ${cells.join(" | ")} |`);
  }
  lines.push("", "Memory is sampled every 100 ms from /proc over the processes the CLI starts: `pulumi`; `pulumi-language-nodejs` with the program's `node`; `pulumi-resource-docker` and `pulumi-resource-command` together.", "");
  return lines.join("\n");
}

async function main(): Promise<void> {
  const counts = (arg("--nodes") ?? "1,10,50").split(",").map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 50)) throw new Error("--nodes: whole numbers from 1 to 50, comma-separated");
  for (const image of [NODE_IMAGE, NGINX_IMAGE]) {
    if (spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status !== 0) throw new Error(`missing image ${image}: run \`npm run images -- node nginx\``);
  }
  const missing = currentToolchain().missing;
  if (missing.length > 0) throw new Error(`the toolchain lacks ${missing.map((p) => p.binary).join(", ")}: run \`npm run toolchain\``);
  const floor = await engineFloor();
  const appDir = stageApp("test/e2e/fixtures/node-app", { withWs: true });
  const deploys: Deploy[] = [];
  try {
    for (const [i, nodes] of counts.entries()) deploys.push(await deploy(nodes, appDir, 24_080 + i));
  } finally {
    fs.rmSync(appDir, { recursive: true, force: true });
  }
  const out = { date: new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"), command: `npm run bench:deploy -- ${process.argv.slice(2).join(" ")}`.trim(), floor, deploys };
  const name = arg("--name") ?? "deploy";
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`--name ${name}: letters, digits, - and _ only`);
  fs.writeFileSync(path.join(RESULTS, `${name}.json`), `${JSON.stringify(out, null, 2)}\n`);
  const markdown = renderMarkdown(out);
  fs.writeFileSync(path.join(RESULTS, `${name}.md`), markdown);
  process.stdout.write(markdown);
  log(`wrote bench/results/${name}.{md,json}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`FAILED: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);

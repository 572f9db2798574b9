/**
 * `npm run bench:deploy` (`-- --nodes 1,10` for fewer): how long the program's deploys take on this
 * machine's Docker engine for 1, 10 and 50 app nodes (first up, no-op up, config-only up, app-change up,
 * down) and the program's peak memory, beside the real Pulumi engine's own floor (an empty YAML program
 * on the real CLI, no provider). Writes bench/results/deploy.{md,json}.
 *
 * The Node.js language host and the Docker and command providers cannot be built here (issue 10), so the
 * program's ups run on the e2e runner (test/runner/README.md): the unchanged program under mocks, whose
 * mocks do the provider's Docker work, one resource at a time (the engine runs up to 10 at once). The
 * figures are the Docker side and the program's evaluation; they are not `pulumi up` times.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { currentToolchainDir, readManifest, scratchProjectEnv, yamlHostEntry } from "../scripts/toolchain";
import { removeStackFile, runner, stageFixtureApp, writeStack } from "../test/support/e2e";
import { PROJECT_DIR, log, sleep, treeRssKiB } from "./lib/util";

const NODE_IMAGE = "wsenv-test/node:bookworm";
const NGINX_IMAGE = "wsenv-test/nginx:bookworm";
const RESULTS = path.join(PROJECT_DIR, "bench", "results");

interface Step {
  step: string;
  ms: number;
  /** Resources by what the runner did to them (create, update, replace, delete, same). */
  verbs: Record<string, number>;
  /** Peak RSS of the runner's processes (the program's Node.js process and tsx's), MiB. */
  peakRssMiB: number;
}

interface Deploy {
  nodes: number;
  steps: Step[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** One runner command (the e2e suite's `runner`), timed, with its peak RSS sampled. */
async function runnerStep(step: string, verb: "up" | "down", stack: string): Promise<Step> {
  const started = Date.now();
  let peakKiB = 0;
  let sampler: NodeJS.Timeout | undefined;
  const result = await runner(verb, stack, 900_000, {}, PROJECT_DIR, (pid) => {
    sampler = setInterval(() => (peakKiB = Math.max(peakKiB, treeRssKiB(pid))), 100);
  }).finally(() => clearInterval(sampler));
  const ms = Date.now() - started;
  if (result.code !== 0) throw new Error(`${step}: runner ${verb} exited ${result.code}: ${result.stderr.slice(-1500)}`);
  const verbs: Record<string, number> = {};
  for (const line of result.lines) {
    const v = line.split(" ")[0];
    verbs[v] = (verbs[v] ?? 0) + 1;
  }
  log(`  ${step}: ${(ms / 1000).toFixed(1)} s, ${JSON.stringify(verbs)}, peak ${(peakKiB / 1024).toFixed(0)} MiB`);
  return { step, ms, verbs, peakRssMiB: Math.round(peakKiB / 1024) };
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

/** A timed step only counts if the system it leaves serves: every step is followed by this check. */
async function mustServe(url: string, step: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await getStatus(url)) === 200) return;
    await sleep(200);
  }
  throw new Error(`${step}: ${url} does not answer 200`);
}

async function deploy(nodes: number, appDir: string, port: number): Promise<Deploy> {
  // An e2e-* stack: its file matches the ignored Pulumi.e2e-*.yaml, should a killed run leave it.
  const stack = `e2e-deploy-${nodes}`;
  const write = (connectTimeout: string, mark: string) =>
    writeStack(stack, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", websocketPaths: ["/ws/"], image: NGINX_IMAGE, workerConnections: 8192, connectTimeout },
      "wsenv:app": { stack: "node", image: NODE_IMAGE, nodes, source: path.relative(PROJECT_DIR, appDir), memoryMb: 128, env: { DEPLOY_MARK: mark } },
    });
  const url = `http://127.0.0.1:${port}/`;
  const steps: Step[] = [];
  log(`${nodes} app node(s), stack ${stack}`);
  try {
    write("1500ms", "1");
    steps.push(await runnerStep("first up", "up", stack));
    await mustServe(url, "first up");
    steps.push(await runnerStep("no-op up", "up", stack));
    write("2s", "1");
    steps.push(await runnerStep("config-only up (balancer.connectTimeout: reload)", "up", stack));
    await mustServe(url, "config-only up");
    write("2s", "2");
    steps.push(await runnerStep("app-change up (app.env: rolling replace)", "up", stack));
    await mustServe(url, "app-change up");
    steps.push(await runnerStep("down", "down", stack));
  } finally {
    // After a failed step: what the state still lists (a no-op when the last step's down ran).
    await runner("down", stack, 600_000);
    removeStackFile(stack);
  }
  return { nodes, steps };
}

/** The real engine on an empty YAML program: what any `pulumi up` costs before a program or provider runs. */
function engineFloor(): { firstUpMs: number; noopUpMs: number } | string {
  const { dir } = currentToolchainDir();
  const built = readManifest(dir)?.built ?? [];
  if (!built.includes("pulumi") || !built.includes(yamlHostEntry)) return "not measured: the toolchain (npm run toolchain) has no Pulumi CLI and YAML host";
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-engine-floor-"));
  try {
    fs.mkdirSync(path.join(project, ".state"));
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: floor\nruntime: yaml\noutputs:\n  greeting: hello\n");
    const env = scratchProjectEnv(dir, project, "wsenv-bench");
    const pulumi = (...args: string[]) => {
      const started = Date.now();
      const res = spawnSync(path.join(dir, "bin", "pulumi"), [...args, "--non-interactive"], { cwd: project, env, encoding: "utf8" });
      if (res.status !== 0) throw new Error(`pulumi ${args.join(" ")}: ${res.stderr}`);
      return Date.now() - started;
    };
    pulumi("stack", "init", "floor");
    const firstUpMs = pulumi("up", "--yes");
    const noopUpMs = pulumi("up", "--yes", "--expect-no-changes");
    pulumi("destroy", "--yes");
    return { firstUpMs, noopUpMs };
  } finally {
    fs.rmSync(project, { recursive: true, force: true });
  }
}

function renderMarkdown(r: { date: string; command: string; floor: ReturnType<typeof engineFloor>; deploys: Deploy[] }): string {
  const lines = [
    "# wsenv deploy timings (the e2e runner, not the Pulumi engine)",
    "",
    `\`${r.command}\` · ${r.date}`,
    "",
    "The Node.js language host and the Docker and command providers cannot be built here, so these ups run on the e2e runner (`test/runner`): the unchanged program under mocks, whose mocks do the providers' Docker work **one resource at a time** (the engine runs up to 10 at once). They measure the Docker side and the program's evaluation, not `pulumi up`. Each step is checked to leave the balancer answering 200 before the next.",
    "",
    typeof r.floor === "string"
      ? `Real engine floor: ${r.floor}.`
      : `Real engine floor (the real Pulumi CLI and YAML host, an empty program, file backend): first up ${(r.floor.firstUpMs / 1000).toFixed(2)} s, no-op up ${(r.floor.noopUpMs / 1000).toFixed(2)} s.`,
    "",
    `| step | ${r.deploys.map((d) => `${d.nodes} node${d.nodes === 1 ? "" : "s"}: s / resources / peak MiB`).join(" | ")} |`,
    `| --- | ${r.deploys.map(() => "---").join(" | ")} |`,
  ];
  for (const step of r.deploys[0]?.steps.map((s) => s.step) ?? []) {
    const cells = r.deploys.map((d) => {
      const s = d.steps.find((x) => x.step === step);
      return s ? `${(s.ms / 1000).toFixed(1)} / ${Object.entries(s.verbs).map(([v, n]) => `${n} ${v}`).join(", ") || "-"} / ${s.peakRssMiB}` : "n/a";
    });
    lines.push(`| ${step} | ${cells.join(" | ")} |`);
  }
  lines.push("", "Peak MiB: the resident memory of the runner's processes (tsx and the program's Node.js process, as the language host would run it), sampled every 100 ms.", "");
  return lines.join("\n");
}

async function main(): Promise<void> {
  const counts = (arg("--nodes") ?? "1,10,50").split(",").map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 50)) throw new Error("--nodes: whole numbers from 1 to 50, comma-separated");
  for (const image of [NODE_IMAGE, NGINX_IMAGE]) {
    if (spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status !== 0) throw new Error(`missing image ${image}: run \`npm run images -- node nginx\``);
  }
  const floor = engineFloor();
  log(`real engine floor: ${JSON.stringify(floor)}`);
  const appDir = stageFixtureApp("node-app", { withWs: true });
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
  fs.writeFileSync(path.join(RESULTS, `${name}.md`), renderMarkdown(out));
  log(`wrote bench/results/${name}.{md,json}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`FAILED: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);

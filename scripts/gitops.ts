// What the GitOps workflows run, runnable here too (no Pulumi CLI, no Docker):
//   npm run gitops:stacks -- --base REF [--all]       the touched stacks, as a JSON list (a workflow matrix)
//   npm run render:diff -- --base REF --stack NAME    the base's nginx.conf to the head's, as a unified diff
//   npm run gitops:report -- --base REF [--preview-dir DIR] [--out FILE]
//                                                     the pull-request comment; exit 1 when a config is invalid
//   pulumi stack output --json | npm run gitops:summary -- --stack NAME
//                                                     an up's job summary (url, wsUrl)
// The head is the working tree; the base is rendered from a git worktree of REF by the base's own code.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Rendered, StackReport, commentBody, touchedStacks, upSummary } from "./gitopsReport";
import { listStacks } from "../lib/stackConfig";

const projectDir = process.cwd();
const git = (args: string[], cwd = projectDir) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

function option(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
}

/** A stack rendered by `dir`'s own `npm run render` (its scripts/render.ts), or this tree's if it has none. */
function renderIn(dir: string, stack: string): Rendered {
  if (!fs.existsSync(path.join(dir, `Pulumi.${stack}.yaml`))) return { kind: "absent" };
  const own = path.join(dir, "scripts", "render.ts");
  const script = fs.existsSync(own) ? own : path.join(projectDir, "scripts", "render.ts");
  const tsx = path.join(projectDir, "node_modules", ".bin", "tsx");
  const result = spawnSync(tsx, [script, "--stack", stack, "--json"], { cwd: dir, encoding: "utf8", timeout: 300_000 });
  if (result.status === 0) {
    // A base from before `--json` prints nginx.conf alone.
    if (!result.stdout.startsWith("{")) return { kind: "conf", nginxConf: result.stdout };
    const files = JSON.parse(result.stdout) as { nginxConf: string; snippet: string };
    return { kind: "conf", ...files };
  }
  const lines = result.stderr.trim().split("\n");
  // `invalid stack config (N problems):` then one indented line per problem.
  const problems = lines[0]?.startsWith("invalid stack config") ? lines.slice(1).map((l) => l.trim()) : lines;
  return { kind: "invalid", problems };
}

/** Runs `use` with a checkout of `ref` (a detached git worktree sharing this tree's node_modules). */
function withWorktree<T>(ref: string, use: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-base-"));
  git(["worktree", "add", "--quiet", "--detach", dir, ref]);
  try {
    fs.symlinkSync(path.join(projectDir, "node_modules"), path.join(dir, "node_modules"));
    return use(dir);
  } finally {
    git(["worktree", "remove", "--force", dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The balancer's files as the diff shows them (none for an absent or invalid stack). */
const filesOf = (r: Rendered): Record<string, string | undefined> => (r.kind === "conf" ? { "nginx.conf": r.nginxConf, "wsenv-snippet.conf": r.snippet } : {});

/** `diff -u` of each balancer file, labelled base/<stack>/<file> and head/<stack>/<file>; empty when equal. */
function unifiedDiff(before: Rendered, after: Rendered, stack: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-diff-"));
  try {
    const [a, b] = [filesOf(before), filesOf(after)];
    // A file one side could not render (a base from before the snippet was printed) is left out.
    return ["nginx.conf", "wsenv-snippet.conf"]
      .filter((file) => !(file in a && a[file] === undefined) && !(file in b && b[file] === undefined))
      .map((file) => {
        fs.writeFileSync(path.join(dir, "base"), a[file] ?? "");
        fs.writeFileSync(path.join(dir, "head"), b[file] ?? "");
        const result = spawnSync("diff", ["-u", "--label", `base/${stack}/${file}`, "--label", `head/${stack}/${file}`, path.join(dir, "base"), path.join(dir, "head")], { encoding: "utf8" });
        if (result.status !== 0 && result.status !== 1) throw new Error(`diff failed: ${result.stderr}`);
        return result.stdout;
      })
      .join("");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function reports(base: string, stacks: string[], previewDir: string | undefined): StackReport[] {
  const bases = withWorktree(forkPoint(base), (dir) => stacks.map((stack) => renderIn(dir, stack)));
  return stacks.map((stack, i) => {
    const head = renderIn(projectDir, stack);
    const preview = previewDir && fs.existsSync(path.join(previewDir, `${stack}.txt`)) ? fs.readFileSync(path.join(previewDir, `${stack}.txt`), "utf8") : undefined;
    return { stack, base: bases[i], head, diff: head.kind === "invalid" ? "" : unifiedDiff(bases[i], head, stack), preview };
  });
}

/** Where the head left the base, as a pull request compares: the merge base of REF and HEAD. */
const forkPoint = (base: string) => git(["merge-base", base, "HEAD"]);

/** Stacks of the head, and of the base for stack files the change deletes. */
function stacksTouched(base: string, all: boolean): string[] {
  // The working tree against the fork point (commits and uncommitted edits alike), and new files.
  const changed = [...git(["diff", "--name-only", forkPoint(base)]).split("\n"), ...git(["ls-files", "--others", "--exclude-standard"]).split("\n")].filter(Boolean);
  const stacks = listStacks(projectDir);
  const deleted = changed.map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1]).filter((s): s is string => !!s && !stacks.includes(s));
  return all ? stacks : touchedStacks(changed, [...stacks, ...deleted]);
}

function main(argv: string[]): number {
  const [command] = argv;
  if (command === "summary") {
    const stack = option(argv, "--stack");
    if (!stack) {
      process.stderr.write("summary needs --stack NAME (and the stack outputs as JSON on stdin)\n");
      return 2;
    }
    process.stdout.write(upSummary(stack, JSON.parse(fs.readFileSync(0, "utf8")) as Record<string, unknown>));
    return 0;
  }
  const base = option(argv, "--base");
  if (!base || !["stacks", "render-diff", "report"].includes(command)) {
    process.stderr.write("usage: tsx scripts/gitops.ts stacks|render-diff|report --base REF [--stack NAME] [--preview-dir DIR] [--out FILE] [--all] | summary --stack NAME\n");
    return 2;
  }
  if (command === "stacks") {
    process.stdout.write(`${JSON.stringify(stacksTouched(base, argv.includes("--all")))}\n`);
    return 0;
  }
  if (command === "render-diff") {
    const stack = option(argv, "--stack");
    if (!stack) {
      process.stderr.write("render-diff needs --stack NAME\n");
      return 2;
    }
    const [report] = reports(base, [stack], undefined);
    if (report.head.kind === "invalid") {
      process.stderr.write(`invalid stack config:\n  ${report.head.problems.join("\n  ")}\n`);
      return 2;
    }
    process.stdout.write(report.diff);
    return 0;
  }
  const found = reports(base, stacksTouched(base, false), option(argv, "--preview-dir"));
  const body = commentBody(found, { base, head: git(["rev-parse", "--short", "HEAD"]) });
  const out = option(argv, "--out");
  if (out) fs.writeFileSync(out, body);
  else process.stdout.write(body);
  return found.some((r) => r.head.kind === "invalid") ? 1 : 0;
}

process.exit(main(process.argv.slice(2)));

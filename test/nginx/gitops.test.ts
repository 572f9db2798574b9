import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { COMMENT_MARKER } from "../../scripts/gitopsReport";

/**
 * The GitOps scripts on a repository of their own: a copy of what rendering needs, committed as the base,
 * then changed the way pull requests change it.
 */

const PROJECT_DIR = path.resolve(__dirname, "../..");
const TSX = path.join(PROJECT_DIR, "node_modules/.bin/tsx");

let repo: string;
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();
const gitops = (...args: string[]) => spawnSync(TSX, [path.join(repo, "scripts/gitops.ts"), ...args], { cwd: repo, encoding: "utf8", timeout: 120_000 });
const writeStack = (stack: string, config: Record<string, unknown>) => fs.writeFileSync(path.join(repo, `Pulumi.${stack}.yaml`), stringify({ config }));
const app = { stack: "apache-php", nodes: 2, wsCommand: "php server.php", source: "./apps/chat-php" };

describe("GitOps scripts: touched stacks, render:diff and the pull-request comment", () => {
  jest.setTimeout(180_000);
  let base: string;

  beforeAll(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-gitops-"));
    for (const part of ["lib", "scripts", "apps", "components", "index.ts", "Pulumi.yaml", "package.json", "tsconfig.json"]) {
      fs.cpSync(path.join(PROJECT_DIR, part), path.join(repo, part), { recursive: true });
    }
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(repo, "node_modules"));
    fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules\n.wsenv/\n");
    writeStack("chat", { "wsenv:balancer": { port: 8080, snippet: "add_header X-A a;" }, "wsenv:app": app });
    writeStack("other", { "wsenv:app": app });
    git("init", "--quiet", "--initial-branch=main");
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "--quiet", "--allow-empty", "-m", "empty");
    git("add", ".");
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "--quiet", "-m", "base");
    base = git("rev-parse", "HEAD");
  });

  afterEach(() => {
    git("checkout", "--quiet", "--", ".");
    git("clean", "--quiet", "-fd", "--exclude=node_modules");
  });

  afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

  test("no change touches no stack; a stack file touches that stack; a program file touches every stack", () => {
    expect(JSON.parse(gitops("stacks", "--base", base).stdout)).toEqual([]);
    writeStack("chat", { "wsenv:balancer": { port: 8080, snippet: "add_header X-B b;" }, "wsenv:app": app });
    expect(JSON.parse(gitops("stacks", "--base", base).stdout)).toEqual(["chat"]);
    fs.appendFileSync(path.join(repo, "lib/nginx.ts"), "\n");
    expect(JSON.parse(gitops("stacks", "--base", base).stdout)).toEqual(["chat", "other"]);
  });

  test("a changed snippet: the diff shows the snippet's line and the config revision it changes", () => {
    writeStack("chat", { "wsenv:balancer": { port: 8080, snippet: "add_header X-B b;" }, "wsenv:app": app });
    const result = gitops("render-diff", "--base", base, "--stack", "chat");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("--- base/chat/wsenv-snippet.conf\n+++ head/chat/wsenv-snippet.conf");
    expect(result.stdout).toContain("\n-add_header X-A a;\n+add_header X-B b;\n");
    expect(result.stdout).toMatch(/\n-\s+return 200 "ok wsenv-config=[0-9a-f]{16}\\n";\n\+\s+return 200 "ok wsenv-config=[0-9a-f]{16}\\n";/);
  });

  test("a changed node count: the diff shows the upstreams gaining a server each", () => {
    writeStack("chat", { "wsenv:balancer": { port: 8080, snippet: "add_header X-A a;" }, "wsenv:app": { ...app, nodes: 3 } });
    const diff = gitops("render-diff", "--base", base, "--stack", "chat").stdout;
    const added = diff.split("\n").filter((l) => l.startsWith("+") && l.includes(" server wsenv-chat-app-"));
    expect(added).toHaveLength(2); // one in each upstream, the node with index 2
    expect(added.every((l) => /-app-[0-9a-f]{8}-2:/.test(l))).toBe(true);
  });

  test("an invalid stack: render:diff exits 2 with the per-field problems; the comment names them and the report exits 1", () => {
    writeStack("chat", { "wsenv:balancer": { port: 0 }, "wsenv:app": { ...app, nodes: 0 } });
    const diff = gitops("render-diff", "--base", base, "--stack", "chat");
    expect(diff.status).toBe(2);
    expect(diff.stderr).toContain("wsenv:balancer.port: must be a port from 1 to 65535 (got 0)");
    const report = gitops("report", "--base", base);
    expect(report.status).toBe(1);
    expect(report.stdout.startsWith(`${COMMENT_MARKER}\n`)).toBe(true);
    expect(report.stdout).toContain("**invalid config in `chat`**");
    expect(report.stdout).toContain("wsenv:app.nodes: must be at least 1 (got 0)");
  });

  test("the comment has one section per touched stack, the diff fenced, and the preview when given", () => {
    writeStack("chat", { "wsenv:balancer": { port: 8080, snippet: "add_header X-B b;" }, "wsenv:app": app });
    writeStack("new", { "wsenv:app": app });
    const previews = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-previews-"));
    fs.writeFileSync(path.join(previews, "chat.txt"), "Previewing update (chat)\n ~ 1 to update\n");
    const out = path.join(previews, "comment.md");
    const report = gitops("report", "--base", base, "--preview-dir", previews, "--out", out);
    expect(report.status).toBe(0);
    const body = fs.readFileSync(out, "utf8");
    expect(body).toContain("2 stacks touched (`chat`, `new`)");
    expect(body).toContain("### Stack `chat`");
    expect(body).toContain("```diff\n--- base/chat/nginx.conf");
    expect(body).toContain("Previewing update (chat)");
    expect(body).toContain("### Stack `new`");
    expect(body).toContain("(a new stack)");
    fs.rmSync(previews, { recursive: true, force: true });
  });
});

import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineStack } from "../../harness/engine";
import { LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, freePort, httpGet } from "../support/e2e";

/**
 * The GitOps workflows' steps on the real engine, in a repository of their own (a copy of the program,
 * committed): a stack deployed from the main branch; a pull request that changes its snippet gets what
 * pull-request.yml runs (the touched stacks, `pulumi preview` with the policy pack, the rendered nginx
 * diff, the comment); then what drift.yml runs (`pulumi refresh --expect-no-changes`) sees a container
 * changed behind Pulumi's back.
 */
const STACK = "e2e-gitops";
const PROGRAM = ["index.ts", "components", "lib", "apps", "policy", "scripts", "Pulumi.yaml", "package.json", "tsconfig.json"];

describeWithEngine("GitOps on the real engine: a pull request's preview and diff, and drift", () => {
  jest.setTimeout(420_000);
  let repo: string;
  let stack: EngineStack;
  let base: string;
  let port: number;
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: repo, encoding: "utf8" }).trim();
  const gitops = (...args: string[]) => spawnSync(path.join(PROJECT_DIR, "node_modules/.bin/tsx"), [path.join(repo, "scripts/gitops.ts"), ...args], { cwd: repo, encoding: "utf8", timeout: 300_000 });
  const config = (snippet: string) => ({
    "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192, snippet },
    "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, nodes: 1, wsCommand: "php server.php", source: "./apps/chat-php" },
  });

  beforeAll(async () => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-gitops-engine-"));
    for (const part of PROGRAM) fs.cpSync(path.join(PROJECT_DIR, part), path.join(repo, part), { recursive: true });
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(repo, "node_modules"));
    fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules\n.wsenv/\n");
    port = await freePort();
    // main: the stack as deployed (its file, salt included, committed as a team would).
    stack = await EngineStack.open(STACK, { projectDir: repo });
    await stack.configure(config("add_header X-Stage main;"));
    git("init", "--quiet", "--initial-branch=main");
    git("add", ".");
    git("commit", "--quiet", "-m", "main");
    base = git("rev-parse", "HEAD");
    EngineStack.ok(await stack.up());
  });

  afterAll(async () => {
    await stack?.remove();
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
  });

  test("a pull request changing the snippet: its stack is touched, the preview passes the policy pack and shows one update, the comment shows the diff", async () => {
    git("checkout", "--quiet", "-b", "pr");
    await stack.configure(config("add_header X-Stage pull-request;"));
    git("commit", "--quiet", "-am", "a new header");

    const touched = gitops("stacks", "--base", "main");
    expect(JSON.parse(touched.stdout)).toEqual([STACK]);

    // The preview job: refresh, the policy pack, the text the comment shows.
    const preview = await stack.cli(["preview", "--refresh", "--diff", "--policy-pack", path.join(repo, "policy")]);
    expect(preview.ok).toBe(true);
    expect(preview.messages).toMatch(/~ command:local:Command: \(update\)[\s\S]*wsenv-balancer-config/);
    // The pack ran (it lists the packs it ran) and nothing broke a rule (it would list the violations).
    expect(preview.messages).toMatch(/Policy Packs run:\s+Name\s+Version\s+wsenv\|local\|\S+\/policy\s+0\.1\.0/);
    expect(preview.messages).not.toMatch(/mandatory|advisory/);
    const previews = path.join(repo, "previews");
    fs.mkdirSync(previews);
    fs.writeFileSync(path.join(previews, `${STACK}.txt`), preview.messages);

    // The comment job.
    const report = gitops("report", "--base", "main", "--preview-dir", previews, "--out", path.join(repo, "comment.md"));
    expect(report.status).toBe(0);
    const comment = fs.readFileSync(path.join(repo, "comment.md"), "utf8");
    expect(comment).toContain(`1 stack touched (\`${STACK}\`)`);
    expect(comment).toContain("-add_header X-Stage main;");
    expect(comment).toContain("+add_header X-Stage pull-request;");
    expect(comment).toContain("<summary>pulumi preview</summary>");
    expect(comment).toContain("wsenv-balancer-config");

    // Merged and up (up.yml): the new header serves.
    EngineStack.ok(await stack.up());
    expect((await httpGet(`http://127.0.0.1:${port}/`)).headers["x-stage"]).toBe("pull-request");
    expect(base).toMatch(/^[0-9a-f]{40}$/);
  });

  test("drift: a node's memory changed behind Pulumi's back fails `refresh --expect-no-changes`, naming the container; an up puts it back", async () => {
    EngineStack.ok(await stack.refresh({ expectNoChanges: true }));
    const node = execFileSync("docker", ["ps", "--format", "{{.Names}}", "--filter", `name=wsenv-${STACK}-app-`], { encoding: "utf8" }).trim();
    execFileSync("docker", ["update", "--memory", "300m", "--memory-swap", "300m", node]);
    const drift = await stack.refresh({ expectNoChanges: true });
    expect(drift.ok).toBe(false);
    expect(drift.steps.filter((s) => s.op === "refresh" && s.diffs.length > 0).map((s) => `${s.name}: ${s.diffs.join(",")}`)).toEqual(["wsenv-node-0-container: memory,memorySwap"]);
    EngineStack.ok(await stack.up());
    expect(execFileSync("docker", ["inspect", "-f", "{{.HostConfig.Memory}}", node], { encoding: "utf8" }).trim()).toBe(String(512 * 1024 * 1024));
    EngineStack.ok(await stack.refresh({ expectNoChanges: true }));
  });
});

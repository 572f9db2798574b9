import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { findAll, parseNginx } from "../support/nginxParse";
import { durationSeconds } from "../../lib/grammar";
import { findNginx, hostLayout, nginxTest, requireOrSkip, tempDir } from "../support/nginxBinary";

const PROJECT_DIR = path.resolve(__dirname, "../..");
const TSX = path.join(PROJECT_DIR, "node_modules/.bin/tsx");
const render = (cwd: string, stack: string) => spawnSync(TSX, [path.join(PROJECT_DIR, "scripts/render.ts"), "--stack", stack], { cwd, encoding: "utf8", timeout: 60_000 });

const nginx = findNginx();
const maybe = requireOrSkip("nginx (Debian nginx-light)", nginx !== null) ? describe : describe.skip;

maybe("npm run render (offline, no Pulumi CLI, no Docker)", () => {
  jest.setTimeout(60_000);

  test("prints the dev stack's nginx.conf, which passes nginx -t and proxies /ws/ with a long timeout", () => {
    const result = render(PROJECT_DIR, "dev");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const tree = parseNginx(result.stdout);
    const ws = findAll(tree, "location").find((l) => l.args[0] === "/ws/");
    const timeout = ws?.block?.find((d) => d.name === "proxy_read_timeout")?.args[0];
    expect(durationSeconds(timeout ?? "0s")).toBeGreaterThan(60);
    expect(findAll(tree, "map").some((m) => m.args.join(" ") === "$http_upgrade $connection_upgrade")).toBe(true);
    expect(findAll(tree, "upstream").map((u) => u.args[0])).toEqual(["wsenv_http", "wsenv_ws"]);

    // The test copy: host paths instead of the image's, node names pointed at 127.0.0.1.
    const dir = tempDir("wsenv-render-");
    const layout = hostLayout(dir);
    const conf = result.stdout
      .replace("user nginx;", `user ${layout.user};`)
      .split("/etc/nginx/wsenv-snippet.conf").join(layout.snippetFile)
      .split("/var/log/nginx/").join(`${dir}/`);
    const hosts = [...new Set(findAll(tree, "server").filter((s) => !s.block).map((s) => s.args[0].split(":")[0]))];
    expect(hosts).toHaveLength(2);
    expect(nginxTest(nginx!, dir, conf, "", hosts)).toEqual({ ok: true, output: expect.stringContaining("test is successful") });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a stack whose websocket path carries a directive exits non-zero and names the key", () => {
    const dir = tempDir("wsenv-render-bad-");
    fs.writeFileSync(
      path.join(dir, "Pulumi.bad.yaml"),
      'config:\n  wsenv:balancer:\n    websocketPaths: ["/ws/; return 200 x;"]\n  wsenv:app:\n    source: ./app\n',
    );
    const result = render(dir, "bad");
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain('wsenv:balancer.websocketPaths[0]: must be a path like /ws/ (got "/ws/; return 200 x;")');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a stack with an encrypted wsCommand is refused, naming the key, instead of rendering [secret]", () => {
    const dir = tempDir("wsenv-render-secure-");
    fs.mkdirSync(path.join(dir, "app"));
    fs.writeFileSync(
      path.join(dir, "Pulumi.sneaky.yaml"),
      "config:\n  wsenv:app:\n    source: ./app\n    wsCommand:\n      secure: v1:abc:def\n  wsenv:secretEnv:\n    TOKEN:\n      secure: v1:ghi:jkl\n",
    );
    const result = render(dir, "sneaky");
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n").slice(1)).toEqual([
      "  wsenv:app.wsCommand: must be plain text, not a secret (secure:); only wsenv:secretEnv and wsenv:tlsKey hold secrets, so that a review sees what will run",
    ]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

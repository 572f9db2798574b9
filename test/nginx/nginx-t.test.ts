import * as fs from "fs";
import * as path from "path";
import { appNodeName } from "../../lib/naming";
import { renderBalancerFiles } from "../../lib/nginx";
import { STACK_NAMES } from "../../lib/presets";
import { parseWsenvConfig } from "../../lib/schema";
import { tlsFileName } from "../../lib/tls";
import { findNginx, hostLayout, nginxTest, requireOrSkip, tempDir } from "../support/nginxBinary";

const nginx = findNginx();
const run = requireOrSkip("nginx (Debian nginx-light)", nginx !== null);
const maybe = run ? describe : describe.skip;

const pathSets = [["/ws/"], ["/ws/", "/socket.io/"], ["/chat/live"]];
const snippets = ["", "location /extra/ {\n    return 204;\n}\nadd_header X-Frame-Options DENY;"];
const matrix = STACK_NAMES.flatMap((stack) =>
  [1, 3].flatMap((nodes) =>
    [false, true].flatMap((sticky) => pathSets.flatMap((websocketPaths) => snippets.map((snippet) => ({ stack, nodes, sticky, websocketPaths, snippet })))),
  ),
);

maybe("real nginx -t accepts every generated config", () => {
  const dir = tempDir("wsenv-nginx-t-");
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(matrix)("$stack, $nodes node(s), sticky $sticky, paths $websocketPaths, snippet length $snippet.length", (c) => {
    const spec = parseWsenvConfig({
      // Both forms of workerProcesses: the keyword and a count.
      balancer: { sticky: c.sticky, websocketPaths: c.websocketPaths, snippet: c.snippet, workerProcesses: c.nodes === 1 ? "auto" : 3 },
      app: { stack: c.stack, nodes: c.nodes, source: "./apps/chat-php", ...(c.stack === "apache-php" ? { wsCommand: "php server.php" } : {}) },
    });
    const hosts = Array.from({ length: c.nodes }, (_, i) => appNodeName("wsenv-dev", "0123abcd", i));
    const files = renderBalancerFiles({ stackName: "dev", balancer: spec.balancer, httpPort: spec.app.httpPort, wsPort: spec.app.wsPort, nodeHosts: hosts }, hostLayout(dir));
    const result = nginxTest(nginx!, dir, files.nginxConf, files.snippet, hosts);
    expect(result).toEqual({ ok: true, output: expect.stringContaining("test is successful") });
  });

  test("a snippet with a bad directive fails nginx -t, naming the snippet file and the line it is on there", () => {
    const spec = parseWsenvConfig({ balancer: { snippet: "add_header X-A a;\nno_such_directive on;" }, app: { source: "./apps/chat-php" } });
    const hosts = [appNodeName("wsenv-dev", "0123abcd", 0)];
    // The files exactly as the balancer gets them: the line is counted in the rendered snippet file.
    const files = renderBalancerFiles({ stackName: "dev", balancer: spec.balancer, httpPort: 80, wsPort: 80, nodeHosts: hosts }, hostLayout(dir));
    const line = files.snippet.split("\n").findIndex((l) => l.includes("no_such_directive")) + 1;
    expect(line).toBeGreaterThan(0);
    const result = nginxTest(nginx!, dir, files.nginxConf, files.snippet, hosts);
    expect(result.ok).toBe(false);
    expect(result.output).toContain(`unknown directive "no_such_directive" in ${dir}`);
    expect(result.output).toMatch(new RegExp(`wsenv-snippet\\.conf:${line}\\b`));
  });

  /** nginx -t of a TLS config whose files hold the fixture certificate `a.crt` and the key `keyFile`. */
  const testTls = (tls: Record<string, unknown>, keyFile: string) => {
    const pem = (name: string) => fs.readFileSync(path.join(__dirname, "../fixtures/tls", name), "utf8");
    const spec = parseWsenvConfig({ balancer: { tls: { certificate: pem("a.crt"), ...tls } }, app: { source: "./apps/chat-php", wsCommand: "php server.php" }, tlsKey: "checked elsewhere" });
    const hosts = [appNodeName("wsenv-dev", "0123abcd", 0)];
    const layout = hostLayout(dir);
    const name = tlsFileName(pem("a.crt"));
    fs.mkdirSync(layout.tlsDir, { recursive: true });
    fs.writeFileSync(path.join(layout.tlsDir, `${name}.crt`), pem("a.crt"));
    fs.writeFileSync(path.join(layout.tlsDir, `${name}.key`), pem(keyFile), { mode: 0o600 });
    const files = renderBalancerFiles({ stackName: "dev", balancer: spec.balancer, httpPort: 80, wsPort: 8000, nodeHosts: hosts, tlsFileName: name }, layout);
    return nginxTest(nginx!, dir, files.nginxConf, files.snippet, hosts);
  };

  test.each([
    ["redirecting plain HTTP", { redirectHttp: true, hsts: false }],
    ["serving both, with HSTS", { redirectHttp: false, hsts: true }],
  ])("with TLS, %s: nginx -t loads the certificate and key from their files", (_, tls) => {
    expect(testTls(tls, "a.key")).toEqual({ ok: true, output: expect.stringContaining("test is successful") });
  });

  test("with TLS and a key of another certificate, nginx -t fails (the config step's last line of defence)", () => {
    const result = testTls({}, "b.key");
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/key values mismatch/);
  });
});

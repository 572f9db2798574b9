import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { ChatClient, LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, freePort, httpGet, leftovers } from "../support/e2e";
import { EngineStack, changes } from "../../harness/engine";

// The chat app deployed from each kind of source, into ROOT and into a named context, on the real engine.
const STACK = "e2e-sources";

describeWithEngine("deploy sources", () => {
  jest.setTimeout(240_000);
  let port: number;
  let scratch: string;
  let server: http.Server;
  let archiveUrl: string;
  let repoUrl: string;
  let stack: EngineStack;

  const deploy = async (app: Record<string, unknown>) => {
    await stack.configure({
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192 },
      "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, nodes: 1, wsCommand: "php server.php", ...app },
    });
    return EngineStack.ok(await stack.up());
  };

  const chatWorks = async (pagePath: string) => {
    const page = await httpGet(`http://127.0.0.1:${port}${pagePath}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="messages"');
    const [a, b] = [await ChatClient.open(`ws://127.0.0.1:${port}/ws/`), await ChatClient.open(`ws://127.0.0.1:${port}/ws/`)];
    a.send("a", `via ${pagePath}`);
    await b.waitFor((m) => m.text === `via ${pagePath}`);
    a.close();
    b.close();
  };

  beforeAll(async () => {
    port = await freePort();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-e2e-sources-"));
    const app = path.join(PROJECT_DIR, "apps/chat-php");
    // An archive with one top-level folder, as release tarballs have, served over loopback HTTP (so the
    // stack opts in to private addresses).
    fs.cpSync(app, path.join(scratch, "chat-php-1.0"), { recursive: true });
    await tar.c({ gzip: true, file: path.join(scratch, "chat.tar.gz"), cwd: scratch }, ["chat-php-1.0"]);
    server = http.createServer((req, res) => {
      if (req.url === "/chat.tar.gz") res.writeHead(200).end(fs.readFileSync(path.join(scratch, "chat.tar.gz")));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    archiveUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/chat.tar.gz`;
    // A local bare git repository holding the app (so the stack opts in to local git).
    const work = path.join(scratch, "work");
    fs.cpSync(app, work, { recursive: true });
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: work });
    git("init", "-q", "-b", "main");
    git("add", ".");
    git("commit", "-qm", "chat");
    execFileSync("git", ["clone", "-q", "--bare", work, path.join(scratch, "chat.git")]);
    repoUrl = `file://${path.join(scratch, "chat.git")}`;
    stack = await EngineStack.open(STACK);
  });

  afterAll(async () => {
    await stack?.remove();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  test("from a local folder into ROOT", async () => {
    const up = await deploy({ source: "./apps/chat-php" });
    expect(up.outputs.deployed).toBe("./apps/chat-php");
    await chatWorks("/");
  });

  test("from a .tar.gz archive over HTTP into ROOT: the same app, so the same image and nodes", async () => {
    const up = await deploy({ source: archiveUrl, allowPrivateNetwork: true });
    expect(up.outputs.deployed).toBe(archiveUrl);
    // Same bytes as the folder: same content hash, nothing to rebuild or replace.
    expect(changes(up).filter((c) => c.includes("docker:index/container:Container"))).toEqual([]);
    await chatWorks("/");
  });

  test("from a git repository into the named context chat", async () => {
    const up = await deploy({ source: repoUrl, ref: "main", context: "chat", allowLocalGit: true });
    expect(String(up.outputs.deployed)).toMatch(new RegExp(`^${repoUrl}@[0-9a-f]{40}$`));
    expect(up.outputs.url).toBe(`http://localhost:${port}/chat/`);
    await chatWorks("/chat/");
    expect((await httpGet(`http://127.0.0.1:${port}/`)).status).not.toBe(200);
  });

  test("destroy leaves nothing of the stack", async () => {
    EngineStack.ok(await stack.destroy());
    expect(leftovers("wsenv-e2e-sources-")).toEqual([]);
  });
});

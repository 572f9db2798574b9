import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { ChatClient, LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, eventually, freePort, httpGet, leftovers } from "../support/e2e";
import { EngineStack, changes } from "../../harness/engine";

/**
 * The library as a user gets it: `npm pack` of this repository, installed into a new Pulumi project in a
 * temp folder (its own package.json, Pulumi.yaml, stack file and app; nothing from this repository but
 * the tarball and the chat app's files), whose program declares two Environments side by side.
 */

const STACK = "e2e-package";
const PACKAGE_JSON = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as { devDependencies: Record<string, string> };

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { Environment } from "wsenv";

export = async () => {
  const config = new pulumi.Config();
  const ports = config.requireObject<{ chat: number; admin: number }>("ports");
  const images = config.requireObject<{ nginx: string; php: string }>("images");
  const chat = await Environment.create("chat", {
    app: { stack: "apache-php", image: images.php, nodes: 2, source: "./chat", wsCommand: "php server.php" },
    balancer: { port: ports.chat, listenAddress: "127.0.0.1", image: images.nginx, websocketPaths: ["/ws/"], workerConnections: 4096 },
    secretEnv: { DB_PASSWORD: config.requireSecret("dbPassword") },
  });
  const admin = await Environment.create("admin", {
    app: { stack: "apache-php", image: images.php, source: "./chat" },
    balancer: { port: ports.admin, listenAddress: "127.0.0.1", image: images.nginx, workerConnections: 4096 },
  });
  return { chatUrl: chat.url, chatWsUrl: chat.wsUrl, adminUrl: admin.url, chatNodes: chat.nodes };
};
`;

function sh(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
}

describeWithEngine("the packed library in a new program", () => {
  jest.setTimeout(600_000);
  let project: string;
  let stack: EngineStack;

  beforeAll(async () => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-consumer-"));
    // prepack builds dist/; the tarball holds dist/, README.md and package.json only.
    const tarball = sh("npm", ["pack", "--silent", "--pack-destination", project], PROJECT_DIR).trim().split("\n").pop()!;
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "wsenv-consumer", private: true, dependencies: { wsenv: `file:./${tarball}`, "@pulumi/pulumi": PACKAGE_JSON.devDependencies["@pulumi/pulumi"], typescript: PACKAGE_JSON.devDependencies.typescript } }, null, 2),
    );
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), stringify({ name: "consumer", runtime: { name: "nodejs", options: { typescript: true } } }));
    const [chatPort, adminPort] = [await freePort(), await freePort()];
    fs.writeFileSync(path.join(project, "index.ts"), PROGRAM);
    fs.cpSync(path.join(PROJECT_DIR, "apps", "chat-php"), path.join(project, "chat"), { recursive: true });
    sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], project);
    stack = await EngineStack.open(STACK, { projectDir: project });
    await stack.configure(
      { "consumer:ports": { chat: chatPort, admin: adminPort }, "consumer:images": { nginx: LOCAL_IMAGES.nginx, php: LOCAL_IMAGES.php } },
      { "consumer:dbPassword": "pw-not-in-names" },
    );
  });

  afterAll(async () => {
    await stack?.remove();
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  test("the tarball holds the built library with its types, and no program, tests or sources", () => {
    const installed = path.join(project, "node_modules", "wsenv");
    expect(fs.existsSync(path.join(installed, "dist", "components", "index.js"))).toBe(true);
    expect(fs.existsSync(path.join(installed, "dist", "components", "index.d.ts"))).toBe(true);
    for (const absent of ["index.ts", "test", "components", "lib", "scripts", "bench"]) expect(fs.existsSync(path.join(installed, absent))).toBe(false);
  });

  test("deploys both environments side by side; both answer, chat over WebSockets too; a second up changes nothing", async () => {
    const first = EngineStack.ok(await stack.up());
    const outputs = first.outputs as { chatUrl: string; chatWsUrl: string; adminUrl: string; chatNodes: { name: string }[] };
    expect(outputs.chatNodes.map((n) => n.name)).toEqual([expect.stringMatching(/^chat-e2e-package-app-[0-9a-f]{8}-0$/), expect.stringMatching(/-1$/)]);
    for (const url of [outputs.chatUrl, outputs.adminUrl]) {
      const local = url.replace("localhost", "127.0.0.1");
      await eventually(async () => (await httpGet(local)).status === 200, 60_000);
    }
    const client = await ChatClient.open(outputs.chatWsUrl.replace("localhost", "127.0.0.1"));
    client.close();
    expect(leftovers("chat-e2e-package-").length).toBeGreaterThan(0);
    expect(leftovers("admin-e2e-package-").length).toBeGreaterThan(0);
    expect(JSON.stringify(outputs)).not.toContain("pw-not-in-names");

    EngineStack.ok(await stack.preview({ expectNoChanges: true }));
    const second = EngineStack.ok(await stack.up());
    expect(changes(second)).toEqual([]);
    expect(second.outputs).toEqual(first.outputs);
  });

  test("destroy removes every container, network and image of both", async () => {
    EngineStack.ok(await stack.destroy());
    expect([...leftovers("chat-e2e-package-"), ...leftovers("admin-e2e-package-")]).toEqual([]);
  });
});

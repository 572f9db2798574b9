import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { currentToolchain, toolchainEnv } from "../../scripts/toolchainPlan";
import { EngineStack, changes } from "../../harness/engine";
import { ChatClient, LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, eventually, freePort, httpGet, leftovers } from "../support/e2e";

// The component package from another language: examples/yaml, a Pulumi YAML program that declares two
// wsenv:index:Environment resources through the plugin in provider/ (the Node.js language host runs it),
// deployed on the real engine. Its app is the repository's apps/chat-php, two folders up: the example
// allows that on purpose (app.sourceRoot).
const EXAMPLE = path.join(PROJECT_DIR, "examples", "yaml");
const STACK = "e2e-yaml";

/** Two clients on one environment: a message from one reaches the other. */
async function relays(wsUrl: string, text: string): Promise<void> {
  const [a, b] = [await ChatClient.open(wsUrl), await ChatClient.open(wsUrl)];
  try {
    a.send("yaml", text);
    await b.waitFor((m) => m.type === "message" && m.text === text);
  } finally {
    a.close();
    b.close();
  }
}

describeWithEngine("the YAML example: two Environments from Pulumi YAML", () => {
  jest.setTimeout(600_000);
  let stack: EngineStack;

  beforeAll(async () => {
    // The plugin's entry is the compiled provider (provider/package.json), as `npm pack` builds it.
    execFileSync("npm", ["run", "build:lib", "--silent"], { cwd: PROJECT_DIR, stdio: "ignore" });
    const [chatPort, adminPort] = [await freePort(), await freePort()];
    stack = await EngineStack.open(STACK, { projectDir: EXAMPLE });
    const key = (name: string) => `wsenv-yaml-example:${name}`;
    await stack.configure({
      [key("chatPort")]: chatPort,
      [key("adminPort")]: adminPort,
      [key("listenAddress")]: "127.0.0.1",
      [key("nginxImage")]: LOCAL_IMAGES.nginx,
      [key("phpImage")]: LOCAL_IMAGES.php,
      [key("workerConnections")]: 8192,
    });
  });

  afterAll(async () => {
    await stack?.remove();
    fs.rmSync(path.join(EXAMPLE, ".wsenv"), { recursive: true, force: true });
  });

  test("`pulumi package add ../../provider` writes the packages entry the example has", () => {
    // A new YAML project where the example is (two folders below the repository), as a user would start it.
    const dir = fs.mkdtempSync(path.join(PROJECT_DIR, "examples", "package-add-"));
    try {
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: added\nruntime: yaml\n");
      const { dir: toolchain } = currentToolchain();
      execFileSync(path.join(toolchain, "bin", "pulumi"), ["package", "add", "../../provider"], { cwd: dir, env: { ...toolchainEnv(toolchain), PULUMI_HOME: path.join(dir, ".home") }, stdio: "pipe" });
      const added = parseYaml(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as { packages?: unknown };
      const example = parseYaml(fs.readFileSync(path.join(EXAMPLE, "Pulumi.yaml"), "utf8")) as { packages?: unknown };
      expect(added.packages).toEqual({ wsenv: "../../provider" });
      expect(example.packages).toEqual(added.packages);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("up deploys both; each chat relays between its clients; a preview then shows no change", async () => {
    const up = EngineStack.ok(await stack.up());
    const outputs = up.outputs as { chatUrl: string; chatWsUrl: string; adminUrl: string; adminWsUrl: string };
    const local = (url: string) => url.replace("localhost", "127.0.0.1");
    for (const url of [outputs.chatUrl, outputs.adminUrl]) await eventually(async () => (await httpGet(local(url))).status === 200, 60_000);
    await relays(local(outputs.chatWsUrl), "through the chat");
    await relays(local(outputs.adminWsUrl), "through the admin page");
    expect(leftovers("chat-e2e-yaml-").length).toBeGreaterThan(0);
    expect(leftovers("admin-e2e-yaml-").length).toBeGreaterThan(0);
    EngineStack.ok(await stack.preview({ expectNoChanges: true }));
    expect(changes(EngineStack.ok(await stack.up()))).toEqual([]);
  });

  test("destroy leaves no container, network or image of either", async () => {
    EngineStack.ok(await stack.destroy());
    expect([...leftovers("chat-e2e-yaml-"), ...leftovers("admin-e2e-yaml-")]).toEqual([]);
  });
});

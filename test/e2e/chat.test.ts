import * as fs from "fs";
import * as path from "path";
import { chromium } from "playwright-core";
import { parse as parseYaml } from "yaml";
import { ChatClient, PROJECT_DIR, containerProcesses, describeWithEngine, httpGet, leftovers } from "../support/e2e";
import { EngineStack, Run, changes } from "../../harness/engine";

// The reference scenario on the real engine: the shipped e2e stack's config (Pulumi.e2e.yaml) up, the chat
// page through the balancer, sockets through /ws/, two browser tabs, idle sockets past nginx's 60 s
// default, teardown. The shipped file stays untouched: the stack is a copy of it under another name.
const STACK = "e2e-chat";
const OUTPUT_DIR = path.join(PROJECT_DIR, "test-output");
const PREFIX = `wsenv-${STACK}-`;

describeWithEngine("the chat on the real engine", () => {
  jest.setTimeout(240_000);
  let stack: EngineStack;
  let first: Run;
  let outputs: { url: string; wsUrl: string; nodes: { name: string; address: string }[]; balancer: { containerName: string; port: number } };
  const idle: ChatClient[] = [];
  let idleSince = 0;

  beforeAll(async () => {
    stack = await EngineStack.open(STACK);
    await stack.configure((parseYaml(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.e2e.yaml"), "utf8")) as { config: Record<string, unknown> }).config);
    first = EngineStack.ok(await stack.up());
    outputs = first.outputs as typeof outputs;
    // Sockets that will send nothing until the last test, more than 90 s from now.
    for (let i = 0; i < 4; i++) idle.push(await ChatClient.open(outputs.wsUrl));
    idleSince = Date.now();
  });

  afterAll(async () => {
    idle.forEach((c) => c.close());
    await stack?.remove();
  });

  test("up creates the network, the image, two nodes, the balancer and its config", () => {
    const created = first.steps.filter((s) => s.op === "create" && !s.type.startsWith("wsenv:") && !s.type.startsWith("pulumi:")).map((s) => s.type).sort();
    expect(created).toEqual(
      [
        "command:local:Command",
        "docker:index/container:Container",
        "docker:index/container:Container",
        "docker:index/container:Container",
        "docker:index/image:Image",
        "docker:index/network:Network",
        "docker:index/remoteImage:RemoteImage",
        "docker:index/remoteImage:RemoteImage",
      ].sort(),
    );
    expect(outputs).toMatchObject({ url: "http://localhost:18080/", wsUrl: "ws://localhost:18080/ws/", balancer: { containerName: `${PREFIX}balancer`, port: 18080 } });
    expect(outputs.nodes).toHaveLength(2);
  });

  test("the page answers 200 through the balancer, served by Apache+PHP from ROOT on a node", async () => {
    const page = await httpGet(outputs.url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="messages"');
    expect(outputs.nodes.map((n) => n.name)).toContain(page.headers["x-wsenv-node"]);
    expect(page.body).toContain("&quot;/ws/&quot;"); // the socket path the balancer told the page
  });

  test("the app runs unprivileged: the socket server and Apache's children as www-data (33), which the chat tests below then use", () => {
    for (const node of outputs.nodes) {
      const processes = containerProcesses(node.name);
      fs.mkdirSync(path.join(PROJECT_DIR, "test-output"), { recursive: true });
      fs.writeFileSync(path.join(PROJECT_DIR, "test-output", `processes-${node.name}.txt`), processes.map((p) => `${p.uid} ${p.args}`).join("\n"));
      const socketServer = processes.filter((p) => p.args.includes("server.php") && !p.args.startsWith("sh -c") && !p.args.includes("setpriv"));
      expect(socketServer.map((p) => p.uid)).toEqual([33]);
      expect(processes.filter((p) => p.args.startsWith("apache2") && p.uid === 33).length).toBeGreaterThan(0);
    }
  });

  test("a message from one WebSocket client reaches another through /ws/", async () => {
    const alice = await ChatClient.open(outputs.wsUrl);
    const bob = await ChatClient.open(outputs.wsUrl);
    alice.send("alice", "hello bob");
    const got = await bob.waitFor((m) => m.type === "message" && m.text === "hello bob");
    expect(got).toMatchObject({ name: "alice" });
    alice.close();
    bob.close();
  });

  test("two browser tabs: a message typed in one appears in the other without reload", async () => {
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const context = await browser.newContext();
      const [one, two] = [await context.newPage(), await context.newPage()];
      for (const page of [one, two]) {
        await page.goto(outputs.url);
        await page.waitForSelector("#status:text('connected')", { timeout: 20_000 });
      }
      // A marker in tab two's page: if the page reloaded to show the message, the marker would be gone.
      await two.evaluate(() => ((globalThis as Record<string, unknown>).wsenvMarker = 42));
      await one.fill("#name", "tab-one");
      await one.fill("#text", "typed in tab one");
      await one.click("#send");
      await two.waitForSelector("#messages li:has-text('typed in tab one')", { timeout: 10_000 });
      fs.mkdirSync(OUTPUT_DIR, { recursive: true });
      await two.screenshot({ path: path.join(OUTPUT_DIR, "chat-two-tabs.png") });
      expect(await two.evaluate(() => (globalThis as Record<string, unknown>).wsenvMarker)).toBe(42);
    } finally {
      await browser.close();
    }
  });

  test("a preview then shows no change, and running up again changes nothing", async () => {
    expect(EngineStack.ok(await stack.preview({ expectNoChanges: true })).ok).toBe(true);
    const again = EngineStack.ok(await stack.up());
    expect(changes(again)).toEqual([]);
    expect(again.outputs).toEqual(first.outputs);
  });

  test("idle sockets survive past 90 s (nginx's default would cut them at 60 s)", async () => {
    const wait = 95_000 - (Date.now() - idleSince);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    expect(idle.map((c) => c.closeCode)).toEqual([null, null, null, null]);
    idle[0].send("idle", "still here");
    await idle[3].waitFor((m) => m.type === "message" && m.text === "still here");
  });

  test("destroy leaves no container, network or image of the stack behind", async () => {
    idle.forEach((c) => c.close());
    EngineStack.ok(await stack.destroy());
    expect(leftovers(PREFIX)).toEqual([]);
  });
});

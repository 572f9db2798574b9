import { ChatClient, LOCAL_IMAGES, describeWithEngine, freePort, httpGet, leftovers } from "../support/e2e";
import { EngineStack, changes, deployStack } from "../../harness/engine";

// app.nodes: 3 on the real engine: without stickiness every node gets traffic; with it, a client's
// requests and reconnects stay on one node. Checked from the app's own answers (X-Wsenv-Node, welcome).
const STACK = "e2e-nodes";

describeWithEngine("three app nodes behind the balancer", () => {
  jest.setTimeout(240_000);
  let port: number;
  let stack: EngineStack;
  const config = (sticky: boolean) => ({
    "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192, sticky },
    "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, nodes: 3, wsCommand: "php server.php", source: "./apps/chat-php", env: { CHAT_PING_INTERVAL: "600" } },
  });

  beforeAll(async () => {
    port = await freePort();
    ({ stack } = await deployStack(STACK, config(false)));
  });

  afterAll(async () => {
    await stack?.remove();
  });

  test("without sticky, HTTP requests and sockets reach all three nodes", async () => {
    const pageNodes = new Set<string>();
    for (let i = 0; i < 30; i++) pageNodes.add(String((await httpGet(`http://127.0.0.1:${port}/`)).headers["x-wsenv-node"]));
    expect(pageNodes.size).toBe(3);
    const clients = await Promise.all(Array.from({ length: 9 }, () => ChatClient.open(`ws://127.0.0.1:${port}/ws/`)));
    await Promise.all(clients.map((c) => c.waitFor((m) => m.type === "welcome")));
    expect(new Set(clients.map((c) => c.welcomeNode)).size).toBe(3);
    // Nodes share nothing but the relay mesh: a message reaches clients on every node.
    clients[0].send("fan", "to every node");
    await Promise.all(clients.map((c) => c.waitFor((m) => m.text === "to every node", 15_000)));
    clients.forEach((c) => c.close());
  });

  test("switching sticky on is a balancer reload: no container changes", async () => {
    await stack.configure(config(true));
    expect(changes(EngineStack.ok(await stack.up()))).toEqual(["update command:local:Command wsenv-balancer-config"]);
  });

  test("with sticky, a client's requests and reconnects stay on one node", async () => {
    const first = await httpGet(`http://127.0.0.1:${port}/`);
    const cookie = String(first.headers["set-cookie"]?.[0] ?? "").split(";")[0];
    expect(cookie).toMatch(/^wsenv_node=[0-9a-f]{32}$/);
    const node = String(first.headers["x-wsenv-node"]);
    for (let i = 0; i < 10; i++) expect((await httpGet(`http://127.0.0.1:${port}/`, { cookie })).headers["x-wsenv-node"]).toBe(node);
    for (let i = 0; i < 5; i++) {
      const client = await ChatClient.open(`ws://127.0.0.1:${port}/ws/`, { cookie });
      await client.waitFor((m) => m.type === "welcome");
      expect(client.welcomeNode).toBe(node);
      client.close();
    }
    // Other clients (other cookies) are spread over the nodes.
    const spread = new Set<string>();
    for (let i = 0; i < 30; i++) spread.add(String((await httpGet(`http://127.0.0.1:${port}/`)).headers["x-wsenv-node"]));
    expect(spread.size).toBeGreaterThan(1);
  });

  test("destroy leaves nothing of the stack", async () => {
    EngineStack.ok(await stack.destroy());
    expect(leftovers("wsenv-e2e-nodes-")).toEqual([]);
  });
});

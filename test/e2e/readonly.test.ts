import { spawnSync } from "child_process";
import { ChatClient, LOCAL_IMAGES, containerProcesses, describeWithEngine, freePort, httpGet, leftovers } from "../support/e2e";
import { EngineStack, deployStack } from "../../harness/engine";

// app.readOnly: the reference chat (Apache+PHP and its socket server) on nodes whose root filesystem is
// read-only, the stack's run-time paths as tmpfs.
const STACK = "e2e-readonly";

describeWithEngine("nodes with a read-only root filesystem", () => {
  jest.setTimeout(240_000);
  let port: number;
  let nodes: { name: string }[];
  let stack: EngineStack;

  beforeAll(async () => {
    port = await freePort();
    const deployed = await deployStack(STACK, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192 },
      "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, nodes: 2, wsCommand: "php server.php", source: "./apps/chat-php", readOnly: true },
    });
    stack = deployed.stack;
    nodes = deployed.first.outputs.nodes as { name: string }[];
  });

  afterAll(async () => {
    await stack?.remove();
  });

  test("each node's root is read-only; only the stack's run-time paths are writable, as tmpfs", () => {
    for (const { name } of nodes) {
      expect(spawnSync("docker", ["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", name], { encoding: "utf8" }).stdout.trim()).toBe("true");
      expect(spawnSync("docker", ["exec", name, "touch", "/var/www/html/written"]).status).not.toBe(0);
      expect(spawnSync("docker", ["exec", name, "touch", "/etc/written"]).status).not.toBe(0);
      expect(spawnSync("docker", ["exec", name, "touch", "/tmp/written"]).status).toBe(0);
      const mounts = spawnSync("docker", ["exec", name, "sh", "-c", "grep ' tmpfs ' /proc/mounts | cut -d' ' -f2 | sort"], { encoding: "utf8" }).stdout.trim().split("\n");
      expect(mounts).toEqual(expect.arrayContaining(["/run", "/tmp", "/var/lib/php/sessions"]));
    }
  });

  test("the chat still works: the page through the balancer, a message between two sockets, unprivileged processes", async () => {
    expect((await httpGet(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const [alice, bob] = [await ChatClient.open(`ws://127.0.0.1:${port}/ws/`), await ChatClient.open(`ws://127.0.0.1:${port}/ws/`)];
    alice.send("alice", "read-only and fine");
    await bob.waitFor((m) => m.type === "message" && m.text === "read-only and fine");
    alice.close();
    bob.close();
    const server = containerProcesses(nodes[0].name).find((p) => p.args.includes("server.php"));
    expect(server?.uid).toBe(33);
  });

  test("a preview then expects no change (tmpfs and read-only as Docker reports them), and destroy leaves nothing", async () => {
    EngineStack.ok(await stack.preview({ expectNoChanges: true }));
    EngineStack.ok(await stack.destroy());
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});

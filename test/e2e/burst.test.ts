import * as fs from "fs";
import * as path from "path";
import { ChatClient, LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, freePort, stageApp } from "../support/e2e";
import { EngineStack, deployStack } from "../../harness/engine";

// A connection burst against a rough app (fixtures/burst-app: one thread, an accept backlog of 8, a
// blocking handshake) through the balancer: the kernel drops SYNs and resends them after 1 s, which the
// default connectTimeout (1500ms) outlasts; a connect that times out goes to the next node. Measured on
// the build machine: 50 of 50 connected in each of 3 runs (about 1.3 s); with connectTimeout 1s (the old
// default) 19 of 50 got a 502. A backlog of 8, not 1: with 1 or 4 even direct connections (no balancer)
// time out, as the kernel drops the handshake's last ACK and resends its SYN-ACK with growing delays.
const STACK = "e2e-burst";
const CLIENTS = 50;

describeWithEngine("a connection burst against a tiny-backlog, single-threaded socket server", () => {
  jest.setTimeout(240_000);
  let port: number;
  let app: string;
  let stack: EngineStack;

  beforeAll(async () => {
    port = await freePort();
    app = stageApp("test/e2e/fixtures/burst-app");
    ({ stack } = await deployStack(STACK, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192 },
      "wsenv:app": { stack: "node", image: LOCAL_IMAGES.node, nodes: 2, source: path.relative(PROJECT_DIR, app) },
    }));
  });

  afterAll(async () => {
    await stack?.remove();
    if (app) fs.rmSync(app, { recursive: true, force: true });
  });

  test(`${CLIENTS} clients at once: every one is connected and welcomed`, async () => {
    const attempts = await Promise.allSettled(
      Array.from({ length: CLIENTS }, async () => {
        const client = await ChatClient.open(`ws://127.0.0.1:${port}/ws/`, {}, 20_000);
        await client.waitFor((m) => m.type === "welcome", 20_000);
        return client;
      }),
    );
    const failed = attempts.filter((a) => a.status === "rejected").map((a) => String((a as PromiseRejectedResult).reason));
    for (const a of attempts) if (a.status === "fulfilled") a.value.close();
    expect(failed).toEqual([]);
  });
});

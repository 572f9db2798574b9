import { describeWithEngine } from "../support/e2e";
import { EngineStack } from "../../harness/engine";

// A bad stack config on the real engine: the run fails with the problems alone, once, each naming its
// stack config key, and no stack trace, before any resource exists.
const STACK = "e2e-config-errors";

describeWithEngine("a stack config with problems, on the real engine", () => {
  jest.setTimeout(120_000);
  let stack: EngineStack;

  beforeAll(async () => {
    stack = await EngineStack.open(STACK);
    await stack.configure({ "wsenv:balancer": { port: 99999 }, "wsenv:app": { nodes: 0, source: "./apps/chat-php" }, "wsenv:balancr": { port: 1 } });
  });

  afterAll(async () => {
    await stack?.remove();
  });

  test("preview and up show every problem once, as the problems alone, and create nothing", async () => {
    const expected = [
      "invalid stack config (3 problems):",
      "  wsenv:balancr: is not a known key; wsenv reads wsenv:balancer, wsenv:app, wsenv:secretEnv, wsenv:tlsKey",
      "  wsenv:app.nodes: must be at least 1 (got 0)",
      "  wsenv:balancer.port: must be a port from 1 to 65535 (got 99999)",
    ].join("\n");
    for (const run of [await stack.preview(), await stack.up()]) {
      expect(run.ok).toBe(false);
      expect(run.diagnostics.map((d) => d.trim())).toEqual([expected]);
      for (const noise of ["unhandled exception", "ConfigError", "problems: [", "\u001b[", "    at "]) expect(run.messages).not.toContain(noise);
      expect(run.steps.filter((s) => s.type !== "pulumi:pulumi:Stack")).toEqual([]);
    }
    // The engine records the stack itself; nothing of the environment exists.
    expect(((await stack.exportState()).resources ?? []).map((r) => r.type)).toEqual(["pulumi:pulumi:Stack"]);
  });
});

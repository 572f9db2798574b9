/**
 * The program's own cost: evaluation of the unchanged index.ts under pulumi.runtime.setMocks (the approach
 * of test/support/programUnderMocks.ts, without jest) for a stack with N app nodes, and the nginx render
 * alone. One process per N (a fresh module registry, as the Pulumi language host gives each run).
 *
 *   tsx bench/program.ts --nodes 100      # prints one line of JSON
 */
const processStartMs = performance.now();

import * as fs from "fs";
import type { ProgramTiming } from "./lib/report";
import * as path from "path";

/** The stack the program runs as; its staged build (.wsenv/build/wsenv-bench-mocks) is removed after. */
const STACK = "bench-mocks";

type Timing = ProgramTiming;

async function measure(nodes: number, sourceMaps: boolean): Promise<Timing> {
  // tsx turns on Node's source-mapped stack traces (as the Pulumi language host does with
  // source-map-support); --no-source-maps measures the same program with plain stack traces.
  if (!sourceMaps) process.setSourceMapsEnabled(false);
  const projectDir = path.resolve(__dirname, "..");
  process.chdir(projectDir);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const sdk: typeof import("@pulumi/pulumi") = require("@pulumi/pulumi");
  const sdkLoaded = performance.now();
  let registrations = 0;
  await sdk.runtime.setMocks(
    {
      newResource: (args) => {
        registrations++;
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "docker:index/container:Container") state.networkDatas = [{ networkName: "net", ipAddress: "10.9.0.2" }];
        if (args.type === "docker:index/remoteImage:RemoteImage") state.imageId = `sha256:${"ab".repeat(32)}`;
        if (args.type === "command:local:Command") state.stdout = "applied";
        return { id: `${args.name}-id`, state };
      },
      call: (args) => args.inputs,
    },
    "wsenv",
    STACK,
    false,
  );
  const config = {
    "wsenv:balancer": { port: 18090, listenAddress: "127.0.0.1", image: "wsenv-test/nginx:bookworm", workerConnections: 9000 },
    "wsenv:app": { stack: "node", image: "wsenv-test/node:bookworm", nodes, source: "./bench/backend/app-for-mocks" },
  };
  sdk.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, JSON.stringify(v)])));

  const t0 = performance.now();
  let outputs: Record<string, unknown> | undefined;
  await sdk.runtime.runInPulumiStack(async () => {
    // The program's named exports are the stack outputs.
    const result = { ...(require(path.join(projectDir, "index")) as Record<string, unknown>) };
    // Resolve every output, as the engine does before it reports the stack outputs.
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(result)) resolved[k] = await new Promise<unknown>((r) => (sdk.output(v) as import("@pulumi/pulumi").Output<unknown>).apply((x: unknown) => r(x)));
    outputs = resolved;
    return result;
  });
  const evalMs = performance.now() - t0;
  const totalMs = performance.now() - processStartMs;
  await sdk.runtime.disconnect();
  if (!outputs || (outputs.nodes as unknown[]).length !== nodes) throw new Error(`program resolved ${JSON.stringify(outputs)?.slice(0, 200)}`);

  // The render alone, with the same inputs the plan uses.
  const { renderBalancerFiles } = require("../lib/nginx") as typeof import("../lib/nginx");
  const { PROGRAM_ENVIRONMENT, specFromConfigMap } = require("../lib/stackConfig") as typeof import("../lib/stackConfig");
  const spec = specFromConfigMap(config);
  const input = {
    stackName: STACK,
    balancer: spec.balancer,
    httpPort: spec.app.httpPort,
    wsPort: spec.app.wsPort,
    nodeHosts: Array.from({ length: nodes }, (_, i) => `wsenv-bench-app-0123abcd-${i}`),
  };
  const reps = 50;
  let bytes = 0;
  const r0 = performance.now();
  for (let i = 0; i < reps; i++) bytes = renderBalancerFiles(input).nginxConf.length;
  const renderMs = (performance.now() - r0) / reps;
  const { buildContextDir, environmentPrefix } = require("../lib/naming") as typeof import("../lib/naming");
  fs.rmSync(path.join(projectDir, buildContextDir(environmentPrefix(PROGRAM_ENVIRONMENT, STACK))), { recursive: true, force: true });
  return { nodes, sourceMaps, startupMs: sdkLoaded - processStartMs, evalMs, renderMs, totalMs, registrations, nginxConfBytes: bytes };
}

const idx = process.argv.indexOf("--nodes");
const nodes = Number(idx >= 0 ? process.argv[idx + 1] : 1);
measure(nodes, !process.argv.includes("--no-source-maps"))
  .then((t) => {
    process.stdout.write(`${JSON.stringify(t)}\n`);
    process.exit(0);
  })
  .catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });

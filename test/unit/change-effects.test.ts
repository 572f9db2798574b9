import * as fs from "fs";
import * as path from "path";
import { ArgKey, CHANGE, ON_CHANGE } from "../../scripts/configDocs";
import { ProgramRun, Registration, runProgram } from "../support/programUnderMocks";

/**
 * What the docs and the generated Args say a change does (ON_CHANGE), checked against what the program
 * declares for it under mocks: every key, changed from the base config to the value below.
 */

const base = {
  "wsenv:balancer": { port: 8080, websocketPaths: ["/ws/"] },
  "wsenv:app": { stack: "apache-php", nodes: 2, wsCommand: "php server.php", source: "./apps/chat-php" },
};

const tlsFile = (name: string) => fs.readFileSync(path.join(__dirname, "../fixtures/tls", name), "utf8");
const tlsA = { certificate: tlsFile("a.crt") };
/** With TLS on: the base of the balancer.tls.* keys. */
const tlsBase = { ...base, "wsenv:balancer": { ...base["wsenv:balancer"], tls: tlsA }, "wsenv:tlsKey": tlsFile("a.key") };

const CHANGED: Partial<Record<ArgKey, unknown>> = {
  "balancer.tls": tlsA,
  "balancer.tls.certificate": tlsFile("b.crt"),
  "balancer.tls.port": 9443,
  "balancer.tls.redirectHttp": false,
  "balancer.tls.hsts": true,
  "balancer.port": 9090,
  "balancer.listenAddress": "127.0.0.1",
  "balancer.publicHost": "chat.example.com",
  "balancer.websocketPaths": ["/ws/", "/socket/"],
  "balancer.websocketTimeout": "2h",
  "balancer.sticky": true,
  "balancer.snippet": "add_header X-A a;",
  "balancer.image": "nginx:1.28",
  "balancer.clientMaxBodySize": "20m",
  "balancer.workerProcesses": 2,
  "balancer.workerConnections": 8192,
  "balancer.cpuShares": 2048,
  "balancer.memoryMb": 1024,
  "balancer.websocketBufferSize": 4096,
  "balancer.drainTimeout": "5m",
  "balancer.connectTimeout": "3s",
  "balancer.maxFails": 3,
  "balancer.failTimeout": "20s",
  "balancer.healthPath": "/_health",
  "app.stack": "node",
  "app.image": "php:8.2-apache",
  "app.nodes": 3,
  "app.allowLocalGit": true,
  "app.allowPrivateNetwork": true,
  "app.sourceRoot": "..",
  "app.context": "chat",
  "app.httpPort": 8081,
  "app.wsPort": 8001,
  "app.wsCommand": "php server.php --quiet",
  "app.phpExtensions": ["gd"],
  "app.env": { FEATURE: "on" },
  "app.memoryMb": 1024,
  "app.restart": "always",
  "app.readOnly": true,
  secretEnv: { DB_PASSWORD: "rotated" },
};
/**
 * Keys whose effect depends on what the source holds, not on the config (the e2e sources suite covers
 * them), and the TLS key, which changes only with its certificate (a key belongs to one).
 */
const EXEMPT: ArgKey[] = ["app.source", "app.ref", "tlsKey"];

function withChange(key: ArgKey, value: unknown): Record<string, unknown> {
  if (key === "secretEnv") return { ...base, "wsenv:secretEnv": value };
  if (key === "balancer.tls") return { ...tlsBase, "wsenv:balancer": { ...base["wsenv:balancer"], tls: value } };
  if (key === "balancer.tls.certificate") return { ...tlsBase, "wsenv:balancer": { ...base["wsenv:balancer"], tls: { certificate: value } }, "wsenv:tlsKey": tlsFile("b.key") };
  if (key.startsWith("balancer.tls.")) return { ...tlsBase, "wsenv:balancer": { ...base["wsenv:balancer"], tls: { ...tlsA, [key.split(".")[2]]: value } } };
  const [section, field] = key.split(".") as ["balancer" | "app", string];
  const configKey = `wsenv:${section}` as const;
  return { ...base, [configKey]: { ...base[configKey], [field]: value } };
}

const CONTAINER = "docker:index/container:Container";
const nodes = (run: ProgramRun) => run.registrations.filter((r) => r.type === CONTAINER && String(r.inputs.name).includes("-app-"));
const balancer = (run: ProgramRun) => run.registrations.find((r) => r.name === "wsenv-balancer-container")!;
const config = (run: ProgramRun) => run.registrations.find((r) => r.name === "wsenv-balancer-config")!;
const names = (regs: Registration[]) => regs.map((r) => String(r.inputs.name));
const json = (value: unknown) => JSON.stringify(value);

/** The effect the declarations show, in the words of CHANGE. */
function observedEffect(before: ProgramRun, after: ProgramRun): string {
  const [was, now] = [names(nodes(before)), names(nodes(after))];
  if (now.length !== was.length) return now.filter((n) => was.includes(n)).length === Math.min(was.length, now.length) ? CHANGE.nodeCount : "nodes renamed and recounted";
  if (now.every((n) => !was.includes(n))) return CHANGE.rollNodes;
  const [balancerWas, balancerNow] = [balancer(before).inputs, balancer(after).inputs];
  // The keys the Docker provider replaces a container for (the engine shows it: reconcile.test.ts).
  if (["image", "ports", "ulimits"].some((k) => json(balancerWas[k]) !== json(balancerNow[k]))) return CHANGE.replaceBalancer;
  if (json(balancerWas) !== json(balancerNow) || json(nodes(before).map((n) => n.inputs)) !== json(nodes(after).map((n) => n.inputs))) return CHANGE.inPlace;
  if (json(config(before).inputs.stdin) !== json(config(after).inputs.stdin)) return CHANGE.reload;
  if (json(before.outputs) !== json(after.outputs)) return CHANGE.outputsOnly;
  return CHANGE.fetchRules;
}

describe("what a change does, as documented for every key", () => {
  jest.setTimeout(120_000);
  let before: ProgramRun;
  beforeAll(async () => {
    before = await runProgram(base);
  });

  test("every key has a changed value here, or is one whose effect depends on the fetched content", () => {
    expect(Object.keys(ON_CHANGE).filter((k) => !(k in CHANGED) && !EXEMPT.includes(k as ArgKey))).toEqual([]);
  });

  test.each(Object.entries(CHANGED))("%s", async (key, value) => {
    const from = key.startsWith("balancer.tls.") ? await runProgram(tlsBase, "dev", ["wsenv:tlsKey"]) : before;
    const after = await runProgram(withChange(key as ArgKey, value), "dev", ["wsenv:tlsKey"]);
    expect(after.error).toBeUndefined();
    expect(observedEffect(from, after)).toBe(ON_CHANGE[key as ArgKey]);
  });
});

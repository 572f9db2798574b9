import * as fs from "fs";
import * as path from "path";
import { readStackConfigFile } from "../../lib/stackConfig";
import { RULES, Resource } from "../../policy/rules";
import { Registration, runProgram } from "../support/programUnderMocks";

/**
 * The policy pack's rules against what the program declares under mocks: the shipped stacks pass every
 * mandatory rule, and one resource changed to break one rule is reported by that rule alone, by name.
 * (On the engine: `pulumi preview --policy-pack policy`, which needs the language host this machine
 * cannot build.)
 */

/** The resources as the pack sees them: type, inputs, and a URN listing the parents' types. */
function resources(regs: Registration[]): Resource[] {
  const byName = new Map(regs.map((r) => [r.name, r]));
  const chain = (r: Registration): string[] => (r.parent ? [...chain(byName.get(r.parent)!), r.type] : [r.type]);
  return regs.map((r) => ({ type: r.type, urn: `urn:pulumi:dev::wsenv::${chain(r).join("$")}::${r.name}`, props: r.inputs }));
}

const violations = (rs: Resource[], level?: "mandatory" | "advisory") =>
  RULES.filter((rule) => !level || rule.enforcementLevel === level).flatMap((rule) => rs.flatMap((r) => rule.check(r).map((message) => `${rule.name} ${r.urn.split("::").pop()}: ${message}`)));

const tlsFile = (name: string) => fs.readFileSync(path.join(__dirname, "../fixtures/tls", name), "utf8");

describe("the policy pack's rules", () => {
  jest.setTimeout(60_000);
  let dev: Resource[];
  beforeAll(async () => {
    dev = resources((await runProgram(readStackConfigFile(path.resolve(__dirname, "../.."), "dev").config)).registrations);
  });

  test.each(["dev", "e2e"])("the shipped stack %s passes every mandatory rule", async (stack) => {
    const { config } = readStackConfigFile(path.resolve(__dirname, "../.."), stack);
    const run = await runProgram(config, stack);
    expect(run.error).toBeUndefined();
    expect(violations(resources(run.registrations), "mandatory")).toEqual([]);
  });

  test("a balancer on every interface without TLS is advised to get it; with TLS it is not", async () => {
    expect(violations(dev, "advisory")).toEqual([expect.stringMatching(/^tls-on-public-balancer wsenv-balancer-container: listens on a non-loopback address without TLS/)]);
    const withTls = await runProgram(
      { ...readStackConfigFile(path.resolve(__dirname, "../.."), "dev").config, "wsenv:balancer": { port: 8080, tls: { certificate: tlsFile("a.crt") } }, "wsenv:tlsKey": tlsFile("a.key") },
      "dev",
      ["wsenv:tlsKey"],
    );
    expect(violations(resources(withTls.registrations), "advisory")).toEqual([]);
  });

  const node = () => dev.find((r) => r.type === "docker:index/container:Container" && r.urn.includes("wsenv:index:AppServerNode$"))!;
  const breaking: [string, (r: Resource) => Resource, RegExp][] = [
    ["no-privileged-container", (r) => ({ ...r, props: { ...r.props, privileged: true } }), /runs privileged/],
    ["no-host-network", (r) => ({ ...r, props: { ...r.props, networkMode: "host" } }), /joins the host network/],
    ["no-host-mounts", (r) => ({ ...r, props: { ...r.props, volumes: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }] } }), /mounts the Docker socket/],
    ["no-host-mounts", (r) => ({ ...r, props: { ...r.props, mounts: [{ type: "bind", source: "/etc", target: "/host-etc" }] } }), /mounts the host path \/etc/],
    ["only-balancer-publishes", (r) => ({ ...r, props: { ...r.props, ports: [{ internal: 80, external: 9000 }] } }), /publishes a port/],
    ["memory-limit", (r) => ({ ...r, props: { ...r.props, memory: undefined } }), /has no memory limit/],
    ["pinned-images", (r) => ({ ...r, props: { ...r.props, image: "nginx:latest" } }), /pin it to a tag/],
    ["pinned-images", (r) => ({ ...r, props: { ...r.props, image: "nginx" } }), /pin it to a tag/],
    ["capabilities-within-stack", (r) => ({ ...r, props: { ...r.props, capabilities: { drops: ["ALL"], adds: ["SYS_ADMIN"] } } }), /adds SYS_ADMIN, beyond/],
    ["capabilities-within-stack", (r) => ({ ...r, props: { ...r.props, capabilities: { adds: [] } } }), /drop ALL/],
  ];

  test("a node may add only its own stack's capabilities, not another stack's", async () => {
    const { config } = readStackConfigFile(path.resolve(__dirname, "../.."), "dev");
    const nodeStack = resources((await runProgram({ ...config, "wsenv:app": { source: "./apps/chat-php", stack: "node" } })).registrations);
    const nodeContainer = nodeStack.find((r) => r.type === "docker:index/container:Container" && r.urn.includes("wsenv:index:AppServerNode$"))!;
    expect(violations(nodeStack, "mandatory")).toEqual([]);
    // CAP_KILL is on the apache-php stack's list, not on the node stack's (which has none).
    const broken = { ...nodeContainer, props: { ...nodeContainer.props, capabilities: { drops: ["ALL"], adds: ["CAP_KILL"] } } };
    expect(violations(nodeStack.map((r) => (r === nodeContainer ? broken : r)), "mandatory")).toEqual([
      expect.stringMatching(/^capabilities-within-stack wsenv-node-0-container: adds CAP_KILL, beyond its stack's list \(none\)/),
    ]);
  });

  test.each(breaking)("a node that breaks %s is reported by that rule alone, naming the node (%#)", (rule, breakIt, message) => {
    const broken = breakIt(node());
    const found = violations(dev.map((r) => (r === node() ? broken : r)), "mandatory");
    expect(found).toEqual([expect.stringMatching(new RegExp(`^${rule} wsenv-node-0-container: .*${message.source}`))]);
  });
});

import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { AppArgs, BalancerArgs } from "../../components";
import { appSchema, balancerSchema } from "../../lib/schema";
import { Registration, runProgram } from "../support/programUnderMocks";

const TWO_ENVIRONMENTS = path.join(__dirname, "fixtures", "two-environments");
const CONTAINER = "docker:index/container:Container";
const secretConfig = { "wsenv:dbPassword": "s3cret-value" };
const runTwo = () => runProgram(secretConfig, "dev", ["wsenv:dbPassword"], { program: TWO_ENVIRONMENTS });
/** The names of the Docker objects the program creates (the balancer's base image is shared, not created). */
const DOCKER_OBJECTS = ["docker:index/network:Network", "docker:index/container:Container", "docker:index/image:Image"];
const dockerNames = (regs: Registration[]) => regs.filter((r) => DOCKER_OBJECTS.includes(r.type)).map((r) => String(r.inputs.name ?? r.inputs.imageName));

// The Args are the schema's input type, every value widened to an Input: one source of truth, checked by tsc.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const balancerArgsAreTheSchema: Same<pulumi.Unwrap<BalancerArgs>, z.input<typeof balancerSchema>> = true;
const appArgsAreTheSchema: Same<pulumi.Unwrap<AppArgs>, z.input<typeof appSchema>> = true;

describe("Environment as a library component", () => {
  jest.setTimeout(60_000);

  test("its Args are the schema's input types", () => {
    expect([balancerArgsAreTheSchema, appArgsAreTheSchema]).toEqual([true, true]);
  });

  test("two Environments in one program share no resource name and no Docker object name", async () => {
    const { registrations, error, outputs } = await runTwo();
    expect(error).toBeUndefined();
    const logical = registrations.map((r) => `${r.type} ${r.name}`);
    expect(new Set(logical).size).toBe(logical.length);
    const names = dockerNames(registrations);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^(chat|admin)-dev-/);
    expect(registrations.filter((r) => r.type === "wsenv:index:Environment").map((r) => r.name).sort()).toEqual(["admin", "chat"]);
    expect(outputs).toMatchObject({ chatUrl: "http://localhost:8081/", adminUrl: "http://localhost:8082/", adminBalancer: { containerName: "admin-dev-balancer", port: 8082 } });
    expect((outputs.chatNodes as unknown[]).length).toBe(2);
  });

  test("every child is named <name>-<role>[-<i>] and parented to its component; revisions are only in Docker names", async () => {
    const { registrations } = await runTwo();
    expect(registrations.filter((r) => r.parent === "chat").map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [
        "docker:index/network:Network chat-network",
        "wsenv:index:AppImage chat-app",
        "wsenv:index:AppServerNode chat-node-0",
        "wsenv:index:AppServerNode chat-node-1",
        "wsenv:index:BalancerNode chat-balancer",
      ].sort(),
    );
    for (const r of registrations.filter((reg) => reg.parent === "admin")) expect(r.name).toMatch(/^admin-(network|app|node-0|balancer)$/);
    expect(registrations.filter((r) => r.parent === "").map((r) => r.name).sort()).toEqual(["admin", "chat"]);
    for (const r of registrations.filter((reg) => reg.parent === "chat-node-0")) expect(r.name).toBe("chat-node-0-container");
  });

  test("a node keeps its old name, its Docker name, as an alias, so a stack deployed before the rename is not replaced", async () => {
    const { registrations } = await runTwo();
    const node = registrations.find((r) => r.name === "chat-node-1")!;
    const container = registrations.find((r) => r.name === "chat-node-1-container")!;
    expect(node.aliases).toHaveLength(1);
    // The alias is the container's Docker name, a plain value (a preview still waiting for a secret declares none).
    expect(String(container.inputs.name)).toMatch(/^chat-dev-app-[0-9a-f]{8}-1$/);
    expect(node.aliases).toEqual([{ name: container.inputs.name }]);
  });

  test("a secretEnv Input reaches the nodes as a secret, and an env Input as its value", async () => {
    const { registrations } = await runTwo();
    const chatNodes = registrations.filter((r) => r.type === CONTAINER && String(r.inputs.name).startsWith("chat-dev-app-"));
    expect(chatNodes).toHaveLength(2);
    for (const node of chatNodes) {
      expect(node.secretInputs).toEqual(["envs"]);
      expect(JSON.stringify(node.inputs.envs)).toContain("DB_PASSWORD=s3cret-value");
      expect(JSON.stringify(node.inputs.envs)).toContain("GREETING=hello");
      expect(String(node.inputs.name)).not.toContain("s3cret");
    }
    const adminNode = registrations.find((r) => r.type === CONTAINER && String(r.inputs.name).startsWith("admin-dev-app-"))!;
    expect(adminNode.secretInputs ?? []).toEqual([]);
  });

  test("the image component keeps its old type as an alias, so existing stacks keep their image", async () => {
    const { registrations } = await runTwo();
    const image = registrations.find((r) => r.type === "wsenv:index:AppImage" && r.name === "chat-app")!;
    expect(image.aliases).toEqual([{ type: "wsenv:index:AppDeployment" }]);
  });
});

describe("Environment Args checks", () => {
  test("bad Args fail Environment.create with every problem and its key path, before anything registers", async () => {
    const run = await runProgram({}, "dev", [], { program: path.join(__dirname, "fixtures", "bad-environment") });
    expect(run.registrations).toEqual([]);
    const message = run.error?.message ?? "";
    expect(message).toContain('invalid arguments of Environment "Chat_1" (4 problems)');
    expect(message).toContain("name: must be 1 to 16 lowercase letters");
    expect(message).toContain("app.nodes: must be at least 1 (got 0)");
    expect(message).toContain('app.restart: must be one of unless-stopped, always, on-failure, no (got "sometimes")');
    expect(message).toContain("balancer.port: must be a port from 1 to 65535 (got 70000)");
    expect(message).not.toContain("wsenv:");
  });
});

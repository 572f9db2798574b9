import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { EngineStack, changes } from "../../harness/engine";
import { LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, freePort, leftovers } from "../support/e2e";

// A program whose secret comes from another resource (a command's output, not known in a preview of a
// new stack): the preview still shows every resource of the environment, and the up gives the nodes the
// secret, kept encrypted in the state.
const STACK = "e2e-secret-resource";
const TOKEN = "s3cret-from-a-resource";

const PROGRAM = `import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Environment } from "../../components";

export = async () => {
  const config = new pulumi.Config();
  // The token is made by the command, so that no input holds it, and kept a secret in the command's state.
  const token = new command.local.Command("token", { create: "printf 's3cret-%s' from-a-resource" }, { additionalSecretOutputs: ["stdout"] });
  const env = await Environment.create("sec", {
    app: { stack: "apache-php", image: config.require("php"), nodes: 2, source: "./chat", wsCommand: "php server.php" },
    balancer: { port: config.requireNumber("port"), listenAddress: "127.0.0.1", image: config.require("nginx"), workerConnections: 8192 },
    secretEnv: { API_TOKEN: pulumi.secret(token.stdout) },
  });
  return { nodes: env.nodes };
};
`;

describeWithEngine("a secret from another resource", () => {
  jest.setTimeout(300_000);
  let project: string;
  let stack: EngineStack;

  beforeAll(async () => {
    // Inside the repository (its ignored .wsenv/), so the program imports the components from source.
    fs.mkdirSync(path.join(PROJECT_DIR, ".wsenv"), { recursive: true });
    project = fs.mkdtempSync(path.join(PROJECT_DIR, ".wsenv", "secret-program-"));
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), stringify({ name: "secret-program", runtime: { name: "nodejs", options: { typescript: true } }, main: "index.ts" }));
    fs.writeFileSync(path.join(project, "index.ts"), PROGRAM);
    fs.cpSync(path.join(PROJECT_DIR, "apps", "chat-php"), path.join(project, "chat"), { recursive: true });
    stack = await EngineStack.open(STACK, { projectDir: project });
    await stack.configure({ "secret-program:php": LOCAL_IMAGES.php, "secret-program:nginx": LOCAL_IMAGES.nginx, "secret-program:port": await freePort() });
  });

  afterAll(async () => {
    await stack?.remove();
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  test("the preview shows every resource of the environment, though the secret is not known yet", async () => {
    const preview = EngineStack.ok(await stack.preview());
    expect(changes(preview).sort()).toEqual(
      [
        "create command:local:Command token",
        "create docker:index/network:Network sec-network",
        "create docker:index/image:Image sec-app-image",
        "create docker:index/remoteImage:RemoteImage sec-app-local",
        "create docker:index/container:Container sec-node-0-container",
        "create docker:index/container:Container sec-node-1-container",
        "create docker:index/remoteImage:RemoteImage sec-balancer-image",
        "create docker:index/container:Container sec-balancer-container",
        "create command:local:Command sec-balancer-config",
      ].sort(),
    );
  });

  test("the up gives every node the secret, which stays encrypted in the state", async () => {
    const up = EngineStack.ok(await stack.up());
    const nodes = up.outputs.nodes as { name: string }[];
    expect(nodes).toHaveLength(2);
    for (const { name } of nodes) {
      expect(execFileSync("docker", ["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", name], { encoding: "utf8" })).toContain(`API_TOKEN=${TOKEN}`);
      expect(name).not.toContain(TOKEN);
    }
    const stored = stack.storedState();
    expect(stored).toContain("4dabf18193072939515e22adb298388d"); // the secret signature: secrets are stored,
    expect(stored).not.toContain(TOKEN); // but only as ciphertext
    EngineStack.ok(await stack.preview({ expectNoChanges: true }));
  });

  test("destroy leaves nothing of it", async () => {
    EngineStack.ok(await stack.destroy());
    expect(leftovers(`sec-${STACK}-`)).toEqual([]);
  });
});

import { healthCheckCommand } from "../../lib/healthCheck";
import { nodeRevision, secretEnvDigest } from "../../lib/naming";
import { parseWsenvConfig } from "../../lib/schema";

const app = parseWsenvConfig({ app: { source: "./apps/chat-php", wsCommand: "php server.php" } }).app;
const digest = secretEnvDigest("dev", {});

describe("node revisions", () => {
  test("a changed health check is a new revision: the Docker provider never applies one to a running node", () => {
    const withSocketCheck = nodeRevision(app, "img:1", digest, healthCheckCommand(80, 8000));
    expect(nodeRevision(app, "img:1", digest, healthCheckCommand(80, 8000))).toBe(withSocketCheck);
    expect(nodeRevision(app, "img:1", digest, healthCheckCommand(80, null))).not.toBe(withSocketCheck);
  });

  test("the secret digest depends on every value and on the stack, and is the same for the same inputs", () => {
    expect(secretEnvDigest("dev", { A: "x" })).toBe(secretEnvDigest("dev", { A: "x" }));
    expect(secretEnvDigest("dev", { A: "y" })).not.toBe(secretEnvDigest("dev", { A: "x" }));
    expect(secretEnvDigest("prod", { A: "x" })).not.toBe(secretEnvDigest("dev", { A: "x" }));
  });
});

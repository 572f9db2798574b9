import { healthCheckCommand } from "../../lib/healthCheck";
import { appNodeName, environmentNameProblem, environmentPrefix, nodeRevision, secretEnvDigest } from "../../lib/naming";
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

describe("environment prefixes", () => {
  test("the program's environment keeps the names existing stacks have: wsenv-<stack>", () => {
    expect(environmentPrefix("wsenv", "dev")).toBe("wsenv-dev");
  });

  test("two environments on one stack never share a prefix, and a cleaned stack name gets a hash", () => {
    expect(environmentPrefix("chat", "dev")).not.toBe(environmentPrefix("admin", "dev"));
    expect(environmentPrefix("chat", "Dev")).toMatch(/^chat-dev-[0-9a-f]{5}$/);
  });

  test("the longest name and stack still leave a node name within a 63-character hostname", () => {
    const prefix = environmentPrefix("abcdefghijklmnop", "a-very-long-stack-name-for-production-eu-west");
    expect(prefix.length).toBeLessThanOrEqual(36);
    expect(appNodeName(prefix, "0123abcd", 199).length).toBeLessThanOrEqual(63);
  });

  test.each(["Chat", "chat_1", "-chat", "chat-", "a--b", "abcdefghijklmnopq", ""])("%j cannot name an environment", (name) => {
    expect(environmentNameProblem(name)).toMatch(/^must be 1 to 16 lowercase letters/);
    expect(() => environmentPrefix(name, "dev")).toThrow(/environment name: must be/);
  });
});

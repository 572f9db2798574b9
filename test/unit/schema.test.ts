import { ConfigError } from "../../lib/errors";
import { RawWsenvConfig, parseWsenvConfig } from "../../lib/schema";
import { classifySource } from "../../lib/sourceKind";
import { specFromConfigMap } from "../../lib/stackConfig";

const app = { source: "./apps/chat-php" };

function problemsOf(raw: RawWsenvConfig): string[] {
  try {
    parseWsenvConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.lines("wsenv:");
    throw err;
  }
  throw new Error("expected the config to be rejected");
}

describe("stack config schema", () => {
  test("defaults fill everything but app.source", () => {
    const spec = parseWsenvConfig({ app });
    expect(spec.balancer).toEqual({
      port: 8080,
      listenAddress: "0.0.0.0",
      publicHost: "localhost",
      websocketPaths: ["/ws/"],
      websocketTimeout: "1h",
      websocketBufferSize: 1280,
      sticky: false,
      snippet: "",
      image: "nginx:1.27",
      clientMaxBodySize: "10m",
      workerProcesses: "auto",
      workerConnections: 65536,
      cpuShares: 1024,
      memoryMb: 2048,
      drainTimeout: "10m",
      connectTimeout: "1500ms",
      maxFails: 1,
      failTimeout: "10s",
      healthPath: "/_wsenv/health",
    });
    expect(spec.app).toMatchObject({
      stack: "apache-php",
      image: "php:8.3-apache",
      nodes: 1,
      context: "ROOT",
      contextPath: "/",
      contextDir: "/var/www/html",
      httpPort: 80,
      wsPort: 80,
      wsCommand: "",
      extensions: ["pcntl", "posix", "sockets"],
      env: {},
      memoryMb: 512,
      restart: "unless-stopped",
    });
    expect(spec.secretEnv).toEqual({});
  });

  test("the stack preset decides image, ports and context folders", () => {
    expect(parseWsenvConfig({ app: { ...app, stack: "tomcat", context: "shop" } }).app).toMatchObject({
      image: "tomcat:10.1",
      httpPort: 8080,
      wsPort: 8080,
      contextPath: "/shop/",
      contextDir: "/usr/local/tomcat/webapps/shop",
      extensions: [],
    });
    expect(parseWsenvConfig({ app: { ...app, stack: "node", context: "chat" } }).app).toMatchObject({
      image: "node:20",
      httpPort: 3000,
      contextPath: "/chat/",
      contextDir: "/app",
    });
    expect(parseWsenvConfig({ app: { ...app, wsCommand: "php server.php" } }).app.wsPort).toBe(8000);
    expect(parseWsenvConfig({ app: { ...app, phpExtensions: ["gd", "sockets"] } }).app.extensions).toEqual(["gd", "pcntl", "posix", "sockets"]);
  });

  // Each row: config, the key path the error must name, and a fragment of what it must say.
  const bad: [string, RawWsenvConfig, string, string][] = [
    ["a websocket path with a semicolon", { app, balancer: { websocketPaths: ["/ws/; return 200 x;"] } }, "wsenv:balancer.websocketPaths[0]", 'must be a path like /ws/ (got "/ws/; return 200 x;")'],
    ["a websocket path with a brace", { app, balancer: { websocketPaths: ["/ws/", "/a}"] } }, "wsenv:balancer.websocketPaths[1]", "must be a path"],
    ["a websocket path with a dollar", { app, balancer: { websocketPaths: ["/$host/"] } }, "wsenv:balancer.websocketPaths[0]", "must be a path"],
    ["a websocket path with a space", { app, balancer: { websocketPaths: ["/a b/"] } }, "wsenv:balancer.websocketPaths[0]", "must be a path"],
    ["a websocket path with a newline", { app, balancer: { websocketPaths: ["/ws/\nreturn 200;"] } }, "wsenv:balancer.websocketPaths[0]", "must be a path"],
    ["a websocket path with dot-dot", { app, balancer: { websocketPaths: ["/a/../b/"] } }, "wsenv:balancer.websocketPaths[0]", "must be a path"],
    ["a websocket path of /", { app, balancer: { websocketPaths: ["/"] } }, "wsenv:balancer.websocketPaths[0]", "must not be /"],
    ["the same path twice", { app, balancer: { websocketPaths: ["/ws/", "/ws/"] } }, "wsenv:balancer.websocketPaths[1]", "listed twice"],
    ["no websocket path", { app, balancer: { websocketPaths: [] } }, "wsenv:balancer.websocketPaths", "at least one path"],
    ["a timeout with a quote", { app, balancer: { websocketTimeout: "1h'" } }, "wsenv:balancer.websocketTimeout", "nginx duration"],
    ["a timeout without a unit", { app, balancer: { websocketTimeout: "3600" } }, "wsenv:balancer.websocketTimeout", "nginx duration"],
    ["a body size with a directive", { app, balancer: { clientMaxBodySize: "1m; allow all" } }, "wsenv:balancer.clientMaxBodySize", "nginx size"],
    ["a port as a string", { app, balancer: { port: "8080" } }, "wsenv:balancer.port", 'must be a number (got "8080")'],
    ["a port out of range", { app, balancer: { port: 70000 } }, "wsenv:balancer.port", "from 1 to 65535"],
    ["a fractional port", { app, balancer: { port: 80.5 } }, "wsenv:balancer.port", "whole number"],
    ["sticky as a string", { app, balancer: { sticky: "yes" } }, "wsenv:balancer.sticky", 'must be a boolean (got "yes")'],
    ["a misspelt balancer key", { app, balancer: { prot: 8080 } }, "wsenv:balancer.prot", "not a known key"],
    ["a listen address that is a host name", { app, balancer: { listenAddress: "localhost" } }, "wsenv:balancer.listenAddress", "IPv4"],
    ["a public host with a slash", { app, balancer: { publicHost: "a/b" } }, "wsenv:balancer.publicHost", "host name"],
    ["an image with spaces", { app, balancer: { image: "nginx latest" } }, "wsenv:balancer.image", "image reference"],
    ["the health path among the socket paths", { app, balancer: { websocketPaths: ["/_wsenv/health"] } }, "wsenv:balancer.websocketPaths[0]", "healthPath"],
    ["too few worker connections", { app, balancer: { workerConnections: 10 } }, "wsenv:balancer.workerConnections", "at least 1024"],
    ["worker processes as a word other than auto", { app, balancer: { workerProcesses: "max" } }, "wsenv:balancer.workerProcesses", 'must be "auto" or a whole number of processes from 1 to 64 (got "max")'],
    ["a fractional number of worker processes", { app, balancer: { workerProcesses: 2.5 } }, "wsenv:balancer.workerProcesses", "whole number"],
    ["too many worker processes", { app, balancer: { workerProcesses: 65 } }, "wsenv:balancer.workerProcesses", "at most 64"],
    ["a CPU weight below Docker's minimum", { app, balancer: { cpuShares: 1 } }, "wsenv:balancer.cpuShares", "at least 2"],
    ["a missing app", {}, "wsenv:app", "is required"],
    ["a missing app.source", { app: { nodes: 2 } }, "wsenv:app.source", "is required"],
    ["an unknown stack", { app: { ...app, stack: "rails" } }, "wsenv:app.stack", 'one of apache-php, node, tomcat (got "rails")'],
    ["zero nodes", { app: { ...app, nodes: 0 } }, "wsenv:app.nodes", "at least 1"],
    ["a context with a slash", { app: { ...app, context: "a/b" } }, "wsenv:app.context", "ROOT or a name"],
    ["an http source that is neither archive nor repository", { app: { source: "https://example.com/app" } }, "wsenv:app.source", "must end in .zip, .tar.gz or .tgz"],
    ["an ftp archive", { app: { source: "ftp://example.com/app.zip" } }, "wsenv:app.source", "http:// or https://"],
    ["a ref for a folder", { app: { ...app, ref: "main" } }, "wsenv:app.ref", "git sources only"],
    ["a ref starting with a dash", { app: { source: "https://example.com/a.git", ref: "--upload-pack=x" } }, "wsenv:app.ref", "git branch"],
    ["php extensions on node", { app: { ...app, stack: "node", phpExtensions: ["gd"] } }, "wsenv:app.phpExtensions", "apache-php stack only"],
    ["a php extension with a shell character", { app: { ...app, phpExtensions: ["gd && rm -rf /"] } }, "wsenv:app.phpExtensions[0]", "extension name"],
    ["a socket port equal to the HTTP port", { app: { ...app, wsCommand: "php s.php", wsPort: 80 } }, "wsenv:app.wsPort", "must differ"],
    ["a multi-line wsCommand", { app: { ...app, wsCommand: "php a.php\nrm x" } }, "wsenv:app.wsCommand", "single line"],
    ["an env name with a dash", { app: { ...app, env: { "DB-HOST": "x" } } }, "wsenv:app.env.DB-HOST", "environment variable name"],
    ["a reserved env name", { app: { ...app, env: { WSENV_NODE_NAME: "x" } } }, "wsenv:app.env.WSENV_NODE_NAME", "reserved"],
    ["a secret also set in plain env", { app: { ...app, env: { TOKEN: "a" } }, secretEnv: { TOKEN: "b" } }, "wsenv:secretEnv.TOKEN", "also set in wsenv:app.env"],
    // Sizes are bounded here, before any resource exists, not by a failure halfway through `up`.
    ["a snippet of 64 Ki three-byte characters", { app, balancer: { snippet: "€".repeat(65536) } }, "wsenv:balancer.snippet", "at most 64 KiB (65536 bytes of UTF-8)"],
    ["a 100,000-character websocket path", { app, balancer: { websocketPaths: [`/${"a".repeat(99999)}`] } }, "wsenv:balancer.websocketPaths[0]", "at most 256 characters"],
    ["a 100,000-character health path", { app, balancer: { healthPath: `/${"a".repeat(99999)}` } }, "wsenv:balancer.healthPath", "at most 256 characters"],
    ["a 300-character image", { app, balancer: { image: `${"a".repeat(300)}:1` } }, "wsenv:balancer.image", "at most 255 characters"],
    ["300 env variables", { app: { ...app, env: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`V${i}`, "x"])) } }, "wsenv:app.env", "at most 256 variables"],
    ["a memory limit of YAML's .inf", { app: { ...app, memoryMb: Infinity } }, "wsenv:app.memoryMb", "(got Infinity)"],
    ["a node count of YAML's .nan", { app: { ...app, nodes: NaN } }, "wsenv:app.nodes", "(got NaN)"],
    ["a path with an invisible line separator", { app, balancer: { websocketPaths: ["/ws/\u2028"] } }, "wsenv:balancer.websocketPaths[0]", '(got "/ws/\\u2028")'],
    ["a host with a next-line character", { app, balancer: { publicHost: "chat\u0085.example.com" } }, "wsenv:balancer.publicHost", '(got "chat\\u0085.example.com")'],
  ];

  test.each(bad)("%s is rejected and the error names the key", (_what, raw, key, fragment) => {
    const problems = problemsOf(raw);
    const problem = problems.find((p) => p.startsWith(`${key}: `));
    expect({ problems, found: problem?.includes(fragment) ?? false }).toEqual({ problems, found: true });
  });

  test("all problems are reported at once", () => {
    const problems = problemsOf({ balancer: { port: "x", sticky: 1, websocketPaths: ["bad"] }, app: { nodes: -1 } });
    expect(problems.map((p) => p.split(": ")[0]).sort()).toEqual(
      ["wsenv:app.nodes", "wsenv:app.source", "wsenv:balancer.port", "wsenv:balancer.sticky", "wsenv:balancer.websocketPaths[0]"].sort(),
    );
  });

  test("secret values never appear in an error", () => {
    const problems = problemsOf({ app, secretEnv: { API_KEY: 12345, "bad key": "hunter2" } as unknown as Record<string, string> });
    expect(problems.join("\n")).not.toMatch(/12345|hunter2/);
    expect(problems.some((p) => p.startsWith("wsenv:secretEnv.API_KEY: "))).toBe(true);
  });

  test("an unknown wsenv: key is an error, other namespaces are left alone", () => {
    expect(() => specFromConfigMap({ "wsenv:app": app, "wsenv:balancr": { port: 1 }, "docker:host": "unix:///x" })).toThrow(
      /wsenv:balancr: is not a known key/,
    );
    expect(specFromConfigMap({ "wsenv:app": app, "docker:host": "unix:///x" }).app.sourceText).toBe("./apps/chat-php");
  });
});

describe("app sources", () => {
  test.each([
    ["./apps/chat-php", { kind: "folder", path: "./apps/chat-php" }],
    ["/srv/app", { kind: "folder", path: "/srv/app" }],
    ["https://example.com/chat.tar.gz", { kind: "archive", location: "https://example.com/chat.tar.gz", format: "tar.gz" }],
    ["http://127.0.0.1:9000/chat.tgz?token=1", { kind: "archive", location: "http://127.0.0.1:9000/chat.tgz?token=1", format: "tar.gz" }],
    ["./build/chat.zip", { kind: "archive", location: "./build/chat.zip", format: "zip" }],
    ["https://github.com/acme/chat.git", { kind: "git", url: "https://github.com/acme/chat.git" }],
    ["git@github.com:acme/chat.git", { kind: "git", url: "git@github.com:acme/chat.git" }],
    ["file:///srv/repos/chat.git", { kind: "git", url: "file:///srv/repos/chat.git" }],
    ["git+https://example.com/chat", { kind: "git", url: "https://example.com/chat" }],
  ])("%s is deployed as %j", (source, expected) => {
    expect(classifySource(source, undefined)).toEqual({ ...expected, ...(expected.kind === "git" ? { ref: undefined } : {}) });
  });
});

describe("secrets only where secrets belong", () => {
  const config = { "wsenv:app": { ...app, wsCommand: "[secret]", env: { MODE: "[secret]" } }, "wsenv:secretEnv": { DB_PASSWORD: "[secret]" } };

  test("an encrypted value outside wsenv:secretEnv is an error naming its path", () => {
    const paths = ["wsenv:app.wsCommand", "wsenv:app.env.MODE", "wsenv:balancer.snippet", "wsenv:secretEnv.DB_PASSWORD"];
    try {
      specFromConfigMap(config, paths);
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect((err as ConfigError).lines()).toEqual([
        "wsenv:app.env.MODE: must be plain text, not a secret (secure:); only wsenv:secretEnv and wsenv:tlsKey hold secrets, so that a review sees what will run",
        "wsenv:app.wsCommand: must be plain text, not a secret (secure:); only wsenv:secretEnv and wsenv:tlsKey hold secrets, so that a review sees what will run",
        "wsenv:balancer.snippet: must be plain text, not a secret (secure:); only wsenv:secretEnv and wsenv:tlsKey hold secrets, so that a review sees what will run",
      ]);
    }
  });

  test("encrypted values in wsenv:secretEnv, and in other namespaces, are fine", () => {
    const plain = { "wsenv:app": app, "wsenv:secretEnv": { DB_PASSWORD: "x" }, "docker:host": "[secret]" };
    expect(specFromConfigMap(plain, ["wsenv:secretEnv", "wsenv:secretEnv.DB_PASSWORD", "docker:host"]).secretEnv).toEqual({ DB_PASSWORD: "x" });
  });
});

import fc from "fast-check";
import { BalancerConfigInput, STICKY_COOKIE, WS_PATH_HEADER, renderBalancerFiles, renderNginxConf } from "../../lib/nginx";
import { durationSeconds } from "../../lib/grammar";
import { ConfigError } from "../../lib/errors";
import { parseWsenvConfig } from "../../lib/schema";
import { Directive, findAll, parseNginx, shape } from "../support/nginxParse";

const nodeHosts = ["wsenv-dev-app-0123abcd-0", "wsenv-dev-app-0123abcd-1", "wsenv-dev-app-0123abcd-2"];

function input(balancer: Record<string, unknown> = {}, hosts = nodeHosts): BalancerConfigInput {
  const spec = parseWsenvConfig({ balancer, app: { source: "./apps/chat-php", wsCommand: "php server.php" } });
  return { stackName: "dev", balancer: spec.balancer, httpPort: spec.app.httpPort, wsPort: spec.app.wsPort, nodeHosts: hosts };
}

const render = (balancer: Record<string, unknown> = {}, hosts = nodeHosts) => parseNginx(renderNginxConf(input(balancer, hosts)));
const block = (d: Directive | undefined) => d?.block ?? [];
const args = (tree: Directive[], name: string) => tree.filter((d) => d.name === name).map((d) => d.args);
const locations = (tree: Directive[]) => findAll(tree, "location");
const location = (tree: Directive[], ...match: string[]) => locations(tree).find((l) => l.args.join(" ") === match.join(" "));
const serverBlocks = (tree: Directive[]) => findAll(tree, "server").filter((d) => d.block);
const upstream = (tree: Directive[], name: string) => findAll(tree, "upstream").find((u) => u.args[0] === name);

const FULL_HEADER_SET = [
  ["Host", "$host"],
  ["X-Real-IP", "$remote_addr"],
  ["X-Forwarded-For", "$remote_addr"],
  ["X-Forwarded-Proto", "$scheme"],
  ["X-Forwarded-Host", "$host"],
  ["Upgrade", "$http_upgrade"],
  ["Connection", "$connection_upgrade"],
];

describe("generated nginx.conf", () => {
  test("is a complete config: events, http, one server with the health endpoint", () => {
    const tree = render();
    expect(tree.map((d) => d.name)).toEqual(["user", "worker_processes", "worker_rlimit_nofile", "worker_shutdown_timeout", "error_log", "events", "http"]);
    expect(args(tree, "worker_processes")).toEqual([["auto"]]);
    const http = block(tree.find((d) => d.name === "http"));
    expect(serverBlocks(http)).toHaveLength(1);
    const health = location(tree, "=", "/_wsenv/health");
    const files = renderBalancerFiles(input());
    expect(args(block(health), "return")).toEqual([["200", `ok wsenv-config=${files.revision}\n`]]);
  });

  test("maps Upgrade to Connection so plain HTTP sends no Connection header (upstream keepalive)", () => {
    const map = findAll(render(), "map").find((m) => m.args.join(" ") === "$http_upgrade $connection_upgrade");
    expect(block(map).map((d) => [d.name, ...d.args])).toEqual([
      ["default", "upgrade"],
      ["", ""],
    ]);
  });

  test("every proxied location speaks HTTP/1.1 and sends the full header set", () => {
    const tree = render({ websocketPaths: ["/ws/", "/socket.io/"] });
    const proxied = locations(tree).filter((l) => args(block(l), "proxy_pass").length > 0);
    expect(proxied.map((l) => l.args.join(" "))).toEqual(["/ws/", "/socket.io/", "/"]);
    for (const loc of proxied) {
      expect(args(block(loc), "proxy_http_version")).toEqual([["1.1"]]);
      const headers = args(block(loc), "proxy_set_header");
      for (const header of FULL_HEADER_SET) expect(headers).toContainEqual(header);
    }
  });

  test("websocket locations go to the socket upstream, unbuffered, with long timeouts, path unchanged", () => {
    const tree = render({ websocketPaths: ["/ws/"], websocketTimeout: "2h" });
    const ws = block(location(tree, "/ws/"));
    // proxy_pass without a URI part: nginx passes the request path to the app as the client sent it.
    expect(args(ws, "proxy_pass")).toEqual([["http://wsenv_ws"]]);
    expect(args(ws, "proxy_read_timeout")).toEqual([["2h"]]);
    expect(args(ws, "proxy_send_timeout")).toEqual([["2h"]]);
    expect(args(ws, "proxy_buffering")).toEqual([["off"]]);
    const http = block(location(tree, "/"));
    expect(args(http, "proxy_pass")).toEqual([["http://wsenv_http"]]);
    expect(args(http, "proxy_set_header")).toContainEqual([WS_PATH_HEADER, "/ws/"]);
  });

  test("the default websocket timeout is well past nginx's 60 s", () => {
    const [[timeout]] = args(block(location(render(), "/ws/")), "proxy_read_timeout");
    expect(durationSeconds(timeout)).toBeGreaterThanOrEqual(3600);
  });

  test("one server per node in each upstream, by host name, with passive health and HTTP keepalive", () => {
    const tree = render({ maxFails: 2, failTimeout: "5s" });
    const http = block(upstream(tree, "wsenv_http"));
    const ws = block(upstream(tree, "wsenv_ws"));
    expect(args(http, "server")).toEqual(nodeHosts.map((h) => [`${h}:80`, "max_fails=2", "fail_timeout=5s"]));
    expect(args(ws, "server")).toEqual(nodeHosts.map((h) => [`${h}:8000`, "max_fails=2", "fail_timeout=5s"]));
    expect(args(http, "keepalive")).toEqual([["32"]]);
    expect(args(ws, "least_conn")).toEqual([[]]);
    expect(args(http, "hash")).toEqual([]);
  });

  test("sticky hashes both upstreams on a cookie the balancer sets, not on the client address", () => {
    const tree = render({ sticky: true });
    for (const name of ["wsenv_http", "wsenv_ws"]) {
      const up = block(upstream(tree, name));
      expect(args(up, "hash")).toEqual([["$wsenv_sticky_key"]]);
      expect(up.findIndex((d) => d.name === "hash")).toBe(0); // keepalive must follow the method
      expect(args(up, "ip_hash")).toEqual([]);
    }
    const keyMap = findAll(tree, "map").find((m) => m.args[1] === "$wsenv_sticky_key");
    expect(keyMap?.args[0]).toBe(`$cookie_${STICKY_COOKIE}`);
    expect(args(block(keyMap), "default")).toEqual([["$request_id"]]);
    for (const path of ["/", "/ws/"]) expect(args(block(location(tree, path)), "add_header")).toEqual([["Set-Cookie", "$wsenv_sticky_cookie"]]);
  });

  test("sizes the workers for tens of thousands of sockets and drains on reload", () => {
    const tree = render({ workerProcesses: 3, workerConnections: 40000, drainTimeout: "5m", clientMaxBodySize: "20m" });
    expect(args(tree, "worker_processes")).toEqual([["3"]]);
    // Per worker: one descriptor per connection, plus room for listeners and logs; not 2x (that wasted
    // half of a capped nofile and halved the sockets a worker could hold).
    expect(args(tree, "worker_rlimit_nofile")).toEqual([["41024"]]);
    expect(args(block(tree.find((d) => d.name === "events")), "worker_connections")).toEqual([["40000"]]);
    expect(args(tree, "worker_shutdown_timeout")).toEqual([["5m"]]);
    const http = block(tree.find((d) => d.name === "http"));
    expect(args(http, "client_max_body_size")).toEqual([["20m"]]);
    expect(args(http, "large_client_header_buffers")).toHaveLength(1);
    // Buffered, so plain HTTP does not pay a write() per request; flushed within a second.
    expect(args(http, "access_log")).toEqual([["/var/log/nginx/access.log", "wsenv", "buffer=64k", "flush=1s"]]);
    const format = args(http, "log_format")[0].join(" ");
    for (const variable of ["$upstream_addr", "$upstream_connect_time", "$upstream_response_time", "$request_time"]) expect(format).toContain(variable);
  });

  test("the snippet is never spliced into the generated file, only included from its own", () => {
    const files = renderBalancerFiles(input({ snippet: "location /extra/ { return 204; }" }));
    expect(files.nginxConf).not.toContain("/extra/");
    expect(args(block(serverBlocks(parseNginx(files.nginxConf))[0]), "include")).toEqual([["/etc/nginx/wsenv-snippet.conf"]]);
    expect(files.snippet).toContain("location /extra/ { return 204; }\n");
  });

  test("the revision names both files: a snippet change alone changes it", () => {
    const plain = renderBalancerFiles(input());
    const withSnippet = renderBalancerFiles(input({ snippet: "add_header X-A a;" }));
    expect(plain.revision).toMatch(/^[0-9a-f]{16}$/);
    expect(withSnippet.revision).not.toBe(plain.revision);
    expect(withSnippet.nginxConf).toContain(`wsenv-config=${withSnippet.revision}`);
  });

  test("a stack named like the old revision placeholder still gets its revision in the health answer", () => {
    const files = renderBalancerFiles({ ...input(), stackName: "wsenv-revision-placeholder" });
    const health = location(parseNginx(files.nginxConf), "=", "/_wsenv/health");
    expect(args(block(health), "return")).toEqual([["200", `ok wsenv-config=${files.revision}\n`]]);
    expect(files.nginxConf).toContain("# Generated by wsenv for stack wsenv-revision-placeholder.");
  });

  test("rendering is deterministic", () => {
    expect(renderNginxConf(input({ sticky: true }))).toBe(renderNginxConf(input({ sticky: true })));
  });

  test("refuses to render a value that skipped the schema", () => {
    expect(() => renderNginxConf({ ...input(), nodeHosts: ["evil;"] })).toThrow(/refusing to render/);
  });
});

describe("no config value can inject nginx directives", () => {
  // Values that mean something to nginx, mixed with ones that are valid, so both outcomes are exercised.
  const hostile = fc.oneof(
    fc.string({ maxLength: 24 }),
    fc.string({ unit: fc.constantFrom("/", "a", "1", ";", "{", "}", " ", "$", "'", '"', "\n", "#", "\\", "m", "s", ".", "-"), maxLength: 12 }),
    fc.constantFrom("/ws/; return 200 x;", "/ws/ { }", "1h; allow all", "10m\ninclude /etc/passwd", "/$host/", "1h#", "/ws/'"),
  );
  const stringFields = ["websocketTimeout", "clientMaxBodySize", "drainTimeout", "connectTimeout", "failTimeout", "healthPath", "workerProcesses"] as const;
  // Values each field's grammar accepts, mixed in so that the accepted side is tried too.
  const duration = fc.tuple(fc.integer({ min: 1, max: 99999 }), fc.constantFrom("ms", "s", "m", "h", "d")).map(([n, unit]) => `${n}${unit}`);
  const segment = fc.string({ unit: fc.constantFrom("a", "z", "0", "9", "-", "_", "~", "."), minLength: 1, maxLength: 8 }).filter((p) => p !== "." && p !== "..");
  const urlPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join("/")}/`);
  const VALID: Record<(typeof stringFields)[number], fc.Arbitrary<string>> = {
    websocketTimeout: duration,
    clientMaxBodySize: fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.constantFrom("", "k", "K", "m", "M", "g", "G")).map(([n, unit]) => `${n}${unit}`),
    drainTimeout: duration,
    connectTimeout: duration,
    failTimeout: duration,
    healthPath: urlPath,
    workerProcesses: fc.constant("auto"),
  };

  /** The input, or the problems the schema found with these balancer values (keys as the Args name them). */
  function tryInput(balancer: Record<string, unknown>): { input: BalancerConfigInput } | { problems: string[] } {
    try {
      return { input: input(balancer) };
    } catch (err) {
      if (err instanceof ConfigError) return { problems: err.lines() };
      throw err;
    }
  }

  const reference = shape(render());
  const allArgs = (tree: Directive[]): string[] => tree.flatMap((d) => [...d.args, ...allArgs(d.block ?? [])]);

  /**
   * Both ways: an accepted value must land as `lands` says; a rejected one must be rejected for itself,
   * by a problem naming `key` alone. And the values tried must include both, or the property proved
   * only one side.
   */
  function bothWays<T>(values: fc.Arbitrary<T>, key: (value: T) => RegExp, balancer: (value: T) => Record<string, unknown>, lands: (accepted: BalancerConfigInput, value: T) => void, numRuns: number) {
    const seen = { accepted: 0, rejected: 0 };
    fc.assert(
      fc.property(values, (value) => {
        const result = tryInput(balancer(value));
        if ("input" in result) {
          seen.accepted++;
          lands(result.input, value);
        } else {
          seen.rejected++;
          expect(result.problems.length).toBeGreaterThan(0);
          for (const line of result.problems) expect(line).toMatch(key(value));
        }
      }),
      { numRuns },
    );
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.rejected).toBeGreaterThan(0);
  }

  test.each(stringFields)("an arbitrary %s is rejected, naming it, or lands as exactly one argument", (field) => {
    bothWays(
      fc.oneof(hostile, VALID[field]),
      () => new RegExp(`^balancer\\.${field}: `),
      (value) => ({ [field]: value }),
      (accepted, value) => {
        const tree = parseNginx(renderNginxConf(accepted));
        expect(shape(tree)).toEqual(reference);
        // Whole, as one argument of its own or as the value of one (`fail_timeout=10s`).
        expect(allArgs(tree).some((arg) => arg === value || arg.endsWith(`=${value}`))).toBe(true);
      },
      300,
    );
  });

  test("arbitrary websocket paths are rejected, naming the path, or each becomes exactly one location", () => {
    bothWays(
      fc.array(fc.oneof(hostile, urlPath), { minLength: 1, maxLength: 3 }),
      () => /^balancer\.websocketPaths\[\d\]: /,
      (paths) => ({ websocketPaths: paths }),
      (accepted, paths) => {
        const tree = parseNginx(renderNginxConf(accepted));
        const safe = parseNginx(renderNginxConf(input({ websocketPaths: paths.map((_, i) => `/p${i}/`) })));
        expect(shape(tree)).toEqual(shape(safe));
        expect(locations(tree).map((l) => l.args)).toEqual([["=", "/_wsenv/health"], ...paths.map((p) => [p]), ["/"]]);
      },
      300,
    );
  });

  test("a snippet of any text stays in the snippet file; one with a NUL is refused, naming it", () => {
    bothWays(
      fc.oneof(hostile, fc.string({ maxLength: 12 }).map((text) => `${text}\0`)),
      () => /^balancer\.snippet: must not contain a NUL character/,
      (snippet) => ({ snippet }),
      (accepted) => expect(shape(parseNginx(renderNginxConf(accepted)))).toEqual(reference),
      200,
    );
  });
});

describe("WebSocket buffers", () => {
  const conf = (balancer: Record<string, unknown>) => {
    const spec = parseWsenvConfig({ app: { source: "./apps/chat-php", wsCommand: "php server.php" }, balancer });
    return renderBalancerFiles({ stackName: "dev", balancer: spec.balancer, httpPort: 80, wsPort: 8000, nodeHosts: ["n0"] }).nginxConf;
  };

  test("each WebSocket location reads frames in websocketBufferSize bytes, and the request pool holds both buffers", () => {
    const text = conf({ websocketPaths: ["/ws/", "/live/"] });
    expect(text.match(/proxy_buffer_size 1280;/g)).toHaveLength(2);
    expect(text).toContain("request_pool_size 2816;");
    expect(text.slice(text.indexOf("location / {"))).not.toContain("proxy_buffer_size");
  });

  test("a buffer of a page or more leaves nginx's own request pool size", () => {
    const text = conf({ websocketBufferSize: 4096 });
    expect(text).toContain("proxy_buffer_size 4096;");
    expect(text).not.toContain("request_pool_size");
  });
});

import { COMMENT_MARKER, StackReport, commentBody, touchedStacks, upSummary } from "../../scripts/gitopsReport";

describe("touched stacks", () => {
  const stacks = ["dev", "prod"];
  test("a stack file touches its stack; a program file or an app touches every one; the rest none", () => {
    expect(touchedStacks(["Pulumi.prod.yaml", "README.md"], stacks)).toEqual(["prod"]);
    expect(touchedStacks(["apps/chat-php/index.php"], stacks)).toEqual(["dev", "prod"]);
    expect(touchedStacks(["components/environment.ts"], stacks)).toEqual(["dev", "prod"]);
    expect(touchedStacks(["README.md", "bench/run.ts", "test/unit/x.test.ts"], stacks)).toEqual([]);
  });
});

describe("the pull-request comment", () => {
  const report = (over: Partial<StackReport>): StackReport => ({ stack: "dev", base: { kind: "absent" }, head: { kind: "conf", nginxConf: "x", snippet: "" }, diff: "", ...over });

  test("starts with its marker, so the workflow updates it instead of adding another", () => {
    expect(commentBody([], { base: "main", head: "abc" }).split("\n")[0]).toBe(COMMENT_MARKER);
  });

  test("no content can close its fences early: a snippet full of backticks stays inside the diff block", () => {
    const body = commentBody([report({ base: { kind: "conf", nginxConf: "a", snippet: "" }, diff: "+# ```` not the end\n" })], { base: "main", head: "abc" });
    const fences = body.split("\n").filter((l) => /^`{3,}/.test(l));
    expect(fences).toEqual(["`````diff", "`````"]);
  });

  test("an invalid head lists its problems; an unchanged one says so", () => {
    const invalid = commentBody([report({ head: { kind: "invalid", problems: ["wsenv:app.nodes: must be at least 1 (got 0)"] } })], { base: "main", head: "abc" });
    expect(invalid).toContain("**invalid config in `dev`**");
    expect(invalid).toContain("wsenv:app.nodes: must be at least 1 (got 0)");
    expect(commentBody([report({ base: { kind: "conf", nginxConf: "x", snippet: "" } })], { base: "main", head: "abc" })).toContain("are unchanged.");
  });
});

describe("an up's job summary", () => {
  test("lists the stack's URLs from its outputs, the https ones when there are", () => {
    expect(upSummary("dev", { url: "http://localhost:8080/", wsUrl: "ws://localhost:8080/ws/", nodes: [] })).toBe("### Stack `dev` is up\n\n- url: http://localhost:8080/\n- wsUrl: ws://localhost:8080/ws/\n");
    expect(upSummary("dev", { url: "u", wsUrl: "w", tls: { url: "https://x/", wsUrl: "wss://x/ws/", certificateExpiry: "2126-01-01T00:00:00.000Z" } })).toContain("- tls.url: https://x/\n- tls.wsUrl: wss://x/ws/\n- tls.certificateExpiry: 2126-");
  });
});

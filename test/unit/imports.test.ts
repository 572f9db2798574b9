import * as fs from "fs";
import * as path from "path";

/**
 * How the code depends on itself, read from its import statements (type-only imports included: they
 * are dependencies of the reader too): no circle anywhere, and each layer imports only the ones below
 * it, so the library that ships stays free of tooling and tests, and the bench of the test suite.
 */

const ROOT = path.resolve(__dirname, "../..");
const FOLDERS = ["lib", "components", "provider", "scripts", "policy", "harness", "bench", "test"];

function sources(): string[] {
  const walk = (dir: string): string[] =>
    fs.existsSync(dir)
      ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === "node_modules" || e.name === "fixtures" ? [] : walk(path.join(dir, e.name))) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []))
      : [];
  return [path.join(ROOT, "index.ts"), ...FOLDERS.flatMap((f) => walk(path.join(ROOT, f)))];
}

/** Each source file (relative to the root) with the sources it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources()) {
    const text = fs.readFileSync(file, "utf8");
    const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"(\.[^"]+)"/gms)].map((m) => m[1]);
    const targets = specifiers
      .map((s) => path.resolve(path.dirname(file), s))
      .map((t) => [`${t}.ts`, path.join(t, "index.ts")].find((c) => fs.existsSync(c)))
      .filter((t): t is string => !!t);
    graph.set(path.relative(ROOT, file), [...new Set(targets.map((t) => path.relative(ROOT, t)))]);
  }
  return graph;
}

/** Every circle, as the files around it. */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

const layer = (file: string) => (file === "index.ts" ? "program" : file.split("/")[0]);

describe("imports", () => {
  const graph = importGraph();

  test("the sources were found and read", () => {
    expect(graph.get("lib/tls.ts")).toEqual(expect.arrayContaining(["lib/errors.ts"]));
    expect(graph.size).toBeGreaterThan(50);
  });

  test("no file imports itself around a circle", () => {
    expect(circles(graph).map((c) => c.join(" -> "))).toEqual([]);
  });

  test.each([
    ["lib", ["lib"]],
    ["components", ["lib", "components"]],
    ["provider", ["lib", "components", "provider"]],
    ["program", ["lib", "components"]],
    ["policy", ["lib", "policy"]],
    ["scripts", ["lib", "scripts"]],
    ["harness", ["lib", "scripts", "harness"]],
    ["bench", ["lib", "scripts", "harness", "bench"]],
  ])("%s imports only from %j: what ships has no tooling in it, and the bench no tests", (from, allowed) => {
    const crossing = [...graph].flatMap(([file, targets]) => (layer(file) === from ? targets.filter((t) => !allowed.includes(layer(t))).map((t) => `${file} -> ${t}`) : []));
    expect(crossing).toEqual([]);
  });
});

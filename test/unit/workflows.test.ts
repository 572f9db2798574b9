import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/** The GitOps workflows hold only glue: every step they run is an npm script or a pinned action. */

const ROOT = path.resolve(__dirname, "../..");
const DIR = path.join(ROOT, ".github/workflows");
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string>; devDependencies: Record<string, string> };

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  steps: Step[];
  concurrency?: { group: string; "cancel-in-progress": boolean };
}
const workflows = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml")).map((f) => ({ file: f, doc: parse(fs.readFileSync(path.join(DIR, f), "utf8")) as { jobs: Record<string, Job> } }));
const steps = workflows.flatMap(({ file, doc }) => Object.entries(doc.jobs).flatMap(([job, j]) => j.steps.map((step) => ({ where: `${file} ${job}`, step }))));

describe("the GitOps workflows", () => {
  test("there are the three: pull request, up on main, the drift check", () => {
    expect(workflows.map((w) => w.file).sort()).toEqual(["drift.yml", "pull-request.yml", "up.yml"]);
  });

  test("every npm script a step runs exists in package.json", () => {
    const called = steps.flatMap(({ where, step }) => [...(step.run ?? "").matchAll(/npm run (?:--silent )?([\w:-]+)/g)].map((m) => ({ where, script: m[1] })));
    expect(called.length).toBeGreaterThan(4);
    expect(called.filter((c) => !(c.script in pkg.scripts))).toEqual([]);
  });

  test("every action is pinned to a release, and the Pulumi CLI to the version package.json pins", () => {
    const actions = steps.filter(({ step }) => step.uses);
    expect(actions.filter(({ step }) => !/^[\w-]+\/[\w-]+@v\d+$/.test(step.uses!))).toEqual([]);
    const pulumi = actions.filter(({ step }) => step.uses!.startsWith("pulumi/actions@"));
    expect(pulumi.length).toBe(3);
    for (const { step } of pulumi) expect(String(step.with?.["pulumi-version"])).toBe(pkg.devDependencies.pulumi);
  });

  test("no secret is expanded into a shell command, where a log could show it", () => {
    expect(steps.filter(({ step }) => (step.run ?? "").includes("secrets."))).toEqual([]);
  });

  test("up and the drift check share one concurrency group per stack, and never cancel a run halfway", () => {
    const groups = workflows
      .filter((w) => w.file !== "pull-request.yml")
      .flatMap((w) => Object.values(w.doc.jobs).filter((j) => j.steps.some((s) => s.uses?.startsWith("pulumi/actions@"))))
      .map((j) => j.concurrency);
    expect(groups).toEqual([
      { group: "wsenv-stack-${{ matrix.stack }}", "cancel-in-progress": false },
      { group: "wsenv-stack-${{ matrix.stack }}", "cancel-in-progress": false },
    ]);
  });
});

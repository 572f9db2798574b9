import * as fs from "fs";
import { EXPERIMENTS } from "../../bench/lib/experiments";
import { benchPlan } from "../../bench/lib/targets";
import { renderBalancerFiles } from "../../lib/nginx";
import { specFromConfigMap } from "../../lib/stackConfig";
import { findNginx, hostLayout, nginxTest, requireOrSkip, tempDir } from "../support/nginxBinary";

const nginx = findNginx();
const run = requireOrSkip("nginx (Debian nginx-light)", nginx !== null);
const maybe = run ? describe : describe.skip;

// The bench's EXPERIMENT columns edit the generated config by pattern: when lib/nginx.ts changes, an
// experiment must still find what it changes (it throws otherwise) and still give a config nginx accepts.
maybe("every bench experiment applies to the bench's generated config and passes nginx -t", () => {
  const dir = tempDir("wsenv-bench-exp-");
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { plan, stackConfig } = benchPlan(`sha256:${"0".repeat(64)}`, { wsenv: 30000 });
  const spec = specFromConfigMap(stackConfig);
  const hosts = plan.app.nodes.map((n) => n.name);
  const files = renderBalancerFiles({ stackName: "bench", balancer: spec.balancer, httpPort: spec.app.httpPort, wsPort: spec.app.wsPort, nodeHosts: hosts }, hostLayout(dir));

  test.each(EXPERIMENTS.map((e) => [e.name, e] as const))("%s", (_, experiment) => {
    const conf = experiment.apply(files.nginxConf);
    // Only a placement change or the A/A control leaves the config as it is.
    if (experiment.directives[0].startsWith("(none")) expect(conf).toBe(files.nginxConf);
    else expect(conf).not.toBe(files.nginxConf);
    const result = nginxTest(nginx!, dir, conf, files.snippet, hosts);
    expect(result).toEqual({ ok: true, output: expect.stringContaining("test is successful") });
  });
});

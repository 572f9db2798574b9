import * as path from "path";
import { listStacks, readStackConfigFile } from "../../lib/stackConfig";
import { EngineStack } from "../../harness/engine";
import { PROJECT_DIR, describeWithEngine } from "../support/e2e";

// The policy pack (policy/) enforced by the real engine: `pulumi preview --policy-pack policy`. Every
// shipped stack passes it; a stack that breaks a mandatory rule is refused, naming the rule and the
// resource. Previews only: nothing is deployed.
const POLICY = path.join(PROJECT_DIR, "policy");
const SHIPPED = listStacks(PROJECT_DIR).filter((stack) => !stack.startsWith("e2e-"));

describeWithEngine("the policy pack on the real engine", () => {
  jest.setTimeout(300_000);

  async function previewWith(name: string, config: Record<string, unknown>) {
    const stack = await EngineStack.open(name);
    try {
      await stack.configure(config);
      return await stack.preview({ policyPacks: [POLICY] });
    } finally {
      await stack.remove();
    }
  }

  test.each(SHIPPED)("the shipped stack %s passes every mandatory rule", async (shipped) => {
    // The shipped config under another stack name, so the shipped file stays as it is.
    const run = await previewWith(`e2e-policy-${shipped}`, readStackConfigFile(PROJECT_DIR, shipped).config);
    expect(run.policies.filter((p) => p.startsWith("mandatory"))).toEqual([]);
    expect(run.ok).toBe(true);
  });

  test("a stack whose balancer image is `latest` is refused by pinned-images, naming the image's resource", async () => {
    const { config } = readStackConfigFile(PROJECT_DIR, "e2e");
    const run = await previewWith("e2e-policy-latest", { ...config, "wsenv:balancer": { ...(config["wsenv:balancer"] as object), image: "wsenv-test/nginx:latest" } });
    expect(run.ok).toBe(false);
    expect(run.policies.filter((p) => p.startsWith("mandatory"))).toEqual([
      "mandatory pinned-images wsenv-balancer-image: Images are pinned to a tag or a digest: no bare name, no `latest`.\nuses the image wsenv-test/nginx:latest: pin it to a tag (nginx:1.27) or a digest, not a bare name or latest",
    ]);
  });
});

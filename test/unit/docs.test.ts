import * as fs from "fs";
import * as path from "path";
import { ARGS_FILE, README_BEGIN, README_END, YAML_BEGIN, YAML_END, configKeyDocs, renderEnvironmentArgs, renderMarkdownReference, renderYamlReference, replaceBetween } from "../../scripts/configDocs";

const root = path.resolve(__dirname, "../..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

describe("the config reference", () => {
  test("documents every key with a type, a default and a description", () => {
    const docs = configKeyDocs();
    expect(docs.length).toBeGreaterThan(20);
    for (const doc of docs) expect(doc).toEqual({ key: expect.stringMatching(/^wsenv:/), type: expect.any(String), default: expect.any(String), description: expect.stringMatching(/\S/) });
  });

  test.each([
    ["README.md", README_BEGIN, README_END, renderMarkdownReference],
    ["Pulumi.yaml", YAML_BEGIN, YAML_END, renderYamlReference],
  ])("%s holds the reference generated from the schema (run `npm run docs` after changing it)", (file, begin, end, render) => {
    const text = read(file);
    expect(text).toBe(replaceBetween(text, begin, end, render()));
  });

  test(`${ARGS_FILE} holds the Args generated from the schema, each key with its default and what a change does`, () => {
    expect(read(ARGS_FILE)).toBe(renderEnvironmentArgs());
    expect(renderEnvironmentArgs()).toContain("A change replaces the balancer container");
  });
});

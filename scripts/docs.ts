// `npm run docs`: writes the config reference generated from the schema into README.md and Pulumi.yaml.
import * as fs from "fs";
import * as path from "path";
import { ARGS_FILE, README_BEGIN, README_END, YAML_BEGIN, YAML_END, renderEnvironmentArgs, renderMarkdownReference, renderYamlReference, replaceBetween } from "./configDocs";

const root = path.resolve(__dirname, "..");
for (const [file, begin, end, body] of [
  ["README.md", README_BEGIN, README_END, renderMarkdownReference()],
  ["Pulumi.yaml", YAML_BEGIN, YAML_END, renderYamlReference()],
] as const) {
  const full = path.join(root, file);
  fs.writeFileSync(full, replaceBetween(fs.readFileSync(full, "utf8"), begin, end, body));
  console.log(`updated ${file}`);
}
fs.writeFileSync(path.join(root, ARGS_FILE), renderEnvironmentArgs());
console.log(`updated ${ARGS_FILE}`);

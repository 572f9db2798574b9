import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import { Environment, EnvironmentArgs } from "../components";
import { ENVIRONMENT_TYPE, packageSchema } from "./packageSchema";

/** The wsenv package's version, from its package.json: above this file, compiled (dist/provider) or not. */
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    const manifest = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string }) : {};
    if (manifest.name === "wsenv" && manifest.version) return manifest.version;
  }
  throw new Error(`no package.json of wsenv above ${__dirname}`);
}

/**
 * The wsenv package for programs in other languages (Pulumi YAML, Python, Go, ...): it constructs
 * `wsenv:index:Environment` with `Environment.create`, exactly as a TypeScript program does, and returns
 * its outputs. Relative sources resolve against the folder the engine runs the plugin in, the program's.
 */
export class WsenvProvider implements provider.Provider {
  readonly version = packageVersion();

  async getSchema(): Promise<string> {
    return JSON.stringify(packageSchema(this.version));
  }

  async construct(name: string, type: string, inputs: pulumi.Inputs, options: pulumi.ComponentResourceOptions): Promise<provider.ConstructResult> {
    if (type !== ENVIRONMENT_TYPE) throw new Error(`wsenv has no component ${type}; it has ${ENVIRONMENT_TYPE}`);
    const env = await Environment.create(name, inputs as EnvironmentArgs, options);
    return {
      urn: env.urn,
      state: { url: env.url, wsUrl: env.wsUrl, nodes: env.nodes, balancer: env.balancer, deployed: env.deployed, tls: env.tls },
    };
  }
}

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { checkSourceLocation, prepareAppBuild } from "../lib/appSource";
import { environmentNameProblem, environmentPrefix, secretEnvDigest } from "../lib/naming";
import { AppNodePlan, EnvironmentPlan, planEnvironment } from "../lib/plan";
import { withoutPromiseStacks } from "../lib/promiseStacks";
import { ConfigError, KeyPrefix, RawWsenvConfig, WsenvSpec, parseWsenvConfig } from "../lib/schema";
import { AppImage } from "./appImage";
import { AppServerNode } from "./appServerNode";
import { BalancerNode } from "./balancerNode";
import type { EnvironmentArgs } from "./environmentArgs";

export type { AppArgs, BalancerArgs, EnvironmentArgs } from "./environmentArgs";

/** Resource options of {@link Environment}. */
export interface EnvironmentOptions extends pulumi.ComponentResourceOptions {
  /**
   * Where the Args came from, for the messages: the wsenv program passes its stack config's `wsenv:` keys,
   * so a problem found while staging names `wsenv:app.source`. Default: the Args' own key paths.
   * @internal
   */
  configKeys?: KeyPrefix;
}

/** One node as the `nodes` output lists it. */
export interface NodeOutput {
  name: string;
  address: string;
}

/** Values the checks can look at before Inputs resolve: an Input value stands in as "" (checked later). */
function plainOrPlaceholder(values: unknown): unknown {
  if (!values || typeof values !== "object" || pulumi.Output.isInstance(values) || values instanceof Promise) return {};
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : ""]));
}

/** The Args as the schema reads them, with app.env and secretEnv given separately. */
function rawConfig(args: EnvironmentArgs, env: unknown, secretEnv: unknown): RawWsenvConfig {
  return { app: args.app === undefined ? undefined : { ...args.app, env }, balancer: args.balancer, secretEnv };
}

/**
 * A whole environment: a private Docker network, the image with the application, its app server nodes
 * and the NGINX balancer in front of them, with its generated config.
 *
 * ```ts
 * const chat = new Environment("chat", { app: { source: "./apps/chat-php", nodes: 2, wsCommand: "php server.php" } });
 * export const url = chat.url;
 * ```
 *
 * Every Docker object is named `<name>-<stack>-…`, so environments with different names live side by
 * side in one program (each on its own `balancer.port`). The Args are checked when it is constructed,
 * every problem at once with its key path; the source is staged on this machine before any child is
 * registered, and a source that cannot be had fails the update before anything is created.
 */
export class Environment extends pulumi.ComponentResource {
  /** The application's URL through the balancer (its context path included). */
  public readonly url: pulumi.Output<string>;
  /** The WebSocket URL of the first websocket path. */
  public readonly wsUrl: pulumi.Output<string>;
  /** Each app node's name and address on the environment's network. */
  public readonly nodes: pulumi.Output<NodeOutput[]>;
  /** The balancer's container name and published port. */
  public readonly balancer: pulumi.Output<{ containerName: string; port: number }>;
  /** What was deployed: folder, archive URL, or git URL at its commit (credentials left out). */
  public readonly deployed: pulumi.Output<string>;

  constructor(name: string, args: EnvironmentArgs, opts?: EnvironmentOptions) {
    const { configKeys, ...resourceOptions } = opts ?? {};
    const keys: KeyPrefix = configKeys ?? { prefix: "", subject: `arguments of Environment ${JSON.stringify(name)}` };
    // Checked before the component itself registers: bad Args leave nothing behind.
    const spec = checkedSpec(name, args, keys);
    checkSourceLocation(spec.app, { projectDir: process.cwd(), keys });
    super("wsenv:index:Environment", name, {}, resourceOptions);
    const stack = pulumi.getStack();
    const prefix = environmentPrefix(name, stack);

    const env = pulumi.output(args.app.env ?? {});
    const secretEnv = pulumi.output(args.secretEnv ?? {});
    const resolvedSpec = (plainEnv: Record<string, string>, secrets: Record<string, string>) => parseWsenvConfig(rawConfig(args, plainEnv, secrets), keys);
    // Only a digest of the secrets reaches the plan (see secretEnvDigest), so no name or file it holds is
    // secret; the values go to the nodes' environment alone.
    const secretDigest = pulumi.unsecret(pulumi.all([env, secretEnv]).apply(([plainEnv, secrets]) => secretEnvDigest(stack, resolvedSpec(plainEnv, secrets).secretEnv)));
    const hasSecrets = pulumi.unsecret(secretEnv.apply((secrets) => Object.keys(secrets).length > 0));
    const staged = pulumi.output(prepareAppBuild(spec.app, { projectDir: process.cwd(), prefix, keys }));
    // Everything waits for the plan, so a source that cannot be staged or an Input value the schema
    // refuses fails the update before any child is created.
    const plan: pulumi.Output<EnvironmentPlan> = pulumi
      .all([staged, env, secretDigest])
      .apply(([build, plainEnv, digest]) => planEnvironment({ prefix, stack }, resolvedSpec(plainEnv, {}), build, digest));

    // The children are declared once the plan is known (in a preview too, unless an env or secretEnv value
    // comes from a resource that does not exist yet): their names depend on the staged content, and a
    // plan that failed then declares nothing at all, instead of resources whose inputs failed.
    const children = pulumi.all([plan, hasSecrets]).apply(([p, withSecrets]) => this.declareChildren(name, p, withSecrets ? secretEnv : undefined));

    this.url = plan.url;
    this.wsUrl = plan.wsUrl;
    this.nodes = children.apply(({ nodes }) => pulumi.all(nodes.map((n) => pulumi.all([n.containerName, n.ipAddress]).apply(([nodeName, address]) => ({ name: nodeName, address })))));
    this.balancer = children.apply(({ balancer }) => pulumi.all([balancer.containerName, balancer.port]).apply(([containerName, port]) => ({ containerName, port })));
    this.deployed = plan.app.deployed;
    // Done declaring. The outputs stay off the component's record: when the plan fails they fail, and the
    // stack outputs already report that failure once; registered here it would be reported again, as an
    // unhandled rejection of the SDK.
    this.registerOutputs({});
  }

  private declareChildren(name: string, plan: EnvironmentPlan, secretEnv: pulumi.Output<Record<string, string>> | undefined) {
    // Internal-only would also cut the nodes' own outbound traffic (package installs, APIs); isolation
    // from the host comes from publishing no node port, and from other environments from a network each.
    const network = new docker.Network(`${name}-network`, { name: plan.networkName }, { parent: this });
    const image = new AppImage(`${name}-app`, { imageName: plan.app.imageName, buildContext: plan.app.buildContext }, { parent: this });

    // Logical names carry the node's container name (revision included): a new revision is a new
    // resource created beside the old one, not a replacement (the Docker provider deletes a container
    // before it creates its replacement).
    const declareNode = (node: AppNodePlan) =>
      new AppServerNode(
        node.name,
        {
          nodeName: node.name,
          image: image.imageName,
          networkName: network.name,
          aliases: [plan.app.peersAlias],
          // A secret list hides the node's whole environment from diffs: only when there is a secret.
          envs: secretEnv ? pulumi.secret(secretEnv.apply((secrets) => ({ ...node.envs, ...secrets }))) : node.envs,
          memoryMb: plan.app.memoryMb,
          restart: plan.app.restart,
          capabilities: plan.app.capabilities,
          healthCheck: plan.app.healthCheck,
        },
        { parent: this },
      );
    // Declaring a node costs mostly the SDK's stack captures; see withoutPromiseStacks.
    const nodes = withoutPromiseStacks(() => plan.app.nodes.map(declareNode));

    const balancer = new BalancerNode(
      `${name}-balancer`,
      {
        containerName: plan.balancer.containerName,
        image: plan.balancer.image,
        networkName: network.name,
        port: plan.balancer.port,
        listenAddress: plan.balancer.listenAddress,
        openFilesLimit: plan.balancer.openFilesLimit,
        cpuShares: plan.balancer.cpuShares,
        memoryMb: plan.balancer.memoryMb,
        capabilities: plan.balancer.capabilities,
        files: plan.balancer.files,
        healthPath: plan.balancer.healthPath,
        upstreamAddresses: nodes.map((n) => n.ipAddress),
      },
      { parent: this },
    );
    return { nodes, balancer };
  }
}

/**
 * The Args checked by the schema before any child exists: every problem at once, the component's name
 * included. app.env and secretEnv values that are still Inputs are checked once they resolve.
 */
function checkedSpec(name: string, args: EnvironmentArgs, keys: KeyPrefix): WsenvSpec {
  const nameProblem = environmentNameProblem(name);
  const problems = nameProblem ? [`name: ${nameProblem}`] : [];
  try {
    const spec = parseWsenvConfig(rawConfig(args, plainOrPlaceholder(args.app?.env ?? {}), plainOrPlaceholder(args.secretEnv ?? {})), keys);
    if (problems.length === 0) return spec;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  throw new ConfigError(problems, keys.subject);
}

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { checkSourceLocation, prepareAppBuild } from "../lib/appSource";
import { checkTlsKey } from "../lib/tls";
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
  // The key's value is never parsed: the schema only needs to know whether there is one.
  return { app: args.app === undefined ? undefined : { ...args.app, env }, balancer: args.balancer, secretEnv, tlsKey: args.tlsKey === undefined ? undefined : "" };
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
  /** With `balancer.tls`: the https:// and wss:// URLs and when the certificate expires; else undefined. */
  public readonly tls: pulumi.Output<{ url: string; wsUrl: string; certificateExpiry: string } | undefined>;

  constructor(name: string, args: EnvironmentArgs, opts?: EnvironmentOptions) {
    const { configKeys, ...resourceOptions } = opts ?? {};
    const keys: KeyPrefix = configKeys ?? { prefix: "", subject: `arguments of Environment ${JSON.stringify(name)}` };
    // Checked before the component itself registers: bad Args leave nothing behind.
    const spec = checkedSpec(name, args, keys);
    checkSourceLocation(spec.app, { projectDir: process.cwd(), keys });
    // A key given as text is checked now; one that is an Input, once it resolves (below).
    if (spec.balancer.tls && typeof args.tlsKey === "string") checkTlsKey(spec.balancer.tls.certificate, args.tlsKey, keys);
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
    // Always a secret, whatever the caller passed; an Input is checked against the certificate once it resolves.
    const certificate = spec.balancer.tls?.certificate;
    const tlsKey = certificate === undefined || args.tlsKey === undefined ? undefined : pulumi.secret(args.tlsKey);
    // A key given as text was checked above already.
    const tlsKeyChecked = tlsKey && typeof args.tlsKey !== "string" ? pulumi.unsecret(tlsKey.apply((key) => (checkTlsKey(certificate!, key, keys), true))) : true;
    // Everything waits for the plan, so a source that cannot be staged or an Input value the schema
    // refuses fails the update before any child is created.
    const plan: pulumi.Output<EnvironmentPlan> = pulumi
      .all([staged, env, secretDigest, tlsKeyChecked])
      .apply(([build, plainEnv, digest]) => planEnvironment({ prefix, stack }, resolvedSpec(plainEnv, {}), build, digest));

    // The children are declared once the plan is known (in a preview too, unless an env or secretEnv value
    // comes from a resource that does not exist yet): their names depend on the staged content, and a
    // plan that failed then declares nothing at all, instead of resources whose inputs failed.
    const children = pulumi.all([plan, hasSecrets]).apply(([p, withSecrets]) => this.declareChildren(name, p, withSecrets ? secretEnv : undefined, tlsKey));

    this.url = plan.url;
    this.wsUrl = plan.wsUrl;
    this.nodes = children.apply(({ nodes }) => pulumi.all(nodes.map((n) => pulumi.all([n.containerName, n.ipAddress]).apply(([nodeName, address]) => ({ name: nodeName, address })))));
    this.balancer = children.apply(({ balancer }) => pulumi.all([balancer.containerName, balancer.port]).apply(([containerName, port]) => ({ containerName, port })));
    this.deployed = plan.app.deployed;
    this.tls = plan.apply((p) => p.tls);
    // Done declaring. The outputs stay off the component's record: when the plan fails they fail, and the
    // stack outputs already report that failure once; registered here it would be reported again, as an
    // unhandled rejection of the SDK.
    this.registerOutputs({});
  }

  private declareChildren(name: string, plan: EnvironmentPlan, secretEnv: pulumi.Output<Record<string, string>> | undefined, tlsKey: pulumi.Output<string> | undefined) {
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
          readOnlyTmpfs: plan.app.readOnlyTmpfs,
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
        tls:
          plan.balancer.tls && tlsKey
            ? { port: plan.balancer.tls.port, files: tlsKey.apply((key) => ({ fileName: plan.balancer.tls!.fileName, certificate: plan.balancer.tls!.certificate, key })) }
            : undefined,
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

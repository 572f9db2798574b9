import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { withoutPromiseStacks } from "../lib/promiseStacks";
import { ConfigError } from "../lib/errors";
import { ResolvedEnvironment, asRunError, resolveEnvironment } from "./resolveEnvironment";
import { AppImage } from "./appImage";
import { AppServerNode } from "./appServerNode";
import { BalancerNode } from "./balancerNode";
import type { EnvironmentArgs } from "./environmentArgs";

export type { AppArgs, BalancerArgs, EnvironmentArgs, TlsArgs } from "./environmentArgs";
export type { ResolvedEnvironment } from "./resolveEnvironment";

/** One node as the `nodes` output lists it. */
export interface NodeOutput {
  name: string;
  address: string;
}

/**
 * A whole environment: a private Docker network, the image with the application, its app server nodes
 * and the NGINX balancer in front of them, with its generated config.
 *
 * ```ts
 * const chat = await Environment.create("chat", { app: { source: "./apps/chat-php", nodes: 2, wsCommand: "php server.php" } });
 * export const url = chat.url;
 * ```
 *
 * {@link Environment.create} resolves the Args first (it waits for them, checks them, every problem at once
 * with its key, stages the source and plans everything), then the constructor declares every child at
 * once, so a preview shows the whole environment. Children are named `<name>-<role>[-<i>]`
 * (`chat-network`, `chat-node-0`, `chat-balancer`); every Docker object is named `<name>-<stack>-…`, so
 * environments with different names live side by side in one program (each on its own `balancer.port`).
 */
export class Environment extends pulumi.ComponentResource {
  /** The application's URL through the balancer (its context path included). */
  public readonly url: pulumi.Output<string>;
  /** The WebSocket URL of the first websocket path. */
  public readonly wsUrl: pulumi.Output<string>;
  /** Each app node's container name and address on the environment's network. */
  public readonly nodes: pulumi.Output<NodeOutput[]>;
  /** The balancer's container name and published port. */
  public readonly balancer: pulumi.Output<{ containerName: string; port: number }>;
  /** What was deployed: folder, archive URL, or git URL at its commit (credentials left out). */
  public readonly deployed: pulumi.Output<string>;
  /** With `balancer.tls`: the https:// and wss:// URLs and when the certificate expires; else undefined. */
  public readonly tls: pulumi.Output<{ url: string; wsUrl: string; certificateExpiry: string } | undefined>;

  /**
   * Resolves the Args (see {@link resolveEnvironment}: relative sources resolve against the program's
   * folder), then declares the environment. Bad Args reject, before any resource exists, with a
   * `pulumi.RunError` naming every problem (its `cause` is the `ConfigError`), which fails the program with
   * the problems alone. A program that reads the Args from elsewhere and wants the problems named its own
   * way calls `resolveEnvironment` and `new Environment` itself (this repository's `index.ts` does).
   */
  static async create(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions): Promise<Environment> {
    try {
      return new Environment(name, await resolveEnvironment(name, args, { projectDir: process.cwd(), stack: pulumi.getStack() }), opts);
    } catch (err) {
      throw err instanceof ConfigError ? asRunError(err) : err;
    }
  }

  /** Declares an environment already resolved; {@link Environment.create} does both. */
  constructor(name: string, resolved: ResolvedEnvironment, opts?: pulumi.ComponentResourceOptions) {
    super("wsenv:index:Environment", name, {}, opts);
    const { plan } = resolved;
    // Declaring costs mostly the SDK's stack captures (see withoutPromiseStacks): on the real engine,
    // `pulumi preview` of 100 nodes took 10.9 s with them and 6.5 s without (median of 4 runs each).
    const { nodes, balancer } = withoutPromiseStacks(() => this.declareChildren(name, resolved));
    this.url = pulumi.output(plan.url);
    this.wsUrl = pulumi.output(plan.wsUrl);
    this.nodes = pulumi.all(nodes.map((n) => pulumi.all([n.containerName, n.ipAddress]).apply(([nodeName, address]) => ({ name: nodeName, address }))));
    this.balancer = pulumi.all([balancer.containerName, balancer.port]).apply(([containerName, port]) => ({ containerName, port }));
    this.deployed = pulumi.output(plan.app.deployed);
    this.tls = pulumi.output(plan.tls);
    this.registerOutputs({ url: this.url, wsUrl: this.wsUrl, nodes: this.nodes, balancer: this.balancer, deployed: this.deployed, tls: this.tls });
  }

  /** Every child, at once, named `<name>-<role>[-<i>]`. */
  private declareChildren(name: string, resolved: ResolvedEnvironment) {
    const { plan, pending, secretEnv, tlsKey } = resolved;
    // What the plan took from Inputs that were not known yet (a preview only) waits for them.
    const known = <T>(value: T) => (pending ? pending.apply(() => value) : pulumi.output(value)) as pulumi.Output<T>;

    // Internal-only would also cut the nodes' own outbound traffic (package installs, APIs); isolation
    // from the host comes from publishing no node port, and from other environments from a network each.
    const network = new docker.Network(`${name}-network`, { name: plan.networkName }, { parent: this });
    const image = new AppImage(`${name}-app`, { imageName: plan.app.imageName, buildContext: plan.app.buildContext }, { parent: this });

    const nodes = plan.app.nodes.map(
      (node, i) =>
        new AppServerNode(
          `${name}-node-${i}`,
          {
            nodeName: known(node.name),
            image: image.imageName,
            networkName: network.name,
            aliases: [plan.app.peersAlias],
            // A secret list hides the node's whole environment from diffs: only when there is a secret.
            envs: secretEnv ? pulumi.secret(pulumi.all([known(node.envs), secretEnv]).apply(([envs, secrets]) => ({ ...envs, ...secrets }))) : known(node.envs),
            memoryMb: plan.app.memoryMb,
            restart: plan.app.restart,
            capabilities: plan.app.capabilities,
            healthCheck: plan.app.healthCheck,
            readOnlyTmpfs: plan.app.readOnlyTmpfs,
          },
          // Nodes were named by their Docker name, revision included, until wsenv 0.1: the alias keeps
          // such a stack's nodes (and, through their names, their containers) where they are. The SDK
          // cannot alias children by a name that is not known, so a preview still waiting for a secret
          // declares none (the up, where the secret is known, has it).
          { parent: this, aliases: pending ? [] : [{ name: node.name }] },
        ),
    );

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
        files: known(plan.balancer.files),
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

export { asRunError, resolveEnvironment };

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { AppNodePlan, EnvironmentPlan } from "../lib/plan";
import { withoutPromiseStacks } from "../lib/promiseStacks";
import { AppDeployment } from "./appDeployment";
import { AppServerNode } from "./appServerNode";
import { BalancerNode } from "./balancerNode";

/** Arguments of {@link Environment}. */
export interface EnvironmentArgs {
  /**
   * What to create, decided by `planEnvironment` from the stack config: names, rendered balancer files,
   * node environments. Plain data, not Inputs: node names and counts decide which resources exist.
   */
  plan: EnvironmentPlan;
  /** Secret environment for every node (`wsenv:secretEnv`); pass it as a Pulumi secret. */
  secretEnv: pulumi.Input<Record<string, string>>;
}

/** One node as the `nodes` output lists it. */
export interface NodeOutput {
  name: string;
  address: string;
}

/**
 * A whole environment: a private Docker network, the application deployment, its app server nodes and the
 * NGINX balancer in front of them.
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
  /** What was deployed: folder, archive URL, or git URL at its commit. */
  public readonly deployed: pulumi.Output<string>;

  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wsenv:index:Environment", name, {}, opts);
    const { plan } = args;
    // Internal-only would also cut the nodes' own outbound traffic (package installs, APIs); isolation
    // from the host comes from publishing no node port, and from other stacks from a network per stack.
    const network = new docker.Network(`${name}-network`, { name: plan.networkName }, { parent: this });

    const deployment = new AppDeployment(
      `${name}-app`,
      { imageName: plan.app.imageName, buildContext: plan.app.buildContext, deployed: plan.app.deployed },
      { parent: this },
    );

    // Logical names carry the node's container name (revision included): a new revision is a new
    // resource created beside the old one, not an in-place replacement.
    const declareNode = (node: AppNodePlan) =>
      new AppServerNode(
        node.name,
        {
          nodeName: node.name,
          image: deployment.imageName,
          networkName: network.name,
          aliases: [plan.app.peersAlias],
          envs: pulumi.all([node.envs, args.secretEnv]).apply(([plain, secret]) => ({ ...plain, ...secret })),
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

    this.url = pulumi.output(plan.url);
    this.wsUrl = pulumi.output(plan.wsUrl);
    this.nodes = pulumi.all(nodes.map((n) => pulumi.all([n.containerName, n.ipAddress]))).apply((pairs) =>
      pairs.map(([nodeName, address]) => ({ name: nodeName, address })),
    );
    this.balancer = pulumi.all([balancer.containerName, balancer.port]).apply(([containerName, port]) => ({ containerName, port }));
    this.deployed = deployment.deployed;
    this.registerOutputs({ url: this.url, wsUrl: this.wsUrl, nodes: this.nodes, balancer: this.balancer, deployed: this.deployed });
  }
}

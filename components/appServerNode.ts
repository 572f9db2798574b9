import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/** Arguments of {@link AppServerNode}. */
export interface AppServerNodeArgs {
  /** Container name and hostname; Docker's DNS resolves it on the environment's network. */
  nodeName: pulumi.Input<string>;
  /** The deployment's image (the stack's image with the application in its context). */
  image: pulumi.Input<string>;
  /** The environment's private network. The node publishes no port: only the balancer reaches it. */
  networkName: pulumi.Input<string>;
  /** Extra DNS names on the network; the peers alias lets every node find all the others. */
  aliases: pulumi.Input<pulumi.Input<string>[]>;
  /** Environment variables, secrets included (pass them as Pulumi secrets; the list then stays secret). */
  envs: pulumi.Input<Record<string, string>>;
  /** Memory limit in MB. Changes in place, without replacing the container. */
  memoryMb: pulumi.Input<number>;
  /** Docker restart policy (`unless-stopped` by default in the schema). Changes in place. */
  restart: pulumi.Input<string>;
  /** Capabilities kept after dropping all: the least the stack's servers need. */
  capabilities: pulumi.Input<pulumi.Input<string>[]>;
  /** Docker health check command (`["CMD", …]`); the node counts as started once it passes. */
  healthCheck: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * A read-only root filesystem with these tmpfs mounts (path to mount options) as the only writable
   * paths. Default: a writable root. A change replaces the container (name it in the node's revision).
   */
  readOnlyTmpfs?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** One application server node: a container on the private network only, with a stable hostname. */
export class AppServerNode extends pulumi.ComponentResource {
  public readonly containerName: pulumi.Output<string>;
  /** The node's address on the environment's network. */
  public readonly ipAddress: pulumi.Output<string>;

  constructor(name: string, args: AppServerNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wsenv:index:AppServerNode", name, {}, opts);
    const container = new docker.Container(
      `${name}-container`,
      {
        name: args.nodeName,
        hostname: args.nodeName,
        image: args.image,
        envs: pulumi.output(args.envs).apply((envs) => Object.entries(envs).map(([k, v]) => `${k}=${v}`)),
        networksAdvanced: [{ name: args.networkName, aliases: pulumi.all([args.nodeName, args.aliases]).apply(([n, a]) => [n, ...a]) }],
        restart: args.restart,
        memory: args.memoryMb,
        // No swap. Unset, Docker allows as much swap as memory and reports that back, which the provider
        // takes for a change on every refresh (a replacement); set equal, a memory change updates both.
        memorySwap: args.memoryMb,
        capabilities: { drops: ["ALL"], adds: args.capabilities },
        securityOpts: ["no-new-privileges:true"],
        ...(args.readOnlyTmpfs ? { readOnly: true, tmpfs: args.readOnlyTmpfs } : {}),
        healthcheck: {
          tests: args.healthCheck,
          interval: "5s",
          timeout: "3s",
          startPeriod: "30s",
          retries: 3,
        },
        // Creation ends only when the node is healthy, so the balancer is never reloaded onto a node that
        // cannot answer yet (the config resource depends on the nodes).
        wait: true,
        waitTimeout: 120,
        // Deleting an old node (rolling deploy, scale down) stops it with the image's stop signal and this
        // much time before the kill: the supervisor passes it on, Apache finishes its requests and the
        // socket server closes its sockets with 1001 so clients reconnect to the new nodes. Without it the
        // provider kills at once and every socket on the node breaks (1006).
        destroyGraceSeconds: 10,
      },
      // The provider replaces a container by deleting it first (its name would collide). A node's name
      // carries its revision, so its replacement never collides, and must start before the old one stops:
      // the balancer moves to it, then the engine deletes the old node last.
      { parent: this, deleteBeforeReplace: false },
    );
    this.containerName = container.name;
    this.ipAddress = container.networkDatas.apply((datas) => datas?.[0]?.ipAddress ?? "");
    this.registerOutputs({ containerName: this.containerName, ipAddress: this.ipAddress });
  }
}

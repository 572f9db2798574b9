import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/** Arguments of {@link AppImage}. */
export interface AppImageArgs {
  /**
   * Local tag of the node image. Content-addressed (see `appImageName`): a changed application is a new
   * tag, so nodes built on it get new names and roll out beside the old ones. A change rebuilds.
   */
  imageName: pulumi.Input<string>;
  /**
   * Build context folder, relative to the project folder, staged by `prepareAppBuild` with the Dockerfile,
   * the supervisor and the application under `app/`. A change rebuilds.
   */
  buildContext: pulumi.Input<string>;
}

/**
 * The image every app node runs: the stack's image with the application copied into its context folder,
 * built on the local Docker engine and never pushed.
 */
export class AppImage extends pulumi.ComponentResource {
  /** The image nodes run. */
  public readonly imageName: pulumi.Output<string>;

  constructor(name: string, args: AppImageArgs, opts?: pulumi.ComponentResourceOptions) {
    // The component was called AppDeployment: the alias keeps existing stacks' image (a child, whose URN
    // follows its parent's) from being deleted and built again.
    super("wsenv:index:AppImage", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "wsenv:index:AppDeployment" }] });
    const build = new docker.Image(
      `${name}-image`,
      {
        imageName: args.imageName,
        skipPush: true,
        // The Dockerfile is the context's own (the default); the build pulls the stack's base image.
        build: { context: args.buildContext },
      },
      { parent: this },
    );
    // The provider never deletes an image it built. This resource owns the built tag instead (it is found
    // locally, never pulled): `destroy` removes it, and so does a new app version once the nodes that ran
    // the old one are gone (they depend on it, so the engine deletes them first).
    const local = new docker.RemoteImage(`${name}-local`, { name: build.imageName, keepLocally: false }, { parent: this });
    this.imageName = local.name;
    this.registerOutputs({ imageName: this.imageName });
  }
}

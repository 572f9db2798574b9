import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/** Arguments of {@link AppDeployment}. */
export interface AppDeploymentArgs {
  /**
   * Local tag of the node image. Content-addressed (see `appImageName`): a changed application is a new
   * tag, so nodes built on it get new names and roll out beside the old ones.
   */
  imageName: pulumi.Input<string>;
  /**
   * Build context folder, relative to the project folder, staged by `prepareAppBuild` with the Dockerfile,
   * the supervisor and the application under `app/`.
   */
  buildContext: pulumi.Input<string>;
  /** What was deployed (folder, archive URL, or git URL at its commit); reported as an output. */
  deployed: pulumi.Input<string>;
}

/**
 * The application, deployed into its context: the stack's image with the app copied into the context
 * folder, built on the local Docker engine and never pushed. Every node runs this image.
 */
export class AppDeployment extends pulumi.ComponentResource {
  /** The image nodes run. */
  public readonly imageName: pulumi.Output<string>;
  /** What was deployed: the folder, the archive URL, or the git URL at its commit. */
  public readonly deployed: pulumi.Output<string>;

  constructor(name: string, args: AppDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wsenv:index:AppDeployment", name, {}, opts);
    const image = new docker.Image(
      `${name}-image`,
      {
        imageName: args.imageName,
        skipPush: true,
        // The Dockerfile is the context's own (the default); the build pulls the stack's base image.
        build: { context: args.buildContext },
      },
      { parent: this },
    );
    this.imageName = image.imageName;
    this.deployed = pulumi.output(args.deployed);
    this.registerOutputs({ imageName: this.imageName, deployed: this.deployed });
  }
}

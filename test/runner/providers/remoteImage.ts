// docker:index/remoteImage:RemoteImage (Terraform docker_image): an image that must be on the engine.
// Here there is no registry, so "pull" means: it is already present locally, or the step fails.
import { dockerRaw, inspect } from "../docker";
import { Obj } from "../util";
import { isSetTf } from "./bridge";
import { ProviderImpl, rejectUnsupported } from "./types";

const TYPE = "docker:index/remoteImage:RemoteImage";
const INPUTS = ["name", "keepLocally", "forceRemove", "pullTriggers", "triggers"];

/** resource_docker_image_funcs.go determineRepoDigest: the single repo digest, one naming the image, else the image id. */
function repoDigest(name: string, img: Obj): string {
  const digests = (img.RepoDigests as string[] | null) ?? [];
  if (digests.length === 1) return digests[0];
  const match = digests.find((d) => d.includes(name));
  return match ?? String(img.Id);
}

async function read(name: string): Promise<{ id: string; outputs: Obj }> {
  const img = await inspect("image", name);
  if (!img) throw new Error(`Unable to read Docker image into resource: image ${name} is not present locally and this machine has no registry`);
  return { id: `${String(img.Id)}${name}`, outputs: { imageId: img.Id, repoDigest: repoDigest(name, img) } };
}

export const remoteImageProvider: ProviderImpl = {
  type: TYPE,

  check(ctx, news) {
    rejectUnsupported(TYPE, ctx.name, news, INPUTS, isSetTf);
    if (!news.name) throw new Error(`${TYPE} ${ctx.name}: name is required`);
    return { inputs: { ...news } };
  },

  async create(_ctx, i) {
    const r = await read(String(i.name));
    return { id: r.id, outputs: { ...i, id: r.id, ...r.outputs } };
  },

  async update(_ctx, _old, i) {
    const r = await read(String(i.name));
    return { outputs: { ...i, id: r.id, ...r.outputs } };
  },

  async delete(ctx, old) {
    // removeImage: nothing when keep_locally; else ImageRemove(name, Force: force_remove) if present.
    if (old.inputs.keepLocally) return;
    const name = String(old.inputs.name);
    if (!(await inspect("image", name))) return;
    const r = await dockerRaw(["rmi", ...(old.inputs.forceRemove ? ["--force"] : []), name]);
    if (r.code !== 0) throw new Error(`Unable to remove Docker image: ${r.stderr.trim()}`);
    ctx.note(`removed image ${name} (keepLocally is not set; there is no registry to pull it again)`);
  },

  deleteBeforeReplace: () => false,
};

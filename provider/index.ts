// The plugin's entry: the Node.js language host runs this folder (PulumiPlugin.yaml) and calls the
// exported function, which serves the wsenv package over the provider protocol until the engine is done.
import * as provider from "@pulumi/pulumi/provider";
import { WsenvProvider } from "./wsenvProvider";

export = () => provider.main(new WsenvProvider(), process.argv.slice(2));

export * from "./appDeployment";
export * from "./appServerNode";
export * from "./balancerNode";
export * from "./environment";

export * from "./appImage";
export * from "./appServerNode";
export * from "./balancerNode";
export * from "./environment";

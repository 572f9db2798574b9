import { z } from "zod";
import { appSchema, balancerSchema, tlsSchema } from "./schema";

/**
 * The Args as JSON Schema, written by zod from the one schema (`z.toJSONSchema`, as a caller writes
 * them: keys with defaults are optional). The config reference, the generated TypeScript Args and the
 * Pulumi package schema are each a rendering of it.
 */

/** A JSON Schema as `z.toJSONSchema` writes these: the parts the renderings read. */
export interface JsonSchema {
  type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  default?: unknown;
  description?: string;
}

const inputSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input" }) as JsonSchema;

/** `balancer`, `balancer.tls` and `app`, each an object schema. */
export const ARGS_JSON_SCHEMA = {
  balancer: inputSchema(balancerSchema),
  tls: inputSchema(tlsSchema),
  app: inputSchema(appSchema),
};

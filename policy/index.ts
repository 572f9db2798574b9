// The wsenv policy pack: `pulumi preview --policy-pack policy` (or up) refuses what breaks a rule of
// rules.ts, naming the rule and the resource.
import { PolicyPack } from "@pulumi/policy";
import { RULES } from "./rules";

new PolicyPack("wsenv", {
  policies: RULES.map((rule) => ({
    name: rule.name,
    description: rule.description,
    enforcementLevel: rule.enforcementLevel,
    validateResource: (args, reportViolation) => {
      for (const message of rule.check({ type: args.type, urn: args.urn, props: args.props })) reportViolation(message);
    },
  })),
});

// Projects, so a newcomer can run the fast ones alone (`npm run test:unit`):
//   unit  - pure functions and the program under pulumi.runtime.setMocks (seconds, no services)
//   apps  - the reference chat server and the node supervisor as real processes (needs php-cli, bash)
//   nginx - generated configs checked by a real `nginx -t` (needs Debian's nginx-light)
//   cli   - the real Pulumi CLI from `npm run toolchain` reading this project and its stacks
//   e2e   - the program applied to a real Docker engine, real nginx and a real browser
const tsJest = ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: { warnOnly: false } }];
// Staged builds (.wsenv/) and the packed library (dist/) hold copies of fixtures and sources: not tests.
const common = { preset: undefined, testEnvironment: "node", transform: { "^.+\\.ts$": tsJest }, modulePathIgnorePatterns: ["<rootDir>/.wsenv/", "<rootDir>/dist/"] };

module.exports = {
  reporters: ["default", "<rootDir>/test/support/summaryReporter.js"],
  projects: [
    { ...common, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    { ...common, displayName: "apps", testMatch: ["<rootDir>/test/apps/**/*.test.ts"] },
    { ...common, displayName: "nginx", testMatch: ["<rootDir>/test/nginx/**/*.test.ts"] },
    { ...common, displayName: "cli", testMatch: ["<rootDir>/test/cli/**/*.test.ts"] },
    // Each e2e file has its own stack, ports and names, so two run side by side (the chat file mostly waits
    // out its 90 s idle test).
    { ...common, displayName: "e2e", testMatch: ["<rootDir>/test/e2e/**/*.test.ts"] },
  ],
};

import type { ViteUserConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources in tests, never to a stale dist.
const conditions = ["@http-retry/source", "module", "node", "development|production"]

const config: ViteUserConfig = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: ["test/**/*.test.ts"],
    // Type-level tests (test/*.test-d.ts), by tsc through tsconfig.typecheck.json: no project references there, so
    // the workspace packages are checked from their sources, never from a stale dist.
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "tsconfig.typecheck.json" },
    testTimeout: 20_000
  }
}

export default config

import type { ViteUserConfig } from "vitest/config"

// Workspace packages resolve to their TypeScript sources in tests, never to a stale dist.
const conditions = ["@http-retry/source", "module", "node", "development|production"]

const config: ViteUserConfig = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000
  }
}

export default config

import type { ViteUserConfig } from "vitest/config"

// As vitest.shared.ts, but without the "module" condition for external packages: @opentelemetry/api's "module"
// build has extensionless imports that only a bundler can load.
const conditions = ["@http-retry/source", "node", "development|production"]

const config: ViteUserConfig = {
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@http-retry/source", "node"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000
  }
}

export default config

import { mergeConfig, type ViteUserConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

const config: ViteUserConfig = {
  test: {
    // The tests run the bundled commands, as shipped: bundle them once per run.
    globalSetup: ["./test/globalSetup.ts"],
    typecheck: { enabled: false }
  }
}

export default mergeConfig(shared, config)

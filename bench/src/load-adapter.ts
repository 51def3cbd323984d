import type { Adapter } from "./clients/types.js"

/** Imports a client's adapter module; a client whose packages do not load yet is skipped, not a crash. */
export const loadAdapter = async (client: string): Promise<Adapter | { readonly skipped: string }> => {
  try {
    const module = (await import(`./clients/${client}.js`)) as { readonly adapter?: Adapter }
    if (module.adapter === undefined) return { skipped: `./clients/${client}.js exports no adapter` }
    return module.adapter
  } catch (error) {
    return { skipped: error instanceof Error ? error.message.split("\n")[0] : String(error) }
  }
}

export const isSkipped = (a: Adapter | { readonly skipped: string }): a is { readonly skipped: string } =>
  "skipped" in a

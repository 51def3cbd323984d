import * as Undici from "undici"
import { runPromises } from "./promise-driver.js"
import type { Adapter } from "./types.js"

/** The floor: undici's own `request`, no retry, on a fresh Agent (what `layerUndici` builds too). */
export const adapter: Adapter = {
  make: async ({ connections }) => {
    const dispatcher = new Undici.Agent(connections === undefined ? {} : { connections })
    const request = async (url: string) => {
      const { body, statusCode } = await Undici.request(url, { dispatcher })
      if (statusCode !== 200) {
        await body.dump()
        throw new Error(`status ${statusCode}`)
      }
      return body.json()
    }
    return {
      run: (work) => runPromises(work, request),
      close: () => dispatcher.close()
    }
  }
}

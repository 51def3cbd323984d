/**
 * The chaos suite's one source of randomness. Every random choice (which fault, when to interrupt) is drawn from
 * `seed`, so a run is reproduced by setting `HTTP_RETRY_CHAOS_SEED` to the seed it printed. A fixed default keeps the
 * suite's counts, and so RELIABILITY.md, stable from run to run; set the variable to explore other runs.
 */

const DEFAULT_SEED = 20_260_115

const parse = (raw: string | undefined): number => {
  if (raw === undefined || raw === "") return DEFAULT_SEED
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new Error(`HTTP_RETRY_CHAOS_SEED = ${JSON.stringify(raw)} (expected a whole number from 0 to 4294967295)`)
  }
  return value
}

export const seed: number = parse(process.env.HTTP_RETRY_CHAOS_SEED)

/** Prints the seed once per test file, so a failing run can be replayed. */
export const announce = (file: string): void => {
  console.log(`[chaos] ${file}: seed ${seed} (replay with HTTP_RETRY_CHAOS_SEED=${seed})`)
}

/** mulberry32: a small, fast generator of floats in [0, 1). */
export const generator = (state: number): () => number => {
  let a = state >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/**
 * A float in [0, 1) that depends only on the seed and `keys`, not on the order of the calls: the soak draws each
 * attempt's fault from (call id, attempt), so concurrency cannot change which call gets which fault.
 */
export const keyed = (...keys: ReadonlyArray<number>): number => {
  let h = seed ^ 0x9e37_79b9
  for (const key of keys) {
    h = Math.imul(h ^ key, 0x85eb_ca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2_ae35)
    h ^= h >>> 16
  }
  return generator(h)()
}

/** A generator for one stream of choices, derived from the seed and a name. */
export const stream = (name: string): () => number => {
  let h = seed
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x0100_0193)
  return generator(h)
}

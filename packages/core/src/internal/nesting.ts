import * as Context from "effect/Context"

// Retries belong in one loop. A retrying client is found by a mark on the
// client object (retry.ts), and a re-wrap unwraps it; but every platform
// combinator (`HttpClient.mapRequest`, `tap`, `filterStatusOk`, ...) builds a
// new client without that mark, so a retrying client under one is found only
// when it runs: inside an attempt of another retry loop.

/**
 * What an attempt of a retry loop tells a retrying client that runs inside
 * its send (one cell per attempt):
 *
 * - `defer: false` (the loop was made by `withRetry` or `withHedging`, which
 *   replace the policy of a client that retries): the nested client sends
 *   once, as the client under it would, and this loop retries.
 * - `defer: true` (the loop was added by `HttpRetry.client` or
 *   `HttpRetry.request` to a client not known to retry): the nested client
 *   claims the call and retries it under its own policy, and this loop passes
 *   its outcome on untouched, with no timeout of its own.
 *
 * @internal
 */
export interface Cell {
  readonly defer: boolean
  /**
   * The request the attempt sends. Platform combinators hand the request a
   * client's `postprocess` gets on to the client they wrap as it is (they
   * change it in `preprocess`, which the retry runs first), so the retrying
   * client this loop wraps gets this very object; a request made by other
   * code inside the send (a token fetch in a `transformResponse`, an audit
   * call in a `tap`) is another one, and its client is no concern of the cell.
   */
  readonly request: unknown
  claimed: boolean
}

/** @internal */
export class Nesting extends Context.Tag("@http-retry/core/internal/Nesting")<Nesting, Cell>() {}

/**
 * The cell of the attempt a retrying client runs inside, if that attempt
 * sends this client's own request; a cell claimed already (by a retrying
 * client above this one) is not this client's concern.
 *
 * @internal
 */
export const outerCell = (context: Context.Context<never>, request: unknown): Cell | undefined => {
  const cell = Context.getOrElse(context as Context.Context<Nesting>, Nesting, () => undefined)
  return cell === undefined || cell.claimed || cell.request !== request ? undefined : cell
}

/**
 * The test-only certificates in `test/fixtures` (see the README there). Trust `ca` in a client to accept `server`;
 * `selfSigned` names the same hosts but no CA signed it, so `ca` must reject it.
 */
import * as fs from "node:fs"

/** A private key and its certificate chain, in PEM, as `https.createServer` takes them. */
export interface KeyPair {
  readonly key: string
  readonly cert: string
}

const read = (name: string): string => fs.readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8")

/** The test CA's certificate: pass it as `ca` to a client that must trust `server`. */
export const ca: string = read("ca.pem")

/** A leaf for `127.0.0.1` and `localhost`, signed by `ca`. */
export const server: KeyPair = { key: read("server-key.pem"), cert: read("server-cert.pem") }

/** A leaf for `127.0.0.1` and `localhost` that signed itself: valid names, unknown issuer. */
export const selfSigned: KeyPair = { key: read("self-signed-key.pem"), cert: read("self-signed-cert.pem") }

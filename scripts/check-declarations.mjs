/**
 * No `any` in the published types: walks every emitted `.d.ts` of the publishable packages (run after `tsc -b`, as
 * `pnpm check` does) and fails on each `any` type, comments and strings aside since it reads the syntax tree.
 *
 * One shape is allowed: `declare const X_base: new <A extends Record<string, any> = {}>(...)`, which tsc writes for
 * every `class X extends Data.TaggedError(...)`. That `any` is Effect's own bound on the type parameter, copied
 * verbatim; the constructor a user calls takes the class's concrete fields, and nothing a user holds is typed `any`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = fileURLToPath(new URL("..", import.meta.url))
const packages = ["packages/core", "packages/node", "packages/redis"]

const isTaggedErrorBase = (node) => {
  let constraint = false
  for (let at = node.parent; at !== undefined; at = at.parent) {
    if (ts.isTypeParameterDeclaration(at) && at.constraint !== undefined && at.constraint.pos <= node.pos) {
      constraint = at.constraint.getText() === "Record<string, any>"
    }
    if (ts.isVariableDeclaration(at)) {
      return constraint && ts.isIdentifier(at.name) && at.name.text.endsWith("_base") &&
        at.type !== undefined && ts.isConstructorTypeNode(at.type)
    }
  }
  return false
}

const found = []
let scanned = 0
for (const dir of packages) {
  const dist = path.join(root, dir, "dist")
  if (!fs.existsSync(dist)) {
    console.error(`check-declarations: ${dir}/dist is missing: run tsc -b first`)
    process.exit(1)
  }
  for (const file of fs.readdirSync(dist, { recursive: true }).map(String).filter((f) => f.endsWith(".d.ts"))) {
    const text = fs.readFileSync(path.join(dist, file), "utf8")
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
    scanned++
    const visit = (node) => {
      if (node.kind === ts.SyntaxKind.AnyKeyword && !isTaggedErrorBase(node)) {
        const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source))
        found.push(`${dir}/dist/${file}:${line + 1}:${character + 1}: ${text.split("\n")[line].trim()}`)
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
}

if (found.length > 0) {
  console.error(`check-declarations: \`any\` in the published types:\n  ${found.join("\n  ")}`)
  process.exit(1)
}
console.log(`check-declarations: no \`any\` in ${scanned} declaration files`)

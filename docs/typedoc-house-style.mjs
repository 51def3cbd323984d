// A typedoc plugin for the house style (shared STYLE.md): every export of a public module carries `@since` and a
// lower-case `@category`. Its warnings fail the build, as typedoc.json treats warnings as errors.
import { Converter, ReflectionKind } from "typedoc"

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Namespace)) {
      for (const child of module.children ?? []) {
        const comment = child.comment ?? child.signatures?.[0]?.comment ?? child.getSignature?.comment
        const tags = comment?.blockTags ?? []
        const name = child.getFriendlyFullName()
        if (!tags.some((tag) => tag.tag === "@since")) app.logger.warn(`${name} has no @since tag`)
        const category = tags.find((tag) => tag.tag === "@category")
        const title = category?.content.map((part) => part.text).join("").trim()
        if (title === undefined) app.logger.warn(`${name} has no @category tag`)
        else if (title !== title.toLowerCase()) app.logger.warn(`${name}: @category "${title}" is not lower case`)
      }
    }
  })
}

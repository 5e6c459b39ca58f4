import * as Data from "effect/Data"
import type { TypeIdErrorConstructor } from "../PoolError.js"

/**
 * A `Data.TaggedError` base whose prototype carries the type id (and `name`), as `Data.TaggedError` and
 * `@effect/platform`'s `TypeIdError` do, so that an error class does not declare its marker itself.
 */
export const TypeIdError = <const TypeId extends symbol, const Tag extends string>(
  typeId: TypeId,
  tag: Tag
): TypeIdErrorConstructor<TypeId, Tag> => {
  class Base extends Data.Error<{}> {
    readonly _tag = tag
  }
  ;(Base.prototype as any)[typeId] = typeId
  ;(Base.prototype as any).name = tag
  return Base as any
}

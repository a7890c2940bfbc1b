/**
 * The Standard Schema interface (standardschema.dev), declared here so users of zod 4, valibot,
 * arktype and others can pass their schemas without cacheward depending on any of them.
 * @module
 */

/** A validator that implements the Standard Schema v1 interface, e.g. a zod 4 schema. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1
    readonly vendor: string
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>
    readonly types?: { readonly input: Input; readonly output: Output } | undefined
  }
}

type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> }

interface StandardIssue {
  readonly message: string
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined
}

/** The output type of a Standard Schema. */
export type InferOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : never

export type ValidationResult<T> =
  | { ok: true; value: T }
  | { ok: false; issues: { message: string; path?: unknown[] }[] }

/** Runs a Standard Schema and normalises its answer. */
export async function validate<T>(schema: StandardSchemaV1<unknown, T>, value: unknown): Promise<ValidationResult<T>> {
  const result = await schema['~standard'].validate(value)
  if (result.issues) {
    return {
      ok: false,
      issues: result.issues.map((i) =>
        i.path
          ? { message: i.message, path: i.path.map((p) => (typeof p === 'object' ? p.key : p)) }
          : { message: i.message },
      ),
    }
  }
  return { ok: true, value: result.value }
}

/** True when `value` looks like a Standard Schema. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const std = (value as { '~standard'?: { validate?: unknown } } | null)?.['~standard']
  return typeof std === 'object' && std !== null && typeof std.validate === 'function'
}

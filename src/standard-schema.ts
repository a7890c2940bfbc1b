/**
 * The Standard Schema interface (standardschema.dev), declared here so users of zod 4, valibot,
 * arktype and others can pass their schemas without cacheward depending on any of them.
 * @module
 */

/** A validator that implements the Standard Schema v1 interface, e.g. a zod 4 schema. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties, under a key no library uses for anything else. */
  readonly '~standard': {
    /** The version of the interface: 1. */
    readonly version: 1
    /** The library that made the schema, e.g. `'zod'`. */
    readonly vendor: string
    /** Checks a value: its output, or the issues found. */
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>
    /** Carries the input and output types; absent at runtime. */
    readonly types?:
      | {
          /** The type the schema accepts. */
          readonly input: Input
          /** The type the schema produces. */
          readonly output: Output
        }
      | undefined
  }
}

/**
 * What `validate` returns: the output value, or the issues.
 * @inline
 */
type StandardResult<Output> =
  | {
      /** The validated (and possibly transformed) value. */
      readonly value: Output
      /** Absent on success. */
      readonly issues?: undefined
    }
  | {
      /** What failed. */
      readonly issues: ReadonlyArray<StandardIssue>
    }

/**
 * One problem a schema found.
 * @inline
 */
interface StandardIssue {
  /** What is wrong. */
  readonly message: string
  /** Where in the value, as keys or `{ key }` segments. */
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

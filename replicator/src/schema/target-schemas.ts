/**
 * Where each source schema's tables land in the destination: ELT_TARGET_SCHEMA_MAP
 * (`public:staging,sales:staging_sales`) names a target schema per source schema, and the
 * others go to ELT_TARGET_SCHEMA, the default target. Types and collations the replica
 * recreates (enums, domains, composites, ranges) live in the default target whatever table
 * uses them, so a type two schemas' tables share exists once. Pure.
 */

export class TargetSchemas {
  readonly #map: ReadonlyMap<string, string>;

  constructor(
    /** ELT_TARGET_SCHEMA: unmapped schemas' tables, and every recreated type and collation. */
    readonly defaultSchema: string,
    map: Record<string, string> = {},
  ) {
    this.#map = new Map(Object.entries(map));
  }

  /** The target schema of a source schema's tables. */
  of(sourceSchema: string): string {
    return this.#map.get(sourceSchema) ?? this.defaultSchema;
  }

  /** Every target schema the given source schemas use, the default first. */
  all(sourceSchemas: string[]): string[] {
    return [...new Set([this.defaultSchema, ...sourceSchemas.map((s) => this.of(s))])];
  }
}

/** The target schemas of a configuration (ELT_TARGET_SCHEMA, ELT_TARGET_SCHEMA_MAP). */
export function targetSchemas(config: {
  targetSchema: string;
  targetSchemaMap: Record<string, string>;
}): TargetSchemas {
  return new TargetSchemas(config.targetSchema, config.targetSchemaMap);
}

/**
 * `source:target` pairs, comma-separated, into a map; throws a sentence when an item is not
 * one or a source schema is named twice.
 */
export function parseSchemaMap(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of text
    .split(',')
    .map((i) => i.trim())
    .filter(Boolean)) {
    const parts = item.split(':').map((p) => p.trim());
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '')
      throw new Error(`'${item}' is not a source:target pair (like sales:staging_sales)`);
    const [source, target] = parts as [string, string];
    if (source in map) throw new Error(`names the source schema ${source} twice`);
    if (target.length > 63) throw new Error(`'${target}' is longer than 63 characters`);
    map[source] = target;
  }
  return map;
}

/** A field CMD_SELECT can return for each connection (docs/protocol.md §5.7). */
export type SelectField = 'uid' | 'groups' | 'session';

/** The `where` of CMD_SELECT: connections in any of these groups, or with these connection ids. */
export type SelectWhere = { groups: (string | number)[] } | { connection_id: number[] };

/**
 * The ext_data of CMD_SELECT, in the bytes PHP's `json_encode` gives for the same call (TV-20):
 * no condition is `"where":[]` (an empty PHP array), connection ids are an object `{"<id>":<id>}`.
 */
export function selectExt(fields: readonly SelectField[], where?: SelectWhere): string {
  let w: unknown = [];
  if (where && 'groups' in where) w = { groups: where.groups };
  else if (where) {
    const ids: Record<string, number> = {};
    for (const id of where.connection_id) ids[id] = id;
    w = { connection_id: ids };
  }
  return JSON.stringify({ fields, where: w });
}

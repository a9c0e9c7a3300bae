/**
 * Freezes a plain object graph: config, compiled runbooks, rendered plans. They are
 * shared by every caller; freezing makes "someone changed it at runtime" a
 * TypeError at the mutation site instead of a mystery elsewhere. Regular
 * expressions are left as they are: matching writes their lastIndex.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof RegExp) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

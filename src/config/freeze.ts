/**
 * Freezes a plain object graph. Config is passed to every module; freezing it
 * makes "someone tweaked config.dryRun at runtime" a TypeError at the mutation
 * site instead of a mystery elsewhere.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

/** Levenshtein distance, for "did you mean" hints on unknown keys. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The nearest known word, when it is near enough to be a plausible typo. */
export function nearest(word: string, known: readonly string[]): string | undefined {
  // A word of no letter or digit ("<<", "-") is no typo of one: "id" is two edits from "<<".
  if (!/[\p{L}\p{N}]/u.test(word)) return undefined;
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestD <= limit ? best : undefined;
}

export function didYouMean(word: string, known: readonly string[]): string {
  const n = nearest(word, known);
  return n ? ` (did you mean "${n}"?)` : '';
}

/** A key's letters and digits, lower case: `dryRun`, `dry-run` and `DRY_RUN` read the same. */
export function keyLetters(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** The known key `key` spells once case and separators are ignored (`rootCause` for `root_cause`), if any. */
export function sameLetters(key: string, known: readonly string[]): string | undefined {
  const mine = keyLetters(key);
  return known.find((k) => keyLetters(k) === mine);
}

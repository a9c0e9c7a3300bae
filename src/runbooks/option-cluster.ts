/** A letter of a short-option cluster: its place `k` in it, and whether it ends a written-out argument (`last`), so that a value it takes is the next argument. */
export interface ClusterLetter {
  letter: string;
  k: number;
  last: boolean;
}
/**
 * A cluster of joined short options (`-xvf`, `-uroot`, `-n{ns}`) read as getopt reads
 * it, the one reading every caller shares so that none can part from the others: the
 * `letters` (without the "-", up to any value) are flags until the first that
 * `takesValue`, whose value is the rest of the argument (`-uroot`, `-n{ns}`) or, when it
 * ends an argument that is `complete` (written out to its end), the next argument (`-u
 * root`). With `equals`, an "=" ends the letters as a value would (kubectl's `-w={x}`).
 * `taken`: the letters end in a value, so what follows them is not more letters.
 */
export function readCluster(letters: string, complete: boolean, takesValue: (letter: string) => boolean, equals = false): { flags: ClusterLetter[]; value?: ClusterLetter; taken: boolean } {
  const flags: ClusterLetter[] = [];
  for (let k = 0; k < letters.length; k++) {
    const at: ClusterLetter = { letter: letters[k]!, k, last: complete && k === letters.length - 1 };
    if (equals && at.letter === '=') return { flags, taken: true };
    if (takesValue(at.letter)) return { flags, value: at, taken: true };
    flags.push(at);
  }
  return { flags, taken: false };
}

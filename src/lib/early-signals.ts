/**
 * Signals that reach `rectify serve` before it can handle them: the entry point installs
 * these holders first thing, before the rest of rectify is imported (a second or more on a
 * busy node), since Node's default would end the process half started, SIGHUP included (a
 * reloader sent it as the pod came up). `rectify serve` takes what arrived when it installs
 * its own handlers, in the same turn of the event loop. Imports nothing: it must load at once.
 */

const held: { stop: 'SIGTERM' | 'SIGINT' | null; hangup: boolean } = { stop: null, hangup: false };
const onTerm = (): void => void (held.stop ??= 'SIGTERM');
const onInt = (): void => void (held.stop ??= 'SIGINT');
const onHup = (): void => void (held.hangup = true);
let holding = false;

/** Holds SIGTERM, SIGINT and SIGHUP until `takeHeldSignals`: each is noted, none ends the process. */
export function holdSignals(): void {
  if (holding) return;
  holding = true;
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
}

/** Removes the holders (Node's default is back) and says what arrived while they were installed. */
export function takeHeldSignals(): { stop: 'SIGTERM' | 'SIGINT' | null; hangup: boolean } {
  if (holding) {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
    holding = false;
  }
  const got = { ...held };
  held.stop = null;
  held.hangup = false;
  return got;
}

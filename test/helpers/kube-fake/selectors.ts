/**
 * Label and field selectors in their query-string form, as the API server
 * parses them: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
 */
type Requirement = (labels: Record<string, string>) => boolean;

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

export function parseLabelSelector(s: string | null): Requirement[] {
  if (!s) return [];
  return splitTopLevel(s).map((part): Requirement => {
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m) {
      const key = m[1]!;
      const vals = m[3]!.split(',').map((v) => v.trim());
      return m[2] === 'in' ? (l) => l[key] !== undefined && vals.includes(l[key]) : (l) => l[key] === undefined || !vals.includes(l[key]);
    }
    m = /^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (m) {
      const key = m[1]!;
      const val = m[3]!;
      return m[2] === '!=' ? (l) => l[key] !== val : (l) => l[key] === val;
    }
    if (part.startsWith('!')) {
      const key = part.slice(1);
      return (l) => l[key] === undefined;
    }
    return (l) => l[part] !== undefined;
  });
}

export function matchesLabels(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  return reqs.every((r) => r(labels ?? {}));
}

export function matchLabelsSelector(matchLabels: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!matchLabels || Object.keys(matchLabels).length === 0) return false;
  return Object.entries(matchLabels).every(([k, v]) => labels?.[k] === v);
}

/** Field selectors: `path=value` / `path!=value`, paths like spec.nodeName, metadata.name, status.phase. */
export function parseFieldSelector(s: string | null): Array<(obj: unknown) => boolean> {
  if (!s) return [];
  return s.split(',').map((part) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(part.trim());
    if (!m) throw new Error(`bad field selector ${part}`);
    const path = m[1]!.split('.');
    const val = m[3]!;
    const neg = m[2] === '!=';
    return (obj: unknown) => {
      let cur: unknown = obj;
      for (const p of path) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
      const s2 = cur === undefined || cur === null ? '' : String(cur);
      return neg ? s2 !== val : s2 === val;
    };
  });
}

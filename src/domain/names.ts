/**
 * A person's name as rectify records it (the audit actor, the requester and the
 * approvers): an API token's name, and the rectify name a Slack approver is given in
 * `--slack-approvers`, which must be able to equal it. Plain: never a Slack identity.
 */
export const PERSON_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/**
 * A Slack user id (U… or W…, as Slack shows them in a profile's "Copy member ID"), in
 * Slack's own uppercase: one spelling per account, so the ids compared exactly (a click's
 * voter, `--slack-approvers`) cannot count one account as two people.
 */
export const SLACK_USER_ID_RE = /^[UW][A-Z0-9]{2,31}$/;

/**
 * A name a request states for who acts (`by` of a run, an approval, a pause): any text
 * a person goes by (spaces, letters of every script), but no control character (C0,
 * DEL, C1), no Unicode line or paragraph separator and no format character (Cf). A
 * newline in a name forges a row of a table or a line of a text log; NUL or ESC rewrites
 * what a terminal shows; a bidi override reorders what is read (`\u202eyfitcer` shows as
 * rectify) and a zero-width one hides a character. (Stricter PERSON_NAME_RE is for names
 * rectify hands out: tokens, Slack approvers.)
 */
export const STATED_NAME_RE = /^[^\p{Cc}\p{Cf}\u2028\u2029]*$/u;

/**
 * The names rectify keeps for its own audit entries (`rectify` is who expires and cancels
 * requests, runs steps, sends alerts from its own intake): no person may act under one,
 * by token or by a stated `by`, or the audit log could not tell a person's act from
 * rectify's (an approval request "cancelled by rectify" would read as rectify's).
 * Compared as a reader would see them: case, spaces around them, invisible characters
 * anywhere in them (`rect\u200Bify`) and compatibility forms (fullwidth letters) aside.
 */
export const RESERVED_ACTOR_NAMES: readonly string[] = ['rectify', 'api'];

/**
 * Characters that show nothing, wherever they stand: every Default_Ignorable_Code_Point
 * (zero-width spaces and joiners, the soft hyphen, variation selectors, the Hangul fillers
 * U+115F, U+1160, U+3164 and U+FFA0, the combining grapheme joiner U+034F, tags) and
 * every other format character. Inside a name they are the trap: `rect\u200Bify` and
 * `rec\u00ADtify` display as rectify.
 */
const INVISIBLE_RE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/gu;

/** Why a person may not act under `name` (one of RESERVED_ACTOR_NAMES), or undefined. */
export function reservedNameProblem(name: string): string | undefined {
  // Invisible characters go before NFKC (so none splits a fullwidth form from its
  // neighbours) and after it (in case a compatibility form decomposes to one).
  const seen = name.replace(INVISIBLE_RE, '').normalize('NFKC').replace(INVISIBLE_RE, '').trim().toLowerCase();
  return RESERVED_ACTOR_NAMES.includes(seen) ? `${shown(name)} is reserved for rectify's own audit entries; choose another name` : undefined;
}

/**
 * The name as JSON, its invisible characters escaped too (`"rect\\u200bify"`): printed as
 * they are, the refusal would show the very name that reads as rectify's.
 */
function shown(name: string): string {
  return JSON.stringify(name).replace(INVISIBLE_RE, (c) => {
    let out = '';
    for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}

/**
 * A name that shows nothing: only spaces (Unicode ones too: U+00A0, U+3000), invisible
 * characters (U+200B, U+FEFF, the Hangul fillers such as U+3164, see INVISIBLE_RE) and
 * the blank Braille pattern U+2800, which renders as a space. Recorded as an actor, it
 * names no one.
 */
export function blankName(name: string): boolean {
  return name.replace(INVISIBLE_RE, '').replace(/[\s\u2800]/gu, '') === '';
}

/** Why a person may not be recorded as acting under a name they state, or undefined: blank, or rectify's own. */
export function statedActorProblem(name: string): string | undefined {
  return blankName(name) ? 'a name may not be blank (only spaces or invisible characters)' : reservedNameProblem(name);
}

/**
 * A character no name of a service may hold: a control character (C0, DEL, C1), a line
 * or paragraph separator, or a format character (Unicode category Cf: the zero-width
 * space and word joiner, the soft hyphen, the byte order mark, the bidi marks, overrides
 * and isolates, the tags). Each shows nothing, or reorders what is shown, so `api\u200b`
 * reads as `api` while it is another name: its own rate limit, cooldown and blast radius.
 * The zero-width joiner and non-joiner (U+200D, U+200C) are kept between two characters
 * beyond ASCII, where emoji sequences (`👩‍💻`) and Persian and Indic words need them
 * (a PagerDuty service so named would otherwise have every trigger refused); at either
 * end of the name or beside an ASCII character (`api\u200c`) they join nothing and are
 * refused. One test per name.
 */
export const UNREADABLE_NAME_CHAR_RE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\p{Cc}\p{Zl}\p{Zp}]|(?![\u200c\u200d])\p{Cf}|(?:^|[\u0000-\u007f])[\u200c\u200d]|[\u200c\u200d](?:$|[\u0000-\u007f])/u;

/**
 * A service name spaced as no one would see it: a space at its start or end (`"api "`,
 * a tab, a no-break space), or a space other than U+0020 inside it (`my\u00a0api`, the
 * ideographic space). Each reads as the name without it, but would count its limits apart.
 * Refused where a person states the name (an incident, a manual run); read evenly
 * (evenSpacing) where a sender's label or field gives it (Alertmanager, PagerDuty), whose
 * alert a refusal would drop.
 */
export const ODD_SPACING_RE = /^\s|\s$|(?!\u0020)\p{Zs}/u;

/** Why a service name ODD_SPACING_RE matches is refused. */
export const ODD_SPACING_MESSAGE =
  'starts or ends with a space, or holds a space other than U+0020 (a no-break or an ideographic space): it would read as another service and count its limits apart; give the name as it is written';

/** The name as it reads: every space separator as U+0020, none at either end (`"my\u00a0api "` is `"my api"`). */
export function evenSpacing(name: string): string {
  return ODD_SPACING_RE.test(name) ? name.replace(/\p{Zs}/gu, ' ').trim() : name;
}

/** Why a service name holding an UNREADABLE_NAME_CHAR_RE character is refused. */
export const UNREADABLE_SERVICE_MESSAGE =
  'holds a control character or an invisible one (NUL, a zero-width space or joiner, a soft hyphen, U+FEFF, a bidi mark or override): it would read as another service and count its limits apart; give the name as it is written';

/**
 * Free text of a person (a reason, a comment) may span lines (newlines, and the Unicode
 * line and paragraph separators like them) and hold tabs; no other control character.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const PERSON_TEXT_RE = /^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$/;

/**
 * The variable a secret reference `${env:NAME}` may name: what a shell can set. Checked
 * when runbooks load (one that can never be set is an error) and when the reference is
 * resolved.
 */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Why a secret reference (`${env:NAME}`, `${file:/abs/path}`) can never resolve, or
 * undefined: said when runbooks load, and when a reference is resolved.
 */
export function secretReferenceProblem(kind: 'env' | 'file', ref: string): string | undefined {
  // `${file:/run/secrets/{service}/token}`: the reference ends at the first "}", so it
  // names the path "/run/secrets/{service", and no placeholder is filled inside one.
  if (ref.includes('{')) return `placeholders are not filled inside a secret reference (it ends at its first "}"), so ${JSON.stringify(ref)} is read as written and can never resolve; write the ${kind === 'env' ? 'variable name' : 'path'} out in full`;
  if (kind === 'env') return ENV_NAME_RE.test(ref) ? undefined : `${JSON.stringify(ref)} is not a valid variable name (letters, digits and _, not starting with a digit), so it can never be set`;
  return ref.startsWith('/') ? undefined : 'the path must be absolute (start with /)';
}

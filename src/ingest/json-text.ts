import { quoteUntrusted } from '../domain/index.js';

/**
 * Where a request body stops being what the service reads: UTF-8 bytes holding one JSON
 * document. Both are worked out only once the body has been refused (JSON.parse threw,
 * or the bytes are not UTF-8), so they are written for plainness, not speed: the hot
 * path pays for neither.
 */

/** The charsets a JSON body may be declared in: UTF-8, and US-ASCII, whose bytes are UTF-8's. */
export const JSON_CHARSETS: ReadonlySet<string> = new Set(['utf-8', 'utf8', 'us-ascii']);

/**
 * The first `charset` parameter of a Content-Type that is not one the service reads a
 * JSON body in (see JSON_CHARSETS), lowercased as given; undefined when there is none
 * (no charset reads as UTF-8, JSON's only encoding between systems, RFC 8259).
 */
export function refusedCharset(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const params = contentType.split(';');
  for (let p = 1; p < params.length; p++) {
    const param = params[p]!;
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    let value = param.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    value = value.toLowerCase();
    if (!JSON_CHARSETS.has(value)) return value;
  }
  return undefined;
}

/** The offset of the first byte that does not begin or continue a well-formed UTF-8 character (RFC 3629), or -1. */
export function invalidUtf8At(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The sequence's length, and the range its second byte must be in (no overlong
    // forms, no surrogates, nothing past U+10FFFF).
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k < len; k++) {
      const c = bytes[i + k];
      if (c === undefined) return i;
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return i;
    }
    i += len;
  }
  return -1;
}

/** Where text JSON.parse refused stops being JSON: the offset of the character at fault (the text's length when it ends too soon) and what was wrong there. */
export interface JsonFault {
  offset: number;
  line: number;
  column: number;
  message: string;
}

const WS = new Set([' ', '\t', '\n', '\r']);

/**
 * Reads `text` as JSON (RFC 8259) until it fails, without recursion, and says where:
 * undefined when it is JSON. For the message of a body JSON.parse refused, whose own
 * message gives no position for most faults and quotes the body instead. `subject` names
 * the text in the message ("the body ends there").
 */
export function jsonFault(text: string, subject = 'the body'): JsonFault | undefined {
  const n = text.length;
  let i = 0;
  const stack: string[] = [];
  const fail = (at: number, what: string): JsonFault => {
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < at; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    const found = at >= n ? `${subject} ends there` : `found ${quoteUntrusted(text[at]!)}`;
    return { offset: at, line, column: at - lineStart + 1, message: `${what}; ${found}` };
  };
  const skipWs = (): void => {
    while (i < n && WS.has(text[i]!)) i++;
  };
  /** A string starting at i (a quote): past its end, or a fault. */
  const string = (): JsonFault | undefined => {
    i++;
    for (;;) {
      if (i >= n) return fail(i, 'expected the string to be closed with "');
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return undefined;
      }
      if (c < 0x20) return fail(i, 'a control character must be escaped inside a string');
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          for (let k = 2; k < 6; k++) if (!/^[0-9a-fA-F]$/.test(text[i + k] ?? '')) return fail(i + k, 'expected four hex digits after \\u');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return fail(i + 1, 'expected an escape (\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\u and four hex digits)');
        continue;
      }
      i++;
    }
  };
  const digits = (): number => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    return i - start;
  };
  const number = (): JsonFault | undefined => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (digits() === 0) return fail(i, 'expected a digit');
    if (text[i] === '.') {
      i++;
      if (digits() === 0) return fail(i, 'expected a digit after the decimal point');
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (digits() === 0) return fail(i, 'expected a digit in the exponent');
    }
    return undefined;
  };
  for (;;) {
    // A value.
    skipWs();
    const c = text[i];
    let fault: JsonFault | undefined;
    if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      skipWs();
      if (text[i] === (c === '{' ? '}' : ']')) {
        stack.pop();
        i++;
      } else if (c === '{') {
        if (text[i] !== '"') return fail(i, 'expected a property name in double quotes or }');
        if ((fault = string())) return fault;
        skipWs();
        if (text[i] !== ':') return fail(i, 'expected : after the property name');
        i++;
        continue;
      } else continue;
    } else if (c === '"') {
      if ((fault = string())) return fault;
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      if ((fault = number())) return fault;
    } else if (c !== undefined && (text.startsWith('true', i) || text.startsWith('false', i) || text.startsWith('null', i))) {
      i += c === 'f' ? 5 : 4;
    } else return fail(i, 'expected a value (an object, array, string, number, true, false or null)');
    // After a value: the next element or member, the end of its container, or the end.
    for (;;) {
      skipWs();
      const top = stack[stack.length - 1];
      if (top === undefined) return i < n ? fail(i, `expected the end of ${subject} after the JSON document`) : undefined;
      const close = top === '{' ? '}' : ']';
      if (text[i] === close) {
        stack.pop();
        i++;
        continue;
      }
      if (text[i] !== ',') return fail(i, `expected , or ${close}`);
      i++;
      if (top === '{') {
        skipWs();
        if (text[i] !== '"') return fail(i, 'expected a property name in double quotes');
        if ((fault = string())) return fault;
        skipWs();
        if (text[i] !== ':') return fail(i, 'expected : after the property name');
        i++;
      }
      break;
    }
  }
}

import type { Template } from '../domain/runbook.js';
import { readCluster } from './option-cluster.js';
import { isLiteral } from './template.js';

/**
 * Interpreters: programs that run code given on their command line (perl -e, python -c,
 * node -r, sed's program text…) or in a script file their first operand names. An
 * alert's value must not stand where one reads code or the name of the code it loads:
 * in a code option's value (joined, separate, or inside text the runbook wrote around
 * it: the whole value is code), in the script operand, or in an option that a value
 * could spell. The arguments after the script are the script's own (for awk and sed,
 * its input files): that is where an alert's value is passed.
 */
interface Interpreter {
  /** Options whose value is code (`runs`) or names code to load (`loads`): "-e", "--eval". */
  code: Readonly<Record<string, 'runs' | 'loads'>>;
  /** Options whose value is the program file. */
  file?: readonly string[];
  /** Options whose value is the program (its text or file): with one, no operand is. */
  gives?: readonly string[];
  /** Other options that take the next argument as their value when none is joined. */
  values?: readonly string[];
  /** Short letters whose value, if any, is only the rest of their argument (perl's -0, -l, -i…). */
  joined?: string;
  /**
   * Long options known to take no value. Any other long option may take the next
   * argument as its value, so that argument is not read as the script.
   */
  flags?: readonly string[];
  /** Options whose value an alert may give: it is data, read as no code (awk's -F, gdb's -p). */
  free?: readonly string[];
  /** Options after whose value every argument is the program's own (python's -c and -m). */
  ends?: readonly string[];
  /** What the first operand is, when no code or program-file option was given. */
  operand: 'script' | 'program text' | 'program' | 'none';
  /** Options are read anywhere before "--" (GNU getopt), not only before the first operand. */
  anywhere?: boolean;
  /** Long option names are written with one dash (gdb's -ex, tclsh's -encoding); no clusters. */
  singleDash?: boolean;
  /** Subcommands (deno, bun): what the operand after each is. */
  subcommands?: Readonly<Record<string, 'script' | 'code' | 'program'>>;
  /** The way to pass an alert's value, for messages. */
  instead: string;
}

const PERL: Interpreter = {
  code: { '-e': 'runs', '-E': 'runs', '-M': 'loads', '-m': 'loads', '-I': 'loads', '-d': 'loads', '-F': 'runs' },
  values: ['-e', '-E', '-I'],
  gives: ['-e', '-E'],
  joined: '0lixCdDFMmW',
  operand: 'script',
  instead: 'pass the value as an argument after the script: [perl, /opt/fix.pl, "{x}"]',
};
const PYTHON: Interpreter = {
  code: { '-c': 'runs', '-m': 'loads', '-W': 'loads' },
  values: ['-c', '-m', '-W', '-X', '-Q', '--check-hash-based-pycs'],
  ends: ['-c', '-m'],
  gives: ['-c', '-m'],
  operand: 'script',
  instead: 'pass the value as an argument after the script: [python3, /opt/fix.py, "{x}"]',
};
const RUBY: Interpreter = {
  code: { '-e': 'runs', '-r': 'loads', '-I': 'loads', '-F': 'runs', '--require': 'loads' },
  values: ['-e', '-r', '-I', '-C', '-X', '-E', '--encoding', '--external-encoding', '--internal-encoding', '--enable', '--disable', '--require'],
  joined: '0xFlWKT',
  gives: ['-e'],
  flags: ['--verbose', '--version', '--help', '--yjit', '--jit', '--copyright', '--disable-gems', '--disable-did_you_mean', '--enable-frozen-string-literal', '--disable-frozen-string-literal'],
  operand: 'script',
  instead: 'pass the value as an argument after the script: [ruby, /opt/fix.rb, "{x}"]',
};
const NODE_CODE = { '-e': 'runs', '--eval': 'runs', '-p': 'runs', '--print': 'runs', '-r': 'loads', '--require': 'loads', '--import': 'loads', '--loader': 'loads', '--experimental-loader': 'loads', '--preload': 'loads', '--env-file': 'loads', '--env-file-if-exists': 'loads', '--experimental-config-file': 'loads' } as const;
const NODE: Interpreter = {
  code: NODE_CODE,
  flags: [
    '--no-warnings', '--no-deprecation', '--enable-source-maps', '--trace-warnings', '--trace-deprecation', '--trace-uncaught', '--trace-exit', '--throw-deprecation',
    '--pending-deprecation', '--abort-on-uncaught-exception', '--preserve-symlinks', '--preserve-symlinks-main', '--expose-gc', '--jitless', '--frozen-intrinsics',
    '--inspect', '--inspect-brk', '--watch', '--check', '--interactive', '--version', '--help', '--experimental-vm-modules', '--experimental-strip-types',
    '--experimental-transform-types', '--use-strict', '--zero-fill-buffers',
    // deno's permissions take a value only after "=", and bun's flags.
    '--allow-all', '--allow-read', '--allow-write', '--allow-net', '--allow-env', '--allow-run', '--allow-sys', '--allow-ffi', '--quiet', '--reload', '--no-check',
    '--no-prompt', '--no-remote', '--no-npm', '--cached-only', '--smol', '--hot', '--silent', '--bun', '--no-install',
  ],
  values: [...Object.keys(NODE_CODE), '-C', '--conditions', '--title', '--input-type', '--stack-size', '--cwd', '-c', '--config', '--import-map', '--location', '--inspect-port', '--max-old-space-size'],
  gives: ['-e', '--eval', '-p', '--print'],
  operand: 'script',
  instead: 'pass the value as an argument after the script: [node, /opt/fix.js, "{x}"]',
};
const SCRIPT_RUNNER: Interpreter = {
  ...NODE,
  instead: 'pass the value as an argument after the script: [deno, run, /opt/fix.ts, "{x}"]',
  subcommands: { run: 'script', test: 'script', bench: 'script', serve: 'script', compile: 'script', repl: 'script', eval: 'code', exec: 'code', x: 'program', task: 'program', install: 'program', i: 'program', add: 'program', create: 'program', dlx: 'program' },
};
const PHP: Interpreter = {
  code: { '-r': 'runs', '-B': 'runs', '-R': 'runs', '-E': 'runs', '-d': 'loads', '-c': 'loads', '-z': 'loads', '--define': 'loads', '--php-ini': 'loads', '--zend-extension': 'loads' },
  file: ['-f', '-F', '--file', '--process-file'],
  gives: ['-r', '-f', '-F', '--file', '--process-file'],
  values: ['-r', '-B', '-R', '-E', '-d', '-c', '-z', '-f', '-F', '-S', '-t', '--rf', '--rc', '--re', '--rz', '--ri'],
  operand: 'script',
  instead: 'pass the value as an argument after the script: [php, /opt/fix.php, "{x}"]',
};
const LUA: Interpreter = {
  code: { '-e': 'runs', '-l': 'loads', '-j': 'loads', '-b': 'loads' },
  values: ['-e', '-l', '-j', '-b', '-O'],
  operand: 'script',
  instead: 'pass the value as an argument after the script: [lua, /opt/fix.lua, "{x}"]',
};
const TCL: Interpreter = {
  code: {},
  values: ['-encoding', '-display', '-geometry', '-name', '-use', '-visual', '-colormap'],
  singleDash: true,
  operand: 'script',
  instead: 'pass the value as an argument after the script: [tclsh, /opt/fix.tcl, "{x}"]',
};
const AWK: Interpreter = {
  code: { '-e': 'runs', '--source': 'runs', '-i': 'loads', '--include': 'loads', '-l': 'loads', '--load': 'loads' },
  file: ['-f', '--file', '-E', '--exec'],
  gives: ['-e', '--source', '-f', '--file', '-E', '--exec'],
  values: ['-F', '-v', '-f', '-e', '-E', '-i', '-l', '-W', '--field-separator', '--assign', '--file', '--source', '--exec', '--include', '--load'],
  joined: 'dDLop',
  flags: [
    '--posix', '--traditional', '--lint', '--sandbox', '--re-interval', '--characters-as-bytes', '--use-lc-numeric', '--optimize', '--no-optimize', '--bignum',
    '--non-decimal-data', '--copyright', '--version', '--help', '--debug', '--profile', '--pretty-print', '--dump-variables', '--gen-pot', '--csv',
  ],
  free: ['-F', '--field-separator', '-v', '--assign'],
  operand: 'program text',
  instead: 'pass the value as an input file after the program, or as a variable: [awk, -v, "name={x}", "{print name}", FILE]',
};
const SED: Interpreter = {
  code: { '-e': 'runs', '--expression': 'runs' },
  file: ['-f', '--file'],
  gives: ['-e', '--expression', '-f', '--file'],
  values: ['-e', '-f', '-l', '--expression', '--file', '--line-length'],
  joined: 'i',
  flags: [
    '--posix', '--debug', '--sandbox', '--quiet', '--silent', '--separate', '--unbuffered', '--null-data', '--zero-terminated', '--regexp-extended',
    '--follow-symlinks', '--in-place', '--binary', '--version', '--help',
  ],
  anywhere: true,
  operand: 'program text',
  instead: 'write the program out; a value may stand in the input files after it: [sed, -n, "1p", "/srv/{x}.txt"]',
};
const VIM: Interpreter = {
  code: { '+': 'runs', '-c': 'runs', '--cmd': 'runs', '-S': 'loads', '-u': 'loads', '-U': 'loads', '-s': 'loads', '-l': 'loads', '--remote-send': 'runs', '--remote-expr': 'runs' },
  values: ['-c', '--cmd', '-S', '-u', '-U', '-s', '-l', '-w', '-W', '-i', '-T', '-t', '-q', '-r', '--servername', '--remote', '--remote-silent', '--remote-wait', '--remote-wait-silent', '--remote-tab', '--remote-send', '--remote-expr', '--startuptime', '--listen', '--log'],
  flags: ['--clean', '--noplugin', '--not-a-term', '--headless', '--nofork', '--version', '--help', '--embed', '--ttyfail'],
  anywhere: true,
  operand: 'none',
  instead: 'write its commands out; a value may stand only in the files it edits',
};
const GDB: Interpreter = {
  code: { '-ex': 'runs', '-iex': 'runs', '-eval-command': 'runs', '-init-eval-command': 'runs', '-x': 'loads', '-ix': 'loads', '-command': 'loads', '-init-command': 'loads', '-data-directory': 'loads', '-D': 'loads', '-s': 'loads', '-symbols': 'loads', '-se': 'loads', '-e': 'loads', '-exec': 'loads', '-d': 'loads', '-directory': 'loads', '-cd': 'loads' },
  values: ['-ex', '-iex', '-eval-command', '-init-eval-command', '-x', '-ix', '-command', '-init-command', '-data-directory', '-D', '-s', '-symbols', '-se', '-e', '-exec', '-d', '-directory', '-cd', '-p', '-pid', '-c', '-core', '-tty', '-t', '-b', '-l', '-i', '-interpreter'],
  free: ['-p', '-pid', '-c', '-core'],
  flags: ['-batch', '-batch-silent', '-q', '-quiet', '-silent', '-nx', '-n', '-nh', '-readnow', '-readnever', '-write', '-statistics', '-tui', '-version', '-help', '-return-child-result', '-configuration', '-w', '-f', '-fullname'],
  gives: ['-e', '-exec'],
  singleDash: true,
  anywhere: true,
  operand: 'program',
  instead: 'write its commands and the program out; a value may stand in -p (the process id) or the core file',
};
const RSCRIPT: Interpreter = {
  code: { '-e': 'runs', '--default-packages': 'loads' },
  values: ['-e'],
  gives: ['-e'],
  operand: 'script',
  instead: 'pass the value as an argument after the script: [Rscript, /opt/fix.R, "{x}"]',
};

const TABLE: Readonly<Record<string, Interpreter>> = {
  perl: PERL, ruby: RUBY, node: NODE, nodejs: NODE, deno: SCRIPT_RUNNER, bun: SCRIPT_RUNNER, php: PHP,
  lua: LUA, luajit: LUA, tclsh: TCL, wish: TCL, jimsh: TCL,
  awk: AWK, gawk: AWK, mawk: AWK, nawk: AWK, 'original-awk': AWK, goawk: AWK, sed: SED, gsed: SED,
  vim: VIM, vi: VIM, nvim: VIM, ex: VIM, view: VIM, vimdiff: VIM, gvim: VIM, rvim: VIM, gdb: GDB, Rscript: RSCRIPT,
};
/** The interpreter a program name is: perl5.36, python3.12, lua5.4, tclsh8.6 read as perl, python, lua, tclsh. */
function interpreterOf(name: string): Interpreter | undefined {
  if (/^(python|pypy)(\d+(\.\d+)*)?$/.test(name)) return PYTHON;
  const base = name.replace(/(\d+(\.\d+)*)?$/, '');
  return Object.hasOwn(TABLE, name) ? TABLE[name] : Object.hasOwn(TABLE, base) ? TABLE[base] : undefined;
}
export const isInterpreter = (name: string): boolean => interpreterOf(name) !== undefined;

type Problem = { index: number; message: string };
const textBefore = (t: Template): string => (typeof t.parts[0] === 'string' ? t.parts[0] : '');

/**
 * The problem with an alert's value in the arguments of the interpreter at `at` (its
 * name `name`, as read from the program path), read as it reads them.
 */
export function interpreterIn(argv: readonly Template[], at: number, name: string): Problem | undefined {
  const spec = interpreterOf(name);
  if (!spec) return undefined;
  const self = argv[at]!.source;
  const q = JSON.stringify(self);
  const codeOption = (index: number, option: string): Problem => ({
    index,
    message:
      spec.code[option] === 'loads'
        ? `${q} loads the code its ${option} value names: an alert's value there chooses the code that runs; ${spec.instead}`
        : `${q} runs its ${option} value as code: an alert's value there runs the alert's code; ${spec.instead}`,
  });
  const fileOption = (index: number, option: string): Problem => ({
    index,
    message: `${q} runs the program file its ${option} value names: an alert's value there chooses the code that runs; ${spec.instead}`,
  });
  const spelt = (index: number): Problem => ({
    index,
    message: `${q}'s options must be written out, not hold a {placeholder}: a value there could be read as an option that runs code; ${spec.instead}`,
  });
  const optionValue = (index: number, option: string): Problem => ({
    index,
    message: `${q}'s ${option} must be written out, not take a {placeholder}: an alert must not choose how ${q} reads the code it runs; ${spec.instead}`,
  });
  const operand = (index: number, kind: Interpreter['operand'] | 'code'): Problem => ({
    index,
    message:
      kind === 'script'
        ? `${q} runs the script its first argument names: an alert's value there chooses the code that runs; write the script's path out and ${spec.instead}`
        : kind === 'program'
          ? `${q} runs the program its first argument names: an alert's value there chooses what runs; ${spec.instead}`
          : `${q} reads its first argument as its program: an alert's value there runs the alert's code; ${spec.instead}`,
  });
  const longName = (head: string): string => {
    const eq = head.indexOf('=');
    const n = eq >= 0 ? head.slice(0, eq) : head;
    return spec.singleDash && n.startsWith('--') ? n.slice(1) : n;
  };
  // A value that the option takes: refused unless it is data (free), and for awk's -v, only after a written "NAME=".
  const valueProblem = (index: number, option: string, value: Template): Problem | undefined => {
    if (isLiteral(value)) return undefined;
    if (spec === VIM && textBefore(value).startsWith('+')) return codeOption(index, '+');
    if (option in spec.code) return codeOption(index, option);
    if (spec.file?.includes(option)) return fileOption(index, option);
    if (spec.free?.includes(option)) {
      if ((option === '-v' || option === '--assign') && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(textBefore(value))) return optionValue(index, `${option} variable name`);
      return undefined;
    }
    return optionValue(index, option);
  };

  // Options read anywhere: whether a code or program-file option is given decides what the first operand is.
  let given = spec.operand === 'none';
  if (spec.anywhere) {
    for (let i = at + 1; i < argv.length; i++) {
      const t = argv[i]!;
      if (isLiteral(t) && t.source === '--') break;
      const head = textBefore(t);
      if (!head.startsWith('-') || head === '-') continue;
      const n = longName(head);
      const letter = !spec.singleDash && !head.startsWith('--') ? [...head.slice(1)].find((l) => spec.gives?.includes(`-${l}`)) : undefined;
      if (spec.gives?.includes(n) || letter) given = true;
    }
  }
  let sub: 'script' | 'code' | 'program' | undefined;
  let seenOperand = false;
  let optionsEnded = false;
  let exMode = false;
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i]!;
    const literal = isLiteral(t);
    const head = literal ? t.source : textBefore(t);
    const readsOptions = !optionsEnded && (spec.anywhere || !seenOperand);
    if (readsOptions && literal && t.source === '--') {
      optionsEnded = true;
      continue;
    }
    const isOption = readsOptions && ((head.startsWith('-') && t.source !== '-') || (spec === VIM && head.startsWith('+')));
    if (!isOption) {
      if (sub === undefined && spec.subcommands && !seenOperand && literal && Object.hasOwn(spec.subcommands, t.source)) {
        sub = spec.subcommands[t.source];
        continue;
      }
      if (!seenOperand && !given) {
        seenOperand = true;
        if (!literal) return operand(i, sub === 'code' ? 'program text' : sub === 'program' ? 'program' : spec.operand);
        if (!spec.anywhere) return undefined;
        continue;
      }
      if (!spec.anywhere) return undefined;
      seenOperand = true;
      continue;
    }
    if (head.startsWith('+')) {
      if (!literal) return codeOption(i, '+');
      continue;
    }
    // Long options, and every option of one written with one dash.
    if (head.startsWith('--') || spec.singleDash) {
      const n = longName(head);
      const inline = head.includes('=');
      const known = n in spec.code || spec.file?.includes(n) || spec.values?.includes(n);
      if (inline) {
        if (!literal) {
          if (!known) return spelt(i);
          const value: Template = { source: t.source.slice(t.source.indexOf('=') + 1), parts: [head.slice(head.indexOf('=') + 1), ...t.parts.slice(1)] };
          const p = valueProblem(i, n, value);
          if (p) return p;
        } else if (spec.gives?.includes(n)) given = true;
        continue;
      }
      if (!literal) return spelt(i);
      if (spec.flags?.includes(n)) continue;
      if (spec === GDB && n === '-args') {
        optionsEnded = true;
        continue;
      }
      const next = argv[i + 1];
      if (known) {
        if (spec.gives?.includes(n)) given = true;
        if (next) {
          const p = valueProblem(i + 1, n, next);
          if (p) return p;
          if (spec.ends?.includes(n)) return undefined;
          // A value that starts with "-" is read both ways: as the value, and as an option (vim's -s after -e is a flag).
          if (!textBefore(next).startsWith('-')) i++;
        }
        continue;
      }
      // An option rectify does not know may take the next argument as its value: a value there is refused, and the argument after it is read as the operand.
      if (next && !textBefore(next).startsWith('-')) {
        if (!isLiteral(next)) return optionValue(i + 1, n);
        i++;
      }
      continue;
    }
    // A cluster of short options: flags until the first that takes a value.
    const letters = head.slice(1);
    if (spec === VIM && /[eE]/.test(letters)) exMode = true;
    const takesValue = (option: string): boolean => option in spec.code || spec.file?.includes(option) === true || spec.values?.includes(option) === true;
    // The first letter that takes a value, joined or the next argument's (the cluster reading argv-programs.ts shares).
    // vim's -s in Ex mode (-e, -E) is silent mode, not a script to read.
    const { value: at } = readCluster(letters, literal, (l) => !(exMode && l === 's') && (takesValue(`-${l}`) || spec.joined?.includes(l) === true));
    if (at) {
      const { k } = at;
      const option = `-${at.letter}`;
      const takes = takesValue(option);
      const joinedOnly = spec.joined?.includes(at.letter);
      if (spec.gives?.includes(option)) given = true;
      if (!at.last || joinedOnly) {
        if (!literal) {
          const value: Template = { source: t.source.slice(k + 2), parts: [head.slice(k + 2), ...t.parts.slice(1)].filter((p) => p !== '') };
          const p = joinedOnly && !takes ? (option in spec.code ? codeOption(i, option) : spelt(i)) : valueProblem(i, option, value);
          if (p) return p;
        }
        if (spec.ends?.includes(option) && !at.last) return undefined;
      } else {
        const next = argv[i + 1];
        if (next) {
          const p = valueProblem(i + 1, option, next);
          if (p) return p;
          if (spec.ends?.includes(option)) return undefined;
          if (!textBefore(next).startsWith('-')) i++;
        }
      }
    }
    if (!literal && ![...letters].some((l) => spec.values?.includes(`-${l}`) || `-${l}` in spec.code || spec.joined?.includes(l))) return spelt(i);
  }
  return undefined;
}

import { STEP_MARKER_VAR, type Template } from '../domain/runbook.js';
import { assignmentProblem } from './environment-names.js';
import { interpreterIn, isInterpreter } from './interpreters.js';
import { readCluster } from './option-cluster.js';
import { isLiteral } from './template.js';

/**
 * Which program an argument list runs, read as the programs themselves read their
 * arguments: argv[0], or the program a wrapper (env, timeout, sudo, nice, ssh…), a
 * subcommand (kubectl exec, docker run…), find's -exec or ip netns exec runs in its turn,
 * and the command lines some take as an option's value (rsync -e, tar -I, git -c, git
 * clone --upload-pack, git rebase -x).
 * A `command:` action must run no shell, and an alert's values must choose neither that
 * program nor its environment: shellIn finds the argument that breaks either rule.
 */
// Running one of these would bring the shell back through the side door: as argv[0],
// or as the program one that runs another runs (WRAPPER_SPECS). busybox and toybox are
// shells too (`busybox sh -c …`), and expect is a Tcl interpreter, whose script (`-c`, or a
// file) runs what it spawns.
const SHELLS: ReadonlySet<string> = new Set([
  'sh', 'bash', 'rbash', 'zsh', 'dash', 'ksh', 'ksh93', 'mksh', 'lksh', 'oksh', 'loksh', 'pdksh', 'ash', 'yash', 'posh', 'sash',
  'fish', 'csh', 'tcsh', 'elvish', 'nu', 'xonsh', 'rc', 'es', 'busybox', 'toybox',
  'pwsh', 'powershell', 'cmd', 'cmd.exe', 'pwsh.exe', 'powershell.exe', 'sh.exe', 'bash.exe', 'expect',
]);
/** Programs that always hand what they run to a shell, whatever their options. */
const ALWAYS_SHELL: Record<string, string> = {
  sg: 'runs its command through /bin/sh',
  parallel: 'runs its commands through a shell',
  script: 'runs a shell (and its -c command through one)',
  su: 'runs a shell, which reads the arguments after the user name; to run a program as another user, use [runuser, -u, USER, --, PROGRAM] or [sudo, --preserve-env=RECTIFY_STEP_ID, -u, USER, PROGRAM]',
};
/**
 * How a program that runs another reads its arguments, to find the program it runs:
 * options (`short` letters and `long` names that take a value: the rest of the
 * cluster or the next argument, `--name=value`), then `operands` (timeout's duration,
 * flock's file, chroot's new root, ssh's host, the pod or container), env's and sudo's
 * `NAME=value` assignments, and the program. Only that position is checked for a
 * shell (`[timeout, "300", /usr/local/bin/drain-queue, --channel, rc]` runs), and
 * a wrapper there is read the same way. Before the program (and in it) a value may not
 * stand alone, as `{x}` or `--name={x}`: it could be the program (`[timeout, "10", "{x}",
 * -c, id]` with x=bash) or env's environment (`[env, "{x}", tool]` with
 * x=LD_PRELOAD=/tmp/x.so); only ssh's host, the pod or container of an exec
 * (`podValues`) and the namespace and container options (`optionValues`) may be one.
 * An assignment (`assignments`, `envOptions`) may hold a value after its written-out
 * name, unless that name chooses what runs (`LD_PRELOAD={x}`: environment-names.ts).
 */
interface WrapperSpec {
  short?: string;
  long?: readonly string[];
  /** Long options known to take no value; another one, without "=", may take the next argument, so both readings are checked. */
  flags?: readonly string[];
  /** Every short letter known (with a value or without); another one may take a value, so both readings are checked. */
  knownShort?: string;
  operands?: number;
  /**
   * `NAME=value` before the program sets its environment: env reads any argument
   * holding "=" as one, sudo one not starting with "/" or "=" before "--" (among its
   * options too). A {placeholder} may not stand in the name, nor in the value of a name
   * that chooses what runs (environment-names.ts).
   */
  assignments?: 'env' | 'sudo';
  /** Options whose value is a `NAME=value` the program it runs gets (docker's -e, systemd-run's -E): read as an assignment is. */
  envOptions?: readonly string[];
  /** env: a lone "-" is an option (-i), not the program. */
  dashOption?: boolean;
  /** env -S: its value is split into the program and its arguments. */
  split?: { short: string; long: string };
  /** With no program after it, it runs a shell (`chroot /srv/root`, `ssh host`, `unshare`). */
  shellWithout?: boolean;
  /** watch runs its command through sh -c unless given this option. */
  direct?: { short: string; long: string };
  /** runuser runs the user's shell, as su does, unless given -u. */
  suUnless?: { short: string; long: string };
  podValues?: boolean;
  optionValues?: readonly string[];
  /** Options before a subcommand: no value but those of optionValues may hold a placeholder at all. */
  literalValues?: boolean;
  /** docker run's --entrypoint: its value is the program. */
  entrypoint?: string;
  /** docker run's, ctr run's: the first operand is the image the container runs, written out. */
  imageOperand?: boolean;
  /** ssh: what follows the host is a command line for the remote user's shell. */
  remote?: boolean;
  /** gosu, su-exec: no options; the user, then the program, whatever they look like. */
  noOptions?: boolean;
  /** lxc exec: its own options are read among the program's arguments too, up to "--", so the program must follow "--". */
  dashDash?: boolean;
  /**
   * Values that hold a placeholder but choose what runs all the same (ssh's `-o
   * ProxyCommand=…`, systemd-run's `-p ExecStartPre=…`, kubectl run's `--image`): the
   * option's value as written (`--name value`, `--name=value`, `-Xvalue`), and the
   * program (`by`); why it is refused. Its reason comes before any other, even for a
   * value alone.
   */
  valueRule?: (option: string, value: Template, by: string) => string | undefined;
}
// ssh's -o options (named as ssh reads them: case aside, up to a space or "=") whose value
// is a command ssh runs, here or on the remote host, or a library it loads.
const SSH_COMMAND_OPTIONS: ReadonlySet<string> = new Set(['proxycommand', 'localcommand', 'knownhostscommand', 'remotecommand', 'pkcs11provider', 'securitykeyprovider']);
function sshOption(option: string, value: Template): string | undefined {
  if (option !== '-o') return undefined;
  const head = textBeforeValue(value);
  const name = /^\s*([^\s=]*)([\s=]?)/.exec(head)!;
  if (!name[2]) return `the name of an ssh -o option must be written out, not hold a {placeholder}: an alert must not choose how ssh connects or what it runs; write it in the runbook`;
  const keyword = name[1]!;
  if (SSH_COMMAND_OPTIONS.has(keyword.toLowerCase())) {
    return `ssh's -o ${keyword} is a command ssh runs (or a library it loads), so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  }
  // SendEnv names rectify's own variables to send (command_env's secrets among them).
  if (keyword.toLowerCase() === 'sendenv') {
    return `ssh's -o ${keyword} names the variables ssh sends to the remote host, so it must be written out, not hold a {placeholder}: an alert must not choose which of the command's variables (command_env's among them) leave the host; write it in the runbook`;
  }
  // SetEnv NAME=VALUE [NAME=VALUE…]: each word an assignment the remote program gets, read as env's.
  if (keyword.toLowerCase() === 'setenv') {
    for (const word of wordsOf(tailOf(value, name[0].length))) {
      const problem = assignmentProblem(word, `-o ${keyword} ${JSON.stringify(word.source)}`, 'ssh');
      if (problem) return problem;
    }
  }
  return undefined;
}
/** The words of a template, split at the white space of its own text (a value holds none: the argument rules refuse it). */
function wordsOf(t: Template): Template[] {
  const words: Template['parts'][] = [[]];
  for (const part of t.parts) {
    if (typeof part !== 'string') {
      words[words.length - 1]!.push(part);
      continue;
    }
    part.split(/(\s+)/).forEach((piece, k) => {
      if (k % 2 === 1) words.push([]);
      else if (piece) words[words.length - 1]!.push(piece);
    });
  }
  return words
    .filter((parts) => parts.length > 0)
    .map((parts) => ({ source: parts.map((p) => (typeof p === 'string' ? p : `{${p.param}}`)).join(''), parts }));
}
// systemd-run's unit properties that choose what runs, or its environment, root or files.
const SYSTEMD_PROPERTY_OPTIONS = ['-p', '--property', '--timer-property', '--path-property', '--socket-property'];
const SYSTEMD_RUNS = /^(Exec|Environment|PassEnvironment|Root|Bind)/i;
function systemdProperty(option: string, value: Template): string | undefined {
  if (!SYSTEMD_PROPERTY_OPTIONS.includes(option)) return undefined;
  const head = textBeforeValue(value);
  const eq = head.indexOf('=');
  if (eq < 0) return `the name of a systemd-run ${option} property must be written out, not hold a {placeholder}: an alert must not choose what runs or how; write it in the runbook`;
  const name = head.slice(0, eq).trim();
  if (SYSTEMD_RUNS.test(name)) {
    return `systemd-run's ${option} ${name}= chooses what runs, its environment or the files it sees, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
  }
  return undefined;
}
/** A valueRule refusing a {placeholder} in the value of `options`, which are `what`. */
function chooses(by: string, options: readonly string[], what: string): NonNullable<WrapperSpec['valueRule']> {
  return (option) =>
    options.includes(option)
      ? `${by}'s ${option} is ${what}, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`
      : undefined;
}
const WRAPPER_SPECS: Record<string, WrapperSpec> = {
  env: { flags: ['--ignore-environment', '--null', '--debug', '--list-signal-handling', '--block-signal', '--default-signal', '--ignore-signal'], short: 'aCSuP', long: ['--unset', '--chdir', '--split-string', '--argv0'], assignments: 'env', dashOption: true, split: { short: 'S', long: '--split-string' } },
  timeout: { flags: ['--foreground', '--preserve-status', '--verbose'], short: 'sk', long: ['--signal', '--kill-after'], operands: 1 },
  nice: { short: 'n', long: ['--adjustment'] },
  nohup: {},
  setsid: { flags: ['--ctty', '--fork', '--wait'] },
  sudo: { flags: ['--askpass', '--background', '--bell', '--edit', '--list', '--login', '--non-interactive', '--preserve-env', '--preserve-groups', '--remove-timestamp', '--reset-timestamp', '--set-home', '--shell', '--stdin', '--validate'], short: 'CDghpRrTtUu', long: ['--close-from', '--chdir', '--group', '--host', '--prompt', '--chroot', '--role', '--type', '--command-timeout', '--other-user', '--user'], assignments: 'sudo' },
  doas: { short: 'Cu' },
  runuser: { flags: ['--login', '--preserve-environment', '--pty'], short: 'gGsuw', long: ['--group', '--supp-group', '--shell', '--user', '--whitelist-environment'], suUnless: { short: 'u', long: '--user' } },
  xargs: { flags: ['--null', '--no-run-if-empty', '--interactive', '--verbose', '--exit', '--show-limits', '--open-tty', '--replace', '--eof', '--max-lines'], short: 'adEILnPs', long: ['--arg-file', '--delimiter', '--max-args', '--max-procs', '--max-chars', '--process-slot-var'] },
  stdbuf: { short: 'ioe', long: ['--input', '--output', '--error'] },
  ionice: { short: 'cnpPu', long: ['--class', '--classdata', '--pid', '--pgid', '--uid'] },
  chroot: { flags: ['--skip-chdir'], long: ['--userspec', '--groups'], operands: 1, shellWithout: true },
  flock: { flags: ['--shared', '--exclusive', '--unlock', '--nonblock', '--nb', '--close', '--no-fork', '--verbose'], short: 'wE', long: ['--timeout', '--conflict-exit-code'], operands: 1 },
  time: { flags: ['--append', '--verbose', '--portability', '--quiet'], short: 'fo', long: ['--format', '--output'] },
  chrt: { short: 'TPD', long: ['--sched-runtime', '--sched-period', '--sched-deadline'], operands: 1 },
  taskset: { operands: 1 },
  unshare: { flags: ['--mount', '--uts', '--ipc', '--net', '--pid', '--user', '--cgroup', '--time', '--fork', '--map-root-user', '--map-current-user', '--mount-proc', '--kill-child', '--keep-caps'], short: 'SGRw', long: ['--setuid', '--setgid', '--root', '--wd', '--map-user', '--map-group', '--map-users', '--map-groups', '--propagation'], shellWithout: true },
  nsenter: { flags: ['--all', '--mount', '--uts', '--ipc', '--net', '--pid', '--user', '--cgroup', '--time', '--preserve-credentials', '--no-fork', '--root', '--wd'], short: 'tSG', long: ['--target', '--setuid', '--setgid'], shellWithout: true },
  setpriv: { flags: ['--clear-groups', '--init-groups', '--keep-groups', '--no-new-privs', '--nnp', '--reset-env'], long: ['--reuid', '--regid', '--groups', '--inh-caps', '--ambient-caps', '--bounding-set', '--securebits', '--pdeathsig', '--selinux-label', '--apparmor-profile', '--landlock-access', '--landlock-rule', '--seccomp-filter'] },
  prlimit: { short: 'po', long: ['--pid', '--output'] },
  numactl: { flags: ['--localalloc', '--show', '--hardware'], short: 'CNmpiP', long: ['--cpunodebind', '--membind', '--physcpubind', '--preferred', '--interleave', '--preferred-many'] },
  cgexec: { short: 'g' },
  'systemd-run': { flags: ['--user', '--system', '--scope', '--pty', '--pipe', '--wait', '--collect', '--quiet', '--same-dir', '--no-block', '--no-ask-password', '--remain-after-exit', '--send-sighup', '--shell', '--verbose'], short: 'pMHEu', long: ['--property', '--unit', '--machine', '--host', '--setenv', '--uid', '--gid', '--nice', '--working-directory', '--description', '--slice', '--service-type', '--on-active', '--on-boot', '--on-startup', '--on-unit-active', '--on-unit-inactive', '--on-calendar', '--timer-property', '--path-property', '--socket-property'], envOptions: ['-E', '--setenv'], valueRule: systemdProperty },
  setarch: { operands: 1, shellWithout: true },
  strace: { short: 'abeEIoOpPsSuUX' },
  ltrace: { short: 'aADeFlnopsuwx' },
  firejail: { shellWithout: true, envOptions: ['--env'] },
  watch: { flags: ['--differences', '--chgexit', '--errexit', '--beep', '--color', '--no-color', '--no-title', '--no-wrap', '--no-linewrap', '--no-rerun', '--precise', '--exec'], short: 'nq', long: ['--interval', '--equexit'], direct: { short: 'x', long: '--exec' } },
  // The host may be a value (one cannot start with "-"); the command after it never.
  ssh: { short: 'BbcDEeFIiJLlmOopQRSWw', operands: 1, shellWithout: true, podValues: true, remote: true, valueRule: sshOption },
  // autossh reads ssh's options (and its own -M) and hands the rest to ssh.
  autossh: { short: 'BbcDEeFIiJLlmOopQRSWwM', operands: 1, shellWithout: true, podValues: true, remote: true, valueRule: sshOption },
  // gosu USER PROGRAM, su-exec USER PROGRAM: no options, not even "--".
  gosu: { operands: 1, noOptions: true },
  'su-exec': { operands: 1, noOptions: true },
  // runit's chpst: -u, -U, -b, -e, -/ … take a value, -v, -P, -0, -1, -2 none.
  chpst: { short: 'uUbe/CnlLmdopfcrt', knownShort: 'uUbe/CnlLmdopfcrtvP012' },
  // pkexec [--user USER] PROGRAM: with no program it runs the user's shell.
  pkexec: { short: 'u', knownShort: 'u', long: ['--user'], flags: ['--disable-internal-agent', '--keep-cwd', '--help', '--version'], shellWithout: true },
  tini: { short: 'pe', knownShort: 'pehvwgls' },
  'dumb-init': { short: 'r', knownShort: 'rcvVh', long: ['--rewrite'], flags: ['--single-child', '--verbose', '--version', '--help'] },
  // unbuffer [-p] PROGRAM: what follows goes to expect's spawn, whose own options may take a value.
  unbuffer: { knownShort: 'p' },
  // daemontools: setuidgid, envuidgid USER PROGRAM and envdir DIR PROGRAM read no options (DIR's files set
  // the environment, so it is no value alone); softlimit's letters all take a value; setlock [-nNxX] FILE PROGRAM.
  setuidgid: { operands: 1, noOptions: true },
  envuidgid: { operands: 1, noOptions: true },
  envdir: { operands: 1, noOptions: true },
  softlimit: { short: 'acdflmoprst', knownShort: 'acdflmoprst' },
  setlock: { knownShort: 'nNxX', operands: 1 },
  // LXC's lxc-attach -n NAME [options] -- PROGRAM: getopt_long reads its options among the
  // program's arguments too, so the program follows "--"; with none it runs a shell in the
  // container. The container's name may be a value; -e's value is optional (joined only).
  'lxc-attach': {
    short: 'nPfasvLugol',
    knownShort: 'nPfasvLugolRqh',
    long: ['--name', '--lxcpath', '--rcfile', '--arch', '--namespaces', '--set-var', '--keep-var', '--pty-log', '--uid', '--gid', '--logfile', '--logpriority', '--context'],
    flags: ['--elevated-privileges', '--remount-sys-proc', '--clear-env', '--keep-env', '--quiet', '--help', '--usage', '--version'],
    optionValues: ['-n', '--name'],
    envOptions: ['-v', '--set-var'],
    dashDash: true,
    shellWithout: true,
  },
  // Programs that run the one after their options, read as their man pages give them.
  valgrind: { knownShort: 'qvhd', valueRule: chooses('valgrind', ['--db-command', '--vgdb-prefix'], 'a program valgrind runs (the debugger, or vgdb\'s)') },
  // With no command fakeroot runs $SHELL; --lib and --faked are the library it preloads and the daemon it starts.
  fakeroot: { short: 'lisb', knownShort: 'lisbuhv', long: ['--lib', '--faked', '--fd-base'], flags: ['--unknown-is-real', '--help', '--version'], shellWithout: true, valueRule: chooses('fakeroot', ['-l', '--lib', '--faked'], 'the library fakeroot preloads into the program, or the daemon it starts') },
  chronic: { knownShort: 'ev' },
  screen: { short: 'cehpSsTX', valueRule: chooses('screen', ['-c', '-s', '-X'], 'screen\'s configuration file, the shell it starts, or a command it sends to a session') },
  sshpass: { short: 'fdpP', knownShort: 'fdpPevh' },
  'systemd-cat': { short: 'tp', knownShort: 'tph', long: ['--identifier', '--priority', '--stderr-priority', '--level-prefix', '--namespace'], flags: ['--help', '--version'] },
  'systemd-inhibit': { long: ['--what', '--who', '--why', '--mode'], flags: ['--list', '--no-pager', '--no-legend', '--help', '--version'] },
  'dbus-run-session': { long: ['--config-file', '--dbus-daemon'], flags: ['--help', '--version'], valueRule: chooses('dbus-run-session', ['--config-file', '--dbus-daemon'], 'the bus daemon it starts, or the configuration that daemon reads (which can start services)') },
  'xvfb-run': { short: 'efnpsw', knownShort: 'aefnlpswh', long: ['--error-file', '--auth-file', '--server-num', '--xauth-protocol', '--server-args', '--wait'], flags: ['--auto-servernum', '--listen-tcp', '--help'], valueRule: chooses('xvfb-run', ['-s', '--server-args'], 'the arguments of the X server it starts') },
  eatmydata: {},
  nocache: { short: 'n', knownShort: 'n' },
  cpulimit: { short: 'lpePcs', knownShort: 'lpePcszivqkrbfmh', long: ['--limit', '--pid', '--exe', '--path', '--cpu', '--signal'], flags: ['--lazy', '--include-children', '--verbose', '--quiet', '--kill', '--restore', '--background', '--foreground', '--help'] },
  trickle: { short: 'duwtln', knownShort: 'hvVsduwtln' },
  // faketime TIMESTAMP PROGRAM; --date-prog names the date program it runs.
  faketime: { short: 'p', knownShort: 'mpf', long: ['--date-prog'], flags: ['--exclude-monotonic', '--help', '--version'], operands: 1, valueRule: chooses('faketime', ['--date-prog'], 'the program faketime runs to read the timestamp') },
  'aa-exec': { short: 'pn', knownShort: 'pnivdh', long: ['--profile', '--namespace'], flags: ['--immediate', '--verbose', '--debug', '--help'] },
  // With no command schroot runs a login shell in the chroot.
  schroot: { short: 'cudno', knownShort: 'cudnopqvalibrehV', long: ['--chroot', '--user', '--directory', '--session-name', '--option'], flags: ['--preserve-environment', '--quiet', '--verbose', '--all', '--list', '--info', '--automatic-session', '--help', '--version'], shellWithout: true },
  's6-setuidgid': { operands: 1, noOptions: true },
  's6-envdir': { short: 'c', knownShort: 'Iinfc', operands: 1 },
  // rlwrap -z FILTER runs the filter program.
  rlwrap: { short: 'bCDefFgHlMoOPqsStwz', long: ['--filter'], valueRule: chooses('rlwrap', ['-z', '--filter'], 'a filter program rlwrap runs') },
  daemonize: { short: 'ceEoplu', knownShort: 'aceEoplvu', envOptions: ['-E'] },
  // moreutils' ifne [-n] PROGRAM; ssh-agent [options] PROGRAM.
  ifne: { knownShort: 'n' },
  'ssh-agent': { short: 'aEPt', knownShort: 'acDdkEPstO' },
  // With no program it runs a shell in the container.
  'systemd-nspawn': {
    short: 'DuLMSZipE',
    knownShort: 'DuLMSZipEhabjqxnUP',
    long: [
      '--directory', '--template', '--image', '--image-policy', '--oci-bundle', '--user', '--machine', '--hostname', '--uuid', '--slice', '--property',
      '--private-users-ownership', '--network-interface', '--network-macvlan', '--network-ipvlan', '--network-veth-extra', '--network-bridge', '--network-zone',
      '--network-namespace-path', '--port', '--capability', '--drop-capability', '--ambient-capability', '--no-new-privileges', '--system-call-filter', '--rlimit',
      '--oom-score-adjust', '--cpu-affinity', '--kill-signal', '--link-journal', '--resolv-conf', '--timezone', '--bind', '--bind-ro', '--inaccessible', '--tmpfs',
      '--overlay', '--overlay-ro', '--setenv', '--register', '--personality', '--settings', '--notify-ready', '--console', '--chdir', '--pivot-root',
      '--selinux-context', '--selinux-apifs-context', '--root-hash', '--root-hash-sig', '--verity-data', '--load-credential', '--set-credential', '--suppress-sync',
      '--bind-user', '--background',
    ],
    flags: ['--help', '--version', '--quiet', '--boot', '--as-pid2', '--ephemeral', '--read-only', '--private-network', '--network-veth', '--keep-unit', '--pipe', '--no-pager', '--volatile', '--private-users'],
    envOptions: ['-E', '--setenv'],
    shellWithout: true,
  },
};

// kubectl's (and oc's) options for every subcommand (`kubectl options`): with a value, and without.
const KUBE_GLOBAL_VALUES = [
  '--as', '--as-group', '--as-uid', '--cache-dir', '--certificate-authority', '--client-certificate', '--client-key', '--cluster', '--context',
  '--kubeconfig', '--log-backtrace-at', '--log-dir', '--log-file', '--log-file-max-size', '--log-flush-frequency', '--namespace', '--password',
  '--profile', '--profile-output', '--request-timeout', '--server', '--stderrthreshold', '--tls-server-name', '--token', '--user', '--username',
  '--v', '--vmodule',
];
const KUBE_GLOBAL_FLAGS = [
  '--add-dir-header', '--alsologtostderr', '--disable-compression', '--insecure-skip-tls-verify', '--logtostderr', '--match-server-version',
  '--one-output', '--skip-headers', '--skip-log-headers', '--warnings-as-errors', '--help',
];
const KUBE_NAMESPACE = ['-n', '--namespace'];
const kubeRuns = (short: string, long: readonly string[], flags: readonly string[], optionValues: readonly string[], valueRule?: WrapperSpec['valueRule']): WrapperSpec => ({
  short: `nsv${short}`,
  long: [...KUBE_GLOBAL_VALUES, ...long],
  flags: [...KUBE_GLOBAL_FLAGS, ...flags],
  operands: 1,
  podValues: true,
  optionValues: [...KUBE_NAMESPACE, ...optionValues],
  // run's and debug's --env: the container's environment.
  envOptions: long.includes('--env') ? ['--env'] : undefined,
  valueRule,
});
const KUBE_CONTAINER = ['-c', '--container'];
const KUBE_EXEC = kubeRuns('cf', ['--container', '--filename', '--pod-running-timeout'], ['--stdin', '--tty', '--quiet'], KUBE_CONTAINER);
/**
 * kubectl's and oc's `run` and `debug` options that choose the code the pod runs: the
 * image (`--image`, oc debug's `--image-stream`, debug's `--set-image NAME=IMAGE,…`),
 * run's `--overrides` (a patch of the pod it makes, as patch's -p), and debug's
 * `--custom`, a file whose container spec the debug container takes: its path names its
 * directory before any placeholder, as apply's -f does.
 */
function kubeImageRule(sub: 'run' | 'debug'): NonNullable<WrapperSpec['valueRule']> {
  return (option, value, by) => {
    const chain = JSON.stringify(`${by} ${sub}`);
    const tail = 'an alert choosing the image runs its code in the cluster; write it in the runbook';
    if (option === '--image' || (sub === 'debug' && option === '--image-stream')) {
      return `${chain}'s ${option} chooses the image the container runs, so its value must be written out, not hold a {placeholder}: ${tail}`;
    }
    if (sub === 'debug' && option === '--set-image') {
      return `${chain}'s --set-image (NAME=IMAGE) chooses the images the copy's containers run, so its value must be written out, not hold a {placeholder}: ${tail}`;
    }
    if (sub === 'run' && option === '--overrides') {
      return `${chain}'s --overrides is a patch of the pod it makes, which decides what the pod becomes (its image, command, node, privileges), so its value must be written out, not hold a {placeholder}: an alert must not choose what runs in the cluster; write it in the runbook`;
    }
    if (sub === 'debug' && option === '--custom' && !textBeforeValue(value).includes('/')) {
      return `${chain}'s --custom is a file whose container spec decides what the debug container becomes (its image, command, privileges), so its value must name its directory before any {placeholder} ("/srv/debug/{profile}.json"): a value there alone could name any file on the host; write the directory in the runbook`;
    }
    return undefined;
  };
}
// kubectl run NAME … [--] COMMAND, kubectl debug TARGET … -- COMMAND: the image is written out.
const KUBE_RUN = kubeRuns(
  'lo',
  ['--image', '--env', '--labels', '--port', '--restart', '--overrides', '--override-type', '--image-pull-policy', '--serviceaccount', '--pod-running-timeout', '--annotations', '--dry-run', '--output', '--template', '--field-manager', '--timeout', '--grace-period', '--cascade', '--filename', '--hostport'],
  ['--privileged', '--stdin', '--tty', '--rm', '--attach', '--command', '--leave-stdin-open', '--quiet', '--expose', '--save-config', '--show-managed-fields', '--allow-missing-template-keys', '--wait', '--force'],
  [],
  kubeImageRule('run'),
);
const KUBE_DEBUG = kubeRuns(
  'cf',
  ['--image', '--container', '--target', '--profile', '--env', '--copy-to', '--set-image', '--image-pull-policy', '--custom', '--filename', '--keep-annotations', '--keep-labels', '--keep-liveness', '--keep-readiness', '--keep-startup', '--keep-init-containers'],
  ['--stdin', '--tty', '--quiet', '--attach', '--share-processes', '--replace', '--same-node', '--arguments-only'],
  KUBE_CONTAINER,
  kubeImageRule('debug'),
);
const KUBE_GLOBAL: WrapperSpec = { short: 'nsv', knownShort: 'nsvh', long: KUBE_GLOBAL_VALUES, flags: KUBE_GLOBAL_FLAGS, optionValues: KUBE_NAMESPACE, literalValues: true };

// The program's environment in the container: -e/--env, and podman run's --env-merge (NAME=${VAR}…).
const CONTAINER_ENV = ['-e', '--env', '--env-merge'];
const DOCKER_EXEC: WrapperSpec = {
  short: 'euw',
  long: ['--env', '--env-file', '--user', '--workdir', '--detach-keys'],
  flags: ['--detach', '--interactive', '--tty', '--privileged'],
  operands: 1,
  podValues: true,
  envOptions: CONTAINER_ENV,
};
// docker run IMAGE COMMAND: the image is written out (an alert choosing it runs its code on
// this host's container runtime); so is --entrypoint, which is the program.
const DOCKER_RUN: WrapperSpec = {
  short: 'acehlmpuvw',
  long: [
    '--add-host', '--annotation', '--attach', '--blkio-weight', '--cap-add', '--cap-drop', '--cgroup-parent', '--cgroupns', '--cidfile', '--cpu-period', '--cpu-quota',
    '--cpu-shares', '--cpus', '--cpuset-cpus', '--cpuset-mems', '--detach-keys', '--device', '--dns', '--dns-option', '--dns-search', '--domainname', '--entrypoint',
    '--env', '--env-file', '--expose', '--gpus', '--group-add', '--health-cmd', '--health-interval', '--health-retries', '--health-start-period', '--health-timeout',
    '--hostname', '--ip', '--ip6', '--ipc', '--isolation', '--label', '--label-file', '--link', '--log-driver', '--log-opt', '--mac-address', '--memory',
    '--memory-reservation', '--memory-swap', '--mount', '--name', '--network', '--network-alias', '--oom-score-adj', '--pid', '--pids-limit', '--platform',
    '--publish', '--pull', '--restart', '--runtime', '--security-opt', '--shm-size', '--stop-signal', '--stop-timeout', '--storage-opt', '--sysctl', '--tmpfs',
    '--ulimit', '--user', '--userns', '--uts', '--volume', '--volumes-from', '--workdir',
  ],
  flags: ['--rm', '--detach', '--interactive', '--tty', '--privileged', '--init', '--read-only', '--publish-all', '--no-healthcheck', '--oom-kill-disable', '--quiet', '--disable-content-trust', '--use-api-socket'],
  operands: 1,
  imageOperand: true,
  entrypoint: '--entrypoint',
  envOptions: CONTAINER_ENV,
};
// docker compose exec SERVICE COMMAND, docker compose run SERVICE COMMAND: the service
// of an exec may be a value; a run's service (its image) and --entrypoint are written out.
const COMPOSE_EXEC: WrapperSpec = {
  short: 'euw',
  long: ['--env', '--user', '--workdir', '--index'],
  flags: ['--detach', '--privileged', '--no-TTY', '--dry-run'],
  operands: 1,
  podValues: true,
  envOptions: CONTAINER_ENV,
};
const COMPOSE_RUN: WrapperSpec = {
  short: 'elpuvw',
  long: ['--entrypoint', '--env', '--env-from-file', '--label', '--name', '--publish', '--pull', '--user', '--volume', '--workdir', '--cap-add', '--cap-drop'],
  flags: ['--build', '--detach', '--interactive', '--no-deps', '--no-TTY', '--quiet', '--quiet-pull', '--remove-orphans', '--rm', '--service-ports', '--use-aliases', '--dry-run', '--tty'],
  operands: 1,
  entrypoint: '--entrypoint',
  envOptions: CONTAINER_ENV,
};

/**
 * A program run with a subcommand (`kubectl exec`, `docker run`, `docker container
 * exec`): `global` options may come before the subcommand, and none of their values may
 * be a placeholder but kubectl's namespace (an alert must not choose the server, context
 * or identity). Then the subcommand: one that runs a program (`runs`, read as a wrapper's
 * arguments are), one with subcommands of its own (`nested`), or one that runs none
 * (`plain`), whose arguments may hold placeholders. After any other, rectify cannot tell
 * what the arguments choose: none may be a placeholder or a shell.
 */
interface Subcommands {
  global: WrapperSpec;
  runs: Readonly<Record<string, WrapperSpec>>;
  nested?: Readonly<Record<string, Subcommands>>;
  plain: readonly string[];
  /** Subcommands that run no program but whose options or operands can decide what code goes in (`kubectl patch`, `kubectl set`). */
  restricted?: Readonly<Record<string, Restricted>>;
  /**
   * kubectl, oc, podman, nerdctl: the global long options, and the `short` letters, are
   * read after the subcommand too, and obey the same rule there; `values`, letters that
   * take a value after any subcommand (kubectl's -n, -c, -l, -o, -v; and the short
   * options of an exec or run), so the rest of a joined `-n{ns}` is their value, not
   * more letters.
   */
  anywhere?: { short: string; values: string };
}
// Subcommands that run no program.
const KUBE_PLAIN = [
  'get', 'describe', 'delete', 'rollout', 'scale', 'autoscale', 'drain', 'cordon', 'uncordon', 'logs', 'annotate', 'label', 'taint', 'top', 'wait', 'events',
  'explain', 'version', 'api-resources', 'api-versions', 'cluster-info',
];
/**
 * A subcommand that runs no program, but some of whose options or operands decide what
 * the object becomes, and so what runs or what code goes in (kubectl patch's -p, set
 * image's NAME=IMAGE, set env's LD_PRELOAD=…, create's --image and its command after
 * "--"): a placeholder may stand only in an operand (that `operand`, when given, does not
 * refuse) or in the value of one of the options `values` (`-n`, and apply's `-f`, whose
 * path the argument rules keep in the runbook's directory); in no other option's value,
 * and nowhere after "--". `where` says where it may stand, for the message.
 */
interface Restricted {
  values: readonly string[];
  /** Of `values`, those whose value is a file that decides what runs: the runbook writes its directory before any placeholder. */
  paths?: readonly string[];
  /** Operands that make the subcommand hand out a credential (`create token`): no placeholder after one. */
  credentials?: readonly string[];
  where: string;
  operand?: (t: Template) => string | undefined;
}
const KUBE_FILES = [...KUBE_NAMESPACE, '-f', '--filename'];
const KUBE_RESTRICTED: Readonly<Record<string, Restricted>> = {
  patch: { values: KUBE_NAMESPACE, where: 'the resource and its name' },
  apply: { values: KUBE_FILES, paths: KUBE_FILES.slice(2), where: 'the -f/--filename path' },
  replace: { values: KUBE_FILES, paths: KUBE_FILES.slice(2), where: 'the -f/--filename path' },
  create: { values: KUBE_FILES, paths: KUBE_FILES.slice(2), credentials: ['token'], where: 'the name of what is created and the -f/--filename path' },
  cp: { values: [...KUBE_NAMESPACE, '-c', '--container'], where: 'the pod, the paths and -c/--container' },
  expose: { values: KUBE_NAMESPACE, where: 'the resource and its name' },
  set: {
    values: KUBE_NAMESPACE,
    where: 'a resource written TYPE/NAME ("deployment/{deployment}")',
    operand: (t) => {
      const text = t.parts.filter((p) => typeof p === 'string').join('');
      return textBeforeValue(t).includes('/') && !text.includes('=') ? undefined : 'a NAME=VALUE or a name alone';
    },
  },
};
const CONTAINER_PLAIN = ['restart', 'start', 'stop', 'kill', 'logs', 'inspect', 'ps', 'ls', 'list', 'rm', 'pause', 'unpause', 'top', 'stats', 'port', 'wait', 'update', 'cp'];
// `docker container …`, `docker compose …` (and podman's, nerdctl's): nothing may stand between these and their subcommand but written-out options.
const BARE_LEVEL: WrapperSpec = { knownShort: 'h', flags: ['--help'], literalValues: true };
const CONTAINER_LEVEL: Subcommands = { global: BARE_LEVEL, runs: { exec: DOCKER_EXEC, run: DOCKER_RUN }, plain: CONTAINER_PLAIN };
// `docker network …`, `docker volume …`, `docker image …`: those that choose no driver, options or image to fetch.
const CONTAINER_OBJECTS = {
  network: { global: BARE_LEVEL, runs: {}, plain: ['ls', 'list', 'inspect', 'connect', 'disconnect', 'rm', 'remove', 'prune'] },
  volume: { global: BARE_LEVEL, runs: {}, plain: ['ls', 'list', 'inspect', 'rm', 'remove', 'prune'] },
  image: { global: BARE_LEVEL, runs: {}, plain: ['ls', 'list', 'inspect', 'rm', 'remove', 'prune', 'history'] },
} satisfies Record<string, Subcommands>;
const COMPOSE_LEVEL: Subcommands = {
  global: {
    short: 'fp',
    knownShort: 'fph',
    long: ['--file', '--project-name', '--project-directory', '--profile', '--env-file', '--ansi', '--parallel', '--progress'],
    flags: ['--compatibility', '--dry-run', '--all-resources', '--help'],
    literalValues: true,
  },
  runs: { exec: COMPOSE_EXEC, run: COMPOSE_RUN },
  plain: ['restart', 'start', 'stop', 'kill', 'logs', 'ps', 'pause', 'unpause', 'top', 'up', 'down'],
};
const CONTAINER_SUBCOMMANDS = { runs: { exec: DOCKER_EXEC, run: DOCKER_RUN }, nested: { container: CONTAINER_LEVEL, compose: COMPOSE_LEVEL, ...CONTAINER_OBJECTS }, plain: CONTAINER_PLAIN };
const KUBE_ANYWHERE = { short: 's', values: 'nclov' };
// The docker-compose and podman-compose programs read as `docker compose` (and their own global options).
const COMPOSE_PROGRAM = (long: readonly string[], flags: readonly string[], valueRule?: WrapperSpec['valueRule']): Subcommands => ({
  ...COMPOSE_LEVEL,
  global: { ...COMPOSE_LEVEL.global, short: 'fpcH', knownShort: 'fpcHhv', long: [...COMPOSE_LEVEL.global.long!, ...long], flags: [...COMPOSE_LEVEL.global.flags!, ...flags], valueRule },
});
// podman-compose's options whose value it splits into arguments of podman's own (its global
// ones, or pod create's, run's…): `--podman-run-args="--entrypoint=…"` or
// `--podman-args="--runtime=…"` chooses what runs.
const PODMAN_COMPOSE_ARGS = [
  '--pod-args', '--podman-args', '--podman-pull-args', '--podman-push-args', '--podman-build-args', '--podman-inspect-args', '--podman-run-args', '--podman-start-args',
  '--podman-stop-args', '--podman-rm-args', '--podman-volume-args',
];
function podmanArguments(option: string, _value: Template): string | undefined {
  if (!PODMAN_COMPOSE_ARGS.includes(option)) return undefined;
  return `podman-compose passes ${option}'s value to podman as arguments of its own, which can choose what runs (--entrypoint, --runtime, --hooks-dir…), so it must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
}
// containerd's ctr (urfave/cli: options before the arguments, "--" ends them): `ctr run
// IMAGE ID COMMAND` (the image, or --rootfs's directory, written out; --config's spec file
// and --runtime or --runc-binary choose what runs) and `ctr task exec --exec-id ID
// CONTAINER COMMAND`.
const CTR_RUN_CHOOSES = ['-c', '--config', '--runtime', '--runc-binary'];
function ctrRunOption(option: string, _value: Template): string | undefined {
  if (!CTR_RUN_CHOOSES.includes(option)) return undefined;
  return `ctr run's ${option} chooses what runs (its spec file's process, or the runtime's program), so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`;
}
const CTR_RUN: WrapperSpec = {
  short: 'c',
  knownShort: 'cdth',
  long: [
    '--config', '--cwd', '--env', '--env-file', '--label', '--annotation', '--mount', '--runtime', '--runtime-config-path', '--runc-binary', '--runc-root', '--snapshotter',
    '--snapshotter-label', '--log-uri', '--fifo-dir', '--cgroup', '--platform', '--sandbox', '--with-ns', '--pid-file', '--gpus', '--memory-limit', '--cap-add', '--cap-drop',
    '--seccomp-profile', '--apparmor-default-profile', '--apparmor-profile', '--blockio-config-file', '--blockio-class', '--rdt-class', '--hostname', '--user',
    '--cpu-quota', '--cpu-period', '--cpu-shares', '--cpus', '--cpuset-cpus', '--cpuset-mems', '--device', '--rootfs-propagation', '--uidmap', '--gidmap',
  ],
  flags: ['--rm', '--null-io', '--detach', '--tty', '--cni', '--net-host', '--privileged', '--privileged-without-host-devices', '--read-only', '--allow-new-privs', '--seccomp', '--rootfs', '--no-pivot', '--runc-systemd-cgroup', '--remap-labels', '--help'],
  operands: 2,
  imageOperand: true,
  envOptions: ['--env'],
  valueRule: ctrRunOption,
};
const CTR_EXEC: WrapperSpec = { knownShort: 'tdh', long: ['--cwd', '--exec-id', '--fifo-dir', '--log-uri', '--user'], flags: ['--tty', '--detach', '--help'], operands: 1, podValues: true };
const CTR_TASKS: Subcommands = { global: BARE_LEVEL, runs: { exec: CTR_EXEC }, plain: ['start', 'kill', 'list', 'ls', 'ps', 'pause', 'resume', 'delete', 'del', 'remove', 'rm', 'metrics'] };
// LXD's and Incus's lxc exec INSTANCE -- COMMAND: cobra reads their options among the
// command's arguments too, up to "--".
const LXC: Subcommands = {
  global: { knownShort: 'hqv', long: ['--project'], flags: ['--debug', '--force-local', '--help', '--quiet', '--verbose', '--version', '--all', '--sub-commands'], literalValues: true },
  runs: {
    exec: {
      knownShort: 'tTnhqv',
      long: ['--cwd', '--env', '--group', '--mode', '--user', '--project'],
      flags: ['--force-interactive', '--force-noninteractive', '--disable-stdin', '--debug', '--force-local', '--help', '--quiet', '--verbose'],
      operands: 1,
      podValues: true,
      envOptions: ['--env'],
      dashDash: true,
    },
  },
  plain: ['start', 'stop', 'restart', 'pause', 'list', 'ls', 'info'],
  anywhere: { short: '', values: '' },
};

// runc exec CONTAINER PROGRAM (crun's the same): -p/--process is a process.json that chooses what runs.
const RUNC: Subcommands = {
  global: { long: ['--root', '--log', '--log-format', '--criu', '--rootless'], flags: ['--debug', '--systemd-cgroup', '--help', '--version'], knownShort: 'hv', literalValues: true },
  runs: {
    exec: {
      short: 'eupgc',
      knownShort: 'eupgcdth',
      long: ['--console-socket', '--pidfd-socket', '--cwd', '--env', '--user', '--additional-gids', '--process', '--pid-file', '--process-label', '--apparmor', '--cap', '--preserve-fds', '--cgroup'],
      flags: ['--tty', '--detach', '--no-new-privs', '--ignore-paused', '--help'],
      operands: 1,
      podValues: true,
      envOptions: ['-e', '--env'],
      valueRule: chooses('runc exec', ['-p', '--process'], 'a process.json that chooses what runs'),
    },
  },
  plain: ['list', 'ps', 'state', 'kill', 'pause', 'resume', 'events', 'delete'],
};

const SUBCOMMANDS: Readonly<Record<string, Subcommands>> = {
  kubectl: { global: KUBE_GLOBAL, runs: { exec: KUBE_EXEC, run: KUBE_RUN, debug: KUBE_DEBUG }, plain: KUBE_PLAIN, restricted: KUBE_RESTRICTED, anywhere: KUBE_ANYWHERE },
  oc: {
    global: KUBE_GLOBAL,
    anywhere: KUBE_ANYWHERE,
    runs: { exec: KUBE_EXEC, run: KUBE_RUN, debug: KUBE_DEBUG, rsh: { ...kubeRuns('c', ['--container', '--shell', '--timeout', '--filename'], ['--no-tty', '--tty', '--quiet'], KUBE_CONTAINER), short: 'nsvcf', shellWithout: true } },
    plain: KUBE_PLAIN,
    restricted: KUBE_RESTRICTED,
  },
  docker: {
    global: { short: 'cHl', knownShort: 'cHlDvh', long: ['--config', '--context', '--host', '--log-level', '--tlscacert', '--tlscert', '--tlskey'], flags: ['--debug', '--tls', '--tlsverify', '--version', '--help'], literalValues: true },
    ...CONTAINER_SUBCOMMANDS,
  },
  podman: {
    global: {
      short: 'c',
      knownShort: 'crhv',
      long: [
        '--cdi-spec-dir', '--cgroup-manager', '--cni-config-dir', '--config', '--conmon', '--connection', '--db-backend', '--events-backend', '--hooks-dir', '--identity',
        '--imagestore', '--log-level', '--module', '--network-cmd-path', '--network-config-dir', '--out', '--registries-conf', '--root', '--runroot', '--runtime',
        '--runtime-flag', '--ssh', '--storage-driver', '--storage-opt', '--tmpdir', '--url', '--volumepath',
      ],
      flags: ['--remote', '--syslog', '--transient-store', '--noout', '--debug', '--help', '--version'],
      literalValues: true,
    },
    ...CONTAINER_SUBCOMMANDS,
    anywhere: { short: '', values: '' },
  },
  nerdctl: {
    global: {
      short: 'naH',
      knownShort: 'naHhv',
      long: ['--address', '--host', '--namespace', '--snapshotter', '--storage-driver', '--cni-path', '--cni-netconfpath', '--data-root', '--cgroup-manager', '--host-gateway-ip', '--hosts-dir', '--bridge-ip'],
      flags: ['--debug', '--debug-full', '--insecure-registry', '--experimental', '--kube-hide-dupe', '--help', '--version'],
      literalValues: true,
    },
    ...CONTAINER_SUBCOMMANDS,
    anywhere: { short: '', values: '' },
  },
  crictl: {
    global: { short: 'cirt', knownShort: 'cirtDhv', long: ['--config', '--image-endpoint', '--runtime-endpoint', '--timeout', '--tracing-endpoint', '--tracing-sampling-rate-per-million'], flags: ['--debug', '--enable-tracing', '--help', '--version'], literalValues: true },
    runs: {
      exec: { short: 'e', long: ['--timeout', '--env', '--label', '--name', '--namespace', '--pod', '--state', '--image', '--transport'], flags: ['--interactive', '--tty', '--sync', '--ignore-errors', '--last', '--latest'], operands: 1, podValues: true, envOptions: ['-e', '--env'] },
    },
    plain: ['stop', 'start', 'rm', 'stopp', 'rmp', 'ps', 'pods', 'inspect', 'inspectp', 'inspecti', 'logs', 'stats', 'statsp', 'info', 'images', 'rmi'],
  },
  'docker-compose': COMPOSE_PROGRAM(['--context', '--host', '--log-level', '--tlscacert', '--tlscert', '--tlskey'], ['--verbose', '--no-ansi', '--tls', '--tlsverify', '--skip-hostname-check', '--version']),
  'podman-compose': COMPOSE_PROGRAM(['--in-pod', '--podman-path', ...PODMAN_COMPOSE_ARGS], ['--no-ansi', '--no-cleanup', '--verbose', '--version'], podmanArguments),
  ctr: {
    global: { short: 'an', knownShort: 'anhv', long: ['--address', '--namespace', '--timeout', '--connect-timeout'], flags: ['--debug', '--help', '--version'], literalValues: true },
    runs: { run: CTR_RUN },
    nested: { task: CTR_TASKS, tasks: CTR_TASKS, t: CTR_TASKS },
    plain: ['version', 'info', 'events', 'plugins', 'images', 'image', 'i'],
  },
  lxc: LXC,
  incus: LXC,
  runc: RUNC,
  crun: RUNC,
};
/** The entry for `key`, never one an object inherits (`constructor`, `toString`). */
const own = <T>(table: Readonly<Record<string, T>> | undefined, key: string): T | undefined => (table && Object.hasOwn(table, key) ? table[key] : undefined);
/**
 * Programs that run a command line given as an option's value, read anywhere before "--"
 * as they read them: `short` letters and `long` names whose value is one (the rest of the
 * cluster or the next argument, `--name=value`), `valueShort` every letter that takes a
 * value. `prefixes`: a long option may be abbreviated (`--use-comp`, as argp reads it);
 * `oldStyle`: a first argument without "-" is letters whose values follow in order
 * (`tar xIf zstd a.tar`).
 */
interface CommandLineOptions {
  short: string;
  long: readonly string[];
  valueShort: string;
  prefixes?: boolean;
  oldStyle?: boolean;
  what: string;
}
const COMMAND_LINE_OPTIONS: Record<string, CommandLineOptions> = {
  // wget -e runs a wgetrc command (output_document=, use_askpass=…); curl -K reads a config file of its options.
  wget: { short: 'e', long: ['--execute'], valueShort: 'eoaiBtOTwQPDIXlARU', prefixes: true, what: 'a wgetrc command wget carries out (output_document= writes any file, use_askpass= runs a program)' },
  curl: { short: 'K', long: ['--config'], valueShort: 'AbcCdDeEFHKmoPQrTtuUwxXyYz', prefixes: true, what: 'a file of curl options curl reads (-o writes any file, --proxy chooses where the credentials go)' },
  rsync: { short: 'e', long: ['--rsh', '--rsync-path'], valueShort: 'eBfTM@', what: 'a command line rsync runs (to reach the remote host, or there to start rsync)' },
  tar: {
    short: 'IF',
    long: ['--use-compress-program', '--to-command', '--checkpoint-action', '--info-script', '--new-volume-script', '--rsh-command', '--rmt-command'],
    valueShort: 'bCfFgHIKLNTVX',
    prefixes: true,
    oldStyle: true,
    what: 'a command line tar runs',
  },
};
/** find runs the program after each of these. */
const FIND_EXEC: ReadonlySet<string> = new Set(['-exec', '-execdir', '-ok', '-okdir']);
/**
 * Options by which a wrapper runs its command through a shell itself: `su -c "…"` and
 * `runuser -c "…"` hand it to the user's shell, `sudo -s` and `sudo -i` to a shell,
 * `doas -s` and `systemd-run -S` to one, and `flock FILE -c "…"` to sh. `short` are
 * those letters in a cluster (`-lc`), read until a letter whose option takes an
 * argument (`withArg`); su, runuser and flock read options anywhere before "--", the
 * others only before their command.
 */
const SHELL_OPTIONS: Record<string, { short: string; long: readonly string[]; withArg: string; anywhere: boolean }> = {
  su: { short: 'c', long: ['--command', '--session-command'], withArg: 'gGsw', anywhere: true },
  runuser: { short: 'c', long: ['--command', '--session-command'], withArg: 'gGsuw', anywhere: true },
  sudo: { short: 'is', long: ['--shell', '--login'], withArg: 'CDghpRrTtUu', anywhere: false },
  doas: { short: 's', long: [], withArg: 'Cu', anywhere: false },
  'systemd-run': { short: 'S', long: ['--shell'], withArg: 'pMHEu', anywhere: false },
  flock: { short: 'c', long: ['--command'], withArg: 'wE', anywhere: true },
};

const programName = (arg: string): string => arg.split('/').pop() ?? arg;
const TAIL = 'rectify runs commands without one, so call the program directly';

type Problem = { index: number; message: string };

/**
 * A shell in an argument list whose program is written out: argv[0] itself, or the
 * program that a program running another (WRAPPER_SPECS, SUBCOMMANDS, find's
 * -exec, ip netns exec) runs, through any chain of them; an option by which one runs its command
 * through a shell (SHELL_OPTIONS); a command line given as an option's value that holds a
 * placeholder (COMMAND_LINE_OPTIONS, git's -c); or a value that could choose that program
 * or its environment.
 */
export function shellIn(argv: readonly Template[]): Problem | undefined {
  const prog = argv[0]!.source;
  if (SHELLS.has(programName(prog))) return { index: 0, message: `${JSON.stringify(prog)} is a shell; ${TAIL}` };
  return wrapped(argv, 0, prog) ?? interpreterIn(argv, 0, programName(prog));
}

const isWrapper = (name: string): boolean =>
  [WRAPPER_SPECS, SUBCOMMANDS, ALWAYS_SHELL, SHELL_OPTIONS, COMMAND_LINE_OPTIONS].some((table) => Object.hasOwn(table, name)) || name === 'find' || name === 'ip' || name === 'git' || Object.hasOwn(OPTION_PROGRAMS, name);

/** The problem with what the program at `at` runs, if it runs another; `top` is argv[0], for messages. */
function wrapped(argv: readonly Template[], at: number, top: string): Problem | undefined {
  const self = argv[at]!.source;
  const name = programName(self);
  const opts = own(SHELL_OPTIONS, name);
  const option = opts ? shellOption(argv, at + 1, opts) : undefined;
  if (option !== undefined) {
    return { index: option, message: `${JSON.stringify(argv[option]!.source)} makes ${JSON.stringify(self)} run its command through a shell; ${TAIL}` };
  }
  const always = own(ALWAYS_SHELL, name);
  if (always) return { index: at, message: `${JSON.stringify(self)} ${always}; ${TAIL}` };
  if (name === 'find') return findExec(argv, at, top);
  if (name === 'ip') return ipExec(argv, at, top);
  if (name === 'git') return gitOptions(argv, at, top);
  const own2 = own(OPTION_PROGRAMS, name);
  if (own2) return own2(argv, at, top);
  const line = own(COMMAND_LINE_OPTIONS, name);
  if (line) return commandLineOption(argv, at, line);
  const sub = own(SUBCOMMANDS, name);
  if (sub) return subcommand(argv, at, at + 1, sub, self, top);
  const spec = own(WRAPPER_SPECS, name);
  return spec ? runs(argv, at, at + 1, spec, top) : undefined;
}

/**
 * The subcommand of the program at `at` (`chain`, as far as read: "docker container"),
 * read from `from` on with `sub`, and what it runs. An option rectify does not know may
 * take the next argument as its value: every reading of where the subcommand is is
 * checked, a reading that finds no subcommand rectify knows last.
 */
function subcommand(argv: readonly Template[], at: number, from: number, sub: Subcommands, chain: string, top: string, outer = sub): Problem | undefined {
  const self = argv[at]!.source;
  const found = readArguments(argv, from, sub.global, self, true);
  if ('problem' in found) return found.problem;
  let unknown: Problem | undefined;
  for (const i of [found.program, ...found.also]) {
    if (typeof i !== 'number') continue;
    const t = argv[i]!;
    if (!isLiteral(t)) return { index: i, message: `the ${JSON.stringify(chain)} subcommand must be written out, not a {placeholder}: an alert must not choose what runs` };
    const word = t.source;
    const spec = own(sub.runs, word);
    const nested = own(sub.nested, word);
    if (nested) {
      const problem = subcommand(argv, at, i + 1, nested, `${chain} ${word}`, top, outer);
      if (problem) return problem;
      continue;
    }
    if (outer.anywhere) {
      // The global options stand before the program a subcommand runs, not among its arguments.
      const ran = spec ? readArguments(argv, i + 1, spec, self, false) : undefined;
      const programs = ran && !('problem' in ran) ? [ran.program, ...ran.also].filter((p) => typeof p === 'number') : [];
      const until = programs.length > 0 ? Math.max(...programs) : argv.length;
      const after = globalAfter(argv, i + 1, until, outer.global, { short: outer.anywhere.short, values: outer.anywhere.values + (spec?.short ?? '') }, self);
      if (after) return after;
    }
    const problem = spec ? runs(argv, at, i + 1, spec, top) : undefined;
    if (problem) return problem;
    const restricted = own(sub.restricted, word);
    if (restricted) {
      const refused = restrictedArguments(argv, i, `${chain} ${word}`, restricted);
      if (refused) return refused;
      continue;
    }
    if (!spec && !nested && !sub.plain.includes(word)) unknown ??= unknownSubcommand(argv, i, `${chain} ${word}`, sub);
  }
  return unknown;
}

/** After a subcommand rectify does not know (`kubectl cp`, a plugin), the first argument that is a placeholder or a shell. */
function unknownSubcommand(argv: readonly Template[], at: number, chain: string, sub: Subcommands): Problem | undefined {
  const known = [...Object.keys(sub.runs), ...sub.plain, ...Object.keys(sub.restricted ?? {}), ...Object.keys(sub.nested ?? {})].join(', ');
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i]!;
    const shell = isLiteral(t) && SHELLS.has(programName(t.source.trim().split(/\s+/)[0] ?? ''));
    if (!isLiteral(t) || shell) {
      const what = shell ? `${JSON.stringify(t.source)} is a shell` : 'a {placeholder} cannot stand here';
      return {
        index: i,
        message: `${what}: rectify does not know what ${JSON.stringify(chain)} runs, so no argument after it may be a {placeholder} or a shell (an alert must not choose what runs); write it in the runbook, or use a subcommand it knows (${known})`,
      };
    }
  }
  return undefined;
}

/**
 * The arguments after a restricted subcommand (`chain`, at `at`): the first placeholder
 * in an option's value, but those `r.values` names, or after "--", or in an operand
 * `r.operand` refuses. An argument after an option written alone (`-p`, `--type`) is
 * read as its value.
 */
function restrictedArguments(argv: readonly Template[], at: number, chain: string, r: Restricted): Problem | undefined {
  const tail = `an alert must not choose what runs or what code goes in; write it in the runbook (a {placeholder} may stand only in ${r.where}${r.values.length > 0 ? `, or in ${r.values.join(', ')}` : ''})`;
  const option = (index: number, name: string): Problem => ({
    index,
    message: `the value of ${name} after ${JSON.stringify(chain)} must be written out, not hold a {placeholder}: it can decide what the object becomes; ${tail}`,
  });
  const path = (index: number, name: string, before: string): Problem | undefined =>
    r.paths?.includes(name) && !before.includes('/')
      ? {
          index,
          message: `the value of ${name} after ${JSON.stringify(chain)} must name its directory before any {placeholder} ("/srv/manifests/{deployment}.yaml"): the file decides what runs, and a value there alone could name any file on the host; write the directory in the runbook`,
        }
      : undefined;
  // Any written argument that is such a word, an option's value or not (`create -n prod token`): fail safe.
  const first = argv.findIndex((a, k) => k > at && isLiteral(a) && (r.credentials ?? []).includes(a.source));
  if (first > 0) {
    const value = argv.findIndex((a, k) => k > first && !isLiteral(a));
    if (value > 0) {
      const made = `${chain} ${argv[first]!.source}`;
      return { index: value, message: `${JSON.stringify(made)} hands out a credential, so no argument after it may be a {placeholder}: an alert must not choose whose credential is made; write it in the runbook` };
    }
  }
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i]!;
    if (isLiteral(t)) {
      if (t.source !== '--') continue;
      const after = argv.findIndex((a, k) => k > i && !isLiteral(a));
      if (after < 0) return undefined;
      return { index: after, message: `the command after "--" in ${JSON.stringify(chain)} runs in the cluster, so it must be written out, not hold a {placeholder}: ${tail}` };
    }
    const head = textBeforeValue(t);
    if (head.startsWith('-')) {
      const name = head.startsWith('--') ? head.slice(0, head.includes('=') ? head.indexOf('=') : undefined) : head.slice(0, 2);
      if (head.startsWith('--') && !head.includes('=')) return option(i, `${head}…`);
      if (!r.values.includes(name)) return option(i, name);
      const unnamed = path(i, name, head.slice(name.length));
      if (unnamed) return unnamed;
      continue;
    }
    const prev = argv[i - 1]!;
    if (i - 1 > at && isLiteral(prev) && /^-[^=]+$/.test(prev.source) && prev.source !== '--') {
      const name = prev.source.startsWith('--') ? prev.source : `-${prev.source.slice(-1)}`;
      if (!r.values.includes(name)) return option(i, name);
      const unnamed = path(i, name, head);
      if (unnamed) return unnamed;
      continue;
    }
    const why = r.operand?.(t);
    if (why) return { index: i, message: `a {placeholder} cannot stand in ${why} after ${JSON.stringify(chain)}: a value there could set an image or an environment variable (LD_PRELOAD=…); ${tail}` };
  }
  return undefined;
}

/**
 * A global option after the subcommand (`kubectl get pods --server {srv}`, `-s{srv}`)
 * whose value holds a placeholder, or an option a value could spell (`--{x}`, `-{x}`, a
 * value after letters that take none): read as before the subcommand.
 */
function globalAfter(argv: readonly Template[], from: number, until: number, global: WrapperSpec, anywhere: NonNullable<Subcommands['anywhere']>, by: string): Problem | undefined {
  const refuse = (index: number, option: string): Problem => {
    const only = global.optionValues ? ` (only ${global.optionValues.join(' or ')} may take one)` : '';
    return {
      index,
      message: `${JSON.stringify(by)}'s option ${option} must be written out wherever it stands, not take a {placeholder}${only}: an alert must not choose the server, context, credentials or identity ${JSON.stringify(by)} acts with; write it in the runbook`,
    };
  };
  const written = (index: number): Problem => ({
    index,
    message: `${JSON.stringify(by)}'s options must be written out wherever they stand: a value there could be read as an option, and choose the server, context, credentials or identity ${JSON.stringify(by)} acts with; write it in the runbook`,
  });
  for (let i = from; i < until; i++) {
    const t = argv[i]!;
    const head = textBeforeValue(t);
    if (t.source === '--' && isLiteral(t)) return undefined;
    if (!head.startsWith('-') || t.source === '-') continue;
    const joined = !isLiteral(t);
    if (head.startsWith('--')) {
      const inline = head.includes('=');
      if (joined && !inline) return written(i);
      const option = inline ? head.slice(0, head.indexOf('=')) : t.source;
      if (!global.long?.includes(option) || global.optionValues?.includes(option)) continue;
      const at = inline ? i : i + 1;
      const value = argv[at];
      if (value && !isLiteral(value)) return refuse(at, option);
      continue;
    }
    // Short letters, as kubectl reads them: flags until one that takes a value, which is
    // the rest of the argument (`-s{x}`, `-s={x}`, `-ws{x}`) or, last, the next one.
    const cluster = clusterOf(t, (letter) => anywhere.short.includes(letter) || anywhere.values.includes(letter), true);
    const v = cluster.value;
    if (v && anywhere.short.includes(v.letter) && !global.optionValues?.includes(`-${v.letter}`)) {
      if (joined) return refuse(i, `-${v.letter}`);
      const value = argv[i + 1];
      if (v.last && value && !isLiteral(value)) return refuse(i + 1, `-${v.letter}`);
    }
    if (v?.last) i++;
    if (joined && !cluster.taken) return written(i);
  }
  return undefined;
}

/** The problem with the program that the wrapper at `at` runs, reading its arguments from `from` with `spec`. */
function runs(argv: readonly Template[], at: number, from: number, spec: WrapperSpec, top: string): Problem | undefined {
  const self = argv[at]!.source;
  const found = readArguments(argv, from, spec, self, false);
  if ('problem' in found) return found.problem;
  if (found.program === undefined && spec.shellWithout) {
    const message = spec.remote
      ? `${JSON.stringify(self)} with no command after the host runs a login shell there; name the program to run on the remote host`
      : `${JSON.stringify(self)} runs a shell when no program follows it; ${TAIL}`;
    return { index: at, message };
  }
  if (found.entrypoint) return entrypointRuns(argv, found.entrypoint, [found.program, ...found.also], self, top);
  for (const i of found.also) {
    const problem = program(argv, i, self, top);
    if (problem) return problem;
  }
  return typeof found.program === 'number' ? program(argv, found.program, self, top) : undefined;
}

/**
 * docker run's (and compose run's) --entrypoint is the program, and the arguments after
 * the image (at each of `starts`, one a reading) are its arguments: the program the
 * entrypoint runs in turn, if it runs one (`--entrypoint timeout`), or the commands a
 * shell-like one hands to a shell (`--entrypoint parallel`), are read as they would be
 * on the command line, `[ENTRYPOINT, ARGS…]`.
 */
function entrypointRuns(argv: readonly Template[], entry: Entrypoint, starts: readonly (number | 'split' | undefined)[], by: string, top: string): Problem | undefined {
  for (const start of starts) {
    const from = typeof start === 'number' ? start : argv.length;
    const line = [entry.program, ...argv.slice(from)];
    const problem = program(line, 0, by, top);
    if (problem) return { ...problem, index: problem.index === 0 ? entry.index : from + problem.index - 1 };
  }
  return undefined;
}

const isRemote = (by: string): boolean => WRAPPER_SPECS[programName(by)]?.remote === true;
const REMOTE_TAIL = 'name the program to run on the remote host directly';

/** The program at `i`, run by `by`: written out, not a shell, and read in turn if it runs another. */
function program(argv: readonly Template[], i: number, by: string, top: string): Problem | undefined {
  const t = argv[i]!;
  if (!isLiteral(t)) {
    if (isRemote(by)) {
      return { index: i, message: `the command ${JSON.stringify(by)} runs on the remote host must be written out, not a {placeholder}: the remote user's shell reads it, and an alert must not choose what runs` };
    }
    const env = WRAPPER_SPECS[programName(by)]?.assignments ? ` nor, as "NAME=value", its environment` : '';
    return { index: i, message: `the program ${JSON.stringify(by)} runs must be written out, not a {placeholder}: an alert must not choose what runs${env}` };
  }
  // The first word as written (`env -S "sh -c …"`).
  const name = programName(t.source.trim().split(/\s+/)[0] ?? '');
  if (SHELLS.has(name)) {
    if (isRemote(by)) return { index: i, message: `${JSON.stringify(t.source)} is a shell, which ${JSON.stringify(by)} would run on the remote host; ${REMOTE_TAIL}` };
    return { index: i, message: `${JSON.stringify(t.source)} is a shell, which ${JSON.stringify(top)} would run; ${TAIL}` };
  }
  return isWrapper(name) ? wrapped(argv, i, top) : interpreted(argv, i, name);
}

/** An interpreter's arguments (interpreters.ts), also when env -S names it with some of them (`env -S "perl -e" "{x}"`). */
function interpreted(argv: readonly Template[], i: number, name: string): Problem | undefined {
  const words = argv[i]!.source.trim().split(/\s+/);
  if (words.length === 1) return interpreterIn(argv, i, name);
  const line = [...words.map((w): Template => ({ source: w, parts: [w] })), ...argv.slice(i + 1)];
  const problem = interpreterIn(line, 0, name);
  return problem && { ...problem, index: problem.index < words.length ? i : i + problem.index - words.length + 1 };
}

/** find's -exec, -execdir, -ok and -okdir: the argument after each is a program. */
function findExec(argv: readonly Template[], at: number, top: string): Problem | undefined {
  for (let i = at + 1; i + 1 < argv.length; i++) {
    if (!isLiteral(argv[i]!) || !FIND_EXEC.has(argv[i]!.source)) continue;
    const problem = program(argv, i + 1, argv[at]!.source, top);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * rsync's -e (--rsh) and --rsync-path, tar's -I (--use-compress-program), --to-command,
 * --checkpoint-action, -F…: their value is a command line, which may not hold a
 * placeholder; nor may a value stand where it could spell such an option (`"-{x}"`,
 * `"--{x}"`, after letters that take no value), nor, for tar, in the old-style letters.
 */
function commandLineOption(argv: readonly Template[], at: number, spec: CommandLineOptions, self = argv[at]!.source): Problem | undefined {
  const refuse = (index: number, option: string): Problem => ({
    index,
    message: `${JSON.stringify(self)}'s ${option} is ${spec.what}, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`,
  });
  const spelt = (index: number): Problem => ({
    index,
    message: `${JSON.stringify(self)}'s options must be written out: a value there could be read as an option that runs a command; write it in the runbook`,
  });
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i]!;
    const literal = isLiteral(t);
    const head = textBeforeValue(t);
    if (literal && t.source === '--') return undefined;
    if (spec.oldStyle && i === at + 1 && !head.startsWith('-')) {
      if (!literal) return { index: i, message: `${JSON.stringify(self)} reads a first argument without "-" as option letters, so it must be written out, not hold a {placeholder}; write it in the runbook` };
      let next = i + 1;
      for (const letter of t.source) {
        if (!spec.valueShort.includes(letter)) continue;
        const value = argv[next];
        if (spec.short.includes(letter) && value && !isLiteral(value)) return refuse(next, `-${letter}`);
        next++;
      }
      i = next - 1;
      continue;
    }
    if (!head.startsWith('-') || t.source === '-') continue;
    if (head.startsWith('--')) {
      const inline = head.includes('=');
      if (!literal && !inline) return spelt(i);
      const name = inline ? head.slice(0, head.indexOf('=')) : t.source;
      const option = spec.long.find((l) => l === name || (spec.prefixes && name.length > 2 && l.startsWith(name)));
      if (!option) continue;
      if (inline ? !literal : argv[i + 1] && !isLiteral(argv[i + 1]!)) return refuse(inline ? i : i + 1, option);
      continue;
    }
    const cluster = clusterOf(t, (letter) => spec.valueShort.includes(letter));
    const v = cluster.value;
    if (v && spec.short.includes(v.letter)) {
      if (!literal) return refuse(i, `-${v.letter}`);
      if (v.last && argv[i + 1] && !isLiteral(argv[i + 1]!)) return refuse(i + 1, `-${v.letter}`);
    }
    if (v?.last) i++;
    if (!literal && !cluster.taken) return spelt(i);
  }
  return undefined;
}


/** An option as a program that reads its options as getopt_long does names it, and the arguments that are its values. */
interface PlainOption {
  name: string;
  index: number;
  values: { index: number; t: Template }[];
}
/**
 * The options from `from` on, up to the first operand or "--" (`program`, its index, or
 * the one after "--"), read with `arity` (how many arguments an option takes: 0 for a
 * flag; `--name=value` takes its own). A value that stands where an option could be
 * spelt (`{x}`, `-{x}`, `--{x}`) is refused, since it could be the program or an option
 * that chooses it.
 */
function plainOptions(argv: readonly Template[], from: number, arity: (name: string) => number, by: string): { options: PlainOption[]; program: number | undefined; dashDash: boolean } | { problem: Problem } {
  const options: PlainOption[] = [];
  for (let i = from; i < argv.length; i++) {
    const t = argv[i]!;
    const head = textBeforeValue(t);
    if (isLiteral(t) && t.source === '--') return { options, program: i + 1 < argv.length ? i + 1 : undefined, dashDash: true };
    if (!head.startsWith('-') || t.source === '-') {
      if (!isLiteral(t)) return { problem: { index: i, message: `a {placeholder} alone cannot stand before the program ${JSON.stringify(by)} runs: a value there could be the program, or an option that chooses it; write it in the runbook, or after the program` } };
      return { options, program: i, dashDash: false };
    }
    if (head.startsWith('--')) {
      const eq = head.indexOf('=');
      if (eq > 0) {
        options.push({ name: head.slice(0, eq), index: i, values: [{ index: i, t: tailOf(t, eq + 1) }] });
        continue;
      }
      if (!isLiteral(t)) return { problem: { index: i, message: `${JSON.stringify(by)}'s options must be written out: a value there could choose what it runs; write it in the runbook` } };
      const n = arity(t.source);
      options.push({ name: t.source, index: i, values: argv.slice(i + 1, i + 1 + n).map((v, k) => ({ index: i + 1 + k, t: v })) });
      i += n;
      continue;
    }
    const cluster = clusterOf(t, (letter) => arity(`-${letter}`) > 0);
    for (const { letter } of cluster.flags) options.push({ name: `-${letter}`, index: i, values: [] });
    const v = cluster.value;
    if (v) {
      const n = arity(`-${v.letter}`);
      if (v.last) {
        options.push({ name: `-${v.letter}`, index: i, values: argv.slice(i + 1, i + 1 + n).map((a, k) => ({ index: i + 1 + k, t: a })) });
        i += n;
      } else options.push({ name: `-${v.letter}`, index: i, values: [{ index: i, t: joinedValue(t, v.k) }] });
    } else if (!isLiteral(t)) return { problem: { index: i, message: `${JSON.stringify(by)}'s options must be written out: a value there could choose what it runs; write it in the runbook` } };
  }
  return { options, program: undefined, dashDash: false };
}
/** The first value in `options` that holds a {placeholder}, but those of `free`. */
function placeholderValue(options: readonly PlainOption[], free: readonly string[], by: string, why: string): Problem | undefined {
  for (const o of options) {
    if (free.includes(o.name)) continue;
    const v = o.values.find((x) => !isLiteral(x.t));
    if (v) return { index: v.index, message: `${JSON.stringify(by)}'s ${o.name} ${why}, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook` };
  }
  return undefined;
}
/** NAME and VALUE given as two arguments (bwrap --setenv, tmux set-environment), read as one `NAME=VALUE`. */
function assignmentOf(name: Template, value: Template): Template {
  const parts: Template['parts'][number][] = [];
  for (const part of [...name.parts, '=', ...value.parts]) {
    const last = parts[parts.length - 1];
    if (typeof part === 'string' && typeof last === 'string') parts[parts.length - 1] = last + part;
    else parts.push(part);
  }
  return { source: `${name.source}=${value.source}`, parts };
}
/** The program `line[0]` (written at `index` in argv) with its arguments from `from` on, read as program() reads one. */
function programLine(argv: readonly Template[], first: Template, index: number, from: number, by: string, top: string): Problem | undefined {
  const line = [first, ...argv.slice(from)];
  const problem = program(line, 0, by, top);
  return problem ? { ...problem, index: problem.index === 0 ? index : from + problem.index - 1 } : undefined;
}

// start-stop-daemon's options with a value; --exec and --startas name the program, the arguments after "--" are its.
const SSD_VALUES = new Set([
  '-x', '-a', '-p', '-n', '-u', '-c', '-g', '-r', '-d', '-N', '-P', '-I', '-k', '-R', '-s', '-O',
  '--exec', '--startas', '--pidfile', '--name', '--user', '--chuid', '--group', '--chroot', '--chdir', '--nicelevel', '--procsched', '--iosched', '--umask', '--retry',
  '--signal', '--output', '--ppid', '--notify-timeout',
]);
// bwrap's options with one value, and those with two (SRC DEST, VAR VALUE); --setenv's pair is an assignment.
const BWRAP_ONE = ['--args', '--argv0', '--userns', '--userns2', '--pidns', '--uid', '--gid', '--hostname', '--chdir', '--unsetenv', '--lock-file', '--sync-fd', '--remount-ro', '--exec-label', '--file-label', '--proc', '--dev', '--tmpfs', '--mqueue', '--dir', '--seccomp', '--add-seccomp-fd', '--block-fd', '--userns-block-fd', '--info-fd', '--json-status-fd', '--cap-add', '--cap-drop', '--perms', '--size', '--overlay-src', '--tmp-overlay', '--ro-overlay'];
const BWRAP_TWO = ['--bind', '--bind-try', '--dev-bind', '--dev-bind-try', '--ro-bind', '--ro-bind-try', '--bind-fd', '--ro-bind-fd', '--file', '--bind-data', '--ro-bind-data', '--symlink', '--chmod', '--setenv', '--overlay'];
// The programs k3s, microk8s and minikube hand their arguments to.
const PASSED_ON = ['kubectl', 'crictl', 'ctr'];

/** Programs whose options name what they run, read by a function of their own. */
const OPTION_PROGRAMS: Readonly<Record<string, (argv: readonly Template[], at: number, top: string) => Problem | undefined>> = {
  // capsh hands the arguments after "--" (or "==", itself again) to bash, or to --shell's program.
  capsh: (argv, at) => {
    const self = argv[at]!.source;
    for (let i = at + 1; i < argv.length; i++) {
      const t = argv[i]!;
      if (!isLiteral(t)) return { index: i, message: `${JSON.stringify(self)}'s arguments must be written out, not hold a {placeholder}: a value there could be "--", after which capsh hands the rest to a shell; write it in the runbook` };
      if (t.source === '--' || t.source === '==' || t.source.startsWith('--shell')) return { index: i, message: `${JSON.stringify(`${self} ${t.source}`)} hands what follows to a shell; ${TAIL}` };
    }
    return undefined;
  },
  'start-stop-daemon': (argv, at, top) => {
    const self = argv[at]!.source;
    const read = plainOptions(argv, at + 1, (name) => (SSD_VALUES.has(name) ? 1 : 0), self);
    if ('problem' in read) return read.problem;
    const refused = placeholderValue(read.options, ['-p', '--pidfile', '-n', '--name', '--ppid'], self, 'chooses what runs, as whom or where');
    if (refused) return refused;
    const named = [...read.options].reverse().find((o) => ['-a', '--startas'].includes(o.name)) ?? [...read.options].reverse().find((o) => ['-x', '--exec'].includes(o.name));
    const value = named?.values[0];
    if (!value) return undefined;
    return programLine(argv, value.t, value.index, read.dashDash && read.program !== undefined ? read.program : argv.length, self, top);
  },
  // runcon CONTEXT PROGRAM, or runcon [-u USER] [-r ROLE] [-t TYPE] [-l RANGE] PROGRAM: both readings.
  runcon: (argv, at, top) => {
    const spec: WrapperSpec = { short: 'urtl', knownShort: 'curtlh', long: ['--user', '--role', '--type', '--range'], flags: ['--compute', '--help', '--version'] };
    return runs(argv, at, at + 1, spec, top) ?? runs(argv, at, at + 1, { ...spec, operands: 1 }, top);
  },
  bwrap: (argv, at, top) => {
    const self = argv[at]!.source;
    const read = plainOptions(argv, at + 1, (name) => (BWRAP_TWO.includes(name) ? 2 : BWRAP_ONE.includes(name) ? 1 : 0), self);
    if ('problem' in read) return read.problem;
    for (const o of read.options) {
      if (o.name === '--setenv' && o.values.length === 2) {
        const [name, value] = o.values as [{ index: number; t: Template }, { index: number; t: Template }];
        const joined = assignmentOf(name.t, value.t);
        const problem = !isLiteral(name.t) ? assignmentProblem({ source: name.t.source, parts: name.t.parts }, `--setenv ${JSON.stringify(name.t.source)}`, self) : assignmentProblem(joined, `--setenv ${JSON.stringify(joined.source)}`, self);
        if (problem) return { index: isLiteral(name.t) ? value.index : name.index, message: problem };
      } else if (['--args', '--seccomp', '--add-seccomp-fd', '--exec-label', '--userns', '--userns2', '--pidns', '--block-fd', '--userns-block-fd', '--sync-fd', '--info-fd', '--json-status-fd', '--bind-fd', '--ro-bind-fd', '--file', '--bind-data', '--ro-bind-data', '--argv0', '--cap-add'].includes(o.name)) {
        const v = o.values.find((x) => !isLiteral(x.t));
        if (v) return { index: v.index, message: `${JSON.stringify(self)}'s ${o.name} reads a file or descriptor, or sets what the program runs with, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook` };
      }
    }
    if (read.program === undefined) return undefined;
    return program(argv, read.program, self, top);
  },
  // k3s kubectl …, microk8s kubectl …: the program named runs with the arguments after it.
  k3s: passedOn,
  microk8s: passedOn,
  minikube: passedOn,
  tmux: tmuxCommands,
  systemctl: managerEnvironment,
  initctl: managerEnvironment,
  scp: (argv, at) => sshCopy(argv, at, 'scp'),
  sftp: (argv, at) => sshCopy(argv, at, 'sftp'),
};
function passedOn(argv: readonly Template[], at: number, top: string): Problem | undefined {
  const self = argv[at]!.source;
  const t = argv[at + 1];
  if (!t) return undefined;
  if (!isLiteral(t)) return { index: at + 1, message: `the ${JSON.stringify(self)} subcommand must be written out, not a {placeholder}: it names the program ${JSON.stringify(self)} runs (kubectl, crictl, ctr), and an alert must not choose what runs` };
  if (!PASSED_ON.includes(t.source)) return undefined;
  // minikube kubectl -- ARGS: what follows "--" is kubectl's.
  const from = isLiteral(argv[at + 2] ?? t) && argv[at + 2]?.source === '--' ? at + 3 : at + 2;
  return subcommand(argv, at + 1, from, SUBCOMMANDS[t.source]!, `${self} ${t.source}`, top);
}

// systemctl's options that take a value (the rest are flags): the verb is the first other argument.
const SYSTEMCTL_VALUES = ['-t', '--type', '-s', '--signal', '-p', '--property', '-H', '--host', '-M', '--machine', '-n', '--lines', '-o', '--output', '--state', '--kill-whom', '--root', '--image', '--job-mode', '--what', '--when', '--message', '--timestamp', '--preset-mode', '--boot-loader-entry', '--boot-loader-menu', '--reboot-argument', '--drop-in', '--kill-value', '--check-inhibitors'];
/** The index of systemctl's (or initctl's) verb: its first argument that is no option nor an option's value. */
function verbOf(argv: readonly Template[], at: number): number | undefined {
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i]!;
    const head = textBeforeValue(t);
    if (!head.startsWith('-')) return i;
    if (isLiteral(t) && SYSTEMCTL_VALUES.includes(t.source)) i++;
  }
  return undefined;
}
/**
 * `systemctl set-environment NAME=VALUE…` and `initctl set-env NAME=VALUE` set a variable
 * for every unit or job the manager starts after (as root): read as env's assignments
 * are (environment-names.ts). `systemctl import-environment NAME…` copies rectify's own
 * variables (command_env's among them) into it: its names are written out.
 */
function managerEnvironment(argv: readonly Template[], at: number): Problem | undefined {
  const self = argv[at]!.source;
  const verb = verbOf(argv, at);
  if (verb === undefined) return undefined;
  const word = argv[verb]!;
  if (!isLiteral(word)) return undefined;
  const sets = ['set-environment', 'set-env'].includes(word.source);
  const imports = word.source === 'import-environment';
  if (!sets && !imports) return undefined;
  for (let i = verb + 1; i < argv.length; i++) {
    const t = argv[i]!;
    if (isLiteral(t) || textBeforeValue(t).startsWith('-')) continue;
    if (imports) {
      return { index: i, message: `${JSON.stringify(`${self} import-environment`)} copies variables of rectify's own environment (command_env's among them) into the service manager's, so their names must be written out, not hold a {placeholder}; write them in the runbook` };
    }
    const problem = assignmentProblem(t, `${word.source} ${JSON.stringify(t.source)}`, `${self} (every unit it starts after)`);
    if (problem) return { index: i, message: problem };
  }
  return undefined;
}

// tmux's commands that hand a command line to a shell (new-session's, split-window's…, run-shell's, if-shell's), or that set the environment of those.
const TMUX_SHELL = new Set([
  'new-session', 'new', 'new-window', 'neww', 'split-window', 'splitw', 'respawn-pane', 'respawnp', 'respawn-window', 'respawnw', 'run-shell', 'run', 'if-shell', 'if',
  'display-popup', 'popup', 'pipe-pane', 'pipep', 'send-keys', 'send', 'source-file', 'source', 'set-hook', 'bind-key', 'bind', 'command-prompt', 'confirm-before', 'confirm',
  'display-menu', 'menu',
]);
const TMUX_ENV = new Set(['set-environment', 'setenv']);
/**
 * tmux's commands (several, separated by ";"): the command name is written out; in one
 * that hands a command line to a shell (TMUX_SHELL), or keys to one, no argument may
 * hold a placeholder; set-environment's NAME VALUE is read as an assignment.
 */
function tmuxCommands(argv: readonly Template[], at: number): Problem | undefined {
  const self = argv[at]!.source;
  let command: string | undefined;
  let args: Template[] = [];
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i]!;
    if (isLiteral(t) && (t.source === ';' || t.source === '\\;')) {
      command = undefined;
      continue;
    }
    if (command === undefined) {
      const head = textBeforeValue(t);
      if (isLiteral(t) && head.startsWith('-')) {
        // tmux's own options: -L, -S, -f, -c, -T take a value; -f is a configuration file, -c a shell command.
        if (/^-[A-Za-z]*[cfLST]$/.test(t.source)) {
          const v = argv[i + 1];
          if (v && !isLiteral(v)) return { index: i + 1, message: `${JSON.stringify(self)}'s own options must be written out, not hold a {placeholder}: -c is a shell command, -f a configuration file, -L and -S the server; write it in the runbook` };
          i++;
        }
        continue;
      }
      if (!isLiteral(t) || head.startsWith('-')) return { index: i, message: `${JSON.stringify(self)}'s options and command names must be written out, not hold a {placeholder}: an alert must not choose what tmux runs; write it in the runbook` };
      command = t.source;
      args = [];
      continue;
    }
    args.push(t);
    if (TMUX_SHELL.has(command) && !isLiteral(t)) {
      return { index: i, message: `${JSON.stringify(`${self} ${command}`)} hands a command line to a shell (or keys to one), so its arguments must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook` };
    }
    if (TMUX_ENV.has(command)) {
      // set-environment [-Fhgru] [-t TARGET] NAME [VALUE]
      const operands = args.filter((a, k) => !(isLiteral(a) && a.source.startsWith('-')) && !(k > 0 && isLiteral(args[k - 1]!) && /t$/.test(args[k - 1]!.source) && args[k - 1]!.source.startsWith('-')));
      if (operands.length === 1 && !isLiteral(t) && operands[0] === t) {
        const problem = assignmentProblem({ source: t.source, parts: t.parts }, `${command} ${JSON.stringify(t.source)}`, self);
        if (problem) return { index: i, message: problem };
      }
      if (operands.length === 2 && operands[1] === t && !isLiteral(t)) {
        const name = operands[0]!;
        const joined = assignmentOf(name, t);
        const problem = assignmentProblem(joined, `${command} ${JSON.stringify(joined.source)}`, self);
        if (problem) return { index: i, message: problem };
      }
    }
  }
  return undefined;
}

// scp's and sftp's letters that take a value; those whose value is a program they run
// (-S the ssh program, -D the sftp server, sftp's -s the remote one) or a file of
// commands (sftp's -b, whose "!" lines a shell runs; -F's ssh configuration, whose
// ProxyCommand runs).
const SSH_COPY: Readonly<Record<'scp' | 'sftp', { values: string; runs: Readonly<Record<string, string>> }>> = {
  scp: { values: 'cDFiJloPSX', runs: { S: 'the program scp runs to connect (ssh in its place)', D: 'the sftp server program scp runs', F: 'the ssh configuration file, whose ProxyCommand runs' } },
  sftp: {
    values: 'BbcDFiJloPRSsX',
    runs: { S: 'the program sftp runs to connect (ssh in its place)', D: 'the sftp server program sftp runs', s: 'the subsystem or server program sftp runs on the remote host', b: 'a batch file of sftp commands, whose "!" lines a shell runs', F: 'the ssh configuration file, whose ProxyCommand runs' },
  },
};
/** scp's and sftp's options, read anywhere before "--" as they read them: ssh's -o (sshOption), and the options whose value is a program. */
function sshCopy(argv: readonly Template[], at: number, which: 'scp' | 'sftp'): Problem | undefined {
  const self = argv[at]!.source;
  const { values, runs: chosen } = SSH_COPY[which];
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i]!;
    if (isLiteral(t) && t.source === '--') return undefined;
    const head = textBeforeValue(t);
    if (!head.startsWith('-') || t.source === '-') continue;
    const cluster = clusterOf(t, (letter) => values.includes(letter));
    const v = cluster.value;
    if (!v) {
      if (!isLiteral(t)) return { index: i, message: `${JSON.stringify(self)}'s options must be written out: a value there could be read as an option that chooses what runs; write it in the runbook` };
      continue;
    }
    const index = v.last ? i + 1 : i;
    const value = v.last ? argv[i + 1] : joinedValue(t, v.k);
    if (v.last) i++;
    if (!value || isLiteral(value)) continue;
    const option = `-${v.letter}`;
    const ssh = sshOption(option, value);
    if (ssh) return { index, message: ssh.replace("ssh's -o", `${which}'s -o`) };
    const what = chosen[v.letter];
    if (what) return { index, message: `${JSON.stringify(self)}'s ${option} is ${what}, so its value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook` };
  }
  return undefined;
}

// git's options that choose the repository (its configuration, whose core.fsmonitor,
// core.pager… run commands, and its hooks) or the work tree (whose .gitattributes choose
// the configured filters a checkout runs): the runbook writes the directory.
const GIT_REPOSITORY = ['-C', '--git-dir', '--work-tree'];
/**
 * git's options before its subcommand: `-c NAME=VALUE` and `--config-env` set a
 * configuration variable, and several run a command (core.sshCommand, core.pager,
 * core.editor, core.fsmonitor, alias.*), and `--exec-path=` is where git finds the
 * programs its subcommands are: none may hold a placeholder, nor may a value stand where
 * it could spell an option; `-C`, `--git-dir` and `--work-tree` name a directory the
 * runbook writes before any placeholder; the subcommand (git-NAME, or an alias) is
 * written out, and read in turn (gitSubcommand).
 */
function gitOptions(argv: readonly Template[], at: number, top: string): Problem | undefined {
  const self = argv[at]!.source;
  const repository = (index: number, option: string, value: Template | undefined): Problem | undefined =>
    value && !isLiteral(value) && !(textBeforeValue(value).lastIndexOf('/') > 0)
      ? {
          index,
          message: `${JSON.stringify(self)}'s ${option} chooses the repository or work tree, whose configuration, hooks and attributes can run commands (core.fsmonitor, core.pager, hooks, filters…), so its value must name a directory the runbook writes before any {placeholder} ("/srv/app/{svc}"): a value there alone could name any repository on the host; write the directory in the runbook`,
        }
      : undefined;
  const config = (index: number, option: string): Problem => ({
    index,
    message: `${JSON.stringify(self)}'s ${option} sets a configuration variable, and some run a command (core.sshCommand, core.pager, core.editor, alias.*…), so its name and value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`,
  });
  for (let i = at + 1; i < argv.length; i++) {
    const t = argv[i]!;
    const literal = isLiteral(t);
    const head = textBeforeValue(t);
    if (!head.startsWith('-')) {
      if (literal) return gitSubcommand(argv, at, i, top);
      return { index: i, message: `the ${JSON.stringify(self)} subcommand must be written out, not hold a {placeholder}: git runs git-NAME or an alias by that name, so an alert must not choose what runs` };
    }
    const name = head.includes('=') ? head.slice(0, head.indexOf('=')) : t.source;
    if (GIT_REPOSITORY.includes(name) && head.includes('=')) {
      const problem = repository(i, name, tailOf(t, name.length + 1));
      if (problem) return problem;
      continue;
    }
    if (GIT_REPOSITORY.includes(t.source)) {
      const problem = repository(i + 1, t.source, argv[i + 1]);
      if (problem) return problem;
      i++;
      continue;
    }
    if (t.source === '-c' || t.source === '--config-env') {
      const value = argv[i + 1];
      if (value && !isLiteral(value)) return config(i + 1, t.source);
      i++;
      continue;
    }
    if (name === '--config-env' && !literal) return config(i, name);
    if (name === '--exec-path' && !literal) {
      return { index: i, message: `${JSON.stringify(self)}'s --exec-path is where git finds the programs it runs, so it must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook` };
    }
    if (!literal && !head.includes('=')) {
      return { index: i, message: `${JSON.stringify(self)}'s options before its subcommand must be written out: a value there could be read as an option (-c, --exec-path) that chooses what runs; write it in the runbook` };
    }
    // Options that take the next argument as their value.
    if (['--namespace', '--super-prefix', '--attr-source'].includes(t.source)) i++;
  }
  return undefined;
}

// The program git runs on the remote side (over ssh, or locally) to serve a fetch or take
// a push: a command line, which the remote user's shell reads.
const UPLOAD_PACK = 'the program git runs (on the remote host, through its shell) to serve the fetch';
/**
 * git's subcommands whose options name a command line git runs, read as rsync's -e is
 * (COMMAND_LINE_OPTIONS): `short` letters and `long` names whose value is one,
 * `valueShort` the letters known to take a value; git reads an abbreviated long option
 * (`--upload=`) as the whole one.
 */
const GIT_COMMAND_LINES: Readonly<Record<string, CommandLineOptions>> = {
  clone: {
    short: 'uc',
    long: ['--upload-pack', '--config', '--template'],
    valueShort: 'obucj',
    prefixes: true,
    what: 'a program git runs (-u, --upload-pack: on the remote host, through its shell), or configuration or hooks that run commands as the clone is made (-c, --config, --template)',
  },
  fetch: { short: '', long: ['--upload-pack'], valueShort: 'jo', prefixes: true, what: UPLOAD_PACK },
  pull: { short: '', long: ['--upload-pack'], valueShort: 'sXjo', prefixes: true, what: UPLOAD_PACK },
  'ls-remote': { short: '', long: ['--upload-pack', '--exec'], valueShort: 'o', prefixes: true, what: UPLOAD_PACK },
  archive: { short: '', long: ['--exec'], valueShort: 'o', prefixes: true, what: 'the program git runs (on the remote host, through its shell) to serve the archive' },
  push: { short: '', long: ['--receive-pack', '--exec'], valueShort: 'o', prefixes: true, what: 'the program git runs (on the remote host, through its shell) to take the push' },
  rebase: { short: 'x', long: ['--exec'], valueShort: 'sXCx', prefixes: true, what: 'a command line git runs through a shell after each commit it replays' },
  difftool: { short: 'x', long: ['--extcmd'], valueShort: 'xtX', prefixes: true, what: 'a command line git runs through a shell to show each diff' },
  // -O's value is joined (-Ovim, --open-files-in-pager=less); a value after -O is read as it too, to fail safe.
  grep: { short: 'O', long: ['--open-files-in-pager'], valueShort: 'OefABCm', prefixes: true, what: 'the pager git runs, through a shell, to open the matching files' },
  'send-email': {
    short: '',
    long: ['--sendmail-cmd', '--smtp-server', '--to-cmd', '--cc-cmd', '--header-cmd'],
    valueShort: '',
    prefixes: true,
    what: 'a command git runs through a shell (to send the mail, or to find its recipients or headers)',
  },
  'filter-branch': {
    short: '',
    long: ['--setup', '--env-filter', '--tree-filter', '--index-filter', '--parent-filter', '--msg-filter', '--commit-filter', '--tag-name-filter'],
    valueShort: 'd',
    prefixes: true,
    what: 'a command line git runs through a shell for each commit it rewrites',
  },
  instaweb: { short: 'dbm', long: ['--httpd', '--browser', '--module-path'], valueShort: 'dbpm', prefixes: true, what: 'the web server or browser git instaweb starts, through a shell' },
  daemon: { short: '', long: ['--access-hook'], valueShort: '', prefixes: true, what: 'a program git daemon runs before each service it serves' },
};
/** git's subcommands with subcommands of their own that run a command: the one that does, and what it runs. */
const GIT_NESTED: Readonly<Record<string, { runs: string; options: readonly string[] }>> = {
  // git submodule [--quiet] foreach [--recursive] COMMAND: a shell reads COMMAND.
  submodule: { runs: 'foreach', options: ['-q', '--quiet', '--recursive'] },
  // git bisect run PROGRAM ARGS…: PROGRAM runs, its arguments quoted.
  bisect: { runs: 'run', options: [] },
};

/**
 * The subcommand of git at `sub` (`git` at `at`): clone's, fetch's, push's… option whose
 * value is a command git runs (GIT_COMMAND_LINES), `submodule foreach`'s command, which a
 * shell reads, and `bisect run`'s program, read as a wrapper's is.
 */
function gitSubcommand(argv: readonly Template[], at: number, sub: number, top: string): Problem | undefined {
  const word = argv[sub]!.source;
  const chain = `${argv[at]!.source} ${word}`;
  if (word === 'config') {
    // Its name (alias.*, core.pager, include.path…) or its value can be a command git runs later.
    const value = argv.findIndex((a, k) => k > sub && !isLiteral(a));
    if (value < 0) return undefined;
    return {
      index: value,
      message: `${JSON.stringify(chain)} sets configuration that runs commands (alias.*, core.pager, core.editor, core.sshCommand, core.hooksPath, core.fsmonitor…), so its name and value must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook`,
    };
  }
  const lines = own(GIT_COMMAND_LINES, word);
  if (lines) return commandLineOption(argv, sub, lines, chain);
  const nested = own(GIT_NESTED, word);
  if (!nested) return undefined;
  let i = sub + 1;
  while (i < argv.length && isLiteral(argv[i]!) && nested.options.includes(argv[i]!.source)) i++;
  const t = argv[i];
  if (!t) return undefined;
  if (!isLiteral(t)) {
    return { index: i, message: `the ${JSON.stringify(chain)} subcommand must be written out, not a {placeholder}: an alert must not choose what runs (${JSON.stringify(`${chain} ${nested.runs}`)} runs a command)` };
  }
  if (t.source !== nested.runs) return undefined;
  const ran = `${chain} ${nested.runs}`;
  if (word === 'bisect') return i + 1 < argv.length ? program(argv, i + 1, ran, top) : undefined;
  // Its options (--recursive) are written out as the rest is.
  const value = argv.findIndex((a, k) => k > i && !isLiteral(a));
  if (value < 0) return undefined;
  return { index: value, message: `${JSON.stringify(ran)} hands its command to a shell, so the command must be written out, not hold a {placeholder}: an alert must not choose what runs; write it in the runbook` };
}

// ip reads its object and command by any prefix: `ip net e NAME …` is `ip netns exec NAME …`.
const prefixOf = (word: string, min: number) => (arg: string) => arg.length >= min && word.startsWith(arg);
const IP_OBJECT = [prefixOf('netns', 3), prefixOf('vrf', 1)];
const IP_EXEC = prefixOf('exec', 1);

/**
 * `ip netns exec NAME PROGRAM` and `ip vrf exec NAME PROGRAM` (`ip -all netns exec
 * PROGRAM`, in every namespace): the name may be a value, the program is written out and
 * not a shell, and neither the object nor its command is a value.
 */
function ipExec(argv: readonly Template[], at: number, top: string): Problem | undefined {
  const self = argv[at]!.source;
  let all = false;
  for (let j = at + 1; j + 1 < argv.length; j++) {
    const object = argv[j]!;
    const command = argv[j + 1]!;
    if (isLiteral(object) && /^-a(l|ll)?$/.test(object.source)) all = true;
    const objectRuns = isLiteral(object) ? IP_OBJECT.some((m) => m(object.source)) : wholePlaceholder(object);
    const commandRuns = isLiteral(command) ? IP_EXEC(command.source) : wholePlaceholder(command);
    if (!objectRuns || !commandRuns) continue;
    if (!isLiteral(object) || !isLiteral(command)) {
      const i = isLiteral(object) ? j + 1 : j;
      return { index: i, message: `the ${JSON.stringify(self)} object and command must be written out, not a {placeholder}: an alert must not choose what runs (${JSON.stringify(self)} netns exec runs a program)` };
    }
    const at2 = all ? j + 2 : j + 3;
    if (at2 >= argv.length) continue;
    const problem = program(argv, at2, self, top);
    if (problem) return problem;
  }
  return undefined;
}

const wholePlaceholder = (t: Template): boolean => t.parts.length > 0 && t.parts.every((p) => typeof p !== 'string');
const textBeforeValue = (t: Template): string => (typeof t.parts[0] === 'string' ? t.parts[0] : '');
/** What follows the first `n` characters of a template's text before its first value: `{x}` in `--name={x}` from 7. */
const tailOf = (t: Template, n: number): Template => {
  const parts = [...t.parts];
  if (typeof parts[0] === 'string') {
    const rest = parts[0].slice(n);
    if (rest) parts[0] = rest;
    else parts.shift();
  }
  return { source: parts.map((p) => (typeof p === 'string' ? p : `{${p.param}}`)).join(''), parts };
};
/** The value a short option at letter `k` of `-XY…` takes from the rest of its argument (`-n{ns}`, `-s={x}`: "=" is left out, as kubectl reads it). */
const joinedValue = (t: Template, k: number): Template => tailOf(t, textBeforeValue(t)[k + 2] === '=' ? k + 3 : k + 2);

/** The cluster of the option argument `t`: its letters up to its first value, complete when it holds none. */
const clusterOf = (t: Template, takesValue: (letter: string) => boolean, equals = false): ReturnType<typeof readCluster> =>
  readCluster((isLiteral(t) ? t.source : textBeforeValue(t)).slice(1), isLiteral(t), takesValue, equals);

/** docker run's --entrypoint, written out: the argument that gives it, and the program it names. */
interface Entrypoint {
  index: number;
  program: Template;
}

/**
 * Reads a wrapper's options, operands and (env) assignments from `from` on: the index
 * of the program it runs (undefined when none follows; 'split' when env -S names it),
 * or the problem with a value before it; `also`, the program in each other reading of
 * an option that may or may not take a value. With `untilOperand` (the options before
 * a SUBCOMMANDS subcommand), the first operand is returned as the program.
 */
function readArguments(
  argv: readonly Template[],
  from: number,
  spec: WrapperSpec,
  by: string,
  untilOperand: boolean,
): { program: number | 'split' | undefined; also: number[]; entrypoint?: Entrypoint } | { problem: Problem } {
  const also: number[] = [];
  let entry: Entrypoint | undefined;
  const before = (i: number): { problem: Problem } => ({
    problem: {
      index: i,
      message: spec.remote
        ? `a {placeholder} alone cannot stand in ${JSON.stringify(by)}'s options or before the command it runs on the remote host (only the host may be one): a value there could choose how it connects or what runs; write it in the runbook`
        : `a {placeholder} alone cannot stand before the program ${JSON.stringify(by)} runs: a value there could choose what runs or its environment (${JSON.stringify(by)} would read "sh" as the program, "NAME=value" as a variable); write it in the runbook, or after the program`,
    },
  });
  const start = { operands: spec.operands ?? 0, endOfOptions: spec.noOptions === true, su: spec.suUnless !== undefined, direct: spec.direct === undefined };
  const suLike = (): { problem: Problem } => ({
    problem: { index: from - 1, message: `${JSON.stringify(by)} without -u runs the user's shell, as su does; ${TAIL} ([runuser, -u, USER, --, PROGRAM])` },
  });
  // The value of `option`: the argument at `i`, or (`joined`) the part of it after the
  // option's name (`--name={x}`, `-X{x}`), which obeys the same rule.
  const value = (i: number, option: string, joined?: Template): { problem: Problem } | undefined => {
    const t = joined ?? argv[i];
    if (!t || isLiteral(t) || spec.optionValues?.includes(option)) return undefined;
    // An option's own reason first: it names what the value would choose.
    const rule = spec.valueRule?.(option, t, by);
    if (rule) return { problem: { index: i, message: rule } };
    if (spec.literalValues) {
      const only = spec.optionValues ? ` (only ${spec.optionValues.join(' or ')} may take one)` : '';
      return {
        problem: {
          index: i,
          message: `${JSON.stringify(by)}'s option ${option} before its subcommand must be written out, not take a {placeholder}${only}: an alert must not choose the server, context, credentials or identity ${JSON.stringify(by)} acts with; write it in the runbook`,
        },
      };
    }
    if (wholePlaceholder(t)) return before(i);
    if (spec.envOptions?.includes(option)) {
      const assignment = assignmentProblem(t, `${option} ${JSON.stringify(t.source)}`, by);
      if (assignment) return { problem: { index: i, message: assignment } };
    }
    return undefined;
  };
  // env's and sudo's `NAME=value` before the program (WrapperSpec.assignments).
  const isAssignment = (t: Template, endOfOptions: boolean): boolean => {
    const head = textBeforeValue(t);
    if (spec.assignments === 'env') return head.includes('=');
    if (spec.assignments === 'sudo') return !endOfOptions && head.includes('=') && !head.startsWith('/') && !head.startsWith('=');
    return false;
  };
  // docker run's --entrypoint: its value is the program.
  const entrypoint = (i: number, inline: boolean): { problem: Problem } | undefined => {
    const t = argv[i];
    if (!t) return undefined;
    if (!isLiteral(t)) return { problem: { index: i, message: `the program ${JSON.stringify(by)} runs (${spec.entrypoint}) must be written out, not a {placeholder}: an alert must not choose what runs` } };
    const text = inline ? t.source.slice(t.source.indexOf('=') + 1) : t.source;
    if (SHELLS.has(programName(text.trim().split(/\s+/)[0] ?? ''))) return { problem: { index: i, message: `${JSON.stringify(text)} is a shell, which ${JSON.stringify(by)} would run (${spec.entrypoint}); ${TAIL}` } };
    // An empty one (`--entrypoint ""`) clears the image's: the first argument after the image is then the program.
    if (text.trim() !== '') entry = { index: i, program: { source: text, parts: [text] } };
    return undefined;
  };
  const split = (i: number): { program: 'split' | undefined } | { problem: Problem } => {
    const t = argv[i];
    if (!t) return { program: undefined };
    const word = t.source.trim().split(/\s+/).find((w) => !w.startsWith('-') && !w.includes('='));
    if (word !== undefined && SHELLS.has(programName(word))) {
      return { problem: { index: i, message: `${JSON.stringify(t.source)} is a shell, which ${JSON.stringify(by)} would run; ${TAIL}` } };
    }
    if (!isLiteral(t)) return { problem: { index: i, message: `${JSON.stringify(by)} splits this argument into the program and its environment, so it must be written out, not hold a {placeholder}` } };
    if (word !== undefined && isWrapper(programName(word))) {
      return { problem: { index: i, message: `${JSON.stringify(word)} runs another program: write it as an argument of its own rather than in ${JSON.stringify(by)}'s split string` } };
    }
    if (word !== undefined && isInterpreter(programName(word))) {
      return { problem: { index: i, message: `${JSON.stringify(word)} runs code its arguments give: write it and its options as arguments of their own rather than in ${JSON.stringify(by)}'s split string, so that rectify reads them` } };
    }
    return { program: word === undefined ? undefined : 'split' };
  };
  type Scanned = { program: number | 'split' | undefined } | { problem: Problem };
  // Each option that may or may not take a value doubles the readings: each place and
  // state is read once.
  const seen = new Map<string, Scanned>();
  const scan = (first: number, state: typeof start): Scanned => {
    const key = `${first} ${state.operands} ${state.endOfOptions} ${state.su} ${state.direct}`;
    let found = seen.get(key);
    if (!found) {
      found = scanFrom(first, state);
      seen.set(key, found);
    }
    return found;
  };
  const scanFrom = (first: number, state: typeof start): Scanned => {
    let { operands, endOfOptions, su, direct } = state;
    for (let i = first; i < argv.length; i++) {
      const t = argv[i]!;
      const arg = t.source;
      if (!endOfOptions && arg === '--' && isLiteral(t)) {
        endOfOptions = true;
        continue;
      }
      // GNU env reads a lone "-" as -i.
      if (!endOfOptions && arg === '-' && spec.dashOption && isLiteral(t)) continue;
      if (!endOfOptions && arg.startsWith('-') && arg !== '-') {
        const head = textBeforeValue(t);
        // `--name={x}` and `-X{x}` are read as `--name {x}` and `-X {x}` are; a value
        // anywhere else in an option could be read as options itself.
        const joined = !isLiteral(t);
        const written = { problem: { index: i, message: `${JSON.stringify(by)}'s options must be written out: a value there could choose how it runs what it runs` } };
        if (joined && (head.startsWith('--') ? !head.includes('=') : head.length < 2)) return written;
        if (arg.startsWith('--')) {
          const long = arg.split('=')[0]!;
          if (spec.suUnless?.long === long) su = false;
          if (spec.direct?.long === long) direct = true;
          if (spec.split?.long === long) {
            if (arg.includes('=')) return { problem: { index: i, message: `${JSON.stringify(by)} splits ${long}'s value into the program and its environment; write it as an argument of its own` } };
            const r = split(i + 1);
            if ('problem' in r || r.program === 'split') return r;
            i++;
            continue;
          }
          if (arg.includes('=')) {
            // `--name={x}` obeys the rule `--name {x}` does.
            const p = (spec.entrypoint === long ? entrypoint(i, true) : undefined) ?? value(i, long, tailOf(t, head.indexOf('=') + 1));
            if (p) return p;
          } else if (spec.long?.includes(long)) {
            const p = (spec.entrypoint === long ? entrypoint(i + 1, false) : undefined) ?? value(i + 1, long);
            if (p) return p;
            i++;
          } else if (!arg.includes('=') && !spec.flags?.includes(long) && i + 1 < argv.length) {
            // An option rectify does not know may take the next argument as its value: the
            // program is then the one after, which is read too.
            const p = value(i + 1, long);
            if (p) return p;
            const other = scan(i + 2, { operands, endOfOptions, su, direct });
            if ('problem' in other) return other;
            if (typeof other.program === 'number') also.push(other.program);
          }
          continue;
        }
        // Joined (`-n{ns}`), the letters are those before the value; the value is the
        // rest of the argument for the first letter that takes one (`-X={x}`: the value
        // of -X, as kubectl reads it).
        const known = (letter: string): boolean => spec.knownShort === undefined || spec.knownShort.includes(letter);
        const cluster = clusterOf(t, (letter) => known(letter) && spec.short?.includes(letter) === true, joined);
        for (const { letter, k, last } of cluster.flags) {
          if (spec.suUnless?.short === letter) su = false;
          if (spec.direct?.short === letter) direct = true;
          if (known(letter)) continue;
          // A letter rectify does not know may take a value (the rest of the cluster, or
          // the next argument): what follows that reading is read too.
          const next = last ? i + 2 : i + 1;
          const p = joined ? value(i, `-${letter}`, joinedValue(t, k)) : last ? value(i + 1, `-${letter}`) : undefined;
          if (p) return p;
          if (next < argv.length) {
            const other = scan(next, { operands, endOfOptions, su, direct });
            if ('problem' in other) return other;
            if (typeof other.program === 'number') also.push(other.program);
          }
        }
        const v = cluster.value;
        if (v) {
          if (spec.suUnless?.short === v.letter) su = false;
          if (spec.direct?.short === v.letter) direct = true;
          if (spec.split?.short === v.letter) {
            if (!v.last) return { problem: { index: i, message: `${JSON.stringify(by)} splits -${v.letter}'s value into the program and its environment; write it as an argument of its own` } };
            const r = split(i + 1);
            if ('problem' in r || r.program === 'split') return r;
            i++;
            continue;
          }
          // The rest of the cluster is the option's value (`-uroot`, `-u{who}`), or the next element is (`-u root`).
          if (joined) {
            const p = value(i, `-${v.letter}`, joinedValue(t, v.k));
            if (p) return p;
          } else if (v.last) {
            const p = value(i + 1, `-${v.letter}`);
            if (p) return p;
            i++;
          }
        }
        // Every letter before the value a flag: the value would be read as more of them.
        if (joined && !cluster.taken) return written;
        continue;
      }
      if (untilOperand) return { program: i };
      if (isAssignment(t, endOfOptions)) {
        const assignment = assignmentProblem(t, JSON.stringify(t.source), by);
        if (assignment) return { problem: { index: i, message: assignment } };
        continue;
      }
      if (operands > 0) {
        if (spec.imageOperand && operands === spec.operands && !isLiteral(t)) {
          return {
            problem: {
              index: i,
              message: `the image ${JSON.stringify(by)} runs (the first argument after its options) must be written out, not hold a {placeholder}: an alert choosing the image runs its code on this host's container runtime; write it in the runbook`,
            },
          };
        }
        operands--;
        if (wholePlaceholder(t) && !spec.podValues) return before(i);
        continue;
      }
      if (su) return suLike();
      if (!direct) {
        return { problem: { index: from - 1, message: `${JSON.stringify(by)} runs its command through sh -c unless given -${spec.direct!.short} (${spec.direct!.long}); add it so the program runs directly` } };
      }
      if (spec.dashDash && !endOfOptions) {
        return { problem: { index: i, message: `${JSON.stringify(by)} reads its own options among the arguments of the program it runs, up to "--": write "--" before the program` } };
      }
      return { program: i };
    }
    return su ? suLike() : { program: undefined };
  };
  const found = scan(from, start);
  if ('problem' in found) return found;
  return entry ? { ...found, also, entrypoint: entry } : { ...found, also };
}

/** The index of the first option from `from` on by which the wrapper runs its command through a shell, if any. */
function shellOption(argv: readonly Template[], from: number, opts: (typeof SHELL_OPTIONS)[string]): number | undefined {
  for (let i = from; i < argv.length; i++) {
    const t = argv[i]!;
    const arg = t.source;
    if (arg === '--') return undefined;
    if (!isLiteral(t) || !arg.startsWith('-') || arg === '-') {
      if (!opts.anywhere) return undefined;
      continue;
    }
    if (arg.startsWith('--')) {
      if (opts.long.some((l) => arg === l || arg.startsWith(`${l}=`))) return i;
      continue;
    }
    // The rest of the cluster is an option's argument (`-uroot`), or the next element is (`-u root`).
    const cluster = readCluster(arg.slice(1), true, (letter) => opts.withArg.includes(letter));
    if ([...cluster.flags, ...(cluster.value ? [cluster.value] : [])].some(({ letter }) => opts.short.includes(letter))) return i;
    if (cluster.value?.last) i++;
  }
  return undefined;
}

/**
 * The end of what the marker loss costs, said in every such warning: the step marker
 * (STEP_MARKER_VAR) is how rectify finds a step's processes again after a crash.
 */
const MARKER_LOST = `${STEP_MARKER_VAR}, the marker by which rectify finds a command's processes, does not reach the program it runs: after a crash, startup recovery cannot find that program to stop it, and the run's INTERRUPTED row only asks a human to check`;

/** Why a wrapper need not replace the environment, said in the warnings about one that does. */
const MINIMAL_ENVIRONMENT = "rectify already runs a command with a minimal one (PATH, LANG and the variables command_env names)";

/** A wrapper's option as read before the program it runs: its name (`-u`, `--unset`), its value if it takes one, and its index. */
interface ReadOption {
  name: string;
  value?: string;
  index: number;
}

/**
 * The options in argv[from, to) (a wrapper's, before the program it runs), read as
 * getopt does: `--name=value`, `--name value` for the long options in `valueLong`,
 * short clusters whose letter in `valueShort` takes the rest of the cluster or the next
 * argument, a lone "-"; up to "--". Operands and env's NAME=value are passed over.
 */
function optionsOf(argv: readonly Template[], from: number, to: number, valueShort: string, valueLong: readonly string[]): ReadOption[] {
  const out: ReadOption[] = [];
  for (let i = from; i < to; i++) {
    const arg = argv[i]!.source;
    if (arg === '--') break;
    if (arg === '-') out.push({ name: '-', index: i });
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) out.push({ name: arg.slice(0, eq), value: arg.slice(eq + 1), index: i });
      else if (valueLong.includes(arg)) {
        out.push({ name: arg, value: argv[i + 1]?.source ?? '', index: i });
        i++;
      } else out.push({ name: arg, index: i });
    } else if (arg.startsWith('-')) {
      const letters = arg.slice(1);
      const cluster = readCluster(letters, true, (letter) => valueShort.includes(letter));
      for (const { letter } of cluster.flags) out.push({ name: `-${letter}`, index: i });
      const v = cluster.value;
      if (v) {
        out.push({ name: `-${v.letter}`, value: v.last ? (argv[i + 1]?.source ?? '') : letters.slice(v.k + 1), index: i });
        if (v.last) i++;
      }
    }
  }
  return out;
}

/**
 * How a wrapper (the one at `at`, whose program is at `program`) keeps the step marker
 * from the program it runs, as a warning at the argument that does it; undefined when it
 * passes the environment on.
 */
function markerDrop(argv: readonly Template[], at: number, program: number): Problem | undefined {
  const self = argv[at]!.source;
  const name = programName(self);
  if (name === 'sudo') {
    const spec = WRAPPER_SPECS['sudo']!;
    const kept = optionsOf(argv, at + 1, program, spec.short ?? '', spec.long ?? []).some(
      (o) => o.name === '-E' || (o.name === '--preserve-env' && (o.value === undefined || o.value.split(',').includes(STEP_MARKER_VAR))),
    );
    if (kept) return undefined;
    return {
      index: at,
      message:
        `${JSON.stringify(self)} resets the environment (sudoers' env_reset, on by default): ${MARKER_LOST}. ` +
        `Write [${self}, --preserve-env=${STEP_MARKER_VAR}, …]; sudo then runs the command only if sudoers allows the variable (Defaults env_keep += "${STEP_MARKER_VAR}", or the SETENV tag on the rule), and refuses it otherwise. ` +
        'Recovery reads the marker through /proc: a program run as another user is found only when rectify runs as root',
    };
  }
  if (name === 'doas') {
    // doas has no option that keeps a variable: only the doas.conf rule can, which rectify cannot read.
    return {
      index: at,
      message:
        `${JSON.stringify(self)} resets the environment unless the doas.conf rule that permits the command says keepenv or setenv { ${STEP_MARKER_VAR} }: ${MARKER_LOST}. ` +
        `Let that rule keep the variable (permit setenv { ${STEP_MARKER_VAR} } …), or write [sudo, --preserve-env=${STEP_MARKER_VAR}, …], whose argv says that it is kept. ` +
        'Recovery reads the marker through /proc: a program run as another user is found only when rectify runs as root',
    };
  }
  if (name === 'setpriv') {
    // getopt_long takes an abbreviation: --reset-e, --res.
    const reset = optionsOf(argv, at + 1, program, '', WRAPPER_SPECS['setpriv']!.long ?? []).find((o) => o.name.length >= 5 && '--reset-env'.startsWith(o.name));
    if (!reset) return undefined;
    return {
      index: reset.index,
      message:
        `${JSON.stringify(`${self} ${argv[reset.index]!.source}`)} starts the program with an environment of its own (TERM kept; HOME, SHELL, USER, LOGNAME and PATH set for the user): ${MARKER_LOST}. ` +
        `Leave out ${reset.name} and the environment as it is: ${MINIMAL_ENVIRONMENT}`,
    };
  }
  if (name === 'runuser') {
    // Read only with -u (without it runuser runs a shell, a load problem), beside which it refuses -l.
    const spec = WRAPPER_SPECS['runuser']!;
    const login = optionsOf(argv, at + 1, program, spec.short ?? '', spec.long ?? []).find((o) => o.name === '-l' || o.name === '-' || (o.name.length >= 3 && '--login'.startsWith(o.name)));
    if (!login) return undefined;
    return {
      index: login.index,
      message:
        `${JSON.stringify(`${self} ${argv[login.index]!.source}`)} asks for a login environment, which would clear the environment: ${MARKER_LOST}; and beside -u runuser refuses it, so the command fails as written. ` +
        `Leave out ${login.name}: runuser -u passes the environment on (setting HOME, SHELL, USER and LOGNAME for the user)`,
    };
  }
  if (name === 'env') {
    const spec = WRAPPER_SPECS['env']!;
    for (const o of optionsOf(argv, at + 1, program, spec.short ?? '', spec.long ?? [])) {
      const clears = o.name === '-i' || o.name === '-' || o.name === '--ignore-environment';
      const unsets = (o.name === '-u' || o.name === '--unset') && o.value === STEP_MARKER_VAR;
      if (!clears && !unsets) continue;
      const written = JSON.stringify(`${self} ${argv[o.index]!.source}`);
      const what = clears ? `${written} starts the program with an empty environment` : `${written} removes ${STEP_MARKER_VAR} from the environment`;
      return {
        index: o.index,
        message: `${what}: ${MARKER_LOST}. Leave the environment as it is: ${MINIMAL_ENVIRONMENT}`,
      };
    }
  }
  return undefined;
}

/**
 * A wrapper in an argument list that keeps the step marker (STEP_MARKER_VAR) from the
 * program it runs: sudo without --preserve-env=RECTIFY_STEP_ID (or -E), doas (unless its
 * doas.conf rule keeps it, which rectify cannot read), env -i, env - or env -u
 * RECTIFY_STEP_ID, setpriv --reset-env, as argv[0] or behind other wrappers (`[timeout,
 * "60", sudo, …]`). A warning, not a problem: the command runs as written, but after a
 * crash recovery cannot find it. The programs a subcommand (kubectl exec, docker run) or
 * ssh runs run elsewhere, where no marker reaches anyway, and are not read. runuser -l
 * (--login, -) is warned about too, though beside -u, which rectify requires of runuser,
 * runuser refuses it; su, which always runs a shell, is refused at load.
 */
export function markerDropIn(argv: readonly Template[]): Problem | undefined {
  let at = 0;
  for (;;) {
    const t = argv[at];
    if (!t || !isLiteral(t)) return undefined;
    const spec = WRAPPER_SPECS[programName(t.source)];
    if (!spec || spec.remote) return undefined;
    const found = readArguments(argv, at + 1, spec, t.source, false);
    if ('problem' in found || typeof found.program !== 'number') return undefined;
    const drop = markerDrop(argv, at, found.program);
    if (drop) return drop;
    at = found.program;
  }
}

const UNGUARDED: Readonly<Record<string, { verb: string; checks: string }>> = {
  scale: {
    verb: 'scale',
    checks: 'a scale-down that would leave the workload no ready pod, or take more than the runbook\'s max_unavailable, is refused there',
  },
  'rollout undo': {
    verb: 'rollout_undo',
    checks: 'a relative undo, one with no --to-revision, is refused there when a rollout was made after the alert, since it would undo that rollout instead',
  },
};

/**
 * A `kubectl scale` or `kubectl rollout undo` (oc's too) that the argv runs, itself or
 * through the programs that run another: the same operation as a built-in action, without
 * the checks rectify makes on that action. For a lint warning.
 */
export function unguardedKubeIn(argv: readonly Template[]): Problem | undefined {
  const at = programInChain(argv, (name) => name === 'kubectl' || name === 'oc', true);
  return at === undefined ? undefined : unguardedKube(argv, at);
}

/**
 * Where in argv's chain of programs that run another (argv[0], then the program each one
 * runs) the first program `wanted` accepts stands; undefined when the chain ends before one,
 * or a program in it is a {placeholder} or cannot be read. `remote`: whether to follow a
 * program that runs its command on another host (ssh). For the lint warnings.
 */
function programInChain(argv: readonly Template[], wanted: (name: string) => boolean, remote: boolean): number | undefined {
  let at = 0;
  for (;;) {
    const t = argv[at];
    if (!t || !isLiteral(t)) return undefined;
    const name = programName(t.source);
    if (wanted(name)) return at;
    const spec = own(WRAPPER_SPECS, name);
    if (!spec || (spec.remote && !remote)) return undefined;
    const found = readArguments(argv, at + 1, spec, t.source, false);
    if ('problem' in found || typeof found.program !== 'number') return undefined;
    at = found.program;
  }
}

function unguardedKube(argv: readonly Template[], at: number): Problem | undefined {
  const self = argv[at]!.source;
  const found = readArguments(argv, at + 1, KUBE_GLOBAL, self, true);
  if ('problem' in found) return undefined;
  for (const i of [found.program, ...found.also]) {
    if (typeof i !== 'number' || !isLiteral(argv[i]!)) continue;
    const word = argv[i]!.source;
    let op: string | undefined = word === 'scale' ? 'scale' : undefined;
    if (word === 'rollout') {
      // rollout's own subcommand: the first argument that is no option or an option's value.
      for (let j = i + 1; j < argv.length; j++) {
        const a = argv[j]!;
        if (!isLiteral(a)) break;
        if (!a.source.startsWith('-')) {
          if (a.source === 'undo') op = 'rollout undo';
          break;
        }
        if (!a.source.includes('=') && (KUBE_GLOBAL.long?.includes(a.source) || /^-[nsv]$/.test(a.source))) j++;
      }
    }
    if (op === undefined) continue;
    const { verb, checks } = UNGUARDED[op]!;
    return {
      index: i,
      message:
        `${JSON.stringify(`${programName(self)} ${op}`)} is run as a program, without the checks rectify makes on the same operation as an action (${checks}); ` +
        `write it as the action "kubectl ${op} …" or kubernetes: {verb: ${verb}, …}, which rectify carries out through the Kubernetes API with those checks`,
    };
  }
  return undefined;
}

// systemctl's verbs whose arguments are units it acts on.
const SYSTEMCTL_UNIT_VERBS = ['start', 'stop', 'restart', 'reload', 'try-restart', 'reload-or-restart', 'try-reload-or-restart', 'kill', 'enable', 'disable', 'reenable', 'mask', 'unmask', 'isolate', 'freeze', 'thaw', 'clean', 'reset-failed', 'set-property', 'revert', 'edit', 'link', 'preset', 'bind', 'mount-image'];

/**
 * A `systemctl <verb>` (itself or behind the programs that run another) whose unit is
 * wholly a {placeholder} that no positive `match:` on that name (`=`, `=~`) keeps to
 * chosen units: an alert's label then picks any unit on the host (`poweroff.target`,
 * `sshd.service`). For a lint warning; `guarded` holds the names a positive matcher reads.
 */
export function wholeUnitIn(argv: readonly Template[], guarded: ReadonlySet<string>): Problem | undefined {
  const at = programInChain(argv, (name) => name === 'systemctl', false);
  if (at === undefined) return undefined;
  const verb = verbOf(argv, at);
  if (verb === undefined || !isLiteral(argv[verb]!) || !SYSTEMCTL_UNIT_VERBS.includes(argv[verb]!.source)) return undefined;
  for (let i = verb + 1; i < argv.length; i++) {
    const t = argv[i]!;
    if (!wholePlaceholder(t) || t.parts.length !== 1) continue;
    const param = (t.parts[0] as { param: string }).param;
    if (guarded.has(param)) continue;
    const verbText = `${programName(argv[at]!.source)} ${argv[verb]!.source}`;
    return {
      index: i,
      message:
        `the unit ${JSON.stringify(verbText)} acts on is wholly the {placeholder} ${t.source}, so an alert's label chooses any unit on the host (poweroff.target, sshd.service…); ` +
        `keep it to your units with a match: on the label (${param}=~"app-.*") or write a prefix in the runbook ("app@${t.source}.service")`,
    };
  }
  return undefined;
}

import type { Template } from '../domain/runbook.js';
import { isLiteral } from './template.js';

/**
 * Environment variables whose value chooses what runs, or where code, or configuration
 * that runs commands, is found. A `command:` argv may set a variable for the program a
 * wrapper runs (env's and sudo's `NAME=value`, docker's `-e`, systemd-run's `-E`,
 * lxc-attach's `-v`, kubectl run's `--env`…): under one of these names a {placeholder}
 * in the value would let an alert choose code (`LD_PRELOAD={x}` with
 * x=/tmp/evil.so), so it is refused at load; under a name of the runbook's own
 * (`TARGET_POD={pod}`) the value goes to the program as data, and loads.
 *
 * The list cannot name every variable every program reads; it names the families known
 * to run code (and, as kubectl's --server and docker's -H are refused, those that
 * choose the server, proxy or certificates a program trusts). A name is matched whole
 * (`exact`), by its start (`prefixes`) or by its end (`suffixes`).
 *
 * Names are compared upper-cased. Unix names are case-sensitive, and the loader honours
 * only `LD_PRELOAD`, but some programs read a lower-case twin (curl's `http_proxy`,
 * npm's `npm_config_*`): refusing a harmless `ld_preload` costs the runbook a rename,
 * while missing a twin a program reads would let the alert choose.
 */
interface VariableFamily {
  exact?: readonly string[];
  prefixes?: readonly string[];
  suffixes?: readonly string[];
  /** What a value under such a name chooses, for the message. */
  chooses: string;
}
export const VARIABLES_THAT_CHOOSE_WHAT_RUNS: readonly VariableFamily[] = [
  {
    // The dynamic loader's (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT), macOS's dyld, and
    // the variables glibc itself ignores in a setuid program as unsafe (unsecure-envvars.h).
    prefixes: ['LD_', 'DYLD_', 'GLIBC_'],
    suffixes: ['PRELOAD'],
    exact: ['GCONV_PATH', 'GETCONF_DIR', 'HOSTALIASES', 'LOCALDOMAIN', 'LOCPATH', 'MALLOC_TRACE', 'NIS_PATH', 'NLSPATH', 'RESOLV_HOST_CONF', 'RES_OPTIONS', 'TMPDIR', 'TZDIR'],
    chooses: 'the libraries the dynamic loader and the C library load into the program, or the files they read',
  },
  {
    // PATH and every search path: CLASSPATH, PYTHONPATH, NODE_PATH, CDPATH, MANPATH…
    suffixes: ['PATH'],
    chooses: 'where the program, or one it starts, finds the programs, libraries or modules it runs',
  },
  {
    // What a shell the program starts runs before its command: a script (BASH_ENV, ENV),
    // functions (BASH_FUNC_name%%), its options, how it splits words, its prompts (PS4
    // is expanded under xtrace), or the shell itself (SHELL).
    prefixes: ['BASH'],
    exact: ['ENV', 'SHELL', 'SHELLOPTS', 'IFS', 'PS0', 'PS1', 'PS2', 'PS3', 'PS4', 'ZDOTDIR', 'INPUTRC', 'PSQLRC', 'VIMINIT', 'EXINIT', 'MYVIMRC'],
    chooses: 'code a shell (or another interactive program) the program starts runs: a script it reads, a function, its options',
  },
  {
    // Interpreters', runtimes' and build tools' own: modules loaded first, options read
    // as if on the command line (NODE_OPTIONS=--require, JAVA_TOOL_OPTIONS=-javaagent:,
    // PERL5OPT, RUBYOPT, TAR_OPTIONS=--to-command), the compiler a build runs.
    prefixes: ['PYTHON', 'PERL', 'RUBY', 'NODE_', 'NPM_CONFIG_', 'JAVA', 'JDK_', '_JAVA_', 'LUA_', 'PHP', 'GEM_', 'BUNDLE_', 'CARGO_', 'RUSTUP_', 'DOTNET_', 'CORECLR_', 'COR_'],
    suffixes: ['_OPTIONS', '_OPTS'],
    exact: ['GOFLAGS', 'GOROOT', 'GOTOOLCHAIN', 'GOPROXY', 'GOENV', 'RUSTC_WRAPPER', 'RUSTFLAGS', 'MAKEFLAGS', 'MFLAGS', 'CC', 'CXX', 'CPP', 'LD', 'AR', 'CFLAGS', 'CXXFLAGS', 'CPPFLAGS', 'LDFLAGS'],
    chooses: 'code an interpreter, runtime or build tool loads or runs (a module, an agent, an option such as --require)',
  },
  {
    // Commands a program runs when it needs one: git's (GIT_SSH_COMMAND,
    // GIT_EXTERNAL_DIFF, GIT_PAGER, GIT_ASKPASS…; GIT_DIR and GIT_CONFIG_* choose
    // configuration that does), rsync's RSYNC_RSH and RSYNC_CONNECT_PROG, an editor, a
    // pager, a password prompt, less's input filters (LESSOPEN, LESSCLOSE).
    prefixes: ['GIT_', 'RSYNC_', 'LESS'],
    suffixes: ['_COMMAND', '_CMD', '_RSH', 'ASKPASS', 'PAGER', 'EDITOR'],
    exact: ['VISUAL', 'BROWSER', 'TERMINAL'],
    chooses: 'a command the program runs (as git runs GIT_SSH_COMMAND, or the pager or editor it starts)',
  },
  {
    // Where the program reads its configuration, some of which runs commands: HOME's
    // .gitconfig and .bashrc, a kubeconfig's exec: credential plugin, an AWS profile's
    // credential_process, an OpenSSL configuration's engine, XDG_CONFIG_HOME's files.
    prefixes: ['XDG_', 'OPENSSL_'],
    suffixes: ['HOME', '_CONFIG', '_CONFIG_FILE', '_CONFIG_DIR', '_CONFIG_DIRS'],
    exact: ['KUBECONFIG', 'WGETRC', 'AWS_SHARED_CREDENTIALS_FILE', 'GOOGLE_APPLICATION_CREDENTIALS'],
    chooses: "the configuration the program reads, some of which runs commands (a kubeconfig's exec: plugin, .gitconfig, .bashrc, an AWS profile's credential_process)",
  },
  {
    // The server, proxy and certificates: an alert must not choose whom the program
    // talks to with its credentials, as it may not choose kubectl's --server or docker's -H.
    suffixes: ['_PROXY'],
    exact: [
      'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'CONTAINER_HOST', 'CONTAINER_CONNECTION', 'CONTAINER_SSHKEY', 'CONTAINERD_ADDRESS', 'SSH_AUTH_SOCK',
      'SSL_CERT_FILE', 'SSL_CERT_DIR', 'SSLKEYLOGFILE', 'CURL_CA_BUNDLE', 'REQUESTS_CA_BUNDLE',
    ],
    chooses: 'the server or proxy the program sends its requests and credentials to, or the certificates it trusts',
  },
];

/** What a value under `name` would choose, if the name is one of VARIABLES_THAT_CHOOSE_WHAT_RUNS. */
export function variableChooses(name: string): string | undefined {
  // Quotes too: ssh reads SetEnv's words as a shell would (`"LD_PRELOAD=…"`).
  const upper = name.replace(/[\s"']/g, '').toUpperCase();
  const family = VARIABLES_THAT_CHOOSE_WHAT_RUNS.find(
    (f) => f.exact?.includes(upper) || f.prefixes?.some((p) => upper.startsWith(p)) || f.suffixes?.some((s) => upper.endsWith(s)),
  );
  return family?.chooses;
}

/**
 * The problem with an assignment `t` (`NAME=value`) that `lead` (`"LD_PRELOAD={x}"`,
 * `-e "LD_PRELOAD={x}"`) sets for the program `by` runs: a {placeholder} in its name,
 * or in the value of a name that chooses what runs.
 */
export function assignmentProblem(t: Template, lead: string, by: string): string | undefined {
  if (isLiteral(t)) return undefined;
  const head = typeof t.parts[0] === 'string' ? t.parts[0] : '';
  const eq = head.indexOf('=');
  if (eq < 0) {
    return `${lead} sets a variable whose name holds a {placeholder} for the program ${JSON.stringify(by)} runs: an alert's value could name any variable (LD_PRELOAD, PATH…) and choose what runs; write the name in the runbook ("TARGET={x}")`;
  }
  const name = head.slice(0, eq).replace(/["']/g, '').trim();
  const chooses = variableChooses(name);
  if (!chooses) return undefined;
  return `${lead} sets ${name} for the program ${JSON.stringify(by)} runs, so an alert's value would choose ${chooses} (LD_*, PATH, GIT_*, …: variables that choose what runs may not hold a {placeholder}); pass the value as an argument, or under a name of your own ("TARGET={x}")`;
}

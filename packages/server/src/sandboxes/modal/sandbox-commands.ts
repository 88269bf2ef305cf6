/*
 * The argv of every command the provider runs inside a Modal sandbox. Modal
 * runs execs as root; everything done on the agent's behalf, and every file
 * access, goes through `setpriv` to the agent's uid with `NoNewPrivs`, so a
 * symlink the agent planted can never make the runtime touch more than the
 * agent itself could. Root does only what needs root: record a pid, signal
 * it, stage a batch of files, and take over the runtime's read-only files.
 * Paths travel as arguments or on stdin, never inside script text. The image
 * needs bash, GNU tar and coreutils, findutils and util-linux.
 */

/** Root-only folder of the pid files `kill` reads and of batches being written. */
const PID_DIR = "/run/agent-runtime";

/** Exit code of `readFileCommand` when the path is not a regular file. */
export const NOT_A_FILE_EXIT_CODE = 66;

export interface AgentIdentity {
  readonly uid: number;
  readonly gid: number;
}

/** Prefix that runs the rest of an argv as the agent user. */
export function asAgent(agent: AgentIdentity): string[] {
  return [
    "setpriv",
    `--reuid=${agent.uid}`,
    `--regid=${agent.gid}`,
    "--clear-groups",
    "--no-new-privs",
    "--",
  ];
}

export function pidFileFor(execId: string): string {
  return `${PID_DIR}/exec-${execId}.pid`;
}

/**
 * A caller's command: in a new session (so `kill` reaches its process group),
 * recording the session's pid, then as the agent user. `setsid -w` passes the
 * exit code through.
 */
export function userCommand(agent: AgentIdentity, pidFile: string, command: readonly string[]): string[] {
  return [
    "setsid",
    "-w",
    "sh",
    "-c",
    `p="$1"; shift; mkdir -p -m 700 ${PID_DIR} && echo $$ > "$p" && exec "$@"`,
    "agent-runtime-exec",
    pidFile,
    ...asAgent(agent),
    ...command,
  ];
}

/**
 * Signals the process group of a `userCommand`; `signal` without the `SIG`
 * prefix (e.g. "TERM"). Waits up to 5 s for the pid file, since a kill may
 * follow the start of the command closely.
 */
export function killCommand(pidFile: string, signal: string): string[] {
  return [
    "sh",
    "-c",
    'i=0; while [ ! -s "$2" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; kill -s "$1" -- "-$(cat "$2")"',
    "agent-runtime-kill",
    signal,
    pidFile,
  ];
}

/**
 * The environment variable every command the provider starts carries, set
 * to the Modal sandbox's id; processes keep it unless they clear their
 * environment (the key proxy keeps it on purpose).
 */
export const SANDBOX_MARKER = "AGENT_RUNTIME_MODAL_SANDBOX";

/**
 * Kills what a server process that stopped without terminating the sandbox
 * left running in it: the process group of every command started through
 * `userCommand` (as recorded in its pid file, whose files it deletes), then
 * every process whose environment holds `SANDBOX_MARKER=sandboxId`,
 * whichever user it runs as (root's commands and the key proxy included),
 * and every process of the agent's uid (real uid `agentUid`) that sees this
 * sandbox's root-only `/run/agent-runtime` (on Modal: every one of the
 * sandbox; agent code may leave its process group and clear its
 * environment), twice, so a process forked during the first pass goes too.
 * Must itself run without the marker.
 */
export function stopCommandsCommand(sandboxId: string, agentUid: number): string[] {
  return [
    "sh",
    "-c",
    [
      `for p in ${PID_DIR}/exec-*.pid; do [ -f "$p" ] || continue; kill -s KILL -- "-$(cat "$p")" 2>/dev/null; rm -f -- "$p"; done`,
      `here=$(stat -L -c %d:%i ${PID_DIR} 2>/dev/null) || here=""`,
      "for pass in 1 2; do",
      "  for d in /proc/[0-9]*; do",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
      '    pid=${d#/proc/}; [ "$pid" = "$$" ] && continue',
      '    if tr "\\0" "\\n" < "$d/environ" 2>/dev/null | grep -qxF -- "$1"; then kill -s KILL "$pid" 2>/dev/null; continue; fi',
      '    [ -n "$here" ] || continue; uid=""',
      '    while read -r key value rest; do [ "$key" = "Uid:" ] && { uid=$value; break; }; done < "$d/status" 2>/dev/null',
      `    [ "$uid" = "$2" ] && [ "$(stat -L -c %d:%i "$d/root${PID_DIR}" 2>/dev/null)" = "$here" ] && kill -s KILL "$pid" 2>/dev/null`,
      "  done",
      "done",
      "true",
    ].join("\n"),
    "agent-runtime-stop-commands",
    `${SANDBOX_MARKER}=${sandboxId}`,
    String(agentUid),
  ];
}

/**
 * Writes a batch from stdin: a list of every file of the batch
 * (`listLength` bytes, NUL-separated area root, folder below it and name per
 * file), then a tar of the files. Root first removes root-owned files at the
 * batch's paths (the runtime's earlier read-only copies, which the agent could
 * not replace); the agent user extracts the tar, so nothing lands where the
 * agent could not write itself; then root takes ownership of each read-only
 * file (0444) and of every folder from its area root down to it, which become
 * root-owned with the sticky bit (1777): the agent may still add files
 * anywhere, but can neither change, delete or rename the runtime's file nor
 * rename a folder above it to put another in its place. Root steps enter one
 * folder at a time and check its real path before and after taking it over,
 * so a symlink or a folder swapped in meanwhile is refused.
 * Arguments: `listLength`, then the read-only files in threes (root, folder, name).
 */
export function writeFilesCommand(
  agent: AgentIdentity,
  listLength: number,
  readOnly: readonly FileTarget[],
): string[] {
  const script = [
    'at() { [ "$(pwd -P)" = "$1" ]; }',
    "# enter ROOT FOLDER [seal]: cd into ROOT/FOLDER one folder at a time, sealing each when asked",
    "enter() {",
    '  cd -P -- "$1" 2>/dev/null && at "$1" || return 1',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    "  local path=$1 rest=$2 seal=${3:-} segment",
    '  [ -z "$seal" ] || { chown 0:0 . && chmod 1777 . && at "$path"; } || return 1',
    '  while [ -n "$rest" ]; do',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    '    segment=${rest%%/*}; if [ "$segment" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi',
    "    path=$path/$segment",
    '    cd -P -- "./$segment" 2>/dev/null && at "$path" || return 1',
    '    [ -z "$seal" ] || { chown 0:0 . && chmod 1777 . && at "$path"; } || return 1',
    "  done",
    "}",
    `mkdir -p -m 700 ${PID_DIR} && batch=$(mktemp ${PID_DIR}/write-XXXXXX) || exit 1`,
    "trap 'rm -f \"$batch\"' EXIT",
    'cat > "$batch" || exit 1',
    "list=$1; shift",
    'while IFS= read -r -d "" root && IFS= read -r -d "" dir && IFS= read -r -d "" name; do',
    '  (enter "$root" "$dir" && if [ -O "./$name" ] && [ ! -L "./$name" ]; then rm -f -- "./$name"; fi) || :',
    'done < <(head -c "$list" "$batch")',
    `tail -c +$((list + 1)) "$batch" | (cd / && ${asAgent(agent).join(" ")} tar -x -f - -C /) || exit 1`,
    "while [ $# -gt 0 ]; do",
    '  (enter "$1" "$2" seal && chown -h 0:0 "./$3" && [ -f "./$3" ] && [ ! -L "./$3" ] && chmod 0444 "./$3") ||',
    '    { echo "cannot make $1/$2/$3 read-only" >&2; exit 1; }',
    "  shift 3",
    "done",
  ].join("\n");
  return [
    "bash",
    "-c",
    script,
    "agent-runtime-write-files",
    String(listLength),
    ...readOnly.flatMap(({ root, dir, name }) => [root, dir, name]),
  ];
}

/** A file of a batch: its area root, its folder below the root ("" for the root) and its name. */
export interface FileTarget {
  readonly root: string;
  readonly dir: string;
  readonly name: string;
}

/** Prints a regular file; exits with `NOT_A_FILE_EXIT_CODE` when the path is not one. */
export function readFileCommand(agent: AgentIdentity, path: string): string[] {
  return [
    ...asAgent(agent),
    "sh",
    "-c",
    `[ -f "$1" ] || exit ${NOT_A_FILE_EXIT_CODE}; exec cat -- "$1"`,
    "agent-runtime-read",
    path,
  ];
}

/** Exit code of `fileSizeCommand` when the path names something that is not a regular file. */
export const NOT_REGULAR_EXIT_CODE = 65;

/**
 * Prints the size in bytes of a regular file (a symlink followed with the
 * agent's rights); exits with `NOT_A_FILE_EXIT_CODE` when nothing is there
 * and with `NOT_REGULAR_EXIT_CODE` when it is not a regular file.
 */
export function fileSizeCommand(agent: AgentIdentity, path: string): string[] {
  return [
    ...asAgent(agent),
    "sh",
    "-c",
    `[ -e "$1" ] || exit ${NOT_A_FILE_EXIT_CODE}; [ -f "$1" ] || exit ${NOT_REGULAR_EXIT_CODE}; exec stat -L -c %s -- "$1"`,
    "agent-runtime-stat",
    path,
  ];
}

/**
 * Prints `count` bytes of a file from byte `start` (fewer when it ends
 * first), seeking rather than reading what comes before. The file is opened
 * non-blocking, so a name swapped for a FIFO ends the read instead of
 * waiting on it.
 */
export function readRangeCommand(agent: AgentIdentity, path: string, start: number, count: number): string[] {
  return [
    ...asAgent(agent),
    "dd",
    `if=${path}`,
    "iflag=skip_bytes,count_bytes,nonblock",
    `skip=${start}`,
    `count=${count}`,
    "bs=1M",
    "status=none",
  ];
}

/** Marks of `readFilesCommand`'s report: the path is missing, not a regular file, or not readable. */
export const READ_FILES_REPORT = { missing: "M", notRegular: "N", unreadable: "U" } as const;

/**
 * Reads the files whose absolute paths come NUL-terminated on stdin, as the
 * agent user (symlinks are followed with the agent's rights, as `cat`
 * would). Stdout is first a report of the paths it will not archive, each a
 * NUL-terminated record of a `READ_FILES_REPORT` mark and the path, ended by
 * an empty record; then a GNU tar of the others, member names the absolute
 * paths as given, each a regular file (hard links and symlinks resolved).
 * A path that changed between the report and tar may be missing from the
 * tar (then tar exits non-zero and says why on stderr) or be another type.
 */
export function readFilesCommand(agent: AgentIdentity): string[] {
  const { missing, notRegular, unreadable } = READ_FILES_REPORT;
  const script = [
    "files=()",
    'while IFS= read -r -d "" p; do',
    `  if [ -f "$p" ]; then if [ -r "$p" ]; then files+=("$p"); else printf '${unreadable}%s\\0' "$p"; fi`,
    `  elif [ -e "$p" ]; then printf '${notRegular}%s\\0' "$p"`,
    `  else printf '${missing}%s\\0' "$p"; fi`,
    "done",
    "printf '\\0'",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'if [ ${#files[@]} -gt 0 ]; then printf "%s\\0" "${files[@]}"; fi |',
    "  exec tar --create --file=- --null --verbatim-files-from --no-unquote --no-recursion --absolute-names --dereference --hard-dereference --files-from=-",
  ].join("\n");
  return [...asAgent(agent), "bash", "-c", script, "agent-runtime-read-files"];
}

/** Lists regular files below `dir` as NUL-terminated `size mtime relative-path` records. */
export function listFilesCommand(agent: AgentIdentity, dir: string): string[] {
  return [
    ...asAgent(agent),
    "find",
    dir,
    ...["(", "-type", "f", "-printf", "f %s %T@ %P\\0", ")"],
    ...["-o", "(", "-type", "l", "-printf", "l %s %T@ %P\\0%l\\0", ")"],
  ];
}

/** Deletes a file or symlink (never its target); a missing file is not an error. */
export function deleteFileCommand(agent: AgentIdentity, path: string): string[] {
  return [...asAgent(agent), "rm", "-f", "--", path];
}

/**
 * Installs the runner bundle from stdin as `dir/name`, root-owned and
 * read-only (0444), replacing an earlier copy in one rename, so the agent can
 * neither change the runner nor catch it half-written.
 */
export function installRunnerCommand(dir: string, name: string): string[] {
  return [
    "sh",
    "-c",
    'umask 022 && mkdir -p -- "$1" && t=$(mktemp "$1/.runner-XXXXXX") && cat > "$t" && chmod 0444 "$t" && mv -f -- "$t" "$1/$2"',
    "agent-runtime-install-runner",
    dir,
    name,
  ];
}

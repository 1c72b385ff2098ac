"""`lab completion bash|zsh`: shell completion generated from the CLI's own parser.

Generated at run time, so every command and option (also those added later) completes,
with no second list to keep in step. Topology arguments complete files and the names of
the shipped examples, lab names and node names complete from the state directory
(`$OVN_LAB_STATE_DIR`, default /var/lib/ovn-lab), options with choices complete their
choices.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

STATE_DIR = "${OVN_LAB_STATE_DIR:-/var/lib/ovn-lab}"
FILE_WORDS = ("FILE", "DIR", "PATH")
LAB_DESTS = ("lab", "name")  # a lab name, as --lab N or an optional NAME
NODE_DESTS = ("node", "target")  # a node of a lab that is up (its directory in the state)


@dataclass
class Option:
    flags: list[str]
    help: str
    takes_value: bool
    choices: list[str] = field(default_factory=list)
    kind: str = ""  # "file", "lab", "node" or ""


@dataclass
class Command:
    name: str
    help: str
    options: list[Option]
    positionals: list[Option]  # flags = [dest]
    actions: list[Command] = field(default_factory=list)  # `lab image build`


def _kind(action: argparse.Action) -> str:
    metavar = str(action.metavar or "")
    if action.dest == "topology":
        return "topology"  # a file, or the name of a shipped example
    if any(w in metavar for w in FILE_WORDS):
        return "file"
    if action.dest in LAB_DESTS:
        return "lab"
    if action.dest in NODE_DESTS:
        return "node"
    return ""


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _commands(parser: argparse.ArgumentParser) -> list[Command]:
    sub = _subparsers(parser)
    if sub is None:
        return []
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    commands = []
    for name, child in sub.choices.items():
        options, positionals = [], []
        for action in child._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if action.help == argparse.SUPPRESS:  # hidden: a deprecated spelling
                continue
            choices = [str(c) for c in action.choices] if action.choices else []
            option = Option(
                list(action.option_strings) or [action.dest],
                action.help if action.help and action.help != argparse.SUPPRESS else "",
                action.nargs != 0,
                choices,
                _kind(action),
            )
            (options if action.option_strings else positionals).append(option)
        commands.append(Command(name, helps.get(name, ""), options, positionals, _commands(child)))
    return commands


def _examples() -> str:
    from lab.topology.examples import names

    return " ".join(names())


def _globals(parser: argparse.ArgumentParser) -> list[Option]:
    return [
        Option(list(a.option_strings), a.help or "", a.nargs != 0)
        for a in parser._actions
        if a.option_strings
    ]


# --- bash ---------------------------------------------------------------------------------------


def bash(parser: argparse.ArgumentParser) -> str:
    commands = _commands(parser)
    global_words = " ".join(f for o in _globals(parser) for f in o.flags)
    cases = []
    for cmd in commands:
        words = [f for o in cmd.options for f in o.flags]
        words += [a.name for a in cmd.actions]
        values = []
        for o in cmd.options:
            if not o.takes_value:
                continue
            pattern = "|".join(o.flags)
            if o.choices:
                values.append(f'{pattern}) _lab_words "{" ".join(o.choices)}"; return;;')
            elif o.kind == "lab":
                values.append(f"{pattern}) _lab_labs; return;;")
            else:
                values.append(f"{pattern}) _lab_files; return;;")
        kinds = {p.kind for p in cmd.positionals}
        choices = [c for p in cmd.positionals for c in p.choices]
        if choices:
            positional = f'_lab_words "{" ".join(choices)}"'
        elif "topology" in kinds:
            positional = "_lab_topologies"
        elif "file" in kinds:
            positional = "_lab_files"
        elif "lab" in kinds:
            positional = "_lab_labs"
        elif "node" in kinds:
            positional = "_lab_nodes"
        else:
            positional = ":"
        value_case = "".join(f"        {v}\n" for v in values)
        complete_words = f'_lab_words "{" ".join(words)}"'
        if positional == ":":  # options only
            tail = f"      {complete_words};;"
        else:
            tail = f"      if [[ $cur == -* ]]; then {complete_words}; else {positional}; fi;;"
        cases.append(f'    {cmd.name})\n      case "$prev" in\n{value_case}      esac\n{tail}')
    names = " ".join(c.name for c in commands)
    examples = _examples()
    return f"""# bash completion for lab (ovn-lab). Load it with:
#   source <(lab completion bash)
# or save it as ~/.local/share/bash-completion/completions/lab
_lab_words() {{ COMPREPLY=($(compgen -W "$1" -- "$cur")); }}
_lab_files() {{ COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; }}
_lab_topologies() {{  # files, and the shipped examples by name
  COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "{examples}" -- "$cur"))
  compopt -o filenames 2>/dev/null
}}
_lab_labs() {{
  local dir="{STATE_DIR}" labs=""
  [[ -d $dir ]] && labs=$(cd "$dir" && ls -d -- */ 2>/dev/null | tr -d /)
  COMPREPLY=($(compgen -W "$labs" -- "$cur"))
}}
_lab_nodes() {{
  local dir="{STATE_DIR}" nodes=""
  [[ -d $dir ]] && nodes=$(cd "$dir" && ls -d -- */*/ 2>/dev/null | cut -d/ -f2 |
    grep -vx -e checks -e pki)
  COMPREPLY=($(compgen -W "$nodes" -- "$cur"))
}}
_lab() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${{COMP_WORDS[i]}}" in -*) ;; *) cmd="${{COMP_WORDS[i]}}"; break;; esac
  done
  if [[ -z $cmd ]]; then
    _lab_words "{global_words} {names}"
    return
  fi
  case "$cmd" in
{chr(10).join(cases)}
  esac
}}
complete -F _lab lab
"""


# --- zsh ----------------------------------------------------------------------------------------


def _z(text: str) -> str:
    """Text inside a single-quoted _arguments spec: no quote, bracket or colon breaks it."""
    text = text.replace("'", "'\\''").replace("[", "(").replace("]", ")").replace(":", " -")
    return " ".join(text.split())


def _zsh_action(o: Option) -> str:
    if o.choices:
        return f"({' '.join(o.choices)})"
    if o.kind == "lab":
        return "_lab_labs"
    if o.kind == "node":
        return "_lab_nodes"
    if o.kind == "file":
        return "_files"
    if o.kind == "topology":
        return f'_alternatives "files:file:_files" "examples:example:({_examples()})"'
    return " "


def _zsh_specs(cmd: Command) -> list[str]:
    specs = []
    for o in cmd.options:
        value = f":{o.flags[-1].lstrip('-')}:{_zsh_action(o)}" if o.takes_value else ""
        for flag in o.flags:
            specs.append(f"'{flag}[{_z(o.help)}]{value}'")
    for index, p in enumerate(cmd.positionals, 1):
        if p.flags[0] in ("command", "args", "rest"):
            specs.append("'*::arguments:_normal'")
        else:
            specs.append(f"'{index}:{_z(p.help) or p.flags[0]}:{_zsh_action(p)}'")
    if cmd.actions:
        listing = " ".join(f'{a.name}\\:"{_z(a.help).replace(chr(34), "")}"' for a in cmd.actions)
        specs.append(f"'1:action:(({listing}))'")
    return specs


def zsh(parser: argparse.ArgumentParser) -> str:
    commands = _commands(parser)
    listing = "\n".join(f"    '{c.name}:{_z(c.help)}'" for c in commands)
    global_specs = " \\\n    ".join(
        f"'{flag}[{_z(o.help)}]'" for o in _globals(parser) for flag in o.flags
    )
    cases = "\n".join(
        f"        {c.name}) _arguments \\\n          "
        + " \\\n          ".join(_zsh_specs(c) or ["'*: :'"])
        + " ;;"
        for c in commands
    )
    return f"""#compdef lab
# zsh completion for lab (ovn-lab). Load it with:
#   source <(lab completion zsh)     # after compinit; or save it as _lab in a directory of $fpath
_lab_labs() {{
  local -a labs
  labs=({STATE_DIR}/*(N/:t))
  compadd -a labs
}}
_lab_nodes() {{
  local -a nodes
  nodes=({STATE_DIR}/*/*(N/:t))
  compadd -a ${{nodes:#(checks|pki)}}
}}
_lab() {{
  local -a commands
  commands=(
{listing}
  )
  local curcontext="$curcontext" state line
  _arguments -C \\
    {global_specs} \\
    '1: :->command' \\
    '*:: :->args'
  case $state in
    command) _describe -t commands 'lab command' commands ;;
    args)
      case $words[1] in
{cases}
      esac ;;
  esac
}}
if (( $+functions[compdef] )); then compdef _lab lab; else _lab "$@"; fi
"""


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    return bash(parser) if shell == "bash" else zsh(parser)


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell, args.root_parser))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "completion",
        help="print shell completion: source <(lab completion bash)",
        description="Print a completion script for bash or zsh, generated from lab's own "
        "commands. Example: `source <(lab completion bash)`, or save `lab completion zsh` "
        "as _lab in a directory of $fpath.",
    )
    p.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete for")
    p.set_defaults(func=cmd_completion)

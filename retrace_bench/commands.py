"""A user's command (--program, --app-cmd): its template filled in and split into words, refused
when it has shell syntax, and wrapped so that it records."""

from __future__ import annotations

import shlex
from pathlib import Path

from retrace_bench import facts


class CommandError(ValueError):
    """A command (--program, --app-cmd) that cannot run at all (said before anything runs)."""


def fill_template(template: str, python: str, port: int | None = None, variables: dict | None = None) -> str:
    """{python} (and {port}, and the placeholders of the services whose `variables` are given) filled
    in; any other braces (JSON in an argument) are left as they are."""
    text = template.replace("{python}", shlex.quote(python))
    for name, placeholder in facts.SERVICE_PLACEHOLDERS.items():
        value = (variables or {}).get(facts.SERVICE_VARIABLES[name][0])
        if placeholder in text and value:
            text = text.replace(placeholder, shlex.quote(value))
    return text.replace("{port}", str(port)) if port is not None else text


def placeholder_problem(template: str, names) -> str | None:
    """A service placeholder in the command whose service is not asked for (--services), or None."""
    unasked = [p for n, p in facts.SERVICE_PLACEHOLDERS.items() if p in template and n not in names]
    if unasked:
        wanted = [n for n, p in facts.SERVICE_PLACEHOLDERS.items() if p in unasked]
        return f"the command has {', '.join(unasked)}: add --services {','.join(wanted)}"
    return None


def split_command(template: str, python: str, port: int | None = None, variables: dict | None = None) -> list[str]:
    """The command's words (it is run directly, not by a shell); shell syntax is refused."""
    try:
        argv = shlex.split(fill_template(template, python, port, variables))
        operator = shell_operator(template)
    except ValueError as error:
        raise CommandError(f"cannot split the command {template!r}: {error}") from None
    if operator:
        raise CommandError(f"the command {template!r} has the shell syntax {operator!r}, but it is not run by a "
                           "shell: quote it if it is an argument, or wrap the command in a script "
                           "(or bash -c '...')")
    if not argv:
        raise CommandError("an empty command")
    return argv


def shell_operator(template: str) -> str | None:
    """The first unquoted shell operator (>, |, ;, &&, <, ...) in a command, or None."""
    lexer = shlex.shlex(template, posix=False, punctuation_chars=True)
    lexer.whitespace_split = True
    for token in lexer:
        if token and set(token) <= set("();<>|&"):
            return token
    return None


def is_python(argv: list[str], python: str) -> bool:
    return argv[0] == python or Path(argv[0]).name.startswith("python")


def launcher_refusal(argv: list[str], cwd: str) -> str | None:
    """Why Retrace's launcher would refuse this Python command (facts.LAUNCHER_FORMS), with the form
    that records; None for a command it runs."""
    if len(argv) < 2 or argv[1] in facts.LAUNCHER_FORMS or argv[1].endswith(facts.LAUNCHER_SCRIPT_SUFFIX):
        return None
    first, target = argv[1], Path(cwd, argv[1])
    if first.startswith("-"):
        way = (f"it takes no interpreter option such as {first}: drop it, or set it through the environment "
               "(PYTHONUNBUFFERED=1 for -u, PYTHONOPTIMIZE=1 for -O, PYTHONWARNINGS for -W)")
    elif target.is_dir() and (target / "__main__.py").is_file() and target.name.isidentifier() \
            and target.resolve().parent == Path(cwd).resolve():
        way = f"run the folder as a module: {{python}} -m {target.name}"
    elif target.is_dir():
        way = "run its package with {python} -m PACKAGE from the folder that holds it, or its .py script"
    elif first.endswith(".pyz"):
        way = "unpack the archive and run its module with {python} -m MODULE, or its .py script"
    else:
        way = f"give the script a name that ends in .py (a copy named {target.name}.py)"
    return (f"Retrace's launcher records only {{python}} -m MODULE, {{python}} -c CODE or a file ending in .py "
            f"(it refuses {first!r} and exits 0, recording nothing): {way}")


def recorded_command(argv: list[str], python: str, base_env: dict, recording: Path | None
                     ) -> tuple[list[str], dict, str | None]:
    """A command line and environment that record to `recording` (None: run plainly), and how.

    A Python command is wrapped in `python -m retracesoftware --recording P --`, which records with
    or without Retrace's env hook; any other command gets RETRACE=1 and RETRACE_RECORDING=P, which
    the env hook (`python -m retracesoftware enable-hook`) needs in the Python it starts. Whether it
    really recorded is told by the trace afterwards."""
    env = dict(base_env)
    if recording is None:
        return argv, env, None
    if is_python(argv, python):
        return [argv[0], "-m", "retracesoftware", "--recording", str(recording), "--", *argv[1:]], env, None
    env.pop(facts.HOOK_DISABLE_VARIABLE, None)
    env.update(RETRACE="1", RETRACE_RECORDING=str(recording))
    return argv, env, "recorded through Retrace's env hook (RETRACE=1, RETRACE_RECORDING)"


def command_name(argv: list[str], python: str) -> str:
    """A command's name in the summary: its script, or `python -m module`, or its program."""
    if is_python(argv, python) and len(argv) > 1:
        if argv[1] in ("-m", "-c") and len(argv) > 2:
            return f"python {argv[1]} {argv[2][:30]}"
        return Path(argv[1]).name
    return Path(argv[0]).name

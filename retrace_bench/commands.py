"""A user's command (--program, --app-cmd): its template filled in and split into words, refused
when it has shell syntax, and wrapped so that it records."""

from __future__ import annotations

import shlex
from pathlib import Path

from retrace_bench import facts


class CommandError(ValueError):
    """A command (--program, --app-cmd) that cannot run at all (said before anything runs)."""


def fill_template(template: str, python: str, port: int | None = None) -> str:
    """{python} (and {port}) filled in; any other braces (JSON in an argument) are left as they are."""
    text = template.replace("{python}", shlex.quote(python))
    return text.replace("{port}", str(port)) if port is not None else text


def split_command(template: str, python: str, port: int | None = None) -> list[str]:
    """The command's words (it is run directly, not by a shell); shell syntax is refused."""
    try:
        argv = shlex.split(fill_template(template, python, port))
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

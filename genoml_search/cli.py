"""The `genoml-search` command line: the typer app, global options and the one error policy of all commands.

Every command lives in :mod:`genoml_search.commands` (one module each, thin: parse flags, call the API, print).
:func:`main` turns what goes wrong into what a user should see: usage errors as click prints them (naming the
flag, ``Try 'genoml-search CMD --help'``, exit 2), a :class:`UserError` as one line (exit 2), Ctrl-C as one line
(exit 130), anything unexpected as one line (exit 1; ``-vvv`` shows the traceback).
"""
from __future__ import annotations

import errno
import logging
import re
import sys
import traceback
from typing import Annotated

import typer

from genoml_search.versions import __version__
from genoml_search.errors import UserError
from genoml_search.terminal import console, err_console

PROG = "genoml-search"
# rich_markup_mode=None: help texts are plain text, so TOML table names like [study] are shown, not eaten as markup
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="AutoML for genomics: PLINK cohorts to honest, tuned predictive models.")
STATE = {"verbosity": 0}
VERBOSE = re.compile(r"^-v+$")
INTERRUPTED = "interrupted: outputs are unchanged and the study is consistent; rerun to resume"

__all__ = ["app", "main", "console", "err_console"]


def _version(value: bool) -> None:
    if value:
        print(f"genoml-search {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="-v warnings, -vv info, -vvv debug and full tracebacks (also "
                                              "accepted after the command)")] = 0,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """genoml-search: munge -> run -> status/report -> predict."""
    STATE["verbosity"] = verbose
    level = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    import optuna

    optuna.logging.set_verbosity({0: optuna.logging.ERROR, 1: optuna.logging.WARNING,
                                  2: optuna.logging.INFO}.get(verbose, optuna.logging.DEBUG))


def _register_commands() -> None:
    from genoml_search.commands import register_all

    register_all(app)


_register_commands()


def hoist_verbosity(args: list[str]) -> list[str]:
    """Move ``-v``/``-vv``/``--verbose`` given after the command name in front of it, where the global option
    is parsed (``genoml-search run DS --out R -vv`` works like ``genoml-search -vv run DS --out R``)."""
    if "--" in args:
        cut = args.index("--")
        head, tail = args[:cut], args[cut:]
    else:
        head, tail = args, []
    flags = [a for a in head if VERBOSE.match(a) or a == "--verbose"]
    return flags + [a for a in head if a not in flags] + tail


def click_exception_class() -> type[BaseException]:
    """The ClickException class of the click that typer uses (typer >= 0.16 bundles its own copy of click)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main(args: list[str] | None = None) -> None:
    """Console entry point: every outcome becomes an exit code and, on failure, a short message on stderr."""
    from genoml_search.fileio import install_signal_handlers

    install_signal_handlers()  # SIGTERM cleans up temporaries like Ctrl-C
    from genoml_search.argv import expand_indep_pairwise

    argv = expand_indep_pairwise(hoist_verbosity(list(sys.argv[1:] if args is None else args)))
    try:
        result = app(args=argv, prog_name=PROG, standalone_mode=False)
        # With standalone_mode=False, click returns (not raises) the code of Ctrl-C (130, after its Abort) and Exit.
        if result == 130:
            raise KeyboardInterrupt
        if isinstance(result, int) and result:
            sys.exit(result)
        from genoml_search.deprecation import flush

        flush()  # deprecated spellings: noted once the command succeeded (an error stays one line)
    except KeyboardInterrupt:
        _interrupted()
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        _interrupted()
    except Exception as error:
        _fail(error, argv)


def _interrupted() -> None:
    err_console.print(INTERRUPTED, soft_wrap=True)
    sys.exit(130)


def _fail(error: Exception, argv: list[str]) -> None:
    """Print one line (or click's usage message) for ``error`` and exit with its code."""
    if isinstance(error, click_exception_class()):
        if getattr(error, "exit_code", 1) == 2 and getattr(error, "ctx", True) is None:
            # a few click errors (an option given too few values) carry no context, hence no help hint
            command = next((a for a in argv if a in _command_names()), None)
            err_console.print(f"Try '{PROG}{' ' + command if command else ''} --help' for help.\n")
        error.show()  # type: ignore[attr-defined]
        sys.exit(getattr(error, "exit_code", 2))
    if isinstance(error, OSError) and not isinstance(error, UserError):
        error = _os_error_as_user_error(error) or error
    if isinstance(error, UserError):
        if STATE["verbosity"] >= 3:
            traceback.print_exc()
        err_console.print(f"error: {error}", soft_wrap=True)
        sys.exit(2)
    if STATE["verbosity"] >= 3:
        raise error
    text = " ".join(str(error).split())
    err_console.print(f"internal error: {type(error).__name__}: {text} (run with -vvv for the traceback)",
                      soft_wrap=True)
    sys.exit(1)


def _command_names() -> set[str]:
    import typer.main

    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _os_error_as_user_error(error: OSError) -> UserError | None:
    """A file-system refusal (no space, permission, name too long, read-only) is the user's to fix."""
    reasons: dict[int, str] = {errno.ENOSPC: "no space left on the device; free some or write elsewhere",
                               errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
                               errno.EACCES: "permission denied; choose a location you can write",
                               errno.EPERM: "operation not permitted; choose a location you can write",
                               errno.EROFS: "read-only file system; choose a writable location",
                               errno.ENAMETOOLONG: "file name too long; choose a shorter name",
                               errno.ENOTDIR: "a part of the path is not a directory; check the path",
                               errno.EISDIR: "is a directory where a file was expected; check the path"}
    reason = reasons.get(error.errno or -1)
    if reason is None:
        return None
    return UserError(reason, error.filename)


if __name__ == "__main__":
    main()

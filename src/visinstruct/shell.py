"""How the `visinstruct` commands end: a user's error is one line and an exit code, never a
traceback (shared by every command group)."""

from __future__ import annotations

import errno
import sqlite3
import sys
from pathlib import Path

import click
from rich.console import Console

from visinstruct.errors import EXIT_INTERRUPTED, EXIT_USAGE, VisinstructError

console = Console(stderr=True)


def run_command(command: click.Command, argv: list[str] | None, prog_name: str) -> None:
    """Run a click command the way the `visinstruct` entry point does (one-line errors, exit codes)."""
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        console.print("interrupted; run the same command again to resume")
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except VisinstructError as e:
        _error(str(e))
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to resume")
        sys.exit(EXIT_INTERRUPTED)
    except sqlite3.DatabaseError as e:
        from visinstruct.store import damaged, last_opened

        _error(str(damaged(last_opened() or Path("run.db"), e)) if "full" not in str(e) else _disk_full(e))
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        _error(_disk_full(e))


def _disk_full(e: BaseException) -> str:
    where = getattr(e, "filename", None) or "the disk"
    return f"{where}: the disk is full; free some space and run the same command again to resume"


def _error(message: str) -> None:
    console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(EXIT_USAGE)

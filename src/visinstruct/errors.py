"""Errors a user can act on: the CLI prints their message as one line, with no traceback.

Exit codes of the `visinstruct` command: 0 everything done; 2 a bad recipe, input or run
directory (nothing was changed); 3 some units failed or gave up (the last line says how many
and how to list them); 4 the budget was spent first; 130 interrupted.
"""

EXIT_OK, EXIT_USAGE, EXIT_FAILED, EXIT_BUDGET, EXIT_INTERRUPTED = 0, 2, 3, 4, 130


class VisinstructError(Exception):
    """Base of the errors whose message is meant for the user."""


class RecipeError(VisinstructError):
    """The recipe is wrong: names the file, the field and the problem."""


class RunDirError(VisinstructError):
    """The run directory cannot be used."""


class ExportError(VisinstructError):
    """An export cannot be written."""


class ReplyError(VisinstructError):
    """A model's reply cannot be used (it does not parse, or says something impossible)."""


class DiskFull(VisinstructError):
    """The disk filled up while writing; the run resumes once space is freed."""

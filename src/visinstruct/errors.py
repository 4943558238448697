"""Errors a user can act on: the CLI prints their message as one line, with no traceback."""


class VisinstructError(Exception):
    """Base of the errors whose message is meant for the user."""


class RecipeError(VisinstructError):
    """The recipe is wrong: names the file, the field and the problem."""


class RunDirError(VisinstructError):
    """The run directory cannot be used."""


class ExportError(VisinstructError):
    """An export cannot be written."""

"""Errors negsamp raises for bad input. The CLI prints them as one line, no traceback."""


class NegsampError(Exception):
    """Base class: a problem with the user's input, stated in one sentence."""


class InputError(NegsampError, ValueError):
    """A file, row or field the user gave is wrong. The message names which."""


class UnknownNameError(NegsampError, KeyError):
    """An unknown task, method, model or parameter. The message lists the known ones."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""

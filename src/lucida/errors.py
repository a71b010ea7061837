"""The one error type for problems a user can fix."""


class LucidaError(Exception):
    """A problem the user can fix; its message says what to do.

    The CLI prints it on one line and exits non-zero. Anything else escaping is a bug.
    """

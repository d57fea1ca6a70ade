"""The one exception type that the CLI turns into a clean error line and exit status 2."""


class InputError(ValueError):
    """Bad user input: a value, a file or an option that cannot be used.

    The message names the offending argument, e.g. ``"--J: must be >= 1, got 0"``.
    """

"""One exception type for bad user input, so stages can print a one-line error and exit 1."""


class UserError(Exception):
    """Bad input from the user (data, params): the message names the file, row or key."""

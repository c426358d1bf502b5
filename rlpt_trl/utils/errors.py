"""The one exception type rlpt_trl raises for bad user input."""


class RlptError(ValueError):
    """A user-facing error whose message is a complete one-line explanation (file, column or value named)."""

"""The one exception type for mistakes a user can make and fix."""


class RagError(Exception):
    """A user-facing error whose message says what to do; shown without a traceback."""

"""The one exception type for mistakes a user can make and fix."""

import sys


class RagError(Exception):
    """A user-facing error whose message says what to do; shown without a traceback."""


def run_as_script(main, error_status: int = 1) -> None:
    """Exit with ``main()``'s status, or with one ``error:`` line on stderr and
    ``error_status`` for a RagError (the ``if __name__ == "__main__"`` of the project's
    ``python -m`` tools)."""
    try:
        raise SystemExit(main())
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(error_status) from exc

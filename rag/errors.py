"""The one exception type for mistakes a user can make and fix."""


class RagError(Exception):
    """A user-facing error whose message says what to do; shown without a traceback."""


def run_as_script(main) -> None:
    """Exit with ``main()``'s status, or with one ``error:`` line for a RagError (the
    ``if __name__ == "__main__"`` of the project's ``python -m`` tools)."""
    try:
        raise SystemExit(main())
    except RagError as exc:
        raise SystemExit(f"error: {exc}") from exc

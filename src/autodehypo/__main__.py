"""``python -m autodehypo``; the ``autodehypo`` command starts here too."""

import sys


def main() -> None:
    # Importing the CLI takes a moment (numpy, the algorithms): a Ctrl-C then gets one line, no traceback.
    try:
        from .cli import entry_point
    except KeyboardInterrupt:
        sys.stderr.write("autodehypo: interrupted while starting; nothing was done\n")
        sys.exit(130)
    entry_point()


if __name__ == "__main__":
    main()

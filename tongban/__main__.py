"""``python -m tongban`` runs the command line."""

from tongban.cli import main

if __name__ == "__main__":  # helper processes import this module again without running it
    raise SystemExit(main())

"""Subcommands of ``python -m dlcore``; each module has ``add_parsers(subparsers)``."""

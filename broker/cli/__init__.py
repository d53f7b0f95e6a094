"""The ``dualtrack`` command line (typer + rich). ``main.py`` holds the commands."""

"""`python -m pyrunc`: the CLI entry point (CLI process)."""
from pyrunc.cli import run_and_exit

run_and_exit()

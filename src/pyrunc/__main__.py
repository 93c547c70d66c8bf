"""`python -m pyrunc`: the CLI entry point (CLI process)."""
from pyrunc.cli import main

raise SystemExit(main())

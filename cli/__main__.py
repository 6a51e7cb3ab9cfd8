"""`python -m cli`: the command line."""

from cli.main import app

app()

"""Entry point for `python -m retrieval`."""
from retrieval.cli import app

app()

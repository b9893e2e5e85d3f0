"""Entry point for `python -m retrieval` (composed in runtime.cli: `seed` also writes pakn's vectors)."""
from runtime.cli import retrieval_main

retrieval_main()

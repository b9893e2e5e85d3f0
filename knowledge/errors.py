"""Errors raised while loading the knowledge base.

KnowledgeError            a source file is missing or invalid (message names the file and line)
"""


class KnowledgeError(Exception):
    """A knowledge source could not be loaded; the message names the file (and line)."""

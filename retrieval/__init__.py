"""Retrieval: find the evidence (plan sections, task rows, procedure fields) for a question.

Import `retrieval.engine` for `RetrievalEngine` (built once per process by runtime.services); this package import stays cheap.
"""

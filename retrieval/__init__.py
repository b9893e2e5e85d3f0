"""Retrieval: find the evidence (plan sections, task rows, procedure fields) for a question.

Import `retrieval.engine` for `RetrievalEngine` / `get_engine`; this package import stays cheap.
"""

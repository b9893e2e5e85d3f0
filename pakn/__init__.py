"""PAKN (phản ánh, kiến nghị) intake: triage of a citizen's petition.

`pakn.triage.triage()` classifies a petition, recognises the locality it names, routes it to an
office and computes its due date; persistence and delivery live in other modules of this package.

The classifier, the locality recogniser and the router fold text with the one text layer
(`vntext.fold_words`), so citizens' accent-free spellings meet the same forms everywhere.
"""
from __future__ import annotations

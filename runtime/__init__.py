"""The composition root: the one place that puts the product's packages together.

Feature packages (bot, console, pakn, knowledge, retrieval, webhooks) do not import each other
to be assembled; this package does it — the command line (`runtime.cli`) and, for a running
process, its services.
"""

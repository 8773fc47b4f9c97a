"""What to compute, free of any wire format: protocols produce these, engines consume them.

One module per kind of work; import from the module (`outcrop.tasks.embedding`).
"""

"""``make bench``: kehu against the floor of what Python and PostgreSQL can do (run: python -m tests.bench)."""

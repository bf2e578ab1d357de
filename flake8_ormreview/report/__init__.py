"""The dated markdown review: ``flake8 --format=orm-review`` and ``orm-review``."""

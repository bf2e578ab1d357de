"""flake8-ormreview: a database-performance review of Django and SQLAlchemy code, as a flake8 plugin."""

__version__ = "0.1.0"

from .analysis import analyze  # noqa: E402

__all__ = ["analyze", "__version__"]

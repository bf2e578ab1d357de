"""flake8 formatter ``orm-review``: normal terminal lines, plus the dated review."""

from flake8.formatting.default import Default


class OrmReviewFormatter(Default):
    """Prints flake8's default lines (the review writer comes with the report work)."""

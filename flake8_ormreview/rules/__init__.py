"""Rule modules, one per concern.  Importing this package registers every rule."""

from . import (  # noqa: F401
    plugin_errors,
    schema,
    queries,
    transactions,
    migrations,
    security,
    maintainability,
)

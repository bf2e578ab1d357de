"""ORM000: the plugin's own failures, reported instead of crashing flake8."""

from ..registry import Category, Severity, declare

declare(
    "ORM000",
    "analysis-error",
    Severity.MINOR,
    Category.PLUGIN,
    "flake8-ormreview could not analyse this file ({error}); other findings are unaffected, please report it",
    """
    ## What it does
    Reports an internal error of flake8-ormreview while analysing this file,
    once per file, with the exception type.

    ## Why is this bad?
    Some ORM findings may be missing for this file. The error never aborts
    the flake8 run and never hides findings in other files.

    ## Example
    There is no code pattern that should trigger this rule; any occurrence is
    a bug in the plugin. Please report it with the file (or a reduced copy).

    ## Use instead
    Report the problem; meanwhile silence it with `# noqa: ORM000` on line 1
    or `--extend-ignore=ORM000`.

    ## References
    - [flake8 plugin error handling](https://flake8.pycqa.org/en/latest/plugin-development/)
    """,
)

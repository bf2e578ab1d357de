"""The "Comprehensive ORM Optimization Review" in markdown, built from per-file records.

The headings, their order and the bullet labels follow the template in
``SEED-review-prompt.md``; every part is filled from the findings and the
inventory of the reviewed files.  Same records, same date -> same bytes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..registry import RULES, all_rules
from .markdown import Document, code, escape, validate
from .records import ReportFinding, findings_of, severity_of
from .scoring import SEVERITY_ORDER, SEVERITY_WEIGHT, flake8_counts, grade, performance_score

SCORE_DOCS = "https://github.com/flake8-ormreview/flake8-ormreview/blob/main/docs/report.md#performance-score"
GRADE_DOCS = "https://github.com/flake8-ormreview/flake8-ormreview/blob/main/docs/report.md#grades"
MAX_ISSUES_PER_RULE = 5  # further groups of one rule are merged into one issue listing every location
MAX_EXAMPLES_PER_RULE = 5  # improvement opportunities: messages shown per rule, the rest as locations
LOCATIONS_INLINE = 3
OVERFLOW = "\0more"  # the issue that collects a rule's groups beyond MAX_ISSUES_PER_RULE

TITLE = "🗄️ Database Schema & ORM Optimization Review"
H_DASHBOARD = "📊 Technical Dashboard"
H_EXCELLENCE = "🌟 Optimization Excellence Identified"
H_CRITICAL = "🚨 Mission-Critical Issues (Deployment Blockers)"
H_OPPORTUNITIES = "⚠️ Technical Improvement Opportunities"
H_TASKS = "🏁 Implementation Tasks"
H_VALIDATION = "🎯 Review Excellence Validation"

# (subsection heading, [(bullet label, code prefixes)])
OPPORTUNITY_GROUPS = [
    ("Schema & Indexing", [("Composite Indexes", ("ORM1",)), ("Denormalization", ())]),
    (
        "Query Optimization",
        [
            ("N+1 Prevention", ("ORM201", "ORM202", "ORM203", "ORM208", "ORM210")),
            ("Aggregation & Annotation", ("ORM204", "ORM205", "ORM206", "ORM207", "ORM209")),
        ],
    ),
    ("Data Integrity & Security", [("Constraint Enforcement", ("ORM3",)), ("Sensitive Data", ("ORM5",))]),
    ("Migration Safety", [("Migration Safety", ("ORM4",))]),
    ("Maintainability", [("Model Organization & Documentation", ("ORM6", "ORM0"))]),
]

TASKS = [
    ("Add or optimize indexes as identified", ("ORM1",)),
    ("Refactor queries to prevent N+1 and improve aggregation", ("ORM2",)),
    ("Ensure migration safety and rollback support", ("ORM4",)),
    ("Update documentation and model comments", ("ORM6", "ORM0")),
    ("Enforce data integrity and protect sensitive data", ("ORM3", "ORM5")),
]

RISK = {
    "schema": "Performance Risk",
    "queries": "Performance Risk",
    "transactions": "Data Integrity Risk",
    "migrations": "Data Integrity Risk",
    "security": "Security Risk",
    "maintainability": "Maintainability Risk",
    "plugin": "Review Gap",
}

REMEDIATION = {
    "schema": "1. Apply the fix named at each location. 2. Generate the migration (`makemigrations` / `alembic revision --autogenerate`) and build the index concurrently on PostgreSQL. 3. Confirm with `EXPLAIN` that the lookup uses the index.",
    "queries": "1. Apply the eager load / batching named at each location. 2. Re-run the view or job with query logging on. 3. Pin the number of queries in a test.",
    "transactions": "1. Wrap the read and the writes in one `transaction.atomic` block (or one session transaction). 2. Lock the rows you read for update. 3. Add a concurrency test.",
    "migrations": "1. Split the change into expand and contract steps across two deploys. 2. Rewrite the operation as shown. 3. Rehearse the migration on a production-sized copy and time it.",
    "security": "1. Stop storing or building the value in plain form as shown. 2. Migrate existing rows (hash, encrypt or re-issue). 3. Rotate the exposed secrets.",
    "maintainability": "1. Apply the fix named at each location. 2. Re-run the review.",
    "plugin": "1. Report the internal error with the file. 2. Review the file by hand meanwhile.",
}

PREVENTION = {
    "schema": "Run `flake8 --extend-select=ORM` in pre-commit and CI; check every new foreign key (Django `ForeignKey`, SQLAlchemy `ForeignKey('table.id')`) for an index in review.",
    "queries": 'Keep ORM2xx enabled in CI; assert query counts in tests (`assertNumQueries`, an SQLAlchemy `before_cursor_execute` counter); use `lazy="raise"` on SQLAlchemy relationships.',
    "transactions": "Keep ORM3xx enabled in CI; review every function that writes twice for a transaction boundary.",
    "migrations": "Keep ORM4xx enabled on new migrations (`orm-migration-scope = leaf` for old ones); require a rollback plan in the deploy checklist.",
    "security": "Keep ORM5xx enabled in CI; secret scanning on the repository; parameterised SQL only.",
    "maintainability": "Keep ORM6xx enabled in CI.",
    "plugin": "Keep the plugin up to date.",
}


@dataclass
class Review:
    text: str
    document: Document


def _starts(code_: str, prefixes: tuple[str, ...]) -> bool:
    return bool(prefixes) and code_.startswith(prefixes)


def _rank(finding: ReportFinding) -> tuple:
    return (
        SEVERITY_ORDER[severity_of(finding.code)],
        finding.code,
        finding.path,
        finding.cell,
        finding.line,
        finding.col,
        finding.message,
    )


def _pct(part: int, whole: int) -> str:
    return f"{(100 * part) // whole}%" if whole else "n/a"


class ReviewBuilder:
    def __init__(self, records: dict[str, dict[str, Any]], date: str, paths: list[str], version: str = __version__) -> None:
        all_rules()
        self.records = {path: records[path] for path in sorted(records)}
        self.date = date
        self.paths = sorted(set(paths)) or ["."]
        self.version = version
        self.findings = findings_of(self.records)
        self.orm = [f for f in self.findings if f.code.startswith("ORM")]
        self.doc = Document()
        self.inventories = [r["inventory"] for r in self.records.values()]
        self.models = [m for inv in self.inventories for m in inv.get("models", [])]
        self.model_names = {m["name"] for m in self.models}
        self.query_sites: dict[str, int] = defaultdict(int)
        for inv in self.inventories:
            for name, count in inv.get("query_sites", {}).items():
                self.query_sites[name] += count
        self.examples = {}
        for path, record in self.records.items():
            for item in record.get("findings", []):
                if "example" in item:
                    self.examples[(path, item.get("cell", 0), item["line"], item["col"], item["code"], item["message"])] = item[
                        "example"
                    ]

    # -- helpers ----------------------------------------------------------------------

    def example_for(self, finding: ReportFinding) -> dict[str, Any] | None:
        return self.examples.get((finding.path, finding.cell, finding.line, finding.col, finding.code, finding.message))

    def rule_label(self, code_: str) -> str:
        rule = RULES.get(code_)
        return f"{code_} {rule.name}" if rule else code_

    def models_in_finding(self, finding: ReportFinding) -> list[str]:
        names = set()
        for model in self.models_by_path().get(finding.path, []):
            if not finding.cell and model["line"] <= finding.line <= model["end_line"]:
                names.add(model["name"])
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", finding.message):
            if word in self.model_names:
                names.add(word)
        # 'book.status' (a Django migration's model_name) or 'addresses.user_id' (a table).
        for owner in re.findall(r"'([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z_]", finding.message):
            names.update(m["name"] for m in self.models if owner.lower() in (m["name"].lower(), str(m.get("table", "")).lower()))
        example = self.example_for(finding)
        if example and not names:
            # Raw SQL names tables, not models.
            words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", example.get("current", "")))
            names.update(m["name"] for m in self.models if m.get("table") in words)
        return sorted(names)

    def enclosing_models(self, finding: ReportFinding) -> list[str]:
        if finding.cell:
            return []
        return sorted(
            m["name"] for m in self.models_by_path().get(finding.path, []) if m["line"] <= finding.line <= m["end_line"]
        )

    def models_by_path(self) -> dict[str, list[dict[str, Any]]]:
        if not hasattr(self, "_models_by_path"):
            self._models_by_path: dict[str, list[dict[str, Any]]] = {}
            for path, record in self.records.items():
                self._models_by_path[path] = record["inventory"].get("models", [])
        return self._models_by_path

    def table_of(self, name: str) -> str:
        for model in self.models:
            if model["name"] == name:
                return model.get("table") or name
        return name

    def locations(self, findings: list[ReportFinding]) -> str:
        spans = [code(f.span) for f in findings]
        if len(spans) <= LOCATIONS_INLINE:
            return ", ".join(spans)
        return f"{len(spans)} locations:\n" + "\n".join(f"  - {span}" for span in spans)

    # -- sections -------------------------------------------------------------------------

    def build(self) -> Review:
        self.title()
        self.dashboard()
        self.excellence()
        self.critical()
        self.opportunities()
        self.tasks()
        self.validation()
        text = self.doc.text()
        validate(self.doc, text)
        return Review(text, self.doc)

    def title(self) -> None:
        self.doc.heading(1, TITLE)
        counts: dict[str, int] = defaultdict(int)
        for inv in self.inventories:
            counts[inv.get("suffix", ".py")] += 1
        kinds = ", ".join(f"{counts[s]} {s}" for s in (".py", ".pyw", ".pyx", ".pxd", ".ipynb"))
        models_modules = sum(1 for inv in self.inventories if inv.get("models"))
        django = sum(1 for inv in self.inventories if inv.get("module_kind") == "django_migration")
        alembic = sum(1 for inv in self.inventories if inv.get("module_kind") == "alembic")
        paths = ", ".join(code(p) for p in self.paths[:5]) + (
            f" and {len(self.paths) - 5} more paths" if len(self.paths) > 5 else ""
        )
        self.doc.add(
            f"Reviewed {paths} on {self.date}: {len(self.records)} files ({kinds}); "
            f"{models_modules} models modules ({len(self.models)} models), {django} Django migrations, "
            f"{alembic} Alembic revisions; {len(self.findings)} findings ({len(self.orm)} ORM). "
            f"Generated by flake8-ormreview {escape(self.version)}."
        )

    def dashboard(self) -> None:
        self.doc.heading(2, H_DASHBOARD)
        total_sites = sum(self.query_sites.values())
        score = performance_score(self.orm, len(self.models), total_sites)
        perf = [f for f in self.orm if f.code.startswith(("ORM1", "ORM2"))]
        penalty = sum(SEVERITY_WEIGHT[severity_of(f.code)] for f in perf)
        size = max(1, len(self.models) + total_sites)
        formula = (
            f"⌊100 × S / (S + P)⌋ with S = {len(self.models)} models + {total_sites} query sites, P = {penalty}"
            if penalty
            else "no ORM1xx/ORM2xx finding"
        )
        self.doc.add(
            f"- **Performance Score**: {score}/100 — {len(perf)} ORM1xx/ORM2xx findings weighted by severity "
            f"(critical 5, major 2, minor 1) over {size} unit{'s' if size != 1 else ''} of ORM code: {formula} ([formula]({SCORE_DOCS}))"
        )
        flake8 = flake8_counts(self.findings)
        buckets = [
            ("Data Integrity", ("ORM3", "ORM4"), "ORM3xx/ORM4xx"),
            ("Scalability", ("ORM1", "ORM2"), "ORM1xx/ORM2xx"),
            ("Security", ("ORM5",), "ORM5xx"),
            ("Maintainability", ("ORM6", "ORM0") + tuple(flake8), "ORM6xx and flake8 E/W/F/C"),
        ]
        for label, prefixes, scope in buckets:
            selected = [
                f for f in self.findings if f.code.startswith(prefixes) and (f.code.startswith("ORM") or f.code[:1] in flake8)
            ]
            result = grade(selected)
            worst = (
                f"worst: {code(result.worst.code)} {escape(self.rule_name(result.worst.code))} at {code(result.worst.location)}"
                if result.worst
                else "nothing to report"
            )
            extra = ""
            if label == "Maintainability":
                extra = " (flake8 " + ", ".join(f"{family} {count}" for family, count in flake8.items()) + ")"
            self.doc.add(
                f"- **{label}**: grade {result.letter} — {result.summary} {scope} findings{extra}; {worst} ([grades]({GRADE_DOCS}))"
            )

    def rule_name(self, code_: str) -> str:
        rule = RULES.get(code_)
        return rule.name if rule else "flake8 finding"

    def excellence(self) -> None:
        self.doc.heading(2, H_EXCELLENCE)
        indexes = [ix for inv in self.inventories for ix in inv.get("indexes", [])]
        composite = [ix for ix in indexes if ix["composite"]]
        partial = [ix for ix in indexes if ix["partial"]]
        covering = [ix for ix in indexes if ix["include"]]
        if composite or partial or covering:
            shown = sorted({f"{ix['model']}({', '.join(ix['columns'])})" for ix in composite + partial + covering})
            sample = ", ".join(code(s) for s in shown[:6]) + (f" and {len(shown) - 6} more" if len(shown) > 6 else "")
            text = f"{len(composite)} composite, {len(partial)} partial and {len(covering)} covering indexes/constraints declared: {sample}"
        else:
            text = f"none found — no composite, partial or covering index is declared ({len(indexes)} single-column indexes/constraints)"
        self.doc.add(f"- ✅ **Indexing Strategy**: {text}")
        eager: dict[str, int] = defaultdict(int)
        aggregations = 0
        for inv in self.inventories:
            for name, count in inv.get("eager", {}).items():
                eager[name] += count
            aggregations += inv.get("aggregations", 0)
        if eager or aggregations:
            loaders = ", ".join(f"{code(name)} ×{count}" for name, count in sorted(eager.items()))
            text = f"{sum(eager.values())} eager-loading call sites ({loaders or 'none'}) and {aggregations} database-side `annotate`/`aggregate` calls"
        else:
            text = "none found — no eager loading (`select_related`, `prefetch_related`, `joinedload`, `selectinload`) and no database-side aggregation in the reviewed code"
        self.doc.add(f"- ✅ **Query Optimization**: {text}")
        migrations = [inv["migration"] for inv in self.inventories if inv.get("migration")]
        if migrations:
            reversible = sum(1 for m in migrations if m.get("reversible"))
            ops = [0, 0]
            for inv in self.inventories:
                if inv.get("migration"):
                    ops[0] += inv.get("index_ops", [0, 0])[0]
                    ops[1] += inv.get("index_ops", [0, 0])[1]
            concurrent = (
                f"{ops[1]} of {ops[0]} index operations concurrent ({_pct(ops[1], ops[0])})" if ops[0] else "no index operations"
            )
            text = f"{reversible} of {len(migrations)} migrations reversible ({_pct(reversible, len(migrations))}); {concurrent}"
        else:
            text = "none found — no Django migration or Alembic revision among the reviewed files"
        self.doc.add(f"- ✅ **Migration Safety**: {text}")
        concrete = [m for m in self.models]
        documented = sum(1 for m in concrete if m.get("docstring"))
        if concrete and documented:
            text = f"{documented} of {len(concrete)} models have a docstring ({_pct(documented, len(concrete))})"
        elif concrete:
            text = f"none found — none of the {len(concrete)} models has a docstring"
        else:
            text = "none found — no model classes among the reviewed files"
        self.doc.add(f"- ✅ **Documentation**: {text}")

    # -- critical issues ------------------------------------------------------------------

    def issue_groups(self) -> list[tuple[str, str, list[ReportFinding]]]:
        """(code, model or "", findings): one rule on one model is one issue."""
        groups: dict[tuple[str, str, str], list[ReportFinding]] = defaultdict(list)
        for finding in self.orm:
            if severity_of(finding.code) != "critical":
                continue
            models = self.enclosing_models(finding) or self.models_in_finding(finding)
            key_model = models[0] if len(models) == 1 else ""
            key = (finding.code, key_model, "" if key_model else finding.path)  # no model: one issue per rule and file
            groups[key].append(finding)
        ordered = sorted(groups.items(), key=lambda item: (item[0][0], min(_rank(f) for f in item[1])))
        result: list[tuple[str, str, list[ReportFinding]]] = []
        per_rule: dict[str, int] = defaultdict(int)
        for (code_, model, _), findings in ordered:
            per_rule[code_] += 1
            if per_rule[code_] > MAX_ISSUES_PER_RULE:
                last = result[-1]
                if last[1] != OVERFLOW:
                    result.append((code_, OVERFLOW, sorted(findings)))
                else:
                    result[-1] = (last[0], OVERFLOW, sorted(last[2] + findings))
            else:
                result.append((code_, model, sorted(findings)))
        return result

    def critical(self) -> None:
        self.doc.heading(2, H_CRITICAL)
        groups = self.issue_groups()
        if not groups:
            self.doc.add("No critical finding: nothing in the reviewed code blocks a deployment.")
            return
        for number, (code_, model, findings) in enumerate(groups, 1):
            self.issue(number, code_, model, findings)

    def issue(self, number: int, code_: str, model: str, findings: list[ReportFinding]) -> None:
        rule = RULES[code_]
        if model == OVERFLOW:
            subject = f"{len({f.path for f in findings})} more files"
        else:
            subject = f"{model} ({self.table_of(model)})" if model else findings[0].path
        more = f", {len(findings)} locations" if len(findings) > 1 else ""
        self.doc.heading(
            3, f"Issue {number}: {RISK[rule.category.value]} — {escape(rule.name)} on {escape(subject)} ({code_}{more})"
        )
        first = findings[0]
        why = " ".join(rule.docs.get("Why is this bad?", "").split())
        why = why.split(". ")[0].rstrip(".") + "." if why else rule.summary
        models = sorted({name for f in findings for name in self.models_in_finding(f)})
        if models:
            radius = "; ".join(
                f"{code(name)} (table {code(self.table_of(name))}, {self.query_sites.get(name, 0)} query sites in the reviewed code)"
                for name in models
            )
        else:
            radius = "no model could be resolved for this finding; the code at the locations above"
        self.doc.add(
            f"- **Location**: {self.locations(findings)}",
            f"- **Impact**: {escape(why)}",
            f"- **Technical Severity**: Critical - production incident risk ({escape(rule.category.title)}, {code_})",
            f"- **Root Cause**: {escape(first.message)}"
            + (f" (and {len(findings) - 1} more like it)" if len(findings) > 1 else ""),
            f"- **Blast Radius**: {radius}; {len(findings)} finding(s) in {len({f.path for f in findings})} file(s)",
            f"- **Remediation Strategy**: {self.remediation(rule.category.value, first.message, len(findings))}",
            f"- **Prevention Measures**: {PREVENTION[rule.category.value]}",
            "- **Implementation Example**:",
        )
        example = self.example_for(first) or {}
        current = example.get("current") or "# (source not available)"
        body = (
            f"# Current Implementation (Inefficient)  -- {first.location}\n{current}\n"
            f"# Improved Solution (Optimized)\n{example.get('improved') or rule.good_example.strip()}\n"
            f"# Additional Safeguards\n{example.get('safeguards') or '# Keep ' + code_ + ' enabled in CI.'}"
        )
        self.doc.block(body)

    @staticmethod
    def remediation(category: str, message: str, count: int) -> str:
        """The category's steps, with step 1 spelled out from the finding's own fix."""
        steps = REMEDIATION[category]
        fix = message.rsplit("; ", 1)[1].strip() if "; " in message else ""
        if fix and steps.startswith("1. "):
            where = f" (for each of the {count} locations, adapted to it)" if count > 1 else ""
            steps = f"1. {escape(fix[0].upper() + fix[1:]).rstrip('.')}{where}." + steps[steps.index(" 2. ") :]
        return steps

    # -- improvement opportunities --------------------------------------------------------

    def opportunities(self) -> None:
        self.doc.heading(2, H_OPPORTUNITIES)
        rest = [f for f in self.orm if severity_of(f.code) != "critical"]
        for heading, bullets in OPPORTUNITY_GROUPS:
            self.doc.heading(3, heading)
            for label, prefixes in bullets:
                if label == "Denormalization":
                    self.denormalization()
                    continue
                selected = [f for f in rest if _starts(f.code, prefixes)]
                summary = self.bullet_summary(label, selected)
                self.doc.add(f"- **{label}**: {summary}")
                if label == "Composite Indexes":
                    self.composite_proposals()
                self.rule_details(selected)
                if label == "Model Organization & Documentation":
                    flake8 = flake8_counts(self.findings)
                    if any(flake8.values()):
                        self.doc.add(
                            "  - flake8 findings of the same run: "
                            + ", ".join(f"{family} {count}" for family, count in flake8.items())
                        )
                    unparsed = sorted(r["path"] for r in self.records.values() if not r["inventory"].get("parsed", True))
                    if unparsed:
                        self.doc.add(
                            f"  - {len(unparsed)} files do not parse and were not analysed: "
                            + ", ".join(code(p) for p in unparsed)
                        )
            self.doc.blank()

    def bullet_summary(self, label: str, findings: list[ReportFinding]) -> str:
        if not findings:
            return "nothing to improve here in the reviewed code"
        codes = sorted({f.code for f in findings})
        return f"{len(findings)} findings (" + ", ".join(f"{c} ×{sum(1 for f in findings if f.code == c)}" for c in codes) + ")"

    def rule_details(self, findings: list[ReportFinding]) -> None:
        by_code: dict[str, list[ReportFinding]] = defaultdict(list)
        for finding in findings:
            by_code[finding.code].append(finding)
        for code_ in sorted(by_code, key=lambda c: (SEVERITY_ORDER[severity_of(c)], c)):
            items = sorted(by_code[code_])
            self.doc.add(f"  - {code(self.rule_label(code_))} ({severity_of(code_)}, {len(items)}):")
            for finding in items[:MAX_EXAMPLES_PER_RULE]:
                self.doc.add(f"    - {code(finding.location)}: {escape(finding.message)}")
            if len(items) > MAX_EXAMPLES_PER_RULE:
                rest = items[MAX_EXAMPLES_PER_RULE:]
                self.doc.add(f"    - and {len(rest)} more at: " + ", ".join(code(f.location) for f in rest))

    def composite_proposals(self) -> None:
        """Composite indexes proposed by ORM103 for lookups on two or more uncovered equality fields."""
        proposals: dict[str, list[ReportFinding]] = defaultdict(list)
        for finding in self.orm:
            if finding.code != "ORM103":
                continue
            proposal = self.composite_line(finding.message)
            if proposal:
                proposals[proposal].append(finding)
        if not proposals:
            self.doc.add("  - no multi-field lookup without a covering index was seen: no composite index to propose")
            return
        for proposal, findings in sorted(proposals.items()):
            self.doc.add(f"  - {proposal} — for {len(findings)} lookup(s) at " + ", ".join(code(f.location) for f in findings))

    @staticmethod
    def composite_line(message: str) -> str:
        """The index line ORM103 proposes when two or more equality fields are uncovered ("" otherwise)."""
        django = re.search(r"models\.Index\(fields=\[([^\]]*)\]\) to (\w+)\.Meta\.indexes", message)
        if django:
            fields = [f.strip().strip("'\"") for f in django.group(1).split(",") if f.strip()]
            if len(fields) < 2:
                return ""
            model = django.group(2)
            name = f"{model.lower()}_{'_'.join(fields)}"[:26].rstrip("_") + "_idx"  # Django allows 30 characters
            listed = ", ".join(f'"{f}"' for f in fields)
            return code(f'models.Index(fields=[{listed}], name="{name}")') + f" in {escape(model)}.Meta.indexes"
        sqlalchemy = re.search(r'(Index\("[^"]+"(?:, [\w.]+){2,}\))(?: to (\w+)\.__table_args__)?', message)
        if sqlalchemy:
            where = f" in {escape(sqlalchemy.group(2))}.\\_\\_table\\_args\\_\\_" if sqlalchemy.group(2) else " next to the Table"
            return code(sqlalchemy.group(1)) + where
        return ""

    def denormalization(self) -> None:
        per_row = [f for f in self.orm if f.code == "ORM209"]
        if not per_row:
            self.doc.add("- **Denormalization**: none warranted — no per-row aggregate (ORM209) was found in the reviewed code")
            return
        self.doc.add(
            f"- **Denormalization**: {len(per_row)} per-row aggregates (ORM209); where the count is read on every page, a stored counter beats even an annotation:"
        )
        proposals: dict[str, list[ReportFinding]] = defaultdict(list)
        for finding in per_row:
            proposals[self.counter_proposal(finding)].append(finding)
        for proposal, findings in sorted(proposals.items()):
            self.doc.add(f"  - {proposal} — for " + ", ".join(code(f.location) for f in findings))

    def counter_proposal(self, finding: ReportFinding) -> str:
        relation = re.search(r"\.([A-Za-z_][A-Za-z0-9_]*)\.(?:count|exists|aggregate)\(", finding.message)
        owner = re.search(r"per row of ([A-Za-z_][A-Za-z0-9_]*)", finding.message)
        model = owner.group(1) if owner and owner.group(1) in self.model_names else ""
        if not relation or not model:
            return "annotate the aggregate once on the outer query (or keep a stored counter on the parent row)"
        field = f"{relation.group(1)}_count"
        framework = next((m.get("framework") for m in self.models if m["name"] == model), "django")
        if framework == "django":
            column = code(f"{field} = models.PositiveIntegerField(default=0)")
            upkeep = f"kept current with {code(f'F(' + repr(field) + ') + 1')} updates when a row is added or removed"
        else:
            column = code(f'{field}: Mapped[int] = mapped_column(default=0, server_default="0")')
            upkeep = (
                f"kept current with {code(f'update({model}).values({field}={model}.{field} + 1)')} when a row is added or removed"
            )
        return f"store {column} on {code(model)}, {upkeep}"

    # -- tasks and validation ---------------------------------------------------------------

    def tasks(self) -> None:
        self.doc.heading(2, H_TASKS)
        for number, (title, prefixes) in enumerate(TASKS, 1):
            items = sorted((f for f in self.orm if _starts(f.code, prefixes)), key=_rank)
            self.doc.add(f"{number}. {title}" + (f" ({len(items)} items)" if items else " — nothing to do"))
            for finding in items:
                self.doc.add(
                    f"   - [ ] {code(finding.location)} {finding.code} ({severity_of(finding.code)}): {escape(finding.message)}"
                )

    def validation(self) -> None:
        self.doc.heading(2, H_VALIDATION)
        self.doc.add("**ORM Quality Checklist:**", "")
        checks = [
            ("Indexes on all foreign keys and frequent query columns", ("ORM101", "ORM102", "ORM103", "ORM105")),
            ("No N+1 queries or inefficient aggregations", ("ORM2",)),
            ("Migration scripts are safe and reversible", ("ORM4",)),
            ("Sensitive data is protected", ("ORM5",)),
            ("Documentation is clear and complete", ("ORM6",)),
        ]
        for text, prefixes in checks:
            selected = [f for f in self.orm if f.code.startswith(prefixes)]
            self.doc.add(self.check_line(text, selected))
        flake8 = flake8_counts(self.findings)
        unparsed = [r["path"] for r in self.records.values() if not r["inventory"].get("parsed", True)]
        problems = sum(flake8.values())
        text = "All ORM and schema code must pass Flake8 checks for style, formatting, and error-free code before submission."
        unchecked = sorted(r["path"] for r in self.records.values() if not r.get("style_checked", True))
        if unchecked and not problems and not unparsed:
            self.doc.add(
                f"- ❌ {text} — not verified: the selection of this run left out flake8's E/W/F checks for {len(unchecked)} of {len(self.records)} files (keep the default selection and add `--extend-select=ORM`)"
            )
        elif problems or unparsed:
            detail = ", ".join(f"{family} {count}" for family, count in flake8.items())
            extra = f"; {len(unparsed)} files do not parse" if unparsed else ""
            self.doc.add(f"- ❌ {text} — {problems} flake8 findings ({detail}){extra}")
        else:
            self.doc.add(f"- ✅ {text} — no E/W/F/C finding in this run")

    def check_line(self, text: str, findings: list[ReportFinding]) -> str:
        if not findings:
            return f"- ✅ {text} — no finding"
        codes = sorted({f.code for f in findings})
        detail = ", ".join(f"{sum(1 for f in findings if f.code == c)} {self.rule_name(c)} ({c})" for c in codes)
        return f"- ❌ {text} — {detail}"


def build_review(records: dict[str, dict[str, Any]], date: str, paths: list[str], version: str = __version__) -> Review:
    return ReviewBuilder(records, date, paths, version).build()

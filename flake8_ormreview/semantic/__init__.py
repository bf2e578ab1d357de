"""The semantic layer: imports, per-module facts and their extraction from the AST."""

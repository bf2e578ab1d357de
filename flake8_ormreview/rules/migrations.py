"""ORM4xx and ORM603: Django migrations and Alembic revisions."""

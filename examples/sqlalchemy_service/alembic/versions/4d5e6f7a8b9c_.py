"""empty message

Revision ID: 4d5e6f7a8b9c
Revises: 3c4d5e6f7a8b
Create Date: 2024-05-13 11:05:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "4d5e6f7a8b9c"
down_revision: Union[str, Sequence[str], None] = "3c4d5e6f7a8b"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("ALTER TABLE posts VALIDATE CONSTRAINT ck_posts_view_count_positive")
    with op.get_context().autocommit_block():
        op.create_index("ix_comments_created_at", "comments", ["created_at"], postgresql_concurrently=True)
    op.create_foreign_key("fk_comments_user", "comments", "users", ["user_id"], ["id"])
    op.drop_column("users", "legacy_login")


def downgrade() -> None:
    pass

"""add posts.status

Revision ID: 2b3c4d5e6f7a
Revises: 1a2b3c4d5e6f
Create Date: 2024-03-20 09:15:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "2b3c4d5e6f7a"
down_revision: Union[str, Sequence[str], None] = "1a2b3c4d5e6f"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("status", sa.String(length=20), nullable=False))
    op.create_index(op.f("ix_posts_status"), "posts", ["status"], unique=False)
    op.alter_column("users", "display_name", existing_type=sa.String(length=50), type_=sa.String(length=100))


def downgrade() -> None:
    op.alter_column("users", "display_name", existing_type=sa.String(length=100), type_=sa.String(length=50))
    op.drop_index(op.f("ix_posts_status"), table_name="posts")
    op.drop_column("posts", "status")

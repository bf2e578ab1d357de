"""Read and batch queries of the blogging service (SQLAlchemy 2.0 style).

Used by the endpoints in ``api.py`` and by the nightly jobs. First-pass
versions that flake8-ormreview flags sit next to their reviewed forms.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from .models import Comment, Post, User


# -- feeds ------------------------------------------------------------------------------------


def front_page(session: Session) -> list[dict]:
    """The 20 latest published posts with author and comment authors."""
    posts = session.scalars(select(Post).order_by(Post.id.desc()).limit(20)).all()
    return [
        {
            "title": post.title,
            "author": post.author.display_name,  # a query per post
            "tags": [tag.name for tag in post.tags],  # lazy="selectin" on the model: already loaded
            "commenters": [comment.user.display_name for comment in post.comments],
        }
        for post in posts
    ]


def front_page_reviewed(session: Session) -> list[dict]:
    stmt = (
        select(Post)
        .order_by(Post.id.desc())
        .limit(20)
        .options(joinedload(Post.author), selectinload(Post.comments).joinedload(Comment.user))
    )
    return [
        {
            "title": post.title,
            "author": post.author.display_name,
            "tags": [tag.name for tag in post.tags],
            "commenters": [comment.user.display_name for comment in post.comments],
        }
        for post in session.scalars(stmt)
    ]


def author_ids_of_drafts(session: Session) -> set[int]:
    return {post.author.id for post in session.scalars(select(Post).where(Post.status == "draft"))}


def user_cities(session: Session) -> dict[str, list[str]]:
    users = session.scalars(select(User).options(selectinload(User.addresses))).all()
    return {user.email: [address.city for address in user.addresses] for user in users}


# -- lookups ----------------------------------------------------------------------------------


def users_by_id(session: Session, user_ids: list[int]) -> list[User]:
    return [session.get(User, user_id) for user_id in user_ids]


def users_by_id_reviewed(session: Session, user_ids: list[int]) -> list[User]:
    return list(session.scalars(select(User).where(User.id.in_(user_ids))))


def is_title_taken(session: Session, title: str) -> bool:
    return session.scalars(select(Post).where(Post.title == title)).first() is not None


def published_count(session: Session) -> int:
    return len(session.scalars(select(Post).where(Post.status == "published")).all())


def post_count_reviewed(session: Session, author_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Post).where(Post.author_id == author_id)) or 0


def total_views(session: Session, author_id: int) -> int:
    return sum(post.view_count for post in session.scalars(select(Post).where(Post.author_id == author_id)))


def post_ids(session: Session, author_id: int) -> list[int]:
    return [post.id for post in session.scalars(select(Post).where(Post.author_id == author_id))]


# -- jobs -------------------------------------------------------------------------------------


def archive_posts(session: Session, post_ids: list[int]) -> None:
    for post_id in post_ids:
        session.execute(update(Post).where(Post.id == post_id).values(status="archived"))
        session.commit()


def archive_posts_reviewed(session: Session, post_ids: list[int]) -> None:
    with session.begin():
        session.execute(update(Post).where(Post.id.in_(post_ids)).values(status="archived"))


def notify_authors(session: Session, post_ids: list[int]) -> list[str]:
    messages = []
    for post_id in post_ids:
        admin = session.scalars(select(User).where(User.email == "admin@example.com")).one()
        messages.append(f"{admin.email}: post {post_id} needs review")
    return messages

"""Flask-style endpoints of the blogging service."""

from flask import Flask, request
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from .models import Payment, Post, Tag, User

app = Flask(__name__)
engine = create_engine("postgresql+psycopg://localhost/blog")
SessionLocal = sessionmaker(engine)


@app.post("/posts/<int:post_id>/view")
def view_post(post_id):
    with SessionLocal() as session:
        post = session.get(Post, post_id)
        post.view_count += 1
        session.commit()
        return {"views": post.view_count}


@app.post("/posts/<int:post_id>/view-atomic")
def view_post_atomically(post_id):
    with SessionLocal() as session:
        session.execute(update(Post).where(Post.id == post_id).values(view_count=Post.view_count + 1))
        session.commit()
        return {"ok": True}


@app.get("/users/search")
def search_users():
    name = request.args.get("name", "")
    with SessionLocal() as session:
        found = session.execute(text(f"SELECT id FROM users WHERE display_name = '{name}'")).all()
        safe = session.execute(text("SELECT id FROM users WHERE display_name = :name"), {"name": name}).all()
        ordered = session.scalars(select(User).order_by(User.display_name)).all()
        return {"found": len(found), "safe": len(safe), "ordered": len(ordered)}


@app.post("/tags")
def create_tag():
    data = request.get_json()
    with SessionLocal() as session:
        session.add(Tag(**data))
        session.commit()
        return {"ok": True}


@app.patch("/posts/<int:post_id>")
def edit_post(post_id):
    with SessionLocal() as session:
        session.execute(update(Post).where(Post.id == post_id).values(**request.json))
        session.commit()
        return {"ok": True}


@app.post("/payments")
def pay(session: Session):
    user = session.get(User, request.json["user_id"])
    payment = Payment(user_id=user.id, amount=request.json["amount"], card_number_last4=request.json["last4"])
    session.add(payment)
    session.commit()
    user.display_name = request.json.get("name", user.display_name)
    session.commit()
    return {"payment": payment.id}

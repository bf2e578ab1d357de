"""Catalogue, ordering and reporting services of the bookshop.

Called from the views in ``api.py`` and from the management commands. Some
functions here are written the way they usually are on a first pass (and
flake8-ormreview flags them); their reviewed counterparts sit next to them.
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Prefetch, Sum

from .models import Author, Book, Customer, Order, OrderItem, Review, Tag


# -- catalogue --------------------------------------------------------------------------------


def catalogue_rows():
    """One row per live book for the catalogue page."""
    rows = []
    for book in Book.objects.filter(status="live").order_by("published_on"):
        rows.append({
            "title": book.title,
            "author": book.author.name,  # one query per book
            "publisher": book.author.publisher.name,
            "tags": [tag.slug for tag in book.tags.all()],  # and one more per book
        })
    return rows


def catalogue_rows_reviewed():
    """The same page in three queries, whatever the number of books."""
    books = (
        Book.objects.filter(status="live")
        .order_by("published_on")
        .select_related("author__publisher")
        .prefetch_related("tags")
    )
    return [
        {
            "title": book.title,
            "author": book.author.name,
            "publisher": book.author.publisher.name,
            "tags": [tag.slug for tag in book.tags.all()],
        }
        for book in books
    ]


def author_directory():
    """Authors with the number of books they have in the catalogue."""
    return [(author.name, author.books.count()) for author in Author.objects.all()]


def author_directory_reviewed():
    authors = Author.objects.annotate(book_count=Count("books"))
    return [(author.name, author.book_count) for author in authors]


def featured_books(books):
    """Books flagged with the "featured" tag, for the home page."""
    featured = []
    for book in books:
        tag = Tag.objects.get(slug="featured")  # the same row on every iteration
        if book.tags.filter(pk=tag.pk).exists():
            featured.append(book)
    return featured


def recent_reviews_by_author():
    """The three latest reviews of every author's books, prefetched into one list per author."""
    latest = Review.objects.select_related("customer").order_by("-created_at")
    authors = Author.objects.prefetch_related(Prefetch("books__reviews", queryset=latest, to_attr="latest_reviews"))
    return {
        author.name: [review.customer.email for book in author.books.all() for review in book.latest_reviews[:3]]
        for author in authors
    }


def review_author_ids(book_id):
    """Customer ids of a book's reviewers (for the "you reviewed this" badge)."""
    return [review.customer.id for review in Review.objects.filter(book_id=book_id)]


# -- stock and orders --------------------------------------------------------------------------


def restock(deliveries):
    """Apply a supplier delivery note: ``[{"isbn": ..., "quantity": ...}, ...]``."""
    for line in deliveries:
        book = Book.objects.get(isbn=line["isbn"])  # one query per line
        book.stock += line["quantity"]
        book.save()  # and one write per line


@transaction.atomic
def restock_reviewed(deliveries):
    quantities = {line["isbn"]: line["quantity"] for line in deliveries}
    books = list(Book.objects.filter(isbn__in=quantities))
    for book in books:
        book.stock += quantities[book.isbn]
    Book.objects.bulk_update(books, ["stock"])


def mark_shipped(order_ids):
    for order in Order.objects.filter(pk__in=order_ids):
        order.status = "shipped"
        order.save()


def mark_shipped_reviewed(order_ids):
    Order.objects.filter(pk__in=order_ids).update(status="shipped")


def order_lines(order_id):
    """(book id, quantity) of one order's lines."""
    return [(item.book.id, item.quantity) for item in OrderItem.objects.filter(order_id=order_id)]


# -- reporting -------------------------------------------------------------------------------


def open_order_count():
    return len(Order.objects.filter(status="open"))


def has_reviewed(customer, book):
    return Review.objects.filter(customer=customer, book=book).count() > 0


def lifetime_value(customer_id):
    customer = Customer.objects.get(pk=customer_id)
    return sum(order.total for order in customer.orders.all())


def lifetime_value_reviewed(customer_id):
    total = Order.objects.filter(customer_id=customer_id).aggregate(total=Sum("total"))["total"]
    return total or Decimal("0")


def loyal_customer_emails():
    return [customer.email for customer in Customer.objects.filter(user__is_active=True, loyalty_points__gte=100)]


def loyal_customer_emails_reviewed():
    return list(Customer.objects.filter(user__is_active=True, loyalty_points__gte=100).values_list("email", flat=True))

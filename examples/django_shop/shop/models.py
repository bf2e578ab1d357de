"""Models of a small bookshop: catalogue, customers and orders."""

from django.conf import settings
from django.db import models


class TimeStamped(models.Model):
    """Abstract base: creation and update times for every table."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Publisher(TimeStamped):
    """A publishing house; books point at it."""

    name = models.CharField(max_length=200, unique=True)
    country = models.CharField(max_length=2)

    def __str__(self):
        return self.name


class Author(TimeStamped):
    """A person who wrote at least one book in the catalogue."""

    name = models.CharField(max_length=200)
    bio = models.TextField(null=True, blank=True)
    publisher = models.ForeignKey(Publisher, on_delete=models.PROTECT, related_name="authors")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Tag(models.Model):
    """A free-form label used to browse the catalogue."""

    slug = models.SlugField(unique=True, db_index=True)

    def __str__(self):
        return self.slug


class Book(TimeStamped):
    """A title for sale; stock is decremented when an order is paid."""

    title = models.CharField(max_length=300)
    isbn = models.CharField(max_length=13, unique=True)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag, related_name="books", blank=True)
    price = models.FloatField()
    stock = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, default="draft")
    published_on = models.DateField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "published_on"], name="book_status_pub_idx"),
            models.Index(fields=["title"], name="book_live_title_idx", condition=models.Q(status="live")),
        ]

    def __str__(self):
        return self.title


class Customer(TimeStamped):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    email = models.EmailField(unique=True)
    api_token = models.CharField(max_length=64)
    password_hash = models.CharField(max_length=128)
    loyalty_points = models.IntegerField(default=0)

    def __str__(self):
        return self.email


class Order(TimeStamped):
    """A checkout by one customer; lines are OrderItem rows."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    placed_at = models.DateTimeField()

    class Meta:
        get_latest_by = "placed_at"
        unique_together = [("customer", "placed_at")]

    def __str__(self):
        return f"Order {self.pk}"


class OrderItem(models.Model):
    """One line of an order."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    book = models.ForeignKey(Book, on_delete=models.PROTECT, db_index=False)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)


class Review(TimeStamped):
    """A customer's rating of a book."""

    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="reviews")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField()
    body = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["book", "customer"], name="one_review_per_customer"),
            models.CheckConstraint(check=models.Q(rating__gte=1, rating__lte=5), name="rating_1_to_5"),
        ]

    def __str__(self):
        return f"{self.rating}/5 for {self.book_id}"

"""Remind customers to review the books of their delivered orders."""

from django.core.management.base import BaseCommand

from shop.models import Order


class Command(BaseCommand):
    help = "E-mail a review reminder for every delivered order"

    def handle(self, *args, **options):
        for order in Order.objects.filter(status="delivered"):
            titles = [item.book.title for item in order.items.all()]
            self.stdout.write(f"{order.customer.email}: {', '.join(titles)}")

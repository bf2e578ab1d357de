"""Checkout, catalogue and account endpoints of the bookshop (Django views, forms, DRF serializers)."""

from django import forms
from django.db import connection, transaction
from django.db.models import F
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from rest_framework import serializers

from .models import Author, Book, Customer, Order, OrderItem, Publisher, Tag

SORT_COLUMNS = {"title": "title", "price": "price DESC"}


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = "__all__"


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        exclude = ["password_hash"]


class BookForm(forms.ModelForm):
    class Meta:
        model = Book
        fields = ["title", "isbn", "author", "price"]


def checkout(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    order = Order.objects.create(customer=customer, status="new", placed_at=request.POST["placed_at"])
    for line in request.POST.getlist("lines"):
        book = Book.objects.get(pk=int(line))
        OrderItem.objects.create(order=order, book=book, quantity=1, unit_price=book.price)
        book.stock -= 1
        book.save()
    customer.loyalty_points += 10
    customer.save()
    return JsonResponse({"order": order.pk})


@transaction.atomic
def checkout_safely(request, customer_id):
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    order = Order.objects.create(customer=customer, status="new", placed_at=request.POST["placed_at"])
    Book.objects.filter(pk=int(request.POST["book"])).update(stock=F("stock") - 1)
    customer.loyalty_points += 10
    customer.save()
    return JsonResponse({"order": order.pk})


def reserve(request, book_id):
    book = Book.objects.select_for_update().get(pk=book_id)
    return JsonResponse({"stock": book.stock})


def tag_book(request, book_id):
    book = get_object_or_404(Book, pk=book_id)
    tag, _ = Tag.objects.get_or_create(slug=request.POST["tag"])
    author, _ = Author.objects.get_or_create(name=request.POST["author"])
    publisher, _ = Publisher.objects.get_or_create(name=request.POST["publisher"])
    book.tags.add(tag)
    return JsonResponse({"author": author.pk, "publisher": publisher.pk})


def search(request):
    term = request.GET.get("q", "")
    order = SORT_COLUMNS.get(request.GET.get("sort"), "title")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, title FROM shop_book WHERE title LIKE '%{term}%' ORDER BY {order}")
        rows = cursor.fetchall()
    cheap = Book.objects.raw(f"SELECT * FROM shop_book WHERE price < %s ORDER BY {order}", [request.GET.get("max")])
    legacy = Book.objects.extra(where=["stock > 0"])
    return JsonResponse({"rows": rows, "cheap": [b.pk for b in cheap], "legacy": legacy.count()})


def update_customer(request, customer_id):
    Customer.objects.filter(pk=customer_id).update(**request.POST.dict())
    return JsonResponse({"ok": True})


def create_tag(request):
    tag = Tag(**request.data)
    tag.save()
    return JsonResponse({"tag": tag.pk})

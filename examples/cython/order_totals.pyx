# cython: language_level=3
"""Order statistics for the bookshop, compiled with Cython for the nightly report."""

cimport cython
from libc.math cimport floor

from shop.models import Author, Book

ctypedef double money_t

cdef extern from "math.h":
    double sqrt(double x) nogil


cdef struct LineTotal:
    int quantity
    double amount


cdef class OrderStats:
    """Running totals over the orders of one day."""

    cdef public double revenue
    cdef readonly int orders

    def __init__(self, double revenue=0, int orders=0):
        self.revenue = revenue
        self.orders = orders


cdef inline money_t line_amount(int quantity, money_t unit_price) nogil:
    return floor(quantity * unit_price * 100) / 100


cpdef double order_total(object order) except -1:
    cdef double total = 0
    cdef int quantity
    for item in order.items.all():
        quantity = item.quantity
        total += line_amount(quantity, <double>item.unit_price)
    return total


def author_catalogue():
    """Author name -> titles, for the printed catalogue."""
    cdef dict catalogue = {}
    for book in Book.objects.filter(status="live"):
        catalogue.setdefault(book.author.name, []).append(book.title)
    return catalogue


cpdef list busy_authors(int minimum=3):
    cdef list names = []
    for author in Author.objects.all():
        if author.books.count() >= minimum:
            names.append(author.name)
    return names

# cython: language_level=3
"""Fast order totals for the shop, compiled with Cython."""

cimport cython
from libc.math cimport floor
from shop.models import Book, Order

ctypedef double money_t

cdef extern from "math.h":
    double sqrt(double x) nogil

cdef struct Line:
    int quantity
    double price


cdef class Totals:
    """Per-order totals computed in C."""
    cdef public double total
    cdef readonly int count

    def __init__(self, double total=0, int count=0):
        self.total = total
        self.count = count


cdef inline double line_total(int quantity, double price) nogil:
    return quantity * price


cpdef double order_total(object order) except -1:
    cdef double total = 0
    cdef int i, n = 0
    cdef Book* ptr
    for item in order.items.all():
        total += line_total(item.quantity, <double>item.unit_price)
    with nogil:
        n = 1
    return total


def authors_of_books():
    cdef list names = []
    for book in Book.objects.all():
        names.append(book.author.name)
    return names

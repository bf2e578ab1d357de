"""The small project both cache test modules lint: ORM103 in ``shop/views.py`` needs
``shop/models.py`` through the index, so a broken or stale cache shows as a changed finding."""

import textwrap

MODELS = textwrap.dedent(
    '''
    from django.db import models


    class Order(models.Model):
        """An order."""

        status = models.CharField(max_length=20)

        def __str__(self):
            return self.status
    '''
).lstrip()
INDEXED_MODELS = MODELS.replace("max_length=20)", "max_length=20, db_index=True)")
VIEWS = textwrap.dedent(
    '''
    from shop.models import Order


    def open_orders():
        return list(Order.objects.filter(status="open"))
    '''
).lstrip()

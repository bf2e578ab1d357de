from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("shop", "0004_auto_20240312_0931"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="book",
            index=models.Index(condition=models.Q(status="live"), fields=["title"], name="book_live_title_idx"),
        ),
    ]

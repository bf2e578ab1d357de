from django.db import migrations, models

from shop.models import Book


def publish_stocked_books(apps, schema_editor):
    Book.objects.filter(status="draft", stock__gt=0).update(status="live")


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0003_book_status_pub_idx"),
    ]

    operations = [
        migrations.AlterField(
            model_name="review",
            name="rating",
            field=models.PositiveSmallIntegerField(),
        ),
        migrations.RunPython(publish_stocked_books),
    ]

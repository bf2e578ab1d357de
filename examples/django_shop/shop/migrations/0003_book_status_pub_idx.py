from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0002_book_status_published_on"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="book",
            index=models.Index(fields=["status", "published_on"], name="book_status_pub_idx"),
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0005_book_live_title_idx"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="review",
            constraint=models.UniqueConstraint(fields=("book", "customer"), name="one_review_per_customer"),
        ),
        migrations.AddConstraint(
            model_name="review",
            constraint=models.CheckConstraint(check=models.Q(("rating__gte", 1), ("rating__lte", 5)), name="rating_1_to_5"),
        ),
    ]

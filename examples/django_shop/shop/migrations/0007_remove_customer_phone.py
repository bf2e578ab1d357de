from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0006_review_constraints"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="customer",
            name="phone",
        ),
    ]

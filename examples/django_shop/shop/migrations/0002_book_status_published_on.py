from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="book",
            name="status",
            field=models.CharField(default="draft", max_length=20),
        ),
        migrations.AddField(
            model_name="book",
            name="published_on",
            field=models.DateField(null=True),
        ),
    ]

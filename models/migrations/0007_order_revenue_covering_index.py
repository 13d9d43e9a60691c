from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

# Paid revenue (lifetime value, a referrer's downstream revenue) sums amounts per customer,
# status and currency: with the amount in the index PostgreSQL answers from the index alone.

class Migration(migrations.Migration):
    dependencies = [('models', '0006_search_trigram_indexes')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Order',
            name=None,
            fields=['customer_id', 'status', 'currency'],
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['customer_id', 'status', 'currency', 'amount']),
        ),
    ]

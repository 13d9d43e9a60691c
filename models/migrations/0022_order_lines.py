from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0021_loyalty')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrderLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('sku', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('quantity', fields.IntField()),
                ('unit_price', fields.DecimalField(max_digits=18, decimal_places=4)),
            ],
            options={'table': 'order_line', 'app': 'models', 'indexes': [Index(fields=['order_id', 'id']), Index(fields=['sku', 'order_id'])], 'pk_attr': 'id', 'table_description': 'One product of an order: what, how many, at what price each.'},
            bases=['Model'],
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0014_complaints')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='language',
            field=fields.CharField(null=True, max_length=8),
        ),
    ]

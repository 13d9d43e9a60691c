from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0015_staff_language')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Complaint',
            index=Index(fields=['due_at', 'id']),
        ),
    ]

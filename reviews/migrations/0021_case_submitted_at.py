"""Case.submitted_at, the last submission for quality review, stored so that the quality-review list reads a page
in index order (case_qa_wait_idx) instead of sorting the whole backlog by a subquery over the events (issue 13).
Filled from the events for the cases submitted before."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_submitted_at(apps, schema_editor):
    Case = apps.get_model("reviews", "Case")
    CaseEvent = apps.get_model("reviews", "CaseEvent")
    # A move into submitted from elsewhere; a document added while a case waits records submitted -> submitted.
    last = (
        CaseEvent.objects.filter(case=OuterRef("pk"), to_status="submitted")
        .exclude(from_status="submitted")
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    Case.objects.filter(events__to_status="submitted").update(submitted_at=Subquery(last))


class Migration(migrations.Migration):
    dependencies = [("reviews", "0020_trim_coordinator_permissions")]

    operations = [
        migrations.AddField(
            model_name="case",
            name="submitted_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fill_submitted_at, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                models.Case(models.When(priority="expedited", then=models.Value(0)), default=models.Value(1)),
                models.F("submitted_at"),
                models.F("case_number"),
                condition=models.Q(("status", "submitted")),
                name="case_qa_wait_idx",
            ),
        ),
    ]

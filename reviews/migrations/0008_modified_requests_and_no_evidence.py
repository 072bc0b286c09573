"""Modified requests decide their remaining portion; the review states the absence of evidence, as the letters do;
licences name a US state."""

from django.db import migrations, models

from reviews.models import US_STATES


def existing_modified_items_decide_the_original_request(apps, schema_editor):
    # Before this migration a modified item's letter decided the whole request: keep saying so.
    DisputedItem = apps.get_model("reviews", "DisputedItem")
    DisputedItem.objects.filter(ur_action="modified").update(eligible_scope="original")


def reviews_without_citations_state_it(apps, schema_editor):
    # The old reason for citing nothing becomes the internal note; the absence itself is now a flag.
    DisputedItem = apps.get_model("reviews", "DisputedItem")
    DisputedItem.objects.exclude(internal_note="").exclude(citations__role="review").update(
        review_cited_no_evidence=True
    )


class Migration(migrations.Migration):
    dependencies = [("reviews", "0007_case_open_due_order_index")]

    operations = [
        migrations.RenameField("disputeditem", "no_citation_reason", "internal_note"),
        migrations.AlterField(
            model_name="disputeditem",
            name="internal_note",
            field=models.TextField(
                blank=True, help_text="The reviewer's note to quality review; never printed in the letter."
            ),
        ),
        migrations.AddField(
            model_name="disputeditem",
            name="review_cited_no_evidence",
            field=models.BooleanField(default=False, verbose_name="The review cites no medical evidence"),
        ),
        migrations.AddField(
            model_name="disputeditem",
            name="eligible_scope",
            field=models.CharField(
                blank=True,
                choices=[
                    ("remaining", "The remaining portion (the part UR did not authorise)"),
                    ("original", "The whole original request"),
                ],
                help_text="For a modified request: which of the two published forms the letter uses.",
                max_length=10,
                verbose_name="IMR-eligible part",
            ),
        ),
        migrations.AddField(
            model_name="disputeditem",
            name="remaining_part",
            field=models.TextField(
                blank=True,
                help_text="The remaining IMR-eligible portion of the original request, which the review decides.",
                verbose_name="Remaining portion",
            ),
        ),
        migrations.RunPython(existing_modified_items_decide_the_original_request, migrations.RunPython.noop),
        migrations.RunPython(reviews_without_citations_state_it, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="disputeditem",
            constraint=models.CheckConstraint(
                condition=models.Q(("ur_action", "modified"), models.Q(("eligible_scope", ""), _negated=True))
                | models.Q(models.Q(("ur_action", "modified"), _negated=True), ("eligible_scope", "")),
                name="item_scope_only_when_modified",
            ),
        ),
        migrations.AddConstraint(
            model_name="disputeditem",
            constraint=models.CheckConstraint(
                condition=models.Q(("eligible_scope", "remaining"), _negated=True)
                | models.Q(("remaining_part", ""), _negated=True),
                name="item_remaining_scope_states_portion",
            ),
        ),
        migrations.AlterField(
            model_name="license",
            name="state",
            field=models.CharField(choices=sorted(US_STATES.items(), key=lambda s: s[1]), max_length=2),
        ),
    ]

"""Widget conversations get an owner proof (embed/ownership.py, docs/embed.md "Who may continue a conversation").

Existing embed conversations keep `visitor_proof=""`: the widget never continues them again (they may
have been written to by anyone who knew the user id), they stay readable in the Studio and the API.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bots", "0001_initial"),
        ("conversations", "0001_initial"),
        ("embed", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="conversation",
            name="conversation_unique_external_id_per_bot_and_key",
        ),
        migrations.AddField(
            model_name="conversation",
            name="browser_secret_hash",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                help_text="Embed: keyed hash of the secret issued to the browser that owns this conversation.",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="conversation",
            name="visitor_proof",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "none (Studio, REST, or made before visitor ownership)"),
                    ("site", "site-signed user_token"),
                    ("browser", "server-issued browser secret"),
                ],
                default="",
                help_text="Embed: the proof a visitor needs to continue this conversation (empty: none can).",
                max_length=8,
            ),
        ),
        migrations.AddConstraint(
            model_name="conversation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("visitor_proof", "site")),
                fields=("bot", "external_id", "client_key"),
                name="conversation_unique_site_user_per_bot_and_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="conversation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("browser_secret_hash", ""), _negated=True),
                fields=("browser_secret_hash",),
                name="conversation_unique_browser_secret",
            ),
        ),
    ]

"""The denial as Slack shows it: untrusted text (user names, image references) cannot ping or link."""

from __future__ import annotations

from bot.admission.slack_notice import GateDenialHandler, denial_message
from bot.catalog import Catalog, CatalogEntry
from bot.jobs.post_gate_denial import PostGateDenial


def command(**changes: str) -> PostGateDenial:
    fields = {"review_uid": "u-1", "kind": "Deployment", "namespace": "payments", "name": "checkout-api",
              "user": "alice@example.com", "reason": "Coroner's gate denied this Deployment: too big."}
    return PostGateDenial(**{**fields, **changes})


def test_untrusted_text_is_escaped():
    message = denial_message(command(user="<!channel>", reason="reg/app:v2 <https://evil.example|click> & co\nnext"))

    text = message.blocks[0]["text"]["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example|click>" not in text and "&amp; co next" in text
    assert "<!channel>" not in message.text


def test_the_channel_is_the_catalog_entry_of_the_workload_else_the_default():
    catalog = Catalog(services={
        "checkout": CatalogEntry(name="checkout", namespace="payments", workload="deployment/checkout-api",
                                 slack_channel="#checkout"),
        "api": CatalogEntry(name="api", namespace="prod", slack_channel="#api"),
    })
    handler = GateDenialHandler(store=None, chat=None, catalog=catalog, default_channel="#deploys",  # type: ignore[arg-type]
                                worker="w")

    assert handler.channel_for(command()) == "#checkout"
    assert handler.channel_for(command(namespace="prod", name="api")) == "#api"
    assert handler.channel_for(command(namespace="staging")) == "#deploys"

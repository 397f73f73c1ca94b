"""Slack surface: mrkdwn escaping, Block Kit builders, bolt listeners, the ASGI route and the poster.

Only `app`, `asgi`, `listeners` and `poster` import slack_bolt/slack_sdk; `blocks` and `mrkdwn` are pure.
"""

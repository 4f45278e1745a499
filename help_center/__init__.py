"""Voltia sample website and help centre: the customer side of nivel0.

- ``/`` and ``/es/``: sample shop page with the chat widget (Rasa REST channel);
- ``/help/{lang}``: tier-0 help centre over the knowledge base (listing, articles, search).

Run from the project root with ``.venv/bin/python -m help_center`` (http://localhost:8080);
configuration: :mod:`help_center.settings`. The widget needs the Rasa server with the REST channel
and CORS for this site, e.g. from ``bot/``:
``../.venv-rasa/bin/rasa run -m models --cors "*" --credentials credentials.yml`` plus the action
server. Article links the bot sends (NIVEL0_HELP_CENTER_URL) should point at this app's ``/help``.
"""

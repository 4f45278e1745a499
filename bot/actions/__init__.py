"""Custom actions of the nivel0 Rasa bot (run with ``python -m rasa_sdk --actions actions``).

Modules: ``language`` (customer language detection), ``kb`` (shared knowledge-base instance),
``conversation`` (slot names and helpers for the articles shown), ``handover`` (context for
the tier-1 handoff) and ``actions`` (the Rasa actions themselves).
"""

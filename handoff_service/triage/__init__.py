"""Triage at ticket creation: category and priority (classifier), request type (signals),
queue (ordered routing rules)."""

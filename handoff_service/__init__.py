"""nivel0 handoff service: turns unresolved bot conversations into triaged tier-1 tickets."""

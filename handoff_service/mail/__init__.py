"""E-mail to customers and agents: the outbox written with each ticket change (``outbox``),
the sender that delivers it over SMTP, the templates, and replies received by e-mail."""

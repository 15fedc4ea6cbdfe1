"""The staged challenge: criteria, arena, review, gates, decisions, appeals, releases and the commons."""

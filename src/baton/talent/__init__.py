"""Talent pool: consented profiles, skill taxonomy, recommendations and matching to openings."""

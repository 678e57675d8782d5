"""Rules database: loading, schema checks, and planning (facts → requirements + preferences)."""

"""Everything that speaks to Hikvision lives in this package, and nothing else does."""

"""The README's divergence table is the one the records in kmask/divergences.py generate."""

from kmask import divergence_table


def test_readme_table_matches_the_records():
    """Every record's range, observation and link in README.md is the record's own; after editing
    kmask/divergences.py run `python -m kmask.divergence_table --write`."""
    written = divergence_table.readme_table(divergence_table.README.read_text())
    assert written == divergence_table.markdown(), (
        "README.md's divergence table is stale: run `python -m kmask.divergence_table --write`"
    )

"""Import enrollment's pure parts (the runs themselves are in tests/jobs/test_import_job.py)."""

from portal.services import import_enrollment


def test_chunks_start_small_and_grow():
    sizes = [len(c) for c in import_enrollment._chunks(list(range(1000)), 20, 200)]
    assert sizes[:4] == [20, 40, 80, 160] and max(sizes) == 200 and sum(sizes) == 1000

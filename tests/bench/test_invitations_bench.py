"""``flask bench invitations`` invites an event's guests in one job; one JSON object."""

import pytest

from tests.bench.test_import_bench import one_json


@pytest.mark.slow
def test_bench_invitations_counts_every_message_and_link(app, redis_conn):
    result = app.test_cli_runner().invoke(
        args=["bench", "invitations", "--invitations", "30", "--mail-rate", "200"]
    )
    assert result.exit_code == 0, result.output
    report = one_json(result.stdout)
    assert report["messages"] == 30
    assert report["distinct_links"] == 30 and report["distinct_recipients"] == 30
    assert report["with_text_and_html"] == 30
    assert report["job_state"] == "finished" and report["progress"] == [30, 30, 0]
    # Paced: 30 messages at 200 per second take at least the 29 gaps between them.
    assert report["seconds"] >= report["pacing_floor_seconds"] == pytest.approx(29 / 200)
    assert report["guest_page_ms_median"] > 0 and report["photo_check_12mp_ms_median"] > 0
    assert not list(redis_conn.scan_iter("rq:queue:bench-invitations-*"))

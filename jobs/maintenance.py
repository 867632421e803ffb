"""RQ entry points that keep the data tidy (run by the scheduler)."""

from jobs import job
from portal.services import retention


@job
def purge_personal_data():
    """Delete photos, anonymize guests and expire old uploads as the retention settings say."""
    return retention.purge_personal_data()

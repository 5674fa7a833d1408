"""The distributed recipe: a cohort partitioned on Dask (a local cluster of worker processes)
gives, line for line, what one process gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgmassage.cohort import assess_partition

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-20T10:00:00Z"


def test_a_cohort_on_a_dask_cluster_is_assessed_as_on_one_process() -> None:
    bag = pytest.importorskip("dask.bag")
    distributed = pytest.importorskip("distributed")
    lines = (ROOT / "examples" / "cohort.ndjson").read_text(encoding="utf-8").splitlines()
    lines.insert(3, "{not json")
    expected = assess_partition(lines, at=AT, name="cohort")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        parts = bag.from_sequence(lines, npartitions=3)
        found = parts.map_partitions(assess_partition, at=AT, name="cohort").compute()
    assert [line for line in found if '"error"' not in line] == [
        line for line in expected if '"error"' not in line]
    assert sum('"error"' in line for line in found) == 1
    assert len(found) == len(lines)

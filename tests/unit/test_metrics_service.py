"""The central metrics consumer's service: what each event counts as, no AWS."""

from __future__ import annotations

from metrics.service import Count, counts_for, record_event


def test_every_event_counts_by_source_and_detail_type_and_known_ones_as_business() -> None:
    assert counts_for({"source": "OnlineTrial", "detail-type": "TrialAssigned"}) == [
        Count("Events", {"source": "OnlineTrial", "detailType": "TrialAssigned"}),
        Count("TrialsAssigned"),
    ]
    assert counts_for({"source": "myapp.orders", "detail-type": "OrderCompleted"})[1] == Count(
        "OrdersCompleted"
    )
    assert counts_for({"source": "aws.s3", "detail-type": "Object Created"}) == [
        Count("Events", {"source": "aws.s3", "detailType": "Object Created"})
    ]


def test_an_event_without_source_or_type_is_still_counted_as_unknown() -> None:
    emitted: list[Count] = []

    class ListEmitter:
        def count(self, metric: Count) -> None:
            emitted.append(metric)

    record_event({"detail-type": ""}, emitter=ListEmitter())
    assert emitted == [Count("Events", {"source": "unknown", "detailType": "unknown"})]

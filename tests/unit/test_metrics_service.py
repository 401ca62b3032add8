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


def test_a_replayed_event_counts_as_replayed_and_not_as_business_again() -> None:
    # Given an OrderPlaced replayed from the bus archive (EventBridge adds replay-name)
    event = {"source": "myapp.orders", "detail-type": "OrderPlaced", "replay-name": "after-fix"}
    # Then it counts as replayed, by source and type, and neither as an event nor as an order placed
    assert counts_for(event) == [
        Count("EventsReplayed", {"source": "myapp.orders", "detailType": "OrderPlaced"})
    ]

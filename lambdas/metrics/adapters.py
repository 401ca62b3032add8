"""The Emitter adapter: one EMF document per metric (Powertools `single_metric`), printed to the log."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from metrics.service import Count


class EmfEmitter:
    """Each metric is flushed on its own with its own dimensions, so none leak to the next metric or
    invocation. Namespace from POWERTOOLS_METRICS_NAMESPACE; Powertools adds the `service` dimension
    (POWERTOOLS_SERVICE_NAME) to every metric."""

    def count(self, metric: Count) -> None:
        with single_metric(name=metric.name, unit=MetricUnit.Count, value=1) as emf:
            for name, value in metric.dimensions.items():
                emf.add_dimension(name=name, value=value)

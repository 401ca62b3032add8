"""Events AWS services put on the default bus themselves, in the shape EventBridge delivers them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def s3_notification(account_id: str, bucket: Any, event_name: str, key: Any, *, now: float) -> dict[str, Any]:
    """The event of an S3 notification (`s3:ObjectCreated:Put`...) of a bucket with EventBridge enabled."""
    # "s3:ObjectCreated:Put" -> "Object Created", reason "PutObject"
    kind, _, action = event_name.split(":", 1)[1].partition(":")
    detail_type = {
        "ObjectCreated": "Object Created",
        "ObjectRemoved": "Object Deleted",
        "ObjectRestore": "Object Restore Completed",
        "ObjectTagging": "Object Tags Deleted" if action == "Delete" else "Object Tags Added",
    }.get(kind, kind)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account_id,
        "time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": {
                "key": key.name,
                "size": key.size,
                "etag": key.etag.replace('"', ""),
                "sequencer": uuid.uuid4().hex[:16].upper(),
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": f"{action}Object" if action in ("Put", "Copy", "Post") else action or kind,
        },
    }

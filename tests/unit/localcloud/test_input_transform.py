"""Target input rendering: Input, InputPath and InputTransformer templates as CDK emits them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.eventbridge.transform import InputTransformError, target_input

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "UserSignedUp",
    "source": "app.signup",
    "account": "123456789012",
    "time": "2024-05-01T12:00:00Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:s3:::uploads"],
    "detail": {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "count": 3,
        "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
        "tags": ["HIGH"],
        "valid": True,
    },
}
RULE_ARN = "arn:aws:events:eu-west-1:123456789012:rule/app-bus/welcome"

# InputTransformers exactly as aws-cdk-lib 2.275 synthesizes them (aws_events.RuleTargetInput).
CDK_FROM_TEXT = {
    # from_text(f"New signup: {EventField.from_path('$.detail.name')} <{...('$.detail.email')}>")
    "InputPathsMap": {"detail-name": "$.detail.name", "detail-email": "$.detail.email"},
    "InputTemplate": '"New signup: <detail-name> <<detail-email>>"',
}
CDK_FROM_OBJECT = {
    # from_object({"id": EventField.event_id, "email": email, "msg": f"Hello {name}!", "nested": {"n": count},
    #              "list": [name, "x"], "quote": 'say "hi"'})
    "InputPathsMap": {
        "id": "$.id",
        "detail-email": "$.detail.email",
        "detail-name": "$.detail.name",
        "detail-count": "$.detail.count",
    },
    "InputTemplate": (
        '{"id":<id>,"email":<detail-email>,"msg":"Hello <detail-name>!","nested":{"n":<detail-count>},'
        '"list":[<detail-name>,"x"],"quote":"say \\"hi\\""}'
    ),
}
CDK_FROM_MULTILINE_TEXT = {
    # from_multiline_text(f'Line one {name}\nLine "two" {email}')
    "InputPathsMap": {"detail-name": "$.detail.name", "detail-email": "$.detail.email"},
    "InputTemplate": '"Line one <detail-name>"\n"Line \\"two\\" <detail-email>"',
}


def _transform(template: str, paths: dict[str, str] | None = None, **kwargs: Any) -> str:
    transformer = {"InputTemplate": template, "InputPathsMap": paths or {}}
    return target_input(EVENT, input_transformer=transformer, **kwargs)


def test_without_input_options_the_whole_event_is_delivered_minified() -> None:
    # Given a target with no input options
    # When its payload is rendered
    payload = target_input(EVENT)
    # Then it is the event as compact JSON, non-ASCII kept as is
    assert payload == json.dumps(EVENT, separators=(",", ":"))
    assert target_input({"detail": {"city": "München"}}) == '{"detail":{"city":"München"}}'


def test_constant_input_is_delivered_as_given() -> None:
    # Given a constant Input, as CDK emits for from_text without fields
    # When the payload is rendered
    # Then it is the text verbatim
    assert target_input(EVENT, input='"no fields here"') == '"no fields here"'


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", json.dumps(EVENT, separators=(",", ":"))),
        ("$.detail.payload", '{"acc_id":"0a787ecb-4015","sf_id":"baz"}'),
        ("$.detail.payload.sf_id", '"baz"'),
        ("$.resources[0]", '"arn:aws:s3:::uploads"'),
        ("$.detail-type", '"UserSignedUp"'),
        ("$['detail']['count']", "3"),
    ],
)
def test_input_path_selects_part_of_the_event_as_json(path: str, expected: str) -> None:
    # Given an InputPath
    # When the payload is rendered
    # Then the selected value is delivered as JSON
    assert target_input(EVENT, input_path=path) == expected


def test_input_path_that_matches_nothing_is_an_error() -> None:
    # Given an InputPath naming a field the event lacks
    # When the payload is rendered
    # Then it fails clearly rather than delivering an invented value
    with pytest.raises(InputTransformError, match=r"\$\.detail\.missing"):
        target_input(EVENT, input_path="$.detail.missing")


def test_cdk_from_text_renders_a_json_string_with_plain_values() -> None:
    # Given the template CDK's from_text emits (a JSON string literal) with a literal <...> around a field
    # When the payload is rendered
    payload = target_input(EVENT, input_transformer=CDK_FROM_TEXT)
    # Then values are inserted as plain text and the literal angle brackets stay
    assert payload == '"New signup: Ada Lovelace <ada@example.com>"'
    assert json.loads(payload) == "New signup: Ada Lovelace <ada@example.com>"


def test_cdk_from_object_renders_json_with_values_typed_by_position() -> None:
    # Given the template CDK's from_object emits
    # When the payload is rendered
    payload = target_input(EVENT, input_transformer=CDK_FROM_OBJECT)
    # Then placeholders outside quotes become JSON values and those inside quotes become text
    assert json.loads(payload) == {
        "id": EVENT["id"],
        "email": "ada@example.com",
        "msg": "Hello Ada Lovelace!",
        "nested": {"n": 3},
        "list": ["Ada Lovelace", "x"],
        "quote": 'say "hi"',
    }


def test_cdk_from_multiline_text_renders_each_line_as_is() -> None:
    # Given the template CDK's from_multiline_text emits (one JSON string per line)
    # When the payload is rendered
    payload = target_input(EVENT, input_transformer=CDK_FROM_MULTILINE_TEXT)
    # Then every line gets its values and the newline-separated text is delivered unchanged otherwise
    assert payload == '"Line one Ada Lovelace"\n"Line \\"two\\" ada@example.com"'


def test_objects_and_arrays_lose_their_quotes_inside_text() -> None:
    # Given a text template naming an object, an array and a boolean
    paths = {"payload": "$.detail.payload", "tags": "$.detail.tags", "valid": "$.detail.valid"}
    # When the payload is rendered
    payload = _transform('"Payload of <payload>, tags <tags>, valid <valid>"', paths)
    # Then, as AWS does, the JSON is inlined without its quotes
    assert payload == '"Payload of {acc_id:0a787ecb-4015,sf_id:baz}, tags [HIGH], valid true"'


def test_json_templates_are_minified_and_keep_non_string_values_unquoted() -> None:
    # Given a hand-written JSON template with whitespace, an object, a list and a number
    paths = {"payload": "$.detail.payload", "tags": "$.detail.tags", "count": "$.detail.count"}
    template = '{\n  "body": <payload>,\n  "tags": [<tags>, "static"],\n  "count": <count>\n}'
    # When the payload is rendered
    payload = _transform(template, paths)
    # Then it is compact JSON holding the values as JSON
    assert payload == '{"body":{"acc_id":"0a787ecb-4015","sf_id":"baz"},"tags":[["HIGH"],"static"],"count":3}'


def test_a_missing_path_renders_empty() -> None:
    # Given a variable whose path matches nothing
    paths = {"gone": "$.detail.notinmessage"}
    # When it is used as a JSON value and inside text
    # Then it is an empty string value, and empty text
    assert _transform('{"command": <gone>}', paths) == '{"command":""}'
    assert _transform('"detail says <gone>"', paths) == '"detail says "'
    assert _transform('{"note": "was <gone>"}', paths) == '{"note":"was "}'


def test_predefined_variables_in_json_and_in_text() -> None:
    # Given templates using AWS's predefined variables
    template = '{"arn": <aws.events.rule-arn>, "event": <aws.events.event>, "full": <aws.events.event.json>}'
    # When the payloads are rendered for a known rule
    payload = json.loads(_transform(template, rule_arn=RULE_ARN, rule_name="welcome"))
    text = _transform('"<aws.events.rule-name> at <aws.events.event.ingestion-time>"', rule_name="welcome")
    # Then the event variable drops detail and renames detail-type, and the text gets plain values
    assert payload["arn"] == RULE_ARN
    assert payload["full"] == EVENT
    assert "detail" not in payload["event"]
    assert payload["event"]["detailType"] == "UserSignedUp"
    assert text == '"welcome at 2024-05-01T12:00:00Z"'


def test_an_object_quoted_inside_a_json_template_fails_like_aws() -> None:
    # Given a JSON template quoting a variable that holds an object
    # When the payload is rendered
    # Then it is not valid JSON, so there is nothing AWS would deliver
    with pytest.raises(InputTransformError, match="valid JSON"):
        _transform('{"payload": "<payload>"}', {"payload": "$.detail.payload"})


def test_a_quote_in_a_value_breaks_a_quoted_json_placeholder() -> None:
    # Given a value with a double quote, quoted inside a JSON template
    event = {**EVENT, "detail": {"name": 'Ada "The Countess"'}}
    transformer = {"InputTemplate": '{"greeting": "Hi <name>"}', "InputPathsMap": {"name": "$.detail.name"}}
    # When the payload is rendered
    # Then AWS's unescaped insertion gives invalid JSON, while an unquoted placeholder stays valid
    with pytest.raises(InputTransformError):
        target_input(event, input_transformer=transformer)
    unquoted = {"InputTemplate": '{"greeting": <name>}', "InputPathsMap": {"name": "$.detail.name"}}
    assert json.loads(target_input(event, input_transformer=unquoted)) == {"greeting": 'Ada "The Countess"'}


def test_an_undefined_placeholder_is_refused() -> None:
    # Given a template naming a variable no path defines
    # When the payload is rendered
    # Then it fails as AWS refuses such a target
    with pytest.raises(InputTransformError, match="invalid placeholder notdefined"):
        _transform('"Hello <notdefined>"')


def test_wildcard_paths_select_every_match() -> None:
    # Given a path with a wildcard over an array of objects
    event = {"detail": {"items": [{"sku": "A"}, {"sku": "B"}]}}
    transformer = {"InputTemplate": '{"skus": <skus>}', "InputPathsMap": {"skus": "$.detail.items[*].sku"}}
    # When the payload is rendered
    # Then the variable holds the list of matches
    assert target_input(event, input_transformer=transformer) == '{"skus":["A","B"]}'


def test_only_one_input_option_is_allowed() -> None:
    # Given a target with both InputPath and an InputTransformer
    # When its payload is rendered
    # Then it is refused as AWS does
    with pytest.raises(InputTransformError, match="Only one of Input, InputPath, or InputTransformer"):
        target_input(EVENT, input_path="$.detail", input_transformer=CDK_FROM_TEXT)


def test_reserved_variable_names_cannot_be_redefined() -> None:
    # Given an InputPathsMap redefining a predefined variable
    # When the payload is rendered
    # Then it is refused
    with pytest.raises(InputTransformError, match="reserved"):
        _transform('"<aws.events.rule-name>"', {"aws.events.rule-name": "$.source"})

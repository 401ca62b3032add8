"""The `user_signup` event (source `myapp.userservice`): a new user to welcome."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import names

# Pragmatic address check: one @, a local part without spaces, a dotted domain of DNS labels.
# Deliverability is SES's job; this keeps malformed input out without a validator dependency.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
# Printable text only: the name goes into an email subject and a notification line.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class UserSignup(BaseModel):
    """The detail of a `user_signup` event."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    SOURCE: ClassVar[str] = names.USERS
    DETAIL_TYPE: ClassVar[str] = names.USER_SIGNUP

    # The tutorial's events carry no version: absent means 1.0; a consumer rejects versions it does not know.
    version: Literal["1.0"] = "1.0"
    email: str = Field(min_length=6, max_length=254, pattern=EMAIL_PATTERN)
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)

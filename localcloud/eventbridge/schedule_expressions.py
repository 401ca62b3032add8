"""EventBridge schedule expressions: `rate(...)` and AWS's six-field `cron(...)`, in UTC.

`parse_schedule(text)` raises InvalidSchedule for what PutRule refuses ("Parameter
ScheduleExpression is not valid."); a Schedule answers the first fire time after a moment.
Cron fields: minutes, hours, day-of-month, month, day-of-week (1-7 = SUN-SAT), year, with `*`,
`,`, `-`, `/`, `?` (one of the day fields must be `?`), `L`, `W` and `#` as AWS documents them.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RATE = re.compile(r"^rate\((?P<value>[1-9]\d*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
CRON = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = {
    name: n
    for n, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
MAX_YEAR = 2199


class InvalidSchedule(ValueError):
    pass


class Schedule:
    expression: str

    def next_after(self, moment: float, *, anchor: float) -> float | None:
        """The first fire time strictly after `moment` (epoch seconds); None when there is none."""
        raise NotImplementedError


@dataclass
class Rate(Schedule):
    expression: str
    seconds: int

    def next_after(self, moment: float, *, anchor: float) -> float | None:
        # A rate schedule counts from when the rule was created.
        periods = int((moment - anchor) // self.seconds) + 1 if moment >= anchor else 1
        return anchor + periods * self.seconds


@dataclass
class Cron(Schedule):
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day: Callable[[int, int, int], bool]  # (year, month, day) -> fires that day

    def next_after(self, moment: float, *, anchor: float) -> float | None:
        start = datetime.fromtimestamp(moment, UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for year in sorted(y for y in self.years if y >= start.year):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                for day in range(1, calendar.monthrange(year, month)[1] + 1):
                    if (year, month, day) < (start.year, start.month, start.day) or not self.day(
                        year, month, day
                    ):
                        continue
                    same_day = (year, month, day) == (start.year, start.month, start.day)
                    for hour in sorted(self.hours):
                        if same_day and hour < start.hour:
                            continue
                        for minute in sorted(self.minutes):
                            if same_day and hour == start.hour and minute < start.minute:
                                continue
                            return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()
        return None


def parse_schedule(text: str) -> Schedule:
    rate = RATE.match(text)
    if rate:
        value, unit = int(rate["value"]), rate["unit"]
        if (value == 1) != (not unit.endswith("s")):
            raise InvalidSchedule("a rate of 1 takes a singular unit, other rates a plural one")
        return Rate(text, value * UNIT_SECONDS[unit.removesuffix("s")])
    cron = CRON.match(text)
    if not cron:
        raise InvalidSchedule("not a rate(...) or cron(...) expression")
    fields = cron["fields"].split()
    if len(fields) != 6:
        raise InvalidSchedule("cron(...) takes six fields")
    minutes, hours, day_of_month, month, day_of_week, year = (f.upper() for f in fields)
    if (day_of_month == "?") == (day_of_week == "?"):
        raise InvalidSchedule("exactly one of day-of-month and day-of-week must be '?'")
    return Cron(
        text,
        minutes=_values(minutes, 0, 59),
        hours=_values(hours, 0, 23),
        months=_values(month, 1, 12, MONTHS),
        years=_values(year, 1970, MAX_YEAR),
        day=_day_of_week(day_of_week) if day_of_month == "?" else _day_of_month(day_of_month),
    )


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    if names and text in names:
        return names[text]
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidSchedule("a cron value is out of range")
    return int(text)


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values a plain field (`*`, lists, ranges, increments) stands for."""
    values: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, 1, high) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = _number(first_text, low, high, names), _number(last_text, low, high, names)
        else:
            first = _number(base, low, high, names)
            last = high if step_text else first
        if first <= last:
            values.update(range(first, last + 1, step))
        else:  # a range may wrap (e.g. FRI-MON, 22-2)
            values.update(v for v in [*range(first, high + 1), *range(low, last + 1)][::step])
    return frozenset(values)


def _weekday(year: int, month: int, day: int) -> int:
    """AWS's numbering: SUN=1 ... SAT=7."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _day_of_month(field: str) -> Callable[[int, int, int], bool]:
    if field == "L":
        return lambda y, m, d: d == calendar.monthrange(y, m)[1]
    if field.endswith("W"):
        target = _number(field[:-1], 1, 31)

        def nearest_weekday(y: int, m: int, d: int) -> bool:
            last = calendar.monthrange(y, m)[1]
            if target > last:
                return False
            day = target
            weekday = calendar.weekday(y, m, day)  # MON=0 ... SUN=6
            if weekday == 5:  # Saturday: the Friday before, unless that leaves the month
                day = day - 1 if day > 1 else day + 2
            elif weekday == 6:  # Sunday: the Monday after, unless that leaves the month
                day = day + 1 if day < last else day - 2
            return d == day

        return nearest_weekday
    days = _values(field, 1, 31)
    return lambda y, m, d: d in days


def _day_of_week(field: str) -> Callable[[int, int, int], bool]:
    if "#" in field:
        weekday_text, _, nth_text = field.partition("#")
        weekday, nth = _number(weekday_text, 1, 7, WEEKDAYS), _number(nth_text, 1, 5)
        return lambda y, m, d: _weekday(y, m, d) == weekday and (d - 1) // 7 + 1 == nth
    if field.endswith("L") and field != "L":
        weekday = _number(field[:-1], 1, 7, WEEKDAYS)
        return lambda y, m, d: _weekday(y, m, d) == weekday and d + 7 > calendar.monthrange(y, m)[1]
    days = _values("7" if field == "L" else field, 1, 7, WEEKDAYS)
    return lambda y, m, d: _weekday(y, m, d) in days

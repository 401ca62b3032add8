"""AWS's limit on wildcard patterns: how many of their prefixes one value may match at once."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Final

from localcloud.eventbridge.pattern_matching import STAR, Branch

# Complexity above which AWS refuses wildcard patterns ("more than ten simultaneously reachable prefixes").
_MAX_WILDCARD_COMPLEXITY: Final = 10
# A guard for the complexity search itself: this many distinct NFA state sets means far more than ten.
_MAX_COMPLEXITY_STATE_SETS: Final = 20_000
_OTHER_BYTE: Final = -2  # stands for every byte no wildcard pattern names, in the complexity search


def too_complex(branches: list[Branch]) -> bool:
    """Whether the wildcard patterns on any one field go over AWS's complexity limit."""
    by_path: dict[str, dict[Hashable, tuple[tuple[int, ...], ...]]] = {}
    for branch in branches:
        for path, matchers in branch.items():
            for matcher in matchers:
                if matcher.wildcards:
                    by_path.setdefault(path, {})[matcher.identity] = matcher.wildcards
    return any(_wildcard_complexity(patterns) > _MAX_WILDCARD_COMPLEXITY for patterns in by_path.values())


def _wildcard_complexity(patterns: Mapping[Hashable, tuple[tuple[int, ...], ...]]) -> int:
    """AWS's measure: the most wildcard-pattern prefixes that one input value can match at once.

    Each prefix of each pattern is a state. Prefixes up to the first wildcard are shared between patterns
    (as in AWS's byte machine) and weigh as many patterns as they lead to; later ones belong to their
    pattern. The worst input is found by exploring every reachable set of states.
    """
    paths = [(identity, tokens) for identity, alternatives in patterns.items() for tokens in alternatives]
    state_keys: list[list[Hashable]] = []
    weight: dict[Hashable, set[Hashable]] = {}
    for identity, tokens in paths:
        keys: list[Hashable] = []
        for length in range(len(tokens) + 1):
            prefix = tokens[:length]
            key: Hashable = ("shared", prefix) if STAR not in prefix[:-1] else ("own", tokens, length)
            keys.append(key)
            if length:
                weight.setdefault(key, set()).add(identity)
        state_keys.append(keys)

    def close(states: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        # A wildcard matches the empty string, so a prefix ending before one also matches the one after.
        pending = list(states)
        while pending:
            which, length = pending.pop()
            tokens = paths[which][1]
            if length < len(tokens) and tokens[length] == STAR and (which, length + 1) not in states:
                states.add((which, length + 1))
                pending.append((which, length + 1))
        return frozenset(states)

    def step(states: frozenset[tuple[int, int]], byte: int) -> frozenset[tuple[int, int]]:
        following: set[tuple[int, int]] = set()
        for which, length in states:
            tokens = paths[which][1]
            if length and tokens[length - 1] == STAR:
                following.add((which, length))
            if length < len(tokens) and tokens[length] == byte:
                following.add((which, length + 1))
        return close(following)

    def score(states: frozenset[tuple[int, int]]) -> int:
        active = {state_keys[which][length] for which, length in states if length}
        return sum(len(weight[key]) for key in active)

    alphabet = {token for _, tokens in paths for token in tokens if token != STAR} | {_OTHER_BYTE}
    start = close({(which, 0) for which in range(len(paths))})
    seen = {start}
    pending = [start]
    worst = 0
    while pending:
        states = pending.pop()
        for byte in alphabet:
            following = step(states, byte)
            if not following:
                continue
            worst = max(worst, score(following))
            if worst > _MAX_WILDCARD_COMPLEXITY:
                return worst
            if following not in seen:
                if len(seen) >= _MAX_COMPLEXITY_STATE_SETS:
                    return _MAX_WILDCARD_COMPLEXITY + 1
                seen.add(following)
                pending.append(following)
    return worst

"""The one registry of localcloud's changes to moto (and the few libraries around it).

Every patch names its target as `module:attribute.path` and says why it exists. A patch set is
declared once per subsystem and installed, restored and checked here; nothing else in localcloud
assigns attributes of another package. `check()` is what a test runs against the pinned moto: a
target that disappeared or was already replaced is reported, not silently skipped.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass
class Patch:
    """One attribute of another package, replaced while installed."""

    target: str  # "package.module:Class.attribute" or "package.module:attribute"
    why: str
    # Builds the replacement from the original (MISSING when `new` is set), once per install.
    make: Callable[[Any], Any]
    # True: the attribute must not exist yet (localcloud adds it); False: it must exist.
    new: bool = False
    original: Any = field(default=MISSING, repr=False)

    def resolve(self) -> tuple[Any, str]:
        """The object that owns the attribute, and the attribute's name."""
        module_name, _, path = self.target.partition(":")
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        return owner, name


class PatchSet:
    """The patches of one subsystem, installed and restored together."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.patches: list[Patch] = []
        self._installed = False
        self._lock = threading.Lock()

    # -- declaring --------------------------------------------------------------------------------
    def replace(self, target: str, replacement: Any, *, why: str) -> None:
        """The attribute becomes `replacement`."""
        self.patches.append(Patch(target, why, lambda _original: replacement))

    def wrap(self, target: str, make: Callable[[Any], Any], *, why: str) -> None:
        """The attribute becomes `make(original)`: a wrapper that calls through to moto's own code."""
        self.patches.append(Patch(target, why, make))

    def add(self, target: str, value: Any, *, why: str) -> None:
        """A new attribute; the target must not exist yet."""
        self.patches.append(Patch(target, why, lambda _original: value, new=True))

    # -- installing -------------------------------------------------------------------------------
    def install(self) -> None:
        with self._lock:
            if self._installed:
                return
            done: list[Patch] = []
            try:
                for patch in self.patches:
                    owner, name = patch.resolve()
                    original = vars(owner).get(name, MISSING) if isinstance(owner, type) else MISSING
                    if original is MISSING:
                        original = getattr(owner, name, MISSING)
                        inherited = original is not MISSING and isinstance(owner, type)
                    else:
                        inherited = False
                    if patch.new and original is not MISSING:
                        raise RuntimeError(f"{self.name}: {patch.target} already exists; re-check the patch")
                    if not patch.new and original is MISSING:
                        raise RuntimeError(f"{self.name}: {patch.target} does not exist; re-check the patch")
                    replacement = patch.make(original)
                    patch.original = MISSING if inherited else original
                    setattr(owner, name, replacement)
                    done.append(patch)
            except BaseException:
                self._restore(done)
                raise
            self._installed = True

    def restore(self) -> None:
        with self._lock:
            if not self._installed:
                return
            self._restore(self.patches)
            self._installed = False

    @staticmethod
    def _restore(patches: list[Patch]) -> None:
        for patch in reversed(patches):
            owner, name = patch.resolve()
            if patch.original is MISSING:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, patch.original)
            patch.original = MISSING

    def check(self) -> list[str]:
        """Problems with the targets as the installed packages have them (empty when all is well)."""
        problems = []
        for patch in self.patches:
            try:
                owner, name = patch.resolve()
            except (ImportError, AttributeError) as error:
                problems.append(f"{self.name}: {patch.target}: {error}")
                continue
            exists = hasattr(owner, name)
            if patch.new and exists and not self._installed:
                problems.append(f"{self.name}: {patch.target} exists now; localcloud would shadow it")
            elif not patch.new and not exists:
                problems.append(f"{self.name}: {patch.target} no longer exists")
        return problems


class Registry:
    """The patch sets installed now: one owner per target, so two subsystems never patch one attribute."""

    def __init__(self) -> None:
        self._installed: dict[str, PatchSet] = {}
        self._owners: dict[str, str] = {}  # target -> name of the set that patched it
        self._lock = threading.Lock()

    def install(self, patch_set: PatchSet) -> None:
        with self._lock:
            current = self._installed.get(patch_set.name)
            if current is patch_set:
                return
            if current is not None:
                raise RuntimeError(f"another {patch_set.name!r} patch set is installed; restore it first")
            for patch in patch_set.patches:
                owner = self._owners.get(patch.target)
                if owner is not None:
                    raise RuntimeError(f"{patch.target} is patched by {owner!r} already")
            patch_set.install()
            self._installed[patch_set.name] = patch_set
            for patch in patch_set.patches:
                self._owners[patch.target] = patch_set.name

    def restore(self, patch_set: PatchSet) -> None:
        with self._lock:
            if self._installed.get(patch_set.name) is not patch_set:
                return
            patch_set.restore()
            del self._installed[patch_set.name]
            for patch in patch_set.patches:
                self._owners.pop(patch.target, None)

    def installed(self) -> list[PatchSet]:
        with self._lock:
            return list(self._installed.values())


REGISTRY = Registry()

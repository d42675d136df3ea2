"""Every plug-in catalogue of the project, with one contract: a versioned name (`lexicon.v1`) bound to a factory and
its own pydantic config model (extra keys forbidden). A stage config names a plug-in (`scorer: probe.v1`) and its
arguments (`scorer_args: {...}`); `Registry.validate_args` checks them against the plug-in's model before any work
starts and `Registry.make` builds the plug-in. An unversioned name (`probe`) is an alias of its `.v1` entry, so
configs and flags written before names were versioned keep working. See docs/architecture.md, "Adding a plug-in".
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterable
from typing import Any

import catalogue
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from curation.core.errors import InputError

VERSIONED = re.compile(r"^(?P<base>.+)\.v(?P<version>\d+)$")


class NoArgs(BaseModel):
    """The config of a plug-in that takes no user arguments (everything it needs comes from its caller)."""

    model_config = ConfigDict(extra="forbid")


def split_version(name: str) -> tuple[str, int | None]:
    """('lexicon', 1) for 'lexicon.v1'; (name, None) for an unversioned name."""
    match = VERSIONED.match(name)
    return (match["base"], int(match["version"])) if match else (name, None)


def config_from_signature(func: Callable[..., Any], name: str, context: Iterable[str] = ()) -> type[BaseModel]:
    """A pydantic model (extra keys forbidden) of a factory's keyword arguments, less the `context` ones its caller
    passes; `**kwargs` is refused so that a misspelt argument can never be swallowed."""
    skip = set(context)
    try:
        hints = typing.get_type_hints(func)
    except (NameError, TypeError):  # a TYPE_CHECKING-only annotation: check presence, not type
        hints = {}
    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.name in skip:
            continue
        if param.kind is param.VAR_KEYWORD or param.kind is param.VAR_POSITIONAL:
            raise TypeError(f"plug-in '{name}': factory {func.__qualname__} takes *{param.name}; name its arguments "
                            "(or register it with config=Model) so unknown ones fail")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints.get(param.name, Any), default)
    model_name = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part) + "Args"
    return create_model(model_name, __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields)


class Registry(catalogue.Registry):
    """One kind of plug-in. `what` names it in messages ("trigger proposer"); `context` lists the factory
    arguments the stage passes itself (never user arguments); `args=False` for kinds whose plug-ins take none."""

    def __init__(self, kind: str, what: str, context: Iterable[str] = (), args: bool = True) -> None:
        super().__init__(("curation", kind))
        self.what = what
        self.context = tuple(context)
        self.args = args
        self._configs: dict[str, type[BaseModel]] = {}

    def register(self, name: str, *, func: Any | None = None,  # type: ignore[override]
                 config: type[BaseModel] | None = None) -> Callable[[Any], Any]:
        """Register a factory under a versioned name with its config model (default: from its signature)."""
        if split_version(name)[1] is None:
            raise ValueError(f"plug-in names carry a version: register '{name}.v1', not '{name}'")

        def do_registration(factory: Any) -> Any:
            model = config or getattr(factory, "config_model", None)
            if model is None:
                model = config_from_signature(factory, name, self.context) if self.args else NoArgs
            self._configs[name] = model
            return super(Registry, self).register(name, func=factory)

        return do_registration(func) if func is not None else do_registration

    def names(self) -> list[str]:
        """The registered (versioned) names, sorted."""
        return sorted(self.get_all())

    def canonical(self, name: str) -> str:
        """The registered name `name` stands for ('probe' -> 'probe.v1'); unknown names list the known ones."""
        registered = self.get_all()
        if name in registered:
            return name
        if split_version(name)[1] is None and f"{name}.v1" in registered:
            return f"{name}.v1"
        known = ", ".join(sorted(registered)) or "none"
        raise InputError(f"unknown {self.what} '{name}'", f"known {self.what}s: {known}")

    def __contains__(self, name: str) -> bool:
        try:
            self.canonical(name)
        except InputError:
            return False
        return True

    def get(self, name: str) -> Any:
        """The factory registered as `name` or its alias (an InputError listing the known names otherwise)."""
        return super().get(self.canonical(name))

    def latest(self) -> dict[str, Any]:
        """Unversioned base name -> the factory of its highest version (for plug-ins looked up by a data name)."""
        best: dict[str, tuple[int, Any]] = {}
        for name, factory in self.get_all().items():
            base, version = split_version(name)
            if base not in best or (version or 0) > best[base][0]:
                best[base] = (version or 0, factory)
        return {base: factory for base, (_, factory) in best.items()}

    def config_model(self, name: str) -> type[BaseModel]:
        """The pydantic model of the plug-in's user arguments."""
        return self._configs[self.canonical(name)]

    def validate_args(self, name: str, args: dict[str, Any] | None = None, where: str | None = None,
                      prefix: str = "") -> BaseModel:
        """The plug-in's arguments checked against its config model: one ConfigError naming the key and the fix."""
        model = self.config_model(name)
        try:
            return model.model_validate(dict(args or {}))
        except ValidationError as err:
            from curation.core.config import describe_validation

            accepted = ", ".join(model.model_fields) or "none"
            raise describe_validation(err, where or f"{self.what} '{name}'", prefix,
                                      hint=f"arguments of {self.canonical(name)}: {accepted}") from None

    def make(self, name: str, args: dict[str, Any] | BaseModel | None = None, **context: Any) -> Any:
        """Build the plug-in: validate `args` (unless already validated), call its factory with them and `context`."""
        checked = args if isinstance(args, BaseModel) else self.validate_args(name, args)
        given = {key: getattr(checked, key) for key in checked.model_fields_set}
        return self.get(name)(**context, **given)


sources = Registry("sources", "source kind", args=False)                # ingest readers by file kind
judges = Registry("judges", "judge")                                    # refusal judges
proposers = Registry("proposers", "trigger proposer", context=("ctx",))  # trigger-span proposers
scorers = Registry("scorers", "boundary scorer", context=("workspace_root",))  # boundary scorers
embedders = Registry("embedders", "embedding backend", context=("model", "device"))  # text-embedding backends
builders = Registry("builders", "build config")                         # DatasetDict build configs
adjudicators = Registry("adjudicators", "adjudication rule")            # adjudication rules
engines = Registry("engines", "engine", args=False)                     # stage executors (in-process, Ray)
translators = Registry("translators", "translator", context=("cfg", "model"))  # translation back-ends by model kind
suggesters = Registry("annotate_suggesters", "suggester", args=False)   # Argilla suggestions, one per question name


def resolve(registry: Registry, name: str, kind: str | None = None) -> Any:
    """Get a registered plug-in by name or alias, or raise an InputError that lists the known names (`kind` is
    the registry's own label, kept for older callers)."""
    return registry.get(name)

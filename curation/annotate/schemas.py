"""`annotation_schemas/*.yaml` -> validated `AnnotationSchema` -> `rg.Settings`, in one place.

A schema file is data: fields, questions, metadata, vectors, task distribution and annotator guidelines. Errors
name the file and the bad key. Vectors may declare `source_field` (the field they embed); push uses it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from curation.core.config import load_model
from curation.core.errors import InputError

SCHEMA_DIR_NAME = "annotation_schemas"
Labels = list[str] | dict[str, str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Strict):
    name: str
    title: str | None = None
    description: str | None = None
    required: bool = True
    use_markdown: bool = False


class _QuestionBase(_Strict):
    name: str
    title: str | None = None
    description: str | None = None
    required: bool = True


class LabelQuestionSpec(_QuestionBase):
    type: Literal["label"]
    labels: Labels
    visible_labels: int | None = None


class MultiLabelQuestionSpec(_QuestionBase):
    type: Literal["multi_label"]
    labels: Labels
    visible_labels: int | None = None


class SpanQuestionSpec(_QuestionBase):
    type: Literal["span"]
    field: str
    labels: Labels
    allow_overlapping: bool = False
    visible_labels: int | None = None


class TextQuestionSpec(_QuestionBase):
    type: Literal["text"]
    use_markdown: bool = False


class RatingQuestionSpec(_QuestionBase):
    type: Literal["rating"]
    values: list[int]


QuestionSpec = Annotated[
    LabelQuestionSpec | MultiLabelQuestionSpec | SpanQuestionSpec | TextQuestionSpec | RatingQuestionSpec,
    Field(discriminator="type"),
]


class TermsMetadataSpec(_Strict):
    name: str
    type: Literal["terms"]
    title: str | None = None
    options: list[str] | None = None
    visible_for_annotators: bool = True


class FloatMetadataSpec(_Strict):
    name: str
    type: Literal["float"]
    title: str | None = None
    min: float | None = None
    max: float | None = None
    visible_for_annotators: bool = True


class IntegerMetadataSpec(_Strict):
    name: str
    type: Literal["integer"]
    title: str | None = None
    min: int | None = None
    max: int | None = None
    visible_for_annotators: bool = True


MetadataSpec = Annotated[TermsMetadataSpec | FloatMetadataSpec | IntegerMetadataSpec, Field(discriminator="type")]


class VectorSpec(_Strict):
    name: str
    dimensions: int = Field(gt=0)
    title: str | None = None
    source_field: str | None = Field(None, description="Field whose text is embedded when the data has no vector.")


class AnnotationSchema(_Strict):
    """One annotation task as data; `to_settings()` builds the Argilla settings."""

    name: str
    title: str | None = None
    guidelines: str = Field(min_length=20)
    fields: list[FieldSpec] = Field(min_length=1)
    questions: list[QuestionSpec] = Field(min_length=1)
    metadata: list[MetadataSpec] = Field(default_factory=list)
    vectors: list[VectorSpec] = Field(default_factory=list)
    min_submitted: int = Field(1, ge=1)
    allow_extra_metadata: bool = False

    @model_validator(mode="after")
    def _check_names(self) -> AnnotationSchema:
        field_names = {f.name for f in self.fields}
        for group in ("fields", "questions", "metadata", "vectors"):
            names = [item.name for item in getattr(self, group)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {group} names: {', '.join(dupes)}")
        for q in self.questions:
            if isinstance(q, SpanQuestionSpec) and q.field not in field_names:
                raise ValueError(f"span question '{q.name}' refers to unknown field '{q.field}'")
        for v in self.vectors:
            if v.source_field and v.source_field not in field_names:
                raise ValueError(f"vector '{v.name}' embeds unknown field '{v.source_field}'")
        return self

    def question(self, name: str) -> Any:
        return next((q for q in self.questions if q.name == name), None)

    def to_settings(self, min_submitted: int | None = None, client: Any = None) -> Any:
        """The `rg.Settings` for this schema (task distribution from `min_submitted` or the schema's default).

        Without `client` the settings are bound to an offline placeholder client; `rg.Dataset(..., client=c)`
        rebinds them to `c` when the dataset is created.
        """
        import argilla as rg

        client = client or _offline_client()
        fields = [rg.TextField(name=f.name, title=f.title, description=f.description, required=f.required,
                               use_markdown=f.use_markdown, client=client) for f in self.fields]
        questions = [_QUESTION_BUILDERS[q.type](rg, q, client) for q in self.questions]
        metadata = [_METADATA_BUILDERS[m.type](rg, m, client) for m in self.metadata]
        vectors = [rg.VectorField(name=v.name, dimensions=v.dimensions, title=v.title, _client=client)
                   for v in self.vectors]
        return rg.Settings(
            fields=fields, questions=questions, metadata=metadata or None, vectors=vectors or None,
            guidelines=self.guidelines.strip(), allow_extra_metadata=self.allow_extra_metadata,
            distribution=rg.TaskDistribution(min_submitted=min_submitted or self.min_submitted),
        )


def _offline_client() -> Any:
    """An `rg.Argilla` that never connects (the SDK wants a client just to build settings objects)."""
    global _OFFLINE
    if _OFFLINE is None:
        import argilla as rg

        class _Offline(rg.Argilla):
            def _validate_connection(self) -> None:
                return None

        previous = rg.Argilla._default_client
        _OFFLINE = _Offline(api_url="http://offline.invalid", api_key="offline")
        rg.Argilla._default_client = previous  # building settings must not change the SDK's default client
    return _OFFLINE


_OFFLINE: Any = None


def _common(q: _QuestionBase, client: Any) -> dict[str, Any]:
    return {"name": q.name, "title": q.title, "description": q.description, "required": q.required,
            "client": client}


_QUESTION_BUILDERS = {
    "label": lambda rg, q, c: rg.LabelQuestion(labels=q.labels, visible_labels=q.visible_labels, **_common(q, c)),
    "multi_label": lambda rg, q, c: rg.MultiLabelQuestion(labels=q.labels, visible_labels=q.visible_labels,
                                                          **_common(q, c)),
    "span": lambda rg, q, c: rg.SpanQuestion(field=q.field, labels=q.labels, allow_overlapping=q.allow_overlapping,
                                             visible_labels=q.visible_labels, **_common(q, c)),
    "text": lambda rg, q, c: rg.TextQuestion(use_markdown=q.use_markdown, **_common(q, c)),
    "rating": lambda rg, q, c: rg.RatingQuestion(values=q.values, **_common(q, c)),
}
_METADATA_BUILDERS = {
    "terms": lambda rg, m, c: rg.TermsMetadataProperty(name=m.name, title=m.title, options=m.options,
                                                       visible_for_annotators=m.visible_for_annotators, client=c),
    "float": lambda rg, m, c: rg.FloatMetadataProperty(name=m.name, title=m.title, min=m.min, max=m.max,
                                                       visible_for_annotators=m.visible_for_annotators, client=c),
    "integer": lambda rg, m, c: rg.IntegerMetadataProperty(name=m.name, title=m.title, min=m.min, max=m.max,
                                                           visible_for_annotators=m.visible_for_annotators, client=c),
}


# locating and loading --------------------------------------------------------------------------------------------
def schema_dirs() -> list[Path]:
    """Where schema names are looked up: ./annotation_schemas, then the project's own folder."""
    dirs = [Path.cwd() / SCHEMA_DIR_NAME, Path(__file__).resolve().parents[2] / SCHEMA_DIR_NAME]
    return list(dict.fromkeys(d for d in dirs if d.is_dir()))


def available_schemas() -> list[str]:
    return sorted({p.stem for d in schema_dirs() for p in d.glob("*.yaml")})


def schema_path(name_or_path: str | Path) -> Path:
    """Resolve a schema name (`trigger_spans`) or a YAML path to a file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise InputError(f"annotation schema file {path} not found", "check the path")
        return path
    for folder in schema_dirs():
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    raise InputError(f"unknown annotation schema '{name_or_path}'",
                     f"known schemas: {', '.join(available_schemas()) or 'none'}; or pass a .yaml path")


def load_schema_model(name_or_path: str | Path | AnnotationSchema) -> AnnotationSchema:
    """Read and validate a schema file (by name or path) into an `AnnotationSchema` (one already built passes)."""
    if isinstance(name_or_path, AnnotationSchema):
        return name_or_path
    path = schema_path(name_or_path)
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_cached(path_str: str, _mtime: int) -> AnnotationSchema:
    path = Path(path_str)
    return load_model(path, AnnotationSchema, where=f"annotation schema {path}")


def load_schema(name_or_path: str | Path, min_submitted: int | None = None, client: Any = None) -> Any:
    """The `rg.Settings` of a schema (by name, e.g. `trigger_spans`, or a YAML path)."""
    return load_schema_model(name_or_path).to_settings(min_submitted, client)

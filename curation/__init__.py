"""refusal-curation: build datasets that teach models to refuse the harmful and answer the merely scary."""

__version__ = "0.1.0"

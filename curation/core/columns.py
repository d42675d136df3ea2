"""Column names shared by all stages, defined once."""

ID = "id"
PROMPT = "prompt"
RESPONSE = "response"
SOURCE = "source"
SOURCE_ROW = "source_row"
LANGUAGE = "language"
CATEGORY = "category"
LABEL = "label"
META = "meta"
DUPLICATE_OF = "duplicate_of"

# judge
JUDGE_LABEL = "judge_label"
JUDGE_SCORE = "judge_score"
JUDGE_NAME = "judge_name"
GENERATED_BY = "generated_by"

# triggers
TRIGGER_SPANS = "trigger_spans"

# boundary
BOUNDARY_SCORE = "boundary_score"
P_REFUSE = "p_refuse"
IN_BAND = "in_band"
SCORER = "scorer"

LABELS = ("harmful", "benign", "unknown")
JUDGE_LABELS = ("full_compliance", "full_refusal", "partial_refusal")
NORMALIZED_COLUMNS = (ID, PROMPT, RESPONSE, SOURCE, SOURCE_ROW, LANGUAGE, CATEGORY, LABEL, META)

# translate
TRANSLATED_FROM = "translated_from"
TRANSLATION_MODEL = "translation_model"
BACK_TRANSLATION = "back_translation"
BACK_SIMILARITY = "back_similarity"
NEEDS_REVIEW = "needs_review"
SPANS_DROPPED = "spans_dropped"

# boundary (provenance and selection)
BOUNDARY_PROVENANCE = "boundary_provenance"
SELECT_RANK = "select_rank"

# annotation snapshots (pulled from Argilla), gold and builds
RECORD_STATUS = "record_status"
SUGGESTIONS = "suggestions"
ANNOTATIONS = "responses"  # annotators' answers per record (Argilla calls them responses; RESPONSE is the model's)
ARGILLA_DATASET = "argilla_dataset"
PULLED_AT = "pulled_at"
GOLD_PREFIX = "gold_"
GOLD_STATUS = "gold_status"
GOLD_PROVENANCE = "gold_provenance"
DECIDED_BY = "decided_by"
DECIDED_AT = "decided_at"
DECISION_RULE = "decision_rule"
ANNOTATION_COUNT = "response_count"  # submitted annotator answers behind a gold value
SPLIT = "split"
SHOULD_REFUSE = "should_refuse"
MESSAGES = "messages"

# generate: why an answer ended (stop / length) and its token counts
FINISH_REASON = "finish_reason"
PROMPT_TOKENS = "prompt_tokens"
COMPLETION_TOKENS = "completion_tokens"
TRUNCATED = "length"

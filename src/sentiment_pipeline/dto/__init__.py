"""Events: the model, the one table of rules it is validated by, and the transport form.

Why the rules: PostgreSQL cannot store U+0000 in TEXT or JSONB (Reddit text has it), no
backend can store a lone UTF-16 surrogate (it has no UTF-8 form), JSONB rejects NaN,
naive timestamps are ambiguous, and `source`/`source_id` become CSV path parts.

The policy (docs/data-quality.md): a record that breaks a rule is rejected with a reason,
never silently changed, with two exceptions. (1) Text no backend can store (U+0000 and
every surrogate code point U+D800-U+DFFF) is replaced by U+FFFD in every string of the
record, payload keys included, and the record counts once as `sanitized`. (2) Reddit
subreddit names (`source_id` when `source` is `reddit`) are lower-cased. Limits: payload
nesting at most `MAX_DEPTH` levels, payload JSON at most `max_payload_bytes` of UTF-8,
`occurred_at` in years 1-9999 UTC and at most a day in the future, no control characters
in `id` or `event_type` (each CSV row stays one line).

- `rules`: the table (limits, checks, the reasons' messages);
- `model`: `RawEventDTO` and the items sources hand on (`Validated`, `Rejected`,
  `Parsed`, `Chunk`, `Sentinel`), the JSON forms;
- `validate`: `validate_record` and its quick paths (`plain_event`, `validate_plain`…);
- `transport`: what crosses from a parsing worker (`PlainEvent`, `ship` / `unship`).
"""

from sentiment_pipeline.dto.model import (
    Chunk,
    Parsed,
    RawEventDTO,
    Rejected,
    Sentinel,
    Validated,
    compact_json,
    dump_json,
    dumps_exact,
)
from sentiment_pipeline.dto.rules import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    MAX_DEPTH,
    REPLACEMENT,
    clean_text,
    stored_source_id,
)
from sentiment_pipeline.dto.transport import (
    PlainEvent,
    plain_validated,
    ship,
    shipped_event,
    unship,
)
from sentiment_pipeline.dto.validate import (
    plain_event,
    validate_cleaned,
    validate_item,
    validate_parsed,
    validate_plain,
    validate_record,
)

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "MAX_DEPTH",
    "REPLACEMENT",
    "Chunk",
    "Parsed",
    "PlainEvent",
    "RawEventDTO",
    "Rejected",
    "Sentinel",
    "Validated",
    "clean_text",
    "compact_json",
    "dump_json",
    "dumps_exact",
    "plain_event",
    "plain_validated",
    "ship",
    "shipped_event",
    "stored_source_id",
    "unship",
    "validate_cleaned",
    "validate_item",
    "validate_parsed",
    "validate_plain",
    "validate_record",
]

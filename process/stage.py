"""The process stages' declarations: ``extract`` (``entries`` -> ``articles``) and ``classify``
(``articles`` -> ``tagged``).

In: a :class:`~wirewatch.stage.StageContext`. Out: the two :class:`~wirewatch.stage.ConsumingStage`
declarations the app's registry lists, and their handlers (built when the stage runs, so the extractor,
trafilatura and the model are imported only by a process that runs them). Neither needs the database.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from wirewatch.config import Settings
from wirewatch.database import UNAVAILABLE
from wirewatch.kafka import ARTICLES, ENTRIES, TAGGED, Output
from wirewatch.schema import Article, Entry, TaggedArticle
from wirewatch.stage import ConsumingStage, Handler, StageContext, StageError

if TYPE_CHECKING:
    from wirewatch.process.classifier import TopicClassifier
    from wirewatch.process.extractor import Extractor

log = logging.getLogger(__name__)


class ExtractHandler(Handler[Entry]):
    """Fetch each entry's page and extract its article (many pages at once: ``batches``)."""

    batches = True

    def __init__(self, ctx: StageContext) -> None:
        from wirewatch.process.extractor import Extractor

        from wirewatch.http import AddressPolicy, make_client

        settings = ctx.settings
        http = settings.http
        self.client = make_client(settings.extract.timeout_seconds, http.agent, http.max_redirects,
                                  AddressPolicy.from_strings(http.allow_networks))
        self.extractor: Extractor = Extractor(settings.extract, http, self.client)

    def handle(self, message: Entry) -> list[Output]:
        return self.extractor.handle(message)

    def handle_batch(self, messages: list[Entry]) -> list[list[Output]]:
        return self.extractor.handle_batch(messages)

    def close(self) -> None:
        self.client.close()
        self.extractor.close()


class ClassifyHandler(Handler[Article]):
    """Tag each article; between records, a rule file that changed is loaded (or its errors reported)."""

    batches = True

    def __init__(self, ctx: StageContext) -> None:
        self.classifier = build_classifier(ctx.settings)

    def handle(self, message: Article) -> list[Output]:
        return self.classifier.handle(message)

    def handle_batch(self, messages: list[Article]) -> list[list[Output]]:
        return self.classifier.handle_batch(messages)

    def flush(self) -> None:
        self.classifier.rules.current()

    def reload(self) -> None:
        self.classifier.rules.reload_now()


def build_classifier(settings: Settings) -> TopicClassifier:
    """The topic classifier of these settings: their rules, and the saved model (trained on the bundled
    examples, and saved, when there is none or it was trained on another version's)."""
    from wirewatch.process.classifier import RuleSource, TopicClassifier
    from wirewatch.process.model import ModelError, load_or_train, training_examples
    from wirewatch.process.rules import RuleError, bundled_rules_dir

    folder = settings.classify.rules_dir or bundled_rules_dir()
    try:
        rules = RuleSource(folder)
    except (RuleError, OSError) as exc:
        problems = exc.problems if isinstance(exc, RuleError) else [str(exc)]
        more = f" (and {len(problems) - 1} more: `wirewatch rules check {folder}`)" if len(problems) > 1 else ""
        raise StageError(f"rules: {problems[0]}{more}") from None
    try:
        model = load_or_train(settings.model_file, training_examples(settings.classify.training_data),
                              named=bool(settings.classify.model_path))
    except ModelError as exc:
        raise StageError(str(exc)) from None
    return TopicClassifier(rules, model, settings.classify.fire_score, settings.classify.model_alone_probability)


EXTRACT = ConsumingStage(
    name="extract", help="Fetch and extract articles: `entries` -> `articles`.", input=ENTRIES,
    message_type=Entry, outputs=(ARTICLES,), output_types=(Article,), events=("extract_",), build=ExtractHandler,
    transient=UNAVAILABLE)

CLASSIFY = ConsumingStage(
    name="classify", help="Tag articles with topics: `articles` -> `tagged`.", input=ARTICLES,
    message_type=Article, outputs=(TAGGED,), output_types=(TaggedArticle,), events=("classify_",),
    build=ClassifyHandler, transient=UNAVAILABLE)
